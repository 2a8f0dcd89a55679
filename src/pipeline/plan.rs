//! Planning: each package's bundle patterns expanded into the bundle and
//! package-manifest directories a build reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::diag::{Diagnostic, Location};

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
pub(super) struct PackagePlan {
    pub(super) bundle_dirs: Vec<PathBuf>,
    pub(super) package_manifest_dirs: Vec<PathBuf>,
    /// Bundle directories left out by the package's `exclude` globs.
    pub(super) n_excluded: usize,
}

pub(super) fn plan(config: &Config, diagnostics: &mut Vec<Diagnostic>) -> BTreeMap<String, PackagePlan> {
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
        let n_excluded = super::exclude::apply_excludes(config, package, &mut bundle_dirs, diagnostics);
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
                n_excluded,
            },
        );
    }
    plans
}
