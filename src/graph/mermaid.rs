//! The upgrade graph as a mermaid flowchart, byte for byte as opm's
//! `MermaidWriter.WriteChannels` (`alpha/declcfg/write.go` at HEAD) prints
//! it for `opm alpha render-graph`.
//!
//! Packages are subgraphs (sorted by name), channels are nested subgraphs
//! (sorted by name), and each channel lists its entries by decreasing
//! version, each followed by its `skips`, `skipRange` and `replaces` edges.
//! Node ids are `<package>-<channel>-<bundle>`, so a bundle appears once per
//! channel. With `draw_v0_semantics`, bundles that OLMv0 would skip and the
//! edges into them are highlighted, and deprecated packages, channels and
//! bundles are styled. `--minimum-edge` drops edges from below a bundle's
//! version; `--package-name` keeps one package.
//!
//! Quirks kept on purpose: opm's sorts are Go's unstable `sort.Slice`
//! (reproduced exactly), link ids used by `linkStyle` count edges in
//! channel order across packages (not in output order), and a bundle missing
//! from the catalog counts as version 0.0.0.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::catalog_template::bundle_package;
use crate::fbc::{self, Channel, ChannelEntry, DeclarativeConfig};
use crate::go::go_quote;
use crate::go::go_sort_slice;
use crate::semver::{Range, Version};

/// `opm alpha render-graph` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MermaidOptions {
    /// `--minimum-edge`: the bundle whose version is the floor for edges.
    pub minimum_edge: Option<String>,
    /// `--package-name`: the only package to draw.
    pub package_name: Option<String>,
    /// `--draw-v0-semantics`: highlight what OLMv0 would skip.
    pub draw_v0_semantics: bool,
}

/// The graph text and any warnings opm would print to stderr while drawing
/// it (an unparsable `skipRange` is ignored with a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MermaidGraph {
    pub text: String,
    pub warnings: Vec<String>,
}

/// Writes the channel graph of `config`. Errors are opm's texts (a bundle
/// without exactly one valid `olm.package` property, an unknown minimum
/// edge).
pub fn write_mermaid(config: &DeclarativeConfig, options: &MermaidOptions) -> Result<String, String> {
    write_mermaid_with_warnings(config, options).map(|graph| graph.text)
}

/// [`write_mermaid`], also returning the warnings for the caller to print.
pub fn write_mermaid_with_warnings(config: &DeclarativeConfig, options: &MermaidOptions) -> Result<MermaidGraph, String> {
    let minimum_edge = options.minimum_edge.as_deref().unwrap_or_default();
    let package_filter = options.package_name.as_deref().unwrap_or_default();

    let mut channels: Vec<&Channel> = config.channels.iter().collect();
    go_sort_slice(&mut channels, |left, right| left.name < right.name);

    let versions = bundle_versions(config)?;
    let zero = zero_version();
    let version_of = |name: &str| versions.get(name).unwrap_or(&zero);
    let minimum_version = if minimum_edge.is_empty() {
        zero.clone()
    } else {
        versions
            .get(minimum_edge)
            .cloned()
            .ok_or_else(|| format!("unknown minimum edge name: {}", go_quote(minimum_edge)))?
    };
    let minimum_edge_package = if minimum_edge.is_empty() {
        ""
    } else {
        channels
            .iter()
            .find(|channel| channel.entries.iter().flatten().any(|entry| entry.name == minimum_edge))
            .map_or("", |channel| channel.package.as_str())
    };

    let mut deprecated_packages = BTreeSet::new();
    let mut deprecated_channels = BTreeSet::new();
    let mut deprecated_bundles = BTreeSet::new();
    for deprecation in &config.deprecations {
        for entry in &deprecation.entries {
            match entry.reference.schema.as_str() {
                fbc::SCHEMA_PACKAGE => {
                    deprecated_packages.insert(deprecation.package.as_str());
                }
                fbc::SCHEMA_CHANNEL => {
                    deprecated_channels.insert(entry.reference.name.as_str());
                }
                fbc::SCHEMA_BUNDLE => {
                    deprecated_bundles.insert(entry.reference.name.as_str());
                }
                _ => {}
            }
        }
    }

    let filter = Filter {
        minimum_edge,
        package_filter,
        minimum_edge_package,
        minimum_version: &minimum_version,
        versions: &versions,
    };
    let mut packages: BTreeMap<&str, String> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut deprecated_package = "";
    let mut deprecated_channel_ids: Vec<String> = Vec::new();
    let mut decorated: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut link_id = 0usize;
    let mut skipped_link_ids: Vec<String> = Vec::new();

    for channel in channels {
        let Some(filtered) = filter.channel(channel) else {
            continue;
        };
        let out = packages.entry(channel.package.as_str()).or_default();
        let channel_id = format!("{}-{}", channel.package, channel.name);
        let _ = writeln!(out, "    %% channel {}", go_quote(&channel.name));
        let _ = writeln!(out, "    subgraph {channel_id}[{}]", go_quote(&channel.name));
        if deprecated_packages.contains(channel.package.as_str()) {
            deprecated_package = channel.package.as_str();
        }
        if deprecated_channels.contains(channel.name.as_str()) {
            deprecated_channel_ids.push(channel_id.clone());
        }

        let mut sorted_entries: Vec<&ChannelEntry> = filtered.iter().collect();
        go_sort_slice(&mut sorted_entries, |left, right| {
            version_of(&left.name).compare(version_of(&right.name)) == std::cmp::Ordering::Greater
        });

        let mut skipped: BTreeSet<&str> = BTreeSet::new();
        for entry in sorted_entries {
            let entry_id = format!("{channel_id}-{}", entry.name);
            let entry_node = format!("{entry_id}[{}]", go_quote(&entry.name));
            let _ = writeln!(out, "      {entry_node}");
            let decoration = match (
                deprecated_bundles.contains(entry.name.as_str()),
                skipped.contains(entry.name.as_str()),
            ) {
                (true, true) => Some("deprecatedskipped"),
                (true, false) => Some("deprecated"),
                (false, true) => Some("skipped"),
                (false, false) => None,
            };
            if let Some(class) = decoration {
                decorated.entry(class).or_default().push(entry_id.clone());
            }

            for skip in &entry.skips {
                let _ = writeln!(out, "      {channel_id}-{skip}[{}]-- skip --> {entry_node}", go_quote(skip));
                if options.draw_v0_semantics && !skipped.insert(skip.as_str()) {
                    skipped_link_ids.push(link_id.to_string());
                }
                link_id += 1;
            }
            if !entry.skip_range.is_empty() {
                match Range::parse(&entry.skip_range) {
                    Ok(range) => {
                        for candidate in &filtered {
                            if range.contains(version_of(&candidate.name)) {
                                let _ = writeln!(
                                    out,
                                    "      {channel_id}-{}[{}]-- \"skipRange({})\" --> {entry_node}",
                                    candidate.name,
                                    go_quote(&candidate.name),
                                    entry.skip_range
                                );
                                if options.draw_v0_semantics && skipped.contains(entry.name.as_str()) {
                                    skipped_link_ids.push(link_id.to_string());
                                }
                                link_id += 1;
                            }
                        }
                    }
                    Err(error) => warnings.push(format!(
                        "warning: ignoring invalid SkipRange for package/edge {}/{}: {error}",
                        go_quote(&channel.package),
                        go_quote(&entry.name)
                    )),
                }
            }
            // opm draws replaces last, as skips decide whether it is live.
            if !entry.replaces.is_empty() {
                let _ = writeln!(
                    out,
                    "      {channel_id}-{}[{}]-- replace --> {entry_node}",
                    entry.replaces,
                    go_quote(&entry.replaces)
                );
                if options.draw_v0_semantics && skipped.contains(entry.name.as_str()) {
                    skipped_link_ids.push(link_id.to_string());
                }
                link_id += 1;
            }
        }
        out.push_str("    end\n");
    }

    let mut text = String::from("graph LR\n");
    text.push_str("  classDef deprecated fill:#E8960F\n");
    text.push_str("  classDef skipped stroke:#FF0000,stroke-width:4px\n");
    text.push_str("  classDef deprecatedskipped fill:#E8960F,stroke:#FF0000,stroke-width:4px\n");
    for (package, body) in &packages {
        let _ = writeln!(text, "  %% package {}", go_quote(package));
        let _ = writeln!(text, "  subgraph {}", go_quote(package));
        text.push_str(body);
        text.push_str("  end\n");
    }
    if !deprecated_package.is_empty() {
        let _ = writeln!(text, "style {deprecated_package} fill:#989695");
    }
    for channel_id in &deprecated_channel_ids {
        let _ = writeln!(text, "style {channel_id} fill:#DCD0FF");
    }
    for (class, ids) in &mut decorated {
        ids.sort();
        let _ = writeln!(text, "class {} {class}", ids.join(","));
    }
    if !skipped_link_ids.is_empty() {
        let _ = writeln!(
            text,
            "linkStyle {} stroke:#FF0000,stroke-width:3px,stroke-dasharray:5;",
            skipped_link_ids.join(",")
        );
    }
    Ok(MermaidGraph { text, warnings })
}

fn zero_version() -> Version {
    Version {
        major: 0,
        minor: 0,
        patch: 0,
        pre: Vec::new(),
        build: Vec::new(),
    }
}

/// `getBundleVersions`: each bundle name's version (the first bundle of a
/// name wins).
fn bundle_versions(config: &DeclarativeConfig) -> Result<BTreeMap<String, Version>, String> {
    let mut versions = BTreeMap::new();
    for bundle in &config.bundles {
        if versions.contains_key(&bundle.name) {
            continue;
        }
        let (_, version) = bundle_package(bundle)?;
        versions.insert(bundle.name.clone(), version);
    }
    Ok(versions)
}

/// `filterChannel`'s inputs.
struct Filter<'a> {
    minimum_edge: &'a str,
    package_filter: &'a str,
    minimum_edge_package: &'a str,
    minimum_version: &'a Version,
    versions: &'a BTreeMap<String, Version>,
}

impl Filter<'_> {
    fn at_or_above_floor(&self, name: &str) -> bool {
        let zero = zero_version();
        let version = self.versions.get(name).unwrap_or(&zero);
        version.compare(self.minimum_version) != std::cmp::Ordering::Less
    }

    /// The entries to draw for a channel, or `None` to leave the channel
    /// out. Without filters every channel is drawn, even an empty one.
    fn channel(&self, channel: &Channel) -> Option<Vec<ChannelEntry>> {
        let entries = channel.entries.as_deref().unwrap_or_default();
        if self.minimum_edge.is_empty() && self.package_filter.is_empty() {
            return Some(entries.to_vec());
        }
        if !self.package_filter.is_empty() && channel.package != self.package_filter {
            return None;
        }
        if !self.minimum_edge_package.is_empty() && channel.package != self.minimum_edge_package {
            return None;
        }
        let mut out = Vec::new();
        for entry in entries {
            let has_edges = !entry.replaces.is_empty() || !entry.skips.is_empty() || !entry.skip_range.is_empty();
            if self.minimum_edge.is_empty() {
                // Every entry is kept whole: it either has edges or never had any.
                out.push(entry.clone());
                continue;
            }
            let mut filtered = ChannelEntry::named(&entry.name);
            if entry.name == self.minimum_edge {
                // The floor itself keeps no edges: they all point below it.
                out.push(filtered);
                continue;
            }
            if !entry.replaces.is_empty() && self.at_or_above_floor(&entry.replaces) {
                filtered.replaces = entry.replaces.clone();
            }
            filtered.skips = entry.skips.iter().filter(|skip| self.at_or_above_floor(skip)).cloned().collect();
            if !entry.skip_range.is_empty()
                && let Ok(range) = Range::parse(&entry.skip_range)
                && range.contains(self.minimum_version)
            {
                filtered.skip_range = entry.skip_range.clone();
            }
            let kept_edges = !filtered.replaces.is_empty() || !filtered.skips.is_empty() || !filtered.skip_range.is_empty();
            if kept_edges || (!has_edges && self.at_or_above_floor(&entry.name)) {
                out.push(filtered);
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    const WRITE_FORMAT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance/write-format");

    /// Runs one `graph` case: loads `input/catalog`, applies the flags in
    /// `args`, and compares with `expected/stdout.mmd`.
    fn run_case(case_dir: &Path) -> Result<(), String> {
        let case_text = fs_err::read_to_string(case_dir.join("case.toml")).map_err(|error| error.to_string())?;
        let case: toml::Table = case_text.parse().map_err(|error: toml::de::Error| error.to_string())?;
        let args: Vec<&str> = case["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(toml::Value::as_str)
            .collect();
        let ["graph", catalog, rest @ ..] = args.as_slice() else {
            return Err(format!("unexpected args {args:?}"));
        };
        let mut options = MermaidOptions::default();
        let mut flags = rest.iter();
        while let Some(flag) = flags.next() {
            match *flag {
                "--format" => assert_eq!(flags.next(), Some(&"mermaid")),
                "--draw-v0-semantics" => options.draw_v0_semantics = true,
                "--minimum-edge" => options.minimum_edge = flags.next().map(|value| value.to_string()),
                "--package-name" | "-p" => options.package_name = flags.next().map(|value| value.to_string()),
                other => return Err(format!("unknown flag {other}")),
            }
        }
        let config = fbc::load::load_dir(&case_dir.join(catalog)).map_err(|error| format!("load: {error}"))?;
        let actual = write_mermaid(&config, &options)?;
        let expected = fs_err::read_to_string(case_dir.join("expected/stdout.mmd")).map_err(|error| error.to_string())?;
        if actual != expected {
            return Err(format!("output differs\n--- expected\n{expected}\n--- actual\n{actual}"));
        }
        Ok(())
    }

    fn mermaid_cases() -> Vec<PathBuf> {
        let mut cases: Vec<PathBuf> = fs_err::read_dir(WRITE_FORMAT)
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default();
        cases.retain(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("mermaid-")));
        cases.sort();
        cases
    }

    #[test]
    fn conformance_mermaid_cases() {
        let cases = mermaid_cases();
        assert!(cases.len() >= 6, "expected the mermaid conformance cases under {WRITE_FORMAT}");
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|case| {
                let outcome = std::panic::catch_unwind(|| run_case(case)).unwrap_or_else(|_| Err("panicked".to_string()));
                outcome.err().map(|error| format!("{}: {error}", case.display()))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} mermaid cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n\n")
        );
    }
}
