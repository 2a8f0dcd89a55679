//! Push and pull under injected faults (issue 22): `FaultProxy`
//! (tests/common/proxy.rs) sits in front of the real loopback registry
//! and resets, stalls, truncates or answers 500, 503 with `Retry-After`
//! or 401. Each run ends with a complete, digest-correct image (checked
//! with skopeo from the registry itself) or a clear error and exit 2 with
//! no tag naming a broken image; a repeat once the fault clears completes
//! and moves only what the failed run did not finish.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use catbuild::image::layer::{LayerFile, build_layer};
use catbuild::image::layout::layout_files;
use catbuild::image::oci::{Image, ImageConfig, Manifest, Platform};
use common::example_project;
use common::proxy::{Fault, FaultProxy, Rule, Seen};
use common::registry::Registry;
use common::registry::output_text as text;

/// Every registry call gives up after this many seconds without progress,
/// so a stall costs the test seconds, not minutes (five: a loaded 2-core
/// CI machine can keep the registry from answering for two).
const TIMEOUT: &str = "timeout = 5\n";

fn catbuild(dir: &Path, args: &[&str]) -> Output {
    common::registry::catbuild_isolated(dir, args, &[])
}

fn with_images(project: &Path, extra: &str) {
    let path = project.join("catalog.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    toml.push_str(&format!("\n[images]\nbuild = true\n{TIMEOUT}{extra}"));
    std::fs::write(path, toml).unwrap();
}

fn rule(method: &'static str, path: &'static str, from: usize, times: usize, fault: Fault) -> Rule {
    Rule {
        method,
        path,
        from,
        times,
        fault,
    }
}

/// The `sha256:` digest in a request path (`…/blobs/sha256:…` or an
/// upload's `digest=` query).
fn digest_in(path: &str) -> Option<String> {
    let start = path.find("sha256:")?;
    Some(path[start..start + 71].to_string())
}

/// Digests of blob uploads the registry accepted in `log`.
fn uploaded(log: &[Seen]) -> BTreeSet<String> {
    log.iter()
        .filter(|seen| seen.method == "PUT" && seen.path.contains("/blobs/uploads/") && seen.status == Some(201) && seen.fault.is_none())
        .filter_map(|seen| digest_in(&seen.path))
        .collect()
}

fn put_uploads(log: &[Seen]) -> BTreeSet<String> {
    log.iter()
        .filter(|seen| seen.method == "PUT" && seen.path.contains("/blobs/uploads/"))
        .filter_map(|seen| digest_in(&seen.path))
        .collect()
}

/// Blob downloads the registry answered whole in `log`.
fn downloaded(log: &[Seen]) -> BTreeSet<String> {
    log.iter()
        .filter(|seen| seen.method == "GET" && seen.path.contains("/blobs/") && seen.status == Some(200) && seen.fault.is_none())
        .filter_map(|seen| digest_in(&seen.path))
        .collect()
}

fn blob_gets(log: &[Seen]) -> BTreeSet<String> {
    log.iter()
        .filter(|seen| seen.method == "GET" && seen.path.contains("/blobs/"))
        .filter_map(|seen| digest_in(&seen.path))
        .collect()
}

/// The sha256 of what the registry serves for `reference`, if it has it.
fn served_digest(reference: &str) -> Option<String> {
    let output = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo runs");
    output.status.success().then(|| catbuild::image::sha256_digest(&output.stdout))
}

/// The layout's tags and digests of target `ocp-4.16`.
fn layout_tags(project: &Path) -> Vec<(String, String)> {
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(project.join("build/ocp-4.16/oci/index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                entry["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Where a layout tag of the example is pushed below `prefix`.
fn pushed_reference(prefix: &str, tag: &str) -> String {
    match tag.strip_prefix("fruits-catalog-operator.") {
        Some(version) => format!("{prefix}/fruits-catalog-operator-bundle:{version}"),
        None => format!("{prefix}/fruits-catalog:ocp-4.16"),
    }
}

/// Every image of the push, read back from the registry with skopeo
/// (not through the proxy): `all` when the push succeeded, else only
/// those that exist, which must not be broken.
fn check_registry(registry: &Registry, project: &Path, name: &str, all: bool) {
    let prefix = format!("{}/{name}", registry.host());
    for (tag, digest) in layout_tags(project) {
        let reference = pushed_reference(&prefix, &tag);
        match served_digest(&reference) {
            Some(served) => {
                assert_eq!(served, digest, "{reference} names another image");
                // Every blob it names is there: skopeo copies it whole.
                let copy = tempfile::tempdir().unwrap();
                let output = Command::new("skopeo")
                    .args(["copy", "--quiet", "--all", "--src-tls-verify=false"])
                    .arg(format!("docker://{reference}"))
                    .arg(format!("oci:{}:x", copy.path().display()))
                    .output()
                    .expect("skopeo runs");
                assert!(output.status.success(), "{reference} is broken: {}", text(&output));
            }
            None => assert!(!all, "{reference} is missing after a push that succeeded"),
        }
    }
}

/// One push under `rules`: its outcome checked, then a repeat with the
/// faults cleared that must upload only what the first did not.
/// Returns the faulty run's output and log.
fn push_case(name: &str, rules: Vec<Rule>, ends: Ends) -> (Output, Vec<Seen>) {
    let registry = Registry::start(&[]);
    let project = example_project();
    with_images(project.path(), "");
    let proxy = FaultProxy::start(registry.host().to_string(), rules);
    let prefix = format!("{}/{name}", proxy.address);
    let args = ["build", "--push", "--registry", &prefix, "--target", "ocp-4.16"];
    let output = catbuild(project.path(), &args);
    let log = proxy.take_log();
    assert!(log.iter().any(|seen| seen.fault.is_some()), "{name}: no fault was injected");
    match ends {
        Ends::Pushed => {
            assert!(output.status.success(), "{name}: {}", text(&output));
            check_registry(&registry, project.path(), name, true);
        }
        Ends::Fails(message) => {
            assert_eq!(output.status.code(), Some(2), "{name}: {}", text(&output));
            assert!(
                text(&output).contains(&format!("cannot push to `{}`", proxy.address)),
                "{name}: {}",
                text(&output)
            );
            assert!(text(&output).contains(message), "{name}: {}", text(&output));
            check_registry(&registry, project.path(), name, false);
        }
    }
    proxy.clear();
    let again = catbuild(project.path(), &args);
    assert!(again.status.success(), "{name}, repeated: {}", text(&again));
    check_registry(&registry, project.path(), name, true);
    let repeat = proxy.take_log();
    let twice: Vec<String> = uploaded(&log).intersection(&put_uploads(&repeat)).cloned().collect();
    assert!(twice.is_empty(), "{name}: uploaded again: {twice:?}");
    (output, log)
}

enum Ends {
    Pushed,
    Fails(&'static str),
}

const UPLOAD: &str = "/blobs/uploads/";

#[test]
fn push_survives_resets_stalls_truncation_and_500s() {
    push_case("reset", vec![rule("PUT", UPLOAD, 2, 1, Fault::Reset)], Ends::Pushed);
    // The proxy holds a stalled call for two minutes: the timeout cuts it.
    let started = Instant::now();
    push_case("stall", vec![rule("PUT", "/manifests/", 1, 1, Fault::Stall)], Ends::Pushed);
    assert!(started.elapsed() < Duration::from_secs(40), "{:?}", started.elapsed());
    push_case("truncated", vec![rule("POST", UPLOAD, 1, 2, Fault::Truncate)], Ends::Pushed);
    push_case(
        "five-hundred",
        vec![rule("POST", UPLOAD, 1, 2, Fault::Status(500, None))],
        Ends::Pushed,
    );
}

#[test]
fn push_honours_retry_after_up_to_a_cap() {
    let (_, log) = push_case(
        "retry-after",
        vec![rule("PUT", "/manifests/", 1, 1, Fault::Status(503, Some("3")))],
        Ends::Pushed,
    );
    let refused = log.iter().find(|seen| seen.fault.is_some()).unwrap();
    let next = log
        .iter()
        .find(|seen| seen.at > refused.at && seen.path == refused.path)
        .expect("the manifest is sent again");
    assert!(
        next.at - refused.at >= Duration::from_secs(3),
        "retried after {:?}",
        next.at - refused.at
    );

    // An hour asked: the wait is capped, the push still ends soon.
    let started = Instant::now();
    push_case(
        "retry-after-hour",
        vec![rule("PUT", "/manifests/", 1, 1, Fault::Status(503, Some("3600")))],
        Ends::Pushed,
    );
    assert!(started.elapsed() < Duration::from_secs(40), "{:?}", started.elapsed());
}

#[test]
fn push_that_cannot_finish_is_exit_2_and_the_repeat_uploads_only_the_rest() {
    // 401 in the middle: two blobs are in, the rest refused.
    let (_, log) = push_case(
        "unauthorized",
        vec![rule("PUT", UPLOAD, 3, usize::MAX, Fault::Status(401, None))],
        Ends::Fails("wants credentials (401)"),
    );
    assert!(uploaded(&log).len() >= 2, "{log:?}");
    push_case(
        "always-503",
        vec![rule("POST", UPLOAD, 1, usize::MAX, Fault::Status(503, Some("1")))],
        Ends::Fails("answered 503 (gave up after 5 attempts)"),
    );
    push_case(
        "always-reset",
        vec![rule("PUT", "/manifests/", 1, usize::MAX, Fault::Reset)],
        Ends::Fails("gave up after 5 attempts"),
    );
}

/// A base image of two platforms: four blobs and three manifests to pull.
fn push_base(registry: &Registry) -> String {
    let manifests = [
        Platform::linux_amd64(),
        Platform {
            os: "linux".to_string(),
            architecture: "arm64".to_string(),
            variant: None,
        },
    ]
    .iter()
    .map(|platform| {
        let layer = build_layer(
            &[LayerFile {
                path: "bin/opm".to_string(),
                bytes: common::proxy::noise(256 * 1024).into_bytes(),
            }],
            0,
        )
        .unwrap();
        let settings = ImageConfig {
            labels: [("base.test".to_string(), platform.architecture.clone())].into(),
            ..ImageConfig::default()
        };
        Manifest::build(None, platform, &settings, vec![layer])
    })
    .collect();
    let image = Image::index(manifests);
    let layout = tempfile::tempdir().unwrap();
    for (path, bytes) in layout_files(&[("v".to_string(), &image)]) {
        let path = layout.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let output = Command::new("skopeo")
        .args(["copy", "--all", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v", layout.path().display()))
        .arg(format!("docker://{}/base/opm:v1", registry.host()))
        .output()
        .expect("skopeo runs");
    assert!(output.status.success(), "{}", text(&output));
    image.digest().to_string()
}

/// Builds on the base through a proxy with `rules`; then again once the
/// faults clear, which must fetch only the blobs the first did not get
/// whole, and give the catalog image a clean build gives.
fn pull_case(registry: &Registry, expected: &str, name: &str, rules: Vec<Rule>, ends: Ends) -> Vec<Seen> {
    let proxy = FaultProxy::start(registry.host().to_string(), rules);
    let project = example_project();
    with_images(project.path(), &format!("base-image = \"{}/base/opm:v1\"\n", proxy.address));
    let args = ["build", "--target", "ocp-4.16"];
    let output = catbuild(project.path(), &args);
    let log = proxy.take_log();
    assert!(log.iter().any(|seen| seen.fault.is_some()), "{name}: no fault was injected");
    let catalog = |project: &Path| {
        layout_tags(project)
            .into_iter()
            .find(|(tag, _)| tag == "catalog-fbc-json")
            .unwrap()
            .1
    };
    match ends {
        Ends::Pushed => {
            assert!(output.status.success(), "{name}: {}", text(&output));
            assert_eq!(catalog(project.path()), expected, "{name}");
        }
        Ends::Fails(message) => {
            assert_eq!(output.status.code(), Some(2), "{name}: {}", text(&output));
            assert!(
                text(&output).contains(&format!("cannot pull `{}/base/opm:v1`", proxy.address)),
                "{name}: {}",
                text(&output)
            );
            assert!(text(&output).contains(message), "{name}: {}", text(&output));
            assert!(
                !project.path().join("build/ocp-4.16").exists(),
                "{name}: a failed build wrote output"
            );
        }
    }
    proxy.clear();
    std::fs::remove_file(project.path().join("catalog.lock")).ok();
    let again = catbuild(project.path(), &args);
    assert!(again.status.success(), "{name}, repeated: {}", text(&again));
    assert_eq!(catalog(project.path()), expected, "{name}, repeated");
    let repeat = proxy.take_log();
    let twice: Vec<String> = downloaded(&log).intersection(&blob_gets(&repeat)).cloned().collect();
    assert!(twice.is_empty(), "{name}: fetched again: {twice:?}");
    log
}

#[test]
fn pull_of_a_base_under_every_fault_is_whole_or_exit_2() {
    let registry = Registry::start(&[]);
    push_base(&registry);
    // The catalog image a build straight from the registry makes.
    let clean = example_project();
    with_images(clean.path(), &format!("base-image = \"{}/base/opm:v1\"\n", registry.host()));
    let output = catbuild(clean.path(), &["build", "--target", "ocp-4.16"]);
    assert!(output.status.success(), "{}", text(&output));
    let expected = layout_tags(clean.path())
        .into_iter()
        .find(|(tag, _)| tag == "catalog-fbc-json")
        .unwrap()
        .1;

    let case = |name, rules, ends| pull_case(&registry, &expected, name, rules, ends);
    case("reset", vec![rule("GET", "/blobs/", 2, 1, Fault::Reset)], Ends::Pushed);
    let started = Instant::now();
    case("stall", vec![rule("GET", "/manifests/", 1, 1, Fault::Stall)], Ends::Pushed);
    assert!(started.elapsed() < Duration::from_secs(40), "{:?}", started.elapsed());
    case("truncated", vec![rule("GET", "/blobs/", 2, 2, Fault::Truncate)], Ends::Pushed);
    case(
        "five-hundred",
        vec![rule("GET", "/manifests/", 2, 2, Fault::Status(500, None))],
        Ends::Pushed,
    );
    case(
        "retry-after",
        vec![rule("GET", "/blobs/", 1, 1, Fault::Status(503, Some("1")))],
        Ends::Pushed,
    );
    let log = case(
        "unauthorized",
        vec![rule("GET", "/blobs/", 3, usize::MAX, Fault::Status(401, None))],
        Ends::Fails("wants credentials (401)"),
    );
    assert_eq!(downloaded(&log).len(), 2, "two blobs came before the 401s: {log:?}");
    case(
        "always-truncated",
        vec![rule("GET", "/blobs/", 3, usize::MAX, Fault::Truncate)],
        Ends::Fails("gave up after 5 attempts"),
    );
}
