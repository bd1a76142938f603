//! Where a scenario's hosts come from. `kind` names the drivers, `machines`
//! is the interface the runner drives (create, destroy, keep), `reach` how
//! converge and checks log in. `nspawn` makes lab containers on this
//! machine; `vagrant` makes real VMs (`vagrantfile` writes their
//! Vagrantfile, `vagrant_box` readies libvirt and the box).

pub mod kind;
pub mod machines;
pub mod nspawn;
pub mod reach;
pub mod vagrant;
pub mod vagrant_box;
pub mod vagrantfile;

use crate::lab::Image;
use crate::scenario::model::Scenario;
pub use kind::DriverKind;
pub use machines::Machines;
use std::path::Path;

/// The machines of one scenario run on `kind`, ready to create; or why not.
pub fn open(
    kind: DriverKind,
    scenario: &Scenario,
    project: &Path,
    image: Option<Image>,
) -> Result<Box<dyn Machines>, String> {
    Ok(match kind {
        DriverKind::Nspawn => Box::new(nspawn::Nspawn::claim(scenario, project, image).map_err(|e| e.to_string())?),
        DriverKind::Vagrant => Box::new(vagrant::Vagrant::prepare(image)?),
    })
}
