//! Quoting for generated POSIX sh. Every value that reaches a remote shell
//! goes through `quote`, so it arrives verbatim and is never interpreted.

/// Single-quotes `s` for POSIX sh: `it's` → `'it'\''s'`.
pub fn quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+%".contains(&b)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A value a shell argument cannot carry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("{what} contains a NUL byte")]
    Nul { what: &'static str },
    #[error("{what} must be a single line, got {value:?}")]
    MultiLine { what: &'static str, value: String },
}

/// Refuses values a shell argument cannot carry (NUL) or that must be one line.
pub fn check_value(what: &'static str, s: &str, single_line: bool) -> Result<(), ValueError> {
    if s.contains('\0') {
        return Err(ValueError::Nul { what });
    }
    if single_line && (s.contains('\n') || s.contains('\r')) {
        return Err(ValueError::MultiLine { what, value: s.to_string() });
    }
    Ok(())
}

/// `check_value` for an optional field: nothing to check when it is unset.
pub fn check_optional(what: &'static str, s: &Option<String>, single_line: bool) -> Result<(), ValueError> {
    s.as_deref().map_or(Ok(()), |s| check_value(what, s, single_line))
}

/// A heredoc delimiter that cannot occur in base64 text.
pub const HEREDOC_END: &str = "RIGGER_EOF_7f3a";

/// Shell that writes `bytes` to the file named by the shell variable `$var`.
pub fn write_bytes(var: &str, bytes: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut wrapped = String::with_capacity(b64.len() + b64.len() / 76 + 1);
    for chunk in b64.as_bytes().chunks(76) {
        wrapped.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        wrapped.push('\n');
    }
    format!("base64 -d > \"${var}\" <<'{HEREDOC_END}'\n{wrapped}{HEREDOC_END}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// What sh makes of a quoted value: it must come back byte for byte.
    fn roundtrip(s: &str) -> String {
        let out = Command::new("sh").arg("-c").arg(format!("printf '%s' {}", quote(s))).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn hostile_values_arrive_verbatim() {
        for s in [
            "plain",
            "two words",
            "it's",
            "$(touch /tmp/pwned)",
            "`id`",
            "a\\b",
            "line1\nline2",
            "\"q\"",
            "*",
            "-rf",
            "",
            "é ü ☃",
            "'",
            "''\\''",
        ] {
            assert_eq!(roundtrip(s), s, "value {s:?}");
        }
    }

    #[test]
    fn bytes_survive_the_heredoc() {
        let data: Vec<u8> = (0u8..=255).chain(b"RIGGER_EOF_7f3a\n$(x)`y`".iter().copied()).collect();
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let script = format!("f={}\n{}", quote(target.to_str().unwrap()), write_bytes("f", &data));
        let st = Command::new("sh").arg("-c").arg(script).status().unwrap();
        assert!(st.success());
        assert_eq!(std::fs::read(target).unwrap(), data);
    }

    #[test]
    fn nul_and_newlines_are_refused_where_they_cannot_go() {
        assert!(check_value("path", "/a\0b", false).is_err());
        assert!(check_value("package", "a\nb", true).is_err());
        assert!(check_value("path", "/a b", true).is_ok());
    }
}
