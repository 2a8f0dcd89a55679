//! Channel graphs as one self-contained HTML page: no script, style or
//! font from the network, so it opens from a CI artifact or an email. A
//! channel selector shows one channel at a time; the graph pans with a
//! drag and zooms with the wheel (its `viewBox` changes, so text stays
//! sharp); hovering a bundle lists its version and properties, and
//! highlights the way OLM would upgrade it to a head.

use std::fmt::Write as _;

use super::ChannelGraph;
use super::layout;
use super::svg::{STYLE, channel_svg, escape, heading};

const PAGE_STYLE: &str = "\
body{margin:0;font:14px sans-serif;color:#1f2328;display:flex;flex-direction:column;height:100vh}\
header{padding:8px 12px;border-bottom:1px solid #d0d7de;display:flex;gap:12px;align-items:center}\
main{flex:1;overflow:auto;position:relative;cursor:grab;padding:8px}\
#cb-tip{position:fixed;display:none;max-width:560px;white-space:pre-wrap;background:#fff;border:1px solid #d0d7de;\
box-shadow:0 2px 8px #0002;padding:6px 8px;font:12px monospace;pointer-events:none}";

/// The viewer: channel selector, pan and zoom on the `viewBox`, hover text
/// and upgrade-path highlighting from each node's `data-path`.
const SCRIPT: &str = r#"
(function () {
  var select = document.getElementById('cb-channel');
  var tip = document.getElementById('cb-tip');
  var graphs = Array.prototype.slice.call(document.querySelectorAll('main svg.cb-graph'));
  function show(index) {
    graphs.forEach(function (graph, at) { graph.style.display = at === index ? '' : 'none'; });
  }
  select.addEventListener('change', function () { show(Number(select.value)); });
  show(Number(select.value));
  graphs.forEach(function (graph) {
    var box = graph.getAttribute('viewBox').split(' ').map(Number);
    function apply() { graph.setAttribute('viewBox', box.join(' ')); }
    graph.addEventListener('wheel', function (event) {
      event.preventDefault();
      var rect = graph.getBoundingClientRect();
      var factor = event.deltaY > 0 ? 1.15 : 1 / 1.15;
      var px = box[0] + (event.clientX - rect.left) / rect.width * box[2];
      var py = box[1] + (event.clientY - rect.top) / rect.height * box[3];
      box = [px - (px - box[0]) * factor, py - (py - box[1]) * factor, box[2] * factor, box[3] * factor];
      apply();
    }, { passive: false });
    var drag = null;
    graph.addEventListener('mousedown', function (event) { drag = [event.clientX, event.clientY, box[0], box[1]]; });
    window.addEventListener('mouseup', function () { drag = null; });
    window.addEventListener('mousemove', function (event) {
      if (!drag) { return; }
      var rect = graph.getBoundingClientRect();
      box[0] = drag[2] - (event.clientX - drag[0]) / rect.width * box[2];
      box[1] = drag[3] - (event.clientY - drag[1]) / rect.height * box[3];
      apply();
    });
    Array.prototype.forEach.call(graph.querySelectorAll('g.cb-node'), function (node) {
      node.addEventListener('mouseenter', function (event) {
        tip.textContent = node.getAttribute('data-tip');
        tip.style.display = 'block';
        tip.style.left = (event.clientX + 14) + 'px';
        tip.style.top = (event.clientY + 14) + 'px';
        var path = node.getAttribute('data-path').split(' ');
        path.forEach(function (name, at) {
          var step = graph.querySelector('g.cb-node[data-bundle="' + CSS.escape(name) + '"]');
          if (step) { step.classList.add('cb-path'); }
          var next = path[at + 1];
          if (next) {
            Array.prototype.forEach.call(graph.querySelectorAll('path.cb-edge[data-from="' + CSS.escape(name) + '"][data-to="' + CSS.escape(next) + '"]'),
              function (edge) { edge.classList.add('cb-path-edge'); });
          }
        });
      });
      node.addEventListener('mouseleave', function () {
        tip.style.display = 'none';
        Array.prototype.forEach.call(graph.querySelectorAll('.cb-path, .cb-path-edge'), function (element) {
          element.classList.remove('cb-path');
          element.classList.remove('cb-path-edge');
        });
      });
    });
  });
})();
"#;

/// The page. `title` names what was drawn (a catalog path or target).
pub fn to_html(graphs: &[ChannelGraph], title: &str) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>Upgrade graph: {}</title>", escape(title));
    let _ = writeln!(out, "<style>{PAGE_STYLE}{STYLE}</style>\n</head>\n<body>");
    let _ = write!(
        out,
        "<header><strong>{}</strong><label>Channel <select id=\"cb-channel\">",
        escape(title)
    );
    // The default channel of the first package is shown first.
    let first = graphs.iter().position(|graph| graph.is_default).unwrap_or(0);
    for (at, graph) in graphs.iter().enumerate() {
        let selected = if at == first { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{at}\"{selected}>{}</option>", escape(&heading(graph)));
    }
    out.push_str("</select></label><span class=\"cb-legend\">drag to pan · wheel to zoom · hover a bundle</span></header>\n<main>\n");
    for (at, graph) in graphs.iter().enumerate() {
        let placed = layout::place(graph);
        let svg = channel_svg(graph, &placed, &format!("c{at}"), true);
        out.push_str(&svg);
        out.push('\n');
    }
    let _ = write!(
        out,
        "</main>\n<div id=\"cb-tip\"></div>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    out
}
