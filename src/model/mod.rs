//! The linked catalog model and opm's validation of it: opm's `alpha/model`
//! with the bridges of `alpha/declcfg` (`ConvertToModel`,
//! `ConvertFromModel`).
//!
//! Every loader produces a [`Model`] and every encoder reads one (STYLE
//! 1.2). The types carry no serde and know no files (STYLE 1.3): the wire
//! types live in [`crate::fbc`], and [`convert`] turns one into the other.
//!
//! Layout follows opm: a [`Package`] owns its [`Channel`]s by name, and a
//! channel owns its [`Bundle`]s by name. A bundle listed in two channels is
//! two `Bundle` values, one per channel, each with that channel's
//! `replaces`/`skips`/`skipRange` (opm keeps one `*model.Bundle` per channel
//! too). opm links parents with pointers; here a child names its parent
//! (`bundle.package`, `bundle.channel`, `channel.package`) and validation
//! checks that those names agree with where the child sits.
//!
//! Maps are `BTreeMap`s, so everything iterates in name order. opm iterates
//! Go maps (random order), which makes the sibling order of its validation
//! tree random; catbuild always reports siblings sorted by name.

pub mod convert;
pub mod error;
pub(crate) mod image_ref;
pub mod k8s_names;
pub mod property;
pub mod upgrade_edges;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use convert::{ModelError, convert_from_model, convert_to_model, convert_to_model_with, parse_release, validate_config};
pub use error::{ErrorChild, ErrorTree, Issue, ReplacesChainError, Scope, ValidationError};
pub use k8s_names::dns1123_label_errors;

use crate::fbc::Property;
use crate::semver::{PreRelease, Range, Version};

/// Every package of a catalog, by name (opm's `model.Model`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Model {
    pub packages: BTreeMap<String, Package>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Package {
    pub name: String,
    pub description: String,
    pub icon: Option<Icon>,
    /// Name of the default channel; `None` when the `olm.package` blob had
    /// none (opm's nil `DefaultChannel`).
    pub default_channel: Option<String>,
    pub channels: BTreeMap<String, Channel>,
    pub deprecation: Option<Deprecation>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Icon {
    pub data: Vec<u8>,
    pub media_type: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Channel {
    /// Name of the owning package.
    pub package: String,
    pub name: String,
    pub bundles: BTreeMap<String, Bundle>,
    pub deprecation: Option<Deprecation>,
    /// Channel properties; opm marks them "internal use only".
    pub properties: Vec<Property>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bundle {
    /// Name of the owning package.
    pub package: String,
    /// Name of the owning channel.
    pub channel: String,
    pub name: String,
    pub image: String,
    pub replaces: String,
    pub skips: Vec<String>,
    pub skip_range: String,
    /// Shared by the bundle's copies in every channel (opm's copies share
    /// one Go slice): a bundle in 30 channels must not hold 30 copies of
    /// its manifests.
    pub properties: Arc<Vec<Property>>,
    pub related_images: Vec<RelatedImage>,
    pub deprecation: Option<Deprecation>,
    /// Manifests from the `olm.bundle.object` properties (decoded `data`),
    /// kept for serving the gRPC API as opm does. Raw: normalizing them is
    /// the server's job ([`Bundle::csv_json`]), not validation's. Empty
    /// strings, one per object, when converted with
    /// [`property::Objects::Checked`].
    pub objects: Arc<Vec<String>>,
    /// From the `olm.package` property's `version`.
    pub version: Version,
    /// From the `olm.package` property's `release` (empty: no release).
    pub release: Vec<PreRelease>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct RelatedImage {
    pub name: String,
    pub image: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deprecation {
    pub message: String,
}

/// What parsing a bundle's properties gave (the number of `olm.package`
/// properties, or opm's error), per shared property list: a bundle's
/// copies in many channels are parsed once, not once per channel (its
/// manifests are decoded in the parse).
pub(crate) type PropertyChecks = std::collections::HashMap<*const Vec<Property>, Result<usize, String>>;

impl Model {
    /// opm's `Model.Validate`: `Ok` or the whole tree of problems, rooted at
    /// `invalid index`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.validate_with_checks(PropertyChecks::default())
    }

    /// [`Model::validate`] with property lists already parsed: the caller
    /// keeps each list alive (so no other list can take its address) and
    /// vouches that `property::parse` of it gave that result.
    pub(crate) fn validate_with_checks(&self, mut checks: PropertyChecks) -> Result<(), ValidationError> {
        let mut root = ErrorTree::new(Scope::Index);
        for (key, package) in &self.packages {
            if *key != package.name {
                root.push(Issue::PackageKeyMismatch {
                    key: key.clone(),
                    name: package.name.clone(),
                });
            }
            if let Some(tree) = package.validate_with(&mut checks) {
                root.children.push(ErrorChild::Tree(tree));
            }
        }
        root.into_result().map_or(Ok(()), |tree| Err(ValidationError(tree)))
    }
}

impl Package {
    /// opm's `Package.Validate`, checks in opm's order.
    pub fn validate(&self) -> Option<ErrorTree> {
        self.validate_with(&mut PropertyChecks::default())
    }

    fn validate_with(&self, checks: &mut PropertyChecks) -> Option<ErrorTree> {
        let mut tree = ErrorTree::new(Scope::Package(self.name.clone()));
        if self.name.is_empty() {
            tree.push(Issue::PackageNameEmpty);
        }
        // opm's icon checks are all commented out: nothing to do.
        if self.default_channel.is_none() {
            tree.push(Issue::DefaultChannelNotSet);
        }
        if self.channels.is_empty() {
            tree.push(Issue::NoChannels);
        }
        for (key, channel) in &self.channels {
            if *key != channel.name {
                tree.push(Issue::ChannelKeyMismatch {
                    key: key.clone(),
                    name: channel.name.clone(),
                });
            }
            if let Some(channel_tree) = channel.validate_with(checks) {
                tree.children.push(ErrorChild::Tree(channel_tree));
            }
            if channel.package != self.name {
                tree.push(Issue::ChannelNotLinked {
                    channel: channel.name.clone(),
                });
            }
        }
        let duplicates = self.duplicate_versions();
        if !duplicates.is_empty() {
            tree.push(Issue::DuplicateVersions { versions: duplicates });
        }
        if let Some(default_channel) = &self.default_channel
            && !self.channels.contains_key(default_channel)
        {
            tree.push(Issue::DefaultChannelNotFound {
                channel: default_channel.clone(),
            });
        }
        if self.deprecation.as_ref().is_some_and(|deprecation| deprecation.message.is_empty()) {
            tree.push(Issue::DeprecationMessageEmpty);
        }
        tree.into_result()
    }

    /// opm's `validateUniqueBundleVersions`: version strings (with release)
    /// shared by more than one bundle name, versions sorted as strings,
    /// names sorted.
    pub fn duplicate_versions(&self) -> Vec<(String, Vec<String>)> {
        let mut names_by_version: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for bundle in self.channels.values().flat_map(|channel| channel.bundles.values()) {
            names_by_version.entry(bundle.version_string()).or_default().insert(&bundle.name);
        }
        names_by_version
            .into_iter()
            .filter(|(_, names)| names.len() > 1)
            .map(|(version, names)| (version, names.into_iter().map(str::to_string).collect()))
            .collect()
    }

    /// Every distinct bundle of the package (one per name, taken from the
    /// first channel, by name, that lists it), oldest first by
    /// [`Bundle::compare`], ties by name.
    pub fn bundles_by_version(&self) -> Vec<&Bundle> {
        let mut by_name: BTreeMap<&str, &Bundle> = BTreeMap::new();
        for bundle in self.channels.values().flat_map(|channel| channel.bundles.values()) {
            by_name.entry(&bundle.name).or_insert(bundle);
        }
        let mut bundles: Vec<&Bundle> = by_name.into_values().collect();
        bundles.sort_by(|left, right| left.compare(right).then_with(|| left.name.cmp(&right.name)));
        bundles
    }
}

impl Channel {
    /// opm's `Channel.Validate`, checks in opm's order.
    pub fn validate(&self) -> Option<ErrorTree> {
        self.validate_with(&mut PropertyChecks::default())
    }

    fn validate_with(&self, checks: &mut PropertyChecks) -> Option<ErrorTree> {
        let mut tree = ErrorTree::new(Scope::Channel(self.name.clone()));
        if self.name.is_empty() {
            tree.push(Issue::ChannelNameEmpty);
        }
        if self.package.is_empty() {
            tree.push(Issue::ChannelPackageNotSet);
        }
        if self.bundles.is_empty() {
            tree.push(Issue::ChannelEmpty);
        } else if let Err(error) = self.validate_replaces_chain() {
            tree.push(Issue::ReplacesChain(error));
        }
        for (key, bundle) in &self.bundles {
            if *key != bundle.name {
                tree.push(Issue::BundleKeyMismatch {
                    key: key.clone(),
                    name: bundle.name.clone(),
                });
            }
            if let Some(bundle_tree) = bundle.validate_with(&self.package, checks) {
                tree.children.push(ErrorChild::Tree(bundle_tree));
            }
            if bundle.channel != self.name {
                tree.push(Issue::BundleNotLinked {
                    bundle: bundle.name.clone(),
                });
            }
        }
        if self.deprecation.as_ref().is_some_and(|deprecation| deprecation.message.is_empty()) {
            tree.push(Issue::DeprecationMessageEmpty);
        }
        tree.into_result()
    }

    /// opm's `Channel.Head`: the one bundle that no other bundle of the
    /// channel replaces or skips. `skipRange` makes no edge.
    pub fn head(&self) -> Result<&Bundle, ReplacesChainError> {
        match upgrade_edges::heads(self.bundles.values()).as_slice() {
            [] => Err(ReplacesChainError::NoHead),
            [head] => Ok(head),
            // Bundles iterate by name, so the names are already sorted.
            several => Err(ReplacesChainError::MultipleHeads {
                heads: several.iter().map(|bundle| bundle.name.clone()).collect(),
            }),
        }
    }

    /// The replaces chain from the head: the head, the bundle it replaces,
    /// and so on, stopping before a name that some bundle skips or that is
    /// not in the channel. Fails as opm's `validateReplacesChain` does on a
    /// missing or ambiguous head or a cycle (not on stranded bundles).
    pub fn replaces_chain(&self) -> Result<Vec<&Bundle>, ReplacesChainError> {
        self.walk_replaces_chain().map(|walk| walk.chain)
    }

    /// opm's `validateReplacesChain`: exactly one head; the replaces chain
    /// from it has no cycle; every bundle is on the chain or skipped by
    /// some bundle (a chain's tail may replace a bundle that is not there).
    pub fn validate_replaces_chain(&self) -> Result<(), ReplacesChainError> {
        let walk = self.walk_replaces_chain()?;
        let stranded: Vec<String> = self
            .bundles
            .keys()
            .filter(|name| !walk.reached.contains(name.as_str()) && !walk.skipped.contains(name.as_str()))
            .cloned()
            .collect();
        if stranded.is_empty() {
            Ok(())
        } else {
            Err(ReplacesChainError::Stranded { bundles: stranded })
        }
    }

    /// The channel's bundles, oldest first by [`Bundle::compare`] (version,
    /// then release), ties by name.
    pub fn bundles_by_version(&self) -> Vec<&Bundle> {
        let mut bundles: Vec<&Bundle> = self.bundles.values().collect();
        bundles.sort_by(|left, right| left.compare(right).then_with(|| left.name.cmp(&right.name)));
        bundles
    }

    fn walk_replaces_chain(&self) -> Result<ReplacesWalk<'_>, ReplacesChainError> {
        let head = self.head()?;
        let skipped = upgrade_edges::skipped_names(self.bundles.values());
        let walk = upgrade_edges::walk_replaces(head, &skipped, |name| self.bundles.get(name))
            .map_err(|chain| ReplacesChainError::Cycle { chain })?;
        Ok(ReplacesWalk {
            chain: walk.chain,
            reached: walk.reached,
            skipped,
        })
    }
}

struct ReplacesWalk<'a> {
    chain: Vec<&'a Bundle>,
    reached: BTreeSet<&'a str>,
    skipped: BTreeSet<&'a str>,
}

impl Bundle {
    /// The object among [`Bundle::objects`] whose kind is
    /// `ClusterServiceVersion`, as opm keeps it (sigs.k8s.io/yaml `ToJSON`:
    /// keys sorted, compact, HTML characters escaped), or empty.
    pub fn csv_json(&self) -> String {
        convert::csv_json(&self.objects)
    }

    /// opm's `VersionString`: the version, then `-` and the release
    /// identifiers when there is a release.
    pub fn version_string(&self) -> String {
        if self.release.is_empty() {
            return self.version.to_string();
        }
        let release: Vec<String> = self.release.iter().map(PreRelease::to_string).collect();
        format!("{}-{}", self.version, release.join("."))
    }

    /// opm's `normalizeName`: with a release, a bundle must be named
    /// `<package>-v<version>-<release>`; without one any name goes.
    pub fn normalized_name(&self) -> String {
        if self.release.is_empty() {
            self.name.clone()
        } else {
            format!("{}-v{}", self.package, self.version_string())
        }
    }

    /// opm's `Bundle.Compare`: same name is equal; else by version (blang,
    /// build metadata ignored), then a bundle with a release sorts after one
    /// without, then releases compare as pre-releases.
    pub fn compare(&self, other: &Bundle) -> Ordering {
        if self.name == other.name {
            return Ordering::Equal;
        }
        if self.version != other.version {
            return self.version.cmp(&other.version);
        }
        match (self.release.is_empty(), other.release.is_empty()) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            // blang compares two `0.0.0-<release>` versions: by pre-release.
            _ => self.release.cmp(&other.release),
        }
    }

    /// opm's `Bundle.Validate`, checks in opm's order. `channel_package` is
    /// the package of the channel holding the bundle (opm follows the
    /// bundle's channel pointer for it).
    pub fn validate(&self, channel_package: &str) -> Option<ErrorTree> {
        self.validate_with(channel_package, &mut PropertyChecks::default())
    }

    fn validate_with(&self, channel_package: &str, checks: &mut PropertyChecks) -> Option<ErrorTree> {
        let mut tree = ErrorTree::new(Scope::Bundle(self.name.clone()));
        if self.name.is_empty() {
            tree.push(Issue::BundleNameEmpty);
        }
        let normalized_name = self.normalized_name();
        if self.name != normalized_name {
            tree.push(Issue::NameNotNormalized {
                name: self.name.clone(),
                normalized: normalized_name,
            });
        }
        if self.channel.is_empty() {
            tree.push(Issue::BundleChannelNotSet);
        }
        if self.package.is_empty() {
            tree.push(Issue::BundlePackageNotSet);
        }
        if !self.channel.is_empty() && !self.package.is_empty() && self.package != channel_package {
            tree.push(Issue::BundlePackageMismatch);
        }
        let parsed = checks
            .entry(Arc::as_ptr(&self.properties))
            .or_insert_with(|| property::parse_with(&self.properties, property::Objects::Checked).map(|parsed| parsed.packages.len()));
        if let Err(error) = &parsed {
            tree.push(Issue::Property(error.clone()));
        }
        for (skip_idx, skip) in self.skips.iter().enumerate() {
            if skip.is_empty() {
                tree.push(Issue::EmptySkip { index: skip_idx });
            }
        }
        if !self.skip_range.is_empty()
            && let Err(error) = Range::parse(&self.skip_range)
        {
            tree.push(Issue::InvalidSkipRange {
                skip_range: self.skip_range.clone(),
                error,
            });
        }
        if let Ok(n_packages) = &parsed
            && *n_packages != 1
        {
            tree.push(Issue::PackagePropertyCount);
        }
        if self.image.is_empty() && self.objects.is_empty() {
            tree.push(Issue::BundleImageNotSet);
        }
        if self.deprecation.as_ref().is_some_and(|deprecation| deprecation.message.is_empty()) {
            tree.push(Issue::DeprecationMessageEmpty);
        }
        if !self.version.build.is_empty() && !self.release.is_empty() {
            tree.push(Issue::BuildMetadataWithRelease);
        }
        tree.into_result()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod conformance_tests;
