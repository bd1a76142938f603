//! PyYAML's `yaml.dump` byte for byte, as Ansible's `to_yaml` and
//! `to_nice_yaml` call it: its quoting (plain unless YAML 1.1 would read the
//! text as something else), indentation, flow style for leaf collections,
//! complex keys and line folding at 80 columns.

use super::pydump::{entries, number};
use serde_json::{Map, Value};

/// How `yaml.dump` is asked to write.
#[derive(Debug, Clone, Copy)]
pub struct YamlStyle {
    pub indent: usize,
    pub sort_keys: bool,
    /// `default_flow_style=None` (`to_yaml`): collections of scalars in flow style.
    pub flow_leaves: bool,
    pub width: usize,
}

/// `yaml.dump(v, …)` as PyYAML writes it (`allow_unicode=True`).
pub fn yaml(v: &Value, style: YamlStyle) -> String {
    let mut e = Emitter { out: String::new(), column: 0, whitespace: true, indention: true, style };
    e.node(v, None, false, false);
    e.out.push('\n');
    if matches!(v, Value::String(s) if scalar_style(s, false, false) == Style::Plain) || !v.is_string() && is_scalar(v)
    {
        e.out.push_str("...\n");
    }
    e.out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// PyYAML's emitter state: where the line is, and whether the last thing
/// written was whitespace or an indentation (`-` counts as one).
struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    style: YamlStyle,
}

impl Emitter {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.chars().count();
    }

    fn line_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.line_break();
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.write(&pad);
        }
    }

    fn indicator(&mut self, s: &str, need_whitespace: bool, whitespace: bool, indention: bool) {
        if !self.whitespace && need_whitespace {
            self.write(" ");
        }
        self.write(s);
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
    }

    /// Whether `v` is written in flow style (`[a, b]`, `{a: 1}`).
    fn flow(&self, v: &Value) -> bool {
        match v {
            Value::Array(a) => a.is_empty() || (self.style.flow_leaves && a.iter().all(is_scalar)),
            Value::Object(m) => m.is_empty() || (self.style.flow_leaves && m.values().all(is_scalar)),
            _ => true,
        }
    }

    /// Any node; `parent` is the indent of the collection holding it (none at the top).
    fn node(&mut self, v: &Value, parent: Option<usize>, in_mapping: bool, in_flow: bool) {
        let best = self.style.indent;
        match v {
            Value::Array(a) if !in_flow && !self.flow(v) => {
                let indentless = in_mapping && !self.indention;
                let indent = match parent {
                    None => 0,
                    Some(p) if indentless => p,
                    Some(p) => p + best,
                };
                for x in a {
                    self.write_indent(indent);
                    self.indicator("-", true, false, true);
                    self.node(x, Some(indent), false, false);
                }
            }
            Value::Object(m) if !in_flow && !self.flow(v) => {
                let indent = parent.map_or(0, |p| p + best);
                for (k, x) in entries(m, self.style.sort_keys) {
                    self.write_indent(indent);
                    if simple_key(k) {
                        self.scalar(k, indent, true, false);
                        self.indicator(":", false, false, false);
                    } else {
                        // `? key` then `: value` on a line of its own.
                        self.indicator("?", true, false, true);
                        self.scalar(k, indent + best, false, false);
                        self.write_indent(indent);
                        self.indicator(":", true, false, true);
                    }
                    self.node(x, Some(indent), true, false);
                }
            }
            Value::Array(a) => self.flow_seq(a, parent.map_or(best, |p| p + best)),
            Value::Object(m) => self.flow_map(m, parent.map_or(best, |p| p + best)),
            Value::String(s) => self.scalar(s, parent.map_or(best, |p| p + best), false, in_flow),
            other => {
                let text = match other {
                    Value::Null => "null".to_string(),
                    Value::Bool(b) => b.to_string(),
                    // PyYAML's `represent_float`: `1e+20` reads back as a string in YAML 1.1.
                    Value::Number(n) => {
                        let s = number(n, ".inf", ".nan");
                        if s.contains('e') && !s.contains('.') {
                            s.replacen('e', ".0e", 1)
                        } else {
                            s
                        }
                    }
                    _ => String::new(),
                };
                self.plain(&text, 0, false);
            }
        }
    }

    /// `[a, b]`, items past the width on a new line at `indent`.
    fn flow_seq(&mut self, a: &[Value], indent: usize) {
        self.indicator("[", true, true, false);
        for (i, x) in a.iter().enumerate() {
            if i > 0 {
                self.indicator(",", false, false, false);
            }
            if self.column > self.style.width {
                self.write_indent(indent);
            }
            self.node(x, Some(indent), false, true);
        }
        self.indicator("]", false, false, false);
    }

    /// `{k: v}`, items past the width on a new line at `indent`.
    fn flow_map(&mut self, m: &Map<String, Value>, indent: usize) {
        self.indicator("{", true, true, false);
        for (i, (k, x)) in entries(m, self.style.sort_keys).into_iter().enumerate() {
            if i > 0 {
                self.indicator(",", false, false, false);
            }
            if self.column > self.style.width {
                self.write_indent(indent);
            }
            if simple_key(k) {
                self.scalar(k, indent, true, true);
                self.indicator(":", false, false, false);
            } else {
                self.indicator("?", true, false, false);
                self.scalar(k, indent, false, true);
                self.indicator(":", true, false, false);
            }
            self.node(x, Some(indent), false, true);
        }
        self.indicator("}", false, false, false);
    }

    fn scalar(&mut self, s: &str, indent: usize, key: bool, flow: bool) {
        match scalar_style(s, flow, key) {
            Style::Plain => self.plain(s, indent, !key),
            Style::Single => self.single_quoted(s, indent, !key),
            Style::Double => {
                let text = double_quoted(s);
                self.indicator(&text, true, false, false);
            }
        }
    }

    /// PyYAML's `write_plain`: a single space past the width becomes a line break.
    fn plain(&mut self, s: &str, indent: usize, split: bool) {
        if s.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let text: Vec<char> = s.chars().collect();
        let (mut spaces, mut start) = (false, 0);
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > self.style.width && split {
                        self.write_indent(indent);
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        self.write(&text[start..end].iter().collect::<String>());
                    }
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ') {
                self.write(&text[start..end].iter().collect::<String>());
                start = end;
            }
            spaces = ch == Some(' ');
        }
    }

    /// PyYAML's `write_single_quoted`: `''` for a quote, one line break more
    /// than a run of them, and a single inner space past the width as a line break.
    fn single_quoted(&mut self, s: &str, indent: usize, split: bool) {
        self.indicator("'", true, false, false);
        let text: Vec<char> = s.chars().collect();
        let (mut spaces, mut breaks, mut start) = (false, false, 0);
        let chunk = |a: usize, b: usize| text[a..b].iter().collect::<String>();
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    let inner = start != 0 && end != text.len();
                    if start + 1 == end && self.column > self.style.width && split && inner {
                        self.write_indent(indent);
                    } else {
                        self.write(&chunk(start, end));
                    }
                    start = end;
                }
            } else if breaks {
                if ch != Some('\n') {
                    self.line_break();
                    for _ in start..end {
                        self.line_break();
                    }
                    self.write_indent(indent);
                    start = end;
                }
            } else if matches!(ch, None | Some(' ' | '\n' | '\'')) && start < end {
                self.write(&chunk(start, end));
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            spaces = ch == Some(' ');
            breaks = ch == Some('\n');
        }
        self.indicator("'", false, false, false);
    }
}

/// Whether PyYAML writes `key` as a simple key (`key: v`) rather than `? key`.
fn simple_key(key: &str) -> bool {
    !key.is_empty() && !key.contains('\n') && key.chars().count() < 128
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// PyYAML's choice: plain when the text reads back as the same string,
/// else single quotes, else (control characters, line breaks) double.
fn scalar_style(s: &str, flow: bool, key: bool) -> Style {
    let printable = |c: char| {
        matches!(c as u32, 0x0A | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..) && c != '\u{feff}'
    };
    let special = !s.chars().all(printable);
    if special || key && s.contains('\n') || s.contains(" \n") || s.contains("\n ") {
        return Style::Double;
    }
    if s.contains('\n') {
        return Style::Single;
    }
    if s.is_empty() || resolves_to_other_type(s) || !plain_allowed(s, flow) {
        return Style::Single;
    }
    Style::Plain
}

fn plain_allowed(s: &str, flow: bool) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    let last = s.chars().last().unwrap_or(' ');
    if first == ' ' || last == ' ' || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    let next = s.chars().nth(1);
    let followed_by_space = next.is_none_or(|c| c == ' ');
    if "#,[]{}&*!|>'\"%@`".contains(first) || ("?:-".contains(first) && followed_by_space) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    !(flow && s.contains(['?', ',', '[', ']', '{', '}', ':']))
}

/// Whether YAML 1.1 reads `s` as something other than a string (PyYAML's resolver).
fn resolves_to_other_type(s: &str) -> bool {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(concat!(
            r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
            r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
            r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            r"|~|null|Null|NULL|<<|=",
            r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)?",
            r")$"
        ))
        .expect("a valid pattern")
    });
    re.is_match(s)
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() || c == '\u{feff}' => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nice(indent: usize) -> YamlStyle {
        YamlStyle { indent, sort_keys: true, flow_leaves: false, width: 80 }
    }

    #[test]
    fn yaml_matches_pyyaml() {
        let v = json!({"z": 1, "a": [1, 2], "s": "long string with: colon", "n": null, "b": true, "f": 1.5, "u": "é"});
        assert_eq!(
            yaml(&v, nice(4)),
            "a:\n- 1\n- 2\nb: true\nf: 1.5\nn: null\ns: 'long string with: colon'\nu: é\nz: 1\n"
        );
        let flow = YamlStyle { flow_leaves: true, ..nice(2) };
        assert_eq!(yaml(&v, flow), "a: [1, 2]\nb: true\nf: 1.5\nn: null\ns: 'long string with: colon'\nu: é\nz: 1\n");
        let v = json!([{"a": 1, "b": [1, {"c": "yes"}]}, [1, 2], "x"]);
        assert_eq!(yaml(&v, nice(4)), "-   a: 1\n    b:\n    - 1\n    -   c: 'yes'\n-   - 1\n    - 2\n- x\n");
        assert_eq!(yaml(&v, nice(2)), "- a: 1\n  b:\n  - 1\n  - c: 'yes'\n- - 1\n  - 2\n- x\n");
        assert_eq!(yaml(&json!({"m": {"k": "", "e": {}}}), nice(2)), "m:\n  e: {}\n  k: ''\n");
        assert_eq!(yaml(&json!("x"), nice(2)), "x\n...\n");
    }

    /// Random values and what Python's `json.dumps` and PyYAML's `yaml.dump`
    /// made of them (tests/fixtures/ansible_roles/pydump_cases.py).
    #[test]
    fn random_values_are_written_as_python_writes_them() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ansible_roles/pydump_cases.json");
        let cases: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut wrong = Vec::new();
        for c in cases["yaml"].as_array().unwrap() {
            let style = YamlStyle {
                indent: c["indent"].as_u64().unwrap() as usize,
                sort_keys: c["sort"].as_bool().unwrap(),
                flow_leaves: c["flow"].as_bool().unwrap(),
                width: 80,
            };
            let got = yaml(&c["v"], style);
            if got != c["out"].as_str().unwrap() {
                wrong.push(format!("yaml {style:?} of {}:\n{}---\n{got}", c["v"], c["out"].as_str().unwrap()));
            }
        }
        for c in cases["json"].as_array().unwrap() {
            let got = super::super::pydump::json(
                &c["v"],
                c["indent"].as_u64().map(|n| n as usize),
                c["sort"].as_bool().unwrap(),
            );
            if got != c["out"].as_str().unwrap() {
                wrong.push(format!("json of {}:\n{}\n---\n{got}", c["v"], c["out"].as_str().unwrap()));
            }
        }
        assert_eq!(cases["yaml"].as_array().unwrap().len() + cases["json"].as_array().unwrap().len(), 420);
        assert!(wrong.is_empty(), "{} differ:\n{}", wrong.len(), wrong.join("\n"));
    }
}
