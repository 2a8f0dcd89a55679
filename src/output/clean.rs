//! `catbuild clean`: removing the output directory, or only what no target
//! of catalog.toml owns any more (stale target dirs, killed builds' temp
//! dirs), under the same lock as a build so it never pulls a tree from
//! under one.

use std::path::{Path, PathBuf};

use super::publish::remove_leftovers;
use super::{LOCK_FILE_NAME, OutputError, OutputLock, OutputSettings, Steps, io_error, remove_any};

/// Directories in `out_dir` that are not one of `target_names`: what a
/// target removed from catalog.toml left behind. Hidden entries (our lock
/// and temp dirs, a user's dotfiles) are never stale.
pub fn stale_target_dirs(out_dir: &Path, target_names: &[&str]) -> Result<Vec<PathBuf>, OutputError> {
    let entries = match std::fs::read_dir(out_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io_error("read", out_dir)(error)),
    };
    let mut stale = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error("read", out_dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || target_names.contains(&name.as_ref()) {
            continue;
        }
        let file_type = entry.file_type().map_err(io_error("inspect", &entry.path()))?;
        if file_type.is_dir() {
            stale.push(entry.path());
        }
    }
    stale.sort();
    Ok(stale)
}

/// Removes stale target dirs and leftover temp dirs; returns what it
/// removed. A missing `out_dir` is already clean.
pub fn clean_stale(out_dir: &Path, target_names: &[&str], settings: &OutputSettings) -> Result<Vec<PathBuf>, OutputError> {
    if !exists(out_dir)? {
        return Ok(Vec::new());
    }
    let lock = OutputLock::acquire(out_dir, settings)?;
    let steps = Steps::new(None);
    let mut removed = remove_leftovers(&lock, &steps)?;
    for stale in stale_target_dirs(out_dir, target_names)? {
        remove_any(&stale).map_err(io_error("remove", &stale))?;
        removed.push(stale);
    }
    removed.sort();
    Ok(removed)
}

/// Removes `out_dir` entirely; returns whether there was anything.
pub fn clean_all(out_dir: &Path, settings: &OutputSettings) -> Result<bool, OutputError> {
    if !exists(out_dir)? {
        return Ok(false);
    }
    let lock = OutputLock::acquire(out_dir, settings)?;
    let entries = std::fs::read_dir(out_dir).map_err(io_error("read", out_dir))?;
    for entry in entries {
        let entry = entry.map_err(io_error("read", out_dir))?;
        if entry.file_name() == LOCK_FILE_NAME {
            continue;
        }
        let path = entry.path();
        remove_any(&path).map_err(io_error("remove", &path))?;
    }
    // The lock file goes last, while still held: a build waiting on it
    // notices that it is gone and locks a new one.
    std::fs::remove_file(lock.lock_path()).map_err(io_error("remove", lock.lock_path()))?;
    match std::fs::remove_dir(out_dir) {
        Ok(()) => {}
        // A build started meanwhile and made its own lock file: leave it.
        Err(error) if error.kind() == std::io::ErrorKind::DirectoryNotEmpty => {}
        Err(error) => return Err(io_error("remove", out_dir)(error)),
    }
    drop(lock);
    Ok(true)
}

fn exists(path: &Path) -> Result<bool, OutputError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(io_error("inspect", path)(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_stale_keeps_current_targets_and_dotfiles() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("build");
        for name in ["kept", "gone", ".catbuild-tmp-kept-x1", ".user-notes"] {
            std::fs::create_dir_all(out_dir.join(name)).unwrap();
        }
        std::fs::write(out_dir.join("README"), "a file, not a target").unwrap();
        let removed = clean_stale(&out_dir, &["kept"], &OutputSettings::default()).unwrap();
        assert_eq!(removed, vec![out_dir.join(".catbuild-tmp-kept-x1"), out_dir.join("gone")]);
        let mut left: Vec<String> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec![".catbuild.lock", ".user-notes", "README", "kept"]);
        assert!(clean_all(&out_dir, &OutputSettings::default()).unwrap());
        assert!(!out_dir.exists());
        assert!(!clean_all(&out_dir, &OutputSettings::default()).unwrap());
    }
}
