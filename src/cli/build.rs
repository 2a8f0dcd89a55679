//! `catbuild build` (also plain `catbuild`) and `catbuild validate` of the
//! project: load `catalog.toml`, run the pipeline, print the verdict.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};

use super::progress::{CliReporter, View};
use super::{CommandResult, Failure, GlobalArgs, print_diagnostics};
use crate::config::{self, Config, OutputFormat};
use crate::pipeline::{self, BuildOptions, BuildReport};

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
    pub(super) out: Option<PathBuf>,
    /// Print the time each pipeline stage took
    #[arg(long)]
    timings: bool,
    /// Fail at once (exit 2) if another build holds the output directory's lock, instead of waiting
    #[arg(long)]
    no_wait: bool,
    /// Build the bundle and catalog images and push them after the build
    #[arg(long)]
    push: bool,
    /// Build the bundle and catalog images (build/<target>/oci/) even if catalog.toml does not ask
    #[arg(long)]
    images: bool,
    /// Push to this registry instead (HOST[:PORT]/PREFIX; each image keeps its last path component and tag)
    #[arg(long, value_name = "HOST[:PORT]/PREFIX")]
    registry: Option<String>,
    /// Base of every catalog image for this run: `scratch` or `oci:DIR[:TAG]`
    #[arg(long, value_name = "REF|scratch")]
    base_image: Option<String>,
    /// Print progress and diagnostics as JSON lines on stdout (one object per line)
    #[arg(long)]
    json: bool,
    /// Threads for loading, checking and encoding (default: one per CPU); the output is the same for any number
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    jobs: Option<NonZeroUsize>,
    /// Build, then rebuild after every burst of edits until Ctrl-C
    #[arg(long)]
    pub(super) watch: bool,
    /// Say why each action ran instead of coming from the cache
    #[arg(long)]
    explain: bool,
    /// Run every action; neither read nor write the action cache
    #[arg(long)]
    no_cache: bool,
    /// The action cache's directory (default: `[catalog] cache-dir`, else <output>/.cache)
    #[arg(long, value_name = "DIR")]
    pub(super) cache_dir: Option<PathBuf>,
    /// Read the shared cache from this registry reference (HOST[:PORT]/REPO[:TAG], repeatable; tag `cache` by default)
    #[arg(long = "cache-from", value_name = "REGISTRY/REPO[:TAG]")]
    cache_from: Vec<String>,
    /// Write what this build used to the shared cache at this reference (skipped in pull-request CI builds)
    #[arg(long = "cache-to", value_name = "REGISTRY/REPO[:TAG]")]
    cache_to: Option<String>,
    /// Write `--cache-to` in a pull-request CI build too
    #[arg(long = "cache-to-in-pr", requires = "cache_to")]
    cache_to_in_pr: bool,
}

impl BuildArgs {
    /// `serve --watch`: one target (or every one), rebuilt on each edit.
    pub(super) fn serving(target: Option<&str>) -> BuildArgs {
        BuildArgs {
            targets: target.into_iter().map(str::to_string).collect(),
            watch: true,
            ..BuildArgs::default()
        }
    }

    /// Plain `catbuild` (with `--watch` or not): every default.
    pub(super) fn watching(watch: bool) -> BuildArgs {
        BuildArgs {
            watch,
            ..BuildArgs::default()
        }
    }
}

pub(super) fn run(global: &GlobalArgs, args: &BuildArgs) -> CommandResult {
    if args.watch {
        super::watch::run(global, args)
    } else {
        build_once(global, args)
    }
}

/// One build (and push), its verdict printed or returned.
pub(super) fn build_once(global: &GlobalArgs, args: &BuildArgs) -> CommandResult {
    let started = Instant::now();
    let reporter = CliReporter::new(View {
        explain: args.explain,
        ..view(global, args.json)
    });
    let result = with_jobs(args.jobs, || build_and_push(global, args, &reporter, started));
    reporter.clear_status();
    json_verdict(&reporter, result.as_ref().map(|report| &report.targets), started);
    result.map(|_| ())
}

/// What `-q`, `-v` and `--json` ask to see.
fn view(global: &GlobalArgs, json: bool) -> View {
    View {
        quiet: global.quiet,
        verbose: global.verbose && !global.quiet,
        json,
        explain: false,
    }
}

/// Runs `work` on a rayon pool of `jobs` threads (`-j`), or on the global
/// pool (one thread per CPU). Output never depends on the number.
pub(super) fn with_jobs<T>(jobs: Option<NonZeroUsize>, work: impl FnOnce() -> Result<T, Failure> + Send) -> Result<T, Failure>
where
    T: Send,
{
    let Some(jobs) = jobs else {
        return work();
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.get())
        // As main.rs's: room for documents nested 10,000 deep.
        .stack_size(256 << 20)
        .thread_name(|idx| format!("catbuild-{idx}"))
        .build()
        .map_err(|error| Failure::Other(format!("cannot start {jobs} threads (`-j`): {error}")))?;
    pool.install(work)
}

/// `--json`: a failed run's diagnostics, then the summary of any run.
pub(super) fn json_verdict(reporter: &CliReporter, result: Result<&Vec<pipeline::TargetReport>, &Failure>, started: Instant) {
    let mut data = serde_json::Map::new();
    match result {
        Ok(targets) => {
            data.insert("ok".into(), true.into());
            data.insert("exit_code".into(), 0.into());
            let targets: Vec<serde_json::Value> = targets
                .iter()
                .map(|target| {
                    serde_json::json!({
                        "name": target.name,
                        "packages": target.n_packages,
                        "bundles": target.n_bundles,
                        "excluded": target.n_excluded,
                        "output": target.output.as_ref().map(|path| super::display_path(path).display().to_string()),
                    })
                })
                .collect();
            data.insert("targets".into(), targets.into());
        }
        Err(failure) => {
            match failure {
                Failure::Input(diagnostics) => reporter.json_diagnostics(diagnostics, crate::input::MAX_DIAGNOSTICS),
                Failure::InputLimited(diagnostics, cap) => reporter.json_diagnostics(diagnostics, *cap),
                _ => {}
            }
            data.insert("ok".into(), false.into());
            data.insert("exit_code".into(), failure.code().into());
            if let Failure::InputMessage(message) | Failure::Other(message) = failure {
                data.insert("error".into(), message.clone().into());
            }
        }
    }
    reporter.json_summary(data, started.elapsed());
}

fn build_and_push(global: &GlobalArgs, args: &BuildArgs, reporter: &CliReporter, started: Instant) -> Result<BuildReport, Failure> {
    let config = load_config(global)?;
    let mut options = options(args)?;
    options.output = super::output_settings(global, args.no_wait)?;
    if let Some(skipped) = skip_cache_to(args, &|name| std::env::var(name).ok()) {
        options.cache.to = None;
        pipeline::Reporter::remote_cache(reporter, &skipped);
    }
    let result = pipeline::build(&config, &options, reporter);
    if args.timings {
        reporter.print_timings();
    }
    reporter.clear_status();
    let report = result.map_err(|error| match Failure::from(error) {
        Failure::Input(diagnostics) => Failure::InputLimited(diagnostics, config.limits.diagnostics),
        other => other,
    })?;
    reporter.json_diagnostics(&report.warnings, config.limits.diagnostics);
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
            "Pushed {} images ({} already there): {} blobs uploaded ({} bytes), {} already there, {} mounted, {} retries, in {:.2}s",
            pushed.pushed.len(),
            pushed.images_present,
            pushed.blobs_uploaded,
            pushed.bytes_uploaded,
            pushed.blobs_present,
            pushed.blobs_mounted,
            pushed.retries,
            push_started.elapsed().as_secs_f64()
        );
    }
    Ok(report)
}

/// `catbuild validate` without a directory: every check of a build, no output.
pub(super) fn validate_project(global: &GlobalArgs) -> CommandResult {
    let started = Instant::now();
    let config = load_config(global)?;
    let reporter = CliReporter::new(view(global, false));
    let report = pipeline::check(&config, &BuildOptions::default(), &reporter);
    reporter.clear_status();
    let report = report.map_err(Failure::from)?;
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
    for (flag, text, pinned_ok) in args
        .cache_from
        .iter()
        .map(|text| ("--cache-from", text, true))
        .chain(args.cache_to.iter().map(|text| ("--cache-to", text, false)))
    {
        crate::cache::remote::parse_reference(text, pinned_ok).map_err(|message| Failure::InputMessage(format!("{flag}: {message}")))?;
    }
    if args.no_cache && (!args.cache_from.is_empty() || args.cache_to.is_some()) {
        return Err(Failure::InputMessage(
            "`--no-cache` turns the cache off, so `--cache-from` and `--cache-to` cannot be used with it".to_string(),
        ));
    }
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
        build_images: args.images,
        registry,
        base_image,
        source_date_epoch: source_date_epoch()?,
        cache: pipeline::CacheSettings {
            enabled: !args.no_cache,
            dir: args.cache_dir.as_ref().map(|dir| cwd.join(dir)),
            from: args.cache_from.clone(),
            to: args.cache_to.clone(),
            ..pipeline::CacheSettings::default()
        },
    })
}

/// `--cache-to` in a pull-request build (by the CI variables `env`
/// gives) without `--cache-to-in-pr`: skipped, and why.
fn skip_cache_to(args: &BuildArgs, env: &dyn Fn(&str) -> Option<String>) -> Option<crate::cache::remote::RemoteEvent> {
    let reference = args.cache_to.as_ref().filter(|_| !args.cache_to_in_pr)?;
    let variable = crate::cache::remote::pull_request(env)?;
    Some(crate::cache::remote::RemoteEvent::ExportSkipped {
        reference: reference.clone(),
        reason: format!("a pull-request build ({variable}); `--cache-to-in-pr` writes it anyway"),
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
