//! The stat memo on disk, as an append-only journal: a build that learnt a
//! few digests appends a few lines instead of rewriting the whole memo
//! (1.6 MB for 1,000 bundles, a tenth of a one-bundle edit's time).
//!
//! ```text
//! catbuild-memo 3
//! begin
//! f <size> <mtime ns> <ino> <dev> <sha256 hex> <path>   a file's digest
//! l <key hex> <sha256 hex>                           a loaded bundle
//! size <bytes>                                        the size estimate
//! commit <CRC-32 of the batch's lines, 8 hex digits>
//! ```
//!
//! Each run appends one batch of lines between `begin` and a `commit`
//! line holding the CRC-32 of the lines' bytes (it tells a torn or
//! interleaved append, which is all it is for, at a tenth of a sha256's
//! cost on every build that reads the memo); a later line for the same path or key
//! replaces an earlier one. A batch whose `commit` is missing or does not
//! match (a `kill -9` or power loss in the middle of the append, or two
//! runs appending at once) is ignored whole, so a torn write never gives a
//! wrong digest, and reading goes on at the next `begin`. The memo is
//! rewritten whole (compacted, by temp file and rename) only when the
//! lines it holds are more than twice the live ones, or it did not read:
//! so what an edit writes is proportional to what it changed, and the
//! rewrite's cost is spread over many builds.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use super::{Key, escape, hex, parse_hex, unescape};
use crate::load::Sha256Digest;

/// The memo's first line; another format is read as an empty memo.
const HEADER: &str = "catbuild-memo 3\n";
/// A memo with fewer record lines than this is never compacted.
const MIN_COMPACT_LINES: usize = 4096;

/// Writes a whole file by temp file and rename (the store's own).
pub(super) type WriteAtomic<'a> = dyn Fn(&Path, &[u8]) -> Result<(), std::io::Error> + 'a;

/// One memoized stat: what the file looked like when its digest was taken.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Stat {
    pub(super) size: u64,
    pub(super) mtime_ns: i128,
    pub(super) ino: u64,
    pub(super) dev: u64,
}

impl Stat {
    pub(super) fn of(metadata: &std::fs::Metadata) -> Stat {
        Stat {
            size: metadata.len(),
            mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000 + i128::from(metadata.mtime_nsec()),
            ino: metadata.ino(),
            dev: metadata.dev(),
        }
    }
}

#[derive(Default)]
pub(super) struct Memo {
    /// Hashed, not ordered: a no-op build looks up every input file, and
    /// comparing paths component by component was most of its CPU time.
    pub(super) files: HashMap<PathBuf, (Stat, Sha256Digest)>,
    /// Loaded-bundle key → digest of what loading gave.
    pub(super) loaded: BTreeMap<Key, Sha256Digest>,
    /// Bytes written since the size was last measured, plus that size.
    pub(super) estimated_bytes: u64,
    /// Paths and keys learnt this run, to append.
    pub(super) new_files: Vec<PathBuf>,
    pub(super) new_loaded: Vec<Key>,
    pub(super) size_changed: bool,
    /// What the file held when read: its length, its record lines (live
    /// or not), and whether it read at all (else it is rewritten).
    file_len: u64,
    n_record_lines: usize,
    readable: bool,
    ends_with_newline: bool,
}

impl Memo {
    /// Whether anything is to be written.
    pub(super) fn changed(&self) -> bool {
        !self.new_files.is_empty() || !self.new_loaded.is_empty() || self.size_changed
    }

    /// The memo at `path`, or as much of it as reads (an unreadable one is
    /// empty: it is only a hint).
    pub(super) fn read(path: &Path) -> Memo {
        match std::fs::read(path) {
            Ok(bytes) => parse(&bytes),
            Err(_) => Memo::default(),
        }
    }

    /// Appends what this run learnt, or rewrites the whole memo when it
    /// did not read or holds too many dead lines. Entries whose file
    /// changed within `racy` of now are left out (rehashed next time).
    /// `write_atomic` writes a whole file by temp file and rename.
    /// Racy entries stay known to this run, though: the build stamp
    /// vouches for a racy file by the digest the run used.
    pub(super) fn save(&mut self, path: &Path, is_racy: &dyn Fn(&Stat) -> bool, write_atomic: &WriteAtomic) -> Result<(), std::io::Error> {
        let racy: Vec<(PathBuf, (Stat, Sha256Digest))> = self.files.extract_if(|_, (stat, _)| is_racy(stat)).collect();
        let saved = self.save_known(path, write_atomic);
        self.files.extend(racy);
        saved
    }

    fn save_known(&mut self, path: &Path, write_atomic: &WriteAtomic) -> Result<(), std::io::Error> {
        let new_files = std::mem::take(&mut self.new_files);
        let new_loaded = std::mem::take(&mut self.new_loaded);
        let n_lines = new_files.iter().filter(|file_path| self.files.contains_key(*file_path)).count()
            + new_loaded.iter().filter(|key| self.loaded.contains_key(*key)).count();
        let size_changed = std::mem::replace(&mut self.size_changed, false);
        let n_live = self.files.len() + self.loaded.len();
        let n_after = self.n_record_lines + n_lines;
        let compact = !self.readable || (n_after > MIN_COMPACT_LINES && n_after > 2 * n_live);
        if compact {
            let text = self.whole_text();
            write_atomic(path, text.as_bytes())?;
            self.n_record_lines = n_live;
            self.file_len = text.len() as u64;
            self.readable = true;
            self.ends_with_newline = true;
            return Ok(());
        }
        if n_lines == 0 && !size_changed {
            return Ok(());
        }
        let mut batch = String::new();
        // A torn line at the end (a killed append) must not swallow this
        // batch's first line.
        if !self.ends_with_newline {
            batch.push('\n');
        }
        let lines_start = begin_batch(&mut batch);
        for file_path in &new_files {
            if let Some((stat, digest)) = self.files.get(file_path) {
                push_file_line(&mut batch, file_path, stat, digest);
            }
        }
        for key in &new_loaded {
            if let Some(digest) = self.loaded.get(key) {
                push_loaded_line(&mut batch, key, digest);
            }
        }
        if size_changed {
            let _ = writeln!(batch, "size\t{}", self.estimated_bytes);
        }
        end_batch(&mut batch, lines_start);
        let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
        // Another run may have appended meanwhile: its batch is whole (one
        // write each) and ours follows it.
        file.write_all(batch.as_bytes())?;
        self.n_record_lines = n_after;
        self.file_len += batch.len() as u64;
        self.ends_with_newline = true;
        Ok(())
    }

    /// The whole memo as one batch, made in one buffer: a cold build's
    /// memo is every input file's line (15 MB on 10,000 bundles), and
    /// copying it from lines to batch to file text held it three times at
    /// the build's peak of memory.
    fn whole_text(&self) -> String {
        let mut files: Vec<_> = self.files.iter().collect();
        files.sort_unstable_by(|left, right| left.0.as_os_str().as_encoded_bytes().cmp(right.0.as_os_str().as_encoded_bytes()));
        // An upper bound for the usual line (numbers at their longest, a
        // path with nothing to escape); what is reserved and not written
        // is never touched, so costs no memory.
        let capacity =
            HEADER.len() + 200 + files.iter().map(|(path, _)| 160 + path.as_os_str().len()).sum::<usize>() + self.loaded.len() * 140;
        let mut text = String::with_capacity(capacity);
        text.push_str(HEADER);
        let lines_start = begin_batch(&mut text);
        let _ = writeln!(text, "size\t{}", self.estimated_bytes);
        for (path, (stat, digest)) in files {
            push_file_line(&mut text, path, stat, digest);
        }
        for (key, digest) in &self.loaded {
            push_loaded_line(&mut text, key, digest);
        }
        end_batch(&mut text, lines_start);
        text
    }
}

fn push_file_line(text: &mut String, path: &Path, stat: &Stat, digest: &Sha256Digest) {
    let _ = writeln!(
        text,
        "f\t{}\t{}\t{}\t{}\t{}\t{}",
        stat.size,
        stat.mtime_ns,
        stat.ino,
        stat.dev,
        hex(digest),
        escape(&path.to_string_lossy())
    );
}

fn push_loaded_line(text: &mut String, key: &Key, digest: &Sha256Digest) {
    let _ = writeln!(text, "l\t{}\t{}", key.hex(), hex(digest));
}

/// Starts a batch (`begin`) at the end of `text`; returns where its lines
/// start, for [`end_batch`].
fn begin_batch(text: &mut String) -> usize {
    text.push_str("begin\n");
    text.len()
}

/// Ends the batch whose lines start at `lines_start`: `commit` with their
/// CRC-32.
fn end_batch(text: &mut String, lines_start: usize) {
    let checksum = crc32fast::hash(&text.as_bytes()[lines_start..]);
    let _ = writeln!(text, "commit\t{checksum:08x}");
}

/// The CRC-32 a `commit` line gives.
fn parse_checksum(text: &[u8]) -> Option<u32> {
    if text.len() != 8 {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(text).ok()?, 16).ok()
}

/// Applies every batch whose `commit` matches, in order; counts the record
/// lines of all of them (live or replaced) for compaction.
fn parse(bytes: &[u8]) -> Memo {
    let mut memo = Memo {
        file_len: bytes.len() as u64,
        ends_with_newline: bytes.last().is_none_or(|last| *last == b'\n'),
        ..Memo::default()
    };
    let Some(body) = bytes.strip_prefix(HEADER.as_bytes()) else {
        return memo;
    };
    memo.readable = true;
    // Where the open batch's lines start (after its `begin`), if one is open.
    let mut batch_start = None;
    let mut line_start = 0;
    let mut n_bad_lines = 0;
    let count_lines = |bytes: &[u8]| bytes.iter().filter(|byte| **byte == b'\n').count();
    while let Some(newline) = memchr::memchr(b'\n', &body[line_start..]) {
        let line_end = line_start + newline;
        let line = &body[line_start..line_end];
        if line == b"begin" {
            // A batch left open (torn) before this one: dead.
            if let Some(start) = batch_start {
                n_bad_lines += count_lines(&body[start..line_start]);
            }
            batch_start = Some(line_end + 1);
        } else if let Some(checksum) = line.strip_prefix(b"commit\t") {
            if let Some(start) = batch_start.take() {
                let batch = &body[start..line_start];
                if parse_checksum(checksum) == Some(crc32fast::hash(batch)) {
                    apply(&mut memo, batch);
                } else {
                    n_bad_lines += count_lines(batch);
                }
            }
        } else if batch_start.is_none() {
            n_bad_lines += 1;
        }
        line_start = line_end + 1;
    }
    // A batch still open at the end (a torn append) is dead weight too.
    if let Some(start) = batch_start {
        n_bad_lines += count_lines(&body[start..]);
    }
    memo.n_record_lines += n_bad_lines;
    memo
}

fn apply(memo: &mut Memo, batch: &[u8]) {
    let Ok(text) = std::str::from_utf8(batch) else {
        return;
    };
    // Most lines are files: room for them all at once, not rehashed as
    // the map grows.
    memo.files.reserve(memchr::memchr_iter(b'\n', batch).count());
    for line in text.lines() {
        memo.n_record_lines += 1;
        let mut fields = [""; 8];
        let mut n_fields = 0;
        for field in line.splitn(8, '\t') {
            fields[n_fields] = field;
            n_fields += 1;
        }
        match &fields[..n_fields] {
            ["size", size] => memo.estimated_bytes = size.parse().unwrap_or(u64::MAX),
            ["f", size, mtime, ino, dev, digest, path] => {
                let (Ok(size), Ok(mtime_ns), Ok(ino), Ok(dev), Some(digest)) =
                    (size.parse(), mtime.parse(), ino.parse(), dev.parse(), parse_hex(digest))
                else {
                    continue;
                };
                memo.files
                    .insert(PathBuf::from(unescape(path)), (Stat { size, mtime_ns, ino, dev }, digest));
            }
            ["l", key, digest] => {
                if let (Some(key), Some(digest)) = (parse_hex(key), parse_hex(digest)) {
                    memo.loaded.insert(Key(key), digest);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(size: u64) -> Stat {
        Stat {
            size,
            mtime_ns: 1_000_000_000,
            ino: 7,
            dev: 1,
        }
    }

    fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), std::io::Error> {
        std::fs::write(path, bytes)
    }

    fn learn(memo: &mut Memo, name: &str, size: u64) {
        let path = PathBuf::from(name);
        memo.files.insert(path.clone(), (stat(size), Sha256Digest::of(name.as_bytes())));
        memo.new_files.push(path);
    }

    #[test]
    fn a_run_appends_its_lines_and_a_later_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memo");
        let mut memo = Memo::read(&path);
        learn(&mut memo, "a", 1);
        learn(&mut memo, "b", 2);
        memo.save(&path, &|_| false, &write_atomic).unwrap();
        let first_len = std::fs::metadata(&path).unwrap().len();
        let mut memo = Memo::read(&path);
        assert_eq!(memo.files.len(), 2);
        learn(&mut memo, "a", 3);
        memo.save(&path, &|_| false, &write_atomic).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // Appended: the first run's bytes are still the file's start, and
        // only one `f` line (with its `begin` and `commit`) came after them.
        assert!(text.len() as u64 > first_len);
        assert_eq!(text[first_len as usize..].lines().count(), 3);
        let memo = Memo::read(&path);
        assert_eq!(memo.files[Path::new("a")].0, stat(3));
        assert_eq!(memo.files[Path::new("b")].0, stat(2));
    }

    #[test]
    fn a_torn_batch_is_ignored_whole_and_the_next_one_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memo");
        let mut memo = Memo::read(&path);
        learn(&mut memo, "a", 1);
        memo.save(&path, &|_| false, &write_atomic).unwrap();
        let mut memo = Memo::read(&path);
        learn(&mut memo, "b", 2);
        learn(&mut memo, "c", 3);
        memo.save(&path, &|_| false, &write_atomic).unwrap();
        // Cut the last batch in the middle of its second line, as a
        // `kill -9` during the append would.
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let cut = text.rfind("\tc\n").unwrap();
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let mut memo = Memo::read(&path);
        // `b`'s line is whole but its batch has no `commit`: not trusted.
        assert_eq!(memo.files.keys().collect::<Vec<_>>(), [Path::new("a")]);
        learn(&mut memo, "d", 4);
        memo.save(&path, &|_| false, &write_atomic).unwrap();
        let memo = Memo::read(&path);
        let mut names: Vec<_> = memo.files.keys().cloned().collect();
        names.sort();
        assert_eq!(names, [PathBuf::from("a"), PathBuf::from("d")]);
        // A batch whose bytes do not match its commit is ignored too.
        let damaged = std::fs::read_to_string(&path).unwrap().replace("f\t4\t", "f\t5\t");
        std::fs::write(&path, damaged).unwrap();
        let memo = Memo::read(&path);
        assert_eq!(memo.files.keys().collect::<Vec<_>>(), [Path::new("a")]);
    }

    #[test]
    fn many_dead_lines_make_a_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memo");
        let mut memo = Memo::read(&path);
        for idx in 0..100 {
            learn(&mut memo, &format!("file{idx}"), 1);
        }
        memo.save(&path, &|_| false, &write_atomic).unwrap();
        // Each run relearns the same 100 files: the lines grow until they
        // pass twice the live ones (and the floor), then shrink back.
        let mut lengths = Vec::new();
        for size in 2..100 {
            let mut memo = Memo::read(&path);
            for idx in 0..100 {
                learn(&mut memo, &format!("file{idx}"), size);
            }
            memo.save(&path, &|_| false, &write_atomic).unwrap();
            lengths.push(std::fs::read_to_string(&path).unwrap().lines().count());
        }
        let most = *lengths.iter().max().unwrap();
        assert!(most <= MIN_COMPACT_LINES + 200, "{most}");
        assert!(lengths.windows(2).any(|pair| pair[1] < pair[0]), "never compacted: {lengths:?}");
        let memo = Memo::read(&path);
        assert_eq!(memo.files.len(), 100);
        assert!(memo.files.values().all(|(stat, _)| stat.size == 99));
    }

    #[test]
    fn racy_entries_are_not_written_but_stay_known_to_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memo");
        let mut memo = Memo::read(&path);
        learn(&mut memo, "old", 1);
        learn(&mut memo, "new", 2);
        memo.save(&path, &|stat| stat.size == 2, &write_atomic).unwrap();
        // The build stamp, taken after the save, vouches for a racy file
        // by the digest this run used.
        assert!(memo.files.contains_key(Path::new("new")));
        let memo = Memo::read(&path);
        assert_eq!(memo.files.keys().collect::<Vec<_>>(), [Path::new("old")]);
    }

    #[test]
    fn another_format_reads_as_empty_and_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memo");
        std::fs::write(&path, "catbuild-memo v1\nsize\t5\n").unwrap();
        let mut memo = Memo::read(&path);
        assert!(memo.files.is_empty());
        learn(&mut memo, "a", 1);
        memo.save(&path, &|_| false, &write_atomic).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().starts_with(HEADER));
        assert_eq!(Memo::read(&path).files.len(), 1);
    }
}
