//! rigger: agentless provisioning. A declarative role graph across inventory
//! hosts, rendered with Tera, probed and applied over SSH, idempotently.
//!
//! Data flows one way: `cli` → load (`inventory`, `site`, `role`) → `graph`
//! → `probe` → `plan` → `report` → apply (`engine`) → `report`.

pub mod cli;
pub mod engine;
pub mod error;
pub mod generated;
pub mod graph;
pub mod inventory;
pub mod plan;
pub mod probe;
pub mod report;
pub mod resource;
pub mod role;
pub mod schedule;
pub mod secret;
pub mod shell;
pub mod site;
pub mod source;
pub mod template;
pub mod transport;
pub mod vagrant;
