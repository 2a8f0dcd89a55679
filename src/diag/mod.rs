//! Diagnostics: what went wrong, where, and how to fix it.
//!
//! Loaders and checks push [`Diagnostic`]s and keep going, so one run reports
//! every problem (STYLE 3.1). A diagnostic is plain data: a severity, a
//! stable code, a message, an optional location (file plus byte span or
//! line) and `help:`/`note:` lines. Only [`render`] turns it into text, with
//! annotate-snippets, rustc style: `error[code]: message`, then
//! `--> file:line:col`, the source line and a caret.

mod go_text;

use std::ops::Range;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

pub use go_text::explain_go_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// Where a diagnostic points: a file, and a byte span or a 1-based line in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub span: Option<Range<usize>>,
    pub line: Option<usize>,
}

impl Location {
    pub fn file(path: &Path) -> Location {
        Location {
            path: path.to_path_buf(),
            span: None,
            line: None,
        }
    }

    pub fn span(path: &Path, span: Range<usize>) -> Location {
        Location {
            path: path.to_path_buf(),
            span: Some(span),
            line: None,
        }
    }

    pub fn line(path: &Path, line: usize) -> Location {
        Location {
            path: path.to_path_buf(),
            span: None,
            line: Some(line),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable identifier, e.g. `config`, `yaml`, `graph`.
    pub code: &'static str,
    pub message: String,
    pub location: Option<Location>,
    /// Label shown next to the caret.
    pub label: Option<String>,
    pub help: Vec<String>,
    pub notes: Vec<String>,
    /// Follow-on problems folded into this one: not reported on their own,
    /// counted in a last note ("and 3 more problems caused by this").
    pub n_caused: usize,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: None,
            label: None,
            help: Vec::new(),
            notes: Vec::new(),
            n_caused: 0,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, location: Location) -> Diagnostic {
        self.location = Some(location);
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help.push(help.into());
        self
    }

    /// Adds a `help:` line to a diagnostic held by reference.
    pub fn add_help(&mut self, help: impl Into<String>) -> &mut Diagnostic {
        self.help.push(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Folds follow-on problems into this one: they count in its last note
    /// instead of being reported (each with what it caused itself).
    pub fn fold(&mut self, follow_ons: &[Diagnostic]) {
        self.n_caused += follow_ons.iter().map(|follow_on| 1 + follow_on.n_caused).sum::<usize>();
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Sort key: file, then position, then message (STYLE 6.6).
    fn sort_key(&self) -> (Option<&Path>, usize, usize, &str) {
        match &self.location {
            None => (None, 0, 0, &self.message),
            Some(location) => (
                Some(location.path.as_path()),
                location.line.unwrap_or(0),
                location.span.as_ref().map_or(0, |span| span.start),
                &self.message,
            ),
        }
    }
}

/// Drops repeats, keeping the first of equal diagnostics: a problem of a
/// package or bundle found once per target is one problem.
pub fn dedupe(diagnostics: &mut Vec<Diagnostic>) {
    let mut kept: Vec<Diagnostic> = Vec::with_capacity(diagnostics.len());
    for diagnostic in diagnostics.drain(..) {
        if !kept.contains(&diagnostic) {
            kept.push(diagnostic);
        }
    }
    *diagnostics = kept;
}

/// Sorts diagnostics into a stable order, independent of thread timing.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|left, right| left.sort_key().cmp(&right.sort_key()));
}

/// Renders diagnostics as text. `read_source` returns a file's text for the
/// snippet (None: show the location without source). Paths are shown
/// relative to `base` when under it.
pub fn render(diagnostics: &[Diagnostic], base: &Path, color: bool, read_source: &dyn Fn(&Path) -> Option<String>) -> String {
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    // Each file is read and indexed by line once, whatever the number of
    // diagnostics in it, and each diagnostic renders only the lines it
    // points at: N problems in one big file cost N small snippets, not N
    // copies of the file.
    let mut sources: std::collections::HashMap<PathBuf, Option<Source>> = std::collections::HashMap::new();
    let mut out = String::new();
    for diagnostic in diagnostics {
        // A location without a span or line quotes nothing: its file is
        // not read (it may be the 200 MB file the diagnostic is about).
        let quoted = diagnostic
            .location
            .as_ref()
            .filter(|location| location.span.is_some() || location.line.is_some());
        let source = quoted.and_then(|location| {
            sources
                .entry(location.path.clone())
                .or_insert_with(|| read_source(&location.path).map(Source::new))
                .as_ref()
        });
        out.push_str(&render_one(diagnostic, base, &renderer, source));
        out.push('\n');
    }
    out
}

/// A quoted file's text and where its lines start.
struct Source {
    text: String,
    line_starts: Vec<usize>,
}

impl Source {
    fn new(text: String) -> Source {
        let line_starts = std::iter::once(0)
            .chain(text.bytes().enumerate().filter(|&(_, byte)| byte == b'\n').map(|(idx, _)| idx + 1))
            .collect();
        Source { text, line_starts }
    }

    /// The 0-based index of the line holding byte `offset`.
    fn line_idx(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset).saturating_sub(1)
    }

    /// The bytes of line `line_idx`, without its line break.
    fn line_range(&self, line_idx: usize) -> Range<usize> {
        let start = self.line_starts[line_idx];
        let end = self.line_starts.get(line_idx + 1).map_or(self.text.len(), |&next| next - 1);
        start..end
    }
}

fn render_one(diagnostic: &Diagnostic, base: &Path, renderer: &Renderer, source: Option<&Source>) -> String {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let mut group = Group::with_title(level.primary_title(diagnostic.message.as_str()).id(diagnostic.code));
    let mut trailer = Vec::new();
    if let Some(location) = &diagnostic.location {
        let shown = display_path(&location.path, base);
        let span = match (&location.span, source, location.line) {
            (Some(span), Some(source), _)
                if span.start <= span.end
                    && span.end <= source.text.len()
                    && source.text.is_char_boundary(span.start)
                    && source.text.is_char_boundary(span.end) =>
            {
                Some(span.clone())
            }
            (None, Some(source), Some(line)) => line_span(source, line),
            _ => None,
        };
        match (source, span) {
            (Some(source), Some(span)) if span.end - span.start <= MAX_SNIPPET && lines_of(source, &span).len() <= MAX_SNIPPET => {
                // Only the lines the span touches, numbered as in the file.
                let lines = lines_of(source, &span);
                let mut annotation = AnnotationKind::Primary.span(span.start - lines.start..span.end - lines.start);
                if let Some(label) = &diagnostic.label {
                    annotation = annotation.label(label.as_str());
                }
                let first_line = source.line_idx(span.start) + 1;
                group = group.element(
                    Snippet::source(&source.text[lines])
                        .line_start(first_line)
                        .path(shown)
                        .annotation(annotation),
                );
            }
            (Some(source), Some(span)) => {
                let text = &source.text;
                // A huge line (a minified manifest) is shown as a window
                // around the span, so a report never copies megabytes.
                let line_idx = source.line_idx(span.start);
                let line = line_idx + 1;
                let column = text[source.line_starts[line_idx]..span.start].chars().count() + 1;
                let (excerpt, local) = excerpt(text, &span);
                let mut annotation = AnnotationKind::Primary.span(local);
                if let Some(label) = &diagnostic.label {
                    annotation = annotation.label(label.as_str());
                }
                group = group.element(Snippet::source(excerpt).line_start(line).annotation(annotation));
                trailer.push(format!("{}--> {shown}:{line}:{column}", " ".repeat(line.to_string().len())));
            }
            _ => {
                let position = location.line.map(|line| format!(":{line}")).unwrap_or_default();
                trailer.push(format!("  --> {shown}{position}"));
            }
        }
    }
    let mut report = vec![group];
    for help in &diagnostic.help {
        report.push(Group::with_title(Level::HELP.secondary_title(help.as_str())));
    }
    for note in &diagnostic.notes {
        report.push(Group::with_title(Level::NOTE.secondary_title(note.as_str())));
    }
    let caused_note = match diagnostic.n_caused {
        0 => None,
        1 => Some("and 1 more problem caused by this".to_string()),
        n_caused => Some(format!("and {n_caused} more problems caused by this")),
    };
    if let Some(note) = &caused_note {
        report.push(Group::with_title(Level::NOTE.secondary_title(note.as_str())));
    }
    let mut text = renderer.render(&report);
    if !trailer.is_empty() {
        // annotate-snippets needs source text for a location line; without a
        // readable file we still name it, in the same `-->` form.
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for (offset, line) in trailer.into_iter().enumerate() {
            lines.insert(1 + offset, line);
        }
        text = lines.join("\n");
    }
    text.push('\n');
    text
}

/// Source lines longer than this (bytes) are shown as a window around the
/// span; longer spans are cut to it.
const MAX_SNIPPET: usize = 4096;

/// Bytes around the span's start shown from a huge line.
const EXCERPT_CONTEXT: usize = 80;

/// The byte range of the whole lines `span` touches.
fn lines_of(source: &Source, span: &Range<usize>) -> Range<usize> {
    let start = source.line_range(source.line_idx(span.start)).start;
    let end = source.line_range(source.line_idx(span.end)).end;
    start..end.max(span.end)
}

/// A short window of the span's first line around its start, marked with
/// `...` where cut, and the span within it (at most the window's end).
fn excerpt(text: &str, span: &Range<usize>) -> (String, Range<usize>) {
    let line_start = text[..span.start].rfind('\n').map_or(0, |idx| idx + 1);
    let line_end = text[span.start..].find('\n').map_or(text.len(), |idx| span.start + idx);
    let from = floor_boundary(text, span.start.saturating_sub(EXCERPT_CONTEXT).max(line_start));
    let to = floor_boundary(text, (span.start + 2 * EXCERPT_CONTEXT).min(line_end));
    let mut shown = String::new();
    if from > line_start {
        shown.push_str("...");
    }
    let offset = shown.len();
    shown.push_str(&text[from..to]);
    if to < line_end {
        shown.push_str("...");
    }
    let start = offset + span.start - from;
    let end = offset + span.end.min(to).max(span.start) - from;
    (shown, start..end.max(start))
}

/// The largest char boundary of `text` at or before `idx`.
fn floor_boundary(text: &str, idx: usize) -> usize {
    (0..=idx.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)
}

/// The byte span of a whole 1-based line (without its line break or
/// indentation).
fn line_span(source: &Source, line: usize) -> Option<Range<usize>> {
    let line_idx = line.checked_sub(1)?;
    if line_idx >= source.line_starts.len()
        || (line_idx + 1 == source.line_starts.len() && source.line_starts[line_idx] == source.text.len())
    {
        return None;
    }
    let range = source.line_range(line_idx);
    let content = &source.text[range.clone()];
    let trimmed = content.trim_end_matches(['\n', '\r']);
    let indent = trimmed.len() - trimmed.trim_start().len();
    Some(range.start + indent..range.start + trimmed.len().max(indent))
}

/// `path` relative to `base` when it is under it, else as given.
pub fn display_path(path: &Path, base: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.chars().count(), |idx| before[idx + 1..].chars().count())
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_with_caret_and_help() {
        let source = "[catalog]\nnmae = \"x\"\n".to_string();
        let diagnostic = Diagnostic::error("config", "unknown key `nmae`")
            .at(Location::span(Path::new("/p/catalog.toml"), 10..14))
            .label("not a key of [catalog]")
            .help("did you mean `name`?");
        let text = render(&[diagnostic], Path::new("/p"), false, &|_| Some(source.clone()));
        assert!(text.starts_with("error[config]: unknown key `nmae`\n"), "{text}");
        assert!(text.contains("--> catalog.toml:2:1"), "{text}");
        assert!(text.contains("^^^^ not a key of [catalog]"), "{text}");
        assert!(text.contains("help: did you mean `name`?"), "{text}");
    }

    #[test]
    fn a_huge_line_is_shown_as_a_window_around_the_span() {
        let line = format!("labels: {{a: \"{}\", b: [}}", "x".repeat(1_000_000));
        let source = format!("kind: ConfigMap\n{line}\n");
        let at = source.find(", b").unwrap() + 6;
        let diagnostic = Diagnostic::error("yaml", "bad").at(Location::span(Path::new("/p/a.yaml"), at..at + 1));
        let text = render(&[diagnostic], Path::new("/p"), false, &|_| Some(source.clone()));
        let column = line.find(", b").unwrap() + 7;
        // 80 bytes before the caret: 73 x's, the quote and `, b: [`; the
        // caret under `}`, after `...` and those 80.
        let before = format!("{}\", b: [", "x".repeat(73));
        let caret = format!("{}^", " ".repeat(1 + 3 + 80));
        assert_eq!(
            text,
            format!("error[yaml]: bad\n --> a.yaml:2:{column}\n  |\n2 | ...{before}}}\n  |{caret}\n\n")
        );
    }

    #[test]
    fn a_huge_span_is_cut_to_its_start() {
        let source = format!("a: {}\n", "y".repeat(10_000));
        let diagnostic = Diagnostic::error("yaml", "bad").at(Location::span(Path::new("/p/a.yaml"), 3..10_003));
        let text = render(&[diagnostic], Path::new("/p"), false, &|_| Some(source.clone()));
        assert!(text.len() < 600, "{text}");
        assert!(text.starts_with("error[yaml]: bad\n --> a.yaml:1:4\n  |\n1 | a: yyy"), "{text}");
        assert!(text.contains("yyy...\n"), "{text}");
    }

    #[test]
    fn renders_location_without_source() {
        let diagnostic = Diagnostic::error("yaml", "bad").at(Location::line(Path::new("/p/a.yaml"), 7));
        let text = render(&[diagnostic], Path::new("/p"), false, &|_| None);
        assert_eq!(text, "error[yaml]: bad\n  --> a.yaml:7\n\n");
    }

    #[test]
    fn folded_problems_are_counted_in_a_last_note() {
        let follow_on = Diagnostic::error("graph", "stranded");
        let mut root = Diagnostic::error("bundle", "broken").note("why");
        root.fold(&[follow_on.clone(), follow_on]);
        let text = render(&[root], Path::new("/p"), false, &|_| None);
        assert_eq!(
            text,
            "error[bundle]: broken\n  |\nnote: why\nnote: and 2 more problems caused by this\n\n"
        );
    }

    #[test]
    fn dedupe_keeps_the_first_of_equal_diagnostics() {
        let mut diagnostics = vec![
            Diagnostic::error("a", "one"),
            Diagnostic::error("a", "two"),
            Diagnostic::error("a", "one"),
        ];
        dedupe(&mut diagnostics);
        let messages: Vec<&str> = diagnostics.iter().map(|diagnostic| diagnostic.message.as_str()).collect();
        assert_eq!(messages, ["one", "two"]);
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
    }
}
