//! `catbuild list`: what a build would make, without loading a bundle:
//! each target with its formats and packages, each package with its channel
//! policy, how many bundle directories its patterns match and the patterns.
//! Data, so it goes to stdout as aligned columns.

use clap::{Args, ValueEnum};

use super::{CommandResult, Failure, GlobalArgs, print_diagnostics, print_stdout};
use crate::config::Config;
use crate::pipeline::{self, PackageSummary};

#[derive(Debug, Args)]
pub(super) struct ListArgs {
    /// What to list (default: targets, then packages)
    #[arg(value_enum)]
    what: Option<ListWhat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ListWhat {
    Targets,
    Packages,
}

pub(super) fn run(global: &GlobalArgs, args: &ListArgs) -> CommandResult {
    let config = super::build::load_config(global)?;
    let mut text = String::new();
    if args.what != Some(ListWhat::Packages) {
        text.push_str(&targets_table(&config));
    }
    if args.what.is_none() {
        text.push('\n');
    }
    if args.what != Some(ListWhat::Targets) {
        let (summaries, diagnostics) = pipeline::summarize(&config);
        if diagnostics.iter().any(crate::diag::Diagnostic::is_error) {
            return Err(Failure::Input(diagnostics));
        }
        if !diagnostics.is_empty() && !global.quiet {
            print_diagnostics(&diagnostics);
        }
        text.push_str(&packages_table(&config, &summaries));
    }
    print_stdout(&text)
}

fn targets_table(config: &Config) -> String {
    let mut rows = vec![["TARGET".to_string(), "FORMATS".to_string(), "PACKAGES".to_string()]];
    for target in &config.targets {
        let formats: Vec<&str> = target.formats.iter().map(|format| format.name()).collect();
        rows.push([target.name.clone(), formats.join(","), target.packages.join(",")]);
    }
    columns(&rows)
}

fn packages_table(config: &Config, summaries: &[PackageSummary]) -> String {
    let mut rows = vec![[
        "PACKAGE".to_string(),
        "POLICY".to_string(),
        "BUNDLES".to_string(),
        "SOURCES".to_string(),
    ]];
    for (package, summary) in config.packages.iter().zip(summaries) {
        let mut bundles = (summary.n_bundle_dirs).to_string();
        if summary.n_package_manifest_dirs > 0 {
            bundles.push_str(&format!(" (+{} package-manifest dirs)", summary.n_package_manifest_dirs));
        }
        if summary.n_excluded > 0 {
            bundles.push_str(&format!(" ({} excluded)", summary.n_excluded));
        }
        let sources: Vec<&str> = package
            .bundles
            .iter()
            .chain(&package.package_manifests)
            .map(|pattern| pattern.value.as_str())
            .collect();
        rows.push([
            summary.name.clone(),
            package.channel_policy.name().to_string(),
            bundles,
            sources.join(" "),
        ]);
    }
    columns(&rows)
}

/// Rows as columns padded to the widest cell, two spaces apart; the last
/// column is not padded.
fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (idx, cell) in row.iter().enumerate() {
            widths[idx] = widths[idx].max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (idx, cell) in row.iter().enumerate() {
            if idx + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[idx]));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}
