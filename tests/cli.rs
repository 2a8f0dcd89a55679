//! End-to-end tests of the `catbuild` binary on the example project: what
//! a build writes, that it is deterministic, that a failed build changes
//! nothing, and that `cli::run` holds no global state.

mod common;

use common::{catbuild, copy_dir, example_project, repo, stderr, tree};

use std::path::Path;
use std::process::Command;

use catbuild::encoding::json::{self, Value};

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    catbuild::encoding::yaml_in::decode_stream(&text)
        .into_iter()
        .map(|document| document.unwrap().value)
        .collect()
}

#[test]
fn example_builds_every_target_and_opm_validate_accepts_it() {
    let project = example_project();
    let output = catbuild(project.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).starts_with("Built catalog fruits-catalog-operators: targets ocp-4.16, ocp-4.17 (6 bundles)"),
        "{}",
        stderr(&output)
    );
    let build = project.path().join("build");
    let files: Vec<String> = tree(&build).into_keys().collect();
    assert_eq!(
        files,
        vec![
            // Issue 13: the output dir's lock file stays (empty) between builds.
            ".catbuild.lock",
            "ocp-4.16/.catbuild-summary.json",
            "ocp-4.16/catalog/fruits-catalog-operator/catalog.json",
            // Issue 17: OLM v0 objects for ocp-4.16, OLM v1 for ocp-4.17.
            "ocp-4.16/deploy/catalogsource.yaml",
            "ocp-4.16/deploy/kustomization.yaml",
            "ocp-4.16/deploy/namespace.yaml",
            "ocp-4.16/deploy/operatorgroup-fruits.yaml",
            "ocp-4.16/deploy/subscription-fruits-catalog-operator.yaml",
            "ocp-4.17/.catbuild-summary.json",
            "ocp-4.17/catalog/fruits-catalog-operator/catalog.yaml",
            "ocp-4.17/deploy/clustercatalog.yaml",
            "ocp-4.17/deploy/clusterextension-fruits-catalog-operator.yaml",
            "ocp-4.17/deploy/kustomization.yaml",
            "ocp-4.17/deploy/namespace.yaml",
            "ocp-4.17/deploy/rbac-fruits-catalog-operator.yaml",
            "ocp-4.17/deploy/serviceaccount-fruits-catalog-operator.yaml",
        ]
    );
    for target in ["ocp-4.16", "ocp-4.17"] {
        let dir = build.join(target).join("catalog");
        let validated = catbuild(project.path(), &["validate", dir.to_str().unwrap()]);
        assert!(validated.status.success(), "{target}: {}", stderr(&validated));
    }

    let blobs = documents(&build.join("ocp-4.16/catalog/fruits-catalog-operator/catalog.json"));
    let schemas: Vec<&str> = blobs.iter().map(|blob| blob.get("schema").unwrap().as_str().unwrap()).collect();
    assert_eq!(
        schemas,
        vec![
            "olm.package",
            "olm.channel",
            "olm.channel",
            "olm.bundle",
            "olm.bundle",
            "olm.bundle"
        ]
    );
    assert_eq!(blobs[0].get("defaultChannel").unwrap().as_str(), Some("stable"));
    // Channels as opm's replaces mode makes them: the stable head's replaces
    // chain reaches 0.0.1 too, whatever 0.0.1's annotations say.
    let entries = |blob: &Value| -> Vec<String> {
        blob.get("entries")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| json::to_compact(entry, false))
            .collect()
    };
    let expected_entries = vec![
        r#"{"name":"fruits-catalog-operator.v0.0.1"}"#.to_string(),
        r#"{"name":"fruits-catalog-operator.v0.0.2","replaces":"fruits-catalog-operator.v0.0.1"}"#.to_string(),
        r#"{"name":"fruits-catalog-operator.v0.0.3","replaces":"fruits-catalog-operator.v0.0.2","skipRange":">=0.0.1 <0.0.3"}"#.to_string(),
    ];
    assert_eq!(blobs[1].get("name").unwrap().as_str(), Some("alpha"));
    assert_eq!(entries(&blobs[1]), expected_entries);
    assert_eq!(blobs[2].get("name").unwrap().as_str(), Some("stable"));
    assert_eq!(entries(&blobs[2]), expected_entries);

    // The bundle image comes from `bundle-image` and is listed in
    // relatedImages with an empty name, as rendering the image would.
    let newest = &blobs[5];
    assert_eq!(
        newest.get("image").unwrap().as_str(),
        Some("quay.io/example/fruits-catalog-operator-bundle:v0.0.3")
    );
    let related: Vec<String> = newest
        .get("relatedImages")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|image| json::to_compact(image, false))
        .collect();
    assert_eq!(
        related,
        vec![
            r#"{"name":"","image":"quay.io/example/fruits-catalog-operator-bundle:v0.0.3"}"#,
            r#"{"name":"operator","image":"quay.io/example/fruits-catalog-operator:v0.0.3"}"#,
            r#"{"name":"mongodb","image":"quay.io/example/mongodb:4.4"}"#,
        ]
    );
    // The templated CSV was rendered with `registry` from [vars].
    let catalog = catbuild::fbc::load::load_dir(&build.join("ocp-4.16/catalog")).unwrap();
    let csv = catbuild::fbc::render::bundle_csv(&catalog.bundles[2]).unwrap();
    assert_eq!(
        csv.pointer(&["metadata", "annotations", "containerImage"]).and_then(Value::as_str),
        Some("quay.io/example/fruits-catalog-operator:v0.0.3")
    );

    // ocp-4.17 carries olm.csv.metadata instead of bundle objects.
    let yaml = std::fs::read_to_string(build.join("ocp-4.17/catalog/fruits-catalog-operator/catalog.yaml")).unwrap();
    assert!(yaml.starts_with("---\ndefaultChannel: stable\n"), "{yaml}");
    assert!(yaml.contains("- type: olm.csv.metadata\n"));
    assert!(!yaml.contains("olm.bundle.object"));
}

#[test]
fn builds_are_reproducible_across_runs_and_thread_counts() {
    let project = example_project();
    let first = Command::new(env!("CARGO_BIN_EXE_catbuild"))
        .current_dir(project.path())
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let one_thread = tree(&project.path().join("build"));
    let second = Command::new(env!("CARGO_BIN_EXE_catbuild"))
        .current_dir(project.path())
        .env("RAYON_NUM_THREADS", "8")
        .output()
        .unwrap();
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(one_thread, tree(&project.path().join("build")));

    let elsewhere = example_project();
    assert!(catbuild(elsewhere.path(), &[]).status.success());
    assert_eq!(one_thread, tree(&elsewhere.path().join("build")));
}

#[test]
fn a_failed_build_leaves_the_previous_output_untouched() {
    let project = example_project();
    assert!(catbuild(project.path(), &[]).status.success());
    let before = tree(&project.path().join("build"));
    // Break the graph: 0.0.3 now replaces a bundle that does not exist, so
    // 0.0.2 is stranded in both channels.
    let csv = project
        .path()
        .join("manifests/fruits-catalog-operator/0.0.3/manifests/fruits-catalog-operator.clusterserviceversion.yaml.j2");
    let text = std::fs::read_to_string(&csv).unwrap().replace(
        "replaces: fruits-catalog-operator.v0.0.2",
        "replaces: fruits-catalog-operator.v0.0.9",
    );
    std::fs::write(&csv, text).unwrap();
    let output = catbuild(project.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("replaces `fruits-catalog-operator.v0.0.9`, which is not a bundle"),
        "{}",
        stderr(&output)
    );
    assert_eq!(before, tree(&project.path().join("build")));
}

#[test]
fn command_line_overrides_select_target_format_and_output() {
    let project = example_project();
    let out = project.path().join("elsewhere");
    let output = catbuild(
        project.path(),
        &[
            "build",
            "--target",
            "ocp-4.16",
            "--format",
            "fbc-yaml",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let files: Vec<String> = tree(&out).into_keys().collect();
    assert_eq!(
        files,
        vec![
            ".catbuild.lock",
            "ocp-4.16/.catbuild-summary.json",
            "ocp-4.16/catalog/fruits-catalog-operator/catalog.yaml",
            // The target's `olm` writes deploy/ whatever the formats.
            "ocp-4.16/deploy/catalogsource.yaml",
            "ocp-4.16/deploy/kustomization.yaml",
            "ocp-4.16/deploy/namespace.yaml",
            "ocp-4.16/deploy/operatorgroup-fruits.yaml",
            "ocp-4.16/deploy/subscription-fruits-catalog-operator.yaml",
        ]
    );
    assert!(!project.path().join("build").exists());

    let unknown = catbuild(project.path(), &["build", "--target", "ocp-4.61"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no target named `ocp-4.61`"), "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("help: did you mean `ocp-4.16`?"), "{}", stderr(&unknown));
}

#[test]
fn run_can_be_called_twice_in_one_process() {
    // STYLE 1.6: no hidden global state in `cli::run`.
    let project = example_project();
    let config = project.path().join("catalog.toml");
    for _ in 0..2 {
        let out = tempfile::tempdir().unwrap();
        let args = [
            "catbuild",
            "build",
            "-q",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ];
        let code = catbuild::cli::run(args.iter().map(std::ffi::OsString::from).collect());
        assert_eq!(code, std::process::ExitCode::SUCCESS);
        assert!(out.path().join("ocp-4.16/catalog/fruits-catalog-operator/catalog.json").is_file());
    }
}

#[test]
fn init_adopts_the_example_manifests() {
    let project = example_project();
    std::fs::remove_file(project.path().join("catalog.toml")).unwrap();
    let output = catbuild(project.path(), &["init", "manifests"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let written = std::fs::read_to_string(project.path().join("catalog.toml")).unwrap();
    assert!(
        written.contains(
            "name = \"fruits-catalog-operator\"\nbundles = [\"manifests/fruits-catalog-operator/*\"]\nchannel-policy = \"replaces\"\n"
        ),
        "{written}"
    );
    // The templated CSV needs `registry`, which init cannot know: the build
    // says so at the template's line.
    let built = catbuild(project.path(), &[]);
    assert_eq!(built.status.code(), Some(1));
    assert!(stderr(&built).contains("undefined template variable"), "{}", stderr(&built));
    let again = catbuild(project.path(), &["init", "manifests"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));
}

#[test]
fn output_does_not_depend_on_bundle_directory_order() {
    // STYLE 4.3: the same bundles found in another order give the same bytes.
    let project = example_project();
    assert!(catbuild(project.path(), &[]).status.success());
    let reference = tree(&project.path().join("build"));

    let renamed = example_project();
    let package_dir = renamed.path().join("manifests/fruits-catalog-operator");
    for (from, to) in [("0.0.1", "z-oldest"), ("0.0.3", "a-newest"), ("0.0.2", "m-middle")] {
        std::fs::rename(package_dir.join(from), package_dir.join(to)).unwrap();
    }
    let output = catbuild(renamed.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(reference, tree(&renamed.path().join("build")));
}

/// Issue 12: an output directory that cannot be written is the machine's
/// problem, not the input's: exit 2 with the path and the OS error, never
/// "found 1 problem".
#[test]
fn unwritable_output_exits_2_with_the_path() {
    let project = example_project();
    std::fs::write(project.path().join("blocker"), "a file, not a directory").unwrap();
    let output = catbuild(project.path(), &["build", "--out", "blocker/out"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.starts_with("error: cannot create `blocker/out`: Not a directory (os error 20)"),
        "{text}"
    );
    assert!(!text.contains("problem"), "{text}");
}

/// Issue 12: the pipeline reports progress as data. A reporter sees every
/// stage in pipeline order and one action per package and target.
#[test]
fn the_pipeline_reports_stages_and_actions_to_its_reporter() {
    use catbuild::pipeline::{Action, Reporter, Stage};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder {
        stages: Mutex<Vec<(Stage, bool)>>,
        actions: Mutex<Vec<String>>,
    }
    impl Reporter for Recorder {
        fn stage_started(&self, stage: Stage) {
            self.stages.lock().unwrap().push((stage, false));
        }
        fn stage_finished(&self, stage: Stage, _elapsed: std::time::Duration) {
            self.stages.lock().unwrap().push((stage, true));
        }
        fn action_finished(&self, action: &Action, _elapsed: std::time::Duration, _cached: &catbuild::pipeline::Cached) {
            if let Action::EncodePackage { target, package } = action {
                self.actions.lock().unwrap().push(format!("{target}/{package}"));
            }
        }
    }

    let project = example_project();
    let config = catbuild::config::load(&project.path().join("catalog.toml")).unwrap();
    let recorder = Recorder::default();
    let report = catbuild::pipeline::build(&config, &Default::default(), &recorder).unwrap();
    assert_eq!(report.targets.len(), 2);
    let finished: Vec<Stage> = recorder
        .stages
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, done)| *done)
        .map(|(stage, _)| *stage)
        .collect();
    // Package by package: two targets share one variable set, so the
    // package is loaded once (two load runs: the cache probe reads and
    // hashes its bundles and loads those the cache misses, then the rest
    // are loaded), then linked, encoded and staged per target
    // (the targets in parallel); each target's deployment objects are one
    // more encode; the last write swaps the targets in.
    let count = |stage: Stage| finished.iter().filter(|done| **done == stage).count();
    assert_eq!(finished.first(), Some(&Stage::Plan));
    assert_eq!(finished.last(), Some(&Stage::Write));
    assert_eq!(
        [Stage::Plan, Stage::Load, Stage::Graph, Stage::Validate, Stage::Encode, Stage::Write].map(count),
        [1, 2, 2, 0, 4, 3]
    );
    let mut actions = recorder.actions.lock().unwrap().clone();
    actions.sort();
    assert_eq!(actions, ["ocp-4.16/fruits-catalog-operator", "ocp-4.17/fruits-catalog-operator"]);
    assert!(
        project
            .path()
            .join("build/ocp-4.17/catalog/fruits-catalog-operator/catalog.yaml")
            .is_file()
    );
}

/// `--timings` is drawn from the reporter: one line per stage that ran, in
/// pipeline order (validation runs inside `encode` in a build).
#[test]
fn timings_list_each_stage_once_in_order() {
    let project = example_project();
    let output = catbuild(project.path(), &["build", "--timings", "-q"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stages: Vec<String> = stderr(&output)
        .lines()
        .map(|line| line.split_whitespace().next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(stages, ["plan", "load", "graph", "encode", "write"]);
}

/// Issue 12: catbuild's own flag values are clap value enums, so `--help`
/// lists them and a wrong one is a usage error (exit 2) before anything
/// is read; two FBC flavours at once are still refused by catbuild.
#[test]
fn format_flags_accept_only_their_listed_values() {
    let project = example_project();
    let output = catbuild(project.path(), &["build", "--format", "fbc-xml"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "error: invalid value 'fbc-xml' for '--format <FORMAT>'\n  [possible values: fbc-json, fbc-yaml, sqlite]\n\n  \
         tip: a similar value exists: 'fbc-yaml'\n\nFor more information, try '--help'.\n"
    );
    assert!(!project.path().join("build").exists());

    let both = catbuild(project.path(), &["build", "--format", "fbc-json,fbc-yaml"]);
    assert_eq!(both.status.code(), Some(1), "{}", stderr(&both));
    assert_eq!(
        stderr(&both),
        "error: `--format` takes one of `fbc-json` and `fbc-yaml`, not both\n"
    );

    let graph = catbuild(project.path(), &["graph", "build", "--format", "png"]);
    assert_eq!(graph.status.code(), Some(2), "{}", stderr(&graph));
    assert_eq!(
        stderr(&graph),
        "error: invalid value 'png' for '--format <FORMAT>'\n  [possible values: mermaid, dot, svg, html]\n\nFor more information, try '--help'.\n"
    );

    let help = catbuild(project.path(), &["build", "--help"]);
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("[possible values: fbc-json, fbc-yaml, sqlite]"),
        "{}",
        String::from_utf8_lossy(&help.stdout)
    );
}

/// See: issue 13. `build` refuses a bundle with a second CSV (the fixture
/// `bundle-second-csv`); `render` is opm-compatible and keeps opm's choice,
/// the first CSV by file name, here the stale `backup.clusterserviceversion.yaml`.
#[test]
fn render_keeps_opms_first_csv_of_a_bundle_with_two() {
    let bundle = repo().join("tests/data/diagnostics/bundle-second-csv/bundle");
    let output = catbuild(&repo(), &["render", &bundle.display().to_string(), "-o", "yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("\nname: tiny.v0.0.9\n"), "{text}");
    assert_eq!(stderr(&output), "");
}

/// The icon files of `catalog.toml` are read when planning (declared
/// inputs): the package icon is the file's bytes, its media type from the
/// extension.
#[test]
fn package_icon_is_the_configured_file() {
    let project = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("tests/data/bundles/good/0.1.0"), &project.path().join("bundle"));
    std::fs::create_dir_all(project.path().join("icons")).unwrap();
    std::fs::write(project.path().join("icons/tiny.svg"), "<svg/>").unwrap();
    // A PNG's signature: icons must be images (issue 22).
    std::fs::write(project.path().join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    std::fs::write(
        project.path().join("catalog.toml"),
        "[catalog]\nname = \"tiny-catalog\"\nicon = \"logo.png\"\n\n[[package]]\nname = \"tiny\"\nbundles = [\"bundle\"]\nicon = \"icons/tiny.svg\"\n",
    )
    .unwrap();
    let output = catbuild(project.path(), &["build", "-q"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let blobs = documents(&project.path().join("build/default/catalog/tiny/catalog.json"));
    let icon = blobs[0].get("icon").unwrap();
    assert_eq!(icon.get("base64data").unwrap().as_str(), Some("PHN2Zy8+"));
    assert_eq!(icon.get("mediatype").unwrap().as_str(), Some("image/svg+xml"));
}

/// Issue 19: `--images` (what `make bundle-build` and `make catalog-build`
/// run) builds the OCI layouts that catalog.toml does not ask for.
#[test]
fn images_flag_builds_the_oci_layouts() {
    let project = example_project();
    let output = catbuild(project.path(), &["build", "-q"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!project.path().join("build/ocp-4.16/oci").exists());
    let output = catbuild(project.path(), &["build", "-q", "--images"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for target in ["ocp-4.16", "ocp-4.17"] {
        let index = std::fs::read_to_string(project.path().join("build").join(target).join("oci/index.json")).unwrap();
        assert!(index.contains("application/vnd.oci.image.manifest.v1+json"), "{index}");
    }
}
