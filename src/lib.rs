//! rigger: agentless provisioning. A declarative role graph across inventory
//! hosts, rendered with Tera, probed and applied over SSH, idempotently.
//!
//! Data flows one way: `cli` → `project` (inventory, site, roles, vars) →
//! `graph` → `session` (probe) → `plan` → `report` → `engine` (apply, through
//! `schedule` and `session`) → `report`.

pub mod cli;
pub mod converge;
pub mod engine;
pub mod error;
pub mod folders;
pub mod generated;
pub mod graph;
pub mod import;
pub mod lab;
pub mod plan;
pub mod prepare;
pub mod project;
pub mod report;
pub mod resource;
pub mod saved_plan;
pub mod scenario;
pub mod schedule;
pub mod secret;
pub mod session;
pub mod shell;
pub mod template;
pub mod trace;
