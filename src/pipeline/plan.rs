//! Planning: each package's bundle patterns expanded into the bundle and
//! package-manifest directories a build reads. Nothing a pattern matches is
//! dropped because it could not be read: that is an I/O error naming the
//! path (issue 13), never a smaller catalog.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::BuildError;
use crate::config::Config;
use crate::diag::{Diagnostic, Location};

/// A directory with a bundle's parts, or one nested where upstream tools
/// put them (`bundle/`, `certification/`), or a CSV at its root. `init`'s
/// scan is a guess, so a directory it cannot read is simply not a bundle.
pub(crate) fn looks_like_bundle(dir: &Path) -> bool {
    probe_bundle_dir(dir).unwrap_or(false)
}

/// [`looks_like_bundle`] for a build: a directory that cannot be read is
/// an error, not a "no".
fn probe_bundle_dir(dir: &Path) -> Result<bool, BuildError> {
    for sub in ["manifests", "metadata", "bundle", "certification"] {
        let path = dir.join(sub);
        match std::fs::metadata(&path) {
            Ok(metadata) if metadata.is_dir() => return Ok(true),
            Ok(_) => {}
            Err(error) if matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {}
            Err(source) => return Err(read_error(path, source)),
        }
    }
    let entries = std::fs::read_dir(dir).map_err(|source| read_error(dir.to_path_buf(), source))?;
    for entry in entries {
        let entry = entry.map_err(|source| read_error(dir.to_path_buf(), source))?;
        if entry.file_name().to_string_lossy().contains("clusterserviceversion") {
            return Ok(true);
        }
    }
    Ok(false)
}

fn read_error(path: PathBuf, source: std::io::Error) -> BuildError {
    BuildError::Io {
        action: "read bundle directory",
        path,
        source,
    }
}

/// Bundle directories of one package, in sorted order, with the config
/// entry they came from.
pub(super) struct PackagePlan {
    pub(super) bundle_dirs: Vec<PathBuf>,
    pub(super) package_manifest_dirs: Vec<PathBuf>,
}

/// Expands every package's patterns. Problems of the config are collected
/// in `diagnostics`; a directory that cannot be read stops planning.
pub(super) fn plan(config: &Config, diagnostics: &mut Vec<Diagnostic>) -> Result<BTreeMap<String, PackagePlan>, BuildError> {
    let mut plans = BTreeMap::new();
    for package in &config.packages {
        let mut bundle_dirs = BTreeSet::new();
        for pattern in &package.bundles {
            let full = config.root.join(&pattern.value);
            let wildcard = pattern.value.contains(['*', '?', '[']);
            let matches = match glob::glob(&full.to_string_lossy()) {
                Ok(paths) => {
                    let mut matches = Vec::new();
                    for path in paths {
                        // glob reports a directory it could not list.
                        let path = path.map_err(|error| BuildError::Io {
                            action: "read directory",
                            path: error.path().to_path_buf(),
                            source: error.into(),
                        })?;
                        // A broken symlink or an unreadable entry is an error;
                        // a file beside the bundles (`ci.yaml`) is not a match.
                        let metadata = std::fs::metadata(&path).map_err(|source| read_error(path.clone(), source))?;
                        // A wildcard also matches neighbours such as
                        // `catalog-templates/`; keep what looks like a bundle
                        // (the loader explains what is wrong with odd ones).
                        if metadata.is_dir() && (!wildcard || probe_bundle_dir(&path)?) {
                            matches.push(path);
                        }
                    }
                    matches
                }
                Err(error) => {
                    diagnostics.push(
                        Diagnostic::error("config", format!("invalid glob pattern `{}`: {}", pattern.value, error.msg))
                            .at(Location::span(&config.path, pattern.span.clone())),
                    );
                    continue;
                }
            };
            if matches.is_empty() && wildcard {
                check_pattern_parent(config, &pattern.value)?;
            }
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
            match std::fs::metadata(&full) {
                Ok(metadata) if metadata.is_dir() => package_manifest_dirs.push(full),
                Err(source) if !matches!(source.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                    return Err(BuildError::Io {
                        action: "read package-manifest directory",
                        path: full,
                        source,
                    });
                }
                _ => diagnostics.push(
                    Diagnostic::error("config", format!("package-manifest directory `{}` does not exist", dir.value))
                        .at(Location::span(&config.path, dir.span.clone())),
                ),
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
    Ok(plans)
}

/// A wildcard pattern matched nothing: if the directory it lists (the part
/// before the first wildcard) exists but cannot be read, say so rather
/// than "matches no directory" (glob skips such a directory silently when
/// it is a broken symlink, a symlink loop or a file).
fn check_pattern_parent(config: &Config, pattern: &str) -> Result<(), BuildError> {
    let literal: PathBuf = Path::new(pattern)
        .components()
        .take_while(|component| !component.as_os_str().to_string_lossy().contains(['*', '?', '[']))
        .collect();
    let parent = config.root.join(literal);
    match std::fs::read_dir(&parent) {
        Ok(_) => Ok(()),
        // Nothing there at all: the pattern is wrong, which the caller says.
        Err(_) if std::fs::symlink_metadata(&parent).is_err() => Ok(()),
        Err(source) => Err(BuildError::Io {
            action: "read package directory",
            path: parent,
            source,
        }),
    }
}
