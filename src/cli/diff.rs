//! `catbuild diff OLD NEW`: what changed between two catalogs. Each side is
//! an FBC directory or file, or the name of a target of the project (its
//! last build's catalog). Exit codes follow `diff`: 0 equal, 1 different,
//! 2 when a side cannot be read.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::{CommandResult, Failure, GlobalArgs, display_path, print_stdout};
use crate::fbc::DeclarativeConfig;

#[derive(Debug, Args)]
pub(super) struct DiffArgs {
    /// The old catalog: an FBC directory or file, or a target name
    old: String,
    /// The new catalog: an FBC directory or file, or a target name
    new: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// Same as `--format json`
    #[arg(long, conflicts_with = "format")]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    /// Lines marked `+`, `-` and `~`, for a terminal
    Text,
    /// Every detail, for scripts
    Json,
    /// A pull-request comment
    Markdown,
}

pub(super) fn run(global: &GlobalArgs, args: &DiffArgs) -> CommandResult {
    let old = load_side(global, &args.old)?;
    let new = load_side(global, &args.new)?;
    let diff = crate::diff::diff(&old, &new);
    let format = if args.json { DiffFormat::Json } else { args.format };
    let text = match format {
        DiffFormat::Text => crate::diff::to_text(&diff),
        DiffFormat::Json => crate::diff::to_json(&diff),
        DiffFormat::Markdown => crate::diff::to_markdown(&diff),
    };
    print_stdout(&text)?;
    if diff.is_empty() { Ok(()) } else { Err(Failure::Differs) }
}

/// Loads one side. A path that exists is read as FBC; otherwise the name
/// of a target of the project means that target's built catalog.
fn load_side(global: &GlobalArgs, side: &str) -> Result<DeclarativeConfig, Failure> {
    let path = Path::new(side);
    let catalog_dir = if path.exists() {
        path.to_path_buf()
    } else {
        target_catalog(global, side)?
    };
    let loaded = if catalog_dir.is_dir() {
        crate::fbc::load::load_dir(&catalog_dir)
    } else {
        crate::fbc::load::load_file(&catalog_dir)
    };
    loaded.map_err(|error| {
        let place = if error.line > 0 {
            format!("{}:{}", display_path(&error.path).display(), error.line)
        } else {
            display_path(&error.path).display().to_string()
        };
        Failure::Other(format!("cannot read the catalog `{side}`: {place}: {}", error.message))
    })
}

fn target_catalog(global: &GlobalArgs, name: &str) -> Result<PathBuf, Failure> {
    super::built_catalog(global, Some(name))?
        .map(|(_, dir)| dir)
        .ok_or_else(|| Failure::Other(format!("`{name}` is not a file, a directory or a target of catalog.toml")))
}
