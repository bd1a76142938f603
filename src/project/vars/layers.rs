//! What a host's vars are merged from, kept past the merge.

/// Where a host's vars come from: its roles (defaults), its site bindings
/// and its groups (parents first). Kept to tell where a var was defined and
/// which files a host's run reads.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    pub roles: Vec<String>,
    pub bindings: Vec<usize>,
    pub groups: Vec<String>,
}
