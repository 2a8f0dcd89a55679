//! A package's `exclude` globs: bundle directories its `bundles` patterns
//! match but the build leaves out (known-broken ones, typically after
//! `catbuild init`). Patterns and directories are compared as paths under
//! the directory of `catalog.toml`, with `.` and `..` resolved by text, so
//! `bundles/*` and `./bundles/1.0.0` name the same directory.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::config::{Config, PackageConfig};
use crate::diag::{Diagnostic, Location};

/// Removes the package's excluded directories from `bundle_dirs` and
/// returns them. A pattern that leaves nothing out is a
/// warning: it is stale, or it has a typo.
pub(super) fn apply_excludes(
    config: &Config,
    package: &PackageConfig,
    bundle_dirs: &mut BTreeSet<PathBuf>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<PathBuf> {
    let options = glob::MatchOptions {
        require_literal_separator: true,
        ..glob::MatchOptions::new()
    };
    let mut excluded = Vec::new();
    for pattern in &package.exclude {
        let full = lexical_normal(&config.root.join(&pattern.value));
        // Config checked the pattern; a root with glob characters may still
        // not parse, and then it excludes nothing (and says so below).
        let matcher = glob::Pattern::new(&full.to_string_lossy()).ok();
        let before = excluded.len();
        bundle_dirs.retain(|dir| {
            let matches = matcher
                .as_ref()
                .is_some_and(|matcher| matcher.matches_path_with(&lexical_normal(dir), options));
            if matches {
                excluded.push(dir.clone());
            }
            !matches
        });
        let removed = excluded.len() - before;
        if removed == 0 {
            diagnostics.push(
                Diagnostic::warning(
                    "config",
                    format!(
                        "`exclude` pattern `{}` leaves out no bundle directory of package `{}`",
                        pattern.value, package.name.value
                    ),
                )
                .at(Location::span(&config.path, pattern.span.clone()))
                .help("patterns are relative to the directory of catalog.toml and name directories that `bundles` matches"),
            );
        }
    }
    if !excluded.is_empty() && bundle_dirs.is_empty() && package.package_manifests.is_empty() {
        let first = &package.exclude[0];
        diagnostics.push(
            Diagnostic::error(
                "config",
                format!("`exclude` leaves package `{}` without bundles", package.name.value),
            )
            .at(Location::span(&config.path, first.span.clone()))
            .help("keep at least one bundle directory, or remove the package (and its targets' mention of it)"),
        );
    }
    excluded.sort();
    excluded
}

/// `path` with `.` dropped and `..` applied to the part before it, by text
/// (no file system access, so symlinks are not followed).
fn lexical_normal(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    normal.push("..");
                }
            }
            other => normal.push(other),
        }
    }
    normal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_normal_resolves_dots_by_text() {
        assert_eq!(lexical_normal(Path::new("/p/./a/../b/c")), Path::new("/p/b/c"));
        assert_eq!(lexical_normal(Path::new("/p/case/../../bundles/x")), Path::new("/bundles/x"));
    }
}
