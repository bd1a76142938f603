//! The `children` links between groups as a graph of indexes, and the walks
//! the inventory needs over it. Every walk is a loop, not a recursion (a
//! chain of 100,000 groups must not overflow the stack), and linear in
//! groups plus links (a chain must not cost its length squared).

use indexmap::IndexMap;
use std::collections::{HashMap, VecDeque};

/// A link a loader added, parent → child, kept in the order the file
/// declared it so a loop is reported at the line that closed it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Link {
    pub parent: String,
    pub child: String,
}

/// A group as the walks see it: the names of its children. (A trait, so
/// that this module needs nothing of the model that uses it.)
pub(super) trait Parent {
    fn children(&self) -> &[String];
}

/// Groups by their index in `Inventory::groups`, each with its children's indexes.
pub(super) struct Links {
    children: Vec<Vec<usize>>,
}

impl Links {
    pub fn of(groups: &IndexMap<String, impl Parent>) -> Self {
        let children =
            groups.values().map(|g| g.children().iter().filter_map(|c| groups.get_index_of(c)).collect()).collect();
        Links { children }
    }

    pub fn children(&self, group: usize) -> &[usize] {
        &self.children[group]
    }

    /// The groups in an order where each comes after all of its parents
    /// (Kahn's algorithm). Groups on a loop, and those below one, are left out.
    pub fn topological(&self) -> Vec<usize> {
        let mut parents_left = vec![0usize; self.children.len()];
        for c in self.children.iter().flatten() {
            parents_left[*c] += 1;
        }
        let mut ready: Vec<usize> = (0..self.children.len()).filter(|g| parents_left[*g] == 0).collect();
        let mut order = Vec::with_capacity(self.children.len());
        while let Some(g) = ready.pop() {
            order.push(g);
            for &c in &self.children[g] {
                parents_left[c] -= 1;
                if parents_left[c] == 0 {
                    ready.push(c);
                }
            }
        }
        order
    }

    pub fn has_loop(&self) -> bool {
        self.topological().len() < self.children.len()
    }

    /// Each group's parents: the links read upwards.
    pub fn parents(&self) -> Vec<Vec<usize>> {
        let mut parents = vec![Vec::new(); self.children.len()];
        for (g, cs) in self.children.iter().enumerate() {
            for &c in cs {
                parents[c].push(g);
            }
        }
        parents
    }

    /// Each group's depth below `root` as Ansible counts it: the longest
    /// chain of links from `root`. `None` for groups not below `root`.
    pub fn depths(&self, root: usize) -> Vec<Option<usize>> {
        let mut depth = vec![None; self.children.len()];
        depth[root] = Some(0);
        for g in self.topological() {
            let Some(d) = depth[g] else { continue };
            for &c in &self.children[g] {
                depth[c] = depth[c].max(Some(d + 1));
            }
        }
        depth
    }

    /// The shortest chain of links from `from` down to `to`, both included.
    fn path(&self, from: usize, to: usize) -> Option<Vec<usize>> {
        let mut came_from: HashMap<usize, usize> = HashMap::from([(from, from)]);
        let mut queue = VecDeque::from([from]);
        while let Some(g) = queue.pop_front() {
            if g == to {
                let mut path = vec![to];
                while *path.last().expect("non-empty") != from {
                    path.push(came_from[path.last().expect("non-empty")]);
                }
                path.reverse();
                return Some(path);
            }
            for &c in &self.children[g] {
                came_from.entry(c).or_insert_with(|| {
                    queue.push_back(c);
                    g
                });
            }
        }
        None
    }
}

/// The first of `added` (links a file just added to `groups`, in the file's
/// order) that closes a loop, and the loop it closes: child → … → parent → child.
///
/// The common case, no loop, costs one linear pass. Only when there is a
/// loop are prefixes of `added` tried, halving each time: still far from
/// the quadratic cost of checking the whole graph at every link.
pub(super) fn first_loop(groups: &IndexMap<String, impl Parent>, added: &[Link]) -> Option<(usize, Vec<String>)> {
    let all = Links::of(groups);
    if !all.has_loop() {
        return None;
    }
    let index = |name: &str| groups.get_index_of(name);
    let added_ix: Vec<(usize, usize)> =
        added.iter().filter_map(|l| Some((index(&l.parent)?, index(&l.child)?))).collect();
    // What was there before this file: every link, less one copy of each it added.
    let mut to_drop: HashMap<(usize, usize), usize> = HashMap::new();
    for l in &added_ix {
        *to_drop.entry(*l).or_default() += 1;
    }
    let mut before = all;
    for (p, cs) in before.children.iter_mut().enumerate() {
        cs.retain(|&c| match to_drop.get_mut(&(p, c)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        });
    }
    let with = |n: usize| {
        let mut g = Links { children: before.children.clone() };
        for &(p, c) in &added_ix[..n] {
            g.children[p].push(c);
        }
        g
    };
    // The smallest prefix that loops: `lo` links do not loop, `hi` links do.
    let (mut lo, mut hi) = (0, added_ix.len());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if with(mid).has_loop() {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let (parent, child) = *added_ix.get(hi.checked_sub(1)?)?;
    let mut path = with(hi - 1).path(child, parent).unwrap_or_else(|| vec![child, parent]);
    path.push(child);
    let names = path.into_iter().map(|g| groups.get_index(g).map_or("?", |(n, _)| n.as_str()).to_string()).collect();
    Some((hi - 1, names))
}

/// "adding `c` as a child of `p` makes a loop: …", with a long loop shown by
/// its ends: a message must stay readable when the loop is 100,000 groups long.
pub(super) fn loop_message(child: &str, parent: &str, path: &[String]) -> String {
    const ENDS: usize = 5;
    let shown = if path.len() > 2 * ENDS + 1 {
        let skipped = path.len() - 2 * ENDS;
        format!("{} → … ({skipped} more) → {}", path[..ENDS].join(" → "), path[path.len() - ENDS..].join(" → "))
    } else {
        path.join(" → ")
    };
    format!("adding `{child}` as a child of `{parent}` makes a loop: {shown}")
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Parent for Vec<String> {
        fn children(&self) -> &[String] {
            self
        }
    }

    fn groups(links: &[(&str, &str)]) -> IndexMap<String, Vec<String>> {
        let mut gs: IndexMap<String, Vec<String>> = IndexMap::new();
        for (p, c) in links {
            gs.entry(p.to_string()).or_default();
            gs.entry(c.to_string()).or_default();
            gs[*p].push(c.to_string());
        }
        gs
    }

    fn link(p: &str, c: &str) -> Link {
        Link { parent: p.into(), child: c.into() }
    }

    #[test]
    fn the_link_that_closes_the_loop_is_found_with_the_loop() {
        let gs = groups(&[("a", "b"), ("b", "c"), ("x", "y"), ("c", "a"), ("y", "x")]);
        let added = [link("a", "b"), link("b", "c"), link("x", "y"), link("c", "a"), link("y", "x")];
        let (i, path) = first_loop(&gs, &added).unwrap();
        assert_eq!((i, path.join(" → ")), (3, "a → b → c → a".to_string()));
        assert_eq!(first_loop(&groups(&[("a", "b"), ("a", "c"), ("b", "c")]), &[]), None);
    }

    #[test]
    fn a_loop_through_links_of_an_earlier_file_is_blamed_on_this_one() {
        let gs = groups(&[("prod", "web"), ("web", "prod")]);
        let (i, path) = first_loop(&gs, &[link("web", "prod")]).unwrap();
        assert_eq!((i, path.join(" → ")), (0, "prod → web → prod".to_string()));
    }

    #[test]
    fn depth_is_the_longest_chain_and_a_long_chain_is_no_trouble() {
        let gs = groups(&[("all", "a"), ("a", "b"), ("all", "b")]);
        assert_eq!(Links::of(&gs).depths(0), [Some(0), Some(1), Some(2)]);
        let names: Vec<String> = (0..=100_000).map(|i| format!("g{i}")).collect();
        let pairs: Vec<(&str, &str)> = names.windows(2).map(|w| (w[0].as_str(), w[1].as_str())).collect();
        let chain = Links::of(&groups(&pairs));
        assert_eq!(chain.depths(0)[100_000], Some(100_000));
        assert_eq!(chain.path(0, 100_000).map(|p| p.len()), Some(100_001));
    }

    #[test]
    fn a_long_loop_is_shown_by_its_ends() {
        let path: Vec<String> = (0..20).map(|i| format!("g{i}")).chain(["g0".to_string()]).collect();
        assert_eq!(
            loop_message("g0", "g19", &path),
            "adding `g0` as a child of `g19` makes a loop: g0 → g1 → g2 → g3 → g4 → … (11 more) → g16 → g17 → g18 → g19 → g0"
        );
    }
}
