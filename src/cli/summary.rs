//! The build summary printed after `catbuild build` (issue 21): one line
//! per target (packages, channels, bundles, where it went) and the channel
//! heads that moved since that target's last build. Short by default, so a
//! 300-package catalog still fits a screen; `-v` adds every package's
//! channels and heads and the target's files.

use std::fmt::Write as _;
use std::path::Path;

use crate::pipeline::TargetReport;

/// Changes listed per target before the rest is counted (without `-v`).
const SHORT_CHANGES: usize = 10;

/// The lines under the build's headline, each ending in a newline.
pub(super) fn target_lines(targets: &[TargetReport], verbose: bool) -> String {
    let mut text = String::new();
    for target in targets {
        let n_channels: usize = target.packages.iter().map(|package| package.channels.len()).sum();
        let _ = write!(
            text,
            "  {}: {}, {}, {}",
            target.name,
            count(target.n_packages, "package"),
            count(n_channels, "channel"),
            count(target.n_bundles, "bundle"),
        );
        if let Some(output) = &target.output {
            let _ = write!(text, " -> {}", shown_path(output).display());
        }
        match &target.changes {
            None => text.push('\n'),
            Some(changes) if changes.is_empty() => text.push_str(", no head moved\n"),
            Some(changes) => {
                text.push('\n');
                let shown = if verbose { changes.len() } else { changes.len().min(SHORT_CHANGES) };
                for change in &changes[..shown] {
                    let _ = writeln!(text, "    {change}");
                }
                if shown < changes.len() {
                    let _ = writeln!(
                        text,
                        "    ... and {} more (-v lists them; `catbuild diff` shows every change)",
                        changes.len() - shown
                    );
                }
            }
        }
        if verbose {
            verbose_lines(target, &mut text);
        }
    }
    text
}

/// Every package's channels with their heads, then the target's files.
fn verbose_lines(target: &TargetReport, text: &mut String) {
    for package in &target.packages {
        let _ = writeln!(
            text,
            "    {} ({}, default channel {})",
            package.name,
            count(package.bundles, "bundle"),
            package.default_channel
        );
        for channel in &package.channels {
            let _ = writeln!(
                text,
                "      {}: head {} ({})",
                channel.name,
                channel.head,
                count(channel.bundles, "bundle")
            );
        }
    }
    if let Some(output) = &target.output {
        for entry in output_entries(output) {
            let _ = writeln!(text, "    wrote {}", shown_path(output).join(entry).display());
        }
    }
}

/// What a target's directory holds (`catalog/`, `index.db`, `oci/`,
/// `deploy/`), without catbuild's own hidden files.
fn output_entries(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            if name.starts_with('.') {
                return None;
            }
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            Some(if is_dir { format!("{name}/") } else { name })
        })
        .collect();
    names.sort();
    names
}

/// `path` relative to the working directory when it is under it (as
/// people type it), else as it is.
fn shown_path(path: &Path) -> &Path {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .filter(|relative| !relative.as_os_str().is_empty())
        .unwrap_or(path)
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{Change, ChannelOutline, PackageOutline};

    fn target(changes: Option<Vec<Change>>) -> TargetReport {
        TargetReport {
            name: "v4.16".to_string(),
            n_packages: 1,
            n_bundles: 3,
            n_excluded: 0,
            output: None,
            images: Vec::new(),
            packages: vec![PackageOutline {
                name: "etcd".to_string(),
                default_channel: "stable".to_string(),
                bundles: 3,
                channels: vec![
                    ChannelOutline {
                        name: "alpha".to_string(),
                        head: "etcd.v0.9.4".to_string(),
                        bundles: 3,
                    },
                    ChannelOutline {
                        name: "stable".to_string(),
                        head: "etcd.v0.9.2".to_string(),
                        bundles: 1,
                    },
                ],
            }],
            changes,
        }
    }

    fn moved(n: usize) -> Vec<Change> {
        (0..n)
            .map(|i| Change::HeadMoved {
                package: "etcd".to_string(),
                channel: format!("c{i}"),
                from: "etcd.v1".to_string(),
                to: "etcd.v2".to_string(),
            })
            .collect()
    }

    #[test]
    fn a_first_build_counts_and_says_nothing_of_changes() {
        assert_eq!(target_lines(&[target(None)], false), "  v4.16: 1 package, 2 channels, 3 bundles\n");
    }

    #[test]
    fn an_unchanged_rebuild_says_so() {
        assert_eq!(
            target_lines(&[target(Some(Vec::new()))], false),
            "  v4.16: 1 package, 2 channels, 3 bundles, no head moved\n"
        );
    }

    #[test]
    fn many_changes_are_cut_short_unless_verbose() {
        let short = target_lines(&[target(Some(moved(12)))], false);
        assert_eq!(short.lines().count(), 1 + SHORT_CHANGES + 1, "{short}");
        assert!(short.ends_with("    ... and 2 more (-v lists them; `catbuild diff` shows every change)\n"));
        let full = target_lines(&[target(Some(moved(12)))], true);
        assert!(full.contains("    etcd: c11 head etcd.v1 -> etcd.v2\n"), "{full}");
        assert!(full.contains("    etcd (3 bundles, default channel stable)\n      alpha: head etcd.v0.9.4 (3 bundles)\n      stable: head etcd.v0.9.2 (1 bundle)\n"), "{full}");
    }
}
