//! One package of one target: links the bundles by the channel policy
//! (after [`crate::validate`]'s checks), and adds the default channel, the
//! icon and the bundles' final blobs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::{ChannelPolicy, Config, MigrateLevel, PackageConfig, Target, UnreachableBundles};
use crate::diag::{Diagnostic, Location, Severity};
use crate::encoding::json::Value;
use crate::fbc::{self, DeclarativeConfig, Icon, Package, RelatedImage, SCHEMA_PACKAGE};
use crate::graph::{self, BundleInfo, GraphProblem};
use crate::load::LoadedBundle;
use crate::validate::csv_field_location;

use super::images::{BundleImages, TargetBundleImage};
use super::plan::InputFile;

/// The images side of one package: the bundle images built at load time
/// (when images are built), how the catalog names them, and the images
/// the target's layout collects.
pub(super) struct PackageImages<'a> {
    pub built: Option<&'a BundleImages>,
    /// `bundle-image-refs = "digest"`.
    pub by_digest: bool,
    pub target: Vec<TargetBundleImage>,
}

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
    images: &mut PackageImages,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    // An OpenShift version target holds the bundles its version admits:
    // they are moved to the front (keeping their order), linked as the
    // whole package, and put back for the next target.
    let Some(held) = super::versions::held_bundles(config, package, target, bundles, diagnostics) else {
        return assemble(
            config,
            package,
            icon_file,
            bundles,
            last_use,
            target,
            catalog,
            images,
            diagnostics,
            &BTreeSet::new(),
        );
    };
    let left_out: Vec<(&LoadedBundle, crate::openshift::matrix::Rule)> = bundles
        .iter()
        .zip(&held)
        .filter(|(_, held)| !**held)
        .map(|(bundle, _)| (bundle, super::versions::rule_of(config, package, bundle, None)))
        .collect();
    let note = super::versions::left_out_note(target, &left_out);
    let left_out_names: BTreeSet<String> = left_out.iter().map(|(bundle, _)| bundle.bundle.name.clone()).collect();
    let order: Vec<usize> = (0..bundles.len())
        .filter(|idx| held[*idx])
        .chain((0..bundles.len()).filter(|idx| !held[*idx]))
        .collect();
    let n_held = held.iter().filter(|held| **held).count();
    permute(bundles, &order);
    let mut graph_diagnostics = assemble(
        config,
        package,
        icon_file,
        &mut bundles[..n_held],
        last_use,
        target,
        catalog,
        images,
        diagnostics,
        &left_out_names,
    );
    let mut inverse = vec![0; order.len()];
    for (position, original) in order.iter().enumerate() {
        inverse[*original] = position;
    }
    permute(bundles, &inverse);
    if let Some(note) = note {
        for diagnostic in graph_diagnostics.iter_mut().filter(|diagnostic| diagnostic.is_error()) {
            diagnostic.notes.push(note.clone());
        }
    }
    graph_diagnostics
}

/// Reorders `items` so that `items[i]` is the old `items[order[i]]`, by
/// swaps (bundles are large and have no default to move out for).
fn permute<T>(items: &mut [T], order: &[usize]) {
    // where_is[k]: where the item first at k is now; who_at[j]: the reverse.
    let mut where_is: Vec<usize> = (0..items.len()).collect();
    let mut who_at: Vec<usize> = (0..items.len()).collect();
    for (position, original) in order.iter().enumerate() {
        let from = where_is[*original];
        items.swap(position, from);
        let displaced = who_at[position];
        who_at[position] = *original;
        who_at[from] = displaced;
        where_is[*original] = position;
        where_is[displaced] = from;
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the inputs of one package action, each from a different place"
)]
fn assemble(
    config: &Config,
    package: &PackageConfig,
    icon_file: Option<&InputFile>,
    bundles: &mut [LoadedBundle],
    last_use: bool,
    target: &Target,
    catalog: &mut DeclarativeConfig,
    images: &mut PackageImages,
    diagnostics: &mut Vec<Diagnostic>,
    left_out: &BTreeSet<String>,
) -> Vec<Diagnostic> {
    let mut graph_diagnostics = Vec::new();
    let name = &package.name.value;
    let bundle_diagnostics = crate::validate::check_package_bundles(config, name, bundles);
    let package_ok = !bundle_diagnostics.iter().any(|diagnostic| diagnostic.severity == Severity::Error);
    diagnostics.extend(bundle_diagnostics);
    if bundles.is_empty() {
        // Planning or loading already said why.
        return graph_diagnostics;
    }
    if !package_ok {
        return graph_diagnostics;
    }
    // Every version parses: the checks above refused the package otherwise.
    let infos: Vec<BundleInfo> = bundles
        .iter()
        .filter_map(|bundle| {
            Some(BundleInfo {
                name: bundle.bundle.name.clone(),
                version: crate::semver::Version::parse(&bundle.version).ok()?,
                channels: bundle.channels.clone(),
                default_channel: bundle.default_channel.clone(),
                replaces: bundle.replaces.clone(),
                skips: bundle.skips.clone(),
                skip_range: bundle.skip_range.clone(),
            })
        })
        .collect();
    // A channel marked `default = true` for this target, over `default-channel`.
    let mut channel_default: Option<crate::config::Sourced<String>> = None;
    let package_graph = match &package.channel_policy {
        ChannelPolicy::Replaces => graph::replaces_channels(name, &infos),
        ChannelPolicy::Explicit(channels) => {
            // A version target gets the channels meant for its version.
            let channels = &super::versions::target_channels(channels, target);
            channel_default = channels
                .iter()
                .find(|channel| channel.default.is_some())
                .map(|channel| channel.name.clone());
            graph_diagnostics.extend(crate::validate::check_explicit_channels(config, name, channels, bundles));
            graph_diagnostics.extend(crate::validate::check_unlisted_bundles(config, package, channels, bundles));
            graph::PackageGraph {
                channels: graph::explicit_channels(name, channels),
                ..graph::PackageGraph::default()
            }
        }
        ChannelPolicy::SemverMode => graph::add_modes::add_mode_channels(name, &infos, graph::add_modes::AddMode::Semver),
        ChannelPolicy::SemverSkipPatchMode => graph::add_modes::add_mode_channels(name, &infos, graph::add_modes::AddMode::SemverSkipPatch),
        ChannelPolicy::SemverTemplate(policy) if left_out.is_empty() => graph::semver_channels(name, &infos, policy),
        ChannelPolicy::SemverTemplate(policy) => {
            // A version target's archetype lists skip the bundles its
            // version left out (a typo is still an error).
            let mut policy = policy.clone();
            for list in [&mut policy.candidate, &mut policy.fast, &mut policy.stable].into_iter().flatten() {
                list.retain(|name| !left_out.contains(&name.value));
            }
            graph::semver_channels(name, &infos, &policy)
        }
    };
    let by_name: BTreeMap<&str, &LoadedBundle> = bundles.iter().map(|bundle| (bundle.bundle.name.as_str(), bundle)).collect();
    for problem in &package_graph.problems {
        graph_diagnostics.push(graph_diagnostic(problem, &by_name, config));
    }
    let mut dropped_bundles = unreachable_bundles(package, &package_graph, &by_name, config, &mut graph_diagnostics);
    if matches!(package.channel_policy, ChannelPolicy::SemverTemplate(_)) && package_graph.problems.is_empty() {
        dropped_bundles.extend(semver_unlisted_bundles(
            package,
            &package_graph,
            &by_name,
            config,
            &mut graph_diagnostics,
        ));
    }
    let channel_names: Vec<&str> = package_graph.channels.iter().map(|channel| channel.name.as_str()).collect();
    let default_channel = match channel_default.as_ref().or(package.default_channel.as_ref()) {
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
    let icon = if package.no_icon { None } else { package_icon(icon_file, head_csv) };
    // opm's semver template also gives the package the head CSV's
    // description; the other policies leave it to `description`.
    let description = match (&package.description, &package.channel_policy) {
        (Some(description), _) => description.clone(),
        (None, ChannelPolicy::SemverTemplate(_)) => head_csv
            .and_then(|csv| csv.pointer(&["spec", "description"]))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        (None, _) => String::new(),
    };
    catalog.packages.push(Package {
        schema: SCHEMA_PACKAGE.to_string(),
        name: name.clone(),
        default_channel,
        icon,
        description,
        properties: Vec::new(),
    });
    catalog.channels.extend(package_graph.channels);
    for bundle in bundles.iter_mut() {
        if dropped_bundles.contains(&bundle.bundle.name) {
            continue;
        }
        // A pulled bundle image is already named by its reference.
        let image = package
            .bundle_image
            .as_ref()
            .filter(|_| bundle.bundle.image.is_empty())
            .map(|template| {
                let image = crate::load::bundle_image(&template.value, &target.vars, bundle)
                    .map_err(|error| (error.to_string(), template.span.clone()))?;
                // opm's model refuses an image that is not a pull spec; say so
                // here, at the template, with every other problem of the run.
                match crate::model::image_ref::parse_normalized_named(&image) {
                    Ok(()) => Ok(image),
                    Err(reason) => Err((
                        format!(
                            "`bundle-image` gives bundle `{}` the image `{image}`, which is not a valid pull spec: {reason}",
                            bundle.bundle.name
                        ),
                        template.span.clone(),
                    )),
                }
            });
        let mut rendered = if last_use {
            std::mem::take(&mut bundle.bundle)
        } else {
            bundle.bundle.clone()
        };
        let built_image = images.built.and_then(|built| built.get(&bundle.dir));
        if let Some(built_image) = built_image {
            let reference = match &image {
                Some(Ok(reference)) => Some(reference.clone()),
                _ => None,
            };
            images
                .target
                .push(TargetBundleImage::built(rendered.name.clone(), reference, built_image));
        }
        match image {
            Some(Ok(image)) => match (images.by_digest, built_image) {
                (true, Some(built_image)) => set_bundle_image(
                    &mut rendered,
                    &format!("{}@{}", crate::image::reference::without_tag(&image), built_image.digest()),
                ),
                _ => set_bundle_image(&mut rendered, &image),
            },
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
    let in_a_channel = bundles_in_a_channel(package_graph);
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

/// The names of the bundles some channel of `package_graph` holds.
fn bundles_in_a_channel(package_graph: &graph::PackageGraph) -> BTreeSet<&str> {
    package_graph
        .channels
        .iter()
        .flat_map(|channel| channel.entries.iter().flatten())
        .map(|entry| entry.name.as_str())
        .collect()
}

/// The bundles of a semver-template package that its archetype lists
/// (and, for unset lists, the channel annotations) place in no channel.
/// opm's semver template renders only the bundle images its lists name
/// (`buildBundleList`), so such a bundle is simply not in its catalog: it
/// is left out here too, with one warning at the package naming each,
/// instead of reaching opm's model check ("not found in any channel
/// entries").
fn semver_unlisted_bundles(
    package: &PackageConfig,
    package_graph: &graph::PackageGraph,
    by_name: &BTreeMap<&str, &LoadedBundle>,
    config: &Config,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeSet<String> {
    let in_a_channel = bundles_in_a_channel(package_graph);
    let unlisted: Vec<&LoadedBundle> = by_name
        .iter()
        .filter(|(name, _)| !in_a_channel.contains(*name))
        .map(|(_, bundle)| *bundle)
        .collect();
    if unlisted.is_empty() {
        return BTreeSet::new();
    }
    let names: Vec<String> = unlisted.iter().map(|bundle| format!("`{}`", bundle.bundle.name)).collect();
    let message = if unlisted.len() == 1 {
        format!(
            "bundle {} of package `{}` is in no channel of the semver template, so the catalog leaves it out",
            names[0], package.name.value
        )
    } else {
        format!(
            "{} bundles of package `{}` are in no channel of the semver template, so the catalog leaves them out: {}",
            unlisted.len(),
            package.name.value,
            names.join(", ")
        )
    };
    let excluded: Vec<String> = unlisted
        .iter()
        .map(|bundle| format!("\"{}\"", crate::validate::exclude_pattern(&bundle.dir, &config.root)))
        .collect();
    let (pronoun, directories) = if unlisted.len() == 1 {
        ("it", "its directory")
    } else {
        ("them", "their directories")
    };
    diagnostics.push(
        Diagnostic::warning("graph", message)
            .at(Location::span(&config.path, package.name.span.clone()))
            .help(format!(
                "list {pronoun} under `candidate`, `fast` or `stable` in `[package.semver]`, or leave {directories} out with `exclude = [{}]`",
                excluded.join(", ")
            ))
            .note("opm's semver template renders only the bundles its `candidate`, `fast` and `stable` lists name"),
    );
    unlisted.iter().map(|bundle| bundle.bundle.name.clone()).collect()
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

pub(super) fn media_type_of(path: &Path) -> String {
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

#[cfg(test)]
mod tests {
    use super::permute;

    #[test]
    fn permute_moves_items_and_back() {
        let mut items = vec!['a', 'b', 'c', 'd', 'e'];
        let order = [1, 3, 0, 2, 4];
        permute(&mut items, &order);
        assert_eq!(items, ['b', 'd', 'a', 'c', 'e']);
        let mut inverse = vec![0; order.len()];
        for (position, original) in order.iter().enumerate() {
            inverse[*original] = position;
        }
        permute(&mut items, &inverse);
        assert_eq!(items, ['a', 'b', 'c', 'd', 'e']);
        let order = [4, 2, 0, 3, 1];
        permute(&mut items, &order);
        assert_eq!(items, ['e', 'c', 'a', 'd', 'b']);
    }
}
