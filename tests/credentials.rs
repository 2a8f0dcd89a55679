//! Issue 22: a registry password never leaves the process. A build that
//! pushes with a password (from the environment and from an auth file),
//! and one whose password is refused, are run with `--json` and `-v`; the
//! password, and the base64 forms in which HTTP basic auth and auth files
//! carry it, must appear nowhere: stdout, stderr, the JSON events, the
//! action cache, the image cache, the build output, catalog.lock, or
//! anything else left in the project or its HOME.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use common::example_project;
use common::registry::Registry;

const USER: &str = "auditor";
const PASSWORD: &str = "Xq7-credential-Audit-93f";

fn catbuild(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_catbuild"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HOME", dir.join("home"))
        .env_remove("DOCKER_CONFIG")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("CATBUILD_REGISTRY_USERNAME")
        .env_remove("CATBUILD_REGISTRY_PASSWORD");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("catbuild runs")
}

/// Every form the secret could leak in.
fn secrets() -> Vec<String> {
    let engine = base64::engine::general_purpose::STANDARD;
    vec![
        PASSWORD.to_string(),
        engine.encode(PASSWORD),
        engine.encode(format!("{USER}:{PASSWORD}")),
        // Without padding, as some encoders write it.
        engine.encode(format!("{USER}:{PASSWORD}")).trim_end_matches('=').to_string(),
    ]
}

fn assert_clean(what: &str, bytes: &[u8]) {
    for secret in secrets() {
        assert!(
            !bytes.windows(secret.len()).any(|window| window == secret.as_bytes()),
            "`{secret}` found in {what}"
        );
    }
}

/// Every file below `dir` (links not followed), checked.
fn assert_tree_clean(dir: &Path, skip: &Path) -> usize {
    let mut n_files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path == skip {
                continue;
            }
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            if metadata.is_dir() {
                stack.push(path);
            } else if metadata.is_file() {
                assert_clean(&path.display().to_string(), &std::fs::read(&path).unwrap());
                n_files += 1;
            }
        }
    }
    n_files
}

#[test]
fn a_registry_password_appears_in_no_output_event_cache_or_file() {
    let registry = Registry::start(&["--htpasswd", &format!("{USER}:{PASSWORD}")]);
    let project = example_project();
    let dir = project.path();
    std::fs::create_dir_all(dir.join("home")).unwrap();
    let path = dir.join("catalog.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\n[images]\nbuild = true\n")).unwrap();
    let prefix = format!("{}/audit", registry.host());
    let push = ["build", "--push", "--registry", prefix.as_str(), "--json", "-v"];

    // The password from the environment.
    let output = catbuild(
        dir,
        &push,
        &[("CATBUILD_REGISTRY_USERNAME", USER), ("CATBUILD_REGISTRY_PASSWORD", PASSWORD)],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = String::from_utf8_lossy(&output.stdout);
    assert!(events.lines().count() > 10 && events.contains("\"ok\":true"), "{events}");
    assert_clean("stdout (--json events)", &output.stdout);
    assert_clean("stderr", &output.stderr);

    // From an auth file in the project (which holds it, so it is skipped
    // when the tree is searched below), and pushed again (HEAD-skips).
    let auth_file = dir.join("auth.json");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        &auth_file,
        format!(r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#, registry.host()),
    )
    .unwrap();
    let auth_path = auth_file.display().to_string();
    let output = catbuild(dir, &push, &[("REGISTRY_AUTH_FILE", &auth_path)]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_clean("stdout (--json events)", &output.stdout);
    assert_clean("stderr", &output.stderr);

    // A refused password: the error chain names the user, not the secret.
    let wrong = format!("{PASSWORD}-wrong");
    let output = catbuild(
        dir,
        &push,
        &[("CATBUILD_REGISTRY_USERNAME", USER), ("CATBUILD_REGISTRY_PASSWORD", &wrong)],
    );
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.contains(&format!("refused the credentials of user `{USER}`")), "{said}");
    assert!(!said.contains(&wrong), "{said}");
    assert_clean("a refused push's output", said.as_bytes());

    // Nothing written anywhere holds it: build output, OCI layouts,
    // catalog.lock, the action and image caches, HOME.
    let n_files = assert_tree_clean(dir, &auth_file);
    assert!(n_files > 50, "only {n_files} files were searched");
    assert!(dir.join("build/ocp-4.16/oci").is_dir(), "the image layouts were searched");
}
