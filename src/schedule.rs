//! The scheduler: walks the (host, role) graph on tokio. A node starts as soon
//! as its predecessors are done (no lock-step across hosts), units on one host
//! never overlap, at most `forks` nodes run at once, and a failure skips only
//! its descendants. Once an [`Interrupt`] is set, nothing new starts: running
//! nodes finish and the rest are skipped as interrupted. What a unit, a gate
//! or the end of a host means is the caller's [`Work`]: this module knows
//! nothing about SSH, probes, plans or locks.
//!
//! Over 500 lines only with its tests (about 380 lines, a fake `Work` on
//! paused time); the code itself is about 300.

use crate::graph::{Graph, Node, Why};
use crate::plan::Status;
use crate::report::{Span, UnitReport, INTERRUPTED};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{watch, Mutex, Semaphore};
use tokio::task::JoinSet;

/// Set on the first SIGINT/SIGTERM: the walk starts nothing new. It also
/// knows which units run now, so an abort can say which hosts may be mid-unit.
#[derive(Clone)]
pub struct Interrupt {
    set: Arc<watch::Sender<bool>>,
    /// (host, role) of every unit running now.
    running: Arc<std::sync::Mutex<BTreeSet<(String, String)>>>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt { set: Arc::new(watch::channel(false).0), running: Arc::default() }
    }
}

impl Interrupt {
    pub fn trigger(&self) {
        self.set.send_replace(true);
    }

    pub fn is_set(&self) -> bool {
        *self.set.borrow()
    }

    /// Returns once the interrupt is set.
    pub async fn triggered(&self) {
        let mut rx = self.set.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = rx.wait_for(|set| *set).await;
    }

    /// `role@host` of every unit running now, sorted.
    pub fn running(&self) -> Vec<String> {
        self.running.lock().unwrap().iter().map(|(h, r)| format!("{r}@{h}")).collect()
    }
}

/// What running a node means. The scheduler only decides when.
pub trait Work: Send + Sync + 'static {
    /// Converges `role` on `host` (node `n` of the graph). `last`: no other
    /// unit of `host` is left, so its script may end the host's part of the run.
    fn unit(&self, n: NodeIndex, host: &str, role: &str, last: bool) -> impl Future<Output = UnitReport> + Send;

    /// The check after batch `batch` of serial binding `binding`; `batch_results`
    /// holds the status of each of the batch's units, by host.
    fn gate(
        &self,
        binding: usize,
        batch: usize,
        hosts: &[String],
        batch_results: &[(String, Status)],
    ) -> impl Future<Output = UnitReport> + Send;

    /// Called once for each host when its last unit is done (ran, failed,
    /// or was skipped), interrupted or not: nothing more will run there.
    fn host_done(&self, host: &str) -> impl Future<Output = ()> + Send;
}

/// Runs every node of `graph` through `work` and returns each node's report.
/// `forks` caps how many run at once (default: one per host); `progress` gets
/// one line per node that ran, as it finishes. Once `interrupt` is set, no
/// node starts: the rest are skipped with the message `report::INTERRUPTED`.
pub async fn walk<W: Work>(
    graph: &Graph,
    forks: Option<usize>,
    work: Arc<W>,
    progress: impl Fn(&str) + Send + Sync + 'static,
    interrupt: &Interrupt,
) -> HashMap<NodeIndex, UnitReport> {
    let g = &graph.g;
    let limits = Limits::new(graph, forks, interrupt);
    let progress = Arc::new(progress);
    let mut state = State::new(g);
    let mut tasks: JoinSet<(NodeIndex, UnitReport)> = JoinSet::new();
    let mut tails: JoinSet<()> = JoinSet::new();
    loop {
        while let Some(n) = state.ready.pop() {
            if let Some(why) = state.blocked.get(&n).cloned() {
                state.finish(n, skipped_report(&g[n], &why));
            } else if interrupt.is_set() {
                state.finish(n, skipped_report(&g[n], INTERRUPTED));
            } else if matches!(g[n], Node::Barrier { .. }) {
                // A barrier has no work: it is done when its members are.
                state.finish(n, ok_report(&g[n]));
            } else {
                let last = matches!(&g[n], Node::Unit { host, .. } if state.units_left[host] == 1);
                let job = Job { n, node: g[n].clone(), batch_results: state.batch_results(&g[n]), last };
                tasks.spawn(run(job, work.clone(), limits.clone(), progress.clone()));
            }
        }
        for host in state.done_hosts.drain(..) {
            let work = work.clone();
            tails.spawn(async move { work.host_done(&host).await });
        }
        // Nothing running and nothing ready: every node is done. A task that
        // panicked ends the walk too; the nodes it would have released never run.
        let Some(Ok((n, rep))) = tasks.join_next().await else { break };
        state.finish(n, rep);
    }
    while tails.join_next().await.is_some() {}
    state.results
}

/// What bounds concurrency besides the graph.
#[derive(Clone)]
struct Limits {
    /// One lock per host: two units on one host would race on its packages and files.
    hosts: HashMap<String, Arc<Mutex<()>>>,
    forks: Arc<Semaphore>,
    /// Checked again once a node may go: it may have waited for its host long.
    interrupt: Interrupt,
}

impl Limits {
    fn new(graph: &Graph, forks: Option<usize>, interrupt: &Interrupt) -> Self {
        let mut hosts: HashMap<String, Arc<Mutex<()>>> = HashMap::new();
        for (host, _) in graph.units.keys() {
            hosts.entry(host.clone()).or_default();
        }
        let forks = Arc::new(Semaphore::new(forks.unwrap_or(hosts.len().max(1))));
        Limits { hosts, forks, interrupt: interrupt.clone() }
    }
}

/// A node handed to a task, with everything it needs from the walk's state.
struct Job {
    n: NodeIndex,
    node: Node,
    /// For a gate: the statuses of its batch's units.
    batch_results: Vec<(String, Status)>,
    /// For a unit: the last of its host still to run.
    last: bool,
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
    if limits.interrupt.is_set() {
        return (job.n, skipped_report(&job.node, INTERRUPTED));
    }
    let started = std::time::SystemTime::now();
    let mut rep = match &job.node {
        Node::Unit { host, role, .. } => {
            let key = (host.clone(), role.clone());
            limits.interrupt.running.lock().unwrap().insert(key.clone());
            let rep = work.unit(job.n, host, role, job.last).await;
            limits.interrupt.running.lock().unwrap().remove(&key);
            rep
        }
        Node::Gate { binding, batch, hosts } => work.gate(*binding, *batch, hosts, &job.batch_results).await,
        Node::Barrier { .. } => ok_report(&job.node),
    };
    rep.span = Some(Span::since(started));
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
    /// Units not yet done, per host.
    units_left: HashMap<String, usize>,
    /// Hosts whose last unit is done, for `Work::host_done`.
    done_hosts: Vec<String>,
}

impl<'g> State<'g> {
    fn new(g: &'g DiGraph<Node, Why>) -> Self {
        let remaining: HashMap<NodeIndex, usize> =
            g.node_indices().map(|n| (n, g.neighbors_directed(n, Direction::Incoming).count())).collect();
        let mut ready: Vec<NodeIndex> = remaining.iter().filter(|(_, c)| **c == 0).map(|(n, _)| *n).collect();
        ready.sort();
        let mut units_left: HashMap<String, usize> = HashMap::new();
        for node in g.node_weights() {
            if let Node::Unit { host, .. } = node {
                *units_left.entry(host.clone()).or_default() += 1;
            }
        }
        let (blocked, results, done_hosts) = (HashMap::new(), HashMap::new(), Vec::new());
        State { g, remaining, blocked, ready, results, units_left, done_hosts }
    }

    /// Records a finished node and releases its successors; a failure blocks all of them.
    fn finish(&mut self, n: NodeIndex, rep: UnitReport) {
        if let Node::Unit { host, .. } = &self.g[n] {
            let left = self.units_left.get_mut(host).expect("every unit is counted");
            *left -= 1;
            if *left == 0 {
                self.done_hosts.push(host.clone());
            }
        }
        let why = match rep.status {
            Status::Failed => Some(match &self.g[n] {
                Node::Unit { host, role, .. } => format!("because {role} failed on host {host}"),
                gate => format!("because {gate} failed: {}", rep.message.clone().unwrap_or_default()),
            }),
            Status::Skipped => self.blocked.get(&n).cloned(),
            _ => None,
        };
        self.results.insert(n, rep);
        for m in self.g.neighbors_directed(n, Direction::Outgoing).collect::<Vec<_>>() {
            // A gate is not blocked by the units of its batch: weighing the
            // batch's failures against `max_fail_percentage` is its job.
            let gate = matches!(self.g[m], Node::Gate { .. });
            if let Some(w) = why.as_ref().filter(|_| !gate) {
                self.blocked.entry(m).or_insert_with(|| w.clone());
            }
            let c = self.remaining.get_mut(&m).expect("every node is counted");
            *c -= 1;
            if *c == 0 {
                if gate {
                    self.skip_gate_if_nothing_ran(m);
                }
                self.ready.push(m);
            }
        }
    }

    /// A gate whose whole batch was skipped (an earlier gate or dependency
    /// failed) has nothing to weigh: it is skipped for the same reason.
    fn skip_gate_if_nothing_ran(&mut self, gate: NodeIndex) {
        let batch: Vec<NodeIndex> = self.g.neighbors_directed(gate, Direction::Incoming).collect();
        let all_skipped = batch.iter().all(|u| self.results.get(u).is_some_and(|r| r.status == Status::Skipped));
        if let Some(why) = batch.iter().find_map(|u| self.blocked.get(u)).filter(|_| all_skipped).cloned() {
            self.blocked.insert(gate, why);
        }
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
        Status::Conditional => "conditional",
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
        span: None,
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
        span: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::fixture::{build, inventory};
    use std::sync::Mutex as StdMutex;
    use tokio::time::{sleep, Duration, Instant};

    /// Work that only takes (paused, virtual) time: each unit or gate sleeps,
    /// fails if told to, and logs when it started and ended. Paused time
    /// advances only when every task waits, so timings are exact.
    struct Fake {
        epoch: Instant,
        /// Node name → failure message.
        fail: HashMap<String, String>,
        /// Node name → milliseconds it takes (10 unless said).
        took: HashMap<String, u64>,
        log: StdMutex<Vec<(u64, &'static str, String)>>,
        live: StdMutex<Live>,
        /// What each gate was told about its batch.
        gates: StdMutex<Vec<(String, BatchResults)>>,
    }

    type BatchResults = Vec<(String, Status)>;

    #[derive(Default)]
    struct Live {
        /// (host, node) of everything running now; gates have no host.
        now: Vec<(Option<String>, String)>,
        most: usize,
        /// Units that started while another unit ran on their host.
        overlaps: Vec<String>,
    }

    impl Fake {
        fn new() -> Self {
            Fake {
                epoch: Instant::now(),
                fail: HashMap::new(),
                took: HashMap::new(),
                log: StdMutex::default(),
                live: StdMutex::default(),
                gates: StdMutex::default(),
            }
        }

        fn failing(mut self, node: &str, message: &str) -> Self {
            self.fail.insert(node.into(), message.into());
            self
        }

        fn taking(mut self, node: &str, ms: u64) -> Self {
            self.took.insert(node.into(), ms);
            self
        }

        fn note(&self, what: &'static str, node: &str) {
            let at = self.epoch.elapsed().as_millis() as u64;
            self.log.lock().unwrap().push((at, what, node.to_string()));
        }

        async fn act(&self, node: String, host: Option<&str>, role: String) -> UnitReport {
            {
                let mut live = self.live.lock().unwrap();
                if host.is_some() && live.now.iter().any(|(h, _)| h.as_deref() == host) {
                    live.overlaps.push(node.clone());
                }
                live.now.push((host.map(String::from), node.clone()));
                live.most = live.most.max(live.now.len());
            }
            self.note("start", &node);
            let ms = self.took.get(&node).copied().unwrap_or(10);
            sleep(Duration::from_millis(ms)).await;
            self.note("end", &node);
            self.live.lock().unwrap().now.retain(|(_, n)| *n != node);
            let failed = self.fail.get(&node);
            UnitReport {
                role,
                status: if failed.is_some() { Status::Failed } else { Status::Changed },
                message: failed.cloned().or_else(|| host.is_none().then(|| "healthy".into())),
                resources: vec![],
                handlers: vec![],
                seconds: ms as f64 / 1000.0,
                span: None,
            }
        }
    }

    impl Work for Fake {
        async fn unit(&self, _n: NodeIndex, host: &str, role: &str, last: bool) -> UnitReport {
            if last {
                self.note("last", &format!("{role}@{host}"));
            }
            self.act(format!("{role}@{host}"), Some(host), role.into()).await
        }

        async fn gate(&self, binding: usize, batch: usize, _: &[String], results: &[(String, Status)]) -> UnitReport {
            let name = format!("gate(binding {} batch {})", binding + 1, batch + 1);
            let mut results = results.to_vec();
            results.sort_by(|a, b| a.0.cmp(&b.0));
            self.gates.lock().unwrap().push((name.clone(), results));
            self.act(name.clone(), None, name).await
        }

        async fn host_done(&self, host: &str) {
            self.note("done", host);
        }
    }

    /// What a walk did, by node name.
    struct Walked {
        results: HashMap<String, UnitReport>,
        lines: Vec<String>,
        fake: Arc<Fake>,
        elapsed: u64,
    }

    impl Walked {
        fn at(&self, what: &str, node: &str) -> u64 {
            let log = self.fake.log.lock().unwrap();
            log.iter().find(|(_, w, n)| *w == what && n == node).map(|(at, ..)| *at).unwrap_or_else(|| {
                panic!("no {what} of {node} in {log:?}");
            })
        }

        fn ran(&self, node: &str) -> bool {
            self.fake.log.lock().unwrap().iter().any(|(_, _, n)| n == node)
        }

        fn status(&self, node: &str) -> (Status, Option<&str>) {
            let r = &self.results[node];
            (r.status, r.message.as_deref())
        }
    }

    async fn walk_with(graph: &Graph, forks: Option<usize>, fake: Fake) -> Walked {
        walk_until(graph, forks, fake, &Interrupt::default()).await
    }

    async fn walk_until(graph: &Graph, forks: Option<usize>, fake: Fake, interrupt: &Interrupt) -> Walked {
        let fake = Arc::new(fake);
        let lines = Arc::new(StdMutex::new(Vec::new()));
        let sink = lines.clone();
        let started = Instant::now();
        let progress = move |l: &str| sink.lock().unwrap().push(l.to_string());
        let results = walk(graph, forks, fake.clone(), progress, interrupt).await;
        let elapsed = started.elapsed().as_millis() as u64;
        let results = results.into_iter().map(|(n, r)| (graph.g[n].to_string(), r)).collect();
        let lines = lines.lock().unwrap().clone();
        Walked { results, lines, fake, elapsed }
    }

    fn graph(groups: &[(&str, &[&str])], site: &str, roles: &[(&str, &str)]) -> Graph {
        build(&inventory(groups), site, roles, None).unwrap()
    }

    const WEB_AND_DB: &str = "- hosts: web\n  roles: [app]\n- hosts: db\n  roles: [db]\n";

    #[tokio::test(start_paused = true)]
    async fn requires_and_after_finish_before_their_dependents() {
        let roles = [("app", "requires: [base]\nafter: [db]\n"), ("base", ""), ("db", "")];
        let g = graph(&[("web", &["w1", "w2"]), ("db", &["d1", "d2"])], WEB_AND_DB, &roles);
        let w = walk_with(&g, None, Fake::new().taking("db@d2", 30)).await;
        for host in ["w1", "w2"] {
            let app = w.at("start", &format!("app@{host}"));
            assert!(app >= w.at("end", &format!("base@{host}")));
            // The barrier is done exactly when its last member is, not later.
            assert_eq!(app, w.at("end", "db@d2"));
        }
        assert_eq!(w.status("every db"), (Status::Ok, None));
        assert_eq!(w.results.len(), g.g.node_count());
    }

    #[tokio::test(start_paused = true)]
    async fn a_unit_starts_when_its_own_predecessors_are_done_not_its_wave() {
        let g = graph(
            &[("web", &["w1", "w2"])],
            "- hosts: web\n  roles: [app]\n",
            &[("app", "requires: [base]\n"), ("base", "")],
        );
        let w = walk_with(&g, None, Fake::new().taking("base@w2", 50)).await;
        assert_eq!(w.at("start", "app@w1"), 10, "no lock-step: app@w1 does not wait for base@w2");
        assert_eq!(w.at("start", "app@w2"), 50);
    }

    #[tokio::test(start_paused = true)]
    async fn independent_hosts_overlap_and_one_host_runs_one_unit_at_a_time() {
        let g = graph(&[("web", &["w1", "w2", "w3"])], "- hosts: web\n  roles: [a, b]\n", &[("a", ""), ("b", "")]);
        let w = walk_with(&g, None, Fake::new()).await;
        let live = w.fake.live.lock().unwrap();
        assert_eq!(live.most, 3, "one unit per host at once, all hosts together");
        assert!(live.overlaps.is_empty(), "units overlapped on one host: {:?}", live.overlaps);
        assert_eq!(w.elapsed, 20, "two 10 ms units per host, hosts side by side");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_skips_its_descendants_and_nothing_else() {
        let site = "- hosts: web\n  roles: [top, mon]\n- hosts: db\n  roles: [client]\n";
        let roles = [
            ("top", "requires: [app]\n"),
            ("app", "requires: [base]\n"),
            ("base", ""),
            ("mon", ""),
            ("client", "after: [app]\n"),
        ];
        let g = graph(&[("web", &["w1", "w2"]), ("db", &["d1"])], site, &roles);
        let w = walk_with(&g, None, Fake::new().failing("base@w1", "boom")).await;
        assert_eq!(w.status("base@w1"), (Status::Failed, Some("boom")));
        let why = Some("because base failed on host w1");
        // Same host, further down the chain, and across hosts through the barrier.
        for node in ["app@w1", "top@w1", "every app", "client@d1"] {
            assert_eq!(w.status(node), (Status::Skipped, why), "{node}");
            assert!(!w.ran(node), "{node} ran");
        }
        for node in ["mon@w1", "base@w2", "app@w2", "top@w2"] {
            assert_eq!(w.status(node), (Status::Changed, None), "{node}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn serial_batches_wait_for_the_gate_before_them() {
        let site = "- hosts: web\n  roles: [app]\n  serial: 1\n";
        let g = graph(&[("web", &["w1", "w2", "w3"])], site, &[("app", "")]);
        let w = walk_with(&g, None, Fake::new()).await;
        let (gate1, gate2) = ("gate(binding 1 batch 1)", "gate(binding 1 batch 2)");
        assert_eq!(w.at("start", gate1), w.at("end", "app@w1"));
        assert_eq!(w.at("start", "app@w2"), w.at("end", gate1));
        assert_eq!(w.at("start", gate2), w.at("end", "app@w2"));
        assert_eq!(w.at("start", "app@w3"), w.at("end", gate2));
        let gates = w.fake.gates.lock().unwrap().clone();
        assert_eq!(
            gates,
            [
                (gate1.to_string(), vec![("w1".into(), Status::Changed)]),
                (gate2.into(), vec![("w2".into(), Status::Changed)])
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_gate_skips_the_later_batches() {
        let site = "- hosts: web\n  roles: [app]\n  serial: 1\n";
        let g = graph(&[("web", &["w1", "w2", "w3"])], site, &[("app", "")]);
        let w = walk_with(&g, None, Fake::new().failing("gate(binding 1 batch 1)", "unhealthy")).await;
        let why = Some("because gate(binding 1 batch 1) failed: unhealthy");
        for node in ["app@w2", "gate(binding 1 batch 2)", "app@w3"] {
            assert_eq!(w.status(node), (Status::Skipped, why), "{node}");
            assert!(!w.ran(node), "{node} ran");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_unit_is_weighed_by_its_batch_gate() {
        // The gate follows every unit of its batch and runs even after a
        // failure there: it decides, by max_fail_percentage, whether later
        // batches run.
        let site = "- hosts: web\n  roles: [app]\n  serial: 1\n  max_fail_percentage: 100\n";
        let g = graph(&[("web", &["w1", "w2"])], site, &[("app", "")]);
        let w = walk_with(&g, None, Fake::new().failing("app@w1", "boom")).await;
        assert_eq!(w.status("gate(binding 1 batch 1)").0, Status::Changed);
        assert_eq!(w.fake.gates.lock().unwrap()[0].1, [("w1".to_string(), Status::Failed)]);
        assert_eq!(w.status("app@w2").0, Status::Changed, "the gate let the next batch run");
        // A gate that refuses the batch skips the later batches, naming itself.
        let w = walk_with(
            &g,
            None,
            Fake::new().failing("app@w1", "boom").failing("gate(binding 1 batch 1)", "1 of 1 hosts failed"),
        )
        .await;
        assert_eq!(w.status("gate(binding 1 batch 1)").0, Status::Failed);
        let (status, why) = w.status("app@w2");
        assert_eq!(status, Status::Skipped);
        assert!(why.unwrap().starts_with("because gate(binding 1 batch 1) failed"), "{why:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn forks_caps_how_many_run_at_once() {
        let hosts: &[&str] = &["h1", "h2", "h3", "h4"];
        let g = graph(&[("all_hosts", hosts)], "- hosts: all_hosts\n  roles: [r]\n", &[("r", "")]);
        let w = walk_with(&g, Some(2), Fake::new()).await;
        assert_eq!((w.fake.live.lock().unwrap().most, w.elapsed), (2, 20));
        let w = walk_with(&g, Some(1), Fake::new()).await;
        assert_eq!((w.fake.live.lock().unwrap().most, w.elapsed), (1, 40));
        // No --forks: one per host.
        let w = walk_with(&g, None, Fake::new()).await;
        assert_eq!((w.fake.live.lock().unwrap().most, w.elapsed), (4, 10));
    }

    #[tokio::test(start_paused = true)]
    async fn progress_has_one_line_per_node_that_ran_in_its_format() {
        let site = "- hosts: web\n  roles: [app]\n  serial: 1\n- hosts: db\n  roles: [db]\n";
        let roles = [("app", "after: [db]\n"), ("db", "")];
        let g = graph(&[("web", &["w1", "w2"]), ("db", &["d1"])], site, &roles);
        let w = walk_with(&g, None, Fake::new().taking("db@d1", 1500).failing("app@w2", "boom")).await;
        // Barriers and skipped nodes print nothing.
        assert_eq!(
            w.lines,
            [
                "changed  db@d1 (1.5s)",
                "changed  app@w1 (0.0s)",
                "changed  gate(binding 1 batch 1) healthy",
                "FAILED   app@w2 (0.0s)",
            ]
        );
    }

    /// An interrupt set `at_ms` into the walk, and what was running then.
    fn interrupt_at(at_ms: u64) -> (Interrupt, Arc<StdMutex<Vec<String>>>) {
        let (interrupt, seen) = (Interrupt::default(), Arc::new(StdMutex::new(Vec::new())));
        let (i, s) = (interrupt.clone(), seen.clone());
        tokio::spawn(async move {
            sleep(Duration::from_millis(at_ms)).await;
            *s.lock().unwrap() = i.running();
            i.trigger();
        });
        (interrupt, seen)
    }

    #[tokio::test(start_paused = true)]
    async fn after_an_interrupt_running_units_finish_and_nothing_new_starts() {
        let g = graph(
            &[("web", &["w1", "w2"])],
            "- hosts: web\n  roles: [app]\n",
            &[("app", "requires: [base]\n"), ("base", "")],
        );
        let (interrupt, running) = interrupt_at(15);
        let w = walk_until(&g, None, Fake::new().taking("base@w1", 30), &interrupt).await;
        assert_eq!(*running.lock().unwrap(), ["base@w1", "app@w2"], "what an abort would name");
        // Running when interrupted: both finish, and report as they ended.
        assert_eq!((w.at("end", "base@w1"), w.status("base@w1")), (30, (Status::Changed, None)));
        assert_eq!((w.at("end", "app@w2"), w.status("app@w2")), (20, (Status::Changed, None)));
        // Ready after the interrupt: never started, reported as interrupted.
        assert!(!w.ran("app@w1"));
        assert_eq!(w.status("app@w1"), (Status::Skipped, Some("interrupted")));
        assert_eq!(w.lines.len(), 3, "no progress line for what did not run: {:?}", w.lines);
        assert!(interrupt.running().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_unit_waiting_for_its_host_or_a_fork_when_interrupted_does_not_start() {
        let g = graph(&[("web", &["w1", "w2"])], "- hosts: web\n  roles: [a, b]\n", &[("a", ""), ("b", "")]);
        let (interrupt, _) = interrupt_at(5);
        let w = walk_until(&g, Some(1), Fake::new(), &interrupt).await;
        let ran: Vec<&str> = ["a@w1", "b@w1", "a@w2", "b@w2"].into_iter().filter(|n| w.ran(n)).collect();
        assert_eq!(ran.len(), 1, "one fork: one unit ran, the three waiting did not: {ran:?}");
        let interrupted = w.results.values().filter(|r| r.message.as_deref() == Some("interrupted")).count();
        assert_eq!(interrupted, 3);
        assert_eq!(w.elapsed, 10);
    }

    #[tokio::test(start_paused = true)]
    async fn each_host_is_done_once_when_its_last_unit_ends_or_is_skipped() {
        let g = graph(
            &[("web", &["w1", "w2"])],
            "- hosts: web\n  roles: [app]\n",
            &[("app", "requires: [base]\n"), ("base", "")],
        );
        let w = walk_with(&g, None, Fake::new().failing("base@w1", "boom").taking("app@w2", 25)).await;
        let done: Vec<(u64, String)> = {
            let log = w.fake.log.lock().unwrap();
            log.iter().filter(|(_, what, _)| *what == "done").map(|(at, _, h)| (*at, h.clone())).collect()
        };
        // w1: base failed at 10 and app was skipped then; w2: app ended at 35.
        assert_eq!(done, [(10, "w1".to_string()), (35, "w2".to_string())]);
        let last: Vec<String> = {
            let log = w.fake.log.lock().unwrap();
            log.iter().filter(|(_, what, _)| *what == "last").map(|(_, _, n)| n.clone()).collect()
        };
        assert_eq!(last, ["app@w2"], "told to the last unit of a host only");
        let (interrupt, _) = interrupt_at(0);
        let w = walk_until(&g, None, Fake::new(), &interrupt).await;
        let done = w.fake.log.lock().unwrap().iter().filter(|(_, what, _)| *what == "done").count();
        assert_eq!(done, 2, "interrupted before anything ran: every host is still done (its lock given back)");
    }
}
