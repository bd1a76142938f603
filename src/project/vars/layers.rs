//! What a host's vars are merged from, kept past the merge.

use crate::project::source::Vars;
use crate::template::Dialect;
use std::collections::HashMap;

/// Where a host's vars come from: its roles (defaults), its site bindings
/// and its groups (parents first). Kept to tell where a var was defined and
/// which files a host's run reads.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    pub roles: Vec<String>,
    pub bindings: Vec<usize>,
    pub groups: Vec<String>,
    /// The dialect of each templated var: that of the file whose value won
    /// the merge, in which the var renders whoever reads it.
    pub dialects: HashMap<String, Dialect>,
}

impl Layers {
    /// Merges `layer` (written in `dialect`) over `vars`, noting the dialect of its templated values.
    pub fn merge(&mut self, vars: &mut Vars, layer: &Vars, dialect: Dialect) {
        for (k, v) in layer {
            if super::lazy::templated(v) {
                self.dialects.insert(k.clone(), dialect);
            } else {
                self.dialects.remove(k);
            }
            vars.insert(k.clone(), v.clone());
        }
    }
}
