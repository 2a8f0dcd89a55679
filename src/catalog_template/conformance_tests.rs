//! The `basic-template` and `semver-template` conformance suites: each case
//! renders `input/<file>` with the case's `[images]` table standing in for
//! a registry (each image rendered from its directory by `crate::load`),
//! then writes the result with the FBC writer and compares it with opm's
//! bytes (or checks the error text).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::fbc::{self, DeclarativeConfig};

const CONFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance");

struct Case {
    kind: String,
    file: PathBuf,
    format: fbc::write::Format,
    exit: i64,
    stdout: Option<PathBuf>,
    stderr_contains: Vec<String>,
    images: BTreeMap<String, PathBuf>,
}

fn read_case(dir: &Path) -> Result<Case, String> {
    let text = fs_err::read_to_string(dir.join("case.toml")).map_err(|error| error.to_string())?;
    let table: toml::Table = text.parse().map_err(|error: toml::de::Error| error.to_string())?;
    let args: Vec<&str> = table["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_str)
        .collect();
    let ["template", kind, file, "-o", format] = args.as_slice() else {
        return Err(format!("unexpected args {args:?}"));
    };
    let format = match *format {
        "json" => fbc::write::Format::Json,
        "yaml" => fbc::write::Format::Yaml,
        other => return Err(format!("unknown format {other}")),
    };
    let strings = |key: &str| -> Vec<String> {
        table
            .get(key)
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|value| value.as_str().map(str::to_string))
            .collect()
    };
    let images = table
        .get("images")
        .and_then(toml::Value::as_table)
        .map(|images| {
            images
                .iter()
                .filter_map(|(image, path)| Some((image.clone(), dir.join(path.as_str()?))))
                .collect()
        })
        .unwrap_or_default();
    Ok(Case {
        kind: kind.to_string(),
        file: dir.join(file),
        format,
        exit: table.get("exit").and_then(toml::Value::as_integer).unwrap_or(0),
        stdout: table.get("stdout").and_then(toml::Value::as_str).map(|path| dir.join(path)),
        stderr_contains: strings("stderr_contains"),
        images,
    })
}

/// Renders a bundle image from the directory the case maps it to, as an
/// image built from that directory would render (`image` set to the
/// reference).
fn render_local_image(case: &Case, image: &str) -> Result<DeclarativeConfig, String> {
    let dir = case
        .images
        .get(image)
        .ok_or_else(|| format!("image {image:?} is not in the case's [images] table"))?;
    let loaded = crate::load::load_bundle_dir(dir, Some(image)).map_err(|error| error.to_string())?;
    Ok(DeclarativeConfig {
        bundles: vec![loaded.bundle],
        ..DeclarativeConfig::default()
    })
}

fn run_case(case: &Case) -> Result<(), String> {
    let text = fs_err::read_to_string(&case.file).map_err(|error| error.to_string())?;
    let render_bundle = |image: &str| render_local_image(case, image);
    let result = match case.kind.as_str() {
        "basic" => super::basic::render(&text, &render_bundle),
        "semver" => super::semver::render(&text, &render_bundle),
        other => return Err(format!("unknown template kind {other}")),
    };
    match (result, case.exit) {
        (Ok(config), 0) => {
            let actual = fbc::write::write(&config, case.format).map_err(|error| error.to_string())?;
            let expected_path = case.stdout.as_ref().ok_or("case has no stdout file")?;
            let expected = fs_err::read_to_string(expected_path).map_err(|error| error.to_string())?;
            if actual != expected {
                return Err(format!("output differs\n--- expected\n{expected}\n--- actual\n{actual}"));
            }
            Ok(())
        }
        (Ok(_), exit) => Err(format!("rendered, but opm exits {exit}")),
        (Err(error), 0) => Err(format!("failed: {error}")),
        (Err(error), _) => {
            // What the CLI prints: opm's `rendering template: ` prefix.
            let stderr = format!("rendering template: {error}");
            let missing: Vec<&String> = case
                .stderr_contains
                .iter()
                .filter(|needle| !stderr.contains(needle.as_str()))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("error {stderr:?} lacks {missing:?}"))
            }
        }
    }
}

fn run_suite(suite: &str) {
    let suite_dir = Path::new(CONFORMANCE).join(suite);
    let mut dirs: Vec<PathBuf> = fs_err::read_dir(&suite_dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).filter(|path| path.is_dir()).collect())
        .unwrap_or_default();
    dirs.sort();
    assert!(!dirs.is_empty(), "no cases under {}", suite_dir.display());
    let mut failures = Vec::new();
    for dir in &dirs {
        let outcome =
            std::panic::catch_unwind(|| read_case(dir).and_then(|case| run_case(&case))).unwrap_or_else(|_| Err("panicked".to_string()));
        if let Err(error) = outcome {
            failures.push(format!("{}: {error}", dir.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {suite} cases failed:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
}

#[test]
fn conformance_basic_template() {
    run_suite("basic-template");
}

#[test]
fn conformance_semver_template() {
    run_suite("semver-template");
}
