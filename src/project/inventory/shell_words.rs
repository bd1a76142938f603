//! A host line of an INI inventory split into words as Ansible splits it:
//! Python's `shlex.split(line, comments=True)` (POSIX mode). Quotes group
//! and are removed, a backslash escapes, and `#` outside quotes ends the
//! line even in the middle of a word (`pass=ab#c` is `pass=ab`).

/// The words of `line`; an error carries the message and the 0-based column (in chars) at fault.
pub fn split(line: &str) -> Result<Vec<String>, (String, usize)> {
    let mut words = Vec::new();
    let mut cur = String::new();
    // A quoted empty string (`x=""` or `''`) is still a word.
    let mut in_word = false;
    let mut chars = line.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '#' => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                let Some((_, next)) = chars.next() else {
                    return Err(("a `\\` at the end of the line escapes nothing".into(), i));
                };
                cur.push(next);
                in_word = true;
            }
            '\'' | '"' => {
                in_word = true;
                let closed = loop {
                    let Some((_, q)) = chars.next() else { break false };
                    match q {
                        q if q == c => break true,
                        // In double quotes a backslash escapes only `"` and `\`, as in a POSIX shell.
                        '\\' if c == '"' && chars.peek().is_some_and(|(_, n)| matches!(n, '"' | '\\')) => {
                            cur.push(chars.next().expect("peeked").1);
                        }
                        q => cur.push(q),
                    }
                };
                if !closed {
                    return Err((format!("unterminated quote: the `{c}` here is never closed"), i));
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn words_as_shlex_splits_them() {
        let cases: [(&str, &[&str]); 7] = [
            ("h1 a=1 b=\"two words\"", &["h1", "a=1", "b=two words"]),
            ("h1 l=\"['/dev/sdb']\" e=''", &["h1", "l=['/dev/sdb']", "e="]),
            ("h1 pass=ab#c d=1", &["h1", "pass=ab"]),
            ("h1 # note", &["h1"]),
            ("h1 q='\"x\"' esc=\"a\\\\nb\" s='a\\b'", &["h1", "q=\"x\"", "esc=a\\nb", "s=a\\b"]),
            ("h1 a\\ b=1 ''", &["h1", "a b=1", ""]),
            ("h1 x=\"a\\\"b\"", &["h1", "x=a\"b"]),
        ];
        for (line, want) in cases {
            assert_eq!(split(line).unwrap(), want, "{line}");
        }
        assert_eq!(split("h1 a='open").unwrap_err().1, 5);
    }
}
