//! The `catbuild` binary: everything happens in [`catbuild::cli::run`].

fn main() -> std::process::ExitCode {
    catbuild::cli::run(std::env::args_os().collect())
}

// glibc's allocator hands freed pages back to the kernel and faults them in
// again; a build allocates and drops hundreds of megabytes of short-lived
// strings, so that churn was a tenth of a cold build. mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
