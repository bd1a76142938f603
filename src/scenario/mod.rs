//! Role scenarios (`rigger test`): `roles/ROLE/tests/NAME.yaml` names
//! disposable hosts, the site to converge on them and the checks that prove
//! it worked. `model` reads a scenario, `bindings` checks its site bindings
//! where they are written, `check` turns a check into a remote script and
//! judges what came back, `idempotence` explains a second apply that changed
//! something, `workspace` writes the throwaway project a scenario converges,
//! `driver` makes and removes its hosts (lab containers or Vagrant VMs),
//! `runner` drives the lifecycle and `report` renders the
//! outcome (text, JSON, JUnit).

pub mod bindings;
pub mod check;
pub mod driver;
pub mod idempotence;
pub mod model;
pub mod report;
pub mod runner;
pub mod workspace;

pub use model::{select, Scenario};
pub use report::{Phase, PhaseOutcome, ScenarioReport};
pub use runner::{run_all, RunOptions};
