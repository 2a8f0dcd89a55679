//! The build: `catalog.toml` → bundles → channels → catalog → files.
//!
//! 1. plan: expand each package's bundle globs into bundle directories, and
//!    read the icon files;
//! 2. load: read every bundle into memory (with the digest of each file),
//!    render its `.j2` files in memory, parse it (in parallel, rayon);
//! 3. graph: make each package's channels with its channel policy;
//! 4. check: catbuild's located checks, then opm's model validation;
//! 5. encode: File-Based Catalogs per target and format;
//! 6. write: into a temp dir beside the output, renamed into place only
//!    when every target succeeded, so a failed build changes nothing.
//!
//! Later issues add SQLite, images and deploy YAML as more encoders, and a
//! cache keyed by input digests in front of load and encode.

mod load;
mod package;
mod plan;
mod write;

use std::collections::BTreeMap;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::config::{Config, OutputFormat, Target};
use crate::diag::Diagnostic;
use crate::fbc::{self, DeclarativeConfig};
use crate::load::LoadedBundle;

use load::load_packages;
use package::assemble_package;
pub(crate) use plan::looks_like_bundle;
use plan::plan;
use write::write_all;

/// Why a build stopped. The two kinds are apart because they are different
/// people's problem: the author fixes the input, the operator of the machine
/// fixes a full disk or a read-only output directory (exit 1 and 2).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The input is wrong; every problem found, in one run.
    #[error("found {} problem(s) in the input", .0.len())]
    Input(Vec<Diagnostic>),
    /// The input is fine but the machine failed us.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<Vec<Diagnostic>> for BuildError {
    fn from(diagnostics: Vec<Diagnostic>) -> BuildError {
        BuildError::Input(diagnostics)
    }
}

/// Command-line overrides of a build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Build only these targets (all when empty).
    pub targets: Vec<String>,
    /// Replace every selected target's formats.
    pub formats: Option<Vec<OutputFormat>>,
    /// Write here instead of the catalog's output directory.
    pub out_dir: Option<PathBuf>,
}

/// What a successful build did.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    pub targets: Vec<TargetReport>,
    /// Wall time per stage, in pipeline order (for `--timings`).
    pub timings: Vec<(&'static str, std::time::Duration)>,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone)]
pub struct TargetReport {
    pub name: String,
    pub n_packages: usize,
    pub n_bundles: usize,
    /// Directories written, one per format.
    pub outputs: Vec<PathBuf>,
}

/// One target's catalog, ready to encode: one config per package, since
/// packages are checked and encoded independently (in parallel).
struct BuiltTarget<'a> {
    target: &'a Target,
    formats: Vec<OutputFormat>,
    packages: Vec<DeclarativeConfig>,
}

impl BuiltTarget<'_> {
    fn n_packages(&self) -> usize {
        self.packages.iter().map(|package| package.packages.len()).sum()
    }

    fn n_bundles(&self) -> usize {
        self.packages.iter().map(|package| package.bundles.len()).sum()
    }
}

/// Checks everything and writes nothing: `catbuild validate`.
pub fn check(config: &Config, options: &BuildOptions) -> Result<BuildReport, BuildError> {
    let mut timings = Vec::new();
    let (built, warnings) = assemble(config, options, &mut timings)?;
    let targets = built
        .iter()
        .map(|built| TargetReport {
            name: built.target.name.clone(),
            n_packages: built.n_packages(),
            n_bundles: built.n_bundles(),
            outputs: Vec::new(),
        })
        .collect();
    Ok(BuildReport {
        targets,
        warnings,
        timings,
    })
}

/// Builds every selected target into the output directory.
pub fn build(config: &Config, options: &BuildOptions) -> Result<BuildReport, BuildError> {
    let mut timings = Vec::new();
    let (built, warnings) = assemble(config, options, &mut timings)?;
    let encode_started = std::time::Instant::now();
    let out_dir = options.out_dir.clone().unwrap_or_else(|| config.catalog.output_dir.clone());
    let mut staged = Vec::new();
    let mut reports = Vec::new();
    for built_target in &built {
        let mut outputs = Vec::new();
        for format in &built_target.formats {
            let files = encode_fbc(&built_target.packages, *format).map_err(|message| {
                vec![Diagnostic::error(
                    "encode",
                    format!("target `{}`: {message}", built_target.target.name),
                )]
            })?;
            let final_dir = out_dir
                .join(&built_target.target.name)
                .join(fbc_dir_name(*format, &built_target.formats));
            staged.push((final_dir.clone(), files));
            outputs.push(final_dir);
        }
        reports.push(TargetReport {
            name: built_target.target.name.clone(),
            n_packages: built_target.n_packages(),
            n_bundles: built_target.n_bundles(),
            outputs,
        });
    }
    timings.push(("encode", encode_started.elapsed()));
    let write_started = std::time::Instant::now();
    write_all(&out_dir, staged)?;
    timings.push(("write", write_started.elapsed()));
    Ok(BuildReport {
        targets: reports,
        warnings,
        timings,
    })
}

/// `catalog` for the target's only FBC flavour.
fn fbc_dir_name(_format: OutputFormat, _formats: &[OutputFormat]) -> &'static str {
    "catalog"
}

fn encode_fbc(packages: &[DeclarativeConfig], format: OutputFormat) -> Result<Vec<(String, String)>, String> {
    let fbc_format = match format {
        OutputFormat::FbcJson => fbc::write::Format::Json,
        OutputFormat::FbcYaml => fbc::write::Format::Yaml,
    };
    let per_package: Vec<Result<Vec<(String, String)>, String>> = packages
        .par_iter()
        .map(|package| fbc::write::write_fs(package, fbc_format).map_err(|error| error.to_string()))
        .collect();
    let mut files = Vec::new();
    for package_files in per_package {
        files.extend(package_files?);
    }
    Ok(files)
}

/// Loads, links and checks every selected target.
fn assemble<'a>(
    config: &'a Config,
    options: &BuildOptions,
    timings: &mut Vec<(&'static str, std::time::Duration)>,
) -> Result<(Vec<BuiltTarget<'a>>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let targets: Vec<&Target> = if options.targets.is_empty() {
        config.targets.iter().collect()
    } else {
        let mut selected = Vec::new();
        for name in &options.targets {
            match config.targets.iter().find(|target| &target.name == name) {
                Some(target) => selected.push(target),
                None => {
                    let names: Vec<&str> = config.targets.iter().map(|target| target.name.as_str()).collect();
                    let mut diagnostic = Diagnostic::error("cli", format!("no target named `{name}` in `{}`", config.path.display()));
                    diagnostic = match crate::config::closest(name, &names) {
                        Some(best) => diagnostic.help(format!("did you mean `{best}`?")),
                        None => diagnostic.help(format!("targets: {}", names.join(", "))),
                    };
                    diagnostics.push(diagnostic);
                }
            }
        }
        selected
    };
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let mut stage_started = std::time::Instant::now();
    let plan = plan(config, &mut diagnostics);
    timings.push(("plan", stage_started.elapsed()));
    let mut load_time = std::time::Duration::ZERO;
    let mut graph_time = std::time::Duration::ZERO;
    // Templated bundles render differently per variable set; plain ones are
    // loaded once and shared.
    let mut loaded_by_vars: BTreeMap<&BTreeMap<String, String>, BTreeMap<String, Vec<LoadedBundle>>> = BTreeMap::new();
    // The last target of a variable set may move the rendered bundles out
    // instead of copying their (large) properties.
    let mut remaining_uses: BTreeMap<&BTreeMap<String, String>, usize> = BTreeMap::new();
    for target in &targets {
        *remaining_uses.entry(&target.vars).or_default() += 1;
    }
    let mut built = Vec::new();
    for target in targets {
        if !loaded_by_vars.contains_key(&target.vars) {
            stage_started = std::time::Instant::now();
            let loaded = load_packages(config, &plan.packages, &target.vars, &mut diagnostics);
            load_time += stage_started.elapsed();
            loaded_by_vars.insert(&target.vars, loaded);
        }
        let uses = remaining_uses.entry(&target.vars).or_default();
        *uses = uses.saturating_sub(1);
        let last_use = *uses == 0;
        let Some(loaded) = loaded_by_vars.get_mut(&target.vars) else {
            continue;
        };
        stage_started = std::time::Instant::now();
        let mut packages = Vec::new();
        for package_name in &target.packages {
            let Some(package) = config.packages.iter().find(|package| &package.name.value == package_name) else {
                continue;
            };
            let bundles = loaded.get_mut(package_name).map(Vec::as_mut_slice).unwrap_or_default();
            let mut catalog = DeclarativeConfig::default();
            let icon_file = plan.packages.get(package_name).and_then(|package_plan| package_plan.icon.as_ref());
            assemble_package(
                config,
                package,
                icon_file,
                bundles,
                last_use,
                target,
                &mut catalog,
                &mut diagnostics,
            );
            packages.push(catalog);
        }
        built.push(BuiltTarget {
            target,
            formats: options.formats.clone().unwrap_or_else(|| target.formats.clone()),
            packages,
        });
        graph_time += stage_started.elapsed();
    }
    timings.push(("load", load_time));
    timings.push(("graph", graph_time));
    stage_started = std::time::Instant::now();
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    if !has_errors {
        // catbuild's own checks passed; opm's model validation is the final
        // gate, so whatever we write `opm validate` accepts.
        for built_target in &built {
            // Packages are independent in opm's model: check them in parallel.
            let failures: Vec<String> = built_target
                .packages
                .par_iter()
                .filter_map(|package_config| crate::model::validate_config(package_config).err())
                .collect();
            for message in failures {
                diagnostics.push(
                    Diagnostic::error(
                        "catalog",
                        format!("target `{}` fails opm's validation:\n{message}", built_target.target.name),
                    )
                    .note("catbuild's own checks found nothing; please report this so they learn it"),
                );
            }
        }
    }
    timings.push(("validate", stage_started.elapsed()));
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    Ok((built, diagnostics))
}
