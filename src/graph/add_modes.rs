//! opm's semver add modes (`opm index add --mode semver` and
//! `--mode semver-skippatch`, spec D.6), as channel policies: what a
//! community-operators `ci.yaml` means by `updateGraph: semver-mode` or
//! `semver-skippatch-mode`.
//!
//! Channels come from the bundles' channel annotations; inside a channel the
//! upgrade edges come from versions alone (the CSV's `replaces` and `skips`
//! are not read; `olm.skipRange` is kept). opm builds such a graph one
//! bundle at a time, and between two adds the graph lives in the SQLite
//! index, whose rows lose part of it: [`add_mode_channels`] replays exactly
//! that, adding the bundles oldest first (the order a release pipeline adds
//! them), so the channels are the ones `opm migrate` writes from the index:
//!
//! 1. add (`pkg/registry/bundlegraphloader.go` `AddBundleToGraph`): in each
//!    channel of the bundle, the new node replaces the highest older node;
//!    the lowest newer node, if any, now replaces only the new one, else the
//!    new node is the head. skippatch: older nodes with the same
//!    major.minor are replaced too, and leave the graph's node set.
//! 2. write (`pkg/sqlite/load.go` `AddPackageChannelsFromGraph`): walk from
//!    the head along the replaces target that is a node; targets that are
//!    not nodes become synthetic (skip) rows; a walk that misses nodes fails
//!    with opm's `Invalid graph` error.
//! 3. reload (`pkg/sqlite/graphloader.go` `graphFromEntries`): every bundle
//!    with a row is a node again, with the edges the rows hold.
//!
//! The FBC conversion (spec D.7, `listBundlesQuery`) then makes the chain
//! edge of each row `replaces` and the synthetic edges `skips`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::{BundleInfo, GraphProblem, PackageGraph};
use crate::fbc::{Channel, ChannelEntry, SCHEMA_CHANNEL};

/// Which of opm's semver add modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddMode {
    /// `--mode semver` (`updateGraph: semver-mode`).
    Semver,
    /// `--mode semver-skippatch` (`updateGraph: semver-skippatch-mode`).
    SemverSkipPatch,
}

impl AddMode {
    /// opm's `--mode` value.
    pub fn opm_mode(self) -> &'static str {
        match self {
            AddMode::Semver => "semver",
            AddMode::SemverSkipPatch => "semver-skippatch",
        }
    }
}

/// The channels opm's add `mode` gives `bundles` of `package`, added oldest
/// first. On the first add opm would refuse, the problem is reported and no
/// channels are returned.
pub fn add_mode_channels(package: &str, bundles: &[BundleInfo], mode: AddMode) -> PackageGraph {
    let mut graph = PackageGraph::default();
    let order = addition_order(bundles);
    let mut index_state = IndexState::default();
    for &bundle_idx in &order {
        if let Err(problem) = index_state.add_bundle(bundles, bundle_idx, mode) {
            graph.problems.push(problem);
            return graph;
        }
    }
    for (channel_name, rows) in &index_state.rows {
        graph.channels.push(fbc_channel(package, channel_name, rows, bundles));
    }
    graph.default_channel = index_state.default_channel;
    graph
}

/// Bundle indices oldest first: opm's `BuildIdCompare` order (build
/// metadata breaks ties), then name, so the result never depends on the
/// order bundle directories were found in.
fn addition_order(bundles: &[BundleInfo]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..bundles.len()).collect();
    order.sort_by(|&left, &right| {
        let (left, right) = (&bundles[left], &bundles[right]);
        left.version
            .build_id_compare(&right.version)
            .unwrap_or_else(|_| left.version.compare(&right.version))
            .then_with(|| left.name.cmp(&right.name))
    });
    order
}

/// One channel's graph as opm's `registry.Channel` holds it: the head and,
/// per node, the nodes and names it replaces. Bundles are their indices.
#[derive(Debug, Clone, Default)]
struct ChannelGraph {
    head: usize,
    nodes: BTreeMap<usize, BTreeSet<usize>>,
}

/// One `channel_entry` row as the FBC conversion reads it: a bundle, the
/// bundle its chain row replaces, and the bundles its synthetic rows replace.
#[derive(Debug, Clone, Default)]
struct EntryRows {
    chain_replaces: Option<usize>,
    synthetic_replaces: BTreeSet<usize>,
}

/// What the index holds for the package between two adds.
#[derive(Debug, Default)]
struct IndexState {
    /// Per channel, per bundle with a row there: its edges.
    rows: BTreeMap<String, BTreeMap<usize, EntryRows>>,
    default_channel: Option<String>,
}

impl IndexState {
    /// `loadManifestsSemver` for one bundle: reload the graph, add the
    /// bundle, write the rows back.
    fn add_bundle(&mut self, bundles: &[BundleInfo], new_idx: usize, mode: AddMode) -> Result<(), GraphProblem> {
        let new_bundle = &bundles[new_idx];
        let mut channels = self.reload(bundles)?;

        // Default channel (`AddBundleToGraph`): the bundle's annotation,
        // else the one the index has, else the bundle's first channel in
        // byte order (`SelectDefaultChannel`).
        match new_bundle.default_channel.as_deref().filter(|name| !name.is_empty()) {
            Some(default) => self.default_channel = Some(default.to_string()),
            None if self.default_channel.is_none() => {
                let Some(first) = new_bundle.channels.iter().min() else {
                    return Err(GraphProblem {
                        notes: Vec::new(),
                        n_caused: 0,
                        bundle: Some(new_bundle.name.clone()),
                        field: "channels",
                        message: format!(
                            "bundle `{}` names no channel and no default channel, and no older bundle set one (opm: `Default channel is missing and can't be inferred`)",
                            new_bundle.name
                        ),
                        help: Some(format!(
                            "list the bundle's channels in its `{}` annotation",
                            crate::load::annotations::ANNOTATION_CHANNELS
                        )),
                    });
                };
                self.default_channel = Some(first.clone());
            }
            None => {}
        }

        for channel_name in &new_bundle.channels {
            let Some(channel) = channels.get_mut(channel_name) else {
                channels.insert(
                    channel_name.clone(),
                    ChannelGraph {
                        head: new_idx,
                        nodes: BTreeMap::from([(new_idx, BTreeSet::new())]),
                    },
                );
                continue;
            };
            insert_by_version(channel, channel_name, bundles, new_idx, mode)?;
        }

        // `AddPackageChannelsFromGraph`: the default channel must be one of
        // the package's channels (a foreign key of the `package` table).
        if let Some(default) = &self.default_channel
            && !channels.contains_key(default)
        {
            return Err(GraphProblem {
                notes: Vec::new(),
                n_caused: 0,
                bundle: Some(new_bundle.name.clone()),
                field: "channels",
                message: format!(
                    "bundle `{}` makes `{default}` the default channel, but no bundle up to it lists that channel (opm: `the default channel ({default}) does not exist`)",
                    new_bundle.name
                ),
                help: Some(format!(
                    "add `{default}` to the channels annotation of a bundle no newer than `{}`, or change its default channel annotation",
                    new_bundle.name
                )),
            });
        }

        self.rows.clear();
        for (channel_name, channel) in &channels {
            let rows = write_rows(channel, channel_name, bundles, new_bundle, mode)?;
            self.rows.insert(channel_name.clone(), rows);
        }
        Ok(())
    }

    /// `graphFromEntries`: every bundle with a row in a channel is a node
    /// of it, with every edge its rows hold; the head is the one node no
    /// row replaces.
    fn reload(&self, bundles: &[BundleInfo]) -> Result<BTreeMap<String, ChannelGraph>, GraphProblem> {
        let mut channels = BTreeMap::new();
        for (channel_name, rows) in &self.rows {
            let mut nodes: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
            let mut replaced: BTreeSet<usize> = BTreeSet::new();
            for (&bundle_idx, entry_rows) in rows {
                let edges: BTreeSet<usize> = entry_rows
                    .chain_replaces
                    .iter()
                    .chain(&entry_rows.synthetic_replaces)
                    .copied()
                    .collect();
                replaced.extend(&edges);
                nodes.insert(bundle_idx, edges);
            }
            let heads: Vec<usize> = nodes.keys().copied().filter(|idx| !replaced.contains(idx)).collect();
            let [head] = heads[..] else {
                let names: Vec<&str> = heads.iter().map(|&idx| bundles[idx].name.as_str()).collect();
                return Err(GraphProblem {
                    notes: Vec::new(),
                    n_caused: 0,
                    bundle: None,
                    field: "version",
                    message: format!(
                        "channel `{channel_name}` has {} heads in opm's index: {}",
                        heads.len(),
                        names.join(", ")
                    ),
                    help: None,
                });
            };
            channels.insert(channel_name.clone(), ChannelGraph { head, nodes });
        }
        Ok(channels)
    }
}

/// `AddBundleToGraph` for one existing channel: the new bundle goes between
/// the highest older node and the lowest newer one (versions compared as
/// blang does, build metadata ignored).
fn insert_by_version(
    channel: &mut ChannelGraph,
    channel_name: &str,
    bundles: &[BundleInfo],
    new_idx: usize,
    mode: AddMode,
) -> Result<(), GraphProblem> {
    let new_version = &bundles[new_idx].version;
    let mut lowest_ahead: Option<usize> = None;
    let mut greatest_behind: Option<usize> = None;
    let mut replaces: BTreeSet<usize> = BTreeSet::new();
    let mut skip_patch_candidates: Vec<usize> = Vec::new();
    for &node_idx in channel.nodes.keys() {
        let node_version = &bundles[node_idx].version;
        match node_version.compare(new_version) {
            Ordering::Equal => {
                return Err(GraphProblem {
                    notes: Vec::new(),
                    n_caused: 0,
                    bundle: Some(bundles[new_idx].name.clone()),
                    field: "version",
                    message: format!(
                        "bundles `{}` and `{}` of channel `{channel_name}` both have version {new_version} (opm: `Bundle version {new_version} already added to index`)",
                        bundles[node_idx].name, bundles[new_idx].name
                    ),
                    help: Some("give each bundle of a channel a distinct `spec.version`".to_string()),
                });
            }
            Ordering::Greater => {
                if lowest_ahead.is_none_or(|ahead| node_version < &bundles[ahead].version) {
                    lowest_ahead = Some(node_idx);
                }
            }
            Ordering::Less => {
                if greatest_behind.is_none_or(|behind| node_version > &bundles[behind].version) {
                    greatest_behind = Some(node_idx);
                }
            }
        }
        // `isSkipPatchCandidate`: same major and minor, strictly older.
        if mode == AddMode::SemverSkipPatch
            && node_version.major == new_version.major
            && node_version.minor == new_version.minor
            && node_version < new_version
        {
            skip_patch_candidates.push(node_idx);
            replaces.insert(node_idx);
        }
    }
    replaces.extend(greatest_behind);
    match lowest_ahead {
        Some(ahead) => {
            channel.nodes.insert(ahead, BTreeSet::from([new_idx]));
        }
        None => channel.head = new_idx,
    }
    for candidate in skip_patch_candidates {
        channel.nodes.remove(&candidate);
    }
    channel.nodes.insert(new_idx, replaces);
    Ok(())
}

/// `AddPackageChannelsFromGraph` for one channel: rows along the chain from
/// the head, synthetic rows for replaced bundles that are not nodes.
fn write_rows(
    channel: &ChannelGraph,
    channel_name: &str,
    bundles: &[BundleInfo],
    new_bundle: &BundleInfo,
    mode: AddMode,
) -> Result<BTreeMap<usize, EntryRows>, GraphProblem> {
    let mut rows: BTreeMap<usize, EntryRows> = BTreeMap::new();
    let mut current = channel.head;
    let mut n_chain_nodes = 0;
    loop {
        n_chain_nodes += 1;
        rows.entry(current).or_default();
        let replaced = channel.nodes.get(&current).cloned().unwrap_or_default();
        // opm takes whichever node target its map iteration yields last;
        // with more than one, the walk misses nodes and fails below. The
        // newest is taken here, so the outcome does not depend on chance.
        let next = replaced
            .iter()
            .copied()
            .filter(|idx| channel.nodes.contains_key(idx))
            .max_by(|&left, &right| bundles[left].version.cmp(&bundles[right].version));
        for synthetic in replaced.iter().copied().filter(|idx| !channel.nodes.contains_key(idx)) {
            rows.entry(synthetic).or_default();
            rows.entry(current).or_default().synthetic_replaces.insert(synthetic);
        }
        let Some(next) = next else { break };
        if n_chain_nodes > channel.nodes.len() {
            // Versions only ever point down, so this is unreachable; it
            // guards the loop all the same.
            break;
        }
        rows.entry(current).or_default().chain_replaces = Some(next);
        current = next;
    }
    if n_chain_nodes != channel.nodes.len() {
        let missed: Vec<&str> = channel
            .nodes
            .keys()
            .filter(|idx| !rows.contains_key(idx))
            .map(|&idx| bundles[idx].name.as_str())
            .collect();
        return Err(GraphProblem {
            notes: Vec::new(),
            n_caused: 0,
            bundle: Some(new_bundle.name.clone()),
            field: "version",
            message: format!(
                "opm's {} mode cannot add `{}`: the chain of channel `{channel_name}` would no longer reach {} (opm: `Invalid graph: some (non-bottom) nodes defined in the graph were not mentioned as replacements of any node ({} != {})`)",
                mode.opm_mode(),
                new_bundle.name,
                missed.join(", "),
                channel.nodes.len() - 1,
                n_chain_nodes - 1
            ),
            help: Some(
                "opm's index cannot hold this graph (a patch replaced an older patch that had its own predecessor, or three or more patches of a minor were followed by a newer minor), so opm's add fails here too; use `channel-policy = \"semver-mode\"` or `\"replaces\"`"
                    .to_string(),
            ),
        });
    }
    Ok(rows)
}

/// The FBC channel `opm migrate` writes from one channel's rows (spec D.7):
/// the chain edge is `replaces`, synthetic edges are `skips` (oldest
/// first), `skipRange` comes from the bundle. Entries oldest first.
fn fbc_channel(package: &str, channel_name: &str, rows: &BTreeMap<usize, EntryRows>, bundles: &[BundleInfo]) -> Channel {
    let mut members: Vec<usize> = rows.keys().copied().collect();
    members.sort_by(|&left, &right| {
        bundles[left]
            .version
            .cmp(&bundles[right].version)
            .then_with(|| bundles[left].name.cmp(&bundles[right].name))
    });
    let entries = members
        .iter()
        .map(|&bundle_idx| {
            let entry_rows = &rows[&bundle_idx];
            let mut skipped: Vec<usize> = entry_rows.synthetic_replaces.iter().copied().collect();
            skipped.sort_by(|&left, &right| bundles[left].version.cmp(&bundles[right].version));
            ChannelEntry {
                name: bundles[bundle_idx].name.clone(),
                replaces: entry_rows
                    .chain_replaces
                    .map(|replaced| bundles[replaced].name.clone())
                    .unwrap_or_default(),
                skips: skipped.iter().map(|&idx| bundles[idx].name.clone()).collect(),
                skip_range: bundles[bundle_idx].skip_range.clone(),
            }
        })
        .collect();
    Channel {
        schema: SCHEMA_CHANNEL.to_string(),
        package: package.to_string(),
        name: channel_name.to_string(),
        entries: Some(entries),
        properties: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semver::Version;

    fn bundle(name: &str, version: &str, channels: &[&str], default_channel: Option<&str>) -> BundleInfo {
        BundleInfo {
            name: name.to_string(),
            version: Version::parse(version).unwrap(),
            channels: channels.iter().map(|channel| (*channel).to_string()).collect(),
            default_channel: default_channel.map(str::to_string),
            // The add modes never read the CSV's edges.
            replaces: "ignored.v0".to_string(),
            skips: vec!["ignored.v1".to_string()],
            skip_range: String::new(),
        }
    }

    /// `(name, replaces, skips)` of each entry of `channel`.
    fn edges(graph: &PackageGraph, channel: &str) -> Vec<(String, String, Vec<String>)> {
        let channel = graph.channels.iter().find(|candidate| candidate.name == channel).unwrap();
        channel
            .entries
            .as_ref()
            .unwrap()
            .iter()
            .map(|entry| (entry.name.clone(), entry.replaces.clone(), entry.skips.clone()))
            .collect()
    }

    fn edge(name: &str, replaces: &str, skips: &[&str]) -> (String, String, Vec<String>) {
        (
            name.to_string(),
            replaces.to_string(),
            skips.iter().map(|skip| (*skip).to_string()).collect(),
        )
    }

    #[test]
    fn semver_mode_orders_each_annotated_channel_by_version() {
        // conformance add-foo-semver: beta has all four, stable only 0.2.0.
        let bundles = vec![
            bundle("foo.v0.3.1", "0.3.1", &["beta"], Some("beta")),
            bundle("foo.v0.1.0", "0.1.0", &["beta"], Some("beta")),
            bundle("foo.v0.2.0", "0.2.0", &["beta", "stable"], Some("beta")),
            bundle("foo.v0.3.0", "0.3.0", &["beta"], Some("beta")),
        ];
        let graph = add_mode_channels("foo", &bundles, AddMode::Semver);
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        assert_eq!(
            edges(&graph, "beta"),
            vec![
                edge("foo.v0.1.0", "", &[]),
                edge("foo.v0.2.0", "foo.v0.1.0", &[]),
                edge("foo.v0.3.0", "foo.v0.2.0", &[]),
                edge("foo.v0.3.1", "foo.v0.3.0", &[]),
            ]
        );
        assert_eq!(edges(&graph, "stable"), vec![edge("foo.v0.2.0", "", &[])]);
        assert_eq!(graph.default_channel.as_deref(), Some("beta"));
    }

    #[test]
    fn skippatch_mode_two_patches_then_a_minor_is_a_plain_chain() {
        // conformance add-baz-semver-skippatch: the index reload turns the
        // skipped 1.0.0 back into a node, so 1.0.1 replaces it.
        let bundles = vec![
            bundle("baz.v1.0.0", "1.0.0", &["stable"], Some("stable")),
            bundle("baz.v1.0.1", "1.0.1", &["stable"], Some("stable")),
            bundle("baz.v1.1.0", "1.1.0", &["stable"], Some("stable")),
        ];
        let graph = add_mode_channels("baz", &bundles, AddMode::SemverSkipPatch);
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        assert_eq!(
            edges(&graph, "stable"),
            vec![
                edge("baz.v1.0.0", "", &[]),
                edge("baz.v1.0.1", "baz.v1.0.0", &[]),
                edge("baz.v1.1.0", "baz.v1.0.1", &[]),
            ]
        );
    }

    #[test]
    fn skippatch_mode_latest_patch_skips_the_earlier_ones() {
        // Spec D.6: after 1.0.2, the index rows are 1.0.2 at depth 0 and
        // synthetic pairs for 1.0.0 and 1.0.1, which D.7 turns into skips.
        let bundles = vec![
            bundle("a.v1.0.0", "1.0.0", &["stable"], None),
            bundle("a.v1.0.1", "1.0.1", &["stable"], None),
            bundle("a.v1.0.2", "1.0.2", &["stable"], None),
        ];
        let graph = add_mode_channels("a", &bundles, AddMode::SemverSkipPatch);
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        assert_eq!(
            edges(&graph, "stable"),
            vec![
                edge("a.v1.0.0", "", &[]),
                edge("a.v1.0.1", "", &[]),
                edge("a.v1.0.2", "", &["a.v1.0.0", "a.v1.0.1"]),
            ]
        );
        // No default annotation anywhere: the first bundle's first channel.
        assert_eq!(graph.default_channel.as_deref(), Some("stable"));
    }

    #[test]
    fn skippatch_mode_fails_where_opm_does() {
        // After 1.0.2 skips both older patches, the reload makes them nodes
        // again, both replaced by 1.0.2: adding 1.1.0 walks only one of them.
        let bundles = vec![
            bundle("a.v1.0.0", "1.0.0", &["stable"], None),
            bundle("a.v1.0.1", "1.0.1", &["stable"], None),
            bundle("a.v1.0.2", "1.0.2", &["stable"], None),
            bundle("a.v1.1.0", "1.1.0", &["stable"], None),
        ];
        let graph = add_mode_channels("a", &bundles, AddMode::SemverSkipPatch);
        assert_eq!(graph.problems.len(), 1);
        assert_eq!(
            graph.problems[0].message,
            "opm's semver-skippatch mode cannot add `a.v1.1.0`: the chain of channel `stable` would no longer reach a.v1.0.0 (opm: `Invalid graph: some (non-bottom) nodes defined in the graph were not mentioned as replacements of any node (3 != 2)`)"
        );
    }

    #[test]
    fn skippatch_mode_fails_when_the_skipped_patch_had_a_predecessor() {
        // opm's bundlegraphloader_test "Add a bundle in skippatch mode":
        // deleting the skipped 1.0.0 leaves 0.9.0 replaced by nothing, and
        // AddPackageChannelsFromGraph's depth check fails (1 != 0).
        let bundles = vec![
            bundle("a.v0.9.0", "0.9.0", &["stable"], None),
            bundle("a.v1.0.0", "1.0.0", &["stable"], None),
            bundle("a.v1.0.1", "1.0.1", &["stable"], None),
        ];
        let graph = add_mode_channels("a", &bundles, AddMode::SemverSkipPatch);
        assert_eq!(graph.problems.len(), 1);
        assert_eq!(
            graph.problems[0].message,
            "opm's semver-skippatch mode cannot add `a.v1.0.1`: the chain of channel `stable` would no longer reach a.v0.9.0 (opm: `Invalid graph: some (non-bottom) nodes defined in the graph were not mentioned as replacements of any node (1 != 0)`)"
        );
        // The same bundles in semver mode are a plain chain.
        let graph = add_mode_channels("a", &bundles, AddMode::Semver);
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
    }

    #[test]
    fn equal_versions_in_a_channel_are_refused() {
        let bundles = vec![
            bundle("a.v1", "1.0.0", &["stable"], None),
            bundle("a.v1b", "1.0.0", &["stable"], None),
        ];
        let graph = add_mode_channels("a", &bundles, AddMode::Semver);
        assert_eq!(
            graph.problems[0].message,
            "bundles `a.v1` and `a.v1b` of channel `stable` both have version 1.0.0 (opm: `Bundle version 1.0.0 already added to index`)"
        );
    }

    #[test]
    fn default_channel_is_the_newest_annotation() {
        // Like add-bar-default-channel-change, in semver mode: the default
        // follows the last bundle added that names one.
        let bundles = vec![
            bundle("bar.v0.1.0", "0.1.0", &["alpha"], Some("alpha")),
            bundle("bar.v0.2.0", "0.2.0", &["alpha"], Some("alpha")),
            bundle("bar.v1.0.0", "1.0.0", &["stable"], Some("stable")),
            bundle("bar.v1.1.0", "1.1.0", &["stable", "alpha"], None),
        ];
        let graph = add_mode_channels("bar", &bundles, AddMode::Semver);
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        assert_eq!(graph.default_channel.as_deref(), Some("stable"));
    }
}
