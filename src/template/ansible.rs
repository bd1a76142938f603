//! Ansible's filters and tests for `.j2` templates, with Ansible's meaning
//! and output (`bool` of `"yes"`, `to_nice_json` sorted at indent 4, `quote`
//! as `shlex.quote`, `comment`, `combine`, `regex_*`, `version`, …), and the
//! formatter that prints a value as Ansible's template module does.
//! Jinja2's own filters (`default`, `join`, `map`, `select`, …) come with minijinja.

use super::pydump::{self, py_str, to_json};
use super::pyyaml::{self, YamlStyle};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Output, State};

type R<T> = Result<T, Error>;

fn bad(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// What a filter given an undefined value says; `jinja` finds the name it was.
pub const UNDEFINED_GIVEN: &str = "an undefined value was given to the filter";

/// minijinja hands an undefined value over to a filter that takes any
/// `Value`, even in strict mode; Ansible's filters refuse it, so that
/// `when: enabeld | bool` is an error, not false.
fn defined(v: &Value, filter: &str) -> R<()> {
    match v.is_undefined() {
        true => Err(Error::new(ErrorKind::UndefinedError, format!("{UNDEFINED_GIVEN} `{filter}`"))),
        false => Ok(()),
    }
}

fn from_json(v: serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(v))
}

/// `{{ v }}` as Ansible prints it: `None` as nothing, the rest as Python's `str()`.
pub fn format(out: &mut Output, _: &mut State, v: &Value) -> R<()> {
    if v.is_undefined() || has_undefined(v) {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "part of the value printed here is not defined (an undefined name inside a list or map)",
        ));
    }
    if v.is_none() {
        return Ok(());
    }
    out.write_str(&py_str(v)).map_err(|_| bad("could not write the output"))
}

fn has_undefined(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Seq => v.try_iter().map(|mut it| it.any(|x| x.is_undefined() || has_undefined(&x))).unwrap_or(false),
        ValueKind::Map => v
            .try_iter()
            .map(|mut it| it.any(|k| v.get_item(&k).is_ok_and(|x| x.is_undefined() || has_undefined(&x))))
            .unwrap_or(false),
        _ => false,
    }
}

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("bool", |v: Value| defined(&v, "bool").map(|_| bool_filter(v)));
    env.add_filter("int", |v: Value, d: Option<Value>, k: Kwargs| defined(&v, "int").and_then(|_| int(v, d, k)));
    env.add_filter("float", |v: Value, d: Option<Value>| defined(&v, "float").map(|_| float(v, d)));
    env.add_filter("string", |v: Value| defined(&v, "string").map(|_| py_str(&v)));
    env.add_filter("flatten", flatten);
    env.add_filter("indent", indent);
    env.add_filter("dict2items", |v: Value, k: Kwargs| defined(&v, "dict2items").and_then(|_| dict2items(v, k)));
    env.add_filter("items2dict", items2dict);
    env.add_filter("combine", super::ansible_data::combine);
    env.add_filter("ternary", |v: Value, a: Value, b: Value, n: Option<Value>| {
        defined(&v, "ternary").map(|_| ternary(v, a, b, n))
    });
    env.add_filter("regex_replace", |v: Value, p: Option<String>, r: Option<String>, k: Kwargs| {
        defined(&v, "regex_replace").and_then(|_| super::ansible_data::regex_replace(v, p, r, k))
    });
    env.add_filter("regex_search", |v: Value, p: String, g: minijinja::value::Rest<String>, k: Kwargs| {
        defined(&v, "regex_search").and_then(|_| super::ansible_data::regex_search(v, p, g, k))
    });
    env.add_filter("regex_findall", |v: Value, p: String, k: Kwargs| {
        defined(&v, "regex_findall").and_then(|_| super::ansible_data::regex_findall(v, p, k))
    });
    env.add_filter("regex_escape", |s: String| regex::escape(&s));
    env.add_filter("to_json", |v: Value, k: Kwargs| defined(&v, "to_json").and_then(|_| to_json_filter(v, k)));
    env.add_filter("json", |v: Value, k: Kwargs| defined(&v, "json").and_then(|_| to_json_filter(v, k)));
    env.add_filter("to_nice_json", |v: Value, k: Kwargs| defined(&v, "to_nice_json").and_then(|_| to_nice_json(v, k)));
    env.add_filter("to_yaml", |v: Value, k: Kwargs| defined(&v, "to_yaml").and_then(|_| yaml(v, k, false)));
    env.add_filter("to_nice_yaml", |v: Value, k: Kwargs| defined(&v, "to_nice_yaml").and_then(|_| yaml(v, k, true)));
    env.add_filter("from_json", |s: String| -> R<Value> {
        serde_json::from_str::<serde_json::Value>(&s).map(from_json).map_err(|e| bad(format!("from_json: {e}")))
    });
    env.add_filter("from_yaml", |s: String| -> R<Value> {
        serde_yaml::from_str::<serde_json::Value>(&s).map(from_json).map_err(|e| bad(format!("from_yaml: {e}")))
    });
    env.add_filter("b64encode", |s: String| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s));
    env.add_filter("b64decode", |s: String| -> R<String> {
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, s.trim())
            .map_err(|e| bad(format!("b64decode: {e}")))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    });
    env.add_filter("basename", |s: String| s.rsplit('/').next().unwrap_or("").to_string());
    env.add_filter("dirname", |s: String| dirname(&s));
    env.add_filter("quote", |v: Value| defined(&v, "quote").map(|_| shlex_quote(&py_str(&v))));
    env.add_filter("comment", super::ansible_data::comment);
    env.add_filter("hash", |v: Value, kind: Option<String>| {
        defined(&v, "hash").and_then(|_| super::ansible_data::hash(&py_str(&v), kind.as_deref()))
    });
    env.add_filter("checksum", |v: Value| {
        defined(&v, "checksum").and_then(|_| super::ansible_data::hash(&py_str(&v), Some("sha1")))
    });
    env.add_filter("ipaddr", |v: Value, q: Option<String>| super::ansible_data::ipaddr(&v, q.as_deref(), None));
    env.add_filter("ipv4", |v: Value, q: Option<String>| super::ansible_data::ipaddr(&v, q.as_deref(), Some(4)));
    env.add_filter("ipv6", |v: Value, q: Option<String>| super::ansible_data::ipaddr(&v, q.as_deref(), Some(6)));
    env.add_filter("mandatory", |v: Value, msg: Option<String>| -> R<Value> {
        if v.is_undefined() {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                msg.unwrap_or_else(|| "Mandatory variable not defined.".into()),
            ));
        }
        Ok(v)
    });
    env.add_filter("union", |a: Vec<Value>, b: Vec<Value>| unique(a.into_iter().chain(b)));
    env.add_filter("intersect", |a: Vec<Value>, b: Vec<Value>| unique(a.into_iter().filter(|x| b.contains(x))));
    env.add_filter("difference", |a: Vec<Value>, b: Vec<Value>| unique(a.into_iter().filter(|x| !b.contains(x))));
    env.add_filter("type_debug", |v: Value| defined(&v, "type_debug").map(|_| python_type(&v)));
    env.add_test("version", super::ansible_data::version_test);
    env.add_test("version_compare", super::ansible_data::version_test);
    env.add_test("match", |v: String, p: String, k: Kwargs| super::ansible_data::regex_test(&v, &p, k, true));
    env.add_test("search", |v: String, p: String, k: Kwargs| super::ansible_data::regex_test(&v, &p, k, false));
    env.add_test("regex", |v: String, p: String, k: Kwargs| super::ansible_data::regex_test(&v, &p, k, false));
    env.add_test("contains", |seq: Value, x: Value| seq.try_iter().is_ok_and(|mut it| it.any(|y| y == x)));
    env.add_test("subset", |a: Vec<Value>, b: Vec<Value>| a.iter().all(|x| b.contains(x)));
    env.add_test("superset", |a: Vec<Value>, b: Vec<Value>| b.iter().all(|x| a.contains(x)));
    env.add_test("truthy", |v: Value| v.is_true());
    env.add_test("any", |v: Value| v.try_iter().is_ok_and(|mut it| it.any(|x| x.is_true())));
    env.add_test("all", |v: Value| v.try_iter().is_ok_and(|mut it| it.all(|x| x.is_true())));
    env.add_test("falsy", |v: Value| !v.is_true());
}

/// Ansible's `bool`: `yes`, `on`, `1`, `true`, `y`, `t` (any case) are true.
fn bool_filter(v: Value) -> bool {
    match v.kind() {
        ValueKind::Bool => v.is_true(),
        ValueKind::String => {
            let s = v.as_str().unwrap_or("").trim().to_lowercase();
            matches!(s.as_str(), "y" | "yes" | "on" | "1" | "true" | "t" | "1.0")
        }
        ValueKind::Number => f64::try_from(v).is_ok_and(|f| f == 1.0),
        _ => false,
    }
}

/// Jinja2's `int(default=0, base=10)`: `"42"`, `"4.7"` → 4, `"0x1A"` with base 16, else the default.
fn int(v: Value, default: Option<Value>, kwargs: Kwargs) -> R<Value> {
    let base: u32 = kwargs.get::<Option<u32>>("base")?.unwrap_or(10);
    let default = kwargs.get::<Option<Value>>("default")?.or(default).unwrap_or(Value::from(0));
    kwargs.assert_all_used()?;
    Ok(match v.kind() {
        ValueKind::Bool => Value::from(v.is_true() as i64),
        ValueKind::Number if v.is_integer() => v,
        ValueKind::Number => f64::try_from(v).map(|f| Value::from(f.trunc() as i64)).unwrap_or(default),
        ValueKind::String => {
            let s = v.as_str().unwrap_or("").trim().replace('_', "");
            let digits = match base {
                16 => s.trim_start_matches("0x").trim_start_matches("0X"),
                8 => s.trim_start_matches("0o").trim_start_matches("0O"),
                2 => s.trim_start_matches("0b").trim_start_matches("0B"),
                _ => &s,
            };
            match i64::from_str_radix(digits, base) {
                Ok(n) => Value::from(n),
                Err(_) => s.parse::<f64>().map(|f| Value::from(f.trunc() as i64)).unwrap_or(default),
            }
        }
        _ => default,
    })
}

/// Jinja2's `float(default=0.0)`.
fn float(v: Value, default: Option<Value>) -> Value {
    let default = default.unwrap_or(Value::from(0.0));
    match v.kind() {
        ValueKind::Bool => Value::from(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(v).map(Value::from).unwrap_or(default),
        ValueKind::String => v.as_str().unwrap_or("").trim().parse::<f64>().map(Value::from).unwrap_or(default),
        _ => default,
    }
}

/// Jinja2's `indent(width=4, first=False, blank=False)`, quirks included:
/// a trailing line break stays, blank lines stay unindented unless `blank`.
fn indent(s: String, width: Option<Value>, first: Option<bool>, blank: Option<bool>, kwargs: Kwargs) -> R<String> {
    let width = kwargs.get::<Option<Value>>("width")?.or(width);
    let first = kwargs.get::<Option<bool>>("first")?.or(first).unwrap_or(false);
    let blank = kwargs.get::<Option<bool>>("blank")?.or(blank).unwrap_or(false);
    kwargs.assert_all_used()?;
    let pad = match width {
        None => "    ".to_string(),
        Some(w) if w.kind() == ValueKind::String => w.as_str().unwrap_or("").to_string(),
        Some(w) => " ".repeat(w.as_usize().unwrap_or(0)),
    };
    let text = format!("{s}\n");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = lines.first().copied().unwrap_or("").to_string();
    for line in lines.iter().skip(1) {
        out.push('\n');
        if blank || !line.is_empty() {
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    if first {
        out = format!("{pad}{out}");
    }
    Ok(out)
}

/// Ansible's `flatten(levels=None, skip_nulls=True)`.
fn flatten(v: Vec<Value>, levels: Option<i64>, kwargs: Kwargs) -> R<Value> {
    let levels = kwargs.get::<Option<i64>>("levels")?.or(levels);
    let skip_nulls = kwargs.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    fn walk(out: &mut Vec<Value>, v: Vec<Value>, levels: Option<i64>, skip: bool) {
        for x in v {
            if skip && (x.is_none() || matches!(x.as_str(), Some("None" | "null"))) {
                continue;
            }
            match (x.kind(), levels) {
                (ValueKind::Seq, None) => walk(out, x.try_iter().map(|i| i.collect()).unwrap_or_default(), None, skip),
                (ValueKind::Seq, Some(n)) if n >= 1 => {
                    walk(out, x.try_iter().map(|i| i.collect()).unwrap_or_default(), Some(n - 1), skip)
                }
                _ => out.push(x),
            }
        }
    }
    let mut out = Vec::new();
    walk(&mut out, v, levels, skip_nulls);
    Ok(Value::from(out))
}

fn names(kwargs: &Kwargs) -> R<(String, String)> {
    let key = kwargs.get::<Option<String>>("key_name")?.unwrap_or_else(|| "key".into());
    let value = kwargs.get::<Option<String>>("value_name")?.unwrap_or_else(|| "value".into());
    kwargs.assert_all_used()?;
    Ok((key, value))
}

/// `{'a': 1}` → `[{'key': 'a', 'value': 1}]`.
fn dict2items(v: Value, kwargs: Kwargs) -> R<Value> {
    let (kn, vn) = names(&kwargs)?;
    if v.kind() != ValueKind::Map {
        return Err(bad(format!("dict2items requires a dictionary, got {}", python_type(&v))));
    }
    let items: R<Vec<Value>> = v
        .try_iter()?
        .map(|k| Ok(Value::from_pairs([(kn.clone(), k.clone()), (vn.clone(), v.get_item(&k)?)])))
        .collect();
    Ok(Value::from(items?))
}

/// `[{'key': 'a', 'value': 1}]` → `{'a': 1}`.
fn items2dict(v: Vec<Value>, kwargs: Kwargs) -> R<Value> {
    let (kn, vn) = names(&kwargs)?;
    let mut out = Vec::with_capacity(v.len());
    for item in v {
        let k = item.get_attr(&kn)?;
        let x = item.get_attr(&vn)?;
        if k.is_undefined() || x.is_undefined() {
            return Err(bad(format!("items2dict: an item has no `{kn}` or `{vn}`")));
        }
        out.push((k, x));
    }
    Ok(Value::from_pairs(out))
}

/// `cond | ternary(a, b, none_val)`.
fn ternary(v: Value, yes: Value, no: Value, none: Option<Value>) -> Value {
    match none {
        Some(n) if v.is_none() => n,
        _ if v.is_true() => yes,
        _ => no,
    }
}

fn to_json_filter(v: Value, kwargs: Kwargs) -> R<String> {
    let indent = kwargs.get::<Option<usize>>("indent")?;
    let sort = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    let _ = kwargs.get::<Option<Value>>("ensure_ascii")?;
    kwargs.assert_all_used()?;
    Ok(pydump::json(&to_json(&v)?, indent, sort))
}

fn to_nice_json(v: Value, kwargs: Kwargs) -> R<String> {
    let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(4);
    let sort = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    Ok(pydump::json(&to_json(&v)?, Some(indent), sort))
}

/// `to_yaml` (flow style for leaf collections) and `to_nice_yaml` (block, indent 4).
fn yaml(v: Value, kwargs: Kwargs, nice: bool) -> R<String> {
    let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(if nice { 4 } else { 2 });
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    let width = kwargs.get::<Option<usize>>("width")?.unwrap_or(80);
    let flow = kwargs.get::<Option<Value>>("default_flow_style")?;
    let _ = kwargs.get::<Option<Value>>("explicit_start")?;
    kwargs.assert_all_used()?;
    let flow_leaves = match flow {
        Some(f) => f.is_none(),
        None => !nice,
    };
    Ok(pyyaml::yaml(&to_json(&v)?, YamlStyle { indent: indent.max(2), sort_keys, flow_leaves, width }))
}

/// Python's `os.path.dirname`.
fn dirname(s: &str) -> String {
    match s.rfind('/') {
        None => String::new(),
        Some(i) => {
            let head = &s[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_string()
            } else {
                trimmed.to_string()
            }
        }
    }
}

/// Python's `shlex.quote`, as Ansible's `quote` filter.
pub fn shlex_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

fn unique(it: impl Iterator<Item = Value>) -> Value {
    let mut out: Vec<Value> = Vec::new();
    for x in it {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    Value::from(out)
}

fn python_type(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::super::jinja::Jinja;

    fn ansible_vars() -> tera::Context {
        let vars = serde_json::json!({
            "xs": [1, 2, 3],
            "m": {"b": 2, "a": 1},
            "users": [{"name": "al", "admin": true}, {"name": "bo", "admin": false}],
            "nested": {"name": "web", "ports": [80, 443], "tags": {"env": "prod", "tier": "front"},
                "hosts": [{"name": "a", "ip": "10.0.0.1"}, {"name": "b", "ip": "10.0.0.2"}], "empty": [],
                "long": "a long sentence that goes on and on and on past the eighty column width of the dumper ok"},
        });
        crate::template::context(vars.as_object().unwrap())
    }

    fn render(text: &str) -> Result<String, String> {
        let jinja = Jinja::new(&[("t.j2".to_string(), text.to_string())], None).map_err(|e| e.to_string())?;
        jinja.render_file("t.j2", &ansible_vars()).map_err(|e| e.to_string())
    }

    /// `(template, what ansible-core 2.19.14 renders)`, from `ansible_vars()`.
    const ANSIBLE_SAYS: &[(&str, &str)] = &[
        (r#"{{ nope | default('y') }}"#, r#"y"#),
        (r#"{{ nope | d('y') }}"#, r#"y"#),
        (r#"{{ '' | default('y', true) }}"#, r#"y"#),
        (
            r#"{{ 'yes' | bool }} {{ 'on' | bool }} {{ '1' | bool }} {{ 'no' | bool }} {{ 'TRUE' | bool }} {{ 0 | bool }} {{ 1 | bool }}"#,
            r#"True True True False True False True"#,
        ),
        (
            r#"{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ '0x1A' | int(base=16) }} {{ 3.9 | int }} {{ true | int }}"#,
            r#"42 4 0 7 26 3 1"#,
        ),
        (r#"{{ '1.5' | float }} {{ 'x' | float }} {{ 2 | float }}"#, r#"1.5 0.0 2.0"#),
        (r#"{{ 1 | string }} {{ true | string }} {{ none | string }} {{ xs | string }}"#, r#"1 True None [1, 2, 3]"#),
        (r#"{{ 'AbC' | lower }} {{ 'AbC' | upper }}"#, r#"abc ABC"#),
        (r#"{{ xs | join(',') }} {{ xs | join }}"#, r#"1,2,3 123"#),
        (r#"{{ xs | length }} {{ 'abc' | length }} {{ m | length }}"#, r#"3 3 2"#),
        (r#"{{ xs | first }} {{ xs | last }}"#, r#"1 3"#),
        (
            r#"{{ [3, 1, 3, 2] | unique }} {{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ [3, 1, 2] | sort(reverse=true) }}"#,
            r#"[3, 1, 2] [1, 2, 3] ['A', 'b', 'c'] [3, 2, 1]"#,
        ),
        (
            r#"{{ [1, [2, [3, None]], 'null'] | flatten }} {{ [1, [2, [3]]] | flatten(levels=1) }}"#,
            r#"[1, 2, 3] [1, 2, [3]]"#,
        ),
        (r#"{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('odd') | list }}"#, r#"[1, 3] [2, 4]"#),
        (
            r#"{{ users | selectattr('admin') | map(attribute='name') | list }} {{ users | rejectattr('admin') | map(attribute='name') | list }}"#,
            r#"['al'] ['bo']"#,
        ),
        (r#"{{ users | selectattr('name', 'equalto', 'bo') | list }}"#, r#"[{'name': 'bo', 'admin': False}]"#),
        (r#"{{ xs | map('upper') | list }}"#, r#"['1', '2', '3']"#),
        (
            r#"{{ m | dict2items }} {{ m | dict2items(key_name='k', value_name='v') }}"#,
            r#"[{'key': 'b', 'value': 2}, {'key': 'a', 'value': 1}] [{'k': 'b', 'v': 2}, {'k': 'a', 'v': 1}]"#,
        ),
        (r#"{{ [{'key': 'a', 'value': 1}] | items2dict }}"#, r#"{'a': 1}"#),
        (
            r#"{{ {'a': 1, 'n': {'x': 1}} | combine({'b': 2, 'n': {'y': 2}}) }} {{ {'a': 1, 'n': {'x': 1}} | combine({'n': {'y': 2}}, recursive=true) }}"#,
            r#"{'a': 1, 'n': {'y': 2}, 'b': 2} {'a': 1, 'n': {'x': 1, 'y': 2}}"#,
        ),
        (r#"{{ {'l': [1]} | combine({'l': [2]}, list_merge='append') }}"#, r#"{'l': [1, 2]}"#),
        (
            r#"{{ true | ternary('a', 'b') }} {{ false | ternary('a', 'b') }} {{ none | ternary('a', 'b', 'c') }}"#,
            r#"a b c"#,
        ),
        (
            r#"{{ 'foo-bar' | regex_replace('(\\w+)-(\\w+)', '\\2 \\1') }} {{ 'aaa' | regex_replace('a', 'b', count=2) }} {{ 'ABC' | regex_replace('b', 'x', ignorecase=true) }}"#,
            r#"bar foo bba AxC"#,
        ),
        (
            r#"{{ 'host-12.example' | regex_search('[0-9]+') }} {{ 'host-12' | regex_search('(\\w+)-(\\d+)', '\\2', '\\1') }} {{ 'abc' | regex_search('z') }}"#,
            r#"12 ['12', 'host'] "#,
        ),
        (r#"{{ 'a1b22' | regex_findall('\\d+') }}"#, r#"['1', '22']"#),
        (r#"{{ m | to_json }} {{ 'é' | to_json }} {{ xs | to_json }}"#, r#"{"b": 2, "a": 1} "\u00e9" [1, 2, 3]"#),
        (
            r#"{{ m | to_nice_json }}"#,
            r#"{
    "a": 1,
    "b": 2
}"#,
        ),
        (
            r#"{{ m | to_nice_json(indent=2) }}"#,
            r#"{
  "a": 1,
  "b": 2
}"#,
        ),
        (
            r#"{{ nested | to_yaml }}"#,
            r#"empty: []
hosts:
- {ip: 10.0.0.1, name: a}
- {ip: 10.0.0.2, name: b}
long: a long sentence that goes on and on and on past the eighty column width of the
  dumper ok
name: web
ports: [80, 443]
tags: {env: prod, tier: front}
"#,
        ),
        (
            r#"{{ nested | to_nice_yaml }}"#,
            r#"empty: []
hosts:
-   ip: 10.0.0.1
    name: a
-   ip: 10.0.0.2
    name: b
long: a long sentence that goes on and on and on past the eighty column width of the
    dumper ok
name: web
ports:
- 80
- 443
tags:
    env: prod
    tier: front
"#,
        ),
        (
            r#"{{ nested | to_nice_yaml(indent=2) }}"#,
            r#"empty: []
hosts:
- ip: 10.0.0.1
  name: a
- ip: 10.0.0.2
  name: b
long: a long sentence that goes on and on and on past the eighty column width of the
  dumper ok
name: web
ports:
- 80
- 443
tags:
  env: prod
  tier: front
"#,
        ),
        (
            r#"{{ ['a', 'yes', '', 'x: y', '- z', '1.0', '#c', 'null', 'ok then'] | to_nice_yaml }}"#,
            r#"- a
- 'yes'
- ''
- 'x: y'
- '- z'
- '1.0'
- '#c'
- 'null'
- ok then
"#,
        ),
        (
            r#"{{ '{"a": [1, 2.5, null]}' | from_json }} {{ 'a: 1\nb: [x, y]' | from_yaml }}"#,
            r#"{'a': [1, 2.5, None]} {'a': 1, 'b': ['x', 'y']}"#,
        ),
        (r#"{{ 'héllo' | b64encode }} {{ 'aMOpbGxv' | b64decode }}"#, r#"aMOpbGxv héllo"#),
        (
            r#"{{ '/etc/nginx/nginx.conf' | basename }} {{ '/etc/nginx/nginx.conf' | dirname }} {{ '/etc/' | dirname }} {{ 'file' | dirname }} {{ '/' | dirname }}"#,
            r#"nginx.conf /etc/nginx /etc  /"#,
        ),
        (
            r#"{{ 'a b' | quote }} {{ "it's" | quote }} {{ '' | quote }} {{ 'safe/path-1.2' | quote }}"#,
            r#"'a b' 'it'"'"'s' '' safe/path-1.2"#,
        ),
        (
            r#"{{ 'one\ntwo' | comment }}"#,
            r#"#
# one
# two
#"#,
        ),
        (
            r#"{{ 'x' | comment('c') }}"#,
            r#"//
// x
//"#,
        ),
        (
            r#"{{ 'x' | comment('cblock') }}"#,
            r#"/*
 *
 * x
 *
 */"#,
        ),
        (
            r#"{{ 'x' | comment('xml') }}"#,
            r#"<!--
 -
 - x
 -
-->"#,
        ),
        (
            r#"{{ 'x' | comment(decoration='; ') }}"#,
            r#";
; x
;"#,
        ),
        (
            r#"{{ 'abc' | hash('sha1') }} {{ 'abc' | hash('md5') }} {{ 'abc' | hash('sha256') }} {{ 'abc' | checksum }}"#,
            r#"a9993e364706816aba3e25717850c26c9cd0d89d 900150983cd24fb0d6963f7d28e17f72 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad a9993e364706816aba3e25717850c26c9cd0d89d"#,
        ),
        (
            r#"{{ '1.5.0' is version('1.10', '<') }} {{ '2.4' is version('2.4.0', '==') }} {{ '1.2.3' is version('1.2', 'ge') }} {{ '232' is version('231', '>=') }}"#,
            r#"True False True True"#,
        ),
        (
            r#"{{ 'foobar' is match('foo') }} {{ 'foobar' is match('bar') }} {{ 'foobar' is search('bar') }} {{ 'FOO' is match('foo', ignorecase=true) }}"#,
            r#"True False True True"#,
        ),
        (r#"{{ 2 is in xs }} {{ 'b' in xs }}"#, r#"True False"#),
        (r#"{% for k, v in m.items() %}{{ loop.index }}:{{ k }}={{ v }};{% endfor %}"#, r#"1:b=2;2:a=1;"#),
        (
            r#"{{ [1, 2] }} {{ {'a': 1, 'b': [true, none]} }} {{ true }} {{ none }} {{ ['x', "y'z"] }} {{ 1.0 }} {{ 3 / 2 }} {{ 1e20 }} {{ 7 // 2 }}"#,
            r#"[1, 2] {'a': 1, 'b': [True, None]} True  ['x', "y'z"] 1.0 1.5 1e+20 3"#,
        ),
        (r#"{{ [0, 1] is any }} {{ [0, 1] is all }}"#, r#"True False"#),
        (
            r#"{{ [1, 2] | union([2, 3]) }} {{ [1, 2] | intersect([2, 3]) }} {{ [1, 2] | difference([2, 3]) }}"#,
            r#"[1, 2, 3] [2] [1]"#,
        ),
        (
            r#"{{ 'line1\nline2\n' | indent(2) }}|{{ 'a\n\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent(2, blank=true) }}"#,
            r#"line1
  line2
|  a

  b|a
  
  b"#,
        ),
        (
            r#"{{ 'maybe' | bool }} {{ none | bool }} {{ 'a' ~ none }} {{ [1.5, 1e20] }}"#,
            r#"False False aNone [1.5, 1e+20]"#,
        ),
        (
            r#"{{ ('a', 'b') }} {{ xs | map('string') | list }} {{ 'x' if none else 'y' }}"#,
            r#"['a', 'b'] ['1', '2', '3'] y"#,
        ),
        (
            r#"{{ m | dictsort }} {{ 'a,b' .split(',') }} {{ 'Abc'.startswith('A') }} {{ ' x '.strip() }}"#,
            r#"[['a', 1], ['b', 2]] ['a', 'b'] True x"#,
        ),
        (
            r#"{{ {'b': 1, 'a': 2} }} {{ '%s=%d' | format('a', 3) }} {{ 'abc' | replace('b', 'x') }} {{ 'a b' | title }}"#,
            r#"{'b': 1, 'a': 2} a=3 axc A B"#,
        ),
        (
            r#"{{ [none, 1] }} {{ none | default('d') }} {{ none | default('d', true) }} {{ [] | first | default('e') }}"#,
            r#"[None, 1]  d e"#,
        ),
        (
            r#"{{ users | map(attribute='name') | join(', ') }} {{ users | sum(attribute='admin') }} {{ range(1, 4) | list }}"#,
            r#"al, bo 1 [1, 2, 3]"#,
        ),
        (
            r#"{{ 10 % 3 }} {{ 2 ** 10 }} {{ -7 // 2 }} {{ 7 / 2 }} {{ (0.1 + 0.2) | round(2) }} {{ 3.7 | round }} {{ 3.14159 | round(2, 'floor') }}"#,
            r#"1 1024 -4 3.5 0.3 4.0 3.14"#,
        ),
        (
            r#"{{ 'a\tb' | to_nice_yaml }}{{ {'k': 'v'} | to_yaml }}{{ [1, 'two'] | to_yaml }}"#,
            r#""a\tb"
{k: v}
[1, two]
"#,
        ),
    ];

    #[test]
    fn filters_and_tests_print_what_ansible_prints() {
        let mut wrong = Vec::new();
        for (text, want) in ANSIBLE_SAYS {
            match render(text) {
                Ok(got) if got == *want => {}
                got => wrong.push(format!("{text}\n  ansible: {want:?}\n  rigger:  {got:?}")),
            }
        }
        assert!(wrong.is_empty(), "{} of {} differ:\n{}", wrong.len(), ANSIBLE_SAYS.len(), wrong.join("\n"));
    }

    /// ansible.utils' `ipaddr` (not in ansible-core: these follow its documentation).
    #[test]
    fn ipaddr_basics() {
        for (text, want) in [
            ("{{ '192.168.1.10/24' | ipaddr }}", "192.168.1.10/24"),
            ("{{ '192.168.1.10/24' | ipaddr('address') }}", "192.168.1.10"),
            ("{{ '192.168.1.10/24' | ipaddr('network') }}", "192.168.1.0"),
            ("{{ '192.168.1.10/24' | ipaddr('netmask') }}", "255.255.255.0"),
            ("{{ '192.168.1.10/24' | ipaddr('prefix') }}", "24"),
            ("{{ '192.168.1.10/24' | ipaddr('cidr') }}", "192.168.1.0/24"),
            ("{{ '10.0.0.1' | ipaddr('host') }}", "10.0.0.1/32"),
            ("{{ 'web1' | ipaddr }}", "False"),
            ("{{ '10.0.0.1' | ipv6 }}", "False"),
            ("{{ ['10.0.0.1', 'x', '::1'] | ipv4 }}", "['10.0.0.1']"),
            ("{{ ['10.0.0.1', 'x', '::1'] | ipaddr }}", "['10.0.0.1', '::1']"),
            ("{{ 'fe80::1/64' | ipaddr('network') }}", "fe80::"),
        ] {
            assert_eq!(render(text).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad_arguments_are_errors_not_panics() {
        for text in [
            "{{ 'x' | regex_replace('(') }}",
            "{{ 'x' | hash('sha3') }}",
            "{{ 'x' | comment('nope') }}",
            "{{ 'x' | dict2items }}",
            "{{ 'x' | from_json }}",
            "{{ '%%' | b64decode }}",
            "{{ 'x' is version('1', 'about') }}",
            "{{ 1 | combine({}) }}",
            "{{ nope | mandatory }}",
        ] {
            assert!(render(text).is_err(), "{text}");
        }
    }
}
