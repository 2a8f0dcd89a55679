//! Pulling bundle and catalog images from a real registry (Debian's
//! docker-registry, started by `../shared/tools/registry` on 127.0.0.1),
//! images copied there with skopeo:
//!
//! * every `[images]` case of `../shared/conformance/render-bundle`, each
//!   mapped directory built into the image `bundle.Dockerfile` would make
//!   (FROM scratch, `/manifests`, `/metadata`, one label per annotation)
//!   and pushed; `catbuild render` pulls it through a registries.conf
//!   mirror, so the output keeps the reference the case names, and must be
//!   opm's bytes;
//! * `bundle-images` in a build: the catalog names the reference, the
//!   lock pins the digest, and a rebuild needs no registry;
//! * hostile images (traversal, absolute paths, link escapes, a device
//!   node, a gzip bomb, sizes above the limits) refused with nothing
//!   written outside the build directory;
//! * a registry that wants credentials, lacks the image, answers 500, or
//!   cuts a blob mid-way.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use catbuild::image::layer::{LayerFile, build_layer};
use catbuild::image::layout::layout_files;
use catbuild::image::oci::{Image, ImageConfig, Manifest, Platform};
use common::registry::Registry;
use common::registry::output_text as text;
use common::repo;

fn catbuild(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    common::registry::catbuild_isolated(dir, args, env)
}

/// Writes `image` as an OCI layout in `dir` under `tag`.
fn write_layout(dir: &Path, tag: &str, image: &Image) {
    for (path, bytes) in layout_files(&[(tag.to_string(), image)]) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// Copies `oci:LAYOUT:TAG` to `docker://REFERENCE` with skopeo.
fn skopeo_push(layout: &Path, tag: &str, reference: &str) {
    let output = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:{tag}", layout.display()))
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo runs");
    assert!(output.status.success(), "skopeo copy to {reference}: {}", text(&output));
}

/// Every file below `dir` (hidden ones too), as `COPY dir /prefix/` copies them.
fn files_below(dir: &Path, prefix: &str, files: &mut Vec<LayerFile>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = format!("{prefix}/{}", entry.file_name().to_string_lossy());
        if entry.path().is_dir() {
            files_below(&entry.path(), &name, files);
        } else {
            files.push(LayerFile {
                path: name,
                bytes: std::fs::read(entry.path()).unwrap(),
            });
        }
    }
}

/// The image `bundle.Dockerfile` makes of the bundle in `dir`.
fn bundle_image(dir: &Path) -> Image {
    let mut files = Vec::new();
    files_below(&dir.join("manifests"), "manifests", &mut files);
    files_below(&dir.join("metadata"), "metadata", &mut files);
    let bundle_files = catbuild::load::read_bundle_dir(dir).unwrap();
    let settings = ImageConfig {
        labels: catbuild::source::bundle_image_labels(&bundle_files),
        created: "1970-01-01T00:00:00Z".to_string(),
        ..ImageConfig::default()
    };
    Image::Single(Manifest::build(
        None,
        &Platform::linux_amd64(),
        &settings,
        vec![build_layer(&files, 0).unwrap()],
    ))
}

/// Where the loopback registry holds the images of `host`: a repository
/// namespace (no `:` in it).
fn mirror_namespace(host: &str) -> String {
    host.replace(':', "-")
}

/// A registries.conf sending each host of `references` to `registry/HOST`.
fn registries_conf(dir: &Path, registry: &str, references: &[String]) -> PathBuf {
    let mut hosts: Vec<&str> = references.iter().map(|reference| reference.split('/').next().unwrap()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let mut text = String::new();
    for host in hosts {
        let namespace = mirror_namespace(host);
        text.push_str(&format!(
            "[[registry]]\nprefix = \"{host}\"\nlocation = \"{registry}/{namespace}\"\n\n"
        ));
    }
    let path = dir.join("registries.conf");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn render_bundle_image_cases_pulled_from_a_registry_are_byte_exact() {
    let registry = Registry::start(&[]);
    let suite = repo().join("../shared/conformance/render-bundle");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&suite)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join("case.toml").is_file())
        .collect();
    cases.sort();
    let scratch = tempfile::tempdir().unwrap();
    let mut n_cases = 0;
    let mut failures = Vec::new();
    for case in cases {
        let table: toml::Table = toml::from_str(&std::fs::read_to_string(case.join("case.toml")).unwrap()).unwrap();
        let Some(images) = table.get("images").and_then(|value| value.as_table()) else {
            continue;
        };
        n_cases += 1;
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let references: Vec<String> = images.keys().cloned().collect();
        for (reference, dir) in images {
            let layout = scratch
                .path()
                .join(format!("{name}-{}", references.iter().position(|r| r == reference).unwrap()));
            write_layout(&layout, "v", &bundle_image(&case.join(dir.as_str().unwrap())));
            let (host, path) = reference.split_once('/').unwrap();
            skopeo_push(&layout, "v", &format!("{}/{}/{path}", registry.host(), mirror_namespace(host)));
        }
        let conf = registries_conf(scratch.path(), registry.host(), &references);
        let args: Vec<&str> = table["args"].as_array().unwrap().iter().map(|arg| arg.as_str().unwrap()).collect();
        let output = catbuild(&case, &args, &[("CONTAINERS_REGISTRIES_CONF", conf.to_str().unwrap())]);
        let exit = table.get("exit").and_then(toml::Value::as_integer).unwrap_or(0) as i32;
        if output.status.code() != Some(exit) {
            failures.push(format!(
                "{name}: exit {:?}, expected {exit}: {}",
                output.status.code(),
                text(&output)
            ));
            continue;
        }
        if let Some(stdout) = table.get("stdout").and_then(toml::Value::as_str) {
            let expected = std::fs::read(case.join(stdout)).unwrap();
            if output.stdout != expected {
                failures.push(format!("{name}: stdout differs from {stdout}"));
            }
        }
        for fragment in table.get("stderr_contains").and_then(toml::Value::as_array).into_iter().flatten() {
            let fragment = fragment.as_str().unwrap();
            if !String::from_utf8_lossy(&output.stderr).contains(fragment) {
                failures.push(format!("{name}: stderr lacks {fragment:?}: {}", text(&output)));
            }
        }
    }
    assert!(n_cases >= 50, "only {n_cases} cases with [images]");
    assert!(
        failures.is_empty(),
        "{} of {n_cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The example project, its 0.0.2 bundle taken from `image` instead of its directory.
fn project_with_bundle_image(image: &str) -> tempfile::TempDir {
    let dir = common::example_project();
    let path = dir.path().join("catalog.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "bundles = [\"manifests/fruits-catalog-operator/*\"]",
        &format!(
            "bundles = [\"manifests/fruits-catalog-operator/0.0.1\", \"manifests/fruits-catalog-operator/0.0.3\"]\nbundle-images = [\"{image}\"]"
        ),
    );
    assert!(text.contains("bundle-images"), "the example's bundles key moved");
    std::fs::write(path, text).unwrap();
    dir
}

fn bundle_blob(catalog: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(catalog).unwrap();
    serde_json::Deserializer::from_str(&text)
        .into_iter::<serde_json::Value>()
        .map(Result::unwrap)
        .find(|blob| blob["schema"] == "olm.bundle" && blob["name"] == name)
        .unwrap_or_else(|| panic!("no bundle {name} in {}", catalog.display()))
}

#[test]
fn a_bundle_image_builds_like_its_directory_and_a_locked_rebuild_needs_no_registry() {
    let registry = Registry::start(&[]);
    let scratch = tempfile::tempdir().unwrap();
    let bundle_dir = repo().join("manifests/fruits-catalog-operator/0.0.2");
    write_layout(scratch.path(), "v", &bundle_image(&bundle_dir));
    let reference = format!("{}/fruits/bundle:v0.0.2", registry.host());
    skopeo_push(scratch.path(), "v", &reference);

    let from_dirs = common::example_project();
    let output = catbuild(from_dirs.path(), &["build"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    let project = project_with_bundle_image(&reference);
    let output = catbuild(project.path(), &["build"], &[]);
    assert!(output.status.success(), "{}", text(&output));

    let catalog = "build/ocp-4.16/catalog/fruits-catalog-operator/catalog.json";
    let mut from_dir = bundle_blob(&from_dirs.path().join(catalog), "fruits-catalog-operator.v0.0.2");
    let from_image = bundle_blob(&project.path().join(catalog), "fruits-catalog-operator.v0.0.2");
    // opm render names the image as given (spec B.5), tag and all, and
    // lists it among the related images.
    assert_eq!(from_image["image"], serde_json::json!(reference));
    let listed: Vec<&str> = from_image["relatedImages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|related| related["image"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&reference.as_str()), "{listed:?}");
    // Apart from the image reference, the same blob as its directory gives.
    let image_of_dir = from_dir["image"].as_str().unwrap().to_string();
    from_dir["image"] = serde_json::json!(reference);
    for related in from_dir["relatedImages"].as_array_mut().unwrap() {
        if related["image"] == image_of_dir.as_str() {
            related["image"] = serde_json::json!(reference);
        }
    }
    from_dir["relatedImages"]
        .as_array_mut()
        .unwrap()
        .sort_by(|left, right| left["image"].as_str().cmp(&right["image"].as_str()));
    assert_eq!(from_image, from_dir);

    let skopeo = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    let digest = String::from_utf8_lossy(&skopeo.stdout).trim().to_string();
    let lock = std::fs::read_to_string(project.path().join("catalog.lock")).unwrap();
    assert!(
        lock.contains(&format!("[[bundle-image]]\nname = \"{reference}\"\ndigest = \"{digest}\"")),
        "{lock}"
    );
    assert!(
        project
            .path()
            .join("build/.cache/images/sha256")
            .join(digest.trim_start_matches("sha256:"))
            .join("rootfs/manifests")
            .is_dir()
    );

    // The registry gone, the lock and the cache rebuild the same bytes.
    let before = std::fs::read(project.path().join(catalog)).unwrap();
    drop(registry);
    std::fs::remove_dir_all(project.path().join("build/ocp-4.16")).unwrap();
    let output = catbuild(project.path(), &["build"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(std::fs::read(project.path().join(catalog)).unwrap(), before);

    // With `bundle-image-refs = "digest"`, the catalog names the digest.
    let path = project.path().join("catalog.toml");
    let toml_text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{toml_text}\n[images]\nbundle-image-refs = \"digest\"\n")).unwrap();
    let output = catbuild(project.path(), &["build", "--target", "ocp-4.16"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    let pinned = bundle_blob(&project.path().join(catalog), "fruits-catalog-operator.v0.0.2");
    let name = reference.rsplit_once(':').unwrap().0;
    assert_eq!(pinned["image"], serde_json::json!(format!("{name}@{digest}")));
}

/// One raw tar entry: `name` (any bytes, `..` included), its type flag,
/// link target, size in the header, and data.
fn tar_entry(name: &str, kind: u8, link: &str, header_size: u64, data: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    let size = format!("{header_size:011o}\0");
    header[124..136].copy_from_slice(size.as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = kind;
    header[157..157 + link.len()].copy_from_slice(link.as_bytes());
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|byte| u32::from(*byte)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A bundle image (it has the package label) whose one layer is `tar`,
/// gzipped; `claimed` overrides the layer's size in its descriptor.
fn raw_image_layout(dir: &Path, tar: &[u8], claimed: Option<u64>) {
    let layer = gzip(tar);
    let sha = |bytes: &[u8]| catbuild::image::sha256_digest(bytes);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"operators.operatorframework.io.bundle.package.v1": "evil"}},
        "rootfs": {"type": "layers", "diff_ids": [sha(tar)]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(&layer), "size": claimed.unwrap_or(layer.len() as u64)}],
    }))
    .unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(&manifest), "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "v"}}],
    });
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    for bytes in [&layer, &config, &manifest] {
        std::fs::write(blobs.join(sha(bytes).trim_start_matches("sha256:")), bytes).unwrap();
    }
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

const CSV: &[u8] =
    b"apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata:\n  name: evil.v1.0.0\nspec:\n  version: 1.0.0\n";

#[test]
fn hostile_images_are_refused_and_nothing_lands_outside_the_build_dir() {
    let registry = Registry::start(&[]);
    let scratch = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 64 << 20];
    let ok = tar_entry("manifests/csv.yaml", b'0', "", CSV.len() as u64, CSV);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "traversal",
            tar_entry("manifests/../../../../escaped-traversal", b'0', "", 2, b"x\n"),
            "entry `manifests/../../../../escaped-traversal`: `..` is not allowed in a path",
        ),
        (
            "absolute",
            tar_entry("/tmp/escaped-absolute", b'0', "", 2, b"x\n"),
            "entry `/tmp/escaped-absolute`: absolute paths are not allowed",
        ),
        (
            "symlink",
            [
                tar_entry("manifests/link", b'2', "../../../..", 0, b""),
                tar_entry("manifests/link/escaped-symlink", b'0', "", 2, b"x\n"),
            ]
            .concat(),
            "entry `manifests/link`: symbolic link to `../../../..`, outside the image",
        ),
        (
            "hardlink",
            tar_entry("manifests/hard", b'1', "../../../../etc/passwd", 0, b""),
            "entry `manifests/hard`: hard link to `../../../../etc/passwd`: `..` is not allowed in a path",
        ),
        (
            "device",
            tar_entry("dev/null", b'3', "", 0, b""),
            "entry `dev/null`: device nodes and fifos are not allowed",
        ),
        (
            "bomb",
            [ok.clone(), tar_entry("manifests/zeros", b'0', "", zeros.len() as u64, &zeros)].concat(),
            "entry `manifests/zeros`: the layer decompresses",
        ),
        (
            "header-size",
            tar_entry("manifests/huge", b'0', "", 2 << 30, b""),
            "entry `manifests/huge`: its header says 2147483648 bytes, above the file limit",
        ),
    ];
    for (name, tar, expected) in &cases {
        let layout = scratch.path().join(name);
        let tar = [tar.clone(), vec![0u8; 1024]].concat();
        raw_image_layout(&layout, &tar, None);
        let reference = format!("{}/evil/{name}:v1", registry.host());
        skopeo_push(&layout, "v", &reference);
        let project = project_with_bundle_image(&reference);
        let output = catbuild(project.path(), &["build"], &[]);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", text(&output));
        let message = text(&output);
        assert!(
            message.contains(&format!("bundle image `{reference}` is refused: layer sha256:")),
            "{name}: {message}"
        );
        assert!(message.contains(expected), "{name}: expected {expected:?} in {message}");
        assert!(
            message.contains("catalog.toml"),
            "{name}: the error points at the reference: {message}"
        );
        // Nothing escaped, nothing half-unpacked was kept, nothing built.
        for escaped in ["escaped-traversal", "escaped-symlink", "escaped-absolute"] {
            assert!(!project.path().join(escaped).exists());
            assert!(!project.path().parent().unwrap().join(escaped).exists());
        }
        assert!(!Path::new("/tmp/escaped-absolute").exists());
        let cache = project.path().join("build/.cache/images");
        assert!(!cache.join("sha256").exists(), "{name}: an unpacked image was kept");
        let leftovers: Vec<_> = std::fs::read_dir(cache.join("tmp"))
            .map(|dir| dir.flatten().collect())
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "{name}: temp dirs left: {leftovers:?}");
        assert!(!project.path().join("build/ocp-4.16").exists());
    }

    // A descriptor claiming more than the layer limit: refused before a byte is read.
    let project = project_with_bundle_image("oci:evil-layout:v");
    raw_image_layout(&project.path().join("evil-layout"), &[ok, vec![0u8; 1024]].concat(), Some(3 << 30));
    let output = catbuild(project.path(), &["build"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("is 3221225472 bytes by its descriptor, above the layer limit of 2147483648"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_registry_that_wants_credentials_or_lacks_the_image_is_exit_2() {
    let registry = Registry::start(&["--htpasswd", "alice:s3cret-Pa55"]);
    let reference = format!("{}/team/bundle:v1", registry.host());
    let project = project_with_bundle_image(&reference);
    let output = catbuild(project.path(), &["build"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("cannot pull `{reference}`: the registry wants credentials (401)")),
        "{}",
        text(&output)
    );
    let wrong = "n0t-the-Passw0rd";
    let output = catbuild(
        project.path(),
        &["build"],
        &[("CATBUILD_REGISTRY_USERNAME", "alice"), ("CATBUILD_REGISTRY_PASSWORD", wrong)],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("refused the credentials of user `alice`"),
        "{}",
        text(&output)
    );
    assert!(!text(&output).contains(wrong), "the secret is never printed");
    // Right credentials, but no such image.
    let output = catbuild(
        project.path(),
        &["build"],
        &[
            ("CATBUILD_REGISTRY_USERNAME", "alice"),
            ("CATBUILD_REGISTRY_PASSWORD", "s3cret-Pa55"),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("the registry has no manifest `v1` of `team/bundle` (404)"),
        "{}",
        text(&output)
    );
    assert!(!project.path().join("build/ocp-4.16").exists());
    assert!(!project.path().join("catalog.lock").exists());
}

/// A registry API that answers `GET /v2/` and 500 to everything else,
/// counting the calls.
fn failing_registry() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                loop {
                    while !request.ends_with(b"\r\n\r\n") {
                        if stream.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        // A TLS hello: hang up, as a plain registry does.
                        if request.is_empty() && byte[0] == 0x16 {
                            return;
                        }
                        request.push(byte[0]);
                    }
                    let line = String::from_utf8_lossy(&request).lines().next().unwrap_or_default().to_string();
                    request.clear();
                    let answer = if line.starts_with("GET /v2/ ") {
                        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_string()
                    } else {
                        counter.fetch_add(1, Ordering::SeqCst);
                        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_string()
                    };
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (address, calls)
}

#[test]
fn a_registry_answering_500_is_retried_then_exit_2() {
    let (address, calls) = failing_registry();
    let reference = format!("{address}/team/bundle:v1");
    let project = project_with_bundle_image(&reference);
    let output = catbuild(project.path(), &["build"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("answered 500 (gave up after 5 attempts)"),
        "{}",
        text(&output)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    assert!(!project.path().join("build/ocp-4.16").exists());
}

#[test]
fn a_blob_cut_mid_way_is_fetched_again_and_never_half_unpacked() {
    let registry = Registry::start(&[]);
    let scratch = tempfile::tempdir().unwrap();
    // The 0.0.2 bundle with a large note in its metadata, so the layer
    // blob is well over the cut.
    let bundle = scratch.path().join("bundle");
    common::copy_dir(&repo().join("manifests/fruits-catalog-operator/0.0.2"), &bundle);
    std::fs::write(bundle.join("metadata/noise.txt"), common::proxy::noise(2 << 20)).unwrap();
    let layout = scratch.path().join("layout");
    write_layout(&layout, "v", &bundle_image(&bundle));
    skopeo_push(&layout, "v", &format!("{}/fruits/bundle:v0.0.2", registry.host()));

    let (proxy, cut) = common::proxy::cutting_proxy(registry.host().to_string(), 256 * 1024, common::proxy::Cut::Download);
    let reference = format!("{proxy}/fruits/bundle:v0.0.2");
    let project = project_with_bundle_image(&reference);
    let output = catbuild(project.path(), &["build"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(cut.load(Ordering::SeqCst), "the proxy cut a blob");
    let catalog = project.path().join("build/ocp-4.16/catalog/fruits-catalog-operator/catalog.json");
    assert_eq!(
        bundle_blob(&catalog, "fruits-catalog-operator.v0.0.2")["image"],
        serde_json::json!(reference)
    );
    let cache = project.path().join("build/.cache/images");
    let unpacked: Vec<_> = std::fs::read_dir(cache.join("sha256")).unwrap().flatten().collect();
    assert_eq!(unpacked.len(), 1);
    assert_eq!(
        std::fs::read_to_string(unpacked[0].path().join("rootfs/metadata/noise.txt")).unwrap(),
        common::proxy::noise(2 << 20),
        "the file is whole"
    );
    let leftovers: Vec<_> = std::fs::read_dir(cache.join("tmp"))
        .map(|dir| dir.flatten().collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "temp dirs left: {leftovers:?}");
    // Only verified blobs are in the store: each named by its own digest.
    for blob in std::fs::read_dir(cache.join("blobs/sha256")).unwrap().flatten() {
        let bytes = std::fs::read(blob.path()).unwrap();
        assert_eq!(
            catbuild::image::sha256_digest(&bytes),
            format!("sha256:{}", blob.file_name().to_string_lossy())
        );
    }
}

#[test]
fn render_pulls_catalog_images_fbc_and_sqlite() {
    let registry = Registry::start(&[]);
    let scratch = tempfile::tempdir().unwrap();
    let project = common::example_project();
    let path = project.path().join("catalog.toml");
    let toml_text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{toml_text}\n[images]\nbuild = true\n")).unwrap();
    let output = catbuild(
        project.path(),
        &["build", "--target", "ocp-4.16", "--format", "fbc-json", "--format", "sqlite"],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output));
    let layout = project.path().join("build/ocp-4.16/oci");
    for (tag, repository) in [("catalog-fbc-json", "fbc"), ("catalog-sqlite", "sqlite")] {
        let output = Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/cat/{repository}:v1", registry.host()))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
    }
    // An FBC image renders as its /configs directory does.
    let from_dir = catbuild(project.path(), &["render", "build/ocp-4.16/catalog"], &[]);
    assert!(from_dir.status.success(), "{}", text(&from_dir));
    let fbc_image = catbuild(scratch.path(), &["render", &format!("{}/cat/fbc:v1", registry.host())], &[]);
    assert!(fbc_image.status.success(), "{}", text(&fbc_image));
    assert_eq!(fbc_image.stdout, from_dir.stdout);
    // A SQLite index image renders as its database file does.
    let from_db = catbuild(project.path(), &["render", "build/ocp-4.16/index.db"], &[]);
    assert!(from_db.status.success(), "{}", text(&from_db));
    let sqlite_image = catbuild(scratch.path(), &["render", &format!("{}/cat/sqlite:v1", registry.host())], &[]);
    assert!(sqlite_image.status.success(), "{}", text(&sqlite_image));
    assert_eq!(sqlite_image.stdout, from_db.stdout);
    // The same, from the layout directly.
    let from_layout = catbuild(project.path(), &["render", "oci:build/ocp-4.16/oci:catalog-fbc-json"], &[]);
    assert!(from_layout.status.success(), "{}", text(&from_layout));
    assert_eq!(from_layout.stdout, from_dir.stdout);
}

/// Runs umoci (an image tool of its own, not catbuild's builder).
fn umoci(args: &[&str]) {
    let output = Command::new("umoci").args(args).output().expect("umoci runs");
    assert!(output.status.success(), "umoci {args:?}: {}", text(&output));
}

#[test]
fn a_corpus_bundle_image_built_by_umoci_renders_like_its_directory() {
    let registry = Registry::start(&[]);
    let scratch = tempfile::tempdir().unwrap();
    let bundle = repo().join("../shared/corpus/bundles/cat-facts-operator/1.1.2");
    let layout = scratch.path().join("layout");
    let layout_tag = format!("{}:v", layout.display());
    umoci(&["init", "--layout", &layout.display().to_string()]);
    umoci(&["new", "--image", &layout_tag]);
    let bundle_root = scratch.path().join("unpacked");
    umoci(&["unpack", "--rootless", "--image", &layout_tag, &bundle_root.display().to_string()]);
    common::copy_dir(&bundle.join("manifests"), &bundle_root.join("rootfs/manifests"));
    common::copy_dir(&bundle.join("metadata"), &bundle_root.join("rootfs/metadata"));
    umoci(&["repack", "--image", &layout_tag, &bundle_root.display().to_string()]);
    let labels = catbuild::source::bundle_image_labels(&catbuild::load::read_bundle_dir(&bundle).unwrap());
    assert!(labels.contains_key("operators.operatorframework.io.bundle.package.v1"));
    let mut config_args = vec!["config".to_string(), "--image".to_string(), layout_tag.clone()];
    for (key, value) in &labels {
        config_args.push("--config.label".to_string());
        config_args.push(format!("{key}={value}"));
    }
    umoci(&config_args.iter().map(String::as_str).collect::<Vec<_>>());
    let reference = format!("{}/corpus/cat-facts-bundle:v1.1.2", registry.host());
    skopeo_push(&layout, "v", &reference);

    // opm names a bundle directory's image with the template; rendering
    // the image must give the same bytes.
    let from_dir = catbuild(
        scratch.path(),
        &["render", &bundle.display().to_string(), "--alpha-image-ref-template", &reference],
        &[],
    );
    assert!(from_dir.status.success(), "{}", text(&from_dir));
    let from_image = catbuild(scratch.path(), &["render", &reference], &[]);
    assert!(from_image.status.success(), "{}", text(&from_image));
    assert_eq!(
        String::from_utf8_lossy(&from_image.stdout),
        String::from_utf8_lossy(&from_dir.stdout)
    );
}

/// Runs buildah as operator-sdk's `make bundle-build bundle-push` would:
/// vfs storage under `storage`, chroot isolation (no daemon, and a
/// COPY-only Dockerfile needs nothing of the host's mounts).
fn buildah(storage: &Path, args: &[&str]) {
    let root = storage.join("root").display().to_string();
    let run = storage.join("run").display().to_string();
    let tmp = storage.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let output = Command::new("buildah")
        .args(["--root", &root, "--runroot", &run, "--storage-driver", "vfs"])
        .args(args)
        .env("BUILDAH_ISOLATION", "chroot")
        .env("TMPDIR", &tmp)
        .output()
        .expect("buildah runs");
    assert!(output.status.success(), "buildah {args:?}: {}", text(&output));
}

/// Issue 16: a bundle image built and pushed by buildah from the
/// bundle.Dockerfile opm writes renders to the same `olm.bundle` as the
/// bundle's directory, apart from the image reference (which the
/// directory render is given).
#[test]
fn a_corpus_bundle_image_built_by_buildah_renders_like_its_directory() {
    let registry = Registry::start(&[]);
    let scratch = tempfile::tempdir().unwrap();
    let bundle = repo().join("../shared/corpus/bundles/cat-facts-operator/1.1.2");
    let dockerfile = catbuild(&bundle, &["dockerfile", "bundle", "."], &[]);
    assert!(dockerfile.status.success(), "{}", text(&dockerfile));
    let dockerfile_path = scratch.path().join("bundle.Dockerfile");
    std::fs::write(&dockerfile_path, &dockerfile.stdout).unwrap();
    let storage = scratch.path().join("buildah");
    let local = "localhost/cat-facts-bundle:v1.1.2";
    buildah(
        &storage,
        &[
            "bud",
            "-q",
            "--layers=false",
            "-f",
            &dockerfile_path.display().to_string(),
            "-t",
            local,
            &bundle.display().to_string(),
        ],
    );
    let reference = format!("{}/corpus/cat-facts-bundle:buildah", registry.host());
    buildah(
        &storage,
        &["push", "-q", "--tls-verify=false", local, &format!("docker://{reference}")],
    );

    let from_dir = catbuild(
        scratch.path(),
        &["render", &bundle.display().to_string(), "--alpha-image-ref-template", &reference],
        &[],
    );
    assert!(from_dir.status.success(), "{}", text(&from_dir));
    let from_image = catbuild(scratch.path(), &["render", &reference], &[]);
    assert!(from_image.status.success(), "{}", text(&from_image));
    assert_eq!(
        String::from_utf8_lossy(&from_image.stdout),
        String::from_utf8_lossy(&from_dir.stdout)
    );
}

#[test]
fn references_that_are_not_images_are_input_errors() {
    let project = project_with_bundle_image("Bad Ref");
    let output = catbuild(project.path(), &["build"], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output)
            .contains("`bundle-images`: `Bad Ref` is not an image reference: invalid reference format: repository name must be lowercase"),
        "{}",
        text(&output)
    );
    assert!(text(&output).contains("catalog.toml:"), "{}", text(&output));
    let output = catbuild(project.path(), &["render", "./no-such-bundle"], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("no such file or directory, and not an image reference"),
        "{}",
        text(&output)
    );
}
