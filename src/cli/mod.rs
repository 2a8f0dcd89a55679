//! Command line: clap arguments, subcommand dispatch, printing and exit
//! codes. Only this module prints or picks exit codes (STYLE 1.4): the
//! library returns data and diagnostics.
//!
//! Exit codes: 0 success, 1 the input is wrong (config, bundles,
//! validation), 2 anything else (I/O with the path and the OS error, the
//! output directory's lock busy under `--no-wait`, internal errors).

mod build;
mod clean;
mod deploy;
mod diff;
mod dockerfile;
mod graph;
mod init;
mod list;
mod matrix;
mod memory;
mod opm;
mod progress;
#[cfg(feature = "serve")]
mod serve;
mod summary;
mod watch;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory as _, Parser, Subcommand};

use crate::diag::Diagnostic;

/// What a failed command tells `main`.
#[derive(Debug)]
pub enum Failure {
    /// The input is wrong; the diagnostics say why (exit 1).
    Input(Vec<Diagnostic>),
    /// [`Failure::Input`] from a build whose catalog.toml sets how many
    /// diagnostics to show (`[limits] diagnostics`).
    InputLimited(Vec<Diagnostic>, usize),
    /// The input is wrong; opm-compatible plain message (exit 1).
    InputMessage(String),
    /// Anything else: I/O, internal (exit 2).
    Other(String),
    /// `diff` found differences and printed them (exit 1, as `diff` does).
    Differs,
}

impl Failure {
    pub(crate) fn code(&self) -> u8 {
        match self {
            Failure::Input(_) | Failure::InputLimited(..) | Failure::InputMessage(_) | Failure::Differs => 1,
            Failure::Other(_) => 2,
        }
    }
}

impl From<crate::pipeline::BuildError> for Failure {
    fn from(error: crate::pipeline::BuildError) -> Failure {
        use crate::pipeline::BuildError;
        match error {
            BuildError::Input(diagnostics) => Failure::Input(diagnostics),
            BuildError::Io { action, path, source } => {
                Failure::Other(format!("cannot {action} `{}`: {source}", display_path(&path).display()))
            }
            BuildError::OutputLocked { lock_path } => Failure::Other(locked_message(&lock_path)),
            BuildError::Encode(error) => Failure::Other(error.to_string()),
            BuildError::Push(error) => Failure::Other(error.to_string()),
            BuildError::Pull(error) => Failure::Other(error.to_string()),
        }
    }
}

impl From<crate::output::OutputError> for Failure {
    fn from(error: crate::output::OutputError) -> Failure {
        crate::pipeline::BuildError::from(error).into()
    }
}

fn locked_message(lock_path: &Path) -> String {
    format!(
        "`{}` is held by another catbuild; not waiting (`--no-wait`)",
        display_path(lock_path).display()
    )
}

/// A path as the user would type it: relative to the current directory
/// when it is inside it.
fn display_path(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|current_dir| path.strip_prefix(current_dir).ok().map(Path::to_path_buf))
        .filter(|relative| !relative.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
}

/// The catalog directory the last build of a project target wrote: the
/// target `name`, or the first one. `None` when there is no catalog.toml
/// or no such target; an error when catalog.toml is broken or the target
/// was not built yet.
fn built_catalog(global: &GlobalArgs, name: Option<&str>) -> Result<Option<(String, PathBuf)>, Failure> {
    let Some((target, dir)) = project_catalog(global, name)? else {
        return Ok(None);
    };
    if !dir.is_dir() {
        return Err(Failure::Other(format!(
            "target `{0}` has no built catalog at `{1}`: run `catbuild build --target {0}` first",
            target,
            display_path(&dir).display()
        )));
    }
    Ok(Some((target, dir)))
}

/// A project target (the first when `name` is `None`) and where its
/// catalog is built, built yet or not; `None` outside a project or for an
/// unknown target.
fn project_catalog(global: &GlobalArgs, name: Option<&str>) -> Result<Option<(String, PathBuf)>, Failure> {
    let cwd = std::env::current_dir().map_err(|error| Failure::Other(format!("cannot read the current directory: {error}")))?;
    let Ok(config_path) = crate::config::find(global.config.as_deref(), &cwd) else {
        return Ok(None);
    };
    // These commands read catalogs; a broken catalog.toml is not what
    // they check, so it is one line pointing at `catbuild validate`.
    let config = crate::config::load(&config_path).map_err(|diagnostics| {
        Failure::Other(format!(
            "`{}` has {} problem(s); `catbuild validate` shows them",
            display_path(&config_path).display(),
            diagnostics.iter().filter(|diagnostic| diagnostic.is_error()).count()
        ))
    })?;
    let Some(target) = config.targets.iter().find(|target| name.is_none_or(|name| target.name == name)) else {
        return Ok(None);
    };
    let dir = config.catalog.output_dir.join(&target.name).join("catalog");
    Ok(Some((target.name.clone(), dir)))
}

/// Told by `output` before a build or clean waits for another one's lock.
fn print_lock_wait(lock_path: &Path) {
    eprintln!("Waiting for another catbuild to release `{}`", display_path(lock_path).display());
}

/// How this command takes the output directory's lock. The test hook
/// `CATBUILD_FAIL_AFTER_STEP` is read here, where the environment is read.
fn output_settings(global: &GlobalArgs, no_wait: bool) -> Result<crate::output::OutputSettings, Failure> {
    let fail_after_step = match std::env::var("CATBUILD_FAIL_AFTER_STEP") {
        Ok(text) => Some(
            text.trim()
                .parse::<u64>()
                .map_err(|_| Failure::Other(format!("`CATBUILD_FAIL_AFTER_STEP` must be a number of steps, not `{text}`")))?,
        ),
        Err(_) => None,
    };
    Ok(crate::output::OutputSettings {
        no_wait,
        on_wait: if global.quiet { None } else { Some(print_lock_wait) },
        fail_after_step,
    })
}

pub type CommandResult = Result<(), Failure>;

/// `catbuild --version`: the crate version, the commit it was built from
/// (see `build.rs`) and the opm whose output it reproduces: operator-registry
/// HEAD for FBC, render, validate and templates, with cases checked by
/// running opm v1.26.5 (`../shared/conformance/README.md`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("CATBUILD_GIT_COMMIT"),
    ")\nmatches opm: operator-registry HEAD (FBC, render, validate, templates), checked against opm v1.26.5"
);

const BUILD_EXAMPLES: &str = "Examples:
  catbuild build                                 # every target of catalog.toml
  catbuild build --target ocp-4.16 --format fbc-yaml --out out/
  catbuild --config path/to/project build        # DIR means DIR/catalog.toml";

const RENDER_EXAMPLES: &str = "Examples:
  catbuild render bundles/my-operator/1.0.0 -o yaml
  catbuild render old/index.db -o yaml             # an opm SQLite index, as opm renders it
  catbuild render catalog/ --migrate-level bundle-object-to-csv-metadata";

const MIGRATE_EXAMPLES: &str = "Examples:
  catbuild migrate old/index.db catalog/           # one catalog.json per package
  catbuild migrate old/index.db catalog/ -o yaml";

const VALIDATE_EXAMPLES: &str = "Examples:
  catbuild validate                 # every check of a build, writing nothing
  catbuild validate build/ocp-4.16/catalog   # an FBC directory, like `opm validate`";

const TEMPLATE_EXAMPLES: &str = "Examples:
  catbuild template basic catalog-templates/basic.yaml -o yaml
  catbuild template semver catalog-templates/semver.yaml";

const GRAPH_EXAMPLES: &str = "Examples:
  catbuild graph my-operator --format html -o graph.html   # a package of the project's first target
  catbuild graph --target ocp-4.16 --channel stable --format svg -o stable.svg
  catbuild graph build/ocp-4.16/catalog --package-name my-operator   # mermaid, as opm
  catbuild graph build/ocp-4.16/catalog --minimum-edge my-operator.v1.0.0";

const DIFF_EXAMPLES: &str = "Examples:
  catbuild diff ocp-4.16 ocp-4.17               # two targets of the project (their last build)
  catbuild diff old/catalog build/ocp-4.16/catalog --format markdown
  catbuild diff old/catalog new/catalog --json";

const INIT_EXAMPLES: &str = "Examples:
  catbuild init                     # scan the current directory
  catbuild init bundles/ legacy/    # scan these directories
  catbuild init old/index.db        # every package of an opm SQLite index, read from it";

const LIST_EXAMPLES: &str = "Examples:
  catbuild list                     # targets, then packages
  catbuild list packages            # bundle count and patterns of each package";

const MATRIX_EXAMPLES: &str = "Examples:
  catbuild matrix                           # every version target (`openshift` in catalog.toml)
  catbuild matrix --target v4.16,v4.17      # two versions
  catbuild matrix --json";

#[cfg(feature = "serve")]
const SERVE_EXAMPLES: &str = "Examples:
  catbuild serve                                   # the first target's last build, gRPC on 127.0.0.1:50051
  catbuild serve build/ocp-4.16/catalog --http-addr 127.0.0.1:8080
  catbuild serve --target ocp-4.16 --addr 0.0.0.0:50051 --catalog-source cs.yaml --advertise 192.168.1.20:50051";

const COMPLETIONS_EXAMPLES: &str = "Examples:
  catbuild completions bash > ~/.local/share/bash-completion/completions/catbuild
  catbuild completions zsh > ~/.zfunc/_catbuild
  catbuild completions fish > ~/.config/fish/completions/catbuild.fish";

const CLEAN_EXAMPLES: &str = "Examples:
  catbuild clean                    # remove the output directory
  catbuild clean --stale            # only target dirs no target owns, and a killed build's leftovers";

const DEPLOY_EXAMPLES: &str = "Examples:
  catbuild deploy --target ocp-4.16 | kubectl apply -f -
  catbuild build && kubectl apply -k build/ocp-4.16/deploy   # the same, from the build";

const TEMPLATES_EXAMPLES: &str = "Examples:
  catbuild templates list
  catbuild templates show catalogsource > deploy-templates/catalogsource.yaml.j2";

const DOCKERFILE_EXAMPLES: &str = "Examples:
  catbuild dockerfile catalog > build/ocp-4.16/catalog.Dockerfile && docker build -f build/ocp-4.16/catalog.Dockerfile build/ocp-4.16
  catbuild dockerfile catalog --base-image scratch     # binary-less, for grpcPodConfig.extractContent
  catbuild dockerfile index > build/ocp-4.10/index.Dockerfile
  catbuild dockerfile bundle manifests/my-operator/1.0.0 > bundle.Dockerfile";

const TOP_EXAMPLES: &str = "Examples:
  catbuild                          # build every target of catalog.toml
  catbuild validate                 # every check of a build, writing nothing
  catbuild list                     # what a build would make
  catbuild init path/to/repo        # write a catalog.toml for an operator repository";

#[derive(Debug, Parser)]
#[command(name = "catbuild", version = VERSION, about = "Build OLM operator catalogs from catalog.toml", long_about = None, after_help = TOP_EXAMPLES)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    /// Build, then rebuild after every burst of edits until Ctrl-C (= `catbuild build --watch`)
    #[arg(long)]
    watch: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Path of catalog.toml, or its directory (default: the nearest
    /// catalog.toml in this directory or a parent)
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Print nothing but errors
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Print one line per action
    #[arg(short, long, global = true)]
    verbose: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build every target of catalog.toml (the default command)
    #[command(after_help = BUILD_EXAMPLES)]
    Build(build::BuildArgs),
    /// Render bundles and catalogs to FBC, like `opm render`
    #[command(after_help = RENDER_EXAMPLES)]
    Render(opm::RenderArgs),
    /// Write an opm SQLite index (index.db) as an FBC directory, like `opm migrate`
    #[command(after_help = MIGRATE_EXAMPLES)]
    Migrate(opm::MigrateArgs),
    /// Validate the project, or an FBC directory like `opm validate`
    #[command(after_help = VALIDATE_EXAMPLES)]
    Validate(opm::ValidateArgs),
    /// Render an opm basic or semver template file
    #[command(after_help = TEMPLATE_EXAMPLES)]
    Template(opm::TemplateArgs),
    /// Draw upgrade graphs: mermaid (as `opm alpha render-graph`), dot, svg or html
    #[command(after_help = GRAPH_EXAMPLES)]
    Graph(graph::GraphArgs),
    /// Show what changed between two catalogs (exit 1 when they differ)
    #[command(after_help = DIFF_EXAMPLES)]
    Diff(diff::DiffArgs),
    /// Write a catalog.toml for an existing operator repository
    #[command(after_help = INIT_EXAMPLES)]
    Init(init::InitArgs),
    /// Remove the output directory, or with `--stale` what no target owns
    #[command(after_help = CLEAN_EXAMPLES)]
    Clean(clean::CleanArgs),
    /// Show the targets and packages a build would make
    #[command(after_help = LIST_EXAMPLES)]
    List(list::ListArgs),
    /// Print the deployment YAML of targets with `olm` (for `kubectl apply -f -`)
    #[command(after_help = DEPLOY_EXAMPLES)]
    Deploy(deploy::DeployArgs),
    /// Show which OpenShift version's catalog holds which bundle, and why
    #[command(after_help = MATRIX_EXAMPLES)]
    Matrix(matrix::MatrixArgs),
    /// List or show the built-in deploy templates
    #[command(after_help = TEMPLATES_EXAMPLES)]
    Templates(deploy::TemplatesArgs),
    /// Print the Dockerfile opm writes for a catalog, index or bundle image
    #[command(after_help = DOCKERFILE_EXAMPLES)]
    Dockerfile(dockerfile::DockerfileArgs),
    /// Serve a catalog: OLM's registry gRPC API, and catalogd's HTTP API with --http-addr
    #[cfg(feature = "serve")]
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(serve::ServeArgs),
    /// Print a shell completion script
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: CompletionShell,
}

/// The shells `catbuild completions` writes for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// `catbuild completions SHELL`: the script, generated from the parser's own
/// definition, on stdout.
fn completions(args: &CompletionsArgs) -> CommandResult {
    let shell = match args.shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "catbuild", &mut script);
    print_stdout(&String::from_utf8_lossy(&script))
}

/// Runs catbuild with `args` (the first is the program name) and returns
/// the process exit code. Holds no global state, so it can run twice.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    let result = std::panic::catch_unwind(|| dispatch(cli));
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(failure)) => {
            report_failure(&failure);
            ExitCode::from(failure.code())
        }
        Err(_) => {
            eprintln!(
                "error: internal error in catbuild {} (this is a bug; please report it with the command you ran)",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> CommandResult {
    match cli.command {
        None => build::run(&cli.global, &build::BuildArgs::watching(cli.watch)),
        Some(Command::Build(args)) => build::run(&cli.global, &args),
        Some(Command::Render(args)) => opm::render(&cli.global, &args),
        Some(Command::Migrate(args)) => opm::migrate(&args),
        Some(Command::Validate(args)) => opm::validate(&cli.global, &args),
        Some(Command::Template(args)) => opm::template(&args),
        Some(Command::Graph(args)) => graph::run(&cli.global, &args),
        Some(Command::Diff(args)) => diff::run(&cli.global, &args),
        Some(Command::Init(args)) => init::run(&cli.global, &args),
        Some(Command::Clean(args)) => clean::run(&cli.global, &args),
        Some(Command::List(args)) => list::run(&cli.global, &args),
        Some(Command::Deploy(args)) => deploy::run(&cli.global, &args),
        Some(Command::Matrix(args)) => matrix::run(&cli.global, &args),
        Some(Command::Templates(args)) => deploy::templates(&args),
        Some(Command::Dockerfile(args)) => dockerfile::run(&args),
        #[cfg(feature = "serve")]
        Some(Command::Serve(args)) => serve::run(&cli.global, &args),
        Some(Command::Completions(args)) => completions(&args),
    }
}

fn report_failure(failure: &Failure) {
    match failure {
        Failure::Input(diagnostics) => print_diagnostics(diagnostics),
        Failure::InputLimited(diagnostics, cap) => print_diagnostics_within(diagnostics, *cap),
        Failure::InputMessage(message) | Failure::Other(message) => eprintln!("error: {message}"),
        Failure::Differs => {}
    }
}

/// Prints diagnostics to stderr, sorted, then the verdict line.
pub fn print_diagnostics(diagnostics: &[Diagnostic]) {
    print_diagnostics_within(diagnostics, crate::input::MAX_DIAGNOSTICS);
}

/// [`print_diagnostics`], showing the first `cap` and counting the rest in
/// one line: a broken catalog of 7,000 bundles gives a report a person can
/// read, in time linear in what is shown.
fn print_diagnostics_within(diagnostics: &[Diagnostic], cap: usize) {
    let mut sorted = diagnostics.to_vec();
    crate::diag::dedupe(&mut sorted);
    crate::diag::sort(&mut sorted);
    let base = std::env::current_dir().unwrap_or_default();
    let color = use_color();
    let shown = &sorted[..sorted.len().min(cap)];
    // The quoted source is read like any input: a FIFO or device named by
    // a diagnostic is not opened for its snippet.
    let text = crate::diag::render(shown, &base, color, &|path| crate::input::read_to_string(path).ok());
    eprint!("{text}");
    let n_hidden = sorted.len() - shown.len();
    if n_hidden > 0 {
        eprintln!(
            "note: {n_hidden} more diagnostic{} not shown (the first {cap} are; raise `diagnostics` under [limits] in catalog.toml to see more)",
            if n_hidden == 1 { " is" } else { "s are" }
        );
    }
    let n_errors = sorted.iter().filter(|diagnostic| diagnostic.is_error()).count();
    // True by construction: input errors are all found before the output
    // directory is touched; failures while writing are `Failure::Other`.
    if n_errors > 0 {
        let plural = if n_errors == 1 { "" } else { "s" };
        eprintln!("error: found {n_errors} problem{plural}; nothing was written");
    }
}

/// Colour only on a terminal, and never with `NO_COLOR` set.
fn use_color() -> bool {
    use std::io::IsTerminal as _;
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

/// Writes to stdout; a closed pipe is not an error (`catbuild render | head`).
fn print_stdout(text: &str) -> CommandResult {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(Failure::Other(format!("cannot write to stdout: {error}"))),
    }
}
