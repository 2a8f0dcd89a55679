//! The `catbuild` binary: everything happens in [`catbuild::cli::run`].

/// Stack of the thread running catbuild and of rayon's workers. Parsers
/// and encoders recurse once per nesting level, and YAML and JSON may nest
/// 10,000 deep (go-yaml's and encoding/json's limits, which catbuild keeps
/// so that it takes what opm takes); at the default 2 MiB a worker's stack
/// overflowed near that depth, an abort on user input. Only the pages a
/// deep document touches are ever committed.
const STACK_BYTES: usize = 256 << 20;

fn main() -> std::process::ExitCode {
    // No transparent huge pages. mimalloc asks for them on its arena and
    // hands freed 64 KiB runs back to the kernel; the next touch of a run
    // whose whole 2 MiB was handed back faults in a zeroed huge page. A
    // build frees and allocates all the time, so zeroing pages it had just
    // given back took ~14% of a community-operators-prod build's CPU and
    // raised the peak RSS of a 10,000-bundle build by a fifth. It is a
    // hint: if the kernel refuses, nothing changes but speed.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    // Fails only if the global pool exists already, which it cannot here.
    let _ = rayon::ThreadPoolBuilder::new().stack_size(STACK_BYTES).build_global();
    let args = std::env::args_os().collect();
    match std::thread::Builder::new()
        .name("catbuild".to_string())
        .stack_size(STACK_BYTES)
        .spawn(move || catbuild::cli::run(args))
    {
        Ok(handle) => handle.join().unwrap_or(std::process::ExitCode::from(2)),
        Err(error) => {
            eprintln!("error: cannot start catbuild's main thread: {error}");
            std::process::ExitCode::from(2)
        }
    }
}

// glibc's allocator hands freed pages back to the kernel and faults them in
// again; a build allocates and drops hundreds of megabytes of short-lived
// strings, so that churn was a tenth of a cold build. mimalloc keeps them.
// `Guarded` turns running out of memory into a clear error (src/memory).
#[global_allocator]
static GLOBAL: catbuild::memory::Guarded<mimalloc::MiMalloc> = catbuild::memory::Guarded(mimalloc::MiMalloc);
