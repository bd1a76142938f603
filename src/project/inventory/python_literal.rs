//! Python literals as `ast.literal_eval` reads them: Ansible's INI plugin
//! passes every value through it, so `devices="['/dev/sdb']"` is a list,
//! `1.50` a float, `0x1F` an int, `True` a bool, while `true` (not Python)
//! stays the string it was written as.

use serde_json::{Map, Number, Value};

/// The value `text` stands for, or `None` when it is not a Python literal
/// (Ansible then keeps the text as a string).
pub fn literal(text: &str) -> Option<Value> {
    // literal_eval strips leading blanks only; the tokenizer ignores the trailing ones.
    let mut p = Parser { s: text.trim_start_matches([' ', '\t']).as_bytes(), at: 0 };
    let first = p.value()?;
    p.blank();
    let value = if p.eat(b',') {
        // `1, 2` at the top is a tuple, as in Python: a list in JSON.
        let mut items = vec![first];
        items.extend(p.items_until(None)?);
        Value::Array(items)
    } else {
        first
    };
    p.blank();
    (p.at == p.s.len()).then_some(value)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.at += usize::from(hit);
        hit
    }

    /// Skips blanks and a `#` comment (which runs to the end: values are one line).
    fn blank(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\x0c')) {
            self.at += 1;
        }
        if self.peek() == Some(b'#') {
            self.at = self.s.len();
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.blank();
        match self.peek()? {
            b'[' => {
                self.at += 1;
                self.items_until(Some(b']')).map(Value::Array)
            }
            b'(' => self.parenthesised(),
            b'{' => self.braces(),
            b'+' | b'-' => self.signed(),
            b'.' if self.s[self.at..].starts_with(b"...") => {
                self.at += 3;
                Some(Value::String("...".into()))
            }
            b'0'..=b'9' | b'.' => self.number(),
            _ => self.word_or_string(),
        }
    }

    /// Comma-separated values up to `close` (or the end, for `None`); a trailing comma is allowed.
    fn items_until(&mut self, close: Option<u8>) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            self.blank();
            if close.map_or(self.at == self.s.len(), |c| self.eat(c)) {
                return Some(items);
            }
            items.push(self.value()?);
            self.blank();
            if !self.eat(b',') {
                self.blank();
                return match close {
                    Some(c) => self.eat(c).then_some(items),
                    None => Some(items),
                };
            }
        }
    }

    /// `(1)` is 1; `()`, `(1,)` and `(1, 2)` are tuples (lists in JSON).
    fn parenthesised(&mut self) -> Option<Value> {
        self.at += 1;
        self.blank();
        if self.eat(b')') {
            return Some(Value::Array(vec![]));
        }
        let first = self.value()?;
        self.blank();
        if self.eat(b')') {
            return Some(first);
        }
        if !self.eat(b',') {
            return None;
        }
        let mut items = vec![first];
        items.extend(self.items_until(Some(b')'))?);
        Some(Value::Array(items))
    }

    /// A dict, or a set (a list in JSON, as Ansible turns it into one).
    fn braces(&mut self) -> Option<Value> {
        self.at += 1;
        self.blank();
        if self.eat(b'}') {
            return Some(Value::Object(Map::new()));
        }
        let first = self.value()?;
        self.blank();
        if !self.eat(b':') {
            let mut items = vec![first];
            if self.eat(b',') {
                items.extend(self.items_until(Some(b'}'))?);
            } else if !self.eat(b'}') {
                return None;
            }
            return Some(Value::Array(items));
        }
        let mut map = Map::new();
        let mut key = first;
        loop {
            let value = self.value()?;
            map.insert(key_text(&key)?, value);
            self.blank();
            if self.eat(b'}') {
                return Some(Value::Object(map));
            }
            if !self.eat(b',') {
                return None;
            }
            self.blank();
            if self.eat(b'}') {
                return Some(Value::Object(map));
            }
            key = self.value()?;
            self.blank();
            if !self.eat(b':') {
                return None;
            }
        }
    }

    /// `-5`, `+1.5`, `- 3`: signs apply to numbers only.
    fn signed(&mut self) -> Option<Value> {
        let negative = self.peek() == Some(b'-');
        self.at += 1;
        self.blank();
        // literal_eval takes one sign on a number, not `--1`.
        if matches!(self.peek(), Some(b'+' | b'-')) {
            return None;
        }
        let v = self.value()?;
        let n = v.as_number()?;
        if !negative {
            return Some(v);
        }
        if let Some(i) = n.as_i64().and_then(i64::checked_neg) {
            return Some(Value::from(i));
        }
        n.as_f64().and_then(|f| Number::from_f64(-f)).map(Value::Number)
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.') {
            let c = self.s[self.at];
            self.at += 1;
            // An exponent's sign belongs to the number.
            if matches!(c, b'e' | b'E')
                && matches!(self.peek(), Some(b'+' | b'-'))
                && !self.s[start..].starts_with(b"0x")
            {
                self.at += 1;
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.at]).ok()?;
        number(text)
    }

    /// `True`, `False`, `None`, or one or more strings side by side (`'a' 'b'` is `'ab'`).
    fn word_or_string(&mut self) -> Option<Value> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
            self.at += 1;
        }
        let word = &self.s[start..self.at];
        if !matches!(self.peek(), Some(b'\'' | b'"')) {
            return match word {
                b"True" => Some(Value::Bool(true)),
                b"False" => Some(Value::Bool(false)),
                b"None" => Some(Value::Null),
                _ => None,
            };
        }
        self.at = start;
        let mut text = String::new();
        loop {
            text.push_str(&self.string()?);
            self.blank();
            let next_is_string = {
                let rest = &self.s[self.at..];
                let prefix = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
                prefix <= 2 && matches!(rest.get(prefix), Some(b'\'' | b'"'))
            };
            if !next_is_string {
                return Some(Value::String(text));
            }
        }
    }

    /// One string literal with its prefix (`r`, `u`, `b`; `f` is no literal).
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.at += 1;
        }
        let prefix = std::str::from_utf8(&self.s[start..self.at]).ok()?.to_ascii_lowercase();
        if !matches!(prefix.as_str(), "" | "r" | "u" | "b" | "br" | "rb") {
            return None;
        }
        let raw = prefix.contains('r');
        let quote = self.peek()?;
        let triple = self.s[self.at..].starts_with(&[quote; 3]);
        let width = if triple { 3 } else { 1 };
        self.at += width;
        let body_start = self.at;
        loop {
            match self.peek()? {
                b'\\' => self.at += 2,
                c if c == quote && (!triple || self.s[self.at..].starts_with(&[quote; 3])) => break,
                _ => self.at += 1,
            }
        }
        let body = std::str::from_utf8(self.s.get(body_start..self.at)?).ok()?;
        // `\N{NAME}` needs Unicode's name table; rigger has none, so the value stays text.
        if !raw && body.contains("\\N{") {
            return None;
        }
        self.at += width;
        Some(if raw { body.to_string() } else { unescape(body) })
    }
}

/// A Python int or float literal (`1_000`, `0x1F`, `0o17`, `0b11`, `1.50`, `.5`, `1e3`).
fn number(text: &str) -> Option<Value> {
    let digits = |s: &str, radix: u32| {
        let ok = !s.is_empty() && !s.starts_with('_') && !s.ends_with('_') && !s.contains("__");
        let clean: String = s.chars().filter(|c| *c != '_').collect();
        ok.then(|| u64::from_str_radix(&clean, radix).ok()).flatten()
    };
    let lower = text.to_ascii_lowercase();
    let radix = [("0x", 16), ("0o", 8), ("0b", 2)].into_iter().find(|(p, _)| lower.starts_with(p));
    if let Some((p, radix)) = radix {
        let rest = lower[p.len()..].strip_prefix('_').unwrap_or(&lower[p.len()..]);
        return digits(rest, radix).map(Value::from);
    }
    if lower.bytes().all(|c| c.is_ascii_digit() || c == b'_') {
        // `007` is a syntax error in Python 3; `000` is zero.
        if lower.len() > 1 && lower.starts_with('0') && lower.bytes().any(|c| c != b'0' && c != b'_') {
            return None;
        }
        return match digits(&lower, 10) {
            Some(n) => Some(Value::from(n)),
            None => float(&lower),
        };
    }
    float(&lower)
}

fn float(text: &str) -> Option<Value> {
    let (mantissa, exponent) = match text.split_once('e') {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (text, None),
    };
    let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let part_ok = |s: &str| !s.starts_with('_') && !s.ends_with('_') && !s.contains("__");
    let has_digits = whole.bytes().any(|c| c.is_ascii_digit()) || frac.bytes().any(|c| c.is_ascii_digit());
    let all_digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit() || c == b'_');
    let shape = has_digits
        && all_digits(whole)
        && all_digits(frac)
        && part_ok(whole)
        && part_ok(frac)
        && (mantissa.contains('.') || exponent.is_some())
        && exponent.is_none_or(|e| !e.is_empty() && all_digits(e) && part_ok(e));
    if !shape {
        return None;
    }
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let f: f64 = clean.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

/// A dict key as JSON spells it (Python's `json.dumps` turns 2 into "2", True into "true").
fn key_text(key: &Value) -> Option<String> {
    match key {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) | Value::Null => Some(key.to_string()),
        _ => None,
    }
}

/// Python's escapes in a non-raw string; an unknown escape keeps its backslash, as Python does.
fn unescape(body: &str) -> String {
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        let simple = match e {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'v' => Some('\x0b'),
            '\\' | '\'' | '"' => Some(e),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        let width = match e {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            '0'..='7' => 0,
            '\n' => continue,
            _ => {
                out.push('\\');
                out.push(e);
                continue;
            }
        };
        let code = if width == 0 {
            let mut octal = e.to_string();
            while octal.len() < 3 && chars.peek().is_some_and(|c| ('0'..='7').contains(c)) {
                octal.push(chars.next().expect("peeked"));
            }
            u32::from_str_radix(&octal, 8).ok()
        } else {
            let hex: String = (0..width).filter_map(|_| chars.next()).collect();
            u32::from_str_radix(&hex, 16).ok()
        };
        out.extend(code.and_then(char::from_u32));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::literal;
    use serde_json::json;

    #[test]
    fn python_literals_as_literal_eval_reads_them() {
        let cases = [
            ("['/dev/sdb']", json!(["/dev/sdb"])),
            ("{ 'root': 'x', 2: True }", json!({"root": "x", "2": true})),
            ("[1, 2]", json!([1, 2])),
            ("1.50", json!(1.5)),
            ("0x1F", json!(31)),
            ("0o17", json!(15)),
            ("0b11", json!(3)),
            ("1_000", json!(1000)),
            ("1e3", json!(1000.0)),
            (".5", json!(0.5)),
            ("-3", json!(-3)),
            ("- 5", json!(-5)),
            ("+5", json!(5)),
            ("00", json!(0)),
            (" 5", json!(5)),
            ("None", json!(null)),
            ("True", json!(true)),
            ("(1, 2)", json!([1, 2])),
            ("(1)", json!(1)),
            ("()", json!([])),
            ("1, 2", json!([1, 2])),
            ("{1}", json!([1])),
            ("{}", json!({})),
            ("'it' \"s\"", json!("its")),
            ("'a\\tb'", json!("a\tb")),
            ("r'\\d'", json!("\\d")),
            ("u'x'", json!("x")),
            ("'x' # note", json!("x")),
            ("...", json!("...")),
            ("[{'a': [1, {'b': None}]}, ]", json!([{"a": [1, {"b": null}]}])),
        ];
        for (text, want) in cases {
            assert_eq!(literal(text), Some(want), "{text}");
        }
    }

    #[test]
    fn what_is_not_a_literal_stays_text() {
        for text in [
            "true",
            "yes",
            "007",
            "1.2.3",
            "/dev/sdb",
            "a b",
            "",
            "'open",
            "[1, 2",
            "f'x'",
            "v # c",
            "1__0",
            "--1",
            "'\\N{DASH}'",
        ] {
            assert_eq!(literal(text), None, "{text}");
        }
    }
}
