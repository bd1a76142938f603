//! Ansible's filters and tests that need more than a line: `combine`, the
//! `regex_*` family with Python's `re` flags and `\1` replacements, `comment`,
//! `hash`, `ipaddr`/`ipv4` basics and the `version` test (LooseVersion).

use super::pydump::{py_str, to_json};
use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Error, ErrorKind};
use std::cmp::Ordering;
use std::net::IpAddr;

type R<T> = Result<T, Error>;

fn bad(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// `a | combine(b, c, recursive=False, list_merge='replace')`.
pub fn combine(first: Value, rest: Rest<Value>, kwargs: Kwargs) -> R<Value> {
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge = kwargs.get::<Option<String>>("list_merge")?.unwrap_or_else(|| "replace".into());
    kwargs.assert_all_used()?;
    let mut out = to_json(&first)?;
    let mut others = Vec::new();
    for v in rest.iter() {
        // `combine([a, b])` takes a list of dicts too.
        match v.kind() {
            ValueKind::Seq => others.extend(v.try_iter()?),
            _ => others.push(v.clone()),
        }
    }
    for v in others {
        merge(&mut out, to_json(&v)?, recursive, &list_merge)?;
    }
    if !out.is_object() {
        return Err(bad("combine expects dictionaries"));
    }
    Ok(Value::from(minijinja::value::Serde(out)))
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value, recursive: bool, lists: &str) -> R<()> {
    use serde_json::Value as J;
    match (into, from) {
        (J::Object(a), J::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(old @ J::Object(_)) if recursive && v.is_object() => merge(old, v, recursive, lists)?,
                    Some(J::Array(old)) if v.is_array() && lists != "replace" => {
                        let new = v.as_array().cloned().unwrap_or_default();
                        match lists {
                            "keep" => {}
                            "append" => old.extend(new),
                            "prepend" => *old = new.into_iter().chain(old.drain(..)).collect(),
                            "append_rp" => {
                                old.retain(|x| !new.contains(x));
                                old.extend(new);
                            }
                            "prepend_rp" => {
                                let kept: Vec<_> = old.drain(..).filter(|x| !new.contains(x)).collect();
                                *old = new.into_iter().chain(kept).collect();
                            }
                            other => return Err(bad(format!("combine: unknown list_merge `{other}`"))),
                        }
                    }
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
            Ok(())
        }
        _ => Err(bad("combine expects dictionaries")),
    }
}

/// A Python pattern with `re`'s flags as a Rust regex.
fn pattern(p: &str, ignorecase: bool, multiline: bool) -> R<regex::Regex> {
    regex::RegexBuilder::new(p)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| bad(format!("invalid regular expression `{p}`: {e}")))
}

fn flags(kwargs: &Kwargs) -> R<(bool, bool)> {
    let i = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let m = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    Ok((i, m))
}

/// Python's `\1`, `\g<1>`, `\g<name>` as the regex crate's `${1}`.
fn replacement(r: &str) -> String {
    let mut out = String::new();
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        n.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('g') => {
                    chars.next();
                    let name: String = chars.by_ref().skip(1).take_while(|c| *c != '>').collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// `regex_replace(pattern, replacement='', ignorecase=False, multiline=False, count=0)`.
pub fn regex_replace(v: Value, p: Option<String>, r: Option<String>, kwargs: Kwargs) -> R<String> {
    let (i, m) = flags(&kwargs)?;
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    let _ = kwargs.get::<Option<usize>>("mandatory_count")?;
    kwargs.assert_all_used()?;
    let re = pattern(p.as_deref().unwrap_or(""), i, m)?;
    Ok(re.replacen(&py_str(&v), count, replacement(r.as_deref().unwrap_or(""))).into_owned())
}

/// `regex_search(pattern, '\\1', '\\g<name>', …)`: the match (or `None`),
/// or the list of the groups asked for.
pub fn regex_search(v: Value, p: String, groups: Rest<String>, kwargs: Kwargs) -> R<Value> {
    let (i, m) = flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let re = pattern(&p, i, m)?;
    let text = py_str(&v);
    let Some(caps) = re.captures(&text) else { return Ok(Value::from(())) };
    if groups.is_empty() {
        return Ok(Value::from(caps.get(0).map_or("", |m| m.as_str())));
    }
    let mut out = Vec::new();
    for g in groups.iter() {
        let found = if let Some(n) = g.strip_prefix('\\').and_then(|n| n.parse::<usize>().ok()) {
            caps.get(n)
        } else if let Some(name) = g.strip_prefix("\\g<").and_then(|n| n.strip_suffix('>')) {
            caps.name(name)
        } else {
            return Err(bad(format!("regex_search: unknown group argument `{g}`")));
        };
        out.push(found.map_or(Value::from(()), |m| Value::from(m.as_str())));
    }
    Ok(Value::from(out))
}

/// `regex_findall(pattern)`: every match, or every group tuple.
pub fn regex_findall(v: Value, p: String, kwargs: Kwargs) -> R<Value> {
    let (i, m) = flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let re = pattern(&p, i, m)?;
    let text = py_str(&v);
    let out: Vec<Value> = re
        .captures_iter(&text)
        .map(|c| match c.len() {
            1 => Value::from(c.get(0).map_or("", |m| m.as_str())),
            2 => Value::from(c.get(1).map_or("", |m| m.as_str())),
            _ => Value::from((1..c.len()).map(|k| c.get(k).map_or("", |m| m.as_str()).to_string()).collect::<Vec<_>>()),
        })
        .collect();
    Ok(Value::from(out))
}

/// The `match` (anchored at the start) and `search` tests.
pub fn regex_test(v: &str, p: &str, kwargs: Kwargs, anchored: bool) -> R<bool> {
    let (i, m) = flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let p = if anchored { format!("^(?:{p})") } else { p.to_string() };
    Ok(pattern(&p, i, m)?.is_match(v))
}

/// Ansible's `comment(style='plain', …)`: the text as a comment block.
pub fn comment(v: Value, style: Option<String>, kwargs: Kwargs) -> R<String> {
    let text = py_str(&v);
    let style = style.as_deref().unwrap_or("plain");
    let (beginning, decoration, end) = match style {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => return Err(bad(format!("comment: unknown style `{other}`"))),
    };
    let get = |k: &str, d: &str| -> R<String> { Ok(kwargs.get::<Option<String>>(k)?.unwrap_or_else(|| d.into())) };
    let deco_kw = get("decoration", decoration)?;
    let newline = get("newline", "\n")?;
    let beginning = get("beginning", beginning)?;
    let prefix = get("prefix", deco_kw.trim_end())?;
    let postfix = get("postfix", deco_kw.trim_end())?;
    let end = get("end", end)?;
    let prefix_count = kwargs.get::<Option<usize>>("prefix_count")?.unwrap_or(1);
    let postfix_count = kwargs.get::<Option<usize>>("postfix_count")?.unwrap_or(1);
    kwargs.assert_all_used()?;
    let decoration = deco_kw;
    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&format!("{beginning}{newline}"));
    }
    if !prefix.is_empty() {
        let one = if prefix != newline { format!("{prefix}{newline}") } else { newline.clone() };
        out.push_str(&one.repeat(prefix_count));
    }
    let body = format!("{decoration}{}", text.replace(&newline, &format!("{newline}{decoration}")));
    out.push_str(&body.replace(&format!("{decoration}{newline}"), &format!("{}{newline}", decoration.trim_end())));
    for _ in 0..postfix_count {
        out.push_str(&format!("{newline}{postfix}"));
    }
    if !end.is_empty() {
        out.push_str(&format!("{newline}{end}"));
    }
    Ok(out)
}

/// `hash('sha1')` (the default), `md5`, `sha256`, `sha512`: hex digest of the text.
pub fn hash(text: &str, kind: Option<&str>) -> R<String> {
    use sha2::Digest;
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    Ok(match kind.unwrap_or("sha1") {
        "sha1" => hex(&sha1::Sha1::digest(text.as_bytes())),
        "md5" => hex(&md5::Md5::digest(text.as_bytes())),
        "sha224" => hex(&sha2::Sha224::digest(text.as_bytes())),
        "sha256" => hex(&sha2::Sha256::digest(text.as_bytes())),
        "sha384" => hex(&sha2::Sha384::digest(text.as_bytes())),
        "sha512" => hex(&sha2::Sha512::digest(text.as_bytes())),
        other => {
            return Err(bad(format!("hash: unsupported type `{other}` (sha1, md5, sha224, sha256, sha384, sha512)")))
        }
    })
}

/// An address with an optional prefix: `10.0.0.5/24`, `10.0.0.5`, `::1`.
fn parse_net(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
    let ip: IpAddr = addr.trim().parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
    };
    Some((ip, prefix))
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::from((u32::MAX.checked_shl(32 - prefix as u32).unwrap_or(0)).to_be_bytes()),
        IpAddr::V6(_) => IpAddr::from((u128::MAX.checked_shl(128 - prefix as u32).unwrap_or(0)).to_be_bytes()),
    }
}

fn network(ip: IpAddr, prefix: u8) -> IpAddr {
    match (ip, mask(ip, prefix)) {
        (IpAddr::V4(a), IpAddr::V4(m)) => IpAddr::from(std::net::Ipv4Addr::from(u32::from(a) & u32::from(m))),
        (IpAddr::V6(a), IpAddr::V6(m)) => IpAddr::from(std::net::Ipv6Addr::from(u128::from(a) & u128::from(m))),
        _ => ip,
    }
}

/// `ipaddr`/`ipv4`/`ipv6` basics: the value if it is an address (a list
/// keeps its addresses), `False` if not; queries `address`, `network`,
/// `netmask`, `prefix`, `host`, `cidr`.
pub fn ipaddr(v: &Value, query: Option<&str>, family: Option<u8>) -> R<Value> {
    if v.kind() == ValueKind::Seq {
        let kept: R<Vec<Value>> = v.try_iter()?.map(|x| ipaddr(&x, query, family)).collect();
        return Ok(Value::from(kept?.into_iter().filter(|x| x.kind() != ValueKind::Bool).collect::<Vec<_>>()));
    }
    let s = py_str(v);
    let Some((ip, prefix)) = parse_net(&s) else { return Ok(Value::from(false)) };
    if family.is_some_and(|f| (f == 4) != ip.is_ipv4()) {
        return Ok(Value::from(false));
    }
    Ok(match query.unwrap_or("") {
        "" => Value::from(s),
        "address" => Value::from(ip.to_string()),
        "network" => Value::from(network(ip, prefix).to_string()),
        "netmask" => Value::from(mask(ip, prefix).to_string()),
        "prefix" => Value::from(prefix),
        "host" => Value::from(format!("{ip}/{prefix}")),
        "cidr" | "subnet" | "net" => Value::from(format!("{}/{prefix}", network(ip, prefix))),
        other => return Err(bad(format!("ipaddr: unsupported query `{other}`"))),
    })
}

/// One part of a LooseVersion: a number or a run of letters.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Num(u64),
    Word(String),
}

fn loose(v: &str) -> Vec<Part> {
    let re = regex::Regex::new(r"\d+|[a-zA-Z]+").expect("a valid pattern");
    re.find_iter(v)
        .map(|m| m.as_str().parse().map(Part::Num).unwrap_or_else(|_| Part::Word(m.as_str().to_string())))
        .collect()
}

/// `v is version('1.5.0', '>=')`, compared as Ansible's default LooseVersion.
pub fn version_test(v: Value, other: Value, op: Option<String>, kwargs: Kwargs) -> R<bool> {
    let op = kwargs.get::<Option<String>>("operator")?.or(op).unwrap_or_else(|| "eq".into());
    let _ = kwargs.get::<Option<bool>>("strict")?;
    let _ = kwargs.get::<Option<String>>("version_type")?;
    kwargs.assert_all_used()?;
    let (a, b) = (py_str(&v), py_str(&other));
    if a.is_empty() {
        return Err(bad("version: the value to compare is empty"));
    }
    let ord = loose(&a).cmp(&loose(&b));
    Ok(match op.as_str() {
        "==" | "=" | "eq" => ord == Ordering::Equal,
        "!=" | "<>" | "ne" => ord != Ordering::Equal,
        "<" | "lt" => ord == Ordering::Less,
        "<=" | "le" => ord != Ordering::Greater,
        ">" | "gt" => ord == Ordering::Greater,
        ">=" | "ge" => ord != Ordering::Less,
        other => return Err(bad(format!("version: unknown operator `{other}`"))),
    })
}
