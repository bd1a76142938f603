//! `rigger lab`: the lab's commands, each a run of the lab script for the
//! chosen lab.

use super::args::LabAction;
use crate::error::Result;
use crate::lab::{self, Image, LabSpec};

/// Runs one `rigger lab` action; returns the script's exit code.
pub fn run(action: &LabAction, name: Option<&str>, net: Option<&str>, image: &str) -> Result<i32> {
    let image: Image = image.parse().map_err(crate::error::Error::usage)?;
    let spec = LabSpec::new(name, net, image)?;
    lab::ensure_root("lab")?;
    lab::run(&spec, &script_args(action))
}

/// The script's words for an action.
fn script_args(action: &LabAction) -> Vec<String> {
    let words: Vec<&str> = match action {
        LabAction::Up { n } => vec!["up", n],
        LabAction::Down => vec!["down"],
        LabAction::Status => vec!["status"],
        LabAction::Inventory => vec!["inventory"],
        LabAction::Reset => vec!["reset"],
        LabAction::Stop { host, hard } => {
            let mut w = vec!["stop", host.as_str()];
            if *hard {
                w.push("--hard");
            }
            w
        }
        LabAction::Start { host } => vec!["start", host],
        LabAction::Wipe { hosts } => std::iter::once("wipe").chain(hosts.iter().map(String::as_str)).collect(),
        LabAction::Ssh { host, cmd } => {
            ["ssh", host.as_str()].into_iter().chain(cmd.iter().map(String::as_str)).collect()
        }
    };
    words.into_iter().map(str::to_string).collect()
}
