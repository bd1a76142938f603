//! A cheap look at how deep a YAML text nests its flow collections (`[`,
//! `{`) before the parser sees it. libyaml does work in proportion to the
//! flow depth at every token, so 100,000 `[` in a 200 KB file took it 25 s
//! to refuse, while serde_yaml refuses anything nested deeper than 128
//! anyway. This scan refuses such a file in one pass, at the bracket that
//! went too deep. (Nesting by indentation costs libyaml nothing extra, and
//! serde_yaml's own limit refuses it fast.)
//!
//! The scan must never count deeper than the parser would, or it would
//! refuse a good file: brackets inside quoted strings, comments, block
//! scalars (`|`, `>`) and plain scalars in block context (`cmd: echo [`) are
//! not counted. Counting less than the parser only costs time.

/// Deeper than serde_yaml goes (its recursion limit): nothing valid is lost.
pub const MAX_DEPTH: usize = 128;

/// Where the first flow collection deeper than `MAX_DEPTH` opens, as
/// (line, column), 1-based, the column in characters.
pub fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut scan = Scan::default();
    text.lines().enumerate().find_map(|(i, line)| scan.line(line).map(|col| (i + 1, col)))
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Quote {
    #[default]
    No,
    Single,
    Double,
}

#[derive(Debug, Default)]
struct Scan {
    /// Flow collections open here: 0 is block context.
    depth: usize,
    quote: Quote,
    /// Whether the next character starts a node, where `[ { ' " | >` are
    /// indicators rather than part of a plain scalar.
    node_start: bool,
    /// Column (0-based) where the current node began: a key's, for a block scalar after it.
    node_col: usize,
    /// Column of the key or `-` that owns a block scalar met on this line.
    owner: usize,
    /// Inside a block scalar: the lines indented past this column are its text.
    block_scalar: Option<usize>,
}

impl Scan {
    /// Scans one line; the column (1-based) of a bracket that opens too deep.
    fn line(&mut self, line: &str) -> Option<usize> {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(owner) = self.block_scalar {
            if line.trim().is_empty() || indent > owner {
                return None;
            }
            self.block_scalar = None;
        }
        let mut chars = line.chars().enumerate().peekable();
        if self.depth == 0 && self.quote == Quote::No {
            // In block context a line starts a node, also after `---` or `...`.
            self.node_start = true;
            (self.node_col, self.owner) = (indent, indent);
            let marker = line.starts_with("---") || line.starts_with("...");
            if marker && line[3..].chars().next().is_none_or(|c| c == ' ' || c == '\t') {
                chars.nth(2);
            }
        }
        let mut prev = ' ';
        while let Some((i, c)) = chars.next() {
            let next = chars.peek().map(|&(_, n)| n);
            if self.quoted(c, next) {
                if matches!(c, '\'' if next == Some('\'')) || (c == '\\' && self.quote == Quote::Double) {
                    chars.next();
                }
                prev = c;
                continue;
            }
            match self.plain(c, i, prev, next) {
                Step::On => {}
                Step::SkipWord => while chars.next_if(|&(_, n)| n != ' ' && n != '\t').is_some() {},
                Step::EndLine => return None,
                Step::TooDeep => return Some(i + 1),
            }
            prev = c;
        }
        None
    }

    /// Inside a quoted string: whether `c` belongs to it (true for the
    /// closing quote too, false once it has closed or when not quoted).
    fn quoted(&mut self, c: char, next: Option<char>) -> bool {
        match (self.quote, c) {
            (Quote::No, _) => return false,
            (Quote::Single, '\'') if next != Some('\'') => self.quote = Quote::No,
            (Quote::Double, '"') => self.quote = Quote::No,
            _ => {}
        }
        true
    }

    /// One character outside quotes.
    fn plain(&mut self, c: char, i: usize, prev: char, next: Option<char>) -> Step {
        let flow = self.depth > 0;
        let blank_after = next.is_none_or(|n| n == ' ' || n == '\t');
        match c {
            ' ' | '\t' => {}
            '#' if prev == ' ' || prev == '\t' => return Step::EndLine,
            '[' | '{' if self.node_start || flow => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Step::TooDeep;
                }
                self.node_start = true;
            }
            ']' | '}' if flow => {
                self.depth -= 1;
                self.node_start = false;
            }
            ',' if flow => self.node_start = true,
            '\'' | '"' if self.node_start => {
                self.quote = if c == '"' { Quote::Double } else { Quote::Single };
                (self.node_col, self.node_start) = (i, false);
            }
            '-' | '?' | ':' if blank_after => {
                self.owner = if c == ':' { self.node_col } else { i };
                self.node_start = true;
            }
            '|' | '>' if self.node_start && !flow => {
                self.block_scalar = Some(self.owner);
                return Step::EndLine;
            }
            // A tag or an anchor comes before the node it names.
            '!' | '&' if self.node_start => return Step::SkipWord,
            _ => {
                if self.node_start {
                    self.node_col = i;
                }
                self.node_start = false;
            }
        }
        Step::On
    }
}

/// What the line scan does after a character.
enum Step {
    On,
    /// Skip the rest of a tag or anchor.
    SkipWord,
    /// A comment or a block scalar's header: the rest of the line says nothing.
    EndLine,
    TooDeep,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(open: &str, n: usize) -> String {
        open.repeat(n)
    }

    #[test]
    fn deep_flow_nesting_is_found_at_the_bracket() {
        assert_eq!(too_deep(&format!("a:\n  b: {}", deep("[", 200))), Some((2, 6 + MAX_DEPTH)));
        assert_eq!(too_deep(&format!("x: {}", deep("{a: ", 200))), Some((1, 4 + 4 * MAX_DEPTH)));
        assert_eq!(too_deep(&format!("--- {}", deep("[", 200))), Some((1, 5 + MAX_DEPTH)));
        assert_eq!(too_deep(&format!("x: &a !!seq {}", deep("[", 200))), Some((1, 13 + MAX_DEPTH)));
        assert_eq!(too_deep(&format!("- - {}", deep("[\n", 200))), Some((MAX_DEPTH + 1, 1)));
        let ok = format!("x: {}{}", deep("[", MAX_DEPTH), deep("]", MAX_DEPTH));
        assert_eq!(too_deep(&format!("{ok}\n{ok}\n")), None);
    }

    #[test]
    fn brackets_in_scalars_and_comments_are_not_nesting() {
        let many = deep("[", 200);
        for text in [
            format!("cmd: echo {many}"),
            format!("x: '{many}'\ny: \"{many}\\\" {many}\""),
            format!("x: 'it''s {many}\n  still quoted {many}'"),
            format!("x: 1 # {many}"),
            format!("content: |\n  {many}\n\n  {many}\ny: 1"),
            format!("- a: >-\n    {many}\n  b: |\n   {many}\n"),
            format!("x: [a, 'b{many}', \"{many}\"]  # {many}"),
            format!("regexp: ^\\[{many}"),
        ] {
            assert_eq!(too_deep(&text), None, "{text}");
        }
    }

    #[test]
    fn a_block_scalar_ends_where_its_owner_does() {
        let text = format!("- a: |\n    text\n  b: {}", deep("[", 200));
        assert_eq!(too_deep(&text), Some((3, 6 + MAX_DEPTH)));
    }
}
