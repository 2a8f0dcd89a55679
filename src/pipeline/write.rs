//! Putting encoded files in place: staged in a temp dir beside their
//! destination and renamed in only when everything was staged.

use std::path::{Path, PathBuf};

use super::{BuildError, OutputFile};

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BuildError {
    let path = path.to_path_buf();
    move |source| BuildError::Io { action, path, source }
}

/// Writes every target's files into place: each target into a temp dir
/// beside its directory, then swapped in by rename. Nothing is swapped in
/// unless every file of every target could be staged.
pub(super) fn write_all(out_dir: &Path, staged: Vec<(PathBuf, Vec<OutputFile>)>) -> Result<(), BuildError> {
    std::fs::create_dir_all(out_dir).map_err(io_error("create", out_dir))?;
    let mut ready = Vec::new();
    for (final_dir, files) in staged {
        let parent = final_dir.parent().unwrap_or(out_dir);
        std::fs::create_dir_all(parent).map_err(io_error("create", parent))?;
        let temp = tempfile::Builder::new()
            .prefix(".catbuild-")
            .tempdir_in(parent)
            .map_err(io_error("create a temp directory in", parent))?;
        for OutputFile { path: relative, bytes } in files {
            let path = temp.path().join(relative);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io_error("create", dir))?;
            }
            std::fs::write(&path, bytes).map_err(io_error("write", &path))?;
        }
        ready.push((final_dir, temp));
    }
    for (final_dir, temp) in ready {
        let temp_path = temp.keep();
        if final_dir.exists() {
            let parent = final_dir.parent().unwrap_or(out_dir);
            let trash = tempfile::Builder::new()
                .prefix(".catbuild-old-")
                .tempdir_in(parent)
                .map_err(io_error("create a temp directory in", parent))?
                .keep();
            let old = trash.join("old");
            std::fs::rename(&final_dir, &old).map_err(io_error("move aside", &final_dir))?;
            std::fs::rename(&temp_path, &final_dir).map_err(io_error("move into place", &final_dir))?;
            let _ = fs_err::remove_dir_all(&trash);
        } else {
            std::fs::rename(&temp_path, &final_dir).map_err(io_error("move into place", &final_dir))?;
        }
    }
    Ok(())
}
