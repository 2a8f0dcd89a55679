//! `catbuild --watch` end to end (issue 19): the real binary watching a
//! copy of the example, edited the way an editor does.

mod common;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::example_project;

const CSV: &str = "manifests/fruits-catalog-operator/0.0.2/manifests/fruits-catalog-operator.clusterserviceversion.yaml";
const CATALOG: &str = "build/ocp-4.17/catalog/fruits-catalog-operator/catalog.yaml";

/// A running watch and everything it printed on stderr so far.
struct Watch {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Watch {
    fn start(dir: &Path, args: &[&str]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_catbuild"))
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("catbuild runs");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Watch { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr has `count` occurrences of `needle`.
    fn wait_for(&self, needle: &str, count: usize, within: Duration) {
        let started = Instant::now();
        while self.stderr().matches(needle).count() < count {
            assert!(
                started.elapsed() < within,
                "no {count}× `{needle}` within {within:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `path` holds bytes that satisfy `ready`; returns them.
fn wait_for_file(path: &Path, within: Duration, ready: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && ready(&text)
        {
            return text;
        }
        assert!(started.elapsed() < within, "`{}` not as expected within {within:?}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes as an editor saving in place does, leaving a swap file beside it.
fn edit(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn watch_rebuilds_after_an_edit_survives_a_broken_one_and_stops_on_ctrl_c() {
    let project = example_project();
    let dir = project.path();
    let watch = Watch::start(dir, &["--watch"]);
    watch.wait_for("Watching", 1, Duration::from_secs(20));
    let catalog = dir.join(CATALOG);
    let first = std::fs::read_to_string(&catalog).unwrap();
    assert!(first.contains("Runs the Fruits Catalog demo application"));
    let csv: PathBuf = dir.join(CSV);
    let original = std::fs::read_to_string(&csv).unwrap();

    // An edit: the new output within 2 s.
    let edited = original.replace(
        "Runs the Fruits Catalog demo application on Kubernetes.",
        "Runs the edited Fruits Catalog demo.",
    );
    assert_ne!(edited, original);
    edit(&csv, &edited);
    let started = Instant::now();
    let rebuilt = wait_for_file(&catalog, Duration::from_secs(2), |text| {
        text.contains("Runs the edited Fruits Catalog demo.")
    });
    assert!(started.elapsed() < Duration::from_secs(2));
    // One bundle of three changed.
    let count = |text: &str| text.matches("Runs the Fruits Catalog demo application").count();
    assert_eq!((count(&first), count(&rebuilt)), (3, 2));
    watch.wait_for("Watching", 2, Duration::from_secs(5));

    // Swap files, a log beside the project and the output dir start nothing.
    std::fs::write(csv.with_file_name(".fruits.swp"), "swap").unwrap();
    std::fs::write(dir.join("notes.log"), "not an input").unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(watch.stderr().matches("Watching").count(), 2, "{}", watch.stderr());

    // Broken YAML: diagnostics, still alive, the last good output intact.
    edit(&csv, &edited.replacen("name: fruits-catalog-operator.v0.0.2", "name: [broken", 1));
    watch.wait_for("error[yaml]: cannot decode manifest", 1, Duration::from_secs(5));
    watch.wait_for("Watching", 3, Duration::from_secs(5));
    let mut child = watch;
    assert!(child.child.try_wait().unwrap().is_none(), "watch exited: {}", child.stderr());
    assert_eq!(std::fs::read_to_string(&catalog).unwrap(), rebuilt);
    assert!(child.stderr().contains(&format!("--> {CSV}:5")), "{}", child.stderr());

    // Fixed: rebuilt, and it says so.
    edit(&csv, &original);
    wait_for_file(&catalog, Duration::from_secs(5), |text| text == first);
    child.wait_for("Recovered", 1, Duration::from_secs(5));

    // A change to catalog.toml re-plans: ocp-4.17 now writes JSON.
    let toml = std::fs::read_to_string(dir.join("catalog.toml")).unwrap();
    let replanned = toml.replace("formats = [\"fbc-yaml\"]", "formats = [\"fbc-json\"]");
    assert_ne!(replanned, toml);
    std::fs::write(dir.join("catalog.toml"), replanned).unwrap();
    wait_for_file(
        &dir.join("build/ocp-4.17/catalog/fruits-catalog-operator/catalog.json"),
        Duration::from_secs(5),
        |text| text.contains("Runs the Fruits Catalog demo application"),
    );
    assert!(!dir.join(CATALOG).exists());

    // Ctrl-C: a clean exit.
    child.wait_for("Watching", 5, Duration::from_secs(5));
    let pid = child.child.id();
    assert!(Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap().success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "still running after SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{}", child.stderr());
    child.wait_for("Stopped watching", 1, Duration::from_secs(2));
    // Nothing left behind but the output, its lock and the action cache
    // (which now stamps every target, issue 19).
    let mut left: Vec<String> = std::fs::read_dir(dir.join("build"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [".cache", ".catbuild.lock", "ocp-4.16", "ocp-4.17"]);
}

/// Issue 19: `--push` in watch mode. The first build is pushed; after an
/// edit the rebuild is pushed too, its unchanged images skipped as already
/// there, and the registry serves the edited bundle the layout holds.
#[test]
fn watch_with_push_pushes_every_rebuild() {
    let registry = common::registry::Registry::start(&[]);
    let project = example_project();
    let dir = project.path();
    let config = dir.join("catalog.toml");
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str("\n[images]\nbuild = true\n");
    std::fs::write(&config, toml).unwrap();
    let prefix = format!("{}/watched", registry.host());
    let watch = Watch::start(dir, &["build", "--watch", "--push", "--registry", &prefix]);
    watch.wait_for("Watching", 1, Duration::from_secs(30));
    // 3 bundle images (one per bundle, shared by both targets' layouts)
    // and a catalog image per target.
    assert!(watch.stderr().contains("Pushed 5 images (0 already there)"), "{}", watch.stderr());
    let bundle_reference = format!("{prefix}/fruits-catalog-operator-bundle:v0.0.2");
    let before = served_digest(&bundle_reference);

    let csv = dir.join(CSV);
    let original = std::fs::read_to_string(&csv).unwrap();
    edit(
        &csv,
        &original.replace("Runs the Fruits Catalog demo application on Kubernetes.", "Runs the pushed demo."),
    );
    watch.wait_for("Pushed 5 images", 2, Duration::from_secs(30));
    // The two untouched bundle images are there under their tags.
    assert!(watch.stderr().contains("Pushed 5 images (2 already there)"), "{}", watch.stderr());
    let after = served_digest(&bundle_reference);
    assert_ne!(after, before, "the edited bundle was pushed");
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("build/ocp-4.16/oci/index.json")).unwrap()).unwrap();
    let in_layout = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["annotations"]["org.opencontainers.image.ref.name"] == "fruits-catalog-operator.v0.0.2")
        .unwrap()["digest"]
        .clone();
    assert_eq!(serde_json::Value::String(after), in_layout);
}

/// The digest the registry serves for `reference` (skopeo, through
/// `../shared/tools/verify-image`).
fn served_digest(reference: &str) -> String {
    let output = Command::new(common::repo().join("../shared/tools/verify-image"))
        .args(["--tls-verify=false", reference])
        .env("CI", "true")
        .output()
        .expect("verify-image runs");
    assert!(
        output.status.success(),
        "verify-image {reference}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    report["digest"].as_str().unwrap().to_string()
}
