//! End-to-end on the real-world corpus (`../shared/corpus/bundles`, copied
//! from community-operators-prod): `catbuild init` adopts it, `validate`
//! rejects exactly the packages listed below (each with the reason found),
//! the rest builds into a catalog that `validate` accepts, and the channels
//! of FBC-managed packages come out as upstream published them.
//!
//! Everything runs on a scratch copy, with the real binary.

mod common;

use common::{catbuild, copy_dir, stderr};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use catbuild::fbc::{self, ChannelEntry, DeclarativeConfig};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");

/// Packages whose bundles are wrong, so `catbuild validate` rejects them:
/// (package, what every error about it says, why). What opm's replaces
/// mode makes of them is in the release note.
const REJECTED_DATA: &[(&str, &str, &str)] = &[
    (
        "dynatrace-operator",
        "has invalid skipRange `<=v0.10.1`",
        "0.10.2: `olm.skipRange: <=v0.10.1` is not a blang/semver range (no `v` allowed)",
    ),
    (
        "eventing-kogito",
        "metadata/dependencies.yaml`: yaml: line 22: mapping values are not allowed",
        "1.1.0, 1.2.0: metadata/dependencies.yaml is not YAML; opm would drop the dependencies without a word",
    ),
    (
        "jupyter-notebook-validator-operator",
        "no `manifests/` directory in bundles/jupyter-notebook-validator-operator/1.0.7",
        "1.0.7 has its manifests at the version root",
    ),
    (
        "percona-postgresql-operator",
        "has invalid skipRange `<v1.4.0`",
        "1.4.0: `olm.skipRange: <v1.4.0` is not a blang/semver range (no `v` allowed)",
    ),
];

/// FBC-managed packages whose published channels (expected/fbc-bundle-object)
/// catbuild reproduces from the newest template. The others are listed in
/// [`CHANNELS_DIFFER`].
const CHANNELS_MATCH: &[&str] = &[
    "dxoperator",
    "ecr-secret-operator",
    "kairos-operator",
    "kube-green",
    "libredb-studio-operator",
    "odf-node-recovery-operator",
    "shipwright-operator",
    "visionone-containersecurity",
];

const MULTICLUSTER: (&str, &str) = (
    "multicluster-global-hub-operator",
    "published from an older template (release-1.4 ... release-1.7); the newest (v4.21.yaml) keeps release-1.7 only, and init leaves 1.4.0-1.6.0 out",
);

/// Published packages whose channels differ, and why.
const CHANNELS_DIFFER: &[(&str, &str)] = &[MULTICLUSTER];

/// The same for the `olm.csv.metadata` flavour (OCP 4.17+ catalogs), which
/// has more packages.
const CHANNELS_MATCH_FBC: &[&str] = &[
    "aws-neuron-operator",
    "cat-facts-operator",
    "dotvirt-operator",
    "dxoperator",
    "ecr-secret-operator",
    "kairos-operator",
    "kube-green",
    "kubevirt-wol",
    "libredb-studio-operator",
    "nfs-provisioner-operator",
    "odf-node-recovery-operator",
    "project-onboarding-operator",
    "rabbitmq-messaging-topology-operator",
    "rsct-operator",
    "shipwright-operator",
    "slurm-operator",
    "visionone-containersecurity",
];

const CHANNELS_DIFFER_FBC: &[(&str, &str)] = &[
    MULTICLUSTER,
    (
        "openshift-integration-operator",
        "the published v0.8.2 skips the v0.7.0 it replaces, as opm's channel-scoped semver expansion did before #1813 reverted it (corpus README)",
    ),
];

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_catbuild"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("catbuild runs")
}

/// The `[[package]]` tables of a catalog.toml written by init: name →
/// (first line, last line), 1-based, each table running to the next
/// `[[package]]` or `[[target]]`.
fn package_tables(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut tables: Vec<(String, usize, usize)> = Vec::new();
    for (idx, line) in lines.iter().enumerate() {
        if *line == "[[package]]" || *line == "[[target]]" {
            if let Some(last) = tables.last_mut() {
                last.2 = idx;
            }
            if *line == "[[package]]" {
                let name = lines[idx + 1]
                    .strip_prefix("name = \"")
                    .and_then(|rest| rest.strip_suffix('"'))
                    .expect("init writes the name right after [[package]]");
                tables.push((name.to_string(), idx + 1, lines.len()));
            }
        }
    }
    tables
}

/// The package each `error[...]` diagnostic of `validate` is about: from
/// its `-->` location, a bundle path (mapped through catalog.toml's bundle
/// lists) or a line of catalog.toml (the table holding it).
fn packages_with_errors(stderr: &str, config: &str) -> BTreeMap<String, Vec<String>> {
    let tables = package_tables(config);
    let mut dir_to_package: BTreeMap<String, String> = BTreeMap::new();
    let lines: Vec<&str> = config.lines().collect();
    for (name, first, last) in &tables {
        for line in &lines[*first - 1..*last] {
            for part in line.split('"').skip(1).step_by(2) {
                if let Some(rest) = part.strip_prefix("bundles/")
                    && let Some(dir) = rest.split('/').next()
                {
                    dir_to_package.insert(dir.to_string(), name.clone());
                }
            }
        }
    }
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let stderr_lines: Vec<&str> = stderr.lines().collect();
    for (idx, line) in stderr_lines.iter().enumerate() {
        if !line.starts_with("error[") {
            continue;
        }
        let location = stderr_lines
            .get(idx + 1)
            .and_then(|next| next.trim_start().strip_prefix("--> "))
            .unwrap_or_else(|| panic!("error without a location: {line}"));
        let package = if let Some(rest) = location.strip_prefix("bundles/") {
            let dir = rest.split('/').next().unwrap();
            dir_to_package.get(dir).cloned()
        } else if let Some(rest) = location.strip_prefix("catalog.toml:") {
            let line_number: usize = rest.split(':').next().unwrap().parse().unwrap();
            tables
                .iter()
                .find(|(_, first, last)| (*first..=*last).contains(&line_number))
                .map(|(name, _, _)| name.clone())
        } else {
            None
        };
        let package = package.unwrap_or_else(|| panic!("cannot tell the package of: {line}\n  --> {location}"));
        errors.entry(package).or_default().push((*line).to_string());
    }
    errors
}

/// catalog.toml with `[catalog] name` replaced by `name`.
fn with_catalog_name(config: &str, name: &str) -> String {
    let mut out = String::new();
    let mut in_catalog = false;
    for line in config.lines() {
        if line.starts_with('[') {
            in_catalog = line == "[catalog]";
        }
        if in_catalog && line.starts_with("name = ") {
            out.push_str(&format!("name = \"{name}\"\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// catalog.toml without the `[[package]]` tables of `drop`.
fn without_packages(config: &str, drop: &BTreeSet<&str>) -> String {
    let tables = package_tables(config);
    let mut out = String::new();
    for (idx, line) in config.lines().enumerate() {
        let number = idx + 1;
        let dropped = tables
            .iter()
            .any(|(name, first, last)| drop.contains(name.as_str()) && (*first..=*last).contains(&number));
        if !dropped {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The package and channel blobs of one FBC file, as opm writes it (YAML
/// documents after `---` lines, JSON objects closed by a `}` line). The
/// bundle blobs are skipped unread: they are most of the bytes, and the
/// debug build decodes them slowly.
fn graph_blobs(path: &Path) -> DeclarativeConfig {
    let text = std::fs::read_to_string(path).unwrap();
    let yaml = path.extension().is_some_and(|extension| extension == "yaml");
    let mut kept = String::new();
    let mut blob = String::new();
    for line in text.lines() {
        let ends = if yaml { line == "---" } else { line == "}" };
        if yaml && ends {
            keep_graph_blob(&mut kept, &blob, "---\n", "schema: olm.");
            blob.clear();
            continue;
        }
        blob.push_str(line);
        blob.push('\n');
        if ends {
            keep_graph_blob(&mut kept, &blob, "", "\"schema\": \"olm.");
            blob.clear();
        }
    }
    if yaml {
        keep_graph_blob(&mut kept, &blob, "---\n", "schema: olm.");
    }
    fbc::load::load_text(&kept, path).unwrap()
}

fn keep_graph_blob(kept: &mut String, blob: &str, separator: &str, schema_prefix: &str) {
    let graph = ["package", "channel"]
        .iter()
        .any(|schema| blob.contains(&format!("{schema_prefix}{schema}\n")) || blob.contains(&format!("{schema_prefix}{schema}\",")));
    if graph {
        kept.push_str(separator);
        kept.push_str(blob);
    }
}

/// A package's channels as comparable data: channel name → entries sorted
/// by name.
fn channels_of(config: &DeclarativeConfig, package: &str) -> BTreeMap<String, Vec<ChannelEntry>> {
    config
        .channels
        .iter()
        .filter(|channel| channel.package == package)
        .map(|channel| {
            let mut entries = channel.entries.clone().unwrap_or_default();
            entries.sort_by(|left, right| left.name.cmp(&right.name));
            (channel.name.clone(), entries)
        })
        .collect()
}

fn default_channel_of(config: &DeclarativeConfig, package: &str) -> String {
    config
        .packages
        .iter()
        .find(|candidate| candidate.name == package)
        .map(|package| package.default_channel.clone())
        .unwrap_or_default()
}

#[test]
fn corpus_init_validate_build_and_compare_with_published_catalogs() {
    let scratch = tempfile::tempdir().unwrap();
    let project = scratch.path();
    copy_dir(&PathBuf::from(CORPUS).join("bundles"), &project.join("bundles"));

    // 1. init + validate: exactly the known packages are rejected.
    let init = catbuild(project, &["init", "bundles"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let config = std::fs::read_to_string(project.join("catalog.toml")).unwrap();
    // Byte for byte what init wrote when it lived in cli/ (issue 12 moved
    // it into a library), but for the catalog name, which is the scratch
    // directory's.
    let golden = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/init/corpus-bundles.toml")).unwrap();
    assert_eq!(with_catalog_name(&config, "corpus"), golden);
    // Template entries without a bundle directory are left out, and said so.
    assert!(config.contains("# Entries left out (no bundle directory found): ecr-secret-operator.v0.6.0, ecr-secret-operator.v0.5.1\n"));
    // The nested bundles of rabbitmq are not in its template, so init
    // leaves them out (commented); gitlab-runner's are listed.
    assert!(config.contains("  # \"bundles/rabbitmq-messaging-topology-operator/1.19.0/bundle\","));
    assert!(config.contains("  \"bundles/gitlab-runner-operator/1.22.0/certification\",  # bundle found under `certification/`"));
    let expected: BTreeSet<&str> = REJECTED_DATA.iter().map(|(name, _, _)| *name).collect();

    // 2. Without the rejected packages, the build succeeds. It runs from a
    //    second config beside the first, at the same time as step 1's
    //    validation (the debug binary needs a few seconds for each).
    std::fs::write(project.join("kept.toml"), without_packages(&config, &expected)).unwrap();
    let build = spawn(project, &["--config", "kept.toml", "build"]);
    let validate = catbuild(project, &["validate"]);
    assert_eq!(validate.status.code(), Some(1), "{}", stderr(&validate));
    let errors = packages_with_errors(&stderr(&validate), &config);
    let rejected: BTreeSet<&str> = errors.keys().map(String::as_str).collect();
    assert_eq!(rejected, expected, "errors: {errors:#?}");
    for (package, says, _) in REJECTED_DATA.iter() {
        for error in &errors[*package] {
            assert!(error.contains(says), "{package}: {error}");
        }
    }

    // ... and its output passes the FBC validation.
    let build = build.wait_with_output().unwrap();
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    let output = project.join("build/default/catalog");
    let check = catbuild(project, &["validate", output.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let n_built = std::fs::read_dir(&output).unwrap().count();
    assert_eq!(n_built, package_tables(&config).len() - expected.len());

    // gitlab-runner-operator: 1.21.0 and 1.22.0 both replace 1.20.0 (a
    // fork), so nothing from the head 1.23.1 reaches 1.21.0. Its ci.yaml
    // says replaces-mode, whose index drops 1.21.0, so init wrote
    // `unreachable = "drop"` and the build leaves it out.
    assert!(config.contains("# gitlab-runner-operator.v1.21.0 (channel stable)\nunreachable = \"drop\"\n"));
    let gitlab = channels_of(
        &graph_blobs(&output.join("gitlab-runner-operator/catalog.json")),
        "gitlab-runner-operator",
    );
    let names: Vec<&str> = gitlab["stable"].iter().map(|entry| entry.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "gitlab-runner-operator.v1.22.0",
            "gitlab-runner-operator.v1.23.0",
            "gitlab-runner-operator.v1.23.1"
        ]
    );

    // pelorus-operator: each CSV replaces and skips its predecessor; opm's
    // replaces mode keeps all four in `alpha` (the skips are no cycle).
    let pelorus = channels_of(&graph_blobs(&output.join("pelorus-operator/catalog.json")), "pelorus-operator");
    let names: Vec<&str> = pelorus["alpha"].iter().map(|entry| entry.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "pelorus-operator.v0.0.1",
            "pelorus-operator.v0.0.2",
            "pelorus-operator.v0.0.3",
            "pelorus-operator.v0.0.4"
        ]
    );

    // 3. Channels of FBC-managed packages against the published catalogs,
    //    in both flavours (the channels are the same in each).
    for (flavour, expected_match, expected_differ) in [
        ("fbc-bundle-object", CHANNELS_MATCH, CHANNELS_DIFFER),
        ("fbc", CHANNELS_MATCH_FBC, CHANNELS_DIFFER_FBC),
    ] {
        let (matching, differing) = compare_with_published(&output, &PathBuf::from(CORPUS).join("expected").join(flavour));
        let expected_differ: Vec<&str> = expected_differ.iter().map(|(name, _)| *name).collect();
        assert_eq!(matching, expected_match, "expected/{flavour}");
        assert_eq!(differing, expected_differ, "expected/{flavour}");
    }
}

/// Packages of `published_root` whose channels and default channel equal
/// those in `output`, and those that differ (or were not built).
fn compare_with_published(output: &Path, published_root: &Path) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(published_root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let (mut matching, mut differing) = (Vec::new(), Vec::new());
    for name in names {
        let same = output.join(&name).is_dir() && {
            let published = graph_blobs(&published_root.join(&name).join("catalog.yaml"));
            let built = graph_blobs(&output.join(&name).join("catalog.json"));
            channels_of(&built, &name) == channels_of(&published, &name)
                && default_channel_of(&built, &name) == default_channel_of(&published, &name)
        };
        if same {
            matching.push(name);
        } else {
            differing.push(name);
        }
    }
    (matching, differing)
}
