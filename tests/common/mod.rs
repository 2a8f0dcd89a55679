//! Helpers shared by the end-to-end test binaries: run the real `catbuild`
//! binary, read its stderr, copy fixture trees.

#![allow(dead_code)] // each test binary uses its own subset

pub mod proxy;
pub mod registry;
pub mod sqlite_case;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `catbuild` binary in `dir` with colours off.
pub fn catbuild(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_catbuild"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("catbuild runs")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `data` of each `--json` event of type `kind`, in order.
pub fn of_type<'a>(events: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|event| event["type"] == kind)
        .map(|event| &event["data"])
        .collect()
}

/// The subdirectories of `dir`, sorted by path.
pub fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The checkout's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the example project (catalog.toml + manifests/) in a temp dir.
pub fn example_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("manifests"), &dir.path().join("manifests"));
    std::fs::copy(repo().join("catalog.toml"), dir.path().join("catalog.toml")).unwrap();
    dir
}

/// Every file under `dir`, relative path → bytes. The action cache
/// (`.cache/`, issue 19) is not output and is left out.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|name| name == ".cache") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// A project over a tree of `n_bundles` synthetic bundles in `n_packages`
/// packages (`../shared/corpus/synth.py`, fixed seed), with the
/// `catalog.toml` that `catbuild init` writes for it.
pub fn synth_project(n_bundles: usize, n_packages: usize, seed: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let synth = repo().join("../shared/corpus/synth.py");
    let status = Command::new("python3")
        .arg(&synth)
        .args(["--bundles", &n_bundles.to_string(), "--packages", &n_packages.to_string()])
        .args(["--seed", seed, "--out"])
        .arg(dir.path().join("tree"))
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs synth.py");
    assert!(status.success(), "synth.py failed");
    let output = catbuild(dir.path(), &["init", "-q", "tree"]);
    assert!(output.status.success(), "{}", stderr(&output));
    dir
}
