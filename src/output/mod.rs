//! The output directory (`build/`): the only code that changes it, so that
//! what is there can always be trusted, whatever happens to a build.
//!
//! * One writer at a time: a build or `catbuild clean` holds an exclusive
//!   `flock` on `build/.catbuild.lock` while it changes anything; a second
//!   one waits (or, with `--no-wait`, fails at once).
//! * Every target is written complete, and fsynced, into
//!   `build/.catbuild-tmp-<target>-<random>/` beside its final place.
//! * Only when every target of the build is staged is each one swapped in
//!   with one atomic exchange (`renameat2(RENAME_EXCHANGE)`), so
//!   `build/<target>` is at every moment the old tree or the new one, never
//!   missing and never mixed. The unit is the whole target directory
//!   (catalog today; SQLite, images and deploy YAML later).
//! * The old trees are removed afterwards; the temp dirs of a killed build
//!   are removed by the next one, under the lock.
//! * A small change to a published target (a one-bundle edit) is renamed
//!   file by file into the published tree instead ([`Publication::patch`]):
//!   one catalog file, and an OCI layout's new blobs before the
//!   `index.json` naming them, old ones removed after it, so what any
//!   reader of the catalog or of the layout finds is at every moment a
//!   whole version of it.
//!
//! Test hook: `CATBUILD_FAIL_AFTER_STEP=N` (read by the CLI, passed here as
//! [`OutputSettings::fail_after_step`]) kills the process with SIGKILL right
//! after the N-th filesystem step of a publish, so tests can stop a build
//! between any two steps without relying on timing.

mod clean;
mod lock;
mod publish;
mod stamp;

use std::path::{Path, PathBuf};

pub use clean::{clean_all, clean_stale, stale_target_dirs};
pub use lock::OutputLock;
pub use publish::{Publication, PublishReport, StagedTarget, publish};
pub use stamp::{Differences, TargetStamp};

/// The lock file every writer of an output directory holds.
pub const LOCK_FILE_NAME: &str = ".catbuild.lock";
/// Names of a build's staging directories, `<prefix><target>-<random>`.
pub const TEMP_PREFIX: &str = ".catbuild-tmp-";
/// Names of old trees moved aside when the filesystem cannot exchange.
pub const TRASH_PREFIX: &str = ".catbuild-trash-";

/// How a writer takes the output directory's lock, and the test hook.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputSettings {
    /// Fail with [`OutputError::Busy`] instead of waiting for another writer.
    pub no_wait: bool,
    /// Called once, with the lock file's path, before waiting for another
    /// writer (the CLI prints a line; the library prints nothing).
    pub on_wait: Option<fn(&Path)>,
    /// Test only: SIGKILL this process after this many filesystem steps.
    pub fail_after_step: Option<u64>,
}

/// Why the output directory could not be changed (exit 2: not the input's
/// fault).
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another writer holds the lock and we were told not to wait.
    #[error("`{}` is held by another catbuild; not waiting (`--no-wait`)", lock_path.display())]
    Busy { lock_path: PathBuf },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OutputError {
    let path = path.to_path_buf();
    move |source| OutputError::Io { action, path, source }
}

/// Counts filesystem steps for the `fail_after_step` test hook. Atomic
/// because files are written in parallel.
struct Steps {
    done: std::sync::atomic::AtomicU64,
    fail_after: Option<u64>,
}

impl Steps {
    fn new(fail_after: Option<u64>) -> Steps {
        Steps {
            done: std::sync::atomic::AtomicU64::new(0),
            fail_after,
        }
    }

    /// Marks one filesystem step done; dies like `kill -9` when told to.
    fn step(&self) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if self.fail_after == Some(done) {
            kill_this_process();
        }
    }
}

#[cfg(unix)]
fn kill_this_process() {
    // SIGKILL, not a panic or an exit: no destructor or cleanup may run, as
    // with a real `kill -9` or a power cut.
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    std::process::abort();
}

#[cfg(not(unix))]
fn kill_this_process() {
    std::process::abort();
}

/// Removes a file, symlink or directory tree (never following a symlink).
fn remove_any(path: &Path) -> std::io::Result<()> {
    let metadata = std::fs::symlink_metadata(path)?;
    if metadata.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// Is `name` one of our own staging or trash directories?
fn is_leftover(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) || name.starts_with(TRASH_PREFIX)
}

/// Asks the kernel to start writing `file`'s dirty pages to disk, without
/// waiting. Every staged file is fsynced before the swap; started as each
/// is written, the disk works while the build computes, and the fsyncs
/// at the end wait for what is left instead of for every byte (a cold
/// 1,000-bundle build to FBC wrote 98 MB and then waited ~0.1 s for it).
/// Best effort: where it is not supported, the fsync does it all.
pub fn start_writeback(file: &std::fs::File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        // SAFETY: the descriptor is open for as long as `file` is
        // borrowed; the call reads no memory of ours, and its only effect
        // is to queue page-cache writeback of that file.
        let _ = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// Makes a directory's entries (new files, renames) durable: without this a
/// crash may lose an entry whose data was fsynced.
fn sync_dir(dir: &Path) -> Result<(), OutputError> {
    #[cfg(unix)]
    {
        let handle = std::fs::File::open(dir).map_err(io_error("open", dir))?;
        handle.sync_all().map_err(io_error("sync", dir))?;
    }
    // Elsewhere directories cannot be opened as files; renames are durable
    // when the filesystem says so.
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
