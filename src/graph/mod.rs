//! Channel policies: how a package's channels and upgrade edges are made
//! from its bundles and its `catalog.toml` section.
//!
//! * [`replaces_channels`]: opm's replaces mode (spec D.4, D.5). Each channel
//!   named in a bundle's `channels` annotation is headed by the highest
//!   version that lists it; its members are what the head's `replaces`
//!   chain and `skips` reach, as opm's index builder walks them.
//! * [`explicit_channels`]: entries as written in `catalog.toml`, like opm's
//!   basic template.
//! * [`add_modes::add_mode_channels`]: opm's semver and semver-skippatch
//!   add modes (spec D.6): channels from annotations, edges from versions.
//! * [`semver_channels`]: opm's semver template
//!   ([`crate::catalog_template::semver`]'s channel generation).
//!
//! Policies report problems as [`GraphProblem`]s naming the bundle and the
//! CSV field to blame; the pipeline turns them into located diagnostics.

pub mod add_modes;
pub mod mermaid;

use std::collections::{BTreeMap, BTreeSet};

use crate::fbc::{Channel, ChannelEntry, SCHEMA_CHANNEL};
use crate::semver::Version;

/// What a channel policy needs to know of one bundle.
#[derive(Debug, Clone)]
pub struct BundleInfo {
    pub name: String,
    pub version: Version,
    /// Channels from the bundle's annotations, as written.
    pub channels: Vec<String>,
    pub default_channel: Option<String>,
    pub replaces: String,
    pub skips: Vec<String>,
    pub skip_range: String,
}

/// A graph problem, with the bundle and field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphProblem {
    /// Bundle whose CSV (or annotations) is to blame, if any.
    pub bundle: Option<String>,
    /// Field to point at: `replaces`, `skips`, `olm.skipRange`, `channels`, `version`.
    pub field: &'static str,
    pub message: String,
    pub help: Option<String>,
    pub notes: Vec<String>,
    /// How many other problems this one causes and stands for (they are
    /// not reported on their own: the cause comes first, once).
    pub n_caused: usize,
}

/// The channels of one package and its default channel.
#[derive(Debug, Clone, Default)]
pub struct PackageGraph {
    pub channels: Vec<Channel>,
    pub default_channel: Option<String>,
    pub problems: Vec<GraphProblem>,
    /// Channels the bundles name that could not be linked (their problem is
    /// reported); they exist, so a default channel naming one is no typo.
    pub unlinked_channels: Vec<String>,
    /// Bundles the replaces policy left out of a channel they list: an
    /// error by default, a warning with `unreachable = "drop"`.
    pub unreachable: Vec<UnreachableBundle>,
    /// One broken `replaces` edge each, which cut the bundles of
    /// [`UnreachableBundle::broken_edge`] off their head: reported instead
    /// of one error per bundle when such bundles are errors.
    pub broken_edges: Vec<GraphProblem>,
}

/// A bundle that lists a channel that its head's `replaces` chain and
/// `skips` do not lead to. opm's replaces mode leaves it out of the channel
/// without a word (spec D.4: a channel holds what its head reaches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreachableBundle {
    pub bundle: String,
    pub channel: String,
    pub head: String,
    /// Index into [`PackageGraph::broken_edges`] of the edge that cut it off,
    /// when one did.
    pub broken_edge: Option<usize>,
}

impl UnreachableBundle {
    /// The error reported when the package does not drop such bundles.
    pub fn problem(&self) -> GraphProblem {
        GraphProblem {
            notes: Vec::new(),
            n_caused: 0,
            bundle: Some(self.bundle.clone()),
            field: "channels",
            message: format!(
                "bundle `{}` lists channel `{}` but is not reachable from the channel head `{}` through `replaces` or `skips`",
                self.bundle, self.channel, self.head
            ),
            help: Some(format!(
                "make a newer bundle of `{channel}` replace or skip `{bundle}`, remove `{channel}` from its channels annotation, or set `unreachable = \"drop\"` to leave it out as opm does",
                channel = self.channel,
                bundle = self.bundle
            )),
        }
    }
}

/// opm's replaces mode over the bundles of one package.
pub fn replaces_channels(package: &str, bundles: &[BundleInfo]) -> PackageGraph {
    let mut graph = PackageGraph::default();
    let by_name: BTreeMap<&str, &BundleInfo> = bundles.iter().map(|bundle| (bundle.name.as_str(), bundle)).collect();

    // Channel heads: the highest version among the bundles listing the channel.
    let mut listed: BTreeMap<&str, Vec<&BundleInfo>> = BTreeMap::new();
    for bundle in bundles {
        for channel in &bundle.channels {
            listed.entry(channel.as_str()).or_default().push(bundle);
        }
    }
    for (channel_name, members) in &listed {
        let Some(max_version) = members.iter().map(|bundle| &bundle.version).max() else {
            continue;
        };
        let heads: Vec<&&BundleInfo> = members.iter().filter(|bundle| &bundle.version == max_version).collect();
        if heads.len() > 1 {
            let names: Vec<&str> = heads.iter().map(|bundle| bundle.name.as_str()).collect();
            graph.problems.push(GraphProblem {
                notes: Vec::new(),
                n_caused: 0,
                bundle: Some(heads[1].name.clone()),
                field: "version",
                message: format!(
                    "more than one potential channel head for {channel_name}: {} all have version {max_version}",
                    names.join(", ")
                ),
                help: Some("give each bundle of a channel a distinct `spec.version`".to_string()),
            });
            graph.unlinked_channels.push((*channel_name).to_string());
            continue;
        }
        let head = heads[0];
        let (entries, reached) = walk_from_head(head, &by_name, channel_name, &mut graph.problems);
        let unreached: Vec<&&BundleInfo> = members.iter().filter(|member| !reached.contains(member.name.as_str())).collect();
        let tail = chain_tail(head, &by_name);
        // A fork (two bundles replacing the same missing predecessor) is
        // not a broken edge: each stranded bundle is its own problem.
        let fork = unreached.iter().any(|member| member.replaces == tail.replaces);
        let broken_edge = if !unreached.is_empty() && !fork && !tail.replaces.is_empty() && !by_name.contains_key(tail.replaces.as_str()) {
            // One broken edge cuts every older bundle off the head: it is
            // the problem, and the bundles it strands are what it causes.
            Some(add_broken_edge(
                &mut graph.broken_edges,
                broken_edge_problem(package, channel_name, head, tail, &unreached),
            ))
        } else {
            None
        };
        for member in unreached {
            graph.unreachable.push(UnreachableBundle {
                bundle: member.name.clone(),
                channel: (*channel_name).to_string(),
                head: head.name.clone(),
                broken_edge,
            });
        }
        let channel = Channel {
            schema: SCHEMA_CHANNEL.to_string(),
            package: package.to_string(),
            name: (*channel_name).to_string(),
            entries: Some(entries),
            properties: Vec::new(),
        };
        graph.problems.extend(check_channel(&channel));
        graph.channels.push(channel);
    }

    graph.default_channel = default_channel(bundles, &listed);
    graph
}

/// One broken edge on the chain of several channels is one problem: the
/// first report of it gets the notes and follow-ons of all. Returns its
/// index in `broken_edges`.
fn add_broken_edge(broken_edges: &mut Vec<GraphProblem>, problem: GraphProblem) -> usize {
    match broken_edges
        .iter()
        .position(|kept| kept.bundle == problem.bundle && kept.message == problem.message)
    {
        Some(idx) => {
            broken_edges[idx].notes.extend(problem.notes);
            broken_edges[idx].n_caused += problem.n_caused;
            idx
        }
        None => {
            broken_edges.push(problem);
            broken_edges.len() - 1
        }
    }
}

/// The last bundle of the head's `replaces` chain that is in the package.
fn chain_tail<'a>(head: &'a BundleInfo, by_name: &BTreeMap<&str, &'a BundleInfo>) -> &'a BundleInfo {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut current = head;
    while seen.insert(current.name.as_str()) {
        match by_name.get(current.replaces.as_str()) {
            Some(next) => current = next,
            None => break,
        }
    }
    current
}

/// The chain from `head` stops at `tail`, whose `replaces` names no bundle
/// of the package, and `unreached` list the channel below it.
fn broken_edge_problem(
    package: &str,
    channel_name: &str,
    head: &BundleInfo,
    tail: &BundleInfo,
    unreached: &[&&BundleInfo],
) -> GraphProblem {
    let unreached_names: Vec<&str> = unreached.iter().map(|bundle| bundle.name.as_str()).collect();
    let help = match crate::config::closest(&tail.replaces, &unreached_names) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!(
            "make `{}` replace (or skip) the newest of them, or remove `{channel_name}` from their channels annotation",
            tail.name
        ),
    };
    let quoted: Vec<String> = unreached_names.iter().map(|name| format!("`{name}`")).collect();
    let verb = if unreached.len() == 1 { "lists" } else { "list" };
    let notes = vec![format!(
        "so {} {verb} channel `{channel_name}` but cannot be reached from its head `{}`",
        quoted.join(", "),
        head.name
    )];
    GraphProblem {
        bundle: Some(tail.name.clone()),
        field: "replaces",
        message: format!(
            "`{}` replaces `{}`, which is not a bundle of package `{package}`",
            tail.name, tail.replaces
        ),
        help: Some(help),
        notes,
        n_caused: unreached.len(),
    }
}

/// Walks `replaces` from the head, collecting chain members and the
/// skipped bundles that exist, each with the edges its CSV declares. Entries
/// come out in ascending version order, as the community catalogs list them.
fn walk_from_head<'a>(
    head: &'a BundleInfo,
    by_name: &BTreeMap<&str, &'a BundleInfo>,
    channel_name: &str,
    problems: &mut Vec<GraphProblem>,
) -> (Vec<ChannelEntry>, BTreeSet<&'a str>) {
    let mut reached: BTreeSet<&str> = BTreeSet::new();
    let mut on_chain: BTreeSet<&str> = BTreeSet::new();
    let mut members: Vec<&BundleInfo> = Vec::new();
    let mut current = Some(head);
    let mut chain: Vec<&str> = Vec::new();
    while let Some(bundle) = current {
        if !on_chain.insert(bundle.name.as_str()) {
            chain.push(bundle.name.as_str());
            problems.push(GraphProblem {
                notes: Vec::new(),
                n_caused: 0,
                bundle: Some(bundle.name.clone()),
                field: "replaces",
                message: format!("replaces cycle in channel `{channel_name}`: {}", chain.join(" -> ")),
                help: Some("each bundle must replace an older one".to_string()),
            });
            break;
        }
        chain.push(bundle.name.as_str());
        // A bundle skipped earlier on the walk may also sit on the chain.
        if reached.insert(bundle.name.as_str()) {
            members.push(bundle);
        }
        for skipped in &bundle.skips {
            if let Some(skipped_bundle) = by_name.get(skipped.as_str())
                && reached.insert(skipped_bundle.name.as_str())
            {
                members.push(skipped_bundle);
            }
        }
        current = if bundle.replaces.is_empty() {
            None
        } else {
            by_name.get(bundle.replaces.as_str()).copied()
        };
    }
    members.sort_by(|left, right| left.version.cmp(&right.version).then_with(|| left.name.cmp(&right.name)));
    let entries = members
        .iter()
        .map(|bundle| ChannelEntry {
            name: bundle.name.clone(),
            replaces: bundle.replaces.clone(),
            skips: bundle.skips.clone(),
            skip_range: bundle.skip_range.clone(),
        })
        .collect();
    (entries, reached)
}

/// Channels of a package-manifest directory (spec A.6, D.3): each channel's
/// head is its `currentCSV`, members are what the head's replaces chain and
/// skips reach.
pub fn manifest_channels(package: &str, bundles: &[BundleInfo], heads: &[(String, String)], default_channel: &str) -> PackageGraph {
    let mut graph = PackageGraph::default();
    let by_name: BTreeMap<&str, &BundleInfo> = bundles.iter().map(|bundle| (bundle.name.as_str(), bundle)).collect();
    for (channel_name, head_name) in heads {
        let Some(head) = by_name.get(head_name.as_str()) else {
            graph.problems.push(GraphProblem {
                notes: Vec::new(),
                n_caused: 0,
                bundle: None,
                field: "currentCSV",
                message: format!("channel `{channel_name}` has currentCSV `{head_name}`, which is not a CSV of package `{package}`"),
                help: Some("set `currentCSV` to the `metadata.name` of a CSV in the package directory".to_string()),
            });
            continue;
        };
        let (entries, _) = walk_from_head(head, &by_name, channel_name, &mut graph.problems);
        graph.channels.push(Channel {
            schema: SCHEMA_CHANNEL.to_string(),
            package: package.to_string(),
            name: channel_name.clone(),
            entries: Some(entries),
            properties: Vec::new(),
        });
    }
    graph.channels.sort_by(|left, right| left.name.cmp(&right.name));
    // Like the initializer: an empty default with exactly one channel means that channel.
    graph.default_channel = if !default_channel.is_empty() {
        Some(default_channel.to_string())
    } else if heads.len() == 1 {
        Some(heads[0].0.clone())
    } else {
        None
    };
    graph
}

/// Default channel as opm's replaces mode picks it
/// (`pkg/registry/populator.go` `SemverPackageManifest`): with bundles
/// added oldest first, each bundle at least as new as every earlier one
/// that has a default-channel annotation replaces the choice ("take it when
/// you can get it"), so the highest-version bundle that has one decides;
/// a package with a single channel always defaults to it.
fn default_channel(bundles: &[BundleInfo], listed: &BTreeMap<&str, Vec<&BundleInfo>>) -> Option<String> {
    if listed.len() == 1 {
        return listed.keys().next().map(|name| (*name).to_string());
    }
    let mut oldest_first: Vec<&BundleInfo> = bundles.iter().collect();
    oldest_first.sort_by(|left, right| {
        left.version
            .build_id_compare(&right.version)
            .unwrap_or_else(|_| left.version.compare(&right.version))
            .then_with(|| left.name.cmp(&right.name))
    });
    oldest_first
        .iter()
        .rev()
        .find_map(|bundle| bundle.default_channel.as_ref().filter(|name| !name.is_empty()))
        .cloned()
}

/// opm's semver template over the bundles of one package. Each bundle goes
/// to the archetypes (`candidate`, `fast`, `stable`) that list it in
/// `policy`; archetypes the policy leaves unset take the bundles whose
/// channels annotation names them, and bundles named by no archetype at all
/// are `stable`.
pub fn semver_channels(package: &str, bundles: &[BundleInfo], policy: &crate::config::SemverPolicy) -> PackageGraph {
    let mut graph = PackageGraph::default();
    let configured = [&policy.candidate, &policy.fast, &policy.stable];
    let archetypes = ["candidate", "fast", "stable"];
    let mut members: [Vec<(String, Version)>; 3] = Default::default();
    let by_name: BTreeMap<&str, &BundleInfo> = bundles.iter().map(|bundle| (bundle.name.as_str(), bundle)).collect();
    for (idx, listed) in configured.iter().enumerate() {
        if let Some(names) = listed {
            for name in names {
                match by_name.get(name.value.as_str()) {
                    Some(bundle) => members[idx].push((bundle.name.clone(), bundle.version.clone())),
                    None => graph.problems.push(GraphProblem {
                        notes: Vec::new(),
                        n_caused: 0,
                        bundle: None,
                        field: "semver",
                        message: format!(
                            "`[package.semver] {}` lists `{}`, which is not a bundle of package `{package}`",
                            archetypes[idx], name.value
                        ),
                        help: None,
                    }),
                }
            }
        }
    }
    let explicitly_placed: BTreeSet<&str> = configured
        .iter()
        .flat_map(|listed| listed.iter().flatten().map(|name| name.value.as_str()))
        .collect();
    for bundle in bundles {
        if explicitly_placed.contains(bundle.name.as_str()) {
            continue;
        }
        let mut placed = false;
        for (idx, archetype) in archetypes.iter().enumerate() {
            if configured[idx].is_none() && bundle.channels.iter().any(|channel| channel == archetype) {
                members[idx].push((bundle.name.clone(), bundle.version.clone()));
                placed = true;
            }
        }
        if !placed && configured[2].is_none() {
            members[2].push((bundle.name.clone(), bundle.version.clone()));
        }
    }
    for list in &mut members {
        list.sort_by(|left, right| left.1.cmp(&right.1).then_with(|| left.0.cmp(&right.0)));
    }
    let options = crate::catalog_template::semver::GenerateOptions {
        generate_major_channels: policy.generate_major_channels,
        generate_minor_channels: policy.generate_minor_channels,
        default_channel_type_preference: policy.default_channel_type_preference.clone(),
    };
    match crate::catalog_template::semver::generate(package, &options, &members[0], &members[1], &members[2]) {
        Ok(generated) => {
            graph.channels = generated.channels;
            graph.default_channel = Some(generated.default_channel).filter(|name| !name.is_empty());
        }
        Err(message) => graph.problems.push(GraphProblem {
            notes: Vec::new(),
            n_caused: 0,
            bundle: None,
            field: "semver",
            message,
            help: None,
        }),
    }
    graph
}

/// Channels written out in `catalog.toml`.
pub fn explicit_channels(package: &str, channels: &[crate::config::ExplicitChannel]) -> Vec<Channel> {
    channels
        .iter()
        .map(|channel| Channel {
            schema: SCHEMA_CHANNEL.to_string(),
            package: package.to_string(),
            name: channel.name.value.clone(),
            entries: Some(
                channel
                    .entries
                    .iter()
                    .map(|entry| ChannelEntry {
                        name: entry.name.value.clone(),
                        replaces: entry.replaces.as_ref().map(|replaces| replaces.value.clone()).unwrap_or_default(),
                        skips: entry.skips.iter().map(|skip| skip.value.clone()).collect(),
                        skip_range: entry.skip_range.as_ref().map(|range| range.value.clone()).unwrap_or_default(),
                    })
                    .collect(),
            ),
            properties: Vec::new(),
        })
        .collect()
}

/// opm's channel checks (`validateReplacesChain`, spec C and H) on one
/// channel, as problems catbuild can place: more than one head, no head, a
/// replaces cycle, stranded entries.
pub fn check_channel(channel: &Channel) -> Vec<GraphProblem> {
    let entries = channel.entries.as_deref().unwrap_or_default();
    let mut problems = Vec::new();
    let names: BTreeSet<&str> = entries.iter().map(|entry| entry.name.as_str()).collect();
    let skipped = crate::model::upgrade_edges::skipped_names(entries);
    let mut heads: Vec<&str> = crate::model::upgrade_edges::heads(entries)
        .iter()
        .map(|entry| entry.name.as_str())
        .collect();
    heads.sort_unstable();
    heads.dedup();
    let head = match heads.as_slice() {
        [head] => *head,
        [] => {
            if !entries.is_empty() {
                problems.push(GraphProblem {
                    notes: Vec::new(),
                    n_caused: 0,
                    bundle: None,
                    field: "replaces",
                    message: format!(
                        "channel `{}` has no head: every entry is replaced or skipped by another",
                        channel.name
                    ),
                    help: Some("the newest bundle must not be replaced or skipped by any entry".to_string()),
                });
            }
            return problems;
        }
        several => {
            problems.push(GraphProblem {
                notes: Vec::new(),
                n_caused: 0,
                bundle: None,
                field: "replaces",
                message: format!("channel `{}` has more than one head: {}", channel.name, several.join(", ")),
                help: Some("link the heads: the newest bundle should replace (or skip) the others".to_string()),
            });
            return problems;
        }
    };
    let by_name: BTreeMap<&str, &ChannelEntry> = entries.iter().map(|entry| (entry.name.as_str(), entry)).collect();
    let walk = match crate::model::upgrade_edges::walk_replaces(by_name[head], &skipped, |name| by_name.get(name).copied()) {
        Ok(walk) => walk,
        Err(cycle) => {
            problems.push(GraphProblem {
                notes: Vec::new(),
                n_caused: 0,
                bundle: cycle.first().cloned(),
                field: "replaces",
                message: format!("replaces cycle in channel `{}`: {}", channel.name, cycle.join(" -> ")),
                help: Some("each entry must replace an older one".to_string()),
            });
            return problems;
        }
    };
    let on_chain: BTreeSet<&str> = walk.chain.iter().map(|entry| entry.name.as_str()).collect();
    let Some(current) = walk.chain.last() else {
        return problems;
    };
    let stranded: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| !on_chain.contains(name) && !skipped.contains(name))
        .collect();
    if !stranded.is_empty() {
        // opm (alpha/model validateReplacesChain) stops following `replaces`
        // at a bundle that another entry skips; say so when that is why.
        let cut_at_skip = skipped.contains(current.replaces.as_str()) && names.contains(current.replaces.as_str());
        let help = if cut_at_skip {
            format!(
                "the replaces chain from `{head}` stops at `{}`: it replaces `{}`, which another entry skips, and opm ignores replaces edges to skipped bundles; skip the stranded bundles too, or drop them",
                current.name, current.replaces
            )
        } else {
            "make an entry on the head's replaces chain replace or skip them, or remove them".to_string()
        };
        problems.push(GraphProblem {
            notes: Vec::new(),
            n_caused: 0,
            bundle: Some(current.name.clone()),
            field: "replaces",
            message: format!(
                "channel `{}` has stranded entries, unreachable from its head `{head}`: {}",
                channel.name,
                stranded.join(", ")
            ),
            help: Some(help),
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(name: &str, version: &str, channels: &[&str], replaces: &str, skips: &[&str]) -> BundleInfo {
        BundleInfo {
            name: name.to_string(),
            version: Version::parse(version).unwrap(),
            channels: channels.iter().map(|channel| (*channel).to_string()).collect(),
            default_channel: None,
            replaces: replaces.to_string(),
            skips: skips.iter().map(|skip| (*skip).to_string()).collect(),
            skip_range: String::new(),
        }
    }

    #[test]
    fn a_broken_edge_is_one_problem_standing_for_the_bundles_it_strands() {
        let bundles = [
            bundle("op.v1", "1.0.0", &["stable", "fast"], "", &[]),
            bundle("op.v2", "2.0.0", &["stable", "fast"], "op.v1", &[]),
            bundle("op.v3", "3.0.0", &["stable", "fast"], "op.v2.1", &[]),
        ];
        let graph = replaces_channels("op", &bundles);
        assert_eq!(graph.problems, [], "{:#?}", graph.problems);
        assert_eq!(graph.broken_edges.len(), 1, "{:#?}", graph.broken_edges);
        // Each stranded bundle stays data (the package may drop them), and
        // names the edge that cut it off.
        let stranded: Vec<(&str, &str, Option<usize>)> = graph
            .unreachable
            .iter()
            .map(|unreachable| (unreachable.bundle.as_str(), unreachable.channel.as_str(), unreachable.broken_edge))
            .collect();
        assert_eq!(
            stranded,
            [
                ("op.v1", "fast", Some(0)),
                ("op.v2", "fast", Some(0)),
                ("op.v1", "stable", Some(0)),
                ("op.v2", "stable", Some(0)),
            ]
        );
        let problem = &graph.broken_edges[0];
        assert_eq!(problem.message, "`op.v3` replaces `op.v2.1`, which is not a bundle of package `op`");
        assert_eq!(problem.help.as_deref(), Some("did you mean `op.v2`?"));
        assert_eq!(problem.n_caused, 4);
        assert_eq!(
            problem.notes,
            [
                "so `op.v1`, `op.v2` list channel `fast` but cannot be reached from its head `op.v3`",
                "so `op.v1`, `op.v2` list channel `stable` but cannot be reached from its head `op.v3`",
            ]
        );
    }

    #[test]
    fn a_fork_from_a_missing_bundle_names_each_stranded_bundle() {
        let bundles = [
            bundle("op.v21", "1.21.0", &["stable"], "op.v20", &[]),
            bundle("op.v22", "1.22.0", &["stable"], "op.v20", &[]),
            bundle("op.v23", "1.23.0", &["stable"], "op.v22", &[]),
        ];
        let graph = replaces_channels("op", &bundles);
        assert_eq!(graph.broken_edges, []);
        let messages: Vec<String> = graph.unreachable.iter().map(|unreachable| unreachable.problem().message).collect();
        assert_eq!(
            messages,
            ["bundle `op.v21` lists channel `stable` but is not reachable from the channel head `op.v23` through `replaces` or `skips`"]
        );
        assert_eq!(graph.unreachable[0].broken_edge, None);
    }

    fn entry_names(graph: &PackageGraph, channel: &str) -> Vec<String> {
        let channel = graph.channels.iter().find(|candidate| candidate.name == channel).unwrap();
        channel.entries.as_ref().unwrap().iter().map(|entry| entry.name.clone()).collect()
    }

    #[test]
    fn replaces_mode_walks_the_chain_from_the_highest_version() {
        // Channel membership follows the chain, not the annotations (spec D.4).
        let bundles = vec![
            bundle("a.v1", "1.0.0", &["alpha"], "", &[]),
            bundle("a.v2", "2.0.0", &["alpha", "stable"], "a.v1", &[]),
            bundle("a.v3", "3.0.0", &["alpha", "stable"], "a.v2", &["a.v1.5"]),
        ];
        let graph = replaces_channels("a", &bundles);
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        assert_eq!(entry_names(&graph, "stable"), vec!["a.v1", "a.v2", "a.v3"]);
        assert_eq!(entry_names(&graph, "alpha"), vec!["a.v1", "a.v2", "a.v3"]);
        let stable = graph.channels.iter().find(|channel| channel.name == "stable").unwrap();
        assert_eq!(stable.entries.as_ref().unwrap()[2].skips, vec!["a.v1.5".to_string()]);
    }

    #[test]
    fn replaces_mode_chain_through_a_skipped_bundle_is_no_cycle() {
        // v3 skips v1 and replaces v2, which replaces v1: v1 is reached twice, once per edge.
        let bundles = vec![
            bundle("a.v1", "1.0.0", &["stable"], "", &[]),
            bundle("a.v2", "2.0.0", &["stable"], "a.v1", &[]),
            bundle("a.v3", "3.0.0", &["stable"], "a.v2", &["a.v1"]),
        ];
        let graph = replaces_channels("a", &bundles);
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        assert_eq!(entry_names(&graph, "stable"), vec!["a.v1", "a.v2", "a.v3"]);
    }

    #[test]
    fn replaces_mode_reports_unreachable_bundles_and_tied_heads() {
        let bundles = vec![
            bundle("a.v1", "1.0.0", &["stable"], "", &[]),
            bundle("a.v2", "2.0.0", &["stable"], "", &[]),
        ];
        let graph = replaces_channels("a", &bundles);
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        assert_eq!(graph.unreachable.len(), 1);
        assert_eq!(entry_names(&graph, "stable"), vec!["a.v2"]);
        assert_eq!(
            graph.unreachable[0].problem().message,
            "bundle `a.v1` lists channel `stable` but is not reachable from the channel head `a.v2` through `replaces` or `skips`"
        );
        let tied = vec![
            bundle("a.v1", "1.0.0", &["stable"], "", &[]),
            bundle("a.v1b", "1.0.0", &["stable"], "", &[]),
        ];
        let graph = replaces_channels("a", &tied);
        assert_eq!(
            graph.problems[0].message,
            "more than one potential channel head for stable: a.v1, a.v1b all have version 1.0.0"
        );
    }

    #[test]
    fn replaces_mode_default_channel_from_newest_bundle() {
        let mut newest = bundle("a.v2", "2.0.0", &["alpha", "stable"], "a.v1", &[]);
        newest.default_channel = Some("stable".to_string());
        let graph = replaces_channels("a", &[bundle("a.v1", "1.0.0", &["alpha"], "", &[]), newest]);
        assert_eq!(graph.default_channel.as_deref(), Some("stable"));
    }

    #[test]
    fn replaces_mode_default_channel_from_the_newest_bundle_that_names_one() {
        // populator.go SemverPackageManifest, "take it when you can get it":
        // the newest bundle says nothing, so the next newest one decides.
        let mut oldest = bundle("a.v1", "1.0.0", &["alpha"], "", &[]);
        oldest.default_channel = Some("alpha".to_string());
        let mut middle = bundle("a.v2", "2.0.0", &["alpha", "stable"], "a.v1", &[]);
        middle.default_channel = Some("stable".to_string());
        let newest = bundle("a.v3", "3.0.0", &["alpha", "stable"], "a.v2", &[]);
        let graph = replaces_channels("a", &[newest, oldest, middle]);
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        assert_eq!(graph.default_channel.as_deref(), Some("stable"));
    }

    #[test]
    fn replaces_mode_single_channel_is_the_default_whatever_the_annotation() {
        // SemverPackageManifest: with one channel head, that channel is the
        // default even when an annotation names another.
        let mut only = bundle("a.v1", "1.0.0", &["stable"], "", &[]);
        only.default_channel = Some("alpha".to_string());
        let graph = replaces_channels("a", &[only]);
        assert_eq!(graph.default_channel.as_deref(), Some("stable"));
    }

    fn channel(entries: &[(&str, &str, &[&str])]) -> Channel {
        Channel {
            schema: SCHEMA_CHANNEL.to_string(),
            package: "a".to_string(),
            name: "stable".to_string(),
            entries: Some(
                entries
                    .iter()
                    .map(|(name, replaces, skips)| ChannelEntry {
                        name: (*name).to_string(),
                        replaces: (*replaces).to_string(),
                        skips: skips.iter().map(|skip| (*skip).to_string()).collect(),
                        skip_range: String::new(),
                    })
                    .collect(),
            ),
            properties: Vec::new(),
        }
    }

    #[test]
    fn channel_checks_match_opm_semantics() {
        let ok = channel(&[("a.v1", "", &[]), ("a.v2", "a.v1", &[]), ("a.v3", "a.v2", &["a.v0"])]);
        assert!(check_channel(&ok).is_empty());
        let two_heads = channel(&[("a.v1", "", &[]), ("a.v2", "", &[])]);
        assert_eq!(
            check_channel(&two_heads)[0].message,
            "channel `stable` has more than one head: a.v1, a.v2"
        );
        // Replacing a skipped entry stops the chain: a.v1 is stranded (spec C).
        let stranded = channel(&[("a.v1", "", &[]), ("a.v2", "a.v1", &[]), ("a.v3", "a.v2", &["a.v2"])]);
        assert_eq!(
            check_channel(&stranded)[0].message,
            "channel `stable` has stranded entries, unreachable from its head `a.v3`: a.v1"
        );
        // The cycle alone, from its first repeated entry back to itself, as
        // opm's `detected cycle in replaces chain` prints it.
        let cycle = channel(&[("a.v3", "a.v2", &[]), ("a.v2", "a.v1", &[]), ("a.v1", "a.v2", &[])]);
        assert_eq!(
            check_channel(&cycle)[0].message,
            "replaces cycle in channel `stable`: a.v2 -> a.v1 -> a.v2"
        );
    }
}
