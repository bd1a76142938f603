//! The dependency graph as an SVG that rigger draws itself (no Graphviz, no
//! script, nothing fetched): nodes in layers by longest path from the
//! roots, edges downward. A layer wider than `WIDE` shows its units merged
//! by role (`nginx ×200`), so the drawing stays readable at 200 hosts.

use crate::graph::{Graph, Node};
use crate::plan::Status;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

/// Layers with more nodes than this are drawn merged by role.
const WIDE: usize = 16;
const BOX_W: usize = 170;
const BOX_H: usize = 30;
const ROW_H: usize = 80;

/// The graph as data, kept with a recorded run so `runs show --report` draws it again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sketch {
    pub nodes: Vec<SketchNode>,
    /// (from, to): `from` converges first.
    pub edges: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SketchNode {
    /// `role@host`, `gate(binding 1 batch 2)`, `every web`.
    pub label: String,
    /// The role of a unit or barrier; `gate` for a gate.
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl Sketch {
    pub fn of(graph: &Graph) -> Self {
        let g = &graph.g;
        let nodes = g
            .node_indices()
            .map(|n| {
                let (role, host) = match &g[n] {
                    Node::Unit { host, role, .. } => (role.clone(), Some(host.clone())),
                    Node::Gate { .. } => ("gate".to_string(), None),
                    Node::Barrier { role } => (role.clone(), None),
                };
                SketchNode { label: g[n].to_string(), role, host }
            })
            .collect();
        let edges = g.edge_indices().filter_map(|e| g.edge_endpoints(e)).map(|(a, b)| (a.index(), b.index())).collect();
        Sketch { nodes, edges }
    }

    /// Each node's layer: the longest path to it from a node with no predecessor.
    fn layers(&self) -> Vec<usize> {
        let n = self.nodes.len();
        let mut layer = vec![0usize; n];
        // Longest path by relaxation; a DAG settles within `nodes` rounds.
        for _ in 0..n {
            let mut moved = false;
            for &(a, b) in self.edges.iter().filter(|(a, b)| *a < n && *b < n) {
                if layer[b] < layer[a] + 1 {
                    layer[b] = layer[a] + 1;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        layer
    }
}

/// A box of the drawing: one node, or a layer's units of one role merged.
struct Box {
    label: String,
    layer: usize,
    status: Option<Status>,
    title: String,
}

/// The SVG of `sketch`, each unit colored by its status in `status` ((host, role) → status).
pub fn render(sketch: &Sketch, status: &HashMap<(String, String), Status>) -> String {
    let layer = sketch.layers();
    let (boxes, of_node) = boxes(sketch, &layer, status);
    let mut rows: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, b) in boxes.iter().enumerate() {
        rows.entry(b.layer).or_default().push(i);
    }
    let widest = rows.values().map(Vec::len).max().unwrap_or(1).max(1);
    let (width, height) = (widest * (BOX_W + 20) + 20, rows.len().max(1) * ROW_H + 20);
    let mut at = vec![(0usize, 0usize); boxes.len()];
    for (r, members) in rows.values().enumerate() {
        let offset = (width - members.len() * (BOX_W + 20)) / 2;
        for (k, &b) in members.iter().enumerate() {
            at[b] = (offset + 10 + k * (BOX_W + 20), 10 + r * ROW_H);
        }
    }
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"graph\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#888\"/></marker></defs>\n"
    );
    let edges: BTreeSet<(usize, usize)> = sketch
        .edges
        .iter()
        .filter_map(|&(a, b)| Some((*of_node.get(a)?, *of_node.get(b)?)))
        .filter(|(a, b)| a != b)
        .collect();
    for (a, b) in edges {
        let ((ax, ay), (bx, by)) = (at[a], at[b]);
        let _ = writeln!(
            svg,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{by}\" stroke=\"#888\" marker-end=\"url(#arrow)\"/>",
            ax + BOX_W / 2,
            ay + BOX_H,
            bx + BOX_W / 2
        );
    }
    for (b, &(x, y)) in boxes.iter().zip(&at) {
        let fill = match b.status {
            Some(Status::Failed) => "#f8c4c4",
            Some(Status::Changed) => "#fbe7b0",
            Some(Status::Skipped) => "#e4e4e4",
            Some(Status::Ok | Status::Conditional) => "#cdeccd",
            None => "#f4f4f4",
        };
        let _ = writeln!(
            svg,
            "<g class=\"node\"><title>{}</title><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"4\" fill=\"{fill}\" stroke=\"#666\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text></g>",
            escape(&b.title),
            x + BOX_W / 2,
            y + 19,
            escape(&clip(&b.label, 26))
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The boxes to draw, and the box of each node.
fn boxes(sketch: &Sketch, layer: &[usize], status: &HashMap<(String, String), Status>) -> (Vec<Box>, Vec<usize>) {
    let mut per_layer: BTreeMap<usize, usize> = BTreeMap::new();
    for l in layer {
        *per_layer.entry(*l).or_default() += 1;
    }
    let mut boxes: Vec<Box> = Vec::new();
    let mut merged: HashMap<(usize, String), usize> = HashMap::new();
    let mut of_node = Vec::with_capacity(sketch.nodes.len());
    for (i, n) in sketch.nodes.iter().enumerate() {
        let st = n.host.as_ref().and_then(|h| status.get(&(h.clone(), n.role.clone())).copied());
        let wide = per_layer[&layer[i]] > WIDE && n.host.is_some();
        if wide {
            if let Some(&b) = merged.get(&(layer[i], n.role.clone())) {
                let bx: &mut Box = &mut boxes[b];
                let count = bx.title.lines().count() + 1;
                bx.label = format!("{} ×{count}", n.role);
                bx.title.push('\n');
                bx.title.push_str(&n.label);
                bx.status = worst(bx.status, st);
                of_node.push(b);
                continue;
            }
            merged.insert((layer[i], n.role.clone()), boxes.len());
        }
        of_node.push(boxes.len());
        boxes.push(Box { label: n.label.clone(), layer: layer[i], status: st, title: n.label.clone() });
    }
    (boxes, of_node)
}

fn worst(a: Option<Status>, b: Option<Status>) -> Option<Status> {
    let rank = |s: Option<Status>| match s {
        Some(Status::Failed) => 4,
        Some(Status::Changed) => 3,
        Some(Status::Skipped) => 2,
        Some(_) => 1,
        None => 0,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// Text for HTML and SVG: `&`, `<`, `>`, quotes escaped.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(role: &str, host: &str) -> SketchNode {
        SketchNode { label: format!("{role}@{host}"), role: role.into(), host: Some(host.into()) }
    }

    #[test]
    fn layers_follow_the_longest_path_and_wide_layers_merge_by_role() {
        let mut nodes: Vec<SketchNode> = (0..40).map(|i| node("web", &format!("h{i}"))).collect();
        nodes.push(SketchNode { label: "every web".into(), role: "web".into(), host: None });
        nodes.push(node("lb", "lb1"));
        let mut edges: Vec<(usize, usize)> = (0..40).map(|i| (i, 40)).collect();
        edges.push((40, 41));
        let sketch = Sketch { nodes, edges };
        let layer = sketch.layers();
        assert_eq!((layer[0], layer[40], layer[41]), (0, 1, 2));
        let svg = render(&sketch, &HashMap::new());
        assert!(svg.contains("web ×40"), "{svg}");
        assert_eq!(svg.matches("<g class=\"node\">").count(), 3);
        assert_eq!(svg.matches("<line").count(), 2);
    }
}
