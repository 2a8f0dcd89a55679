//! End-to-end tests of issue 13's "small things people hit", on copies of
//! the example project: `--config DIR`, finding `catalog.toml` upward,
//! `exclude`, `list`, `completions`, `--version` and the examples in every
//! `--help`. Error cases with diagnostics live in `tests/data/diagnostics/`.

mod common;

use common::{catbuild, example_project, stderr};

use std::path::Path;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The summary line without its timing (` in 0.12s`), which varies.
fn without_timing(text: &str) -> String {
    text.lines()
        .map(|line| match line.rfind(" in ") {
            Some(idx) if line.ends_with('s') && line.starts_with(['B', 'V']) => &line[..idx],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The build's headline, without its timing.
fn headline(text: &str) -> String {
    without_timing(text).lines().next().unwrap_or_default().to_string()
}

fn add_exclude(project: &Path, exclude: &str) {
    let path = project.join("catalog.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "bundles = [\"manifests/fruits-catalog-operator/*\"]\n",
        &format!("bundles = [\"manifests/fruits-catalog-operator/*\"]\nexclude = [{exclude}]\n"),
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn config_dir_means_its_catalog_toml() {
    let project = example_project();
    let elsewhere = tempfile::tempdir().unwrap();
    let output = catbuild(elsewhere.path(), &["--config", project.path().to_str().unwrap(), "build"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        headline(&stderr(&output)),
        "Built catalog fruits-catalog-operators: targets ocp-4.16, ocp-4.17 (6 bundles)"
    );
    assert!(
        project
            .path()
            .join("build/ocp-4.16/catalog/fruits-catalog-operator/catalog.json")
            .is_file()
    );
    assert!(!elsewhere.path().join("build").exists());
}

#[test]
fn catalog_toml_is_found_in_a_parent_directory() {
    let project = example_project();
    let nested = project.path().join("manifests/fruits-catalog-operator");
    let output = catbuild(&nested, &["build", "--target", "ocp-4.16"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        headline(&stderr(&output)),
        "Built catalog fruits-catalog-operators: target ocp-4.16 (3 bundles)"
    );
    assert!(
        project
            .path()
            .join("build/ocp-4.16/catalog/fruits-catalog-operator/catalog.json")
            .is_file()
    );
    assert!(!nested.join("build").exists());
}

#[test]
fn no_catalog_toml_up_to_the_root_is_an_input_error() {
    let empty = tempfile::tempdir().unwrap();
    let output = catbuild(empty.path(), &["build"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let shown = empty.path().canonicalize().unwrap();
    let text = stderr(&output).replace(&shown.display().to_string(), "[DIR]");
    let text = text.replace(&empty.path().display().to_string(), "[DIR]");
    assert_eq!(
        text,
        "error[config]: no `catalog.toml` in `[DIR]` or any parent directory\n  |\nhelp: run `catbuild init` to write one, or pass `--config PATH`\n\nerror: found 1 problem; nothing was written\n"
    );
}

#[test]
fn exclude_leaves_bundles_out_and_the_summary_counts_them() {
    let project = example_project();
    add_exclude(project.path(), "\"./manifests/fruits-catalog-operator/0.0.1\"");
    let output = catbuild(project.path(), &["build"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        headline(&stderr(&output)),
        "Built catalog fruits-catalog-operators: targets ocp-4.16, ocp-4.17 (4 bundles, 2 excluded)"
    );
    let catalog = std::fs::read_to_string(project.path().join("build/ocp-4.16/catalog/fruits-catalog-operator/catalog.json")).unwrap();
    assert!(!catalog.contains("\"name\": \"fruits-catalog-operator.v0.0.1\""), "{catalog}");
    assert!(catalog.contains("\"name\": \"fruits-catalog-operator.v0.0.2\""));

    let listed = catbuild(project.path(), &["list", "packages"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert_eq!(
        stdout(&listed),
        "PACKAGE                  POLICY    BUNDLES         SOURCES\n\
         fruits-catalog-operator  replaces  2 (1 excluded)  manifests/fruits-catalog-operator/*\n"
    );
}

#[test]
fn list_shows_what_a_build_would_make() {
    let project = example_project();
    let output = catbuild(project.path(), &["list"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    assert_eq!(
        stdout(&output),
        "TARGET    FORMATS   PACKAGES\n\
         ocp-4.16  fbc-json  fruits-catalog-operator\n\
         ocp-4.17  fbc-yaml  fruits-catalog-operator\n\
         \n\
         PACKAGE                  POLICY    BUNDLES  SOURCES\n\
         fruits-catalog-operator  replaces  3        manifests/fruits-catalog-operator/*\n"
    );
    let targets = catbuild(project.path(), &["list", "targets"]);
    assert_eq!(
        stdout(&targets),
        "TARGET    FORMATS   PACKAGES\nocp-4.16  fbc-json  fruits-catalog-operator\nocp-4.17  fbc-yaml  fruits-catalog-operator\n"
    );
    assert!(!project.path().join("build").exists());
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, opening) in [
        ("bash", "_catbuild() {"),
        ("zsh", "#compdef catbuild"),
        ("fish", "complete -c catbuild"),
    ] {
        let output = catbuild(dir.path(), &["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}: {}", stderr(&output));
        let script = stdout(&output);
        assert!(script.contains(opening), "{shell}: {script}");
        assert!(script.contains("completions"), "{shell}: the script knows the subcommands");
    }
    let unknown = catbuild(dir.path(), &["completions", "tcsh"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).starts_with("error: invalid value 'tcsh' for '<SHELL>'"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn version_names_the_commit_and_the_opm_it_matches() {
    let dir = tempfile::tempdir().unwrap();
    let output = catbuild(dir.path(), &["--version"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let version = concat!("catbuild ", env!("CARGO_PKG_VERSION"), " (");
    assert!(first.starts_with(version) && first.ends_with(')'), "{text}");
    let commit = &first[version.len()..first.len() - 1];
    assert!(
        commit == "unknown commit" || (commit.len() >= 7 && commit.chars().all(|ch| ch.is_ascii_hexdigit())),
        "{text}"
    );
    assert_eq!(
        lines.next(),
        Some("matches opm: operator-registry HEAD (FBC, render, validate, templates), checked against opm v1.26.5")
    );
}

#[test]
fn every_subcommand_help_ends_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    for subcommand in [
        "",
        "build",
        "render",
        "validate",
        "template",
        "graph",
        "init",
        "list",
        "deploy",
        "templates",
        "dockerfile",
        "completions",
    ] {
        let args: Vec<&str> = [subcommand, "--help"].into_iter().filter(|arg| !arg.is_empty()).collect();
        let output = catbuild(dir.path(), &args);
        assert_eq!(output.status.code(), Some(0), "{subcommand}");
        let help = stdout(&output);
        let examples = help.split_once("\nExamples:\n").map(|(_, examples)| examples);
        let examples = examples.unwrap_or_else(|| panic!("{subcommand} --help has no examples:\n{help}"));
        assert!(
            examples.lines().all(|line| line.starts_with("  catbuild ")),
            "{subcommand}: {examples}"
        );
    }
}

#[test]
fn the_summary_names_the_heads_that_moved_since_the_last_build() {
    let project = example_project();
    let first = catbuild(project.path(), &["build", "--target", "ocp-4.16"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    // A first build has nothing to compare with.
    assert_eq!(
        without_timing(&stderr(&first)),
        "Built catalog fruits-catalog-operators: target ocp-4.16 (3 bundles)\n  ocp-4.16: 1 package, 2 channels, 3 bundles -> build/ocp-4.16"
    );
    let again = catbuild(project.path(), &["build", "--target", "ocp-4.16"]);
    assert!(
        stderr(&again).ends_with("  ocp-4.16: 1 package, 2 channels, 3 bundles -> build/ocp-4.16, no head moved\n"),
        "{}",
        stderr(&again)
    );

    // Leaving the newest bundle out moves both channels' head back to 0.0.2.
    add_exclude(project.path(), "\"./manifests/fruits-catalog-operator/0.0.3\"");
    let moved = catbuild(project.path(), &["build", "--target", "ocp-4.16"]);
    assert_eq!(moved.status.code(), Some(0), "{}", stderr(&moved));
    let text = without_timing(&stderr(&moved));
    assert_eq!(
        text.lines().skip(1).collect::<Vec<_>>(),
        [
            "  ocp-4.16: 1 package, 2 channels, 2 bundles -> build/ocp-4.16",
            "    fruits-catalog-operator: alpha head fruits-catalog-operator.v0.0.3 -> fruits-catalog-operator.v0.0.2",
            "    fruits-catalog-operator: stable head fruits-catalog-operator.v0.0.3 -> fruits-catalog-operator.v0.0.2",
        ],
        "{text}"
    );

    // -v lists every channel's head and the target's files.
    let verbose = catbuild(project.path(), &["-v", "build", "--target", "ocp-4.16"]);
    let text = stderr(&verbose);
    assert!(
        text.contains("    fruits-catalog-operator (2 bundles, default channel stable)\n      alpha: head fruits-catalog-operator.v0.0.2 (2 bundles)\n"),
        "{text}"
    );
    assert!(
        text.contains("    wrote build/ocp-4.16/catalog/\n    wrote build/ocp-4.16/deploy/\n"),
        "{text}"
    );
}

/// Issue 23: a semver-template package whose archetype lists leave a bundle
/// out. opm's semver template renders only the bundles it lists, so the
/// catalog leaves that bundle out too, with a warning at the package
/// (it used to reach opm's model check: "not found in any channel
/// entries", with a "please report this" note).
#[test]
fn semver_template_leaves_out_a_bundle_its_lists_do_not_name() {
    let project = tempfile::tempdir().unwrap();
    let root = project.path();
    common::copy_dir(&common::repo().join("tests/data/bundles/good"), &root.join("bundles"));
    std::fs::write(
        root.join("catalog.toml"),
        "[catalog]\nname = \"tiny-catalog\"\n\n[[package]]\nname = \"tiny\"\nbundles = [\"bundles/*\"]\n\
         channel-policy = \"semver-template\"\n\n[package.semver]\ngenerate-major-channels = true\ngenerate-minor-channels = false\ncandidate = []\nfast = []\n\
         stable = [\"tiny.v0.2.0\", \"tiny.v0.3.0\"]\n\n[[target]]\nname = \"t\"\nformats = [\"fbc-yaml\"]\n",
    )
    .unwrap();
    let output = catbuild(root, &["build"]);
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.starts_with(
            "warning[graph]: bundle `tiny.v0.1.0` of package `tiny` is in no channel of the semver template, so the catalog leaves it out\n \
             --> catalog.toml:5:8\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("help: list it under `candidate`, `fast` or `stable` in `[package.semver]`, or leave its directory out with `exclude = [\"bundles/0.1.0\"]`"),
        "{text}"
    );
    let catalog = std::fs::read_to_string(root.join("build/t/catalog/tiny/catalog.yaml")).unwrap();
    let bundles: Vec<&str> = catalog
        .split("\n---\n")
        .filter(|blob| blob.lines().any(|line| line == "schema: olm.bundle"))
        .filter_map(|blob| blob.lines().find_map(|line| line.strip_prefix("name: ")))
        .collect();
    assert_eq!(bundles, ["tiny.v0.2.0", "tiny.v0.3.0"], "{catalog}");
    assert!(!catalog.contains("tiny.v0.1.0"), "{catalog}");
    // Major channels only: one, `stable-v0`, the default.
    assert!(catalog.contains("defaultChannel: stable-v0\n"), "{catalog}");
    // Left out on purpose, it is no longer mentioned.
    let toml = std::fs::read_to_string(root.join("catalog.toml")).unwrap();
    std::fs::write(
        root.join("catalog.toml"),
        toml.replace(
            "bundles = [\"bundles/*\"]\n",
            "bundles = [\"bundles/*\"]\nexclude = [\"bundles/0.1.0\"]\n",
        ),
    )
    .unwrap();
    let output = catbuild(root, &["build"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));
}
