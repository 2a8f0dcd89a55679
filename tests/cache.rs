//! The action cache end to end (issue 19), on a 200-bundle synthetic tree
//! (`../shared/corpus/synth.py`): what re-runs after an edit, read from
//! `--json`; early cutoff; a `kill -9` in the middle of a build that
//! writes the cache; `clean --cache`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{catbuild, sorted_dirs, stderr, synth_project, tree};
use serde_json::Value;

/// `(action, subject, cache, reason)` of every finished action.
type Finished = Vec<(String, String, String, String)>;

fn finished(output: &std::process::Output) -> Finished {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|event| event["type"] == "action-finish")
        .map(|event| {
            let data = &event["data"];
            let subject = match data["action"].as_str().unwrap() {
                "load-bundle" => data["bundle"].as_str().unwrap().to_string(),
                "build" => data["output"].as_str().unwrap().to_string(),
                _ => format!("{}/{}", data["target"].as_str().unwrap(), data["package"].as_str().unwrap()),
            };
            (
                data["action"].as_str().unwrap().to_string(),
                subject,
                data["cache"].as_str().unwrap().to_string(),
                data["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The `(action, subject)` pairs that ran (cache `miss`).
fn ran(actions: &Finished) -> BTreeSet<(String, String)> {
    actions
        .iter()
        .filter(|(_, _, cache, _)| cache == "miss")
        .map(|(action, subject, _, _)| (action.clone(), subject.clone()))
        .collect()
}

fn csv_of(bundle: &Path) -> PathBuf {
    std::fs::read_dir(bundle.join("manifests"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(".clusterserviceversion.yaml"))
        .unwrap()
}

/// Actions named as `--json` names them: the load of each of `bundles`
/// and the encoding of their package in the default target.
fn package_reloaded(project: &Path, bundles: &[PathBuf], package_name: &str) -> BTreeSet<(String, String)> {
    let mut expected: BTreeSet<(String, String)> = bundles
        .iter()
        .map(|bundle| ("load-bundle".to_string(), relative(project, bundle)))
        .collect();
    expected.insert(("encode-package".to_string(), format!("default/{package_name}")));
    expected
}

fn relative(project: &Path, path: &Path) -> String {
    path.strip_prefix(project).unwrap().display().to_string()
}

/// A clean build without the cache, into `dir`: the reference bytes.
fn reference(project: &Path, dir: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let output = catbuild(project, &["build", "-q", "--no-cache", "--out", dir]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!project.join(dir).join(".cache").exists(), "--no-cache wrote a cache");
    tree(&project.join(dir))
}

#[test]
fn issue_19_one_csv_edit_reruns_exactly_what_depends_on_it() {
    let project = synth_project(200, 8, "cache-edit");
    let dir = project.path();
    let first = finished(&catbuild(dir, &["build", "--json"]));
    assert_eq!(first.len(), 208, "200 bundles and 8 packages");
    assert_eq!(ran(&first).len(), 208, "a cold build runs everything");
    assert!(first.iter().all(|(_, _, _, reason)| reason == "not in the cache"), "{first:?}");

    // A second identical build runs nothing (STYLE 5.8).
    let again = finished(&catbuild(dir, &["build", "--json"]));
    assert_eq!(again.len(), 208);
    assert_eq!(ran(&again), BTreeSet::new());

    // One CSV edited: its package's bundles are loaded again (linking
    // needs them all) and the package is encoded again; nothing else.
    let package = sorted_dirs(&dir.join("tree")).remove(0);
    let package_name = package.file_name().unwrap().to_string_lossy().into_owned();
    let bundles = sorted_dirs(&package);
    let edited = &bundles[0];
    let csv = csv_of(edited);
    let text = std::fs::read_to_string(&csv).unwrap();
    let changed = text.replacen("\"replicas\": 1,", "\"replicas\": 2,", 1);
    assert_ne!(changed, text);
    std::fs::write(&csv, changed).unwrap();
    let after_edit = finished(&catbuild(dir, &["build", "--json"]));
    assert_eq!(ran(&after_edit), package_reloaded(dir, &bundles, &package_name));
    assert_eq!(after_edit.len(), 208);
    let reason_of = |actions: &Finished, subject: &str| {
        actions
            .iter()
            .find(|(_, candidate, _, _)| candidate == subject)
            .map(|(_, _, _, reason)| reason.clone())
            .unwrap()
    };
    assert_eq!(
        reason_of(&after_edit, &relative(dir, edited)),
        format!("input `{}` changed", relative(dir, &csv))
    );
    assert_eq!(
        reason_of(&after_edit, &format!("default/{package_name}")),
        format!("bundle `{}` changed", relative(dir, edited))
    );
    // And the bytes are those of a clean build.
    let built = tree(&dir.join("build/default"));
    reference(dir, "reference");
    assert!(
        built == tree(&dir.join("reference/default")),
        "the incremental build differs from a clean build"
    );

    // Early cutoff: a comment and blank lines load to the same bundle, so
    // only that bundle's load runs.
    std::fs::write(&csv, format!("{}\n# a comment\n\n", std::fs::read_to_string(&csv).unwrap())).unwrap();
    let after_comment = finished(&catbuild(dir, &["build", "--json"]));
    assert_eq!(
        ran(&after_comment),
        BTreeSet::from([("load-bundle".to_string(), relative(dir, edited))])
    );
    assert_eq!(tree(&dir.join("build/default")), built);
}

#[test]
fn issue_19_kill_9_while_the_cache_is_written_never_gives_a_false_hit() {
    let project = synth_project(200, 8, "cache-kill");
    let dir = project.path();
    let expected = reference(dir, "reference");
    let expected_default: Vec<(String, Vec<u8>)> = expected.into_iter().filter(|(path, _)| path.starts_with("default/")).collect();
    let started = Instant::now();
    let cold = catbuild(dir, &["build", "-q"]);
    assert_eq!(cold.status.code(), Some(0), "{}", stderr(&cold));
    let build_time = started.elapsed();
    let mut n_killed = 0;
    for kill_idx in 0..6u32 {
        // Cold each time, so the killed build is writing the cache.
        std::fs::remove_dir_all(dir.join("build")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_catbuild"))
            .args(["build", "-q"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(build_time.mul_f64(f64::from(kill_idx + 1) / 7.0));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if std::os::unix::process::ExitStatusExt::signal(&status) == Some(9) {
            n_killed += 1;
        }
        let rebuilt = catbuild(dir, &["build", "-q"]);
        assert_eq!(rebuilt.status.code(), Some(0), "kill {kill_idx}: {}", stderr(&rebuilt));
        let got: Vec<(String, Vec<u8>)> = tree(&dir.join("build"))
            .into_iter()
            .filter(|(path, _)| path.starts_with("default/"))
            .collect();
        assert!(got == expected_default, "kill {kill_idx}: the rebuild differs from a clean build");
        // And once more from the cache alone.
        let cached = catbuild(dir, &["build", "-q"]);
        assert_eq!(cached.status.code(), Some(0));
        let got: Vec<(String, Vec<u8>)> = tree(&dir.join("build"))
            .into_iter()
            .filter(|(path, _)| path.starts_with("default/"))
            .collect();
        assert!(
            got == expected_default,
            "kill {kill_idx}: the cached build differs from a clean build"
        );
    }
    assert!(n_killed >= 3, "only {n_killed} of 6 builds were killed mid-way");
}

#[test]
fn clean_cache_removes_the_cache_and_nothing_else() {
    let project = synth_project(25, 1, "cache-clean");
    let dir = project.path();
    let output = catbuild(dir, &["build", "-q"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(dir.join("build/.cache/v1/memo").is_file());
    let built = tree(&dir.join("build"));
    let output = catbuild(dir, &["clean", "--cache"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "Removed `build/.cache`\n");
    assert!(!dir.join("build/.cache").exists());
    assert_eq!(tree(&dir.join("build")), built);
    let output = catbuild(dir, &["clean", "--cache"]);
    assert_eq!(stderr(&output), "Nothing to clean: `build/.cache` does not exist\n");
}

#[test]
fn a_failed_first_build_leaves_no_cache_behind() {
    let project = synth_project(25, 1, "cache-fail");
    let dir = project.path();
    let bundle = sorted_dirs(&sorted_dirs(&dir.join("tree"))[0]).remove(0);
    std::fs::write(csv_of(&bundle), "kind: ClusterServiceVersion\nmetadata: [unclosed\n").unwrap();
    let output = catbuild(dir, &["build", "-q"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        !dir.join("build").exists(),
        "{:?}",
        std::fs::read_dir(dir.join("build")).map(|entries| entries.count())
    );
}

fn inode(path: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap())
}

/// Rewrites the first `"replicas": N,` of `csv` to `value`.
fn set_replicas(csv: &Path, value: u32) {
    let text = std::fs::read_to_string(csv).unwrap();
    let start = text.find("\"replicas\": ").unwrap() + "\"replicas\": ".len();
    let end = start + text[start..].find(',').unwrap();
    std::fs::write(csv, format!("{}{value}{}", &text[..start], &text[end..])).unwrap();
}

/// A change made to a file, named for the assertion messages.
type Change = fn(&Path);

fn build_quietly(dir: &Path) {
    let output = catbuild(dir, &["build", "-q"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn issue_19_an_unchanged_target_stays_in_place_and_a_changed_one_reuses_its_files() {
    let project = synth_project(60, 3, "cache-in-place");
    let dir = project.path();
    let packages = sorted_dirs(&dir.join("tree"));
    let package_file = |idx: usize| {
        let name = packages[idx].file_name().unwrap().to_string_lossy().into_owned();
        dir.join("build/default/catalog").join(name).join("catalog.json")
    };
    build_quietly(dir);
    let target = dir.join("build/default");
    let (target_inode, file_inode) = (inode(&target), inode(&package_file(1)));
    // The cache keeps each output as a second link to it, not a copy; an
    // output changed in place (the first tamper below) is then a damaged
    // blob, which the next build must not trust.
    let links = std::os::unix::fs::MetadataExt::nlink(&std::fs::metadata(package_file(1)).unwrap());
    assert_eq!(links, 2, "the cache copied the output instead of linking it");
    let expected = reference(dir, "reference");
    let expected_default = |built: &Path| -> bool {
        let want: std::collections::BTreeMap<String, Vec<u8>> = expected
            .iter()
            .filter_map(|(path, bytes)| Some((path.strip_prefix("default/")?.to_string(), bytes.clone())))
            .collect();
        tree(built) == want
    };
    assert!(expected_default(&target));

    // A no-op build leaves the very same directory and files.
    build_quietly(dir);
    assert_eq!((inode(&target), inode(&package_file(1))), (target_inode, file_inode));

    // A published file changed by hand (same size, later mtime), a file
    // added, a file removed: each time the target no longer matches its
    // stamp and is staged again, back to the build's bytes.
    let tampers: [(&str, Change); 3] = [
        ("rewritten", |file| {
            let mut bytes = std::fs::read(file).unwrap();
            bytes[0] ^= 1;
            std::fs::write(file, bytes).unwrap();
        }),
        ("added beside", |file| {
            std::fs::write(file.with_file_name("extra.json"), "{}").unwrap()
        }),
        ("removed", |file| std::fs::remove_file(file).unwrap()),
    ];
    // Each restage is compared with the directory it replaced, which is
    // alive while the new one is staged: the first target's inode is freed
    // by the first restage and the filesystem may hand it out again.
    for (what, tamper) in tampers {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let replaced = inode(&target);
        tamper(&package_file(1));
        assert!(!expected_default(&target), "{what}: the tamper changed nothing");
        build_quietly(dir);
        assert!(expected_default(&target), "{what}: the build did not restore the target");
        assert_ne!(inode(&target), replaced, "{what}: the target was not staged again");
    }

    // One CSV edit in the first package: only its file is new, renamed
    // over the published one; the target and its other files stay.
    let (target_inode, file_inode) = (inode(&target), inode(&package_file(1)));
    let edited_inode = inode(&package_file(0));
    set_replicas(&csv_of(&sorted_dirs(&packages[0])[0]), 7);
    build_quietly(dir);
    assert_eq!(inode(&target), target_inode, "a one-file change staged the whole target");
    assert_eq!(inode(&package_file(1)), file_inode, "an unchanged file was written again");
    assert_ne!(inode(&package_file(0)), edited_inode);
    let built = tree(&target);
    reference(dir, "reference-edited");
    assert!(
        built == tree(&dir.join("reference-edited/default")),
        "the edited build differs from a clean build"
    );
    let mut beside: Vec<String> = std::fs::read_dir(dir.join("build"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    beside.sort();
    assert_eq!(beside, [".cache", ".catbuild.lock", "default"], "a temp dir was left behind");

    // Two packages edited: the target is staged again, and the unchanged
    // packages' files are the published ones, linked into the new tree.
    let edited_inode = inode(&package_file(2));
    set_replicas(&csv_of(&sorted_dirs(&packages[0])[0]), 8);
    set_replicas(&csv_of(&sorted_dirs(&packages[2])[0]), 8);
    build_quietly(dir);
    assert_ne!(inode(&target), target_inode);
    assert_eq!(inode(&package_file(1)), file_inode, "an unchanged file was written again");
    assert_ne!(inode(&package_file(2)), edited_inode);
    let built = tree(&target);
    reference(dir, "reference-edited-twice");
    assert!(
        built == tree(&dir.join("reference-edited-twice/default")),
        "the build with two edits differs from a clean build"
    );
}

/// Sets `path`'s mtime `seconds` in the past: old enough for the stat memo
/// to keep its digest (a file changed just now is rehashed next time).
fn age(path: &Path, seconds: u64) {
    let when = std::time::SystemTime::now() - std::time::Duration::from_secs(seconds);
    std::fs::File::options()
        .append(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

/// The stat memo is a journal of batches, each trusted only with its
/// `commit` line (the CRC-32 of its lines): a batch torn by a `kill -9`
/// in the middle of an append, or damaged, is ignored, so it can never
/// pair a file's current stat with another content's digest. The control
/// shows what such a pairing would do if it were trusted: a stale build.
#[test]
fn issue_19_a_torn_memo_batch_is_never_trusted() {
    let project = synth_project(12, 2, "cache-memo-torn");
    let dir = project.path();
    let bundle = sorted_dirs(&sorted_dirs(&dir.join("tree"))[0])[0].clone();
    let csv = csv_of(&bundle);
    let csv_tail = relative(dir, &csv);
    let memo_path = dir.join("build/.cache/v1/memo");
    // The memo line giving the CSV's stat and digest, last one wins.
    let csv_line = || -> String {
        let text = std::fs::read_to_string(&memo_path).unwrap();
        let line = text.lines().rfind(|line| line.starts_with("f\t") && line.ends_with(&csv_tail));
        line.expect("the CSV is in the memo").to_string()
    };
    set_replicas(&csv, 5);
    age(&csv, 60);
    build_quietly(dir);
    let digest_5 = csv_line().split('\t').nth(5).unwrap().to_string();
    set_replicas(&csv, 6);
    age(&csv, 30);
    build_quietly(dir);
    let expected = reference(dir, "reference-6");
    let built = |dir: &Path| tree(&dir.join("build/default"));
    let want: std::collections::BTreeMap<String, Vec<u8>> = expected
        .iter()
        .filter_map(|(path, bytes)| Some((path.strip_prefix("default/")?.to_string(), bytes.clone())))
        .collect();
    assert!(built(dir) == want);
    // The CSV's current stat, paired with the digest of its old content.
    let mut fields: Vec<String> = csv_line().split('\t').map(str::to_string).collect();
    assert_ne!(fields[5], digest_5, "the edit changed the CSV's digest");
    fields[5] = digest_5;
    let forged = format!("{}\n", fields.join("\t"));
    let journal = std::fs::read_to_string(&memo_path).unwrap();
    let commit = |lines: &str| format!("commit\t{:08x}\n", crc32fast::hash(lines.as_bytes()));
    // The CSV's ctime moves and nothing else of its stat: the build
    // stamp no longer vouches for its bundle, which is keyed again through
    // the memo (size, mtime, inode and device), bytes unchanged.
    let touch_csv = || {
        let mtime = std::fs::metadata(&csv).unwrap().modified().unwrap();
        std::fs::File::options()
            .append(true)
            .open(&csv)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    };
    let cases = [
        ("torn: no commit", format!("{journal}begin\n{forged}")),
        (
            "torn in its last line",
            format!("{journal}begin\n{forged}{}", &commit(&forged)[..12]),
        ),
        (
            "damaged: the commit is another batch's",
            format!("{journal}begin\n{forged}{}", commit("f\tx\n")),
        ),
    ];
    for (what, text) in cases {
        std::fs::write(&memo_path, text).unwrap();
        touch_csv();
        build_quietly(dir);
        assert!(built(dir) == want, "{what}: the forged digest was trusted");
    }
    // Control: the same line in a whole batch is trusted (the memo is a
    // hint the cache believes), and the build is stale.
    std::fs::write(&memo_path, format!("{journal}begin\n{forged}{}", commit(&forged))).unwrap();
    touch_csv();
    build_quietly(dir);
    assert!(
        built(dir) != want,
        "control: a whole forged batch changed nothing, so the test proves nothing"
    );
}

/// `kill -9` at every step of publishing an incremental build (a package
/// restaged, the others linked, the stamp written last): the target is
/// always the old tree or the new one, and the next build gives a clean
/// build's bytes.
#[test]
fn issue_19_kill_9_at_every_step_of_an_incremental_publish() {
    let project = synth_project(40, 3, "cache-kill-steps");
    let csv = csv_of(&sorted_dirs(&sorted_dirs(&project.path().join("tree"))[0])[0]);
    kill_at_every_step(project.path(), &csv, &[], 200);
}

/// Whether `now` is a whole target at a moment of publishing `new` over
/// `old`: its catalog side (everything but the OCI layout) is the old or
/// the new one, its layout's `index.json` and `oci-layout` are one
/// version's, every blob that version has is there, and any other blob
/// is the other version's (blobs are added before the `index.json` that
/// names them and removed after it, `output::Publication::patch`). A
/// target without images is thus the old tree or the new one.
fn whole_target(now: &Tree, old: &Tree, new: &Tree) -> bool {
    let side = |tree: &Tree, layout: bool| -> Tree {
        tree.iter()
            .filter(|(path, _)| path.starts_with("oci/") == layout && !path.starts_with("oci/blobs/"))
            .map(|(path, bytes)| (path.clone(), bytes.clone()))
            .collect()
    };
    let blobs = |tree: &Tree| -> Tree {
        tree.iter()
            .filter(|(path, _)| path.starts_with("oci/blobs/"))
            .map(|(path, bytes)| (path.clone(), bytes.clone()))
            .collect()
    };
    let catalog_whole = side(now, false) == side(old, false) || side(now, false) == side(new, false);
    let now_blobs = blobs(now);
    let known = |path: &String, bytes: &Vec<u8>| old.get(path) == Some(bytes) || new.get(path) == Some(bytes);
    let layout_whole = [old, new].iter().any(|version| {
        side(now, true) == side(version, true) && blobs(version).iter().all(|(path, bytes)| now_blobs.get(path) == Some(bytes))
    }) && now_blobs.iter().all(|(path, bytes)| known(path, bytes));
    catalog_whole && layout_whole
}

type Tree = std::collections::BTreeMap<String, Vec<u8>>;

/// Builds `dir` (with `extra` arguments) with its CSV `csv` flipping
/// between two values, killed after step 1, 2, ... of each build until a
/// build runs to the end or `max_steps`: the target is always whole
/// ([`whole_target`]; without images, the old tree or the new one), and
/// the build after each kill gives a clean build's bytes. At least 5
/// steps must have been killed.
fn kill_at_every_step(dir: &Path, csv: &Path, extra: &[&str], max_steps: u32) {
    let args =
        |more: &[&'static str]| -> Vec<String> { ["build", "-q"].iter().chain(extra).chain(more).map(|arg| arg.to_string()).collect() };
    let build = |more: &[&'static str]| {
        let args = args(more);
        let output = catbuild(dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
    };
    let mut references = Vec::new();
    for (value, name) in [(5, "reference-5"), (6, "reference-6")] {
        set_replicas(csv, value);
        build(&["--no-cache", "--out", name]);
        references.push(tree(&dir.join(name).join("default")));
    }
    build(&[]); // value 6
    let mut state = 1;
    let mut n_killed = 0;
    for step in 1..max_steps {
        let next = 1 - state;
        set_replicas(csv, [5, 6][next]);
        let output = Command::new(env!("CARGO_BIN_EXE_catbuild"))
            .args(args(&[]))
            .current_dir(dir)
            .env("CATBUILD_FAIL_AFTER_STEP", step.to_string())
            .output()
            .unwrap();
        let killed = std::os::unix::process::ExitStatusExt::signal(&output.status) == Some(9);
        let now = tree(&dir.join("build/default"));
        assert!(
            whole_target(&now, &references[state], &references[next]),
            "step {step}: the target is neither the old tree nor the new one, nor between them as a patch leaves it"
        );
        if !killed {
            assert_eq!(output.status.code(), Some(0), "step {step}: {}", stderr(&output));
        }
        build(&[]);
        assert!(
            tree(&dir.join("build/default")) == references[next],
            "step {step}: the rebuild differs from a clean build"
        );
        state = next;
        if !killed {
            break;
        }
        n_killed += 1;
    }
    assert!(n_killed >= 5, "only {n_killed} steps");
}

/// A change made to the project, named for the assertion messages.
type Edit<'a> = Box<dyn Fn() + 'a>;

/// Runs `catbuild build --json` with `args` and `env`; whether the
/// whole-build stamp answered it (nothing else ran).
fn up_to_date(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> bool {
    let output = Command::new(env!("CARGO_BIN_EXE_catbuild"))
        .args(["build", "--json"])
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .unwrap();
    let actions = finished(&output);
    let answered = actions.iter().any(|(action, _, cache, _)| action == "build" && cache == "hit");
    if answered {
        assert_eq!(actions.len(), 1, "a stamped build runs nothing else: {actions:?}");
    }
    answered
}

/// Builds until a whole-build stamp is written (inputs older than the
/// build by more than its clock slack), and checks the next build is
/// answered by it.
fn stamp(dir: &Path, args: &[&str], env: &[(&str, &str)]) {
    std::thread::sleep(std::time::Duration::from_millis(60));
    up_to_date(dir, args, env);
    assert!(up_to_date(dir, args, env), "no stamp after two builds with {args:?} {env:?}");
}

/// Issue 19: a no-op build is answered before planning by a whole-build
/// stamp, and every kind of change to what a build reads (or to the
/// output it left) makes the next build run, with a clean build's bytes.
#[test]
fn issue_19_the_whole_build_stamp_is_broken_by_every_kind_of_change() {
    let project = synth_project(25, 1, "cache-fresh");
    let dir = project.path();
    let bundles = sorted_dirs(&sorted_dirs(&dir.join("tree"))[0]);
    let csv = csv_of(&bundles[0]);
    let elsewhere = tempfile::tempdir().unwrap();
    // A --no-cache build outside the project, whose files the stamped
    // build must equal.
    let check_bytes = |what: &str| {
        let out = elsewhere.path().join("reference");
        let output = catbuild(dir, &["build", "-q", "--no-cache", "--out", out.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{what}: {}", stderr(&output));
        assert!(
            tree(&dir.join("build/default")) == tree(&out.join("default")),
            "{what}: the build differs from a clean build"
        );
    };
    build_quietly(dir);
    stamp(dir, &[], &[]);
    check_bytes("no-op");
    // A no-op writes nothing: the published files keep their inodes.
    let catalog = std::fs::read_dir(dir.join("build/default/catalog"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let catalog_file = catalog.join("catalog.json");
    let before = inode(&catalog_file);
    assert!(up_to_date(dir, &[], &[]));
    assert_eq!(inode(&catalog_file), before);

    let changes: Vec<(&str, Edit)> = vec![
        ("a CSV edited", Box::new(|| set_replicas(&csv, 3))),
        (
            "a CSV touched, same size",
            Box::new(|| {
                let file = std::fs::File::options().append(true).open(&csv).unwrap();
                file.set_modified(std::time::SystemTime::now()).unwrap();
            }),
        ),
        (
            "a CSV rewritten, same size, its mtime put back",
            Box::new(|| {
                let mtime = std::fs::metadata(&csv).unwrap().modified().unwrap();
                set_replicas(&csv, 4);
                let file = std::fs::File::options().append(true).open(&csv).unwrap();
                file.set_modified(mtime).unwrap();
            }),
        ),
        (
            "a new manifest",
            Box::new(|| {
                let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n";
                std::fs::write(bundles[1].join("manifests/extra-configmap.yaml"), text).unwrap();
            }),
        ),
        (
            "a manifest removed",
            Box::new(|| std::fs::remove_file(bundles[1].join("manifests/extra-configmap.yaml")).unwrap()),
        ),
        (
            "a bundle directory renamed",
            Box::new(|| std::fs::rename(&bundles[2], bundles[2].with_file_name("renamed")).unwrap()),
        ),
        // The stamp that missed still vouches for the bundles under which
        // nothing changed; these change a bundle only through a directory
        // above its files, or through a link.
        (
            "a manifests directory replaced by an edited copy",
            Box::new(|| {
                let manifests = bundles[3].join("manifests");
                let copy = bundles[3].join("manifests.new");
                std::fs::create_dir(&copy).unwrap();
                for entry in std::fs::read_dir(&manifests).unwrap() {
                    let path = entry.unwrap().path();
                    std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
                }
                set_replicas(&copy.join(csv_of(&bundles[3]).file_name().unwrap()), 5);
                std::fs::remove_dir_all(&manifests).unwrap();
                std::fs::rename(&copy, &manifests).unwrap();
            }),
        ),
        (
            "a file beside the bundles changed",
            Box::new(|| std::fs::write(bundles[0].parent().unwrap().join("notes.txt"), "not an input").unwrap()),
        ),
        (
            "a file added at the project's root, then a CSV edited",
            Box::new(|| {
                std::fs::write(dir.join("README.txt"), "not an input").unwrap();
                set_replicas(&csv_of(&bundles[5]), 8);
            }),
        ),
        (
            "a manifest made a link to a file outside its bundle",
            Box::new(|| {
                let shared = dir.join("shared-manifests");
                std::fs::create_dir_all(&shared).unwrap();
                let csv = csv_of(&bundles[4]);
                std::fs::rename(&csv, shared.join("csv.yaml")).unwrap();
                std::os::unix::fs::symlink(shared.join("csv.yaml"), &csv).unwrap();
            }),
        ),
        (
            "the file a manifest links to edited",
            Box::new(|| set_replicas(&dir.join("shared-manifests/csv.yaml"), 6)),
        ),
        (
            "a comment added to catalog.toml",
            Box::new(|| {
                let text = std::fs::read_to_string(dir.join("catalog.toml")).unwrap();
                std::fs::write(dir.join("catalog.toml"), format!("{text}# a comment\n")).unwrap();
            }),
        ),
        (
            "a catalog.toml setting changed",
            Box::new(|| {
                let text = std::fs::read_to_string(dir.join("catalog.toml")).unwrap();
                let changed = text.replacen("[catalog]\n", "[catalog]\ndisplay-name = \"Renamed\"\n", 1);
                assert_ne!(changed, text);
                std::fs::write(dir.join("catalog.toml"), changed).unwrap();
            }),
        ),
        (
            "a published file changed by hand",
            Box::new(|| {
                let mut bytes = std::fs::read(&catalog_file).unwrap();
                bytes[0] ^= 1;
                std::fs::write(&catalog_file, bytes).unwrap();
            }),
        ),
        (
            "the stamp written by another catbuild",
            Box::new(|| {
                for entry in std::fs::read_dir(dir.join("build/.cache/v1/stamps")).unwrap() {
                    let path = entry.unwrap().path();
                    let text = std::fs::read_to_string(&path).unwrap();
                    if text.starts_with("catbuild build stamp") {
                        let line = text.lines().nth(1).unwrap().to_string();
                        std::fs::write(&path, text.replacen(&line, "version 0.0.0 other", 1)).unwrap();
                    }
                }
            }),
        ),
    ];
    for (what, change) in changes {
        change();
        assert!(!up_to_date(dir, &[], &[]), "{what}: the stamp still answered");
        check_bytes(what);
        stamp(dir, &[], &[]);
    }

    // A flag or an environment variable that changes what is written.
    assert!(!up_to_date(dir, &["--format", "fbc-yaml"], &[]), "--format");
    stamp(dir, &["--format", "fbc-yaml"], &[]);
    assert!(
        !up_to_date(dir, &["--format", "fbc-yaml"], &[("SOURCE_DATE_EPOCH", "1")]),
        "SOURCE_DATE_EPOCH"
    );
    assert!(!up_to_date(dir, &[], &[]), "back to the default format");
    check_bytes("back to the default format");

    // An input whose mtime is not older than the build (changed while it
    // ran, or a clock ahead): its stats cannot tell a change within the
    // same clock tick, so the stamp keeps the digest of the bytes the build
    // used, and every check hashes the file again.
    stamp(dir, &[], &[]);
    let file = std::fs::File::options().append(true).open(&csv).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600))
        .unwrap();
    assert!(!up_to_date(dir, &[], &[]));
    assert!(up_to_date(dir, &[], &[]), "a racy input known by its bytes is stamped");
    // Bytes that no longer hash to that digest (as after a change in the
    // same tick, which leaves the stats as they were): not answered.
    let mut racy_lines = 0;
    for entry in std::fs::read_dir(dir.join("build/.cache/v1/stamps")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let other = format!("r sha256:{} ", "0".repeat(64));
        let changed: String = text
            .lines()
            .map(|line| match line.strip_prefix("r sha256:") {
                Some(rest) if rest.ends_with(csv.to_str().unwrap()) => {
                    racy_lines += 1;
                    format!("{other}{}\n", &rest[65..])
                }
                _ => format!("{line}\n"),
            })
            .collect();
        std::fs::write(&path, changed).unwrap();
    }
    assert_eq!(racy_lines, 1, "the stamp names the racy CSV once");
    assert!(!up_to_date(dir, &[], &[]), "a racy file's bytes were not checked");
    check_bytes("a racy file's bytes differ from the stamp's");
}

/// Issue 19: bundles reached through a link (here `tree`, a link to one
/// of two copies of the tree) are vouched for by where they are: the link
/// retargeted to the other copy, whose CSV differs, rebuilds with a clean
/// build's bytes, and the next build after it is a no-op.
#[test]
fn issue_19_a_link_to_the_bundles_retargeted_is_a_change() {
    let project = synth_project(12, 1, "cache-link");
    let dir = project.path();
    std::fs::rename(dir.join("tree"), dir.join("tree-a")).unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(dir.join("tree-a"))
        .arg(dir.join("tree-b"))
        .status()
        .unwrap();
    assert!(status.success());
    let bundles = sorted_dirs(&sorted_dirs(&dir.join("tree-b"))[0]);
    set_replicas(&csv_of(&bundles[0]), 7);
    std::os::unix::fs::symlink("tree-a", dir.join("tree")).unwrap();
    build_quietly(dir);
    stamp(dir, &[], &[]);
    std::fs::remove_file(dir.join("tree")).unwrap();
    std::os::unix::fs::symlink("tree-b", dir.join("tree")).unwrap();
    assert!(!up_to_date(dir, &[], &[]));
    let clean = reference(dir, "reference");
    let built = tree(&dir.join("build/default"));
    let want: std::collections::BTreeMap<String, Vec<u8>> = clean
        .iter()
        .filter_map(|(path, bytes)| Some((path.strip_prefix("default/")?.to_string(), bytes.clone())))
        .collect();
    assert!(built == want, "the build after the link moved differs from a clean build");
    stamp(dir, &[], &[]);
}

/// Issue 19: the example project (deployment objects in both targets) and
/// an SQLite build of it are no-ops once stamped: `index.db` and the
/// deployment files keep their inodes, and a manifest edit rebuilds them.
#[test]
fn issue_19_sqlite_and_deploy_targets_are_no_ops_too() {
    let project = common::example_project();
    let dir = project.path();
    // ocp-4.17 migrates CSVs away, which an index.db cannot hold.
    let args = ["--target", "ocp-4.16", "--format", "fbc-json,sqlite"];
    build_quietly(dir);
    stamp(dir, &args, &[]);
    let index_db = dir.join("build/ocp-4.16/index.db");
    // The target was built without SQLite first: its new index.db must
    // not be dropped for the unchanged target's stamp.
    assert!(index_db.is_file(), "index.db missing after adding the sqlite format");
    let deploy_dir = dir.join("build/ocp-4.16/deploy");
    let deploy_file = std::fs::read_dir(&deploy_dir).unwrap().next().unwrap().unwrap().path();
    let before = (inode(&index_db), inode(&deploy_file));
    let bytes = tree(&dir.join("build"));
    assert!(up_to_date(dir, &args, &[]));
    assert_eq!((inode(&index_db), inode(&deploy_file)), before);
    assert!(tree(&dir.join("build")) == bytes);
    // Another output directory in the project is not an input: building
    // into it again (new files) leaves this stamp standing.
    let other = ["build", "-q", "--target", "ocp-4.16", "--out", "other"];
    assert_eq!(catbuild(dir, &other).status.code(), Some(0));
    stamp(dir, &args, &[]);
    let output = catbuild(dir, &[&other[..], &["--format", "fbc-yaml"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(up_to_date(dir, &args, &[]), "a build into another output directory broke the stamp");
    // An edit rebuilds them, as a clean build would.
    let csv = dir.join("manifests/fruits-catalog-operator/0.0.1/manifests/fruits-catalog-operator.clusterserviceversion.yaml");
    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, text.replacen("description:", "description: edited", 1)).unwrap();
    assert!(!up_to_date(dir, &args, &[]));
    let elsewhere = tempfile::tempdir().unwrap();
    let out = elsewhere.path().join("reference");
    let output = catbuild(
        dir,
        &[
            "build",
            "-q",
            "--no-cache",
            "--target",
            "ocp-4.16",
            "--format",
            "fbc-json,sqlite",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let targets =
        |built: &Path| -> Vec<(String, Vec<u8>)> { tree(built).into_iter().filter(|(path, _)| path.starts_with("ocp-4.16/")).collect() };
    assert!(
        targets(&dir.join("build")) == targets(&out),
        "the rebuild differs from a clean build"
    );
}

/// The files of `dir`'s OCI layout that are blobs, with their inodes.
fn blob_inodes(dir: &Path) -> std::collections::BTreeMap<String, u64> {
    std::fs::read_dir(dir.join("oci/blobs/sha256"))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (entry.file_name().to_string_lossy().into_owned(), inode(&entry.path()))
        })
        .collect()
}

/// The layer digests of `target`'s File-Based Catalog image, bottom first.
fn catalog_layers(target: &Path) -> Vec<String> {
    image_layers(target, "catalog-fbc-json")
}

/// The layer digests of the image `tag` names in `target`'s layout.
fn image_layers(target: &Path, tag: &str) -> Vec<String> {
    let blob = |digest: &str| -> Value {
        let path = target.join("oci/blobs/sha256").join(digest.trim_start_matches("sha256:"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let index: Value = serde_json::from_slice(&std::fs::read(target.join("oci/index.json")).unwrap()).unwrap();
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap();
    blob(entry["digest"].as_str().unwrap())["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer["digest"].as_str().unwrap().to_string())
        .collect()
}

/// A build that does not push holds no catalog layer: each FBC layer is
/// written into the cache as it is made and linked into the layout, the
/// SQLite index's into the staging, and the catalog's files are read back
/// bucket by bucket. The layout is the one a build without a cache makes
/// (layers in memory), every blob is its digest's bytes, and no scratch
/// file is left.
#[test]
fn issue_19_a_build_that_does_not_push_writes_its_layers_once_and_holds_none() {
    use sha2::Digest as _;
    let project = synth_project(24, 3, "cache-spill");
    let dir = project.path();
    let all = ["build", "-q", "--format", "fbc-json,sqlite", "--images"];
    let output = catbuild(dir, &all);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let target = dir.join("build/default");
    let blob_file = |digest: &str| target.join("oci/blobs/sha256").join(digest.trim_start_matches("sha256:"));
    let cache_blob = |digest: &str| dir.join("build/.cache/v1/blobs").join(digest.trim_start_matches("sha256:"));
    let fbc_layers = catalog_layers(&target);
    assert_eq!(fbc_layers.len(), 3, "{fbc_layers:?}");
    for layer in &fbc_layers {
        assert_eq!(
            inode(&blob_file(layer)),
            inode(&cache_blob(layer)),
            "{layer} was not linked from the cache"
        );
    }
    let sqlite_layers = image_layers(&target, "catalog-sqlite");
    assert_eq!(sqlite_layers.len(), 1);
    assert!(!cache_blob(&sqlite_layers[0]).exists(), "the index's layer went into the cache");
    for entry in std::fs::read_dir(target.join("oci/blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        let digest: String = sha2::Sha256::digest(std::fs::read(entry.path()).unwrap())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(digest, entry.file_name().to_string_lossy(), "a blob is not its digest's bytes");
    }
    let leftovers: Vec<String> = walk_names(&dir.join("build"))
        .into_iter()
        .filter(|name| name.contains("scratch"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
    let clean = catbuild(dir, &[&all[..], &["--no-cache", "--out", "reference"]].concat());
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    assert!(
        tree(&target) == tree(&dir.join("reference/default")),
        "the build differs from one without a cache"
    );
    // The next build, after an edit, splices and links from those blobs.
    let packages = sorted_dirs(&dir.join("tree"));
    set_replicas(&csv_of(&sorted_dirs(&packages[0])[0]), 5);
    let output = catbuild(dir, &all);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let clean = catbuild(dir, &[&all[..], &["--no-cache", "--out", "reference-edited"]].concat());
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    assert!(
        tree(&target) == tree(&dir.join("reference-edited/default")),
        "the edited build differs from one without a cache"
    );
}

/// Every name under `dir`, at any depth.
fn walk_names(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        names.push(entry.file_name().to_string_lossy().into_owned());
        if entry.file_type().unwrap().is_dir() {
            names.extend(walk_names(&entry.path()));
        }
    }
    names
}

/// With `--images`, each package's encoding and its bundle images are
/// cached together: a rebuild runs nothing, an edit re-runs its package
/// (whose bundle image changes even when the edit is only a comment),
/// the other bundle images' blobs stay the published files, and the
/// layout is byte for byte a clean `--no-cache` build's.
#[test]
fn issue_19_images_are_cached_per_package_and_match_a_clean_build() {
    let project = synth_project(24, 3, "cache-images");
    let dir = project.path();
    let images = ["build", "--json", "--images"];
    let first = finished(&catbuild(dir, &images));
    assert_eq!(first.len(), 27, "24 bundles and 3 packages: {first:?}");
    assert_eq!(ran(&first).len(), 27, "a cold build runs everything");
    let again = finished(&catbuild(dir, &images));
    assert_eq!(ran(&again), BTreeSet::new(), "{again:?}");
    let clean = |name: &str| {
        let output = catbuild(dir, &["build", "-q", "--images", "--no-cache", "--out", name]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        tree(&dir.join(name).join("default"))
    };
    let target = dir.join("build/default");
    assert!(tree(&target) == clean("reference"), "the cached build differs from a clean build");
    let index: Value = serde_json::from_slice(&std::fs::read(target.join("oci/index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"].as_array().unwrap().len(),
        25,
        "24 bundle images and the catalog's"
    );

    let packages = sorted_dirs(&dir.join("tree"));
    let package_name = packages[1].file_name().unwrap().to_string_lossy().into_owned();
    let bundles = sorted_dirs(&packages[1]);
    let csv = csv_of(&bundles[0]);
    let before = blob_inodes(&target);
    let layers_before = catalog_layers(&target);
    // The three packages are in three buckets (by hand: the 8th byte of
    // sha256 of each name, mod 64: synth-consumer-00002-operator 0xcc ->
    // 12, synth-digest-00001-operator 0x57 -> 23,
    // synth-schema-00000-operator 0x7c -> 60): three layers.
    assert_eq!(layers_before.len(), 3, "{layers_before:?}");
    set_replicas(&csv, 9);
    let after_edit = finished(&catbuild(dir, &images));
    assert_eq!(ran(&after_edit), package_reloaded(dir, &bundles, &package_name));
    assert!(
        tree(&target) == clean("reference-edited"),
        "the edited build differs from a clean build"
    );
    // Blobs of the packages that did not change are the published files,
    // linked (the edited package's are staged again, three per bundle at
    // most); only the edited bundle's image and the catalog's are new
    // (a layer, a config naming it and a manifest each).
    let after = blob_inodes(&target);
    let kept = after.iter().filter(|(name, ino)| before.get(*name) == Some(ino)).count();
    let new: Vec<&String> = after.keys().filter(|name| !before.contains_key(*name)).collect();
    assert!(
        kept + 3 * bundles.len() + 3 >= after.len() && kept >= after.len() / 3,
        "only {kept} of {} blobs were kept",
        after.len()
    );
    assert_eq!(new.len(), 6, "new blobs: {new:?}");
    // Issue 19: of the catalog's layers, only the edited package's is new;
    // the other is the published file, not written again.
    let layers_after = catalog_layers(&target);
    assert_eq!(layers_after.len(), layers_before.len());
    let changed: Vec<(&String, &String)> = layers_before.iter().zip(&layers_after).filter(|(one, two)| one != two).collect();
    assert_eq!(changed.len(), 1, "{layers_before:?} -> {layers_after:?}");
    for layer in layers_after.iter().filter(|layer| layers_before.contains(layer)) {
        let name = layer.trim_start_matches("sha256:");
        assert_eq!(before.get(name), after.get(name), "layer {layer} was written again");
    }

    // A comment leaves the loaded bundle as it was but not its image: the
    // package is encoded again, and the layout holds the new file.
    std::fs::write(&csv, format!("{}\n# a comment\n", std::fs::read_to_string(&csv).unwrap())).unwrap();
    let after_comment = finished(&catbuild(dir, &images));
    assert!(
        ran(&after_comment).contains(&("encode-package".to_string(), format!("default/{package_name}"))),
        "{after_comment:?}"
    );
    assert!(
        tree(&target) == clean("reference-comment"),
        "the build after a comment differs from a clean build"
    );
}

/// `kill -9` at every step of publishing an incremental `--images` build:
/// the target is the old tree or the new one, and the next build gives a
/// clean build's bytes.
#[test]
fn issue_19_kill_9_at_every_step_of_an_incremental_images_publish() {
    let project = synth_project(12, 2, "cache-kill-images");
    let csv = csv_of(&sorted_dirs(&sorted_dirs(&project.path().join("tree"))[0])[0]);
    kill_at_every_step(project.path(), &csv, &["--images"], 400);
}

/// A one-bundle edit of a target with images renames its few new and
/// changed files into the published tree (the target directory is the
/// same one: nothing was staged whole and swapped), removes the blobs
/// nothing names any more, and leaves a clean build's bytes.
#[test]
fn issue_19_an_images_edit_patches_the_published_target_in_place() {
    use std::os::unix::fs::MetadataExt as _;
    let project = synth_project(12, 2, "cache-patch-images");
    let dir = project.path();
    let csv = csv_of(&sorted_dirs(&sorted_dirs(&dir.join("tree"))[0])[0]);
    let build = |args: &[&str]| {
        let output = catbuild(dir, args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
    };
    set_replicas(&csv, 5);
    build(&["build", "-q", "--images"]);
    // A whole-build stamp (the first build's own output made it racy), so
    // that the edit below is checked against it and the target patched
    // with its hints.
    std::thread::sleep(std::time::Duration::from_millis(60));
    build(&["build", "-q", "--images"]);
    let target = dir.join("build/default");
    let inode = std::fs::metadata(&target).unwrap().ino();
    let before = tree(&target);
    set_replicas(&csv, 6);
    build(&["build", "-q", "--images"]);
    // The stamp the patch left (its stats of the target updated for the
    // files patched, not walked again) holds: the next build is a no-op.
    let again = finished(&catbuild(dir, &["build", "-q", "--json", "--images"]));
    assert!(
        again.iter().any(|(action, _, cache, _)| action == "build" && cache == "hit"),
        "the build after a patch was not a no-op: {again:?}"
    );
    build(&["build", "-q", "--images", "--no-cache", "--out", "reference"]);
    let after = tree(&target);
    assert!(
        after == tree(&dir.join("reference/default")),
        "the patched target differs from a clean build"
    );
    assert_eq!(
        std::fs::metadata(&target).unwrap().ino(),
        inode,
        "the target was swapped, not patched"
    );
    let changed: Vec<&String> = after.keys().filter(|path| before.get(*path) != after.get(*path)).collect();
    let gone: Vec<&String> = before.keys().filter(|path| !after.contains_key(*path)).collect();
    assert!(changed.iter().any(|path| path.starts_with("catalog/")), "{changed:?}");
    assert!(changed.contains(&&"oci/index.json".to_string()), "{changed:?}");
    assert!(
        !gone.is_empty() && gone.iter().all(|path| path.starts_with("oci/blobs/")),
        "{gone:?}"
    );
}
