//! Memory handed back to the system as soon as it is freed, for the
//! commands whose footprint matters more than a build's speed: `serve` (a
//! long-lived server should give back what a big answer needed), `render`
//! and `validate DIR` (their peak RSS, which the catalog-sized reads of a
//! large FBC otherwise inflate with freed pages).
//!
//! catbuild's allocator is mimalloc, kept for builds: giving pages back
//! and faulting them in again cost a tenth of a cold build. It returns
//! freed pages only after a delay and only when it next allocates, so an
//! idle server kept ~45 MiB of a full `ListBundles` it no longer used, and
//! `render DIR` of a 100 MB catalog peaked at ~105 MiB where its live data
//! never passed ~50. Its options are read once, at process start, so these
//! commands run the same binary again with the delay at 0, unless the user
//! chose a delay: no unsafe call into the allocator is needed
//! (`mi_option_set` and `mi_collect` are FFI, and `mi_collect` only sweeps
//! the calling thread's heap), and the process id, arguments and open
//! descriptors stay the same. If the exec fails, the command just runs on.

/// The environment variable mimalloc reads its purge delay from.
const PURGE_DELAY_VAR: &str = "MIMALLOC_PURGE_DELAY";

/// Re-runs this process with `MIMALLOC_PURGE_DELAY=0` unless it is set;
/// returns only if it was set or the exec failed.
pub(super) fn purge_freed_memory_at_once() {
    #[cfg(unix)]
    if std::env::var_os(PURGE_DELAY_VAR).is_none()
        && let Ok(exe) = std::env::current_exe()
    {
        use std::os::unix::process::CommandExt as _;
        let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        let _ = std::process::Command::new(exe).args(args).env(PURGE_DELAY_VAR, "0").exec();
    }
}
