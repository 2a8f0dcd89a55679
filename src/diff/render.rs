//! A [`CatalogDiff`] as text for a terminal, markdown for a pull-request
//! comment, and JSON for machines. Added and removed packages get one
//! summary line in text and markdown (a new 200-bundle package is one
//! fact to a reviewer); JSON lists everything.

use std::fmt::Write as _;

use super::{BundleDiff, CatalogDiff, ChannelDiff, Edge, Moved, PackageDiff, Status};
use crate::encoding::json::{self, Number, Value};

fn sign(status: Status) -> char {
    match status {
        Status::Added => '+',
        Status::Removed => '-',
        Status::Changed => '~',
    }
}

/// `1 bundle`, `3 bundles`; `word` and its plural.
fn count_of(count: usize, word: &str, words: &str) -> String {
    if count == 1 {
        format!("1 {word}")
    } else {
        format!("{count} {words}")
    }
}

/// `a -> b`, with `(none)` for an empty side.
fn moved_text(moved: &Moved<String>, quote: &str) -> String {
    let side = |text: &str| {
        if text.is_empty() {
            "(none)".to_string()
        } else {
            format!("{quote}{text}{quote}")
        }
    };
    format!("{} -> {}", side(&moved.old), side(&moved.new))
}

fn heads_text(heads: &[String], quote: &str) -> String {
    if heads.is_empty() {
        return "(none)".to_string();
    }
    heads
        .iter()
        .map(|head| format!("{quote}{head}{quote}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn edge_text(edge: &Edge, quote: &str) -> String {
    format!("{quote}{}{quote} {} {quote}{}{quote}", edge.from, edge.kind.word(), edge.to)
}

/// The summary of an added or removed package: its default channel, each
/// channel with its head, and its bundle count.
fn package_summary(package: &PackageDiff, quote: &str) -> String {
    let mut parts = Vec::new();
    if let Some(default) = &package.default_channel {
        let channel = if package.status == Status::Added {
            &default.new
        } else {
            &default.old
        };
        if !channel.is_empty() {
            parts.push(format!("default channel {quote}{channel}{quote}"));
        }
    }
    let channels: Vec<String> = package
        .channels
        .iter()
        .map(|channel| {
            let heads = channel
                .head
                .as_ref()
                .map(|head| if package.status == Status::Added { &head.new } else { &head.old });
            match heads {
                Some(heads) if !heads.is_empty() => format!("{quote}{}{quote} (head {})", channel.name, heads_text(heads, quote)),
                _ => format!("{quote}{}{quote}", channel.name),
            }
        })
        .collect();
    if !channels.is_empty() {
        parts.push(format!("channels {}", channels.join(", ")));
    }
    parts.push(count_of(package.bundles.len(), "bundle", "bundles"));
    parts.join("; ")
}

fn summary_line(diff: &CatalogDiff) -> String {
    let (added, removed, changed) = diff.counts();
    format!("packages: {added} added, {removed} removed, {changed} changed")
}

/// An added or removed channel in one line: its head and size.
fn channel_summary(channel: &ChannelDiff, quote: &str) -> String {
    let (heads, entries) = match (&channel.head, channel.status) {
        (Some(head), Status::Added) => (head.new.as_slice(), channel.entries_added.len()),
        (Some(head), _) => (head.old.as_slice(), channel.entries_removed.len()),
        (None, Status::Added) => (&[][..], channel.entries_added.len()),
        (None, _) => (&[][..], channel.entries_removed.len()),
    };
    format!("head {}, {}", heads_text(heads, quote), count_of(entries, "entry", "entries"))
}

/// Lines describing one changed channel, without its heading.
fn channel_lines(channel: &ChannelDiff, quote: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(head) = &channel.head {
        lines.push(format!(
            "head: {} -> {}",
            heads_text(&head.old, quote),
            heads_text(&head.new, quote)
        ));
    }
    lines.extend(channel.entries_added.iter().map(|entry| format!("+ entry {quote}{entry}{quote}")));
    lines.extend(channel.entries_removed.iter().map(|entry| format!("- entry {quote}{entry}{quote}")));
    lines.extend(channel.edges_added.iter().map(|edge| format!("+ {}", edge_text(edge, quote))));
    lines.extend(channel.edges_removed.iter().map(|edge| format!("- {}", edge_text(edge, quote))));
    lines
}

/// Lines describing one changed bundle, without its heading.
fn bundle_lines(bundle: &BundleDiff, quote: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(image) = &bundle.image {
        lines.push(format!("image: {}", moved_text(image, quote)));
    }
    if !bundle.properties.is_empty() {
        let changes: Vec<String> = bundle
            .properties
            .iter()
            .map(|change| {
                let mut counts = Vec::new();
                if change.added > 0 {
                    counts.push(format!("+{}", change.added));
                }
                if change.removed > 0 {
                    counts.push(format!("-{}", change.removed));
                }
                format!("{quote}{}{quote} ({})", change.type_, counts.join(" "))
            })
            .collect();
        lines.push(format!("properties: {}", changes.join(", ")));
    }
    lines.extend(
        bundle
            .related_images_added
            .iter()
            .map(|image| format!("+ related image {quote}{image}{quote}")),
    );
    lines.extend(
        bundle
            .related_images_removed
            .iter()
            .map(|image| format!("- related image {quote}{image}{quote}")),
    );
    lines
}

/// Lines of a changed package, each with its indent depth.
fn changed_package_lines(package: &PackageDiff, quote: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    if let Some(default) = &package.default_channel {
        lines.push((0, format!("default channel: {}", moved_text(default, quote))));
    }
    if package.description_changed {
        lines.push((0, "description changed".to_string()));
    }
    if package.icon_changed {
        lines.push((0, "icon changed".to_string()));
    }
    for channel in &package.channels {
        if channel.status == Status::Changed {
            lines.push((0, format!("~ channel {quote}{}{quote}", channel.name)));
            lines.extend(channel_lines(channel, quote).into_iter().map(|line| (1, line)));
        } else {
            let summary = channel_summary(channel, quote);
            lines.push((
                0,
                format!("{} channel {quote}{}{quote}: {summary}", sign(channel.status), channel.name),
            ));
        }
    }
    for bundle in &package.bundles {
        if bundle.status == Status::Changed {
            lines.push((0, format!("~ bundle {quote}{}{quote}", bundle.name)));
            lines.extend(bundle_lines(bundle, quote).into_iter().map(|line| (1, line)));
        } else {
            lines.push((0, format!("{} bundle {quote}{}{quote}", sign(bundle.status), bundle.name)));
        }
    }
    lines.extend(package.deprecations_added.iter().map(|line| (0, format!("+ deprecated {line}"))));
    lines.extend(package.deprecations_removed.iter().map(|line| (0, format!("- deprecated {line}"))));
    lines
}

/// Plain text: `~`, `+` and `-` per package, indented details, and a
/// summary line.
pub fn to_text(diff: &CatalogDiff) -> String {
    let mut out = String::new();
    if diff.is_empty() {
        out.push_str("The catalogs are equal.\n");
        return out;
    }
    for package in &diff.packages {
        if package.status == Status::Changed {
            let _ = writeln!(out, "~ package {}", package.name);
            for (depth, line) in changed_package_lines(package, "") {
                let _ = writeln!(out, "{}{line}", "    ".repeat(depth + 1));
            }
        } else {
            let _ = writeln!(
                out,
                "{} package {}: {}",
                sign(package.status),
                package.name,
                package_summary(package, "")
            );
        }
    }
    let _ = writeln!(out, "{}", summary_line(diff));
    out
}

/// Markdown for a pull-request comment: a heading with the counts, then a
/// section per changed package and one bullet per added or removed one.
pub fn to_markdown(diff: &CatalogDiff) -> String {
    let mut out = String::new();
    if diff.is_empty() {
        out.push_str("**Catalog unchanged.**\n");
        return out;
    }
    let _ = writeln!(out, "### Catalog changes ({})\n", summary_line(diff));
    let (changed, added_or_removed): (Vec<&PackageDiff>, Vec<&PackageDiff>) =
        diff.packages.iter().partition(|package| package.status == Status::Changed);
    for package in &added_or_removed {
        let _ = writeln!(
            out,
            "- **{}** package `{}`: {}",
            package.status.word(),
            package.name,
            package_summary(package, "`")
        );
    }
    if !added_or_removed.is_empty() && !changed.is_empty() {
        out.push('\n');
    }
    for package in changed {
        let _ = writeln!(out, "#### `{}`\n", package.name);
        for (depth, line) in changed_package_lines(package, "`") {
            let _ = writeln!(out, "{}- {}", "  ".repeat(depth), markdown_line(&line));
        }
        out.push('\n');
    }
    out
}

/// A text line as a markdown bullet's text: a leading `+`, `-` or `~`
/// would start a nested list, so it becomes a word.
fn markdown_line(line: &str) -> String {
    let line = line.replace(" -> ", " → ");
    if let Some(rest) = line.strip_prefix("+ ") {
        format!("**added** {rest}")
    } else if let Some(rest) = line.strip_prefix("- ") {
        format!("**removed** {rest}")
    } else if let Some(rest) = line.strip_prefix("~ ") {
        rest.to_string()
    } else {
        line
    }
}

fn string(text: &str) -> Value {
    Value::str(text)
}

fn strings(texts: &[String]) -> Value {
    Value::Array(texts.iter().map(|text| string(text)).collect())
}

fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::Object(fields.into_iter().map(|(key, value)| (key.to_string(), value)).collect())
}

fn moved_json<T>(moved: &Option<Moved<T>>, value: impl Fn(&T) -> Value) -> Value {
    match moved {
        Some(moved) => object(vec![("old", value(&moved.old)), ("new", value(&moved.new))]),
        None => Value::Null,
    }
}

fn edge_json(edge: &Edge) -> Value {
    object(vec![
        ("from", string(&edge.from)),
        ("kind", string(edge.kind.word())),
        ("to", string(&edge.to)),
    ])
}

/// JSON with every detail, keys in a fixed order, for scripts and bots.
pub fn to_json(diff: &CatalogDiff) -> String {
    let (added, removed, changed) = diff.counts();
    let count = |n: usize| Value::Number(Number::from_u64(n as u64));
    let packages = diff
        .packages
        .iter()
        .map(|package| {
            let channels = package
                .channels
                .iter()
                .map(|channel| {
                    object(vec![
                        ("name", string(&channel.name)),
                        ("change", string(channel.status.word())),
                        ("head", moved_json(&channel.head, |heads| strings(heads))),
                        ("entriesAdded", strings(&channel.entries_added)),
                        ("entriesRemoved", strings(&channel.entries_removed)),
                        ("edgesAdded", Value::Array(channel.edges_added.iter().map(edge_json).collect())),
                        ("edgesRemoved", Value::Array(channel.edges_removed.iter().map(edge_json).collect())),
                    ])
                })
                .collect();
            let bundles = package
                .bundles
                .iter()
                .map(|bundle| {
                    let properties = bundle
                        .properties
                        .iter()
                        .map(|change| {
                            object(vec![
                                ("type", string(&change.type_)),
                                ("added", count(change.added)),
                                ("removed", count(change.removed)),
                            ])
                        })
                        .collect();
                    object(vec![
                        ("name", string(&bundle.name)),
                        ("change", string(bundle.status.word())),
                        ("image", moved_json(&bundle.image, |image| string(image))),
                        ("properties", Value::Array(properties)),
                        ("relatedImagesAdded", strings(&bundle.related_images_added)),
                        ("relatedImagesRemoved", strings(&bundle.related_images_removed)),
                    ])
                })
                .collect();
            object(vec![
                ("name", string(&package.name)),
                ("change", string(package.status.word())),
                ("defaultChannel", moved_json(&package.default_channel, |channel| string(channel))),
                ("descriptionChanged", Value::Bool(package.description_changed)),
                ("iconChanged", Value::Bool(package.icon_changed)),
                ("channels", Value::Array(channels)),
                ("bundles", Value::Array(bundles)),
                ("deprecationsAdded", strings(&package.deprecations_added)),
                ("deprecationsRemoved", strings(&package.deprecations_removed)),
            ])
        })
        .collect();
    let document = object(vec![
        ("equal", Value::Bool(diff.is_empty())),
        (
            "summary",
            object(vec![
                ("added", count(added)),
                ("removed", count(removed)),
                ("changed", count(changed)),
            ]),
        ),
        ("packages", Value::Array(packages)),
    ]);
    let mut text = json::to_indented(&document, "  ");
    text.push('\n');
    text
}
