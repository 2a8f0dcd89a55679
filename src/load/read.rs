//! Reading a bundle directory into memory: the files opm's parser may look
//! at, each with the sha256 digest of the bytes read.
//!
//! This is the only place bundle loading touches the filesystem. Parsing
//! ([`super::bundle`]) works on the [`BundleFiles`] returned here, so the
//! digests name every input of a bundle (the key of a future cache entry),
//! `.j2` files render in memory ([`super::jinja`]), and a bundle image layer
//! can later produce the same type.
//!
//! What is read follows `pkg/registry/parse.go`: the entries directly inside
//! `manifests/` except hidden ones (opm skips them without opening them; an
//! editor's lock file is one), and every entry directly inside `metadata/`.
//! Sub-directories are skipped, as opm skips them. Nothing else is silently
//! dropped: an entry that cannot be read (a permission error, a broken
//! symbolic link, a FIFO or socket where a file should be) is an error
//! naming its path and the OS error, so a bundle never loses a manifest
//! behind the user's back.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::input::Boundary;

/// The directory of a bundle's manifests.
pub(crate) const MANIFESTS_DIR: &str = "manifests";
/// The directory of a bundle's annotations, dependencies and properties.
pub(crate) const METADATA_DIR: &str = "metadata";
/// Where upstream repositories sometimes nest a bundle (opm does not look
/// there; catbuild only says so, and `init` lists the nested root).
pub(crate) const NESTED_BUNDLE_DIRS: [&str; 2] = ["bundle", "certification"];

/// Whether `dir` looks like a bundle directory: it has `manifests/`,
/// `metadata/`, or a `bundle/` or `certification/` where upstream tools nest
/// a bundle, or a file at the top whose name says it is a CSV. This is the
/// one definition of "looks like a bundle": a build keeps such a directory
/// when a wildcard matches it (and the loader says what is wrong with an odd
/// one), and `init` uses it for the neighbours of the bundles it found.
///
/// A directory that cannot be listed is an error (a directory without
/// permission is one): a build reports it, and only a caller that guesses
/// may take it for "no". A part that cannot be looked at counts as absent
/// here; when another part makes the directory a bundle, [`read_bundle_dir`]
/// reports the broken one by name.
pub(crate) fn looks_like_bundle(dir: &Path) -> Result<bool, std::io::Error> {
    for part in [MANIFESTS_DIR, METADATA_DIR].into_iter().chain(NESTED_BUNDLE_DIRS) {
        if part_is_directory(&dir.join(part)).unwrap_or(false) {
            return Ok(true);
        }
    }
    for entry in std::fs::read_dir(dir)? {
        if entry?.file_name().to_string_lossy().contains("clusterserviceversion") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `dir` has both `manifests/` and `metadata/`: a bundle as opm
/// reads it, where [`looks_like_bundle`] also takes part of one.
pub(crate) fn has_bundle_parts(dir: &Path) -> Result<bool, std::io::Error> {
    Ok(part_is_directory(&dir.join(MANIFESTS_DIR))? && part_is_directory(&dir.join(METADATA_DIR))?)
}

/// The name of a bundle's version directory (`{{ bundle.dir }}`): the last
/// component of `dir`, or the one above it for a bundle nested under one
/// of [`NESTED_BUNDLE_DIRS`] (`0.4.1/bundle/` is version `0.4.1`).
pub(crate) fn version_dir_name(dir: &Path) -> String {
    let name = |path: &Path| path.file_name().map(|name| name.to_string_lossy().into_owned());
    match name(dir) {
        Some(last) if NESTED_BUNDLE_DIRS.contains(&last.as_str()) => dir.parent().and_then(name).unwrap_or(last),
        Some(last) => last,
        None => String::new(),
    }
}

/// The first of [`NESTED_BUNDLE_DIRS`] below `dir` that has a bundle's
/// parts ([`has_bundle_parts`]); one that cannot be looked at is skipped.
pub(crate) fn nested_bundle_root(dir: &Path) -> Option<&'static str> {
    NESTED_BUNDLE_DIRS
        .into_iter()
        .find(|nested| has_bundle_parts(&dir.join(nested)).unwrap_or(false))
}

/// Whether a part of a bundle (`manifests`, `metadata`, ...) is a directory,
/// following links: missing is "no", any other failure to look is an error.
fn part_is_directory(path: &Path) -> Result<bool, std::io::Error> {
    match std::fs::metadata(path) {
        Ok(metadata) => Ok(metadata.is_dir()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// The sha256 digest of a file's bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    pub fn of(bytes: &[u8]) -> Sha256Digest {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// The 64 lowercase hex digits, without `format!` per byte: the cache
    /// writes thousands of these per build (its memo, keys, stamps).
    pub fn hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(64);
        for byte in self.0 {
            text.push(char::from(DIGITS[usize::from(byte >> 4)]));
            text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        text
    }
}

impl fmt::Display for Sha256Digest {
    /// `sha256:<64 hex digits>`, as OCI writes digests.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One file of a bundle, in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// Where the bundle has the file, relative to the bundle directory
    /// (`manifests/foo.clusterserviceversion.yaml`). For a rendered
    /// template this is the name without `.j2`.
    pub path: PathBuf,
    /// The contents (for a rendered template, the rendered text).
    pub bytes: Vec<u8>,
    /// The file that was read, relative to the bundle directory: `path`,
    /// or the template `path` was rendered from. Diagnostics point here.
    pub source: PathBuf,
    /// sha256 of the bytes read from `source`.
    pub source_digest: Sha256Digest,
}

impl BundleFile {
    /// The file name ("" when it is not UTF-8), which decides the order opm
    /// reads files in.
    pub fn name(&self) -> &str {
        self.path.file_name().and_then(|name| name.to_str()).unwrap_or_default()
    }

    /// The file name's bytes, for ordering.
    pub(crate) fn name_bytes(&self) -> &[u8] {
        self.path.file_name().unwrap_or_default().as_encoded_bytes()
    }

    /// The directory the file is in (`manifests` or `metadata`).
    pub fn parent(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }
}

/// A bundle's files, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleFiles {
    /// The bundle directory; every path below is relative to it.
    pub dir: PathBuf,
    /// Files of `manifests/` then `metadata/`, each directory's files in
    /// byte order of their names (Go's `fs.ReadDir`).
    pub files: Vec<BundleFile>,
    /// The directories that exist among `manifests`, `metadata`, and (when
    /// `manifests` does not) `bundle/manifests` and `certification/manifests`.
    pub directories: BTreeSet<PathBuf>,
    /// The bounds the files were read with; templates render within them.
    pub limits: crate::input::Limits,
}

impl BundleFiles {
    /// The files directly inside `directory`, in order.
    pub fn files_in<'a>(&'a self, directory: &'a str) -> impl Iterator<Item = &'a BundleFile> + 'a {
        self.files.iter().filter(move |file| file.parent() == Path::new(directory))
    }

    pub fn has_directory(&self, directory: &str) -> bool {
        self.directories.contains(Path::new(directory))
    }

    /// The input digests: each file read and its sha256.
    pub fn inputs(&self) -> Vec<(PathBuf, Sha256Digest)> {
        let mut inputs: Vec<(PathBuf, Sha256Digest)> = self.files.iter().map(|file| (file.source.clone(), file.source_digest)).collect();
        inputs.sort();
        inputs
    }
}

/// A bundle file or directory that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read `{}`: it is a broken symbolic link (to `{}`): {source}", path.display(), target.display())]
    BrokenSymlink {
        path: PathBuf,
        target: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A FIFO, socket or device: reading it could block or never end.
    #[error("cannot read `{}`: it is not a regular file (a FIFO, socket or device)", path.display())]
    NotAFile { path: PathBuf },

    /// A symbolic link (or a directory reached through one) that leads out
    /// of the project and the directories catalog.toml allows.
    #[error("`{}` leads to `{}`, outside the project", path.display(), resolved.display())]
    Outside { path: PathBuf, resolved: PathBuf },

    #[error("cannot read `{}`: it is {size} bytes, more than the {limit}-byte limit on one input file", path.display())]
    TooLarge { path: PathBuf, size: u64, limit: u64 },

    /// A line or document count beyond `[limits]`, found before parsing.
    #[error("cannot read `{}`: {shape}", path.display())]
    Shape { path: PathBuf, shape: crate::input::ShapeError },
}

impl ReadError {
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::BrokenSymlink { path, .. }
            | ReadError::NotAFile { path }
            | ReadError::TooLarge { path, .. }
            | ReadError::Shape { path, .. }
            | ReadError::Outside { path, .. } => path,
        }
    }

    pub fn help(&self) -> Option<String> {
        match self {
            ReadError::BrokenSymlink { .. } => {
                Some("fix the link or remove it; a bundle file that cannot be read is never skipped".to_string())
            }
            ReadError::NotAFile { .. } => Some("bundle directories hold regular files only; remove it".to_string()),
            ReadError::Outside { .. } => {
                Some("copy the file into the project, or list its directory in `external-paths` under [catalog] to allow it".to_string())
            }
            ReadError::TooLarge { .. } => Some(
                "no manifest is that large; check that the right file is in the bundle (or raise `file-size` under [limits] in catalog.toml)"
                    .to_string(),
            ),
            ReadError::Shape {
                shape: crate::input::ShapeError::LongLine { .. },
                ..
            } => Some("check that the right file is in the bundle, or raise `line-length` under [limits] in catalog.toml".to_string()),
            ReadError::Shape {
                shape: crate::input::ShapeError::TooManyDocuments { .. },
                ..
            } => Some("check that the right file is in the bundle, or raise `documents` under [limits] in catalog.toml".to_string()),
            ReadError::Io { .. } => None,
        }
    }
}

/// Reads the files of the bundle in `dir` (see the module doc for which).
pub fn read_bundle_dir(dir: &Path) -> Result<BundleFiles, ReadError> {
    read_bundle_dir_within(dir, &Boundary::anywhere(), &crate::input::Limits::default())
}

/// [`read_bundle_dir`] for a build: the bundle directory (as
/// [`Boundary::for_named_dir`] says), its `manifests/` and `metadata/`,
/// and every symbolic link among their entries must resolve inside
/// `boundary`; every file is read within `limits`.
pub fn read_bundle_dir_within(dir: &Path, boundary: &Boundary, limits: &crate::input::Limits) -> Result<BundleFiles, ReadError> {
    read_bundle_dir_reusing(dir, boundary, limits, PreRead::default())
}

/// What the action cache learnt of a bundle directory while keying its
/// load: the files it read and hashed, and how `manifests/` and
/// `metadata/` listed. The loader takes these instead of listing and
/// reading a second time (a cold build listed every directory twice and
/// stated every file three times); every check is still made on them.
#[derive(Debug, Default)]
pub struct PreRead {
    /// Files already read, by path: their bytes and sha256.
    pub files: std::collections::HashMap<PathBuf, (Vec<u8>, Sha256Digest)>,
    /// `manifests/` and `metadata/` (by name) as listed, when each was a
    /// directory holding only directories and regular files (links
    /// followed); anything else is listed again, and reported, here.
    pub listings: std::collections::HashMap<&'static str, Vec<Listed>>,
}

/// One entry of a directory listing handed to the loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    /// The entry itself is a symbolic link.
    pub is_symlink: bool,
    /// It is a directory, or a link to one.
    pub is_dir: bool,
}

/// [`read_bundle_dir_within`], taking what `pre_read` holds instead of
/// listing a directory or reading a file again; every check (the
/// boundary, links, the size and shape limits) is made as for a file read
/// here.
pub fn read_bundle_dir_reusing(
    dir: &Path,
    boundary: &Boundary,
    limits: &crate::input::Limits,
    mut pre_read: PreRead,
) -> Result<BundleFiles, ReadError> {
    let boundary = &boundary.for_named_dir(dir).map_err(|outside| ReadError::Outside {
        path: dir.to_path_buf(),
        resolved: outside.resolved,
    })?;
    let mut bundle_files = BundleFiles {
        dir: dir.to_path_buf(),
        limits: *limits,
        ..BundleFiles::default()
    };
    for directory in [MANIFESTS_DIR, METADATA_DIR] {
        let path = dir.join(directory);
        let listed = pre_read.listings.remove(directory);
        if listed.is_none() && !is_directory(&path)? {
            continue;
        }
        bundle_files.directories.insert(PathBuf::from(directory));
        check_inside(&path, boundary)?;
        let skip_hidden = directory == MANIFESTS_DIR;
        // Per entry: its name, path, and (when listed already) whether it
        // is a link and whether a directory.
        type Entry = (String, PathBuf, Option<(bool, bool)>);
        let entries: Vec<Entry> = match listed {
            Some(listed) => listed
                .into_iter()
                .map(|entry| {
                    let entry_path = path.join(&entry.name);
                    (entry.name, entry_path, Some((entry.is_symlink, entry.is_dir)))
                })
                .collect(),
            None => sorted_entries(&path)?
                .into_iter()
                .map(|(name, entry_path)| (name, entry_path, None))
                .collect(),
        };
        for (name, entry_path, known) in entries {
            if skip_hidden && name.starts_with('.') {
                continue;
            }
            if boundary.is_limited() {
                let is_symlink = match known {
                    Some((is_symlink, _)) => is_symlink,
                    None => std::fs::symlink_metadata(&entry_path).is_ok_and(|meta| meta.file_type().is_symlink()),
                };
                if is_symlink {
                    check_inside(&entry_path, boundary)?;
                }
            }
            // Skipped, as opm skips sub-directories.
            if known.is_some_and(|(_, is_dir)| is_dir) {
                continue;
            }
            let (bytes, source_digest) = match pre_read.files.remove(&entry_path) {
                // Bytes read to key the load are bounded as a read here would be.
                Some((bytes, digest)) if bytes.len() as u64 <= limits.file_bytes => {
                    crate::input::check_shape(&bytes, limits).map_err(|shape| ReadError::Shape {
                        path: entry_path.clone(),
                        shape,
                    })?;
                    (bytes, digest)
                }
                _ => {
                    let Some(bytes) = read_entry_within(&entry_path, limits)? else {
                        continue;
                    };
                    let digest = Sha256Digest::of(&bytes);
                    (bytes, digest)
                }
            };
            // The entry's own name, not the lossy text used for ordering.
            let relative = Path::new(directory).join(entry_path.file_name().unwrap_or_default());
            bundle_files.files.push(BundleFile {
                path: relative.clone(),
                source_digest,
                source: relative,
                bytes,
            });
        }
    }
    if !bundle_files.has_directory(MANIFESTS_DIR) {
        for nested in NESTED_BUNDLE_DIRS {
            let relative = Path::new(nested).join(MANIFESTS_DIR);
            if is_directory(&dir.join(&relative))? {
                bundle_files.directories.insert(relative);
            }
        }
    }
    Ok(bundle_files)
}

fn check_inside(path: &Path, boundary: &Boundary) -> Result<(), ReadError> {
    boundary.check(path).map_err(|outside| ReadError::Outside {
        path: path.to_path_buf(),
        resolved: outside.resolved,
    })
}

/// Whether `path` is a directory (following links); a missing path is not,
/// any other failure to look is an error.
fn is_directory(path: &Path) -> Result<bool, ReadError> {
    match std::fs::metadata(path) {
        Ok(metadata) => Ok(metadata.is_dir()),
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            // A dangling link named `manifests` is a broken bundle, not a
            // missing directory.
            match std::fs::symlink_metadata(path) {
                Ok(link) if link.file_type().is_symlink() => Err(broken_link(path, source)),
                _ => Ok(false),
            }
        }
        Err(source) => Err(ReadError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The bytes of a file entry; `None` for a directory (skipped, as opm does).
pub(crate) fn read_entry(path: &Path) -> Result<Option<Vec<u8>>, ReadError> {
    read_entry_within(path, &crate::input::Limits::default())
}

/// [`read_entry`], refusing a file beyond `limits` (size, then line
/// length and document count, before any parser sees it).
fn read_entry_within(path: &Path, limits: &crate::input::Limits) -> Result<Option<Vec<u8>>, ReadError> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(source) => {
            let is_link = std::fs::symlink_metadata(path).is_ok_and(|link| link.file_type().is_symlink());
            return Err(if is_link && source.kind() == std::io::ErrorKind::NotFound {
                broken_link(path, source)
            } else {
                ReadError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            });
        }
    };
    if metadata.is_dir() {
        return Ok(None);
    }
    if !metadata.is_file() {
        return Err(ReadError::NotAFile { path: path.to_path_buf() });
    }
    // Checked again on the opened file: the path may have changed since.
    let bytes = crate::input::read_at_most(path, limits.file_bytes).map_err(|error| match error {
        crate::input::InputError::Io(source) => ReadError::Io {
            path: path.to_path_buf(),
            source,
        },
        crate::input::InputError::NotAFile => ReadError::NotAFile { path: path.to_path_buf() },
        crate::input::InputError::TooLarge { size, limit } => ReadError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit,
        },
    })?;
    crate::input::check_shape(&bytes, limits).map_err(|shape| ReadError::Shape {
        path: path.to_path_buf(),
        shape,
    })?;
    Ok(Some(bytes))
}

fn broken_link(path: &Path, source: std::io::Error) -> ReadError {
    ReadError::BrokenSymlink {
        path: path.to_path_buf(),
        target: std::fs::read_link(path).unwrap_or_default(),
        source,
    }
}

/// Directory entries sorted by name bytes, as Go's `fs.ReadDir`.
pub(crate) fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, ReadError> {
    let io_error = |source| ReadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        entries.push((entry.file_name().to_string_lossy().into_owned(), entry.path()));
    }
    entries.sort_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, relative: &str, text: &str) {
        let path = dir.join(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }

    #[test]
    fn digest_prints_as_oci_writes_it() {
        // FIPS 180-2's test vectors: the empty input and "abc".
        assert_eq!(
            Sha256Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            Sha256Digest::of(b"abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bytes_handed_over_are_held_to_the_same_limits_as_bytes_read_here() {
        // A line over `line-length` is refused whether the loader reads the
        // file or is handed what the cache read to key it.
        let dir = tempfile::tempdir().unwrap();
        let text = format!("kind: ConfigMap\ndata: {}\n", "x".repeat(100));
        write(dir.path(), "manifests/long.yaml", &text);
        write(dir.path(), "metadata/annotations.yaml", "annotations: {}\n");
        let limits = crate::input::Limits {
            line_bytes: 50,
            ..crate::input::Limits::default()
        };
        let path = dir.path().join("manifests/long.yaml");
        let handed = PreRead {
            files: std::collections::HashMap::from([(path.clone(), (text.clone().into_bytes(), Sha256Digest::of(text.as_bytes())))]),
            ..PreRead::default()
        };
        for pre_read in [PreRead::default(), handed] {
            let error = read_bundle_dir_reusing(dir.path(), &Boundary::anywhere(), &limits, pre_read).unwrap_err();
            assert!(
                matches!(&error, ReadError::Shape { path: refused, .. } if *refused == path),
                "{error}"
            );
        }
    }

    #[test]
    fn reads_manifests_and_metadata_in_name_order_with_digests() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "manifests/b.yaml", "b");
        write(dir.path(), "manifests/a.yaml", "a");
        write(dir.path(), "manifests/.hidden", "h");
        write(dir.path(), "manifests/sub/c.yaml", "c");
        write(dir.path(), "metadata/.hidden", "m");
        write(dir.path(), "README.md", "not read");
        // An editor's lock file: a dangling link opm never opens (hidden).
        std::os::unix::fs::symlink("user@host.1234", dir.path().join("manifests/.#a.yaml")).unwrap();
        let files = read_bundle_dir(dir.path()).unwrap();
        let paths: Vec<&Path> = files.files.iter().map(|file| file.path.as_path()).collect();
        assert_eq!(
            paths,
            vec![
                Path::new("manifests/a.yaml"),
                Path::new("manifests/b.yaml"),
                Path::new("metadata/.hidden")
            ]
        );
        assert_eq!(
            files.files[0].source_digest.to_string(),
            "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
        );
        assert!(files.has_directory("manifests") && files.has_directory("metadata"));
    }

    #[test]
    fn broken_symlink_and_fifo_are_errors_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "manifests/a.yaml", "a");
        std::os::unix::fs::symlink("gone.yaml", dir.path().join("manifests/b.yaml")).unwrap();
        let error = read_bundle_dir(dir.path()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read `{}`: it is a broken symbolic link (to `gone.yaml`): No such file or directory (os error 2)",
                dir.path().join("manifests/b.yaml").display()
            )
        );
        fs_err::remove_file(dir.path().join("manifests/b.yaml")).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("metadata.fifo"))
            .status()
            .unwrap();
        assert!(status.success());
        fs_err::create_dir_all(dir.path().join("metadata")).unwrap();
        fs_err::rename(dir.path().join("metadata.fifo"), dir.path().join("metadata/annotations.yaml")).unwrap();
        let error = read_bundle_dir(dir.path()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read `{}`: it is not a regular file (a FIFO, socket or device)",
                dir.path().join("metadata/annotations.yaml").display()
            )
        );
    }

    #[test]
    fn one_definition_of_a_directory_that_looks_like_a_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "full/manifests/a.yaml", "a");
        write(root, "full/metadata/annotations.yaml", "a");
        write(root, "metadata-only/metadata/annotations.yaml", "a");
        write(root, "flat/a.clusterserviceversion.yaml", "a");
        write(root, "nested/bundle/manifests/a.yaml", "a");
        write(root, "nested/certification/manifests/a.yaml", "a");
        write(root, "nested/certification/metadata/annotations.yaml", "a");
        write(root, "catalog-templates/basic.yaml", "a");
        for bundle_like in ["full", "metadata-only", "flat", "nested"] {
            assert!(looks_like_bundle(&root.join(bundle_like)).unwrap(), "{bundle_like}");
        }
        assert!(!looks_like_bundle(&root.join("catalog-templates")).unwrap());
        assert!(looks_like_bundle(&root.join("missing")).is_err());
        assert!(has_bundle_parts(&root.join("full")).unwrap());
        assert!(!has_bundle_parts(&root.join("metadata-only")).unwrap());
        // `bundle/` lacks `metadata/`: the complete nested root is the other one.
        assert_eq!(nested_bundle_root(&root.join("nested")), Some("certification"));
        assert_eq!(nested_bundle_root(&root.join("full")), None);
    }

    /// Issue 19: the cache's listing and reads are handed to the loader,
    /// which must take them (no second listing) and still check them as
    /// its own: links out of the boundary, and the shape limits.
    #[cfg(unix)]
    #[test]
    fn what_the_cache_listed_and_read_is_taken_and_checked_as_read_here() {
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("project/b");
        write(&dir, "manifests/a.yaml", "kind: A\n");
        write(
            &dir,
            "manifests/long.yaml",
            "kind: ConfigMap\ndata: 0123456789012345678901234567890123456789\n",
        );
        write(&dir, "metadata/annotations.yaml", "annotations: {}\n");
        let listed = |names: &[&str]| -> Vec<Listed> {
            names
                .iter()
                .map(|name| Listed {
                    name: name.to_string(),
                    is_symlink: false,
                    is_dir: false,
                })
                .collect()
        };
        let pre_read = |names: &[&str]| {
            let mut pre_read = PreRead::default();
            for name in names {
                let path = dir.join(name);
                let bytes = std::fs::read(&path).unwrap();
                let digest = Sha256Digest::of(&bytes);
                pre_read.files.insert(path, (bytes, digest));
            }
            pre_read.listings.insert(MANIFESTS_DIR, listed(&["a.yaml", "long.yaml"]));
            pre_read.listings.insert(METADATA_DIR, listed(&["annotations.yaml"]));
            pre_read
        };
        let all = ["manifests/a.yaml", "manifests/long.yaml", "metadata/annotations.yaml"];
        let limits = crate::input::Limits {
            line_bytes: 30,
            ..crate::input::Limits::default()
        };
        let boundary = Boundary::new(&top.path().join("project"), &[]);
        let read_here = read_bundle_dir_within(&dir, &boundary, &limits).unwrap_err().to_string();
        assert!(read_here.contains("line 2 is"), "{read_here}");
        let handed = read_bundle_dir_reusing(&dir, &boundary, &limits, pre_read(&all)).unwrap_err();
        assert_eq!(handed.to_string(), read_here);
        // The listing is the loader's: a file it does not name is not read.
        let mut partial = pre_read(&all);
        partial.listings.insert(MANIFESTS_DIR, listed(&["a.yaml"]));
        let files = read_bundle_dir_reusing(&dir, &boundary, &limits, partial).unwrap();
        let paths: Vec<&Path> = files.files.iter().map(|file| file.path.as_path()).collect();
        assert_eq!(paths, [Path::new("manifests/a.yaml"), Path::new("metadata/annotations.yaml")]);
        // A listed link out of the project is refused as one found here.
        write(top.path(), "elsewhere/secret.yaml", "kind: Secret\n");
        fs_err::remove_file(dir.join("manifests/long.yaml")).unwrap();
        std::os::unix::fs::symlink(top.path().join("elsewhere/secret.yaml"), dir.join("manifests/long.yaml")).unwrap();
        let read_here = read_bundle_dir_within(&dir, &boundary, &limits).unwrap_err().to_string();
        assert!(read_here.contains("outside the project"), "{read_here}");
        let mut linked = pre_read(&["manifests/a.yaml", "metadata/annotations.yaml"]);
        linked.listings.get_mut(MANIFESTS_DIR).unwrap()[1].is_symlink = true;
        let handed = read_bundle_dir_reusing(&dir, &boundary, &limits, linked).unwrap_err();
        assert_eq!(handed.to_string(), read_here);
    }

    #[test]
    fn nested_bundle_is_noticed_only_without_manifests() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bundle/manifests/a.yaml", "a");
        let files = read_bundle_dir(dir.path()).unwrap();
        assert!(files.has_directory("bundle/manifests"));
        assert!(files.files.is_empty());
    }
}
