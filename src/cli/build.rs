//! `catbuild build` (also plain `catbuild`) and `catbuild validate` of the
//! project: load `catalog.toml`, run the pipeline, print the verdict.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use super::{CommandResult, Failure, GlobalArgs, print_diagnostics};
use crate::config::{self, Config, OutputFormat};
use crate::pipeline::{self, Action, BuildOptions, BuildReport, Reporter, Stage};

#[derive(Debug, Default, Args)]
pub(super) struct BuildArgs {
    /// Build only this target (repeatable, or comma-separated)
    #[arg(long = "target", value_name = "TARGET", value_delimiter = ',')]
    targets: Vec<String>,
    /// Formats to write instead of the targets' own (comma-separated)
    #[arg(long = "format", value_name = "FORMAT", value_delimiter = ',', value_enum)]
    formats: Vec<FormatFlag>,
    /// Output directory instead of the catalog's (default build/)
    #[arg(long = "out", value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the time each pipeline stage took
    #[arg(long)]
    timings: bool,
    /// Fail at once (exit 2) if another build holds the output directory's lock, instead of waiting
    #[arg(long)]
    no_wait: bool,
    /// Build the bundle and catalog images and push them after the build
    #[arg(long)]
    push: bool,
    /// Push to this registry instead (HOST[:PORT]/PREFIX; each image keeps its last path component and tag)
    #[arg(long, value_name = "HOST[:PORT]/PREFIX")]
    registry: Option<String>,
    /// Base of every catalog image for this run: `scratch` or `oci:DIR[:TAG]`
    #[arg(long, value_name = "REF|scratch")]
    base_image: Option<String>,
}

pub(super) fn run(global: &GlobalArgs, args: &BuildArgs) -> CommandResult {
    let started = Instant::now();
    let config = load_config(global)?;
    let mut options = options(args)?;
    options.output = super::output_settings(global, args.no_wait)?;
    let reporter = CliReporter::new(global.verbose && !global.quiet);
    let result = pipeline::build(&config, &options, &reporter);
    if args.timings {
        reporter.print_timings();
    }
    let report = result.map_err(Failure::from)?;
    finish(global, &config, &report, started, "Built");
    let push_started = Instant::now();
    if let Some(pushed) = pipeline::push(&config, &options, &report).map_err(Failure::from)?
        && !global.quiet
    {
        if global.verbose {
            for reference in &pushed.pushed {
                eprintln!("  pushed {reference}");
            }
        }
        eprintln!(
            "Pushed {} images: {} blobs uploaded ({} bytes), {} already there, {} mounted, {} retries, in {:.2}s",
            pushed.pushed.len(),
            pushed.blobs_uploaded,
            pushed.bytes_uploaded,
            pushed.blobs_present,
            pushed.blobs_mounted,
            pushed.retries,
            push_started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Draws the pipeline's progress for a person: per-stage totals for
/// `--timings`, one line per finished action with `-v`.
struct CliReporter {
    verbose: bool,
    stage_totals: Mutex<BTreeMap<Stage, Duration>>,
}

impl CliReporter {
    fn new(verbose: bool) -> CliReporter {
        CliReporter {
            verbose,
            stage_totals: Mutex::new(BTreeMap::new()),
        }
    }

    /// Stages in pipeline order, those that ran.
    fn print_timings(&self) {
        let totals = self.stage_totals.lock().map(|totals| totals.clone()).unwrap_or_default();
        for (stage, duration) in totals {
            eprintln!("{:>9} {:8.3}s", stage.name(), duration.as_secs_f64());
        }
    }
}

impl Reporter for CliReporter {
    fn stage_finished(&self, stage: Stage, elapsed: Duration) {
        if let Ok(mut totals) = self.stage_totals.lock() {
            *totals.entry(stage).or_default() += elapsed;
        }
    }

    fn action_finished(&self, action: &Action, elapsed: Duration) {
        if !self.verbose {
            return;
        }
        let seconds = elapsed.as_secs_f64();
        match action {
            Action::EncodePackage { target, package } => eprintln!("  encoded {target}/{package} in {seconds:.3}s"),
        }
    }
}

/// `catbuild validate` without a directory: every check of a build, no output.
pub(super) fn validate_project(global: &GlobalArgs) -> CommandResult {
    let started = Instant::now();
    let config = load_config(global)?;
    let reporter = CliReporter::new(global.verbose && !global.quiet);
    let report = pipeline::check(&config, &BuildOptions::default(), &reporter).map_err(Failure::from)?;
    finish(global, &config, &report, started, "Validated");
    Ok(())
}

pub(super) fn load_config(global: &GlobalArgs) -> Result<Config, Failure> {
    let cwd = std::env::current_dir().map_err(|error| Failure::Other(format!("cannot read the current directory: {error}")))?;
    let path = config::find(global.config.as_deref(), &cwd).map_err(Failure::Input)?;
    config::load(&path).map_err(Failure::Input)
}

/// `--format` values: the target formats of `catalog.toml`, so clap lists
/// them in `--help` and refuses others before anything is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatFlag {
    FbcJson,
    FbcYaml,
    Sqlite,
}

impl FormatFlag {
    fn output_format(self) -> OutputFormat {
        match self {
            FormatFlag::FbcJson => OutputFormat::FbcJson,
            FormatFlag::FbcYaml => OutputFormat::FbcYaml,
            FormatFlag::Sqlite => OutputFormat::Sqlite,
        }
    }
}

fn options(args: &BuildArgs) -> Result<BuildOptions, Failure> {
    let formats = if args.formats.is_empty() {
        None
    } else {
        let parsed: Vec<OutputFormat> = args.formats.iter().map(|flag| flag.output_format()).collect();
        if parsed.contains(&OutputFormat::FbcJson) && parsed.contains(&OutputFormat::FbcYaml) {
            return Err(Failure::InputMessage(
                "`--format` takes one of `fbc-json` and `fbc-yaml`, not both".to_string(),
            ));
        }
        Some(parsed)
    };
    let registry = match &args.registry {
        Some(text) => Some(config::parse_registry_prefix(text).map_err(|message| Failure::InputMessage(format!("--registry: {message}")))?),
        None => None,
    };
    let cwd = std::env::current_dir().map_err(|error| Failure::Other(format!("cannot read the current directory: {error}")))?;
    let base_image = match &args.base_image {
        Some(text) => {
            Some(config::BaseImage::parse(text, &cwd).map_err(|message| Failure::InputMessage(format!("--base-image: {message}")))?)
        }
        None => None,
    };
    Ok(BuildOptions {
        targets: args.targets.clone(),
        formats,
        out_dir: args.out.clone(),
        output: crate::output::OutputSettings::default(),
        push: args.push,
        registry,
        base_image,
        source_date_epoch: source_date_epoch()?,
    })
}

/// `SOURCE_DATE_EPOCH` (reproducible-builds.org): every layer mtime and
/// image `created`; 0 when unset.
fn source_date_epoch() -> Result<u64, Failure> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Err(_) => Ok(0),
        Ok(text) if text.is_empty() => Ok(0),
        Ok(text) => text.trim().parse().map_err(|_| {
            Failure::InputMessage(format!(
                "SOURCE_DATE_EPOCH is `{text}`, not a number of seconds since 1970-01-01 UTC"
            ))
        }),
    }
}

fn finish(global: &GlobalArgs, config: &Config, report: &BuildReport, started: Instant, verb: &str) {
    if !report.warnings.is_empty() && !global.quiet {
        print_diagnostics(&report.warnings);
    }
    if global.quiet {
        return;
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
    let warnings = match report.warnings.len() {
        0 => String::new(),
        1 => ", 1 warning".to_string(),
        n => format!(", {n} warnings"),
    };
    eprintln!(
        "{verb} catalog {}: target{plural} {} ({n_bundles} bundles{excluded}{warnings}) in {:.2}s",
        config.catalog.name,
        names.join(", "),
        started.elapsed().as_secs_f64()
    );
    eprint!("{}", super::summary::target_lines(&report.targets, global.verbose));
}
