//! Loading a package's planned bundles in parallel (read, render `.j2`
//! files in memory, parse), and turning what the loader reports into
//! diagnostics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config::Config;
use crate::diag::{Diagnostic, Location};
use crate::input::Boundary;
use crate::load::{BundleError, BundleFiles, LoadedBundle, TemplateError, TemplateProblem};

use super::images::BundleImages;
use super::plan::PackagePlan;
use super::report::{Action, Cached, Reporter};
use crate::image::Image;
use std::sync::Arc;

/// One bundle loaded: the bundle and, when images are built, its image.
pub(super) type Loaded = (LoadedBundle, Option<Result<Image, Diagnostic>>);
/// A bundle loaded, or why it did not load.
pub(super) type LoadResult = Result<Loaded, Vec<Diagnostic>>;

/// Loads every bundle of one package, in parallel, rendering `.j2`
/// templates with `vars`: its bundle directories in order, then those of
/// its package-manifest directories; and what loading them reported. With
/// `image_epoch`, each bundle's image is built from its rendered files too
/// (keyed by bundle directory), while they are in memory. Bundles in
/// `preloaded` were loaded already (by the cache's probe, which reported
/// them); `cached` says what to report for the others.
pub(super) fn load_package(
    config: &Config,
    (package, plan): (&str, &PackagePlan),
    vars: &BTreeMap<String, String>,
    image_epoch: Option<u64>,
    (mut preloaded, cached): (BTreeMap<PathBuf, LoadResult>, &Cached),
    reporter: &dyn Reporter,
) -> (Vec<LoadedBundle>, BundleImages, Vec<Diagnostic>) {
    let todo: Vec<(&PathBuf, Option<LoadResult>)> = plan.bundle_dirs.iter().map(|dir| (dir, preloaded.remove(dir))).collect();
    // One boundary for the package: what it resolves of the directories
    // above its bundles is resolved once.
    let boundary = config.boundary();
    let results: Vec<LoadResult> = todo
        .into_par_iter()
        .map(|(dir, preloaded)| match preloaded {
            Some(result) => result,
            None => load_one(
                (config, &boundary),
                package,
                dir,
                vars,
                image_epoch,
                (cached, reporter),
                Default::default(),
            ),
        })
        .collect();
    let mut diagnostics = Vec::new();
    let mut loaded = Vec::new();
    let mut images = BundleImages::new();
    for result in results {
        match result {
            Ok((bundle, image)) => {
                diagnostics.extend(bundle_warnings(&bundle, &config.root));
                match image {
                    Some(Ok(image)) => {
                        images.insert(bundle.dir.clone(), Arc::new(image));
                    }
                    Some(Err(diagnostic)) => diagnostics.push(diagnostic),
                    None => {}
                }
                loaded.push(bundle);
            }
            Err(found) => diagnostics.extend(found),
        }
    }
    let pulled: Vec<Result<LoadedBundle, Vec<Diagnostic>>> = plan
        .bundle_images
        .par_iter()
        .map(|pulled| load_pulled_bundle(config, pulled))
        .collect();
    for result in pulled {
        match result {
            Ok(bundle) => {
                diagnostics.extend(bundle_warnings(&bundle, &config.root));
                loaded.push(bundle);
            }
            Err(found) => diagnostics.extend(found),
        }
    }
    for dir in &plan.package_manifest_dirs {
        match crate::load::load_package_manifest_dir(dir) {
            Ok(manifest) => loaded.extend(manifest.bundles),
            Err(error) => diagnostics.push(Diagnostic::error("bundle", error.to_string()).at(Location::file(dir))),
        }
    }
    (loaded, images, diagnostics)
}

/// Loads a bundle image pulled for the package. The catalog names it as
/// `opm render` does, by the reference as written (spec B.5: the tag is
/// not resolved), or by `repository@digest` with `bundle-image-refs =
/// "digest"`; an `oci:` layout has no registry name, so `bundle-image`
/// names it as it names a bundle directory.
fn load_pulled_bundle(config: &Config, pulled: &super::images::PulledBundle) -> Result<LoadedBundle, Vec<Diagnostic>> {
    let name = if pulled.is_layout {
        None
    } else if config.images.bundle_refs == crate::config::BundleRefs::Digest {
        Some(format!(
            "{}@{}",
            crate::image::reference::without_tag(&pulled.reference.value),
            pulled.image.digest
        ))
    } else {
        Some(pulled.reference.value.clone())
    };
    let at = Location::span(&config.path, pulled.reference.span.clone());
    match crate::source::load_unpacked_bundle(&pulled.image, name.as_deref()) {
        Ok((loaded, _files)) => Ok(loaded),
        Err(crate::source::SourceError::Bundle(error)) => {
            let files = crate::load::read_bundle_dir(&pulled.image.rootfs).unwrap_or_default();
            let mut found = relative_messages(explain(&error, &files), &config.root);
            for diagnostic in &mut found {
                diagnostic.notes.push(format!("in bundle image `{}`", pulled.reference.value));
            }
            Err(found)
        }
        Err(error) => Err(vec![Diagnostic::error("image", error.to_string()).at(at)]),
    }
}

/// Loads one bundle of `package` (and its image with `image_epoch`),
/// reported as a `load-bundle` action; its files must lie inside
/// `boundary` (the config's, made once for many bundles).
pub(super) fn load_one(
    (config, boundary): (&Config, &Boundary),
    package: &str,
    dir: &Path,
    vars: &BTreeMap<String, String>,
    image_epoch: Option<u64>,
    (cached, reporter): (&Cached, &dyn Reporter),
    pre_read: crate::load::PreRead,
) -> Result<Loaded, Vec<Diagnostic>> {
    let action = Action::LoadBundle {
        package,
        dir: dir.strip_prefix(&config.root).unwrap_or(dir),
    };
    // The rendered files are dropped here, once the bundle image (if any)
    // holds what it needs of them.
    super::report::action(reporter, &action, cached, || {
        load_bundle(dir, vars, &config.root, boundary, &config.limits, pre_read).map(|(loaded, files)| {
            let image = image_epoch.map(|epoch| super::images::bundle_image(&files, epoch));
            (loaded, image)
        })
    })
}

/// [`load_bundle`] for `render`, which has no use for the files.
pub(crate) fn load_templated_bundle(dir: &Path, vars: &BTreeMap<String, String>, root: &Path) -> Result<LoadedBundle, Vec<Diagnostic>> {
    load_bundle(
        dir,
        vars,
        root,
        &Boundary::anywhere(),
        &crate::input::Limits::default(),
        Default::default(),
    )
    .map(|(loaded, _files)| loaded)
}

/// Reads the bundle in `dir` (its files inside `boundary`, within `limits`), renders its
/// `.j2` files with `vars` and parses it; returns the bundle and the (rendered) files it was parsed from.
pub(super) fn load_bundle(
    dir: &Path,
    vars: &BTreeMap<String, String>,
    root: &Path,
    boundary: &Boundary,
    limits: &crate::input::Limits,
    pre_read: crate::load::PreRead,
) -> Result<(LoadedBundle, BundleFiles), Vec<Diagnostic>> {
    let files = crate::load::read_bundle_dir_reusing(dir, boundary, limits, pre_read)
        .map_err(|error| relative_messages(vec![bundle_error_diagnostic(&BundleError::Read(error), dir)], root))?;
    let files = crate::load::render_templates(files, vars)
        .map_err(|errors| relative_messages(errors.iter().map(template_diagnostic).collect(), root))?;
    match crate::load::load_bundle_files(&files, None) {
        Ok(loaded) => Ok((loaded, files)),
        Err(error) => Err(relative_messages(explain(&error, &files), root)),
    }
}

fn template_diagnostic(error: &TemplateError) -> Diagnostic {
    let located = error.span.is_some() || error.line.is_some();
    let message = match &error.problem {
        // Without a place to label, the detail goes in the message.
        TemplateProblem::Invalid { detail: Some(detail), .. } if !located => format!("{}: {detail}", error.problem),
        problem => problem.to_string(),
    };
    let mut diagnostic = Diagnostic::error("template", message);
    diagnostic = match (&error.span, error.line) {
        (Some(span), _) => diagnostic.at(Location::span(&error.file, span.clone())),
        (None, Some(line)) => diagnostic.at(Location::line(&error.file, line)),
        (None, None) => diagnostic.at(Location::file(&error.file)),
    };
    match &error.problem {
        TemplateProblem::Undefined { name, detail, defined } => {
            if let Some(name) = name {
                diagnostic = diagnostic.label(format!("`{name}` is undefined"));
            } else if let Some(detail) = detail {
                diagnostic = diagnostic.label(detail.clone());
            }
            let listed = if defined.is_empty() {
                "none are defined".to_string()
            } else {
                format!("defined: {}", defined.join(", "))
            };
            diagnostic.help(format!(
                "define it under `[vars]` in catalog.toml or the target's `vars` ({listed})"
            ))
        }
        TemplateProblem::Invalid { detail: Some(detail), .. } if located => diagnostic.label(detail.clone()),
        TemplateProblem::RenderedFileExists { .. } => {
            diagnostic.help("keep either the template or the plain file: both would be the same manifest")
        }
        TemplateProblem::Invalid { .. } | TemplateProblem::NotUtf8 => diagnostic,
    }
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
            Warning::ExtraCsv { file, kept } => {
                let kept = crate::diag::display_path(kept, root);
                Diagnostic::error(
                    "bundle",
                    format!(
                        "bundle has a second ClusterServiceVersion: `{}` besides `{kept}`",
                        crate::diag::display_path(file, root)
                    ),
                )
                .at(Location::file(file))
                .note(format!(
                    "opm keeps only the first CSV by file name (`{kept}`) and drops this one without a word"
                ))
                .help("remove the CSV that is not the bundle's (a stale copy or backup) from `manifests/`")
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

/// Paths inside messages shown relative to the project root, as locations are.
fn relative_messages(mut diagnostics: Vec<Diagnostic>, root: &Path) -> Vec<Diagnostic> {
    let prefix = format!("{}/", root.display());
    for diagnostic in &mut diagnostics {
        diagnostic.message = diagnostic.message.replace(&prefix, "");
        for note in &mut diagnostic.notes {
            *note = note.replace(&prefix, "");
        }
    }
    diagnostics
}

/// The diagnostics for a bundle that failed to load. When it failed for
/// lack of objects or of a CSV, the usual cause is a manifest that does not
/// decode: name each such file and its line, the failure folded into the
/// first.
fn explain(error: &BundleError, files: &BundleFiles) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    if matches!(error, BundleError::NoBundleObjects { .. } | BundleError::NoCsv { .. }) {
        for file in files.files_in(crate::load::MANIFESTS_DIR) {
            let shown = files.dir.join(&file.source);
            let problem = match std::str::from_utf8(&file.bytes) {
                Err(_) => Some(("manifest is not UTF-8 text".to_string(), None)),
                Ok(text) => match crate::encoding::yaml_in::decode_stream(text).into_iter().next() {
                    Some(Err(yaml_error)) => Some((format!("cannot decode manifest: {}", yaml_error.message), Some(yaml_error.line))),
                    _ => None,
                },
            };
            if let Some((message, line)) = problem {
                let location = line.map_or_else(|| Location::file(&shown), |line| Location::line(&shown, line));
                diagnostics.push(
                    Diagnostic::error("yaml", message)
                        .at(location)
                        .note("opm skips a manifest that does not decode, so the bundle loses it"),
                );
            }
        }
    }
    let bundle_error = bundle_error_diagnostic(error, &files.dir);
    // The manifest that does not decode is the cause; that the bundle then
    // has no objects (or no CSV) follows from it and is not said twice.
    match diagnostics.first_mut() {
        Some(cause) => cause.notes.push(format!("so the bundle does not load: {}", bundle_error.message)),
        None => diagnostics.push(bundle_error),
    }
    diagnostics
}

fn bundle_error_diagnostic(error: &BundleError, dir: &Path) -> Diagnostic {
    let mut diagnostic = Diagnostic::error("bundle", error.to_string());
    let location = error.location().map(|(path, line)| match line {
        Some(line) => Location::line(&path, line),
        None => Location::file(&path),
    });
    diagnostic = diagnostic.at(location.unwrap_or_else(|| Location::file(dir)));
    if let Some(help) = error.help() {
        diagnostic = diagnostic.help(help);
    }
    diagnostic
}
