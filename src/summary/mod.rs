//! What a build made, as a person reads it after `catbuild build` (issue
//! 21): per target its packages, channels, bundles and channel heads, and
//! what moved since the last build of that target.
//!
//! The last build is known from a small file each target carries,
//! `build/<target>/.catbuild-summary.json`, swapped in with the rest of the
//! target, so it always describes the files beside it. It holds no time
//! and is written in a fixed order: the same input gives the same bytes.
//! Nothing here reads or writes files; `pipeline` does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model;

/// The file, inside each target's directory, that records its packages.
pub const SUMMARY_FILE: &str = ".catbuild-summary.json";

/// Bumped when the file's shape changes; an older file counts as no
/// previous build rather than as an error.
const FORMAT_VERSION: u32 = 1;

/// One package of a built target: enough to say what moved next time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageOutline {
    pub name: String,
    #[serde(rename = "defaultChannel")]
    pub default_channel: String,
    /// Distinct bundles over every channel.
    pub bundles: usize,
    /// By channel name.
    pub channels: Vec<ChannelOutline>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelOutline {
    pub name: String,
    /// The bundle OLM installs from this channel; empty when the channel
    /// has no single head (a valid package always has one).
    pub head: String,
    pub bundles: usize,
}

impl PackageOutline {
    /// The outline of a package that passed opm's validation.
    pub fn from_model(package: &model::Package) -> PackageOutline {
        let mut bundle_names = BTreeSet::new();
        let channels = package
            .channels
            .values()
            .map(|channel| {
                bundle_names.extend(channel.bundles.keys().map(String::as_str));
                ChannelOutline {
                    name: channel.name.clone(),
                    head: channel.head().map(|bundle| bundle.name.clone()).unwrap_or_default(),
                    bundles: channel.bundles.len(),
                }
            })
            .collect();
        PackageOutline {
            name: package.name.clone(),
            default_channel: package.default_channel.clone().unwrap_or_default(),
            bundles: bundle_names.len(),
            channels,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct SavedSummary {
    version: u32,
    packages: Vec<PackageOutline>,
}

/// The summary file's bytes for a target's packages (sorted by name).
pub fn to_file(packages: &[PackageOutline]) -> Vec<u8> {
    let mut packages = packages.to_vec();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    let saved = SavedSummary {
        version: FORMAT_VERSION,
        packages,
    };
    let mut bytes = serde_json::to_vec_pretty(&saved).expect("plain data serializes");
    bytes.push(b'\n');
    bytes
}

/// The packages a summary file recorded; `None` when the file is not one
/// this version of catbuild wrote (edited, truncated or older): the build
/// then reports no changes rather than wrong ones.
pub fn from_file(bytes: &[u8]) -> Option<Vec<PackageOutline>> {
    let saved: SavedSummary = serde_json::from_slice(bytes).ok()?;
    (saved.version == FORMAT_VERSION).then_some(saved.packages)
}

/// One thing that moved between two builds of a target, in a reviewer's
/// terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    PackageAdded {
        package: String,
    },
    PackageRemoved {
        package: String,
    },
    ChannelAdded {
        package: String,
        channel: String,
        head: String,
    },
    ChannelRemoved {
        package: String,
        channel: String,
    },
    HeadMoved {
        package: String,
        channel: String,
        from: String,
        to: String,
    },
    DefaultChannel {
        package: String,
        from: String,
        to: String,
    },
}

/// What moved from `previous` to `current`, package by package in name
/// order, then channel by channel.
pub fn changes(previous: &[PackageOutline], current: &[PackageOutline]) -> Vec<Change> {
    let before: BTreeMap<&str, &PackageOutline> = previous.iter().map(|package| (package.name.as_str(), package)).collect();
    let after: BTreeMap<&str, &PackageOutline> = current.iter().map(|package| (package.name.as_str(), package)).collect();
    let names: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    let mut found = Vec::new();
    for name in names {
        match (before.get(name), after.get(name)) {
            (Some(_), None) => found.push(Change::PackageRemoved { package: name.to_string() }),
            (None, Some(_)) => found.push(Change::PackageAdded { package: name.to_string() }),
            (Some(old), Some(new)) => package_changes(old, new, &mut found),
            (None, None) => {}
        }
    }
    found
}

fn package_changes(old: &PackageOutline, new: &PackageOutline, found: &mut Vec<Change>) {
    let package = || new.name.clone();
    if old.default_channel != new.default_channel {
        found.push(Change::DefaultChannel {
            package: package(),
            from: old.default_channel.clone(),
            to: new.default_channel.clone(),
        });
    }
    let before: BTreeMap<&str, &ChannelOutline> = old.channels.iter().map(|channel| (channel.name.as_str(), channel)).collect();
    let after: BTreeMap<&str, &ChannelOutline> = new.channels.iter().map(|channel| (channel.name.as_str(), channel)).collect();
    let names: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    for name in names {
        match (before.get(name), after.get(name)) {
            (Some(_), None) => found.push(Change::ChannelRemoved {
                package: package(),
                channel: name.to_string(),
            }),
            (None, Some(channel)) => found.push(Change::ChannelAdded {
                package: package(),
                channel: name.to_string(),
                head: channel.head.clone(),
            }),
            (Some(old), Some(new)) if old.head != new.head => found.push(Change::HeadMoved {
                package: package(),
                channel: name.to_string(),
                from: old.head.clone(),
                to: new.head.clone(),
            }),
            _ => {}
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Change::PackageAdded { package } => write!(f, "package {package} added"),
            Change::PackageRemoved { package } => write!(f, "package {package} removed"),
            Change::ChannelAdded { package, channel, head } => {
                write!(f, "{package}: channel {channel} added, head {head}")
            }
            Change::ChannelRemoved { package, channel } => write!(f, "{package}: channel {channel} removed"),
            Change::HeadMoved {
                package,
                channel,
                from,
                to,
            } => write!(f, "{package}: {channel} head {from} -> {to}"),
            Change::DefaultChannel { package, from, to } => {
                write!(f, "{package}: default channel {from} -> {to}")
            }
        }
    }
}

#[cfg(test)]
mod tests;
