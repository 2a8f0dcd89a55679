//! The loopback registry (`../shared/tools/registry`: Debian's
//! docker-registry) for the tests that push and pull real images.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use super::repo;

/// CI variables (those that make a build a pull-request build for the
/// shared cache, and `CI`): an isolated run leaves them out unless a test
/// sets them in `env`.
pub const CI_VARIABLES: [&str; 10] = [
    "GITHUB_EVENT_NAME",
    "CI_MERGE_REQUEST_IID",
    "CHANGE_ID",
    "CIRCLE_PULL_REQUEST",
    "BITBUCKET_PR_ID",
    "PULL_NUMBER",
    "BUILD_REASON",
    "TRAVIS_PULL_REQUEST",
    "BUILDKITE_PULL_REQUEST",
    "CI",
];

/// Runs catbuild in `dir` with a HOME of its own and none of the
/// machine's credentials, registries.conf or CI variables, plus `env`.
pub fn catbuild_isolated(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_catbuild"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HOME", home.path())
        .env_remove("DOCKER_CONFIG")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("CATBUILD_REGISTRY_USERNAME")
        .env_remove("CATBUILD_REGISTRY_PASSWORD")
        .env_remove("CONTAINERS_REGISTRIES_CONF");
    for name in CI_VARIABLES {
        command.env_remove(name);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("catbuild runs")
}

/// stdout then stderr, as one text.
pub fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A registry started for one test, stopped (and its storage removed) on drop.
pub struct Registry {
    vars: BTreeMap<String, String>,
}

impl Registry {
    pub fn start(args: &[&str]) -> Registry {
        let output = Command::new(repo().join("../shared/tools/registry"))
            .arg("--background")
            .args(args)
            .env("CI", "true")
            .output()
            .expect("../shared/tools/registry runs");
        assert!(output.status.success(), "registry: {}", String::from_utf8_lossy(&output.stderr));
        let vars = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_string(), value.trim_matches('\'').to_string()))
            .collect();
        Registry { vars }
    }

    pub fn var(&self, key: &str) -> &str {
        &self.vars[key]
    }

    pub fn host(&self) -> &str {
        self.var("REGISTRY")
    }

    /// Blob upload requests the registry has logged so far.
    pub fn uploads(&self) -> usize {
        std::fs::read_to_string(self.var("REGISTRY_LOG"))
            .unwrap_or_default()
            .lines()
            .filter(|line| {
                line.contains("msg=\"response completed\"")
                    && line.contains("blobs/uploads")
                    && ["POST", "PUT", "PATCH"]
                        .iter()
                        .any(|method| line.contains(&format!("http.request.method={method} ")))
            })
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("../shared/tools/registry"))
            .args(["--stop", self.var("PIDFILE")])
            .output();
    }
}
