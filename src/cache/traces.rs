//! `--explain`'s traces: the inputs each action last ran with, as an
//! append-only journal of one line per recorded action.
//!
//! ```text
//! <action id> <name> <value> <name> <value> ... <check>
//! ```
//!
//! Fields are tab-separated and escaped (no tab or newline of theirs is
//! left); `<check>` is the first 8 hex digits of the sha256 of the line
//! before it, so a line two runs wrote into each other reads as no trace.
//! A later line for the same id replaces an earlier one.
//!
//! Nothing of the file is held in memory: a build appends through a small
//! buffer, and a trace is read back only when an action misses. As one
//! file per action (`traces/<id hex>`) a cold 1,000-bundle build made
//! 1,040 temp files, renames and failed `mkdir`s; as lines of the stat
//! memo, every trace stayed in memory for the whole build (about 90 MB on
//! 10,000 bundles). Here the first lookup scans the file once for where
//! each id's last line starts (a few bytes per id) and every lookup then
//! reads its one line.
//!
//! A `kill -9` in the middle of an append leaves a last line without its
//! newline: the scan ignores it, and the next append cuts it off first.
//! The file is rewritten (streamed to a temp file, renamed) keeping the
//! last line of each id when it holds more than twice as many lines as
//! ids. Losing it costs explanations (an action "not in the cache"), never
//! correctness.

use std::collections::HashMap;
use std::fs::File;
use std::hash::BuildHasher as _;
use std::io::{BufRead as _, BufReader, BufWriter, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{escape, unescape};
use crate::load::Sha256Digest;

/// A journal with fewer lines than this is never compacted.
const MIN_COMPACT_LINES: usize = 4096;
/// Hex digits of a line's checksum.
const CHECK_LEN: usize = 8;

/// The journal at one path; safe to share between threads.
pub(super) struct Traces {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Hash of an (escaped) id → offset and length of its last line; made
    /// by the first lookup or append.
    index: Option<HashMap<u64, (u64, usize)>>,
    /// Whole lines in the file, live or not.
    n_lines: usize,
    /// The file, open for reading lines back (absent when there is none).
    reader: Option<File>,
    writer: Option<BufWriter<File>>,
    /// Where the next appended line starts.
    end: u64,
    /// Bytes of the file written out (the rest is in `writer`'s buffer).
    flushed: u64,
}

impl Traces {
    pub(super) fn new(path: PathBuf) -> Traces {
        Traces {
            path,
            state: Mutex::new(State::default()),
        }
    }

    /// The inputs the action `id` last ran with.
    pub(super) fn get(&self, id: &str) -> Option<Vec<(String, String)>> {
        let escaped_id = escape(id);
        let mut state = self.state.lock().ok()?;
        let state = self.indexed(&mut state);
        let (offset, len) = *state.index.as_ref()?.get(&id_hash(&escaped_id))?;
        if offset + len as u64 > state.flushed {
            state.writer.as_mut()?.flush().ok()?;
            state.flushed = state.end;
        }
        let mut line = vec![0u8; len];
        state.reader.as_ref()?.read_exact_at(&mut line, offset).ok()?;
        let (line_id, fields) = parse_line(&line)?;
        (line_id == escaped_id).then_some(fields)
    }

    /// Appends the inputs the action `id` runs with.
    pub(super) fn set(&self, id: &str, fields: &[(String, String)]) -> Result<(), std::io::Error> {
        let escaped_id = escape(id);
        let line = line_text(&escaped_id, fields);
        let mut state = self.state.lock().map_err(|_| std::io::Error::other("a thread panicked"))?;
        let state = self.indexed(&mut state);
        if state.writer.is_none() {
            state.writer = Some(self.open_for_append(state)?);
        }
        let Some(writer) = state.writer.as_mut() else {
            return Ok(());
        };
        writer.write_all(line.as_bytes())?;
        if let Some(index) = state.index.as_mut() {
            index.insert(id_hash(&escaped_id), (state.end, line.len()));
        }
        state.end += line.len() as u64;
        state.n_lines += 1;
        Ok(())
    }

    /// Writes out what was appended, and compacts the file when due.
    pub(super) fn finish(&self) -> Result<(), std::io::Error> {
        self.finish_with(MIN_COMPACT_LINES)
    }

    fn finish_with(&self, min_compact_lines: usize) -> Result<(), std::io::Error> {
        let mut state = self.state.lock().map_err(|_| std::io::Error::other("a thread panicked"))?;
        // Nothing appended: nothing to write, and no reason to compact.
        let Some(mut writer) = state.writer.take() else {
            return Ok(());
        };
        writer.flush()?;
        drop(writer);
        state.flushed = state.end;
        let n_live = state.index.as_ref().map_or(0, HashMap::len);
        let due = state.n_lines > min_compact_lines && state.n_lines > 2 * n_live;
        if due && let Some(index) = state.index.take() {
            // Read again from the file written, whatever comes next.
            *state = State::default();
            self.compact(&index)?;
        }
        Ok(())
    }

    /// `state`, its index made first if it is not yet.
    fn indexed<'a>(&self, state: &'a mut State) -> &'a mut State {
        if state.index.is_none() {
            *state = scan(&self.path);
        }
        state
    }

    /// The file open for appending, made if missing, a torn last line cut
    /// off (see the module's docs).
    fn open_for_append(&self, state: &mut State) -> Result<BufWriter<File>, std::io::Error> {
        if let Some(parent) = self.path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let file = File::options().read(true).append(true).create(true).open(&self.path)?;
        let len = file.metadata()?.len();
        let mut last = [0u8];
        if len > 0 && file.read_exact_at(&mut last, len - 1).is_ok() && last[0] == b'\n' {
            // Whole lines another run appended since the scan stay.
            state.end = len;
        } else if len > state.end {
            file.set_len(state.end)?;
        }
        if state.reader.is_none() {
            state.reader = Some(file.try_clone()?);
        }
        state.flushed = state.end;
        Ok(BufWriter::with_capacity(64 * 1024, file))
    }

    /// Rewrites the file with the last line of each id in `index` only.
    fn compact(&self, index: &HashMap<u64, (u64, usize)>) -> Result<(), std::io::Error> {
        let parent = self.path.parent().unwrap_or(Path::new("."));
        let temp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(parent)?;
        let mut out = BufWriter::new(temp);
        let mut reader = BufReader::new(File::open(&self.path)?);
        let mut line = Vec::new();
        let mut offset = 0u64;
        loop {
            line.clear();
            let n_read = reader.read_until(b'\n', &mut line)?;
            if n_read == 0 || line.last() != Some(&b'\n') {
                break;
            }
            let is_last = line_id(&line).is_some_and(|id| index.get(&id_hash(id)) == Some(&(offset, line.len())));
            if is_last && parse_line(&line).is_some() {
                out.write_all(&line)?;
            }
            offset += n_read as u64;
        }
        let temp = out.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        temp.persist(&self.path).map_err(|error| error.error)?;
        Ok(())
    }
}

/// The index of the file at `path`: each id's last whole line. A missing
/// or unreadable file is an empty journal.
fn scan(path: &Path) -> State {
    let mut state = State {
        index: Some(HashMap::new()),
        ..State::default()
    };
    let Ok(file) = File::open(path) else {
        return state;
    };
    let mut index = HashMap::new();
    let mut reader = BufReader::with_capacity(64 * 1024, &file);
    let mut line = Vec::new();
    let mut offset = 0u64;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(n_read) if n_read > 0 && line.last() == Some(&b'\n') => {
                // Checked when read back, not here: most ids are never asked for.
                if let Some(id) = line_id(&line) {
                    index.insert(id_hash(id), (offset, n_read));
                }
                state.n_lines += 1;
                offset += n_read as u64;
            }
            // The end, a torn last line, or a read error: what came before stands.
            _ => break,
        }
    }
    drop(reader);
    state.index = Some(index);
    state.end = offset;
    state.flushed = offset;
    state.reader = Some(file);
    state
}

/// A line as written: the escaped id, the escaped fields, the checksum.
fn line_text(escaped_id: &str, fields: &[(String, String)]) -> String {
    let mut body = escaped_id.to_string();
    for (name, value) in fields {
        body.push('\t');
        body.push_str(&escape(name));
        body.push('\t');
        body.push_str(&escape(value));
    }
    let check = check_of(body.as_bytes());
    format!("{body}\t{check}\n")
}

fn check_of(body: &[u8]) -> String {
    let mut check = Sha256Digest::of(body).hex();
    check.truncate(CHECK_LEN);
    check
}

/// The escaped id a whole line starts with.
fn line_id(line: &[u8]) -> Option<&str> {
    let end = memchr::memchr2(b'\t', b'\n', line)?;
    std::str::from_utf8(&line[..end]).ok()
}

/// A whole line read back: its escaped id and its fields; `None` when
/// its checksum does not match or it does not parse.
fn parse_line(line: &[u8]) -> Option<(&str, Vec<(String, String)>)> {
    let text = std::str::from_utf8(line.strip_suffix(b"\n")?).ok()?;
    let (body, check) = text.rsplit_once('\t')?;
    if check != check_of(body.as_bytes()) {
        return None;
    }
    let mut parts = body.split('\t');
    let id = parts.next()?;
    let parts: Vec<&str> = parts.collect();
    if !parts.len().is_multiple_of(2) {
        return None;
    }
    Some((id, parts.chunks(2).map(|pair| (unescape(pair[0]), unescape(pair[1]))).collect()))
}

/// The index's key for an escaped id; a collision is caught when the
/// line is read back and its id compared.
fn id_hash(escaped_id: &str) -> u64 {
    std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default().hash_one(escaped_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect()
    }

    #[test]
    fn a_trace_round_trips_escaped_and_the_later_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1/traces.log");
        let odd = fields(&[
            ("kind", "load-bundle/1"),
            ("input a\tb.yaml", "sha256:aa\nbb\\"),
            ("absent metadata", ""),
        ]);
        let traces = Traces::new(path.clone());
        assert_eq!(traces.get("load-bundle x {}"), None);
        traces.set("load-bundle x {}", &odd).unwrap();
        // Read back in the same run, before the buffer is written out.
        assert_eq!(traces.get("load-bundle x {}"), Some(odd.clone()));
        traces.set("empty\tid", &[]).unwrap();
        traces.finish().unwrap();
        assert_eq!(lines(&path).len(), 2);
        assert_eq!(traces.get("empty\tid"), Some(Vec::new()), "read back after finishing");
        let traces = Traces::new(path.clone());
        assert_eq!(traces.get("load-bundle x {}"), Some(odd));
        assert_eq!(traces.get("empty\tid"), Some(Vec::new()));
        assert_eq!(traces.get("empty"), None);
        let changed = fields(&[("kind", "load-bundle/2")]);
        traces.set("load-bundle x {}", &changed).unwrap();
        traces.finish().unwrap();
        assert_eq!(lines(&path).len(), 3, "appended, not rewritten");
        let traces = Traces::new(path);
        assert_eq!(traces.get("load-bundle x {}"), Some(changed));
        assert_eq!(traces.get("empty\tid"), Some(Vec::new()));
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut_off_by_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.log");
        let first = fields(&[("kind", "encode-package/1"), ("input", "one")]);
        let traces = Traces::new(path.clone());
        traces.set("a", &first).unwrap();
        traces.finish().unwrap();
        // A `kill -9` in the middle of appending a's next line.
        let torn = line_text("a", &fields(&[("kind", "encode-package/1"), ("input", "two")]));
        let mut file = File::options().append(true).open(&path).unwrap();
        file.write_all(&torn.as_bytes()[..torn.len() - 3]).unwrap();
        let traces = Traces::new(path.clone());
        assert_eq!(traces.get("a"), Some(first.clone()));
        let second = fields(&[("kind", "encode-package/1")]);
        traces.set("b", &second).unwrap();
        traces.finish().unwrap();
        assert_eq!(
            lines(&path),
            [line_text("a", &first).trim_end(), line_text("b", &second).trim_end()]
        );
        let traces = Traces::new(path.clone());
        assert_eq!((traces.get("a"), traces.get("b")), (Some(first), Some(second)));
        // A whole line whose checksum does not match is no trace.
        let text = std::fs::read_to_string(&path).unwrap().replace("encode-package", "encode-pockage");
        std::fs::write(&path, text).unwrap();
        assert_eq!(Traces::new(path).get("a"), None);
    }

    #[test]
    fn compaction_keeps_the_last_line_of_each_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.log");
        for round in 0..3 {
            let traces = Traces::new(path.clone());
            for idx in 0..4 {
                traces.get(&format!("action {idx}"));
                traces
                    .set(&format!("action {idx}"), &fields(&[("round", &round.to_string())]))
                    .unwrap();
            }
            traces.finish_with(10).unwrap();
            // 4, then 8 lines (not over the minimum), then 12: compacted.
            assert_eq!(lines(&path).len(), [4, 8, 4][round], "round {round}");
        }
        let traces = Traces::new(path.clone());
        for idx in 0..4 {
            assert_eq!(traces.get(&format!("action {idx}")), Some(fields(&[("round", "2")])));
        }
        // Appending after a compaction goes on from the rewritten file.
        traces.set("action 9", &[]).unwrap();
        traces.finish_with(10).unwrap();
        assert_eq!(lines(&path).len(), 5);
        assert_eq!(Traces::new(path).get("action 9"), Some(Vec::new()));
    }
}
