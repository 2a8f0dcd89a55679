//! Image references as docker and podman read them: `[HOST[:PORT]/]PATH`
//! with an optional `:TAG` and `@sha256:…`; a first component without `.`
//! or `:` (and not `localhost`) is a Docker Hub path.

/// A parsed reference. `registry` is the host clients talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, String> {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.to_string())),
            None => (text, None),
        };
        let (name, tag) = match rest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, Some(tag.to_string())),
            _ => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => (first.to_string(), path.to_string()),
            Some(_) => ("docker.io".to_string(), name.to_string()),
            None => ("docker.io".to_string(), format!("library/{name}")),
        };
        if repository.is_empty() || repository.split('/').any(str::is_empty) {
            return Err(format!("`{text}` is not an image reference"));
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The same image under `prefix` (`HOST[:PORT][/PATH]`): the last
    /// component of the repository and the tag are kept, as `ko` puts
    /// images under `KO_DOCKER_REPO`.
    pub fn under(&self, prefix: &str) -> Reference {
        let (registry, path) = prefix.split_once('/').unwrap_or((prefix, ""));
        let last = self.repository.rsplit('/').next().unwrap_or(&self.repository);
        Reference {
            registry: registry.to_string(),
            repository: if path.is_empty() {
                last.to_string()
            } else {
                format!("{path}/{last}")
            },
            tag: self.tag.clone(),
            digest: self.digest.clone(),
        }
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `registry/repository@digest`.
    pub fn pinned(&self, digest: &str) -> String {
        format!("{}@{digest}", self.name())
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `text` without its tag and digest, spelled as the user spelled it:
/// what `repository@sha256:…` is made from.
pub fn without_tag(text: &str) -> &str {
    let rest = text.split_once('@').map_or(text, |(rest, _)| rest);
    match rest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => rest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_as_docker_splits_them() {
        let reference = Reference::parse("127.0.0.1:5000/a/b:v1").unwrap();
        assert_eq!(
            (reference.registry.as_str(), reference.repository.as_str(), reference.tag.as_deref()),
            ("127.0.0.1:5000", "a/b", Some("v1"))
        );
        assert_eq!(Reference::parse("busybox").unwrap().name(), "docker.io/library/busybox");
        assert_eq!(Reference::parse("example/x:1").unwrap().name(), "docker.io/example/x");
        let pinned = Reference::parse("quay.io/a/b@sha256:00").unwrap();
        assert_eq!((pinned.tag, pinned.digest.as_deref()), (None, Some("sha256:00")));
        assert!(Reference::parse("quay.io//x").is_err());
    }

    #[test]
    fn under_a_prefix_keeps_the_last_component_and_tag() {
        let reference = Reference::parse("quay.io/example/fruits-catalog:ocp-4.16").unwrap();
        assert_eq!(
            reference.under("127.0.0.1:5000/test").to_string(),
            "127.0.0.1:5000/test/fruits-catalog:ocp-4.16"
        );
        assert_eq!(
            reference.under("localhost:5000").to_string(),
            "localhost:5000/fruits-catalog:ocp-4.16"
        );
        assert_eq!(without_tag("localhost:5000/a/b:v1"), "localhost:5000/a/b");
        assert_eq!(without_tag("localhost:5000/a/b"), "localhost:5000/a/b");
    }
}
