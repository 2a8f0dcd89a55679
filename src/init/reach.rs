//! Which bundles of a community package opm's replaces mode leaves out of
//! their channels (spec D.4: a channel holds what its head's `replaces`
//! chain and `skips` reach). A package whose `ci.yaml` says
//! `updateGraph: replaces-mode` is published from opm's index, so the
//! repository relies on those bundles being dropped: init then writes
//! `unreachable = "drop"` with a comment naming them, instead of a
//! `catalog.toml` that fails on a graph upstream ships.

use super::FoundBundle;
use crate::graph::{BundleInfo, UnreachableBundle};

/// The bundles no channel head of `package` reaches, as the build's
/// replaces policy finds them. Empty when a bundle does not load: the
/// build then reports the real problem, and init chooses nothing for it.
pub(super) fn unreachable_bundles(package: &str, bundles: &[FoundBundle]) -> Vec<UnreachableBundle> {
    let mut infos = Vec::new();
    for found in bundles {
        let Ok(loaded) = crate::load::load_bundle_dir(&found.dir, None) else {
            return Vec::new();
        };
        let Ok(version) = crate::semver::Version::parse(&loaded.version) else {
            return Vec::new();
        };
        if loaded.package != package || infos.iter().any(|info: &BundleInfo| info.name == loaded.bundle.name) {
            return Vec::new();
        }
        infos.push(BundleInfo {
            name: loaded.bundle.name.clone(),
            version,
            channels: loaded.channels,
            default_channel: loaded.default_channel,
            replaces: loaded.replaces,
            skips: loaded.skips,
            skip_range: loaded.skip_range,
        });
    }
    crate::graph::replaces_channels(package, &infos).unreachable
}
