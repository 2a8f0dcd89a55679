//! `catbuild clean`: remove the catalog's output directory, or with
//! `--stale` only the target dirs catalog.toml no longer has and the temp
//! dirs of killed builds. The work, and the lock, are in `output`.

use std::path::Path;

use clap::Args;

use super::{CommandResult, Failure, GlobalArgs, display_path};
use crate::output;

#[derive(Debug, Default, Args)]
pub(super) struct CleanArgs {
    /// Remove only target dirs that catalog.toml no longer has, and leftover temp dirs
    #[arg(long)]
    stale: bool,
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
    if args.stale {
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
