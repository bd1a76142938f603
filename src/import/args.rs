//! A module's arguments as a task writes them: a mapping, a free-form
//! `key=value` line (`service: name=haproxy state=started`), a command's
//! free-form text, and `args:` beside them. Each module's mapping takes
//! the keys it knows; what is left is named in the refusal.

use serde_yaml::{Mapping, Value};

/// Arguments not yet taken by the module's mapping.
#[derive(Debug, Default)]
pub struct Args {
    map: Mapping,
    /// What was dropped or changed on the way, for the report.
    pub notes: Vec<String>,
}

/// Keys a command takes inside its free-form text (`command: foo creates=/x`).
const COMMAND_WORDS: &[&str] = &["creates", "removes", "chdir", "executable", "warn", "stdin"];

impl Args {
    /// Reads the module's value and `args:`. `free_form` modules (command,
    /// shell) keep their text as `cmd`; others read `key=value` words.
    pub fn read(value: &Value, extra: Option<&Value>, free_form: bool) -> Result<Args, String> {
        let mut map = Mapping::new();
        match value {
            Value::Mapping(m) => map = m.clone(),
            Value::Null => {}
            Value::String(s) if free_form => command_words(s, &mut map),
            Value::String(s) => {
                for word in split_words(s) {
                    let Some((k, v)) = word.split_once('=') else {
                        return Err(format!("`{word}` in the module's line is not `key=value`"));
                    };
                    map.insert(k.into(), Value::String(v.to_string()));
                }
            }
            other => return Err(format!("the module's arguments are {}, not a mapping", kind(other))),
        }
        if let Some(Value::Mapping(m)) = extra {
            for (k, v) in m {
                map.insert(k.clone(), v.clone());
            }
        }
        Ok(Args { map, notes: Vec::new() })
    }

    /// Removes and returns `key`, or the first of its aliases present.
    pub fn take(&mut self, keys: &[&str]) -> Option<Value> {
        keys.iter().find_map(|k| self.map.remove(*k))
    }

    /// `take`, as text (a number or bool written as such too).
    pub fn take_str(&mut self, keys: &[&str]) -> Option<String> {
        self.take(keys).map(|v| text(&v))
    }

    /// Drops `key` when present, saying so (`why` completes "KEY dropped: …").
    pub fn drop_noted(&mut self, key: &str, why: &str) {
        if self.map.remove(key).is_some() {
            self.notes.push(format!("`{key}` dropped: {why}"));
        }
    }

    /// Drops `key` silently: it changes nothing rigger does.
    pub fn drop_silent(&mut self, key: &str) {
        self.map.remove(key);
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The notes, or why not: the keys no mapping took.
    pub fn finish(self, module: &str) -> Result<Vec<String>, String> {
        if self.map.is_empty() {
            return Ok(self.notes);
        }
        let keys: Vec<String> = self.map.keys().map(text).collect();
        Err(format!("`{module}` option{} `{}` ha{} no rigger equivalent", plural(keys.len()), keys.join("`, `"), {
            if keys.len() == 1 {
                "s"
            } else {
                "ve"
            }
        }))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A command's free-form text: its `creates=`-style words taken out, the rest its `cmd`.
fn command_words(s: &str, map: &mut Mapping) {
    let mut rest = Vec::new();
    for word in s.split(' ') {
        match word.split_once('=') {
            Some((k, v)) if COMMAND_WORDS.contains(&k) => {
                map.insert(k.into(), Value::String(v.to_string()));
            }
            _ => rest.push(word),
        }
    }
    map.insert("cmd".into(), Value::String(rest.join(" ").trim().to_string()));
}

/// Splits `a=1 b="x y"` at spaces outside quotes, dropping the quotes.
fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let (mut cur, mut quote, mut braces) = (String::new(), None, 0usize);
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q && braces == 0 => quote = None,
            (None, '"' | '\'') if braces == 0 => quote = Some(c),
            (_, '{') => {
                braces += 1;
                cur.push(c);
            }
            (_, '}') => {
                braces = braces.saturating_sub(1);
                cur.push(c);
            }
            (None, ' ') if braces == 0 => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// A scalar as text; anything else as its YAML.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim_end().to_string(),
    }
}

/// What kind of YAML value `v` is, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Ansible's truthy words (`yes`, `on`, `1`, `true`, any case) as a YAML bool; a template stays text.
pub fn boolean(v: Value) -> Value {
    match &v {
        Value::String(s) if !s.contains("{{") => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" | "y" => Value::Bool(true),
            "no" | "false" | "off" | "0" | "n" => Value::Bool(false),
            _ => v,
        },
        Value::Number(n) => Value::Bool(n.as_u64() != Some(0)),
        _ => v,
    }
}

/// Whether `v` is Ansible's false (`false`, `no`, …).
pub fn is_false(v: &Value) -> bool {
    matches!(boolean(v.clone()), Value::Bool(false))
}

/// A mode as rigger wants it, a quoted octal string: YAML reads `0644` as the number 644.
pub fn mode(v: Value) -> Value {
    match &v {
        Value::Number(n) => Value::String(format!("{:04}", n.as_u64().unwrap_or(0))),
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_form_lines_become_mappings() {
        let v: Value = "name=haproxy state=started enabled=yes".into();
        let mut a = Args::read(&v, None, false).unwrap();
        assert_eq!(a.take_str(&["name"]).as_deref(), Some("haproxy"));
        assert_eq!(boolean(a.take(&["enabled"]).unwrap()), Value::Bool(true));
        assert_eq!(a.finish("service").unwrap_err(), "`service` option `state` has no rigger equivalent");
        let quoted: Value = r#"name={{ redis_daemon }} msg="a b""#.into();
        let mut a = Args::read(&quoted, None, false).unwrap();
        assert_eq!(a.take_str(&["name"]).as_deref(), Some("{{ redis_daemon }}"));
        assert_eq!(a.take_str(&["msg"]).as_deref(), Some("a b"));
        assert!(Args::read(&"haproxy".into(), None, false).is_err());
    }

    #[test]
    fn a_commands_text_keeps_its_words_and_gives_up_creates() {
        let v: Value = "tar xf a.tgz creates=/opt/a chdir=/opt".into();
        let extra: Value = serde_yaml::from_str("{removes: /tmp/x}").unwrap();
        let mut a = Args::read(&v, Some(&extra), true).unwrap();
        assert_eq!(a.take_str(&["cmd"]).as_deref(), Some("tar xf a.tgz"));
        assert_eq!(a.take_str(&["creates"]).as_deref(), Some("/opt/a"));
        assert_eq!(a.take_str(&["chdir"]).as_deref(), Some("/opt"));
        assert_eq!(a.take_str(&["removes"]).as_deref(), Some("/tmp/x"));
        assert!(a.finish("command").unwrap().is_empty());
    }

    #[test]
    fn modes_written_as_numbers_stay_octal_text() {
        let v: Value = serde_yaml::from_str("0644").unwrap();
        assert_eq!(mode(v), Value::String("0644".into()));
        let v: Value = serde_yaml::from_str("02770").unwrap();
        assert_eq!(mode(v), Value::String("02770".into()), "YAML 1.2 reads a leading-zero 02770 as text");
        assert_eq!(mode("u=rw".into()), Value::String("u=rw".into()));
    }
}
