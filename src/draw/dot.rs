//! Channel graphs as Graphviz DOT, for people who lay graphs out with
//! their own tools: one cluster per channel, node ids unique per channel
//! (a bundle in two channels is two nodes, as in opm's mermaid), edges in
//! the upgrade direction styled by kind.

use std::fmt::Write as _;

use super::{ChannelGraph, EdgeKind};

/// A DOT string literal.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            character => out.push(character),
        }
    }
    out.push('"');
    out
}

pub fn to_dot(graphs: &[ChannelGraph]) -> String {
    let mut out = String::from(
        "digraph upgrades {\n  rankdir=BT;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f6f8fa\", fontname=\"monospace\"];\n",
    );
    for (at, graph) in graphs.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{at} {{");
        let _ = writeln!(out, "    label={};", quote(&super::svg::heading(graph)));
        for (index, node) in graph.nodes.iter().enumerate() {
            let mut attributes = vec![format!("label={}", quote(&node.name))];
            if node.head {
                attributes.push("penwidth=2.5, color=\"#1a7f37\", fillcolor=\"#dafbe1\"".to_string());
            }
            if node.deprecated {
                attributes.push("color=\"#cf222e\", fillcolor=\"#ffebe9\"".to_string());
            }
            if node.outside_channel {
                attributes.push("style=\"rounded,dashed\"".to_string());
            }
            let _ = writeln!(out, "    c{at}_{index} [{}];", attributes.join(", "));
        }
        for edge in &graph.edges {
            let style = match edge.kind {
                EdgeKind::Replaces => "color=\"#0969da\"",
                EdgeKind::Skips => "color=\"#8250df\", style=dashed",
                EdgeKind::SkipRange => "color=\"#bf8700\", style=dotted",
            };
            let _ = writeln!(
                out,
                "    c{at}_{} -> c{at}_{} [label={}, {style}];",
                edge.from,
                edge.to,
                quote(edge.kind.word())
            );
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}
