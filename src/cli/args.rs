//! The raw command line, as clap parses it: every flag, help text, default and
//! environment variable. Nothing here is validated; `settings` does that.

use super::flags::{Common, FactsFlags, InventoryFlags, OutputFlags, ProjectFlags, RunFlags, RunsFlags, VaultFlags};
use super::report_args::ReportArgs;
use super::runs::RunsAction;
use crate::lab::Image;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "rigger",
    version,
    about = "Agentless provisioning: a role graph across hosts, applied over SSH, idempotently.",
    after_help = "Examples:\n  rigger check                      # offline: parse, resolve, render every template\n  rigger plan -i inventory/lab      # what would change, with diffs (exit 2 if anything)\n  rigger apply -i inventory/lab --yes\n  rigger graph --dot | dot -Tsvg > graph.svg\n  rigger inventory -i hosts.ini --list"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Make a new project in DIR: an inventory of this machine, a site and one role, ready for check, plan and apply without root.
    #[command(
        after_help = "Examples:\n  rigger init hello && cd hello && rigger check && rigger plan && rigger apply"
    )]
    Init {
        /// The project folder (made if missing; no file in it is overwritten).
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        common: OutputFlags,
    },
    /// Offline: parse everything, resolve the graph, render every template for every host. No SSH.
    #[command(
        after_help = "Examples:\n  rigger check                         # site.yaml against inventory/\n  rigger check -i inventory/prod       # another inventory\n  rigger check --out /tmp/rendered     # also write every rendered file, per host"
    )]
    #[command(visible_alias = "validate")]
    Check {
        /// The site: which roles go on which hosts.
        #[arg(default_value = "site.yaml")]
        site: PathBuf,
        /// Also write every rendered file to DIR/<host>/<path>: files that depend on a secret masked,
        /// `secret: true` files left out.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// With --out: write files that depend on secrets, and secret ones, as they are.
        #[arg(long, requires = "out")]
        show_secrets: bool,
        #[command(flatten)]
        common: ProjectFlags,
    },
    /// Connect, probe and show what would change, with diffs. Changes nothing. Exit 2 if changes are pending.
    #[command(
        after_help = "Examples:\n  rigger plan -i inventory/lab                  # exit 0: in sync, 2: changes pending, 1: error\n  rigger plan --limit lb -e haproxy_maxconn=8000\n  rigger plan --json > plan.json                # for CI (schema: docs/json.md)\n  rigger plan --out saved.json && rigger apply saved.json   # apply exactly this, or refuse if stale"
    )]
    Plan {
        /// The site (which roles go on which hosts), or a plan saved with `plan --out`.
        #[arg(default_value = "site.yaml")]
        site: PathBuf,
        /// Save the plan and the observed state; `rigger apply FILE` applies exactly it, or refuses if stale.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        common: RunFlags,
    },
    /// Plan, then converge the hosts. Asks first unless --yes. SITE may be a plan saved with `plan --out`.
    #[command(
        after_help = "Examples:\n  rigger apply -i inventory/lab                 # shows the plan, asks, converges\n  rigger apply -i inventory/lab --yes --limit 'web:!h4'\n  rigger apply --tags haproxy --forks 5\n  rigger apply saved.json --yes                 # a plan saved with `plan --out`"
    )]
    Apply {
        /// The site (which roles go on which hosts), or a plan saved with `plan --out`.
        #[arg(default_value = "site.yaml")]
        site: PathBuf,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
        /// Ansible's dry run: change nothing, only plan (the same as `rigger plan`).
        #[arg(short = 'C', long, conflicts_with = "yes")]
        check: bool,
        /// Ansible's --diff: accepted for habit's sake; rigger always shows diffs.
        #[arg(long)]
        diff: bool,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        common: RunFlags,
    },
    /// A plan saved with `plan --out`, its seal checked: per host and unit, the changes and diffs; never a script or a secret.
    #[command(
        after_help = "Examples:\n  rigger plan --out saved.json && rigger show saved.json\n  rigger show saved.json --json | jq '.hosts[].units | keys'"
    )]
    Show {
        /// A plan saved with `plan --out`.
        plan: PathBuf,
        #[command(flatten)]
        common: OutputFlags,
    },
    /// The resolved (host, role) dependency graph, by wave; --dot for Graphviz.
    #[command(after_help = "Examples:\n  rigger graph -i inventory/lab\n  rigger graph --dot | dot -Tsvg > graph.svg")]
    Graph {
        /// The site: which roles go on which hosts.
        #[arg(default_value = "site.yaml")]
        site: PathBuf,
        /// Graphviz instead of text (`rigger graph --dot | dot -Tsvg > graph.svg`).
        #[arg(long, conflicts_with_all = ["list_hosts", "resources"])]
        dot: bool,
        /// Only the hosts the run would touch, one per line (Ansible's --list-hosts).
        #[arg(long, conflicts_with = "resources")]
        list_hosts: bool,
        /// Per host, its units in order and the resources each would converge,
        /// rendered offline (Ansible's --list-tasks).
        #[arg(long)]
        resources: bool,
        #[command(flatten)]
        common: ProjectFlags,
    },
    /// What rigger knows about a host: its vars and (unless --offline) its probed facts.
    #[command(after_help = "Examples:\n  rigger facts -i inventory/lab h1\n  rigger facts h1 --offline | jq .vars")]
    Facts {
        /// The inventory host.
        host: String,
        /// Only vars from the inventory; do not connect.
        #[arg(long)]
        offline: bool,
        #[command(flatten)]
        common: FactsFlags,
    },
    /// Encrypted vars files (age): keygen, encrypt, decrypt, edit; import from ansible-vault. Values from them never appear in any output.
    #[command(
        after_help = "Examples:\n  rigger vault keygen ~/.config/rigger/vault.key\n  export RIGGER_VAULT_KEY_FILE=~/.config/rigger/vault.key\n  rigger vault encrypt inventory/group_vars/all/secrets.yaml   # → secrets.yaml.age\n  rigger vault edit inventory/group_vars/all/secrets.yaml.age\n  rigger vault import group_vars/all/vault.yml --vault-password-file ~/.vault_pass   # ansible-vault → vault.yml.age"
    )]
    Vault {
        #[command(subcommand)]
        action: VaultAction,
        #[command(flatten)]
        common: VaultFlags,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
        #[command(flatten)]
        common: OutputFlags,
    },
    /// The role-file reference: the keys of a `resources:` entry, or one resource kind's.
    #[command(
        after_help = "Examples:\n  rigger doc              # loop, when, block, include… and every kind\n  rigger doc service"
    )]
    Doc {
        /// A resource kind (`package`, `service`, …).
        kind: Option<String>,
        /// Every kind as a Markdown table (the README's is this output).
        #[arg(long, conflicts_with = "kind")]
        markdown: bool,
        #[command(flatten)]
        common: OutputFlags,
    },
    /// Print a man page (roff) to stdout, rigger's or a subcommand's; or write them all into a folder.
    #[command(
        after_help = "Examples:\n  rigger man > rigger.1\n  rigger man plan | man -l -\n  rigger man --out /usr/local/share/man/man1     # rigger.1, rigger-plan.1, …"
    )]
    Man {
        /// A subcommand (`plan`, `vault`, …): its page, rigger-SUBCOMMAND(1).
        subcommand: Option<String>,
        /// Write every page (rigger.1 and rigger-SUBCOMMAND.1) into DIR instead.
        #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
        out: Option<PathBuf>,
        #[command(flatten)]
        common: OutputFlags,
    },
    /// Convert an Ansible role or playbook into rigger's files; one line per task. Exit 2 if some need a hand.
    #[command(
        after_help = "Examples:\n  rigger import ansible ~/src/ansible-role-haproxy        # → roles/haproxy/\n  rigger import ansible site.yml --out ../new-project     # → site.yaml and roles/\n\nExit codes: 0 every task converted, 2 some tasks need a hand (see import-todo.yaml), 1 error."
    )]
    Import {
        /// What to import from.
        #[arg(value_parser = ["ansible"])]
        from: String,
        /// A role folder (with tasks/main.yml) or a playbook (.yml, or a folder with site.yml).
        path: PathBuf,
        /// Where to write roles/NAME/ (and site.yaml for a playbook).
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
        #[command(flatten)]
        common: OutputFlags,
    },
    /// Recorded runs (`.rigger/runs/`): list them, show one, or diff two.
    #[command(
        after_help = "Examples:\n  rigger runs                          # time, command, hosts, changed, failed, duration\n  rigger runs show last --report run.html\n  rigger runs diff last~1 last         # what changed between the two latest runs"
    )]
    Runs {
        #[command(subcommand)]
        action: Option<RunsAction>,
        /// Where runs are recorded (default: `.rigger/runs/` beside the inventory).
        #[arg(long, value_name = "DIR", env = "RIGGER_RUNS_DIR", global = true)]
        runs_dir: Option<PathBuf>,
        #[command(flatten)]
        common: RunsFlags,
    },
    /// Hosts, groups and merged vars; --list prints JSON like `ansible-inventory --list`.
    #[command(
        after_help = "Examples:\n  rigger inventory -i hosts.ini\n  rigger inventory --list | jq '.web.hosts'\n  rigger inventory --host h1\n  rigger inventory --from-vagrant . > inventory/vagrant.yaml"
    )]
    Inventory {
        /// Every group and host with its vars, as JSON shaped like `ansible-inventory --list`.
        #[arg(long)]
        list: bool,
        /// Vars of one host as JSON.
        #[arg(long)]
        host: Option<String>,
        /// Print an Ansible YAML inventory of the Vagrant machines in DIR (runs `vagrant ssh-config` there).
        #[arg(long, value_name = "DIR", conflicts_with_all = ["list", "host"])]
        from_vagrant: Option<PathBuf>,
        #[command(flatten)]
        common: InventoryFlags,
    },
    /// The lab: VM-like Debian hosts (systemd-nspawn) on this machine, on their own bridge. Needs root.
    #[command(
        after_help = "Examples:\n  sudo rigger lab up 8                          # the default lab: h1..h8 on 10.77.0.0/24 (lab0)\n  sudo rigger lab up 2 --image debian13 --lab dev --net 10.78.9\n  sudo rigger lab ssh h1 systemctl is-active ssh\n  sudo rigger lab inventory > inventory/mylab.yaml\n  sudo rigger lab down --lab dev\n\nImages (Debian 12, Debian 13) are built once by debootstrap from this machine's apt mirror and cached in /var/lib/rigger-lab/images."
    )]
    Lab {
        #[command(subcommand)]
        action: LabAction,
        /// Which lab: `default` (bridge lab0, hosts hN, 10.77.0.0/24) or a name (a-z0-9, at most 8) for a lab of its own.
        #[arg(long = "lab", global = true, value_name = "NAME", env = "RIGGER_LAB")]
        name: Option<String>,
        /// A named lab's subnet, `A.B.C` of a private /24 (given once, at `up`; remembered).
        #[arg(long, global = true, value_name = "A.B.C")]
        net: Option<String>,
        /// The image of hosts started now: debian12 (bookworm) or debian13 (trixie).
        #[arg(long, global = true, default_value = "debian12", value_parser = Image::NAMES)]
        image: String,
        #[command(flatten)]
        common: OutputFlags,
    },
    /// Test roles on disposable lab hosts: create, converge, idempotence, verify, destroy. Needs root.
    #[command(
        after_help = "Examples:\n  sudo rigger test                        # every scenario of every role\n  sudo rigger test web haproxy:failover   # roles/web/tests/*.yaml, roles/haproxy/tests/failover.yaml\n  sudo rigger test web --keep             # leave the hosts up; prints how to reach them\n  sudo rigger test -j 2 --junit report.xml\n  sudo rigger test web --driver vagrant    # on real VMs (Vagrant, libvirt, QEMU)\n\nA scenario is roles/ROLE/tests/NAME.yaml (hosts, image, site, verify); see the README.\nExit codes: 0 every scenario passed, 1 otherwise."
    )]
    Test {
        /// ROLE (its every scenario) or ROLE:SCENARIO; default: every scenario of every role.
        scenarios: Vec<String>,
        /// Leave the hosts up after the run and print how to reach them.
        #[arg(long)]
        keep: bool,
        /// The image of every host, whatever the scenario says: debian12 or debian13.
        #[arg(long, value_parser = Image::NAMES)]
        image: Option<String>,
        /// Where the hosts come from, whatever the scenarios say: nspawn (lab containers, the default) or vagrant (VMs by `vagrant up`, libvirt under QEMU).
        #[arg(long, value_name = "DRIVER")]
        driver: Option<String>,
        /// Write a JUnit XML report (one testcase per phase per scenario) to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Scenarios run at once, each on its own lab network and hosts (default: one per CPU).
        #[arg(short = 'j', long, value_name = "N")]
        jobs: Option<usize>,
        /// The project folder holding roles/ (default: the current folder).
        #[arg(long, value_name = "DIR", default_value = ".")]
        project: PathBuf,
        #[command(flatten)]
        common: VaultFlags,
    },
}

/// What `rigger lab` does.
#[derive(Subcommand, Debug)]
pub enum LabAction {
    /// Start hosts h1..hN (idempotent: running hosts stay); returns once every host answers SSH.
    Up {
        /// How many hosts (1..50).
        n: String,
    },
    /// Stop every host and remove the lab's network and host state (the cached images stay).
    Down,
    /// One line per host: name, address, image, state, ssh.
    Status,
    /// Run CMD on HOST as root (or a login shell without CMD); its exit code is rigger's.
    Ssh {
        /// The lab host (h1, or a scenario's host name).
        host: String,
        /// The command and its words, joined by spaces and run by the host's shell.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// The lab's hosts as an Ansible YAML inventory (user, key and known_hosts set).
    Inventory,
    /// Stop one host: an orderly poweroff, or --hard: a power cut.
    Stop {
        /// The lab host.
        host: String,
        /// Cut the power: the host's peers hear nothing more.
        #[arg(long)]
        hard: bool,
    },
    /// Start one stopped host again (its disk state is kept).
    Start {
        /// The lab host.
        host: String,
    },
    /// Power-cut hosts, throw away their disk state, boot them fresh from their image.
    Wipe {
        /// The lab hosts.
        #[arg(required = true)]
        hosts: Vec<String>,
    },
    /// Down, then up again with the same hosts.
    Reset,
}

#[derive(Subcommand, Debug)]
pub enum VaultAction {
    /// Write a new age identity to FILE (mode 0600) and print its public key.
    Keygen {
        /// Where to write the identity (not overwritten if it exists).
        file: PathBuf,
    },
    /// Encrypt FILE to FILE.age and remove the plain file (unless --keep).
    Encrypt {
        /// A plain YAML vars file.
        file: PathBuf,
        /// Keep the plain file beside FILE.age.
        #[arg(long)]
        keep: bool,
    },
    /// Print the decrypted content of FILE.age.
    Decrypt {
        /// An encrypted vars file (FILE.age, or one ansible-vault encrypted).
        file: PathBuf,
    },
    /// Decrypt FILE.age into a private temp file, run $EDITOR on it, encrypt it back.
    Edit {
        /// An encrypted vars file (FILE.age).
        file: PathBuf,
    },
    /// Re-encrypt FILE, encrypted by ansible-vault, to FILE.age with rigger's key; remove FILE unless --keep.
    Import {
        /// A file encrypted whole by ansible-vault.
        file: PathBuf,
        /// Keep the ansible-vault file beside FILE.age.
        #[arg(long)]
        keep: bool,
    },
}

impl Command {
    /// The subcommand's name, as the `--json` error document reports it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Init { .. } => "init",
            Command::Check { .. } => "check",
            Command::Plan { .. } => "plan",
            Command::Apply { .. } => "apply",
            Command::Show { .. } => "show",
            Command::Graph { .. } => "graph",
            Command::Facts { .. } => "facts",
            Command::Inventory { .. } => "inventory",
            Command::Completions { .. } => "completions",
            Command::Vault { .. } => "vault",
            Command::Man { .. } => "man",
            Command::Doc { .. } => "doc",
            Command::Import { .. } => "import",
            Command::Runs { .. } => "runs",
            Command::Lab { .. } => "lab",
            Command::Test { .. } => "test",
        }
    }

    /// Every flag's value, with defaults for the groups this subcommand does not take.
    pub fn common(&self) -> Common {
        use super::flags::Flags;
        match self {
            Command::Init { common, .. } => common.common(),
            Command::Check { common, .. } => common.common(),
            Command::Plan { common, .. } => common.common(),
            Command::Apply { common, .. } => common.common(),
            Command::Show { common, .. } => common.common(),
            Command::Graph { common, .. } => common.common(),
            Command::Facts { common, .. } => common.common(),
            Command::Inventory { common, .. } => common.common(),
            Command::Completions { common, .. } => common.common(),
            Command::Vault { common, .. } => common.common(),
            Command::Doc { common, .. } => common.common(),
            Command::Import { common, .. } => common.common(),
            Command::Runs { common, .. } => common.common(),
            Command::Man { common, .. } => common.common(),
            Command::Lab { common, .. } => common.common(),
            Command::Test { common, .. } => common.common(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every flag and argument of every subcommand says what it is for.
    #[test]
    fn every_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.get_help().is_none() && !["help", "version"].contains(&id) {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "rigger", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }
}
