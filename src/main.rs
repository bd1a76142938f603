//! The `rigger` binary: parse arguments, run, exit with the run's code.

fn main() {
    let cli = <rigger::cli::Cli as clap::Parser>::parse();
    std::process::exit(rigger::cli::run(cli));
}
