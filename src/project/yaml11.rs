//! YAML 1.1 scalars, as Ansible reads vars files and YAML inventories
//! (PyYAML): a plain `yes`, `no`, `on`, `off` is a boolean, `0755` an octal
//! int, `1_000` an int, while `1e3` and `0o17` stay strings. rigger's YAML
//! parser reads YAML 1.2, so such a plain scalar is spelled anew (`yes` →
//! `true`, `1e3` → `'1e3'`) before parsing; lines keep their numbers, so
//! errors still point at the line written.

use std::borrow::Cow;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// `text` with every plain value scalar whose YAML 1.1 meaning differs from
/// its YAML 1.2 one rewritten to say the YAML 1.1 meaning. Text that does
/// not parse is returned as it is: the YAML parser reports its error.
pub fn rewrite(text: &str) -> Cow<'_, str> {
    // Too deep for the YAML parser's limits: `Source::parse` reports it, before any parser sees it.
    if super::nesting::too_deep(text).is_some() {
        return Cow::Borrowed(text);
    }
    let mut found = Finder { text, stack: Vec::new(), edits: Vec::new(), cursor: (0, 0) };
    if Parser::new_from_str(text).load(&mut found, true).is_err() || found.edits.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for (start, end, with) in found.edits.into_iter().rev() {
        out.replace_range(start..end, &with);
    }
    Cow::Owned(out)
}

/// Walks the parse events, noting the plain value scalars to spell anew.
struct Finder<'a> {
    text: &'a str,
    /// Per open collection: `Some(next is a key)` for a mapping, `None` for a sequence.
    stack: Vec<Option<bool>>,
    /// (byte start, byte end, replacement), in text order.
    edits: Vec<(usize, usize, String)>,
    /// The last (character, byte) offset `byte_at` found.
    cursor: (usize, usize),
}

impl MarkedEventReceiver for Finder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::MappingStart(..) => {
                self.value_done();
                self.stack.push(Some(true));
            }
            Event::SequenceStart(..) => {
                self.value_done();
                self.stack.push(None);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Scalar(value, style, _, tag) => {
                let is_key = matches!(self.stack.last(), Some(Some(true)));
                self.value_done();
                if !is_key && style == TScalarStyle::Plain && tag.is_none() {
                    self.note(&value, mark.index());
                }
            }
            Event::Alias(_) => self.value_done(),
            _ => {}
        }
    }
}

impl Finder<'_> {
    /// The byte offset of character `index`: the marker counts characters, the
    /// text is sliced in bytes. Events come in text order, so the walk goes on
    /// from the last answer (from the start each time, a large file would cost its size squared).
    fn byte_at(&mut self, index: usize) -> usize {
        if index < self.cursor.0 {
            self.cursor = (0, 0);
        }
        let (mut chars, mut bytes) = self.cursor;
        for c in self.text[bytes..].chars() {
            if chars == index {
                break;
            }
            chars += 1;
            bytes += c.len_utf8();
        }
        self.cursor = (chars, bytes);
        bytes
    }

    /// A node was read where the innermost mapping expected one: a key or a value.
    fn value_done(&mut self) {
        if let Some(Some(next_is_key)) = self.stack.last_mut() {
            *next_is_key = !*next_is_key;
        }
    }

    fn note(&mut self, value: &str, index: usize) {
        let Some(with) = yaml11_spelling(value) else { return };
        let start = self.byte_at(index);
        let end = start + value.len();
        if self.text.get(start..end) == Some(value) {
            self.edits.push((start, end, with));
        }
    }
}

/// How YAML 1.2 must spell `plain` to mean what YAML 1.1 means by it, or
/// `None` when both read it alike.
fn yaml11_spelling(plain: &str) -> Option<String> {
    let first = plain.chars().next()?;
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.' | 'y' | 'Y' | 'n' | 'N' | 'o' | 'O')) {
        return None;
    }
    // Fast answers for what most files are full of (ports, versions, addresses, yes/no),
    // before asking serde_yaml how it reads one scalar (which costs a parse).
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = plain.strip_prefix('-').unwrap_or(plain);
    if (digits(unsigned) && (unsigned == "0" || !unsigned.starts_with('0')))
        || unsigned.split_once('.').is_some_and(|(w, f)| digits(w) && digits(f) && (w == "0" || !w.starts_with('0')))
    {
        return None;
    }
    let meant = yaml11_meaning(plain);
    match &meant {
        Some(serde_yaml::Value::Bool(b)) => {
            let same = matches!(plain, "true" | "True" | "TRUE" | "false" | "False" | "FALSE");
            return (!same).then(|| b.to_string());
        }
        // A string to YAML 1.1 that YAML 1.2 cannot read as a number either.
        None if plain.parse::<f64>().is_err() && !plain.contains(['x', 'o', 'b', '.']) => return None,
        _ => {}
    }
    let read: Option<serde_yaml::Value> = serde_yaml::from_str(plain).ok();
    match (meant, read) {
        (Some(m), Some(r)) if m == r => None,
        (Some(m), _) => serde_yaml::to_string(&m).ok().map(|s| s.trim_end().to_string()),
        // YAML 1.1 reads a string where YAML 1.2 reads something else: quote it.
        (None, Some(r)) if !r.is_string() => Some(format!("'{plain}'")),
        (None, _) => None,
    }
}

/// What PyYAML's implicit resolvers make of a plain scalar, when not a string.
fn yaml11_meaning(plain: &str) -> Option<serde_yaml::Value> {
    use serde_yaml::Value;
    match plain {
        "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        _ => {}
    }
    let (negative, body) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, plain),
    };
    let int = |digits: &str, radix: u32| -> Option<Value> {
        let clean: String = digits.chars().filter(|c| *c != '_').collect();
        let n = i64::from_str_radix(&clean, radix).ok()?;
        Some(Value::Number(if negative { -n } else { n }.into()))
    };
    let only = |s: &str, ok: fn(char) -> bool| !s.is_empty() && s.chars().all(|c| ok(c) || c == '_');
    if let Some(b) = body.strip_prefix("0b") {
        return only(b, |c| matches!(c, '0' | '1')).then(|| int(b, 2)).flatten();
    }
    if let Some(h) = body.strip_prefix("0x") {
        return only(h, |c| c.is_ascii_hexdigit()).then(|| int(h, 16)).flatten();
    }
    if body.len() > 1 && body.starts_with('0') && only(&body[1..], |c| ('0'..='7').contains(&c)) {
        return int(&body[1..], 8);
    }
    if body == "0" || (body.starts_with(|c: char| ('1'..='9').contains(&c)) && only(body, |c| c.is_ascii_digit())) {
        return int(body, 10);
    }
    if let Some((whole, minutes)) = body.split_once(':') {
        // Sexagesimal: `1:20` is 80.
        let parts: Vec<&str> = minutes.split(':').collect();
        let ok = body.starts_with(|c: char| ('1'..='9').contains(&c))
            && only(whole, |c| c.is_ascii_digit())
            && parts.iter().all(|p| (1..=2).contains(&p.len()) && p.parse::<u8>().is_ok_and(|n| n < 60));
        if !ok {
            return None;
        }
        let clean: String = whole.chars().filter(|c| *c != '_').collect();
        let total = parts
            .iter()
            .try_fold(clean.parse::<i64>().ok()?, |acc, p| acc.checked_mul(60)?.checked_add(p.parse().ok()?))?;
        return Some(Value::Number(if negative { -total } else { total }.into()));
    }
    // PyYAML's `.5` form takes no sign: `-.5` is a string.
    let signed = body.len() < plain.len();
    if signed && body.starts_with('.') && !matches!(body, ".inf" | ".Inf" | ".INF") {
        return None;
    }
    float(body, negative)
}

/// PyYAML's float: digits with a dot (`1.`, `.5`, `1.5e+3`: the exponent needs its sign), or .inf/.nan.
fn float(body: &str, negative: bool) -> Option<serde_yaml::Value> {
    let sign = if negative { -1.0 } else { 1.0 };
    match body {
        ".inf" | ".Inf" | ".INF" => return Some(serde_yaml::Value::Number((sign * f64::INFINITY).into())),
        ".nan" | ".NaN" | ".NAN" => return Some(serde_yaml::Value::Number(f64::NAN.into())),
        _ => {}
    }
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (body, None),
    };
    let (whole, frac) = mantissa.split_once('.')?;
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit() || c == '_');
    let whole_ok = if whole.is_empty() {
        !frac.is_empty()
    } else {
        whole.starts_with(|c: char| c.is_ascii_digit()) && digits(whole)
    };
    let exp_ok =
        exponent.is_none_or(|e| e.len() > 1 && e.starts_with(['+', '-']) && e[1..].chars().all(|c| c.is_ascii_digit()));
    if !(whole_ok && digits(frac) && exp_ok) {
        return None;
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let clean = if clean.starts_with('.') { format!("0{clean}") } else { clean };
    let f: f64 = clean.replace(".e", ".0e").trim_end_matches('.').parse().ok()?;
    Some(serde_yaml::Value::Number((sign * f).into()))
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn yaml_1_1_plain_scalars_are_spelled_for_yaml_1_2() {
        let text = "a: yes\nb: No\nc: on\nd: OFF\ne: 'yes'\nf: 0755\ng: 1_000\nh: 1e3\ni: 0o17\nj: 1:20\nj2: -.5\nk: [yes, \"no\"]\nyes: 1\nl: !!str yes\nm: 1.5\nn: ~\no: 0x1F\n";
        let want = "a: true\nb: false\nc: true\nd: false\ne: 'yes'\nf: 493\ng: 1000\nh: '1e3'\ni: '0o17'\nj: 80\nj2: '-.5'\nk: [true, \"no\"]\nyes: 1\nl: !!str yes\nm: 1.5\nn: ~\no: 0x1F\n";
        assert_eq!(rewrite(text), want);
    }

    #[test]
    fn text_with_nothing_to_change_or_that_does_not_parse_is_left_alone() {
        for text in ["a: 1\nb: text\n", "a: [yes\n", "a: café\nb: on\n"] {
            let out = rewrite(text);
            assert!(text == "a: café\nb: on\n" || out == text, "{out}");
        }
        assert_eq!(rewrite("a: café\nb: on\n"), "a: café\nb: true\n");
    }
}
