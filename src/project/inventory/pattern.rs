//! Host patterns (`web`, `h1,h2`, `web:!h3`, `lb:&prod`, globs), as
//! `--limit` and a site binding's `hosts:` take them, and host ranges
//! (`web[01:03]`, `db-[a:c]`) as inventories write them.

use super::model::Inventory;
use indexmap::IndexSet;

/// Why a host pattern or a host range is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatternError {
    #[error("empty host pattern `{0}`")]
    Empty(String),
    #[error("bad glob `{term}`: {why}")]
    BadGlob { term: String, why: String },
    #[error("pattern `{0}` matches no host or group")]
    NoMatch(String),
    #[error("`{term}` is neither a host nor a group in the inventory ({}groups: {known})", .near.as_ref().map(|n| format!("did you mean `{n}`? ")).unwrap_or_default())]
    Unknown { term: String, known: String, near: Option<String> },
    #[error("malformed host range in `{0}`")]
    MalformedRange(String),
    #[error("host range `[{0}]` needs `start:end` or `start:end:step` (a step of 1 or more)")]
    RangeNeedsEnds(String),
    #[error("host range `[{0}]` runs backwards")]
    RangeBackwards(String),
    #[error("host range `[{0}]` makes more than {MAX_RANGE} hosts")]
    RangeTooLarge(String),
    #[error("host range `[{0}]` must be numbers or single letters")]
    RangeKind(String),
}

impl Inventory {
    /// Resolves a pattern (`web`, `h1,h2`, `web:!h3`, `lb:&prod`, globs) to
    /// hosts in inventory order, as Ansible does: the terms are split on `,`
    /// when there is one, else on `:` outside brackets (`web[1:3]` is one
    /// term); the plain terms are added first, then each `&` intersects and
    /// each `!` excludes, wherever they are written.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, PatternError> {
        let terms = split_pattern(pattern);
        if terms.is_empty() {
            return Err(PatternError::Empty(pattern.into()));
        }
        let mut chosen: IndexSet<String> = IndexSet::new();
        for op in ['+', '&', '!'] {
            for term in &terms {
                let (this, name) = match term.chars().next() {
                    Some(c @ ('!' | '&')) => (c, &term[1..]),
                    _ => ('+', term.as_str()),
                };
                if this != op {
                    continue;
                }
                let hosts = self.match_term(name)?;
                match op {
                    '!' => chosen.retain(|h| !hosts.contains(h)),
                    '&' => chosen.retain(|h| hosts.contains(h)),
                    _ => chosen.extend(hosts),
                }
            }
        }
        Ok(self.hosts.keys().filter(|h| chosen.contains(*h)).cloned().collect())
    }

    fn match_term(&self, term: &str) -> Result<Vec<String>, PatternError> {
        if term == "all" || term == "*" {
            return Ok(self.hosts.keys().cloned().collect());
        }
        if self.groups.contains_key(term) {
            return Ok(self.group_hosts(term));
        }
        if self.hosts.contains_key(term) {
            return Ok(vec![term.to_string()]);
        }
        if term.contains(['*', '?', '[']) {
            let pat = glob::Pattern::new(term)
                .map_err(|e| PatternError::BadGlob { term: term.into(), why: e.to_string() })?;
            let mut out: IndexSet<String> = IndexSet::new();
            for g in self.groups.keys().filter(|g| pat.matches(g)) {
                out.extend(self.group_hosts(g));
            }
            out.extend(self.hosts.keys().filter(|h| pat.matches(h)).cloned());
            if out.is_empty() {
                return Err(PatternError::NoMatch(term.into()));
            }
            return Ok(out.into_iter().collect());
        }
        let known = self.groups.keys().filter(|g| *g != "ungrouped").cloned().collect::<Vec<_>>().join(", ");
        let names = self.groups.keys().chain(self.hosts.keys()).map(String::as_str);
        let near = crate::template::suggest(term, names).map(str::to_string);
        Err(PatternError::Unknown { term: term.into(), known, near })
    }
}

/// The most hosts one range may expand to (a typo like `[0:99999999]` must not eat the machine).
const MAX_RANGE: u64 = 100_000;

/// A host pattern as an inventory writes it, split as Ansible's
/// `parse_address` does: `web1:2222` is host `web1` on port 2222,
/// `[2001:db8::1]:2222` an IPv6 address with a port, `web[1:3]:22` a range
/// with a port. An address with colons and no brackets (IPv6) has no port.
pub fn split_port(pattern: &str) -> (&str, Option<u16>) {
    let port_of = |p: &str| (!p.is_empty() && p.bytes().all(|c| c.is_ascii_digit())).then(|| p.parse().ok()).flatten();
    if let Some(inner) = pattern.strip_prefix('[') {
        if let Some((host, port)) = inner.rsplit_once("]:") {
            if let (false, Some(port)) = (host.is_empty(), port_of(port)) {
                return (host, Some(port));
            }
        }
    }
    let Some((host, port)) = pattern.rsplit_once(':') else { return (pattern, None) };
    // The host part may hold `[a:b]` ranges, but no other colon and no stray bracket.
    let mut depth = 0i32;
    let plain = host.chars().all(|c| match c {
        '[' if depth == 0 => {
            depth = 1;
            true
        }
        ']' if depth == 1 => {
            depth = 0;
            true
        }
        '[' | ']' => false,
        ':' => depth == 1,
        _ => true,
    }) && depth == 0;
    match (plain, port_of(port)) {
        (true, Some(port)) => (host, Some(port)),
        _ => (pattern, None),
    }
}

/// Expands Ansible host ranges: `web[01:03]` → web01, web02, web03; `db-[a:c]`.
pub fn expand_host_range(pattern: &str) -> Result<Vec<String>, PatternError> {
    let (Some(open), Some(close)) = (pattern.find('['), pattern.find(']')) else {
        return Ok(vec![pattern.to_string()]);
    };
    if close < open {
        return Err(PatternError::MalformedRange(pattern.into()));
    }
    let (prefix, inner, suffix) = (&pattern[..open], &pattern[open + 1..close], &pattern[close + 1..]);
    // `start:end` or `start:end:step`, as Ansible's expand_hostname_range; an empty start is 0.
    let bounds: Vec<&str> = inner.split(':').collect();
    let (start, end, step) = match bounds[..] {
        [start, end] => (start, end, Some(1)),
        [start, end, step] => (start, end, step.parse::<usize>().ok().filter(|s| *s > 0)),
        _ => return Err(PatternError::RangeNeedsEnds(inner.into())),
    };
    let Some(step) = step else { return Err(PatternError::RangeNeedsEnds(inner.into())) };
    let start = if start.is_empty() { "0" } else { start };
    let rest = expand_host_range(suffix)?;
    let mut out = Vec::new();
    if let (Ok(a), Ok(b)) = (start.parse::<u64>(), end.parse::<u64>()) {
        if a > b {
            return Err(PatternError::RangeBackwards(inner.into()));
        }
        if b - a >= MAX_RANGE || (b - a + 1).saturating_mul(rest.len() as u64) > MAX_RANGE {
            return Err(PatternError::RangeTooLarge(inner.into()));
        }
        let width = if start.starts_with('0') { start.len() } else { 0 };
        for n in (a..=b).step_by(step) {
            for r in &rest {
                out.push(format!("{prefix}{n:0width$}{r}"));
            }
        }
    } else if start.len() == 1 && end.len() == 1 {
        let (a, b) = (start.as_bytes()[0], end.as_bytes()[0]);
        if a > b {
            return Err(PatternError::RangeBackwards(inner.into()));
        }
        for c in (a..=b).step_by(step) {
            for r in &rest {
                out.push(format!("{prefix}{}{r}", c as char));
            }
        }
    } else {
        return Err(PatternError::RangeKind(inner.into()));
    }
    Ok(out)
}

/// Ansible's `split_host_pattern`: on `,` if the pattern has one, else on `:`
/// outside `[…]`, so a range or an IPv6 address in brackets stays whole.
fn split_pattern(pattern: &str) -> Vec<String> {
    if pattern.contains(',') {
        return pattern.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect();
    }
    let (mut terms, mut cur, mut depth) = (Vec::new(), String::new(), 0usize);
    for c in pattern.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if (c == ':' && depth == 0) || c.is_whitespace() {
            terms.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    terms.push(cur);
    terms.into_iter().filter(|t| !t.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::split_port;

    #[test]
    fn a_pattern_splits_on_commas_else_on_colons_outside_brackets() {
        assert_eq!(super::split_pattern("a,b:c, d"), ["a", "b:c", "d"]);
        assert_eq!(super::split_pattern("web:!h[1:3]:&prod"), ["web", "!h[1:3]", "&prod"]);
        assert!(super::split_pattern(" : ").is_empty());
    }

    #[test]
    fn a_range_may_have_a_step_and_no_start() {
        assert_eq!(super::expand_host_range("web[01:10:3]").unwrap(), ["web01", "web04", "web07", "web10"]);
        assert_eq!(super::expand_host_range("h[:2]").unwrap(), ["h0", "h1", "h2"]);
        assert_eq!(super::expand_host_range("h[a:e:2]").unwrap(), ["ha", "hc", "he"]);
        assert!(super::expand_host_range("h[1:3:0]").is_err());
    }

    #[test]
    fn a_port_is_split_off_as_ansible_parse_address_does() {
        assert_eq!(split_port("web1:2222"), ("web1", Some(2222)));
        assert_eq!(split_port("db[1:2]:5432"), ("db[1:2]", Some(5432)));
        assert_eq!(split_port("[2001:db8::1]:2200"), ("2001:db8::1", Some(2200)));
        assert_eq!(split_port("2001:db8::1"), ("2001:db8::1", None));
        assert_eq!(split_port("web[1:3]"), ("web[1:3]", None));
        assert_eq!(split_port("web1:"), ("web1:", None));
        assert_eq!(split_port("web1:ssh"), ("web1:ssh", None));
    }
}
