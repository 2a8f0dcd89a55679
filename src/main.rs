//! The `catbuild` binary: everything happens in [`catbuild::cli::run`].

fn main() -> std::process::ExitCode {
    catbuild::cli::run(std::env::args_os().collect())
}
