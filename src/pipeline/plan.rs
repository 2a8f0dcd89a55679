//! Planning: each package's bundle patterns expanded into the bundle and
//! package-manifest directories a build reads, its bundle images pulled and
//! unpacked, and the icon files read (the only inputs a build reads outside
//! bundles and `catalog.toml`).
//!
//! Nothing a pattern matches is dropped silently: a match that cannot be
//! looked at (permissions, a broken symbolic link) is an error naming the
//! path and the OS error, not a bundle that quietly goes missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::diag::{Diagnostic, Location};

/// A file a build reads besides bundles, with its digest.
#[derive(Debug, Clone)]
pub(super) struct InputFile {
    pub(super) path: PathBuf,
    pub(super) bytes: Vec<u8>,
    /// Part of the package's encode key in the action cache.
    pub(super) digest: crate::load::Sha256Digest,
}

/// What a build reads: per package, and the catalog icon.
pub(super) struct Plan {
    pub(super) packages: BTreeMap<String, PackagePlan>,
    /// `[catalog] icon`, read (for the catalog image and deploy YAML).
    pub(super) catalog_icon: Option<InputFile>,
    /// `catalog.lock`'s bundle-image pins, when pulling added some.
    pub(super) bundle_image_pins: Option<BTreeMap<String, String>>,
    /// Pulling failed on the registry's or the machine's side.
    pub(super) pull_failure: Option<crate::source::pulled::FetchError>,
}

/// Bundle directories of one package, in sorted order, with the config
/// entry they came from.
pub(super) struct PackagePlan {
    pub(super) bundle_dirs: Vec<PathBuf>,
    pub(super) package_manifest_dirs: Vec<PathBuf>,
    /// Its `bundle-images`, pulled and unpacked (those that could be).
    pub(super) bundle_images: Vec<super::images::PulledBundle>,
    /// The `icon` file of the package, read.
    pub(super) icon: Option<InputFile>,
    /// Bundle directories left out by the package's `exclude` globs.
    pub(super) n_excluded: usize,
    /// Those directories, sorted.
    pub(super) excluded_dirs: Vec<PathBuf>,
}

/// Expands every package's bundle patterns and reads its icon; with
/// `image_cache`, also pulls and unpacks its `bundle-images` there (plan
/// time is when image tags are resolved to digests).
pub(super) fn plan(config: &Config, image_cache: Option<&Path>, diagnostics: &mut Vec<Diagnostic>) -> Plan {
    let mut pulled = match image_cache {
        Some(cache) => super::images::pull_bundle_images(config, cache, diagnostics),
        None => super::images::PulledBundles::default(),
    };
    let catalog_icon = config
        .catalog
        .icon
        .as_ref()
        .and_then(|icon| read_icon(config, icon, "`[catalog] icon`", diagnostics));
    // Packages are planned in parallel (each globs and states its own
    // bundle directories: two stats per bundle), their diagnostics kept
    // in catalog.toml's order.
    let planned: Vec<(PackagePlan, Vec<Diagnostic>)> = {
        use rayon::prelude::*;
        config
            .packages
            .par_iter()
            .map(|package| {
                let mut found = Vec::new();
                let plan = plan_package(config, package, &mut found);
                (plan, found)
            })
            .collect()
    };
    let mut plans = BTreeMap::new();
    for (package, (mut plan, found)) in config.packages.iter().zip(planned) {
        diagnostics.extend(found);
        plan.bundle_images = pulled.by_package.remove(&package.name.value).unwrap_or_default();
        plans.insert(package.name.value.clone(), plan);
    }
    Plan {
        packages: plans,
        catalog_icon,
        bundle_image_pins: pulled.new_pins,
        pull_failure: pulled.failure,
    }
}

/// One package's bundle and package-manifest directories and its icon
/// (its pulled bundle images are the caller's to add).
fn plan_package(config: &Config, package: &crate::config::PackageConfig, diagnostics: &mut Vec<Diagnostic>) -> PackagePlan {
    let mut bundle_dirs = BTreeSet::new();
    for pattern in &package.bundles {
        let mut unreadable = false;
        let full = config.root.join(&pattern.value);
        let matches = match glob::glob(&full.to_string_lossy()) {
            Ok(paths) => {
                let wildcard = pattern.value.contains(['*', '?', '[']);
                let mut matches = Vec::new();
                for path in paths {
                    match path {
                        Ok(path) => match bundle_dir_match(&path, wildcard) {
                            Ok(true) => matches.push(path),
                            Ok(false) => {}
                            Err(error) => {
                                diagnostics.push(unreadable_match(config, pattern, &path, &error));
                                unreadable = true;
                            }
                        },
                        Err(error) => {
                            diagnostics.push(unreadable_match(config, pattern, error.path(), error.error()));
                            unreadable = true;
                        }
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
        if matches.is_empty() && !unreadable && wildcard_in(&pattern.value) {
            unreadable = unreadable_pattern_parent(config, pattern, diagnostics);
        }
        // A match that cannot be read was reported as such.
        if matches.is_empty() && !unreadable {
            diagnostics.push(
                Diagnostic::error("config", format!("`{}` matches no directory", pattern.value))
                    .at(Location::span(&config.path, pattern.span.clone()))
                    .label("no bundle directory here")
                    .help("bundle patterns are relative to the directory of catalog.toml and must match bundle directories (holding manifests/ and metadata/)"),
            );
        }
        bundle_dirs.extend(matches);
    }
    let excluded_dirs = super::exclude::apply_excludes(config, package, &mut bundle_dirs, diagnostics);
    let mut package_manifest_dirs = Vec::new();
    for dir in &package.package_manifests {
        let full = config.root.join(&dir.value);
        match std::fs::metadata(&full) {
            Ok(metadata) if metadata.is_dir() => package_manifest_dirs.push(full),
            Err(error) if error.kind() != std::io::ErrorKind::NotFound || is_symlink(&full) => diagnostics.push(
                Diagnostic::error(
                    "config",
                    format!(
                        "cannot read package-manifest directory `{}`: {}{error}",
                        dir.value,
                        broken_link_text(&full, &error)
                    ),
                )
                .at(Location::span(&config.path, dir.span.clone())),
            ),
            _ => diagnostics.push(
                Diagnostic::error("config", format!("package-manifest directory `{}` does not exist", dir.value))
                    .at(Location::span(&config.path, dir.span.clone())),
            ),
        }
    }
    let package_label = format!("the `icon` of package `{}`", package.name.value);
    let icon = package
        .icon
        .as_ref()
        .and_then(|icon| read_icon(config, icon, &package_label, diagnostics));
    PackagePlan {
        bundle_dirs: bundle_dirs.into_iter().collect(),
        package_manifest_dirs,
        bundle_images: Vec::new(),
        icon,
        n_excluded: excluded_dirs.len(),
        excluded_dirs,
    }
}

/// Whether a path a bundle pattern matched is a bundle directory. A
/// wildcard also matches neighbours such as `catalog-templates/`, so it keeps
/// only what looks like a bundle (the loader explains what is wrong with odd
/// ones); files are never bundles. A match that cannot be looked at is an
/// error, not a miss.
fn bundle_dir_match(path: &Path, wildcard: bool) -> Result<bool, std::io::Error> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_dir() {
        return Ok(false);
    }
    if !wildcard {
        return Ok(true);
    }
    crate::load::looks_like_bundle(path)
}

fn unreadable_match(config: &Config, pattern: &crate::config::Sourced<String>, path: &Path, error: &std::io::Error) -> Diagnostic {
    let what = broken_link_text(path, error);
    Diagnostic::error(
        "bundle",
        format!(
            "cannot read `{}`, which `{}` matches: {what}{error}",
            crate::diag::display_path(path, &config.root),
            pattern.value
        ),
    )
    .at(Location::span(&config.path, pattern.span.clone()))
    .help("a bundle directory that cannot be read is never skipped: fix its permissions or the link, or narrow the pattern")
}

fn wildcard_in(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// A wildcard pattern matched nothing: when the directory it lists (the
/// part before the first wildcard) exists but cannot be read, says so
/// rather than "matches no directory" (glob skips such a directory without
/// a word when it is a broken symlink, a symlink loop or a file). Returns
/// whether it reported something.
fn unreadable_pattern_parent(config: &Config, pattern: &crate::config::Sourced<String>, diagnostics: &mut Vec<Diagnostic>) -> bool {
    let literal: PathBuf = Path::new(&pattern.value)
        .components()
        .take_while(|component| !wildcard_in(&component.as_os_str().to_string_lossy()))
        .collect();
    let parent = config.root.join(literal);
    match std::fs::read_dir(&parent) {
        Ok(_) => false,
        // Nothing there at all: the pattern is wrong, which the caller says.
        Err(_) if std::fs::symlink_metadata(&parent).is_err() => false,
        Err(error) => {
            diagnostics.push(
                Diagnostic::error(
                    "bundle",
                    format!(
                        "cannot read directory `{}`, which `{}` lists: {}{error}",
                        crate::diag::display_path(&parent, &config.root),
                        pattern.value,
                        broken_link_text(&parent, &error)
                    ),
                )
                .at(Location::span(&config.path, pattern.span.clone()))
                .help("a package directory that cannot be read is never taken for an empty one: fix its permissions or the link"),
            );
            true
        }
    }
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_symlink())
}

/// What to say before the OS error when `path` is a dangling link.
fn broken_link_text(path: &Path, error: &std::io::Error) -> &'static str {
    if error.kind() == std::io::ErrorKind::NotFound && is_symlink(path) {
        "it is a broken symbolic link: "
    } else {
        ""
    }
}

/// Whether `bytes` start as one of the image formats OLM's consoles show
/// (PNG, JPEG, GIF, or SVG text, maybe after a BOM, an XML declaration and
/// comments): an icon is embedded in the catalog for every cluster to read,
/// so a key file named by mistake must not be.
fn looks_like_an_image(bytes: &[u8]) -> bool {
    const MAGIC: [&[u8]; 4] = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a"];
    if MAGIC.iter().any(|magic| bytes.starts_with(magic)) {
        return true;
    }
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    (text.starts_with('<') && text.contains("<svg")) || text.starts_with("<svg")
}

/// Reads an icon file named in `catalog.toml`; a file that cannot be read
/// (missing included) is an error at the key.
fn read_icon(config: &Config, icon: &crate::config::Sourced<PathBuf>, key: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<InputFile> {
    if let Err(outside) = config.boundary().check(&icon.value) {
        diagnostics.push(
            Diagnostic::error(
                "config",
                format!(
                    "icon file `{}` ({key}) leads to `{}`, outside the project",
                    crate::diag::display_path(&icon.value, &config.root),
                    outside.resolved.display()
                ),
            )
            .at(Location::span(&config.path, icon.span.clone()))
            .help("copy the icon into the project, or list its directory in `external-paths` under [catalog] to allow it"),
        );
        return None;
    }
    match crate::input::read_at_most(&icon.value, config.limits.file_bytes) {
        Ok(bytes) if !looks_like_an_image(&bytes) => {
            diagnostics.push(
                Diagnostic::error(
                    "config",
                    format!(
                        "icon file `{}` ({key}) is not a PNG, JPEG, GIF or SVG image",
                        crate::diag::display_path(&icon.value, &config.root)
                    ),
                )
                .at(Location::span(&config.path, icon.span.clone()))
                .help("the catalog embeds the icon for every cluster to show; point the key at an image file"),
            );
            None
        }
        Ok(bytes) => Some(InputFile {
            path: icon.value.clone(),
            digest: crate::load::Sha256Digest::of(&bytes),
            bytes,
        }),
        Err(error) => {
            diagnostics.push(
                Diagnostic::error(
                    "config",
                    format!(
                        "cannot read icon file `{}` ({key}): {error}",
                        crate::diag::display_path(&icon.value, &config.root)
                    ),
                )
                .at(Location::span(&config.path, icon.span.clone()))
                .help("icon paths are relative to the directory of catalog.toml"),
            );
            None
        }
    }
}
