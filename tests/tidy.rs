//! Tidy checks run with the tests, so nothing is checked only in CI:
//! every source file says why it exists (a leading `//!` comment), and no
//! tracked text names a machine path.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|path| !std::fs::read_to_string(path).unwrap().starts_with("//!"))
        .map(|path| path.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert!(files.len() > 40, "found only {} files", files.len());
    assert!(missing.is_empty(), "files without a leading `//!` comment: {missing:?}");
}

#[test]
fn no_machine_paths_in_sources_or_docs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    for doc in [
        "README.md",
        "ARCHITECTURE.md",
        "Makefile",
        ".ci/run",
        "catalog.toml",
        "docs/catalog-toml.md",
    ] {
        files.push(root.join(doc));
    }
    // Spelled in pieces so this file does not match itself.
    let needles = [format!("/{}/", "work"), format!("/{}/", "root"), format!("/{}/", "farm")];
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "{} names a machine path ({needle})",
                path.display()
            );
        }
    }
}
