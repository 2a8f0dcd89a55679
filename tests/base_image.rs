//! A catalog image's base pulled from a registry (issue 15): the test
//! makes small base images (one platform, and an index of two) as OCI
//! layouts, copies them with skopeo into Debian's docker-registry on
//! loopback, builds on them, checks the result with real clients
//! (`../shared/tools/verify-image`: skopeo, umoci and the OCI schemas),
//! the lock, and that a locked rebuild needs neither the registry nor the
//! tag to stay where it was.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use catbuild::image::layer::{LayerFile, build_layer};
use catbuild::image::layout::layout_files;
use catbuild::image::oci::{Image, ImageConfig, Manifest, Platform};
use common::registry::Registry;
use common::registry::output_text as text;
use common::{example_project, repo, tree};
use serde_json::Value;

fn catbuild(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    common::registry::catbuild_isolated(dir, args, env)
}

fn built(dir: &Path, args: &[&str], env: &[(&str, &str)]) {
    let output = catbuild(dir, args, env);
    assert!(output.status.success(), "catbuild {args:?}: {}", text(&output));
}

/// A stand-in for opm's image on `platform`: `/bin/opm` and a label, so
/// the catalog image must be seen to keep the base's layer and config.
fn base_manifest(platform: &Platform) -> Manifest {
    let layer = build_layer(
        &[LayerFile {
            path: "bin/opm".to_string(),
            bytes: format!("#!/bin/sh\n# opm for {}\n", platform.architecture).into_bytes(),
        }],
        0,
    )
    .unwrap();
    let settings = ImageConfig {
        labels: [("base.test".to_string(), platform.architecture.clone())].into(),
        created: "1970-01-01T00:00:00Z".to_string(),
        ..ImageConfig::default()
    };
    Manifest::build(None, platform, &settings, vec![layer])
}

fn arm64() -> Platform {
    Platform {
        os: "linux".to_string(),
        architecture: "arm64".to_string(),
        variant: None,
    }
}

/// Writes `image` as a layout under `tag` and copies it (every platform)
/// to `docker://reference` with skopeo.
fn push_with_skopeo(scratch: &Path, image: &Image, reference: &str) {
    let layout = scratch.join(format!("layout-{}", image.digest().trim_start_matches("sha256:")));
    for (path, bytes) in layout_files(&[("v".to_string(), image)]) {
        let path = layout.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let output = Command::new("skopeo")
        .args(["copy", "--all", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v", layout.display()))
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo runs");
    assert!(output.status.success(), "skopeo copy to {reference}: {}", text(&output));
}

/// The digest the registry holds for `reference`, by skopeo: the sha256
/// of the raw manifest or index it serves.
fn registry_digest(reference: &str) -> String {
    let output = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo runs");
    assert!(output.status.success(), "skopeo inspect {reference}: {}", text(&output));
    catbuild::image::sha256_digest(&output.stdout)
}

fn verify(reference: &str) -> Value {
    let output = Command::new(repo().join("../shared/tools/verify-image"))
        .arg(reference)
        .env("CI", "true")
        .output()
        .expect("verify-image runs");
    assert!(output.status.success(), "verify-image {reference}:\n{}", text(&output));
    serde_json::from_slice(&output.stdout).expect("verify-image prints JSON")
}

fn layout_json(dir: &Path, digest: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap()).unwrap()
}

/// The digest `index.json` of the layout in `dir` tags `tag` with.
fn tagged(dir: &Path, tag: &str) -> String {
    let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no `{tag}` in {index}"))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

fn set_base(project: &Path, base: &str) {
    let path = project.join("catalog.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    toml.push_str(&format!("\n[images]\nbuild = true\nbase-image = \"{base}\"\n"));
    std::fs::write(path, toml).unwrap();
}

#[test]
fn a_multi_arch_base_from_a_registry_mirror_gives_a_multi_arch_catalog_locked_and_offline() {
    let registry = Registry::start(&[]);
    let scratch = tempfile::tempdir().unwrap();
    let base = Image::index(vec![base_manifest(&Platform::linux_amd64()), base_manifest(&arm64())]);
    // The project names opm's own repository; registries.conf sends it to
    // the loopback registry, as it does for bundle images.
    push_with_skopeo(
        scratch.path(),
        &base,
        &format!("{}/operator-framework/opm:v1.50.0", registry.host()),
    );
    let base_digest = registry_digest(&format!("{}/operator-framework/opm:v1.50.0", registry.host()));
    let conf = scratch.path().join("registries.conf");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nprefix = \"quay.io/operator-framework\"\nlocation = \"{}/operator-framework\"\n",
            registry.host()
        ),
    )
    .unwrap();
    let env = [("CONTAINERS_REGISTRIES_CONF", conf.to_str().unwrap())];
    let project = example_project();
    set_base(project.path(), "quay.io/operator-framework/opm:v1.50.0");
    built(project.path(), &["build", "--target", "ocp-4.16"], &env);

    let layout = project.path().join("build/ocp-4.16/oci");
    let summary = verify(&format!("oci:{}:catalog-fbc-json", layout.display()));
    assert_eq!(summary["mediaType"], "application/vnd.oci.image.index.v1+json", "{summary}");
    let index = layout_json(&layout, &tagged(&layout, "catalog-fbc-json"));
    let manifests = index["manifests"].as_array().unwrap();
    let platforms: Vec<&str> = manifests
        .iter()
        .map(|entry| entry["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["amd64", "arm64"]);
    let mut catalog_layers = Vec::new();
    for (entry, base_manifest) in manifests.iter().zip(base.manifests()) {
        let manifest = layout_json(&layout, entry["digest"].as_str().unwrap());
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 2, "{manifest}");
        // The base's own layer for its platform, then the catalog's.
        assert_eq!(layers[0]["digest"], base_manifest.layers[0].digest.as_str());
        catalog_layers.push(layers[1]["digest"].as_str().unwrap().to_string());
        let config = layout_json(&layout, manifest["config"]["digest"].as_str().unwrap());
        assert_eq!(config["config"]["Labels"]["base.test"], entry["platform"]["architecture"]);
        assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["/bin/opm"]));
    }
    assert_eq!(catalog_layers[0], catalog_layers[1], "one catalog layer shared by both platforms");
    // Each platform's image unpacks with umoci (a copy of the layout
    // that tags it alone: verify-image unpacks no index).
    for entry in manifests {
        let one_layout = scratch.path().join("one");
        let _ = std::fs::remove_dir_all(&one_layout);
        common::copy_dir(&layout, &one_layout);
        let mut descriptor = entry.clone();
        descriptor["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "p"});
        let index =
            serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [descriptor]});
        std::fs::write(one_layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        let one = verify(&format!("oci:{}:p", one_layout.display()));
        assert_eq!(one["unpack"]["ok"], true, "{one}");
        let files: Vec<&str> = one["layers"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|layer| layer["files"].as_array().unwrap())
            .filter_map(|file| file["path"].as_str())
            .collect();
        assert!(
            files.contains(&"bin/opm") && files.iter().any(|path| path.starts_with("configs/")),
            "{files:?}"
        );
    }

    let lock = std::fs::read_to_string(project.path().join("catalog.lock")).unwrap();
    assert!(
        lock.contains(&format!(
            "[[base-image]]\nname = \"quay.io/operator-framework/opm:v1.50.0\"\ndigest = \"{base_digest}\""
        )),
        "{lock}"
    );
    let first = tree(&project.path().join("build"));

    // The tag moves to another image: the lock holds the old digest, which
    // is pulled again by digest when the cache is gone.
    push_with_skopeo(
        scratch.path(),
        &Image::Single(base_manifest(&Platform::linux_amd64())),
        &format!("{}/operator-framework/opm:v1.50.0", registry.host()),
    );
    assert_ne!(
        registry_digest(&format!("{}/operator-framework/opm:v1.50.0", registry.host())),
        base_digest
    );
    std::fs::remove_dir_all(project.path().join("build/.cache/images")).unwrap();
    built(project.path(), &["build", "--target", "ocp-4.16"], &env);
    assert_eq!(first, tree(&project.path().join("build")), "the pinned base gives the same bytes");
    assert_eq!(lock, std::fs::read_to_string(project.path().join("catalog.lock")).unwrap());

    // No registry: the warm cache is enough.
    drop(registry);
    std::fs::remove_dir_all(project.path().join("build/ocp-4.16")).unwrap();
    built(project.path(), &["build", "--target", "ocp-4.16"], &env);
    assert_eq!(
        first,
        tree(&project.path().join("build")),
        "an offline rebuild gives the same bytes"
    );

    // No registry and no cache: a clear failure, exit 2, the output kept.
    std::fs::remove_dir_all(project.path().join("build/.cache/images")).unwrap();
    let output = catbuild(project.path(), &["build", "--target", "ocp-4.16"], &env);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("cannot pull `quay.io/operator-framework/opm:v1.50.0`"),
        "{}",
        text(&output)
    );
    assert_eq!(first, tree(&project.path().join("build")), "a failed build changes nothing");
}

#[test]
fn a_single_arch_base_by_tag_or_digest_from_the_command_line() {
    let registry = Registry::start(&[]);
    let scratch = tempfile::tempdir().unwrap();
    let base = Image::Single(base_manifest(&Platform::linux_amd64()));
    let reference = format!("{}/base/opm:v1", registry.host());
    push_with_skopeo(scratch.path(), &base, &reference);
    let base_digest = registry_digest(&reference);
    assert_eq!(base_digest, base.digest(), "skopeo kept the manifest as written");

    let project = example_project();
    set_base(project.path(), "scratch");
    built(project.path(), &["build", "--target", "ocp-4.16", "--base-image", &reference], &[]);
    let layout = project.path().join("build/ocp-4.16/oci");
    let summary = verify(&format!("oci:{}:catalog-fbc-json", layout.display()));
    assert_eq!(summary["mediaType"], "application/vnd.oci.image.manifest.v1+json", "{summary}");
    let layers = summary["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["digest"], base.manifests()[0].layers[0].digest.as_str());
    assert_eq!(summary["labels"]["base.test"], "amd64");
    assert_eq!(summary["cmd"], serde_json::json!(["serve", "/configs"]));
    let lock = std::fs::read_to_string(project.path().join("catalog.lock")).unwrap();
    assert!(
        lock.contains(&format!("name = \"{reference}\"\ndigest = \"{base_digest}\"")),
        "{lock}"
    );
    let by_tag = tagged(&layout, "catalog-fbc-json");

    // By digest, the same base: the same catalog image.
    let pinned = format!("{}/base/opm@{base_digest}", registry.host());
    built(project.path(), &["build", "--target", "ocp-4.16", "--base-image", &pinned], &[]);
    assert_eq!(tagged(&layout, "catalog-fbc-json"), by_tag);

    // A digest the registry does not have: exit 2, naming the reference.
    let missing = format!("{}/base/opm@sha256:{}", registry.host(), "0".repeat(64));
    let output = catbuild(project.path(), &["build", "--target", "ocp-4.16", "--base-image", &missing], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains(&format!("cannot pull `{missing}`")), "{}", text(&output));
    assert!(text(&output).contains("404"), "{}", text(&output));
}
