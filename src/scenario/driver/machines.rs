//! The interface every driver gives the runner: make the scenario's hosts
//! and say how to reach them, take them down, or say how to find them again
//! when they are kept.

use super::reach::Reach;
use crate::scenario::model::Scenario;

/// A scenario's disposable hosts, on one driver.
pub trait Machines: Send {
    /// Makes every host of `scenario`; how to reach them, or why not.
    fn create(&mut self, scenario: &Scenario) -> Result<Reach, String>;
    /// Removes the hosts, and whatever of them `create` left half made.
    fn destroy(&mut self) -> Result<(), String>;
    /// Leaves the hosts up: how to reach and remove them by hand.
    fn keep(&mut self, scenario: &Scenario) -> String;
    /// Where the hosts live, for reports: (lab or Vagrant folder, subnet).
    fn place(&self) -> (String, String);
}
