//! `catbuild init [DIR...]`: adopt an existing operator repository. It
//! finds bundle directories (also nested under `bundle/` or
//! `certification/`, which it says), package-manifest directories and
//! community-operators style `<package>/<version>/` trees, and writes a
//! `catalog.toml` that builds them: one `[[package]]` per package name.
//!
//! The channel policy comes from the package's community-operators
//! `ci.yaml`:
//! * `updateGraph: replaces-mode` / `semver-mode` → `replaces` / `semver`;
//! * `fbc.enabled: true`: upstream builds the package from an opm template
//!   (`catalog-templates/`), and the bundles' channel annotations need not
//!   describe that graph at all. init reads the template that
//!   `fbc.catalog_mapping` assigns to the newest catalog (`v4.21` beats
//!   `v4.9`): a basic template becomes explicit channels, keeping only the
//!   entries whose bundle was found (templates often list newer bundles
//!   than a checkout holds) and leaving out found bundles the template does
//!   not list (upstream does not publish them); a semver template gives its
//!   generate flags. What was dropped is said in TOML comments, so a reader
//!   sees every difference from upstream.
//!
//! A directory whose `metadata/` names a package but that has no
//! `manifests/` is listed too, with a comment: the build then says what is
//! wrong instead of a version going missing without a word.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CommandResult, Failure, GlobalArgs};
use crate::encoding::json::Value;
use crate::encoding::yaml_in;
use crate::fbc::{ChannelEntry, DeclarativeConfig};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directories to scan (default: the current directory)
    #[arg(value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Overwrite an existing catalog.toml
    #[arg(long)]
    force: bool,
    /// Catalog name (default: the current directory's name)
    #[arg(long)]
    name: Option<String>,
}

/// One bundle directory and why it is special, if it is.
#[derive(Debug)]
struct FoundBundle {
    dir: PathBuf,
    note: Option<String>,
}

/// Where a package's bundles were found.
#[derive(Debug, Default)]
struct FoundPackage {
    bundles: Vec<FoundBundle>,
    package_manifests: Vec<PathBuf>,
    /// What the package's `ci.yaml` says, and where it is.
    ci: Option<(CiPolicy, PathBuf)>,
}

/// The graph settings of a community-operators `ci.yaml`.
#[derive(Debug, Clone, PartialEq)]
enum CiPolicy {
    /// `updateGraph`: `replaces` or `semver`.
    UpdateGraph(&'static str),
    /// `fbc.enabled: true`: the template of the newest catalog, and the
    /// policy to fall back to if it cannot be used.
    Fbc {
        template: PathBuf,
        catalog: String,
        fallback: &'static str,
    },
    /// `fbc.enabled: true` but no template to read; the fallback policy
    /// (from `updateGraph`, else `replaces`) and the reason.
    FbcUnusable { fallback: &'static str, reason: String },
}

pub fn run(global: &GlobalArgs, args: &InitArgs) -> CommandResult {
    let config_path = global.config.clone().unwrap_or_else(|| PathBuf::from(crate::config::FILE_NAME));
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
    let dirs = if args.dirs.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.dirs.clone()
    };
    let mut packages: BTreeMap<String, FoundPackage> = BTreeMap::new();
    let mut skipped = Vec::new();
    for dir in &dirs {
        if !dir.is_dir() {
            return Err(Failure::InputMessage(format!("`{}` is not a directory", dir.display())));
        }
        let dir = std::path::absolute(dir).map_err(|error| Failure::Other(error.to_string()))?;
        scan(&dir, 0, &mut packages, &mut skipped);
    }
    if packages.is_empty() {
        return Err(Failure::InputMessage(
            "found no bundle directories (manifests/ + metadata/) and no package manifests (*.package.yaml)".to_string(),
        ));
    }
    let name = args.name.clone().unwrap_or_else(|| {
        let base = config_dir
            .file_name()
            .map_or_else(|| "catalog".to_string(), |name| name.to_string_lossy().to_lowercase());
        let cleaned: String = base.chars().map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' }).collect();
        let cleaned = cleaned.trim_matches('-').to_string();
        if cleaned.is_empty() { "catalog".to_string() } else { cleaned }
    });
    let text = render_config(&name, &packages, &config_dir);
    fs_err::write(&config_path, text).map_err(|error| Failure::Other(error.to_string()))?;
    if !global.quiet {
        let n_bundles: usize = packages.values().map(|package| package.bundles.len()).sum();
        eprintln!(
            "Wrote {}: {} packages, {n_bundles} bundle directories",
            config_path.display(),
            packages.len()
        );
        for (path, reason) in &skipped {
            eprintln!("warning: skipped `{}`: {reason}", relative(path, &config_dir));
        }
        for found in packages.values() {
            for bundle in &found.bundles {
                if let Some(note) = &bundle.note
                    && !bundle.dir.join("manifests").is_dir()
                {
                    eprintln!("warning: `{}`: {note}", relative(&bundle.dir, &config_dir));
                }
            }
        }
    }
    Ok(())
}

const MAX_DEPTH: usize = 6;

fn scan(dir: &Path, depth: usize, packages: &mut BTreeMap<String, FoundPackage>, skipped: &mut Vec<(PathBuf, String)>) {
    if dir.join("manifests").is_dir() && dir.join("metadata").is_dir() {
        add_bundle(dir, None, packages, skipped);
        return;
    }
    for nested in ["bundle", "certification"] {
        let root = dir.join(nested);
        if root.join("manifests").is_dir() && root.join("metadata").is_dir() {
            let note = format!("bundle found under `{nested}/`");
            add_bundle(&root, Some(note), packages, skipped);
            return;
        }
    }
    // A version directory with its manifests at the top instead of in
    // `manifests/`: listed, so the build reports it rather than dropping it.
    if !dir.join("manifests").exists() && dir.join("metadata").is_dir() && annotation_package(&dir.join("metadata")).is_some() {
        let note = "no `manifests/` directory; catbuild will report this bundle until its manifests are moved there".to_string();
        add_bundle(dir, Some(note), packages, skipped);
        return;
    }
    if let Some(package_name) = package_manifest_name(dir) {
        let found = packages.entry(package_name).or_default();
        found.package_manifests.push(dir.to_path_buf());
        return;
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = fs_err::read_dir(dir) else { return };
    let mut children: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).filter(|path| path.is_dir()).collect();
    children.sort();
    for child in children {
        if !is_hidden(&child) {
            scan(&child, depth + 1, packages, skipped);
        }
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.'))
}

fn add_bundle(dir: &Path, note: Option<String>, packages: &mut BTreeMap<String, FoundPackage>, skipped: &mut Vec<(PathBuf, String)>) {
    let Some(package_name) = annotation_package(&dir.join("metadata")) else {
        skipped.push((dir.to_path_buf(), "no package annotation in metadata/".to_string()));
        return;
    };
    let found = packages.entry(package_name).or_default();
    // The ci.yaml of a community-operators tree sits in the package dir,
    // the parent of the version dir (of the nested root's parent).
    let nested = dir.file_name().is_some_and(|name| name == "bundle" || name == "certification") && note.is_some();
    let version_dir = if nested { dir.parent().unwrap_or(dir) } else { dir };
    if found.ci.is_none()
        && let Some(package_dir) = version_dir.parent()
        && let Some(policy) = read_ci(package_dir)
    {
        found.ci = Some((policy, package_dir.join("ci.yaml")));
    }
    found.bundles.push(FoundBundle {
        dir: dir.to_path_buf(),
        note,
    });
}

/// The package annotation of a bundle's metadata directory (any file in it,
/// as opm finds annotations by content).
fn annotation_package(metadata: &Path) -> Option<String> {
    sorted_files(metadata).iter().find_map(|file| {
        let value = first_document(file)?;
        value
            .pointer(&["annotations", "operators.operatorframework.io.bundle.package.v1"])
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
    })
}

/// The `metadata.name` of the CSV in a bundle's `manifests/`, if one decodes.
fn csv_name(bundle_dir: &Path) -> Option<String> {
    sorted_files(&bundle_dir.join("manifests")).iter().find_map(|file| {
        if is_hidden(file) {
            return None;
        }
        let text = fs_err::read_to_string(file).ok()?;
        if !text.contains("ClusterServiceVersion") {
            return None;
        }
        let value = yaml_in::decode_stream(&text).into_iter().next()?.ok()?.value;
        if value.get("kind").and_then(Value::as_str) != Some("ClusterServiceVersion") {
            return None;
        }
        value
            .pointer(&["metadata", "name"])
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
    })
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).filter(|path| path.is_file()).collect();
    files.sort();
    files
}

/// The `packageName` of a `*.package.yaml` in `dir`, if any.
fn package_manifest_name(dir: &Path) -> Option<String> {
    sorted_files(dir)
        .iter()
        .filter(|file| file.to_string_lossy().ends_with(".package.yaml"))
        .find_map(|file| {
            first_document(file)?
                .get("packageName")
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
                .map(str::to_string)
        })
}

/// What `package_dir/ci.yaml` says about the package's update graph.
fn read_ci(package_dir: &Path) -> Option<CiPolicy> {
    let value = first_document(&package_dir.join("ci.yaml"))?;
    let update_graph = match value.get("updateGraph").and_then(Value::as_str) {
        Some("replaces-mode") => Some("replaces"),
        Some("semver-mode" | "semver-skippatch-mode") => Some("semver"),
        _ => None,
    };
    if !matches!(value.pointer(&["fbc", "enabled"]), Some(Value::Bool(true))) {
        return update_graph.map(CiPolicy::UpdateGraph);
    }
    let fallback = update_graph.unwrap_or("replaces");
    Some(match newest_template(&value) {
        Ok((catalog, template_name)) => {
            let template = package_dir.join("catalog-templates").join(&template_name);
            if template.is_file() {
                CiPolicy::Fbc {
                    template,
                    catalog,
                    fallback,
                }
            } else {
                CiPolicy::FbcUnusable {
                    fallback,
                    reason: format!("ci.yaml maps catalog {catalog} to `catalog-templates/{template_name}`, which does not exist"),
                }
            }
        }
        Err(reason) => CiPolicy::FbcUnusable { fallback, reason },
    })
}

/// `(catalog name, template file name)` of the `fbc.catalog_mapping` entry
/// that lists the newest catalog.
fn newest_template(ci: &Value) -> Result<(String, String), String> {
    let mappings = ci
        .pointer(&["fbc", "catalog_mapping"])
        .and_then(Value::as_array)
        .ok_or_else(|| "ci.yaml has `fbc.enabled: true` but no `fbc.catalog_mapping` list".to_string())?;
    let mut best: Option<(Vec<u64>, String, String)> = None;
    for mapping in mappings {
        let Some(template_name) = mapping.get("template_name").and_then(Value::as_str) else {
            continue;
        };
        for catalog in mapping.get("catalog_names").and_then(Value::as_array).unwrap_or_default() {
            let text = match catalog {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.as_str().to_string(),
                _ => continue,
            };
            let Some(key) = catalog_version(&text) else { continue };
            if best.as_ref().is_none_or(|(best_key, _, _)| key > *best_key) {
                best = Some((key, text, template_name.to_string()));
            }
        }
    }
    best.map(|(_, catalog, template)| (catalog, template))
        .ok_or_else(|| "no entry of `fbc.catalog_mapping` names a catalog like `v4.21` and a template".to_string())
}

/// `v4.21` / `4.21` → `[4, 21]`, compared numerically.
fn catalog_version(name: &str) -> Option<Vec<u64>> {
    let digits = name.strip_prefix('v').unwrap_or(name);
    digits.split('.').map(|part| part.parse().ok()).collect()
}

/// What an FBC-managed package's template becomes in `catalog.toml`.
#[derive(Debug)]
enum Adopted {
    Explicit(ExplicitAdoption),
    Semver(SemverAdoption),
    /// The template could not be used: the fallback policy and why.
    Unusable {
        fallback: &'static str,
        reason: String,
    },
}

#[derive(Debug, Default)]
struct ExplicitAdoption {
    default_channel: Option<String>,
    /// Channels in template order: name, kept entries, dropped entry names.
    channels: Vec<(String, Vec<ChannelEntry>, Vec<String>)>,
    /// Channels all of whose entries were dropped.
    empty_channels: Vec<String>,
    /// The template's default channel, when it did not survive.
    lost_default: Option<String>,
    /// Bundle names kept in some channel.
    kept: BTreeSet<String>,
    deprecations: bool,
}

#[derive(Debug, Default)]
struct SemverAdoption {
    generate_major_channels: Option<bool>,
    generate_minor_channels: Option<bool>,
    default_channel_type_preference: Option<String>,
    /// Archetypes that list bundles (by image) in the template.
    archetypes: Vec<String>,
}

fn adopt_template(package_name: &str, template: &Path, found_names: &BTreeSet<String>, fallback: &'static str) -> Adopted {
    let unusable = |reason: String| Adopted::Unusable { fallback, reason };
    let text = match fs_err::read_to_string(template) {
        Ok(text) => text,
        Err(error) => return unusable(error.to_string()),
    };
    let document = match yaml_in::decode_stream(&text).into_iter().next() {
        Some(Ok(document)) => document.value,
        Some(Err(error)) => return unusable(format!("the template does not decode: {}", error.message)),
        None => return unusable("the template is empty".to_string()),
    };
    match field(&document, "schema").and_then(Value::as_str) {
        Some(crate::catalog_template::basic::SCHEMA) => adopt_basic(package_name, &text, found_names).unwrap_or_else(unusable),
        Some(crate::catalog_template::semver::SCHEMA) => Adopted::Semver(adopt_semver(&document)),
        Some(other) => unusable(format!("the template has schema `{other}`, which init does not adopt")),
        None => unusable("the template has no `schema`".to_string()),
    }
}

/// A key matched case-insensitively, as Go's JSON decoder matches fields
/// (the semver templates of community-operators write `GenerateMajorChannels`).
fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value
        .as_object()?
        .iter()
        .rev()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, value)| value)
}

fn adopt_basic(package_name: &str, text: &str, found_names: &BTreeSet<String>) -> Result<Adopted, String> {
    // Rendering with a renderer that yields nothing keeps the package and
    // channel blobs exactly as opm decodes them, and drops the bundles.
    let no_bundles = |_: &str| Ok(DeclarativeConfig::default());
    let config =
        crate::catalog_template::basic::render(text, &no_bundles).map_err(|error| format!("the template does not load: {error}"))?;
    let mut adoption = ExplicitAdoption {
        deprecations: !config.deprecations.is_empty(),
        ..ExplicitAdoption::default()
    };
    let template_default = config
        .packages
        .iter()
        .find(|package| package.name == package_name)
        .map(|package| package.default_channel.clone())
        .filter(|name| !name.is_empty());
    for channel in config.channels.iter().filter(|channel| channel.package == package_name) {
        let (kept, dropped): (Vec<ChannelEntry>, Vec<ChannelEntry>) = channel
            .entries
            .iter()
            .flatten()
            .cloned()
            .partition(|entry| found_names.contains(&entry.name));
        let dropped: Vec<String> = dropped.into_iter().map(|entry| entry.name).collect();
        if kept.is_empty() {
            adoption.empty_channels.push(channel.name.clone());
            continue;
        }
        adoption.kept.extend(kept.iter().map(|entry| entry.name.clone()));
        adoption.channels.push((channel.name.clone(), kept, dropped));
    }
    if adoption.channels.is_empty() {
        return Err(format!(
            "no channel of package `{package_name}` in the template lists a bundle that was found"
        ));
    }
    match template_default {
        Some(default) if adoption.channels.iter().any(|(name, _, _)| *name == default) => adoption.default_channel = Some(default),
        other => adoption.lost_default = other,
    }
    Ok(Adopted::Explicit(adoption))
}

fn adopt_semver(document: &Value) -> SemverAdoption {
    let flag = |key: &str| match field(document, key) {
        Some(Value::Bool(value)) => Some(*value),
        _ => None,
    };
    let archetypes = ["Candidate", "Fast", "Stable"]
        .into_iter()
        .filter(|archetype| {
            field(document, archetype)
                .and_then(|value| field(value, "bundles"))
                .and_then(Value::as_array)
                .is_some_and(|bundles| !bundles.is_empty())
        })
        .map(str::to_lowercase)
        .collect();
    SemverAdoption {
        generate_major_channels: flag("generateMajorChannels"),
        generate_minor_channels: flag("generateMinorChannels"),
        default_channel_type_preference: field(document, "defaultChannelTypePreference")
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_string),
        archetypes,
    }
}

fn first_document(path: &Path) -> Option<Value> {
    let text = fs_err::read_to_string(path).ok()?;
    yaml_in::decode_stream(&text)
        .into_iter()
        .next()?
        .ok()
        .map(|document| document.value)
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn toml_string_array(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| toml_string(item)).collect();
    format!("[{}]", quoted.join(", "))
}

/// A channel entry as a one-line TOML inline table.
fn toml_entry(entry: &ChannelEntry) -> String {
    let mut parts = vec![format!("name = {}", toml_string(&entry.name))];
    if !entry.replaces.is_empty() {
        parts.push(format!("replaces = {}", toml_string(&entry.replaces)));
    }
    if !entry.skips.is_empty() {
        parts.push(format!("skips = {}", toml_string_array(&entry.skips)));
    }
    if !entry.skip_range.is_empty() {
        parts.push(format!("skip-range = {}", toml_string(&entry.skip_range)));
    }
    format!("{{ {} }}", parts.join(", "))
}

/// Text for a TOML comment: one line, whatever the source held.
fn comment_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn relative(path: &Path, base: &Path) -> String {
    pathdiff(path, base).to_string_lossy().replace('\\', "/")
}

/// `path` relative to `base` (both absolute), with `..` where needed.
fn pathdiff(path: &Path, base: &Path) -> PathBuf {
    let path_parts: Vec<_> = path.components().collect();
    let base_parts: Vec<_> = base.components().collect();
    let common = path_parts.iter().zip(&base_parts).take_while(|(left, right)| left == right).count();
    let mut out = PathBuf::new();
    for _ in common..base_parts.len() {
        out.push("..");
    }
    for part in &path_parts[common..] {
        out.push(part);
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

/// A `parent/*` glob covers the package's bundles exactly when they are all
/// plain siblings and nothing else (no `catalog-templates/`, no left-out
/// version) sits beside them.
fn sibling_glob(bundles: &[&FoundBundle]) -> Option<PathBuf> {
    if bundles.len() < 2 || bundles.iter().any(|bundle| bundle.note.is_some()) {
        return None;
    }
    let parent = bundles[0].dir.parent()?;
    if bundles.iter().any(|bundle| bundle.dir.parent() != Some(parent)) {
        return None;
    }
    let listed: BTreeSet<&Path> = bundles.iter().map(|bundle| bundle.dir.as_path()).collect();
    let entries = fs_err::read_dir(parent).ok()?;
    for entry in entries.flatten() {
        let path = entry.path();
        // The build's wildcard keeps only bundle-like directories (so a
        // `catalog-templates/` beside the versions is fine); any other
        // bundle-like neighbour would be picked up too.
        if path.is_dir() && !is_hidden(&path) && !listed.contains(path.as_path()) && crate::pipeline::looks_like_bundle(&path) {
            return None;
        }
    }
    Some(parent.to_path_buf())
}

fn render_config(name: &str, packages: &BTreeMap<String, FoundPackage>, config_dir: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Written by `catbuild init`; every key is described in docs/catalog-toml.md.");
    let _ = writeln!(out, "version = 1\n\n[catalog]\nname = {}\n", toml_string(name));
    for (package_name, found) in packages {
        render_package(&mut out, package_name, found, config_dir);
        out.push('\n');
    }
    let _ = writeln!(out, "[[target]]\nname = \"default\"\nformats = [\"fbc-json\"]");
    out
}

fn render_package(out: &mut String, package_name: &str, found: &FoundPackage, config_dir: &Path) {
    let _ = writeln!(out, "[[package]]\nname = {}", toml_string(package_name));
    // FBC-managed packages: the template decides which bundles belong.
    let mut bundle_names: BTreeMap<&Path, Option<String>> = BTreeMap::new();
    let adopted = match &found.ci {
        Some((CiPolicy::Fbc { template, fallback, .. }, _)) => {
            for bundle in &found.bundles {
                bundle_names.insert(&bundle.dir, csv_name(&bundle.dir));
            }
            let names: BTreeSet<String> = bundle_names.values().flatten().cloned().collect();
            Some(adopt_template(package_name, template, &names, fallback))
        }
        Some((CiPolicy::FbcUnusable { fallback, reason }, _)) => Some(Adopted::Unusable {
            fallback,
            reason: reason.clone(),
        }),
        _ => None,
    };
    let template_rel = match &found.ci {
        Some((CiPolicy::Fbc { template, catalog, .. }, _)) => format!("{} (catalog {catalog})", relative(template, config_dir)),
        _ => String::new(),
    };

    // Bundle directories; those the explicit template leaves out are kept
    // as comments.
    let left_out = |bundle: &FoundBundle| -> Option<String> {
        let Some(Adopted::Explicit(adoption)) = &adopted else {
            return None;
        };
        match bundle_names.get(bundle.dir.as_path()).cloned().flatten() {
            Some(csv) if !adoption.kept.contains(&csv) => Some(csv),
            _ => None,
        }
    };
    let listed: Vec<&FoundBundle> = found.bundles.iter().filter(|bundle| left_out(bundle).is_none()).collect();
    let excluded: Vec<(&FoundBundle, String)> = found
        .bundles
        .iter()
        .filter_map(|bundle| left_out(bundle).map(|csv| (bundle, csv)))
        .collect();
    match sibling_glob(&listed) {
        Some(parent) if excluded.is_empty() => {
            let _ = writeln!(out, "bundles = [{}]", toml_string(&format!("{}/*", relative(&parent, config_dir))));
        }
        _ if !found.bundles.is_empty() => {
            let _ = writeln!(out, "bundles = [");
            for bundle in &listed {
                let comment = bundle.note.as_ref().map(|note| format!("  # {note}")).unwrap_or_default();
                let _ = writeln!(out, "  {},{comment}", toml_string(&relative(&bundle.dir, config_dir)));
            }
            for (bundle, csv) in &excluded {
                let _ = writeln!(
                    out,
                    "  # {},  # {csv}: not in {template_rel}, so not published upstream",
                    toml_string(&relative(&bundle.dir, config_dir))
                );
            }
            let _ = writeln!(out, "]");
        }
        _ => {}
    }
    if !found.package_manifests.is_empty() {
        let listed: Vec<String> = found
            .package_manifests
            .iter()
            .map(|dir| toml_string(&relative(dir, config_dir)))
            .collect();
        let _ = writeln!(out, "package-manifests = [{}]", listed.join(", "));
    }

    let ci_rel = found.ci.as_ref().map(|(_, ci_yaml)| relative(ci_yaml, config_dir));
    match (&found.ci, adopted) {
        (_, Some(Adopted::Explicit(adoption))) => render_explicit(out, &adoption, &template_rel),
        (_, Some(Adopted::Semver(adoption))) => render_semver(out, &adoption, &template_rel),
        (_, Some(Adopted::Unusable { fallback, reason })) => {
            let _ = writeln!(
                out,
                "# {} has `fbc.enabled: true`, but its template was not adopted:",
                ci_rel.unwrap_or_default()
            );
            let _ = writeln!(out, "# {}", comment_text(&reason));
            let _ = writeln!(out, "channel-policy = {}", toml_string(fallback));
        }
        (Some((CiPolicy::UpdateGraph(policy), _)), None) => {
            let _ = writeln!(
                out,
                "channel-policy = {}  # from {}",
                toml_string(policy),
                ci_rel.unwrap_or_default()
            );
        }
        (Some((CiPolicy::Fbc { .. } | CiPolicy::FbcUnusable { .. }, _)) | None, None) => {
            let _ = writeln!(out, "channel-policy = \"replaces\"");
        }
    }
}

fn render_explicit(out: &mut String, adoption: &ExplicitAdoption, template_rel: &str) {
    let _ = writeln!(out, "# Channels from {template_rel}, as upstream builds the catalog;");
    let _ = writeln!(out, "# the package icon comes from the default channel head's CSV.");
    let _ = writeln!(out, "channel-policy = \"explicit\"");
    match (&adoption.default_channel, &adoption.lost_default) {
        (Some(default), _) => {
            let _ = writeln!(out, "default-channel = {}", toml_string(default));
        }
        (None, Some(lost)) => {
            let _ = writeln!(
                out,
                "# The template's default channel {} lists no bundle that was found; set `default-channel`.",
                toml_string(lost)
            );
        }
        (None, None) => {}
    }
    if !adoption.empty_channels.is_empty() {
        let _ = writeln!(
            out,
            "# Channels left out (none of their bundles was found): {}",
            adoption.empty_channels.join(", ")
        );
    }
    if adoption.deprecations {
        let _ = writeln!(out, "# The template's olm.deprecations entry is not carried over.");
    }
    for (name, entries, dropped) in &adoption.channels {
        let _ = writeln!(out, "\n[[package.channel]]\nname = {}", toml_string(name));
        if !dropped.is_empty() {
            let _ = writeln!(out, "# Entries left out (no bundle directory found): {}", dropped.join(", "));
        }
        let _ = writeln!(out, "entries = [");
        for entry in entries {
            let _ = writeln!(out, "  {},", toml_entry(entry));
        }
        let _ = writeln!(out, "]");
    }
}

fn render_semver(out: &mut String, adoption: &SemverAdoption, template_rel: &str) {
    let _ = writeln!(out, "channel-policy = \"semver\"  # from {template_rel}");
    if !adoption.archetypes.is_empty() {
        let _ = writeln!(
            out,
            "# The template lists its {} bundles by image, which init cannot map to bundle directories:",
            adoption.archetypes.join("/")
        );
        let _ = writeln!(
            out,
            "# each bundle goes where its channels annotation says (candidate, fast, stable; otherwise stable)."
        );
        let _ = writeln!(
            out,
            "# List bundle names under `candidate`, `fast` or `stable` below to place them as upstream does."
        );
    }
    let _ = writeln!(out, "[package.semver]");
    if let Some(major) = adoption.generate_major_channels {
        let _ = writeln!(out, "generate-major-channels = {major}");
    }
    if let Some(minor) = adoption.generate_minor_channels {
        let _ = writeln!(out, "generate-minor-channels = {minor}");
    }
    if let Some(preference) = &adoption.default_channel_type_preference {
        let _ = writeln!(out, "default-channel-type-preference = {}", toml_string(preference));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_names_compare_numerically() {
        let ci = yaml_in::decode_stream(
            "fbc:\n  enabled: true\n  catalog_mapping:\n  - catalog_names: [v4.9, \"4.22\"]\n    template_name: a.yaml\n  - catalog_names: [v4.21]\n    template_name: b.yaml\n  - catalog_names: [v4.10]\n    template_name: c.yaml\n",
        )
        .remove(0)
        .unwrap()
        .value;
        assert_eq!(newest_template(&ci).unwrap(), ("4.22".to_string(), "a.yaml".to_string()));
        assert!(catalog_version("v4.21") > catalog_version("v4.9"));
        assert_eq!(catalog_version("latest"), None);
    }

    #[test]
    fn entries_are_inline_tables_with_toml_quoting() {
        let entry = ChannelEntry {
            name: "a.v2".to_string(),
            replaces: "a.v1".to_string(),
            skips: vec!["a\"q".to_string()],
            skip_range: ">=1.0.0 <2.0.0".to_string(),
        };
        assert_eq!(
            toml_entry(&entry),
            r#"{ name = "a.v2", replaces = "a.v1", skips = ['a"q'], skip-range = ">=1.0.0 <2.0.0" }"#
        );
    }

    #[test]
    fn basic_template_keeps_found_bundles_only() {
        let template = "schema: olm.template.basic\nentries:\n- schema: olm.package\n  name: a\n  defaultChannel: stable\n  icon: {base64data: aGk=, mediatype: image/png}\n- schema: olm.channel\n  package: a\n  name: stable\n  entries:\n  - name: a.v1\n  - name: a.v2\n    replaces: a.v1\n    skips: [a.v1.5]\n  - name: a.v3\n    replaces: a.v2\n- schema: olm.channel\n  package: a\n  name: fast\n  entries:\n  - name: a.v3\n- schema: olm.bundle\n  image: example.com/a:1\n";
        let found: BTreeSet<String> = ["a.v1", "a.v2"].into_iter().map(str::to_string).collect();
        let Ok(Adopted::Explicit(adoption)) = adopt_basic("a", template, &found) else {
            panic!("not explicit")
        };
        assert_eq!(adoption.default_channel.as_deref(), Some("stable"));
        assert_eq!(adoption.empty_channels, vec!["fast".to_string()]);
        let (name, entries, dropped) = &adoption.channels[0];
        assert_eq!(name, "stable");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].skips, vec!["a.v1.5".to_string()]);
        assert_eq!(dropped, &vec!["a.v3".to_string()]);
        let mut out = String::new();
        render_explicit(&mut out, &adoption, "t.yaml");
        let parsed: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(parsed["default-channel"].as_str(), Some("stable"));
        assert_eq!(parsed["package"]["channel"][0]["entries"][1]["replaces"].as_str(), Some("a.v1"));
    }

    #[test]
    fn semver_template_keys_match_case_insensitively() {
        let document = yaml_in::decode_stream(
            "Schema: olm.semver\nGenerateMajorChannels: true\nGenerateMinorChannels: false\nCandidate:\n  Bundles:\n  - Image: example.com/a:1\n",
        )
        .remove(0)
        .unwrap()
        .value;
        let adoption = adopt_semver(&document);
        assert_eq!(adoption.generate_major_channels, Some(true));
        assert_eq!(adoption.generate_minor_channels, Some(false));
        assert_eq!(adoption.archetypes, vec!["candidate".to_string()]);
        assert_eq!(adoption.default_channel_type_preference, None);
    }
}
