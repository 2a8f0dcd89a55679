//! Registry credentials, looked up as podman and docker look them up:
//! `CATBUILD_REGISTRY_USERNAME`/`_PASSWORD`, then `REGISTRY_AUTH_FILE`,
//! `$XDG_RUNTIME_DIR/containers/auth.json`,
//! `~/.config/containers/auth.json`, then docker's `config.json`
//! (`$DOCKER_CONFIG` or `~/.docker`), with its credential helpers.
//! Secrets live only in [`Credentials`], whose `Debug` hides them.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ username: {:?}, password: <hidden> }}", self.username)
    }
}

impl Credentials {
    /// The `Authorization` value for HTTP basic auth.
    pub fn basic(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }
}

/// Where credentials for `host` were found, for messages (never the secret).
#[derive(Debug, Clone)]
pub struct Found {
    pub credentials: Credentials,
    pub source: String,
}

/// Looks up credentials for `host` (`HOST[:PORT]`). Unreadable or broken
/// files are skipped with the reason in `notes`, so a failed login can say
/// where catbuild looked.
pub fn lookup(host: &str, notes: &mut Vec<String>) -> Option<Found> {
    if let (Ok(username), Ok(password)) = (
        std::env::var("CATBUILD_REGISTRY_USERNAME"),
        std::env::var("CATBUILD_REGISTRY_PASSWORD"),
    ) {
        return Some(Found {
            credentials: Credentials { username, password },
            source: "CATBUILD_REGISTRY_USERNAME/CATBUILD_REGISTRY_PASSWORD".to_string(),
        });
    }
    for path in auth_files() {
        let Ok(text) = fs_err::read_to_string(&path) else {
            continue;
        };
        let value: serde_json::Value = match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(error) => {
                notes.push(format!("`{}` is not JSON ({error}); skipped", path.display()));
                continue;
            }
        };
        let shown = path.display().to_string();
        if let Some(helper) = value["credHelpers"]
            .as_object()
            .and_then(|helpers| helpers.iter().find(|(key, _)| normalize(key) == host))
            .and_then(|(_, helper)| helper.as_str())
        {
            match run_helper(helper, host) {
                Ok(credentials) => {
                    return Some(Found {
                        credentials,
                        source: format!("docker-credential-{helper} (from {shown})"),
                    });
                }
                Err(message) => notes.push(message),
            }
        }
        if let Some(auths) = value["auths"].as_object() {
            for (key, entry) in auths {
                if normalize(key) != host {
                    continue;
                }
                match decode_auth(entry) {
                    Some(credentials) => {
                        return Some(Found {
                            credentials,
                            source: shown,
                        });
                    }
                    None => notes.push(format!("`{shown}` has an entry for `{host}` without a usable `auth`; skipped")),
                }
            }
        }
        if let Some(store) = value["credsStore"].as_str() {
            match run_helper(store, host) {
                Ok(credentials) => {
                    return Some(Found {
                        credentials,
                        source: format!("docker-credential-{store} (from {shown})"),
                    });
                }
                Err(message) => notes.push(message),
            }
        }
    }
    None
}

fn auth_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(file) = std::env::var_os("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(file));
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR") {
        files.push(PathBuf::from(runtime).join("containers/auth.json"));
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if let Some(home) = &home {
        files.push(home.join(".config/containers/auth.json"));
    }
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => files.push(PathBuf::from(dir).join("config.json")),
        None => {
            if let Some(home) = &home {
                files.push(home.join(".docker/config.json"));
            }
        }
    }
    files
}

/// `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/` → `host:5000`.
fn normalize(key: &str) -> String {
    let rest = key.split_once("://").map_or(key, |(_, rest)| rest);
    let host = rest.split('/').next().unwrap_or(rest);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        _ => host.to_string(),
    }
}

fn decode_auth(entry: &serde_json::Value) -> Option<Credentials> {
    if let (Some(username), Some(password)) = (entry["username"].as_str(), entry["password"].as_str()) {
        return Some(Credentials {
            username: username.to_string(),
            password: password.to_string(),
        });
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(entry["auth"].as_str()?).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (username, password) = text.split_once(':')?;
    Some(Credentials {
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// `docker-credential-<helper> get` with the host on stdin.
fn run_helper(helper: &str, host: &str) -> Result<Credentials, String> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot run `{program}`: {error}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(host.as_bytes());
    }
    let output = child.wait_with_output().map_err(|error| format!("`{program}` failed: {error}"))?;
    if !output.status.success() {
        return Err(format!("`{program} get` has no credentials for `{host}`"));
    }
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|_| format!("`{program} get` did not print JSON"))?;
    match (value["Username"].as_str(), value["Secret"].as_str()) {
        (Some(username), Some(secret)) => Ok(Credentials {
            username: username.to_string(),
            password: secret.to_string(),
        }),
        _ => Err(format!("`{program} get` printed no Username and Secret")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_normalize_like_docker() {
        assert_eq!(normalize("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(normalize("quay.io"), "quay.io");
    }

    #[test]
    fn auth_entries_decode_and_debug_hides_the_secret() {
        let entry = serde_json::json!({"auth": "YWxpY2U6czNjcmV0"});
        let credentials = decode_auth(&entry).unwrap();
        assert_eq!((credentials.username.as_str(), credentials.password.as_str()), ("alice", "s3cret"));
        assert!(!format!("{credentials:?}").contains("s3cret"));
        assert_eq!(credentials.basic(), "Basic YWxpY2U6czNjcmV0");
    }
}
