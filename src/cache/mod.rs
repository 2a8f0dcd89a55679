//! The action cache's store: content-addressed blobs, action entries named
//! by their key, a stat memo, and per-action traces for `--explain`. It
//! knows nothing of bundles or catalogs; `pipeline::cached` decides what
//! an action's key is made of (STYLE 5.1-5.5).
//!
//! Layout under the cache directory (`build/.cache` by default), the
//! layout version in the path so that another catbuild's layout is never
//! read (uv's bucket names do the same):
//!
//! ```text
//! v1/blobs/<sha256 hex>      output bytes, by their digest
//! v1/actions/<key hex>       an action's entry: JSON naming its blobs
//! v1/memo                    stat memo and loaded-bundle digests (a hint)
//! v1/traces.log              the inputs each action last ran with (--explain)
//! ```
//!
//! Crash safety: every file is written to a temp file in the same
//! directory and renamed into place; an action's blobs are in place before
//! its entry, so a `kill -9` at any moment never leaves an entry naming
//! missing bytes. A blob is checked against its digest when read, and an
//! entry against its key: a damaged one is a miss and is removed.
//!
//! The memo maps `(path, size, mtime, inode)` to the file's sha256, so a
//! rebuild reads no input byte whose stat did not change (the stat is a
//! hint; the digest decides). A file changed within [`RACY`] of the memo
//! being written is not memoized, since a second edit in the same
//! timestamp tick would otherwise go unseen (git's "racy clean" problem).
//! The memo also holds the loaded-bundle results (bundle key → digest of
//! the loaded bundle), which are small and read on every build. It is an
//! append-only journal of checksummed batches, compacted now and then
//! ([`memo`]); losing it costs time, never correctness.
//!
//! Size cap: when the estimated size passes the cap, entries are evicted
//! least recently used first (an entry's mtime, refreshed on a hit when
//! older than an hour), then blobs no entry names.
//!
//! A shared cache in a registry ([`remote`], `--cache-from/--cache-to`)
//! sits behind the local store: a local miss asks it, and what it gives
//! (checked) is kept locally; with `--cache-to` the store records what the
//! build used, and [`Cache::export`] sends that.

mod memo;
pub mod remote;
mod traces;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};

use crate::load::Sha256Digest;
use memo::{Memo, Stat};

/// The layout version: a different one is another directory.
const LAYOUT: &str = "v1";
/// Files whose mtime is this close to the memo's writing are rehashed next time.
const RACY: Duration = Duration::from_secs(2);
/// A hit refreshes its entry's mtime (the LRU clock) when older than this.
const TOUCH_AFTER: Duration = Duration::from_secs(3600);
/// The `--explain` journal ([`traces`]); not `traces`, which was a
/// directory of one file per action and may still be there.
const TRACES_FILE: &str = "traces.log";
/// Default size cap.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;

/// An action's key: sha256 of a canonical encoding of what the action
/// reads ([`KeyBuilder`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Key(pub Sha256Digest);

impl Key {
    pub fn hex(&self) -> String {
        hex(&self.0)
    }
}

/// Builds a [`Key`] from named fields, each length-prefixed so that no
/// two different field lists encode the same (`"ab" + "c"` is not
/// `"a" + "bc"`), and keeps the fields for `--explain` and for the
/// `-vv`-style dump of a key (just's `cache_key.rs`).
#[derive(Clone, Debug)]
pub struct KeyBuilder {
    fields: Vec<(String, String)>,
}

impl KeyBuilder {
    /// A key of `kind` (with its schema version), for catbuild `version`.
    pub fn new(kind: &str, schema: u32, version: &str) -> KeyBuilder {
        KeyBuilder {
            fields: vec![
                ("kind".to_string(), format!("{kind}/{schema}")),
                ("catbuild".to_string(), version.to_string()),
            ],
        }
    }

    pub fn field(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut KeyBuilder {
        self.fields.push((name.into(), value.into()));
        self
    }

    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    pub fn key(&self) -> Key {
        let mut hasher = KeyHasher { hasher: Sha256::new() };
        for (name, value) in &self.fields {
            hasher.field(name, value);
        }
        hasher.finish()
    }
}

/// The same key as [`KeyBuilder`] gives for the same fields, hashed as
/// they come instead of kept: for keys over megabytes of values nobody
/// will explain (a loaded bundle's manifests), which would otherwise be
/// copied only to be hashed.
pub struct KeyHasher {
    hasher: Sha256,
}

impl KeyHasher {
    pub fn new(kind: &str, schema: u32, version: &str) -> KeyHasher {
        let mut hasher = KeyHasher { hasher: Sha256::new() };
        hasher.field("kind", &format!("{kind}/{schema}")).field("catbuild", version);
        hasher
    }

    pub fn field(&mut self, name: &str, value: &str) -> &mut KeyHasher {
        for text in [name, value] {
            self.hasher.update((text.len() as u64).to_le_bytes());
            self.hasher.update(text.as_bytes());
        }
        self
    }

    pub fn finish(self) -> Key {
        Key(Sha256Digest(self.hasher.finalize().into()))
    }
}

/// What an action left: its output files (path in the target → blob) and
/// small facts as text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub files: Vec<(String, Sha256Digest)>,
    pub facts: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot {action} `{}`: {source}", path.display())]
pub struct CacheError {
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> CacheError + 'a {
    move |source| CacheError {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// An open cache directory.
pub struct Cache {
    root: PathBuf,
    dir: PathBuf,
    max_bytes: u64,
    memo: Mutex<Memo>,
    traces: traces::Traces,
    /// Whether the cache directory existed before this run.
    existed: bool,
    written: AtomicU64,
    /// Entries hit this run whose mtime is due a refresh.
    touched: Mutex<BTreeSet<PathBuf>>,
    /// Blobs this run wrote by [`Cache::persist_blob`]: whole by
    /// construction, they are not hashed again to be linked.
    fresh: Mutex<BTreeSet<Sha256Digest>>,
    failed: AtomicBool,
    /// The shared cache, when the build has one.
    remote: Option<remote::Remote>,
    /// What this run took from the shared cache (key → source), and what
    /// it used, for `--cache-to`.
    shared: Mutex<Shared>,
}

#[derive(Default)]
struct Shared {
    origins: HashMap<Key, usize>,
    used_loaded: BTreeMap<Key, Sha256Digest>,
    used_entries: BTreeSet<Key>,
}

impl Cache {
    /// Opens (without creating) the cache at `root`, reading its memo.
    pub fn open(root: &Path, max_bytes: u64) -> Cache {
        let dir = root.join(LAYOUT);
        let existed = root.exists();
        let memo = Memo::read(&dir.join("memo"));
        Cache {
            traces: traces::Traces::new(dir.join(TRACES_FILE)),
            root: root.to_path_buf(),
            dir,
            max_bytes,
            memo: Mutex::new(memo),
            existed,
            written: AtomicU64::new(0),
            touched: Mutex::new(BTreeSet::new()),
            fresh: Mutex::new(BTreeSet::new()),
            failed: AtomicBool::new(false),
            remote: None,
            shared: Mutex::new(Shared::default()),
        }
    }

    /// Puts a shared cache behind the local store.
    #[must_use]
    pub fn with_remote(mut self, remote: remote::Remote) -> Cache {
        self.remote = Some(remote);
        self
    }

    /// The shared cache's events so far (taken).
    pub fn remote_events(&self) -> Vec<remote::RemoteEvent> {
        self.remote.as_ref().map(remote::Remote::take_events).unwrap_or_default()
    }

    /// The `--cache-from` that gave the value of `key` this run, if one did.
    pub fn remote_origin(&self, key: &Key) -> Option<&str> {
        let remote = self.remote.as_ref()?;
        let source_idx = *self.shared.lock().ok()?.origins.get(key)?;
        Some(remote.source_name(source_idx))
    }

    /// What the shared cache says of a missed `key`, for `--explain`:
    /// nothing when there is none to ask.
    pub fn remote_miss(&self, key: &Key) -> Option<&'static str> {
        let remote = self.remote.as_ref().filter(|remote| remote.has_sources())?;
        Some(if remote.knows(key) {
            "its copy in the shared cache was refused"
        } else {
            "nor in the shared cache"
        })
    }

    fn record(&self, update: impl FnOnce(&mut Shared)) {
        if self.remote.as_ref().is_some_and(remote::Remote::exports)
            && let Ok(mut shared) = self.shared.lock()
        {
            update(&mut shared);
        }
    }

    /// The cache's directory (as configured).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the directory existed before this run opened it.
    pub fn existed(&self) -> bool {
        self.existed
    }

    /// The sha256 of the file at `path` whose metadata is `metadata`: from
    /// the memo when the stat is the same, else read and hashed (and
    /// remembered). Returns the bytes too when it had to read them. A file
    /// over `limit` bytes, or not a regular file when opened, is an error
    /// (left to the loader, which words it).
    pub fn file_digest(
        &self,
        path: &Path,
        metadata: &std::fs::Metadata,
        limit: u64,
    ) -> Result<(Sha256Digest, Option<Vec<u8>>), std::io::Error> {
        let stat = Stat::of(metadata);
        if let Ok(memo) = self.memo.lock()
            && let Some((known, digest)) = memo.files.get(path)
            && *known == stat
        {
            return Ok((*digest, None));
        }
        let (bytes, after) = read_regular(path, metadata.len(), limit)?;
        let digest = Sha256Digest::of(&bytes);
        // Only a stat that still matches after the read is remembered.
        if after == stat
            && let Ok(mut memo) = self.memo.lock()
        {
            memo.files.insert(path.to_path_buf(), (stat, digest));
            memo.new_files.push(path.to_path_buf());
        }
        Ok((digest, Some(bytes)))
    }

    /// The digest the memo holds for `path` taken at exactly this stat
    /// (`(size, mtime in ns, inode, device)`): the bytes this run used,
    /// or a past run found with the file as it is.
    pub fn known_digest(&self, path: &Path, (size, mtime_ns, ino, dev): (u64, i128, u64, u64)) -> Option<Sha256Digest> {
        let memo = self.memo.lock().ok()?;
        let (stat, digest) = memo.files.get(path)?;
        (*stat == Stat { size, mtime_ns, ino, dev }).then_some(*digest)
    }

    /// What loading the bundle of `key` gave last time, if remembered
    /// here or in the shared cache.
    pub fn loaded(&self, key: &Key) -> Option<Sha256Digest> {
        let local = self.memo.lock().ok()?.loaded.get(key).copied();
        let digest = match local {
            Some(digest) => digest,
            None => {
                let (digest, source_idx) = self.remote.as_ref()?.loaded(key)?;
                if let Ok(mut shared) = self.shared.lock() {
                    shared.origins.insert(*key, source_idx);
                }
                self.remember_loaded(*key, digest);
                digest
            }
        };
        self.record(|shared| {
            shared.used_loaded.insert(*key, digest);
        });
        Some(digest)
    }

    pub fn set_loaded(&self, key: Key, digest: Sha256Digest) {
        self.remember_loaded(key, digest);
        self.record(|shared| {
            shared.used_loaded.insert(key, digest);
        });
    }

    fn remember_loaded(&self, key: Key, digest: Sha256Digest) {
        if let Ok(mut memo) = self.memo.lock()
            && memo.loaded.insert(key, digest) != Some(digest)
        {
            memo.new_loaded.push(key);
        }
    }

    /// The entry of `key`, if it is there, whole, and all its blobs too;
    /// else from the shared cache, its blobs checked and kept here.
    pub fn get(&self, key: &Key) -> Option<Entry> {
        let entry = match self.local_entry(key) {
            Some(entry) => entry,
            None => self.fetch_remote(key)?,
        };
        self.record(|shared| {
            shared.used_entries.insert(*key);
        });
        Some(entry)
    }

    /// The shared cache's entry of `key`, made local: its blobs fetched
    /// (each checked against its digest) and written first, the entry
    /// last, as [`Cache::put`] does. A blob refused is a miss.
    fn fetch_remote(&self, key: &Key) -> Option<Entry> {
        let remote = self.remote.as_ref()?;
        let (entry, source_idx) = remote.entry(key)?;
        for (_, digest) in &entry.files {
            let blob_path = self.blob_path(digest);
            if self.blob(digest).is_some() {
                continue;
            }
            let bytes = remote.blob(source_idx, digest)?;
            if self.write_atomic(&blob_path, &bytes).is_err() {
                self.note_failure();
                return None;
            }
        }
        let text = entry_text(key, entry);
        if self
            .write_atomic(&self.dir.join("actions").join(key.hex()), text.as_bytes())
            .is_err()
        {
            self.note_failure();
        }
        if let Ok(mut shared) = self.shared.lock() {
            shared.origins.insert(*key, source_idx);
        }
        Some(entry.clone())
    }

    /// The entry of `key` in the local store.
    fn local_entry(&self, key: &Key) -> Option<Entry> {
        let path = self.dir.join("actions").join(key.hex());
        let text = std::fs::read_to_string(&path).ok()?;
        let Some(entry) = parse_entry(&text, key) else {
            // Damaged, or written by something else: a miss, and gone.
            let _ = std::fs::remove_file(&path);
            return None;
        };
        // A blob is written before its entry and never after, so a blob
        // linked with an output (`put_linked`: more than one link) that was
        // modified later was edited in place by someone. It is dropped, and
        // the entry is a miss that encodes the package again.
        let entry_written = std::fs::metadata(&path).and_then(|metadata| metadata.modified()).ok();
        let blob_whole = |digest: &Sha256Digest| {
            let blob_path = self.blob_path(digest);
            let Ok(metadata) = std::fs::metadata(&blob_path) else {
                return false;
            };
            let shared = std::os::unix::fs::MetadataExt::nlink(&metadata) > 1;
            let modified = metadata.modified().ok();
            if shared && modified.zip(entry_written).is_some_and(|(modified, written)| modified > written) {
                let _ = std::fs::remove_file(&blob_path);
                return false;
            }
            true
        };
        if !entry.files.iter().all(|(_, digest)| blob_whole(digest)) {
            let _ = std::fs::remove_file(&path);
            return None;
        }
        if std::fs::metadata(&path)
            .and_then(|metadata| metadata.modified())
            .is_ok_and(|modified| modified.elapsed().unwrap_or_default() > TOUCH_AFTER)
            && let Ok(mut touched) = self.touched.lock()
        {
            touched.insert(path);
        }
        Some(entry)
    }

    /// The bytes of a blob, checked against its digest unless this run
    /// wrote it.
    pub fn blob(&self, digest: &Sha256Digest) -> Option<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path).ok()?;
        if self.is_fresh(digest) || Sha256Digest::of(&bytes) == *digest {
            Some(bytes)
        } else {
            let _ = std::fs::remove_file(&path);
            None
        }
    }

    /// Stores an action's output: every blob first, then the entry.
    /// Returns the entry (each file's digest), written or not.
    pub fn put(&self, key: &Key, files: &[(String, &[u8])], facts: BTreeMap<String, String>) -> Result<Entry, (Entry, CacheError)> {
        self.put_linked(key, files, &[], facts)
    }

    /// [`Cache::put`], where `sources[i]`, when there, is a file already
    /// holding `files[i]`'s bytes (the staged output): the blob becomes a
    /// hard link to it instead of a second copy, which halved what a cold
    /// build writes. Outputs are replaced by rename, never changed in
    /// place, and every read of a blob an earlier run wrote checks its
    /// digest, so a blob shared with a file someone edits anyway is
    /// dropped, never trusted. Where a link cannot be made (another file
    /// system), the bytes are written.
    pub fn put_linked(
        &self,
        key: &Key,
        files: &[(String, &[u8])],
        sources: &[Option<PathBuf>],
        facts: BTreeMap<String, String>,
    ) -> Result<Entry, (Entry, CacheError)> {
        let mut entry = Entry {
            files: Vec::with_capacity(files.len()),
            facts,
        };
        let mut failed = None;
        for (idx, (path, bytes)) in files.iter().enumerate() {
            let digest = Sha256Digest::of(bytes);
            let blob_path = self.blob_path(&digest);
            if failed.is_none() && !blob_path.exists() {
                let source = sources.get(idx).and_then(Option::as_ref);
                if !source.is_some_and(|source| self.link_blob(source, &blob_path, bytes.len()))
                    && let Err(error) = self.write_atomic(&blob_path, bytes)
                {
                    failed = Some(error);
                } else {
                    self.mark_fresh(&digest);
                }
            }
            entry.files.push((path.clone(), digest));
        }
        if let Some(error) = failed {
            return Err((entry, error));
        }
        let text = entry_text(key, &entry);
        match self.write_atomic(&self.dir.join("actions").join(key.hex()), text.as_bytes()) {
            Ok(()) => {
                self.record(|shared| {
                    shared.used_entries.insert(*key);
                });
                Ok(entry)
            }
            Err(error) => Err((entry, error)),
        }
    }

    /// Stores an entry whose files are blobs the cache holds already (by
    /// digest); nothing is stored when one of them is missing.
    pub fn put_stored(&self, key: &Key, files: &[(String, Sha256Digest)], facts: BTreeMap<String, String>) -> Result<(), CacheError> {
        if !files.iter().all(|(_, digest)| self.blob_path(digest).is_file()) {
            return Ok(());
        }
        let entry = Entry {
            files: files.to_vec(),
            facts,
        };
        self.write_atomic(&self.dir.join("actions").join(key.hex()), entry_text(key, &entry).as_bytes())?;
        self.record(|shared| {
            shared.used_entries.insert(*key);
        });
        Ok(())
    }

    /// `len` bytes at `offset` of a blob, checked against their CRC-32
    /// (`crc`): they stand for part of a blob whose digest the build
    /// computes anew, so this only has to catch damage.
    pub fn blob_range(&self, blob: &Sha256Digest, offset: u64, len: u64, crc: u32) -> Option<Vec<u8>> {
        use std::os::unix::fs::FileExt as _;
        let file = std::fs::File::open(self.blob_path(blob)).ok()?;
        let mut bytes = vec![0; usize::try_from(len).ok()?];
        file.read_exact_at(&mut bytes, offset).ok()?;
        (crc32fast::hash(&bytes) == crc).then_some(bytes)
    }

    /// `--cache-to`: writes what this run used (loaded bundles, entries
    /// and their blobs) to the shared cache. Its outcome is an event
    /// ([`Cache::remote_events`]); it never fails the build.
    pub fn export(&self) {
        let Some(remote) = self.remote.as_ref().filter(|remote| remote.exports()) else {
            return;
        };
        let shared = std::mem::take(&mut *self.shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let entries: BTreeMap<Key, (Entry, String)> = shared
            .used_entries
            .iter()
            .filter_map(|key| {
                let entry = self.local_entry(key)?;
                let text = entry_text(key, &entry);
                Some((*key, (entry, text)))
            })
            .collect();
        let blob_size = |digest: &Sha256Digest| std::fs::metadata(self.blob_path(digest)).ok().map(|metadata| metadata.len());
        remote.export(&shared.used_loaded, &entries, &|digest| self.blob(digest), &blob_size);
    }

    /// The stamp stored under `name` (see `output::TargetStamp`).
    pub fn stamp(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.stamp_path(name)).ok()
    }

    pub fn set_stamp(&self, name: &str, text: &str) -> Result<(), CacheError> {
        self.write_atomic(&self.stamp_path(name), text.as_bytes())
    }

    pub fn remove_stamp(&self, name: &str) -> Result<(), CacheError> {
        let path = self.stamp_path(name);
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(CacheError {
                action: "remove",
                path,
                source: error,
            }),
            _ => Ok(()),
        }
    }

    /// Stamps are small and named by what they describe (an output
    /// target's absolute path), hashed to a file name.
    fn stamp_path(&self, name: &str) -> PathBuf {
        stamp_path_in(&self.dir, name)
    }

    /// The inputs the action `id` last ran with (for `--explain`).
    pub fn trace(&self, id: &str) -> Option<Vec<(String, String)>> {
        self.traces.get(id)
    }

    /// Records the inputs the action `id` runs with: appended to the
    /// traces journal, written out by [`Cache::finish`] at the latest.
    pub fn set_trace(&self, id: &str, fields: &[(String, String)]) {
        if self.traces.set(id, fields).is_err() {
            self.note_failure();
        }
    }

    /// A temp file among the blobs for a blob too large to hold in memory:
    /// the caller writes it and hands it to [`Cache::persist_blob`];
    /// dropped instead, it is removed.
    pub fn new_blob(&self) -> Result<tempfile::NamedTempFile, CacheError> {
        let blobs = self.dir.join("blobs");
        fs_err::create_dir_all(&blobs).map_err(|source| CacheError {
            action: "create",
            path: blobs.clone(),
            source,
        })?;
        tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&blobs)
            .map_err(io_error("create a temp file in", &blobs))
    }

    /// Names the temp file of [`Cache::new_blob`] by its content's
    /// digest, which the caller computed while writing it. A blob already
    /// there is the same bytes.
    pub fn persist_blob(&self, temp: tempfile::NamedTempFile, digest: &Sha256Digest) -> Result<(), CacheError> {
        let path = self.blob_path(digest);
        let len = temp.as_file().metadata().map_or(0, |metadata| metadata.len());
        temp.persist(&path).map_err(|error| CacheError {
            action: "rename into",
            path: path.clone(),
            source: error.error,
        })?;
        self.written.fetch_add(len, Ordering::Relaxed);
        self.mark_fresh(digest);
        Ok(())
    }

    /// Remembers a blob this run wrote whole.
    fn mark_fresh(&self, digest: &Sha256Digest) {
        self.fresh.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(*digest);
    }

    fn is_fresh(&self, digest: &Sha256Digest) -> bool {
        self.fresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(digest)
    }

    /// The path of a blob whose bytes match its digest, streamed through
    /// sha256 unless this run wrote it; a damaged blob is removed.
    pub fn checked_blob_path(&self, digest: &Sha256Digest) -> Option<PathBuf> {
        let path = self.blob_path(digest);
        if self.is_fresh(digest) {
            return path.is_file().then_some(path);
        }
        let mut file = std::fs::File::open(&path).ok()?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            match std::io::Read::read(&mut file, &mut buffer) {
                Ok(0) => break,
                Ok(n) => hasher.update(&buffer[..n]),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        if Sha256Digest(hasher.finalize().into()) == *digest {
            Some(path)
        } else {
            let _ = std::fs::remove_file(&path);
            None
        }
    }

    pub fn blob_path(&self, digest: &Sha256Digest) -> PathBuf {
        self.dir.join("blobs").join(hex(digest))
    }

    /// Links `source` (whole already) at `path`: the name appears with all
    /// of its bytes or not at all. A blob someone else linked first is the
    /// same bytes. False when no link could be made.
    fn link_blob(&self, source: &Path, path: &Path, len: usize) -> bool {
        let parent = path.parent().unwrap_or(Path::new("."));
        if fs_err::create_dir_all(parent).is_err() {
            return false;
        }
        match std::fs::hard_link(source, path) {
            Ok(()) => {
                self.written.fetch_add(len as u64, Ordering::Relaxed);
                true
            }
            Err(error) => error.kind() == std::io::ErrorKind::AlreadyExists,
        }
    }

    /// Writes `bytes` at `path` by a temp file in the same directory and a
    /// rename, so `path` is either absent or whole.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
        let parent = path.parent().unwrap_or(Path::new("."));
        fs_err::create_dir_all(parent).map_err(|source| CacheError {
            action: "create",
            path: parent.to_path_buf(),
            source,
        })?;
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(parent)
            .map_err(io_error("create a temp file in", parent))?;
        temp.write_all(bytes).map_err(io_error("write", path))?;
        temp.persist(path).map_err(|error| CacheError {
            action: "rename into",
            path: path.to_path_buf(),
            source: error.error,
        })?;
        self.written.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Remembers that a write failed: the cache is a speed-up, so the build
    /// goes on without it.
    pub fn note_failure(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    /// Ends the run: refreshes the LRU clock of the entries hit, writes the
    /// traces and the memo if it changed, and evicts down to the cap when
    /// over it.
    pub fn finish(&self) -> Result<(), CacheError> {
        let traces_path = self.dir.join(TRACES_FILE);
        let traces_written = self.traces.finish().map_err(io_error("write", &traces_path));
        let touched = std::mem::take(&mut *self.touched.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for path in touched {
            if let Ok(file) = std::fs::File::options().append(true).open(&path) {
                let _ = file.set_modified(SystemTime::now());
            }
        }
        let mut memo = self.memo.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let written = self.written.swap(0, Ordering::Relaxed);
        if written > 0 {
            memo.estimated_bytes += written;
            memo.size_changed = true;
        }
        if memo.estimated_bytes > self.max_bytes {
            memo.estimated_bytes = self.evict()?;
            memo.size_changed = true;
        }
        if memo.changed() {
            let now = SystemTime::now();
            // Racy entries: rehash next time.
            let is_racy = |stat: &Stat| {
                let mtime = SystemTime::UNIX_EPOCH + Duration::from_nanos(u64::try_from(stat.mtime_ns).unwrap_or(u64::MAX));
                now.duration_since(mtime).is_ok_and(|age| age <= RACY)
            };
            let path = self.dir.join("memo");
            let write_atomic = |path: &Path, bytes: &[u8]| {
                self.write_atomic(path, bytes)
                    .map_err(|error| std::io::Error::new(error.source.kind(), error))
            };
            memo.save(&path, &is_racy, &write_atomic).map_err(io_error("write", &path))?;
        }
        traces_written
    }

    /// Removes least recently used entries until the cache holds at most
    /// 3/4 of the cap, then every blob no entry names; returns the size
    /// left.
    fn evict(&self) -> Result<u64, CacheError> {
        // Traces were files under `traces/` before they moved into
        // `traces.log`. Nothing reads them, and no size below counts them,
        // so they go here, where the cache's footprint is measured anyway,
        // rather than by a look on every build.
        let _ = fs_err::remove_dir_all(self.dir.join("traces"));
        let actions_dir = self.dir.join("actions");
        let blobs_dir = self.dir.join("blobs");
        let mut blobs: BTreeMap<String, (u64, usize)> = BTreeMap::new();
        for entry in read_dir_or_empty(&blobs_dir)? {
            let metadata = entry.metadata().map_err(io_error("read", &blobs_dir))?;
            blobs.insert(entry.file_name().to_string_lossy().into_owned(), (metadata.len(), 0));
        }
        // (last used, path, size, blobs named)
        let mut entries: Vec<(SystemTime, PathBuf, u64, Vec<String>)> = Vec::new();
        for entry in read_dir_or_empty(&actions_dir)? {
            let metadata = entry.metadata().map_err(io_error("read", &actions_dir))?;
            let named = entry_blobs(&entry.path());
            for name in &named {
                if let Some((_, count)) = blobs.get_mut(name) {
                    *count += 1;
                }
            }
            entries.push((
                metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                entry.path(),
                metadata.len(),
                named,
            ));
        }
        entries.sort();
        let mut size: u64 = entries.iter().map(|entry| entry.2).sum::<u64>()
            + blobs.values().filter(|(_, count)| *count > 0).map(|(size, _)| size).sum::<u64>();
        let target = self.max_bytes / 4 * 3;
        for (_, path, entry_size, named) in entries {
            if size <= target {
                break;
            }
            fs_err::remove_file(&path).map_err(|source| CacheError {
                action: "remove",
                path: path.clone(),
                source,
            })?;
            size -= entry_size;
            for name in named {
                if let Some((blob_size, count)) = blobs.get_mut(&name) {
                    *count -= 1;
                    if *count == 0 {
                        size -= *blob_size;
                    }
                }
            }
        }
        for (name, (_, count)) in &blobs {
            if *count == 0 {
                let _ = fs_err::remove_file(blobs_dir.join(name));
            }
        }
        Ok(size)
    }
}

/// The bytes of the regular file at `path` (about `len` of them, at most
/// `limit`) and its stat once they are read, taken on the opened file: one
/// `fstat` instead of a stat before and one by path after. Opened without
/// blocking, so a FIFO swapped in is refused, not waited on.
fn read_regular(path: &Path, len: u64, limit: u64) -> Result<(Vec<u8>, Stat), std::io::Error> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if len > limit {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "over the size limit"));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    // Sized by the stat, so that a file that did not change is read in
    // one call and its end seen by a second (`read_to_end` through `take`
    // reads 8 KiB at first and grows).
    let cap = limit.saturating_add(1);
    let mut bytes = vec![0u8; usize::try_from(len.saturating_add(1).min(cap)).unwrap_or(usize::MAX)];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            if filled as u64 >= cap {
                break;
            }
            let grown = u64::try_from(filled.saturating_mul(2).max(4096)).unwrap_or(u64::MAX).min(cap);
            bytes.resize(usize::try_from(grown).unwrap_or(usize::MAX), 0);
        }
        match (&file).read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n_read) => filled += n_read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    bytes.truncate(filled);
    let after = file.metadata()?;
    if !after.is_file() || bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a regular file within the size limit",
        ));
    }
    Ok((bytes, Stat::of(&after)))
}

/// The blobs an entry file names (none when it does not read).
fn entry_blobs(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut named: Vec<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("file\t"))
        .filter_map(|line| line.rsplit_once('\t').map(|(_, digest)| digest.to_string()))
        .collect();
    named.sort();
    named.dedup();
    named
}

fn read_dir_or_empty(dir: &Path) -> Result<Vec<std::fs::DirEntry>, CacheError> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.collect::<Result<Vec<_>, _>>().map_err(io_error("read", dir)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(CacheError {
            action: "read",
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// The stamp stored under `name` in the cache at `root`, read without
/// opening the cache: a no-op build reads this and not the memo.
pub fn read_stamp(root: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(stamp_path_in(&root.join(LAYOUT), name)).ok()
}

fn stamp_path_in(dir: &Path, name: &str) -> PathBuf {
    dir.join("stamps").join(hex(&Sha256Digest::of(name.as_bytes())))
}

/// Removes the cache directory: `catbuild clean --cache`. Returns whether
/// there was one.
pub fn clear(root: &Path) -> Result<bool, CacheError> {
    match std::fs::symlink_metadata(root) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(CacheError {
            action: "read",
            path: root.to_path_buf(),
            source,
        }),
        Ok(_) => fs_err::remove_dir_all(root).map(|()| true).map_err(|source| CacheError {
            action: "remove",
            path: root.to_path_buf(),
            source,
        }),
    }
}

pub fn hex(digest: &Sha256Digest) -> String {
    digest.hex()
}

/// The digest `sha256:<64 hex digits>` names, as OCI writes digests.
pub fn parse_digest(text: &str) -> Option<Sha256Digest> {
    parse_hex(text.strip_prefix("sha256:")?)
}

/// 64 lowercase or uppercase hex digits. A memo holds one per input file,
/// so this is on every build's path: a table, not a branch per digit.
fn parse_hex(text: &str) -> Option<Sha256Digest> {
    const INVALID: u8 = 0xff;
    const NIBBLES: [u8; 256] = {
        let mut table = [INVALID; 256];
        let mut idx = 0;
        while idx < 10 {
            table[b'0' as usize + idx] = idx as u8;
            idx += 1;
        }
        let mut idx = 0;
        while idx < 6 {
            table[b'a' as usize + idx] = 10 + idx as u8;
            table[b'A' as usize + idx] = 10 + idx as u8;
            idx += 1;
        }
        table
    };
    let digits: &[u8; 64] = text.as_bytes().try_into().ok()?;
    let mut bytes = [0u8; 32];
    let mut invalid = false;
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let (high, low) = (NIBBLES[usize::from(pair[0])], NIBBLES[usize::from(pair[1])]);
        invalid |= high == INVALID || low == INVALID;
        *byte = (high << 4) | (low & 0x0f);
    }
    (!invalid).then_some(Sha256Digest(bytes))
}

/// Tabs and newlines in names and values, escaped for the line formats.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n")
}

fn unescape(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An entry as text: the key it answers first (checked on read), then its
/// files and facts, one per line.
fn entry_text(key: &Key, entry: &Entry) -> String {
    let mut text = format!("catbuild-action {LAYOUT} {}\n", key.hex());
    for (path, digest) in &entry.files {
        text.push_str(&format!("file\t{}\t{}\n", escape(path), hex(digest)));
    }
    for (name, value) in &entry.facts {
        text.push_str(&format!("fact\t{}\t{}\n", escape(name), escape(value)));
    }
    text.push_str("end\n");
    text
}

fn parse_entry(text: &str, key: &Key) -> Option<Entry> {
    let mut lines = text.lines();
    if lines.next()? != format!("catbuild-action {LAYOUT} {}", key.hex()) {
        return None;
    }
    let mut entry = Entry::default();
    let mut ended = false;
    for line in lines {
        if ended {
            return None;
        }
        let mut parts = line.split('\t');
        match (parts.next()?, parts.next(), parts.next(), parts.next()) {
            ("file", Some(path), Some(digest), None) => entry.files.push((unescape(path), parse_hex(digest)?)),
            ("fact", Some(name), Some(value), None) => {
                entry.facts.insert(unescape(name), unescape(value));
            }
            ("end", None, None, None) => ended = true,
            _ => return None,
        }
    }
    ended.then_some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// STYLE 5.2: keys are pinned, so a change to their encoding is seen
    /// (and needs a new schema version). The expected digest was computed
    /// apart from this code, by Python's hashlib over each name and value
    /// as a little-endian u64 length and the UTF-8 bytes.
    #[test]
    fn keys_are_pinned_for_fixed_fields() {
        let mut builder = KeyBuilder::new("load-bundle", 1, "0.1.0");
        builder.field("dir", "manifests/x/0.2.0");
        assert_eq!(
            builder.key().hex(),
            "861ac59db5ae120de070281ba7612486b4d0cff56ec5cad5c09f74df96ec4c21"
        );
    }

    #[test]
    fn a_hashed_key_is_the_built_key_of_the_same_fields() {
        let mut hasher = KeyHasher::new("load-bundle", 1, "0.1.0");
        hasher.field("dir", "manifests/x/0.2.0");
        assert_eq!(
            hasher.finish().hex(),
            "861ac59db5ae120de070281ba7612486b4d0cff56ec5cad5c09f74df96ec4c21"
        );
    }

    #[test]
    fn fields_are_length_prefixed() {
        let mut one = KeyBuilder::new("k", 1, "v");
        one.field("ab", "c");
        let mut two = KeyBuilder::new("k", 1, "v");
        two.field("a", "bc");
        assert_ne!(one.key(), two.key());
    }

    #[test]
    fn entries_round_trip_and_a_damaged_one_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache"), DEFAULT_MAX_BYTES);
        assert!(!cache.existed());
        let key = KeyBuilder::new("encode-package", 1, "test").key();
        assert_eq!(cache.get(&key), None);
        let facts = BTreeMap::from([("bundles".to_string(), "3".to_string())]);
        cache
            .put(&key, &[("catalog/x/catalog.json".to_string(), b"{}\n".as_slice())], facts.clone())
            .unwrap();
        let entry = cache.get(&key).unwrap();
        assert_eq!(entry.facts, facts);
        assert_eq!(entry.files[0].0, "catalog/x/catalog.json");
        assert_eq!(cache.blob(&entry.files[0].1).unwrap(), b"{}\n");
        // A truncated entry (no `end`) is a miss and is removed.
        let path = dir.path().join("cache/v1/actions").join(key.hex());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("end\n", "")).unwrap();
        assert_eq!(cache.get(&key), None);
        assert!(!path.exists());
        // An entry whose blob is gone is a miss; a blob with other bytes
        // than its name says is refused by a later run (the run that
        // wrote a blob trusts it), read whole or checked to be linked.
        cache.put(&key, &[("a".to_string(), b"A".as_slice())], BTreeMap::new()).unwrap();
        let digest = cache.get(&key).unwrap().files[0].1;
        let later = Cache::open(&dir.path().join("cache"), DEFAULT_MAX_BYTES);
        let blob_path = dir.path().join("cache/v1/blobs").join(hex(&digest));
        assert_eq!(later.checked_blob_path(&digest), Some(blob_path.clone()));
        std::fs::write(&blob_path, "B").unwrap();
        assert_eq!(later.blob(&digest), None);
        assert_eq!(later.get(&key), None);
        std::fs::write(&blob_path, "B").unwrap();
        assert_eq!(later.checked_blob_path(&digest), None);
        assert!(!blob_path.exists(), "a damaged blob is removed");
    }

    #[test]
    fn a_blob_written_as_a_file_is_named_by_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache"), DEFAULT_MAX_BYTES);
        let mut temp = cache.new_blob().unwrap();
        temp.write_all(b"layer bytes").unwrap();
        let digest = Sha256Digest::of(b"layer bytes");
        cache.persist_blob(temp, &digest).unwrap();
        assert_eq!(cache.blob(&digest).unwrap(), b"layer bytes");
        let names: Vec<String> = std::fs::read_dir(dir.path().join("cache/v1/blobs"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [hex(&digest)], "a temp file was left");
        // One dropped unwritten leaves nothing.
        drop(cache.new_blob().unwrap());
        assert_eq!(std::fs::read_dir(dir.path().join("cache/v1/blobs")).unwrap().count(), 1);
    }

    #[test]
    fn the_stat_memo_reuses_a_digest_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.yaml");
        std::fs::write(&file, "one").unwrap();
        // Old enough not to be racy.
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .append(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let cache = Cache::open(&dir.path().join("cache"), DEFAULT_MAX_BYTES);
        let metadata = std::fs::metadata(&file).unwrap();
        let (digest, read) = cache.file_digest(&file, &metadata, u64::MAX).unwrap();
        assert_eq!(digest, Sha256Digest::of(b"one"));
        assert!(read.is_some());
        cache.finish().unwrap();
        let cache = Cache::open(&dir.path().join("cache"), DEFAULT_MAX_BYTES);
        let (again, read) = cache.file_digest(&file, &metadata, u64::MAX).unwrap();
        assert_eq!((again, read), (digest, None));
        // Same size, new content and mtime: rehashed.
        std::fs::write(&file, "two").unwrap();
        let metadata = std::fs::metadata(&file).unwrap();
        let (changed, read) = cache.file_digest(&file, &metadata, u64::MAX).unwrap();
        assert_eq!(changed, Sha256Digest::of(b"two"));
        assert!(read.is_some());
        // Just written: not memoized, so the next run hashes it again.
        cache.finish().unwrap();
        let cache = Cache::open(&dir.path().join("cache"), DEFAULT_MAX_BYTES);
        assert!(cache.file_digest(&file, &metadata, u64::MAX).unwrap().1.is_some());
    }

    #[test]
    fn a_file_is_read_whole_and_refused_over_the_limit_or_when_not_regular() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, vec![b'x'; 10_000]).unwrap();
        let (bytes, stat) = read_regular(&path, 10_000, 20_000).unwrap();
        assert_eq!((bytes.len(), stat.size), (10_000, 10_000));
        // Grown since it was stated: still read whole.
        assert_eq!(read_regular(&path, 10, 20_000).unwrap().0.len(), 10_000);
        assert_eq!(read_regular(&path, 10, 10_000).unwrap().0.len(), 10_000);
        assert!(read_regular(&path, 10_000, 9_999).is_err());
        assert!(read_regular(&path, 10, 9_999).is_err(), "grew past the limit");
        let fifo = dir.path().join("fifo.yaml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(read_regular(&fifo, 0, 100).is_err());
    }

    /// Issue 19: a cold build wrote one trace file per action (a temp
    /// file, a rename, a failed `mkdir`); traces are now lines of one
    /// journal file, and none goes into the memo (which is held in memory).
    #[test]
    fn traces_are_lines_of_one_file_and_not_of_the_memo() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cache");
        let cache = Cache::open(&root, DEFAULT_MAX_BYTES);
        assert_eq!(cache.trace("encode-package t p"), None);
        let fields = vec![("kind".to_string(), "encode-package/1".to_string())];
        for idx in 0..50 {
            cache.set_trace(&format!("load-bundle b/{idx} {{}}"), &fields);
        }
        cache.set_trace("encode-package t p", &fields);
        cache.finish().unwrap();
        let mut names: Vec<_> = std::fs::read_dir(root.join("v1"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, [TRACES_FILE]);
        assert_eq!(
            std::fs::read_to_string(root.join("v1").join(TRACES_FILE)).unwrap().lines().count(),
            51
        );
        let cache = Cache::open(&root, DEFAULT_MAX_BYTES);
        assert_eq!(cache.trace("encode-package t p"), Some(fields.clone()));
        assert_eq!(cache.trace("load-bundle b/49 {}"), Some(fields));
        assert_eq!(cache.trace("load-bundle b/50 {}"), None);
    }

    #[test]
    fn over_the_cap_the_least_recently_used_entries_go_with_their_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cache");
        let cache = Cache::open(&root, 3400);
        let keys: Vec<Key> = (0..4)
            .map(|idx| {
                let mut builder = KeyBuilder::new("encode-package", 1, "test");
                builder.field("idx", idx.to_string());
                builder.key()
            })
            .collect();
        for (idx, key) in keys.iter().enumerate() {
            let bytes = vec![b'a' + idx as u8; 1000];
            cache.put(key, &[("f".to_string(), bytes.as_slice())], BTreeMap::new()).unwrap();
            // Oldest first: key 0 is the least recently used.
            let path = root.join("v1/actions").join(key.hex());
            let used = SystemTime::now() - Duration::from_secs(100 - idx as u64 * 10);
            std::fs::File::options()
                .append(true)
                .open(&path)
                .unwrap()
                .set_modified(used)
                .unwrap();
        }
        cache.finish().unwrap();
        // 4 × (1000 bytes of blob + an entry) > 3400: down to at most 2550.
        let cache = Cache::open(&root, 3400);
        let left: Vec<bool> = keys.iter().map(|key| cache.get(key).is_some()).collect();
        assert_eq!(left, [false, false, true, true]);
        assert_eq!(std::fs::read_dir(root.join("v1/blobs")).unwrap().count(), 2);
    }
}
