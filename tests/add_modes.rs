//! opm's registry-add modes as channel policies, end to end with the real
//! binary: the `package-manifest-and-sqlite/add-*` conformance cases built
//! with the matching `channel-policy`, their channels and default channel
//! compared with what `opm render index.db` printed for opm's index
//! (`expected/render.yaml`), and `init` reading community-operators
//! `ci.yaml` files (`tests/data/init/community-ci`), and `unreachable = "drop"`
//! leaving out what opm's replaces mode leaves out.

mod common;

use common::{catbuild, copy_dir, stderr};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use catbuild::encoding::json::Value;
use catbuild::encoding::yaml_in;

const ADD_CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance/package-manifest-and-sqlite");

/// An entry's edges: (replaces, skips sorted, skipRange).
type Edges = (String, Vec<String>, String);

/// A channel as compared here: entry name → its edges.
type Entries = BTreeMap<String, Edges>;

/// Per package: default channel and channels.
type Graphs = BTreeMap<String, (String, BTreeMap<String, Entries>)>;

fn documents(text: &str) -> Vec<Value> {
    yaml_in::decode_stream(text)
        .into_iter()
        .map(|document| document.expect("decodes").value)
        .collect()
}

fn text_of(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// The package and channel blobs of an FBC stream.
fn graphs(blobs: &[Value]) -> Graphs {
    let mut graphs = Graphs::new();
    for blob in blobs {
        match text_of(blob, "schema").as_str() {
            "olm.package" => graphs.entry(text_of(blob, "name")).or_default().0 = text_of(blob, "defaultChannel"),
            "olm.channel" => {
                let mut entries = Entries::new();
                for entry in blob.get("entries").and_then(Value::as_array).unwrap_or_default() {
                    let mut skips: Vec<String> = entry
                        .get("skips")
                        .and_then(Value::as_array)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|skip| skip.as_str().map(str::to_string))
                        .collect();
                    // The index keeps no skip order (spec D.7: group_concat).
                    skips.sort();
                    entries.insert(
                        text_of(entry, "name"),
                        (text_of(entry, "replaces"), skips, text_of(entry, "skipRange")),
                    );
                }
                graphs
                    .entry(text_of(blob, "package"))
                    .or_default()
                    .1
                    .insert(text_of(blob, "name"), entries);
            }
            _ => {}
        }
    }
    graphs
}

/// `(mode, bundle dirs relative to the case)` of an add case, in add order.
fn add_case_params(case_dir: &Path) -> (String, Vec<String>) {
    let case: toml::Table = toml::from_str(&std::fs::read_to_string(case_dir.join("case.toml")).unwrap()).unwrap();
    let params: toml::Table = toml::from_str(&std::fs::read_to_string(case_dir.join("input/params.toml")).unwrap()).unwrap();
    let images = case["images"].as_table().unwrap();
    let bundles = params["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|image| images[image.as_str().unwrap()].as_str().unwrap().to_string())
        .collect();
    (params["mode"].as_str().unwrap().to_string(), bundles)
}

/// opm's `--mode` as a `channel-policy`.
fn policy_of_mode(mode: &str) -> &'static str {
    match mode {
        "replaces" => "replaces",
        "semver" => "semver-mode",
        "semver-skippatch" => "semver-skippatch-mode",
        other => panic!("unknown add mode {other}"),
    }
}

/// Copies the case's bundles into a project with one `[[package]]` per
/// package (bundle dirs are named `<package>-bundle-v<version>`) and builds.
fn build_add_case(case_dir: &Path, project: &Path) -> std::process::Output {
    let (mode, bundles) = add_case_params(case_dir);
    let mut packages: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for bundle in &bundles {
        let dir_name = Path::new(bundle).file_name().unwrap().to_string_lossy().into_owned();
        let package = dir_name.split("-bundle-").next().unwrap().to_string();
        copy_dir(&case_dir.join(bundle), &project.join("bundles").join(&dir_name));
        packages.entry(package).or_default().push(format!("bundles/{dir_name}"));
    }
    let mut config = "[catalog]\nname = \"add-case\"\n".to_string();
    for (package, dirs) in &packages {
        let listed: Vec<String> = dirs.iter().map(|dir| format!("\"{dir}\"")).collect();
        config.push_str(&format!(
            "\n[[package]]\nname = \"{package}\"\nchannel-policy = \"{}\"\nbundles = [{}]\n",
            policy_of_mode(&mode),
            listed.join(", ")
        ));
    }
    std::fs::write(project.join("catalog.toml"), config).unwrap();
    catbuild(project, &["build"])
}

fn built_graphs(project: &Path) -> Graphs {
    let catalog = project.join("build/default/catalog");
    let mut blobs = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&catalog).unwrap().map(|entry| entry.unwrap().path()).collect();
    dirs.sort();
    for dir in dirs {
        blobs.extend(documents(&std::fs::read_to_string(dir.join("catalog.json")).unwrap()));
    }
    graphs(&blobs)
}

#[test]
fn registry_add_cases_build_the_channels_opm_indexed() {
    let mut case_dirs: Vec<PathBuf> = std::fs::read_dir(ADD_CASES)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().starts_with("add-"))
        .collect();
    case_dirs.sort();
    let mut n_passed = 0;
    let mut failures = Vec::new();
    for case_dir in &case_dirs {
        let case_name = case_dir.file_name().unwrap().to_string_lossy().into_owned();
        let scratch = tempfile::tempdir().unwrap();
        let build = build_add_case(case_dir, scratch.path());
        let render = case_dir.join("expected/render.yaml");
        if render.is_file() {
            if build.status.code() != Some(0) {
                failures.push(format!("{case_name}: build failed: {}", stderr(&build)));
                continue;
            }
            let expected = graphs(&documents(&std::fs::read_to_string(&render).unwrap()));
            let mut built = built_graphs(scratch.path());
            if case_name == "add-foo-replaces" {
                // Known difference of the replaces policy, kept on purpose:
                // 0.3.1 skips 0.3.0, so opm's index has 0.3.0 only as a
                // synthetic row (spec D.5) and loses its `replaces` on the
                // way to FBC (D.7); catbuild keeps the CSV's edge.
                let entry = built
                    .get_mut("foo")
                    .and_then(|(_, channels)| channels.get_mut("beta"))
                    .and_then(|entries| entries.get_mut("foo.v0.3.0"))
                    .expect("foo.v0.3.0 in beta");
                assert_eq!(entry.0, "foo.v0.2.0");
                entry.0.clear();
            }
            if built != expected {
                failures.push(format!("{case_name}:\n built    {built:?}\n expected {expected:?}"));
                continue;
            }
        } else {
            // opm refused the add (`exit = 1`): the build must fail too,
            // naming the bundle opm's error names.
            let case: toml::Table = toml::from_str(&std::fs::read_to_string(case_dir.join("case.toml")).unwrap()).unwrap();
            assert_eq!(case["exit"].as_integer(), Some(1), "{case_name}");
            let opm_error = case["stderr_contains"].as_array().unwrap()[0].as_str().unwrap();
            let pruned = opm_error
                .strip_prefix("add prunes bundle ")
                .and_then(|rest| rest.split(' ').next())
                .expect("opm's prune error names the bundle");
            let text = stderr(&build);
            if build.status.code() != Some(1) || !text.contains(&format!("bundle `{pruned}` lists channel `stable` but is not reachable")) {
                failures.push(format!(
                    "{case_name}: expected a failed build about {pruned}, got {:?}: {text}",
                    build.status.code()
                ));
                continue;
            }
        }
        n_passed += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every add case of the suite ran: 7 at the time of writing.
    assert_eq!(n_passed, case_dirs.len());
    assert!(n_passed >= 7, "{n_passed}");
}

#[test]
fn init_reads_community_ci_yaml_as_yaml_and_builds_with_the_add_modes() {
    let scratch = tempfile::tempdir().unwrap();
    let project = scratch.path();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/init/community-ci"), project);
    let init = catbuild(project, &["init", "operators"]);
    assert!(init.status.success(), "{}", stderr(&init));
    assert!(
        stderr(&init).contains(
            "warning: `operators/gamma-operator/ci.yaml`: unknown `updateGraph: semvermode`, using `channel-policy = \"replaces\"` (known: `replaces-mode`, `semver-mode`, `semver-skippatch-mode`)\n"
        ),
        "{}",
        stderr(&init)
    );
    let config = std::fs::read_to_string(project.join("catalog.toml")).unwrap();
    // A comment block and blank lines before `---` (alpha, beta) no longer
    // hide `updateGraph`.
    for line in [
        "channel-policy = \"semver-mode\"  # from operators/alpha-operator/ci.yaml\n",
        "channel-policy = \"semver-skippatch-mode\"  # from operators/beta-operator/ci.yaml\n",
    ] {
        assert!(config.contains(line), "{line}in\n{config}");
    }
    let build = catbuild(project, &["build"]);
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    let built = built_graphs(project);

    let entry = |replaces: &str, skips: &[&str]| {
        (
            replaces.to_string(),
            skips.iter().map(|skip| (*skip).to_string()).collect(),
            String::new(),
        )
    };
    let entries = |list: &[(&str, Edges)]| -> Entries { list.iter().map(|(name, edges)| ((*name).to_string(), edges.clone())).collect() };
    // Spec D.6, semver mode: each annotated channel in version order, the
    // CSVs' `replaces` (0.2.1 says 0.1.0) not read. The newest bundle names
    // no default channel, so the newest one that does decides (`stable`).
    let alpha = &built["alpha-operator"];
    assert_eq!(alpha.0, "stable");
    assert_eq!(
        alpha.1["alpha"],
        entries(&[
            ("alpha-operator.v0.1.0", entry("", &[])),
            ("alpha-operator.v0.2.0", entry("alpha-operator.v0.1.0", &[])),
            ("alpha-operator.v0.2.1", entry("alpha-operator.v0.2.0", &[])),
        ])
    );
    assert_eq!(
        alpha.1["stable"],
        entries(&[
            ("alpha-operator.v0.2.0", entry("", &[])),
            ("alpha-operator.v0.2.1", entry("alpha-operator.v0.2.0", &[])),
        ])
    );
    // Spec D.6, semver-skippatch: the newest patch replaces (as skips, in
    // the index's synthetic rows) every older patch of its minor.
    let beta = &built["beta-operator"];
    assert_eq!(beta.0, "stable");
    assert_eq!(
        beta.1["stable"],
        entries(&[
            ("beta-operator.v1.0.0", entry("", &[])),
            ("beta-operator.v1.0.1", entry("", &[])),
            ("beta-operator.v1.0.2", entry("", &["beta-operator.v1.0.0", "beta-operator.v1.0.1"])),
        ])
    );
    // The unknown mode falls back to replaces: the CSV's edge.
    assert_eq!(
        built["gamma-operator"].1["stable"],
        entries(&[
            ("gamma-operator.v1.0.0", entry("", &[])),
            ("gamma-operator.v1.1.0", entry("gamma-operator.v1.0.0", &[])),
        ])
    );
}

#[test]
fn unreachable_drop_leaves_bundles_out_as_opm_replaces_mode_does() {
    // tests/data/bundles/stranded: 0.2.0 and 0.3.0 both replace 0.1.0, so
    // the head 0.3.0 never reaches 0.2.0. opm's replaces mode (spec D.4:
    // a channel holds what its head's chain reaches) publishes 0.1.0 and
    // 0.3.0 only; catbuild does the same with `unreachable = "drop"`.
    let scratch = tempfile::tempdir().unwrap();
    let project = scratch.path();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bundles/stranded"),
        &project.join("bundles"),
    );
    std::fs::write(
        project.join("catalog.toml"),
        "[catalog]\nname = \"tiny-catalog\"\n\n[[package]]\nname = \"tiny\"\nbundles = [\"bundles/*\"]\nunreachable = \"drop\"\n",
    )
    .unwrap();
    let build = catbuild(project, &["build"]);
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    assert!(
        stderr(&build).contains(
            "warning[graph]: dropped bundle `tiny.v0.2.0` from channel `stable`: the channel head `tiny.v0.3.0` does not reach it through `replaces` or `skips`\n  --> bundles/0.2.0/metadata/annotations.yaml\n"
        ),
        "{}",
        stderr(&build)
    );
    assert!(
        stderr(&build).contains("note: `tiny.v0.2.0` is in no other channel, so the catalog leaves it out\n"),
        "{}",
        stderr(&build)
    );
    let built = built_graphs(project);
    let stable: Vec<(&str, &str)> = built["tiny"].1["stable"]
        .iter()
        .map(|(name, (replaces, _, _))| (name.as_str(), replaces.as_str()))
        .collect();
    assert_eq!(stable, [("tiny.v0.1.0", ""), ("tiny.v0.3.0", "tiny.v0.1.0")]);
    let blobs = documents(&std::fs::read_to_string(project.join("build/default/catalog/tiny/catalog.json")).unwrap());
    let bundles: Vec<String> = blobs
        .iter()
        .filter(|blob| text_of(blob, "schema") == "olm.bundle")
        .map(|blob| text_of(blob, "name"))
        .collect();
    assert_eq!(bundles, ["tiny.v0.1.0", "tiny.v0.3.0"]);
}

/// Issue 23: in community-operators-prod, fqdn-egress-operator,
/// github-arc-operator, istio-workspace-operator and reportportal-operator
/// have no ci.yaml. The community pipeline builds such a package in its
/// default mode, replaces-mode, whose index leaves out what no channel
/// head reaches; init wrote a plain `replaces` policy for them, so the
/// build refused graphs upstream publishes. Outside a community tree
/// nothing changes.
#[test]
fn issue_23_a_community_package_without_ci_yaml_is_built_in_replaces_mode_dropping_unreachable_bundles() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let scratch = tempfile::tempdir().unwrap();
    let project = scratch.path();
    // tiny: 0.2.0 and 0.3.0 both replace 0.1.0, so the head 0.3.0 never
    // reaches 0.2.0; no ci.yaml. alpha-operator beside it has one.
    copy_dir(&data.join("bundles/stranded"), &project.join("operators/tiny"));
    copy_dir(
        &data.join("init/community-ci/operators/alpha-operator"),
        &project.join("operators/alpha-operator"),
    );
    let init = catbuild(project, &["init", "operators"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let config = std::fs::read_to_string(project.join("catalog.toml")).unwrap();
    let expected = "[[package]]\nname = \"tiny\"\nbundles = [\"operators/tiny/*\"]\n\
        channel-policy = \"replaces\"  # no `updateGraph` in a ci.yaml: the community pipeline's default, replaces-mode\n\
        # opm's replaces mode, which builds this package upstream, leaves out what no channel head reaches:\n\
        # tiny.v0.2.0 (channel stable)\n\
        unreachable = \"drop\"\n";
    assert!(config.contains(expected), "{config}");
    let build = catbuild(project, &["build"]);
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    assert!(
        stderr(&build).contains("warning[graph]: dropped bundle `tiny.v0.2.0` from channel `stable`"),
        "{}",
        stderr(&build)
    );

    // The same package alone is no community tree: opm's replaces policy
    // and catbuild's error for what the head does not reach.
    let alone = tempfile::tempdir().unwrap();
    copy_dir(&data.join("bundles/stranded"), &alone.path().join("operators/tiny"));
    let init = catbuild(alone.path(), &["init", "operators"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let config = std::fs::read_to_string(alone.path().join("catalog.toml")).unwrap();
    assert!(config.contains("channel-policy = \"replaces\"\n"), "{config}");
    assert!(!config.contains("unreachable"), "{config}");
    assert_eq!(catbuild(alone.path(), &["build"]).status.code(), Some(1));
}
