//! The flags, in groups, and which subcommand takes which: each subcommand's
//! help lists only what applies to it (`man` takes no `--limit`, `vault
//! keygen` no `--forks`). `Common` is every flag's value at once, with the
//! defaults for the groups a subcommand does not take, for `settings`.

use clap::Args;
use std::path::PathBuf;

/// How rigger prints: every command takes these.
#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Machine-readable report on stdout (schema: docs/json.md); human text goes to stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// More detail: -v unchanged and skipped resources (and why), -vv each ssh connection and
    /// script with timings, -vvv the scripts themselves (secrets sealed). RIGGER_LOG=info|debug|trace does the same.
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and the recap.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// Colors: auto (on a terminal), always, never.
    #[arg(long, global = true, default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub color: String,
}

/// What opens encrypted vars files.
#[derive(Args, Debug, Clone, Default)]
pub struct VaultArgs {
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
}

/// Which inventory, and the highest-precedence vars.
#[derive(Args, Debug, Clone, Default)]
pub struct InventoryArgs {
    /// Inventory file or directory (Ansible YAML or INI), or `vagrant:DIR` for the Vagrant machines in DIR.
    #[arg(short = 'i', long = "inventory", global = true, default_value = "inventory/", env = "RIGGER_INVENTORY")]
    pub inventory: PathBuf,
    /// Extra variables, highest precedence: `key=value` (value parsed as YAML) or `@file.yaml`.
    #[arg(short = 'e', long = "extra-vars", global = true)]
    pub extra_vars: Vec<String>,
}

/// Which hosts.
#[derive(Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// Only these hosts or groups: names and globs separated by `,` or `:`; `!x` excludes, `&x` intersects.
    #[arg(short = 'l', long, global = true)]
    pub limit: Option<String>,
}

/// Which resources.
#[derive(Args, Debug, Clone, Default)]
pub struct TagArgs {
    /// Only resources with one of these tags (a role's name is also its tag).
    #[arg(short = 't', long, global = true, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Leave out resources with one of these tags (wins over --tags; a role's name is also its tag).
    #[arg(long, global = true, value_delimiter = ',', value_name = "TAGS")]
    pub skip_tags: Vec<String>,
}

/// How hosts are reached.
#[derive(Args, Debug, Clone, Default)]
pub struct ConnectArgs {
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
    /// Keep each host's ssh master up this long, idle, for the next run to reuse (0: close at exit).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60)]
    pub persist: u64,
}

/// Every flag's value, as `settings` reads them.
#[derive(Debug, Clone)]
pub struct Common {
    pub output: OutputArgs,
    pub vault: VaultArgs,
    pub inventory: InventoryArgs,
    pub limit: LimitArgs,
    pub tags: TagArgs,
    pub connect: ConnectArgs,
}

impl Default for Common {
    /// What a subcommand that does not take a group runs with: clap's own defaults.
    fn default() -> Self {
        Common {
            output: OutputArgs { color: "auto".into(), ..OutputArgs::default() },
            vault: VaultArgs::default(),
            inventory: InventoryArgs { inventory: PathBuf::from("inventory/"), ..InventoryArgs::default() },
            limit: LimitArgs::default(),
            tags: TagArgs::default(),
            connect: ConnectArgs::default(),
        }
    }
}

/// The flags of a subcommand, as one `Common`.
pub trait Flags {
    fn common(&self) -> Common;
}

/// Declares a subcommand's set of groups: a clap `Args` flattening each, and its `Common`.
macro_rules! flags {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $group:ty),* }) => {
        $(#[$doc])*
        #[derive(Args, Debug, Clone)]
        pub struct $name {
            $(#[command(flatten)] pub $field: $group,)*
        }
        impl Flags for $name {
            // `RunFlags` takes every group, so its update adds nothing; the others need it.
            #[allow(clippy::needless_update)]
            fn common(&self) -> Common {
                Common { $($field: self.$field.clone(),)* ..Common::default() }
            }
        }
    };
}

flags!(
    /// Commands that only print: `init`, `show`, `doc`, `man`, `completions`, `import`.
    OutputFlags { output: OutputArgs }
);
flags!(
    /// `vault`: output and what opens encrypted files.
    VaultFlags { output: OutputArgs, vault: VaultArgs }
);
flags!(
    /// `check` and `graph`: the project, offline.
    ProjectFlags { output: OutputArgs, vault: VaultArgs, inventory: InventoryArgs, limit: LimitArgs, tags: TagArgs }
);
flags!(
    /// `plan` and `apply`: the project and its hosts.
    RunFlags {
        output: OutputArgs,
        vault: VaultArgs,
        inventory: InventoryArgs,
        limit: LimitArgs,
        tags: TagArgs,
        connect: ConnectArgs
    }
);
flags!(
    /// `facts`: one host's vars, and its facts over a connection.
    FactsFlags { output: OutputArgs, vault: VaultArgs, inventory: InventoryArgs, connect: ConnectArgs }
);
flags!(
    /// `inventory`: hosts and groups.
    InventoryFlags { output: OutputArgs, vault: VaultArgs, inventory: InventoryArgs, limit: LimitArgs }
);
flags!(
    /// `runs`: the recorded runs beside the inventory.
    RunsFlags { output: OutputArgs, inventory: InventoryArgs }
);
