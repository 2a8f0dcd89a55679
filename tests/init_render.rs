//! End-to-end tests of the small things people hit with `init` and
//! `render` (issue 13): init's summary counts what it found, init refuses
//! to write a project inside a package-manifest directory and says where
//! to run instead, and `render` of a bundle with `.j2` files uses the
//! project's `[vars]` or says that `build` renders it.

mod common;

use common::{catbuild, copy_dir, stderr};

use std::path::{Path, PathBuf};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn init_summary_counts_packages_bundles_package_manifests_and_templates() {
    let project = tempfile::tempdir().unwrap();
    let root = project.path();
    for package in [
        "kube-green",
        "rabbitmq-messaging-topology-operator",
        "jupyter-notebook-validator-operator",
    ] {
        copy_dir(
            &Path::new(CORPUS).join("bundles").join(package),
            &root.join("bundles").join(package),
        );
    }
    copy_dir(&Path::new(CORPUS).join("package-manifests/etcd"), &root.join("pm/etcd"));
    // An FBC-managed package whose ci.yaml maps no template, and a bundle
    // directory whose metadata names no package.
    write(&root.join("ops/foo/ci.yaml"), "fbc:\n  enabled: true\n");
    write(
        &root.join("ops/foo/0.1.0/manifests/foo.clusterserviceversion.yaml"),
        "kind: ClusterServiceVersion\nmetadata:\n  name: foo.v0.1.0\n",
    );
    write(
        &root.join("ops/foo/0.1.0/metadata/annotations.yaml"),
        "annotations:\n  operators.operatorframework.io.bundle.package.v1: foo\n",
    );
    write(&root.join("ops/unnamed/metadata/annotations.yaml"), "annotations: {}\n");
    std::fs::create_dir_all(root.join("ops/unnamed/manifests")).unwrap();

    let output = catbuild(root, &["init", "bundles", "pm", "ops"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "Wrote `catalog.toml`: 5 packages from 29 bundle directories (3 left out: not in their catalog template) \
         and 1 package-manifest directory; adopted 2 catalog templates, 1 catalog template not adopted (see the comments)\n\
         warning: skipped `ops/unnamed`: no package annotation in metadata/\n\
         warning: `bundles/jupyter-notebook-validator-operator/1.0.7`: no `manifests/` directory; \
         catbuild will report this bundle until its manifests are moved there\n"
    );
    let written = std::fs::read_to_string(root.join("catalog.toml")).unwrap();
    assert!(
        written.contains(
            "[[package]]\nname = \"foo\"\nbundles = [\n  \"ops/foo/0.1.0\",\n]\n\
             # ops/foo/ci.yaml has `fbc.enabled: true`, but its template was not adopted:\n\
             # ci.yaml has `fbc.enabled: true` but no `fbc.catalog_mapping` list\n\
             channel-policy = \"replaces\"\n"
        ),
        "{written}"
    );

    // Only package manifests: the count no longer says "0 bundle directories".
    std::fs::remove_file(root.join("catalog.toml")).unwrap();
    let output = catbuild(root, &["init", "pm"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "Wrote `catalog.toml`: 1 package from 1 package-manifest directory\n"
    );
}

#[test]
fn init_inside_a_package_manifest_directory_refuses_and_says_where_to_run() {
    let scratch = tempfile::tempdir().unwrap();
    let package_dir = scratch.path().join("etcd");
    copy_dir(&Path::new(CORPUS).join("package-manifests/etcd"), &package_dir);

    // catalog.toml (and build/) inside the package would be read as part of
    // it by opm's loader, so the project could never build.
    let output = catbuild(&package_dir, &["init"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "error: `catalog.toml` cannot go inside the package-manifest directory of package `etcd`: \
         every file there is read as part of the package\n\
         hint: run `catbuild init etcd` in `..`, so that `catalog.toml` and `build/` sit beside the package\n"
    );
    assert!(!package_dir.join("catalog.toml").exists());

    // What the hint says works: the project beside the package builds.
    let output = catbuild(scratch.path(), &["init", "etcd"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "Wrote `catalog.toml`: 1 package from 1 package-manifest directory\n"
    );
    let built = catbuild(scratch.path(), &["build"]);
    assert_eq!(built.status.code(), Some(0), "{}", stderr(&built));
    assert!(stderr(&built).contains(": target default (6 bundles) in "), "{}", stderr(&built));

    // So does `--config ../catalog.toml` from inside: the path is the
    // package directory's name, not `..`.
    std::fs::remove_file(scratch.path().join("catalog.toml")).unwrap();
    let output = catbuild(&package_dir, &["init", "--config", "../catalog.toml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written = std::fs::read_to_string(scratch.path().join("catalog.toml")).unwrap();
    assert!(
        written.contains("[[package]]\nname = \"etcd\"\npackage-manifests = [\"etcd\"]\n"),
        "{written}"
    );
    let built = catbuild(scratch.path(), &["build"]);
    assert_eq!(built.status.code(), Some(0), "{}", stderr(&built));
}

/// A copy of the example project's bundles, with or without its
/// `catalog.toml`.
fn example(with_config: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("manifests"), &dir.path().join("manifests"));
    if with_config {
        std::fs::copy(repo().join("catalog.toml"), dir.path().join("catalog.toml")).unwrap();
    }
    dir
}

const TEMPLATED_BUNDLE: &str = "manifests/fruits-catalog-operator/0.0.3";

#[test]
fn render_of_a_templated_bundle_in_a_project_uses_its_vars() {
    let project = example(true);
    let output = catbuild(project.path(), &["render", TEMPLATED_BUNDLE, "-o", "yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    // `{{ registry }}` in the CSV became the project's `registry`.
    assert!(
        text.contains("relatedImages:\n- image: quay.io/example/fruits-catalog-operator:v0.0.3\n  name: operator\n"),
        "{text}"
    );
    assert!(text.contains("name: fruits-catalog-operator.v0.0.3\n"), "{text}");

    // The same from elsewhere with --config.
    let elsewhere = tempfile::tempdir().unwrap();
    let bundle = project.path().join(TEMPLATED_BUNDLE);
    let config = project.path().join("catalog.toml");
    let output = catbuild(
        elsewhere.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "render",
            bundle.to_str().unwrap(),
            "-o",
            "yaml",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), text);

    // A variable the project does not define is reported at its line.
    let without_var = std::fs::read_to_string(&config)
        .unwrap()
        .replace("registry = \"quay.io/example\"", "")
        // The deployment objects need a catalog image; give one without the variable.
        .replace(
            "image = \"{{ registry }}/fruits-catalog:{{ target.name }}\"",
            "image = \"quay.io/example/fruits-catalog:{{ target.name }}\"",
        );
    std::fs::write(&config, without_var).unwrap();
    let output = catbuild(project.path(), &["render", TEMPLATED_BUNDLE]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).starts_with(
            "error[template]: undefined template variable\n --> manifests/fruits-catalog-operator/0.0.3/manifests/fruits-catalog-operator.clusterserviceversion.yaml.j2:9:24\n"
        ),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn render_of_a_templated_bundle_outside_a_project_says_build_renders_it() {
    let bare = example(false);
    let output = catbuild(bare.path(), &["render", TEMPLATED_BUNDLE]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "error: render reference \"manifests/fruits-catalog-operator/0.0.3\": the bundle has templated files \
         (`manifests/fruits-catalog-operator.clusterserviceversion.yaml.j2`), which `catbuild build` renders with the \
         `[vars]` of `catalog.toml`\n\
         hint: run `catbuild render` in the project's directory, or pass `--config PATH`, to render them with its `[vars]`\n"
    );
    assert!(stdout(&output).is_empty());

    // Bundles without templates render as before, project or not.
    let plain = catbuild(bare.path(), &["render", "manifests/fruits-catalog-operator/0.0.2", "-o", "yaml"]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
}

#[test]
fn render_of_a_templated_bundle_refuses_the_image_ref_template() {
    let project = example(true);
    let output = catbuild(
        project.path(),
        &["render", TEMPLATED_BUNDLE, "--alpha-image-ref-template", "quay.io/x/{{.Name}}"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "error: render reference \"manifests/fruits-catalog-operator/0.0.3\": `--alpha-image-ref-template` does not apply \
         to a bundle with templated files; `bundle-image` in `catalog.toml` names its image when `catbuild build` renders it\n"
    );
}

/// Issue 13: `--config DIR` means `DIR/catalog.toml` for `init` too: it
/// writes the file there (paths in it relative to `DIR`), and the project
/// then builds from anywhere with the same flag.
#[test]
fn init_with_config_dir_writes_catalog_toml_in_that_directory() {
    let scratch = tempfile::tempdir().unwrap();
    let project = scratch.path().join("project");
    copy_dir(&Path::new(CORPUS).join("package-manifests/etcd"), &project.join("etcd"));
    let output = catbuild(scratch.path(), &["init", "--config", "project", "project/etcd"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).starts_with("Wrote `project/catalog.toml`: "), "{}", stderr(&output));
    assert!(project.join("catalog.toml").is_file());
    assert!(!scratch.path().join("catalog.toml").exists());
    let built = catbuild(scratch.path(), &["--config", "project", "build", "-q"]);
    assert_eq!(built.status.code(), Some(0), "{}", stderr(&built));
    assert!(project.join("build").is_dir());
}
