//! An explicit channel policy checked against the package's bundles: the
//! entries of each `[[package.channel]]` (bundles that do not exist,
//! `replaces` of unknown bundles, invalid skipRanges, opm's head, cycle and
//! stranded rules), and the bundles no channel lists. Every diagnostic
//! points into `catalog.toml`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::{Config, ExplicitChannel, PackageConfig};
use crate::diag::{Diagnostic, Location};
use crate::graph;
use crate::load::LoadedBundle;

/// Bundles of an explicit-policy package that no channel lists. opm rejects
/// such a catalog (`bundle "x" not found in any channel entries`); say it
/// once for the package, naming every one and where each came from.
pub(crate) fn check_unlisted_bundles(
    config: &Config,
    package: &PackageConfig,
    channels: &[ExplicitChannel],
    bundles: &[LoadedBundle],
) -> Vec<Diagnostic> {
    let bundles = by_name(bundles);
    let listed: BTreeSet<&str> = channels
        .iter()
        .flat_map(|channel| channel.entries.iter().map(|entry| entry.name.value.as_str()))
        .collect();
    let unlisted: Vec<&LoadedBundle> = bundles
        .iter()
        .filter(|(name, _)| !listed.contains(*name))
        .map(|(_, bundle)| *bundle)
        .collect();
    if unlisted.is_empty() {
        return Vec::new();
    }
    let names: Vec<String> = unlisted.iter().map(|bundle| format!("`{}`", bundle.bundle.name)).collect();
    let message = if unlisted.len() == 1 {
        format!("bundle {} of package `{}` is in no channel", names[0], package.name.value)
    } else {
        format!(
            "{} bundles of package `{}` are in no channel: {}",
            unlisted.len(),
            package.name.value,
            names.join(", ")
        )
    };
    let excluded: Vec<String> = unlisted
        .iter()
        .map(|bundle| format!("\"{}\"", exclude_pattern(&bundle.dir, &config.root)))
        .collect();
    let (pronoun, directories) = if unlisted.len() == 1 {
        ("it", "its directory")
    } else {
        ("them", "their directories")
    };
    vec![
        Diagnostic::error("graph", message)
            .at(Location::span(&config.path, package.name.span.clone()))
            .help(format!(
                "add {pronoun} to the `entries` of a `[[package.channel]]`, or leave {directories} out with `exclude = [{}]`",
                excluded.join(", ")
            ))
            .note("with `channel-policy = \"explicit\"` every bundle must be an entry of a channel; opm rejects a bundle in none"),
    ]
}

/// A bundle directory as an `exclude` pattern: relative to the directory of
/// `catalog.toml` when under it.
pub(crate) fn exclude_pattern(dir: &Path, root: &Path) -> String {
    let relative = dir.strip_prefix(root).unwrap_or(dir);
    relative.display().to_string()
}

/// Checks explicit channels against the package's bundles and opm's graph
/// rules, pointing into `catalog.toml`.
pub(crate) fn check_explicit_channels(
    config: &Config,
    package: &str,
    channels: &[ExplicitChannel],
    bundles: &[LoadedBundle],
) -> Vec<Diagnostic> {
    let bundles = by_name(bundles);
    let mut diagnostics = Vec::new();
    let at = |span: &std::ops::Range<usize>| Location::span(&config.path, span.clone());
    for channel in channels {
        // Suggest only bundles this channel does not list already.
        let listed: BTreeSet<&str> = channel.entries.iter().map(|entry| entry.name.value.as_str()).collect();
        let bundle_names: Vec<&str> = bundles.keys().copied().filter(|name| !listed.contains(name)).collect();
        let all_names: Vec<&str> = bundles.keys().copied().collect();
        // A `replaces` one typo away from a bundle here: the likely cause of
        // this channel's head and stranded problems.
        let mut typo_idx: Option<usize> = None;
        for entry in &channel.entries {
            if !bundles.contains_key(entry.name.value.as_str()) {
                let mut diagnostic = Diagnostic::error(
                    "graph",
                    format!(
                        "channel `{}` lists `{}`, which is not a bundle of package `{package}`",
                        channel.name.value, entry.name.value
                    ),
                )
                .at(at(&entry.name.span));
                if let Some(best) = crate::config::closest(&entry.name.value, &bundle_names) {
                    diagnostic = diagnostic.help(format!("did you mean `{best}`?"));
                }
                diagnostics.push(diagnostic);
            }
            if let Some(replaces) = &entry.replaces
                && !bundles.contains_key(replaces.value.as_str())
            {
                // opm accepts a tail replacing a bundle that is not in the
                // catalog (a version subset, an unpublished predecessor), so
                // this is a warning. When the name is one edit away from a
                // bundle that is here, a typo is likely: say which.
                let mut diagnostic = Diagnostic::warning(
                    "graph",
                    format!(
                        "`{}` replaces `{}`, which is not a bundle of package `{package}`",
                        entry.name.value, replaces.value
                    ),
                )
                .at(at(&replaces.span))
                .note("fine for the oldest entry of a channel; any older entry it cuts off is reported as stranded");
                if let Some(best) = crate::config::closest(&replaces.value, &all_names) {
                    diagnostic = diagnostic.help(format!("did you mean `{best}`?"));
                    typo_idx = typo_idx.or(Some(diagnostics.len()));
                }
                diagnostics.push(diagnostic);
            }
            if let Some(range) = &entry.skip_range
                && let Err(reason) = crate::semver::Range::parse(&range.value)
            {
                diagnostics.push(
                    Diagnostic::error("graph", format!("invalid skipRange `{}`: {reason}", range.value))
                        .at(at(&range.span))
                        .help("write a range such as `>=1.0.0 <1.2.0` (no `v` prefix)"),
                );
            }
        }
        let fbc_channel = &graph::explicit_channels(package, std::slice::from_ref(channel))[0];
        let problems = graph::check_channel(fbc_channel);
        if let Some(typo) = typo_idx.and_then(|idx| diagnostics.get_mut(idx))
            && !problems.is_empty()
        {
            // The typo breaks the channel: it is the error, and what it
            // breaks is said under it, not before it.
            typo.severity = crate::diag::Severity::Error;
            typo.notes = problems.iter().map(|problem| format!("so {}", problem.message)).collect();
            typo.n_caused += problems.len();
            continue;
        }
        for problem in problems {
            let mut diagnostic = Diagnostic::error("graph", problem.message).at(at(&channel.name.span));
            if let Some(help) = problem.help {
                diagnostic = diagnostic.help(help);
            }
            diagnostics.push(diagnostic);
        }
    }
    diagnostics
}

/// The bundles by name. Names are unique here: [`super::check_package_bundles`]
/// refuses a package with two bundles of one name before channels are checked.
fn by_name(bundles: &[LoadedBundle]) -> BTreeMap<&str, &LoadedBundle> {
    bundles.iter().map(|bundle| (bundle.bundle.name.as_str(), bundle)).collect()
}
