//! Values written as Python writes them, byte for byte, so `.j2` output
//! matches Ansible's: `str()` of a value (`True`, `None`, `1e+20`), `json.dumps`
//! (`to_json`, `to_nice_json`); PyYAML's `yaml.dump` is in `pyyaml`.

use serde_json::{Map, Value};

/// A value as plain data (maps keep their order).
pub fn to_json(v: &minijinja::Value) -> Result<Value, minijinja::Error> {
    serde_json::to_value(v).map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
}

/// Python's `str(v)`: strings as they are, `True`/`None`, floats as Python prints them.
pub fn py_str(v: &minijinja::Value) -> String {
    match v.kind() {
        minijinja::value::ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        minijinja::value::ValueKind::None => "None".into(),
        _ => py_repr(v),
    }
}

/// Python's `repr(v)`, as Ansible prints a list or dict: `['a', 1.5, None]`,
/// `{'k': True}`; a tuple prints as a list, as ansible-core 2.19 does.
pub fn py_repr(v: &minijinja::Value) -> String {
    use minijinja::value::ValueKind as K;
    match v.kind() {
        K::None => "None".into(),
        K::Bool => (if v.is_true() { "True" } else { "False" }).into(),
        K::Number if !v.is_integer() => f64::try_from(v.clone()).map(py_float).unwrap_or_default(),
        K::String => py_str_repr(v.as_str().unwrap_or_default()),
        K::Seq | K::Iterable => {
            let items: Vec<String> = v.try_iter().map(|it| it.map(|x| py_repr(&x)).collect()).unwrap_or_default();
            format!("[{}]", items.join(", "))
        }
        K::Map => {
            let item =
                |k: minijinja::Value| format!("{}: {}", py_repr(&k), py_repr(&v.get_item(&k).unwrap_or_default()));
            let items: Vec<String> = v.try_iter().map(|it| it.map(item).collect()).unwrap_or_default();
            format!("{{{}}}", items.join(", "))
        }
        _ => v.to_string(),
    }
}

/// Python's `repr(str)`: single quotes unless the text holds one and no double.
fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr(float)`: the shortest round-trip digits, exponent form
/// outside 1e-4..1e16, always a `.0` or an exponent.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = f.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
        return format!("{mant}e{sign}{digits:0>2}");
    }
    let s = format!("{f}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// `json.dumps(v, indent=…, sort_keys=…)` with Python's defaults: ASCII only,
/// `", "`/`": "` separators flat, `","` at line ends when indented.
pub fn json(v: &Value, indent: Option<usize>, sort_keys: bool) -> String {
    let mut out = String::new();
    write_json(&mut out, v, indent, sort_keys, 0);
    out
}

fn write_json(out: &mut String, v: &Value, indent: Option<usize>, sort: bool, depth: usize) {
    let open = |out: &mut String, depth: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * depth));
        }
    };
    let sep = if indent.is_some() { "," } else { ", " };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n, "Infinity", "NaN")),
        Value::String(s) => json_string(out, s),
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                out.push_str(if i > 0 { sep } else { "" });
                open(out, depth + 1);
                write_json(out, x, indent, sort, depth + 1);
            }
            open(out, depth);
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in entries(m, sort).into_iter().enumerate() {
                out.push_str(if i > 0 { sep } else { "" });
                open(out, depth + 1);
                json_string(out, k);
                out.push_str(": ");
                write_json(out, x, indent, sort, depth + 1);
            }
            open(out, depth);
            out.push('}');
        }
    }
}

pub(super) fn number(n: &serde_json::Number, inf: &str, nan: &str) -> String {
    match n.as_f64().filter(|_| n.is_f64()) {
        Some(f) if f.is_nan() => nan.into(),
        Some(f) if f.is_infinite() => format!("{}{inf}", if f < 0.0 { "-" } else { "" }),
        Some(f) => py_float(f),
        None => n.to_string(),
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(super) fn entries(m: &Map<String, Value>, sort: bool) -> Vec<(&String, &Value)> {
    let mut v: Vec<_> = m.iter().collect();
    if sort {
        v.sort_by(|a, b| a.0.cmp(b.0));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_as_python_does() {
        for (f, want) in
            [(1.0, "1.0"), (1.5, "1.5"), (1e20, "1e+20"), (1e-5, "1e-05"), (0.1 + 0.2, "0.30000000000000004")]
        {
            assert_eq!(py_float(f), want);
        }
    }

    #[test]
    fn json_matches_python() {
        let v = json!({"z": 1, "a": [1, 2], "u": "é", "f": 1.5, "n": null, "b": true});
        assert_eq!(json(&v, None, false), r#"{"z": 1, "a": [1, 2], "u": "\u00e9", "f": 1.5, "n": null, "b": true}"#);
        assert_eq!(
            json(&v, Some(4), true),
            "{\n    \"a\": [\n        1,\n        2\n    ],\n    \"b\": true,\n    \"f\": 1.5,\n    \"n\": null,\n    \"u\": \"\\u00e9\",\n    \"z\": 1\n}"
        );
        assert_eq!(json(&json!({"e": {}, "l": []}), Some(2), false), "{\n  \"e\": {},\n  \"l\": []\n}");
    }
}
