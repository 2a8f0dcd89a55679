//! `catbuild build` (also plain `catbuild`) and `catbuild validate` of the
//! project: load `catalog.toml`, run the pipeline, print the verdict.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::{CommandResult, Failure, GlobalArgs, print_diagnostics};
use crate::config::{self, Config, OutputFormat};
use crate::pipeline::{self, BuildOptions, BuildReport};

#[derive(Debug, Default, Args)]
pub struct BuildArgs {
    /// Build only this target (repeatable, or comma-separated)
    #[arg(long = "target", value_name = "TARGET", value_delimiter = ',')]
    targets: Vec<String>,
    /// Formats to write instead of the targets' own (comma-separated)
    #[arg(long = "format", value_name = "FORMAT", value_delimiter = ',')]
    formats: Vec<String>,
    /// Output directory instead of the catalog's (default build/)
    #[arg(long = "out", value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the time each pipeline stage took
    #[arg(long)]
    timings: bool,
}

pub fn run(global: &GlobalArgs, args: &BuildArgs) -> CommandResult {
    let started = Instant::now();
    let config = load_config(global)?;
    let options = options(args)?;
    let report = pipeline::build(&config, &options).map_err(Failure::from)?;
    if args.timings {
        for (stage, duration) in &report.timings {
            eprintln!("{stage:>9} {:8.3}s", duration.as_secs_f64());
        }
    }
    finish(global, &config, &report, started, "Built");
    Ok(())
}

/// `catbuild validate` without a directory: every check of a build, no output.
pub fn validate_project(global: &GlobalArgs) -> CommandResult {
    let started = Instant::now();
    let config = load_config(global)?;
    let report = pipeline::check(&config, &BuildOptions::default()).map_err(Failure::from)?;
    finish(global, &config, &report, started, "Validated");
    Ok(())
}

pub(super) fn load_config(global: &GlobalArgs) -> Result<Config, Failure> {
    let cwd = std::env::current_dir().map_err(|error| Failure::Other(format!("cannot read the current directory: {error}")))?;
    let path = config::find(global.config.as_deref(), &cwd).map_err(Failure::Input)?;
    config::load(&path).map_err(Failure::Input)
}

fn options(args: &BuildArgs) -> Result<BuildOptions, Failure> {
    let formats = if args.formats.is_empty() {
        None
    } else {
        let mut parsed = Vec::new();
        for name in &args.formats {
            let format = OutputFormat::parse(name).ok_or_else(|| {
                let names: Vec<&str> = OutputFormat::ALL.iter().map(|(name, _)| *name).collect();
                Failure::InputMessage(format!("unknown format `{name}` (supported: {})", names.join(", ")))
            })?;
            parsed.push(format);
        }
        if parsed.contains(&OutputFormat::FbcJson) && parsed.contains(&OutputFormat::FbcYaml) {
            return Err(Failure::InputMessage(
                "`--format` takes one of `fbc-json` and `fbc-yaml`, not both".to_string(),
            ));
        }
        Some(parsed)
    };
    Ok(BuildOptions {
        targets: args.targets.clone(),
        formats,
        out_dir: args.out.clone(),
    })
}

fn finish(global: &GlobalArgs, config: &Config, report: &BuildReport, started: Instant, verb: &str) {
    if !report.warnings.is_empty() && !global.quiet {
        print_diagnostics(&report.warnings);
    }
    if global.quiet {
        return;
    }
    if global.verbose {
        for target in &report.targets {
            for output in &target.outputs {
                eprintln!("  wrote {}", output.display());
            }
        }
    }
    let n_bundles: usize = report.targets.iter().map(|target| target.n_bundles).sum();
    let n_excluded: usize = report.targets.iter().map(|target| target.n_excluded).sum();
    let names: Vec<&str> = report.targets.iter().map(|target| target.name.as_str()).collect();
    let plural = if names.len() == 1 { "" } else { "s" };
    let excluded = if n_excluded == 0 {
        String::new()
    } else {
        format!(", {n_excluded} excluded")
    };
    eprintln!(
        "{verb} catalog {}: target{plural} {} ({n_bundles} bundles{excluded}) in {:.2}s",
        config.catalog.name,
        names.join(", "),
        started.elapsed().as_secs_f64()
    );
}
