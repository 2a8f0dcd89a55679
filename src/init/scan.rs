//! Walking an operator repository for `catbuild init`: bundle directories
//! (`manifests/` + `metadata/`, also nested under `bundle/` or
//! `certification/`), version directories whose `metadata/` names a
//! package but that lack `manifests/`, and package-manifest directories
//! (a `*.package.yaml` with a `packageName`). The `ci.yaml` beside a
//! package's version directories is read on the way ([`super::ci`]).
//!
//! Only reads, and reads leniently: a file that does not decode is not
//! what init looks for, and the build reports it later with its location.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::ci::{CiPolicy, read_ci};
use super::images::FoundCsv;
use super::{BundleNote, FoundBundle};
use crate::encoding::json::Value;
use crate::encoding::yaml_in;
use crate::load::annotations::ANNOTATION_PACKAGE;
use crate::load::{MANIFESTS_DIR, METADATA_DIR, NESTED_BUNDLE_DIRS, has_bundle_parts, looks_like_bundle, nested_bundle_root};

/// Where a package's bundles were found.
#[derive(Debug, Default)]
pub(super) struct FoundPackage {
    pub(super) bundles: Vec<FoundBundle>,
    pub(super) package_manifests: Vec<PathBuf>,
    /// What the package's `ci.yaml` says, and where it is.
    pub(super) ci: Option<(CiPolicy, PathBuf)>,
    /// An `updateGraph` value init does not know, and the `ci.yaml`.
    pub(super) unknown_update_graph: Option<(String, PathBuf)>,
    /// Whether a `ci.yaml` was looked for already.
    pub(super) ci_read: bool,
    /// Whether the package dir (the parent of its first version dir) holds
    /// a `ci.yaml`, whatever it says.
    pub(super) has_ci_yaml: bool,
}

/// What a walk found so far.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub(super) packages: BTreeMap<String, FoundPackage>,
    /// Bundle-like directories whose `metadata/` names no package.
    pub(super) skipped: Vec<PathBuf>,
}

/// How deep below a scanned directory bundles are looked for.
const MAX_DEPTH: usize = 6;

impl Scan {
    /// Walks `dir` (absolute) in sorted order, skipping hidden entries.
    pub(super) fn scan_dir(&mut self, dir: &Path, depth: usize) {
        // A guess: a directory that cannot be looked at is not listed.
        if has_bundle_parts(dir).unwrap_or(false) {
            self.add_bundle(dir, None);
            return;
        }
        if let Some(nested) = nested_bundle_root(dir) {
            self.add_bundle(&dir.join(nested), Some(BundleNote::NestedUnder(nested)));
            return;
        }
        // A version directory with its manifests at the top instead of in
        // `manifests/`: listed, so the build reports it rather than dropping it.
        let metadata = dir.join(METADATA_DIR);
        if !dir.join(MANIFESTS_DIR).exists() && metadata.is_dir() && annotation_package(&metadata).is_some() {
            self.add_bundle(dir, Some(BundleNote::NoManifestsDirectory));
            return;
        }
        if let Some(package_name) = package_manifest_name(dir) {
            let found = self.packages.entry(package_name).or_default();
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
                self.scan_dir(&child, depth + 1);
            }
        }
    }

    fn add_bundle(&mut self, dir: &Path, note: Option<BundleNote>) {
        let Some(package_name) = annotation_package(&dir.join(METADATA_DIR)) else {
            self.skipped.push(dir.to_path_buf());
            return;
        };
        let found = self.packages.entry(package_name).or_default();
        // The ci.yaml of a community-operators tree sits in the package dir,
        // the parent of the version dir (of the nested root's parent).
        let nested = dir
            .file_name()
            .is_some_and(|name| NESTED_BUNDLE_DIRS.iter().any(|nested| name == *nested))
            && note.is_some();
        let version_dir = if nested { dir.parent().unwrap_or(dir) } else { dir };
        if found.bundles.is_empty() {
            found.has_ci_yaml = version_dir
                .parent()
                .is_some_and(|package_dir| package_dir.join("ci.yaml").is_file());
        }
        if !found.ci_read
            && let Some(package_dir) = version_dir.parent()
            && let Some(ci_file) = read_ci(package_dir)
        {
            found.ci_read = true;
            let ci_yaml = package_dir.join("ci.yaml");
            found.unknown_update_graph = ci_file.unknown_update_graph.map(|value| (value, ci_yaml.clone()));
            found.ci = ci_file.policy.map(|policy| (policy, ci_yaml));
        }
        found.bundles.push(FoundBundle {
            dir: dir.to_path_buf(),
            note,
        });
    }
}

pub(super) fn is_hidden(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.'))
}

/// The package annotation of a bundle's metadata directory (any file in it,
/// as opm finds annotations by content).
fn annotation_package(metadata: &Path) -> Option<String> {
    sorted_files(metadata).iter().find_map(|file| {
        let value = first_document(file)?;
        value
            .pointer(&["annotations", ANNOTATION_PACKAGE])
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
    })
}

/// `com.redhat.openshift.versions` of a bundle's `metadata/` files, with
/// how it was written (an unquoted number is a float to the pipeline).
pub(super) fn openshift_annotation(bundle_dir: &Path) -> Option<(String, crate::openshift::ScalarStyle)> {
    sorted_files(&bundle_dir.join(METADATA_DIR)).iter().find_map(|file| {
        let value = first_document(file)?;
        match value.pointer(&["annotations", crate::load::annotations::ANNOTATION_OPENSHIFT_VERSIONS])? {
            Value::String(text) => Some((text.clone(), crate::openshift::ScalarStyle::Quoted)),
            Value::Number(number) => Some((number.as_str().to_string(), crate::openshift::ScalarStyle::Plain)),
            _ => None,
        }
    })
}

/// The `metadata.name` and `spec.version` of the CSV in a bundle's
/// `manifests/`, if one decodes.
pub(super) fn csv_identity(bundle_dir: &Path) -> Option<FoundCsv> {
    sorted_files(&bundle_dir.join(MANIFESTS_DIR)).iter().find_map(|file| {
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
        let name = value
            .pointer(&["metadata", "name"])
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())?;
        let version = value.pointer(&["spec", "version"]).and_then(Value::as_str).map(str::to_string);
        Some(FoundCsv {
            name: name.to_string(),
            version,
            dir: crate::load::version_dir_name(bundle_dir),
        })
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

/// The first document of a YAML or JSON file, if it reads and decodes.
pub(super) fn first_document(path: &Path) -> Option<Value> {
    let text = fs_err::read_to_string(path).ok()?;
    yaml_in::decode_stream(&text)
        .into_iter()
        .next()?
        .ok()
        .map(|document| document.value)
}

/// A `parent/*` wildcard covers the package's bundles exactly when they are
/// all plain siblings and nothing else (no `catalog-templates/`, no
/// left-out version) sits beside them.
pub(super) fn sibling_wildcard(bundles: &[FoundBundle]) -> Option<PathBuf> {
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
        // bundle-like neighbour would be picked up too, and one that cannot
        // be looked at would fail the build, so neither allows the wildcard.
        if path.is_dir() && !is_hidden(&path) && !listed.contains(path.as_path()) && looks_like_bundle(&path).unwrap_or(true) {
            return None;
        }
    }
    Some(parent.to_path_buf())
}
