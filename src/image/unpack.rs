//! Unpacking an image's layers into a directory, safely: an image is
//! untrusted input, and a bundle image is only ever read, never run.
//!
//! Layers are applied in order (whiteouts `.wh.NAME` remove `NAME`,
//! `.wh..wh..opq` empties its directory of what lower layers put there).
//! Refused, with an error naming the layer and the tar entry: absolute
//! paths, `..` components, a path that goes through a symbolic link, a
//! symbolic link whose target is absolute or leaves the image root (by its
//! text, and once the tree is final, by resolving it: links through links), a hard
//! link to anything but a regular file unpacked before, device nodes and
//! fifos, and sizes above [`Limits`] (per file, from the tar header before
//! anything is read; per layer and per image as bytes are written; a
//! compressed size above a layer's limit, from its descriptor; and a
//! decompression ratio above the limit, the signature of a gzip bomb).
//! setuid, setgid and sticky bits are stripped, not refused: files are
//! written 0644 (0755 when the entry had an execute bit), directories
//! 0755, owners are the caller's. Hard links become copies.
//!
//! The caller unpacks into a fresh directory and renames it into place
//! only when this returns `Ok`, so nothing half-unpacked is ever used.

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use sha2::Digest as _;

/// Size limits of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// One file's size.
    pub file: u64,
    /// One layer: compressed (its descriptor) and unpacked (its files).
    pub layer: u64,
    /// All files of the image together.
    pub image: u64,
    /// Unpacked bytes per compressed byte, checked past [`RATIO_GRACE`].
    pub ratio: u64,
    /// Tar entries of all layers together (files, directories, links):
    /// a million empty files would fill an inode table, not a disk.
    pub files: u64,
}

/// Unpacked bytes a layer may reach before the ratio is checked: tar
/// headers and padding of a few small files compress very well.
pub const RATIO_GRACE: u64 = 8 << 20;

impl Default for Limits {
    /// Large enough for the biggest catalogs seen (an `index.db` of a few
    /// hundred MB; FBC JSON compresses about 10:1), small enough that a
    /// hostile image cannot fill a disk.
    fn default() -> Limits {
        Limits {
            file: 1 << 30,
            layer: 2 << 30,
            image: 4 << 30,
            ratio: 100,
            files: 200_000,
        }
    }
}

/// One layer to apply: its blob on disk, checked against `digest` as it
/// is read.
#[derive(Debug, Clone)]
pub struct LayerBlob {
    pub digest: String,
    pub media_type: String,
    /// Size from the descriptor.
    pub size: u64,
    pub path: PathBuf,
}

/// Why an image was not unpacked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct UnpackError {
    /// The layer's digest.
    pub layer: String,
    /// The tar entry, as the archive names it.
    pub entry: Option<String>,
    pub message: String,
}

impl UnpackError {
    fn describe(&self) -> String {
        match &self.entry {
            Some(entry) => format!("layer {}: entry `{entry}`: {}", self.layer, self.message),
            None => format!("layer {}: {}", self.layer, self.message),
        }
    }
}

/// Applies `layers` in order into `root` (an existing, empty directory).
pub fn unpack_layers(layers: &[LayerBlob], root: &Path, limits: &Limits) -> Result<(), UnpackError> {
    let mut image_total = 0u64;
    let mut n_entries = 0u64;
    for layer in layers {
        let fail = |entry: Option<String>, message: String| UnpackError {
            layer: layer.digest.clone(),
            entry,
            message,
        };
        if layer.size > limits.layer {
            return Err(fail(
                None,
                format!(
                    "its descriptor says {} bytes, above the layer limit of {}",
                    layer.size, limits.layer
                ),
            ));
        }
        let file = fs_err::File::open(&layer.path).map_err(|error| fail(None, error.to_string()))?;
        let counted = Counted::new(file);
        let compressed = counted.counter();
        let mut reader = Decompressed::new(counted, &layer.media_type).map_err(|message| fail(None, message))?;
        apply_layer(&mut reader, root, limits, (&mut image_total, &mut n_entries), &compressed, &fail)?;
        // Read what is left (tar padding, gzip trailer) so that the whole
        // blob is hashed; a trailing mismatch is as bad as any other.
        io::copy(&mut reader, &mut io::sink()).map_err(|error| fail(None, format!("cannot read the layer: {error}")))?;
        let (n_read, digest) = compressed.finish();
        if n_read != layer.size || digest != layer.digest {
            return Err(fail(
                None,
                format!("the blob is {n_read} bytes with digest {digest}, not what its descriptor says"),
            ));
        }
    }
    // Each link was checked on its own, by its text; links through links
    // (`x` → `a/b/..` with `a/b` → `..`) can still leave the root once
    // resolved, so every link is resolved now that the tree is final.
    if let Some(last) = layers.last() {
        check_links_resolve_inside(root, root).map_err(|(entry, message)| UnpackError {
            layer: last.digest.clone(),
            entry: Some(entry),
            message,
        })?;
    }
    Ok(())
}

/// Every symbolic link below `dir` resolves inside `root` (or nowhere).
fn check_links_resolve_inside(root: &Path, dir: &Path) -> Result<(), (String, String)> {
    let canonical_root = std::fs::canonicalize(root).map_err(|error| (String::new(), error.to_string()))?;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(file_type) = entry.file_type() else { continue };
            if file_type.is_dir() {
                stack.push(path);
            } else if file_type.is_symlink()
                && let Ok(target) = std::fs::canonicalize(&path)
                && !target.starts_with(&canonical_root)
            {
                let relative = path.strip_prefix(root).unwrap_or(&path).display().to_string();
                return Err((relative, "symbolic link that resolves outside the image".to_string()));
            }
        }
    }
    Ok(())
}

type Fail<'a> = dyn Fn(Option<String>, String) -> UnpackError + 'a;

fn apply_layer(
    reader: &mut dyn Read,
    root: &Path,
    limits: &Limits,
    (image_total, n_entries): (&mut u64, &mut u64),
    compressed: &Counter,
    fail: &Fail,
) -> Result<(), UnpackError> {
    let mut archive = tar::Archive::new(reader);
    let mut layer_total = 0u64;
    // Paths this layer made: an opaque whiteout keeps them.
    let mut made_here: BTreeSet<PathBuf> = BTreeSet::new();
    let entries = archive
        .entries()
        .map_err(|error| fail(None, format!("not a tar archive: {error}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| fail(None, format!("cannot read the tar archive: {error}")))?;
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let at = |message: String| fail(Some(raw_name.clone()), message);
        *n_entries += 1;
        if *n_entries > limits.files {
            return Err(at(format!(
                "the image has more than {} entries, the file-count limit",
                limits.files
            )));
        }
        let relative = safe_relative(&raw_name).map_err(at)?;
        let Some(relative) = relative else {
            continue; // the root itself
        };
        let entry_type = entry.header().entry_type();
        let size = entry.size();
        if size > limits.file {
            return Err(at(format!("its header says {size} bytes, above the file limit of {}", limits.file)));
        }
        let file_name = relative
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = relative.parent().unwrap_or(Path::new(""));
        ensure_dirs(root, parent, &mut made_here).map_err(at)?;
        if file_name == ".wh..wh..opq" {
            clear_dir(root, parent, &made_here).map_err(at)?;
            continue;
        }
        if let Some(hidden) = file_name.strip_prefix(".wh.") {
            remove_path(&root.join(parent).join(hidden)).map_err(at)?;
            continue;
        }
        let target = root.join(&relative);
        match entry_type {
            tar::EntryType::Directory => {
                match std::fs::symlink_metadata(&target) {
                    Ok(metadata) if metadata.is_dir() => {}
                    Ok(_) => {
                        remove_path(&target).map_err(at)?;
                        make_dir(&target).map_err(at)?;
                    }
                    Err(_) => make_dir(&target).map_err(at)?,
                }
                made_here.insert(relative);
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                if entry_type == tar::EntryType::GNUSparse {
                    return Err(at("sparse files are not supported".to_string()));
                }
                remove_path(&target).map_err(at)?;
                let executable = entry.header().mode().unwrap_or(0o644) & 0o111 != 0;
                let written = write_file(&mut entry, &target, executable, limits, layer_total, *image_total, compressed).map_err(at)?;
                layer_total += written;
                *image_total += written;
                made_here.insert(relative);
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .unwrap_or_default();
                check_symlink(parent, &link).map_err(at)?;
                remove_path(&target).map_err(at)?;
                std::os::unix::fs::symlink(&link, &target).map_err(|error| at(error.to_string()))?;
                made_here.insert(relative);
            }
            tar::EntryType::Link => {
                let link = entry
                    .link_name_bytes()
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .unwrap_or_default();
                let source = match safe_relative(&link) {
                    Ok(Some(source)) => source,
                    Ok(None) => return Err(at(format!("hard link to `{link}`, the image root"))),
                    Err(message) => return Err(at(format!("hard link to `{link}`: {message}"))),
                };
                let source_path = root.join(&source);
                check_no_symlink_on_the_way(root, &source).map_err(|message| at(format!("hard link to `{link}`: {message}")))?;
                let metadata = std::fs::symlink_metadata(&source_path)
                    .map_err(|_| at(format!("hard link to `{link}`, which is not in the image before it")))?;
                if !metadata.is_file() {
                    return Err(at(format!("hard link to `{link}`, which is not a regular file")));
                }
                let size = metadata.len();
                check_totals(size, limits, layer_total, *image_total)?.map_or(Ok(()), |message| Err(at(message)))?;
                remove_path(&target).map_err(at)?;
                // A copy, not a link: the two names never share later writes.
                std::fs::copy(&source_path, &target).map_err(|error| at(error.to_string()))?;
                layer_total += size;
                *image_total += size;
                made_here.insert(relative);
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                return Err(at("device nodes and fifos are not allowed in an image catbuild reads".to_string()));
            }
            // PAX and GNU long-name headers are folded into the next entry
            // by the tar reader; anything else carries no file.
            _ => {}
        }
    }
    Ok(())
}

/// `name` as a path below the root: `None` for the root itself; an error
/// for an absolute path or a `..` component.
fn safe_relative(name: &str) -> Result<Option<PathBuf>, String> {
    if name.starts_with('/') {
        return Err("absolute paths are not allowed".to_string());
    }
    let mut relative = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("`..` is not allowed in a path".to_string()),
            Component::RootDir | Component::Prefix(_) => return Err("absolute paths are not allowed".to_string()),
        }
    }
    Ok((!relative.as_os_str().is_empty()).then_some(relative))
}

/// A symbolic link's target may be relative and stay inside the root,
/// counting from the directory it is in.
fn check_symlink(parent: &Path, link: &str) -> Result<(), String> {
    if link.starts_with('/') {
        return Err(format!("symbolic link to the absolute path `{link}`"));
    }
    let mut depth: usize = parent.components().count();
    for component in Path::new(link).components() {
        match component {
            Component::ParentDir => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("symbolic link to `{link}`, outside the image"))?;
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    Ok(())
}

/// Refuses a path whose directories include a symbolic link: writing
/// through one could land anywhere.
fn check_no_symlink_on_the_way(root: &Path, relative: &Path) -> Result<(), String> {
    let mut path = root.to_path_buf();
    let parts: Vec<_> = relative.components().collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        path.push(part);
        if std::fs::symlink_metadata(&path).is_ok_and(|metadata| metadata.file_type().is_symlink()) {
            return Err(format!(
                "`{}` is a symbolic link; paths through links are not allowed",
                path.strip_prefix(root).unwrap_or(&path).display()
            ));
        }
    }
    Ok(())
}

/// Makes the directories of `parent` (each checked not to be a link).
fn ensure_dirs(root: &Path, parent: &Path, made_here: &mut BTreeSet<PathBuf>) -> Result<(), String> {
    let mut path = root.to_path_buf();
    let mut relative = PathBuf::new();
    for part in parent.components() {
        path.push(part);
        relative.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(format!(
                    "`{}` is a symbolic link; paths through links are not allowed",
                    relative.display()
                ));
            }
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => return Err(format!("`{}` is a file, not a directory", relative.display())),
            Err(_) => {
                make_dir(&path)?;
                made_here.insert(relative.clone());
            }
        }
    }
    Ok(())
}

fn make_dir(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(path)
        .map_err(|error| format!("cannot create `{}`: {error}", path.display()))
}

/// Removes a file, link or directory tree if present (links not followed).
fn remove_path(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => Ok(()),
    }
    .map_err(|error| format!("cannot remove `{}`: {error}", path.display()))
}

/// An opaque whiteout: what lower layers put in `dir` goes.
fn clear_dir(root: &Path, dir: &Path, made_here: &BTreeSet<PathBuf>) -> Result<(), String> {
    let Ok(children) = std::fs::read_dir(root.join(dir)) else {
        return Ok(());
    };
    for child in children.flatten() {
        let relative = dir.join(child.file_name());
        if !made_here.contains(&relative) {
            remove_path(&child.path())?;
        }
    }
    Ok(())
}

/// A message when `size` more bytes break the layer or image limit.
fn check_totals(size: u64, limits: &Limits, layer_total: u64, image_total: u64) -> Result<Option<String>, UnpackError> {
    if layer_total + size > limits.layer {
        return Ok(Some(format!(
            "the layer unpacks to more than the layer limit of {} bytes",
            limits.layer
        )));
    }
    if image_total + size > limits.image {
        return Ok(Some(format!(
            "the image unpacks to more than the image limit of {} bytes",
            limits.image
        )));
    }
    Ok(None)
}

/// Writes one regular file, counting against the limits as it goes (a
/// header may lie about nothing here: the tar reader stops at its size).
fn write_file(
    entry: &mut dyn Read,
    target: &Path,
    executable: bool,
    limits: &Limits,
    layer_total: u64,
    image_total: u64,
    compressed: &Counter,
) -> Result<u64, String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if executable { 0o755 } else { 0o644 })
        .open(target)
        .map_err(|error| format!("cannot create `{}`: {error}", target.display()))?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        let n = entry.read(&mut buffer).map_err(|error| format!("cannot read the entry: {error}"))?;
        if n == 0 {
            break;
        }
        written += n as u64;
        if written > limits.file {
            return Err(format!("the file is larger than the file limit of {} bytes", limits.file));
        }
        if let Ok(Some(message)) = check_totals(written, limits, layer_total, image_total) {
            return Err(message);
        }
        let unpacked = layer_total + written;
        let read = compressed.bytes().max(1);
        if unpacked > RATIO_GRACE && unpacked / read > limits.ratio {
            return Err(format!(
                "the layer decompresses {unpacked} bytes from {read}, above the ratio limit of {}:1 (a compression bomb?)",
                limits.ratio
            ));
        }
        file.write_all(&buffer[..n])
            .map_err(|error| format!("cannot write `{}`: {error}", target.display()))?;
    }
    Ok(written)
}

/// The layer's compressed bytes: counted and hashed as they are read.
struct Counted<R> {
    inner: R,
    counter: Counter,
}

/// Shared view of a [`Counted`] reader's progress.
#[derive(Clone)]
struct Counter(std::rc::Rc<std::cell::RefCell<(u64, sha2::Sha256)>>);

impl Counter {
    fn bytes(&self) -> u64 {
        self.0.borrow().0
    }

    fn finish(&self) -> (u64, String) {
        let state = self.0.borrow();
        (state.0, format!("sha256:{}", super::hex(&state.1.clone().finalize())))
    }
}

impl<R: Read> Counted<R> {
    fn new(inner: R) -> Counted<R> {
        Counted {
            inner,
            counter: Counter(std::rc::Rc::new(std::cell::RefCell::new((0, sha2::Sha256::new())))),
        }
    }

    fn counter(&self) -> Counter {
        self.counter.clone()
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buffer)?;
        let mut state = self.counter.0.borrow_mut();
        state.0 += n as u64;
        state.1.update(&buffer[..n]);
        Ok(n)
    }
}

/// A layer's tar stream: gunzipped, or as it is.
enum Decompressed<R: Read> {
    Gzip(Box<flate2::read::MultiGzDecoder<io::BufReader<R>>>),
    Plain(io::BufReader<R>),
}

impl<R: Read> Decompressed<R> {
    fn new(inner: R, media: &str) -> Result<Decompressed<R>, String> {
        use io::BufRead as _;
        if media.ends_with("+zstd") || media.ends_with(".zstd") {
            return Err(format!(
                "zstd layers (`{media}`) are not supported; push the image with gzip layers"
            ));
        }
        let mut buffered = io::BufReader::new(inner);
        // The bytes decide, whatever the media type says: some tools label
        // gzip layers `tar` and the reverse.
        let head = buffered.fill_buf().map_err(|error| format!("cannot read the layer: {error}"))?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        Ok(if gzip {
            Decompressed::Gzip(Box::new(flate2::read::MultiGzDecoder::new(buffered)))
        } else {
            Decompressed::Plain(buffered)
        })
    }
}

impl<R: Read> Read for Decompressed<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Decompressed::Gzip(reader) => reader.read(buffer),
            Decompressed::Plain(reader) => reader.read(buffer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A gzipped layer blob in `dir` with `entries`: (path, type, link, mode, data).
    fn layer(dir: &Path, name: &str, entries: &[(&str, tar::EntryType, &str, u32, &[u8])]) -> LayerBlob {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind, link, mode, data) in entries {
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(*kind);
            header.set_mode(*mode);
            header.set_size(data.len() as u64);
            if !link.is_empty() {
                header.set_link_name(link).unwrap();
            }
            builder.append_data(&mut header, path, *data).unwrap();
        }
        let tar = builder.into_inner().unwrap();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, &tar).unwrap();
        let bytes = encoder.finish().unwrap();
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        LayerBlob {
            digest: crate::image::sha256_digest(&bytes),
            media_type: crate::image::media_type::OCI_LAYER_GZIP.to_string(),
            size: bytes.len() as u64,
            path,
        }
    }

    #[test]
    fn layers_apply_in_order_with_whiteouts_links_and_modes() {
        use tar::EntryType::{Directory, Link, Regular, Symlink};
        let dir = tempfile::tempdir().unwrap();
        let lower = layer(
            dir.path(),
            "lower",
            &[
                ("manifests/", Directory, "", 0o755, b""),
                ("manifests/old.yaml", Regular, "", 0o644, b"old"),
                ("manifests/gone.yaml", Regular, "", 0o644, b"gone"),
                ("metadata/", Directory, "", 0o755, b""),
                ("metadata/stale.yaml", Regular, "", 0o644, b"stale"),
                ("bin/tool", Regular, "", 0o4755, b"#!"),
            ],
        );
        let upper = layer(
            dir.path(),
            "upper",
            &[
                ("manifests/.wh.gone.yaml", Regular, "", 0o644, b""),
                ("metadata/.wh..wh..opq", Regular, "", 0o644, b""),
                ("metadata/annotations.yaml", Regular, "", 0o644, b"new"),
                ("manifests/link.yaml", Symlink, "../metadata/annotations.yaml", 0o777, b""),
                ("manifests/copy.yaml", Link, "manifests/old.yaml", 0o644, b""),
            ],
        );
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        unpack_layers(&[lower, upper], &root, &Limits::default()).unwrap();
        assert_eq!(std::fs::read(root.join("manifests/old.yaml")).unwrap(), b"old");
        assert!(!root.join("manifests/gone.yaml").exists(), "a whiteout removes");
        assert!(!root.join("metadata/stale.yaml").exists(), "an opaque whiteout empties");
        assert_eq!(std::fs::read(root.join("metadata/annotations.yaml")).unwrap(), b"new");
        assert_eq!(std::fs::read(root.join("manifests/link.yaml")).unwrap(), b"new");
        assert_eq!(std::fs::read(root.join("manifests/copy.yaml")).unwrap(), b"old");
        let mode = std::fs::metadata(root.join("bin/tool")).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755, "setuid stripped, execute kept");
    }

    #[test]
    fn a_link_through_a_link_that_leaves_the_image_is_refused() {
        use tar::EntryType::{Directory, Symlink};
        let dir = tempfile::tempdir().unwrap();
        // Each link alone stays inside; `x` resolves to the root's parent.
        let blob = layer(
            dir.path(),
            "links",
            &[
                ("a/", Directory, "", 0o755, b""),
                ("a/b", Symlink, "..", 0o777, b""),
                ("x", Symlink, "a/b/..", 0o777, b""),
            ],
        );
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let error = unpack_layers(&[blob], &root, &Limits::default()).unwrap_err();
        assert_eq!(error.entry.as_deref(), Some("x"), "{error}");
        assert!(error.message.contains("resolves outside the image"), "{error}");
    }

    #[test]
    fn a_blob_that_is_not_its_digest_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut blob = layer(dir.path(), "a", &[("x", tar::EntryType::Regular, "", 0o644, b"x")]);
        blob.digest = format!("sha256:{}", "0".repeat(64));
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let error = unpack_layers(&[blob], &root, &Limits::default()).unwrap_err();
        assert!(error.to_string().contains("not what its descriptor says"), "{error}");
    }

    #[test]
    fn paths_must_stay_below_the_root() {
        assert_eq!(
            safe_relative("./manifests/a.yaml").unwrap(),
            Some(PathBuf::from("manifests/a.yaml"))
        );
        assert_eq!(safe_relative("./").unwrap(), None);
        assert!(safe_relative("/etc/passwd").unwrap_err().contains("absolute"));
        assert!(safe_relative("manifests/../../x").unwrap_err().contains("`..`"));
        assert!(check_symlink(Path::new("manifests"), "../metadata/a").is_ok());
        assert!(check_symlink(Path::new("manifests"), "../../etc").unwrap_err().contains("outside"));
        assert!(check_symlink(Path::new(""), "/etc/passwd").unwrap_err().contains("absolute"));
    }
}
