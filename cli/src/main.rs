//! `agentctl`: see the library for the commands.

fn main() {
    std::process::exit(agentctl::run(std::env::args_os()));
}
