//! Pictures of upgrade graphs that people can read: Graphviz DOT, SVG and
//! one self-contained HTML page (pan, zoom, hover, a channel selector),
//! all made here, so no Graphviz or network is needed when they are drawn.
//! opm's mermaid text stays in `graph::mermaid`, byte for byte.
//!
//! `channel_graphs` turns a catalog into one [`ChannelGraph`] per channel
//! (no I/O); `layout` places it; `dot`, `svg` and `html` write it.

mod dot;
mod html;
mod layout;
mod svg;

use std::collections::{BTreeMap, BTreeSet};

use crate::fbc::{Bundle, DeclarativeConfig};
use crate::model::upgrade_edges;

pub use crate::model::upgrade_edges::EdgeKind;
use crate::semver::{Range, Version};

pub use dot::to_dot;
pub use html::to_html;
pub use svg::to_svg;

/// One channel of one package, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelGraph {
    pub package: String,
    pub channel: String,
    pub is_default: bool,
    pub deprecated: bool,
    pub package_deprecated: bool,
    /// Newest first (by the `olm.package` version; a bundle missing from
    /// the catalog counts as 0.0.0, as in opm's graph).
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    /// The version text, empty when the bundle is not in the catalog.
    pub version: String,
    pub head: bool,
    pub deprecated: bool,
    /// Named by an edge but not an entry of the channel.
    pub outside_channel: bool,
    /// `(type, JSON value)` of each property, for hover text.
    pub properties: Vec<(String, String)>,
    /// Indices of the nodes OLM v0 would upgrade this one through, up to a
    /// head: at each step the newest entry that replaces, skips or
    /// skipRange-covers the current one.
    pub upgrade_path: Vec<usize>,
}

/// An upgrade edge, drawn in the upgrade direction: from the older bundle
/// (`from`) to the one that replaces, skips or covers it (`to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
}

/// Which channels to draw.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub package: Option<String>,
    pub channel: Option<String>,
}

/// Every selected channel of `config`, packages and channels by name. An
/// unknown package or channel is an error naming the ones there are.
pub fn channel_graphs(config: &DeclarativeConfig, selection: &Selection) -> Result<Vec<ChannelGraph>, String> {
    let packages: BTreeSet<&str> = config
        .packages
        .iter()
        .map(|package| package.name.as_str())
        .chain(config.channels.iter().map(|channel| channel.package.as_str()))
        .collect();
    if let Some(wanted) = &selection.package
        && !packages.contains(wanted.as_str())
    {
        return Err(format!("no package `{wanted}` in the catalog (it has: {})", join(packages.iter())));
    }
    let bundles: BTreeMap<(&str, &str), &Bundle> = config
        .bundles
        .iter()
        .map(|bundle| ((bundle.package.as_str(), bundle.name.as_str()), bundle))
        .collect();
    let deprecated = Deprecated::of(config);
    let mut channels: Vec<&crate::fbc::Channel> = config
        .channels
        .iter()
        .filter(|channel| selection.package.as_ref().is_none_or(|wanted| *wanted == channel.package))
        .collect();
    channels.sort_by(|a, b| (&a.package, &a.name).cmp(&(&b.package, &b.name)));
    if let Some(wanted) = &selection.channel
        && !channels.iter().any(|channel| channel.name == *wanted)
    {
        let names: BTreeSet<&str> = channels.iter().map(|channel| channel.name.as_str()).collect();
        return Err(format!("no channel `{wanted}` (there are: {})", join(names.iter())));
    }
    let defaults: BTreeMap<&str, &str> = config
        .packages
        .iter()
        .map(|package| (package.name.as_str(), package.default_channel.as_str()))
        .collect();
    Ok(channels
        .into_iter()
        .filter(|channel| selection.channel.as_ref().is_none_or(|wanted| *wanted == channel.name))
        .map(|channel| {
            let graph = channel_graph(channel, &bundles, &deprecated);
            ChannelGraph {
                is_default: defaults.get(channel.package.as_str()) == Some(&channel.name.as_str()),
                ..graph
            }
        })
        .collect())
}

fn join<'a>(names: impl Iterator<Item = &'a &'a str>) -> String {
    names.map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

/// What `olm.deprecations` marks: packages, `(package, channel)` and
/// `(package, bundle)`.
#[derive(Default)]
struct Deprecated {
    packages: BTreeSet<String>,
    channels: BTreeSet<(String, String)>,
    bundles: BTreeSet<(String, String)>,
}

impl Deprecated {
    fn of(config: &DeclarativeConfig) -> Deprecated {
        let mut deprecated = Deprecated::default();
        for deprecation in &config.deprecations {
            for entry in &deprecation.entries {
                let key = (deprecation.package.clone(), entry.reference.name.clone());
                match entry.reference.schema.as_str() {
                    crate::fbc::SCHEMA_PACKAGE => {
                        deprecated.packages.insert(deprecation.package.clone());
                    }
                    crate::fbc::SCHEMA_CHANNEL => {
                        deprecated.channels.insert(key);
                    }
                    crate::fbc::SCHEMA_BUNDLE => {
                        deprecated.bundles.insert(key);
                    }
                    _ => {}
                }
            }
        }
        deprecated
    }
}

fn channel_graph(channel: &crate::fbc::Channel, bundles: &BTreeMap<(&str, &str), &Bundle>, deprecated: &Deprecated) -> ChannelGraph {
    let package = channel.package.as_str();
    let entries = channel.entries.as_deref().unwrap_or_default();
    let version_of = |name: &str| -> Option<Version> {
        let bundle = bundles.get(&(package, name))?;
        crate::catalog_template::bundle_package(bundle).ok().map(|(_, version)| version)
    };
    // Entries, then names that edges point at but the channel lacks.
    let mut names: Vec<(String, bool)> = entries.iter().map(|entry| (entry.name.clone(), false)).collect();
    let listed: BTreeSet<&str> = entries.iter().map(|entry| entry.name.as_str()).collect();
    let mut outside: BTreeSet<&str> = BTreeSet::new();
    for entry in entries {
        let targets = std::iter::once(entry.replaces.as_str()).chain(entry.skips.iter().map(String::as_str));
        outside.extend(targets.filter(|name| !name.is_empty() && !listed.contains(name)));
    }
    names.extend(outside.into_iter().map(|name| (name.to_string(), true)));
    let zero = Version::new(0, 0, 0);
    let mut nodes: Vec<(Version, Node)> = names
        .into_iter()
        .map(|(name, outside_channel)| {
            let version = version_of(&name);
            let bundle = bundles.get(&(package, name.as_str()));
            let node = Node {
                version: version.as_ref().map(ToString::to_string).unwrap_or_default(),
                head: false,
                deprecated: deprecated.bundles.contains(&(package.to_string(), name.clone())),
                outside_channel,
                properties: bundle
                    .map(|bundle| {
                        bundle
                            .properties
                            .iter()
                            .map(|property| (property.type_.clone(), property.value.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
                upgrade_path: Vec::new(),
                name,
            };
            (version.unwrap_or_else(|| zero.clone()), node)
        })
        .collect();
    // Newest first; equal versions by name, so the picture never depends
    // on file order.
    nodes.sort_by(|(a, a_node), (b, b_node)| b.compare(a).then_with(|| a_node.name.cmp(&b_node.name)));
    let index: BTreeMap<&str, usize> = nodes.iter().enumerate().map(|(at, (_, node))| (node.name.as_str(), at)).collect();
    let mut edges = BTreeSet::new();
    for entry in entries {
        let to = index[entry.name.as_str()];
        if let Some(&from) = index.get(entry.replaces.as_str()) {
            edges.insert(Edge {
                from,
                to,
                kind: EdgeKind::Replaces,
            });
        }
        for skipped in &entry.skips {
            if let Some(&from) = index.get(skipped.as_str()) {
                edges.insert(Edge {
                    from,
                    to,
                    kind: EdgeKind::Skips,
                });
            }
        }
        if let Ok(range) = Range::parse(&entry.skip_range) {
            for (from, (version, node)) in nodes.iter().enumerate() {
                if from != to && !node.version.is_empty() && range.contains(version) {
                    edges.insert(Edge {
                        from,
                        to,
                        kind: EdgeKind::SkipRange,
                    });
                }
            }
        }
    }
    let heads: BTreeSet<&str> = upgrade_edges::heads(entries).into_iter().map(|entry| entry.name.as_str()).collect();
    let mut nodes: Vec<Node> = nodes.into_iter().map(|(_, node)| node).collect();
    for node in &mut nodes {
        node.head = heads.contains(node.name.as_str());
    }
    let edges: Vec<Edge> = edges.into_iter().collect();
    for (at, node) in nodes.iter_mut().enumerate() {
        node.upgrade_path = upgrade_path(at, &edges);
    }
    ChannelGraph {
        package: package.to_string(),
        channel: channel.name.clone(),
        is_default: false,
        deprecated: deprecated.channels.contains(&(package.to_string(), channel.name.clone())),
        package_deprecated: deprecated.packages.contains(package),
        nodes,
        edges,
    }
}

/// From `start`, step to the newest node (lowest index) that any edge
/// leads to, until none does; a cycle stops at the first repeat.
fn upgrade_path(start: usize, edges: &[Edge]) -> Vec<usize> {
    let mut path = vec![start];
    let mut current = start;
    while let Some(next) = edges.iter().filter(|edge| edge.from == current).map(|edge| edge.to).min() {
        if path.contains(&next) {
            break;
        }
        path.push(next);
        current = next;
    }
    path
}

#[cfg(test)]
mod tests;
