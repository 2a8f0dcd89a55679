//! One package of one target: catbuild's located checks, the channel
//! policy, the default channel and icon, and the bundles' final blobs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::{ChannelPolicy, Config, MigrateLevel, PackageConfig, Target, UnreachableBundles};
use crate::diag::{Diagnostic, Location};
use crate::encoding::json::Value;
use crate::fbc::{self, DeclarativeConfig, Icon, Package, RelatedImage, SCHEMA_PACKAGE};
use crate::graph::{self, BundleInfo, GraphProblem};
use crate::load::{CsvField, LoadedBundle};

use super::plan::InputFile;

/// Links one package's bundles into channels and adds its blobs to
/// `catalog`. Problems of the bundles themselves go to `diagnostics`; the
/// problems of the package's channels are returned, so that the caller can
/// fold them into the error of a bundle that failed to load (without it the
/// graph is incomplete, and its problems follow from that one).
#[allow(
    clippy::too_many_arguments,
    reason = "the inputs of one package action, each from a different place"
)]
pub(super) fn assemble_package(
    config: &Config,
    package: &PackageConfig,
    icon_file: Option<&InputFile>,
    bundles: &mut [LoadedBundle],
    last_use: bool,
    target: &Target,
    catalog: &mut DeclarativeConfig,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    let mut graph_diagnostics = Vec::new();
    let name = &package.name.value;
    let mut infos = Vec::new();
    let mut seen: BTreeMap<&str, &LoadedBundle> = BTreeMap::new();
    let mut package_ok = true;
    for bundle in bundles.iter() {
        if &bundle.package != name {
            diagnostics.push(
                Diagnostic::error("bundle", format!("bundle `{}` belongs to package `{}`, not `{name}`", bundle.bundle.name, bundle.package))
                    .at(Location::file(&bundle.annotations_path()))
                    .help(format!(
                        "fix `operators.operatorframework.io.bundle.package.v1` in its annotations, or list the bundle under `[[package]] name = \"{}\"`",
                        bundle.package
                    )),
            );
            package_ok = false;
            continue;
        }
        if let Some(first) = seen.insert(bundle.bundle.name.as_str(), bundle) {
            diagnostics.push(
                Diagnostic::error(
                    "bundle",
                    format!("two bundles of package `{name}` are named `{}`", bundle.bundle.name),
                )
                .at(Location::file(&bundle.csv_path))
                .note(format!(
                    "the other one is `{}`",
                    crate::diag::display_path(&first.csv_path, &config.root)
                ))
                .help("each CSV needs its own `metadata.name`; remove the duplicate directory"),
            );
            package_ok = false;
            continue;
        }
        match crate::semver::Version::parse(&bundle.version) {
            Ok(version) => infos.push(BundleInfo {
                name: bundle.bundle.name.clone(),
                version,
                channels: bundle.channels.clone(),
                default_channel: bundle.default_channel.clone(),
                replaces: bundle.replaces.clone(),
                skips: bundle.skips.clone(),
                skip_range: bundle.skip_range.clone(),
            }),
            Err(reason) => {
                diagnostics.push(
                    Diagnostic::error(
                        "bundle",
                        format!("bundle `{}` has invalid version `{}`: {reason}", bundle.bundle.name, bundle.version),
                    )
                    .at(csv_field_location(bundle, "version"))
                    .help("`spec.version` must be a semantic version such as `1.2.3`; quote it in YAML so `1.10` stays a string"),
                );
                package_ok = false;
            }
        }
        if !bundle.skip_range.is_empty()
            && let Err(reason) = crate::semver::Range::parse(&bundle.skip_range)
        {
            diagnostics.push(
                Diagnostic::error(
                    "graph",
                    format!(
                        "bundle `{}` has invalid skipRange `{}`: {reason}",
                        bundle.bundle.name, bundle.skip_range
                    ),
                )
                .at(csv_field_location(bundle, "olm.skipRange"))
                .help("write a range such as `>=1.0.0 <1.2.0` (no `v` prefix)"),
            );
            package_ok = false;
        }
    }
    if bundles.is_empty() {
        // Planning or loading already said why.
        return graph_diagnostics;
    }
    if !package_ok {
        return graph_diagnostics;
    }
    let package_graph = match &package.channel_policy {
        ChannelPolicy::Replaces => graph::replaces_channels(name, &infos),
        ChannelPolicy::Explicit(channels) => {
            check_explicit(config, name, channels, &seen, &mut graph_diagnostics);
            check_unlisted(config, package, channels, &seen, &mut graph_diagnostics);
            graph::PackageGraph {
                channels: graph::explicit_channels(name, channels),
                ..graph::PackageGraph::default()
            }
        }
        ChannelPolicy::SemverMode => graph::add_modes::add_mode_channels(name, &infos, graph::add_modes::AddMode::Semver),
        ChannelPolicy::SemverSkipPatchMode => graph::add_modes::add_mode_channels(name, &infos, graph::add_modes::AddMode::SemverSkipPatch),
        ChannelPolicy::SemverTemplate(policy) => graph::semver_channels(name, &infos, policy),
    };
    let by_name: BTreeMap<&str, &LoadedBundle> = bundles.iter().map(|bundle| (bundle.bundle.name.as_str(), bundle)).collect();
    for problem in &package_graph.problems {
        graph_diagnostics.push(graph_diagnostic(problem, &by_name, config));
    }
    let dropped_bundles = unreachable_bundles(package, &package_graph, &by_name, config, &mut graph_diagnostics);
    let channel_names: Vec<&str> = package_graph.channels.iter().map(|channel| channel.name.as_str()).collect();
    let default_channel = match &package.default_channel {
        Some(default) => {
            // A channel that exists but could not be linked has its own error.
            let unlinked = package_graph.unlinked_channels.contains(&default.value);
            if !unlinked && !channel_names.contains(&default.value.as_str()) {
                let mut diagnostic = Diagnostic::error(
                    "graph",
                    format!("default channel `{}` of package `{name}` has no bundles", default.value),
                )
                .at(Location::span(&config.path, default.span.clone()));
                diagnostic = match crate::config::closest(&default.value, &channel_names) {
                    Some(best) => diagnostic.help(format!("did you mean `{best}`?")),
                    None => diagnostic.help(format!("channels of this package: {}", channel_names.join(", "))),
                };
                graph_diagnostics.push(diagnostic);
            }
            default.value.clone()
        }
        None => match package_graph.default_channel.clone() {
            Some(default) => default,
            None => {
                graph_diagnostics.push(
                    Diagnostic::error("graph", format!("package `{name}` has no default channel"))
                        .at(Location::span(&config.path, package.name.span.clone()))
                        .help(format!(
                            "set `default-channel` in its `[[package]]` table (channels: {}), or the `...channel.default.v1` annotation of its newest bundle",
                            channel_names.join(", ")
                        )),
                );
                String::new()
            }
        },
    };
    let head_csv = package_graph
        .channels
        .iter()
        .find(|channel| channel.name == default_channel)
        .and_then(head_of)
        .and_then(|head| by_name.get(head.as_str()))
        .map(|bundle| &bundle.csv);
    let icon = package_icon(icon_file, head_csv);
    catalog.packages.push(Package {
        schema: SCHEMA_PACKAGE.to_string(),
        name: name.clone(),
        default_channel,
        icon,
        description: package.description.clone().unwrap_or_default(),
        properties: Vec::new(),
    });
    catalog.channels.extend(package_graph.channels);
    for bundle in bundles.iter_mut() {
        if dropped_bundles.contains(&bundle.bundle.name) {
            continue;
        }
        let image = package.bundle_image.as_ref().map(|template| {
            crate::load::bundle_image(&template.value, &target.vars, bundle).map_err(|error| (error.to_string(), template.span.clone()))
        });
        let mut rendered = if last_use {
            std::mem::take(&mut bundle.bundle)
        } else {
            bundle.bundle.clone()
        };
        match image {
            Some(Ok(image)) => set_bundle_image(&mut rendered, &image),
            Some(Err((message, span))) => diagnostics.push(Diagnostic::error("config", message).at(Location::span(&config.path, span))),
            None => {}
        }
        if target.migrate_level == MigrateLevel::BundleObjectToCsvMetadata
            && let Err(error) = crate::load::migrate_bundle_to_csv_metadata(&mut rendered)
        {
            diagnostics.push(
                Diagnostic::error(
                    "bundle",
                    format!("cannot migrate bundle `{}` to olm.csv.metadata: {error}", rendered.name),
                )
                .at(Location::file(&bundle.csv_path)),
            );
        }
        catalog.bundles.push(rendered);
    }
    graph_diagnostics
}

/// Bundles of an explicit-policy package that no channel lists. opm rejects
/// such a catalog (`bundle "x" not found in any channel entries`); say it
/// once for the package, naming every one and where each came from.
fn check_unlisted(
    config: &Config,
    package: &PackageConfig,
    channels: &[crate::config::ExplicitChannel],
    bundles: &BTreeMap<&str, &LoadedBundle>,
    diagnostics: &mut Vec<Diagnostic>,
) {
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
        return;
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
    diagnostics.push(
        Diagnostic::error("graph", message)
            .at(Location::span(&config.path, package.name.span.clone()))
            .help(format!(
                "add {pronoun} to the `entries` of a `[[package.channel]]`, or leave {directories} out with `exclude = [{}]`",
                excluded.join(", ")
            ))
            .note("with `channel-policy = \"explicit\"` every bundle must be an entry of a channel; opm rejects a bundle in none"),
    );
}

/// A bundle directory as an `exclude` pattern: relative to the directory of
/// `catalog.toml` when under it.
fn exclude_pattern(dir: &Path, root: &Path) -> String {
    let relative = dir.strip_prefix(root).unwrap_or(dir);
    relative.display().to_string()
}

/// Reports the bundles the replaces policy could not reach: errors, or
/// with `unreachable = "drop"` one warning each, as opm's replaces mode
/// drops them. Returns the bundles then left in no channel at all, which
/// opm's index does not publish either.
fn unreachable_bundles(
    package: &PackageConfig,
    package_graph: &graph::PackageGraph,
    by_name: &BTreeMap<&str, &LoadedBundle>,
    config: &Config,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeSet<String> {
    let in_a_channel: BTreeSet<&str> = package_graph
        .channels
        .iter()
        .flat_map(|channel| channel.entries.iter().flatten())
        .map(|entry| entry.name.as_str())
        .collect();
    let mut dropped_bundles = BTreeSet::new();
    let mut reported_edges = BTreeSet::new();
    for unreachable in &package_graph.unreachable {
        if package.unreachable_bundles == UnreachableBundles::Error {
            // A broken edge is reported once, as the cause of every bundle
            // it cut off; other unreachable bundles each on their own.
            let problem = match unreachable.broken_edge {
                Some(idx) if !reported_edges.insert(idx) => continue,
                Some(idx) => package_graph.broken_edges[idx].clone(),
                None => unreachable.problem(),
            };
            diagnostics.push(graph_diagnostic(&problem, by_name, config));
            continue;
        }
        let mut diagnostic = Diagnostic::warning(
            "graph",
            format!(
                "dropped bundle `{}` from channel `{}`: the channel head `{}` does not reach it through `replaces` or `skips`",
                unreachable.bundle, unreachable.channel, unreachable.head
            ),
        );
        if let Some(bundle) = by_name.get(unreachable.bundle.as_str()) {
            diagnostic = diagnostic.at(Location::file(&bundle.annotations_path()));
        }
        if !in_a_channel.contains(unreachable.bundle.as_str()) && dropped_bundles.insert(unreachable.bundle.clone()) {
            diagnostic = diagnostic.note(format!(
                "`{}` is in no other channel, so the catalog leaves it out",
                unreachable.bundle
            ));
        }
        diagnostics.push(diagnostic);
    }
    dropped_bundles
}

/// Checks explicit channels against the package's bundles and opm's graph
/// rules, pointing into `catalog.toml`.
fn check_explicit(
    config: &Config,
    package: &str,
    channels: &[crate::config::ExplicitChannel],
    bundles: &BTreeMap<&str, &LoadedBundle>,
    diagnostics: &mut Vec<Diagnostic>,
) {
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
}

/// The entry no other entry replaces or skips (opm's `Channel.Head`).
fn head_of(channel: &fbc::Channel) -> Option<String> {
    match crate::model::upgrade_edges::heads(channel.entries.as_deref()?).as_slice() {
        [head] => Some(head.name.clone()),
        _ => None,
    }
}

/// Sets a bundle's image and lists it in relatedImages, as rendering the
/// bundle image would (spec B.6).
fn set_bundle_image(bundle: &mut fbc::Bundle, image: &str) {
    bundle.image = image.to_string();
    if !image.is_empty() && !bundle.related_images.iter().any(|related| related.image == image) {
        bundle.related_images.push(RelatedImage {
            name: String::new(),
            image: image.to_string(),
        });
        bundle.related_images.sort_by(|left, right| left.image.cmp(&right.image));
    }
}

/// The package icon: the configured file (read when planning), else the
/// default channel head's CSV `spec.icon[0]` (what opm's semver template
/// and index migration do).
fn package_icon(icon_file: Option<&InputFile>, head_csv: Option<&Value>) -> Option<Icon> {
    if let Some(file) = icon_file {
        return Some(Icon {
            data: file.bytes.clone(),
            media_type: media_type_of(&file.path),
        });
    }
    let icon = head_csv?.pointer(&["spec", "icon"])?.as_array()?.first()?;
    let data = icon.get("base64data")?.as_str()?;
    let bytes = crate::go::base64::decode(data).ok()?;
    Some(Icon {
        data: bytes,
        media_type: icon.get("mediatype").and_then(Value::as_str).unwrap_or_default().to_string(),
    })
}

fn media_type_of(path: &Path) -> String {
    match path.extension().and_then(|extension| extension.to_str()).unwrap_or_default() {
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        _ => "application/octet-stream",
    }
    .to_string()
}

fn graph_diagnostic(problem: &GraphProblem, by_name: &BTreeMap<&str, &LoadedBundle>, config: &Config) -> Diagnostic {
    let mut diagnostic = Diagnostic::error("graph", problem.message.clone());
    let bundle = problem.bundle.as_deref().and_then(|name| by_name.get(name));
    diagnostic = match bundle {
        Some(bundle) if problem.field == "channels" => diagnostic.at(Location::file(&bundle.annotations_path())),
        Some(bundle) => diagnostic.at(csv_field_location(bundle, problem.field)),
        None => diagnostic.at(Location::file(&config.path)),
    };
    if let Some(help) = &problem.help {
        diagnostic = diagnostic.help(help.clone());
    }
    diagnostic.notes.extend(problem.notes.iter().cloned());
    diagnostic.n_caused = problem.n_caused;
    diagnostic
}

/// The line of a CSV field's key, from the node positions the YAML decode
/// kept; the file alone when the CSV does not have the field.
fn csv_field_location(bundle: &LoadedBundle, field: &str) -> Location {
    let field = match field {
        "name" => CsvField::Name,
        "version" => CsvField::Version,
        "replaces" => CsvField::Replaces,
        "skips" => CsvField::Skips,
        "olm.skipRange" => CsvField::SkipRange,
        _ => return Location::file(&bundle.csv_path),
    };
    let location = bundle.csv_field_location(field);
    match location.line {
        Some(line) => Location::line(&location.file, line),
        None => Location::file(&location.file),
    }
}
