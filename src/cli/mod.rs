//! Command-line interface: raw arguments (`args`) become validated settings
//! (`settings`) once, one command runs, and only its outcome is rendered
//! (`output`). Exit codes: 0 = success and nothing pending, 1 = error,
//! 2 = `plan` found changes.

mod args;
mod flags;
mod init;
mod inventory;
mod lab;
mod manual;
mod output;
mod project;
mod report_args;
mod runs;
mod settings;
mod show;
mod site_run;
mod test;
mod vault;

pub use args::{Cli, Command, LabAction, VaultAction};
pub use flags::Common;
use flags::Flags;
pub use settings::parse_extra_vars;

use crate::error::Result;
use output::Out;
use settings::Settings;
use std::ffi::OsString;

/// Parses the arguments and runs; returns the exit code. A usage error is 1,
/// like every error, never clap's 2: for `plan`, 2 means "changes pending",
/// and CI must not read a mistyped flag as drift.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    match <Cli as clap::Parser>::try_parse_from(&args) {
        Ok(cli) => run(cli),
        Err(e) => usage_error(&e, &args),
    }
}

/// Help and version are not errors (exit 0); anything else clap refuses is
/// a usage error: its message, and under `--json` the error document too.
fn usage_error(e: &clap::Error, args: &[OsString]) -> i32 {
    use clap::error::ErrorKind;
    let sub = args.get(1).and_then(|a| a.to_str()).filter(|a| !a.starts_with('-')).unwrap_or("");
    match elsewhere(e) {
        Some(note) => {
            let help = if sub.is_empty() { "rigger --help".to_string() } else { format!("rigger {sub} --help") };
            eprintln!("error: {note}\n\nFor more information, try '{help}'.")
        }
        None => {
            let _ = e.print();
        }
    }
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return 0;
    }
    if args.iter().any(|a| a == "--json") {
        let command = args.get(1).and_then(|a| a.to_str()).filter(|a| !a.starts_with('-')).unwrap_or("rigger");
        let doc =
            serde_json::json!({ "schema": 1, "command": command, "failed": true, "error": e.to_string().trim_end() });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    1
}

/// For a flag this subcommand does not take: which subcommands do (clap's
/// own tip, "use `-- --forks`", is rarely what was meant).
fn elsewhere(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else { return None };
    let flag = arg.split('=').next()?;
    let long = flag.strip_prefix("--");
    let short = flag.strip_prefix('-').filter(|s| s.chars().count() == 1).and_then(|s| s.chars().next());
    let cmd = <Cli as clap::CommandFactory>::command();
    let takes = |c: &clap::Command| {
        c.get_arguments()
            .any(|a| (long.is_some() && a.get_long() == long) || (short.is_some() && a.get_short() == short))
    };
    let subs: Vec<&str> = cmd.get_subcommands().filter(|c| takes(c)).map(|c| c.get_name()).collect();
    let here = e.get(ContextKind::Usage).map(|u| u.to_string()).unwrap_or_default();
    let here = match here.split_whitespace().nth(2) {
        Some(sub) if !sub.starts_with('<') && !sub.starts_with('[') => format!("rigger {sub}"),
        _ => "rigger".to_string(),
    };
    // Ansible's habits have their own answers.
    match flag {
        "--check" | "-C" => {
            return Some(format!(
                "{flag}: the dry run is `rigger plan` (or `rigger apply --check`), not a flag of `{here}`"
            ))
        }
        "--diff" | "-D" => return Some(format!("{flag}: `rigger plan` and `rigger apply` always show diffs")),
        _ => {}
    }
    (!subs.is_empty())
        .then(|| format!("{flag} is not a flag of `{here}`; it is one of `rigger {}`", subs.join("`, `rigger ")))
}

/// Runs one invocation; returns its exit code.
pub fn run(cli: Cli) -> i32 {
    let name = cli.command.name();
    let common = cli.command.common();
    let out = settings::output(&common);
    let failed = out.clone();
    dispatch(cli.command, out).unwrap_or_else(|e| failed.fail(name, &e))
}

fn dispatch(command: Command, out: Out) -> Result<i32> {
    match command {
        Command::Init { dir, .. } => init::init(&dir, &out),
        Command::Check { site, out: render_to, show_secrets, common } => {
            project::check(&Settings::new(&common.common(), out)?, &site, render_to.as_deref(), show_secrets)
        }
        Command::Graph { site, dot, list_hosts, resources, common } => {
            let view = if dot {
                project::View::Dot
            } else if list_hosts {
                project::View::Hosts
            } else if resources {
                project::View::Resources
            } else {
                project::View::Waves
            };
            project::graph(&Settings::new(&common.common(), out)?, &site, view)
        }
        // `rigger plan saved.json`: a saved plan is shown (as `rigger show`), not planned again.
        Command::Plan { site, out: None, .. } if site.extension().is_some_and(|e| e == "json") => {
            show::show(&site, &out)
        }
        Command::Plan { site, out: save_to, report, common } => {
            site_run::plan(&Settings::new(&common.common(), out)?, &site, save_to.as_deref(), &report)
        }
        Command::Apply { site, check: true, report, common, .. } => {
            site_run::plan(&Settings::new(&common.common(), out)?, &site, None, &report)
        }
        Command::Apply { site, yes, report, common, .. } => {
            // A saved plan is read first: it, not the flags, names the site, inventory and vars.
            let saved = site_run::read_saved(&site)?;
            site_run::apply(&Settings::new(&common.common(), out)?, &site, yes, saved, &report)
        }
        Command::Runs { action, runs_dir, common } => {
            runs::run(action.as_ref(), &runs::dir(runs_dir.as_deref(), &common.inventory.inventory), &out)
        }
        Command::Show { plan, .. } => show::show(&plan, &out),
        Command::Facts { host, offline, common } => {
            inventory::facts(&Settings::new(&common.common(), out)?, &host, offline)
        }
        Command::Inventory { from_vagrant: Some(dir), .. } => inventory::from_vagrant(&dir, &out),
        Command::Inventory { list, host, from_vagrant: None, common } => {
            inventory::show(&common.common(), list, host.as_deref(), out)
        }
        Command::Vault { action, .. } => vault::run(&action, &out.secrets),
        Command::Completions { shell, .. } => manual::completions(shell),
        Command::Man { subcommand, out: dir, .. } => manual::man(subcommand.as_deref(), dir.as_deref()),
        Command::Doc { markdown: true, .. } => manual::markdown(),
        Command::Doc { kind, .. } => manual::doc(kind.as_deref()),
        Command::Lab { action, name, net, image, .. } => lab::run(&action, name.as_deref(), net.as_deref(), &image),
        Command::Test { scenarios, keep, image, driver, junit, jobs, project, .. } => {
            let a = test::TestArgs {
                scenarios: &scenarios,
                keep,
                image: image.as_deref(),
                driver: driver.as_deref(),
                junit: junit.as_deref(),
                jobs,
                project: &project,
            };
            test::run(&a, &out)
        }
        Command::Import { path, out: dir, .. } => {
            let (text, code) = crate::import::render(&crate::import::ansible(&path, &dir)?);
            std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes()).map_err(crate::error::Error::System)?;
            Ok(code)
        }
    }
}
