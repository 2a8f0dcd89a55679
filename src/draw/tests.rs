//! Channel graphs from small catalogs: order, heads, edges by kind,
//! skipRange coverage, upgrade paths, deprecations and selection errors.

use super::*;
use crate::fbc::{Channel, ChannelEntry, Deprecation, DeprecationEntry, Package, PackageScopedReference, Property};

fn bundle(name: &str, version: &str) -> Bundle {
    Bundle {
        schema: "olm.bundle".to_string(),
        package: "apple".to_string(),
        name: name.to_string(),
        properties: vec![Property {
            type_: "olm.package".to_string(),
            value: format!("{{\"packageName\":\"apple\",\"version\":\"{version}\"}}"),
        }],
        ..Bundle::default()
    }
}

fn entry(name: &str, replaces: &str, skips: &[&str], skip_range: &str) -> ChannelEntry {
    ChannelEntry {
        name: name.to_string(),
        replaces: replaces.to_string(),
        skips: skips.iter().map(|skip| skip.to_string()).collect(),
        skip_range: skip_range.to_string(),
    }
}

/// apple: stable = 1.0.0 <- 1.1.0 (replaces) <- 1.2.0 (replaces 1.1.0,
/// skips 1.0.5 which is not in the channel) <- 2.0.0 (skipRange
/// >=1.0.0 <2.0.0); beta = 2.0.0 alone, deprecated; 1.0.0 deprecated.
fn catalog() -> DeclarativeConfig {
    let channel = |name: &str, entries: Vec<ChannelEntry>| Channel {
        schema: "olm.channel".to_string(),
        package: "apple".to_string(),
        name: name.to_string(),
        entries: Some(entries),
        properties: Vec::new(),
    };
    let deprecated = |schema: &str, name: &str| DeprecationEntry {
        reference: PackageScopedReference {
            schema: schema.to_string(),
            name: name.to_string(),
        },
        message: "old".to_string(),
    };
    DeclarativeConfig {
        packages: vec![Package {
            schema: "olm.package".to_string(),
            name: "apple".to_string(),
            default_channel: "stable".to_string(),
            ..Package::default()
        }],
        channels: vec![
            // Entries out of order on purpose: the picture sorts by version.
            channel(
                "stable",
                vec![
                    entry("apple.v1.2.0", "apple.v1.1.0", &["apple.v1.0.5"], ""),
                    entry("apple.v1.0.0", "", &[], ""),
                    entry("apple.v2.0.0", "", &[], ">=1.0.0 <2.0.0"),
                    entry("apple.v1.1.0", "apple.v1.0.0", &[], ""),
                ],
            ),
            channel("beta", vec![entry("apple.v2.0.0", "", &[], "")]),
        ],
        bundles: vec![
            bundle("apple.v1.0.0", "1.0.0"),
            bundle("apple.v1.1.0", "1.1.0"),
            bundle("apple.v1.2.0", "1.2.0"),
            bundle("apple.v2.0.0", "2.0.0"),
        ],
        deprecations: vec![Deprecation {
            schema: "olm.deprecations".to_string(),
            package: "apple".to_string(),
            entries: vec![deprecated("olm.channel", "beta"), deprecated("olm.bundle", "apple.v1.0.0")],
        }],
        ..DeclarativeConfig::default()
    }
}

fn names(graph: &ChannelGraph) -> Vec<&str> {
    graph.nodes.iter().map(|node| node.name.as_str()).collect()
}

#[test]
fn nodes_are_newest_first_with_heads_and_marks() {
    let graphs = channel_graphs(&catalog(), &Selection::default()).unwrap();
    assert_eq!(
        graphs.iter().map(|graph| graph.channel.as_str()).collect::<Vec<_>>(),
        ["beta", "stable"]
    );
    let (beta, stable) = (&graphs[0], &graphs[1]);
    assert!(beta.deprecated && !beta.is_default);
    assert!(stable.is_default && !stable.deprecated);
    // 1.0.5 is only named by a skip: drawn, marked, ordered as 0.0.0.
    assert_eq!(
        names(stable),
        ["apple.v2.0.0", "apple.v1.2.0", "apple.v1.1.0", "apple.v1.0.0", "apple.v1.0.5"]
    );
    // 2.0.0 is a head; 1.2.0 is not replaced or skipped by anyone either:
    // skipRange makes no edge for opm's head rule.
    let heads: Vec<&str> = stable
        .nodes
        .iter()
        .filter(|node| node.head)
        .map(|node| node.name.as_str())
        .collect();
    assert_eq!(heads, ["apple.v2.0.0", "apple.v1.2.0"]);
    assert!(stable.nodes[3].deprecated);
    assert!(stable.nodes[4].outside_channel && stable.nodes[4].version.is_empty());
}

#[test]
fn edges_point_the_way_upgrades_go_and_skip_ranges_cover_versions() {
    let graphs = channel_graphs(&catalog(), &Selection::default()).unwrap();
    let stable = &graphs[1];
    let named = |edge: &Edge| {
        (
            stable.nodes[edge.from].name.as_str(),
            edge.kind,
            stable.nodes[edge.to].name.as_str(),
        )
    };
    let mut edges: Vec<_> = stable.edges.iter().map(named).collect();
    edges.sort();
    assert_eq!(
        edges,
        [
            ("apple.v1.0.0", EdgeKind::Replaces, "apple.v1.1.0"),
            ("apple.v1.0.0", EdgeKind::SkipRange, "apple.v2.0.0"),
            ("apple.v1.0.5", EdgeKind::Skips, "apple.v1.2.0"),
            ("apple.v1.1.0", EdgeKind::Replaces, "apple.v1.2.0"),
            ("apple.v1.1.0", EdgeKind::SkipRange, "apple.v2.0.0"),
            ("apple.v1.2.0", EdgeKind::SkipRange, "apple.v2.0.0"),
        ]
    );
    // From 1.0.0 OLM goes straight to the newest bundle that covers it.
    let path: Vec<&str> = stable.nodes[3]
        .upgrade_path
        .iter()
        .map(|&at| stable.nodes[at].name.as_str())
        .collect();
    assert_eq!(path, ["apple.v1.0.0", "apple.v2.0.0"]);
}

#[test]
fn selection_filters_and_unknown_names_are_errors() {
    let selection = Selection {
        package: Some("apple".to_string()),
        channel: Some("stable".to_string()),
    };
    assert_eq!(channel_graphs(&catalog(), &selection).unwrap().len(), 1);
    let error = channel_graphs(
        &catalog(),
        &Selection {
            package: Some("pear".to_string()),
            channel: None,
        },
    )
    .unwrap_err();
    assert_eq!(error, "no package `pear` in the catalog (it has: `apple`)");
    let error = channel_graphs(
        &catalog(),
        &Selection {
            package: None,
            channel: Some("fast".to_string()),
        },
    )
    .unwrap_err();
    assert_eq!(error, "no channel `fast` (there are: `beta`, `stable`)");
}

#[test]
fn svg_escapes_names_and_marks_classes() {
    let mut config = catalog();
    config.bundles[3].properties.push(Property {
        type_: "olm.label".to_string(),
        value: "{\"note\":\"a<b & \\\"c\\\"\"}".to_string(),
    });
    let graphs = channel_graphs(&config, &Selection::default()).unwrap();
    let svg = to_svg(&graphs);
    assert!(svg.contains("a&lt;b &amp; \\&quot;c\\&quot;"), "{svg}");
    assert_eq!(svg.matches("class=\"cb-node cb-head\"").count(), 3);
    assert_eq!(svg.matches("class=\"cb-node cb-deprecated\"").count(), 1);
    assert_eq!(svg.matches("class=\"cb-node cb-outside\"").count(), 1);
    assert!(svg.contains("(deprecated channel)"));
}
