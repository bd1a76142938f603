//! Arbitrary commands, made idempotent by `creates` and `unless`: they run
//! (and report changed) only when those say the work is not done yet.

use super::Step;
use crate::probe::{HostState, Query};
use crate::shell::quote;

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub cmd: String,
    pub creates: Option<String>,
    pub unless: Option<String>,
    pub chdir: Option<String>,
    pub notify: Vec<String>,
}

impl Command {
    pub fn label(&self) -> String {
        let first = self.cmd.lines().next().unwrap_or("");
        if first.chars().count() > 48 || self.cmd.lines().count() > 1 {
            format!("{}…", first.chars().take(47).collect::<String>())
        } else {
            first.to_string()
        }
    }

    pub fn queries(&self) -> Vec<Query> {
        let mut q = Vec::new();
        if let Some(c) = &self.creates {
            q.push(Query::Path(c.clone()));
        }
        if let Some(u) = &self.unless {
            q.push(Query::Succeeds(u.clone()));
        }
        q
    }

    pub fn plan(&self, state: &HostState) -> Result<Vec<Step>, String> {
        crate::shell::check_value("cmd", &self.cmd, false)?;
        crate::shell::check_optional("chdir", &self.chdir, false)?;
        crate::shell::check_optional("unless", &self.unless, false)?;
        if let Some(c) = &self.creates {
            crate::resource::file::check_path(c)?;
            if state.path(c)?.exists() {
                return Ok(vec![]);
            }
        }
        if let Some(u) = &self.unless {
            if state.succeeds(u)? {
                return Ok(vec![]);
            }
        }
        Ok(self.forced())
    }

    pub fn forced(&self) -> Vec<Step> {
        let cd = self.chdir.as_ref().map(|d| format!("cd -- {} && ", quote(d))).unwrap_or_default();
        vec![Step::new("run", format!("{cd}sh -c {} </dev/null\n", quote(&self.cmd)))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::PathState;

    fn cmd() -> Command {
        Command {
            cmd: "make install".into(),
            creates: Some("/opt/app/bin".into()),
            unless: Some("app --version".into()),
            chdir: Some("/opt/src dir".into()),
            notify: vec![],
        }
    }

    #[test]
    fn creates_and_unless_skip() {
        let mut st = HostState::default();
        st.paths.insert("/opt/app/bin".into(), PathState { kind: "file".into(), ..Default::default() });
        st.succeeds.insert("app --version".into(), false);
        assert!(cmd().plan(&st).unwrap().is_empty(), "creates exists");
        st.paths.insert("/opt/app/bin".into(), PathState { kind: "absent".into(), ..Default::default() });
        st.succeeds.insert("app --version".into(), true);
        assert!(cmd().plan(&st).unwrap().is_empty(), "unless succeeded");
        st.succeeds.insert("app --version".into(), false);
        let steps = cmd().plan(&st).unwrap();
        assert_eq!(steps[0].script, "cd -- '/opt/src dir' && sh -c 'make install' </dev/null\n");
    }
}
