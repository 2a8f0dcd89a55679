//! One validated package as the rows opm's loaders insert for it.
//!
//! Two opm loaders fill an index, and they differ in a few columns:
//! `opm registry add` / `opm index add` load bundle images
//! (`pkg/sqlite/load.go` `addOperatorBundle` via the image loader), and the
//! initializer (upstream-registry-builder) loads package-manifest
//! directories (`pkg/sqlite/directory.go` `DirectoryLoader`). [`Loader`]
//! names the one whose rows catbuild reproduces for a package.
//!
//! The channels, heads and default channel come from catbuild's model.
//! [`ChannelWriter`] names which of opm's two channel writers leaves the
//! package's `channel_entry` rows: replaces mode and the initializer walk
//! the head's `replaces` chain with a synthetic pair per skipped name
//! (`addPackageChannels`); the semver add modes write the graph they built
//! (`AddPackageChannelsFromGraph`) and then drop the CSV and objects of
//! every bundle that heads no channel (`ClearNonHeadBundles`).
//! No I/O: the rows are plain data, inserted by [`super::index`].

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use crate::encoding::json::{self, Value};
use crate::fbc::{
    DeclarativeConfig, PROPERTY_BUNDLE_OBJECT, PROPERTY_CSV_METADATA, PROPERTY_GVK, PROPERTY_GVK_REQUIRED, PROPERTY_PACKAGE,
    PROPERTY_PACKAGE_REQUIRED,
};
use crate::model::{Bundle, Model};

/// Which opm loader's rows a package gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// `opm registry add` of bundle images: `bundlepath` is the bundle
    /// image, and the bundle's own `olm.package` property is stored.
    Image,
    /// The initializer over package-manifest directories: no image
    /// (`bundlepath` is empty) and no `olm.package` property of its own,
    /// since such bundles have no annotations.
    Directory,
}

/// Which of opm's channel writers a package's rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelWriter {
    /// Replaces mode (`opm registry add`, the default) and the initializer:
    /// `addPackageChannels` (spec D.5), one `olm.package` property row per
    /// bundle each channel walk visits.
    ReplacesChain,
    /// The semver and semver-skippatch add modes (spec D.6):
    /// `AddPackageChannelsFromGraph`, then `ClearNonHeadBundles`.
    SemverGraph,
}

/// What the loaders saw of a package that its model does not keep.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceOrder {
    /// Per bundle name: for each of its `olm.bundle.object`s (in the
    /// model's order), the position of that manifest among the bundle's
    /// files. opm's `operatorbundle.bundle` lists objects in file order;
    /// FBC sorts them.
    pub object_file_order: BTreeMap<String, Vec<u32>>,
    /// The channels of the package's package manifest, in its order; empty
    /// for bundle directories.
    pub channel_order: Vec<String>,
}

/// Everything one package adds to `index.db`.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageRows {
    pub name: String,
    pub default_channel: Option<String>,
    pub bundles: Vec<BundleRow>,
    /// In insertion order, which decides the `entry_id`s.
    pub channels: Vec<ChannelRows>,
}

/// An `operatorbundle` row and the rows that hang off it.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleRow {
    pub name: String,
    /// The CSV as opm stores it: compact JSON, keys sorted, HTML escaped,
    /// with the trailing newline of Go's `json.Encoder`.
    pub csv: Option<Vec<u8>>,
    /// Every object of the bundle, encoded as `csv`, one after the other.
    pub bundle: Option<Vec<u8>>,
    pub bundlepath: String,
    pub version: String,
    pub skiprange: String,
    /// The CSV's `spec.replaces`, whatever the channels say: opm stores
    /// the CSV's edges here in every mode, and the channels' edges only in
    /// `channel_entry`.
    pub replaces: String,
    /// The CSV's `spec.skips` joined with `,`.
    pub skips: String,
    pub substitutesfor: String,
    pub related_images: Vec<String>,
    /// `(type, value)` of the `properties` table.
    pub properties: Vec<(String, String)>,
    /// `(type, value)` of the `dependencies` table.
    pub dependencies: Vec<(String, String)>,
    pub provided_apis: Vec<Api>,
    pub required_apis: Vec<Api>,
}

/// A group/version/kind with its plural, as the `api` table keeps it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Api {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRows {
    pub name: String,
    pub head: String,
    /// `channel_entry` rows in insertion order.
    pub entries: Vec<ChannelEntryRow>,
    /// `(bundle name, version)` of every bundle the walk visited, in order:
    /// `addPackageChannels` adds an `olm.package` property row for each
    /// visit, so a bundle in two channels has two such rows. Empty for
    /// [`ChannelWriter::SemverGraph`], which adds none.
    pub visited: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelEntryRow {
    pub operatorbundle_name: String,
    /// Index (in this channel's `entries`) of the entry this one replaces.
    pub replaces: Option<usize>,
    pub depth: i64,
}

/// Why a valid package has no replaces-mode rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowsError {
    /// opm's `Invalid bundle %s, replaces nonexistent bundle %s`.
    #[error("invalid bundle {bundle}, replaces nonexistent bundle {replaces}")]
    ReplacesNonexistent { bundle: String, replaces: String },
    /// opm's `Cycle detected, %s replaces %s`.
    #[error("cycle detected, {bundle} replaces {replaces}")]
    Cycle { bundle: String, replaces: String },
    #[error("channel `{channel}` has no head: {message}")]
    NoHead { channel: String, message: String },
}

/// The rows of one package of a validated model.
pub fn package_rows(
    config: &DeclarativeConfig,
    model: &Model,
    source_order: &SourceOrder,
    loader: Loader,
    writer: ChannelWriter,
) -> Result<Vec<PackageRows>, RowsError> {
    let mut all = Vec::new();
    for package in model.packages.values() {
        // One model bundle per name: opm's `operatorbundle` has one row per
        // CSV, with the CSV's own replaces/skips (the same in every channel
        // in replaces mode).
        let mut by_name: BTreeMap<&str, &Bundle> = BTreeMap::new();
        for channel in package.channels.values() {
            for bundle in channel.bundles.values() {
                by_name.entry(bundle.name.as_str()).or_insert(bundle);
            }
        }
        let mut bundle_names: Vec<&str> = config
            .bundles
            .iter()
            .filter(|bundle| bundle.package == package.name)
            .map(|bundle| bundle.name.as_str())
            .filter(|name| by_name.contains_key(name))
            .collect();
        let mut seen = BTreeSet::new();
        bundle_names.retain(|name| seen.insert(*name));
        // Each row re-reads its bundle's objects (most of the package's
        // bytes): bundles in parallel, collected in order.
        let mut bundles: Vec<BundleRow> = bundle_names
            .par_iter()
            .map(|name| bundle_row(by_name[name], source_order.object_file_order.get(*name), loader))
            .collect();

        // The initializer inserts channels in the package manifest's order
        // (`pkg/sqlite/directory.go`, `AddPackageChannels` over the
        // manifest's channel list). For bundle images, the package's
        // channels in name order, which is what the add-* conformance cases
        // of opm v1.26.5 show.
        let mut channel_names: Vec<&str> = source_order
            .channel_order
            .iter()
            .map(String::as_str)
            .chain(
                config
                    .channels
                    .iter()
                    .filter(|channel| channel.package == package.name)
                    .map(|channel| channel.name.as_str()),
            )
            .filter(|name| package.channels.contains_key(*name))
            .collect();
        for name in package.channels.keys() {
            if !channel_names.contains(&name.as_str()) {
                channel_names.push(name);
            }
        }
        let mut seen = BTreeSet::new();
        channel_names.retain(|name| seen.insert(*name));
        if writer == ChannelWriter::SemverGraph {
            // `AddPackageChannelsFromGraph` ranges over a Go map, so opm's
            // channel order (and with it the `entry_id`s) is random; name
            // order is one of its orders, and the one the add-* cases show.
            channel_names.sort_unstable();
        }
        let mut channels = Vec::new();
        for channel_name in channel_names {
            let channel = &package.channels[channel_name];
            let head = channel.head().map_err(|error| RowsError::NoHead {
                channel: channel_name.to_string(),
                message: error.to_string(),
            })?;
            // The channel's own edges first: under the `explicit` and
            // `semver` policies a bundle's replaces may differ per channel.
            let mut in_channel = by_name.clone();
            in_channel.extend(channel.bundles.values().map(|bundle| (bundle.name.as_str(), bundle)));
            channels.push(match writer {
                ChannelWriter::ReplacesChain => walk_channel(channel_name, &head.name, &in_channel)?,
                ChannelWriter::SemverGraph => walk_graph(channel_name, &head.name, &in_channel)?,
            });
        }
        if writer == ChannelWriter::SemverGraph {
            clear_non_head_bundles(&mut bundles, &channels);
        }
        all.push(PackageRows {
            name: package.name.clone(),
            default_channel: package.default_channel.clone(),
            bundles,
            channels,
        });
    }
    Ok(all)
}

/// `addPackageChannels`' walk (`pkg/sqlite/load.go`): the head at depth 0,
/// then for each bundle on the replaces chain its skipped names, each as a
/// pair (skipped name, then the skipping bundle again pointing at it), and
/// the bundle it replaces one level deeper. Skipped names need not be
/// bundles of the index.
fn walk_channel(channel: &str, head: &str, by_name: &BTreeMap<&str, &Bundle>) -> Result<ChannelRows, RowsError> {
    let mut entries = Vec::new();
    let mut visited = Vec::new();
    let mut seen = BTreeSet::new();
    let mut current = head.to_string();
    let mut current_idx = push_entry(&mut entries, &current, None, 0);
    let mut depth = 1;
    seen.insert(current.clone());
    while let Some(bundle) = by_name.get(current.as_str()) {
        visited.push((bundle.name.clone(), bundle.version_string()));
        for skip in &bundle.skips {
            let skip_idx = push_entry(&mut entries, skip, None, depth);
            push_entry(&mut entries, &current, Some(skip_idx), depth);
            depth += 1;
        }
        if bundle.replaces.is_empty() {
            break;
        }
        let replaces_idx = push_entry(&mut entries, &bundle.replaces, None, depth);
        if !seen.insert(bundle.replaces.clone()) {
            return Err(RowsError::Cycle {
                bundle: current,
                replaces: bundle.replaces.clone(),
            });
        }
        entries[current_idx].replaces = Some(replaces_idx);
        if !by_name.contains_key(bundle.replaces.as_str()) {
            return Err(RowsError::ReplacesNonexistent {
                bundle: current,
                replaces: bundle.replaces.clone(),
            });
        }
        current_idx = replaces_idx;
        current.clone_from(&bundle.replaces);
        depth += 1;
    }
    Ok(ChannelRows {
        name: channel.to_string(),
        head: head.to_string(),
        entries,
        visited,
    })
}

/// `AddPackageChannelsFromGraph`'s walk (`pkg/sqlite/load.go`): from the
/// head along the one edge to another node of the graph (the model's
/// `replaces`), one level deeper per node. A node's other edges (its
/// `skips`: the bundles the add modes took out of the graph) become
/// synthetic pairs (skipped name, then the node again pointing at it)
/// from one level below the node down, written before the next node.
/// opm ranges over them in Go map order; catbuild takes the channel's
/// order (oldest first). No `olm.package` rows: this writer adds none.
fn walk_graph(channel: &str, head: &str, by_name: &BTreeMap<&str, &Bundle>) -> Result<ChannelRows, RowsError> {
    let mut entries = Vec::new();
    let mut seen = BTreeSet::new();
    let mut current = head.to_string();
    let mut previous_idx: Option<usize> = None;
    let mut depth = 0;
    loop {
        let current_idx = push_entry(&mut entries, &current, None, depth);
        if let Some(previous_idx) = previous_idx {
            entries[previous_idx].replaces = Some(current_idx);
        }
        seen.insert(current.clone());
        let Some(bundle) = by_name.get(current.as_str()) else {
            break;
        };
        for (synthetic_depth, skip) in (depth + 1..).zip(&bundle.skips) {
            let skip_idx = push_entry(&mut entries, skip, None, synthetic_depth);
            push_entry(&mut entries, &current, Some(skip_idx), synthetic_depth);
        }
        if bundle.replaces.is_empty() {
            break;
        }
        if seen.contains(&bundle.replaces) {
            return Err(RowsError::Cycle {
                bundle: current,
                replaces: bundle.replaces.clone(),
            });
        }
        if !by_name.contains_key(bundle.replaces.as_str()) {
            return Err(RowsError::ReplacesNonexistent {
                bundle: current,
                replaces: bundle.replaces.clone(),
            });
        }
        previous_idx = Some(current_idx);
        current.clone_from(&bundle.replaces);
        depth += 1;
    }
    Ok(ChannelRows {
        name: channel.to_string(),
        head: head.to_string(),
        entries,
        visited: Vec::new(),
    })
}

/// `ClearNonHeadBundles` (`pkg/sqlite/load.go`), which the semver add modes
/// run after their last add: a bundle loaded from an image (non-empty
/// `bundlepath`) that heads no channel keeps its row without its CSV and
/// objects. opm runs it over the whole index; catbuild over the packages
/// whose policy is an add mode, so a replaces-mode package of the same
/// catalog keeps its bundles whole, as it would in an index built by
/// replaces-mode adds only. Writing NULL at insert time (not updating
/// later) leaves no free pages in the file.
fn clear_non_head_bundles(bundles: &mut [BundleRow], channels: &[ChannelRows]) {
    let heads: BTreeSet<&str> = channels.iter().map(|channel| channel.head.as_str()).collect();
    for bundle in bundles.iter_mut() {
        if !bundle.bundlepath.is_empty() && !heads.contains(bundle.name.as_str()) {
            bundle.csv = None;
            bundle.bundle = None;
        }
    }
}

fn push_entry(entries: &mut Vec<ChannelEntryRow>, name: &str, replaces: Option<usize>, depth: i64) -> usize {
    entries.push(ChannelEntryRow {
        operatorbundle_name: name.to_string(),
        replaces,
        depth,
    });
    entries.len() - 1
}

/// `addOperatorBundle`'s rows for one bundle.
fn bundle_row(bundle: &Bundle, object_file_order: Option<&Vec<u32>>, loader: Loader) -> BundleRow {
    // Back to manifest order (a stable sort: objects without a known
    // position keep the model's order, after the others).
    let mut ordered: Vec<(u32, &String)> = bundle
        .objects
        .iter()
        .enumerate()
        .map(|(object_idx, object)| {
            let file_idx = object_file_order
                .and_then(|order| order.get(object_idx))
                .copied()
                .unwrap_or(u32::MAX);
            (file_idx, object)
        })
        .collect();
    ordered.sort_by_key(|(file_idx, _)| *file_idx);
    // runtime.Encode with the unstructured JSON scheme: json.Encoder of a
    // Go map, so keys sorted, HTML escaped and a trailing newline. Each
    // object is encoded once; the CSV's bytes are its part of `bundle`.
    // Objects catbuild's loaders made are in that form already (the text
    // of `olm.bundle.object` is the same encoding): those are copied.
    let (objects, canonical): (Vec<Value>, Vec<Option<&str>>) = ordered
        .iter()
        .filter_map(|(_, object)| {
            let value = json::parse(object).ok()?;
            Some(if json::is_canonical_compact(object, &value, true) {
                (value, Some(object.as_str()))
            } else {
                (value.sort_keys(), None)
            })
        })
        .unzip();
    let csv_idx = objects
        .iter()
        .position(|object| object.get("kind").and_then(Value::as_str) == Some("ClusterServiceVersion"));
    let csv_value = csv_idx.map(|csv_idx| &objects[csv_idx]);
    // Re-encoded objects are about as long as their source text.
    let mut bundle_text = String::with_capacity(ordered.iter().map(|(_, object)| object.len() + 1).sum());
    let mut csv_range = None;
    for (object_idx, object) in objects.iter().enumerate() {
        let start = bundle_text.len();
        match canonical[object_idx] {
            Some(text) => bundle_text.push_str(text),
            None => json::append_compact(&mut bundle_text, object, true),
        }
        bundle_text.push('\n');
        if Some(object_idx) == csv_idx {
            csv_range = Some(start..bundle_text.len());
        }
    }
    let csv = csv_range.map(|range| bundle_text.as_bytes()[range].to_vec());
    let bundle_bytes = (!objects.is_empty()).then(|| bundle_text.into_bytes());
    // The CSV's own edges (`bundle.Replaces()`, `bundle.Skips()`); a bundle
    // with no CSV object (an FBC source) has only the model's.
    let csv_replaces = csv_value.map(|csv| {
        csv.pointer(&["spec", "replaces"])
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    });
    let csv_skips = csv_value.map(|csv| {
        list(csv, &["spec", "skips"])
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(",")
    });
    let substitutesfor = csv_value
        .and_then(|csv| csv.pointer(&["metadata", "annotations", "olm.substitutesFor"]))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let bundlepath = match loader {
        Loader::Image => bundle.image.clone(),
        Loader::Directory => String::new(),
    };

    let mut related_images: Vec<String> = bundle.related_images.iter().map(|related| related.image.clone()).collect();
    if !bundle.image.is_empty() {
        related_images.push(bundle.image.clone());
    }
    related_images.retain(|image| !image.is_empty());
    related_images.sort();
    related_images.dedup();

    let mut properties = Vec::new();
    let mut dependencies = Vec::new();
    for property in bundle.properties.iter() {
        let value = property
            .parsed_value()
            .map_or_else(|_| property.value.clone(), |value| json::to_compact(&value, true));
        match property.type_.as_str() {
            PROPERTY_BUNDLE_OBJECT | PROPERTY_CSV_METADATA => {}
            PROPERTY_PACKAGE if loader == Loader::Directory => {}
            // A dependency in FBC is a `*.required` property; the index keeps
            // the `dependencies.yaml` form (`pkg/registry/types.go`).
            PROPERTY_GVK_REQUIRED => dependencies.push((PROPERTY_GVK.to_string(), value)),
            PROPERTY_PACKAGE_REQUIRED => dependencies.push((PROPERTY_PACKAGE.to_string(), package_dependency(&property.value))),
            "olm.label.required" => dependencies.push(("olm.label".to_string(), value)),
            "olm.constraint" => dependencies.push(("olm.constraint".to_string(), value)),
            _ => properties.push((property.type_.clone(), value)),
        }
    }

    let (provided_apis, required_apis) = bundle_apis(&objects, csv_value);
    BundleRow {
        name: bundle.name.clone(),
        csv,
        bundle: bundle_bytes,
        bundlepath,
        version: bundle.version_string(),
        skiprange: bundle.skip_range.clone(),
        replaces: csv_replaces.unwrap_or_else(|| bundle.replaces.clone()),
        skips: csv_skips.unwrap_or_else(|| bundle.skips.join(",")),
        substitutesfor,
        related_images,
        properties,
        dependencies,
        provided_apis,
        required_apis,
    }
}

/// `olm.package.required` `{"packageName", "versionRange"}` back to the
/// `dependencies.yaml` value `{"packageName", "version"}`.
fn package_dependency(value: &str) -> String {
    let Ok(parsed) = json::parse(value) else {
        return value.to_string();
    };
    let field = |key: &str| parsed.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let dependency = Value::Object(vec![
        ("packageName".to_string(), Value::str(field("packageName"))),
        ("version".to_string(), Value::str(field("versionRange"))),
    ]);
    json::to_compact(&dependency, true)
}

/// The bundle's provided and required APIs with their plurals, as opm's
/// `ProvidedAPIs`/`RequiredAPIs` (`pkg/registry/bundle.go`) take them:
/// provided are the versions of every CRD object in the bundle (whether or
/// not the CSV owns it) and the CSV's owned API services; required are the
/// CSV's required CRDs (plural and group from the `<plural>.<group>` name)
/// and required API services (plural = `name`).
fn bundle_apis(objects: &[Value], csv: Option<&Value>) -> (Vec<Api>, Vec<Api>) {
    let mut provided = BTreeSet::new();
    let mut required = BTreeSet::new();
    for crd in objects
        .iter()
        .filter(|object| object.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition"))
    {
        let group = crd.pointer(&["spec", "group"]).and_then(Value::as_str).unwrap_or_default();
        let kind = crd.pointer(&["spec", "names", "kind"]).and_then(Value::as_str).unwrap_or_default();
        let plural = crd
            .pointer(&["spec", "names", "plural"])
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut versions: Vec<String> = list(crd, &["spec", "versions"])
            .iter()
            .map(|version| text(version, "name"))
            .collect();
        // apiextensions v1beta1's single `spec.version`.
        if let Some(version) = crd.pointer(&["spec", "version"]).and_then(Value::as_str) {
            versions.push(version.to_string());
        }
        for version in versions.into_iter().filter(|version| !version.is_empty()) {
            provided.insert(Api {
                group: group.to_string(),
                version,
                kind: kind.to_string(),
                plural: plural.to_string(),
            });
        }
    }
    if let Some(csv) = csv {
        for api_service in list(csv, &["spec", "apiservicedefinitions", "owned"]) {
            provided.insert(api_service_api(api_service));
        }
        for crd in list(csv, &["spec", "customresourcedefinitions", "required"]) {
            if let Some((plural, group)) = text(crd, "name").split_once('.') {
                required.insert(Api {
                    group: group.to_string(),
                    version: text(crd, "version"),
                    kind: text(crd, "kind"),
                    plural: plural.to_string(),
                });
            }
        }
        for api_service in list(csv, &["spec", "apiservicedefinitions", "required"]) {
            required.insert(api_service_api(api_service));
        }
    }
    (provided.into_iter().collect(), required.into_iter().collect())
}

fn api_service_api(api_service: &Value) -> Api {
    Api {
        group: text(api_service, "group"),
        version: text(api_service, "version"),
        kind: text(api_service, "kind"),
        plural: text(api_service, "name"),
    }
}

fn list<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    value.pointer(path).and_then(Value::as_array).unwrap_or_default()
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semver::Version;

    fn bundle(name: &str, version: &str, replaces: &str, skips: &[&str]) -> Bundle {
        Bundle {
            package: "foo".to_string(),
            name: name.to_string(),
            replaces: replaces.to_string(),
            skips: skips.iter().map(ToString::to_string).collect(),
            version: Version::parse(version).unwrap(),
            ..Bundle::default()
        }
    }

    /// The worked example of spec D.5 (`../shared/spec/olm-formats.md`,
    /// checked there with the opm v1.26.5 initializer): `entry_id`,
    /// operatorbundle name, `replaces` id, depth, for channels `stable`
    /// (head foo.v0.3.0) then `beta` (head foo.v0.2.0).
    #[test]
    fn channel_entries_follow_the_replaces_chain_with_skip_pairs_and_depth() {
        let bundles = [
            bundle("foo.v0.1.0", "0.1.0", "", &[]),
            bundle("foo.v0.2.0", "0.2.0", "foo.v0.1.0", &["foo.v0.1.1"]),
            bundle("foo.v0.3.0", "0.3.0", "foo.v0.2.0", &["foo.v0.2.1", "foo.v0.2.2"]),
        ];
        let by_name: BTreeMap<&str, &Bundle> = bundles.iter().map(|bundle| (bundle.name.as_str(), bundle)).collect();
        let mut rows = Vec::new();
        let mut first_id = 1;
        for (channel, head) in [("stable", "foo.v0.3.0"), ("beta", "foo.v0.2.0")] {
            let channel_rows = walk_channel(channel, head, &by_name).unwrap();
            for (entry_idx, entry) in channel_rows.entries.iter().enumerate() {
                let replaces = entry
                    .replaces
                    .map_or(String::new(), |replaces_idx| (first_id + replaces_idx).to_string());
                rows.push(format!(
                    "{}|{channel}|foo|{}|{replaces}|{}",
                    first_id + entry_idx,
                    entry.operatorbundle_name,
                    entry.depth
                ));
            }
            first_id += channel_rows.entries.len();
        }
        let expected = "\
1|stable|foo|foo.v0.3.0|6|0
2|stable|foo|foo.v0.2.1||1
3|stable|foo|foo.v0.3.0|2|1
4|stable|foo|foo.v0.2.2||2
5|stable|foo|foo.v0.3.0|4|2
6|stable|foo|foo.v0.2.0|9|3
7|stable|foo|foo.v0.1.1||4
8|stable|foo|foo.v0.2.0|7|4
9|stable|foo|foo.v0.1.0||5
10|beta|foo|foo.v0.2.0|13|0
11|beta|foo|foo.v0.1.1||1
12|beta|foo|foo.v0.2.0|11|1
13|beta|foo|foo.v0.1.0||2";
        assert_eq!(rows.join("\n"), expected);
    }

    /// `AddPackageChannelsFromGraph` (`pkg/sqlite/load.go` at v1.73.0)
    /// against `addPackageChannels` for a node with both kinds of edge:
    /// its synthetic pairs start one level below it, and the node it
    /// replaces sits right below it too, where replaces mode puts it below
    /// the last pair. Derived from the code (no opm golden has this shape).
    #[test]
    fn the_graph_writer_puts_the_next_node_one_level_down_after_its_pairs() {
        let bundles = [
            bundle("a.v1.0.0", "1.0.0", "", &[]),
            bundle("a.v1.1.0", "1.1.0", "a.v1.0.0", &["a.v1.0.1", "a.v1.0.2"]),
        ];
        let by_name: BTreeMap<&str, &Bundle> = bundles.iter().map(|bundle| (bundle.name.as_str(), bundle)).collect();
        let rows = |channel_rows: ChannelRows| -> Vec<String> {
            channel_rows
                .entries
                .iter()
                .enumerate()
                .map(|(entry_idx, entry)| {
                    let replaces = entry.replaces.map_or(String::new(), |replaces_idx| (replaces_idx + 1).to_string());
                    format!("{}|{}|{replaces}|{}", entry_idx + 1, entry.operatorbundle_name, entry.depth)
                })
                .collect()
        };
        let graph = walk_graph("stable", "a.v1.1.0", &by_name).unwrap();
        assert!(graph.visited.is_empty());
        assert_eq!(
            rows(graph),
            [
                "1|a.v1.1.0|6|0",
                "2|a.v1.0.1||1",
                "3|a.v1.1.0|2|1",
                "4|a.v1.0.2||2",
                "5|a.v1.1.0|4|2",
                "6|a.v1.0.0||1",
            ]
        );
        assert_eq!(
            rows(walk_channel("stable", "a.v1.1.0", &by_name).unwrap()),
            [
                "1|a.v1.1.0|6|0",
                "2|a.v1.0.1||1",
                "3|a.v1.1.0|2|1",
                "4|a.v1.0.2||2",
                "5|a.v1.1.0|4|2",
                "6|a.v1.0.0||3",
            ]
        );
    }

    #[test]
    fn a_replaced_name_that_is_no_bundle_is_opms_nonexistent_bundle_error() {
        let bundles = [bundle("foo.v0.2.0", "0.2.0", "foo.v0.1.0", &[])];
        let by_name: BTreeMap<&str, &Bundle> = bundles.iter().map(|bundle| (bundle.name.as_str(), bundle)).collect();
        assert_eq!(
            walk_channel("stable", "foo.v0.2.0", &by_name).unwrap_err().to_string(),
            "invalid bundle foo.v0.2.0, replaces nonexistent bundle foo.v0.1.0"
        );
    }
}
