//! Bundle and catalog images in `build/<target>/oci/`, checked by real
//! clients: `../shared/tools/verify-image` runs skopeo, umoci and the OCI
//! schemas over the layout catbuild wrote (issue 15).

mod common;

use std::path::Path;
use std::process::Command;

use common::{catbuild, example_project, repo, stderr, tree};
use serde_json::Value;

/// Runs verify-image on `reference` and returns its JSON summary; fails
/// the test when the image is not valid.
fn verify(reference: &str) -> Value {
    verify_with(reference, &[])
}

fn verify_with(reference: &str, args: &[&str]) -> Value {
    let output = Command::new(repo().join("../shared/tools/verify-image"))
        .args(args)
        .arg(reference)
        .env("CI", "true")
        .output()
        .expect("verify-image runs");
    assert!(
        output.status.success(),
        "verify-image {reference}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("verify-image prints JSON")
}

fn with_images(dir: &Path, extra: &str) {
    let path = dir.join("catalog.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[images]\nbuild = true\n");
    text.push_str(extra);
    std::fs::write(path, text).unwrap();
}

fn build(dir: &Path, args: &[&str]) {
    let output = catbuild(dir, args);
    assert!(output.status.success(), "catbuild {args:?}: {}", stderr(&output));
}

fn files_of(summary: &Value) -> Vec<(String, String, String)> {
    summary["layers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|layer| layer["files"].as_array().unwrap().iter())
        .map(|file| {
            (
                file["path"].as_str().unwrap().to_string(),
                file["type"].as_str().unwrap().to_string(),
                file["mode"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn bundle_and_scratch_catalog_images_pass_skopeo_umoci_and_the_oci_schemas() {
    let project = example_project();
    with_images(project.path(), "bundle-image-refs = \"digest\"\n");
    build(project.path(), &["build", "--target", "ocp-4.16"]);
    let layout = project.path().join("build/ocp-4.16/oci");

    let bundle = verify(&format!("oci:{}:fruits-catalog-operator.v0.0.1", layout.display()));
    assert_eq!(
        bundle["labels"]["operators.operatorframework.io.bundle.package.v1"],
        "fruits-catalog-operator"
    );
    assert_eq!(
        bundle["labels"]["operators.operatorframework.io.bundle.mediatype.v1"],
        "registry+v1"
    );
    assert_eq!(bundle["created"], "1970-01-01T00:00:00Z");
    let files = files_of(&bundle);
    assert_eq!(files[0], ("manifests".into(), "dir".into(), "0755".into()));
    assert!(
        files.iter().any(|file| file.0 == "metadata/annotations.yaml" && file.2 == "0644"),
        "{files:?}"
    );
    for file in bundle["layers"][0]["files"].as_array().unwrap() {
        assert_eq!(
            (file["uid"].as_u64(), file["gid"].as_u64(), file["mtime"].as_u64()),
            (Some(0), Some(0), Some(0))
        );
    }
    let bundle_digest = bundle["digest"].as_str().unwrap().to_string();

    let catalog = verify(&format!("oci:{}:catalog-fbc-json", layout.display()));
    assert_eq!(catalog["labels"]["operators.operatorframework.io.index.configs.v1"], "/configs");
    assert_eq!(catalog["entrypoint"], Value::Null, "the scratch variant runs nothing");
    assert_eq!(
        files_of(&catalog),
        [
            ("configs".into(), "dir".into(), "0755".into()),
            ("configs/fruits-catalog-operator".into(), "dir".into(), "0755".into()),
            ("configs/fruits-catalog-operator/catalog.json".into(), "file".into(), "0644".into()),
        ]
    );
    // The catalog names the bundle image by the digest just built.
    let fbc = std::fs::read_to_string(project.path().join("build/ocp-4.16/catalog/fruits-catalog-operator/catalog.json")).unwrap();
    assert!(
        fbc.contains(&format!(
            "\"image\": \"quay.io/example/fruits-catalog-operator-bundle@{bundle_digest}\""
        )),
        "{bundle_digest} not in the catalog"
    );
}

#[test]
fn two_builds_in_two_directories_give_identical_digests() {
    let one = example_project();
    let two = example_project();
    for project in [&one, &two] {
        with_images(project.path(), "");
        build(project.path(), &["build"]);
    }
    let oci_one = tree(&one.path().join("build/ocp-4.17/oci"));
    assert!(oci_one.len() > 5, "{:?}", oci_one.keys());
    assert_eq!(oci_one, tree(&two.path().join("build/ocp-4.17/oci")));
    assert_eq!(
        tree(&one.path().join("build/ocp-4.16/oci")),
        tree(&two.path().join("build/ocp-4.16/oci"))
    );

    // SOURCE_DATE_EPOCH is the one clock images read.
    let output = Command::new(env!("CARGO_BIN_EXE_catbuild"))
        .args(["build", "--target", "ocp-4.17"])
        .current_dir(two.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let stamped = tree(&two.path().join("build/ocp-4.17/oci"));
    assert_ne!(oci_one["index.json"], stamped["index.json"]);
}

#[test]
fn catalog_on_a_base_layout_keeps_its_layers_serves_without_the_cache_and_is_locked() {
    let project = example_project();
    with_images(project.path(), "");
    build(project.path(), &["build", "--target", "ocp-4.16"]);
    // Any image will do as a base: the bundle image catbuild just made.
    common::copy_dir(&project.path().join("build/ocp-4.16/oci"), &project.path().join("base"));
    let toml = std::fs::read_to_string(project.path().join("catalog.toml")).unwrap();
    std::fs::write(
        project.path().join("catalog.toml"),
        toml.replace("[images]\n", "[images]\nbase-image = \"oci:base:fruits-catalog-operator.v0.0.1\"\n"),
    )
    .unwrap();
    build(project.path(), &["build", "--target", "ocp-4.16"]);
    let catalog = verify(&format!(
        "oci:{}:catalog-fbc-json",
        project.path().join("build/ocp-4.16/oci").display()
    ));
    assert_eq!(catalog["layers"].as_array().unwrap().len(), 2);
    assert_eq!(catalog["entrypoint"], serde_json::json!(["/bin/opm"]));
    // opm serve with --cache-dir refuses a cache it did not build (trap 11).
    assert_eq!(catalog["cmd"], serde_json::json!(["serve", "/configs"]));
    assert_eq!(
        catalog["labels"]["operators.operatorframework.io.bundle.package.v1"],
        "fruits-catalog-operator"
    );
    assert_eq!(catalog["labels"]["operators.operatorframework.io.index.configs.v1"], "/configs");

    let lock = std::fs::read_to_string(project.path().join("catalog.lock")).unwrap();
    let base_index: Value = serde_json::from_slice(&std::fs::read(project.path().join("base/index.json")).unwrap()).unwrap();
    let base_digest = base_index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["annotations"]["org.opencontainers.image.ref.name"] == "fruits-catalog-operator.v0.0.1")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        lock.contains(&format!(
            "name = \"oci:base:fruits-catalog-operator.v0.0.1\"\ndigest = \"{base_digest}\""
        )),
        "{lock}"
    );

    // The base moves (another image under the same tag): the lock refuses it.
    let before = tree(&project.path().join("build"));
    let moved = std::fs::read_to_string(project.path().join("base/index.json"))
        .unwrap()
        .replace("\"fruits-catalog-operator.v0.0.1\"", "\"old\"")
        .replace("\"fruits-catalog-operator.v0.0.2\"", "\"fruits-catalog-operator.v0.0.1\"");
    std::fs::write(project.path().join("base/index.json"), moved).unwrap();
    let output = catbuild(project.path(), &["build", "--target", "ocp-4.16"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("base image `oci:base:fruits-catalog-operator.v0.0.1` is now sha256:"),
        "{message}"
    );
    assert!(message.contains("catalog.toml:"), "the error points at the key: {message}");
    assert!(message.contains("remove its entry from `catalog.lock`"), "{message}");
    assert_eq!(before, tree(&project.path().join("build")), "a refused build changes nothing");
}

#[test]
fn sqlite_target_gets_an_index_image_and_a_missing_base_is_an_input_error() {
    let project = example_project();
    with_images(project.path(), "");
    build(project.path(), &["build", "--target", "ocp-4.16", "--format", "sqlite"]);
    let index = verify(&format!(
        "oci:{}:catalog-sqlite",
        project.path().join("build/ocp-4.16/oci").display()
    ));
    assert_eq!(
        index["labels"]["operators.operatorframework.io.index.database.v1"],
        "/database/index.db"
    );
    let files = files_of(&index);
    assert_eq!(files.last().unwrap().0, "database/index.db");

    let output = catbuild(project.path(), &["build", "--base-image", "oci:nowhere:v1"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cannot read base image `oci:nowhere:v1`"),
        "{}",
        stderr(&output)
    );
    let output = catbuild(project.path(), &["build", "--base-image", "quay.io/Operator-Framework/opm:latest"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--base-image: base image `quay.io/Operator-Framework/opm:latest` is not an image reference"),
        "{}",
        stderr(&output)
    );
}

/// The digest `build/<target>/oci/index.json` tags `tag` with.
fn layout_digest(layout: &Path, tag: &str) -> String {
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|manifest| manifest["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no `{tag}` in {index}"))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn deployment_objects_pin_the_catalog_image_just_built() {
    let project = example_project();
    with_images(project.path(), "");
    build(project.path(), &["build"]);
    let build_dir = project.path().join("build");

    let digest = layout_digest(&build_dir.join("ocp-4.16/oci"), "catalog-fbc-json");
    let catalog_source = std::fs::read_to_string(build_dir.join("ocp-4.16/deploy/catalogsource.yaml")).unwrap();
    assert!(
        catalog_source.contains(&format!("quay.io/example/fruits-catalog@{digest}")),
        "{catalog_source}"
    );
    assert!(
        catalog_source.contains("image-tag: \"quay.io/example/fruits-catalog:ocp-4.16\""),
        "{catalog_source}"
    );

    let digest = layout_digest(&build_dir.join("ocp-4.17/oci"), "catalog-fbc-yaml");
    let cluster_catalog = std::fs::read_to_string(build_dir.join("ocp-4.17/deploy/clustercatalog.yaml")).unwrap();
    assert!(
        cluster_catalog.contains(&format!("quay.io/example/fruits-catalog@{digest}")),
        "{cluster_catalog}"
    );
    assert!(!cluster_catalog.contains("pollIntervalMinutes"), "{cluster_catalog}");

    // Without images the objects name the tag, as before.
    let plain = example_project();
    build(plain.path(), &["build", "--target", "ocp-4.16"]);
    let catalog_source = std::fs::read_to_string(plain.path().join("build/ocp-4.16/deploy/catalogsource.yaml")).unwrap();
    assert!(
        catalog_source.contains("quay.io/example/fruits-catalog:ocp-4.16"),
        "{catalog_source}"
    );
    assert!(!catalog_source.contains("@sha256:"), "{catalog_source}");
}

/// The layer of a package in a File-Based Catalog image, computed here
/// from its definition (first 8 bytes of sha256 of the name, big-endian,
/// modulo 64), not by catbuild's code.
fn bucket(package: &str) -> u64 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(package.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().unwrap()) % 64
}

/// Issue 19: a File-Based Catalog image holds one layer per bucket of
/// packages, in bucket order. skopeo sees that many layers, each layer's
/// tar holds only its bucket's packages, and umoci unpacks the image to
/// exactly the `catalog/` tree catbuild wrote.
#[test]
fn issue_19_a_catalog_image_is_one_layer_per_bucket_and_unpacks_to_the_catalog() {
    let project = common::synth_project(24, 12, "catalog-layers");
    build(project.path(), &["build", "-q", "--images"]);
    let target = project.path().join("build/default");
    let layout = target.join("oci");
    let reference = format!("oci:{}:catalog-fbc-json", layout.display());
    let keep = tempfile::tempdir().unwrap();
    let summary = verify_with(&reference, &["--keep", keep.path().to_str().unwrap()]);

    let packages: Vec<String> = std::fs::read_dir(target.join("catalog"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(packages.len(), 12);
    let buckets: std::collections::BTreeSet<u64> = packages.iter().map(|package| bucket(package)).collect();
    assert!(buckets.len() > 1, "12 packages in one bucket: {packages:?}");

    let output = Command::new("skopeo").args(["inspect", &reference]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let inspected: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), buckets.len(), "{inspected}");

    // Each layer holds `configs/` and its bucket's packages; buckets rise.
    let layers = summary["layers"].as_array().unwrap();
    assert_eq!(layers.len(), buckets.len());
    let mut seen = Vec::new();
    for layer in layers {
        let files = layer["files"].as_array().unwrap();
        assert_eq!(files[0]["path"], "configs");
        let in_layer: std::collections::BTreeSet<u64> = files[1..]
            .iter()
            .map(|file| bucket(file["path"].as_str().unwrap().split('/').nth(1).unwrap()))
            .collect();
        assert_eq!(in_layer.len(), 1, "{files:?}");
        seen.extend(in_layer);
    }
    assert_eq!(seen, buckets.into_iter().collect::<Vec<_>>());

    // What a cluster gets: umoci's unpacked /configs is the catalog.
    let unpacked = tree(&keep.path().join("bundle/rootfs/configs"));
    let written = tree(&target.join("catalog"));
    assert_eq!(
        unpacked.keys().collect::<Vec<_>>(),
        written.keys().collect::<Vec<_>>(),
        "umoci's /configs has other files"
    );
    assert!(unpacked == written, "umoci's /configs differs from build/default/catalog");
}

/// A layer bigger than one deflate piece (1 MiB) is deflated in parallel
/// pieces (`image::layer`): the SQLite index of two dozen bundles is.
/// skopeo copies it, verify-image gunzips it to its diff_id, and umoci
/// unpacks the very `index.db` the build wrote.
#[test]
fn an_index_image_deflated_in_pieces_unpacks_to_the_index_written() {
    let project = common::synth_project(24, 12, "catalog-pieces");
    build(project.path(), &["build", "-q", "--images", "--format", "fbc-json,sqlite"]);
    let target = project.path().join("build/default");
    let index_db = std::fs::read(target.join("index.db")).unwrap();
    assert!(index_db.len() > 2 << 20, "only {} bytes: one piece", index_db.len());
    let keep = tempfile::tempdir().unwrap();
    let reference = format!("oci:{}:catalog-sqlite", target.join("oci").display());
    let summary = verify_with(&reference, &["--keep", keep.path().to_str().unwrap()]);
    assert_eq!(summary["layers"].as_array().unwrap().len(), 1, "{summary}");
    let unpacked = std::fs::read(keep.path().join("bundle/rootfs/database/index.db")).unwrap();
    assert!(
        unpacked == index_db,
        "umoci's /database/index.db differs from build/default/index.db"
    );
}
