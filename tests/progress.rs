//! Progress and parallelism seen from outside (issue 19): `--json` events
//! on stdout, `-q`, and `-j N` giving the same bytes and the same
//! diagnostics for any N.

mod common;

use common::{catbuild, example_project, of_type, stderr, synth_project, tree};
use serde_json::Value;

/// Every stdout line of a `--json` run, parsed; each must be one object
/// `{"type", "data"}` of a documented type.
fn events(stdout: &[u8]) -> Vec<Value> {
    let text = String::from_utf8(stdout.to_vec()).unwrap();
    text.lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
            let kind = event["type"].as_str().unwrap_or_else(|| panic!("no type: {line}"));
            assert!(
                [
                    "plan",
                    "action-start",
                    "action-finish",
                    "diagnostic",
                    "diagnostics-hidden",
                    "summary"
                ]
                .contains(&kind),
                "unknown type: {line}"
            );
            assert!(event["data"].is_object(), "no data: {line}");
            event
        })
        .collect()
}

#[test]
fn json_events_tell_the_plan_each_action_and_the_summary() {
    let project = example_project();
    let output = catbuild(project.path(), &["build", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = events(&output.stdout);
    assert_eq!(events.first().unwrap()["type"], "plan");
    assert_eq!(events.last().unwrap()["type"], "summary");
    let plan = &events[0]["data"];
    assert_eq!(plan["targets"], serde_json::json!(["ocp-4.16", "ocp-4.17"]));
    assert_eq!(plan["bundle_dirs"], 3);
    let finished = of_type(&events, "action-finish");
    let mut loaded: Vec<&str> = finished
        .iter()
        .filter(|data| data["action"] == "load-bundle")
        .map(|data| data["bundle"].as_str().unwrap())
        .collect();
    loaded.sort_unstable();
    assert_eq!(
        loaded,
        [
            "manifests/fruits-catalog-operator/0.0.1",
            "manifests/fruits-catalog-operator/0.0.2",
            "manifests/fruits-catalog-operator/0.0.3"
        ]
    );
    let mut encoded: Vec<String> = finished
        .iter()
        .filter(|data| data["action"] == "encode-package")
        .map(|data| format!("{}/{}", data["target"].as_str().unwrap(), data["package"].as_str().unwrap()))
        .collect();
    encoded.sort();
    assert_eq!(encoded, ["ocp-4.16/fruits-catalog-operator", "ocp-4.17/fruits-catalog-operator"]);
    assert!(finished.iter().all(|data| data["duration_ms"].as_f64().is_some()));
    assert_eq!(of_type(&events, "action-start").len(), finished.len());
    let summary = &events.last().unwrap()["data"];
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["targets"][0]["output"], "build/ocp-4.16");
    assert_eq!(summary["targets"][1]["bundles"], 3);
    // People still read stderr; no JSON goes there.
    assert!(
        stderr(&output).starts_with("Built catalog fruits-catalog-operators"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn json_gives_a_broken_builds_diagnostics_and_exit_code() {
    let project = example_project();
    let csv = project
        .path()
        .join("manifests/fruits-catalog-operator/0.0.2/manifests/fruits-catalog-operator.clusterserviceversion.yaml");
    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, text.replacen("name: fruits-catalog-operator.v0.0.2", "name: [broken", 1)).unwrap();
    let output = catbuild(project.path(), &["build", "--json", "-q"]);
    assert_eq!(output.status.code(), Some(1));
    let events = events(&output.stdout);
    let diagnostics = of_type(&events, "diagnostic");
    assert_eq!(diagnostics.len(), 1, "{events:?}");
    assert_eq!(diagnostics[0]["severity"], "error");
    assert_eq!(diagnostics[0]["code"], "yaml");
    assert_eq!(
        diagnostics[0]["file"],
        "manifests/fruits-catalog-operator/0.0.2/manifests/fruits-catalog-operator.clusterserviceversion.yaml"
    );
    assert_eq!(diagnostics[0]["line"], 5);
    let summary = &events.last().unwrap()["data"];
    assert_eq!(
        (summary["ok"].clone(), summary["exit_code"].clone()),
        (Value::from(false), Value::from(1))
    );
    // `-q` keeps the errors on stderr, nothing else.
    let text = stderr(&output);
    assert!(text.starts_with("error[yaml]: cannot decode manifest"), "{text}");
    assert!(!text.contains("Built"), "{text}");
    assert!(!project.path().join("build").exists());
}

/// Issue 22: `--json` keeps to `[limits] diagnostics` as stderr does, and
/// counts the rest in one `diagnostics-hidden` event.
#[test]
fn json_diagnostics_stop_at_the_limit() {
    let project = example_project();
    let versions = ["0.0.1", "0.0.2", "0.0.3"];
    for version in versions {
        let dir = project
            .path()
            .join(format!("manifests/fruits-catalog-operator/{version}/manifests"));
        std::fs::write(dir.join("bad.yaml"), "kind: ConfigMap\nmetadata: [\n").unwrap();
    }
    let toml = project.path().join("catalog.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{text}\n[limits]\ndiagnostics = 2\n")).unwrap();
    let output = catbuild(project.path(), &["build", "--json", "-q"]);
    assert_eq!(output.status.code(), Some(1));
    let events = events(&output.stdout);
    let files: Vec<String> = of_type(&events, "diagnostic")
        .iter()
        .map(|data| data["file"].as_str().unwrap_or_default().to_string())
        .collect();
    let expected: Vec<String> = ["0.0.1", "0.0.2"]
        .iter()
        .map(|version| format!("manifests/fruits-catalog-operator/{version}/manifests/bad.yaml"))
        .collect();
    assert_eq!(files, expected);
    let hidden = of_type(&events, "diagnostics-hidden");
    assert_eq!(hidden.len(), 1, "{events:?}");
    assert_eq!(
        (
            &hidden[0]["shown"],
            &hidden[0]["hidden"],
            &hidden[0]["hidden_errors"],
            &hidden[0]["hidden_warnings"]
        ),
        (&Value::from(2), &Value::from(1), &Value::from(1), &Value::from(0))
    );
    // The same words as stderr's note, and the summary still last.
    let text = stderr(&output);
    let note = format!("note: {}", hidden[0]["message"].as_str().unwrap_or_default());
    assert!(text.lines().any(|line| line == note), "{note}\n{text}");
    assert_eq!(events.last().unwrap()["type"], "summary");
}

/// STYLE 6.2: the bytes written and the diagnostics printed do not depend
/// on the number of threads.
#[test]
fn jobs_1_and_2_write_the_same_bytes_and_print_the_same_diagnostics() {
    let project = synth_project(120, 12, "jobs");
    let one = catbuild(project.path(), &["build", "-q", "-j", "1", "--out", "out-1"]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    let two = catbuild(project.path(), &["build", "-q", "-j", "2", "--out", "out-2"]);
    assert_eq!(two.status.code(), Some(0), "{}", stderr(&two));
    let (tree_1, tree_2) = (tree(&project.path().join("out-1")), tree(&project.path().join("out-2")));
    assert_eq!(
        tree_1.keys().filter(|path| path.ends_with("catalog.json")).count(),
        12,
        "{:?}",
        tree_1.keys()
    );
    assert!(tree_1 == tree_2, "-j1 and -j2 wrote different files");

    // Break a bundle in several packages: the same errors, in the same
    // order, whatever the number of threads.
    let mut broken = 0;
    let packages: Vec<_> = std::fs::read_dir(project.path().join("tree"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    for package in packages.iter().filter(|path| path.is_dir()).take(4) {
        let mut bundles: Vec<_> = std::fs::read_dir(package)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_dir())
            .collect();
        bundles.sort();
        let manifests = bundles[0].join("manifests");
        let mut files: Vec<_> = std::fs::read_dir(&manifests).unwrap().map(|entry| entry.unwrap().path()).collect();
        files.sort();
        let csv = files
            .iter()
            .find(|path| path.to_string_lossy().contains("clusterserviceversion"))
            .unwrap();
        std::fs::write(csv, "kind: ClusterServiceVersion\nmetadata: [unclosed\n").unwrap();
        broken += 1;
    }
    assert_eq!(broken, 4);
    let one = catbuild(project.path(), &["build", "-j", "1", "--json", "--out", "out-1"]);
    let two = catbuild(project.path(), &["build", "-j", "2", "--json", "--out", "out-2"]);
    assert_eq!(one.status.code(), Some(1), "{}", stderr(&one));
    assert_eq!(two.status.code(), Some(1), "{}", stderr(&two));
    assert_eq!(stderr(&one), stderr(&two));
    assert!(stderr(&one).contains("error: found 4 problems"), "{}", stderr(&one));
    let diagnostics =
        |output: &std::process::Output| -> Vec<Value> { of_type(&events(&output.stdout), "diagnostic").into_iter().cloned().collect() };
    assert_eq!(diagnostics(&one), diagnostics(&two));
    assert_eq!(diagnostics(&one).len(), 4);
    // The last good output is untouched.
    assert!(tree(&project.path().join("out-1")) == tree_1);
}

#[test]
fn jobs_must_be_a_positive_number() {
    let project = example_project();
    let output = catbuild(project.path(), &["build", "-j", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("-j"), "{}", stderr(&output));
    assert!(!project.path().join("build").exists());
}
