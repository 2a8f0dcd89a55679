//! `catbuild clean`: remove the catalog's output directory, or with
//! `--stale` only the target dirs catalog.toml no longer has and the temp
//! dirs of killed builds, or with `--cache` only the action cache. The
//! work, and the lock, are in `output` (and `cache`).

use std::path::Path;

use clap::Args;

use super::{CommandResult, Failure, GlobalArgs, display_path};
use crate::output;

#[derive(Debug, Default, Args)]
pub(super) struct CleanArgs {
    /// Remove only target dirs that catalog.toml no longer has, and leftover temp dirs
    #[arg(long, conflicts_with = "cache")]
    stale: bool,
    /// Remove only the action cache (`[catalog] cache-dir`, else <output>/.cache)
    #[arg(long)]
    cache: bool,
    /// Fail at once (exit 2) if a build holds the output directory's lock, instead of waiting
    #[arg(long)]
    no_wait: bool,
}

pub(super) fn run(global: &GlobalArgs, args: &CleanArgs) -> CommandResult {
    let config = super::build::load_config(global)?;
    let out_dir = &config.catalog.output_dir;
    // `output = "."` (or a parent) would make clean remove the project.
    if config.root.starts_with(out_dir) {
        return Err(Failure::InputMessage(format!(
            "refusing to clean `{}`: it holds catalog.toml's own directory",
            display_path(out_dir).display()
        )));
    }
    let settings = super::output_settings(global, args.no_wait)?;
    if args.cache {
        let dir = crate::pipeline::cache_dir(&config, &crate::pipeline::CacheSettings::default(), out_dir);
        // Under the output directory's lock when there is one, so never
        // under a running build.
        let _lock = if out_dir.is_dir() {
            Some(output::OutputLock::acquire(out_dir, &settings)?)
        } else {
            None
        };
        let existed = crate::cache::clear(&dir).map_err(|error| Failure::Other(error.to_string()))?;
        if !global.quiet {
            if existed {
                eprintln!("Removed {}", shown(&dir));
            } else {
                eprintln!("Nothing to clean: {} does not exist", shown(&dir));
            }
        }
    } else if args.stale {
        let names: Vec<&str> = config.targets.iter().map(|target| target.name.as_str()).collect();
        let removed = output::clean_stale(out_dir, &names, &settings)?;
        if !global.quiet {
            for path in &removed {
                eprintln!("Removed {}", shown(path));
            }
            if removed.is_empty() {
                eprintln!("Nothing stale in {}", shown(out_dir));
            }
        }
    } else {
        let existed = output::clean_all(out_dir, &settings)?;
        if !global.quiet {
            if existed {
                eprintln!("Removed {}", shown(out_dir));
            } else {
                eprintln!("Nothing to clean: {} does not exist", shown(out_dir));
            }
        }
    }
    Ok(())
}

fn shown(path: &Path) -> String {
    format!("`{}`", display_path(path).display())
}
