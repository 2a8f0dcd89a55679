//! Reading files other people wrote (issue 22): catalog.toml, bundle
//! manifests, FBC files, icons, templates, and the source lines quoted in
//! diagnostics. Only regular files are read, and only up to a size cap, so
//! a FIFO never blocks a build, `/dev/zero` named as a manifest is not read
//! forever, and a runaway file fails fast with its size instead of filling
//! memory.
//!
//! The file is opened without blocking and checked through the opened
//! handle (not by a `stat` before the open), so a path swapped for a FIFO
//! between the two cannot slip through.

use std::io::Read as _;
use std::path::Path;

/// The largest file catbuild reads: far above any real manifest or FBC
/// file (the largest catalog.json of community-operators-prod is tens of
/// megabytes), far below what would exhaust a build machine.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Bounds on what one build reads, from catalog.toml's `[limits]` (the
/// defaults when there is none): generous for real catalogs, small enough
/// that a hostile file fails in seconds and megabytes, with an error
/// naming the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `file-size`: bytes of one bundle file or icon.
    pub file_bytes: u64,
    /// `line-length`: bytes of one line of a bundle file.
    pub line_bytes: u64,
    /// `documents`: YAML documents in one file.
    pub documents: usize,
    /// `template-steps`: minijinja's fuel for one `.j2` file.
    pub template_steps: u64,
    /// `template-output`: bytes one `.j2` file may render.
    pub template_output_bytes: u64,
    /// `diagnostics`: problems shown in one report; the rest are counted.
    pub diagnostics: usize,
}

/// The default `line-length`: a minified CSV with an inline icon has lines
/// of a few megabytes.
pub const MAX_LINE_BYTES: u64 = 32 << 20;

/// The default `documents`: a bundle file holds a few, a whole catalog's
/// FBC file a few thousand.
pub const MAX_DOCUMENTS: usize = 100_000;

/// The default `diagnostics`.
pub const MAX_DIAGNOSTICS: usize = 1_000;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            file_bytes: MAX_FILE_BYTES,
            line_bytes: MAX_LINE_BYTES,
            documents: MAX_DOCUMENTS,
            template_steps: 20_000_000,
            template_output_bytes: 64 << 20,
            diagnostics: MAX_DIAGNOSTICS,
        }
    }
}

/// A file's shape beyond a [`Limits`] bound, found before it is parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("line {line} is {length} bytes long, more than the `line-length` limit of {limit}")]
    LongLine { line: usize, length: u64, limit: u64 },
    #[error("it has more than {limit} YAML documents (the `documents` limit); line {line} starts one more")]
    TooManyDocuments { line: usize, limit: usize },
}

/// Checks, in one pass over the bytes, that no line is longer than
/// `limits.line_bytes` and that there are at most `limits.documents`
/// YAML documents, counted by their `---` start markers (a marker at the
/// start of a line always starts a document in YAML, even inside a quoted
/// scalar). Runs before any parser sees the bytes, so a 200 MB one-line
/// file costs one scan, not a parse.
pub fn check_shape(bytes: &[u8], limits: &Limits) -> Result<(), ShapeError> {
    let mut n_documents = 1usize;
    let mut seen_content = false;
    // memchr finds the line ends a vector at a time; a byte-wise split
    // was a visible share of loading a large tree.
    let mut line_start = 0;
    let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
    for (line_idx, line_end) in ends.enumerate() {
        let line = &bytes[line_start..line_end];
        line_start = line_end + 1;
        if line.len() as u64 > limits.line_bytes {
            return Err(ShapeError::LongLine {
                line: line_idx + 1,
                length: line.len() as u64,
                limit: limits.line_bytes,
            });
        }
        let is_marker = line.starts_with(b"---") && line.get(3).is_none_or(|byte| matches!(byte, b' ' | b'\t' | b'\r'));
        if is_marker {
            // A leading `---` opens the first document, not a second one.
            if seen_content {
                n_documents += 1;
                if n_documents > limits.documents {
                    return Err(ShapeError::TooManyDocuments {
                        line: line_idx + 1,
                        limit: limits.documents,
                    });
                }
            }
            seen_content = true;
        } else if !seen_content && !line.iter().all(u8::is_ascii_whitespace) && !line.starts_with(b"#") {
            seen_content = true;
        }
    }
    Ok(())
}

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A FIFO, socket or device: reading it could block or never end.
    #[error("it is not a regular file (a FIFO, socket or device)")]
    NotAFile,
    #[error("it is {size} bytes, more than the {limit}-byte limit on one input file")]
    TooLarge { size: u64, limit: u64 },
}

impl InputError {
    /// Whether the path does not exist (callers word that their own way).
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::Io(error) if error.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The bytes of the regular file at `path` (symbolic links followed), at
/// most [`MAX_FILE_BYTES`].
pub fn read(path: &Path) -> Result<Vec<u8>, InputError> {
    read_at_most(path, MAX_FILE_BYTES)
}

/// The text of the regular file at `path`, at most [`MAX_FILE_BYTES`];
/// invalid UTF-8 is an `InvalidData` error, as `fs::read_to_string`.
pub fn read_to_string(path: &Path) -> Result<String, InputError> {
    let bytes = read(path)?;
    String::from_utf8(bytes).map_err(|error| InputError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, error)))
}

/// The bytes of the regular file at `path`, refused above `limit`.
pub fn read_at_most(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let file = open_regular(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(InputError::TooLarge { size, limit });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // The file may grow after the check: read one byte past the limit to
    // see it.
    file.take(limit + 1).read_to_end(&mut bytes)?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(InputError::TooLarge { size: read, limit });
    }
    Ok(bytes)
}

#[cfg(unix)]
fn open_regular(path: &Path) -> Result<std::fs::File, InputError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
    // writer. Regular files ignore the flag for reads.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(InputError::NotAFile);
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_regular(path: &Path) -> Result<std::fs::File, InputError> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(InputError::NotAFile);
    }
    Ok(std::fs::File::open(path)?)
}

/// Where a build reads files from without being asked: the project's
/// directory and the directories catalog.toml lists in `external-paths`.
/// A bundle file that is a symbolic link (or a bundle directory that is
/// one) resolving elsewhere is refused, so a catalog never embeds, say, a
/// key from the home directory because a partner's bundle linked to it.
#[derive(Debug, Clone)]
pub struct Boundary {
    /// Canonical roots; empty means anywhere (the opm-compatible commands,
    /// whose paths the user named).
    roots: Vec<std::path::PathBuf>,
    /// The same roots as written (absolute, `..` folded), to tell a path
    /// catalog.toml names outside them from a link that leads outside.
    written: Vec<std::path::PathBuf>,
    /// Directories resolved so far (path as given → real path), shared by
    /// clones: one build checks three directories per bundle, and
    /// `canonicalize` (`realpath`) costs a `readlink` per component of
    /// each, 19,000 calls on 1,000 bundles. A directory's real path is its
    /// parent's joined with its name when it is not a link itself, so a
    /// check costs one `lstat` once its parent is known. Make one boundary
    /// per build: what it learnt is not re-checked.
    resolved: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, std::path::PathBuf>>>,
}

/// A path that resolves outside the [`Boundary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outside {
    /// Where the path really leads.
    pub resolved: std::path::PathBuf,
}

impl Boundary {
    /// Files may come from anywhere.
    pub fn anywhere() -> Boundary {
        Boundary {
            roots: Vec::new(),
            written: Vec::new(),
            resolved: std::sync::Arc::default(),
        }
    }

    /// The project at `root` and the `external` directories (resolved as
    /// far as they exist).
    pub fn new(root: &Path, external: &[std::path::PathBuf]) -> Boundary {
        let dirs: Vec<&Path> = std::iter::once(root)
            .chain(external.iter().map(std::path::PathBuf::as_path))
            .collect();
        Boundary {
            roots: dirs
                .iter()
                .map(|dir| std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()))
                .collect(),
            written: dirs.iter().map(|dir| fold_parents(dir)).collect(),
            resolved: std::sync::Arc::default(),
        }
    }

    /// The boundary for reading the directory `dir` that catalog.toml
    /// names (a bundle directory a pattern matched). Named inside the
    /// project, it must also resolve inside (a link out is refused). Named
    /// outside (`bundles = ["../bundles/*"]`, a catalog.toml in a
    /// sub-directory of the repository), the user asked for it: it is read,
    /// and links in it may lead within it too.
    pub fn for_named_dir(&self, dir: &Path) -> Result<Boundary, Outside> {
        if !self.is_limited() {
            return Ok(self.clone());
        }
        let written = fold_parents(dir);
        if self.written.iter().any(|root| written.starts_with(root)) {
            self.check(dir)?;
            return Ok(self.clone());
        }
        let mut wider = self.clone();
        if let Ok(resolved) = self.resolve(dir) {
            wider.roots.push(resolved);
            wider.written.push(written);
        }
        Ok(wider)
    }

    /// Whether a path can be outside at all (not [`Boundary::anywhere`]).
    pub fn is_limited(&self) -> bool {
        !self.roots.is_empty()
    }

    /// Whether reading `path` stays inside; a path that does not resolve
    /// (missing, a broken link) is left to the reader to report.
    pub fn check(&self, path: &Path) -> Result<(), Outside> {
        if self.roots.is_empty() {
            return Ok(());
        }
        let Ok(resolved) = self.resolve(path) else {
            return Ok(());
        };
        if self.roots.iter().any(|root| resolved.starts_with(root)) {
            Ok(())
        } else {
            Err(Outside { resolved })
        }
    }

    /// `canonicalize(path)`, from the real path of its parent when `path`
    /// is not a link (see `resolved`); anything but a plain absolute path
    /// (`..`, relative) goes to `canonicalize`.
    fn resolve(&self, path: &Path) -> Result<std::path::PathBuf, std::io::Error> {
        use std::path::Component;
        let plain = path.is_absolute()
            && path
                .components()
                .all(|component| matches!(component, Component::RootDir | Component::Normal(_)));
        let (Some(parent), Some(name), true) = (path.parent(), path.file_name(), plain) else {
            return std::fs::canonicalize(path);
        };
        if let Some(known) = self.resolved.lock().ok().and_then(|resolved| resolved.get(path).cloned()) {
            return Ok(known);
        }
        let metadata = std::fs::symlink_metadata(path)?;
        if metadata.file_type().is_symlink() {
            return std::fs::canonicalize(path);
        }
        let real_parent = if parent.parent().is_none() {
            parent.to_path_buf()
        } else {
            self.resolve(parent)?
        };
        let resolved = real_parent.join(name);
        if metadata.is_dir()
            && let Ok(mut known) = self.resolved.lock()
        {
            known.insert(path.to_path_buf(), resolved.clone());
        }
        Ok(resolved)
    }
}

/// `path` with `.` and `..` folded away as text (no link is followed).
fn fold_parents(path: &Path) -> std::path::PathBuf {
    let mut folded = std::path::PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                folded.pop();
            }
            other => folded.push(other),
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, "kind: ConfigMap\n").unwrap();
        assert_eq!(read_to_string(&path).unwrap(), "kind: ConfigMap\n");
    }

    #[test]
    fn a_file_above_the_limit_is_refused_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, vec![b'x'; 100]).unwrap();
        let error = read_at_most(&path, 99).unwrap_err();
        assert_eq!(error.to_string(), "it is 100 bytes, more than the 99-byte limit on one input file");
        assert_eq!(read_at_most(&path, 100).unwrap().len(), 100);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_and_a_device_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.yaml");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        assert!(matches!(read(&fifo), Err(InputError::NotAFile)));
        assert!(matches!(read(Path::new("/dev/zero")), Err(InputError::NotAFile)));
    }

    #[test]
    fn a_missing_file_says_so() {
        let error = read(Path::new("/nonexistent/catalog.toml")).unwrap_err();
        assert!(error.is_not_found(), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_out_of_the_project_is_outside_unless_its_directory_is_listed() {
        let project = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("secret"), "x").unwrap();
        std::fs::write(project.path().join("inside.yaml"), "x").unwrap();
        let link = project.path().join("link.yaml");
        std::os::unix::fs::symlink(elsewhere.path().join("secret"), &link).unwrap();
        let inner_link = project.path().join("inner.yaml");
        std::os::unix::fs::symlink("inside.yaml", &inner_link).unwrap();

        let boundary = Boundary::new(project.path(), &[]);
        assert_eq!(boundary.check(&inner_link), Ok(()));
        let outside = boundary.check(&link).unwrap_err();
        assert_eq!(outside.resolved, elsewhere.path().join("secret").canonicalize().unwrap());
        assert_eq!(
            Boundary::new(project.path(), &[elsewhere.path().to_path_buf()]).check(&link),
            Ok(())
        );
        assert_eq!(Boundary::anywhere().check(&link), Ok(()));
    }

    /// Issue 19: directories' real paths are remembered, not asked of
    /// `realpath` per check; each must still equal `canonicalize`'s, and
    /// a link anywhere on the way must still be seen.
    #[cfg(unix)]
    #[test]
    fn resolved_directories_agree_with_canonicalize() {
        let top = tempfile::tempdir().unwrap();
        let project = top.path().join("project");
        let elsewhere = top.path().join("elsewhere");
        std::fs::create_dir_all(project.join("a/b/manifests")).unwrap();
        std::fs::create_dir_all(elsewhere.join("c/manifests")).unwrap();
        std::fs::write(elsewhere.join("c/manifests/x.yaml"), "x").unwrap();
        // A linked project root, a link to a directory inside and one out.
        let linked_root = top.path().join("linked-project");
        std::os::unix::fs::symlink(&project, &linked_root).unwrap();
        std::os::unix::fs::symlink(project.join("a/b"), project.join("a/inner")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("c"), project.join("a/out")).unwrap();
        let boundary = Boundary::new(&linked_root, &[]);
        for path in [
            linked_root.join("a/b/manifests"),
            linked_root.join("a/inner/manifests"),
            linked_root.join("a/out/manifests"),
            linked_root.join("a/out/manifests/x.yaml"),
            linked_root.join("a/b/../inner"),
            project.join("a/b"),
        ] {
            // Twice: the second answer comes from what the first learnt.
            for _ in 0..2 {
                assert_eq!(
                    boundary.resolve(&path).unwrap(),
                    std::fs::canonicalize(&path).unwrap(),
                    "{}",
                    path.display()
                );
            }
        }
        assert_eq!(boundary.check(&linked_root.join("a/inner/manifests")), Ok(()));
        let outside = boundary.check(&linked_root.join("a/out/manifests")).unwrap_err();
        assert_eq!(outside.resolved, std::fs::canonicalize(elsewhere.join("c/manifests")).unwrap());
        assert!(boundary.check(&linked_root.join("a/out/manifests/x.yaml")).is_err());
        assert!(boundary.resolve(&linked_root.join("a/missing")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_named_outside_is_asked_for_and_a_link_out_of_one_inside_is_not() {
        let repo = tempfile::tempdir().unwrap();
        let project = repo.path().join("catalog");
        let bundles = repo.path().join("bundles/0.1.0");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir_all(&bundles).unwrap();
        let boundary = Boundary::new(&project, &[]);
        // `bundles = ["../bundles/*"]`: named outside, read.
        let named = project.join("../bundles/0.1.0");
        let wider = boundary.for_named_dir(&named).unwrap();
        std::fs::write(bundles.join("a.yaml"), "x").unwrap();
        assert_eq!(wider.check(&bundles.join("a.yaml")), Ok(()));
        // A link inside the project to the same place: refused.
        let link = project.join("linked");
        std::os::unix::fs::symlink(&bundles, &link).unwrap();
        assert!(boundary.for_named_dir(&link).is_err());
    }
}
