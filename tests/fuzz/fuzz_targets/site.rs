#![no_main]
//! Fuzz target `site`: see ../harness.rs. Property: never panic (errors are fine).

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::site(data));
