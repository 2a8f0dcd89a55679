//! The build's output side: `output`'s failures as build errors, and which
//! target dirs in the output directory no longer belong to catalog.toml.

use std::path::{Path, PathBuf};

use super::BuildError;
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::output::{self, OutputError};

impl From<OutputError> for BuildError {
    fn from(error: OutputError) -> BuildError {
        match error {
            OutputError::Io { action, path, source } => BuildError::Io { action, path, source },
            OutputError::Busy { lock_path } => BuildError::OutputLocked { lock_path },
        }
    }
}

/// Warnings about target dirs in `out_dir` that catalog.toml no longer has.
pub(super) fn stale_target_warnings(config: &Config, out_dir: &Path) -> Result<Vec<Diagnostic>, BuildError> {
    // Only the catalog's own output dir: `clean --stale` works there, and
    // `--out` may point anywhere. Never when it holds the project itself
    // (`output = "."`), where every other directory would look stale.
    if out_dir != config.catalog.output_dir || config.root.starts_with(out_dir) {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = config.targets.iter().map(|target| target.name.as_str()).collect();
    let stale = output::stale_target_dirs(out_dir, &names)?;
    Ok(stale
        .iter()
        .map(|dir| {
            Diagnostic::warning(
                "output",
                format!(
                    "`{}` is stale: catalog.toml has no target `{}`",
                    relative_to(&config.root, dir).display(),
                    dir.file_name().unwrap_or_default().to_string_lossy()
                ),
            )
            .help("`catbuild clean --stale` removes it")
        })
        .collect())
}

fn relative_to(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}
