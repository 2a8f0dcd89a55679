//! `catbuild build --push` against a real registry (Debian's
//! docker-registry, started by `../shared/tools/registry` on 127.0.0.1):
//! plain, with htpasswd basic auth, with TLS from a throwaway CA, and
//! through a proxy that drops a connection mid-upload. What arrives is
//! checked by `../shared/tools/verify-image` (skopeo, umoci, OCI schemas).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::Ordering;

use common::registry::Registry;
use common::{example_project, repo};

/// The example project with images on, and a HOME of its own so no
/// credentials of the machine leak in.
fn project(extra: &str) -> tempfile::TempDir {
    let dir = example_project();
    let path = dir.path().join("catalog.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[images]\nbuild = true\n");
    text.push_str(extra);
    std::fs::write(path, text).unwrap();
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    dir
}

fn catbuild(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_catbuild"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HOME", dir.join("home"))
        .env_remove("DOCKER_CONFIG")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("CATBUILD_REGISTRY_USERNAME")
        .env_remove("CATBUILD_REGISTRY_PASSWORD");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("catbuild runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn verify(args: &[&str], reference: &str) -> serde_json::Value {
    let output = Command::new(repo().join("../shared/tools/verify-image"))
        .args(args)
        .arg(reference)
        .env("CI", "true")
        .output()
        .expect("verify-image runs");
    assert!(output.status.success(), "verify-image {reference}: {}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The digest the layout in `build/<target>/oci` has under `tag`.
fn layout_digest(dir: &Path, target: &str, tag: &str) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("build/{target}/oci/index.json"))).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn push_to_a_plain_registry_then_push_again_uploads_nothing() {
    let registry = Registry::start(&[]);
    let project = project("");
    let prefix = format!("{}/test", registry.host());
    let output = catbuild(project.path(), &["build", "--push", "--registry", &prefix], &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("Pushed 5 images (0 already there): 10 blobs uploaded"),
        "{}",
        text(&output)
    );

    let catalog = verify(&["--tls-verify=false"], &format!("{prefix}/fruits-catalog:ocp-4.16"));
    assert_eq!(
        catalog["digest"].as_str().unwrap(),
        layout_digest(project.path(), "ocp-4.16", "catalog-fbc-json")
    );
    assert_eq!(catalog["labels"]["operators.operatorframework.io.index.configs.v1"], "/configs");
    let bundle = verify(&["--tls-verify=false"], &format!("{prefix}/fruits-catalog-operator-bundle:v0.0.2"));
    assert_eq!(
        bundle["digest"].as_str().unwrap(),
        layout_digest(project.path(), "ocp-4.16", "fruits-catalog-operator.v0.0.2")
    );
    assert_eq!(
        bundle["labels"]["operators.operatorframework.io.bundle.package.v1"],
        "fruits-catalog-operator"
    );

    let uploads = registry.uploads();
    assert!(uploads >= 10, "the registry logged {uploads} upload requests");
    let again = catbuild(project.path(), &["build", "--push", "--registry", &prefix], &[]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        // Each tag names its image's digest already: no blob is asked about.
        text(&again).contains("Pushed 5 images (5 already there): 0 blobs uploaded (0 bytes), 0 already there"),
        "{}",
        text(&again)
    );
    assert_eq!(registry.uploads(), uploads, "a second push starts no upload");
}

#[test]
fn basic_auth_from_an_auth_file_and_a_wrong_password_is_exit_2_without_the_secret() {
    let registry = Registry::start(&["--htpasswd", "alice:s3cret-Pa55"]);
    let project = project("");
    let prefix = format!("{}/team", registry.host());
    let auth_file = project.path().join("auth.json");
    // base64("alice:s3cret-Pa55")
    let entry = format!(r#"{{"auths": {{"{}": {{"auth": "YWxpY2U6czNjcmV0LVBhNTU="}}}}}}"#, registry.host());
    std::fs::write(&auth_file, entry).unwrap();
    let auth_path = auth_file.display().to_string();
    let output = catbuild(
        project.path(),
        &["build", "--push", "--registry", &prefix, "--target", "ocp-4.17"],
        &[("REGISTRY_AUTH_FILE", &auth_path)],
    );
    assert!(output.status.success(), "{}", text(&output));
    verify(
        &["--tls-verify=false", "--creds", "alice:s3cret-Pa55"],
        &format!("{prefix}/fruits-catalog:ocp-4.17"),
    );

    let wrong = "n0t-the-Passw0rd";
    let output = catbuild(
        project.path(),
        &["build", "--push", "--registry", &prefix, "--target", "ocp-4.17"],
        &[("CATBUILD_REGISTRY_USERNAME", "alice"), ("CATBUILD_REGISTRY_PASSWORD", wrong)],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let said = text(&output);
    assert!(said.contains(&format!("cannot push to `{}`", registry.host())), "{said}");
    assert!(said.contains("refused the credentials of user `alice`"), "{said}");
    for secret in [wrong, "s3cret-Pa55", "YWxpY2U6bjB0LXRoZS1QYXNzdzByZA==", "YWxpY2U6czNjcmV0LVBhNTU="] {
        assert!(!said.contains(secret), "`{secret}` printed: {said}");
    }

    // No credentials at all: the message says how to give them.
    let output = catbuild(
        project.path(),
        &["build", "--push", "--registry", &prefix, "--target", "ocp-4.17"],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("none were found"), "{}", text(&output));
}

#[test]
fn tls_is_verified_and_an_extra_ca_makes_it_work() {
    let registry = Registry::start(&["--tls"]);
    let prefix = format!("{}/secure", registry.host());
    let project = project(&format!("ca-file = \"{}\"\n", registry.var("REGISTRY_CA")));
    let output = catbuild(
        project.path(),
        &["build", "--push", "--registry", &prefix, "--target", "ocp-4.16"],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output));
    verify(
        &["--cert-dir", registry.var("REGISTRY_CERT_DIR")],
        &format!("{prefix}/fruits-catalog-operator-bundle:v0.0.3"),
    );

    // Without the CA the certificate is refused, and a loopback
    // registry speaking TLS is not silently used over plain HTTP.
    let untrusted = self::project("");
    let output = catbuild(
        untrusted.path(),
        &["build", "--push", "--registry", &prefix, "--target", "ocp-4.16"],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("cannot push to `{}`", registry.host())),
        "{}",
        text(&output)
    );
}

#[test]
fn a_connection_dropped_mid_upload_is_retried_to_a_complete_image() {
    let registry = Registry::start(&[]);
    let project = project("");
    // A big, incompressible bundle object, so the upload takes many reads.
    let big: PathBuf = project
        .path()
        .join("manifests/fruits-catalog-operator/0.0.1/manifests/big.configmap.yaml");
    std::fs::write(
        &big,
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  noise: {}\n",
            common::proxy::noise(2 << 20)
        ),
    )
    .unwrap();
    let (proxy, cut) = common::proxy::cutting_proxy(registry.host().to_string(), 512 * 1024, common::proxy::Cut::Upload);
    let prefix = format!("{proxy}/flaky");
    let output = catbuild(
        project.path(),
        &["build", "--push", "--registry", &prefix, "--target", "ocp-4.16"],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(cut.load(Ordering::SeqCst), "the proxy cut a connection");
    assert!(!text(&output).contains(", 0 retries"), "{}", text(&output));
    // Straight from the registry, not through the proxy.
    let bundle = verify(
        &["--tls-verify=false"],
        &format!("{}/flaky/fruits-catalog-operator-bundle:v0.0.1", registry.host()),
    );
    assert_eq!(
        bundle["digest"].as_str().unwrap(),
        layout_digest(project.path(), "ocp-4.16", "fruits-catalog-operator.v0.0.1")
    );
    let files = bundle["layers"][0]["files"].as_array().unwrap();
    let big_file = files.iter().find(|file| file["path"] == "manifests/big.configmap.yaml").unwrap();
    assert!(big_file["size"].as_u64().unwrap() > 2 << 20);
}

/// Issue 19: a build that pushes uses the action cache like any other
/// build. After a build of the images, a push build restores every
/// bundle and package from the cache (nothing runs), and pushes each
/// image from the published layout: what the registry serves is the
/// layout's. After an edit, only the edited bundle and its package run
/// again, and only the blobs that changed go up.
#[test]
fn issue_19_a_push_build_restores_from_the_cache_and_pushes_the_layout() {
    let registry = Registry::start(&[]);
    let project = common::synth_project(12, 3, "push-from-cache");
    let config = project.path().join("catalog.toml");
    let mut toml = std::fs::read_to_string(&config).unwrap().replacen(
        "[catalog]\n",
        "[catalog]\nbundle-image = \"example.com/{{ bundle.package }}-bundle:v{{ bundle.version }}\"\n\
         image = \"example.com/synth-catalog:{{ target.name }}\"\n",
        1,
    );
    toml.push_str("\n[images]\nbuild = true\n");
    std::fs::write(&config, toml).unwrap();
    std::fs::create_dir_all(project.path().join("home")).unwrap();
    let prefix = format!("{}/cached", registry.host());
    let push = ["build", "--push", "--registry", prefix.as_str(), "--json"];
    // The actions that ran (`miss`) and were restored (`hit`).
    let actions = |output: &Output| -> (Vec<String>, usize) {
        assert!(output.status.success(), "{}", text(output));
        let events: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let finished = common::of_type(&events, "action-finish");
        let ran = finished
            .iter()
            .filter(|action| action["cache"] != "hit")
            .map(|action| format!("{} {} {}", action["action"], action["package"], action["bundle"]))
            .collect();
        let hits = finished.iter().filter(|action| action["cache"] == "hit").count();
        (ran, hits)
    };

    let built = catbuild(project.path(), &["build", "-q"], &[]);
    assert!(built.status.success(), "{}", text(&built));
    let pushed = catbuild(project.path(), &push, &[]);
    let (ran, hits) = actions(&pushed);
    assert_eq!((ran, hits), (Vec::<String>::new(), 12 + 3), "12 bundles and 3 packages restored");
    // 12 bundles and the catalog; each image's blobs (manifest, config,
    // layer) come from the layout.
    assert!(text(&pushed).contains("Pushed 13 images"), "{}", text(&pushed));
    let catalog = verify(&["--tls-verify=false"], &format!("{prefix}/synth-catalog:default"));
    assert_eq!(
        catalog["digest"].as_str().unwrap(),
        layout_digest(project.path(), "default", "catalog-fbc-json")
    );
    let csv = std::fs::read_dir(project.path().join("tree"))
        .unwrap()
        .flat_map(|package| std::fs::read_dir(package.unwrap().path()).unwrap())
        .map(|bundle| bundle.unwrap().path().join("manifests"))
        .flat_map(|manifests| std::fs::read_dir(manifests).unwrap())
        .map(|file| file.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(".clusterserviceversion.yaml"))
        .unwrap();
    let (package, version) = {
        let bundle_dir = csv.parent().unwrap().parent().unwrap();
        let package = bundle_dir.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        (package, bundle_dir.file_name().unwrap().to_string_lossy().into_owned())
    };
    let bundle = verify(&["--tls-verify=false"], &format!("{prefix}/{package}-bundle:v{version}"));
    let bundle_digest = bundle["digest"].as_str().unwrap().to_string();

    // One CSV edited: its package's bundles load again (linking needs
    // them all) and the package is encoded again; only the edited bundle
    // image (layer, config) and the catalog image's changed layer and
    // config go up (manifests are not blobs).
    let edited = std::fs::read_to_string(&csv)
        .unwrap()
        .replacen("metadata:\n", "metadata:\n  labels:\n    edited: \"yes\"\n", 1);
    std::fs::write(&csv, edited).unwrap();
    let again = catbuild(project.path(), &push, &[]);
    let (ran, hits) = actions(&again);
    let package_dir = csv.parent().unwrap().parent().unwrap().parent().unwrap();
    let n_bundles = std::fs::read_dir(package_dir)
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().path().is_dir())
        .count();
    let expected: Vec<String> = ran
        .iter()
        .filter(|action| action.contains(&format!(" \"{package}\" ")))
        .cloned()
        .collect();
    assert_eq!((ran.len(), hits), (n_bundles + 1, 15 - n_bundles - 1), "{ran:?}");
    assert_eq!(ran, expected, "only the edited package ran");
    let uploaded: usize = text(&again)
        // The 11 untouched bundle images are there under their tags.
        .split("Pushed 13 images (11 already there): ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("{}", text(&again)));
    assert!((2..=4).contains(&uploaded), "{uploaded} blobs uploaded: {}", text(&again));
    let bundle = verify(&["--tls-verify=false"], &format!("{prefix}/{package}-bundle:v{version}"));
    assert_ne!(bundle["digest"].as_str().unwrap(), bundle_digest, "the edited bundle was pushed");
    let catalog = verify(&["--tls-verify=false"], &format!("{prefix}/synth-catalog:default"));
    assert_eq!(
        catalog["digest"].as_str().unwrap(),
        layout_digest(project.path(), "default", "catalog-fbc-json")
    );
}
