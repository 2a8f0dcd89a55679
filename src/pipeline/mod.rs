//! The build: `catalog.toml` → bundles → channels → catalog → files.
//!
//! 1. plan: expand each package's bundle globs into bundle directories;
//! 2. load: render every bundle (in parallel, rayon), `.j2` templates first;
//! 3. graph: make each package's channels with its channel policy;
//! 4. check: catbuild's located checks, then opm's model validation;
//! 5. encode: File-Based Catalogs per target and format;
//! 6. write: into a temp dir beside the output, renamed into place only
//!    when every target succeeded, so a failed build changes nothing.
//!
//! Later issues add SQLite, images and deploy YAML as more encoders, and a
//! cache keyed by input digests in front of load and encode.

mod templates;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config::{ChannelPolicy, Config, MigrateLevel, OutputFormat, PackageConfig, Target};
use crate::diag::{Diagnostic, Location};
use crate::encoding::json::Value;
use crate::fbc::{self, DeclarativeConfig, Icon, Package, RelatedImage, SCHEMA_PACKAGE};
use crate::graph::{self, BundleInfo, GraphProblem};
use crate::load::LoadedBundle;

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
pub fn check(config: &Config, options: &BuildOptions) -> Result<BuildReport, Vec<Diagnostic>> {
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
pub fn build(config: &Config, options: &BuildOptions) -> Result<BuildReport, Vec<Diagnostic>> {
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
    write_all(&out_dir, staged).map_err(|message| vec![Diagnostic::error("io", message)])?;
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
    let plans = plan(config, &mut diagnostics);
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
            let loaded = load_packages(config, &plans, &target.vars, &mut diagnostics);
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
            assemble_package(config, package, bundles, last_use, target, &mut catalog, &mut diagnostics);
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

/// A directory with a bundle's parts, or one nested where upstream tools
/// put them (`bundle/`, `certification/`), or a CSV at its root.
pub(crate) fn looks_like_bundle(dir: &Path) -> bool {
    ["manifests", "metadata", "bundle", "certification"]
        .iter()
        .any(|sub| dir.join(sub).is_dir())
        || fs_err::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .any(|entry| entry.file_name().to_string_lossy().contains("clusterserviceversion"))
            })
            .unwrap_or(false)
}

/// Bundle directories of one package, in sorted order, with the config
/// entry they came from.
struct PackagePlan {
    bundle_dirs: Vec<PathBuf>,
    package_manifest_dirs: Vec<PathBuf>,
}

fn plan(config: &Config, diagnostics: &mut Vec<Diagnostic>) -> BTreeMap<String, PackagePlan> {
    let mut plans = BTreeMap::new();
    for package in &config.packages {
        let mut bundle_dirs = BTreeSet::new();
        for pattern in &package.bundles {
            let full = config.root.join(&pattern.value);
            let matches = match glob::glob(&full.to_string_lossy()) {
                Ok(paths) => {
                    let wildcard = pattern.value.contains(['*', '?', '[']);
                    // A wildcard also matches neighbours such as
                    // `catalog-templates/`; keep what looks like a bundle (the
                    // loader explains what is wrong with odd ones).
                    paths
                        .filter_map(Result::ok)
                        .filter(|path| path.is_dir() && (!wildcard || looks_like_bundle(path)))
                        .collect::<Vec<_>>()
                }
                Err(error) => {
                    diagnostics.push(
                        Diagnostic::error("config", format!("invalid glob pattern `{}`: {}", pattern.value, error.msg))
                            .at(Location::span(&config.path, pattern.span.clone())),
                    );
                    continue;
                }
            };
            if matches.is_empty() {
                diagnostics.push(
                    Diagnostic::error("config", format!("`{}` matches no directory", pattern.value))
                        .at(Location::span(&config.path, pattern.span.clone()))
                        .label("no bundle directory here")
                        .help("bundle patterns are relative to the directory of catalog.toml and must match bundle directories (holding manifests/ and metadata/)"),
                );
            }
            bundle_dirs.extend(matches);
        }
        let mut package_manifest_dirs = Vec::new();
        for dir in &package.package_manifests {
            let full = config.root.join(&dir.value);
            if full.is_dir() {
                package_manifest_dirs.push(full);
            } else {
                diagnostics.push(
                    Diagnostic::error("config", format!("package-manifest directory `{}` does not exist", dir.value))
                        .at(Location::span(&config.path, dir.span.clone())),
                );
            }
        }
        plans.insert(
            package.name.value.clone(),
            PackagePlan {
                bundle_dirs: bundle_dirs.into_iter().collect(),
                package_manifest_dirs,
            },
        );
    }
    plans
}

/// Loads every bundle of every package, in parallel, rendering `.j2`
/// templates with `vars`.
fn load_packages(
    config: &Config,
    plans: &BTreeMap<String, PackagePlan>,
    vars: &BTreeMap<String, String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Vec<LoadedBundle>> {
    let jobs: Vec<(&str, &Path)> = plans
        .iter()
        .flat_map(|(package, plan)| plan.bundle_dirs.iter().map(move |dir| (package.as_str(), dir.as_path())))
        .collect();
    let results: Vec<(&str, Result<LoadedBundle, Vec<Diagnostic>>)> = jobs
        .par_iter()
        .map(|(package, dir)| (*package, templates::load_bundle(dir, vars, &config.root)))
        .collect();
    let mut loaded: BTreeMap<String, Vec<LoadedBundle>> = BTreeMap::new();
    for (package, result) in results {
        match result {
            Ok(bundle) => {
                diagnostics.extend(bundle_warnings(&bundle, &config.root));
                loaded.entry(package.to_string()).or_default().push(bundle);
            }
            Err(found) => diagnostics.extend(found),
        }
    }
    for (package, plan) in plans {
        for dir in &plan.package_manifest_dirs {
            match crate::load::load_package_manifest_dir(dir) {
                Ok(manifest) => loaded.entry(package.clone()).or_default().extend(manifest.bundles),
                Err(error) => diagnostics.push(Diagnostic::error("bundle", error.to_string()).at(Location::file(dir))),
            }
        }
    }
    loaded
}

/// Diagnostics for what opm would log and carry on from. A file that does
/// not decode is an error here: opm drops it without a word (a broken
/// dependencies.yaml silently loses the dependencies), a build must not.
fn bundle_warnings(bundle: &LoadedBundle, root: &Path) -> Vec<Diagnostic> {
    use crate::load::Warning;
    let prefix = format!("{}/", root.display());
    bundle
        .warnings
        .iter()
        .map(|warning| match warning {
            Warning::UndecodableManifest { location, message } | Warning::UndecodableMetadata { location, message } => Diagnostic::error(
                "yaml",
                format!("cannot decode `{}`: {message}", crate::diag::display_path(&location.file, root)),
            )
            .at(load_location(location))
            .note("opm skips such a file silently; catbuild refuses to, so nothing goes missing from the catalog"),
            Warning::ExtraDocuments { file } => Diagnostic::warning("yaml", warning.to_string().replace(&prefix, ""))
                .at(Location::file(file))
                .note("only the first YAML document of a manifest file is part of the bundle (as in opm)"),
            Warning::ExtraCsv { file, .. } => {
                Diagnostic::warning("bundle", warning.to_string().replace(&prefix, "")).at(Location::file(file))
            }
            Warning::CsvPropertiesAnnotation { location, .. } | Warning::CsvFieldIgnored { location, .. } => {
                Diagnostic::warning("bundle", warning.to_string().replace(&prefix, "")).at(load_location(location))
            }
        })
        .collect()
}

fn load_location(location: &crate::load::Location) -> Location {
    match location.line {
        Some(line) => Location::line(&location.file, line),
        None => Location::file(&location.file),
    }
}

/// Links one package's bundles into channels and adds its blobs to `catalog`.
fn assemble_package(
    config: &Config,
    package: &PackageConfig,
    bundles: &mut [LoadedBundle],
    last_use: bool,
    target: &Target,
    catalog: &mut DeclarativeConfig,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let name = &package.name.value;
    let mut infos = Vec::new();
    let mut seen: BTreeMap<&str, &LoadedBundle> = BTreeMap::new();
    let mut package_ok = true;
    for bundle in bundles.iter() {
        if &bundle.package != name {
            diagnostics.push(
                Diagnostic::error("bundle", format!("bundle `{}` belongs to package `{}`, not `{name}`", bundle.bundle.name, bundle.package))
                    .at(Location::file(&bundle.annotations_path()))
                    .help(format!(
                        "fix `operators.operatorframework.io.bundle.package.v1` in its annotations, or list the bundle under `[[package]] name = \"{}\"`",
                        bundle.package
                    )),
            );
            package_ok = false;
            continue;
        }
        if let Some(first) = seen.insert(bundle.bundle.name.as_str(), bundle) {
            diagnostics.push(
                Diagnostic::error(
                    "bundle",
                    format!("two bundles of package `{name}` are named `{}`", bundle.bundle.name),
                )
                .at(Location::file(&bundle.csv_path))
                .note(format!(
                    "the other one is `{}`",
                    crate::diag::display_path(&first.csv_path, &config.root)
                ))
                .help("each CSV needs its own `metadata.name`; remove the duplicate directory"),
            );
            package_ok = false;
            continue;
        }
        match crate::semver::Version::parse(&bundle.version) {
            Ok(version) => infos.push(BundleInfo {
                name: bundle.bundle.name.clone(),
                version,
                channels: bundle.channels.clone(),
                default_channel: bundle.default_channel.clone(),
                replaces: bundle.replaces.clone(),
                skips: bundle.skips.clone(),
                skip_range: bundle.skip_range.clone(),
            }),
            Err(reason) => {
                diagnostics.push(
                    Diagnostic::error(
                        "bundle",
                        format!("bundle `{}` has invalid version `{}`: {reason}", bundle.bundle.name, bundle.version),
                    )
                    .at(csv_field_location(bundle, "version"))
                    .help("`spec.version` must be a semantic version such as `1.2.3`; quote it in YAML so `1.10` stays a string"),
                );
                package_ok = false;
            }
        }
        if !bundle.skip_range.is_empty()
            && let Err(reason) = crate::semver::Range::parse(&bundle.skip_range)
        {
            diagnostics.push(
                Diagnostic::error(
                    "graph",
                    format!(
                        "bundle `{}` has invalid skipRange `{}`: {reason}",
                        bundle.bundle.name, bundle.skip_range
                    ),
                )
                .at(csv_field_location(bundle, "olm.skipRange"))
                .help("write a range such as `>=1.0.0 <1.2.0` (no `v` prefix)"),
            );
            package_ok = false;
        }
    }
    if bundles.is_empty() {
        // Planning or loading already said why.
        return;
    }
    if !package_ok {
        return;
    }
    let package_graph = match &package.channel_policy {
        ChannelPolicy::Replaces => graph::replaces_channels(name, &infos),
        ChannelPolicy::Explicit(channels) => {
            check_explicit(config, name, channels, &seen, diagnostics);
            graph::PackageGraph {
                channels: graph::explicit_channels(name, channels),
                default_channel: None,
                problems: Vec::new(),
            }
        }
        ChannelPolicy::Semver(policy) => graph::semver_channels(name, &infos, policy),
    };
    let by_name: BTreeMap<&str, &LoadedBundle> = bundles.iter().map(|bundle| (bundle.bundle.name.as_str(), bundle)).collect();
    for problem in &package_graph.problems {
        diagnostics.push(graph_diagnostic(problem, &by_name, config));
    }
    let channel_names: Vec<&str> = package_graph.channels.iter().map(|channel| channel.name.as_str()).collect();
    let default_channel = match &package.default_channel {
        Some(default) => {
            if !channel_names.contains(&default.value.as_str()) {
                let mut diagnostic = Diagnostic::error(
                    "graph",
                    format!("default channel `{}` of package `{name}` has no bundles", default.value),
                )
                .at(Location::span(&config.path, default.span.clone()));
                diagnostic = match crate::config::closest(&default.value, &channel_names) {
                    Some(best) => diagnostic.help(format!("did you mean `{best}`?")),
                    None => diagnostic.help(format!("channels of this package: {}", channel_names.join(", "))),
                };
                diagnostics.push(diagnostic);
            }
            default.value.clone()
        }
        None => match package_graph.default_channel.clone() {
            Some(default) => default,
            None => {
                diagnostics.push(
                    Diagnostic::error("graph", format!("package `{name}` has no default channel"))
                        .at(Location::span(&config.path, package.name.span.clone()))
                        .help(format!(
                            "set `default-channel` in its `[[package]]` table (channels: {}), or the `...channel.default.v1` annotation of its newest bundle",
                            channel_names.join(", ")
                        )),
                );
                String::new()
            }
        },
    };
    let head_csv = package_graph
        .channels
        .iter()
        .find(|channel| channel.name == default_channel)
        .and_then(head_of)
        .and_then(|head| by_name.get(head.as_str()))
        .map(|bundle| &bundle.csv);
    let icon = package_icon(package, head_csv, diagnostics);
    catalog.packages.push(Package {
        schema: SCHEMA_PACKAGE.to_string(),
        name: name.clone(),
        default_channel,
        icon,
        description: package.description.clone().unwrap_or_default(),
        properties: Vec::new(),
    });
    catalog.channels.extend(package_graph.channels);
    for bundle in bundles.iter_mut() {
        let image = package.bundle_image.as_ref().map(|template| {
            templates::bundle_image(&template.value, &target.vars, bundle).map_err(|message| (message, template.span.clone()))
        });
        let mut rendered = if last_use {
            std::mem::take(&mut bundle.bundle)
        } else {
            bundle.bundle.clone()
        };
        match image {
            Some(Ok(image)) => set_bundle_image(&mut rendered, &image),
            Some(Err((message, span))) => diagnostics.push(Diagnostic::error("config", message).at(Location::span(&config.path, span))),
            None => {}
        }
        if target.migrate_level == MigrateLevel::BundleObjectToCsvMetadata
            && let Err(error) = crate::load::migrate_bundle_to_csv_metadata(&mut rendered)
        {
            diagnostics.push(
                Diagnostic::error(
                    "bundle",
                    format!("cannot migrate bundle `{}` to olm.csv.metadata: {error}", rendered.name),
                )
                .at(Location::file(&bundle.csv_path)),
            );
        }
        catalog.bundles.push(rendered);
    }
}

/// Checks explicit channels against the package's bundles and opm's graph
/// rules, pointing into `catalog.toml`.
fn check_explicit(
    config: &Config,
    package: &str,
    channels: &[crate::config::ExplicitChannel],
    bundles: &BTreeMap<&str, &LoadedBundle>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let at = |span: &std::ops::Range<usize>| Location::span(&config.path, span.clone());
    for channel in channels {
        // Suggest only bundles this channel does not list already.
        let listed: BTreeSet<&str> = channel.entries.iter().map(|entry| entry.name.value.as_str()).collect();
        let bundle_names: Vec<&str> = bundles.keys().copied().filter(|name| !listed.contains(name)).collect();
        let all_names: Vec<&str> = bundles.keys().copied().collect();
        for entry in &channel.entries {
            if !bundles.contains_key(entry.name.value.as_str()) {
                let mut diagnostic = Diagnostic::error(
                    "graph",
                    format!(
                        "channel `{}` lists `{}`, which is not a bundle of package `{package}`",
                        channel.name.value, entry.name.value
                    ),
                )
                .at(at(&entry.name.span));
                if let Some(best) = crate::config::closest(&entry.name.value, &bundle_names) {
                    diagnostic = diagnostic.help(format!("did you mean `{best}`?"));
                }
                diagnostics.push(diagnostic);
            }
            if let Some(replaces) = &entry.replaces
                && !bundles.contains_key(replaces.value.as_str())
            {
                // opm accepts a tail replacing a bundle that is not in the
                // catalog (a version subset, an unpublished predecessor), so
                // this is a warning. When the name is one edit away from a
                // bundle that is here, a typo is likely: say which.
                let mut diagnostic = Diagnostic::warning(
                    "graph",
                    format!(
                        "`{}` replaces `{}`, which is not a bundle of package `{package}`",
                        entry.name.value, replaces.value
                    ),
                )
                .at(at(&replaces.span))
                .note("fine for the oldest entry of a channel; any older entry it cuts off is reported as stranded");
                if let Some(best) = crate::config::closest(&replaces.value, &all_names) {
                    diagnostic = diagnostic.help(format!("did you mean `{best}`?"));
                }
                diagnostics.push(diagnostic);
            }
            if let Some(range) = &entry.skip_range
                && let Err(reason) = crate::semver::Range::parse(&range.value)
            {
                diagnostics.push(
                    Diagnostic::error("graph", format!("invalid skipRange `{}`: {reason}", range.value))
                        .at(at(&range.span))
                        .help("write a range such as `>=1.0.0 <1.2.0` (no `v` prefix)"),
                );
            }
        }
        let fbc_channel = &graph::explicit_channels(package, std::slice::from_ref(channel))[0];
        for problem in graph::check_channel(fbc_channel) {
            let mut diagnostic = Diagnostic::error("graph", problem.message).at(at(&channel.name.span));
            if let Some(help) = problem.help {
                diagnostic = diagnostic.help(help);
            }
            diagnostics.push(diagnostic);
        }
    }
}

/// The entry no other entry replaces or skips (opm's `Channel.Head`).
fn head_of(channel: &fbc::Channel) -> Option<String> {
    let entries = channel.entries.as_ref()?;
    let mut referenced = BTreeSet::new();
    for entry in entries {
        referenced.insert(entry.replaces.as_str());
        referenced.extend(entry.skips.iter().map(String::as_str));
    }
    let heads: Vec<&fbc::ChannelEntry> = entries.iter().filter(|entry| !referenced.contains(entry.name.as_str())).collect();
    match heads.as_slice() {
        [head] => Some(head.name.clone()),
        _ => None,
    }
}

/// Sets a bundle's image and lists it in relatedImages, as rendering the
/// bundle image would (spec B.6).
fn set_bundle_image(bundle: &mut fbc::Bundle, image: &str) {
    bundle.image = image.to_string();
    if !image.is_empty() && !bundle.related_images.iter().any(|related| related.image == image) {
        bundle.related_images.push(RelatedImage {
            name: String::new(),
            image: image.to_string(),
        });
        bundle.related_images.sort_by(|left, right| left.image.cmp(&right.image));
    }
}

/// The package icon: the configured file, else the default channel head's
/// CSV `spec.icon[0]` (what opm's semver template and index migration do).
fn package_icon(package: &PackageConfig, head_csv: Option<&Value>, diagnostics: &mut Vec<Diagnostic>) -> Option<Icon> {
    if let Some(path) = &package.icon {
        return match fs_err::read(path) {
            Ok(data) => Some(Icon {
                data,
                media_type: media_type_of(path),
            }),
            Err(error) => {
                diagnostics.push(Diagnostic::error(
                    "config",
                    format!("cannot read icon of package `{}`: {error}", package.name.value),
                ));
                None
            }
        };
    }
    let icon = head_csv?.pointer(&["spec", "icon"])?.as_array()?.first()?;
    let data = icon.get("base64data")?.as_str()?;
    use base64::Engine as _;
    let cleaned: String = data.chars().filter(|ch| !ch.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(cleaned).ok()?;
    Some(Icon {
        data: bytes,
        media_type: icon.get("mediatype").and_then(Value::as_str).unwrap_or_default().to_string(),
    })
}

fn media_type_of(path: &Path) -> String {
    match path.extension().and_then(|extension| extension.to_str()).unwrap_or_default() {
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        _ => "application/octet-stream",
    }
    .to_string()
}

fn graph_diagnostic(problem: &GraphProblem, by_name: &BTreeMap<&str, &LoadedBundle>, config: &Config) -> Diagnostic {
    let mut diagnostic = Diagnostic::error("graph", problem.message.clone());
    let bundle = problem.bundle.as_deref().and_then(|name| by_name.get(name));
    diagnostic = match bundle {
        Some(bundle) if problem.field == "channels" => diagnostic.at(Location::file(&bundle.annotations_path())),
        Some(bundle) => diagnostic.at(csv_field_location(bundle, problem.field)),
        None => diagnostic.at(Location::file(&config.path)),
    };
    if let Some(help) = &problem.help {
        diagnostic = diagnostic.help(help.clone());
    }
    diagnostic
}

/// The line of a CSV field, found in the file's text (the YAML decoder keeps
/// no positions); the file alone when it cannot be found.
fn csv_field_location(bundle: &LoadedBundle, field: &str) -> Location {
    let Ok(text) = fs_err::read_to_string(&bundle.csv_path) else {
        return Location::file(&bundle.csv_path);
    };
    let key = format!("{field}:");
    let quoted = format!("\"{field}\":");
    for (idx, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with(&key) || trimmed.starts_with(&quoted) {
            return Location::line(&bundle.csv_path, idx + 1);
        }
    }
    Location::file(&bundle.csv_path)
}

/// Writes every staged directory into place: each into a temp dir beside
/// its destination, then swapped in by rename. Nothing is written unless
/// every file could be staged.
fn write_all(out_dir: &Path, staged: Vec<(PathBuf, Vec<(String, String)>)>) -> Result<(), String> {
    fs_err::create_dir_all(out_dir).map_err(|error| error.to_string())?;
    let mut ready = Vec::new();
    for (final_dir, files) in staged {
        let parent = final_dir.parent().unwrap_or(out_dir);
        fs_err::create_dir_all(parent).map_err(|error| error.to_string())?;
        let temp = tempfile::Builder::new()
            .prefix(".catbuild-")
            .tempdir_in(parent)
            .map_err(|error| error.to_string())?;
        for (relative, content) in files {
            let path = temp.path().join(relative);
            if let Some(dir) = path.parent() {
                fs_err::create_dir_all(dir).map_err(|error| error.to_string())?;
            }
            fs_err::write(&path, content).map_err(|error| error.to_string())?;
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
                .map_err(|error| error.to_string())?
                .keep();
            let old = trash.join("old");
            fs_err::rename(&final_dir, &old).map_err(|error| error.to_string())?;
            fs_err::rename(&temp_path, &final_dir).map_err(|error| error.to_string())?;
            let _ = fs_err::remove_dir_all(&trash);
        } else {
            fs_err::rename(&temp_path, &final_dir).map_err(|error| error.to_string())?;
        }
    }
    Ok(())
}
