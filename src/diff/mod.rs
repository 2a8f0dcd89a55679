//! What changed between two catalogs, in the words a reviewer uses:
//! packages, channels and bundles added or removed, channel heads and
//! default channels moved, upgrade edges added or removed, and which
//! properties of a bundle changed. Reviewers of a catalog change otherwise
//! read thousands of lines of JSON to learn that one head moved.
//!
//! Works on `fbc::DeclarativeConfig`, so any input that loads into it (an
//! FBC directory, a target's output, later an index.db or an image) can be
//! compared. No I/O here; `render.rs` turns a [`CatalogDiff`] into text,
//! markdown or JSON.

mod render;

use std::collections::{BTreeMap, BTreeSet};

use crate::fbc::{Bundle, Channel, ChannelEntry, DeclarativeConfig, Deprecation, Package};
use crate::model::upgrade_edges;

pub use crate::model::upgrade_edges::EdgeKind;

pub use render::{to_json, to_markdown, to_text};

/// Every package that differs, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogDiff {
    pub packages: Vec<PackageDiff>,
}

impl CatalogDiff {
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// How many packages were added, removed and changed.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |status| self.packages.iter().filter(|package| package.status == status).count();
        (count(Status::Added), count(Status::Removed), count(Status::Changed))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Added,
    Removed,
    Changed,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::Removed => "removed",
            Status::Changed => "changed",
        }
    }
}

/// An old and a new value that differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved<T> {
    pub old: T,
    pub new: T,
}

/// One package's changes. An added package is diffed against an empty
/// one (so everything in it is "added"), a removed one the other way.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageDiff {
    pub name: String,
    pub status: Status,
    pub default_channel: Option<Moved<String>>,
    pub description_changed: bool,
    pub icon_changed: bool,
    pub channels: Vec<ChannelDiff>,
    pub bundles: Vec<BundleDiff>,
    /// Deprecation entries (`package`, `channel NAME`, `bundle NAME`) with
    /// their message, added and removed.
    pub deprecations_added: Vec<String>,
    pub deprecations_removed: Vec<String>,
}

/// An upgrade edge of a channel: `from` replaces or skips `to`, or has
/// the skipRange `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub from: String,
    pub kind: EdgeKind,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelDiff {
    pub name: String,
    pub status: Status,
    /// The channel heads (more than one only in an invalid channel), old
    /// and new, when they differ.
    pub head: Option<Moved<Vec<String>>>,
    pub entries_added: Vec<String>,
    pub entries_removed: Vec<String>,
    pub edges_added: Vec<Edge>,
    pub edges_removed: Vec<Edge>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BundleDiff {
    pub name: String,
    pub status: Status,
    pub image: Option<Moved<String>>,
    /// Property types whose values differ, with how many values of that
    /// type were added and removed.
    pub properties: Vec<PropertyChange>,
    pub related_images_added: Vec<String>,
    pub related_images_removed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyChange {
    pub type_: String,
    pub added: usize,
    pub removed: usize,
}

/// Compares two catalogs. The order of blobs and files does not matter;
/// only what a cluster would see does.
pub fn diff(old: &DeclarativeConfig, new: &DeclarativeConfig) -> CatalogDiff {
    let old = Catalog::index(old);
    let new = Catalog::index(new);
    let names: BTreeSet<&str> = old.packages.keys().chain(new.packages.keys()).copied().collect();
    let empty = PackageView::default();
    let packages = names
        .into_iter()
        .filter_map(|name| {
            let (status, before, after) = match (old.packages.get(name), new.packages.get(name)) {
                (Some(before), Some(after)) => (Status::Changed, before, after),
                (None, Some(after)) => (Status::Added, &empty, after),
                (Some(before), None) => (Status::Removed, before, &empty),
                (None, None) => return None,
            };
            let package = diff_package(name, status, before, after);
            (status != Status::Changed || !package.is_unchanged()).then_some(package)
        })
        .collect();
    CatalogDiff { packages }
}

impl PackageDiff {
    fn is_unchanged(&self) -> bool {
        self.default_channel.is_none()
            && !self.description_changed
            && !self.icon_changed
            && self.channels.is_empty()
            && self.bundles.is_empty()
            && self.deprecations_added.is_empty()
            && self.deprecations_removed.is_empty()
    }
}

/// One catalog's blobs grouped by package.
struct Catalog<'a> {
    packages: BTreeMap<&'a str, PackageView<'a>>,
}

#[derive(Default)]
struct PackageView<'a> {
    package: Option<&'a Package>,
    channels: BTreeMap<&'a str, &'a Channel>,
    bundles: BTreeMap<&'a str, &'a Bundle>,
    deprecations: Vec<&'a Deprecation>,
}

impl<'a> Catalog<'a> {
    fn index(config: &'a DeclarativeConfig) -> Catalog<'a> {
        let mut packages: BTreeMap<&'a str, PackageView<'a>> = BTreeMap::new();
        for package in &config.packages {
            packages.entry(&package.name).or_default().package = Some(package);
        }
        for channel in &config.channels {
            packages
                .entry(&channel.package)
                .or_default()
                .channels
                .insert(&channel.name, channel);
        }
        for bundle in &config.bundles {
            packages.entry(&bundle.package).or_default().bundles.insert(&bundle.name, bundle);
        }
        for deprecation in &config.deprecations {
            packages.entry(&deprecation.package).or_default().deprecations.push(deprecation);
        }
        Catalog { packages }
    }
}

fn diff_package(name: &str, status: Status, old: &PackageView, new: &PackageView) -> PackageDiff {
    let default_channel = |view: &PackageView| view.package.map(|package| package.default_channel.clone()).unwrap_or_default();
    let moved = |old: String, new: String| (old != new).then_some(Moved { old, new });
    let description = |view: &PackageView| view.package.map(|package| package.description.clone());
    let icon = |view: &PackageView| view.package.and_then(|package| package.icon.clone());
    let channel_names: BTreeSet<&str> = old.channels.keys().chain(new.channels.keys()).copied().collect();
    let channels = channel_names
        .into_iter()
        .filter_map(|channel| diff_channel(channel, old.channels.get(channel).copied(), new.channels.get(channel).copied()))
        .collect();
    let bundle_names: BTreeSet<&str> = old.bundles.keys().chain(new.bundles.keys()).copied().collect();
    let bundles = bundle_names
        .into_iter()
        .filter_map(|bundle| diff_bundle(bundle, old.bundles.get(bundle).copied(), new.bundles.get(bundle).copied()))
        .collect();
    let (deprecations_added, deprecations_removed) = added_removed(deprecation_lines(old), deprecation_lines(new));
    PackageDiff {
        name: name.to_string(),
        status,
        default_channel: moved(default_channel(old), default_channel(new)),
        description_changed: status == Status::Changed && description(old) != description(new),
        icon_changed: status == Status::Changed && icon(old) != icon(new),
        channels,
        bundles,
        deprecations_added,
        deprecations_removed,
    }
}

fn deprecation_lines(view: &PackageView) -> BTreeSet<String> {
    view.deprecations
        .iter()
        .flat_map(|deprecation| &deprecation.entries)
        .map(|entry| {
            let reference = &entry.reference;
            let what = if reference.name.is_empty() {
                reference.schema.trim_start_matches("olm.").to_string()
            } else {
                format!("{} {}", reference.schema.trim_start_matches("olm."), reference.name)
            };
            format!("{what}: {}", entry.message)
        })
        .collect()
}

fn diff_channel(name: &str, old: Option<&Channel>, new: Option<&Channel>) -> Option<ChannelDiff> {
    let status = match (old, new) {
        (Some(_), Some(_)) => Status::Changed,
        (None, Some(_)) => Status::Added,
        (Some(_), None) => Status::Removed,
        (None, None) => return None,
    };
    let heads = |channel: Option<&Channel>| -> Vec<String> {
        upgrade_edges::heads(entries(channel))
            .into_iter()
            .map(|entry| entry.name.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let names = |channel: Option<&Channel>| -> BTreeSet<String> { entries(channel).iter().map(|entry| entry.name.clone()).collect() };
    let (entries_added, entries_removed) = added_removed(names(old), names(new));
    let (edges_added, edges_removed) = added_removed(edges(entries(old)), edges(entries(new)));
    // An added channel's head moves from nothing, a removed one's to nothing.
    let (old_heads, new_heads) = (heads(old), heads(new));
    let head = (old_heads != new_heads).then_some(Moved {
        old: old_heads,
        new: new_heads,
    });
    let changed =
        head.is_some() || !entries_added.is_empty() || !entries_removed.is_empty() || !edges_added.is_empty() || !edges_removed.is_empty();
    (status != Status::Changed || changed).then(|| ChannelDiff {
        name: name.to_string(),
        status,
        head,
        entries_added,
        entries_removed,
        edges_added,
        edges_removed,
    })
}

fn entries(channel: Option<&Channel>) -> &[ChannelEntry] {
    channel.and_then(|channel| channel.entries.as_deref()).unwrap_or_default()
}

fn edges(entries: &[ChannelEntry]) -> BTreeSet<Edge> {
    let mut edges = BTreeSet::new();
    for entry in entries {
        let edge = |kind, to: &str| Edge {
            from: entry.name.clone(),
            kind,
            to: to.to_string(),
        };
        if !entry.replaces.is_empty() {
            edges.insert(edge(EdgeKind::Replaces, &entry.replaces));
        }
        for skipped in &entry.skips {
            edges.insert(edge(EdgeKind::Skips, skipped));
        }
        if !entry.skip_range.is_empty() {
            edges.insert(edge(EdgeKind::SkipRange, &entry.skip_range));
        }
    }
    edges
}

fn diff_bundle(name: &str, old: Option<&Bundle>, new: Option<&Bundle>) -> Option<BundleDiff> {
    let status = match (old, new) {
        (Some(_), Some(_)) => Status::Changed,
        (None, Some(_)) => Status::Added,
        (Some(_), None) => Status::Removed,
        (None, None) => return None,
    };
    let image = match (old, new) {
        (Some(old), Some(new)) if old.image != new.image => Some(Moved {
            old: old.image.clone(),
            new: new.image.clone(),
        }),
        _ => None,
    };
    let mut properties = Vec::new();
    if status == Status::Changed {
        let (old_values, new_values) = (property_values(old), property_values(new));
        let types: BTreeSet<&str> = old_values.keys().chain(new_values.keys()).copied().collect();
        for type_ in types {
            let (added, removed) = multiset_difference(
                old_values.get(type_).map(Vec::as_slice).unwrap_or_default(),
                new_values.get(type_).map(Vec::as_slice).unwrap_or_default(),
            );
            if added + removed > 0 {
                properties.push(PropertyChange {
                    type_: type_.to_string(),
                    added,
                    removed,
                });
            }
        }
    }
    let related = |bundle: Option<&Bundle>| -> BTreeSet<String> {
        bundle
            .map(|bundle| bundle.related_images.iter().map(|related| related.image.clone()).collect())
            .unwrap_or_default()
    };
    let (related_images_added, related_images_removed) = if status == Status::Changed {
        added_removed(related(old), related(new))
    } else {
        (Vec::new(), Vec::new())
    };
    let changed = image.is_some() || !properties.is_empty() || !related_images_added.is_empty() || !related_images_removed.is_empty();
    (status != Status::Changed || changed).then(|| BundleDiff {
        name: name.to_string(),
        status,
        image,
        properties,
        related_images_added,
        related_images_removed,
    })
}

/// A bundle's property values by type.
fn property_values(bundle: Option<&Bundle>) -> BTreeMap<&str, Vec<&str>> {
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for property in bundle.map(|bundle| bundle.properties.as_slice()).unwrap_or_default() {
        by_type.entry(&property.type_).or_default().push(&property.value);
    }
    by_type
}

/// How many values are in `new` and not `old`, and the other way, counting
/// repeats (a property listed twice is two values).
fn multiset_difference(old: &[&str], new: &[&str]) -> (usize, usize) {
    let mut counts: BTreeMap<&str, isize> = BTreeMap::new();
    for value in old {
        *counts.entry(value).or_default() -= 1;
    }
    for value in new {
        *counts.entry(value).or_default() += 1;
    }
    let added = counts.values().filter(|count| **count > 0).map(|count| count.unsigned_abs()).sum();
    let removed = counts.values().filter(|count| **count < 0).map(|count| count.unsigned_abs()).sum();
    (added, removed)
}

/// What is in `new` and not in `old`, and the other way, each sorted.
fn added_removed<T: Ord + Clone>(old: BTreeSet<T>, new: BTreeSet<T>) -> (Vec<T>, Vec<T>) {
    let added = new.difference(&old).cloned().collect();
    let removed = old.difference(&new).cloned().collect();
    (added, removed)
}

#[cfg(test)]
mod tests;
