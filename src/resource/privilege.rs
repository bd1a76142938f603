//! `become:` and `become_user:` on a resource, a handler or a block: whose
//! privileges its steps run with on the host. The probe and every other step
//! keep the connection's (`ansible_become`); only this resource's steps are
//! wrapped, so a role can run one command as `postgres` and the rest as root.

use super::kind::{Resource, ResourceError, Step};
use crate::session::probe::{HostState, Query};
use std::sync::Arc;

/// The keys as written; an unset key is taken from the enclosing block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Privilege {
    pub become_: Option<bool>,
    pub user: Option<String>,
}

/// Whom the steps run as.
#[derive(Debug, Clone, PartialEq)]
enum RunAs {
    /// root: as they are when the connection is root already, else through `sudo -n`.
    Root,
    /// This user: `runuser` from root, `sudo -n -u` otherwise.
    User(String),
    /// `become: false`: the login user, when the connection became root through sudo.
    Login,
}

impl Privilege {
    /// Keys unset here taken from `outer` (a block's).
    pub fn within(&self, outer: &Privilege) -> Privilege {
        Privilege { become_: self.become_.or(outer.become_), user: self.user.clone().or_else(|| outer.user.clone()) }
    }

    /// `become_user:` alone is enough (Ansible also wants `become: true`,
    /// which real roles set on the play): rigger has no play to set it on.
    fn run_as(&self) -> Option<RunAs> {
        match (self.become_, &self.user) {
            (Some(false), _) => Some(RunAs::Login),
            (_, Some(u)) => Some(RunAs::User(u.clone())),
            (Some(true), None) => Some(RunAs::Root),
            (None, None) => None,
        }
    }
}

/// `inner` whose steps run as `p` says; `inner` itself when `p` says nothing.
pub fn wrap(inner: Arc<dyn Resource>, p: &Privilege) -> Arc<dyn Resource> {
    match p.run_as() {
        Some(run_as) => Arc::new(Privileged { inner, run_as }),
        None => inner,
    }
}

#[derive(Debug)]
struct Privileged {
    inner: Arc<dyn Resource>,
    run_as: RunAs,
}

/// The command that runs a script read from stdin as `run_as`, decided on
/// the host (is the connection root? did it come through sudo?).
fn runner(run_as: &RunAs) -> String {
    let q = crate::shell::quote;
    match run_as {
        RunAs::Root => r#"if [ "$(id -u)" -eq 0 ]; then run=; else run="sudo -n --"; fi"#.into(),
        RunAs::User(u) => format!(
            r#"if [ "$(id -u)" -eq 0 ]; then run="runuser -u {u} --"; else run="sudo -n -H -u {u} --"; fi"#,
            u = q(u)
        ),
        RunAs::Login => concat!(
            r#"if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; "#,
            r#"then run="runuser -u $SUDO_USER --"; else run=; fi"#
        )
        .into(),
    }
}

/// `script` run as `run_as`. The script goes on stdin (never on a command
/// line, where `ps` would show a secret in it) and is read whole before it
/// runs, so a command in it that reads stdin gets nothing rather than the
/// rest of the script. The user's home is its working folder.
fn wrap_script(script: &str, run_as: &RunAs) -> String {
    let mut end = String::from("RIGGER_BECOME");
    while script.lines().any(|l| l == end) {
        end.push('_');
    }
    let inner = r#"s=$(cat); exec </dev/null; h=$(getent passwd "$(id -un)" | cut -d: -f6); export HOME="${h:-/}"; cd "$HOME" 2>/dev/null || cd /; set -e; eval "$s""#;
    format!(
        "{}\n$run sh -c {} <<'{end}'\n{script}{}{end}\n",
        runner(run_as),
        crate::shell::quote(inner),
        if script.ends_with('\n') { "" } else { "\n" }
    )
}

impl Privileged {
    fn steps(&self, steps: Result<Vec<Step>, ResourceError>) -> Result<Vec<Step>, ResourceError> {
        Ok(steps?
            .into_iter()
            .map(|mut s| {
                s.script = wrap_script(&s.script, &self.run_as);
                s
            })
            .collect())
    }
}

impl Resource for Privileged {
    fn label(&self) -> String {
        self.inner.label()
    }
    fn queries(&self) -> Vec<Query> {
        self.inner.queries()
    }
    fn plan(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        self.steps(self.inner.plan(state))
    }
    fn handler_steps(&self, state: &HostState) -> Result<Vec<Step>, ResourceError> {
        self.steps(self.inner.handler_steps(state))
    }
    fn handler_reads_state(&self) -> bool {
        self.inner.handler_reads_state()
    }
    fn notify(&self) -> &[String] {
        self.inner.notify()
    }
    fn writes_into(&self) -> Option<&str> {
        self.inner.writes_into()
    }
    fn may_make(&self, dir: &str) -> bool {
        self.inner.may_make(dir)
    }
    fn rendered(&self) -> Vec<(String, Vec<u8>)> {
        self.inner.rendered()
    }
    fn rendered_in_clear(&self) -> Vec<(String, Vec<u8>)> {
        self.inner.rendered_in_clear()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn p(become_: Option<bool>, user: Option<&str>) -> Privilege {
        Privilege { become_, user: user.map(str::to_string) }
    }

    #[test]
    fn a_block_gives_what_a_resource_leaves_unset() {
        let outer = p(Some(true), Some("postgres"));
        assert_eq!(p(None, None).within(&outer), outer);
        assert_eq!(p(Some(false), None).within(&outer), p(Some(false), Some("postgres")));
        assert_eq!(p(Some(false), Some("x")).run_as(), Some(RunAs::Login));
        assert_eq!(p(None, Some("x")).run_as(), Some(RunAs::User("x".into())));
        assert_eq!(p(None, None).run_as(), None);
    }

    /// The wrapped script runs in sh as written, reads no stdin, and keeps a
    /// line that looks like the end of its here-document.
    #[test]
    fn the_wrapped_script_runs_whole_and_reads_no_stdin() {
        let script = "set -e\nprintf 'a %s\\n' \"$(id -u)\"\nRIGGER_BECOME\nx=$(cat); printf 'stdin=[%s]\\n' \"$x\"\n";
        // As root (the test host may be root or not): run as the login user, which is a no-op.
        let wrapped = wrap_script(&script.replace("RIGGER_BECOME\n", "echo RIGGER_BECOME\n"), &RunAs::Login);
        let out = Command::new("sh").arg("-c").arg(&wrapped).stdin(std::process::Stdio::null()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("RIGGER_BECOME\nstdin=[]"), "{text}");
        assert!(wrap_script(script, &RunAs::Root).contains("<<'RIGGER_BECOME_'\n"));
    }
}
