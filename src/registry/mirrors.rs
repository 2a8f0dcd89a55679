//! Where an image is pulled from, as podman, skopeo and buildah decide it:
//! the `[[registry]]` tables of containers-registries.conf(5) (`prefix`,
//! `location`, `insecure`, `blocked`, `mirror-by-digest-only` and
//! `[[registry.mirror]]` with `location`, `insecure`, `pull-from-mirror`).
//! The file is `$CONTAINERS_REGISTRIES_CONF`, else
//! `~/.config/containers/registries.conf`, else
//! `/etc/containers/registries.conf`; none is no rewriting. Other keys
//! (search registries, short-name aliases, wildcard prefixes) are not
//! read: catbuild pulls fully qualified references only.
//!
//! The reference the catalog names is never rewritten: only where its
//! bytes come from (a mirror is expected to hold the same digests).

use std::path::{Path, PathBuf};

use crate::image::reference::Reference;

/// One place to try for an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The reference rewritten to the mirror or location.
    pub reference: Reference,
    /// Plain HTTP and unverified TLS allowed for it.
    pub insecure: bool,
}

/// The `[[registry]]` tables read.
#[derive(Debug, Clone, Default)]
pub struct Registries {
    entries: Vec<Entry>,
    /// The file they came from, for messages.
    pub source: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Entry {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    #[serde(default)]
    mirror: Vec<Mirror>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Mirror {
    location: String,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    pull_from_mirror: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct File {
    #[serde(default)]
    registry: Vec<Entry>,
}

impl Registries {
    /// Reads the first registries.conf found (see the module comment).
    pub fn load() -> Result<Registries, String> {
        let mut candidates = Vec::new();
        if let Some(path) = std::env::var_os("CONTAINERS_REGISTRIES_CONF") {
            // Named explicitly: it must be there.
            return Registries::read(Path::new(&path)).map(|found| found.unwrap_or_default());
        }
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(PathBuf::from(home).join(".config/containers/registries.conf"));
        }
        candidates.push(PathBuf::from("/etc/containers/registries.conf"));
        for path in candidates {
            if let Some(found) = Registries::read(&path)? {
                return Ok(found);
            }
        }
        Ok(Registries::default())
    }

    /// Reads one file; `None` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Registries>, String> {
        let text = match fs_err::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error.to_string()),
        };
        let file: File = toml::from_str(&text).map_err(|error| format!("`{}`: {}", path.display(), error.message()))?;
        let mut entries = Vec::new();
        for mut entry in file.registry {
            if entry.prefix.is_empty() {
                entry.prefix.clone_from(&entry.location);
            }
            // Wildcard prefixes (`*.example.com`) are not supported; such
            // an entry is left out rather than matched wrongly.
            if entry.prefix.is_empty() || entry.prefix.starts_with('*') {
                continue;
            }
            entries.push(entry);
        }
        Ok(Some(Registries {
            entries,
            source: Some(path.to_path_buf()),
        }))
    }

    /// The places to pull `reference` from, in order: its mirrors, then
    /// its location (the reference itself without a matching entry).
    /// `insecure` is the project's `[images] insecure`.
    pub fn endpoints(&self, reference: &Reference, insecure: bool) -> Result<Vec<Endpoint>, String> {
        let name = reference.name();
        // The longest matching prefix wins, as in containers/image.
        let entry = self
            .entries
            .iter()
            .filter(|entry| prefix_matches(&entry.prefix, &name))
            .max_by_key(|entry| entry.prefix.len());
        let Some(entry) = entry else {
            return Ok(vec![Endpoint {
                reference: reference.clone(),
                insecure,
            }]);
        };
        if entry.blocked {
            let source = self.source.as_ref().map(|path| path.display().to_string()).unwrap_or_default();
            return Err(format!("`{reference}` is blocked by `{source}` (`prefix = {:?}`)", entry.prefix));
        }
        let by_digest = reference.digest.is_some();
        let mut endpoints = Vec::new();
        for mirror in &entry.mirror {
            let digest_only = match mirror.pull_from_mirror.as_deref() {
                Some("digest-only") => true,
                Some("tag-only") if by_digest => continue,
                _ => entry.mirror_by_digest_only,
            };
            if digest_only && !by_digest {
                continue;
            }
            endpoints.push(Endpoint {
                reference: rewrite(reference, &entry.prefix, &mirror.location)?,
                insecure: insecure || mirror.insecure,
            });
        }
        let location = if entry.location.is_empty() {
            &entry.prefix
        } else {
            &entry.location
        };
        endpoints.push(Endpoint {
            reference: rewrite(reference, &entry.prefix, location)?,
            insecure: insecure || entry.insecure,
        });
        Ok(endpoints)
    }
}

/// Whether `prefix` names `name` or a namespace above it.
fn prefix_matches(prefix: &str, name: &str) -> bool {
    name == prefix || name.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

fn rewrite(reference: &Reference, prefix: &str, location: &str) -> Result<Reference, String> {
    let name = reference.name();
    let rest = &name[prefix.len()..];
    let mut text = format!("{location}{rest}");
    if let Some(tag) = &reference.tag {
        text.push_str(&format!(":{tag}"));
    }
    if let Some(digest) = &reference.digest {
        text.push_str(&format!("@{digest}"));
    }
    Reference::parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registries(text: &str) -> Registries {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registries.conf");
        std::fs::write(&path, text).unwrap();
        Registries::read(&path).unwrap().unwrap()
    }

    #[test]
    fn the_longest_prefix_picks_mirrors_then_the_location() {
        let registries = registries(
            r#"
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "test.registry"
location = "127.0.0.1:5000"
[[registry]]
prefix = "test.registry/special"
location = "127.0.0.1:6000/other"
insecure = true
[[registry.mirror]]
location = "127.0.0.1:7000/digests"
pull-from-mirror = "digest-only"
"#,
        );
        let reference = Reference::parse("test.registry/foo/bundle:v1").unwrap();
        let endpoints = registries.endpoints(&reference, false).unwrap();
        assert_eq!(endpoints.len(), 1);
        assert_eq!(endpoints[0].reference.to_string(), "127.0.0.1:5000/foo/bundle:v1");
        // `test.registry/foo` does not match `test.registry/f`-like prefixes.
        assert!(!prefix_matches("test.registry/fo", "test.registry/foo/bundle"));

        let tagged = Reference::parse("test.registry/special/x:v2").unwrap();
        let endpoints = registries.endpoints(&tagged, false).unwrap();
        assert_eq!(
            endpoints.iter().map(|endpoint| endpoint.reference.to_string()).collect::<Vec<_>>(),
            ["127.0.0.1:6000/other/x:v2"]
        );
        assert!(endpoints[0].insecure);
        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned = Reference::parse(&format!("test.registry/special/x@{digest}")).unwrap();
        let endpoints = registries.endpoints(&pinned, false).unwrap();
        assert_eq!(endpoints[0].reference.to_string(), format!("127.0.0.1:7000/digests/x@{digest}"));
        assert_eq!(endpoints.len(), 2);
        // No entry: the reference as it is.
        let other = Reference::parse("quay.io/a/b:v1").unwrap();
        assert_eq!(registries.endpoints(&other, false).unwrap()[0].reference, other);
    }

    #[test]
    fn a_blocked_registry_is_an_error() {
        let registries = registries("[[registry]]\nlocation = \"quay.io\"\nblocked = true\n");
        let reference = Reference::parse("quay.io/a/b:v1").unwrap();
        assert!(registries.endpoints(&reference, false).unwrap_err().contains("is blocked"));
    }
}
