//! Command-line interface. Raw arguments (`Cli`) become validated `Settings`
//! here; the exit code is decided at the end of each command:
//! 0 = success and nothing pending, 1 = error, 2 = `plan` found changes.

use crate::engine::{Project, Runner, Settings};
use crate::error::Error;
use crate::report::{self, RunReport, Style};
use crate::source::Vars;
use crate::transport::{ConnectOptions, Connection, Target};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

mod args;

pub use args::{Cli, Command, Common, VaultAction};

// Everything rigger prints passes through `secret::redact`: a secret value
// never reaches a terminal, a log or a JSON document.
macro_rules! rprintln { ($($t:tt)*) => { println!("{}", crate::secret::redact(&format!($($t)*))) } }
macro_rules! reprintln { ($($t:tt)*) => { eprintln!("{}", crate::secret::redact(&format!($($t)*))) } }
macro_rules! rprint { ($($t:tt)*) => { print!("{}", crate::secret::redact(&format!($($t)*))) } }
macro_rules! reprint { ($($t:tt)*) => { eprint!("{}", crate::secret::redact(&format!($($t)*))) } }

fn vault(action: &VaultAction) -> Result<i32, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let private = |path: &std::path::Path, data: &[u8]| -> Result<(), Error> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        f.write_all(data).map_err(|e| Error::io(path, e))
    };
    match action {
        VaultAction::Keygen { file } => {
            let (content, public) = crate::secret::keygen();
            private(file, content.as_bytes())?;
            eprintln!("wrote {} (keep it out of version control)", file.display());
            println!("{public}");
        }
        VaultAction::Encrypt { file, keep } => {
            let plain = std::fs::read(file).map_err(|e| Error::io(file, e))?;
            let out = PathBuf::from(format!("{}.age", file.display()));
            let cipher = crate::secret::encrypt(&plain).map_err(Error::usage)?;
            std::fs::write(&out, cipher).map_err(|e| Error::io(&out, e))?;
            if !keep {
                std::fs::remove_file(file).map_err(|e| Error::io(file, e))?;
            }
            eprintln!("wrote {}", out.display());
        }
        VaultAction::Decrypt { file } => {
            print!("{}", crate::secret::decrypt_file(file).map_err(Error::usage)?);
        }
        VaultAction::Edit { file } => {
            let plain = crate::secret::decrypt_file(file).map_err(Error::usage)?;
            let dir = tempfile::tempdir().map_err(|e| Error::usage(e.to_string()))?;
            let tmp = dir.path().join(
                file.file_name()
                    .map(|n| n.to_string_lossy().trim_end_matches(".age").to_string())
                    .unwrap_or_else(|| "vars.yaml".into()),
            );
            private(&tmp, plain.as_bytes())?;
            let editor = std::env::var("EDITOR").unwrap_or_else(|_| "vi".into());
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{editor} \"$1\""))
                .arg("sh")
                .arg(&tmp)
                .status()
                .map_err(|e| Error::usage(format!("cannot run {editor}: {e}")))?;
            if !status.success() {
                return Err(Error::usage(format!("{editor} failed; {} is unchanged", file.display())));
            }
            let edited = std::fs::read(&tmp).map_err(|e| Error::io(&tmp, e))?;
            let cipher = crate::secret::encrypt(&edited).map_err(Error::usage)?;
            std::fs::write(file, cipher).map_err(|e| Error::io(file, e))?;
            eprintln!("{} re-encrypted", file.display());
        }
    }
    Ok(0)
}

/// Parses `-e` values: `k=v` pairs (v as YAML) or `@file`.
pub fn parse_extra_vars(items: &[String]) -> Result<Vars, Error> {
    let mut vars = Vars::new();
    for item in items {
        if let Some(path) = item.strip_prefix('@') {
            crate::source::merge_into(&mut vars, &crate::source::read_vars(std::path::Path::new(path))?);
            continue;
        }
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| Error::usage(format!("-e {item:?}: expected key=value or @file.yaml")))?;
        if k.trim().is_empty() {
            return Err(Error::usage(format!(
                "-e {item:?}: the variable name before `=` is empty (expected key=value)"
            )));
        }
        let value: serde_json::Value =
            serde_yaml::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()));
        vars.insert(k.to_string(), if v.is_empty() { serde_json::Value::String(String::new()) } else { value });
    }
    Ok(vars)
}

fn settings(site: &PathBuf, c: &Common) -> Result<Settings, Error> {
    if c.forks == Some(0) {
        return Err(Error::usage("--forks must be at least 1"));
    }
    Ok(Settings {
        inventory: c.inventory.clone(),
        site: site.clone(),
        limit: c.limit.clone(),
        tags: c.tags.clone(),
        extra_vars: parse_extra_vars(&c.extra_vars)?,
        forks: c.forks,
        connect: ConnectOptions { accept_new_host_keys: c.accept_new_host_keys, connect_timeout: None },
    })
}

/// Human output: stdout normally, stderr when --json owns stdout.
struct Out {
    json: bool,
    quiet: bool,
}

impl Out {
    fn human(&self, s: &str) {
        if s.is_empty() {
            return;
        }
        if self.json {
            reprint!("{s}");
        } else {
            rprint!("{s}");
            let _ = std::io::stdout().flush();
        }
    }
    fn info(&self, s: &str) {
        if !self.quiet {
            self.human(s);
        }
    }
}

pub fn run(cli: Cli) -> i32 {
    let (common, name) = match &cli.command {
        Command::Check { common, .. } => (common, "check"),
        Command::Plan { common, .. } => (common, "plan"),
        Command::Apply { common, .. } => (common, "apply"),
        Command::Graph { common, .. } => (common, "graph"),
        Command::Facts { common, .. } => (common, "facts"),
        Command::Inventory { common, .. } => (common, "inventory"),
        Command::Completions { common, .. } => (common, "completions"),
        Command::Vault { common, .. } => (common, "vault"),
        Command::Man { common } => (common, "man"),
    };
    crate::secret::configure(common.vault_key.clone());
    let style = Style::detect(common.json, &common.color);
    match dispatch(&cli.command, style) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{} {e}\n", style_err(&style));
            reprint!("{msg}");
            if common.json {
                let doc = serde_json::json!({ "schema": 1, "command": name, "failed": true, "error": e.to_string() });
                rprintln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            }
            1
        }
    }
}

fn style_err(style: &Style) -> String {
    style.paint("1;31", "error:")
}

fn dispatch(cmd: &Command, style: Style) -> Result<i32, Error> {
    match cmd {
        Command::Check { site, out: render_dir, common } => {
            let out = Out { json: common.json, quiet: common.quiet };
            let project = Project::load(&settings(site, common)?)?;
            for w in &project.warnings {
                reprintln!("{} {w}", style.paint("33", "warning:"));
            }
            let errors = project.check(render_dir.as_deref());
            let units = project.graph.units.len();
            let hosts = project.hosts().len();
            if common.json {
                rprintln!("{}", serde_json::to_string_pretty(&serde_json::json!({ "schema": 1, "command": "check", "failed": !errors.is_empty(), "hosts": hosts, "units": units, "errors": errors })).unwrap_or_default());
            }
            if !errors.is_empty() {
                for e in &errors {
                    reprintln!("{} {e}", style_err(&style));
                }
                return Ok(1);
            }
            out.info(&format!("ok: {units} units on {hosts} hosts, every template rendered\n"));
            Ok(0)
        }
        Command::Graph { site, dot, common } => {
            let project = Project::load(&settings(site, common)?)?;
            for w in &project.warnings {
                reprintln!("{} {w}", style.paint("33", "warning:"));
            }
            rprint!("{}", if *dot { project.graph.to_dot() } else { project.graph.to_text() });
            Ok(0)
        }
        Command::Inventory { list, host, from_vagrant, common } => {
            if let Some(dir) = from_vagrant {
                let inv = crate::vagrant::from_dir(dir).map_err(Error::usage)?;
                rprint!("{}", crate::vagrant::to_yaml(&inv));
                return Ok(0);
            }
            let inv = crate::inventory::Inventory::load(&common.inventory)?;
            let extra = parse_extra_vars(&common.extra_vars)?;
            if let Some(h) = host {
                if !inv.hosts.contains_key(h) {
                    return Err(Error::usage(format!("no host `{h}` in {}", common.inventory.display())));
                }
                let mut v = inv.host_vars(h);
                crate::source::merge_into(&mut v, &extra);
                rprintln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else if *list || common.json {
                rprintln!("{}", serde_json::to_string_pretty(&inv.to_ansible_json()).unwrap_or_default());
            } else {
                for (name, g) in &inv.groups {
                    let hosts = inv.group_hosts(name);
                    if name == "ungrouped" && hosts.is_empty() {
                        continue;
                    }
                    rprintln!("{}: {}", style.paint("1", name), hosts.join(", "));
                    if !g.children.is_empty() && name != "all" {
                        rprintln!("  children: {}", g.children.join(", "));
                    }
                }
            }
            Ok(0)
        }
        Command::Facts { host, offline, common } => {
            let s = settings(&PathBuf::from("site.yaml"), common)?;
            let inv = crate::inventory::Inventory::load(&s.inventory)?;
            if !inv.hosts.contains_key(host) {
                return Err(Error::usage(format!("no host `{host}` in {}", s.inventory.display())));
            }
            let mut vars = inv.host_vars(host);
            crate::source::merge_into(&mut vars, &s.extra_vars);
            let mut doc = serde_json::json!({ "host": host, "vars": vars });
            if !offline {
                let target = Target::from_vars(host, &vars).map_err(|e| Error::host(host, e))?;
                let rt = tokio::runtime::Runtime::new().map_err(|e| Error::usage(e.to_string()))?;
                let facts = rt.block_on(async {
                    let conn = Connection::open(&target, &s.connect).await?;
                    let m = format!("@@rigger-facts-{}@@", std::process::id());
                    let q = Default::default();
                    let out = conn.run(&crate::probe::script(&q, true, &m)).await?;
                    let st = crate::probe::parse(&q, &out.stdout, &m)?;
                    conn.close().await;
                    Ok::<_, String>(st.facts)
                });
                doc["facts"] = facts.map_err(|e| Error::host(host, e))?;
            }
            rprintln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            Ok(0)
        }
        Command::Vault { action, .. } => vault(action),
        Command::Completions { shell, .. } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "rigger", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man { .. } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut buf).map_err(|e| Error::usage(e.to_string()))?;
            std::io::stdout().write_all(&buf).map_err(|e| Error::usage(e.to_string()))?;
            Ok(0)
        }
        Command::Plan { site, out, common } => run_site(site, common, style, false, false, out.as_deref()),
        Command::Apply { site, yes, common } => run_site(site, common, style, true, *yes, None),
    }
}

fn run_site(
    site: &PathBuf,
    common: &Common,
    style: Style,
    apply: bool,
    yes: bool,
    save_to: Option<&std::path::Path>,
) -> Result<i32, Error> {
    let started = Instant::now();
    let out = Out { json: common.json, quiet: common.quiet };
    // `apply plan.json`: the saved plan says which site, inventory and vars it was made from.
    let saved: Option<crate::engine::SavedPlan> = if apply && site.extension().is_some_and(|e| e == "json") {
        let text = std::fs::read_to_string(site).map_err(|e| Error::io(site, e))?;
        let plan: crate::engine::SavedPlan = serde_json::from_str(&text)
            .map_err(|e| Error::usage(format!("{}: not a saved rigger plan: {e}", site.display())))?;
        if plan.kind != "rigger-plan" || plan.schema != 1 {
            return Err(Error::usage(format!(
                "{}: not a saved rigger plan (kind {:?}, schema {})",
                site.display(),
                plan.kind,
                plan.schema
            )));
        }
        Some(plan)
    } else {
        None
    };
    let s = match &saved {
        Some(p) => p.settings(settings(site, common)?.connect, common.forks),
        None => settings(site, common)?,
    };
    let project = Project::load(&s)?;
    let mut warnings = project.warnings.clone();
    for w in &warnings {
        reprintln!("{} {w}", style.paint("33", "warning:"));
    }
    let forks = s.forks;
    let rt = tokio::runtime::Runtime::new().map_err(|e| Error::usage(e.to_string()))?;
    let command = if apply { "apply" } else { "plan" };
    let save_settings = s.clone();
    // On a terminal: a spinner while hosts are probed, a bar while units converge.
    let tty = std::io::stderr().is_terminal() && !common.quiet;
    let host_count = project.hosts().len();
    let unit_count =
        project.graph.g.node_weights().filter(|n| !matches!(n, crate::graph::Node::Barrier { .. })).count();
    let code = rt.block_on(async {
        let spinner = tty.then(|| {
            let pb = indicatif::ProgressBar::new_spinner().with_message(format!("probing {host_count} host(s)…"));
            pb.enable_steady_tick(std::time::Duration::from_millis(100));
            pb
        });
        let (project, mut phase) = Runner { project, settings: s }.plan().await;
        if let Some(pb) = spinner {
            pb.finish_and_clear();
        }
        if let Some(saved) = saved {
            if let Err(stale) = phase.adopt(&project, saved) {
                reprintln!(
                    "{} the saved plan is stale; nothing was applied. Run `rigger plan --out` again.",
                    style_err(&style)
                );
                for s in stale {
                    reprintln!("  {s}");
                }
                phase.close().await;
                return 1;
            }
        }
        let planned = phase.reports(&project);
        if let Some(path) = save_to {
            let doc = serde_json::to_string_pretty(&phase.save(&project, &save_settings)).unwrap_or_default();
            if let Err(e) = std::fs::write(path, doc) {
                reprintln!("{} cannot write {}: {e}", style_err(&style), path.display());
                phase.close().await;
                return 1;
            }
        }
        if !common.quiet {
            out.human(&report::render_units(&style, &planned.hosts, false, common.verbose));
        }
        let emit = |outcome: &crate::engine::Outcome, warnings: &[String]| {
            out.human(&report::recap(&style, &outcome.hosts));
            if common.json {
                let doc = RunReport {
                    schema: 1,
                    command: command.into(),
                    changes_pending: !apply && outcome.changes > 0,
                    failed: outcome.failed,
                    seconds: started.elapsed().as_secs_f64(),
                    warnings: warnings.to_vec(),
                    hosts: outcome.hosts.clone(),
                };
                rprintln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            }
        };
        if !apply || planned.failed || planned.changes == 0 {
            if apply && planned.failed {
                warnings.push("nothing was applied: fix the errors above first".into());
                reprintln!("{} nothing was applied: fix the errors above first", style_err(&style));
            } else if planned.changes == 0 && !planned.failed {
                out.info("no changes: every host is in sync\n");
            }
            emit(&planned, &warnings);
            phase.close().await;
            return if planned.failed {
                1
            } else if planned.changes > 0 {
                2
            } else {
                0
            };
        }
        if !yes {
            // Refused or declined: nothing applied, but --json still gets its document.
            let refuse = |why: &str, warnings: &mut Vec<String>| {
                reprintln!("{} {why}", style_err(&style));
                warnings.push(why.to_string());
                let outcome = crate::engine::Outcome {
                    hosts: planned.hosts.clone(),
                    changes: planned.changes,
                    failed: true,
                    aborted: true,
                };
                emit(&outcome, warnings);
            };
            if !std::io::stdin().is_terminal() {
                refuse(
                    &format!(
                        "refusing to apply {} change(s) without confirmation: stdin is not a terminal (pass --yes)",
                        planned.changes
                    ),
                    &mut warnings,
                );
                phase.close().await;
                return 1;
            }
            reprint!("Apply {} change(s)? [y/N] ", planned.changes);
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            if !matches!(answer.trim(), "y" | "Y" | "yes") {
                refuse("aborted: nothing was changed", &mut warnings);
                phase.close().await;
                return 1;
            }
        }
        let quiet = common.quiet;
        let json = common.json;
        let bar = tty.then(|| {
            let pb = indicatif::ProgressBar::new(unit_count as u64);
            pb.set_style(
                indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} units {elapsed} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            pb.enable_steady_tick(std::time::Duration::from_millis(100));
            pb
        });
        let bar2 = bar.clone();
        let outcome = phase
            .apply(project, forks, move |line| {
                if let Some(pb) = &bar2 {
                    pb.inc(1);
                    pb.set_message(line.split_whitespace().nth(1).unwrap_or("").to_string());
                }
                if quiet {
                    return;
                }
                match (&bar2, json) {
                    (Some(pb), _) => pb.println(crate::secret::redact(line)),
                    (None, true) => reprintln!("{line}"),
                    (None, false) => rprintln!("{line}"),
                }
            })
            .await;
        if let Some(pb) = bar {
            pb.finish_and_clear();
        }
        if !common.quiet {
            let failures: Vec<_> =
                outcome.hosts.iter().filter(|h| h.counts.failed > 0 || h.error.is_some()).cloned().collect();
            out.human(&report::render_units(&style, &failures, true, false));
        }
        emit(&outcome, &warnings);
        if outcome.failed {
            1
        } else {
            0
        }
    });
    Ok(code)
}
