//! Resources: the things a role declares. Each kind is one module here: its
//! YAML shape (a strict serde `Spec`), how that spec is resolved for a host,
//! what it asks the probe and how it reads the answer, its planner (state →
//! shell steps; no steps = in sync), its handler behaviour and its reference
//! text. `registry.rs` lists every kind once.

pub mod apt_repository;
pub mod blockinfile;
pub mod command;
pub mod directory;
pub mod docker_container;
pub mod file;
pub mod get_url;
pub mod group;
pub mod kind;
pub mod limits;
pub mod line;
pub mod package;
pub mod path;
pub mod privilege;
pub mod query;
pub mod registry;
pub mod sealed;
pub mod service;
pub mod spec;
pub mod sysctl;
pub mod systemd_unit;
pub mod template;
pub mod typed;
pub mod user;

pub use kind::{Doc, Field, Found, Resolve, Resource, ResourceError, RoleFile, RoleFolder, Spec, Step};
pub use registry::{AnySpec, Decl, KINDS};
