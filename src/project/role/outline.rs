//! Where a value stands in a role file, by its path (`resources[2].block.
//! resources[0].service.enabled`). serde_yaml keeps no positions once a
//! file is read, but errors found later (a loop that is not a list, a field
//! that renders to the wrong type) must still point at their line: this
//! reads the indentation of block-style YAML, and inside a flow mapping
//! (`{ a: 1, b: 2 }`) finds a key by its text. It never fails: a path it
//! cannot follow stops at the deepest part it found.

/// One step of a path: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Splits a field path as `typed` writes it (`user.groups[1]`) into steps.
pub fn field_path(field: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            out.push(Seg::Key(key.to_string()));
        }
        out.extend(pieces.filter_map(|i| i.trim_end_matches(']').parse().ok()).map(Seg::Index));
    }
    out
}

/// The lines the search is in: `[start, end)`, whose content stands at
/// column `indent` or deeper; `inline` when the value is on one line from
/// that (0-based) column on.
#[derive(Debug, Clone, Copy)]
struct Region {
    start: usize,
    end: usize,
    indent: usize,
    inline: Option<usize>,
}

/// Line and column (1-based) of the value at `path` in `text`.
pub fn locate(text: &str, path: &[Seg]) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let mut at = (1, 1);
    let mut region = Region { start: 0, end: lines.len(), indent: 0, inline: None };
    for seg in path {
        let found = match seg {
            Seg::Key(k) => key(&lines, region, k),
            Seg::Index(i) => item(&lines, region, *i),
        };
        match found {
            Some((pos, next)) => {
                at = pos;
                region = next;
            }
            None => break,
        }
    }
    at
}

/// Column of the first character and the line without `- ` marks, or None when blank or a comment.
fn content(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    Some((line.len() - t.len(), t))
}

/// `line` with its leading `- ` list marks removed, and the column where the rest starts.
fn unmarked(line: &str) -> Option<(usize, &str)> {
    let (mut col, mut t) = content(line)?;
    while let Some(rest) = t.strip_prefix("- ") {
        let rest_t = rest.trim_start();
        col += t.len() - rest_t.len();
        t = rest_t;
    }
    Some((col, t))
}

/// Whether `t` starts with the key `k` and its colon.
fn starts_with_key(t: &str, k: &str) -> bool {
    let quoted = [format!("{k}:"), format!("\"{k}\":"), format!("'{k}':")];
    quoted.iter().any(|q| t.starts_with(q.as_str()) && t[q.len()..].chars().next().is_none_or(char::is_whitespace))
}

fn key(lines: &[&str], r: Region, k: &str) -> Option<((usize, usize), Region)> {
    if let Some(from) = r.inline {
        let line = lines.get(r.start)?;
        let col = inline_key(line, from, k)?;
        return Some(((r.start + 1, col + 1), Region { inline: Some(col), ..r }));
    }
    let mut best: Option<(usize, usize)> = None;
    for (i, line) in lines.iter().enumerate().take(r.end).skip(r.start) {
        if let Some((col, t)) = unmarked(line).filter(|(c, t)| *c >= r.indent && starts_with_key(t, k)) {
            if best.is_none_or(|(_, c)| col < c) {
                best = Some((i, col));
            }
            let _ = t;
        }
    }
    let (i, col) = best?;
    let after = unmarked(lines[i]).map_or("", |(_, t)| t.split_once(':').map_or("", |(_, v)| v.trim()));
    if !after.is_empty() && !after.starts_with('#') && !after.starts_with('|') && !after.starts_with('>') {
        return Some(((i + 1, col + 1), Region { start: i, end: i + 1, indent: col, inline: Some(col) }));
    }
    let end = (i + 1..r.end)
        .find(|&j| content(lines[j]).is_some_and(|(c, t)| c < col || (c == col && !t.starts_with('-'))))
        .unwrap_or(r.end);
    Some(((i + 1, col + 1), Region { start: i + 1, end, indent: col, inline: None }))
}

/// The column of `k:` in a flow mapping on `line`, from column `from` on.
fn inline_key(line: &str, from: usize, k: &str) -> Option<usize> {
    let mut start = from;
    while let Some(pos) = line.get(start..)?.find(k) {
        let at = start + pos;
        let before = line[..at].chars().next_back();
        let rest = &line[at + k.len()..];
        if before.is_none_or(|c| matches!(c, '{' | ',' | ' ' | '"' | '\''))
            && rest.trim_start_matches(['"', '\'']).starts_with(':')
        {
            return Some(at);
        }
        start = at + k.len();
    }
    None
}

fn item(lines: &[&str], r: Region, index: usize) -> Option<((usize, usize), Region)> {
    if r.inline.is_some() {
        return None;
    }
    let mut dash: Option<usize> = None;
    let mut n = 0;
    for i in r.start..r.end {
        let Some((col, t)) = content(lines[i]) else { continue };
        if !(t.starts_with("- ") || t == "-") || col < r.indent || dash.is_some_and(|d| d != col) {
            continue;
        }
        dash = Some(col);
        if n == index {
            let end = (i + 1..r.end).find(|&j| content(lines[j]).is_some_and(|(c, _)| c <= col)).unwrap_or(r.end);
            return Some(((i + 1, col + 3), Region { start: i, end, indent: col + 2, inline: None }));
        }
        n += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "\
description: x
resources:
  - package: haproxy
  - block:
      when: a
      resources:
        - file: { path: /a, mode: \"{{ m }}\" }
        - service:
            name: x
            enabled: \"{{ e }}\"
  - include: tasks/x.yaml
    loop: [1, 2]
handlers:
  h: { service: { name: x } }
";

    fn at(path: &str) -> (usize, usize) {
        let mut segs = vec![];
        for p in field_path(path) {
            segs.push(p);
        }
        locate(ROLE, &segs)
    }

    #[test]
    fn finds_entries_and_fields_in_block_and_flow_style() {
        assert_eq!(at("resources[0]"), (3, 5));
        assert_eq!(at("resources[1].block.resources[0]"), (7, 11));
        assert_eq!(at("resources[1].block.resources[0].file.mode"), (7, 29));
        assert_eq!(at("resources[1].block.resources[1].service.enabled"), (10, 13));
        assert_eq!(at("resources[1].block.when"), (5, 7));
        assert_eq!(at("resources[2].loop"), (12, 5));
        assert_eq!(at("resources[2].include"), (11, 5));
        assert_eq!(at("handlers.h.service.name"), (14, 19));
        // What cannot be followed stops at the deepest part found.
        assert_eq!(at("resources[9]"), (2, 1));
        assert_eq!(field_path("user.groups[1]"), [Seg::Key("user".into()), Seg::Key("groups".into()), Seg::Index(1)]);
    }
}
