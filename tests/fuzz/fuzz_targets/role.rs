#![no_main]
//! Fuzz target `role`: see ../harness.rs. Property: never panic (errors are fine).

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::role(data));
