//! `catbuild graph --format svg|html|dot` checked by real readers: the SVG
//! of the largest corpus package is rendered by librsvg (`rsvg-convert`),
//! the HTML page by headless Chromium, whose DOM (after the page's script
//! ran) must show every entry of the channel and mark exactly its heads.
//! Expected entries and heads come from the published catalog file,
//! read with serde_json here, not from catbuild. `.ci/run` installs
//! `chromium` and `librsvg2-bin`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{catbuild, example_project, repo, stderr};

/// The corpus package with the most bundles in its published catalog.
const LARGEST: &str = "rabbitmq-messaging-topology-operator";

fn published(package: &str) -> PathBuf {
    repo().join("../shared/corpus/expected/fbc").join(package)
}

/// Each channel's entries and heads (entries no entry replaces or skips),
/// from the catalog as JSON (the published files are YAML; `render` of
/// an FBC dir is opm's, checked by the conformance suite).
fn channels(catalog_dir: &Path) -> Vec<(String, BTreeSet<String>, BTreeSet<String>)> {
    let rendered = catbuild(&repo(), &["render", catalog_dir.to_str().unwrap(), "-o", "json"]);
    assert_eq!(rendered.status.code(), Some(0), "{}", stderr(&rendered));
    let text = String::from_utf8(rendered.stdout).unwrap();
    let stream = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
    let mut found = Vec::new();
    for blob in stream {
        let blob = blob.unwrap();
        if blob["schema"] != "olm.channel" {
            continue;
        }
        let entries = blob["entries"].as_array().unwrap();
        let names: BTreeSet<String> = entries.iter().map(|entry| entry["name"].as_str().unwrap().to_string()).collect();
        let mut referenced = BTreeSet::new();
        for entry in entries {
            if let Some(replaces) = entry["replaces"].as_str() {
                referenced.insert(replaces.to_string());
            }
            for skip in entry["skips"].as_array().into_iter().flatten() {
                referenced.insert(skip.as_str().unwrap().to_string());
            }
        }
        let heads = names.difference(&referenced).cloned().collect();
        found.push((blob["name"].as_str().unwrap().to_string(), names, heads));
    }
    found
}

fn chromium() -> Command {
    let mut command = Command::new("chromium");
    // As root, with no network and a fresh profile; without the
    // background-networking flags Chromium keeps dialling out.
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]);
    command
}

/// The DOM after the page's script ran (`--dump-dom`).
fn rendered_dom(html: &Path, profile: &Path) -> String {
    let output = chromium()
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs (Debian's `chromium` package; .ci/run installs it)");
    assert!(output.status.success(), "chromium: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The `<svg class="cb-graph" ...>...</svg>` of one channel in a DOM dump.
fn channel_svg<'a>(dom: &'a str, channel: &str) -> &'a str {
    let marker = format!("data-channel=\"{channel}\"");
    let at = dom.find(&marker).unwrap_or_else(|| panic!("no svg for channel {channel}"));
    let start = dom[..at].rfind("<svg").unwrap();
    let end = start + dom[start..].find("</svg>").unwrap();
    &dom[start..end]
}

fn attribute_values(svg: &str, class: &str) -> BTreeSet<String> {
    let mut values = BTreeSet::new();
    for piece in svg.split("<g ").skip(1) {
        let tag = &piece[..piece.find('>').unwrap()];
        let classes = tag
            .split("class=\"")
            .nth(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .unwrap_or("");
        if classes.split(' ').any(|name| name == class) {
            let bundle = tag.split("data-bundle=\"").nth(1).unwrap();
            values.insert(bundle[..bundle.find('"').unwrap()].to_string());
        }
    }
    values
}

#[test]
fn html_graph_of_the_largest_package_shows_every_bundle_and_marks_heads() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("graph.html");
    let catalog = published(LARGEST);
    let output = catbuild(
        &repo(),
        &["graph", catalog.to_str().unwrap(), "--format", "html", "-o", html.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let page = std::fs::read_to_string(&html).unwrap();
    let without_namespace = page.replace("http://www.w3.org/2000/svg", "");
    assert!(
        !without_namespace.contains("http://") && !without_namespace.contains("https://"),
        "the page must not load anything from the network"
    );

    let dom = rendered_dom(&html, &dir.path().join("profile"));
    let expected = channels(&catalog);
    assert!(!expected.is_empty());
    for (channel, entries, heads) in &expected {
        let svg = channel_svg(&dom, channel);
        let shown = attribute_values(svg, "cb-node");
        assert!(
            entries.is_subset(&shown),
            "channel {channel}: entries {entries:?} not all shown in {shown:?}"
        );
        assert_eq!(&attribute_values(svg, "cb-head"), heads, "channel {channel}");
    }

    // And a picture of it, as a person would see it.
    let png = dir.path().join("graph.png");
    let status = chromium()
        .arg(format!("--user-data-dir={}", dir.path().join("profile2").display()))
        .arg("--window-size=1000,900")
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000,
        "{} bytes",
        bytes.len()
    );
}

#[test]
fn svg_is_read_by_librsvg() {
    let dir = tempfile::tempdir().unwrap();
    for package in [LARGEST, "kube-green", "aws-neuron-operator"] {
        let svg = dir.path().join(format!("{package}.svg"));
        let catalog = published(package);
        let output = catbuild(
            &repo(),
            &["graph", catalog.to_str().unwrap(), "--format", "svg", "-o", svg.to_str().unwrap()],
        );
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let png = dir.path().join(format!("{package}.png"));
        let converted = Command::new("rsvg-convert")
            .arg(&svg)
            .arg("-o")
            .arg(&png)
            .output()
            .expect("rsvg-convert runs (Debian's `librsvg2-bin`; .ci/run installs it)");
        assert!(
            converted.status.success(),
            "{package}: {}",
            String::from_utf8_lossy(&converted.stderr)
        );
        assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
        // Every entry of every channel is a node of the picture.
        let text = std::fs::read_to_string(&svg).unwrap();
        for (channel, entries, heads) in channels(&catalog) {
            let drawn = attribute_values(channel_svg(&text, &channel), "cb-node");
            assert!(entries.is_subset(&drawn), "{package}/{channel}");
            assert_eq!(
                attribute_values(channel_svg(&text, &channel), "cb-head"),
                heads,
                "{package}/{channel}"
            );
        }
    }
}

#[test]
fn a_project_package_by_name_and_dot_output() {
    let project = example_project();
    let output = catbuild(project.path(), &["graph", "fruits-catalog-operator", "--format", "dot"]);
    assert_eq!(output.status.code(), Some(2), "not built yet: {}", stderr(&output));
    assert!(
        stderr(&output).contains("run `catbuild build --target ocp-4.16` first"),
        "{}",
        stderr(&output)
    );
    assert_eq!(catbuild(project.path(), &["build"]).status.code(), Some(0));
    let output = catbuild(
        project.path(),
        &["graph", "fruits-catalog-operator", "--channel", "stable", "--format", "dot"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let dot = String::from_utf8(output.stdout).unwrap();
    assert!(dot.starts_with("digraph upgrades {\n"), "{dot}");
    assert!(
        dot.contains("label=\"fruits-catalog-operator / stable (default channel)\";"),
        "{dot}"
    );
    // The example: 0.0.2 replaces 0.0.1, 0.0.3 replaces 0.0.2 and has the
    // skipRange >=0.0.1 <0.0.3 (catalog.toml, manifests/).
    assert_eq!(dot.matches("[label=\"replaces\"").count(), 2, "{dot}");
    assert_eq!(dot.matches("[label=\"skipRange\"").count(), 2, "{dot}");
    // The page's script shows the default channel and hides the others.
    let html = project.path().join("graph.html");
    let output = catbuild(project.path(), &["graph", "--format", "html", "-o", html.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let dom = rendered_dom(&html, &project.path().join("profile"));
    let opening = |svg: &str| svg[..svg.find('>').unwrap()].to_string();
    assert!(opening(channel_svg(&dom, "alpha")).contains("display: none"), "{dom}");
    assert!(!opening(channel_svg(&dom, "stable")).contains("display: none"), "{dom}");

    let output = catbuild(project.path(), &["graph", "no-such-package", "--format", "svg"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: no package `no-such-package` in the catalog (it has: `fruits-catalog-operator`)\n"
    );
}
