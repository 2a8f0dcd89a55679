//! One reproducible layer: a tar of files and their parent directories,
//! sorted by path, 0644 files and 0755 directories owned by 0:0 with one
//! fixed mtime and no user or group names, gzipped with a fixed header.
//! Hashed in the same pass that writes it: the gzip bytes give the
//! layer's digest, the tar bytes its `diff_id`.
//!
//! The gzip stream is one member, deflated in parallel as pigz does it:
//! the tar is cut into [`CHUNK`]-byte pieces, each deflated on its own
//! and ended by a sync flush (so the next piece starts on a byte
//! boundary), the last one by the final block; the CRC-32s are combined.
//! Any gzip reader reads it as one stream. The cut depends on the bytes
//! alone, never on the number of threads, so the digest is the same on
//! every machine, and on how the tar writer happens to split its writes
//! neither (deflate's blocks did depend on that, so a tar crate update
//! could move every digest); a tar of one piece is what gzip of the whole
//! tar in one write gives. One SQLite index of 123 MB was one core's work
//! for most of a second while the other waited.
//!
//! A layer may also be cut into runs ([`build_run_layer`]): a catalog
//! layer starts a piece at each package's first entry and at the
//! end-of-archive blocks, so the pieces of a package depend on that
//! package alone, and a rebuild splices in the deflated runs of the
//! packages that did not change instead of deflating them again.

use std::collections::BTreeMap;
use std::io::{self, Write};

use sha2::Digest as _;

use super::{hex, media_type};

/// A file of a layer: its path inside the image (relative, `/`-separated,
/// no leading `/`) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// A layer: the gzip blob and its digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub media_type: &'static str,
    /// The gzip bytes; `None` for a layer built by an earlier build and
    /// kept by the action cache ([`Layer::stored`]).
    pub blob: Option<Vec<u8>>,
    /// Length of the gzip bytes.
    pub size: u64,
    /// sha256 of the gzip bytes.
    pub digest: String,
    /// sha256 of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: String,
}

impl Layer {
    /// A layer known by its digests and size alone: it can be named in a
    /// manifest; its bytes are written by whoever keeps them.
    pub fn stored(digest: String, diff_id: String, size: u64) -> Layer {
        Layer {
            media_type: media_type::OCI_LAYER_GZIP,
            blob: None,
            size,
            digest,
            diff_id,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }
}

/// Builds the layer holding `files` (their order does not matter) with
/// every entry's mtime set to `mtime` (seconds since the epoch:
/// `SOURCE_DATE_EPOCH`, or 0). Two files at one path, or a file where a
/// directory must be, are a caller's bug and an error.
pub fn build_layer(files: &[LayerFile], mtime: u64) -> io::Result<Layer> {
    build_layer_of(files.iter().map(|file| (file.path.as_str(), file.bytes.as_slice())), mtime)
}

/// [`build_layer`] of `(path, bytes)` pairs that borrow their bytes: a
/// catalog or a bundle is not copied to be put in a layer.
pub fn build_layer_of<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>, mtime: u64) -> io::Result<Layer> {
    build_layer_from(files.into_iter().map(|(path, bytes)| (path, Content::Bytes(bytes))), mtime)
}

/// Where the bytes of a layer's file are.
#[derive(Clone, Copy)]
pub enum Content<'a> {
    Bytes(&'a [u8]),
    /// A file on disk, streamed into the layer and never held whole: a
    /// SQLite index can be a gigabyte. The same bytes as `Bytes` give the
    /// same layer.
    File(&'a std::path::Path),
}

/// [`build_layer_of`], each file's bytes in memory or on disk.
pub fn build_layer_from<'a>(files: impl IntoIterator<Item = (&'a str, Content<'a>)>, mtime: u64) -> io::Result<Layer> {
    build_layer_into(files, mtime, LayerOut::Memory)
}

/// [`build_layer_from`], the gzip bytes going to `out`.
pub fn build_layer_into<'a>(files: impl IntoIterator<Item = (&'a str, Content<'a>)>, mtime: u64, out: LayerOut) -> io::Result<Layer> {
    let (entries, total) = layer_entries(files)?;
    let (layer, _) = write_layer(&entries, total, mtime, None, out)?;
    Ok(layer)
}

/// Where a layer's gzip bytes go as they are made.
pub enum LayerOut<'a> {
    /// Into memory: the layer's `blob`.
    Memory,
    /// Into this file, from where it stands (not synced): a layer of a
    /// gigabyte is never held whole. The layer's `blob` is then `None`,
    /// and the caller keeps the file.
    File(&'a mut std::fs::File),
}

/// One entry of a [`Run`]: its path in the layer (a directory's without
/// its trailing `/`) and whether it is a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEntry {
    pub path: String,
    pub dir: bool,
}

/// Where a run's deflated bytes sit in a layer's blob and what they hold:
/// spliced into another layer they stand for the same tar bytes there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunSpan {
    pub offset: u64,
    pub len: u64,
    /// CRC-32 and length of the run's tar bytes.
    pub crc: u32,
    pub raw_len: u64,
    /// CRC-32 of the deflated bytes themselves, to check a span read back.
    pub check: u32,
}

/// A run of a layer: consecutive tar entries with one run name (see
/// [`build_run_layer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub entries: Vec<RunEntry>,
    pub span: RunSpan,
}

/// A run's deflated bytes from an earlier layer, with the CRC-32 and
/// length of the tar bytes they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deflated {
    pub bytes: Vec<u8>,
    pub crc: u32,
    pub raw_len: u64,
}

/// [`build_layer_of`] whose deflate stream is cut into runs: consecutive
/// entries whose paths `run_of` maps to one name make a run, and each
/// run, and the end-of-archive blocks, start a new piece. A run's pieces
/// then depend on its own entries alone, so `reuse` may hand a run's
/// deflated bytes from an earlier layer (it is asked once per run, with
/// the run's entries); the tar bytes, and so the `diff_id`, are
/// [`build_layer_of`]'s. Returns the layer and its runs, in order.
///
/// A reused run whose tar turns out to have another length than `reuse`
/// said is an `InvalidData` error; build again without reusing it.
pub fn build_run_layer<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    mtime: u64,
    run_of: &dyn Fn(&str) -> &str,
    reuse: &dyn Fn(&[RunEntry]) -> Option<Deflated>,
    out: LayerOut,
) -> io::Result<(Layer, Vec<Run>)> {
    let (entries, total) = layer_entries(files.into_iter().map(|(path, bytes)| (path, Content::Bytes(bytes))))?;
    let mut runs: Vec<Run> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (path, content) in &entries {
        let name = run_of(path);
        if names.last() != Some(&name) {
            names.push(name);
            runs.push(Run {
                entries: Vec::new(),
                span: RunSpan::default(),
            });
        }
        if let Some(run) = runs.last_mut() {
            run.entries.push(RunEntry {
                path: (*path).to_string(),
                dir: content.is_none(),
            });
        }
    }
    let reused: Vec<Option<Deflated>> = runs.iter().map(|run| reuse(&run.entries)).collect();
    let (layer, spans) = write_layer(&entries, total, mtime, Some((&runs, reused)), out)?;
    for (run, span) in runs.iter_mut().zip(spans) {
        run.span = span;
    }
    Ok((layer, runs))
}

/// A layer's entries, sorted by path: `Some((content, length))` for a
/// file, `None` for a directory (each file's parents are added); and the
/// total length of the files.
type Entries<'a> = BTreeMap<&'a str, Option<(Content<'a>, u64)>>;

fn layer_entries<'a>(files: impl IntoIterator<Item = (&'a str, Content<'a>)>) -> io::Result<(Entries<'a>, usize)> {
    let mut entries: Entries = BTreeMap::new();
    let mut total = 0;
    for (file_path, content) in files {
        let len = match content {
            Content::Bytes(bytes) => bytes.len() as u64,
            Content::File(source) => std::fs::metadata(source)?.len(),
        };
        let path = file_path.trim_start_matches('/');
        if path.is_empty() || path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{file_path}` is not a layer path"),
            ));
        }
        total += usize::try_from(len).unwrap_or(usize::MAX);
        let mut end = 0;
        while let Some(slash) = path[end..].find('/') {
            let dir = &path[..end + slash];
            if let Some(Some(_)) = entries.insert(dir, None) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("`{dir}` is both a file and a directory"),
                ));
            }
            end += slash + 1;
        }
        if entries.insert(path, Some((content, len))).is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{path}` is in the layer twice"),
            ));
        }
    }
    Ok((entries, total))
}

/// Tars and gzips `entries`; with `runs` (and the deflated bytes of those
/// reused), cut at each run as [`build_run_layer`] says, returning each
/// run's span.
fn write_layer(
    entries: &Entries,
    total: usize,
    mtime: u64,
    runs: Option<(&[Run], Vec<Option<Deflated>>)>,
    out: LayerOut,
) -> io::Result<(Layer, Vec<RunSpan>)> {
    let sink = match out {
        // Room for text that compresses 3:1, so the blob seldom moves.
        LayerOut::Memory => Sink::Memory(Vec::with_capacity(total / 3 + 4096)),
        LayerOut::File(file) => Sink::File(file),
    };
    let mut tar = tar::Builder::new(HashingWriter::new(ParallelGzip::new(total, CHUNK, sink)?));
    // The index in `entries` at which each run starts, and what it reuses.
    let mut starts: Vec<(usize, Option<Deflated>)> = Vec::new();
    let n_runs = runs.as_ref().map_or(0, |(runs, _)| runs.len());
    if let Some((runs, reused)) = runs {
        let mut at = 0;
        for (run, reused) in runs.iter().zip(reused) {
            starts.push((at, reused));
            at += run.entries.len();
        }
    }
    let mut starts = starts.into_iter().enumerate().peekable();
    for (entry_idx, (path, content)) in entries.iter().enumerate() {
        if starts.peek().is_some_and(|(_, (at, _))| *at == entry_idx)
            && let Some((run_idx, (_, reused))) = starts.next()
        {
            tar.get_mut().inner.start_run(run_idx, reused)?;
        }
        let mut header = tar::Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        match content {
            Some((content, len)) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(*len);
                match content {
                    Content::Bytes(bytes) => tar.append_data(&mut header, path, *bytes)?,
                    Content::File(source) => {
                        let file = std::fs::File::open(source)?;
                        // Exactly the length the header gives, or an error.
                        let mut reader = io::Read::take(file, *len);
                        tar.append_data(&mut header, path, &mut reader)?;
                        if reader.limit() > 0 {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                format!("`{}` got shorter", source.display()),
                            ));
                        }
                    }
                }
            }
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), io::empty())?;
            }
        }
    }
    if n_runs > 0 {
        // The end-of-archive blocks are a piece of their own.
        tar.get_mut().inner.end_run()?;
    }
    let tar_hashed = tar.into_inner()?;
    let diff_id = format!("sha256:{}", hex(&tar_hashed.hasher.finalize()));
    let (sink, size, digest, mut spans) = tar_hashed.inner.finish()?;
    spans.resize(n_runs, RunSpan::default());
    let layer = Layer {
        media_type: media_type::OCI_LAYER_GZIP,
        size,
        blob: match sink {
            Sink::Memory(blob) => Some(blob),
            Sink::File(_) => None,
        },
        digest: format!("sha256:{}", hex(&digest)),
        diff_id,
    };
    Ok((layer, spans))
}

/// Uncompressed bytes per piece of a layer's deflate stream. Part of the
/// layer format: a change changes the digest of every layer bigger than
/// it (and must change the action cache's `LAYER_SCHEMA`). 1 MiB loses
/// about 0.1% of the ratio to the pieces' fresh dictionaries.
pub(crate) const CHUNK: usize = 1 << 20;

/// The gzip header: no name, mtime 0 (no build time), XFL 4 (fastest
/// level, RFC 1952) and OS 255 ("unknown"), as flate2's `GzBuilder`
/// writes it for level 1.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

/// A writer that gzips what it is given as one member whose deflate
/// stream is made of independently deflated pieces (see the module).
/// Full pieces wait in `pending` until there are enough to keep every
/// thread busy, so memory stays at a few pieces whatever the layer's size.
/// In a layer cut into runs, each run starts a piece, and a reused run's
/// tar bytes are only counted: its deflated bytes go in instead.
struct ParallelGzip<'a> {
    chunk: usize,
    filling: Vec<u8>,
    pending: Vec<Piece>,
    sink: Sink<'a>,
    /// Length and sha256 of the gzip bytes written to `sink` so far.
    len: u64,
    digest: sha2::Sha256,
    crc: crc32fast::Hasher,
    /// The run being written, and how many tar bytes its reused deflated
    /// bytes stand for (`None`: it is deflated here).
    run: Option<(usize, Option<u64>)>,
    /// Tar bytes of the current reused run written so far.
    skipped: u64,
    spans: Vec<RunSpan>,
    /// CRC-32 of each span's deflated bytes so far.
    checks: Vec<crc32fast::Hasher>,
}

/// Where [`ParallelGzip`] puts the gzip bytes.
enum Sink<'a> {
    Memory(Vec<u8>),
    File(&'a mut std::fs::File),
}

/// A deflated piece: its bytes, the CRC-32 (and length) of what they
/// hold, its run.
type DeflatedPiece = (Vec<u8>, crc32fast::Hasher, Option<usize>);

/// A piece of the stream and the run it belongs to.
enum Piece {
    Raw(Vec<u8>, Option<usize>),
    /// Deflated already (a reused run): bytes, CRC-32 and length of what
    /// they hold.
    Deflated(Vec<u8>, crc32fast::Hasher, Option<usize>),
}

impl<'a> ParallelGzip<'a> {
    fn new(total: usize, chunk: usize, sink: Sink<'a>) -> io::Result<ParallelGzip<'a>> {
        let mut gzip = ParallelGzip {
            chunk,
            filling: Vec::with_capacity(chunk.min(total + 4096)),
            pending: Vec::new(),
            sink,
            len: 0,
            digest: sha2::Sha256::new(),
            crc: crc32fast::Hasher::new(),
            run: None,
            skipped: 0,
            spans: Vec::new(),
            checks: Vec::new(),
        };
        gzip.append(&GZIP_HEADER)?;
        Ok(gzip)
    }

    /// Appends gzip bytes to the sink, hashing them.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Memory(blob) => blob.extend_from_slice(bytes),
            Sink::File(file) => file.write_all(bytes)?,
        }
        self.digest.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Ends the current run, then starts run `idx`, deflated here or made
    /// of `reused`.
    fn start_run(&mut self, idx: usize, reused: Option<Deflated>) -> io::Result<()> {
        self.end_run()?;
        self.run = Some((idx, reused.as_ref().map(|deflated| deflated.raw_len)));
        if let Some(deflated) = reused {
            let crc = crc32fast::Hasher::new_with_initial_len(deflated.crc, deflated.raw_len);
            self.pending.push(Piece::Deflated(deflated.bytes, crc, Some(idx)));
        }
        Ok(())
    }

    /// Ends the current run (if any): its last piece is cut here.
    fn end_run(&mut self) -> io::Result<()> {
        if let Some((_, Some(raw_len))) = self.run
            && self.skipped != raw_len
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a reused run holds {raw_len} tar bytes, not {}", self.skipped),
            ));
        }
        self.cut();
        self.run = None;
        self.skipped = 0;
        Ok(())
    }

    /// Ends the piece being filled, if it holds anything.
    fn cut(&mut self) {
        if !self.filling.is_empty() {
            let full = std::mem::replace(&mut self.filling, Vec::with_capacity(self.chunk));
            self.pending.push(Piece::Raw(full, self.run.map(|(idx, _)| idx)));
        }
    }

    /// Deflates the pending pieces, in parallel, and appends them in
    /// order; with `last`, the final one ends the stream.
    fn drain(&mut self, last: bool) -> io::Result<()> {
        use rayon::prelude::*;
        let n_pieces = self.pending.len();
        let deflated: Vec<io::Result<DeflatedPiece>> = std::mem::take(&mut self.pending)
            .into_par_iter()
            .enumerate()
            .map(|(idx, piece)| match piece {
                Piece::Raw(bytes, run) => {
                    let mut crc = crc32fast::Hasher::new();
                    crc.update(&bytes);
                    Ok((deflate_piece(&bytes, last && idx + 1 == n_pieces)?, crc, run))
                }
                Piece::Deflated(bytes, crc, run) => Ok((bytes, crc, run)),
            })
            .collect();
        for piece in deflated {
            let (bytes, crc, run) = piece?;
            if let Some(run) = run {
                if self.spans.len() <= run {
                    self.spans.resize(run + 1, RunSpan::default());
                    self.checks.resize(run + 1, crc32fast::Hasher::new());
                }
                let span = &mut self.spans[run];
                if span.len == 0 {
                    span.offset = self.len;
                }
                span.len += bytes.len() as u64;
                let mut run_crc = crc32fast::Hasher::new_with_initial_len(span.crc, span.raw_len);
                run_crc.combine(&crc);
                span.raw_len = run_crc.total_len();
                span.crc = run_crc.finalize();
                self.checks[run].update(&bytes);
                span.check = self.checks[run].clone().finalize();
            }
            self.append(&bytes)?;
            self.crc.combine(&crc);
        }
        Ok(())
    }

    /// Ends the stream (the last piece, possibly empty, is the final
    /// one) and returns the sink holding the whole gzip member, its
    /// length and sha256, and the runs' spans.
    fn finish(mut self) -> io::Result<(Sink<'a>, u64, [u8; 32], Vec<RunSpan>)> {
        if !self.filling.is_empty() || !matches!(self.pending.last(), Some(Piece::Raw(..))) {
            let piece = std::mem::take(&mut self.filling);
            self.pending.push(Piece::Raw(piece, None));
        }
        self.drain(true)?;
        let size = self.crc.total_len();
        let crc = self.crc.clone().finalize();
        self.append(&crc.to_le_bytes())?;
        // ISIZE is the length modulo 2^32 (RFC 1952).
        self.append(&(size as u32).to_le_bytes())?;
        Ok((self.sink, self.len, self.digest.finalize().into(), self.spans))
    }
}

impl Write for ParallelGzip<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some((_, Some(_))) = self.run {
            self.skipped += buf.len() as u64;
            return Ok(buf.len());
        }
        let room = self.chunk - self.filling.len();
        let taken = room.min(buf.len());
        self.filling.extend_from_slice(&buf[..taken]);
        if self.filling.len() == self.chunk {
            self.cut();
            if self.pending.len() >= 2 * rayon::current_num_threads().max(1) {
                self.drain(false)?;
            }
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One piece of the stream: raw deflate at level 1 (as ggcr's layers
/// default to, gzip.BestSpeed: catalogs are text that compresses well at
/// any level, and push time is the goal), ended by a sync flush, or by
/// the final block when `last`.
fn deflate_piece(piece: &[u8], last: bool) -> io::Result<Vec<u8>> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    let mut compress = Compress::new(Compression::fast(), false);
    let mut out = Vec::with_capacity(piece.len() / 3 + 64);
    // The input first, then the flush on no input, as a streaming
    // encoder does: deflate marks a block final when it sees the finish
    // with input still to take, which would change a one-piece layer's
    // bytes from what a plain gzip encoder writes.
    fn grow(out: &mut Vec<u8>) {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(4096));
        }
    }
    while (compress.total_in() as usize) < piece.len() {
        grow(&mut out);
        let consumed = compress.total_in() as usize;
        compress
            .compress_vec(&piece[consumed..], &mut out, FlushCompress::None)
            .map_err(io::Error::other)?;
    }
    let flush = if last { FlushCompress::Finish } else { FlushCompress::Sync };
    loop {
        grow(&mut out);
        let status = compress.compress_vec(&[], &mut out, flush).map_err(io::Error::other)?;
        let done = match status {
            Status::StreamEnd => true,
            // A sync flush is complete once deflate leaves output room.
            Status::Ok | Status::BufError => !last && out.len() < out.capacity(),
        };
        if done {
            return Ok(out);
        }
    }
}

/// Passes bytes through to `inner` and hashes them on the way.
struct HashingWriter<W> {
    inner: W,
    hasher: sha2::Sha256,
}

impl<W> HashingWriter<W> {
    fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hasher: sha2::Sha256::new(),
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn file(path: &str, text: &str) -> LayerFile {
        LayerFile {
            path: path.to_string(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    /// (path, type, mode, uid, gid, mtime, uname, gname, size) of an entry.
    type Entry = (String, char, u32, u64, u64, u64, String, String, u64);

    fn entries(layer: &Layer) -> Vec<Entry> {
        let mut tar_bytes = Vec::new();
        flate2::read::GzDecoder::new(layer.blob.as_deref().unwrap())
            .read_to_end(&mut tar_bytes)
            .unwrap();
        assert_eq!(crate::image::sha256_digest(&tar_bytes), layer.diff_id);
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    String::from_utf8(entry.path_bytes().to_vec()).unwrap(),
                    if header.entry_type().is_dir() { 'd' } else { 'f' },
                    header.mode().unwrap(),
                    header.uid().unwrap(),
                    header.gid().unwrap(),
                    header.mtime().unwrap(),
                    String::from_utf8_lossy(header.username_bytes().unwrap_or_default()).into_owned(),
                    String::from_utf8_lossy(header.groupname_bytes().unwrap_or_default()).into_owned(),
                    header.size().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn entries_are_sorted_with_parents_normalized_modes_and_owners() {
        let layer = build_layer(
            &[
                file("metadata/annotations.yaml", "a: b\n"),
                file("manifests/z.yaml", "z\n"),
                file("manifests/a.yaml", "abc\n"),
            ],
            1_700_000_000,
        )
        .unwrap();
        let found = entries(&layer);
        let shape: Vec<(&str, char, u32)> = found.iter().map(|entry| (entry.0.as_str(), entry.1, entry.2)).collect();
        assert_eq!(
            shape,
            [
                ("manifests/", 'd', 0o755),
                ("manifests/a.yaml", 'f', 0o644),
                ("manifests/z.yaml", 'f', 0o644),
                ("metadata/", 'd', 0o755),
                ("metadata/annotations.yaml", 'f', 0o644),
            ]
        );
        for entry in &found {
            assert_eq!((entry.3, entry.4, entry.5), (0, 0, 1_700_000_000), "{}", entry.0);
            assert_eq!((entry.6.as_str(), entry.7.as_str()), ("", ""), "{}", entry.0);
        }
        assert_eq!(found[1].8, 4);
    }

    #[test]
    fn input_order_does_not_change_the_digest_and_content_does() {
        let one = build_layer(&[file("a/x", "1"), file("b/y", "2")], 0).unwrap();
        let two = build_layer(&[file("b/y", "2"), file("a/x", "1")], 0).unwrap();
        assert_eq!(one, two);
        let changed = build_layer(&[file("b/y", "3"), file("a/x", "1")], 0).unwrap();
        assert_ne!(one.digest, changed.digest);
        let later = build_layer(&[file("b/y", "2"), file("a/x", "1")], 1).unwrap();
        assert_ne!(one.diff_id, later.diff_id);
        assert_eq!(one.digest, crate::image::sha256_digest(one.blob.as_deref().unwrap()));
    }

    #[test]
    fn gzip_header_has_no_time_and_fixed_flags() {
        let layer = build_layer(&[file("configs/p/catalog.json", "{}")], 0).unwrap();
        // magic, deflate, no flags, mtime 0, XFL 4 (fastest), OS 255.
        assert_eq!(&layer.blob.as_deref().unwrap()[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255]);
    }

    #[test]
    fn a_known_layer_has_a_known_digest() {
        // Pinned: a change here changes every image digest catbuild makes.
        let layer = build_layer(&[file("configs/p/catalog.json", "{}\n")], 0).unwrap();
        assert_eq!(
            layer.diff_id,
            "sha256:24ec7fb9b4ffba31186369c4126752b253cda409cf71ce8207c80158f73da7d1"
        );
        assert_eq!(
            layer.digest,
            "sha256:7cc64740ec3226d90398ffe1d005bdad3b646482bf89653b3983723755f1e13d"
        );
        // The gzip bytes are the deflate backend's (zlib-rs); GNU gzip
        // reads them back to the very tar the diff_id names.
        let mut gzip = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        gzip.stdin.take().unwrap().write_all(layer.blob.as_deref().unwrap()).unwrap();
        let output = gzip.wait_with_output().unwrap();
        assert!(output.status.success());
        assert_eq!(crate::image::sha256_digest(&output.stdout), layer.diff_id);
    }

    /// Text that deflate shrinks but not to nothing: numbered lines.
    fn lines(n_bytes: usize) -> String {
        let mut text = String::with_capacity(n_bytes + 64);
        let mut idx = 0u64;
        while text.len() < n_bytes {
            text.push_str(&format!("line {idx}: a bundle object, as a catalog holds many\n"));
            idx += 1;
        }
        text.truncate(n_bytes);
        text
    }

    /// GNU gzip's reading of a blob: the tar, after `gzip -t` passed.
    fn gunzip(blob: &[u8]) -> Vec<u8> {
        let run = |args: &[&str]| {
            let mut gzip = std::process::Command::new("gzip")
                .args(args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = gzip.stdin.take().unwrap();
            let blob = blob.to_vec();
            let writer = std::thread::spawn(move || stdin.write_all(&blob).unwrap());
            let output = gzip.wait_with_output().unwrap();
            writer.join().unwrap();
            assert!(output.status.success(), "gzip {args:?}");
            output.stdout
        };
        run(&["-t"]);
        run(&["-dc"])
    }

    #[test]
    fn a_layer_of_many_pieces_is_one_gzip_member_that_gzip_reads_back() {
        let big = lines(3 * CHUNK + 12_345);
        let layer = build_layer(&[file("database/index.db", &big), file("configs/p/catalog.json", "{}")], 0).unwrap();
        let blob = layer.blob.as_deref().unwrap();
        let tar = gunzip(blob);
        assert_eq!(crate::image::sha256_digest(&tar), layer.diff_id);
        // One member: a single-member decoder reads every byte of the tar
        // and stops exactly at the blob's end.
        let mut decoder = flate2::read::GzDecoder::new(blob);
        let mut read = Vec::new();
        decoder.read_to_end(&mut read).unwrap();
        assert_eq!(read, tar);
        assert!(
            entries(&layer)
                .iter()
                .any(|entry| entry.0 == "database/index.db" && entry.8 == big.len() as u64)
        );
        // Smaller than the tar by far: each piece is really deflated.
        assert!(blob.len() * 4 < tar.len(), "{} of {}", blob.len(), tar.len());
    }

    #[test]
    fn the_bytes_do_not_depend_on_the_number_of_threads() {
        let big = lines(5 * CHUNK / 2);
        let files = [file("database/index.db", &big)];
        let with = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| build_layer(&files, 7).unwrap())
        };
        let one = with(1);
        for threads in [2, 5] {
            assert_eq!(with(threads), one, "{threads} threads");
        }
    }

    #[test]
    fn a_tar_ending_on_a_piece_boundary_ends_the_stream() {
        // One header, the data (a multiple of 512) and the two end blocks:
        // exactly two pieces.
        let data = lines(2 * CHUNK - 3 * 512);
        let layer = build_layer(&[file("a", &data)], 0).unwrap();
        let tar = gunzip(layer.blob.as_deref().unwrap());
        assert_eq!(tar.len(), 2 * CHUNK);
        assert_eq!(crate::image::sha256_digest(&tar), layer.diff_id);
    }

    #[test]
    fn a_file_streamed_from_disk_gives_the_layer_its_bytes_give() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("index.db");
        let big = lines(2 * CHUNK + 777);
        std::fs::write(&source, &big).unwrap();
        let streamed = build_layer_from([("database/index.db", Content::File(&source))], 3).unwrap();
        let in_memory = build_layer(&[file("database/index.db", &big)], 3).unwrap();
        assert_eq!(streamed, in_memory);
        assert!(build_layer_from([("a", Content::File(&dir.path().join("missing")))], 0).is_err());
    }

    /// The run of a test path: its first component.
    fn first_component(path: &str) -> &str {
        path.split('/').next().unwrap_or(path)
    }

    #[test]
    fn a_run_layer_holds_the_plain_layers_tar_and_reused_runs_give_the_same_bytes() {
        let big = lines(CHUNK + 4321);
        let small = lines(700);
        let files = [
            ("a/catalog.json", small.as_bytes()),
            ("b/catalog.json", big.as_bytes()),
            ("b/extra.json", small.as_bytes()),
            ("c", small.as_bytes()),
        ];
        let plain = build_layer_of(files, 5).unwrap();
        let (fresh, runs) = build_run_layer(files, 5, &first_component, &|_| None, LayerOut::Memory).unwrap();
        // The same tar (so the same diff_id), cut otherwise.
        assert_eq!(fresh.diff_id, plain.diff_id);
        assert_ne!(fresh.digest, plain.digest);
        let blob = fresh.blob.clone().unwrap();
        assert_eq!(crate::image::sha256_digest(&gunzip(&blob)), fresh.diff_id);
        let names: Vec<Vec<&str>> = runs
            .iter()
            .map(|run| run.entries.iter().map(|entry| entry.path.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            [vec!["a", "a/catalog.json"], vec!["b", "b/catalog.json", "b/extra.json"], vec!["c"]]
        );
        assert!(runs[0].entries[0].dir && !runs[0].entries[1].dir);
        // Each run's span is its own: header, the runs in order, then the
        // end-of-archive piece and the trailer.
        assert_eq!(runs[0].span.offset, GZIP_HEADER.len() as u64);
        for pair in runs.windows(2) {
            assert_eq!(pair[0].span.offset + pair[0].span.len, pair[1].span.offset);
        }
        for run in &runs {
            let span = run.span;
            let deflated = &blob[span.offset as usize..(span.offset + span.len) as usize];
            assert_eq!(span.check, crc32fast::hash(deflated), "{:?}", run.entries);
        }
        // A run deflated by an earlier layer, spliced into a layer whose
        // other runs changed, gives that layer's bytes exactly.
        let edited = lines(900);
        let edited_files = [files[0], files[1], files[2], ("c", edited.as_bytes())];
        let (expected, _) = build_run_layer(edited_files, 5, &first_component, &|_| None, LayerOut::Memory).unwrap();
        let asked = std::cell::RefCell::new(Vec::new());
        let reuse = |entries: &[RunEntry]| {
            asked.borrow_mut().push(entries[0].path.clone());
            let run = runs.iter().find(|run| run.entries == entries && run.entries[0].path == "b")?;
            let span = run.span;
            Some(Deflated {
                bytes: blob[span.offset as usize..(span.offset + span.len) as usize].to_vec(),
                crc: span.crc,
                raw_len: span.raw_len,
            })
        };
        let (spliced, spliced_runs) = build_run_layer(edited_files, 5, &first_component, &reuse, LayerOut::Memory).unwrap();
        assert_eq!(spliced, expected);
        assert_eq!(*asked.borrow(), ["a", "b", "c"]);
        assert_eq!(spliced_runs[1].span.crc, runs[1].span.crc);
        assert_eq!(spliced_runs[1].span.raw_len, runs[1].span.raw_len);
        // Bytes that stand for a tar of another length are refused.
        let wrong = |entries: &[RunEntry]| {
            let mut deflated = reuse(entries)?;
            deflated.raw_len += 512;
            Some(deflated)
        };
        let error = build_run_layer(edited_files, 5, &first_component, &wrong, LayerOut::Memory).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_layer_written_to_a_file_is_the_layer_built_in_memory() {
        let big = lines(3 * CHUNK + 99);
        let small = lines(300);
        let files = [("p/catalog.json", big.as_bytes()), ("q/catalog.json", small.as_bytes())];
        let (in_memory, memory_runs) = build_run_layer(files, 7, &first_component, &|_| None, LayerOut::Memory).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        let (on_disk, disk_runs) = build_run_layer(files, 7, &first_component, &|_| None, LayerOut::File(&mut file)).unwrap();
        assert_eq!(on_disk.blob, None);
        let blob = in_memory.blob.clone().unwrap();
        assert_eq!(
            Layer {
                blob: Some(blob.clone()),
                ..on_disk
            },
            in_memory,
            "another digest, diff_id or size"
        );
        assert_eq!(disk_runs, memory_runs);
        let mut written = Vec::new();
        io::Seek::rewind(&mut file).unwrap();
        file.read_to_end(&mut written).unwrap();
        assert!(written == blob, "the file holds other bytes");
        // A streamed SQLite index, too.
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("index.db");
        std::fs::write(&source, &big).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        let content = [("database/index.db", Content::File(&source))];
        let on_disk = build_layer_into(content, 3, LayerOut::File(&mut file)).unwrap();
        let in_memory = build_layer_from(content, 3).unwrap();
        assert_eq!(on_disk.digest, in_memory.digest);
        assert_eq!(file.metadata().unwrap().len(), in_memory.size);
    }

    #[test]
    fn a_run_layer_does_not_depend_on_the_number_of_threads() {
        let big = lines(5 * CHUNK / 2);
        let files = [("p/catalog.json", big.as_bytes()), ("q/catalog.json", big.as_bytes())];
        let with = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| build_run_layer(files, 7, &first_component, &|_| None, LayerOut::Memory).unwrap())
        };
        let one = with(1);
        for threads in [2, 5] {
            assert_eq!(with(threads), one, "{threads} threads");
        }
    }

    #[test]
    fn long_paths_survive() {
        let long = format!("configs/{}/catalog.json", "p".repeat(150));
        let layer = build_layer(&[file(&long, "{}")], 0).unwrap();
        assert_eq!(entries(&layer).last().unwrap().0, long);
    }

    #[test]
    fn bad_paths_and_clashes_are_errors() {
        assert!(build_layer(&[file("a/../b", "")], 0).is_err());
        assert!(build_layer(&[file("a", ""), file("a/b", "")], 0).is_err());
        assert!(build_layer(&[file("a", ""), file("a", "")], 0).is_err());
    }
}
