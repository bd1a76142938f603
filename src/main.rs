//! The `rigger` binary: parse arguments, run, exit with the run's code.

fn main() {
    std::process::exit(rigger::cli::main(std::env::args_os()));
}
