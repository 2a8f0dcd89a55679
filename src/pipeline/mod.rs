//! The build: `catalog.toml` → bundles → channels → catalog → files.
//!
//! 1. plan: expand each package's bundle globs into bundle directories, and
//!    read the icon files; then, package by package (several loading at
//!    once under an input-bytes budget, finished in catalog order):
//! 2. load: read the package's bundles into memory (with the digest of
//!    each file), render `.j2` files in memory, parse (in parallel, rayon);
//! 3. graph: make its channels with its channel policy, in each target;
//! 4. check: catbuild's located checks, then opm's model validation;
//! 5. encode: each target's formats, the files staged at once in the
//!    target's temp dir (`output::Publication`, under the output
//!    directory's lock), the package dropped;
//! 6. write: when every package of every target passed, `output` swaps the
//!    targets in atomically; otherwise the temp dirs go, so a failed build
//!    changes nothing.
//!
//! Later issues add SQLite, images and deploy YAML as more encoders, and a
//! cache keyed by input digests in front of load and encode.

mod cached;
mod encode;
mod exclude;
mod fresh;
mod images;
mod index_db;
mod inflight;
mod load;
mod package;
mod plan;
mod report;
mod versions;
mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config::{ChannelPolicy, Config, OutputFormat, PackageConfig, Target};
use crate::diag::{Diagnostic, Location};
use crate::fbc::DeclarativeConfig;
use crate::load::LoadedBundle;
use crate::sqlite;

use cached::Probe;
use load::load_package;
use package::assemble_package;

pub use cached::{CacheSettings, cache_dir};
pub use encode::{DeploySettings, EncodeError, FBC_DIR, OutputFile, TargetSettings, ValidPackage};
pub use images::{BuiltImage, ImageRole, LOCK_FILE, OCI_DIR};
pub use report::{Action, Cached, Planned, Reporter, Silent, Stage};
pub use versions::matrix;

/// For `render` of a templated bundle directory inside a project ([`crate::source`]).
pub(crate) use load::load_templated_bundle;
use plan::plan;
use write::stale_target_warnings;

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
    /// A bundle image could not be pulled (after retries) or cached.
    #[error(transparent)]
    Pull(crate::source::pulled::FetchError),
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
    /// Build images (`--images`), whatever catalog.toml says.
    pub build_images: bool,
    /// `--registry HOST[:PORT]/PREFIX`: push there instead.
    pub registry: Option<String>,
    /// `--base-image`: every target's catalog image base for this run.
    pub base_image: Option<crate::config::BaseImage>,
    /// `SOURCE_DATE_EPOCH` (0 when unset): every mtime and `created`.
    pub source_date_epoch: u64,
    /// The action cache: where, and whether to use it.
    pub cache: CacheSettings,
}

impl BuildOptions {
    /// Whether this build makes images at all.
    fn images(&self, config: &Config) -> bool {
        config.images.build || self.build_images || self.push || config.targets.iter().any(|target| target.push)
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
    /// Its valid packages' channels and heads, in package order.
    pub packages: Vec<crate::summary::PackageOutline>,
    /// What moved since the target's last build; `None` when there is no
    /// last build to compare with (or nothing was written).
    pub changes: Option<Vec<crate::summary::Change>>,
}

impl TargetReport {
    /// The catalog image of `format`, when images were built.
    pub fn catalog_image(&self, format: OutputFormat) -> Option<&BuiltImage> {
        self.images.iter().find(|image| image.role == ImageRole::Catalog { format })
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
    let plans = plan(config, None, &mut diagnostics).packages;
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
    run(config, options, reporter, None, None).map(|(report, _)| report)
}

/// A target's name and its deployment files.
pub type TargetDeploy = (String, Vec<OutputFile>);

/// Every check of a build, then each selected target's deployment files
/// (under `deploy/`), without writing anything: what `catbuild deploy`
/// prints. Targets without `olm` give no files.
pub fn deploy_files(config: &Config, options: &BuildOptions, reporter: &dyn Reporter) -> Result<Vec<TargetDeploy>, BuildError> {
    run(config, options, reporter, None, None).map(|(_, deploy)| deploy)
}

/// Builds every selected target into the output directory.
///
/// With the cache, a build whose inputs, settings and outputs are exactly
/// as a whole-build stamp says returns that build's report and does
/// nothing else (`fresh`).
pub fn build(config: &Config, options: &BuildOptions, reporter: &dyn Reporter) -> Result<BuildReport, BuildError> {
    let out_dir = options.out_dir.clone().unwrap_or_else(|| config.catalog.output_dir.clone());
    // Not a stage of its own: on a miss the build's stages follow as ever.
    let hints = match fresh::check(config, options, &out_dir)? {
        fresh::Checked::Fresh(report) => {
            report::hit(reporter, &Action::UpToDate { out_dir: &out_dir }, None);
            return Ok(report);
        }
        fresh::Checked::Stale(hints) => Some(*hints),
        fresh::Checked::Unknown => None,
    };
    // Before any input is read (the check only stats): a stamp is only
    // taken when no input changed after this moment.
    let start = fresh::Start {
        at: std::time::SystemTime::now(),
        hints,
    };
    run(config, options, reporter, Some(&out_dir), Some(&start)).map(|(report, _)| report)
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
            // Pushed from the published layout, which holds every image
            // of the target (built this run or restored from the cache).
            let Some(output) = &target_report.output else {
                continue;
            };
            let job = crate::registry::PushJob {
                reference,
                layout: output.join(images::OCI_DIR),
                digest: image.digest.clone(),
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
            timeout: config.images.timeout,
        },
        ..crate::registry::PushSettings::default()
    };
    // Catalogs after bundles: a catalog never names a bundle that is not
    // in the registry yet.
    let pushed = crate::registry::push_images(&[&bundles, &catalogs], &settings).map_err(BuildError::Push)?;
    Ok(Some(pushed))
}

/// The build, package by package: each package's bundles are loaded,
/// linked and checked, then dropped; it is validated by opm's rules and
/// encoded, and its files written into the targets' staging dirs, while
/// the next package loads ([`PackageRun::packages`]). So memory follows
/// the largest packages, not the tree: building all of
/// community-operators-prod held 3.5 GB when every bundle was loaded first
/// and every target's files were kept until the end.
///
/// Nothing under `out_dir` changes unless every package of every target
/// passed: staging dirs are swapped in only then (`output::Publication`),
/// and a build that fails on its input removes the output directory again
/// if it made it. `out_dir` is `None` for `check`, which writes nothing.
/// Also returns each target's deployment files (staged with the rest when
/// building).
/// `start`, when building, is when the build began and what the last
/// build's stamp still says (for its stamp, and to skip keying bundles).
fn run(
    config: &Config,
    options: &BuildOptions,
    reporter: &dyn Reporter,
    out_dir: Option<&Path>,
    start: Option<&fresh::Start>,
) -> Result<(BuildReport, Vec<TargetDeploy>), BuildError> {
    let targets = select_targets(config, options)?;
    let mut diagnostics = config.warnings.clone();
    // Bundle images are pulled into the output directory's cache, for
    // `check` too (it reads the bundles).
    let image_cache = images::image_cache(out_dir.unwrap_or(&config.catalog.output_dir));
    let mut plan = report::stage(reporter, Stage::Plan, || plan(config, Some(&image_cache), &mut diagnostics));
    if let Some(failure) = plan.pull_failure.take() {
        return Err(BuildError::Pull(failure));
    }
    let encode = out_dir.is_some();
    let formats: Vec<Vec<OutputFormat>> = targets
        .iter()
        .map(|target| {
            if encode {
                options.formats.clone().unwrap_or_else(|| target.formats.clone())
            } else {
                Vec::new()
            }
        })
        .collect();
    // Reading an index is loading; a project without one reports no stage.
    let index_packages = if config.packages.iter().any(|package| package.index_db.is_some()) {
        report::stage(reporter, Stage::Load, || index_db::load_index_packages(config, &mut diagnostics))
    } else {
        BTreeMap::new()
    };
    let package_manifest_packages: BTreeSet<String> = config
        .packages
        .iter()
        .filter(|package| {
            let from_manifests = package.bundles.is_empty() && !package.package_manifests.is_empty();
            // An index built by the initializer has no bundle images; its
            // rows are written back the initializer's way.
            let from_initializer_index = index_packages
                .get(&package.name.value)
                .is_some_and(|catalog| catalog.bundles.iter().all(|bundle| bundle.image.is_empty()));
            from_manifests || (package.index_db.is_some() && from_initializer_index)
        })
        .map(|package| package.name.value.clone())
        .collect();
    let semver_add_mode_packages: BTreeSet<String> = config
        .packages
        .iter()
        .filter(|package| {
            matches!(
                package.channel_policy,
                ChannelPolicy::SemverMode | ChannelPolicy::SemverSkipPatchMode
            )
        })
        .map(|package| package.name.value.clone())
        .collect();
    let deploy_templates = deploy_templates(config, &targets, &mut diagnostics);
    // Bundle images are built at load time (the catalog may name them by
    // digest, which validation sees too); base images, catalog images and
    // the layout only when building. Base images are declared inputs, read
    // once before any package.
    let image_epoch = options.images(config).then_some(options.source_date_epoch);
    let bases = match (encode, image_epoch) {
        (true, Some(_)) => match images::read_bases(config, &targets, options.base_image.as_ref(), &image_cache) {
            Ok(bases) => Some(bases),
            Err(images::BasesError::Input(found)) => {
                diagnostics.extend(found);
                None
            }
            Err(images::BasesError::Pull(failure)) => return Err(BuildError::Pull(failure)),
        },
        _ => None,
    };
    let settings: Vec<TargetSettings> = targets
        .iter()
        .map(|target| TargetSettings {
            target: target.name.clone(),
            package_manifest_packages: package_manifest_packages.clone(),
            semver_add_mode_packages: semver_add_mode_packages.clone(),
            deploy: target.deploy.as_ref().map(|_| DeploySettings {
                config_path: config.path.clone(),
                catalog: config.catalog.clone(),
                target: (*target).clone(),
                templates: deploy_templates.clone(),
                icon: plan
                    .catalog_icon
                    .as_ref()
                    .map(|icon| (icon.bytes.clone(), package::media_type_of(&icon.path))),
                // Catalog images (#15) give the digest; until then the
                // objects name the tag reference (or the digest written).
                image_digest: None,
                // Filled from the packages' bundles as they are loaded.
                bundle_facts: BTreeMap::new(),
            }),
        })
        .collect();
    // A plan that already failed is checked on, but nothing is staged.
    let publication = match out_dir {
        Some(out_dir) if !diagnostics.iter().any(Diagnostic::is_error) => {
            let names: Vec<&str> = targets.iter().map(|target| target.name.as_str()).collect();
            // The lock the stamp's check took, if any, is held on.
            let held = start.and_then(|start| start.hints.as_ref()?.take_lock());
            Some(crate::output::Publication::begin(out_dir, &names, &options.output, held)?)
        }
        _ => None,
    };
    // Each SQLite target's `index.db` is written as its packages pass.
    let mut sqlite_indexes: Vec<Option<encode::SqliteIndex>> = Vec::new();
    if let Some(publication) = &publication {
        for (target_idx, target_formats) in formats.iter().enumerate() {
            sqlite_indexes.push(if target_formats.contains(&OutputFormat::Sqlite) {
                let path = publication.reserve(target_idx, Path::new(encode::SQLITE_FILE))?;
                Some(encode::SqliteIndex::create(path).map_err(BuildError::Encode)?)
            } else {
                None
            });
        }
    }
    let run_cache = match (out_dir, &publication) {
        (Some(out_dir), Some(_)) => cached::RunCache::open(config, &options.cache, out_dir),
        _ => None,
    };
    if let Some(run_cache) = &run_cache {
        run_cache.report_remote(reporter);
    }
    let run = PackageRun {
        config,
        cache: run_cache.as_ref(),
        image_epoch,
        claimed_blobs: std::sync::Mutex::default(),
        hints: start.and_then(|start| start.hints.as_ref()),
        stamped_bundles: std::sync::Mutex::default(),
        keep_catalog_files: bases.is_some(),
        plan: &plan,
        index_packages: &index_packages,
        targets: &targets,
        formats: &formats,
        settings: &settings,
        publication: publication.as_ref(),
        sqlite_indexes: &sqlite_indexes,
        reporter,
    };
    let packages: Vec<&PackageConfig> = config
        .packages
        .iter()
        .filter(|package| targets.iter().any(|target| target.packages.contains(&package.name.value)))
        .collect();
    reporter.planned(&Planned {
        targets: targets.iter().map(|target| target.name.clone()).collect(),
        packages: packages.len(),
        package_targets: packages
            .iter()
            .map(|package| {
                targets
                    .iter()
                    .filter(|target| target.packages.contains(&package.name.value))
                    .count()
            })
            .sum(),
        bundle_dirs: packages
            .iter()
            .filter_map(|package| plan.packages.get(&package.name.value))
            .map(|package_plan| package_plan.bundle_dirs.len())
            .sum(),
    });
    let outcomes = run.packages(&packages);
    let claimed_blobs = std::mem::take(&mut *run.claimed_blobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    let mut stamped_bundles = std::mem::take(&mut *run.stamped_bundles.lock().unwrap_or_else(std::sync::PoisonError::into_inner));

    let mut follow_ons = BTreeMap::new();
    let mut failed_dirs = BTreeMap::new();
    let mut gate_failures: Vec<(String, Vec<&str>)> = Vec::new();
    let mut encode_error = None;
    let mut output_error = None;
    let mut n_by_target = vec![(0, 0); targets.len()];
    let mut deploy_facts: Vec<Vec<crate::deploy::PackageFacts>> = targets.iter().map(|_| Vec::new()).collect();
    let mut bundle_images: Vec<Vec<images::TargetBundleImage>> = targets.iter().map(|_| Vec::new()).collect();
    let mut catalog_files: Vec<Vec<images::CatalogFile>> = targets.iter().map(|_| Vec::new()).collect();
    let mut outlines: Vec<Vec<crate::summary::PackageOutline>> = targets.iter().map(|_| Vec::new()).collect();
    let mut target_files: Vec<cached::TargetFiles> = targets.iter().map(|_| cached::TargetFiles::default()).collect();
    let mut settings = settings;
    for (package, outcome) in packages.iter().zip(outcomes) {
        diagnostics.extend(outcome.diagnostics);
        for (target_idx, bundle_name, facts) in outcome.bundle_facts {
            if let Some(deploy) = &mut settings[target_idx].deploy {
                deploy.bundle_facts.insert(bundle_name, facts);
            }
        }
        for (target_idx, image) in outcome.bundle_images {
            bundle_images[target_idx].push(image);
        }
        if !outcome.failed_dirs.is_empty() {
            failed_dirs.insert(package.name.value.clone(), outcome.failed_dirs);
            follow_ons.insert(package.name.value.clone(), outcome.follow_ons);
        }
        for part in outcome.parts {
            let (n_packages, n_bundles) = &mut n_by_target[part.target_idx];
            *n_packages += part.n_packages;
            *n_bundles += part.n_bundles;
            match part.gate {
                Gate::Skipped => {}
                Gate::Passed(passed) => {
                    deploy_facts[part.target_idx].extend(passed.deploy_facts);
                    catalog_files[part.target_idx].extend(passed.catalog_files);
                    outlines[part.target_idx].extend(passed.outline);
                    target_files[part.target_idx].add(passed.files, passed.deferred);
                }
                Gate::Invalid(message) => {
                    let name = targets[part.target_idx].name.as_str();
                    match gate_failures.iter_mut().find(|(known, _)| *known == message) {
                        Some((_, names)) => names.push(name),
                        None => gate_failures.push((message, vec![name])),
                    }
                }
                Gate::Failed(error) => encode_error = encode_error.or(Some(error)),
                Gate::Unwritten(error) => output_error = output_error.or(Some(error)),
            }
        }
    }
    // The machine failed us: that stops the build whatever the input.
    if let Some(error) = output_error {
        return Err(error.into());
    }
    crate::diag::dedupe(&mut diagnostics);
    fold_follow_ons(&mut diagnostics, follow_ons, &failed_dirs);
    // catbuild's own output: plain words before opm's Go type names (the
    // opm-compatible commands do not come through here).
    diagnostics.iter_mut().for_each(crate::diag::explain_go_text);
    diagnostics.extend(gate_diagnostics(gate_failures));
    // The last files of each target, once every package passed: the
    // SQLite index, then (when building images) the catalog images, made
    // of the target's whole encoded catalog, and the OCI layout. An
    // encoder's failure is reported after the input's problems.
    let mut late_files: Vec<Vec<OutputFile>> = targets.iter().map(|_| Vec::new()).collect();
    // Catalog layers the cache holds, staged by digest like its packages'.
    let mut late_stored: Vec<StoredFiles> = targets.iter().map(|_| Vec::new()).collect();
    // Layers written into scratch files of the staging as they were built.
    let mut late_spilled: Vec<Vec<images::Spilled>> = targets.iter().map(|_| Vec::new()).collect();
    let mut target_images: Vec<Vec<BuiltImage>> = targets.iter().map(|_| Vec::new()).collect();
    if publication.is_some() && encode_error.is_none() && !diagnostics.iter().any(Diagnostic::is_error) {
        encode_error = finish_targets(
            &LateInputs {
                options,
                targets: &targets,
                formats: &formats,
                bases: bases.as_ref(),
                layer_cache: run_cache.as_ref(),
                // A layer too large to hold goes to a file of the staging.
                scratch: publication.as_ref(),
                reporter,
            },
            &sqlite_indexes,
            std::mem::take(&mut bundle_images),
            std::mem::take(&mut catalog_files),
            &mut late_files,
            (&mut late_stored, &mut late_spilled, &mut target_images),
        )
        .err();
    }
    // Deployment objects need every package of their target (and its
    // catalog image's digest, when one was built); a template or value
    // problem is the user's, reported with the rest.
    let mut deploy_outputs: Vec<TargetDeploy> = Vec::new();
    if !diagnostics.iter().any(Diagnostic::is_error) {
        let mut deploy_problems = Vec::new();
        for (target_idx, target) in targets.iter().enumerate() {
            let Some(deploy) = &mut settings[target_idx].deploy else {
                continue;
            };
            deploy.image_digest = catalog_image_digest(&formats[target_idx], &target_images[target_idx]);
            let deploy = &*deploy;
            match report::stage(reporter, Stage::Encode, || encode::encode_deploy(deploy, &deploy_facts[target_idx])) {
                Ok(files) => deploy_outputs.push((target.name.clone(), files)),
                Err(found) => deploy_problems.extend(found),
            }
        }
        crate::diag::dedupe(&mut deploy_problems);
        diagnostics.extend(deploy_problems);
    }
    if diagnostics.iter().any(Diagnostic::is_error) {
        if let Some(run_cache) = &run_cache {
            run_cache.report_remote(reporter);
            // A cache this build made goes with the output directory it
            // may have made; one that was there keeps what it learnt.
            if run_cache.cache.existed() {
                let _ = run_cache.cache.finish();
            } else {
                let _ = crate::cache::clear(run_cache.cache.root());
            }
        }
        if let Some(publication) = publication {
            publication.abandon_input();
        }
        return Err(diagnostics.into());
    }
    if let Some(run_cache) = &run_cache {
        // The cache only speeds builds up: failing to save it fails nothing.
        let _ = run_cache.cache.finish();
    }
    if let Some(error) = encode_error {
        return Err(BuildError::Encode(error));
    }
    let mut reports: Vec<TargetReport> = targets
        .iter()
        .zip(n_by_target)
        .map(|(target, (n_packages, n_bundles))| TargetReport {
            name: target.name.clone(),
            n_packages,
            n_bundles,
            n_excluded: target
                .packages
                .iter()
                .filter_map(|package_name| plan.packages.get(package_name))
                .map(|package_plan| package_plan.n_excluded)
                .sum(),
            output: None,
            images: Vec::new(),
            packages: Vec::new(),
            changes: None,
        })
        .collect();
    for ((report, images), packages) in reports.iter_mut().zip(target_images).zip(outlines) {
        report.images = images;
        report.packages = packages;
    }
    let (Some(out_dir), Some(mut publication)) = (out_dir, publication) else {
        let report = BuildReport {
            targets: reports,
            warnings: diagnostics,
        };
        return Ok((report, deploy_outputs));
    };
    let stale_warnings = report::stage(reporter, Stage::Write, || -> Result<Vec<Diagnostic>, BuildError> {
        // Each target's last files: SQLite and images, deployment objects,
        // and the summary.
        let mut extra: Vec<Vec<(PathBuf, Vec<u8>)>> = late_files.into_iter().map(output_files).collect();
        // A catalog image blob that a bundle image has too (a base image
        // built from one) is staged with that package already.
        for (target_idx, files) in extra.iter_mut().enumerate() {
            files.retain(|(path, _)| {
                !claimed_blobs.contains(&(target_idx, path.clone())) && !target_files[target_idx].manifest.contains_key(path)
            });
        }
        for (target_idx, spilled) in late_spilled.into_iter().enumerate() {
            for (path, digest, file) in spilled {
                publication.adopt(target_idx, file, &path)?;
                target_files[target_idx].add(vec![(path, digest)], Vec::new());
            }
        }
        for (target_idx, stored) in late_stored.into_iter().enumerate() {
            let stored: Vec<_> = stored
                .into_iter()
                .filter(|(path, _)| !target_files[target_idx].manifest.contains_key(path))
                .collect();
            target_files[target_idx].add(Vec::new(), stored);
        }
        for (target_name, files) in &deploy_outputs {
            if let Some(target_idx) = targets.iter().position(|target| &target.name == target_name) {
                extra[target_idx].extend(output_files(files.clone()));
            }
        }
        // The summary of each target, and what moved since the one it
        // replaces (read under the lock, just before the swap).
        for (target_idx, report) in reports.iter_mut().enumerate() {
            let summary_path = PathBuf::from(crate::summary::SUMMARY_FILE);
            extra[target_idx].push((summary_path, crate::summary::to_file(&report.packages)));
            let previous = std::fs::read(out_dir.join(&report.name).join(crate::summary::SUMMARY_FILE));
            report.changes = previous
                .ok()
                .and_then(|bytes| crate::summary::from_file(&bytes))
                .map(|previous| crate::summary::changes(&previous, &report.packages));
        }
        // With the cache, a target whose files did not change stays as it
        // is, and one that changed reuses its unchanged files.
        let mut published: Vec<cached::Published> = targets.iter().map(|_| cached::Published::Staged).collect();
        for (target_idx, extra) in extra.iter().enumerate() {
            match &run_cache {
                // `index.db` is written straight into staging, not by
                // digest: a target with one is never left as it was (its
                // stamp would not know the new index).
                Some(run_cache) if sqlite_indexes.get(target_idx).is_some_and(Option::is_some) => {
                    publication.write(target_idx, extra)?;
                    let deferred = target_files[target_idx].take_deferred();
                    run_cache.write_deferred(&publication, target_idx, deferred)?;
                }
                Some(run_cache) => {
                    let name = targets[target_idx].name.as_str();
                    let vouched = start.and_then(|start| start.hints.as_ref()?.target_stamp(name));
                    published[target_idx] = run_cache.publish_target(
                        &mut publication,
                        (out_dir, target_idx, name),
                        &mut target_files[target_idx],
                        extra,
                        vouched,
                    )?;
                }
                None => publication.write(target_idx, extra)?,
            }
        }
        // The lock is held until the stamps are taken: what they describe
        // is what this build wrote. The stamp's walk of the inputs reads
        // nothing the publish writes, so it runs while the publish waits
        // on its fsyncs.
        let walk_inputs = || match start {
            Some(start) if run_cache.is_some() && diagnostics.is_empty() && fresh::eligible(config, options) => {
                let known = |path: &Path, stat: &fresh::StatFields| {
                    let cache = &run_cache.as_ref()?.cache;
                    cache.known_digest(path, fresh::memo_stat(stat)?)
                };
                fresh::walk_inputs((config, options), out_dir, start, &fresh::planned_inputs(config, &plan), &known)
            }
            _ => None,
        };
        let (committed, input_walk) = rayon::join(|| publication.commit_locked(), walk_inputs);
        let (_, lock) = committed?;
        if let Some(run_cache) = &run_cache {
            let target_stamps: Vec<Option<String>> = targets
                .iter()
                .enumerate()
                .map(|(target_idx, target)| {
                    run_cache.stamp_target(out_dir, &target.name, &target_files[target_idx], &published[target_idx])
                })
                .collect();
            let stamp = input_walk.and_then(|inputs| {
                fresh::take(fresh::Finished {
                    config,
                    options,
                    reports: &reports,
                    inputs,
                    bundles: std::mem::take(&mut stamped_bundles),
                    target_stamps,
                    target_changes: published.iter().map(cached::Published::change).collect(),
                    hints: start.and_then(|start| start.hints.as_ref()),
                })
            });
            let name = fresh::stamp_name(out_dir);
            let saved = match stamp.as_ref().and_then(fresh::BuildStamp::to_text) {
                Some(text) => run_cache.cache.set_stamp(&name, &text),
                // An older stamp must not outlive the build it described.
                None => run_cache.cache.remove_stamp(&name),
            };
            // Gone before the memo is written: each holds a line or a stat
            // per input file, and the two together were a cold build's
            // peak of memory.
            drop(stamp);
            if saved.is_err() {
                run_cache.cache.note_failure();
            }
            let _ = run_cache.cache.finish();
        }
        drop(lock);
        stale_target_warnings(config, out_dir)
    })?;
    // The shared cache gets what this build used, once its output is in
    // place; it can fail, never the build.
    if let Some(run_cache) = &run_cache {
        run_cache.cache.export();
        run_cache.report_remote(reporter);
    }
    // The lock file follows the output it describes.
    if let Some(text) = images::new_lock(config, bases.as_ref(), plan.bundle_image_pins.as_ref()) {
        images::write_lock(&config.root, &text).map_err(|source| BuildError::Io {
            action: "write",
            path: config.root.join(LOCK_FILE),
            source,
        })?;
    }
    for report in &mut reports {
        report.output = Some(out_dir.join(&report.name));
    }
    let report = BuildReport {
        targets: reports,
        warnings: diagnostics.into_iter().chain(stale_warnings).collect(),
    };
    Ok((report, deploy_outputs))
}

/// Files of a target the action cache holds, by path and digest.
type StoredFiles = Vec<(PathBuf, crate::load::Sha256Digest)>;

/// What the last step of a build reads besides each target's collected
/// rows, images and files.
struct LateInputs<'a> {
    options: &'a BuildOptions,
    targets: &'a [&'a Target],
    formats: &'a [Vec<OutputFormat>],
    /// The base images, when this build makes images.
    bases: Option<&'a images::Bases>,
    /// The cache the catalog layers are kept in, when the build has one.
    layer_cache: Option<&'a cached::RunCache>,
    /// Where a target's layers may be written instead of held.
    scratch: Option<&'a crate::output::Publication>,
    reporter: &'a dyn Reporter,
}

/// Each target's `index.db` (committed) and, when images are built, its
/// catalog images over its whole encoded catalog and the OCI layout
/// holding them and its bundle images: the files go to `files` (those
/// the cache holds to `stored`), the images to `built`.
fn finish_targets(
    late: &LateInputs,
    sqlite_indexes: &[Option<encode::SqliteIndex>],
    bundle_images: Vec<Vec<images::TargetBundleImage>>,
    catalog_files: Vec<Vec<images::CatalogFile>>,
    files: &mut [Vec<OutputFile>],
    (stored, spilled, built): (&mut [StoredFiles], &mut [Vec<images::Spilled>], &mut [Vec<BuiltImage>]),
) -> Result<(), EncodeError> {
    for index in sqlite_indexes.iter().flatten() {
        report::stage(late.reporter, Stage::Encode, || index.finish())?;
    }
    let Some(bases) = late.bases else {
        return Ok(());
    };
    for (target_idx, (target_bundles, target_files)) in bundle_images.into_iter().zip(catalog_files).enumerate() {
        let target = late.targets[target_idx];
        let base = match late.options.base_image.as_ref().unwrap_or(&target.base_image) {
            crate::config::BaseImage::Scratch => None,
            crate::config::BaseImage::Layout { text, .. } | crate::config::BaseImage::Registry { text } => {
                bases.by_name.get(text).map(AsRef::as_ref)
            }
        };
        let index_db = sqlite_indexes[target_idx].as_ref().map(|index| index.path.as_path());
        let scratch = late
            .scratch
            .map(|publication| move || publication.scratch(target_idx).map_err(|error| error.to_string()));
        let layout = report::stage(late.reporter, Stage::Encode, || {
            images::target_images(
                target,
                &late.formats[target_idx],
                // The catalog image holds the index too, streamed from its
                // staging file.
                (target_files, index_db, scratch.as_ref().map(|scratch| scratch as &images::Scratch)),
                &target_bundles,
                base,
                late.options.source_date_epoch,
                late.layer_cache,
            )
        })
        .map_err(|message| EncodeError {
            package: String::new(),
            format: "oci",
            message,
        })?;
        files[target_idx].extend(layout.files);
        stored[target_idx] = layout.stored;
        spilled[target_idx] = layout.spilled;
        built[target_idx] = layout.built;
    }
    Ok(())
}

/// The digest deployment objects pin a target's catalog image by: its
/// first FBC format's catalog image, else its SQLite one; `None` when no
/// catalog image was built.
fn catalog_image_digest(formats: &[OutputFormat], built: &[BuiltImage]) -> Option<String> {
    let format = formats
        .iter()
        .find(|format| matches!(format, OutputFormat::FbcJson | OutputFormat::FbcYaml))
        .or_else(|| formats.iter().find(|format| **format == OutputFormat::Sqlite))?;
    built
        .iter()
        .find(|image| image.role == ImageRole::Catalog { format: *format })
        .map(|image| image.digest.clone())
}

/// The project's deploy templates: its overrides, read once as a declared
/// input when a target writes deployment objects.
fn deploy_templates(config: &Config, targets: &[&Target], diagnostics: &mut Vec<Diagnostic>) -> crate::deploy::Templates {
    let Some(dir) = &config.catalog.deploy_templates else {
        return crate::deploy::Templates::default();
    };
    if !targets.iter().any(|target| target.deploy.is_some()) {
        return crate::deploy::Templates::default();
    }
    match crate::deploy::Templates::load(&dir.value, &config.path, dir.span.clone()) {
        Ok(templates) => templates,
        Err(found) => {
            diagnostics.extend(found);
            crate::deploy::Templates::default()
        }
    }
}

/// A package read from an `index.db`, as one target builds it: with the
/// target's migrations applied.
fn index_package_for_target(catalog: &DeclarativeConfig, target: &Target, diagnostics: &mut Vec<Diagnostic>) -> DeclarativeConfig {
    let mut catalog = catalog.clone();
    if target.migrate_level == crate::config::MigrateLevel::BundleObjectToCsvMetadata {
        for bundle in &mut catalog.bundles {
            if let Err(error) = crate::load::migrate_bundle_to_csv_metadata(bundle) {
                diagnostics.push(Diagnostic::error(
                    "index-db",
                    format!("target `{}`: bundle `{}`: {error}", target.name, bundle.name),
                ));
            }
        }
    }
    catalog
}

/// The targets a build makes: those named with `--target`, else all.
fn select_targets<'a>(config: &'a Config, options: &BuildOptions) -> Result<Vec<&'a Target>, BuildError> {
    let mut diagnostics = Vec::new();
    let mut selected = Vec::new();
    if options.targets.is_empty() {
        selected.extend(config.targets.iter());
    }
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
    for target in &selected {
        let formats = options.formats.as_ref().unwrap_or(&target.formats);
        // index.db needs each bundle's CSV and objects (the CSV is what OLM
        // installs), and this migrate level removes them.
        if formats.contains(&OutputFormat::Sqlite) && target.migrate_level == crate::config::MigrateLevel::BundleObjectToCsvMetadata {
            diagnostics.push(
                Diagnostic::error(
                    "config",
                    format!(
                        "target `{}` writes `sqlite` with `migrate-level = \"bundle-object-to-csv-metadata\"`, which leaves index.db without CSVs",
                        target.name
                    ),
                )
                .at(Location::file(&config.path))
                .help("build `sqlite` in a target without `migrate-level` (SQLite indexes are for OpenShift 4.10 and before)"),
            );
        }
    }
    if diagnostics.is_empty() {
        Ok(selected)
    } else {
        Err(diagnostics.into())
    }
}

/// What the packages of a run share.
struct PackageRun<'a> {
    config: &'a Config,
    /// The action cache, when building with one.
    cache: Option<&'a cached::RunCache>,
    /// `SOURCE_DATE_EPOCH` when this run builds images: bundle images are
    /// then built as bundles load.
    image_epoch: Option<u64>,
    /// `(target, path)` of each bundle image blob staged: two packages'
    /// images may share one (an identical config).
    claimed_blobs: std::sync::Mutex<BTreeSet<(usize, PathBuf)>>,
    /// What the last build's stamp still says of the bundles.
    hints: Option<&'a fresh::Hints>,
    /// Each bundle's loaded digest as found, for this build's stamp.
    stamped_bundles: std::sync::Mutex<Vec<fresh::StampedBundle>>,
    /// Keep a copy of each valid package's encoded files for the target's
    /// catalog images.
    keep_catalog_files: bool,
    plan: &'a plan::Plan,
    /// Packages read from an `index.db`, already checked there.
    index_packages: &'a BTreeMap<String, DeclarativeConfig>,
    targets: &'a [&'a Target],
    /// Per target: the formats to encode (none for `check`).
    formats: &'a [Vec<OutputFormat>],
    settings: &'a [TargetSettings],
    publication: Option<&'a crate::output::Publication>,
    /// Per target: its `index.db`, when it writes `sqlite` (and this run
    /// publishes).
    sqlite_indexes: &'a [Option<encode::SqliteIndex>],
    reporter: &'a dyn Reporter,
}

/// What one package came to, in every target that has it.
#[derive(Default)]
struct PackageOutcome {
    diagnostics: Vec<Diagnostic>,
    /// The package's graph problems when one of its bundles failed to load:
    /// follow-ons of that failure.
    follow_ons: Vec<Diagnostic>,
    /// Its planned bundle directories that did not load.
    failed_dirs: Vec<PathBuf>,
    parts: Vec<PackagePart>,
    /// `(target, bundle, facts)`: what OLM v1's installer RBAC needs of
    /// each bundle a target's deployment objects install.
    bundle_facts: Vec<(usize, String, crate::deploy::BundleFacts)>,
    /// `(target, image)`: the bundle images a target's catalog names (when
    /// images are built), for its OCI layout.
    bundle_images: Vec<(usize, images::TargetBundleImage)>,
}

/// One package in one target.
struct PackagePart {
    target_idx: usize,
    n_packages: usize,
    n_bundles: usize,
    gate: Gate,
}

/// How a package fared at opm's gate.
enum Gate {
    /// catbuild's own checks failed: they say why.
    Skipped,
    /// Valid; its files are staged, and what the target's last files
    /// need of it kept.
    Passed(Passed),
    /// opm's validation refused it (opm's words).
    Invalid(String),
    /// An encoder failed.
    Failed(EncodeError),
    /// Its files could not be staged.
    Unwritten(crate::output::OutputError),
}

/// What a valid package leaves for its target's last files.
struct Passed {
    /// What deployment objects need of it.
    deploy_facts: Vec<crate::deploy::PackageFacts>,
    /// Its encoded files (bytes and, with a cache, digests), when images
    /// are built: the catalog images hold the target's whole catalog.
    catalog_files: Vec<images::CatalogFile>,
    /// Its channels and heads, for the build summary.
    outline: Option<crate::summary::PackageOutline>,
    /// With a cache: its files staged, by digest, for the target's stamp.
    files: Vec<(PathBuf, crate::load::Sha256Digest)>,
    /// Its files from the cache, not staged yet: only a target that
    /// changed stages them.
    deferred: Vec<(PathBuf, crate::load::Sha256Digest)>,
    /// Its rows for the target's SQLite index, when it has one: added in
    /// catalog order as the package finishes.
    sqlite_rows: Option<Vec<sqlite::PackageRows>>,
}

/// A package linked in every target that has it, its bundles dropped:
/// what is left to validate, encode and stage; or, when the cache had it
/// for every target, its files.
struct Prepared {
    outcome: PackageOutcome,
    linked: Vec<Linked>,
    /// `(target, files)` from the cache.
    restored: Vec<(usize, cached::Restored)>,
    /// Per target: the encode key to store the result under, and why the
    /// encode runs (or `Off`).
    encode_cache: BTreeMap<usize, (Option<crate::cache::Key>, Cached)>,
    package: String,
}

/// One package linked for one target.
struct Linked {
    target_idx: usize,
    catalog: DeclarativeConfig,
    source_order: sqlite::SourceOrder,
    /// catbuild's own checks (or loading) failed: no gate, nothing staged.
    checks_failed: bool,
    /// Its bundle images in this target, when the build makes images.
    images: Vec<images::TargetBundleImage>,
}

impl PackageRun<'_> {
    /// Every package: several load, link, validate, encode and stage at
    /// once while their input bytes fit the in-flight budget
    /// ([`inflight`]); each then finishes in catalog order (its SQLite
    /// rows go into the index, which must get them in that order). The
    /// bundles of a package are dropped once it is linked.
    fn packages(&self, packages: &[&PackageConfig]) -> Vec<PackageOutcome> {
        let sizes: Vec<u64> = packages
            .par_iter()
            .map(|package| match self.plan.packages.get(&package.name.value) {
                // A package the last build's stamp vouches for whole is
                // served from the cache, reading nothing.
                Some(package_plan) if package.index_db.is_none() && !self.vouched_for(package_plan) => inflight::input_bytes(
                    package_plan
                        .bundle_dirs
                        .iter()
                        .chain(&package_plan.package_manifest_dirs)
                        .map(PathBuf::as_path),
                ),
                _ => 0,
            })
            .collect();
        inflight::run(
            &sizes,
            inflight::BUDGET_BYTES,
            |idx| self.settle(self.prepare(packages[idx])),
            |outcome| self.finish(outcome),
        )
    }

    /// Whether the last build's stamp gives the loaded digest of each of
    /// the package's bundles (under its first variable set: only the
    /// in-flight budget asks, and a wrong answer costs memory, not bytes).
    fn vouched_for(&self, package_plan: &plan::PackagePlan) -> bool {
        self.hints.is_some_and(|hints| {
            package_plan.package_manifest_dirs.is_empty() && package_plan.bundle_dirs.iter().all(|dir| hints.loaded(dir, 0).is_some())
        })
    }

    /// Loads a package's bundles and links them in every target that has
    /// the package.
    fn prepare(&self, package: &PackageConfig) -> Prepared {
        let name = &package.name.value;
        let mut prepared = Prepared {
            outcome: PackageOutcome::default(),
            linked: Vec::new(),
            restored: Vec::new(),
            encode_cache: BTreeMap::new(),
            package: name.clone(),
        };
        let users: Vec<usize> = (0..self.targets.len())
            .filter(|idx| self.targets[*idx].packages.contains(name))
            .collect();
        if package.index_db.is_some() {
            // Read from the index and validated there; an index that could
            // not be read is already a diagnostic.
            if let Some(catalog) = self.index_packages.get(name) {
                for target_idx in users {
                    let mut diagnostics = Vec::new();
                    let catalog = index_package_for_target(catalog, self.targets[target_idx], &mut diagnostics);
                    let checks_failed = diagnostics.iter().any(Diagnostic::is_error);
                    prepared.outcome.diagnostics.extend(diagnostics);
                    prepared.linked.push(Linked {
                        target_idx,
                        catalog,
                        source_order: sqlite::SourceOrder::default(),
                        checks_failed,
                        images: Vec::new(),
                    });
                }
            }
            return prepared;
        }
        let Some(package_plan) = self.plan.packages.get(name) else {
            return prepared;
        };
        // Templated bundles render differently per variable set; plain ones
        // are loaded once and shared by the targets of a set.
        let mut var_sets: Vec<&BTreeMap<String, String>> = Vec::new();
        for idx in &users {
            if !var_sets.contains(&&self.targets[*idx].vars) {
                var_sets.push(&self.targets[*idx].vars);
            }
        }
        // The probe reads and hashes every bundle, and loads those the
        // cache misses: that is loading, and `--timings` counts it so.
        let cache_probe = report::stage(self.reporter, Stage::Load, || self.probe(package, package_plan, &users, &var_sets));
        let (mut preloaded, load_cached) = match cache_probe {
            Probe::Off => (BTreeMap::new(), Cached::Off),
            Probe::Hit(restored, load_origins) => {
                for dir in &package_plan.bundle_dirs {
                    let action = Action::LoadBundle {
                        package: name,
                        dir: dir.strip_prefix(&self.config.root).unwrap_or(dir),
                    };
                    report::hit(self.reporter, &action, load_origins.get(dir));
                }
                prepared.restored = restored;
                return prepared;
            }
            Probe::Miss {
                preloaded,
                encode,
                load_reason,
            } => {
                prepared.encode_cache = encode;
                (preloaded, cached::miss(load_reason))
            }
        };
        let outcome = &mut prepared.outcome;
        for (set_idx, vars) in var_sets.iter().enumerate() {
            let set_preloaded = preloaded.remove(&set_idx).unwrap_or_default();
            let (mut bundles, bundle_images, load_diagnostics) = report::stage(self.reporter, Stage::Load, || {
                load_package(
                    self.config,
                    (name, package_plan),
                    vars,
                    self.image_epoch,
                    (set_preloaded, &load_cached),
                    self.reporter,
                )
            });
            outcome.diagnostics.extend(load_diagnostics);
            for dir in &package_plan.bundle_dirs {
                if !bundles.iter().any(|bundle| &bundle.dir == dir) && !outcome.failed_dirs.contains(dir) {
                    outcome.failed_dirs.push(dir.clone());
                }
            }
            let set_users: Vec<usize> = users.iter().copied().filter(|idx| &&self.targets[*idx].vars == vars).collect();
            for (use_idx, target_idx) in set_users.iter().copied().enumerate() {
                // The last target of a variable set may move the rendered
                // bundles out instead of copying their (large) properties.
                let last_use = use_idx + 1 == set_users.len();
                let linked = self.link(package, package_plan, (&mut bundles, &bundle_images), last_use, target_idx, outcome);
                prepared.linked.push(linked);
            }
        }
        prepared
    }

    fn link(
        &self,
        package: &PackageConfig,
        package_plan: &plan::PackagePlan,
        (bundles, bundle_images): (&mut [LoadedBundle], &images::BundleImages),
        last_use: bool,
        target_idx: usize,
        outcome: &mut PackageOutcome,
    ) -> Linked {
        let target = self.targets[target_idx];
        let source_order = sqlite::SourceOrder {
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
        };
        if let Some(deploy) = &target.deploy
            && deploy.olm.has_v1()
            && deploy.installs.iter().any(|install| install.package.value == package.name.value)
        {
            for bundle in bundles.iter() {
                let facts = crate::deploy::rbac::bundle_facts(&bundle.csv, crate::fbc::render::bundle_objects(&bundle.bundle));
                outcome.bundle_facts.push((target_idx, bundle.csv_name.clone(), facts));
            }
        }
        let mut catalog = DeclarativeConfig::default();
        let mut own = Vec::new();
        let mut package_images = package::PackageImages {
            built: self.image_epoch.and(Some(bundle_images)),
            by_digest: self.config.images.bundle_refs == crate::config::BundleRefs::Digest,
            target: Vec::new(),
        };
        let graph_diagnostics = report::stage(self.reporter, Stage::Graph, || {
            assemble_package(
                self.config,
                package,
                package_plan.icon.as_ref(),
                bundles,
                last_use,
                target,
                &mut catalog,
                &mut package_images,
                &mut own,
            )
        });
        // Its package stages each bundle image's blobs (a push reads them
        // from the layout); the layout's index needs only the descriptor.
        outcome.bundle_images.extend(package_images.target.iter().map(|image| {
            let kept = images::TargetBundleImage {
                image: None,
                ..image.clone()
            };
            (target_idx, kept)
        }));
        let load_failed = !outcome.failed_dirs.is_empty() || outcome.diagnostics.iter().any(Diagnostic::is_error);
        if outcome.failed_dirs.is_empty() {
            own.extend(graph_diagnostics);
        } else {
            outcome.follow_ons.extend(graph_diagnostics);
        }
        let checks_failed = load_failed || own.iter().any(Diagnostic::is_error) || !outcome.follow_ons.is_empty();
        outcome.diagnostics.extend(own);
        Linked {
            target_idx,
            catalog,
            source_order,
            checks_failed,
            images: package_images.target,
        }
    }

    /// Validates, encodes and stages a linked package in each of its
    /// targets (in parallel), then drops it. Nothing here depends on the
    /// packages before it, so packages settle in any order.
    fn settle(&self, prepared: Prepared) -> PackageOutcome {
        let mut outcome = prepared.outcome;
        // Only a package without a single diagnostic is cached, so that
        // every build prints them all.
        let clean = outcome.diagnostics.is_empty() && outcome.follow_ons.is_empty() && outcome.failed_dirs.is_empty();
        let encode_cache = &prepared.encode_cache;
        let off = (None, Cached::Off);
        outcome.parts = prepared
            .linked
            .into_par_iter()
            .map(|linked| PackagePart {
                target_idx: linked.target_idx,
                n_packages: linked.catalog.packages.len(),
                n_bundles: linked.catalog.bundles.len(),
                gate: if linked.checks_failed {
                    Gate::Skipped
                } else {
                    let (key, cached) = encode_cache.get(&linked.target_idx).unwrap_or(&off);
                    let store = key.filter(|_| clean);
                    self.gate_and_encode(&linked, (store, cached))
                },
            })
            .collect();
        let package = prepared.package.as_str();
        let restored: Vec<(PackagePart, Vec<images::TargetBundleImage>)> = prepared
            .restored
            .into_par_iter()
            .map(|(target_idx, restored)| {
                let action = Action::EncodePackage {
                    target: &self.targets[target_idx].name,
                    package,
                };
                report::hit(self.reporter, &action, restored.remote.as_ref());
                let gate = Gate::Passed(Passed {
                    deploy_facts: Vec::new(),
                    catalog_files: self.restored_catalog_files(&restored.files),
                    outline: Some(restored.outline),
                    files: Vec::new(),
                    deferred: restored.files,
                    sqlite_rows: None,
                });
                let part = PackagePart {
                    target_idx,
                    n_packages: restored.n_packages,
                    n_bundles: restored.n_bundles,
                    gate,
                };
                (part, restored.images)
            })
            .collect();
        for (part, images) in restored {
            outcome
                .bundle_images
                .extend(images.into_iter().map(|image| (part.target_idx, image)));
            outcome.parts.push(part);
        }
        outcome
    }

    /// A restored package's catalog files, by digest, when the target's
    /// catalog images need them: their bytes stay in the cache, read only
    /// if a catalog layer holding them has to be built.
    fn restored_catalog_files(&self, files: &[(PathBuf, crate::load::Sha256Digest)]) -> Vec<images::CatalogFile> {
        if !self.keep_catalog_files {
            return Vec::new();
        }
        files
            .iter()
            .filter(|(path, _)| path.starts_with(encode::FBC_DIR))
            .map(|(path, digest)| images::CatalogFile {
                staged: None,
                path: path.clone(),
                digest: Some(*digest),
                bytes: None,
            })
            .collect()
    }

    /// opm's model validation is the final gate, so whatever catbuild
    /// writes `opm validate` accepts; a valid package is encoded in the
    /// target's formats while its model is at hand, and its files staged.
    fn gate_and_encode(&self, linked: &Linked, (store, cached): (Option<crate::cache::Key>, &Cached)) -> Gate {
        let (catalog, source_order, target_idx) = (&linked.catalog, &linked.source_order, linked.target_idx);
        let settings = &self.settings[target_idx];
        let stage = if self.publication.is_some() {
            Stage::Encode
        } else {
            Stage::Validate
        };
        let encoded = report::stage(self.reporter, stage, || {
            encode::encode_package(catalog, source_order, &self.formats[target_idx], settings, (self.reporter, cached))
        });
        let mut encoded = match encoded {
            Ok(encoded) => encoded,
            Err(encode::PackageFailure::Invalid(message)) => return Gate::Invalid(message),
            Err(encode::PackageFailure::Encode(error)) => return Gate::Failed(error),
        };
        // The blobs of its bundle images go with its files (and its cache
        // entry); `oci/index.json` comes with the target's last files.
        let blobs = match self.image_epoch {
            Some(_) => images::bundle_blob_files(&linked.images),
            None => Vec::new(),
        };
        let all_files: Vec<(&Path, &[u8])> = encoded
            .files
            .iter()
            .map(|file| (file.path.as_path(), file.bytes.as_slice()))
            .chain(blobs.iter().map(|(path, bytes)| (path.as_path(), *bytes)))
            .collect();
        // Staged first, so the cache can link the staged files instead of
        // writing their bytes a second time.
        let mut staged: BTreeSet<PathBuf> = BTreeSet::new();
        if let Some(publication) = self.publication {
            let mut files: Vec<(PathBuf, &[u8])> = all_files.iter().map(|(path, bytes)| (path.to_path_buf(), *bytes)).collect();
            // A blob another package staged already is the same bytes.
            if !blobs.is_empty() {
                let n_catalog_files = encoded.files.len();
                let mut claimed = self.claimed_blobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut idx = 0;
                files.retain(|(path, _)| {
                    idx += 1;
                    idx <= n_catalog_files || claimed.insert((target_idx, path.clone()))
                });
            }
            let written = report::stage(self.reporter, Stage::Write, || publication.write(target_idx, &files));
            if let Err(error) = written {
                return Gate::Unwritten(error);
            }
            staged = files.into_iter().map(|(path, _)| path).collect();
        }
        let mut digests = Vec::new();
        // Whether the cache holds every file of the package now.
        let mut in_cache = false;
        if let (Some(key), Some(run_cache)) = (store, self.cache) {
            let files: Vec<(String, &[u8])> = all_files
                .iter()
                .map(|(path, bytes)| (path.to_string_lossy().into_owned(), *bytes))
                .collect();
            let mut facts = BTreeMap::from([
                ("packages".to_string(), catalog.packages.len().to_string()),
                ("bundles".to_string(), catalog.bundles.len().to_string()),
            ]);
            // The build summary's view of the package, for a later hit.
            if let Some(outline) = encoded.outline.as_ref().and_then(|outline| serde_json::to_string(outline).ok()) {
                facts.insert("outline".to_string(), outline);
            }
            if self.image_epoch.is_some() {
                facts.insert(cached::IMAGES_FACT.to_string(), images::images_fact(&linked.images));
            }
            let sources: Vec<Option<PathBuf>> = all_files
                .iter()
                .map(|(path, _)| {
                    let publication = self.publication.filter(|_| staged.contains(*path))?;
                    publication.staged_path(target_idx, path)
                })
                .collect();
            let entry = match run_cache.cache.put_linked(&key, &files, &sources, facts) {
                Ok(entry) => {
                    in_cache = true;
                    entry
                }
                Err((entry, _)) => {
                    run_cache.cache.note_failure();
                    entry
                }
            };
            digests = entry
                .files
                .into_iter()
                .map(|(path, digest)| (PathBuf::from(path), digest))
                .collect();
        } else if self.cache.is_some() {
            digests = all_files
                .iter()
                .map(|(path, bytes)| (path.to_path_buf(), crate::load::Sha256Digest::of(bytes)))
                .collect();
        }
        // Its rows wait for the packages before it (`finish`).
        let sqlite_rows = self
            .sqlite_indexes
            .get(target_idx)
            .is_some_and(Option::is_some)
            .then(|| std::mem::take(&mut encoded.sqlite_rows));
        drop(all_files);
        // The catalog images need every file: its digest, which came with
        // the cache entry (or was taken for the stamp) and keys the catalog
        // layers, and its bytes, moved, not copied, unless the file is
        // staged or the cache holds it: the layers then read it back bucket
        // by bucket, and a catalog is never held whole.
        let catalog_files = if self.keep_catalog_files {
            encoded
                .files
                .into_iter()
                .enumerate()
                .map(|(idx, file)| {
                    let digest = digests.get(idx).filter(|(path, _)| *path == file.path).map(|(_, digest)| *digest);
                    let staged = self
                        .publication
                        .filter(|_| staged.contains(&file.path))
                        .and_then(|publication| publication.staged_path(target_idx, &file.path));
                    let held = staged.is_none() && (!in_cache || digest.is_none());
                    images::CatalogFile {
                        bytes: held.then_some(file.bytes),
                        staged,
                        digest,
                        path: file.path,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        Gate::Passed(Passed {
            deploy_facts: encoded.deploy_facts,
            catalog_files,
            outline: encoded.outline,
            files: digests,
            deferred: Vec::new(),
            sqlite_rows,
        })
    }

    /// A settled package, in catalog order: its rows go into each of its
    /// targets' SQLite index, and are dropped.
    fn finish(&self, mut outcome: PackageOutcome) -> PackageOutcome {
        for part in &mut outcome.parts {
            let Gate::Passed(passed) = &mut part.gate else {
                continue;
            };
            let (Some(rows), Some(Some(index))) = (passed.sqlite_rows.take(), self.sqlite_indexes.get(part.target_idx)) else {
                continue;
            };
            if let Err(error) = report::stage(self.reporter, Stage::Encode, || index.add(rows)) {
                part.gate = Gate::Failed(error);
            }
        }
        outcome
    }
}

fn output_files(files: Vec<OutputFile>) -> Vec<(PathBuf, Vec<u8>)> {
    files.into_iter().map(|file| (file.path, file.bytes)).collect()
}

/// opm's gate refused packages that catbuild's own checks passed: the same
/// failure in several targets is one problem that names them all.
fn gate_diagnostics(failures: Vec<(String, Vec<&str>)>) -> Vec<Diagnostic> {
    failures
        .into_iter()
        .map(|(message, names)| {
            let named: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
            let subject = if named.len() == 1 {
                format!("target {} fails", named[0])
            } else {
                format!("targets {} fail", named.join(", "))
            };
            Diagnostic::error("catalog", format!("{subject} opm's validation:\n{message}"))
                .note("catbuild's own checks found nothing; please report this so they learn it")
        })
        .collect()
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
