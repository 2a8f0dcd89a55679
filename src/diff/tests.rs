//! The diff on small catalogs: what is a change (order is not), how
//! repeats count, invalid channels with two heads, edges that change kind.

use super::*;
use crate::fbc::Property;

fn bundle(name: &str, properties: &[(&str, &str)]) -> Bundle {
    Bundle {
        schema: "olm.bundle".to_string(),
        package: "apple".to_string(),
        name: name.to_string(),
        image: format!("quay.io/example/{name}"),
        properties: properties
            .iter()
            .map(|(type_, value)| Property {
                type_: type_.to_string(),
                value: value.to_string(),
            })
            .collect(),
        related_images: Vec::new(),
    }
}

fn channel(name: &str, entries: &[(&str, &str, &[&str])]) -> Channel {
    Channel {
        schema: "olm.channel".to_string(),
        package: "apple".to_string(),
        name: name.to_string(),
        entries: Some(
            entries
                .iter()
                .map(|(entry, replaces, skips)| ChannelEntry {
                    name: entry.to_string(),
                    replaces: replaces.to_string(),
                    skips: skips.iter().map(|skip| skip.to_string()).collect(),
                    skip_range: String::new(),
                })
                .collect(),
        ),
        properties: Vec::new(),
    }
}

fn catalog(channels: Vec<Channel>, bundles: Vec<Bundle>) -> DeclarativeConfig {
    DeclarativeConfig {
        packages: vec![Package {
            schema: "olm.package".to_string(),
            name: "apple".to_string(),
            default_channel: "stable".to_string(),
            ..Package::default()
        }],
        channels,
        bundles,
        ..DeclarativeConfig::default()
    }
}

#[test]
fn reordered_properties_and_blobs_are_no_change() {
    let old = catalog(
        vec![channel("stable", &[("a.v1", "", &[]), ("a.v2", "a.v1", &[])])],
        vec![
            bundle("a.v1", &[("olm.gvk", "{\"k\":1}"), ("olm.gvk", "{\"k\":2}")]),
            bundle("a.v2", &[]),
        ],
    );
    let mut new = old.clone();
    new.bundles.reverse();
    new.bundles[1].properties.reverse();
    new.channels[0].entries.as_mut().unwrap().reverse();
    assert!(diff(&old, &new).is_empty());
}

#[test]
fn a_repeated_property_value_counts_once_per_copy() {
    let old = catalog(Vec::new(), vec![bundle("a.v1", &[("olm.gvk", "{}")])]);
    let new = catalog(
        Vec::new(),
        vec![bundle("a.v1", &[("olm.gvk", "{}"), ("olm.gvk", "{}"), ("olm.label", "{}")])],
    );
    let changed = &diff(&old, &new).packages[0].bundles[0];
    assert_eq!(
        changed.properties,
        [
            PropertyChange {
                type_: "olm.gvk".to_string(),
                added: 1,
                removed: 0
            },
            PropertyChange {
                type_: "olm.label".to_string(),
                added: 1,
                removed: 0
            },
        ]
    );
}

#[test]
fn a_channel_that_gains_a_second_head_shows_both() {
    // opm's head is the entry nothing replaces or skips; an invalid channel
    // has two, and the diff says so rather than picking one.
    let old = catalog(vec![channel("stable", &[("a.v1", "", &[]), ("a.v2", "a.v1", &[])])], Vec::new());
    let new = catalog(
        vec![channel("stable", &[("a.v1", "", &[]), ("a.v2", "a.v1", &[]), ("a.v3", "", &[])])],
        Vec::new(),
    );
    let channel = &diff(&old, &new).packages[0].channels[0];
    assert_eq!(
        channel.head,
        Some(Moved {
            old: vec!["a.v2".to_string()],
            new: vec!["a.v2".to_string(), "a.v3".to_string()],
        })
    );
    assert_eq!(channel.entries_added, ["a.v3"]);
    assert!(channel.edges_added.is_empty());
}

#[test]
fn a_skip_that_becomes_a_replaces_is_one_edge_removed_and_one_added() {
    let old = catalog(vec![channel("stable", &[("a.v1", "", &[]), ("a.v2", "", &["a.v1"])])], Vec::new());
    let new = catalog(vec![channel("stable", &[("a.v1", "", &[]), ("a.v2", "a.v1", &[])])], Vec::new());
    let channel = &diff(&old, &new).packages[0].channels[0];
    let edge = |kind| Edge {
        from: "a.v2".to_string(),
        kind,
        to: "a.v1".to_string(),
    };
    assert_eq!(channel.edges_added, [edge(EdgeKind::Replaces)]);
    assert_eq!(channel.edges_removed, [edge(EdgeKind::Skips)]);
    assert_eq!(channel.head, None);
}
