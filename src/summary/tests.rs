//! The build summary's data: what counts as a change between two builds,
//! and the summary file read back (damaged files are no previous build).

use super::*;

fn package(name: &str, default_channel: &str, channels: &[(&str, &str, usize)]) -> PackageOutline {
    PackageOutline {
        name: name.to_string(),
        default_channel: default_channel.to_string(),
        bundles: channels.iter().map(|(_, _, n)| n).sum(),
        channels: channels
            .iter()
            .map(|(channel, head, n)| ChannelOutline {
                name: channel.to_string(),
                head: head.to_string(),
                bundles: *n,
            })
            .collect(),
    }
}

#[test]
fn the_same_packages_change_nothing() {
    let packages = vec![package("etcd", "stable", &[("stable", "etcd.v0.9.4", 3)])];
    assert_eq!(changes(&packages, &packages), Vec::new());
}

#[test]
fn every_kind_of_change_is_named_in_package_then_channel_order() {
    let old = vec![
        package("apple", "stable", &[("alpha", "apple.v2", 2), ("stable", "apple.v1", 1)]),
        package("gone", "stable", &[("stable", "gone.v1", 1)]),
    ];
    let new = vec![
        package("apple", "fast", &[("fast", "apple.v3", 3), ("stable", "apple.v2", 2)]),
        package("fresh", "stable", &[("stable", "fresh.v1", 1)]),
    ];
    let found: Vec<String> = changes(&old, &new).iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        [
            "apple: default channel stable -> fast",
            "apple: channel alpha removed",
            "apple: channel fast added, head apple.v3",
            "apple: stable head apple.v1 -> apple.v2",
            "package fresh added",
            "package gone removed",
        ]
    );
}

#[test]
fn the_file_round_trips_sorted_and_ends_with_a_newline() {
    let packages = vec![
        package("zebra", "stable", &[("stable", "zebra.v1", 1)]),
        package("apple", "stable", &[("stable", "apple.v1", 1)]),
    ];
    let bytes = to_file(&packages);
    assert!(bytes.ends_with(b"}\n"));
    let read = from_file(&bytes).unwrap();
    assert_eq!(read.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["apple", "zebra"]);
    assert_eq!(read[1], packages[0]);
    // The keys a reader of the file sees.
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("{\n  \"version\": 1,\n  \"packages\": ["), "{text}");
    assert!(text.contains("\"defaultChannel\": \"stable\""), "{text}");
}

#[test]
fn a_damaged_or_foreign_file_counts_as_no_previous_build() {
    assert_eq!(from_file(b""), None);
    assert_eq!(from_file(b"{\"version\": 1, \"packages\": [{\"name\": 3}]}"), None);
    assert_eq!(from_file(b"{\"version\": 99, \"packages\": []}"), None);
    assert_eq!(from_file(b"{\"version\": 1, \"packages\": []}"), Some(Vec::new()));
}
