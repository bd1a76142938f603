//! The raw command line, as clap parses it: every flag, help text, default and
//! environment variable. Nothing here is validated; `settings` does that.

use super::report_args::ReportArgs;
use super::runs::RunsAction;
use clap::{Args, Parser, Subcommand};
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

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Inventory file or directory (Ansible YAML or INI), or `vagrant:DIR` for the Vagrant machines in DIR.
    #[arg(short = 'i', long = "inventory", global = true, default_value = "inventory/", env = "RIGGER_INVENTORY")]
    pub inventory: PathBuf,
    /// Only these hosts or groups: names and globs separated by `,` or `:`; `!x` excludes, `&x` intersects.
    #[arg(short = 'l', long, global = true)]
    pub limit: Option<String>,
    /// Only resources with one of these tags (a role's name is also its tag).
    #[arg(short = 't', long, global = true, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Leave out resources with one of these tags (wins over --tags; a role's name is also its tag).
    #[arg(long, global = true, value_delimiter = ',', value_name = "TAGS")]
    pub skip_tags: Vec<String>,
    /// Extra variables, highest precedence: `key=value` (value parsed as YAML) or `@file.yaml`.
    #[arg(short = 'e', long = "extra-vars", global = true)]
    pub extra_vars: Vec<String>,
    /// Machine-readable report on stdout (schema: docs/json.md); human text goes to stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// At most this many hosts in flight (default: all).
    #[arg(short = 'f', long, global = true)]
    pub forks: Option<usize>,
    /// Accept and record host keys of hosts seen for the first time (changed keys are still refused).
    #[arg(long, global = true)]
    pub accept_new_host_keys: bool,
    /// Ask for sudo's password on the terminal, for hosts with `ansible_become` and no `ansible_become_password`.
    #[arg(short = 'K', long, global = true)]
    pub ask_become_pass: bool,
    /// Wait up to this long for a host's run lock held by another run (default: fail at once).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 0)]
    pub lock_timeout: u64,
    /// More detail: -v unchanged and skipped resources (and why), -vv each ssh connection and
    /// script with timings, -vvv the scripts themselves (secrets sealed). RIGGER_LOG=info|debug|trace does the same.
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and the recap.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// age identity file that opens encrypted vars files (*.age); or set RIGGER_VAULT_KEY_FILE / RIGGER_VAULT_PASSWORD.
    #[arg(long, global = true, value_name = "FILE", env = "RIGGER_VAULT_KEY_FILE")]
    pub vault_key: Option<PathBuf>,
    /// Password of files and `!vault` values encrypted by ansible-vault: FILE or ID@FILE (a vault id);
    /// repeatable; an executable FILE is run for it. Default: RIGGER_VAULT_PASSWORD_FILE.
    #[arg(long, global = true, value_name = "[ID@]FILE", visible_alias = "vault-id")]
    pub vault_password_file: Vec<String>,
    /// Ask for the ansible-vault password on the terminal.
    #[arg(long, global = true)]
    pub ask_vault_pass: bool,
    /// Colors: auto (on a terminal), always, never.
    #[arg(long, global = true, default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub color: String,
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
        common: Common,
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
        common: Common,
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
        common: Common,
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
        common: Common,
    },
    /// A plan saved with `plan --out`, its seal checked: per host and unit, the changes and diffs; never a script or a secret.
    #[command(
        after_help = "Examples:\n  rigger plan --out saved.json && rigger show saved.json\n  rigger show saved.json --json | jq '.hosts[].units | keys'"
    )]
    Show {
        /// A plan saved with `plan --out`.
        plan: PathBuf,
        #[command(flatten)]
        common: Common,
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
        common: Common,
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
        common: Common,
    },
    /// Encrypted vars files (age): keygen, encrypt, decrypt, edit; import from ansible-vault. Values from them never appear in any output.
    #[command(
        after_help = "Examples:\n  rigger vault keygen ~/.config/rigger/vault.key\n  export RIGGER_VAULT_KEY_FILE=~/.config/rigger/vault.key\n  rigger vault encrypt inventory/group_vars/all/secrets.yaml   # → secrets.yaml.age\n  rigger vault edit inventory/group_vars/all/secrets.yaml.age\n  rigger vault import group_vars/all/vault.yml --vault-password-file ~/.vault_pass   # ansible-vault → vault.yml.age"
    )]
    Vault {
        #[command(subcommand)]
        action: VaultAction,
        #[command(flatten)]
        common: Common,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
        #[command(flatten)]
        common: Common,
    },
    /// The role-file reference: the keys of a `resources:` entry, or one resource kind's.
    #[command(
        after_help = "Examples:\n  rigger doc              # loop, when, block, include… and every kind\n  rigger doc service"
    )]
    Doc {
        /// A resource kind (`package`, `service`, …).
        kind: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Print the man page (roff) to stdout: `rigger man > rigger.1`.
    Man {
        #[command(flatten)]
        common: Common,
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
        common: Common,
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
        common: Common,
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
        common: Common,
    },
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
        }
    }

    /// The options every subcommand shares.
    pub fn common(&self) -> &Common {
        match self {
            Command::Init { common, .. }
            | Command::Check { common, .. }
            | Command::Plan { common, .. }
            | Command::Apply { common, .. }
            | Command::Show { common, .. }
            | Command::Graph { common, .. }
            | Command::Facts { common, .. }
            | Command::Inventory { common, .. }
            | Command::Completions { common, .. }
            | Command::Vault { common, .. }
            | Command::Doc { common, .. }
            | Command::Import { common, .. }
            | Command::Runs { common, .. }
            | Command::Man { common } => common,
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
