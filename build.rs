//! Build script: records the git commit catbuild is built from, for
//! `catbuild --version`. Outside a git checkout (a source tarball, a
//! vendored crate) or without `git`, the version says `unknown commit`
//! instead of failing the build.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown commit".to_string());
    println!("cargo:rustc-env=CATBUILD_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves: HEAD itself names the branch, the branch's
    // ref file (or packed-refs) holds the commit. Only existing files are
    // watched; cargo would rerun this script every time for a missing one.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name])
            && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// The trimmed stdout of a successful `git` command, if any.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}
