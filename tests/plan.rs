//! Issue 13: planning drops nothing silently. A bundle or package directory
//! that a pattern reaches but that cannot be read (a broken symlink, a
//! symlink loop, a file, no permission) is an input problem: a located
//! error naming the path and the OS error, reported with every other
//! problem of the run (exit 1), and the previous output stays as it was.
//! Issue 12: `init` shares the build's bundle-dir detector, so it never
//! writes a wildcard that such a directory would make fail.

mod common;

use common::{catbuild, copy_dir, repo, stderr, tree};

use std::path::Path;
use std::process::Command;

/// The example project, built once: its `build/` is the previous output.
fn built_example_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("manifests"), &dir.path().join("manifests"));
    std::fs::copy(repo().join("catalog.toml"), dir.path().join("catalog.toml")).unwrap();
    let output = catbuild(dir.path(), &["-q"]);
    assert!(output.status.success(), "{}", stderr(&output));
    dir
}

const PACKAGE: &str = "manifests/fruits-catalog-operator";

/// Builds the broken project and checks exit 1, the exact first line of
/// the diagnostic, and that `build/` is unchanged.
fn assert_build_fails_with(project: &Path, expected_first_line: &str) {
    let before = tree(&project.join("build"));
    let output = catbuild(project, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(stderr(&output).lines().next(), Some(expected_first_line), "{}", stderr(&output));
    assert_eq!(tree(&project.join("build")), before);
}

#[test]
fn issue_13_a_bundle_dir_that_is_a_broken_symlink_is_an_error() {
    let project = built_example_project();
    std::os::unix::fs::symlink("nowhere", project.path().join(PACKAGE).join("0.0.4")).unwrap();
    assert_build_fails_with(
        project.path(),
        "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.4`, which `manifests/fruits-catalog-operator/*` matches: it is a broken symbolic link: No such file or directory (os error 2)",
    );
}

#[test]
fn issue_13_a_bundle_dir_that_is_a_symlink_loop_is_an_error() {
    let project = built_example_project();
    std::os::unix::fs::symlink("0.0.4", project.path().join(PACKAGE).join("0.0.4")).unwrap();
    assert_build_fails_with(
        project.path(),
        "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.4`, which `manifests/fruits-catalog-operator/*` matches: Too many levels of symbolic links (os error 40)",
    );
}

#[test]
fn issue_13_a_bundle_part_that_cannot_be_read_is_an_error() {
    let project = built_example_project();
    let manifests = project.path().join(PACKAGE).join("0.0.3/manifests");
    std::fs::rename(&manifests, project.path().join("moved")).unwrap();
    std::os::unix::fs::symlink("manifests", &manifests).unwrap();
    assert_build_fails_with(
        project.path(),
        "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.3/manifests`: Too many levels of symbolic links (os error 40)",
    );
}

#[test]
fn issue_13_a_package_dir_that_cannot_be_read_says_so() {
    let project = built_example_project();
    let package = project.path().join(PACKAGE);
    std::fs::remove_dir_all(&package).unwrap();
    std::os::unix::fs::symlink("fruits-catalog-operator", &package).unwrap();
    assert_build_fails_with(
        project.path(),
        "error[bundle]: cannot read directory `manifests/fruits-catalog-operator`, which `manifests/fruits-catalog-operator/*` lists: Too many levels of symbolic links (os error 40)",
    );
    std::fs::remove_file(&package).unwrap();
    std::fs::write(&package, "a file, not a directory").unwrap();
    assert_build_fails_with(
        project.path(),
        "error[bundle]: cannot read directory `manifests/fruits-catalog-operator`, which `manifests/fruits-catalog-operator/*` lists: Not a directory (os error 20)",
    );
}

/// The issue's own report: `chmod 000` on the newest bundle built a catalog
/// without it and exited 0. Root reads anything, so as root the build runs
/// as `nobody`.
#[test]
fn issue_13_a_bundle_dir_without_permission_is_an_error() {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::CommandExt as _;
    let project = built_example_project();
    let as_root = rustix::process::geteuid().is_root();
    const NOBODY: u32 = 65534;
    if as_root {
        chown_tree(project.path(), NOBODY);
    }
    let newest = project.path().join(PACKAGE).join("0.0.3");
    std::fs::set_permissions(&newest, std::fs::Permissions::from_mode(0o000)).unwrap();
    let before = tree(&project.path().join("build"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_catbuild"));
    command.current_dir(project.path()).env("NO_COLOR", "1");
    if as_root {
        command.uid(NOBODY).gid(NOBODY);
    }
    let output = command.output().unwrap();
    std::fs::set_permissions(&newest, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output).lines().next(),
        Some(
            "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.3`, which `manifests/fruits-catalog-operator/*` matches: Permission denied (os error 13)"
        ),
        "{}",
        stderr(&output)
    );
    assert_eq!(tree(&project.path().join("build")), before);
}

fn chown_tree(dir: &Path, uid: u32) {
    std::os::unix::fs::chown(dir, Some(uid), Some(uid)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            chown_tree(&path, uid);
        } else {
            std::os::unix::fs::chown(&path, Some(uid), Some(uid)).unwrap();
        }
    }
}

/// Issue 12 (one bundle-dir detector): `init` writes `parent/*` only when
/// the build's wildcard would match exactly the bundles it found. A
/// neighbour it cannot look into would make that build fail, so init lists
/// the bundles one by one instead. As root the run is as `nobody`.
#[test]
fn issue_12_init_writes_no_wildcard_over_an_unreadable_neighbour() {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::CommandExt as _;
    let project = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("manifests"), &project.path().join("manifests"));
    let neighbour = project.path().join(PACKAGE).join("notes");
    std::fs::create_dir(&neighbour).unwrap();
    let as_root = rustix::process::geteuid().is_root();
    const NOBODY: u32 = 65534;
    if as_root {
        chown_tree(project.path(), NOBODY);
    }
    std::fs::set_permissions(&neighbour, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_catbuild"));
    command.current_dir(project.path()).env("NO_COLOR", "1").args(["init", "manifests"]);
    if as_root {
        command.uid(NOBODY).gid(NOBODY);
    }
    let output = command.output().unwrap();
    std::fs::set_permissions(&neighbour, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let written = std::fs::read_to_string(project.path().join("catalog.toml")).unwrap();
    assert!(!written.contains("fruits-catalog-operator/*"), "{written}");
    for version in ["0.0.1", "0.0.2", "0.0.3"] {
        assert!(written.contains(&format!("{PACKAGE}/{version}\"")), "{written}");
    }
}

/// Packages are planned in parallel: their diagnostics still come in
/// catalog.toml's order, the same for any number of threads.
#[test]
fn plan_diagnostics_come_in_catalog_order_for_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::from("version = 1\n\n[catalog]\nname = \"order\"\n");
    for idx in 0..24 {
        config.push_str(&format!("\n[[package]]\nname = \"p{idx}\"\nbundles = [\"nothing-{idx}/*\"]\n"));
        if idx % 3 == 0 {
            std::fs::create_dir_all(dir.path().join(format!("nothing-{idx}"))).unwrap();
        }
    }
    std::fs::write(dir.path().join("catalog.toml"), config).unwrap();
    let one = catbuild(dir.path(), &["build", "-j", "1"]);
    let two = catbuild(dir.path(), &["build", "-j", "2"]);
    assert_eq!(one.status.code(), Some(1), "{}", stderr(&one));
    assert_eq!(stderr(&one), stderr(&two));
    let named: Vec<String> = stderr(&two)
        .lines()
        .filter_map(|line| line.strip_prefix("error[config]: `nothing-"))
        .map(|rest| rest.split('/').next().unwrap_or_default().to_string())
        .collect();
    let expected: Vec<String> = (0..24).map(|idx| idx.to_string()).collect();
    assert_eq!(named, expected, "{}", stderr(&two));
}
