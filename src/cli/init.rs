//! `catbuild init [DIR...]`: adopt an existing operator repository. The
//! scan, `ci.yaml` reading and template adoption are [`crate::init`]'s;
//! this command parses flags, writes the planned `catalog.toml` and says
//! what it found.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{CommandResult, Failure, GlobalArgs};
use crate::init::{InitError, InitPlan, InitRequest, InitWarning};

#[derive(Debug, Args)]
pub(super) struct InitArgs {
    /// Directories to scan (default: the current directory), or one opm index.db to move off SQLite
    #[arg(value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Overwrite an existing catalog.toml
    #[arg(long)]
    force: bool,
    /// Catalog name (default: the current directory's name)
    #[arg(long)]
    name: Option<String>,
}

pub(super) fn run(global: &GlobalArgs, args: &InitArgs) -> CommandResult {
    // `--config DIR` means `DIR/catalog.toml`, as for every other command;
    // init writes the file, so there is no upward search.
    let config_path = match &global.config {
        Some(path) if path.is_dir() => path.join(crate::config::FILE_NAME),
        Some(path) => path.clone(),
        None => PathBuf::from(crate::config::FILE_NAME),
    };
    if config_path.exists() && !args.force {
        return Err(Failure::InputMessage(format!(
            "`{}` already exists (pass --force to overwrite it)",
            config_path.display()
        )));
    }
    let config_dir = std::path::absolute(&config_path)
        .map_err(|error| Failure::Other(error.to_string()))?
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    if let [index_db] = args.dirs.as_slice()
        && index_db.is_file()
    {
        return init_from_index_db(global, args, index_db, &config_path, &config_dir);
    }
    let request = InitRequest {
        dirs: &args.dirs,
        config_dir: &config_dir,
        catalog_name: args.name.as_deref(),
    };
    let plan = crate::init::plan(&request).map_err(|error| failure(&error))?;
    let text = crate::init::write_catalog_toml(&plan);
    fs_err::write(&config_path, text).map_err(|error| Failure::Other(error.to_string()))?;
    if !global.quiet {
        eprintln!("Wrote `{}`: {}", config_path.display(), summary_text(&plan));
        for warning in &plan.warnings {
            match warning {
                InitWarning::NoPackageAnnotation { dir } => {
                    eprintln!("warning: skipped `{}`: no package annotation in metadata/", plan.relative(dir));
                }
                InitWarning::NoManifestsDirectory { dir } => {
                    let note = crate::init::BundleNote::NoManifestsDirectory;
                    eprintln!("warning: `{}`: {note}", plan.relative(dir));
                }
                InitWarning::UnknownUpdateGraph { ci_yaml, value } => {
                    eprintln!(
                        "warning: `{}`: unknown `updateGraph: {value}`, using `channel-policy = \"replaces\"` (known: `replaces-mode`, `semver-mode`, `semver-skippatch-mode`)",
                        plan.relative(ci_yaml)
                    );
                }
            }
        }
    }
    Ok(())
}

/// `init old/index.db`: one `[[package]]` with `index-db` per package.
fn init_from_index_db(global: &GlobalArgs, args: &InitArgs, index_db: &Path, config_path: &Path, config_dir: &Path) -> CommandResult {
    let packages = crate::sqlite::read::list_packages(index_db).map_err(|error| {
        let hint = error.help.as_ref().map(|help| format!("\nhint: {help}")).unwrap_or_default();
        Failure::InputMessage(format!("{error}{hint}"))
    })?;
    if packages.is_empty() {
        return Err(Failure::InputMessage(format!(
            "{}: table `package` is empty: nothing to adopt",
            index_db.display()
        )));
    }
    let absolute = std::path::absolute(index_db).map_err(|error| Failure::Other(error.to_string()))?;
    let relative = crate::init::relative_path(&absolute, config_dir);
    let catalog_name = args.name.clone().unwrap_or_else(|| crate::init::catalog_name_of(config_dir));
    let text = crate::init::write_index_db_catalog_toml(&catalog_name, &relative, &packages);
    fs_err::write(config_path, text).map_err(|error| Failure::Other(error.to_string()))?;
    if !global.quiet {
        let plural = if packages.len() == 1 { "" } else { "s" };
        eprintln!(
            "Wrote `{}`: {} package{plural} from the opm index `{relative}`",
            config_path.display(),
            packages.len()
        );
    }
    Ok(())
}

fn failure(error: &InitError) -> Failure {
    match error {
        InitError::Absolute { .. } => Failure::Other(error.to_string()),
        InitError::ConfigInsidePackageManifest { package_manifest_dir, .. } => {
            // The project goes beside the package: suggest running init in
            // the package directory's parent, in words relative to here.
            let current = std::env::current_dir().unwrap_or_default();
            let parent = package_manifest_dir.parent().unwrap_or(package_manifest_dir);
            let dir_name = package_manifest_dir
                .file_name()
                .map_or_else(|| ".".to_string(), |name| name.to_string_lossy().into_owned());
            Failure::InputMessage(format!(
                "{error}\nhint: run `catbuild init {dir_name}` in `{}`, so that `catalog.toml` and `build/` sit beside the package",
                crate::init::relative_path(parent, &current)
            ))
        }
        InitError::NotADirectory { .. } | InitError::NothingFound => Failure::InputMessage(error.to_string()),
    }
}

/// `3 packages from 12 bundle directories and 1 package-manifest directory;
/// adopted 2 catalog templates`, naming only what was found.
fn summary_text(plan: &InitPlan) -> String {
    let summary = plan.summary();
    let mut sources = Vec::new();
    if summary.n_bundle_dirs > 0 {
        let mut text = count(summary.n_bundle_dirs, "bundle directory", "bundle directories");
        if summary.n_bundle_dirs_left_out > 0 {
            text.push_str(&format!(
                " ({} left out: not in their catalog template)",
                summary.n_bundle_dirs_left_out
            ));
        }
        sources.push(text);
    }
    if summary.n_package_manifest_dirs > 0 {
        sources.push(count(
            summary.n_package_manifest_dirs,
            "package-manifest directory",
            "package-manifest directories",
        ));
    }
    let mut text = format!(
        "{} from {}",
        count(summary.n_packages, "package", "packages"),
        sources.join(" and ")
    );
    if summary.n_templates_adopted > 0 {
        text.push_str(&format!(
            "; adopted {}",
            count(summary.n_templates_adopted, "catalog template", "catalog templates")
        ));
    }
    if summary.n_templates_not_adopted > 0 {
        let separator = if summary.n_templates_adopted > 0 { "," } else { ";" };
        text.push_str(&format!(
            "{separator} {} not adopted (see the comments)",
            count(summary.n_templates_not_adopted, "catalog template", "catalog templates")
        ));
    }
    text
}

fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}
