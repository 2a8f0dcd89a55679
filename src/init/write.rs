//! The config writer: an [`InitPlan`] as `catalog.toml` text. No I/O; every
//! decision was made by [`super::plan`]. Paths are relative to the
//! config's directory; whatever differs from upstream (left-out bundles and
//! template entries, templates not adopted) is said in TOML comments.

use std::fmt::Write as _;

use super::{
    BundleList, CatalogTemplateSource, ExplicitAdoption, InitPlan, PlannedChannelPolicy, PlannedPackage, SemverAdoption, TemplateImages,
};
use crate::fbc::ChannelEntry;

/// `catalog.toml` for `plan`.
pub fn write_catalog_toml(plan: &InitPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Written by `catbuild init`; every key is described in docs/catalog-toml.md.");
    let _ = writeln!(out, "version = 1\n\n[catalog]\nname = {}", toml_string(&plan.catalog_name));
    let versions = openshift_versions(plan);
    if let Some((versions, template)) = &versions {
        let listed: Vec<String> = versions.iter().map(|version| toml_string(&version.to_string())).collect();
        let _ = writeln!(
            out,
            "# The OpenShift catalogs ci.yaml maps {} (or an identical copy) to:\n\
             # one target each (build/v4.16/…), olm.csv.metadata from v4.17 on\n\
             # (opm migrates only bundles that have an image: see `bundle-image`).\n\
             openshift = [{}]",
            template,
            listed.join(", ")
        );
    }
    if let Some(versions) = annotated_versions(plan) {
        let listed: Vec<String> = versions.iter().map(|version| toml_string(&version.to_string())).collect();
        let _ = writeln!(
            out,
            "# One target per community catalog ({} to {}) that some bundle's\n\
             # com.redhat.openshift.versions admits; each holds the bundles it admits,\n\
             # olm.csv.metadata from v4.17 on (opm migrates only bundles that have an\n\
             # image: set `bundle-image` for those).\n\
             openshift = [{}]",
            super::COMMUNITY_CATALOGS.0,
            super::COMMUNITY_CATALOGS.1,
            listed.join(", ")
        );
    }
    if let Some(other) = other_catalogs(plan)
        && !other.is_empty()
    {
        let _ = writeln!(
            out,
            "# ci.yaml maps {} to templates that differ from this one: not built here.",
            other.join(", ")
        );
    }
    out.push('\n');
    for package in &plan.packages {
        write_package(&mut out, plan, package);
        out.push('\n');
    }
    if versions.is_some() || annotated_versions(plan).is_some() {
        // The community pipeline commits `catalogs/vX.Y/<package>/catalog.yaml`.
        let _ = writeln!(out, "[[target]]\nformats = [\"fbc-yaml\"]");
    } else {
        let _ = writeln!(out, "[[target]]\nname = \"default\"\nformats = [\"fbc-json\"]");
    }
    out
}

/// For a single package whose channels come from a catalog template: the
/// OpenShift versions its `ci.yaml` maps that template to (only `vX.Y`
/// names are versions, as for the community pipeline), and the template.
/// Several packages map to different versions, so they get no versions.
fn openshift_versions(plan: &InitPlan) -> Option<(Vec<crate::openshift::OcpVersion>, String)> {
    let [package] = plan.packages.as_slice() else {
        return None;
    };
    let (template, versioned) = match &package.channel_policy {
        PlannedChannelPolicy::Explicit { template, versioned, .. } => (template, &versioned[..]),
        PlannedChannelPolicy::Semver { template, .. } => (template, &[][..]),
        _ => return None,
    };
    let mut versions: Vec<crate::openshift::OcpVersion> = template
        .catalogs
        .iter()
        .chain(versioned.iter().flat_map(|other| &other.catalogs))
        .filter_map(|name| crate::openshift::catalog_version(name))
        .collect();
    versions.sort();
    versions.dedup();
    (!versions.is_empty()).then(|| (versions, plan.relative(&template.path)))
}

/// For a lone classic package, the catalogs its annotations admit.
fn annotated_versions(plan: &InitPlan) -> Option<&[crate::openshift::OcpVersion]> {
    let [package] = plan.packages.as_slice() else {
        return None;
    };
    (!package.annotated_versions.is_empty()).then_some(package.annotated_versions.as_slice())
}

/// The catalogs of a single adopted package's other, differing templates
/// that were not adopted per version.
fn other_catalogs(plan: &InitPlan) -> Option<Vec<String>> {
    let [package] = plan.packages.as_slice() else {
        return None;
    };
    match &package.channel_policy {
        PlannedChannelPolicy::Explicit { versioned, .. } if !versioned.is_empty() => None,
        PlannedChannelPolicy::Explicit { template, .. } | PlannedChannelPolicy::Semver { template, .. } => {
            Some(template.others.iter().flat_map(|(_, catalogs)| catalogs.clone()).collect())
        }
        _ => None,
    }
}

fn write_package(out: &mut String, plan: &InitPlan, package: &PlannedPackage) {
    let _ = writeln!(out, "[[package]]\nname = {}", toml_string(&package.name));
    let template_text = |template: &CatalogTemplateSource| format!("{} (catalog {})", plan.relative(&template.path), template.catalog);
    let template_rel = match &package.channel_policy {
        PlannedChannelPolicy::Explicit { template, .. } | PlannedChannelPolicy::Semver { template, .. } => template_text(template),
        _ => String::new(),
    };
    match &package.bundle_list {
        BundleList::Empty => {}
        BundleList::Wildcard(parent) => {
            let _ = writeln!(out, "bundles = [{}]", toml_string(&format!("{}/*", plan.relative(parent))));
        }
        BundleList::Dirs { listed, left_out } => {
            let _ = writeln!(out, "bundles = [");
            for bundle in listed {
                let comment = bundle.note.map(|note| format!("  # {note}")).unwrap_or_default();
                let _ = writeln!(out, "  {},{comment}", toml_string(&plan.relative(&bundle.dir)));
            }
            for left_out in left_out {
                let _ = writeln!(
                    out,
                    "  # {},  # {}: not in {template_rel}, so not published upstream",
                    toml_string(&plan.relative(&left_out.bundle.dir)),
                    left_out.csv_name
                );
            }
            let _ = writeln!(out, "]");
        }
    }
    if !package.admits_none.is_empty() {
        let _ = writeln!(
            out,
            "# com.redhat.openshift.versions of these admits no community catalog ({} to {}):",
            super::COMMUNITY_CATALOGS.0,
            super::COMMUNITY_CATALOGS.1
        );
        let _ = writeln!(out, "exclude = [");
        for (dir, value) in &package.admits_none {
            let _ = writeln!(out, "  {},  # {}", toml_string(&plan.relative(dir)), comment_text(value));
        }
        let _ = writeln!(out, "]");
    }
    if !package.package_manifests.is_empty() {
        let listed: Vec<String> = package
            .package_manifests
            .iter()
            .map(|dir| toml_string(&plan.relative(dir)))
            .collect();
        let _ = writeln!(out, "package-manifests = [{}]", listed.join(", "));
    }
    match &package.channel_policy {
        PlannedChannelPolicy::Explicit { adoption, .. } => write_bundle_image(out, &adoption.images, &template_rel),
        PlannedChannelPolicy::Semver { adoption, .. } => write_bundle_image(out, &adoption.images, &template_rel),
        _ => {}
    }
    match &package.channel_policy {
        PlannedChannelPolicy::Explicit {
            adoption,
            template,
            versioned,
        } => {
            if versioned.is_empty() {
                write_explicit(out, &[(None, adoption)], &template_rel);
            } else {
                let mut adoptions = vec![(Some(template.catalogs.as_slice()), adoption)];
                adoptions.extend(versioned.iter().map(|other| (Some(other.catalogs.as_slice()), &other.adoption)));
                let mut sources = vec![plan.relative(&template.path)];
                sources.extend(versioned.iter().map(|other| plan.relative(&other.template)));
                write_explicit(out, &adoptions, &format!("{} (one per catalog)", sources.join(", ")));
            }
        }
        PlannedChannelPolicy::Semver { adoption, .. } => write_semver(out, adoption, &template_rel),
        PlannedChannelPolicy::TemplateNotAdopted { ci_yaml, fallback, reason } => {
            let _ = writeln!(
                out,
                "# {} has `fbc.enabled: true`, but its template was not adopted:",
                plan.relative(ci_yaml)
            );
            let _ = writeln!(out, "# {}", comment_text(&reason.to_string()));
            let _ = writeln!(out, "channel-policy = {}", toml_string(fallback.name()));
        }
        PlannedChannelPolicy::FromCi { update_graph, ci_yaml } => {
            let _ = writeln!(
                out,
                "channel-policy = {}  # from {}",
                toml_string(update_graph.name()),
                plan.relative(ci_yaml)
            );
            write_unreachable(out, package);
        }
        PlannedChannelPolicy::CommunityDefault => {
            let _ = writeln!(
                out,
                "channel-policy = \"replaces\"  # no `updateGraph` in a ci.yaml: the community pipeline's default, replaces-mode"
            );
            write_unreachable(out, package);
        }
        PlannedChannelPolicy::Replaces => {
            let _ = writeln!(out, "channel-policy = \"replaces\"");
        }
    }
}

/// `unreachable = "drop"`, with the bundles it drops, for a package opm's
/// replaces mode builds upstream.
fn write_unreachable(out: &mut String, package: &PlannedPackage) {
    if package.unreachable.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "# opm's replaces mode, which builds this package upstream, leaves out what no channel head reaches:"
    );
    for unreachable in &package.unreachable {
        let _ = writeln!(out, "# {} (channel {})", unreachable.bundle, unreachable.channel);
    }
    let _ = writeln!(out, "unreachable = \"drop\"");
}

/// `bundle-image` as the template names its bundles, so the catalog keeps
/// upstream's references (and v4.17+ targets can migrate to CSV metadata).
fn write_bundle_image(out: &mut String, images: &TemplateImages, template_rel: &str) {
    let Some(bundle_image) = &images.bundle_image else {
        if !images.names.is_empty() || !images.unmapped.is_empty() {
            let _ = writeln!(
                out,
                "# The bundle images of {template_rel} follow no one pattern: set `bundle-image`."
            );
        }
        return;
    };
    if images.from_digests {
        let _ = writeln!(
            out,
            "# {template_rel} names its bundles by digest, which only a pull can map to a directory;"
        );
        let _ = writeln!(out, "# the catalog names them by version tag in the same repository instead.");
    } else {
        let _ = writeln!(out, "# Bundle images as {template_rel} names them.");
        let digests = images.unmapped.iter().filter(|image| image.contains("@sha256:")).count();
        let tags = images.unmapped.len() - digests;
        if digests > 0 {
            let _ = writeln!(
                out,
                "# It names {digests} bundle(s) by digest, which only a pull can map to a directory: the catalog names them by tag."
            );
        }
        if tags > 0 {
            let unmatched: Vec<&str> = images
                .unmapped
                .iter()
                .filter(|image| !image.contains("@sha256:"))
                .map(String::as_str)
                .collect();
            let more = if tags > 3 {
                format!(" and {} more", tags - 3)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "# {tags} of its images match no bundle found here: {}{more}",
                unmatched[..tags.min(3)].join(", ")
            );
        }
    }
    let _ = writeln!(out, "bundle-image = {}", toml_string(bundle_image));
}

/// Explicit channels from one basic template, or from one per group of
/// catalogs (`Some(catalogs)`: the channels get `openshift`, and a default
/// that differs between templates becomes `default = true`).
fn write_explicit(out: &mut String, adoptions: &[(Option<&[String]>, &ExplicitAdoption)], template_rel: &str) {
    let (_, first) = adoptions[0];
    let _ = writeln!(out, "# Channels and package from {template_rel}, as upstream builds the catalog.");
    let _ = writeln!(out, "channel-policy = \"explicit\"");
    // The package blob is one for every version: `icon = false` only when
    // no template has an icon.
    let with_icon = adoptions.iter().filter(|(_, adoption)| adoption.icon).count();
    if with_icon == 0 {
        let _ = writeln!(out, "icon = false  # the template's package has none");
    } else if with_icon < adoptions.len() {
        let without: Vec<&str> = adoptions
            .iter()
            .filter(|(_, adoption)| !adoption.icon)
            .flat_map(|(catalogs, _)| catalogs.unwrap_or_default())
            .map(String::as_str)
            .collect();
        let _ = writeln!(
            out,
            "# The templates of {} have no package icon, the others do: every version takes the head CSV's.",
            without.join(", ")
        );
    }
    if !first.description.is_empty() {
        let _ = writeln!(out, "description = {}", toml_string(&first.description));
    }
    let defaults: std::collections::BTreeSet<&Option<String>> = adoptions.iter().map(|(_, adoption)| &adoption.default_channel).collect();
    let per_version_default = defaults.len() > 1;
    if !per_version_default {
        match (&first.default_channel, &first.lost_default) {
            (Some(default), _) => {
                let _ = writeln!(out, "default-channel = {}", toml_string(default));
            }
            (None, Some(lost)) => {
                let _ = writeln!(
                    out,
                    "# The template's default channel {} lists no bundle that was found; set `default-channel`.",
                    toml_string(lost)
                );
            }
            (None, None) => {}
        }
    }
    for (catalogs, adoption) in adoptions {
        if !adoption.empty_channels.is_empty() {
            let _ = writeln!(
                out,
                "# Channels left out (none of their bundles was found): {}",
                adoption.empty_channels.join(", ")
            );
        }
        if adoption.deprecations {
            let _ = writeln!(out, "# The template's olm.deprecations entry is not carried over.");
        }
        for channel in &adoption.channels {
            let _ = writeln!(out, "\n[[package.channel]]\nname = {}", toml_string(&channel.name));
            if let Some(catalogs) = catalogs {
                let _ = writeln!(out, "openshift = {}", toml_string_array(catalogs));
            }
            if per_version_default && adoption.default_channel.as_ref() == Some(&channel.name) {
                let _ = writeln!(out, "default = true");
            }
            if !channel.dropped.is_empty() {
                let _ = writeln!(
                    out,
                    "# Entries left out (no bundle directory found): {}",
                    channel.dropped.join(", ")
                );
            }
            let _ = writeln!(out, "entries = [");
            for entry in &channel.entries {
                let _ = writeln!(out, "  {},", toml_entry(entry));
            }
            let _ = writeln!(out, "]");
        }
    }
}

fn write_semver(out: &mut String, adoption: &SemverAdoption, template_rel: &str) {
    let _ = writeln!(out, "channel-policy = \"semver-template\"  # from {template_rel}");
    let unplaced: Vec<&str> = adoption
        .archetypes
        .iter()
        .filter(|(_, images)| images.iter().any(|image| !adoption.images.names.contains_key(image)))
        .map(|(archetype, _)| archetype.as_str())
        .collect();
    if !unplaced.is_empty() {
        let _ = writeln!(
            out,
            "# The template lists {} bundles by images that match no bundle found here: those",
            unplaced.join("/")
        );
        let _ = writeln!(
            out,
            "# go where their channels annotation says (candidate, fast, stable; otherwise stable)."
        );
    }
    let _ = writeln!(out, "[package.semver]");
    if let Some(major) = adoption.generate_major_channels {
        let _ = writeln!(out, "generate-major-channels = {major}");
    }
    if let Some(minor) = adoption.generate_minor_channels {
        let _ = writeln!(out, "generate-minor-channels = {minor}");
    }
    if let Some(preference) = &adoption.default_channel_type_preference {
        let _ = writeln!(out, "default-channel-type-preference = {}", toml_string(preference));
    }
    for (archetype, images) in &adoption.archetypes {
        let names: Vec<String> = images
            .iter()
            .filter_map(|image| adoption.images.names.get(image).cloned())
            .collect();
        if !names.is_empty() {
            let _ = writeln!(out, "{archetype} = {}", toml_string_array(&names));
        }
    }
}

pub(super) fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn toml_string_array(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| toml_string(item)).collect();
    format!("[{}]", quoted.join(", "))
}

/// A channel entry as a one-line TOML inline table.
fn toml_entry(entry: &ChannelEntry) -> String {
    let mut parts = vec![format!("name = {}", toml_string(&entry.name))];
    if !entry.replaces.is_empty() {
        parts.push(format!("replaces = {}", toml_string(&entry.replaces)));
    }
    if !entry.skips.is_empty() {
        parts.push(format!("skips = {}", toml_string_array(&entry.skips)));
    }
    if !entry.skip_range.is_empty() {
        parts.push(format!("skip-range = {}", toml_string(&entry.skip_range)));
    }
    format!("{{ {} }}", parts.join(", "))
}

/// Text for a TOML comment: one line, whatever the source held.
fn comment_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn entries_are_inline_tables_with_toml_quoting() {
        let entry = ChannelEntry {
            name: "a.v2".to_string(),
            replaces: "a.v1".to_string(),
            skips: vec!["a\"q".to_string()],
            skip_range: ">=1.0.0 <2.0.0".to_string(),
        };
        assert_eq!(
            toml_entry(&entry),
            r#"{ name = "a.v2", replaces = "a.v1", skips = ['a"q'], skip-range = ">=1.0.0 <2.0.0" }"#
        );
    }

    #[test]
    fn basic_template_keeps_found_bundles_only() {
        let template = "schema: olm.template.basic\nentries:\n- schema: olm.package\n  name: a\n  defaultChannel: stable\n  icon: {base64data: aGk=, mediatype: image/png}\n- schema: olm.channel\n  package: a\n  name: stable\n  entries:\n  - name: a.v1\n  - name: a.v2\n    replaces: a.v1\n    skips: [a.v1.5]\n  - name: a.v3\n    replaces: a.v2\n- schema: olm.channel\n  package: a\n  name: fast\n  entries:\n  - name: a.v3\n- schema: olm.bundle\n  image: example.com/a:1\n";
        let found: BTreeSet<String> = ["a.v1", "a.v2"].into_iter().map(str::to_string).collect();
        let adoption = super::super::adopt::adopt_basic("a", template, &found).unwrap();
        assert_eq!(adoption.default_channel.as_deref(), Some("stable"));
        assert_eq!(adoption.empty_channels, vec!["fast".to_string()]);
        let stable = &adoption.channels[0];
        assert_eq!(stable.name, "stable");
        assert_eq!(stable.entries.len(), 2);
        assert_eq!(stable.entries[1].skips, vec!["a.v1.5".to_string()]);
        assert_eq!(stable.dropped, vec!["a.v3".to_string()]);
        let mut out = String::new();
        write_explicit(&mut out, &[(None, &adoption)], "t.yaml");
        let parsed: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(parsed["default-channel"].as_str(), Some("stable"));
        assert_eq!(parsed["package"]["channel"][0]["entries"][1]["replaces"].as_str(), Some("a.v1"));
    }
}
