//! Where things go. Versions already order a channel, so the layout is one
//! column, newest at the top (a head is usually first), and edges are arcs
//! beside it: a `replaces` between neighbours is a short straight line,
//! other `replaces` and `skips` arc on the right (wider for longer jumps),
//! and each `skipRange` is a bracket on the left over the versions it
//! covers. A 200-bundle channel stays a readable column instead of a
//! hairball, with no general graph layout needed.

use super::{ChannelGraph, EdgeKind};

pub const ROW: f64 = 34.0;
pub const NODE_HEIGHT: f64 = 24.0;
/// Monospace 12px text: the width of one character.
pub const CHAR_WIDTH: f64 = 7.3;
const TOP: f64 = 56.0;
const MARGIN: f64 = 16.0;
/// The legend line at 11px sans-serif.
const LEGEND_WIDTH: f64 = 600.0;
const RANGE_LANE_MAX: f64 = 10.0;
const RANGE_LANES_WIDTH_MAX: f64 = 320.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    pub fn middle_y(&self) -> f64 {
        self.y + self.height / 2.0
    }
    pub fn right(&self) -> f64 {
        self.x + self.width
    }
}

/// A drawn edge: its SVG path and which graph edge it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub edge: usize,
    pub path: String,
}

/// One `skipRange`: the node that has it, the nodes it covers, and the
/// lane's x.
#[derive(Debug, Clone, PartialEq)]
pub struct Bracket {
    pub owner: usize,
    pub covered: Vec<usize>,
    pub x: f64,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<Rect>,
    pub curves: Vec<Curve>,
    pub brackets: Vec<Bracket>,
}

pub fn place(graph: &ChannelGraph) -> Placed {
    let mut brackets_wanted = skip_ranges(graph);
    brackets_wanted.sort_by_key(|(owner, covered)| covered.iter().copied().chain(std::iter::once(*owner)).min());
    let lanes = assign_lanes(&brackets_wanted);
    let lane_count = lanes.iter().copied().max().map_or(0, |max| max + 1);
    let lane_gap = if lane_count == 0 {
        0.0
    } else {
        (RANGE_LANES_WIDTH_MAX / lane_count as f64).min(RANGE_LANE_MAX)
    };
    let node_x = MARGIN + 12.0 + lane_gap * lane_count as f64;
    let longest = graph.nodes.iter().map(|node| node.name.chars().count()).max().unwrap_or(0);
    let node_width = longest as f64 * CHAR_WIDTH + 20.0;
    let nodes: Vec<Rect> = (0..graph.nodes.len())
        .map(|row| Rect {
            x: node_x,
            y: TOP + row as f64 * ROW,
            width: node_width,
            height: NODE_HEIGHT,
        })
        .collect();
    let mut widest_arc: f64 = 0.0;
    let curves = graph
        .edges
        .iter()
        .enumerate()
        .filter(|(_, edge)| edge.kind != EdgeKind::SkipRange)
        .map(|(at, edge)| {
            let (from, to) = (&nodes[edge.from], &nodes[edge.to]);
            let span = edge.from.abs_diff(edge.to);
            let path = if edge.kind == EdgeKind::Replaces && span == 1 {
                // Neighbours: straight, between the boxes' edges.
                let x = from.x + 18.0;
                let (y1, y2) = if from.y > to.y {
                    (from.y, to.y + to.height)
                } else {
                    (from.y + from.height, to.y)
                };
                format!("M{} {}L{} {}", num(x), num(y1), num(x), num(y2))
            } else {
                let bulge = (24.0 + 14.0 * (span as f64).sqrt()).min(220.0);
                widest_arc = widest_arc.max(bulge);
                let (x1, y1, x2, y2) = (from.right(), from.middle_y(), to.right(), to.middle_y());
                format!(
                    "M{} {}C{} {} {} {} {} {}",
                    num(x1),
                    num(y1),
                    num(x1 + bulge),
                    num(y1),
                    num(x2 + bulge),
                    num(y2),
                    num(x2),
                    num(y2)
                )
            };
            Curve { edge: at, path }
        })
        .collect();
    let brackets = brackets_wanted
        .into_iter()
        .zip(lanes)
        .map(|((owner, covered), lane)| {
            let x = node_x - 12.0 - lane as f64 * lane_gap;
            let rows = covered.iter().copied().chain(std::iter::once(owner));
            let top = rows.clone().min().unwrap_or(owner);
            let bottom = rows.max().unwrap_or(owner);
            let mut path = format!(
                "M{} {}L{} {}",
                num(x),
                num(nodes[top].middle_y()),
                num(x),
                num(nodes[bottom].middle_y())
            );
            for &row in &covered {
                path.push_str(&format!(
                    "M{} {}L{} {}",
                    num(x),
                    num(nodes[row].middle_y()),
                    num(node_x),
                    num(nodes[row].middle_y())
                ));
            }
            // The owner end: into the box, where the arrowhead goes.
            path.push_str(&format!(
                "M{} {}L{} {}",
                num(x),
                num(nodes[owner].middle_y()),
                num(node_x),
                num(nodes[owner].middle_y())
            ));
            Bracket { owner, covered, x, path }
        })
        .collect();
    // The heading and the legend line must fit too.
    let heading_width = super::svg::heading(graph).chars().count() as f64 * 9.0 + MARGIN * 2.0;
    Placed {
        width: (node_x + node_width + widest_arc + MARGIN * 2.0)
            .max(heading_width)
            .max(LEGEND_WIDTH),
        height: TOP + graph.nodes.len() as f64 * ROW + MARGIN,
        nodes,
        curves,
        brackets,
    }
}

/// Each `skipRange` owner with the nodes it covers, in node order.
fn skip_ranges(graph: &ChannelGraph) -> Vec<(usize, Vec<usize>)> {
    let mut by_owner: std::collections::BTreeMap<usize, Vec<usize>> = std::collections::BTreeMap::new();
    for edge in graph.edges.iter().filter(|edge| edge.kind == EdgeKind::SkipRange) {
        by_owner.entry(edge.to).or_default().push(edge.from);
    }
    by_owner.into_iter().collect()
}

/// Interval colouring: each bracket (sorted by its top row) gets the
/// first lane free over its rows.
fn assign_lanes(brackets: &[(usize, Vec<usize>)]) -> Vec<usize> {
    let mut lane_ends: Vec<usize> = Vec::new();
    brackets
        .iter()
        .map(|(owner, covered)| {
            let rows = covered.iter().copied().chain(std::iter::once(*owner));
            let (top, bottom) = (rows.clone().min().unwrap_or(*owner), rows.max().unwrap_or(*owner));
            match lane_ends.iter().position(|end| *end < top) {
                Some(lane) => {
                    lane_ends[lane] = bottom;
                    lane
                }
                None => {
                    lane_ends.push(bottom);
                    lane_ends.len() - 1
                }
            }
        })
        .collect()
}

/// A coordinate with at most one decimal, so SVG text stays short and
/// the same on every machine.
pub fn num(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded:.1}")
    }
}
