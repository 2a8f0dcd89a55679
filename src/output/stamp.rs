//! What a published target held when it was written: every file with its
//! content digest and its stat (size, mtime, inode, device). A later build
//! whose files have the same digests, finding the target on disk exactly as
//! stamped, leaves it in place instead of staging it again; one that
//! changes a few files links the unchanged ones from it (issue 19).
//!
//! Safe because catbuild never writes a published file in place: a new
//! tree is staged and swapped in, so a file whose stat is the stamped one
//! still holds the stamped bytes. Anything else (a file missing, added,
//! replaced or touched, a directory added) makes the stamp not match, and
//! the target is staged whole as without one. A stamp is written after the
//! swap: a build killed before that leaves the previous stamp, which the
//! new tree's inodes do not match.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// What [`TargetStamp::differences`] finds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Differences<'a> {
    pub added: Vec<&'a Path>,
    pub changed: Vec<&'a Path>,
    pub removed: Vec<&'a Path>,
}

/// One file of a stamped target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    /// sha256 of the file's bytes, as lowercase hex.
    digest: String,
    size: u64,
    mtime_ns: i128,
    ino: u64,
    dev: u64,
}

/// A target as published: relative path → its file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetStamp {
    files: BTreeMap<PathBuf, FileStamp>,
}

const HEADER: &str = "catbuild target stamp 1";

impl TargetStamp {
    /// Stamps the files of `target_dir`, whose digests are `manifest`
    /// (relative path → sha256 hex): every file of the dir must be in it,
    /// and every file it names in the dir. One walk, each file stated
    /// through its directory (a layout holds thousands of blobs).
    pub fn take(target_dir: &Path, manifest: &BTreeMap<PathBuf, String>) -> std::io::Result<TargetStamp> {
        let mut files = BTreeMap::new();
        let walked = walk(target_dir, manifest.keys(), |relative, metadata| {
            let Some(digest) = manifest.get(relative) else {
                return false;
            };
            files.insert(relative.to_path_buf(), file_stamp(digest.clone(), metadata));
            true
        });
        // A file nobody told us of would make every later check fail.
        if !walked || files.len() != manifest.len() {
            return Err(std::io::Error::other("the target's files are not the ones its manifest names"));
        }
        Ok(TargetStamp { files })
    }

    /// The stamp of a target this one matched, once `renamed` (relative
    /// paths, now `manifest`'s bytes) were renamed into it and `removed`
    /// removed: only the renamed files are stated. The others keep the
    /// stats they had when this stamp matched, under the output lock; one
    /// changed by hand since no longer matches them, as it should not.
    pub fn patched(
        &self,
        target_dir: &Path,
        manifest: &BTreeMap<PathBuf, String>,
        (renamed, removed): (&[PathBuf], &[PathBuf]),
    ) -> std::io::Result<TargetStamp> {
        let mut files = self.files.clone();
        for path in removed {
            files.remove(path);
        }
        for path in renamed {
            let digest = manifest
                .get(path)
                .ok_or_else(|| std::io::Error::other("a renamed file is not in the manifest"))?;
            let metadata = std::fs::symlink_metadata(target_dir.join(path))?;
            files.insert(path.clone(), file_stamp(digest.clone(), &metadata));
        }
        let stamp = TargetStamp { files };
        if !stamp.same_files(manifest) {
            return Err(std::io::Error::other(
                "the patched target's files are not the ones its manifest names",
            ));
        }
        Ok(stamp)
    }

    /// Whether `target_dir` is exactly as stamped: the same regular files
    /// with the same stats, no other file and no other directory.
    pub fn matches(&self, target_dir: &Path) -> bool {
        let mut n_files = 0;
        let walked = walk(target_dir, self.files.keys(), |relative, metadata| {
            let Some(stamped) = self.files.get(relative) else {
                return false;
            };
            n_files += 1;
            stamped.same_stat(metadata)
        });
        walked && n_files == self.files.len()
    }

    /// The digest (hex) the stamp gives the file at `relative`.
    pub fn digest(&self, relative: &Path) -> Option<&str> {
        self.files.get(relative).map(|file| file.digest.as_str())
    }

    /// Whether the stamped files are `manifest`'s, digest for digest.
    pub fn same_files(&self, manifest: &BTreeMap<PathBuf, String>) -> bool {
        self.files.len() == manifest.len()
            && self
                .files
                .iter()
                .zip(manifest)
                .all(|((path, file), (other_path, digest))| path == other_path && &file.digest == digest)
    }

    /// How `manifest` differs from the stamped files: the paths it adds,
    /// those whose digest changed, and stamped paths it no longer has,
    /// each in path order.
    pub fn differences<'a>(&'a self, manifest: &'a BTreeMap<PathBuf, String>) -> Differences<'a> {
        let mut differences = Differences::default();
        let mut stamped = self.files.iter().peekable();
        let mut wanted = manifest.iter().peekable();
        loop {
            match (stamped.peek(), wanted.peek()) {
                (None, None) => return differences,
                (Some((path, _)), None) => {
                    differences.removed.push(path.as_path());
                    stamped.next();
                }
                (None, Some((path, _))) => {
                    differences.added.push(path.as_path());
                    wanted.next();
                }
                (Some((old_path, file)), Some((new_path, digest))) => match old_path.cmp(new_path) {
                    std::cmp::Ordering::Less => {
                        differences.removed.push(old_path.as_path());
                        stamped.next();
                    }
                    std::cmp::Ordering::Greater => {
                        differences.added.push(new_path.as_path());
                        wanted.next();
                    }
                    std::cmp::Ordering::Equal => {
                        if &file.digest != *digest {
                            differences.changed.push(new_path.as_path());
                        }
                        stamped.next();
                        wanted.next();
                    }
                },
            }
        }
    }

    /// One line per file: `digest size mtime inode device path`.
    pub fn to_text(&self) -> String {
        let mut text = format!("{HEADER}\n");
        for (path, file) in &self.files {
            text.push_str(&format!(
                "{} {} {} {} {} {}\n",
                file.digest,
                file.size,
                file.mtime_ns,
                file.ino,
                file.dev,
                path.to_string_lossy()
            ));
        }
        text
    }

    /// `None` for a damaged stamp or another version's: then nothing is
    /// left in place.
    pub fn from_text(text: &str) -> Option<TargetStamp> {
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        // Written in path order: checked, then built in one pass (an
        // insert per line compares paths component by component, and a
        // layout has a line per blob).
        let mut files: Vec<(PathBuf, FileStamp)> = Vec::new();
        for line in lines {
            let mut fields = line.splitn(6, ' ');
            let digest = fields.next()?.to_string();
            if digest.len() != 64 || !digest.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                return None;
            }
            let file = FileStamp {
                digest,
                size: fields.next()?.parse().ok()?,
                mtime_ns: fields.next()?.parse().ok()?,
                ino: fields.next()?.parse().ok()?,
                dev: fields.next()?.parse().ok()?,
            };
            let path = PathBuf::from(fields.next()?);
            if !path
                .components()
                .all(|component| matches!(component, std::path::Component::Normal(_)))
            {
                return None;
            }
            if files.last().is_some_and(|(last, _)| *last >= path) {
                return None;
            }
            files.push((path, file));
        }
        Some(TargetStamp {
            files: files.into_iter().collect(),
        })
    }
}

/// Walks `target_dir`, handing `file` each regular file (relative path
/// and stat) until it says no; `false` when it did, or when the dir holds
/// something else: a directory that is no parent of `paths`, a link, an
/// entry that cannot be read.
fn walk<'a>(target_dir: &Path, paths: impl Iterator<Item = &'a PathBuf>, mut file: impl FnMut(&Path, &std::fs::Metadata) -> bool) -> bool {
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for relative in paths {
        let mut parent = relative.parent();
        while let Some(dir) = parent.filter(|dir| !dir.as_os_str().is_empty()) {
            if !dirs.insert(dir.to_path_buf()) {
                break;
            }
            parent = dir.parent();
        }
    }
    let mut pending = vec![PathBuf::new()];
    while let Some(relative_dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(target_dir.join(&relative_dir)) else {
            return false;
        };
        for entry in entries {
            let Ok(entry) = entry else {
                return false;
            };
            let relative = relative_dir.join(entry.file_name());
            let Ok(metadata) = entry.metadata() else {
                return false;
            };
            if metadata.is_dir() {
                if !dirs.contains(&relative) {
                    return false;
                }
                pending.push(relative);
                continue;
            }
            if !metadata.is_file() || !file(&relative, &metadata) {
                return false;
            }
        }
    }
    true
}

impl FileStamp {
    fn same_stat(&self, metadata: &std::fs::Metadata) -> bool {
        (self.size, self.mtime_ns, self.ino, self.dev) == stat_of(metadata)
    }
}

/// `(size, mtime in ns, inode, device)`: what a stamp compares.
fn stat_of(metadata: &std::fs::Metadata) -> (u64, i128, u64, u64) {
    (
        metadata.len(),
        i128::from(metadata.mtime()) * 1_000_000_000 + i128::from(metadata.mtime_nsec()),
        metadata.ino(),
        metadata.dev(),
    )
}

fn file_stamp(digest: String, metadata: &std::fs::Metadata) -> FileStamp {
    let (size, mtime_ns, ino, dev) = stat_of(metadata);
    FileStamp {
        digest,
        size,
        mtime_ns,
        ino,
        dev,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    /// Something done to a stamped target.
    type Change = fn(&Path);

    #[test]
    fn differences_name_what_is_added_changed_and_removed_in_path_order() {
        let (dir, manifest) = target();
        let stamp = TargetStamp::take(dir.path(), &manifest).unwrap();
        let mut wanted = manifest.clone();
        wanted.insert(PathBuf::from("catalog/pkg/catalog.json"), B.to_string());
        wanted.insert(PathBuf::from("a-new"), A.to_string());
        wanted.insert(PathBuf::from("zz-new"), A.to_string());
        wanted.remove(Path::new("top"));
        let differences = stamp.differences(&wanted);
        assert_eq!(differences.added, [Path::new("a-new"), Path::new("zz-new")]);
        assert_eq!(differences.changed, [Path::new("catalog/pkg/catalog.json")]);
        assert_eq!(differences.removed, [Path::new("top")]);
        assert_eq!(stamp.differences(&manifest), Differences::default());
    }

    fn target() -> (tempfile::TempDir, BTreeMap<PathBuf, String>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("catalog/pkg")).unwrap();
        std::fs::write(dir.path().join("catalog/pkg/catalog.json"), "{}").unwrap();
        std::fs::write(dir.path().join("top"), "x").unwrap();
        let manifest = BTreeMap::from([
            (PathBuf::from("catalog/pkg/catalog.json"), A.to_string()),
            (PathBuf::from("top"), B.to_string()),
        ]);
        (dir, manifest)
    }

    #[test]
    fn a_patched_stamp_is_the_stamp_of_the_patched_tree() {
        let (dir, manifest) = target();
        let stamp = TargetStamp::take(dir.path(), &manifest).unwrap();
        // As a patch does: a new file renamed over the catalog, one added,
        // one removed.
        let staged = tempfile::tempdir_in(dir.path()).unwrap();
        for name in ["catalog.json", "added"] {
            std::fs::write(staged.path().join(name), "new").unwrap();
        }
        std::fs::rename(staged.path().join("catalog.json"), dir.path().join("catalog/pkg/catalog.json")).unwrap();
        std::fs::rename(staged.path().join("added"), dir.path().join("catalog/pkg/added")).unwrap();
        std::fs::remove_file(dir.path().join("top")).unwrap();
        drop(staged);
        let patched_manifest = BTreeMap::from([
            (PathBuf::from("catalog/pkg/catalog.json"), B.to_string()),
            (PathBuf::from("catalog/pkg/added"), A.to_string()),
        ]);
        let renamed = [PathBuf::from("catalog/pkg/added"), PathBuf::from("catalog/pkg/catalog.json")];
        let patched = stamp
            .patched(dir.path(), &patched_manifest, (&renamed, &[PathBuf::from("top")]))
            .unwrap();
        assert_eq!(patched, TargetStamp::take(dir.path(), &patched_manifest).unwrap());
        assert!(patched.matches(dir.path()));
        // A manifest the patch does not account for: no stamp.
        assert!(
            stamp
                .patched(dir.path(), &patched_manifest, (&renamed[..1], &[PathBuf::from("top")]))
                .is_err()
        );
    }

    #[test]
    fn a_stamp_matches_its_untouched_target_and_reads_back() {
        let (dir, manifest) = target();
        let stamp = TargetStamp::take(dir.path(), &manifest).unwrap();
        assert!(stamp.matches(dir.path()));
        assert!(stamp.same_files(&manifest));
        assert_eq!(stamp.digest(Path::new("top")), Some(B));
        let read = TargetStamp::from_text(&stamp.to_text()).unwrap();
        assert_eq!(read, stamp);
        assert!(TargetStamp::from_text("catbuild target stamp 0\n").is_none());
        assert!(TargetStamp::from_text(&format!("{HEADER}\n{A} 1 2 3 4 ../escape\n")).is_none());
        // A stamp is written in path order, each path once: anything else
        // is damaged.
        let text = stamp.to_text();
        let mut lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 3, "{text}");
        lines[1..].reverse();
        assert!(TargetStamp::from_text(&lines.join("\n")).is_none());
        lines[1..].reverse();
        let twice = lines[1];
        lines.insert(1, twice);
        assert!(TargetStamp::from_text(&lines.join("\n")).is_none());
        lines.remove(1);
        assert_eq!(TargetStamp::from_text(&lines.join("\n")), Some(stamp));
    }

    #[test]
    fn any_change_on_disk_makes_a_stamp_not_match() {
        let changes: [(&str, Change); 6] = [
            ("a file rewritten in place", |dir| std::fs::write(dir.join("top"), "y").unwrap()),
            ("a file replaced", |dir| {
                std::fs::write(dir.join("new"), "x").unwrap();
                std::fs::rename(dir.join("new"), dir.join("top")).unwrap();
            }),
            ("a file removed", |dir| std::fs::remove_file(dir.join("top")).unwrap()),
            ("a file added", |dir| std::fs::write(dir.join("catalog/extra"), "").unwrap()),
            ("a directory added", |dir| std::fs::create_dir(dir.join("catalog/empty")).unwrap()),
            ("the target removed", |dir| std::fs::remove_dir_all(dir).unwrap()),
        ];
        for (what, change) in changes {
            let (dir, manifest) = target();
            let stamp = TargetStamp::take(dir.path(), &manifest).unwrap();
            // Past the filesystem's timestamp tick, as an edit would be.
            std::thread::sleep(std::time::Duration::from_millis(20));
            change(dir.path());
            assert!(!stamp.matches(dir.path()), "{what}");
        }
    }

    #[test]
    fn a_manifest_missing_a_file_is_refused() {
        let (dir, mut manifest) = target();
        manifest.remove(Path::new("top"));
        assert!(TargetStamp::take(dir.path(), &manifest).is_err());
        // Nor is a manifest naming a file the target lacks.
        let (dir, mut manifest) = target();
        manifest.insert(PathBuf::from("catalog/pkg/gone.json"), A.to_string());
        assert!(TargetStamp::take(dir.path(), &manifest).is_err());
        let (_, manifest) = target();
        let (other, _) = target();
        let stamp = TargetStamp::take(other.path(), &manifest).unwrap();
        let mut changed = manifest.clone();
        changed.insert(PathBuf::from("top"), A.to_string());
        assert!(!stamp.same_files(&changed));
    }
}
