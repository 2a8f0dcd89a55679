//! The legacy package-manifest layout (spec A.6): `<pkg>.package.yaml`
//! (package name, channels with their head CSV, default channel) next to one
//! directory per bundle holding the CSV and its CRDs, without `metadata/`.
//!
//! Discovery follows opm's `DirectoryLoader` (`pkg/sqlite/directory.go`
//! @v1.73.0): a recursive walk in lexical order skipping hidden entries;
//! every file that decodes into a `PackageManifest` with a non-empty
//! `packageName` is the package file (any other file that does not decode
//! into one is an error there, and here); every file whose first document
//! is a CSV makes a bundle of all non-hidden files of its directory
//! (non-recursive), minus CSVs of other names.
//!
//! The bundles are rendered as bundle-format bundles of the package (the
//! `olm.package` property gets the package file's name); their channels are
//! the package channels whose `currentCSV` → `spec.replaces` chain (with
//! `spec.skips`) reaches them, as the SQLite loader's channel walk does.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::bundle::{LoadedBundle, Manifests, decode_manifest, finish};
use super::csv::KIND_CSV;
use super::document::{coerced_string, decode_first, field, kind_of, slice_of, struct_of};
use super::error::{BundleError, Warning};
use super::parsed::{CsvFacts, ManifestObject, ParsedBundle};
use super::read::{ReadError, Sha256Digest, read_entry, sorted_entries};
use crate::encoding::json::Value;

/// A package-manifest directory, loaded.
#[derive(Debug, Clone)]
pub struct PackageManifest {
    pub dir: PathBuf,
    /// The package file, relative to `dir`.
    pub file: PathBuf,
    pub package_name: String,
    pub channels: Vec<PackageChannel>,
    /// `defaultChannel` as written (may be empty).
    pub default_channel_name: String,
    /// Bundles in walk order.
    pub bundles: Vec<LoadedBundle>,
    pub warnings: Vec<Warning>,
}

impl PackageManifest {
    /// opm's `GetDefaultChannel`: the named default, else the only channel.
    pub fn default_channel(&self) -> Option<&str> {
        if !self.default_channel_name.is_empty() {
            return Some(&self.default_channel_name);
        }
        match self.channels.as_slice() {
            [only] => Some(&only.name),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageChannel {
    pub name: String,
    /// The channel head (`currentCSV`).
    pub current_csv: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageManifestError {
    /// A file or directory cannot be read.
    #[error(transparent)]
    Read(#[from] ReadError),

    #[error("could not decode contents of file {} into package: {message}", file.display())]
    Undecodable { file: PathBuf, message: String },

    #[error("no package manifest (a file with `packageName:`) in {}", dir.display())]
    NoPackageFile { dir: PathBuf },

    #[error("more than one package manifest in {}: {} names `{first}`, {} names `{second}`", dir.display(), first_file.display(), second_file.display())]
    SeveralPackageFiles {
        dir: PathBuf,
        first_file: PathBuf,
        first: String,
        second_file: PathBuf,
        second: String,
    },

    /// Bundles that failed (all of them, as opm aggregates them).
    #[error("{}", errors.iter().map(|(dir, error)| format!("bundle {}: {error}", dir.display())).collect::<Vec<_>>().join("\n"))]
    Bundles { errors: Vec<(PathBuf, BundleError)> },
}

/// Loads a package-manifest directory (`<dir>/<pkg>.package.yaml` plus
/// bundle directories).
pub fn load_package_manifest_dir(dir: &Path) -> Result<PackageManifest, PackageManifestError> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;

    let mut package: Option<(PathBuf, String, Vec<PackageChannel>, String)> = None;
    let mut csv_dirs: Vec<(PathBuf, String)> = Vec::new();
    let mut warnings = Vec::new();
    // Decoding is most of a package's load (every CSV and CRD is decoded
    // here, to find the package file and the CSVs, and again as its
    // bundle's manifest): files decode in parallel, and what they say is
    // taken in walk order, so the first problem reported is the same.
    let looks: Vec<Result<FirstLook, String>> = files.par_iter().map(|file| first_look(&file.bytes)).collect();
    for (ReadFile { path, .. }, look) in files.iter().zip(looks) {
        let relative = path.strip_prefix(dir).unwrap_or(path).to_path_buf();
        let look = look.map_err(|message| PackageManifestError::Undecodable {
            file: relative.clone(),
            message,
        })?;
        if let (Some(name), Some(parent)) = (look.csv_name, path.parent()) {
            csv_dirs.push((parent.to_path_buf(), name));
        }
        let (name, channels, default_channel) = look.package_manifest.map_err(|message| PackageManifestError::Undecodable {
            file: relative.clone(),
            message,
        })?;
        if name.is_empty() {
            continue;
        }
        if look.extra_documents {
            warnings.push(Warning::ExtraDocuments { file: relative.clone() });
        }
        if let Some((first_file, first, ..)) = &package {
            return Err(PackageManifestError::SeveralPackageFiles {
                dir: dir.to_path_buf(),
                first_file: first_file.clone(),
                first: first.clone(),
                second_file: relative,
                second: name,
            });
        }
        package = Some((relative, name, channels, default_channel));
    }
    let Some((file, package_name, channels, default_channel_name)) = package else {
        return Err(PackageManifestError::NoPackageFile { dir: dir.to_path_buf() });
    };

    let mut bundles = Vec::new();
    let mut errors = Vec::new();
    let package_file = dir.join(&file);
    let loaded: Vec<(PathBuf, Result<LoadedBundle, BundleError>)> = csv_dirs
        .into_par_iter()
        .map(|(bundle_dir, csv_name)| {
            let bundle = load_manifest_bundle(&files, &bundle_dir, &csv_name, &package_name, &package_file);
            (bundle_dir, bundle)
        })
        .collect();
    for (bundle_dir, bundle) in loaded {
        match bundle {
            Ok(bundle) => bundles.push(bundle),
            Err(error) => errors.push((bundle_dir, error)),
        }
    }
    if !errors.is_empty() {
        return Err(PackageManifestError::Bundles { errors });
    }
    assign_channels(&mut bundles, &channels);
    let mut manifest = PackageManifest {
        dir: dir.to_path_buf(),
        file,
        package_name,
        channels,
        default_channel_name,
        bundles,
        warnings,
    };
    let default_channel = manifest.default_channel().map(str::to_string);
    let channel_order: Vec<String> = manifest.channels.iter().map(|channel| channel.name.clone()).collect();
    for bundle in &mut manifest.bundles {
        bundle.default_channel = default_channel.clone();
        bundle.manifest_channel_order.clone_from(&channel_order);
    }
    Ok(manifest)
}

/// A file of a package-manifest directory, in memory.
struct ReadFile {
    path: PathBuf,
    bytes: Vec<u8>,
    digest: Sha256Digest,
}

/// `filepath.Walk` order, hidden files and directories skipped; every file
/// read once (an entry that cannot be read is an error, never skipped).
fn walk(dir: &Path, files: &mut Vec<ReadFile>) -> Result<(), PackageManifestError> {
    for (name, path) in sorted_entries(dir)? {
        if name.starts_with('.') {
            continue;
        }
        match read_entry(&path)? {
            None => walk(&path, files)?,
            Some(bytes) => files.push(ReadFile {
                digest: Sha256Digest::of(&bytes),
                path,
                bytes,
            }),
        }
    }
    Ok(())
}

/// What the walk needs of one file: its first document's CSV name (when
/// it is a CSV), the document decoded as a package manifest, and whether
/// more documents follow.
struct FirstLook {
    csv_name: Option<String>,
    package_manifest: Result<(String, Vec<PackageChannel>, String), String>,
    extra_documents: bool,
}

fn first_look(bytes: &[u8]) -> Result<FirstLook, String> {
    let document = decode_first(bytes).map_err(|failure| failure.message)?;
    let csv_name = (kind_of(&document.value) == KIND_CSV).then(|| {
        document
            .value
            .pointer(&["metadata", "name"])
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    });
    Ok(FirstLook {
        csv_name,
        package_manifest: decode_package_manifest(&document.value),
        extra_documents: document.extra_documents,
    })
}

/// `registry.PackageManifest`: (packageName, channels, defaultChannel).
fn decode_package_manifest(value: &Value) -> Result<(String, Vec<PackageChannel>, String), String> {
    let fields = struct_of(Some(value), None, "registry.PackageManifest")?.unwrap_or_default();
    let name = coerced_string(field(fields, "packageName"), Some("PackageManifest.packageName"))?;
    let default_channel = coerced_string(field(fields, "defaultChannel"), Some("PackageManifest.defaultChannel"))?;
    let mut channels = Vec::new();
    for item in slice_of(
        field(fields, "channels"),
        Some("PackageManifest.channels"),
        "[]registry.PackageChannel",
    )? {
        let channel = struct_of(Some(item), Some("PackageManifest.channels"), "registry.PackageChannel")?.unwrap_or_default();
        channels.push(PackageChannel {
            name: coerced_string(field(channel, "name"), Some("PackageChannel.channels.name"))?,
            current_csv: coerced_string(field(channel, "currentCSV"), Some("PackageChannel.channels.currentCSV"))?,
        });
    }
    Ok((name, channels, default_channel))
}

/// opm's `loadBundle`: every non-hidden file of the CSV's directory, minus
/// CSVs with another name; then the bundle checks, rendered as a bundle of
/// `package`.
fn load_manifest_bundle(
    files: &[ReadFile],
    dir: &Path,
    csv_name: &str,
    package: &str,
    package_file: &Path,
) -> Result<LoadedBundle, BundleError> {
    let mut warnings = Vec::new();
    let mut objects: Vec<ManifestObject> = Vec::new();
    let mut csv_idx = None;
    let mut inputs = Vec::new();
    for file in files.iter().filter(|file| file.path.parent() == Some(dir)) {
        inputs.push((file.path.strip_prefix(dir).unwrap_or(&file.path).to_path_buf(), file.digest));
        let Some(object) = decode_manifest(file.path.clone(), &file.bytes, None, &mut warnings) else {
            continue;
        };
        if kind_of(&object.value) == KIND_CSV {
            if object.value.pointer(&["metadata", "name"]).and_then(Value::as_str).unwrap_or("") != csv_name {
                continue;
            }
            csv_idx.get_or_insert(objects.len());
        }
        objects.push(object);
    }
    let manifests = Manifests::check(dir, objects, csv_idx)?;
    let Manifests {
        objects,
        csv_idx,
        csv,
        provided_apis,
        required_apis,
    } = manifests;
    let mut parsed = ParsedBundle {
        dir: dir.to_path_buf(),
        objects,
        csv_idx,
        csv: CsvFacts {
            name: csv.name,
            version: csv.version,
            release: csv.release,
        },
        package: package.to_string(),
        package_source: package_file.to_path_buf(),
        channels: Vec::new(),
        default_channel: None,
        openshift_versions: None,
        properties: Vec::new(),
        dependencies: Vec::new(),
        provided_apis,
        required_apis,
        warnings,
    };
    // Same derivation as a bundle directory; the package comes from the
    // package file, which always names one.
    parsed.properties = super::bundle::derived_properties(&mut parsed)?;
    finish(parsed, "", inputs)
}

/// Channel membership: walk each channel from its head along `replaces`,
/// collecting the visited bundles and the names they skip.
fn assign_channels(bundles: &mut [LoadedBundle], channels: &[PackageChannel]) {
    let by_name: HashMap<&str, usize> = bundles
        .iter()
        .enumerate()
        .map(|(idx, bundle)| (bundle.csv_name.as_str(), idx))
        .collect();
    let mut membership: Vec<Vec<String>> = vec![Vec::new(); bundles.len()];
    for channel in channels {
        let mut members = BTreeSet::new();
        let mut visited = BTreeSet::new();
        let mut current = channel.current_csv.as_str();
        while let Some(&idx) = by_name.get(current) {
            if !visited.insert(idx) {
                break;
            }
            members.insert(idx);
            for skipped in &bundles[idx].skips {
                if let Some(&skipped_idx) = by_name.get(skipped.as_str()) {
                    members.insert(skipped_idx);
                }
            }
            current = bundles[idx].replaces.as_str();
        }
        for idx in members {
            membership[idx].push(channel.name.clone());
        }
    }
    for (bundle, channels) in bundles.iter_mut().zip(membership) {
        bundle.channels = channels;
    }
}
