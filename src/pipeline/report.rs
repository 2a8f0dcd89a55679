//! Progress as data: the pipeline tells a [`Reporter`] what it planned,
//! and when stages and actions start and finish, and the CLI decides what
//! to draw (`--timings`, `-v` lines, a status line on a terminal, `--json`
//! events). The library never prints (STYLE 8.3).
//!
//! Calls come from rayon worker threads too, so a reporter is `Sync` and
//! must not influence what the build produces.

use std::path::Path;
use std::time::Duration;

/// A stage of the pipeline, in the order a build runs them. Loading and
/// linking run once per set of template variables, so a stage may be
/// reported more than once; its durations add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Bundle patterns expanded into directories.
    Plan,
    /// Bundles read, templates rendered, bundles parsed and rendered.
    Load,
    /// Channels linked with each package's policy, catbuild's checks.
    Graph,
    /// opm's model validation, when nothing is encoded (`validate`).
    Validate,
    /// opm's model validation and every output format, per package.
    Encode,
    /// Outputs put in place.
    Write,
}

impl Stage {
    pub const ALL: [Stage; 6] = [Stage::Plan, Stage::Load, Stage::Graph, Stage::Validate, Stage::Encode, Stage::Write];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Plan => "plan",
            Stage::Load => "load",
            Stage::Graph => "graph",
            Stage::Validate => "validate",
            Stage::Encode => "encode",
            Stage::Write => "write",
        }
    }
}

/// One unit of work inside a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<'a> {
    /// A bundle directory read, rendered and parsed (once per set of
    /// template variables). `dir` is relative to the project root.
    LoadBundle { package: &'a str, dir: &'a Path },
    /// A package of a target validated and encoded in every format.
    EncodePackage { target: &'a str, package: &'a str },
    /// The whole build, answered by its stamp: nothing changed since the
    /// last build into `out_dir`, so nothing else ran.
    UpToDate { out_dir: &'a Path },
}

impl Action<'_> {
    /// The kind, as `--json` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::LoadBundle { .. } => "load-bundle",
            Action::EncodePackage { .. } => "encode-package",
            Action::UpToDate { .. } => "build",
        }
    }

    /// The stage the action belongs to.
    pub fn stage(&self) -> Stage {
        match self {
            Action::LoadBundle { .. } => Stage::Load,
            Action::EncodePackage { .. } => Stage::Encode,
            Action::UpToDate { .. } => Stage::Plan,
        }
    }
}

/// Whether the action cache answered for an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    /// No cache in front of this action (none configured, `--no-cache`,
    /// or an action whose outputs the cache does not keep).
    Off,
    /// Taken from the cache: nothing ran.
    Hit,
    /// Taken from the shared cache (the `--cache-from` named): nothing ran.
    Remote(String),
    /// It ran, and why (`input \`manifests/x/0.2.0/x.csv.yaml\` changed`).
    Miss(String),
}

impl Cached {
    /// Whether nothing ran (a hit, local or shared).
    pub fn is_hit(&self) -> bool {
        matches!(self, Cached::Hit | Cached::Remote(_))
    }

    /// As `--json` names it.
    pub fn name(&self) -> &'static str {
        match self {
            Cached::Off => "off",
            Cached::Hit | Cached::Remote(_) => "hit",
            Cached::Miss(_) => "miss",
        }
    }
}

/// What a build is about to do, once its inputs are planned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Planned {
    /// The selected targets, in build order.
    pub targets: Vec<String>,
    /// Packages built, counted once whatever the number of targets.
    pub packages: usize,
    /// `(target, package)` pairs: the encode actions a build runs.
    pub package_targets: usize,
    /// Bundle directories planned (package-manifest bundles not counted).
    pub bundle_dirs: usize,
}

/// Receives the pipeline's progress. Every method has an empty default, so
/// a reporter implements only what it draws.
pub trait Reporter: Sync {
    fn planned(&self, _planned: &Planned) {}
    fn stage_started(&self, _stage: Stage) {}
    fn stage_finished(&self, _stage: Stage, _elapsed: Duration) {}
    fn action_started(&self, _action: &Action) {}
    fn action_finished(&self, _action: &Action, _elapsed: Duration, _cached: &Cached) {}
    /// The shared cache read a `--cache-from`, refused a blob, or wrote
    /// `--cache-to`.
    fn remote_cache(&self, _event: &crate::cache::remote::RemoteEvent) {}
}

/// Reports nothing.
pub struct Silent;

impl Reporter for Silent {}

/// Runs `work` as `stage`, telling `reporter` when it starts and finishes.
pub(crate) fn stage<T>(reporter: &dyn Reporter, stage: Stage, work: impl FnOnce() -> T) -> T {
    let _doing = crate::memory::doing(format_args!("in the {} stage", stage.name()));
    reporter.stage_started(stage);
    let started = std::time::Instant::now();
    let result = work();
    reporter.stage_finished(stage, started.elapsed());
    result
}

/// Runs `work` as `action`, telling `reporter` when it starts and finishes
/// and whether the cache knew it.
pub(crate) fn action<T>(reporter: &dyn Reporter, action: &Action, cached: &Cached, work: impl FnOnce() -> T) -> T {
    // Named in the error if memory runs out (src/memory).
    let _doing = match action {
        Action::LoadBundle { package, dir } => {
            crate::memory::doing(format_args!("loading bundle `{}` of package `{package}`", dir.display()))
        }
        Action::EncodePackage { target, package } => {
            crate::memory::doing(format_args!("encoding package `{package}` for target `{target}`"))
        }
        Action::UpToDate { out_dir } => crate::memory::doing(format_args!("checking the stamp of `{}`", out_dir.display())),
    };
    reporter.action_started(action);
    let started = std::time::Instant::now();
    let result = work();
    reporter.action_finished(action, started.elapsed(), cached);
    result
}

/// Tells `reporter` that the cache answered for `action`, from the local
/// store or the shared cache named by `remote`.
pub(crate) fn hit(reporter: &dyn Reporter, action: &Action, remote: Option<&String>) {
    reporter.action_started(action);
    let cached = remote.map_or(Cached::Hit, |source| Cached::Remote(source.clone()));
    reporter.action_finished(action, Duration::ZERO, &cached);
}
