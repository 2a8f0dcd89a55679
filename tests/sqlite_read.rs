//! Reading `index.db` (issue 14, the way off SQLite): the databases
//! catbuild builds for `../shared/conformance/package-manifest-and-sqlite`
//! render as opm v1.26.5 rendered opm's own database for the same input
//! (`expected/render.yaml`), and a damaged or foreign database is refused
//! with an error naming the file and the table, exit 1. The upstream-built
//! databases of `sqlite-migrate` run in `tests/conformance.rs`.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::{catbuild, stderr};

/// Cases whose database catbuild does not build as opm yet, so its render
/// differs too; each with the reason. A listed case that starts passing
/// fails the test, so the list stays true.
const KNOWN_FAILURES: &[(&str, &str)] = &[
    ("add-baz-semver", SEMVER_ROWS),
    ("add-baz-semver-skippatch", SEMVER_ROWS),
    ("add-foo-semver", SEMVER_ROWS),
];

const SEMVER_ROWS: &str = "catbuild's writer keeps the CSV and manifests of non-head bundles, which opm's semver add modes clear (`ClearNonHeadBundles`, spec D.6), so these bundles keep their olm.bundle.objects (the writer's part of issue 14, as in tests/sqlite.rs)";

fn suite() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/package-manifest-and-sqlite")
}

#[test]
fn catbuilds_own_index_dbs_render_as_opm_rendered_its_own() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(suite())
        .expect("../shared/conformance/package-manifest-and-sqlite is readable")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("case.toml").is_file())
        .collect();
    cases.sort();
    let mut report = String::new();
    let mut problems = Vec::new();
    let mut n_compared = 0;
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let case_toml: toml::Table = toml::from_str(&std::fs::read_to_string(case.join("case.toml")).unwrap()).unwrap();
        let Some(render_yaml) = case_toml.get("render_yaml").and_then(toml::Value::as_str) else {
            continue;
        };
        n_compared += 1;
        let known = KNOWN_FAILURES.iter().find(|(known, _)| *known == name);
        let project = tempfile::tempdir().unwrap();
        std::fs::write(project.path().join("catalog.toml"), catalog_toml(case, &case_toml)).unwrap();
        let build = catbuild(project.path(), &["build", "--format", "sqlite"]);
        let outcome = if build.status.success() {
            let render = catbuild(project.path(), &["render", "build/sqlite/index.db", "-o", "yaml"]);
            let expected = std::fs::read_to_string(case.join(render_yaml)).unwrap();
            let got = String::from_utf8_lossy(&render.stdout).into_owned();
            if render.status.success() && got == expected {
                Ok(())
            } else {
                Err(format!(
                    "exit {:?}, {}\n{}",
                    render.status.code(),
                    first_difference(&expected, &got),
                    stderr(&render)
                ))
            }
        } else {
            Err(format!("catbuild build failed:\n{}", stderr(&build)))
        };
        match (outcome, known) {
            (Ok(()), None) => writeln!(report, "passed  {name}").unwrap(),
            (Ok(()), Some(_)) => problems.push(format!("{name} passes now: remove it from KNOWN_FAILURES")),
            (Err(_), Some((_, reason))) => writeln!(report, "failed  {name} (known: {reason})").unwrap(),
            (Err(failure), None) => {
                writeln!(report, "failed  {name}").unwrap();
                problems.push(format!("{name}: {failure}"));
            }
        }
    }
    eprintln!("{report}");
    assert!(n_compared >= 14, "expected the 14 cases with a render_yaml, found {n_compared}");
    assert!(problems.is_empty(), "{report}\n{}", problems.join("\n\n"));
}

/// The `catalog.toml` that gives a case's input: the bundle images of an
/// `opm registry add` as bundle directories with a `bundle-image` naming
/// them as the case does, in the mode's channel policy; package-manifest
/// directories as `package-manifests`.
fn catalog_toml(case: &Path, case_toml: &toml::Table) -> String {
    let mut text = String::from("version = 1\n\n[catalog]\nname = \"conformance\"\n\n");
    let params = case.join("input/params.toml");
    if params.is_file() {
        let params: toml::Table = toml::from_str(&std::fs::read_to_string(&params).unwrap()).unwrap();
        let images = case_toml["images"].as_table().unwrap();
        let mut packages: Vec<(String, Vec<String>)> = Vec::new();
        for image in params["bundles"].as_array().unwrap() {
            let dir = case.join(images[image.as_str().unwrap()].as_str().unwrap());
            let package = yaml_value(
                &dir.join("metadata/annotations.yaml"),
                "operators.operatorframework.io.bundle.package.v1",
            );
            match packages.iter_mut().find(|(name, _)| *name == package) {
                Some((_, dirs)) => dirs.push(format!("{:?}", dir.display().to_string())),
                None => packages.push((package, vec![format!("{:?}", dir.display().to_string())])),
            }
        }
        let channel_policy = match params.get("mode").and_then(toml::Value::as_str) {
            Some("semver") => "semver-mode",
            Some("semver-skippatch") => "semver-skippatch-mode",
            _ => "replaces",
        };
        for (package, dirs) in packages {
            writeln!(
                text,
                "[[package]]\nname = {package:?}\nbundles = [{}]\nchannel-policy = {channel_policy:?}\nbundle-image = \"quay.io/operator-framework/{{{{ bundle.package }}}}-bundle:v{{{{ bundle.version }}}}\"\n",
                dirs.join(", ")
            )
            .unwrap();
        }
    } else {
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
fn yaml_value(path: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .find_map(|line| line.trim().strip_prefix(key)?.trim_start().strip_prefix(':'))
        .map(|value| value.trim().trim_matches(['"', '\'']).to_string())
        .unwrap_or_else(|| panic!("no `{key}` in {}", path.display()))
}

fn first_difference(expected: &str, got: &str) -> String {
    let expected_lines: Vec<&str> = expected.lines().collect();
    let got_lines: Vec<&str> = got.lines().collect();
    for idx in 0..expected_lines.len().max(got_lines.len()) {
        let (want, have) = (expected_lines.get(idx), got_lines.get(idx));
        if want != have {
            return format!(
                "first difference at line {}:\n  expected: {:?}\n  got:      {:?}",
                idx + 1,
                want.unwrap_or(&"<end>"),
                have.unwrap_or(&"<end>")
            );
        }
    }
    "texts differ only in their final newline".to_string()
}
