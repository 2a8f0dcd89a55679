//! `catbuild --watch` (and `catbuild build --watch`): build, then rebuild
//! after every burst of edits until Ctrl-C.
//!
//! The project directory is watched recursively (notify: inotify on
//! Linux). Events are hints, not facts (rust-analyzer's vfs-notify says as
//! much of its own): a burst is over once 200 ms pass without a relevant
//! event, and then the whole pipeline runs again, which re-reads
//! `catalog.toml` (so a change there re-plans). Relevant: `catalog.toml`
//! and what it names ([`Inputs`]). Not relevant: reads (access events),
//! anything under the output directory (the build's own writes), `.git/`,
//! the action cache, editor swap and backup files (`*.swp`, `*.swx`,
//! `*~`, vim's `4913` probe, emacs' `.#*` locks), and other files of the
//! project.
//!
//! Runs never overlap: edits made during a run wait in the channel and
//! make exactly one more run. A run that fails prints its diagnostics and
//! leaves the last good output as it was (`output::Publication` swaps a
//! target in only when every package passed); the watch goes on.
//!
//! Ctrl-C (or SIGTERM) ends the watch with exit 0 once the current run is
//! over; a second Ctrl-C exits at once (130), and the next build removes
//! whatever temp dirs the interrupted one left. The signal handler is the
//! one process-wide thing here: `ctrlc` installs it once per process, and
//! it sends to the channel of the watch that is running (`QUIT`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher as _};

use super::build::BuildArgs;
use super::{CommandResult, Failure, GlobalArgs, display_path};

/// How long the tree must stay quiet before a burst of edits is over.
const DEBOUNCE: Duration = Duration::from_millis(200);

enum Message {
    Fs(notify::Result<notify::Event>),
    Quit,
}

/// The running watch's channel, for the Ctrl-C handler.
static QUIT: Mutex<Option<Sender<Message>>> = Mutex::new(None);
/// Whether the handler could be installed (once per process).
static HANDLER: OnceLock<Result<(), String>> = OnceLock::new();
/// Ctrl-C presses so far: the second one does not wait for the run.
static PRESSES: AtomicUsize = AtomicUsize::new(0);

pub(super) fn run(global: &GlobalArgs, args: &BuildArgs) -> CommandResult {
    run_with(global, args, &mut |_| {})
}

/// [`run`], telling `after_build` whether each build passed, before the
/// watch waits for the next edit (`serve --watch` swaps the new catalog in).
pub(super) fn run_with(global: &GlobalArgs, args: &BuildArgs, after_build: &mut dyn FnMut(bool)) -> CommandResult {
    let cwd = std::env::current_dir().map_err(|error| Failure::Other(format!("cannot read the current directory: {error}")))?;
    let config_path = crate::config::find(global.config.as_deref(), &cwd).map_err(Failure::Input)?;
    let root = config_path.parent().map_or_else(|| cwd.clone(), Path::to_path_buf);
    let (sender, receiver) = mpsc::channel();
    on_ctrl_c(sender.clone())?;
    let events = sender;
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = events.send(Message::Fs(event));
    })
    .map_err(|error| Failure::Other(format!("cannot watch `{}`: {error}", display_path(&root).display())))?;
    watcher
        .watch(&root, RecursiveMode::Recursive)
        .map_err(|error| Failure::Other(format!("cannot watch `{}`: {error}", display_path(&root).display())))?;

    let mut inputs = Inputs::new(&root, &config_path);
    let mut last_failed = false;
    loop {
        // The output directory of this run's catalog.toml (which may have
        // just changed); a broken one keeps the last known.
        if let Ok(config) = crate::config::load(&config_path) {
            let output_dir = args
                .out
                .as_ref()
                .map_or_else(|| config.catalog.output_dir.clone(), |out| cwd.join(out));
            let settings = crate::pipeline::CacheSettings {
                dir: args.cache_dir.as_ref().map(|dir| cwd.join(dir)),
                ..crate::pipeline::CacheSettings::default()
            };
            let cache_dir = crate::pipeline::cache_dir(&config, &settings, &output_dir);
            inputs.update(&config, output_dir, cache_dir);
        }
        let result = super::build::build_once(global, args);
        match &result {
            Ok(()) if last_failed && !global.quiet => eprintln!("Recovered: the build passes again"),
            Ok(()) => {}
            Err(failure) => super::report_failure(failure),
        }
        last_failed = result.is_err();
        after_build(result.is_ok());
        if !global.quiet {
            eprintln!("Watching `{}` for changes (Ctrl-C to stop)", display_path(&root).display());
        }
        match wait_for_change(&receiver, &inputs) {
            Some(changed) => {
                if !global.quiet {
                    eprintln!("Changed: `{}`", display_path(&changed).display());
                }
            }
            None => break,
        }
    }
    if let Ok(mut quit) = QUIT.lock() {
        *quit = None;
    }
    if !global.quiet {
        eprintln!("Stopped watching");
    }
    Ok(())
}

/// Points the Ctrl-C handler at this watch's channel, installing it the
/// first time.
fn on_ctrl_c(sender: Sender<Message>) -> Result<(), Failure> {
    if let Ok(mut quit) = QUIT.lock() {
        *quit = Some(sender);
    }
    PRESSES.store(0, Ordering::SeqCst);
    HANDLER
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                if PRESSES.fetch_add(1, Ordering::SeqCst) > 0 {
                    std::process::exit(130);
                }
                if let Ok(quit) = QUIT.lock()
                    && let Some(sender) = quit.as_ref()
                {
                    let _ = sender.send(Message::Quit);
                }
            })
            .map_err(|error| error.to_string())
        })
        .clone()
        .map_err(|error| Failure::Other(format!("cannot handle Ctrl-C: {error}")))
}

/// Waits for a relevant change, then for the burst it starts to end;
/// returns the first path changed, or `None` on Ctrl-C.
fn wait_for_change(receiver: &Receiver<Message>, inputs: &Inputs) -> Option<PathBuf> {
    let mut first = None;
    let mut deadline: Option<Instant> = None;
    loop {
        let message = match deadline {
            None => receiver.recv().ok()?,
            Some(deadline) => match receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(message) => message,
                Err(RecvTimeoutError::Timeout) => return first,
                Err(RecvTimeoutError::Disconnected) => return None,
            },
        };
        match message {
            Message::Quit => return None,
            Message::Fs(Err(error)) => eprintln!("warning: watching files: {error}"),
            Message::Fs(Ok(event)) => {
                if let Some(path) = inputs.relevant(&event) {
                    first.get_or_insert(path);
                    deadline = Some(Instant::now() + DEBOUNCE);
                }
            }
        }
    }
}

/// Which changed paths may change the build: `catalog.toml`,
/// `catalog.lock`, and what lies under the fixed part of a pattern or
/// path the catalog names (`manifests/` of `manifests/*/*`, icons, index
/// files, templates, base image layouts); never the output directory,
/// `.git/` or an editor's swap file. Anything else in the project (a log
/// written beside it, say) starts no build.
struct Inputs {
    root: PathBuf,
    config_path: PathBuf,
    output_dir: PathBuf,
    /// The action cache, wherever it is.
    cache_dir: PathBuf,
    /// Files and directories whose contents are read.
    read: Vec<PathBuf>,
}

impl Inputs {
    fn new(root: &Path, config_path: &Path) -> Inputs {
        Inputs {
            root: root.to_path_buf(),
            config_path: config_path.to_path_buf(),
            output_dir: root.join("build"),
            cache_dir: root.join("build/.cache"),
            read: Vec::new(),
        }
    }

    /// What `config` reads, besides catalog.toml.
    fn update(&mut self, config: &crate::config::Config, output_dir: PathBuf, cache_dir: PathBuf) {
        let root = &config.root;
        let mut read = vec![root.join(crate::pipeline::LOCK_FILE)];
        for package in &config.packages {
            for pattern in package.bundles.iter().chain(&package.package_manifests) {
                read.push(root.join(fixed_prefix(&pattern.value)));
            }
            read.extend(package.icon.iter().map(|icon| root.join(&icon.value)));
            read.extend(package.index_db.iter().map(|index| root.join(&index.value)));
        }
        read.extend(config.catalog.icon.iter().map(|icon| root.join(&icon.value)));
        read.extend(config.catalog.deploy_templates.iter().map(|dir| root.join(&dir.value)));
        for target in &config.targets {
            if let crate::config::BaseImage::Layout { dir, .. } = &target.base_image {
                read.push(root.join(dir));
            }
        }
        read.extend(config.images.ca_file.iter().cloned());
        read.sort();
        read.dedup();
        self.read = read;
        self.output_dir = output_dir;
        self.cache_dir = cache_dir;
    }

    /// The first path of `event` that may change the build, if any.
    fn relevant(&self, event: &notify::Event) -> Option<PathBuf> {
        if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
            return None;
        }
        event.paths.iter().find(|path| self.is_input(path)).cloned()
    }

    fn is_input(&self, path: &Path) -> bool {
        if path.starts_with(&self.output_dir) || path.starts_with(&self.cache_dir) {
            return false;
        }
        let inside = path.strip_prefix(&self.root).unwrap_or(path);
        if inside.components().any(|component| component.as_os_str() == ".git") {
            return false;
        }
        let name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
        if is_editor_file(&name) {
            return false;
        }
        path == self.config_path
            || self
                .read
                .iter()
                // Under an input, or a directory above one (moved or removed whole).
                .any(|input| path.starts_with(input) || (input.starts_with(path) && path != self.root))
    }
}

/// The directories of a glob pattern before its first wildcard:
/// `manifests` of `manifests/*/[0-9]*`.
fn fixed_prefix(pattern: &str) -> PathBuf {
    Path::new(pattern)
        .components()
        .take_while(|component| !component.as_os_str().to_string_lossy().contains(['*', '?', '[', '{']))
        .collect()
}

/// Swap, backup and lock files editors write beside the file being edited.
fn is_editor_file(name: &str) -> bool {
    name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".swo")
        || name.ends_with('~')
        || name == "4913"
        || name.starts_with(".#")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn swap_files_git_output_reads_and_other_files_start_no_build() {
        let mut inputs = Inputs::new(Path::new("/p"), Path::new("/p/catalog.toml"));
        inputs.read = vec![PathBuf::from("/p/manifests"), PathBuf::from("/p/icon.svg")];
        let modify = EventKind::Modify(notify::event::ModifyKind::Any);
        for ignored in [
            "/p/manifests/x/.x.csv.yaml.swp",
            "/p/manifests/x/x.csv.yaml~",
            "/p/manifests/x/4913",
            "/p/manifests/x/.#x.csv.yaml",
            "/p/manifests/.git/index",
            "/p/build/ocp-4.16/catalog/x/catalog.json",
            "/p/build/.catbuild.lock",
            "/p/watch.log",
            "/p/manifests-old/x.yaml",
            "/p",
        ] {
            assert_eq!(inputs.relevant(&event(modify, ignored)), None, "{ignored}");
        }
        let read = EventKind::Access(notify::event::AccessKind::Open(notify::event::AccessMode::Any));
        assert_eq!(inputs.relevant(&event(read, "/p/catalog.toml")), None);
        for relevant in [
            "/p/catalog.toml",
            "/p/manifests/x/1.0.0/manifests/x.csv.yaml",
            "/p/icon.svg",
            "/p/manifests",
        ] {
            assert_eq!(inputs.relevant(&event(modify, relevant)), Some(PathBuf::from(relevant)));
        }
        let created = EventKind::Create(notify::event::CreateKind::File);
        assert!(
            inputs
                .relevant(&event(created, "/p/manifests/y/1.0.0/metadata/annotations.yaml"))
                .is_some()
        );
    }

    #[test]
    fn a_patterns_fixed_prefix_is_what_comes_before_its_first_wildcard() {
        assert_eq!(fixed_prefix("manifests/*/[0-9]*"), Path::new("manifests"));
        assert_eq!(fixed_prefix("operators/foo/bundles/*"), Path::new("operators/foo/bundles"));
        assert_eq!(fixed_prefix("**/bundle"), Path::new(""));
        assert_eq!(fixed_prefix("bundles/v{1,2}/*"), Path::new("bundles"));
    }
}
