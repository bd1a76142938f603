//! The scheduler: walks the (host, role) graph on tokio. A node starts as soon
//! as its predecessors are done (no lock-step across hosts), units on one host
//! never overlap, at most `forks` nodes run at once, and a failure skips only
//! its descendants. What a unit or a gate does is the caller's [`Work`]: this
//! module knows nothing about SSH, probes or plans.

use crate::graph::{Graph, Node, Why};
use crate::plan::Status;
use crate::report::UnitReport;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

/// What running a node means. The scheduler only decides when.
pub trait Work: Send + Sync + 'static {
    /// Converges `role` on `host` (node `n` of the graph).
    fn unit(&self, n: NodeIndex, host: &str, role: &str) -> impl Future<Output = UnitReport> + Send;

    /// The check after batch `batch` of serial binding `binding`; `batch_results`
    /// holds the status of each of the batch's units, by host.
    fn gate(
        &self,
        binding: usize,
        batch: usize,
        hosts: &[String],
        batch_results: &[(String, Status)],
    ) -> impl Future<Output = UnitReport> + Send;
}

/// Runs every node of `graph` through `work` and returns each node's report.
/// `forks` caps how many run at once (default: one per host); `progress` gets
/// one line per node that ran, as it finishes.
pub async fn walk<W: Work>(
    graph: &Graph,
    forks: Option<usize>,
    work: Arc<W>,
    progress: impl Fn(&str) + Send + Sync + 'static,
) -> HashMap<NodeIndex, UnitReport> {
    let g = &graph.g;
    let limits = Limits::new(graph, forks);
    let progress = Arc::new(progress);
    let mut state = State::new(g);
    let mut tasks: JoinSet<(NodeIndex, UnitReport)> = JoinSet::new();
    loop {
        while let Some(n) = state.ready.pop() {
            if let Some(why) = state.blocked.get(&n).cloned() {
                state.finish(n, skipped_report(&g[n], &why));
            } else if matches!(g[n], Node::Barrier { .. }) {
                // A barrier has no work: it is done when its members are.
                state.finish(n, ok_report(&g[n]));
            } else {
                let job = Job { n, node: g[n].clone(), batch_results: state.batch_results(&g[n]) };
                tasks.spawn(run(job, work.clone(), limits.clone(), progress.clone()));
            }
        }
        // Nothing running and nothing ready: every node is done. A task that
        // panicked ends the walk too; the nodes it would have released never run.
        let Some(Ok((n, rep))) = tasks.join_next().await else { break };
        state.finish(n, rep);
    }
    state.results
}

/// What bounds concurrency besides the graph.
#[derive(Clone)]
struct Limits {
    /// One lock per host: two units on one host would race on its packages and files.
    hosts: HashMap<String, Arc<Mutex<()>>>,
    forks: Arc<Semaphore>,
}

impl Limits {
    fn new(graph: &Graph, forks: Option<usize>) -> Self {
        let mut hosts: HashMap<String, Arc<Mutex<()>>> = HashMap::new();
        for (host, _) in graph.units.keys() {
            hosts.entry(host.clone()).or_default();
        }
        let forks = Arc::new(Semaphore::new(forks.unwrap_or(hosts.len().max(1))));
        Limits { hosts, forks }
    }
}

/// A node handed to a task, with everything it needs from the walk's state.
struct Job {
    n: NodeIndex,
    node: Node,
    /// For a gate: the statuses of its batch's units.
    batch_results: Vec<(String, Status)>,
}

async fn run<W: Work>(
    job: Job,
    work: Arc<W>,
    limits: Limits,
    progress: Arc<impl Fn(&str) + Send + Sync + 'static>,
) -> (NodeIndex, UnitReport) {
    // The host first, then a fork: a unit waiting for its host should not hold a fork.
    let lock = match &job.node {
        Node::Unit { host, .. } => limits.hosts.get(host).cloned(),
        Node::Gate { .. } | Node::Barrier { .. } => None,
    };
    let _host = match &lock {
        Some(l) => Some(l.lock().await),
        None => None,
    };
    let _fork = limits.forks.acquire().await;
    let rep = match &job.node {
        Node::Unit { host, role, .. } => work.unit(job.n, host, role).await,
        Node::Gate { binding, batch, hosts } => work.gate(*binding, *batch, hosts, &job.batch_results).await,
        Node::Barrier { .. } => ok_report(&job.node),
    };
    progress(&progress_line(&job.node, &rep));
    (job.n, rep)
}

/// The walk's bookkeeping: what is left, what is ready, what is blocked and why.
struct State<'g> {
    g: &'g DiGraph<Node, Why>,
    /// Predecessors not yet done, per node.
    remaining: HashMap<NodeIndex, usize>,
    /// Why a node cannot run: the first failure upstream of it.
    blocked: HashMap<NodeIndex, String>,
    ready: Vec<NodeIndex>,
    results: HashMap<NodeIndex, UnitReport>,
}

impl<'g> State<'g> {
    fn new(g: &'g DiGraph<Node, Why>) -> Self {
        let remaining: HashMap<NodeIndex, usize> =
            g.node_indices().map(|n| (n, g.neighbors_directed(n, Direction::Incoming).count())).collect();
        let mut ready: Vec<NodeIndex> = remaining.iter().filter(|(_, c)| **c == 0).map(|(n, _)| *n).collect();
        ready.sort();
        State { g, remaining, blocked: HashMap::new(), ready, results: HashMap::new() }
    }

    /// Records a finished node and releases its successors; a failure blocks all of them.
    fn finish(&mut self, n: NodeIndex, rep: UnitReport) {
        let why = match rep.status {
            Status::Failed => Some(match &self.g[n] {
                Node::Unit { host, role, .. } => format!("because {role} failed on host {host}"),
                gate => format!("because {gate} failed: {}", rep.message.clone().unwrap_or_default()),
            }),
            Status::Skipped => self.blocked.get(&n).cloned(),
            _ => None,
        };
        for m in self.g.neighbors_directed(n, Direction::Outgoing) {
            if let Some(w) = &why {
                self.blocked.entry(m).or_insert_with(|| w.clone());
            }
            let c = self.remaining.get_mut(&m).expect("every node is counted");
            *c -= 1;
            if *c == 0 {
                self.ready.push(m);
            }
        }
        self.results.insert(n, rep);
    }

    /// For a gate: how each unit of its batch ended (all are done, the gate follows them).
    fn batch_results(&self, node: &Node) -> Vec<(String, Status)> {
        let Node::Gate { binding, hosts, .. } = node else { return vec![] };
        self.results
            .iter()
            .filter_map(|(m, r)| match &self.g[*m] {
                Node::Unit { host, binding: Some(b), .. } if b == binding && hosts.contains(host) => {
                    Some((host.clone(), r.status))
                }
                _ => None,
            })
            .collect()
    }
}

fn progress_line(node: &Node, rep: &UnitReport) -> String {
    match node {
        Node::Gate { .. } => {
            format!("{:<8} {node} {}", status_word(rep.status), rep.message.clone().unwrap_or_default())
        }
        _ => format!("{:<8} {node} ({:.1}s)", status_word(rep.status), rep.seconds),
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Changed => "changed",
        Status::Failed => "FAILED",
        Status::Skipped => "skipped",
    }
}

fn ok_report(node: &Node) -> UnitReport {
    UnitReport {
        role: node.to_string(),
        status: Status::Ok,
        message: None,
        resources: vec![],
        handlers: vec![],
        seconds: 0.0,
    }
}

fn skipped_report(node: &Node, why: &str) -> UnitReport {
    let role = match node {
        Node::Unit { role, .. } => role.clone(),
        other => other.to_string(),
    };
    UnitReport {
        role,
        status: Status::Skipped,
        message: Some(why.to_string()),
        resources: vec![],
        handlers: vec![],
        seconds: 0.0,
    }
}

