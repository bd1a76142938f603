//! The lab: VM-like Debian hosts (systemd-nspawn in their own network
//! namespaces, on a bridge) on this machine, for `rigger lab` and `rigger
//! test`. `spec` names a lab (its bridge, subnet, state) and its hosts;
//! `script` runs the lab's shell script (`lab.sh`, embedded) for it.

pub mod script;
pub mod spec;

pub use script::{capture, ensure_root, run};
pub use spec::{Image, LabSpec};
