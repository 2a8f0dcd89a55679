//! Issue 13: output people can trust. A build killed at any moment leaves
//! every target either all old or all new; two builds at once serialise on
//! the output directory's lock (or fail clearly with `--no-wait`); failures
//! of the machine exit 2 with the path and the OS error; `catbuild clean`
//! and stale targets.

mod common;

use common::{catbuild, example_project, repo, stderr, tree};

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

/// Every file under `dir`, relative path → sha256; `None` when `dir` is
/// missing.
fn digests(dir: &Path) -> Option<BTreeMap<String, String>> {
    if !dir.exists() {
        return None;
    }
    let hex = |bytes: &[u8]| Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect::<String>();
    Some(tree(dir).into_iter().map(|(path, bytes)| (path, hex(&bytes))).collect())
}

/// Target name → digests of `build/<target>`.
fn target_digests(build: &Path, targets: &[&str]) -> BTreeMap<String, Option<BTreeMap<String, String>>> {
    targets
        .iter()
        .map(|target| (target.to_string(), digests(&build.join(target))))
        .collect()
}

/// Names in `dir` that a build stages or trashes.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".catbuild-tmp-") || name.starts_with(".catbuild-trash-"))
        .collect()
}

/// Which of `old` and `new` each target is; panics when one is neither.
fn old_or_new(
    context: &str,
    now: &BTreeMap<String, Option<BTreeMap<String, String>>>,
    old: &BTreeMap<String, Option<BTreeMap<String, String>>>,
    new: &BTreeMap<String, Option<BTreeMap<String, String>>>,
) -> String {
    let mut states = Vec::new();
    for (target, tree) in now {
        assert!(tree.is_some(), "{context}: target `{target}` is missing");
        if tree == &old[target] {
            states.push(format!("{target}=old"));
        } else if tree == &new[target] {
            states.push(format!("{target}=new"));
        } else {
            panic!("{context}: target `{target}` is neither the old nor the new tree: {tree:?}");
        }
    }
    states.join(",")
}

fn set_registry(project: &Path, registry: &str) {
    let path = project.join("catalog.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("registry = \"").unwrap() + "registry = \"".len();
    let end = start + text[start..].find('"').unwrap();
    std::fs::write(&path, format!("{}{registry}{}", &text[..start], &text[end..])).unwrap();
}

const EXAMPLE_TARGETS: [&str; 2] = ["ocp-4.16", "ocp-4.17"];

/// A synthetic project of `n_bundles` bundles (benches/fbc_build.py makes
/// the same) with two targets, JSON and YAML, whose every file names the
/// registry in `bundle-image`.
fn synthetic_project(n_bundles: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let synth = repo().join("../shared/corpus/synth.py");
    let status = Command::new("python3")
        .arg(&synth)
        .args(["--bundles", &n_bundles.to_string(), "--out", "tree"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .status()
        .expect("python3 runs synth.py");
    assert!(status.success(), "{} failed", synth.display());
    let init = catbuild(dir.path(), &["init", "-q", "tree"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let path = dir.path().join("catalog.toml");
    // As in benches/fbc_build.py: synth.py's replaces chains skip bundles
    // opm's validation then calls stranded; semver builds the same bundles.
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("channel-policy = \"replaces\"", "channel-policy = \"semver-template\"")
        .replace(
            "[catalog]\n",
            "[catalog]\nbundle-image = \"{{ registry }}/{{ bundle.package }}:v{{ bundle.version }}\"\n",
        )
        .replacen("\n[[package]]", "\n[vars]\nregistry = \"old.example.com\"\n\n[[package]]", 1);
    let text = text.replacen(
        "[[target]]\nname = \"default\"\nformats = [\"fbc-json\"]\n",
        "[[target]]\nname = \"json\"\nformats = [\"fbc-json\"]\n\n[[target]]\nname = \"yaml\"\nformats = [\"fbc-yaml\"]\n",
        1,
    );
    assert!(text.contains("name = \"yaml\""), "{text}");
    std::fs::write(&path, text).unwrap();
    dir
}

/// Issue 13: SIGKILL at 20 moments spread over a build leaves every target
/// all old or all new, and the next build cleans up. 100 bundles keep the
/// test fast on a busy 2-core machine; `CATBUILD_KILL_TEST_BUNDLES=1000`
/// runs the size the issue names.
#[test]
fn issue_13_sigkill_at_20_moments_leaves_each_target_old_or_new() {
    let n_bundles: usize = std::env::var("CATBUILD_KILL_TEST_BUNDLES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(100);
    let test_started = Instant::now();
    let project = synthetic_project(n_bundles);
    let build = project.path().join("build");
    let targets = ["json", "yaml"];

    set_registry(project.path(), "new.example.com");
    let started = Instant::now();
    let output = catbuild(project.path(), &["build", "-q"]);
    let mut build_time = started.elapsed();
    assert!(output.status.success(), "{}", stderr(&output));
    let new = target_digests(&build, &targets);
    set_registry(project.path(), "old.example.com");
    let started = Instant::now();
    let output = catbuild(project.path(), &["build", "-q"]);
    // Other tests share the cores: the faster build is the better guess.
    build_time = build_time.min(started.elapsed());
    assert!(output.status.success(), "{}", stderr(&output));
    let old = target_digests(&build, &targets);
    assert_ne!(old, new);

    let mut states = Vec::new();
    let mut n_killed_writing = 0;
    for kill_idx in 0..20u32 {
        // Alternate the input so every build that gets as far as swapping
        // changes the tree. The moments spread from the start to the end
        // of a build, denser towards the end, where it writes: at
        // 1 - ((20 - kill_idx) / 20)^2 of its time.
        set_registry(
            project.path(),
            if kill_idx % 2 == 0 { "new.example.com" } else { "old.example.com" },
        );
        let delay = build_time.mul_f64(1.0 - (f64::from(20 - kill_idx) / 20.0).powi(2));
        let mut child = Command::new(env!("CARGO_BIN_EXE_catbuild"))
            .args(["build", "-q"])
            .current_dir(project.path())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let now = target_digests(&build, &targets);
        let context = format!("kill {kill_idx} after {delay:?} ({status:?})");
        let state = old_or_new(&context, &now, &old, &new);
        let how = if status.signal() == Some(9) { "killed" } else { "finished" };
        // Temp dirs left behind: the kill came while the build wrote.
        let n_left = leftovers(&build).len();
        n_killed_writing += usize::from(n_left > 0);
        states.push(format!("{:.2}s:{how}:{state}:{n_left}", delay.as_secs_f64()));
    }
    let output = catbuild(project.path(), &["build", "-q"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(leftovers(&build), Vec::<String>::new());
    assert_eq!(target_digests(&build, &targets), old);
    eprintln!(
        "{n_bundles} bundles, build {:.2}s, test {:.1}s; {n_killed_writing} kills while writing; moment:outcome:state:temp dirs left: {}",
        build_time.as_secs_f64(),
        test_started.elapsed().as_secs_f64(),
        states.join(" ")
    );
}

/// Issue 13: the same without timing luck: the test hook kills the build
/// (SIGKILL) right after each filesystem step of its write, one step
/// further each time, until a build gets through.
#[test]
fn issue_13_killed_after_every_write_step_each_target_is_old_or_new() {
    let project = example_project();
    let build = project.path().join("build");
    set_registry(project.path(), "quay.io/new");
    assert!(catbuild(project.path(), &["-q"]).status.success());
    let new = target_digests(&build, &EXAMPLE_TARGETS);
    set_registry(project.path(), "quay.io/old");
    assert!(catbuild(project.path(), &["-q"]).status.success());
    let old = target_digests(&build, &EXAMPLE_TARGETS);
    assert_ne!(old, new);

    let mut n_killed = 0;
    let mut seen_states = std::collections::BTreeSet::new();
    for step in 1..1000u32 {
        // Build the other state than the first target has, so a kill
        // between the two swaps shows.
        let first_is_old = digests(&build.join(EXAMPLE_TARGETS[0])) == old[EXAMPLE_TARGETS[0]];
        set_registry(project.path(), if first_is_old { "quay.io/new" } else { "quay.io/old" });
        let output = Command::new(env!("CARGO_BIN_EXE_catbuild"))
            .arg("-q")
            .current_dir(project.path())
            .env("CATBUILD_FAIL_AFTER_STEP", step.to_string())
            .output()
            .unwrap();
        let now = target_digests(&build, &EXAMPLE_TARGETS);
        seen_states.insert(old_or_new(&format!("killed after step {step}"), &now, &old, &new));
        if output.status.success() {
            break;
        }
        assert_eq!(output.status.signal(), Some(9), "step {step}: {}", stderr(&output));
        n_killed += 1;
    }
    // Two targets of one package: temp dirs, dirs, files, fsyncs, swaps.
    assert!(n_killed >= 20, "only {n_killed} steps");
    // Kills between the two swaps leave one target new, one old.
    assert!(seen_states.contains("ocp-4.16=new,ocp-4.17=old"), "{seen_states:?}");
    assert!(catbuild(project.path(), &["-q"]).status.success());
    assert_eq!(leftovers(&build), Vec::<String>::new());
    eprintln!("killed after each of {n_killed} write steps; states seen: {seen_states:?}");
}

/// Issue 13: a build waits for another's lock, saying so on one line; with
/// `--no-wait` it fails at once, exit 2, and changes nothing.
#[test]
fn issue_13_a_build_waits_for_the_lock_or_fails_with_no_wait() {
    let project = example_project();
    let build = project.path().join("build");
    assert!(catbuild(project.path(), &["-q"]).status.success());
    let before = digests(&build);
    let lock = catbuild::output::OutputLock::acquire(&build, &catbuild::output::OutputSettings::default()).unwrap();

    set_registry(project.path(), "quay.io/changed");
    let output = catbuild(project.path(), &["build", "--no-wait"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "error: `build/.catbuild.lock` is held by another catbuild; not waiting (`--no-wait`)\n"
    );
    assert_eq!(digests(&build), before);

    let stderr_path = project.path().join("waiting.stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_catbuild"))
        .arg("build")
        .current_dir(project.path())
        .env("NO_COLOR", "1")
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&stderr_path).unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no waiting message");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(child.try_wait().unwrap().is_none(), "the build did not wait");
    assert_eq!(digests(&build), before);
    drop(lock);
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&stderr_path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("Waiting for another catbuild to release `build/.catbuild.lock`"));
    assert!(
        lines.next().unwrap().starts_with("Built catalog fruits-catalog-operators"),
        "{text}"
    );
    assert_ne!(digests(&build), before);
}

/// `catbuild clean` deletes the lock file while holding it. A build that
/// was waiting on the deleted file must not take that as the lock: it
/// locks the new file, and so waits for whoever holds that one.
#[test]
fn issue_13_a_build_waiting_on_a_deleted_lock_file_locks_the_new_one() {
    let project = example_project();
    let build = project.path().join("build");
    let settings = catbuild::output::OutputSettings::default();
    let first = catbuild::output::OutputLock::acquire(&build, &settings).unwrap();
    let stderr_path = project.path().join("waiting.stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_catbuild"))
        .arg("build")
        .current_dir(project.path())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&stderr_path).unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no waiting message");
        std::thread::sleep(Duration::from_millis(20));
    }
    // What `clean` does: remove the lock file and the directory while
    // holding the lock; then someone else locks a new file.
    std::fs::remove_file(build.join(".catbuild.lock")).unwrap();
    std::fs::remove_dir(&build).unwrap();
    let second = catbuild::output::OutputLock::acquire(&build, &settings).unwrap();
    drop(first);
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the build took a deleted file as the lock");
    assert!(!build.join("ocp-4.16").exists());
    drop(second);
    assert!(child.wait().unwrap().success());
    assert!(build.join("ocp-4.16/catalog/fruits-catalog-operator/catalog.json").is_file());
}

/// Issue 13: two builds at once, 50 times each for one project and for two
/// catalog.toml files writing the same output dir: with `--no-wait` the
/// only failure is the lock message, without it both succeed, and the
/// final tree is always one build's complete output.
#[test]
fn issue_13_concurrent_builds_serialise_on_the_lock() {
    let project = example_project();
    let build = project.path().join("build");
    let text = std::fs::read_to_string(project.path().join("catalog.toml")).unwrap();
    std::fs::write(project.path().join("other.toml"), text.replace("quay.io/example", "quay.io/other")).unwrap();
    let mut expected = Vec::new();
    for config in ["catalog.toml", "other.toml"] {
        let out = project.path().join(format!("expected-{config}"));
        let output = catbuild(project.path(), &["--config", config, "build", "-q", "--out", out.to_str().unwrap()]);
        assert!(output.status.success(), "{}", stderr(&output));
        expected.push(target_digests(&out, &EXAMPLE_TARGETS));
    }
    let lock_message = "error: `build/.catbuild.lock` is held by another catbuild; not waiting (`--no-wait`)\n";
    let mut n_busy = 0;
    let mut n_pairs = 0;
    for configs in [["catalog.toml", "catalog.toml"], ["catalog.toml", "other.toml"]] {
        for round in 0..50 {
            let no_wait = round % 2 == 0;
            let children: Vec<_> = configs
                .iter()
                .map(|config| {
                    let mut args = vec!["--config", config, "build", "-q"];
                    if no_wait {
                        args.push("--no-wait");
                    }
                    Command::new(env!("CARGO_BIN_EXE_catbuild"))
                        .args(&args)
                        .current_dir(project.path())
                        .env("NO_COLOR", "1")
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            for child in children {
                let output = child.wait_with_output().unwrap();
                if output.status.success() {
                    assert_eq!(stderr(&output), "");
                } else {
                    assert!(no_wait, "a waiting build failed: {}", stderr(&output));
                    assert_eq!(output.status.code(), Some(2));
                    assert_eq!(stderr(&output), lock_message);
                    n_busy += 1;
                }
            }
            n_pairs += 1;
            let now = target_digests(&build, &EXAMPLE_TARGETS);
            for target in EXAMPLE_TARGETS {
                assert!(
                    expected.iter().any(|reference| reference[target] == now[target]),
                    "round {round} {configs:?}: `{target}` is no build's output"
                );
            }
            assert_eq!(leftovers(&build), Vec::<String>::new());
        }
    }
    eprintln!("{n_pairs} pairs of concurrent builds, {n_busy} refused with the lock message under --no-wait");
    for target in EXAMPLE_TARGETS {
        let dir = build.join(target).join("catalog");
        let validated = catbuild(project.path(), &["validate", dir.to_str().unwrap()]);
        assert!(validated.status.success(), "{target}: {}", stderr(&validated));
    }
}

/// Issue 13: the output directory is a regular file: exit 2, the path and
/// the OS error.
#[test]
fn issue_13_output_dir_that_is_a_file_exits_2() {
    let project = example_project();
    std::fs::write(project.path().join("build"), "a file, not a directory").unwrap();
    let output = catbuild(project.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(stderr(&output), "error: cannot create `build`: File exists (os error 17)\n");
}

/// Issue 13: the lock file cannot be opened (a directory in its place):
/// exit 2 and the previous output is unchanged.
#[test]
fn issue_13_lock_file_that_is_a_directory_exits_2() {
    let project = example_project();
    assert!(catbuild(project.path(), &["-q"]).status.success());
    let build = project.path().join("build");
    std::fs::remove_file(build.join(".catbuild.lock")).unwrap();
    std::fs::create_dir(build.join(".catbuild.lock")).unwrap();
    let before = digests(&build);
    set_registry(project.path(), "quay.io/changed");
    let output = catbuild(project.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "error: cannot open the lock file `build/.catbuild.lock`: Is a directory (os error 21)\n"
    );
    assert_eq!(digests(&build), before);
}

/// Issue 13: writing fails half-way (a path longer than PATH_MAX inside the
/// temp dir, which fails even as root): exit 2 with the path, the previous
/// targets are unchanged and this build's temp dir is gone.
#[test]
fn issue_13_a_write_that_fails_half_way_changes_nothing() {
    let project = example_project();
    // 4,050 bytes: the lock file, the temp dir and its `catalog/` fit in
    // PATH_MAX (4,096 with the NUL), `catalog/fruits-catalog-operator`
    // does not.
    let mut long: PathBuf = (0..20).map(|idx| format!("{idx:02}{}", "d".repeat(198))).collect();
    long.push("x".repeat(30));
    assert_eq!(long.as_os_str().len(), 4050);
    let out = long.to_str().unwrap();
    let output = catbuild(project.path(), &["build", "--out", out]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    let prefix = format!("error: cannot create `{out}/.catbuild-tmp-ocp-4.16-");
    assert!(text.starts_with(&prefix), "{text}");
    assert!(
        text.ends_with("/catalog/fruits-catalog-operator`: File name too long (os error 36)\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    let mut left: Vec<String> = std::fs::read_dir(project.path().join(&long))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, vec![".catbuild.lock"]);
}

/// Issue 13: permission denied on the output directory exits 2 with the
/// path. Root may write anywhere, so as root the build runs as `nobody`
/// in a project it owns, with `build/` still root's.
#[test]
fn issue_13_permission_denied_on_output_exits_2() {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::CommandExt as _;
    const NOBODY: u32 = 65534;
    let project = example_project();
    assert!(catbuild(project.path(), &["-q"]).status.success());
    let build = project.path().join("build");
    let as_root = rustix::process::geteuid().is_root();
    if as_root {
        std::os::unix::fs::chown(project.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    } else {
        std::fs::set_permissions(build.join(".catbuild.lock"), std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    let before = digests(&build);
    set_registry(project.path(), "quay.io/changed");
    let mut command = Command::new(env!("CARGO_BIN_EXE_catbuild"));
    command.current_dir(project.path()).env("NO_COLOR", "1");
    if as_root {
        command.uid(NOBODY).gid(NOBODY);
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "error: cannot open the lock file `build/.catbuild.lock`: Permission denied (os error 13)\n"
    );
    assert_eq!(digests(&build), before);
}

/// Issue 13: removing a target from catalog.toml makes the next build warn
/// that its dir is stale; `catbuild clean --stale` removes it and leftover
/// temp dirs, `catbuild clean` the whole output dir.
#[test]
fn issue_13_stale_targets_are_reported_and_cleaned() {
    let project = example_project();
    assert!(catbuild(project.path(), &["-q"]).status.success());
    let build = project.path().join("build");
    let config = project.path().join("catalog.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("name = \"ocp-4.17\"", "name = \"ocp-4.18\"")).unwrap();
    std::fs::create_dir(build.join(".catbuild-tmp-ocp-4.16-killed")).unwrap();
    let output = catbuild(project.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.starts_with(
            "warning[output]: `build/ocp-4.17` is stale: catalog.toml has no target `ocp-4.17`\n  |\nhelp: `catbuild clean --stale` removes it\n\nBuilt catalog"
        ),
        "{text}"
    );
    // The killed build's temp dir went with the build.
    assert_eq!(leftovers(&build), Vec::<String>::new());
    std::fs::create_dir(build.join(".catbuild-trash-ocp-4.16-killed")).unwrap();

    let output = catbuild(project.path(), &["clean", "--stale"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "Removed `build/.catbuild-trash-ocp-4.16-killed`\nRemoved `build/ocp-4.17`\n"
    );
    let mut left: Vec<String> = std::fs::read_dir(&build)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    // `.cache` holds each target's stamp (issue 19), which is not stale.
    assert_eq!(left, vec![".cache", ".catbuild.lock", "ocp-4.16", "ocp-4.18"]);
    let output = catbuild(project.path(), &["clean", "--stale"]);
    assert_eq!(stderr(&output), "Nothing stale in `build`\n");
    let output = catbuild(project.path(), &[]);
    assert!(!stderr(&output).contains("stale"), "{}", stderr(&output));

    let output = catbuild(project.path(), &["clean"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "Removed `build`\n");
    assert!(!build.exists());
    let output = catbuild(project.path(), &["clean"]);
    assert_eq!(stderr(&output), "Nothing to clean: `build` does not exist\n");
}

/// `clean --no-wait` respects a build's lock like `build --no-wait`.
#[test]
fn issue_13_clean_does_not_remove_a_tree_under_a_build() {
    let project = example_project();
    assert!(catbuild(project.path(), &["-q"]).status.success());
    let build = project.path().join("build");
    let before = digests(&build);
    let lock = catbuild::output::OutputLock::acquire(&build, &catbuild::output::OutputSettings::default()).unwrap();
    let output = catbuild(project.path(), &["clean", "--no-wait"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: `build/.catbuild.lock` is held by another catbuild; not waiting (`--no-wait`)\n"
    );
    assert_eq!(digests(&build), before);
    drop(lock);
}
