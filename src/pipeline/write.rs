//! The build's last step: hand every target's encoded files to `output`,
//! which swaps them into the output directory atomically under its lock,
//! and say which target dirs there no longer belong to catalog.toml.

use std::path::{Path, PathBuf};

use super::BuildError;
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::output::{self, OutputError, OutputSettings, StagedTarget};

impl From<OutputError> for BuildError {
    fn from(error: OutputError) -> BuildError {
        match error {
            OutputError::Io { action, path, source } => BuildError::Io { action, path, source },
            OutputError::Busy { lock_path } => BuildError::OutputLocked { lock_path },
        }
    }
}

/// Writes every target into `out_dir`; nothing changes there unless every
/// target could be written. Returns warnings about stale target dirs.
pub(super) fn write_all(
    config: &Config,
    out_dir: &Path,
    targets: &[StagedTarget],
    settings: &OutputSettings,
) -> Result<Vec<Diagnostic>, BuildError> {
    output::publish(out_dir, targets, settings)?;
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
