//! minijinja in the build: `.j2` files in bundle directories and the
//! `bundle-image` reference template. Undefined variables are errors
//! (strict mode), reported at their line, because a silently empty value in
//! a CSV or an image reference ships a broken catalog.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};

use crate::diag::{Diagnostic, Location};
use crate::load::LoadedBundle;

const TEMPLATE_SUFFIX: &str = ".j2";

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Keep the file's final newline: YAML cares little, diffs care a lot.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder().keep_trailing_newline(true).build() {
        env.set_syntax(syntax);
    }
    env
}

/// Loads a bundle directory, first rendering its `.j2` files with `vars`.
/// A directory without templates is loaded in place.
pub fn load_bundle(dir: &Path, vars: &BTreeMap<String, String>, root: &Path) -> Result<LoadedBundle, Vec<Diagnostic>> {
    let templates = find_templates(dir);
    if templates.is_empty() {
        return crate::load::load_bundle_dir(dir, None).map_err(|error| relative_messages(explain(&error, dir, dir, None), root));
    }
    let staging = tempfile::Builder::new()
        .prefix(".catbuild-render-")
        .tempdir()
        .map_err(|error| vec![Diagnostic::error("io", format!("cannot create a temp directory: {error}"))])?;
    let mut diagnostics = Vec::new();
    stage(dir, staging.path(), vars, &mut diagnostics);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let mut loaded = crate::load::load_bundle_dir(staging.path(), None)
        .map_err(|error| relative_messages(explain(&error, dir, staging.path(), Some(staging.path())), root))?;
    loaded.relocate(staging.path(), dir, &templates);
    Ok(loaded)
}

/// Templates directly inside `manifests/` and `metadata/`.
pub(crate) fn find_templates(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for sub in ["manifests", "metadata"] {
        let Ok(entries) = fs_err::read_dir(dir.join(sub)) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() && path.to_string_lossy().ends_with(TEMPLATE_SUFFIX) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Copies the bundle's `manifests/` and `metadata/` into `staging`,
/// rendering templates (and dropping their `.j2` suffix).
fn stage(dir: &Path, staging: &Path, vars: &BTreeMap<String, String>, diagnostics: &mut Vec<Diagnostic>) {
    let env = environment();
    for sub in ["manifests", "metadata"] {
        let source_dir = dir.join(sub);
        let target_dir = staging.join(sub);
        if let Err(error) = fs_err::create_dir_all(&target_dir) {
            diagnostics.push(Diagnostic::error("io", error.to_string()));
            return;
        }
        let Ok(entries) = fs_err::read_dir(&source_dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let result = match file_name.strip_suffix(TEMPLATE_SUFFIX) {
                Some(rendered_name) => render_file(&env, &path, vars).and_then(|text| {
                    fs_err::write(target_dir.join(rendered_name), text).map_err(|error| Diagnostic::error("io", error.to_string()))
                }),
                None => fs_err::copy(&path, target_dir.join(&file_name))
                    .map(|_| ())
                    .map_err(|error| Diagnostic::error("io", error.to_string())),
            };
            if let Err(diagnostic) = result {
                diagnostics.push(diagnostic);
            }
        }
    }
}

fn render_file(env: &Environment, path: &Path, vars: &BTreeMap<String, String>) -> Result<String, Diagnostic> {
    let source = fs_err::read_to_string(path).map_err(|error| Diagnostic::error("io", error.to_string()))?;
    env.render_str(&source, vars)
        .map_err(|error| template_diagnostic(&error, path, &source, vars))
}

fn template_diagnostic(error: &minijinja::Error, path: &Path, source: &str, vars: &BTreeMap<String, String>) -> Diagnostic {
    let undefined = error.kind() == minijinja::ErrorKind::UndefinedError;
    let message = if undefined {
        "undefined template variable".to_string()
    } else {
        format!("template error: {}", error.kind())
    };
    let mut diagnostic = Diagnostic::error("template", message);
    diagnostic = match (error.range(), error.line()) {
        (Some(range), _) if range.end <= source.len() => diagnostic.at(Location::span(path, range)),
        (_, Some(line)) => diagnostic.at(Location::line(path, line)),
        _ => diagnostic.at(Location::file(path)),
    };
    // minijinja's own detail text differs between build profiles; name the
    // variable from the source span instead.
    let spanned = error
        .range()
        .and_then(|range| source.get(range))
        .map(str::trim)
        .filter(|text| !text.is_empty());
    match (undefined, spanned) {
        (true, Some(name)) => diagnostic = diagnostic.label(format!("`{name}` is undefined")),
        _ => {
            if let Some(detail) = error.detail() {
                diagnostic = diagnostic.label(detail.to_string());
            }
        }
    }
    if undefined {
        let known: Vec<&str> = vars.keys().map(String::as_str).collect();
        let listed = if known.is_empty() {
            "none are defined".to_string()
        } else {
            format!("defined: {}", known.join(", "))
        };
        diagnostic = diagnostic.help(format!(
            "define it under `[vars]` in catalog.toml or the target's `vars` ({listed})"
        ));
    }
    diagnostic
}

/// Renders a `bundle-image` template for one bundle: the target's variables
/// plus `bundle.package`, `bundle.name` and `bundle.version`.
pub fn bundle_image(template: &str, vars: &BTreeMap<String, String>, bundle: &LoadedBundle) -> Result<String, String> {
    let env = environment();
    let mut context: BTreeMap<String, minijinja::Value> = vars
        .iter()
        .map(|(key, value)| (key.clone(), minijinja::Value::from(value.as_str())))
        .collect();
    let mut bundle_fields = BTreeMap::new();
    bundle_fields.insert("package", bundle.package.clone());
    bundle_fields.insert("name", bundle.bundle.name.clone());
    bundle_fields.insert("version", bundle.version.clone());
    context.insert("bundle".to_string(), minijinja::Value::from(bundle_fields));
    env.render_str(template, context).map_err(|error| {
        let detail = error.detail().map(|detail| format!(": {detail}")).unwrap_or_default();
        format!(
            "cannot render `bundle-image` for bundle `{}`: {}{detail}",
            bundle.bundle.name,
            error.kind()
        )
    })
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
fn explain(error: &crate::load::BundleError, dir: &Path, loaded_from: &Path, staging: Option<&Path>) -> Vec<Diagnostic> {
    use crate::load::BundleError;
    let mut diagnostics = Vec::new();
    if matches!(error, BundleError::NoBundleObjects { .. } | BundleError::NoCsv { .. }) {
        let mut files: Vec<PathBuf> = fs_err::read_dir(loaded_from.join("manifests"))
            .map(|entries| entries.flatten().map(|entry| entry.path()).filter(|path| path.is_file()).collect())
            .unwrap_or_default();
        files.sort();
        for file in files {
            let Ok(bytes) = fs_err::read(&file) else { continue };
            let shown = match file.strip_prefix(loaded_from) {
                Ok(relative) => dir.join(relative),
                Err(_) => file.clone(),
            };
            let shown = if staging.is_some() && !shown.exists() {
                PathBuf::from(format!("{}{TEMPLATE_SUFFIX}", shown.display()))
            } else {
                shown
            };
            let problem = match std::str::from_utf8(&bytes) {
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
    let bundle_error = bundle_error_diagnostic(error, dir, staging);
    // The manifest that does not decode is the cause; that the bundle then
    // has no objects (or no CSV) follows from it and is not said twice.
    match diagnostics.first_mut() {
        Some(cause) => cause.notes.push(format!("so the bundle does not load: {}", bundle_error.message)),
        None => diagnostics.push(bundle_error),
    }
    diagnostics
}

fn bundle_error_diagnostic(error: &crate::load::BundleError, dir: &Path, staging: Option<&Path>) -> Diagnostic {
    let mut message = error.to_string();
    if let Some(staging) = staging {
        message = message.replace(&staging.display().to_string(), &dir.display().to_string());
    }
    let mut diagnostic = Diagnostic::error("bundle", message);
    let location = error.location().map(|(path, line)| {
        let path = match staging.and_then(|staging| path.strip_prefix(staging).ok()) {
            Some(relative) => dir.join(relative),
            None => path.to_path_buf(),
        };
        match line {
            Some(line) => Location::line(&path, line),
            None => Location::file(&path),
        }
    });
    diagnostic = diagnostic.at(location.unwrap_or_else(|| Location::file(dir)));
    if let Some(help) = error.help() {
        diagnostic = diagnostic.help(help);
    }
    diagnostic
}
