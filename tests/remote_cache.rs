//! The shared cache (issue 19) against a real loopback docker-registry:
//! two clones in two directories play two CI runners. Runner A builds
//! with `--cache-to`; runner B's cold build with `--cache-from` downloads
//! instead of computing (read from `--json`) and writes the same bytes as
//! A and as a `--no-cache` build. A tampered blob in the registry's
//! storage is refused and its action runs; a pull-request build does not
//! write the cache; an unreachable registry is a warning; an export sends
//! only what the registry lacks; credentials work as for push and are
//! never printed.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::registry::Registry;
use common::{copy_dir, of_type, sorted_dirs, synth_project, tree};
use serde_json::Value;

/// catbuild on one "runner": its own HOME, none of the machine's
/// credentials, registries.conf or CI variables, plus `env`.
fn runner(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    common::registry::catbuild_isolated(dir, args, env)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `--json` events of a successful build.
fn events(output: &Output) -> Vec<Value> {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// One project cloned to `n` runner directories (same catalog.toml and
/// tree bytes, different paths), none built yet.
fn runners(n: usize, seed: &str) -> (tempfile::TempDir, Vec<PathBuf>) {
    let project = synth_project(60, 6, seed);
    let root = tempfile::tempdir().unwrap();
    let dirs = (0..n)
        .map(|idx| {
            let dir = root.path().join(format!("runner-{idx}"));
            copy_dir(project.path(), &dir);
            dir
        })
        .collect();
    (root, dirs)
}

/// A clean build without any cache, in its own clone: the reference bytes.
fn reference(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let output = runner(dir, &["build", "-q", "--no-cache"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    tree(&dir.join("build"))
}

/// The `export` event of a build.
fn exported(events: &[Value]) -> Value {
    let exports: Vec<&Value> = of_type(events, "remote-cache")
        .into_iter()
        .filter(|data| data["event"] == "export")
        .collect();
    assert_eq!(exports.len(), 1, "{events:?}");
    exports[0].clone()
}

#[test]
fn issue_19_a_second_runner_downloads_instead_of_computing() {
    let registry = Registry::start(&[]);
    let (_root, dirs) = runners(3, "remote-two-runners");
    let cache = format!("{}/fleet/catalog-cache:main", registry.host());

    let first = events(&runner(&dirs[0], &["build", "--json", "--cache-to", &cache], &[]));
    let export = exported(&first);
    // 6 packages: 6 entries, each one FBC file; with the empty config and
    // the index, 8 blobs go up to an empty registry.
    assert_eq!((export["entries"].as_u64(), export["blobs"].as_u64()), (Some(6), Some(6)));
    assert_eq!((export["uploaded"].as_u64(), export["present"].as_u64()), (Some(8), Some(0)));

    let output = runner(&dirs[1], &["build", "--json", "--explain", "--cache-from", &cache], &[]);
    let second = events(&output);
    let imports = of_type(&second, "remote-cache");
    assert_eq!(imports.len(), 1, "{imports:?}");
    assert_eq!(imports[0]["event"], "import");
    assert_eq!((imports[0]["entries"].as_u64(), imports[0]["loaded"].as_u64()), (Some(6), Some(60)));
    let finished = of_type(&second, "action-finish");
    assert_eq!(finished.len(), 66, "60 bundles and 6 packages");
    for action in &finished {
        assert_eq!(
            (action["cache"].as_str(), action["from"].as_str(), action["source"].as_str()),
            (Some("hit"), Some("remote"), Some(cache.as_str())),
            "{action}"
        );
    }
    let summary = of_type(&second, "summary")[0];
    assert_eq!(summary["actions"]["ran"], 0);
    assert_eq!(summary["actions"]["remote"], 66);
    // --explain says where each entry came from.
    assert_eq!(
        stderr(&output).matches(&format!("from the shared cache `{cache}`")).count(),
        66,
        "{}",
        stderr(&output)
    );

    let built_a = tree(&dirs[0].join("build"));
    let built_b = tree(&dirs[1].join("build"));
    assert!(built_a == built_b, "runner B's output differs from runner A's");
    assert!(
        built_b == reference(&dirs[2]),
        "the shared cache's output differs from a --no-cache build"
    );

    // What came from the registry is local now: the next build needs no
    // network (the registry is gone).
    drop(registry);
    let again = events(&runner(&dirs[1], &["build", "--json"], &[]));
    let summary = of_type(&again, "summary")[0];
    assert_eq!(
        (summary["actions"]["ran"].as_u64(), summary["actions"]["remote"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn issue_19_a_tampered_blob_in_the_registry_is_refused_and_recomputed() {
    let registry = Registry::start(&[]);
    let (_root, dirs) = runners(3, "remote-tampered");
    let cache = format!("{}/fleet/tampered", registry.host());
    events(&runner(&dirs[0], &["build", "--json", "--cache-to", &cache], &[]));

    // A blob is an FBC file's bytes: pick one package's catalog.json and
    // flip a byte of it in the registry's storage (same size, other
    // bytes), as a broken disk or an attacker with storage access would.
    let catalog = dirs[0].join("build/default/catalog");
    let mut packages: Vec<String> = std::fs::read_dir(&catalog)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    packages.sort();
    let victim = &packages[2];
    let bytes = std::fs::read(catalog.join(victim).join("catalog.json")).unwrap();
    let hex = sha256_hex(&bytes);
    let stored = Path::new(registry.var("REGISTRY_DIR")).join(format!("storage/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]));
    let mut tampered = std::fs::read(&stored).unwrap();
    assert_eq!(tampered, bytes, "the registry stores the blob as is");
    tampered[100] ^= 0x20;
    std::fs::write(&stored, &tampered).unwrap();
    // And another package's blob is gone from the storage.
    let missing = &packages[4];
    let missing_hex = sha256_hex(&std::fs::read(catalog.join(missing).join("catalog.json")).unwrap());
    std::fs::remove_dir_all(Path::new(registry.var("REGISTRY_DIR")).join(format!(
        "storage/docker/registry/v2/blobs/sha256/{}/{missing_hex}",
        &missing_hex[..2]
    )))
    .unwrap();

    let output = runner(&dirs[1], &["build", "--json", "--cache-from", &cache], &[]);
    let second = events(&output);
    let refused: Vec<&Value> = of_type(&second, "remote-cache")
        .into_iter()
        .filter(|data| data["event"] == "refused")
        .collect();
    let refused_digests: Vec<&str> = refused.iter().map(|data| data["digest"].as_str().unwrap()).collect();
    assert_eq!(refused_digests.len(), 2, "{second:?}");
    assert!(refused_digests.contains(&format!("sha256:{hex}").as_str()), "{refused_digests:?}");
    assert!(
        refused_digests.contains(&format!("sha256:{missing_hex}").as_str()),
        "{refused_digests:?}"
    );
    assert!(
        stderr(&output).contains(&format!("warning: shared cache `{cache}`: sha256:{hex} refused")),
        "{}",
        stderr(&output)
    );
    // The victim packages ran (their bundles loaded, so they could be
    // linked, and their encoding); every other package came from the
    // registry.
    for action in of_type(&second, "action-finish") {
        let of_victim = action["package"] == victim.as_str() || action["package"] == missing.as_str();
        let expected = if of_victim { "miss" } else { "hit" };
        assert_eq!(action["cache"], expected, "{action}");
        if of_victim && action["action"] == "encode-package" {
            let reason = action["reason"].as_str().unwrap();
            assert!(reason.contains("its copy in the shared cache was refused"), "{reason}");
        }
    }
    let built = tree(&dirs[1].join("build"));
    assert!(built == tree(&dirs[0].join("build")), "a tampered blob changed the output");
    assert!(built == reference(&dirs[2]));
    // The local cache holds the right bytes under that digest, not the
    // registry's.
    let local = std::fs::read(dirs[1].join(format!("build/.cache/v1/blobs/{hex}"))).unwrap();
    assert_eq!(local, bytes);
}

#[test]
fn issue_19_a_pull_request_build_does_not_write_the_cache_unless_asked() {
    let registry = Registry::start(&[]);
    let (_root, dirs) = runners(2, "remote-pr");
    let cache = format!("{}/fleet/pr", registry.host());
    let uploads_before = registry.uploads();
    for pr_env in [
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_NAME", "pull_request_target"),
        ("CI_MERGE_REQUEST_IID", "42"),
    ] {
        let output = runner(&dirs[0], &["build", "--json", "--cache-to", &cache], &[pr_env]);
        let skipped = of_type(&events(&output), "remote-cache")
            .into_iter()
            .map(|data| {
                (
                    data["event"].as_str().unwrap().to_string(),
                    data["reason"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect::<Vec<_>>();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].0, "export-skipped");
        assert!(skipped[0].1.contains(&format!("{}={}", pr_env.0, pr_env.1)), "{skipped:?}");
        assert!(stderr(&output).contains(&format!("note: shared cache `{cache}` not written")));
    }
    assert_eq!(registry.uploads(), uploads_before, "a pull-request build uploaded");
    // Nothing at the tag: another runner finds no cache there.
    let output = runner(&dirs[1], &["build", "--json", "--cache-from", &cache], &[]);
    let unavailable = of_type(&events(&output), "remote-cache")[0].clone();
    assert_eq!(unavailable["event"], "unavailable");
    assert!(unavailable["message"].as_str().unwrap().contains("404"), "{unavailable}");

    // `--cache-to-in-pr` writes it anyway.
    let forced = events(&runner(
        &dirs[0],
        &["build", "--json", "--cache-to", &cache, "--cache-to-in-pr"],
        &[("GITHUB_EVENT_NAME", "pull_request")],
    ));
    assert_eq!(exported(&forced)["entries"], 6);
    assert!(registry.uploads() > uploads_before);
}

#[test]
fn issue_19_an_unreachable_cache_registry_is_a_warning_and_the_build_computes() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cache = format!("127.0.0.1:{port}/fleet/cache");
    let (_root, dirs) = runners(2, "remote-unreachable");
    let output = runner(&dirs[0], &["build", "--json", "--cache-from", &cache, "--cache-to", &cache], &[]);
    let all = events(&output);
    let remote: Vec<&str> = of_type(&all, "remote-cache")
        .into_iter()
        .map(|data| data["event"].as_str().unwrap())
        .collect();
    assert_eq!(remote, ["unavailable", "export-failed"]);
    let text = stderr(&output);
    assert!(
        text.contains(&format!("warning: shared cache `{cache}` not used: cannot reach the registry")),
        "{text}"
    );
    assert!(text.contains(&format!("warning: shared cache `{cache}` not written")), "{text}");
    let summary = of_type(&all, "summary")[0];
    assert_eq!(summary["actions"]["ran"], 66);
    assert!(tree(&dirs[0].join("build")) == reference(&dirs[1]));
}

#[test]
fn issue_19_an_up_to_date_build_still_exports_what_it_would_have_used() {
    // The whole-build stamp answers a no-op build without running any
    // action; with `--cache-to` the build must not take that shortcut, or
    // a project built once without the flag would never fill the cache.
    let registry = Registry::start(&[]);
    let (_root, dirs) = runners(1, "remote-after-stamp");
    let dir = &dirs[0];
    // The first build creates build/, which changes the project directory
    // while it runs, so the second is the first one to leave a stamp.
    for _ in 0..2 {
        events(&runner(dir, &["build", "--json"], &[]));
    }
    let noop = events(&runner(dir, &["build", "--json"], &[]));
    let finished = of_type(&noop, "action-finish");
    assert_eq!(finished.len(), 1, "answered by the stamp: {finished:?}");
    assert_eq!(finished[0]["action"], "build");

    let cache = format!("{}/fleet/after-stamp", registry.host());
    let export = exported(&events(&runner(dir, &["build", "--json", "--cache-to", &cache], &[])));
    assert_eq!(
        (export["entries"].as_u64(), export["blobs"].as_u64()),
        (Some(6), Some(6)),
        "{export}"
    );
}

#[test]
fn issue_19_an_export_sends_only_what_the_registry_lacks() {
    let registry = Registry::start(&[]);
    let (_root, dirs) = runners(1, "remote-missing-only");
    let dir = &dirs[0];
    let cache = format!("{}/fleet/incremental", registry.host());
    events(&runner(dir, &["build", "--json", "--cache-to", &cache], &[]));
    let uploads = registry.uploads();

    // Nothing changed: the manifest at the tag is the same, nothing moves.
    let again = exported(&events(&runner(dir, &["build", "--json", "--cache-to", &cache], &[])));
    assert_eq!(again["unchanged"], true);
    assert_eq!(registry.uploads(), uploads);

    // One CSV edited: one package's file changes, so its blob and the
    // index are new; the empty config and the 5 other blobs are there.
    let package = first_dir(&dir.join("tree"));
    let bundle = first_dir(&package);
    let csv = std::fs::read_dir(bundle.join("manifests"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(".clusterserviceversion.yaml"))
        .unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let changed = text.replacen("\"replicas\": 1,", "\"replicas\": 2,", 1);
    assert_ne!(changed, text);
    std::fs::write(&csv, changed).unwrap();
    let edited = exported(&events(&runner(dir, &["build", "--json", "--cache-to", &cache], &[])));
    assert_eq!(edited["unchanged"], false);
    assert_eq!(
        (edited["uploaded"].as_u64(), edited["present"].as_u64()),
        (Some(2), Some(6)),
        "{edited}"
    );
    assert_eq!(edited["entries"], 6);

    // Into another repository of the same registry, blobs the cache
    // was read from are mounted, not uploaded.
    let copy = format!("{}/fleet/copy", registry.host());
    let mounted = exported(&events(&runner(
        dir,
        &["build", "--json", "--cache-from", &cache, "--cache-to", &copy],
        &[],
    )));
    assert_eq!(
        (mounted["mounted"].as_u64(), mounted["uploaded"].as_u64()),
        (Some(6), Some(2)),
        "{mounted}"
    );
}

#[test]
fn issue_19_the_cache_registry_takes_credentials_as_push_does_and_never_prints_them() {
    let password = "sh4red-C4che-pw";
    let registry = Registry::start(&["--htpasswd", &format!("ci-bot:{password}")]);
    let (_root, dirs) = runners(2, "remote-auth");
    let cache = format!("{}/fleet/private", registry.host());
    let credentials = [("CATBUILD_REGISTRY_USERNAME", "ci-bot"), ("CATBUILD_REGISTRY_PASSWORD", password)];
    let first = runner(&dirs[0], &["build", "--json", "-v", "--cache-to", &cache], &credentials);
    assert_eq!(exported(&events(&first))["uploaded"], 8);
    let second = runner(&dirs[1], &["build", "--json", "-v", "--cache-from", &cache], &credentials);
    assert_eq!(of_type(&events(&second), "summary")[0]["actions"]["ran"], 0);
    // Without them: a warning naming what to set, and the build computes.
    let (_other_root, others) = runners(1, "remote-auth");
    let denied = runner(&others[0], &["build", "--json", "--cache-from", &cache], &[]);
    let text = stderr(&denied);
    assert!(text.contains("CATBUILD_REGISTRY_USERNAME"), "{text}");
    assert_eq!(of_type(&events(&denied), "summary")[0]["actions"]["ran"], 66);
    for output in [&first, &second, &denied] {
        assert!(!String::from_utf8_lossy(&output.stdout).contains(password));
        assert!(!stderr(output).contains(password));
    }
}

fn first_dir(dir: &Path) -> PathBuf {
    sorted_dirs(dir).remove(0)
}

/// sha256 by the system's `sha256sum`, apart from catbuild's code.
fn sha256_hex(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    std::fs::write(&path, bytes).unwrap();
    let output = Command::new("sha256sum").arg(&path).output().unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}
