//! `--tags` and `--skip-tags`: which resources a run picks, and the check
//! that every tag named on the command line exists somewhere, so a typo is an
//! error with a suggestion rather than a run that silently does nothing.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The tags a run picks (`only`, none: every resource) and leaves out (`skip`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tags {
    #[serde(default, rename = "tags", skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    #[serde(default, rename = "skip_tags", skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<String>,
}

/// A tag named on the command line that no resource has.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{flag} {tag}`: no resource of the site has this tag, and no role has this name{}",
    near.as_ref().map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default())]
pub struct UnknownTag {
    pub flag: &'static str,
    pub tag: String,
    pub near: Option<String>,
}

impl Tags {
    /// Why a resource of `role` tagged `tags` is left out, if it is:
    /// `--skip-tags` wins over `--tags`, as in Ansible. A role's name is also its tag.
    pub fn leaves_out(&self, role: &str, tags: &[String]) -> Option<&'static str> {
        let has = |t: &String| t == role || tags.contains(t);
        if self.skip.iter().any(has) {
            Some("in --skip-tags")
        } else if !self.only.is_empty() && !self.only.iter().any(has) {
            Some("not in --tags")
        } else {
            None
        }
    }

    /// Every tag named is one of `known` (the resources' tags and the roles' names).
    pub fn check(&self, known: &BTreeSet<String>) -> Result<(), UnknownTag> {
        let named = self.only.iter().map(|t| ("--tags", t)).chain(self.skip.iter().map(|t| ("--skip-tags", t)));
        for (flag, tag) in named {
            if !known.contains(tag) {
                let near = crate::template::suggest(tag, known.iter().map(String::as_str)).map(str::to_string);
                return Err(UnknownTag { flag, tag: tag.clone(), near });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(only: &[&str], skip: &[&str]) -> Tags {
        Tags { only: only.iter().map(|s| s.to_string()).collect(), skip: skip.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn skip_wins_over_only_and_a_role_name_is_a_tag() {
        let t = tags(&["web"], &["slow"]);
        assert_eq!(t.leaves_out("web", &[]), None);
        assert_eq!(t.leaves_out("web", &["slow".into()]), Some("in --skip-tags"));
        assert_eq!(t.leaves_out("db", &[]), Some("not in --tags"));
        assert_eq!(tags(&[], &["db"]).leaves_out("db", &[]), Some("in --skip-tags"));
        assert_eq!(Tags::default().leaves_out("db", &["x".into()]), None);
    }

    #[test]
    fn an_unknown_tag_is_named_with_a_suggestion() {
        let known: BTreeSet<String> = ["haproxy", "packages"].iter().map(|s| s.to_string()).collect();
        assert_eq!(tags(&["haproxy"], &["packages"]).check(&known), Ok(()));
        let e = tags(&["hapoxy"], &[]).check(&known).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`--tags hapoxy`: no resource of the site has this tag, and no role has this name (did you mean `haproxy`?)"
        );
        let e = tags(&[], &["zzz"]).check(&known).unwrap_err();
        assert_eq!(e.to_string(), "`--skip-tags zzz`: no resource of the site has this tag, and no role has this name");
    }
}
