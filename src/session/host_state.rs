//! rigger's own folder on a host — pending-handler journals and the run
//! lock: `/var/lib/rigger` when the scripts run as root, a per-user folder
//! (`$XDG_STATE_HOME/rigger`, else `~/.local/state/rigger`) otherwise, or the
//! folder the inventory names (`rigger_state_dir`). The host decides which
//! (`id -u`), because only it knows who a script runs as after ssh and sudo.

use crate::resource::path::{self, PathState};
use crate::session::probe::{answer, Ask, HostState, Probe, ProbeError, Query};
use crate::session::target::Target;
use crate::shell::quote;

/// Where a local host keeps its state when set, one subfolder per inventory
/// host: lets tests (and several local "hosts" of one machine) keep their
/// journals and locks apart.
pub const LOCAL_DIR_ENV: &str = "RIGGER_HOST_STATE_DIR";

/// The folder the inventory (`rigger_state_dir`) or, for a local host, the
/// environment (`RIGGER_HOST_STATE_DIR`) names; `None`: the host decides.
pub fn configured(target: &Target) -> Option<String> {
    match std::env::var(LOCAL_DIR_ENV) {
        Ok(d) if target.local && !d.is_empty() => Some(format!("{d}/{}", target.name.replace('/', "_"))),
        _ => target.state_dir.clone(),
    }
}

/// Who the scripts run as on the host, when this side can tell.
pub fn user(target: &Target) -> Option<String> {
    if target.become_ {
        return Some(target.become_user.clone().unwrap_or_else(|| "root".into()));
    }
    if target.local {
        return std::env::var("USER").ok().filter(|u| !u.is_empty());
    }
    target.user.clone()
}

/// Root's state folder.
pub const ROOT_DIR: &str = "/var/lib/rigger";

/// The sh variable every script sets first to the state folder.
pub const VAR: &str = "rigger_state";

/// The sh that sets `$rigger_state`: the configured folder, else root's or
/// the user's. An unset `$HOME` stops the script with sh's own message
/// rather than putting state somewhere nobody would look. The effective uid
/// comes from /proc by sh's own `read` (`id` where there is no /proc): every
/// script starts with this line, and a program costs the host a millisecond.
pub fn shell_line(configured: Option<&str>) -> String {
    match configured {
        Some(d) => format!("{VAR}={}\n", quote(d)),
        None => format!(
            "rigger_uid=; while read -r rigger_k _ rigger_e _; do if [ \"$rigger_k\" = Uid: ]; then rigger_uid=$rigger_e; break; fi; done 2>/dev/null </proc/self/status\n\
             [ -n \"$rigger_uid\" ] || rigger_uid=$(id -u)\n\
             if [ \"$rigger_uid\" = 0 ]; then {VAR}={ROOT_DIR}; else {VAR}=\"${{XDG_STATE_HOME:-${{HOME:?}}/.local/state}}/rigger\"; fi\n"
        ),
    }
}

/// The folder as a message can name it, seen from here: exact when it is
/// configured or the user is known, else both candidates.
pub fn display(configured: Option<&str>, user: Option<&str>) -> String {
    match (configured, user) {
        (Some(d), _) => d.to_string(),
        (None, Some("root")) => ROOT_DIR.to_string(),
        (None, Some(u)) => format!("~{u}/.local/state/rigger"),
        (None, None) => format!("{ROOT_DIR} (~/.local/state/rigger when not root)"),
    }
}

/// The sh words for role `role`'s pending-handler journal.
pub fn journal_sh(role: &str) -> String {
    format!("\"${VAR}/pending/\"{}", quote(role))
}

/// The sh words for the journals' folder.
pub fn journals_sh() -> String {
    format!("\"${VAR}/pending\"")
}

/// A journal, probed as a path (`path`'s answer) under `$rigger_state`.
static JOURNAL: Probe = Probe {
    name: "journal",
    ask: Ask::Each(|role| path::stat_sh(&journal_sh(role))),
    parse: |_, lines| path::parse_state(lines).map(answer),
};

/// The query for role `role`'s journal.
pub fn journal_query(role: &str) -> Query {
    Query::new(&JOURNAL, role)
}

/// What the probe found of role `role`'s journal.
pub fn journal<'a>(state: &'a HostState, role: &str) -> Result<&'a PathState, ProbeError> {
    state.get::<PathState>(&journal_query(role))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str, env: &[(&str, &str)]) -> String {
        run_as(&[], script, env)
    }

    /// `script` in sh, started by `via` (a command that changes user) when given.
    fn run_as(via: &[&str], script: &str, env: &[(&str, &str)]) -> String {
        let mut argv: Vec<&str> = via.to_vec();
        argv.push("sh");
        let out = std::process::Command::new(argv[0])
            .args(&argv[1..])
            .arg("-c")
            .arg(format!("{script}printf %s \"${VAR}\""))
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn the_folder_is_the_users_unless_root_or_configured() {
        let got = run(&shell_line(None), &[("HOME", "/home/u")]);
        let root = nix_is_root();
        assert_eq!(got, if root { ROOT_DIR } else { "/home/u/.local/state/rigger" });
        // As root (CI), the user's branch runs as nobody.
        let via: &[&str] = if root { &["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] } else { &[] };
        assert_eq!(run_as(via, &shell_line(None), &[("HOME", "/h")]), "/h/.local/state/rigger");
        assert_eq!(run_as(via, &shell_line(None), &[("HOME", "/h"), ("XDG_STATE_HOME", "/x")]), "/x/rigger");
        assert_eq!(run_as(via, &shell_line(None), &[]), "", "no HOME: the script stops");
        assert_eq!(run(&shell_line(Some("/srv/it's")), &[]), "/srv/it's");
    }

    fn nix_is_root() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    }

    #[test]
    fn journal_paths_quote_the_role() {
        assert_eq!(journal_sh("it's"), "\"$rigger_state/pending/\"'it'\\''s'");
    }
}
