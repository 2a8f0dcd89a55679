//! The build: `catalog.toml` → bundles → channels → catalog → files.
//!
//! 1. plan: expand each package's bundle globs into bundle directories, and
//!    read the icon files;
//! 2. load: read every bundle into memory (with the digest of each file),
//!    render its `.j2` files in memory, parse it (in parallel, rayon);
//! 3. graph: make each package's channels with its channel policy;
//! 4. check: catbuild's located checks, then opm's model validation;
//! 5. encode: File-Based Catalogs per target and format;
//! 6. write: `output` stages every target in a temp dir beside it and
//!    swaps them in atomically, under the output directory's lock, only
//!    when every target was written, so a failed build changes nothing.
//!
//! Later issues add SQLite, images and deploy YAML as more encoders, and a
//! cache keyed by input digests in front of load and encode.

mod encode;
mod exclude;
mod images;
mod load;
mod package;
mod plan;
mod report;
mod write;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{Config, OutputFormat, Target};
use crate::diag::Diagnostic;
use crate::fbc::DeclarativeConfig;
use crate::load::LoadedBundle;

use load::load_packages;
use package::assemble_package;

pub use encode::{EncodeError, FBC_DIR, OutputFile, TargetSettings, ValidPackage};
pub use images::{BuiltImage, ImageRole, LOCK_FILE, OCI_DIR};
pub use report::{Action, Reporter, Silent, Stage};

use encode::TargetFailure;
/// For `render` of a templated bundle directory inside a project ([`crate::source`]).
pub(crate) use load::load_templated_bundle;
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
    /// An encoder failed on a valid catalog (a bug or a format's limit).
    #[error(transparent)]
    Encode(EncodeError),
    /// Another build holds the output directory's lock (`--no-wait`).
    #[error("`{}` is held by another catbuild; not waiting (`--no-wait`)", lock_path.display())]
    OutputLocked { lock_path: PathBuf },
    /// A registry refused or failed a push (after retries).
    #[error(transparent)]
    Push(crate::registry::PushError),
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
    /// How to wait for the output directory's lock.
    pub output: crate::output::OutputSettings,
    /// Build images and push them (`--push`), whatever catalog.toml says.
    pub push: bool,
    /// `--registry HOST[:PORT]/PREFIX`: push there instead.
    pub registry: Option<String>,
    /// `--base-image`: every target's catalog image base for this run.
    pub base_image: Option<crate::config::BaseImage>,
    /// `SOURCE_DATE_EPOCH` (0 when unset): every mtime and `created`.
    pub source_date_epoch: u64,
}

impl BuildOptions {
    /// Whether this build makes images at all.
    fn images(&self, config: &Config) -> bool {
        config.images.build || self.push || config.targets.iter().any(|target| target.push)
    }
}

/// What a successful build did.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    pub targets: Vec<TargetReport>,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone)]
pub struct TargetReport {
    pub name: String,
    pub n_packages: usize,
    pub n_bundles: usize,
    /// Bundle directories left out by `exclude` in this target's packages.
    pub n_excluded: usize,
    /// The target's directory, when it was written.
    pub output: Option<PathBuf>,
    /// The images in `oci/` (bundles, then one catalog image per format),
    /// with their digests: what deployment objects name.
    pub images: Vec<BuiltImage>,
}

impl TargetReport {
    /// The catalog image of `format`, when images were built.
    pub fn catalog_image(&self, format: OutputFormat) -> Option<&BuiltImage> {
        self.images.iter().find(|image| image.role == ImageRole::Catalog { format })
    }
}

/// One target's catalog, ready to encode: one config per package, since
/// packages are checked and encoded independently (in parallel).
struct BuiltTarget<'a> {
    target: &'a Target,
    formats: Vec<OutputFormat>,
    packages: Vec<DeclarativeConfig>,
    n_excluded: usize,
    /// Per package (same order as `packages`): the manifest order of each
    /// bundle's objects, which the SQLite index keeps.
    source_orders: Vec<crate::sqlite::SourceOrder>,
    /// Packages read only from package-manifest directories.
    package_manifest_packages: std::collections::BTreeSet<String>,
    /// The bundle images its catalog names (when images are built).
    bundle_images: Vec<images::TargetBundleImage>,
}

impl BuiltTarget<'_> {
    fn report(&self, output: Option<PathBuf>) -> TargetReport {
        TargetReport {
            images: Vec::new(),
            name: self.target.name.clone(),
            n_packages: self.packages.iter().map(|package| package.packages.len()).sum(),
            n_bundles: self.packages.iter().map(|package| package.bundles.len()).sum(),
            n_excluded: self.n_excluded,
            output,
        }
    }
}

/// What a build would read for one package, from its patterns alone (no
/// bundle is loaded): for `catbuild list`.
#[derive(Debug, Clone)]
pub struct PackageSummary {
    pub name: String,
    pub n_bundle_dirs: usize,
    pub n_package_manifest_dirs: usize,
    pub n_excluded: usize,
}

/// Expands every package's patterns as a build would. Problems with the
/// patterns come back as diagnostics (warnings included).
pub fn summarize(config: &Config) -> (Vec<PackageSummary>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let plans = plan(config, &mut diagnostics).packages;
    let summaries = config
        .packages
        .iter()
        .filter_map(|package| {
            let package_plan = plans.get(&package.name.value)?;
            Some(PackageSummary {
                name: package.name.value.clone(),
                n_bundle_dirs: package_plan.bundle_dirs.len(),
                n_package_manifest_dirs: package_plan.package_manifest_dirs.len(),
                n_excluded: package_plan.n_excluded,
            })
        })
        .collect();
    (summaries, diagnostics)
}

/// Checks everything and writes nothing: `catbuild validate`.
pub fn check(config: &Config, options: &BuildOptions, reporter: &dyn Reporter) -> Result<BuildReport, BuildError> {
    let (built, warnings) = assemble(config, options, reporter)?;
    report::stage(reporter, Stage::Validate, || gate_and_encode(&built, false, reporter))?;
    Ok(BuildReport {
        targets: built.iter().map(|built_target| built_target.report(None)).collect(),
        warnings,
    })
}

/// Builds every selected target into the output directory.
pub fn build(config: &Config, options: &BuildOptions, reporter: &dyn Reporter) -> Result<BuildReport, BuildError> {
    let (built, warnings) = assemble(config, options, reporter)?;
    let with_images = options.images(config);
    let bases = if with_images {
        let targets: Vec<&Target> = built.iter().map(|built_target| built_target.target).collect();
        Some(images::read_bases(config, &targets, options.base_image.as_ref())?)
    } else {
        None
    };
    let encoded = report::stage(reporter, Stage::Encode, || gate_and_encode(&built, true, reporter))?;
    let out_dir = options.out_dir.clone().unwrap_or_else(|| config.catalog.output_dir.clone());
    let mut staged = Vec::new();
    let mut reports = Vec::new();
    for (built_target, mut files) in built.iter().zip(encoded) {
        let mut target_report = built_target.report(Some(out_dir.join(&built_target.target.name)));
        if let Some(bases) = &bases {
            let base = match options.base_image.as_ref().unwrap_or(&built_target.target.base_image) {
                crate::config::BaseImage::Scratch => None,
                crate::config::BaseImage::Layout { text, .. } => bases.by_name.get(text).map(AsRef::as_ref),
            };
            let (layout, images) = report::stage(reporter, Stage::Encode, || {
                images::target_images(
                    &built_target.target.name,
                    built_target.target.image.as_ref().map(|image| image.value.as_str()),
                    &built_target.formats,
                    &files,
                    &built_target.bundle_images,
                    base,
                    options.source_date_epoch,
                )
            })
            .map_err(|message| {
                BuildError::Encode(EncodeError {
                    package: String::new(),
                    format: "oci",
                    message,
                })
            })?;
            files.extend(layout);
            target_report.images = images;
        }
        reports.push(target_report);
        staged.push(crate::output::StagedTarget {
            name: built_target.target.name.clone(),
            files: files.into_iter().map(|file| (file.path, file.bytes)).collect(),
        });
    }
    let stale_warnings = report::stage(reporter, Stage::Write, || write_all(config, &out_dir, &staged, &options.output))?;
    if let Some(text) = bases.as_ref().and_then(|bases| bases.new_lock.as_ref()) {
        images::write_lock(&config.root, text).map_err(|source| BuildError::Io {
            action: "write",
            path: config.root.join(LOCK_FILE),
            source,
        })?;
    }
    Ok(BuildReport {
        targets: reports,
        warnings: warnings.into_iter().chain(stale_warnings).collect(),
    })
}

/// Pushes the images of every built target that pushes (`push = true`, or
/// all of them with `--push`): bundle images first, then catalog images,
/// each image once. Returns `None` when nothing was to be pushed.
pub fn push(config: &Config, options: &BuildOptions, report: &BuildReport) -> Result<Option<crate::registry::PushReport>, BuildError> {
    use crate::image::reference::Reference;
    let prefix = options.registry.as_ref().or(config.images.registry.as_ref());
    let mut diagnostics = Vec::new();
    let mut bundles = Vec::new();
    let mut catalogs = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for target_report in &report.targets {
        let Some(target) = config.targets.iter().find(|target| target.name == target_report.name) else {
            continue;
        };
        if !(options.push || target.push) {
            continue;
        }
        for image in &target_report.images {
            let Some(text) = &image.reference else {
                let (what, help) = match &image.role {
                    ImageRole::Bundle { name } => (format!("bundle `{name}`"), "set `bundle-image` in `[catalog]` or the package"),
                    ImageRole::Catalog { .. } => (
                        format!("the catalog of target `{}`", target.name),
                        "set `image` in `[catalog]` or the target",
                    ),
                };
                let diagnostic = Diagnostic::error("push", format!("cannot push {what}: it has no image reference")).help(help);
                if !diagnostics.contains(&diagnostic) {
                    diagnostics.push(diagnostic);
                }
                continue;
            };
            let reference = match Reference::parse(text) {
                Ok(reference) => reference,
                Err(message) => {
                    diagnostics.push(Diagnostic::error("push", message));
                    continue;
                }
            };
            let reference = match prefix {
                Some(prefix) => reference.under(prefix),
                None => reference,
            };
            if !seen.insert((reference.to_string(), image.digest.clone())) {
                continue;
            }
            let job = crate::registry::PushJob {
                reference,
                image: image.image.as_ref(),
            };
            match image.role {
                ImageRole::Bundle { .. } => bundles.push(job),
                ImageRole::Catalog { .. } => catalogs.push(job),
            }
        }
    }
    if !diagnostics.is_empty() {
        return Err(BuildError::Input(diagnostics));
    }
    if bundles.is_empty() && catalogs.is_empty() {
        return Ok(None);
    }
    let settings = crate::registry::PushSettings {
        client: crate::registry::ClientSettings {
            insecure: config.images.insecure,
            ca_file: config.images.ca_file.clone(),
        },
        ..crate::registry::PushSettings::default()
    };
    // Catalogs after bundles: a catalog never names a bundle that is not
    // in the registry yet.
    let pushed = crate::registry::push_images(&[&bundles, &catalogs], &settings).map_err(BuildError::Push)?;
    Ok(Some(pushed))
}

/// opm's model validation is the final gate, so whatever catbuild writes
/// `opm validate` accepts; with `encode`, each valid package is encoded in
/// the target's formats while its model is at hand. Every target is
/// checked before any problem is returned.
fn gate_and_encode(built: &[BuiltTarget], encode: bool, reporter: &dyn Reporter) -> Result<Vec<Vec<OutputFile>>, BuildError> {
    // The same package failing in several targets is one problem that
    // names them all.
    let mut failed_targets: Vec<(String, Vec<&str>)> = Vec::new();
    let mut encoded = Vec::new();
    for built_target in built {
        let settings = TargetSettings {
            target: built_target.target.name.clone(),
            package_manifest_packages: built_target.package_manifest_packages.clone(),
        };
        let formats: &[OutputFormat] = if encode { &built_target.formats } else { &[] };
        match encode::encode_target(&built_target.packages, &built_target.source_orders, formats, &settings, reporter) {
            Ok(files) => encoded.push(files),
            Err(TargetFailure::Invalid(messages)) => {
                for message in messages {
                    match failed_targets.iter_mut().find(|(known, _)| *known == message) {
                        Some((_, names)) => names.push(&built_target.target.name),
                        None => failed_targets.push((message, vec![&built_target.target.name])),
                    }
                }
            }
            Err(TargetFailure::Encode(error)) => return Err(BuildError::Encode(error)),
        }
    }
    let mut diagnostics = Vec::new();
    for (message, names) in failed_targets {
        let named: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
        let subject = if named.len() == 1 {
            format!("target {} fails", named[0])
        } else {
            format!("targets {} fail", named.join(", "))
        };
        diagnostics.push(
            Diagnostic::error("catalog", format!("{subject} opm's validation:\n{message}"))
                .note("catbuild's own checks found nothing; please report this so they learn it"),
        );
    }
    if diagnostics.is_empty() {
        Ok(encoded)
    } else {
        Err(BuildError::Input(diagnostics))
    }
}

/// Loads, links and checks every selected target.
fn assemble<'a>(
    config: &'a Config,
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<(Vec<BuiltTarget<'a>>, Vec<Diagnostic>), BuildError> {
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
        return Err(diagnostics.into());
    }
    let plan = report::stage(reporter, Stage::Plan, || plan(config, &mut diagnostics));
    // Templated bundles render differently per variable set; plain ones are
    // loaded once and shared.
    let mut loaded_by_vars: BTreeMap<&BTreeMap<String, String>, BTreeMap<String, Vec<LoadedBundle>>> = BTreeMap::new();
    let mut images_by_vars: BTreeMap<&BTreeMap<String, String>, images::BundleImages> = BTreeMap::new();
    let image_epoch = options.images(config).then_some(options.source_date_epoch);
    // The last target of a variable set may move the rendered bundles out
    // instead of copying their (large) properties.
    let mut remaining_uses: BTreeMap<&BTreeMap<String, String>, usize> = BTreeMap::new();
    for target in &targets {
        *remaining_uses.entry(&target.vars).or_default() += 1;
    }
    // Packages with a bundle that failed to load: their channels are linked
    // without it, so their graph problems are follow-ons of that failure.
    let mut failed_dirs: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let mut follow_ons: BTreeMap<String, Vec<Diagnostic>> = BTreeMap::new();
    let mut built = Vec::new();
    for target in targets {
        if !loaded_by_vars.contains_key(&target.vars) {
            let (loaded, bundle_images) = report::stage(reporter, Stage::Load, || {
                load_packages(config, &plan.packages, &target.vars, image_epoch, &mut diagnostics)
            });
            record_failed_dirs(&plan.packages, &loaded, &mut failed_dirs);
            loaded_by_vars.insert(&target.vars, loaded);
            images_by_vars.insert(&target.vars, bundle_images);
        }
        let uses = remaining_uses.entry(&target.vars).or_default();
        *uses = uses.saturating_sub(1);
        let last_use = *uses == 0;
        let Some(loaded) = loaded_by_vars.get_mut(&target.vars) else {
            continue;
        };
        let mut source_orders = Vec::new();
        let mut package_images = package::PackageImages {
            built: image_epoch.and(images_by_vars.get(&target.vars)),
            by_digest: config.images.bundle_refs == crate::config::BundleRefs::Digest,
            target: Vec::new(),
        };
        let packages = report::stage(reporter, Stage::Graph, || {
            let mut packages = Vec::new();
            for package_name in &target.packages {
                let Some(package) = config.packages.iter().find(|package| &package.name.value == package_name) else {
                    continue;
                };
                let bundles = loaded.get_mut(package_name).map(Vec::as_mut_slice).unwrap_or_default();
                source_orders.push(crate::sqlite::SourceOrder {
                    object_file_order: bundles
                        .iter()
                        .map(|bundle| (bundle.csv_name.clone(), bundle.object_file_order.clone()))
                        .collect(),
                    channel_order: bundles
                        .iter()
                        .map(|bundle| &bundle.manifest_channel_order)
                        .find(|order| !order.is_empty())
                        .cloned()
                        .unwrap_or_default(),
                });
                let mut catalog = DeclarativeConfig::default();
                let icon_file = plan.packages.get(package_name).and_then(|package_plan| package_plan.icon.as_ref());
                let graph_diagnostics = assemble_package(
                    config,
                    package,
                    icon_file,
                    bundles,
                    last_use,
                    target,
                    &mut catalog,
                    &mut package_images,
                    &mut diagnostics,
                );
                if failed_dirs.contains_key(package_name) {
                    follow_ons.entry(package_name.clone()).or_default().extend(graph_diagnostics);
                } else {
                    diagnostics.extend(graph_diagnostics);
                }
                packages.push(catalog);
            }
            packages
        });
        let n_excluded = target
            .packages
            .iter()
            .filter_map(|package_name| plan.packages.get(package_name))
            .map(|package_plan| package_plan.n_excluded)
            .sum();
        built.push(BuiltTarget {
            target,
            formats: options.formats.clone().unwrap_or_else(|| target.formats.clone()),
            packages,
            source_orders,
            n_excluded,
            package_manifest_packages: config
                .packages
                .iter()
                .filter(|package| package.bundles.is_empty() && !package.package_manifests.is_empty())
                .map(|package| package.name.value.clone())
                .collect(),
            bundle_images: package_images.target,
        });
    }
    crate::diag::dedupe(&mut diagnostics);
    fold_follow_ons(&mut diagnostics, follow_ons, &failed_dirs);
    // catbuild's own output: plain words before opm's Go type names (the
    // opm-compatible commands do not come through here).
    diagnostics.iter_mut().for_each(crate::diag::explain_go_text);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics.into());
    }
    Ok((built, diagnostics))
}

/// Adds to `failed_dirs` the planned bundle directories of each package
/// that did not load (their errors are already reported).
fn record_failed_dirs(
    plans: &BTreeMap<String, plan::PackagePlan>,
    loaded: &BTreeMap<String, Vec<LoadedBundle>>,
    failed_dirs: &mut BTreeMap<String, Vec<PathBuf>>,
) {
    for (package, package_plan) in plans {
        let loaded_dirs: Vec<&PathBuf> = loaded
            .get(package)
            .map_or_else(Vec::new, |bundles| bundles.iter().map(|bundle| &bundle.dir).collect());
        for dir in &package_plan.bundle_dirs {
            if !loaded_dirs.contains(&dir) {
                let dirs = failed_dirs.entry(package.clone()).or_default();
                if !dirs.contains(dir) {
                    dirs.push(dir.clone());
                }
            }
        }
    }
}

/// Folds each package's graph problems into the first error about one of
/// its bundles that failed to load: the cause is reported, once, with the
/// number of problems that follow from it. Without such an error (none
/// should be missing) the problems are reported as they are.
fn fold_follow_ons(
    diagnostics: &mut Vec<Diagnostic>,
    follow_ons: BTreeMap<String, Vec<Diagnostic>>,
    failed_dirs: &BTreeMap<String, Vec<PathBuf>>,
) {
    crate::diag::sort(diagnostics);
    for (package, mut package_follow_ons) in follow_ons {
        crate::diag::dedupe(&mut package_follow_ons);
        if package_follow_ons.is_empty() {
            continue;
        }
        let dirs = failed_dirs.get(&package).map(Vec::as_slice).unwrap_or_default();
        let root = diagnostics.iter_mut().find(|diagnostic| {
            diagnostic.is_error()
                && diagnostic
                    .location
                    .as_ref()
                    .is_some_and(|location| dirs.iter().any(|dir| location.path.starts_with(dir)))
        });
        match root {
            Some(root) => root.fold(&package_follow_ons),
            None => diagnostics.extend(package_follow_ons),
        }
    }
}
