//! Issue 22: hostile and malformed input on a copy of the example project.
//! Each case breaks one thing after a good build, runs `catbuild build`
//! with a deadline, and asserts the exact error, exit 1, a small report,
//! and that the good build's output is byte for byte what it was.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{example_project, tree};

/// What any of these cases may take; a hang (a FIFO read, `/dev/zero`)
/// would take forever.
const DEADLINE: Duration = Duration::from_secs(30);

/// The bundle every case puts its bad file in.
const MANIFESTS: &str = "manifests/fruits-catalog-operator/0.0.1/manifests";

/// Runs `catbuild build` in `dir`, killed at the deadline: (exit code,
/// stderr, seconds).
fn build_with_deadline(dir: &Path, args: &[&str]) -> (Option<i32>, String, f64) {
    let stderr_file = tempfile::NamedTempFile::new().unwrap();
    let stderr_path = stderr_file.path().to_path_buf();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_catbuild"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > DEADLINE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("catbuild {args:?} still ran after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&stderr_path).unwrap();
    (code, text, started.elapsed().as_secs_f64())
}

/// A built example project, `damage` applied, rebuilt: the rebuild must
/// fail as an input error (exit 1) whose report starts with `expected`,
/// within the deadline, in under 8 KiB of text, leaving `build/` as it was.
fn assert_refused(damage: impl FnOnce(&Path), args: &[&str], expected: &str) {
    let project = example_project();
    let dir = project.path();
    let (code, text, _) = build_with_deadline(dir, &["build"]);
    assert_eq!(code, Some(0), "{text}");
    let before = tree(&dir.join("build"));
    damage(dir);
    let (code, text, seconds) = build_with_deadline(dir, args);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.starts_with(expected),
        "expected a report starting with\n{expected}\ngot\n{text}"
    );
    assert!(text.len() < 8192, "a {}-byte report", text.len());
    assert!(seconds < DEADLINE.as_secs_f64());
    assert!(tree(&dir.join("build")) == before, "the previous build's output changed");
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

#[test]
fn a_fifo_among_the_manifests_is_refused_not_read() {
    assert_refused(
        |dir| mkfifo(&dir.join(MANIFESTS).join("pipe.yaml")),
        &["build"],
        "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.1/manifests/pipe.yaml`: it is not a regular file (a FIFO, socket or device)\n",
    );
}

#[test]
fn a_link_to_a_device_among_the_manifests_is_refused_not_read() {
    assert_refused(
        |dir| {
            std::os::unix::fs::symlink("/dev/zero", dir.join(MANIFESTS).join("zero.yaml")).unwrap();
            // Allowed to lead there, so the device itself is what is refused.
            let path = dir.join("catalog.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, text.replacen("[catalog]\n", "[catalog]\nexternal-paths = [\"/dev\"]\n", 1)).unwrap();
        },
        &["build"],
        "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.1/manifests/zero.yaml`: it is not a regular file (a FIFO, socket or device)\n",
    );
}

#[test]
fn a_fifo_given_as_catalog_toml_is_refused_not_read() {
    let project = example_project();
    let fifo = project.path().join("other.toml");
    mkfifo(&fifo);
    let (code, text, _) = build_with_deadline(project.path(), &["--config", "other.toml", "build"]);
    assert_eq!(code, Some(1), "{text}");
    let shown = fifo.canonicalize().unwrap().display().to_string();
    let text = text.replace(&shown, "[FIFO]").replace(&fifo.display().to_string(), "[FIFO]");
    assert!(
        text.starts_with("error[config]: cannot read `[FIFO]`: it is not a regular file (a FIFO, socket or device)\n"),
        "{text}"
    );
}

#[test]
fn a_fifo_as_the_package_icon_is_an_error_at_the_key() {
    assert_refused(
        |dir| {
            mkfifo(&dir.join("icon.svg"));
            let path = dir.join("catalog.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(
                &path,
                text.replace(
                    "default-channel = \"stable\"\n",
                    "default-channel = \"stable\"\nicon = \"icon.svg\"\n",
                ),
            )
            .unwrap();
        },
        &["build"],
        "error[config]: cannot read icon file `icon.svg` (the `icon` of package `fruits-catalog-operator`): it is not a regular file (a FIFO, socket or device)\n  --> catalog.toml:26:8\n",
    );
}

#[test]
fn a_huge_one_line_manifest_fails_fast_with_a_short_report() {
    assert_refused(
        |dir| {
            let line = format!("metadata: {{name: x, labels: {{a: \"{}\", b: [}}\n", "x".repeat(20_000_000));
            std::fs::write(dir.join(MANIFESTS).join("huge.yaml"), format!("kind: ConfigMap\n{line}")).unwrap();
        },
        &["build"],
        "error[yaml]: cannot decode `manifests/fruits-catalog-operator/0.0.1/manifests/huge.yaml`: yaml: line 1: did not find expected node content\n --> manifests/fruits-catalog-operator/0.0.1/manifests/huge.yaml:2:1\n  |\n2 | metadata: {name: x, labels: {a: \"xxxx",
    );
}

#[test]
fn an_alias_bomb_is_refused_as_go_yaml_refuses_it() {
    assert_refused(
        |dir| {
            let mut text = String::from(
                "kind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
            );
            for level in 1..12 {
                let refs = vec![format!("*a{}", level - 1); 9].join(",");
                text.push_str(&format!("  a{level}: &a{level} [{refs}]\n"));
            }
            std::fs::write(dir.join(MANIFESTS).join("bomb.yaml"), text).unwrap();
        },
        &["build"],
        "error[yaml]: cannot decode `manifests/fruits-catalog-operator/0.0.1/manifests/bomb.yaml`: yaml: document contains excessive aliasing\n",
    );
}

#[test]
fn nesting_beyond_go_yamls_depth_limit_is_refused_with_the_limit() {
    assert_refused(
        |dir| {
            let text = format!(
                "kind: ConfigMap\nmetadata: {{name: d}}\ndata: {}{}\n",
                "[".repeat(200_000),
                "]".repeat(200_000)
            );
            std::fs::write(dir.join(MANIFESTS).join("deep.yaml"), text).unwrap();
        },
        &["build"],
        "error[yaml]: cannot decode `manifests/fruits-catalog-operator/0.0.1/manifests/deep.yaml`: yaml: line 3: exceeded max depth of 10000\n",
    );
}

/// The templated CSV's bundle, where a `.j2` manifest renders.
const TEMPLATED: &str = "manifests/fruits-catalog-operator/0.0.3/manifests";

#[test]
fn a_template_loop_that_does_not_end_runs_out_of_steps() {
    assert_refused(
        |dir| {
            let text = "kind: ConfigMap\nmetadata: {name: loop}\ndata:\n{% for i in range(100000) %}{% for j in range(100000) %}  k{{i}}x{{j}}: v\n{% endfor %}{% endfor %}\n";
            std::fs::write(dir.join(TEMPLATED).join("loop.yaml.j2"), text).unwrap();
        },
        &["build"],
        "error[template]: template error: invalid operation: it took more than 20000000 steps (a loop that does not end?)\n  --> manifests/fruits-catalog-operator/0.0.3/manifests/loop.yaml.j2\n",
    );
}

#[test]
fn a_template_that_writes_gigabytes_stops_at_the_output_limit() {
    assert_refused(
        |dir| {
            let text =
                "kind: ConfigMap\nmetadata: {name: big}\ndata:\n{% for i in range(1000) %}  k{{i}}: {{ \"x\" * 99999999 }}\n{% endfor %}\n";
            std::fs::write(dir.join(TEMPLATED).join("big.yaml.j2"), text).unwrap();
        },
        &["build"],
        "error[template]: template error: invalid operation: the output is larger than the 64 MiB a template may write\n  --> manifests/fruits-catalog-operator/0.0.3/manifests/big.yaml.j2\n",
    );
}

/// A file outside the project, for the cases that link to it.
fn outside_file() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "kind: Secret\nmetadata: {name: stolen}\n").unwrap();
    file
}

#[test]
fn a_manifest_linking_out_of_the_project_is_refused() {
    let secret = outside_file();
    let resolved = secret.path().canonicalize().unwrap();
    assert_refused(
        |dir| std::os::unix::fs::symlink(secret.path(), dir.join(MANIFESTS).join("secret.yaml")).unwrap(),
        &["build"],
        &format!(
            "error[bundle]: `manifests/fruits-catalog-operator/0.0.1/manifests/secret.yaml` leads to `{}`, outside the project\n",
            resolved.display()
        ),
    );
}

#[test]
fn a_bundle_directory_linking_out_of_the_project_is_refused() {
    let elsewhere = tempfile::tempdir().unwrap();
    common::copy_dir(
        &common::repo().join("manifests/fruits-catalog-operator/0.0.1"),
        &elsewhere.path().join("0.0.4"),
    );
    let resolved = elsewhere.path().join("0.0.4").canonicalize().unwrap();
    assert_refused(
        |dir| std::os::unix::fs::symlink(elsewhere.path().join("0.0.4"), dir.join("manifests/fruits-catalog-operator/0.0.4")).unwrap(),
        &["build"],
        &format!(
            "error[bundle]: `manifests/fruits-catalog-operator/0.0.4` leads to `{}`, outside the project\n",
            resolved.display()
        ),
    );
}

#[test]
fn an_icon_outside_the_project_is_refused_at_its_key() {
    let icon = tempfile::Builder::new().suffix(".svg").tempfile().unwrap();
    std::fs::write(icon.path(), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
    let resolved = icon.path().canonicalize().unwrap();
    let shown = icon.path().display().to_string();
    assert_refused(
        |dir| {
            let path = dir.join("catalog.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            let line = format!("default-channel = \"stable\"\nicon = \"{shown}\"\n");
            std::fs::write(&path, text.replace("default-channel = \"stable\"\n", &line)).unwrap();
        },
        &["build"],
        &format!(
            "error[config]: icon file `{shown}` (the `icon` of package `fruits-catalog-operator`) leads to `{}`, outside the project\n",
            resolved.display()
        ),
    );
}

#[test]
fn external_paths_allows_what_it_lists_and_nothing_else() {
    let project = example_project();
    let dir = project.path();
    let shared = tempfile::tempdir().unwrap();
    let crd = dir.join(MANIFESTS).join("fruitscatalogs.fruits.example.com.crd.yaml");
    let moved = shared.path().join("crd.yaml");
    std::fs::copy(&crd, &moved).unwrap();
    std::fs::remove_file(&crd).unwrap();
    std::os::unix::fs::symlink(&moved, &crd).unwrap();
    let (code, text, _) = build_with_deadline(dir, &["build"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("outside the project"), "{text}");

    let path = dir.join("catalog.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let listed = format!("[catalog]\nexternal-paths = [\"{}\"]\n", shared.path().display());
    std::fs::write(&path, config.replacen("[catalog]\n", &listed, 1)).unwrap();
    let (code, text, _) = build_with_deadline(dir, &["build"]);
    assert_eq!(code, Some(0), "{text}");
}
