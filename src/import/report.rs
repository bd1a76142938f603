//! What `rigger import` tells about each Ansible task: converted, converted
//! with a note, or not converted (and why), with the task's file:line; and
//! the exit code that sums it up (0 all converted, 2 some need a hand).

use std::fmt::Write as _;

/// How one task came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Same meaning in rigger, nothing to read.
    Converted,
    /// Converted; the note says what differs or was dropped.
    Noted,
    /// Left out of the rigger role; the note says why. It needs a hand.
    NotConverted,
}

/// One task's line in the report.
#[derive(Debug, Clone)]
pub struct TaskLine {
    /// `tasks/main.yml:12`, relative to the Ansible role or playbook.
    pub at: String,
    /// The task's `name:`, or its module when it has none.
    pub task: String,
    pub status: Status,
    /// What it became (`package`, `query haproxy_version`), empty when not converted.
    pub became: String,
    pub notes: Vec<String>,
}

/// Every task of one imported role (or play), in the order read.
#[derive(Debug, Clone, Default)]
pub struct RoleReport {
    pub role: String,
    pub lines: Vec<TaskLine>,
}

impl RoleReport {
    pub fn new(role: &str) -> Self {
        RoleReport { role: role.to_string(), lines: Vec::new() }
    }

    /// Records a task; a note on a converted task makes it `Noted`.
    pub fn push(&mut self, at: String, task: String, became: String, notes: Vec<String>, converted: bool) {
        let status = match (converted, notes.is_empty()) {
            (false, _) => Status::NotConverted,
            (true, true) => Status::Converted,
            (true, false) => Status::Noted,
        };
        self.lines.push(TaskLine { at, task, status, became, notes });
    }

    pub fn count(&self, status: Status) -> usize {
        self.lines.iter().filter(|l| l.status == status).count()
    }

    /// Tasks that need no hand (converted, with or without a note), in percent of all.
    pub fn share_without_hand(&self) -> u32 {
        let total = self.lines.len();
        if total == 0 {
            return 100;
        }
        let ok = total - self.count(Status::NotConverted);
        ((ok * 100) as f64 / total as f64).round() as u32
    }

    /// One line per task, then the role's totals.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            let (word, became) = match l.status {
                Status::Converted => ("converted", format!(" → {}", l.became)),
                Status::Noted => ("converted with a note", format!(" → {}", l.became)),
                Status::NotConverted => ("NOT converted", String::new()),
            };
            let notes = if l.notes.is_empty() { String::new() } else { format!(": {}", l.notes.join("; ")) };
            let _ = writeln!(out, "{}: {word}: {}{became}{notes}", l.at, l.task);
        }
        let _ = writeln!(
            out,
            "role {}: {} tasks: {} converted, {} converted with a note, {} not converted ({}% without a hand)",
            self.role,
            self.lines.len(),
            self.count(Status::Converted),
            self.count(Status::Noted),
            self.count(Status::NotConverted),
            self.share_without_hand()
        );
        out
    }
}

/// 0 when every task of every role converted, 2 when some need a hand.
pub fn exit_code(roles: &[RoleReport]) -> i32 {
    if roles.iter().any(|r| r.count(Status::NotConverted) > 0) {
        2
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_makes_a_converted_task_noted_and_a_refusal_sets_exit_2() {
        let mut r = RoleReport::new("web");
        r.push("tasks/main.yml:2".into(), "a".into(), "package".into(), vec![], true);
        r.push("tasks/main.yml:5".into(), "b".into(), "service".into(), vec!["become dropped".into()], true);
        assert_eq!(exit_code(std::slice::from_ref(&r)), 0);
        r.push(
            "tasks/main.yml:9".into(),
            "c".into(),
            String::new(),
            vec!["`wait_for` has no rigger kind".into()],
            false,
        );
        assert_eq!((r.count(Status::Converted), r.count(Status::Noted), r.count(Status::NotConverted)), (1, 1, 1));
        assert_eq!(r.share_without_hand(), 67);
        assert_eq!(exit_code(&[r.clone()]), 2);
        let text = r.render();
        assert!(text.contains("tasks/main.yml:5: converted with a note: b → service: become dropped"), "{text}");
        assert!(text.contains("tasks/main.yml:9: NOT converted: c: `wait_for` has no rigger kind"), "{text}");
        assert!(text.ends_with("1 not converted (67% without a hand)\n"), "{text}");
    }
}
