//! Issue 22: every input the fuzzers ever crashed on, and their seeds,
//! replayed on a stable toolchain through the same entry points the fuzz
//! targets call (`fuzz/src/lib.rs`, included here as a module), so a crash
//! fixed once stays fixed. Saved crashes live in
//! `fuzz/regressions/<target>/`, named after what they broke.

#[path = "../fuzz/src/lib.rs"]
mod entries;

use std::path::{Path, PathBuf};

/// Runs `entry` on every file of `fuzz/seeds/<target>/` and
/// `fuzz/regressions/<target>/`, and names every file that panicked.
fn replay(target: &str, entry: fn(&[u8]) -> bool) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files: Vec<PathBuf> = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = root.join(kind).join(target);
        for dir_entry in std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display())) {
            let path = dir_entry.unwrap().path();
            if path.file_name().is_some_and(|name| name != ".gitkeep") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no seeds for {target}");
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let bytes = std::fs::read(path).unwrap();
            std::panic::catch_unwind(|| entry(&bytes)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target}: these inputs panic:\n{}", failed.join("\n"));
}

#[test]
fn catalog_toml() {
    replay("catalog_toml", entries::catalog_toml);
}

#[test]
fn bundle() {
    replay("bundle", entries::bundle);
}

#[test]
fn fbc() {
    replay("fbc", entries::fbc);
}

#[test]
fn semver_range() {
    replay("semver_range", entries::semver_range);
}

#[test]
fn unpack() {
    replay("unpack", entries::unpack);
}

/// The seeds a fuzzer starts from must reach the end of their pipeline,
/// or the fuzzer would spend its time in the first error path.
#[test]
fn good_seeds_are_accepted() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let accepted = |target: &str, name: &str, entry: fn(&[u8]) -> bool| {
        let bytes = std::fs::read(seeds.join(target).join(name)).unwrap();
        assert!(entry(&bytes), "{target}/{name} is refused");
    };
    accepted("catalog_toml", "example.toml", entries::catalog_toml);
    accepted("catalog_toml", "all-options.toml", entries::catalog_toml);
    for version in ["0.0.1", "0.0.2", "0.0.3"] {
        accepted("bundle", &format!("fruits-{version}"), entries::bundle);
    }
    accepted("fbc", "8.yaml", entries::fbc);
    accepted("semver_range", "1", entries::semver_range);
    accepted("unpack", "layer.tar", entries::unpack);
    accepted("unpack", "layer.tar.gz", entries::unpack);
    // And the other way: a link out of the layer is refused.
    let escape = std::fs::read(seeds.join("unpack/escape.tar")).unwrap();
    assert!(!entries::unpack(&escape));
}
