//! A channel graph as SVG 1.1: one `<svg>` per channel (`to_svg` stacks
//! them), a title with the package and channel, the legend, nodes as
//! rounded boxes (heads bold, deprecated red and struck through, bundles
//! outside the channel dashed) and edges styled by kind. Every element a
//! viewer needs carries a `data-` attribute or a class, so the HTML page
//! and tests can find bundles, heads and edges in the DOM. A `<title>` on
//! each node is the hover text of any SVG viewer.

use std::fmt::Write as _;

use super::layout::{self, Placed, num};
use super::{ChannelGraph, EdgeKind};

/// Styles shared by the SVG file and the HTML page.
pub(super) const STYLE: &str = "\
.cb-title{font:600 15px sans-serif;fill:#1f2328}\
.cb-legend{font:11px sans-serif;fill:#57606a}\
.cb-node rect{fill:#f6f8fa;stroke:#57606a;stroke-width:1}\
.cb-node text{font:12px monospace;fill:#1f2328}\
.cb-node.cb-head rect{fill:#dafbe1;stroke:#1a7f37;stroke-width:2.5}\
.cb-node.cb-deprecated rect{fill:#ffebe9;stroke:#cf222e}\
.cb-node.cb-deprecated text{text-decoration:line-through}\
.cb-node.cb-outside rect{fill:#fff;stroke-dasharray:4 3}\
.cb-edge{fill:none;stroke-width:1.4}\
.cb-replaces{stroke:#0969da}\
.cb-skips{stroke:#8250df;stroke-dasharray:6 3}\
.cb-skipRange{stroke:#bf8700;stroke-dasharray:2 3}\
.cb-path rect{stroke:#fb8500;stroke-width:3}\
.cb-path-edge{stroke:#fb8500;stroke-width:3}";

pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            character if (character as u32) < 0x20 && !matches!(character, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            character => out.push(character),
        }
    }
    out
}

/// The heading of a channel: package, channel and its marks.
pub(super) fn heading(graph: &ChannelGraph) -> String {
    let mut heading = format!("{} / {}", graph.package, graph.channel);
    if graph.is_default {
        heading.push_str(" (default channel)");
    }
    if graph.deprecated {
        heading.push_str(" (deprecated channel)");
    }
    if graph.package_deprecated {
        heading.push_str(" (deprecated package)");
    }
    heading
}

/// Hover text of a node: name, version, marks, properties, upgrade path.
pub(super) fn node_tooltip(graph: &ChannelGraph, at: usize) -> String {
    let node = &graph.nodes[at];
    let mut text = node.name.clone();
    if !node.version.is_empty() {
        let _ = write!(text, "\nversion {}", node.version);
    }
    if node.head {
        text.push_str("\nchannel head");
    }
    if node.deprecated {
        text.push_str("\ndeprecated");
    }
    if node.outside_channel {
        text.push_str("\nnot an entry of this channel");
    }
    if node.upgrade_path.len() > 1 {
        let path: Vec<&str> = node.upgrade_path.iter().map(|&step| graph.nodes[step].name.as_str()).collect();
        let _ = write!(text, "\nupgrades: {}", path.join(" -> "));
    }
    for (type_, value) in &node.properties {
        // A CSV blob can be megabytes; the hover shows its start.
        let shown: String = value.chars().take(160).collect();
        let ellipsis = if shown.len() < value.len() { "…" } else { "" };
        let _ = write!(text, "\n{type_}: {shown}{ellipsis}");
    }
    text
}

/// One channel as a standalone `<svg>` element (no XML declaration).
/// `data_tips` adds each node's hover text as `data-tip`, for the HTML
/// page's own tooltip (a `<title>` shows late and cannot be styled).
pub(super) fn channel_svg(graph: &ChannelGraph, placed: &Placed, id: &str, data_tips: bool) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"{id}\" class=\"cb-graph\" data-package=\"{}\" data-channel=\"{}\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\">",
        escape(&graph.package),
        escape(&graph.channel),
        num(placed.width),
        num(placed.height),
        num(placed.width),
        num(placed.height)
    );
    let _ = write!(
        out,
        "<defs><marker id=\"{id}-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\" fill=\"#57606a\"/></marker></defs>"
    );
    let _ = write!(out, "<text class=\"cb-title\" x=\"16\" y=\"22\">{}</text>", escape(&heading(graph)));
    let _ = write!(
        out,
        "<text class=\"cb-legend\" x=\"16\" y=\"40\">arrows point the way upgrades go · blue: replaces · purple dashed: skips · amber dotted: skipRange · green: head</text>"
    );
    for curve in &placed.curves {
        let edge = &graph.edges[curve.edge];
        let _ = write!(
            out,
            "<path class=\"cb-edge cb-{}\" data-from=\"{}\" data-to=\"{}\" d=\"{}\" marker-end=\"url(#{id}-arrow)\"/>",
            edge.kind.word(),
            escape(&graph.nodes[edge.from].name),
            escape(&graph.nodes[edge.to].name),
            curve.path
        );
    }
    for bracket in &placed.brackets {
        let covered: Vec<&str> = bracket.covered.iter().map(|&at| graph.nodes[at].name.as_str()).collect();
        let _ = write!(
            out,
            "<path class=\"cb-edge cb-{}\" data-to=\"{}\" data-covers=\"{}\" d=\"{}\" marker-end=\"url(#{id}-arrow)\"/>",
            EdgeKind::SkipRange.word(),
            escape(&graph.nodes[bracket.owner].name),
            escape(&covered.join(" ")),
            bracket.path
        );
    }
    for (at, (node, rect)) in graph.nodes.iter().zip(&placed.nodes).enumerate() {
        let mut classes = String::from("cb-node");
        for (flag, class) in [
            (node.head, " cb-head"),
            (node.deprecated, " cb-deprecated"),
            (node.outside_channel, " cb-outside"),
        ] {
            if flag {
                classes.push_str(class);
            }
        }
        let path: Vec<&str> = node.upgrade_path.iter().map(|&step| graph.nodes[step].name.as_str()).collect();
        let tooltip = escape(&node_tooltip(graph, at));
        let data_tip = if data_tips {
            format!(" data-tip=\"{tooltip}\"")
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<g class=\"{classes}\" data-bundle=\"{}\" data-path=\"{}\"{data_tip}><title>{tooltip}</title>\
             <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"5\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            escape(&node.name),
            escape(&path.join(" ")),
            num(rect.x),
            num(rect.y),
            num(rect.width),
            num(rect.height),
            num(rect.x + 10.0),
            num(rect.y + layout::NODE_HEIGHT / 2.0 + 4.0),
            escape(&node.name)
        );
    }
    out.push_str("</svg>");
    out
}

/// Every channel as one SVG document: the channels one under another.
pub fn to_svg(graphs: &[ChannelGraph]) -> String {
    let placed: Vec<Placed> = graphs.iter().map(layout::place).collect();
    let width = placed.iter().map(|placed| placed.width).fold(320.0, f64::max);
    let height: f64 = placed.iter().map(|placed| placed.height).sum::<f64>().max(40.0);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\">\n<style>{STYLE}</style>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n",
        num(width),
        num(height),
        num(width),
        num(height)
    );
    let mut y = 0.0;
    for (at, (graph, placed)) in graphs.iter().zip(&placed).enumerate() {
        let _ = writeln!(
            out,
            "<g transform=\"translate(0 {})\">{}</g>",
            num(y),
            channel_svg(graph, placed, &format!("c{at}"), false)
        );
        y += placed.height;
    }
    out.push_str("</svg>\n");
    out
}
