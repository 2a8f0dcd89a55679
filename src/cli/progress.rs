//! How a build's progress is drawn: [`CliReporter`] turns the pipeline's
//! [`Reporter`] events into `--timings` totals, `-v` lines, a status line
//! on a terminal, a plain line now and then elsewhere, and `--json` events.
//!
//! `--json` writes one JSON object per line to stdout (data, which a CI job
//! or an editor pipes; people read stderr, which keeps its usual text):
//! `{"type": T, "data": {...}}` with `T` one of `plan`, `action-start`,
//! `action-finish`, `diagnostic` and `summary` (docs/progress.md lists
//! the fields). Events of parallel actions come in the order they happen;
//! diagnostics and the summary come last, sorted as on stderr.
//!
//! The status line is drawn only when stderr is a terminal whose `TERM` is
//! not `dumb`, and not with `-q`, `-v`, `CI` or `CATBUILD_NO_PROGRESS` set
//! (ninja's "smart terminal" rule); it is erased before anything else is
//! printed. Elsewhere a long build prints a plain progress line every few
//! seconds, so a CI log shows it is alive, and a short one prints nothing.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cache::remote::RemoteEvent;
use crate::diag::{Diagnostic, Severity};
use crate::pipeline::{Action, Cached, Planned, Reporter, Stage};

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often the terminal's status line is redrawn at most.
const STATUS_EVERY: Duration = Duration::from_millis(80);

/// What the person asked to see.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct View {
    /// `-q`: nothing on stderr but errors.
    pub quiet: bool,
    /// `-v`: one line per finished action.
    pub verbose: bool,
    /// `--json`: events on stdout.
    pub json: bool,
    /// `--explain`: why each action ran, on stderr.
    pub explain: bool,
}

/// Draws the pipeline's progress for a person, or as `--json` events.
pub(super) struct CliReporter {
    view: View,
    /// A status line on stderr (a terminal); otherwise plain lines now and then.
    status_line: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Per stage, the wall time during which some package was in it:
    /// packages run in parallel, and a sum of their times would count the
    /// same second once per package in flight.
    stage_totals: BTreeMap<Stage, Duration>,
    /// Per stage, how many runs of it are going on and since when one has.
    stage_running: BTreeMap<Stage, (usize, Instant)>,
    planned: Planned,
    bundles_loaded: usize,
    packages_encoded: usize,
    /// Actions the cache answered for, and actions that ran.
    hits: usize,
    ran: usize,
    /// Hits that came from the shared cache (`--cache-from`).
    remote_hits: usize,
    /// When the status line or the last plain line was drawn.
    last_drawn: Option<Instant>,
    started: Option<Instant>,
    /// Whether a status line is on screen (to erase it).
    drawn: bool,
}

impl CliReporter {
    pub(super) fn new(view: View) -> CliReporter {
        CliReporter {
            view,
            status_line: !view.quiet && !view.verbose && smart_terminal(),
            state: Mutex::new(State {
                started: Some(Instant::now()),
                ..State::default()
            }),
        }
    }

    /// Stages in pipeline order, those that ran.
    pub(super) fn print_timings(&self) {
        self.clear_status();
        let totals = self.state.lock().map(|state| state.stage_totals.clone()).unwrap_or_default();
        for (stage, duration) in totals {
            eprintln!("{:>9} {:8.3}s", stage.name(), duration.as_secs_f64());
        }
    }

    /// Per-stage totals so far, in seconds.
    fn stage_seconds(&self) -> Value {
        let totals = self.state.lock().map(|state| state.stage_totals.clone()).unwrap_or_default();
        let map: serde_json::Map<String, Value> = totals
            .into_iter()
            .map(|(stage, duration)| (stage.name().to_string(), json!(round_ms(duration))))
            .collect();
        Value::Object(map)
    }

    /// Erases the status line, if one is drawn, so that what comes next
    /// starts on a clean line.
    pub(super) fn clear_status(&self) {
        if !self.status_line {
            return;
        }
        if let Ok(mut state) = self.state.lock()
            && state.drawn
        {
            eprint!("\r\x1b[K");
            state.drawn = false;
        }
    }

    /// `--json`: the diagnostics, sorted as stderr shows them, the first
    /// `cap` of them (`[limits] diagnostics`, as on stderr) and then one
    /// `diagnostics-hidden` event counting the rest.
    pub(super) fn json_diagnostics(&self, diagnostics: &[Diagnostic], cap: usize) {
        if !self.view.json {
            return;
        }
        let mut sorted = diagnostics.to_vec();
        crate::diag::dedupe(&mut sorted);
        crate::diag::sort(&mut sorted);
        let base = std::env::current_dir().unwrap_or_default();
        let shown = &sorted[..sorted.len().min(cap)];
        for diagnostic in shown {
            emit("diagnostic", diagnostic_json(diagnostic, &base));
        }
        let n_hidden = sorted.len() - shown.len();
        if n_hidden > 0 {
            let n_errors = sorted[shown.len()..].iter().filter(|diagnostic| diagnostic.is_error()).count();
            emit(
                "diagnostics-hidden",
                json!({
                    "shown": shown.len(),
                    "hidden": n_hidden,
                    "hidden_errors": n_errors,
                    "hidden_warnings": n_hidden - n_errors,
                    "message": format!(
                        "{n_hidden} more diagnostic{} not shown (the first {cap} are; raise `diagnostics` under [limits] in catalog.toml to see more)",
                        if n_hidden == 1 { " is" } else { "s are" }
                    ),
                }),
            );
        }
    }

    /// `--json`: the last event of a run. `data` is what the command adds
    /// (targets, exit code); timings and action counts are added here.
    pub(super) fn json_summary(&self, mut data: serde_json::Map<String, Value>, elapsed: Duration) {
        if !self.view.json {
            return;
        }
        data.insert("duration_ms".into(), json!(round_ms(elapsed)));
        let (hits, ran, remote) = self
            .state
            .lock()
            .map(|state| (state.hits, state.ran, state.remote_hits))
            .unwrap_or_default();
        data.insert("actions".into(), json!({ "cached": hits, "ran": ran, "remote": remote }));
        data.insert("stages_ms".into(), self.stage_seconds());
        emit("summary", Value::Object(data));
    }

    fn progress(&self, state: &mut State) {
        let now = Instant::now();
        let due = if self.status_line { STATUS_EVERY } else { PLAIN_EVERY };
        let since = state.last_drawn.or(state.started).unwrap_or(now);
        if self.view.quiet || self.view.verbose || now.duration_since(since) < due {
            return;
        }
        state.last_drawn = Some(now);
        let elapsed = state.started.map_or(0.0, |started| now.duration_since(started).as_secs_f64());
        let text = format!(
            "{}/{} bundles loaded, {}/{} packages encoded, {elapsed:.0}s",
            state.bundles_loaded, state.planned.bundle_dirs, state.packages_encoded, state.planned.package_targets
        );
        if self.status_line {
            eprint!("\r\x1b[K  {text}");
            state.drawn = true;
        } else {
            eprintln!("  {text}");
        }
    }
}

impl Reporter for CliReporter {
    fn planned(&self, planned: &Planned) {
        if let Ok(mut state) = self.state.lock() {
            state.planned = planned.clone();
        }
        if self.view.json {
            emit(
                "plan",
                json!({
                    "targets": planned.targets,
                    "packages": planned.packages,
                    "package_targets": planned.package_targets,
                    "bundle_dirs": planned.bundle_dirs,
                }),
            );
        }
    }

    fn stage_started(&self, stage: Stage) {
        if let Ok(mut state) = self.state.lock() {
            let running = state.stage_running.entry(stage).or_insert((0, Instant::now()));
            if running.0 == 0 {
                running.1 = Instant::now();
            }
            running.0 += 1;
        }
    }

    fn stage_finished(&self, stage: Stage, _elapsed: Duration) {
        if let Ok(mut state) = self.state.lock() {
            let Some(running) = state.stage_running.get_mut(&stage) else {
                return;
            };
            running.0 = running.0.saturating_sub(1);
            if running.0 == 0 {
                let since = running.1.elapsed();
                *state.stage_totals.entry(stage).or_default() += since;
            }
        }
    }

    fn action_started(&self, action: &Action) {
        if self.view.json {
            emit("action-start", action_json(action, None));
        }
    }

    fn action_finished(&self, action: &Action, elapsed: Duration, cached: &Cached) {
        if self.view.json {
            let mut data = action_json(action, Some(elapsed));
            if let Some(fields) = data.as_object_mut() {
                fields.insert("cache".into(), json!(cached.name()));
                match cached {
                    Cached::Miss(reason) => {
                        fields.insert("reason".into(), json!(reason));
                    }
                    Cached::Hit => {
                        fields.insert("from".into(), json!("local"));
                    }
                    Cached::Remote(source) => {
                        fields.insert("from".into(), json!("remote"));
                        fields.insert("source".into(), json!(source));
                    }
                    Cached::Off => {}
                }
            }
            emit("action-finish", data);
        }
        if let Ok(mut state) = self.state.lock() {
            if cached.is_hit() {
                state.hits += 1;
                if let Cached::Remote(_) = cached {
                    state.remote_hits += 1;
                }
            } else {
                state.ran += 1;
            }
            match action {
                Action::LoadBundle { .. } => state.bundles_loaded += 1,
                Action::EncodePackage { .. } => state.packages_encoded += 1,
                Action::UpToDate { .. } => {}
            }
            self.progress(&mut state);
        }
        if self.view.quiet {
            return;
        }
        if self.view.verbose {
            let seconds = elapsed.as_secs_f64();
            let how = match cached {
                Cached::Hit => "from the cache".to_string(),
                Cached::Remote(source) => format!("from the shared cache `{source}`"),
                _ => format!("in {seconds:.3}s"),
            };
            match action {
                Action::LoadBundle { dir, .. } => eprintln!("  loaded {} {how}", dir.display()),
                Action::EncodePackage { target, package } => eprintln!("  encoded {target}/{package} {how}"),
                Action::UpToDate { out_dir } => eprintln!("  `{}` is up to date: no input changed", out_dir.display()),
            }
        }
        let reason = match cached {
            Cached::Miss(reason) => Some(reason.clone()),
            // Where an entry came from, when not from this machine.
            Cached::Remote(source) => Some(format!("from the shared cache `{source}`")),
            _ => None,
        };
        if self.view.explain
            && let Some(reason) = reason
        {
            self.clear_status();
            match action {
                Action::LoadBundle { dir, .. } => eprintln!("  load `{}`: {reason}", dir.display()),
                Action::EncodePackage { target, package } => eprintln!("  encode `{package}` in `{target}`: {reason}"),
                Action::UpToDate { .. } => {}
            }
        }
    }

    fn remote_cache(&self, event: &RemoteEvent) {
        if self.view.json {
            emit("remote-cache", remote_json(event));
        }
        if self.view.quiet {
            return;
        }
        self.clear_status();
        match event {
            RemoteEvent::Imported {
                reference,
                entries,
                loaded,
            } => {
                if self.view.verbose {
                    eprintln!("  shared cache `{reference}`: {entries} entries, {loaded} loaded bundles");
                }
            }
            RemoteEvent::Unavailable { reference, message } => {
                eprintln!("warning: shared cache `{reference}` not used: {message}");
            }
            RemoteEvent::Refused {
                reference,
                digest,
                message,
            } => {
                eprintln!("warning: shared cache `{reference}`: {digest} refused ({message}); its action runs instead");
            }
            RemoteEvent::Exported {
                reference,
                entries,
                uploaded,
                bytes_uploaded,
                present,
                mounted,
                unchanged,
                ..
            } => {
                if *unchanged {
                    eprintln!("Shared cache `{reference}` already up to date ({entries} entries)");
                } else {
                    eprintln!(
                        "Exported the shared cache to `{reference}`: {entries} entries, {uploaded} blobs uploaded ({bytes_uploaded} bytes), {present} already there, {mounted} mounted"
                    );
                }
            }
            RemoteEvent::ExportFailed { reference, message } => {
                eprintln!("warning: shared cache `{reference}` not written: {message}");
            }
            RemoteEvent::ExportSkipped { reference, reason } => {
                eprintln!("note: shared cache `{reference}` not written: {reason}");
            }
        }
    }
}

/// Whether stderr can take a status line that is redrawn in place.
fn smart_terminal() -> bool {
    use std::io::IsTerminal as _;
    let set = |name: &str| std::env::var_os(name).is_some_and(|value| !value.is_empty());
    std::io::stderr().is_terminal() && std::env::var("TERM").is_ok_and(|term| term != "dumb") && !set("CI") && !set("CATBUILD_NO_PROGRESS")
}

/// One line of `--json` on stdout. A closed pipe is not the build's
/// problem: the event is dropped.
fn emit(kind: &str, data: Value) {
    // `type` first, for people who read the lines too (serde_json's maps
    // sort their keys).
    let line = format!("{{\"type\":{},\"data\":{data}}}", json!(kind));
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

fn round_ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn action_json(action: &Action, elapsed: Option<Duration>) -> Value {
    let mut data = json!({
        "action": action.kind(),
        "stage": action.stage().name(),
    });
    let fields = data.as_object_mut().expect("an object");
    match action {
        Action::LoadBundle { package, dir } => {
            fields.insert("package".into(), json!(package));
            fields.insert("bundle".into(), json!(path_text(dir)));
        }
        Action::EncodePackage { target, package } => {
            fields.insert("target".into(), json!(target));
            fields.insert("package".into(), json!(package));
        }
        Action::UpToDate { out_dir } => {
            fields.insert("output".into(), json!(path_text(out_dir)));
        }
    }
    if let Some(elapsed) = elapsed {
        fields.insert("duration_ms".into(), json!(round_ms(elapsed)));
    }
    data
}

/// A shared cache event as `--json` data: `event` says which.
fn remote_json(event: &RemoteEvent) -> Value {
    match event {
        RemoteEvent::Imported {
            reference,
            entries,
            loaded,
        } => json!({ "event": "import", "ref": reference, "entries": entries, "loaded": loaded }),
        RemoteEvent::Unavailable { reference, message } => json!({ "event": "unavailable", "ref": reference, "message": message }),
        RemoteEvent::Refused {
            reference,
            digest,
            message,
        } => json!({ "event": "refused", "ref": reference, "digest": digest, "message": message }),
        RemoteEvent::Exported {
            reference,
            entries,
            blobs,
            uploaded,
            bytes_uploaded,
            present,
            mounted,
            unchanged,
        } => json!({
            "event": "export",
            "ref": reference,
            "entries": entries,
            "blobs": blobs,
            "uploaded": uploaded,
            "bytes_uploaded": bytes_uploaded,
            "present": present,
            "mounted": mounted,
            "unchanged": unchanged,
        }),
        RemoteEvent::ExportFailed { reference, message } => json!({ "event": "export-failed", "ref": reference, "message": message }),
        RemoteEvent::ExportSkipped { reference, reason } => json!({ "event": "export-skipped", "ref": reference, "reason": reason }),
    }
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A diagnostic as data: where (relative to the current directory, with
/// line and column when known), what, and the help and notes.
fn diagnostic_json(diagnostic: &Diagnostic, base: &Path) -> Value {
    let severity = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut data = json!({
        "severity": severity,
        "code": diagnostic.code,
        "message": diagnostic.message,
    });
    let fields = data.as_object_mut().expect("an object");
    if let Some(location) = &diagnostic.location {
        fields.insert("file".into(), json!(crate::diag::display_path(&location.path, base)));
        let line_col = match (&location.span, location.line) {
            (Some(span), _) => fs_err::read_to_string(&location.path)
                .ok()
                .filter(|text| text.is_char_boundary(span.start.min(text.len())))
                .map(|text| {
                    let (line, column) = crate::diag::line_col(&text, span.start);
                    (line, Some(column))
                }),
            (None, Some(line)) => Some((line, None)),
            (None, None) => None,
        };
        if let Some((line, column)) = line_col {
            fields.insert("line".into(), json!(line));
            if let Some(column) = column {
                fields.insert("column".into(), json!(column));
            }
        }
    }
    if let Some(label) = &diagnostic.label {
        fields.insert("label".into(), json!(label));
    }
    fields.insert("help".into(), json!(diagnostic.help));
    fields.insert("notes".into(), json!(diagnostic.notes));
    if diagnostic.n_caused > 0 {
        fields.insert("caused".into(), json!(diagnostic.n_caused));
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two packages loading at once for 60 ms are 60 ms of loading, not
    /// 120: the total is wall time while some package is in the stage.
    #[test]
    fn overlapping_runs_of_a_stage_count_their_wall_time_once() {
        let reporter = CliReporter::new(View {
            quiet: true,
            verbose: false,
            json: false,
            explain: false,
        });
        let pause = Duration::from_millis(60);
        reporter.stage_started(Stage::Load);
        reporter.stage_started(Stage::Load);
        std::thread::sleep(pause);
        reporter.stage_finished(Stage::Load, pause);
        reporter.stage_finished(Stage::Load, pause);
        // A later run after a gap adds its own time, not the gap.
        std::thread::sleep(pause);
        reporter.stage_started(Stage::Load);
        std::thread::sleep(pause);
        reporter.stage_finished(Stage::Load, pause);
        let total = reporter.state.lock().unwrap().stage_totals[&Stage::Load];
        assert!(total >= 2 * pause, "{total:?}");
        assert!(total < 3 * pause, "counted overlapping runs twice or the gap: {total:?}");
    }
}
