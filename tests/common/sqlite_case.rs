//! The `catalog.toml` that builds a `package-manifest-and-sqlite` case's
//! input, shared by the writer's tests (`tests/sqlite.rs`) and the
//! reader's (`tests/sqlite_read.rs`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The suite's directory.
pub fn suite() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/package-manifest-and-sqlite")
}

/// Every case of the suite (a directory with a `case.toml`), sorted.
pub fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(suite())
        .expect("../shared/conformance/package-manifest-and-sqlite is readable")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("case.toml").is_file())
        .collect();
    cases.sort();
    cases
}

/// The `catalog.toml` that gives the case's input: bundle images added by
/// `opm registry add` become a package's bundle directories with a
/// `bundle-image` naming them as the case does; package-manifest
/// directories become `package-manifests`.
pub fn catalog_toml(case: &Path, case_toml: &toml::Table) -> String {
    let mut text = String::from("version = 1\n\n[catalog]\nname = \"conformance\"\n\n");
    let params = case.join("input/params.toml");
    if params.is_file() {
        let params: toml::Table = toml::from_str(&std::fs::read_to_string(&params).unwrap()).unwrap();
        let images = case_toml
            .get("images")
            .and_then(toml::Value::as_table)
            .expect("an add case maps its images");
        // Packages in the order their first bundle is added.
        let mut packages: Vec<(String, Vec<String>)> = Vec::new();
        for image in params["bundles"].as_array().unwrap() {
            let image = image.as_str().unwrap();
            let dir = case.join(images[image].as_str().unwrap());
            let package = yaml_value(
                &dir.join("metadata/annotations.yaml"),
                "operators.operatorframework.io.bundle.package.v1",
            );
            match packages.iter_mut().find(|(name, _)| *name == package) {
                Some((_, dirs)) => dirs.push(dir.display().to_string()),
                None => packages.push((package, vec![dir.display().to_string()])),
            }
        }
        // `opm registry add --mode M` is the channel policy `M-mode`.
        let channel_policy = match params.get("mode").and_then(toml::Value::as_str) {
            Some("semver") => "semver-mode",
            Some("semver-skippatch") => "semver-skippatch-mode",
            _ => "replaces",
        };
        for (package, dirs) in packages {
            let dirs: Vec<String> = dirs.iter().map(|dir| format!("{dir:?}")).collect();
            writeln!(
                text,
                "[[package]]\nname = {package:?}\nbundles = [{}]\nchannel-policy = {channel_policy:?}\nbundle-image = \"quay.io/operator-framework/{{{{ bundle.package }}}}-bundle:v{{{{ bundle.version }}}}\"\n",
                dirs.join(", ")
            )
            .unwrap();
        }
    } else {
        // The initializer walks `input/manifests` in lexical order.
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(case.join("input/manifests"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let package_yaml = std::fs::read_dir(&dir)
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .find(|path| path.to_string_lossy().ends_with(".package.yaml"))
                .expect("a package manifest");
            let package = yaml_value(&package_yaml, "packageName");
            writeln!(
                text,
                "[[package]]\nname = {package:?}\npackage-manifests = [{:?}]\n",
                dir.display().to_string()
            )
            .unwrap();
        }
    }
    text.push_str("[[target]]\nname = \"sqlite\"\nformats = [\"sqlite\"]\n");
    text
}

/// The value of a top-level `key: value` line of a small YAML file.
pub fn yaml_value(path: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .find_map(|line| line.trim().strip_prefix(key)?.trim_start().strip_prefix(':'))
        .map(|value| value.trim().trim_matches(['"', '\'']).to_string())
        .unwrap_or_else(|| panic!("no `{key}` in {}", path.display()))
}
