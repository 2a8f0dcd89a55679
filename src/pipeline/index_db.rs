//! Packages whose source is an opm `index.db` (`index-db` in
//! `catalog.toml`): the way off SQLite. Each index is opened once, checked
//! and validated ([`crate::sqlite::read`]), and each package it gives is
//! that package's catalog as opm's `render` prints it, except that the
//! dependency rows opm's conversion drops (`olm.label`, `olm.constraint`)
//! are kept as the properties they were, so nothing is lost on the way.
//! The packages then go through opm's gate and every encoder like any
//! other.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{Config, PackageConfig};
use crate::diag::{Diagnostic, Location};
use crate::fbc::DeclarativeConfig;
use crate::sqlite::{Dependencies, IndexDb};

/// Every `index-db` package of the config, by name; problems (an index
/// that cannot be read or is invalid, a package it does not hold) are
/// diagnostics at the `index-db` key.
pub(super) fn load_index_packages(config: &Config, diagnostics: &mut Vec<Diagnostic>) -> BTreeMap<String, DeclarativeConfig> {
    let mut by_index: BTreeMap<&PathBuf, Vec<&PackageConfig>> = BTreeMap::new();
    for package in &config.packages {
        if let Some(index_db) = &package.index_db {
            by_index.entry(&index_db.value).or_default().push(package);
        }
    }
    let mut out = BTreeMap::new();
    for (path, packages) in by_index {
        let at = |package: &PackageConfig| {
            let span = package
                .index_db
                .as_ref()
                .map_or_else(|| package.name.span.clone(), |index_db| index_db.span.clone());
            Location::span(&config.path, span)
        };
        let index = match IndexDb::open(path, Dependencies::Keep) {
            Ok(index) => index,
            Err(error) => {
                let mut diagnostic = Diagnostic::error(
                    "index-db",
                    format!(
                        "cannot use `{}` as a source: {}",
                        crate::diag::display_path(path, &config.root),
                        error.detail()
                    ),
                )
                .at(at(packages[0]));
                if let Some(help) = &error.help {
                    diagnostic = diagnostic.help(help.clone());
                }
                diagnostics.push(diagnostic);
                continue;
            }
        };
        let names = index.package_names();
        for package in packages {
            let name = &package.name.value;
            if !names.contains(name) {
                let known: Vec<&str> = names.iter().map(String::as_str).collect();
                let help = crate::config::closest(name, &known).map_or_else(
                    || format!("it holds: {}", names.join(", ")),
                    |best| format!("did you mean `{best}`? (it holds: {})", names.join(", ")),
                );
                diagnostics.push(
                    Diagnostic::error(
                        "index-db",
                        format!("package `{name}` is not in `{}`", crate::diag::display_path(path, &config.root)),
                    )
                    .at(at(package))
                    .help(help),
                );
                continue;
            }
            match index.package(name) {
                Ok(mut catalog) => {
                    if let Some(description) = &package.description {
                        for blob in &mut catalog.packages {
                            blob.description.clone_from(description);
                        }
                    }
                    out.insert(name.clone(), catalog);
                }
                Err(error) => diagnostics
                    .push(Diagnostic::error("index-db", format!("cannot read package `{name}`: {}", error.detail())).at(at(package))),
            }
        }
    }
    out
}
