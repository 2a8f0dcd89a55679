//! Loading every planned bundle in parallel, and turning what opm would
//! log about a bundle into diagnostics.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use crate::config::Config;
use crate::diag::{Diagnostic, Location};
use crate::load::LoadedBundle;

use super::plan::PackagePlan;
use super::templates;

/// Loads every bundle of every package, in parallel, rendering `.j2`
/// templates with `vars`.
pub(super) fn load_packages(
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
