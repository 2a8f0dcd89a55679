//! A catalog template's bundle images mapped back to the bundle directories
//! they were built from. A template names bundles only by image; the
//! community pipeline tags each bundle image with its version directory's
//! name (`quay.io/community-operator-pipeline-prod/kairos-operator:2.1.0`,
//! usually the CSV version, not always: aws-neuron-operator's `0.0.4`
//! holds `v0.1.2`), so a tag that is a found bundle's directory name or
//! version, with one prefix and suffix shared by every tag (`v2.1.0`),
//! names that bundle. Digest references cannot be told apart without
//! pulling them.

use std::collections::BTreeMap;

/// A found bundle: its CSV name and `spec.version`, and the name of its
/// version directory (what `{{ bundle.dir }}` gives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCsv {
    pub name: String,
    pub version: Option<String>,
    pub dir: String,
}

/// What a tag is matched against, and the template variable that gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Dir,
    Version,
}

impl Key {
    fn of(self, csv: &FoundCsv) -> Option<&str> {
        match self {
            Key::Dir => Some(csv.dir.as_str()),
            Key::Version => csv.version.as_deref(),
        }
    }

    fn variable(self) -> &'static str {
        match self {
            Key::Dir => "{{ bundle.dir }}",
            Key::Version => "{{ bundle.version }}",
        }
    }
}

/// What init learns from a template's image references.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TemplateImages {
    /// Image reference → CSV name, for the references mapped.
    pub names: BTreeMap<String, String>,
    /// A `bundle-image` template string that gives every mapped reference
    /// back (`REPO:{{ bundle.version }}`), or the tag form of the
    /// repository the digest references share.
    pub bundle_image: Option<String>,
    /// The template names its bundles by digest only, so `bundle_image`
    /// is a guess at the tags of the same repository.
    pub from_digests: bool,
    /// References no found bundle matches, as written.
    pub unmapped: Vec<String>,
}

/// Maps `images` (in template order) to the bundles of `found`.
pub fn map_images(images: &[String], found: &[FoundCsv]) -> TemplateImages {
    let mut out = TemplateImages::default();
    let tagged: Vec<(&str, &str, &String)> = images
        .iter()
        .filter_map(|image| split_tag(image).map(|(repository, tag)| (repository, tag, image)))
        .collect();
    // The key and (prefix, suffix) around it shared by the most tags; on a
    // tie the version, which reads best in catalog.toml.
    let mut patterns: BTreeMap<(Key, String, String), usize> = BTreeMap::new();
    for (_, tag, _) in &tagged {
        for key in [Key::Dir, Key::Version] {
            let mut seen = std::collections::BTreeSet::new();
            for value in found.iter().filter_map(|csv| key.of(csv)).filter(|value| !value.is_empty()) {
                if let Some(at) = tag.find(value) {
                    seen.insert((tag[..at].to_string(), tag[at + value.len()..].to_string()));
                }
            }
            for (prefix, suffix) in seen {
                *patterns.entry((key, prefix, suffix)).or_default() += 1;
            }
        }
    }
    let best = patterns
        .into_iter()
        .max_by_key(|((key, prefix, suffix), count)| (*count, *key == Key::Version, std::cmp::Reverse(prefix.len() + suffix.len())));
    let mut repositories: BTreeMap<&str, usize> = BTreeMap::new();
    for (repository, tag, image) in &tagged {
        let mapped = best.as_ref().and_then(|((key, prefix, suffix), _)| {
            let value = tag.strip_prefix(prefix.as_str())?.strip_suffix(suffix.as_str())?;
            let mut matching = found.iter().filter(|csv| key.of(csv) == Some(value));
            // Two bundles with one version: the tag names neither.
            match (matching.next(), matching.next()) {
                (Some(csv), None) => Some(csv),
                _ => None,
            }
        });
        match mapped {
            Some(csv) => {
                out.names.insert((*image).clone(), csv.name.clone());
                *repositories.entry(repository).or_default() += 1;
            }
            None => out.unmapped.push((*image).clone()),
        }
    }
    let digests: Vec<&String> = images.iter().filter(|image| image.contains("@sha256:")).collect();
    out.unmapped.extend(digests.iter().map(|image| (*image).clone()));
    if let (Some(((key, prefix, suffix), _)), [(repository, _)]) = (&best, repositories.into_iter().collect::<Vec<_>>().as_slice()) {
        out.bundle_image = Some(format!("{repository}:{prefix}{}{suffix}", key.variable()));
    } else if tagged.is_empty() && !digests.is_empty() {
        // Only digests: the repository most of them name, by version tag.
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for image in &digests {
            if let Some((repository, _)) = image.split_once('@') {
                *counts.entry(repository).or_default() += 1;
            }
        }
        if let Some((repository, _)) = counts.into_iter().max_by_key(|(_, count)| *count) {
            out.bundle_image = Some(format!("{repository}:{{{{ bundle.version }}}}"));
            out.from_digests = true;
        }
    }
    out
}

/// `(repository, tag)` of a tag reference; `None` for a digest reference
/// or one without a tag.
fn split_tag(image: &str) -> Option<(&str, &str)> {
    if image.contains('@') {
        return None;
    }
    let (repository, tag) = image.rsplit_once(':')?;
    (!tag.contains('/') && !tag.is_empty()).then_some((repository, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(versions: &[&str]) -> Vec<FoundCsv> {
        versions
            .iter()
            .map(|version| FoundCsv {
                name: format!("op.v{version}"),
                version: Some(version.to_string()),
                dir: version.to_string(),
            })
            .collect()
    }

    fn images(refs: &[&str]) -> Vec<String> {
        refs.iter().map(|image| image.to_string()).collect()
    }

    #[test]
    fn version_tags_map_to_their_bundles_and_give_one_template() {
        let mapped = map_images(
            &images(&["quay.io/p/op:1.0.0", "quay.io/p/op:1.1.0", "quay.io/p/op:9.9.9"]),
            &found(&["1.0.0", "1.1.0", "1.2.0"]),
        );
        assert_eq!(mapped.names["quay.io/p/op:1.1.0"], "op.v1.1.0");
        assert_eq!(mapped.names.len(), 2);
        assert_eq!(mapped.unmapped, vec!["quay.io/p/op:9.9.9".to_string()]);
        assert_eq!(mapped.bundle_image.as_deref(), Some("quay.io/p/op:{{ bundle.version }}"));
        assert!(!mapped.from_digests);
    }

    #[test]
    fn a_directory_name_that_is_not_the_version_wins_when_it_maps_more() {
        // aws-neuron-operator: directory 0.0.4 holds the CSV of v0.1.2.
        let mut bundles = found(&["0.0.3", "0.0.5"]);
        bundles.push(FoundCsv {
            name: "op.v0.1.2".to_string(),
            version: Some("0.1.2".to_string()),
            dir: "0.0.4".to_string(),
        });
        let mapped = map_images(&images(&["q.io/op:0.0.3", "q.io/op:0.0.4", "q.io/op:0.0.5"]), &bundles);
        assert_eq!(mapped.names["q.io/op:0.0.4"], "op.v0.1.2");
        assert_eq!(mapped.bundle_image.as_deref(), Some("q.io/op:{{ bundle.dir }}"));
    }

    #[test]
    fn a_shared_v_prefix_is_kept_in_the_template() {
        let mapped = map_images(&images(&["r.io/op:v2.0.1", "r.io/op:v2.1.0"]), &found(&["2.0.1", "2.1.0"]));
        assert_eq!(mapped.bundle_image.as_deref(), Some("r.io/op:v{{ bundle.version }}"));
        assert_eq!(mapped.names["r.io/op:v2.0.1"], "op.v2.0.1");
    }

    #[test]
    fn digests_map_to_nothing_but_name_the_repository() {
        let sha = "0".repeat(64);
        let mapped = map_images(
            &images(&[
                &format!("quay.io/a/op@sha256:{sha}"),
                &format!("quay.io/b/op@sha256:{sha}"),
                &format!("quay.io/b/op@sha256:{sha}"),
            ]),
            &found(&["1.0.0"]),
        );
        assert!(mapped.names.is_empty());
        assert_eq!(mapped.unmapped.len(), 3);
        assert_eq!(mapped.bundle_image.as_deref(), Some("quay.io/b/op:{{ bundle.version }}"));
        assert!(mapped.from_digests);
    }

    #[test]
    fn tags_in_two_repositories_give_no_single_template() {
        let mapped = map_images(&images(&["a.io/op:1.0.0", "b.io/op:1.1.0"]), &found(&["1.0.0", "1.1.0"]));
        assert_eq!(mapped.names.len(), 2);
        assert_eq!(mapped.bundle_image, None);
    }

    #[test]
    fn a_registry_port_is_not_a_tag() {
        assert_eq!(split_tag("localhost:5000/op"), None);
        assert_eq!(split_tag("localhost:5000/op:1.0.0"), Some(("localhost:5000/op", "1.0.0")));
    }
}
