//! The output directory's lock: an exclusive `flock` on
//! `<out>/.catbuild.lock`, so two builds (of the same or of different
//! catalog.toml files) or a build and `catbuild clean` never change the
//! same output directory at once. The kernel drops the lock when the
//! process dies, so a killed build never leaves a stale lock behind.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::{LOCK_FILE_NAME, OutputError, OutputSettings, io_error};

/// Held while an output directory is changed; dropping it unlocks.
#[derive(Debug)]
pub struct OutputLock {
    // Never read: holding the open file is what holds the lock.
    _file: File,
    out_dir: PathBuf,
    lock_path: PathBuf,
}

impl OutputLock {
    /// Creates `out_dir` if needed and locks it, waiting for another writer
    /// unless `settings.no_wait`.
    pub fn acquire(out_dir: &Path, settings: &OutputSettings) -> Result<OutputLock, OutputError> {
        let lock_path = out_dir.join(LOCK_FILE_NAME);
        let mut told_about_waiting = false;
        loop {
            std::fs::create_dir_all(out_dir).map_err(io_error("create", out_dir))?;
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock_path)
                .map_err(io_error("open the lock file", &lock_path))?;
            if !try_lock_exclusive(&file).map_err(io_error("lock", &lock_path))? {
                if settings.no_wait {
                    return Err(OutputError::Busy { lock_path });
                }
                if !told_about_waiting {
                    if let Some(on_wait) = settings.on_wait {
                        on_wait(&lock_path);
                    }
                    told_about_waiting = true;
                }
                lock_exclusive(&file).map_err(io_error("lock", &lock_path))?;
            }
            // `catbuild clean` deletes the lock file (and the directory) while
            // holding it; whoever waited on the deleted file must lock the
            // new one, or two writers would each hold "the" lock.
            if is_still_at(&file, &lock_path) {
                return Ok(OutputLock {
                    _file: file,
                    out_dir: out_dir.to_path_buf(),
                    lock_path,
                });
            }
        }
    }

    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }
}

#[cfg(unix)]
fn try_lock_exclusive(file: &File) -> std::io::Result<bool> {
    use rustix::fs::{FlockOperation, flock};
    loop {
        match flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(true),
            Err(errno) if errno == rustix::io::Errno::WOULDBLOCK => return Ok(false),
            Err(errno) if errno == rustix::io::Errno::INTR => {}
            Err(errno) => return Err(errno.into()),
        }
    }
}

#[cfg(unix)]
fn lock_exclusive(file: &File) -> std::io::Result<()> {
    use rustix::fs::{FlockOperation, flock};
    loop {
        match flock(file, FlockOperation::LockExclusive) {
            Err(errno) if errno == rustix::io::Errno::INTR => {}
            result => return result.map_err(Into::into),
        }
    }
}

/// Is `file` still the file at `path` (same device and inode)?
#[cfg(unix)]
fn is_still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(held), Ok(current)) => held.dev() == current.dev() && held.ino() == current.ino(),
        _ => false,
    }
}

// Elsewhere std's file locks (Rust 1.89) stand in for flock.
#[cfg(not(unix))]
fn try_lock_exclusive(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(error)) => Err(error),
    }
}

#[cfg(not(unix))]
fn lock_exclusive(file: &File) -> std::io::Result<()> {
    file.lock()
}

#[cfg(not(unix))]
fn is_still_at(_file: &File, path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_busy_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("build");
        let first = OutputLock::acquire(&out_dir, &OutputSettings::default()).unwrap();
        let no_wait = OutputSettings {
            no_wait: true,
            ..OutputSettings::default()
        };
        match OutputLock::acquire(&out_dir, &no_wait) {
            Err(OutputError::Busy { lock_path }) => assert_eq!(lock_path, out_dir.join(".catbuild.lock")),
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(first);
        let second = OutputLock::acquire(&out_dir, &no_wait).unwrap();
        assert_eq!(second.lock_path(), out_dir.join(".catbuild.lock"));
    }
}
