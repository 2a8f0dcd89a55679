//! Deployment YAML (issue 17) end to end: the example's objects against
//! golden files, a catalog.toml with every deploy option, and override
//! templates that are wrong. Every generated document is checked with
//! `../shared/tools/validate-k8s` (strict, the real CRD and Kubernetes
//! schemas); a missing tool fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{catbuild, copy_dir, example_project, repo, stderr, tree};

fn validate_k8s(paths: &[PathBuf]) {
    let tool = repo().join("../shared/tools/validate-k8s");
    let output = Command::new(&tool)
        .args(paths)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", tool.display()));
    assert!(
        output.status.success(),
        "validate-k8s found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("valid"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn validate_k8s_stdin(text: &[u8]) {
    use std::io::Write as _;
    let tool = repo().join("../shared/tools/validate-k8s");
    let mut child = Command::new(&tool)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", tool.display()));
    child.stdin.take().unwrap().write_all(text).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "validate-k8s -: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// Files under `<build>/<target>/deploy`, relative to `build`.
fn deploy_files(build: &Path) -> Vec<(String, Vec<u8>)> {
    tree(build).into_iter().filter(|(path, _)| path.contains("/deploy/")).collect()
}

#[test]
fn example_deploy_yaml_matches_its_golden_files_and_the_schemas() {
    let project = example_project();
    let output = catbuild(project.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let build = project.path().join("build");
    let golden_dir = repo().join("tests/data/deploy/example");
    let files = deploy_files(&build);
    assert_eq!(files.len(), 11, "{:?}", files.iter().map(|(path, _)| path).collect::<Vec<_>>());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&golden_dir);
        for (path, bytes) in &files {
            let target = golden_dir.join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, bytes).unwrap();
        }
    }
    let golden = tree(&golden_dir);
    let got: std::collections::BTreeMap<String, Vec<u8>> = files.into_iter().collect();
    for (path, bytes) in &got {
        let expected = golden.get(path).unwrap_or_else(|| panic!("no golden file for {path}"));
        assert_eq!(String::from_utf8_lossy(bytes), String::from_utf8_lossy(expected), "{path}");
    }
    assert_eq!(golden.len(), got.len(), "golden files without output");
    validate_k8s(&[build.join("ocp-4.16/deploy"), build.join("ocp-4.17/deploy")]);
    // The goldens themselves, so a hand edit cannot slip past the schemas.
    validate_k8s(&[golden_dir]);

    // `catbuild deploy` prints the same objects for `kubectl apply -f -`.
    let printed = catbuild(project.path(), &["deploy", "--target", "ocp-4.16"]);
    assert!(printed.status.success(), "{}", stderr(&printed));
    let text = String::from_utf8_lossy(&printed.stdout);
    assert!(text.starts_with("# Source: ocp-4.16/deploy/namespace.yaml\n"), "{text}");
    assert!(text.contains("kind: Subscription"), "{text}");
    assert!(!text.contains("Kustomization"), "{text}");
    validate_k8s_stdin(&printed.stdout);
}

fn all_options_build() -> (tempfile::TempDir, PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let config = repo().join("tests/data/deploy/all-options");
    let output = catbuild(
        &repo(),
        &["--config", config.to_str().unwrap(), "build", "--out", out.path().to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let path = out.path().to_path_buf();
    (out, path)
}

#[test]
fn every_deploy_option_gives_objects_the_schemas_accept() {
    let (_out, build) = all_options_build();
    let files: Vec<String> = deploy_files(&build).into_iter().map(|(path, _)| path).collect();
    for expected in [
        "v0/deploy/operatorsource.yaml",
        "v0/deploy/imagedigestmirrorset.yaml",
        "v0/deploy/imagecontentsourcepolicy.yaml",
        "v0/deploy/operatorgroup-fruits.yaml",
        "v1-pinned/deploy/rbac-fruits-catalog-operator.yaml",
        "both/deploy/v0/catalogsource.yaml",
        "both/deploy/v1/clustercatalog.yaml",
        "both/deploy/v1/kustomization.yaml",
    ] {
        assert!(files.iter().any(|file| file == expected), "no {expected} in {files:?}");
    }
    validate_k8s(&[build.join("v0/deploy"), build.join("v1-pinned/deploy"), build.join("both/deploy")]);

    let read = |path: &str| std::fs::read_to_string(build.join(path)).unwrap();
    let document = |path: &str| {
        catbuild::encoding::yaml_in::decode_stream(&read(path))
            .into_iter()
            .next()
            .unwrap()
            .unwrap()
            .value
    };
    // A publisher full of YAML syntax comes back exactly.
    let source = document("v0/deploy/catalogsource.yaml");
    assert_eq!(source.pointer(&["spec", "publisher"]).unwrap().as_str(), Some("Team: \"A\" #1"));
    assert_eq!(source.pointer(&["spec", "description"]).unwrap().as_str(), Some("yes"));
    assert_eq!(
        source
            .pointer(&["spec", "grpcPodConfig", "extractContent", "catalogDir"])
            .unwrap()
            .as_str(),
        Some("/configs")
    );
    // A digest never changes, so the ClusterCatalog does not poll it.
    let catalog = document("v1-pinned/deploy/clustercatalog.yaml");
    assert!(
        catalog
            .pointer(&["spec", "source", "image", "ref"])
            .unwrap()
            .as_str()
            .unwrap()
            .contains("@sha256:"),
        "{}",
        read("v1-pinned/deploy/clustercatalog.yaml")
    );
    assert!(catalog.pointer(&["spec", "source", "image", "pollIntervalMinutes"]).is_none());
    let polled = document("both/deploy/v1/clustercatalog.yaml");
    assert_eq!(
        polled
            .pointer(&["spec", "source", "image", "pollIntervalMinutes"])
            .map(|value| catbuild::encoding::json::to_compact(value, false)),
        Some("10".to_string())
    );
    // The override template was used, with the target's values.
    assert!(read("v0/deploy/namespace.yaml").contains("example.com/team: \"fruits\""));
    // OpenShift's global operator namespace has its OperatorGroup already.
    assert!(
        !files.iter().any(|file| file.starts_with("both/deploy/v0/operatorgroup")),
        "{files:?}"
    );
}

/// The example with `deploy-templates` holding `template` as `name`.
fn project_with_override(name: &str, template: &str) -> tempfile::TempDir {
    let project = example_project();
    let config = project.path().join("catalog.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("[catalog]\n", "[catalog]\ndeploy-templates = \"deploy-templates\"\n", 1),
    )
    .unwrap();
    std::fs::create_dir_all(project.path().join("deploy-templates")).unwrap();
    std::fs::write(project.path().join("deploy-templates").join(name), template).unwrap();
    project
}

/// Builds the example first without the override, then with it: the
/// second must fail with exit 1 and leave the first build as it was.
fn failing_override(name: &str, template: &str) -> String {
    let project = example_project();
    assert!(catbuild(project.path(), &[]).status.success());
    let before = tree(&project.path().join("build"));
    let broken = project_with_override(name, template);
    copy_dir(&project.path().join("build"), &broken.path().join("build"));
    let output = catbuild(broken.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(tree(&broken.path().join("build")), before, "a failed build changed build/");
    let printed = catbuild(broken.path(), &["deploy"]);
    assert_eq!(printed.status.code(), Some(1), "{}", stderr(&printed));
    assert!(printed.stdout.is_empty());
    stderr(&output)
}

#[test]
fn undefined_variable_in_a_template_names_its_file_and_line() {
    let template =
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ namespace.name | yaml }}\n  labels: {{ deploy.values.team | yaml }}\n";
    let stderr = failing_override("namespace.yaml.j2", template);
    assert!(
        stderr.contains("deploy template `namespace.yaml.j2` does not render: undefined value"),
        "{stderr}"
    );
    assert!(stderr.contains("deploy-templates/namespace.yaml.j2:5:"), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
}

#[test]
fn override_rendering_invalid_yaml_names_the_template() {
    let template = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [{{ namespace.name | yaml }}\n";
    let stderr = failing_override("namespace.yaml.j2", template);
    assert!(
        stderr.contains("deploy template `namespace.yaml.j2` renders invalid YAML"),
        "{stderr}"
    );
    assert!(stderr.contains("deploy-templates/namespace.yaml.j2"), "{stderr}");
}

#[test]
fn override_object_failing_its_schema_names_template_and_object() {
    let template = "apiVersion: operators.coreos.com/v1alpha1\nkind: CatalogSource\nmetadata:\n  name: {{ catalog.name | yaml }}\n  namespace: openshift-marketplace\nspec:\n  image: {{ image.ref | yaml }}\nstatus: {}\n";
    let stderr = failing_override("catalogsource.yaml.j2", template);
    assert!(
        stderr
            .contains("deploy template `catalogsource.yaml.j2` renders CatalogSource `fruits-catalog-operators` without `spec.sourceType`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("renders CatalogSource `fruits-catalog-operators` with unknown field `status`"),
        "{stderr}"
    );
}

#[test]
fn an_override_that_overrides_nothing_is_an_error() {
    let project = project_with_override("catalogsorce.yaml.j2", "x: 1\n");
    let output = catbuild(project.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("`catalogsorce.yaml.j2` overrides no built-in deploy template"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("did you mean `catalogsource.yaml.j2`?"),
        "{}",
        stderr(&output)
    );
    assert!(!project.path().join("build").exists());
}

#[test]
fn install_of_an_unknown_channel_is_an_error_at_its_key() {
    let project = example_project();
    let config = project.path().join("catalog.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\nchannel = \"stable\"", "\nchannel = \"stabel\"")).unwrap();
    let output = catbuild(project.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("package `fruits-catalog-operator` has no channel `stabel`"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("catalog.toml:"), "{}", stderr(&output));
    assert!(stderr(&output).contains("did you mean `stable`?"), "{}", stderr(&output));
    // Both targets (v0 Subscription and v1 ClusterExtension) name it: one report each.
    assert_eq!(stderr(&output).matches("has no channel `stabel`").count(), 2, "{}", stderr(&output));
}

#[test]
fn templates_list_and_show_the_built_ins() {
    let listed = catbuild(&repo(), &["templates", "list"]);
    assert!(listed.status.success());
    let names = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(names.lines().any(|name| name == "catalogsource.yaml.j2"), "{names}");
    assert_eq!(names.lines().count(), 12);
    for name in names.lines() {
        let shown = catbuild(&repo(), &["templates", "show", name]);
        assert!(shown.status.success());
        assert_eq!(shown.stdout, std::fs::read(repo().join("templates").join(name)).unwrap(), "{name}");
    }
    let missing = catbuild(&repo(), &["templates", "show", "catalogsorce"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("did you mean `catalogsource.yaml.j2`?"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn dockerfile_commands_print_what_opm_writes() {
    let case = repo().join("../shared/conformance/dockerfiles");
    let catalog = catbuild(
        &repo(),
        &["dockerfile", "catalog", "bar", "--base-image", "scratch", "--builder-image", "foo"],
    );
    assert!(catalog.status.success(), "{}", stderr(&catalog));
    assert_eq!(
        catalog.stdout,
        std::fs::read(case.join("generate-scratch-success-withoutextralabels/expected/index.Dockerfile")).unwrap()
    );
    let unset = catbuild(&repo(), &["dockerfile", "catalog", "bar", "--base-image", ""]);
    assert_eq!(unset.status.code(), Some(1));
    assert!(stderr(&unset).contains("base image is unset"), "{}", stderr(&unset));
    let index = catbuild(&repo(), &["dockerfile", "index", "--database", "database/index.db"]);
    assert_eq!(
        index.stdout,
        std::fs::read(case.join("index-dockerfile-sqlite-default-image/expected/index.Dockerfile")).unwrap()
    );
    let bundle = catbuild(&repo(), &["dockerfile", "bundle", "manifests/fruits-catalog-operator/0.0.1"]);
    assert!(bundle.status.success(), "{}", stderr(&bundle));
    let text = String::from_utf8_lossy(&bundle.stdout);
    assert!(
        text.starts_with("FROM scratch\n\nLABEL operators.operatorframework.io.bundle.mediatype.v1=registry+v1\n"),
        "{text}"
    );
    assert!(text.ends_with("COPY manifests/fruits-catalog-operator/0.0.1/manifests /manifests/\nCOPY manifests/fruits-catalog-operator/0.0.1/metadata /metadata/\n"), "{text}");
}
