//! Publishing a build: stage every target complete and durable in a temp
//! dir beside its final place, then swap each in with one atomic exchange,
//! all under the output directory's lock (see the module above for why).

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use super::{OutputError, OutputLock, OutputSettings, Steps, TEMP_PREFIX, TRASH_PREFIX, io_error, is_leftover, remove_any, sync_dir};

/// A target index [`Publication::begin`] was not given.
fn unknown_target(target_idx: usize) -> OutputError {
    OutputError::Io {
        action: "write to an unknown target",
        path: PathBuf::from(target_idx.to_string()),
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    }
}

/// The names of [`Publication::scratch`] files.
const SCRATCH_PREFIX: &str = ".catbuild-scratch-";

/// One target's files, ready to write: paths relative to `<out>/<name>/`.
#[derive(Debug, Clone)]
pub struct StagedTarget {
    pub name: String,
    pub files: Vec<(PathBuf, Vec<u8>)>,
}

/// What a publish found beside the targets it wrote.
#[derive(Debug, Clone, Default)]
pub struct PublishReport {
    /// Temp dirs of killed builds that were removed.
    pub removed_leftovers: Vec<PathBuf>,
}

/// Writes `targets` into `out_dir` (`<out_dir>/<name>/`), replacing each
/// target's previous tree as a whole. On error every target keeps its
/// previous tree and this build's temp dirs are removed.
pub fn publish(out_dir: &Path, targets: &[StagedTarget], settings: &OutputSettings) -> Result<PublishReport, OutputError> {
    let names: Vec<&str> = targets.iter().map(|target| target.name.as_str()).collect();
    let publication = Publication::begin(out_dir, &names, settings, None)?;
    for (target_idx, target) in targets.iter().enumerate() {
        if let Err(error) = publication.write(target_idx, &target.files) {
            publication.abandon();
            return Err(error);
        }
    }
    publication.commit()
}

/// A publish in progress, for a build that encodes package by package and
/// must not hold every target's bytes at once: the lock is held and each
/// target has its temp dir from [`Publication::begin`]; files are written
/// as they come ([`Publication::write`], from any thread); only
/// [`Publication::commit`] changes what `<out>/<target>` holds. Dropped
/// without a commit (or [`Publication::abandon`]ed), it removes its temp
/// dirs, so the targets keep their previous trees.
pub struct Publication {
    lock: Option<OutputLock>,
    steps: Steps,
    staged: Vec<Staged>,
    /// Directories created under each temp dir so far (the temp dir too).
    dirs: std::sync::Mutex<Vec<BTreeSet<PathBuf>>>,
    /// Files written so far, made durable all at once by `commit`: an
    /// fsync per package while the build runs would wait on the disk in
    /// the middle of the build.
    files: std::sync::Mutex<Vec<PathBuf>>,
    removed_leftovers: Vec<PathBuf>,
    /// Targets left as they are ([`Publication::keep`]).
    kept: Vec<usize>,
    /// Targets published by renaming a few files into their published
    /// tree ([`Publication::patch`]) instead of a swap.
    patches: Vec<Patch>,
    /// The outermost directory of `out_dir` that this publish created, if
    /// any: a build that fails on its input removes it again, so bad input
    /// never leaves a `build/` behind.
    created: Option<PathBuf>,
}

/// One target published by renames ([`Publication::patch`]).
struct Patch {
    target_idx: usize,
    /// (staged file, published path), renamed in this order.
    renames: Vec<(PathBuf, PathBuf)>,
    /// Published files removed once every target is in place.
    removed: Vec<PathBuf>,
}

impl Publication {
    /// Locks `out_dir` (creating it), unless `held` is its lock already,
    /// removes a killed build's leftovers and creates one temp dir per
    /// target.
    pub fn begin(
        out_dir: &Path,
        target_names: &[&str],
        settings: &OutputSettings,
        held: Option<OutputLock>,
    ) -> Result<Publication, OutputError> {
        let created = outermost_missing(out_dir);
        let lock = match held {
            Some(lock) => lock,
            None => OutputLock::acquire(out_dir, settings)?,
        };
        let steps = Steps::new(settings.fail_after_step);
        let removed_leftovers = remove_leftovers(&lock, &steps)?;
        let mut publication = Publication {
            lock: Some(lock),
            steps,
            staged: Vec::new(),
            dirs: std::sync::Mutex::new(Vec::new()),
            files: std::sync::Mutex::new(Vec::new()),
            removed_leftovers,
            kept: Vec::new(),
            patches: Vec::new(),
            created,
        };
        for name in target_names {
            let (temp_name, temp_path) = create_temp_dir(out_dir, name)?;
            publication.steps.step();
            publication.dirs_mut().push(BTreeSet::from([temp_path.clone()]));
            publication.staged.push(Staged {
                name: OsString::from(name),
                temp_name,
                temp_path,
            });
        }
        Ok(publication)
    }

    /// The `target_idx`-th target given to [`Publication::begin`].
    fn target(&self, target_idx: usize) -> Result<&Staged, OutputError> {
        self.staged.get(target_idx).ok_or_else(|| unknown_target(target_idx))
    }

    /// Where `relative` goes in the `target_idx`-th target's temp dir,
    /// its parent directories made.
    fn staged_file(&self, target_idx: usize, relative: &Path) -> Result<PathBuf, OutputError> {
        let target = self.target(target_idx)?;
        Ok(create_parents(&target.temp_path, &[relative.to_path_buf()], &self.dirs, target_idx, &self.steps)?.remove(0))
    }

    /// Remembers a file of a temp dir for the commit to make durable.
    fn record(&self, path: PathBuf) {
        self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(path);
    }

    /// Writes files (paths relative to the target's directory) into the
    /// temp dir of the `target_idx`-th target given to [`Publication::begin`],
    /// each fsynced.
    pub fn write<B: AsRef<[u8]> + Sync>(&self, target_idx: usize, files: &[(PathBuf, B)]) -> Result<(), OutputError> {
        let target = self.target(target_idx)?;
        let written = write_files(&target.temp_path, files, &self.dirs, target_idx, &self.steps)?;
        self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(written);
        Ok(())
    }

    /// Where [`Publication::write`] put the file `relative` of the
    /// `target_idx`-th target, until the commit moves it.
    pub fn staged_path(&self, target_idx: usize, relative: &Path) -> Option<PathBuf> {
        self.staged.get(target_idx).map(|target| target.temp_path.join(relative))
    }

    /// Leaves the `target_idx`-th target as it is (its files are those it
    /// would get): its temp dir goes and [`Publication::commit`] does not
    /// swap it.
    pub fn keep(&mut self, target_idx: usize) {
        let Some(target) = self.staged.get(target_idx) else {
            return;
        };
        let temp_path = target.temp_path.clone();
        self.files
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|path| !path.starts_with(&temp_path));
        if let Some(dirs) = self.dirs_mut().get_mut(target_idx) {
            dirs.clear();
        }
        self.kept.push(target_idx);
        // Best effort: what is left is removed by the next build.
        let _ = remove_any(&temp_path);
    }

    /// Publishes the `target_idx`-th target by renaming the few files of
    /// its published tree that differ, instead of staging the whole tree
    /// and swapping it: `renamed` (relative paths, staged in the temp dir
    /// by now; files new to the tree or replacing one) are made durable
    /// and renamed into the published tree in the order given, then
    /// `removed` go. The rest of the staging is dropped. Each rename is
    /// atomic, so the caller orders them such that a reader sees a whole
    /// target at every moment (one catalog file; an OCI layout's new blobs
    /// before the `index.json` naming them, old blobs removed after it).
    /// An edit costs a few files' fsyncs instead of a tree of thousands
    /// of links staged and the old one removed.
    pub fn patch(&mut self, target_idx: usize, renamed: &[PathBuf], removed: &[PathBuf]) {
        let Some(target) = self.staged.get(target_idx) else {
            return;
        };
        let published = self.out_dir().join(&target.name);
        let temp_path = target.temp_path.clone();
        let renames: Vec<(PathBuf, PathBuf)> = renamed
            .iter()
            .map(|relative| (temp_path.join(relative), published.join(relative)))
            .collect();
        let files = self.files.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        files.retain(|path| !path.starts_with(&temp_path));
        files.extend(renames.iter().map(|(staged, _)| staged.clone()));
        if let Some(dirs) = self.dirs_mut().get_mut(target_idx) {
            dirs.clear();
        }
        self.patches.push(Patch {
            target_idx,
            renames,
            removed: removed.iter().map(|relative| published.join(relative)).collect(),
        });
    }

    /// Stages files of the `target_idx`-th target as hard links to the
    /// files of its published tree (`<out>/<target>/<path>`, the same
    /// relative paths), which the caller has checked are the bytes wanted:
    /// nothing is read, written or fsynced again. Published files are never
    /// changed in place, so sharing them is safe.
    pub fn link_published(&self, target_idx: usize, relatives: &[PathBuf]) -> Result<(), OutputError> {
        let Some(target) = self.staged.get(target_idx) else {
            return Ok(());
        };
        let published = self.out_dir().join(&target.name);
        let paths = create_parents(&target.temp_path, relatives, &self.dirs, target_idx, &self.steps)?;
        paths.par_iter().zip(relatives).try_for_each(|(path, relative)| {
            let source = published.join(relative);
            std::fs::hard_link(&source, path).map_err(io_error("link", path))?;
            self.steps.step();
            Ok(())
        })
    }

    /// Stages `source`, a whole file outside the output that is never
    /// changed in place (a blob of the action cache), as the file
    /// `relative` of the `target_idx`-th target: a hard link, or a copy
    /// when the two are on different filesystems. Made durable with the
    /// others; nothing is read when it can be linked.
    pub fn link_in(&self, target_idx: usize, source: &Path, relative: &Path) -> Result<(), OutputError> {
        let path = self.staged_file(target_idx, relative)?;
        match std::fs::hard_link(source, &path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => return Err(io_error("link", &path)(error)),
            Err(_) => {
                std::fs::copy(source, &path).map_err(io_error("copy", &path))?;
            }
        }
        self.steps.step();
        self.record(path);
        Ok(())
    }

    /// A new, empty file in the temp dir of the `target_idx`-th target,
    /// outside the tree it stages, for a file named only once written (a
    /// layer, by its digest): [`Publication::adopt`] moves it into the
    /// tree; dropped instead, it is removed.
    pub fn scratch(&self, target_idx: usize) -> Result<tempfile::NamedTempFile, OutputError> {
        let target = self.target(target_idx)?;
        tempfile::Builder::new()
            .prefix(SCRATCH_PREFIX)
            .tempfile_in(&target.temp_path)
            .map_err(io_error("create a file in", &target.temp_path))
    }

    /// Moves a [`Publication::scratch`] file of the `target_idx`-th target
    /// to `relative` in its tree, to be made durable with the others.
    pub fn adopt(&self, target_idx: usize, scratch: tempfile::NamedTempFile, relative: &Path) -> Result<(), OutputError> {
        let path = self.staged_file(target_idx, relative)?;
        scratch
            .persist_noclobber(&path)
            .map_err(|error| io_error("rename into", &path)(error.error))?;
        self.steps.step();
        self.record(path);
        Ok(())
    }

    /// The path in the temp dir of the `target_idx`-th target where the
    /// caller itself writes the file `relative` (its parent directories
    /// made, the file not created yet); [`Publication::commit`] makes it
    /// durable with the others. For the one file too large to hand over
    /// as bytes: SQLite writes `index.db` there page by page.
    pub fn reserve(&self, target_idx: usize, relative: &Path) -> Result<PathBuf, OutputError> {
        let path = self.staged_file(target_idx, relative)?;
        self.record(path.clone());
        Ok(path)
    }

    /// Makes every temp dir durable and swaps each target in.
    pub fn commit(self) -> Result<PublishReport, OutputError> {
        self.commit_locked().map(|(report, _)| report)
    }

    /// As [`Publication::commit`], handing back the lock: what the caller
    /// reads of the new targets before dropping it is what it wrote.
    pub fn commit_locked(mut self) -> Result<(PublishReport, Option<OutputLock>), OutputError> {
        let kept = std::mem::take(&mut self.kept);
        let patches = std::mem::take(&mut self.patches);
        let is_patched = |target_idx: usize| patches.iter().any(|patch| patch.target_idx == target_idx);
        // Patched targets are not swapped; their temp dirs go at the end.
        let mut unswapped = Vec::new();
        let mut idx = 0;
        self.staged.retain_mut(|target| {
            idx += 1;
            let target_idx = idx - 1;
            if is_patched(target_idx) {
                unswapped.push(target.temp_path.clone());
            }
            !kept.contains(&target_idx) && !is_patched(target_idx)
        });
        let out_dir = self.out_dir().to_path_buf();
        let files = std::mem::take(self.files.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner));
        let renames: Vec<&(PathBuf, PathBuf)> = patches.iter().flat_map(|patch| &patch.renames).collect();
        let result = sync_files(&files, &self.steps)
            .and_then(|()| self.sync_staged_dirs())
            .and_then(|()| rename_all(&renames, &self.steps))
            .and_then(|undo| {
                swap_all(&out_dir, &self.staged, &self.steps).inspect_err(|_| {
                    undo_renamed(&undo);
                })
            });
        if result.is_ok() {
            // After the renames: nothing published names these any more. A
            // file left behind only makes the next build stage the target.
            let removed: Vec<&PathBuf> = patches.iter().flat_map(|patch| &patch.removed).collect();
            let parents: BTreeSet<&Path> = removed.iter().filter_map(|path| path.parent()).collect();
            for path in &removed {
                let _ = std::fs::remove_file(path);
            }
            for parent in parents {
                let _ = sync_dir(parent);
            }
        }
        for temp_path in unswapped {
            // Best effort: what is left is removed by the next build.
            let _ = remove_any(&temp_path);
        }
        if result.is_ok() {
            self.staged.clear();
        }
        result?;
        let lock = self.lock.take();
        let report = PublishReport {
            removed_leftovers: std::mem::take(&mut self.removed_leftovers),
        };
        Ok((report, lock))
    }

    /// Gives up after an I/O failure: the temp dirs go, the targets keep
    /// their previous trees.
    pub fn abandon(self) {
        drop(self);
    }

    /// Gives up because the input was wrong: as [`Publication::abandon`],
    /// and the output directory goes too when this publish created it.
    pub fn abandon_input(mut self) {
        self.remove_temp_dirs();
        let Some(created) = self.created.take() else {
            return;
        };
        let Some(lock) = self.lock.take() else {
            return;
        };
        // As `clean` does: the lock file goes while held, so a build waiting
        // on it locks a new one; a directory someone else filled stays.
        if std::fs::remove_file(lock.lock_path()).is_ok() {
            let mut dir = lock.out_dir().to_path_buf();
            while std::fs::remove_dir(&dir).is_ok() && dir != created {
                if !dir.pop() {
                    break;
                }
            }
        }
        drop(lock);
    }

    fn out_dir(&self) -> &Path {
        self.lock.as_ref().map_or(Path::new(""), OutputLock::out_dir)
    }

    fn dirs_mut(&mut self) -> &mut Vec<BTreeSet<PathBuf>> {
        self.dirs.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// In parallel, as files are: every one must be durable before the
    /// swap, in no particular order, and the filesystem's journal commits
    /// concurrent fsyncs together instead of one after the other.
    fn sync_staged_dirs(&mut self) -> Result<(), OutputError> {
        let dirs: Vec<PathBuf> = std::mem::take(self.dirs_mut()).into_iter().flatten().collect();
        let steps = &self.steps;
        dirs.par_iter().try_for_each(|dir| {
            sync_dir(dir)?;
            steps.step();
            Ok(())
        })
    }

    fn remove_temp_dirs(&mut self) {
        // Best effort: what is left is removed by the next build anyway.
        for target in self.staged.drain(..) {
            let _ = remove_any(&target.temp_path);
        }
    }
}

impl Drop for Publication {
    fn drop(&mut self) {
        self.remove_temp_dirs();
    }
}

/// The outermost ancestor of `dir` (itself included) that does not exist.
fn outermost_missing(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    for ancestor in dir.ancestors() {
        if ancestor.as_os_str().is_empty() || std::fs::symlink_metadata(ancestor).is_ok() {
            break;
        }
        missing = Some(ancestor.to_path_buf());
    }
    missing
}

/// A target written into its temp dir.
struct Staged {
    name: OsString,
    temp_name: OsString,
    temp_path: PathBuf,
}

/// How a target came into place, so it can be put back.
enum Swapped {
    /// Atomically exchanged: the old tree is now at the temp path.
    Exchanged,
    /// There was no old tree; the temp dir was renamed into place.
    Renamed,
    /// The filesystem cannot exchange: the old tree was renamed aside.
    MovedAside { trash_path: PathBuf },
}

fn swap_all(out_dir: &Path, staged: &[Staged], steps: &Steps) -> Result<(), OutputError> {
    // Every target kept or replaced file by file: no entry of `out_dir`
    // changes, so there is nothing to make durable.
    if staged.is_empty() {
        return Ok(());
    }
    // The temp dirs' own entries in `out_dir` must be durable before they
    // are renamed, or a crash could leave a target pointing at nothing.
    sync_dir(out_dir)?;
    steps.step();
    // Every target is written and durable: only now does any of them change.
    let out_dir_handle = open_dir(out_dir)?;
    let mut swapped = Vec::new();
    for target in staged.iter() {
        match swap_in(&out_dir_handle, out_dir, target, steps) {
            Ok(how) => swapped.push(how),
            Err(error) => {
                // Put back the targets already swapped, newest first, so a
                // failed build changes nothing.
                for (target, how) in staged.iter().zip(&swapped).rev() {
                    let _ = swap_back(&out_dir_handle, out_dir, target, how);
                }
                return Err(error);
            }
        }
    }
    // The renames must survive a crash before the old trees go.
    sync_dir(out_dir)?;
    steps.step();
    for (target, how) in staged.iter().zip(&swapped) {
        let old_tree = match how {
            Swapped::Exchanged => Some(target.temp_path.clone()),
            Swapped::Renamed => None,
            Swapped::MovedAside { trash_path } => Some(trash_path.clone()),
        };
        // The build has succeeded: an old tree that cannot be removed now
        // is a leftover the next build removes.
        if let Some(old_tree) = old_tree {
            let _ = remove_any(&old_tree);
            steps.step();
        }
    }
    Ok(())
}

/// Renames each staged file over its published path, in order; a file
/// new to the tree keeps no old copy. On failure every rename made is
/// undone. Returns how to undo them (for a failed swap after).
fn rename_all(renames: &[&(PathBuf, PathBuf)], steps: &Steps) -> Result<Vec<Undo>, OutputError> {
    let mut done: Vec<Undo> = Vec::new();
    for (staged, published) in renames {
        let old_copy = staged.with_extension("old");
        let renamed = match std::fs::hard_link(published, &old_copy) {
            Ok(()) => std::fs::rename(staged, published)
                .map(|()| Undo::Restore(old_copy, published.clone()))
                .map_err(io_error("replace", published)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => std::fs::rename(staged, published)
                .map(|()| Undo::Remove(published.clone()))
                .map_err(io_error("add", published)),
            Err(error) => Err(io_error("link", &old_copy)(error)),
        };
        match renamed {
            Ok(undo) => done.push(undo),
            Err(error) => {
                undo_renamed(&done);
                return Err(error);
            }
        }
        steps.step();
    }
    let parents: BTreeSet<&Path> = renames.iter().filter_map(|(_, published)| published.parent()).collect();
    for parent in parents {
        if let Err(error) = sync_dir(parent) {
            undo_renamed(&done);
            return Err(error);
        }
        steps.step();
    }
    Ok(done)
}

/// How to take back one rename of [`rename_all`].
enum Undo {
    /// Put the old file (a link kept in the temp dir) back.
    Restore(PathBuf, PathBuf),
    /// The file was new: remove it.
    Remove(PathBuf),
}

/// Takes back what [`rename_all`] did, newest first.
fn undo_renamed(done: &[Undo]) {
    for undo in done.iter().rev() {
        let _ = match undo {
            Undo::Restore(old_copy, published) => std::fs::rename(old_copy, published),
            Undo::Remove(published) => std::fs::remove_file(published),
        };
    }
}

/// Removes the staging and trash dirs of builds that were killed. Safe
/// because we hold the lock: no live build owns any of them.
pub(super) fn remove_leftovers(lock: &OutputLock, steps: &Steps) -> Result<Vec<PathBuf>, OutputError> {
    let out_dir = lock.out_dir();
    let mut removed = Vec::new();
    let entries = std::fs::read_dir(out_dir).map_err(io_error("read", out_dir))?;
    let mut leftovers = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error("read", out_dir))?;
        if entry.file_name().to_str().is_some_and(is_leftover) {
            leftovers.push(entry.path());
        }
    }
    leftovers.sort();
    for path in leftovers {
        remove_any(&path).map_err(io_error("remove the leftover", &path))?;
        steps.step();
        removed.push(path);
    }
    Ok(removed)
}

/// Writes files under `temp_path` (target `target_idx`'s temp dir),
/// creating the directories they need; `dirs` remembers every directory
/// created so far, for [`Publication::commit`] to make durable. Returns
/// the paths written, which are not fsynced yet.
fn write_files<B: AsRef<[u8]> + Sync>(
    temp_path: &Path,
    files: &[(PathBuf, B)],
    dirs: &std::sync::Mutex<Vec<BTreeSet<PathBuf>>>,
    target_idx: usize,
    steps: &Steps,
) -> Result<Vec<PathBuf>, OutputError> {
    let relatives: Vec<PathBuf> = files.iter().map(|(relative, _)| relative.clone()).collect();
    let paths = create_parents(temp_path, &relatives, dirs, target_idx, steps)?;
    paths.par_iter().zip(files).try_for_each(|(path, (_, bytes))| {
        let mut file = File::create_new(path).map_err(io_error("create", path))?;
        file.write_all(bytes.as_ref()).map_err(io_error("write", path))?;
        super::start_writeback(&file);
        steps.step();
        Ok(())
    })?;
    Ok(paths)
}

/// The paths under `temp_path` of `relatives`, whose directories it
/// creates (remembered in `dirs`); refuses a path that leaves the target.
fn create_parents(
    temp_path: &Path,
    relatives: &[PathBuf],
    dirs: &std::sync::Mutex<Vec<BTreeSet<PathBuf>>>,
    target_idx: usize,
    steps: &Steps,
) -> Result<Vec<PathBuf>, OutputError> {
    let mut all_dirs = dirs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(dirs) = all_dirs.get_mut(target_idx) else {
        return Err(unknown_target(target_idx));
    };
    let mut paths = Vec::with_capacity(relatives.len());
    for relative in relatives {
        if !relative.components().all(|component| matches!(component, Component::Normal(_))) {
            return Err(OutputError::Io {
                action: "write outside its target",
                path: relative.clone(),
                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            });
        }
        let path = temp_path.join(relative);
        let mut missing = Vec::new();
        let mut ancestor = path.parent();
        while let Some(dir) = ancestor {
            if dirs.contains(dir) {
                break;
            }
            missing.push(dir.to_path_buf());
            ancestor = dir.parent();
        }
        for dir in missing.into_iter().rev() {
            std::fs::create_dir(&dir).map_err(io_error("create", &dir))?;
            steps.step();
            dirs.insert(dir);
        }
        paths.push(path);
    }
    Ok(paths)
}

/// Makes written files durable, in parallel: the fsyncs of independent
/// files overlap on the disk instead of waiting for each other.
fn sync_files(files: &[PathBuf], steps: &Steps) -> Result<(), OutputError> {
    files.par_iter().try_for_each(|path| {
        File::open(path).and_then(|file| file.sync_all()).map_err(io_error("sync", path))?;
        steps.step();
        Ok(())
    })
}

/// Creates `<out>/.catbuild-tmp-<target>-<random>` with the usual (umask)
/// permissions, as `mkdir` would make the final directory.
fn create_temp_dir(out_dir: &Path, target_name: &str) -> Result<(OsString, PathBuf), OutputError> {
    // The name is for people reading `ls -a`; keep it short so a long
    // target name cannot push the temp name past the filesystem's limit.
    let short_name: String = target_name.chars().take(32).collect();
    let mut attempt = 0u32;
    loop {
        let temp_name = OsString::from(format!("{TEMP_PREFIX}{short_name}-{}", random_suffix(attempt)));
        let temp_path = out_dir.join(&temp_name);
        match std::fs::create_dir(&temp_path) {
            Ok(()) => return Ok((temp_name, temp_path)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
            Err(error) => return Err(io_error("create", &temp_path)(error)),
        }
    }
}

/// Eight base-36 digits, different per process, call and attempt.
fn random_suffix(attempt: u32) -> String {
    use std::hash::BuildHasher as _;
    // std's RandomState is seeded from the OS; enough to keep names apart.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let mut value = std::hash::RandomState::new().hash_one((std::process::id(), nanos, attempt));
    let mut suffix = String::new();
    for _ in 0..8 {
        let digit = u32::try_from(value % 36).unwrap_or(0);
        suffix.push(char::from_digit(digit, 36).unwrap_or('0'));
        value /= 36;
    }
    suffix
}

fn open_dir(dir: &Path) -> Result<File, OutputError> {
    File::open(dir).map_err(io_error("open", dir))
}

/// Puts one staged target in place.
fn swap_in(out_dir_handle: &File, out_dir: &Path, target: &Staged, steps: &Steps) -> Result<Swapped, OutputError> {
    let final_path = out_dir.join(&target.name);
    let exists = match std::fs::symlink_metadata(&final_path) {
        Ok(_) => true,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
        Err(error) => return Err(io_error("inspect", &final_path)(error)),
    };
    if !exists {
        std::fs::rename(&target.temp_path, &final_path).map_err(io_error("move into place", &final_path))?;
        steps.step();
        return Ok(Swapped::Renamed);
    }
    match exchange(out_dir_handle, &target.temp_name, &target.name) {
        Ok(()) => {
            steps.step();
            Ok(Swapped::Exchanged)
        }
        Err(Exchange::Unsupported) => {
            let trash_path = swap_by_renames(out_dir, target, steps)?;
            Ok(Swapped::MovedAside { trash_path })
        }
        Err(Exchange::Failed(error)) => Err(io_error("replace", &final_path)(error)),
    }
}

/// The fallback where the filesystem cannot exchange two names: move the
/// old tree aside, then the new one in. Between the two renames the target
/// is missing (a killed build leaves it so until the next build).
fn swap_by_renames(out_dir: &Path, target: &Staged, steps: &Steps) -> Result<PathBuf, OutputError> {
    let final_path = out_dir.join(&target.name);
    let suffix = target.temp_name.to_string_lossy().trim_start_matches(TEMP_PREFIX).to_string();
    let trash_path = out_dir.join(format!("{TRASH_PREFIX}{suffix}"));
    std::fs::rename(&final_path, &trash_path).map_err(io_error("move aside", &final_path))?;
    steps.step();
    if let Err(error) = std::fs::rename(&target.temp_path, &final_path) {
        let _ = std::fs::rename(&trash_path, &final_path);
        return Err(io_error("move into place", &final_path)(error));
    }
    steps.step();
    Ok(trash_path)
}

/// Undoes [`swap_in`] for a target whose build is abandoned.
fn swap_back(out_dir_handle: &File, out_dir: &Path, target: &Staged, how: &Swapped) -> std::io::Result<()> {
    let final_path = out_dir.join(&target.name);
    match how {
        Swapped::Exchanged => match exchange(out_dir_handle, &target.temp_name, &target.name) {
            Ok(()) => Ok(()),
            Err(Exchange::Unsupported) => Err(std::io::Error::from(std::io::ErrorKind::Unsupported)),
            Err(Exchange::Failed(error)) => Err(error),
        },
        Swapped::Renamed => std::fs::rename(&final_path, &target.temp_path),
        Swapped::MovedAside { trash_path } => {
            std::fs::rename(&final_path, &target.temp_path)?;
            std::fs::rename(trash_path, &final_path)
        }
    }
}

enum Exchange {
    /// This OS or filesystem has no atomic exchange.
    Unsupported,
    Failed(std::io::Error),
}

/// Swaps two names in one directory atomically: no moment exists where
/// either is missing, which two renames cannot give.
#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
fn exchange(dir: &File, first: &OsStr, second: &OsStr) -> Result<(), Exchange> {
    use rustix::io::Errno;
    match rustix::fs::renameat_with(dir, first, dir, second, rustix::fs::RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        // Old kernels (ENOSYS) and filesystems without the flag (EINVAL,
        // e.g. some network and FUSE filesystems).
        Err(errno) if errno == Errno::NOSYS || errno == Errno::INVAL || errno == Errno::OPNOTSUPP => Err(Exchange::Unsupported),
        Err(errno) => Err(Exchange::Failed(errno.into())),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn exchange(_dir: &File, _first: &OsStr, _second: &OsStr) -> Result<(), Exchange> {
    Err(Exchange::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, text: &str) -> StagedTarget {
        StagedTarget {
            name: name.to_string(),
            files: vec![(PathBuf::from("catalog/pkg/catalog.json"), text.as_bytes().to_vec())],
        }
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// One target staged in its temp dir, as a publish does before swapping.
    fn stage_target(out_dir: &Path, target: &StagedTarget, steps: &Steps) -> Result<Staged, OutputError> {
        let (temp_name, temp_path) = create_temp_dir(out_dir, &target.name)?;
        let dirs = std::sync::Mutex::new(vec![BTreeSet::from([temp_path.clone()])]);
        let written = write_files(&temp_path, &target.files, &dirs, 0, steps)?;
        sync_files(&written, steps)?;
        Ok(Staged {
            name: OsString::from(&target.name),
            temp_name,
            temp_path,
        })
    }

    #[test]
    fn publish_replaces_whole_targets_and_leaves_no_temp_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("build");
        publish(&out_dir, &[target("a", "old a"), target("b", "old b")], &OutputSettings::default()).unwrap();
        std::fs::write(out_dir.join("a/extra"), "from the old tree").unwrap();
        std::fs::create_dir(out_dir.join(".catbuild-tmp-a-killed")).unwrap();
        let report = publish(&out_dir, &[target("a", "new a")], &OutputSettings::default()).unwrap();
        assert_eq!(report.removed_leftovers, vec![out_dir.join(".catbuild-tmp-a-killed")]);
        assert_eq!(read(&out_dir.join("a/catalog/pkg/catalog.json")), "new a");
        assert!(!out_dir.join("a/extra").exists(), "the whole target dir is replaced");
        assert_eq!(read(&out_dir.join("b/catalog/pkg/catalog.json")), "old b");
        assert_eq!(names(&out_dir), vec![".catbuild.lock", "a", "b"]);
    }

    #[test]
    fn the_rename_fallback_replaces_a_target_and_can_be_undone() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("build");
        publish(&out_dir, &[target("a", "old")], &OutputSettings::default()).unwrap();
        let steps = Steps::new(None);
        let staged = stage_target(&out_dir, &target("a", "new"), &steps).unwrap();
        let trash_path = swap_by_renames(&out_dir, &staged, &steps).unwrap();
        assert_eq!(read(&out_dir.join("a/catalog/pkg/catalog.json")), "new");
        assert_eq!(read(&trash_path.join("catalog/pkg/catalog.json")), "old");
        let handle = open_dir(&out_dir).unwrap();
        swap_back(&handle, &out_dir, &staged, &Swapped::MovedAside { trash_path }).unwrap();
        assert_eq!(read(&out_dir.join("a/catalog/pkg/catalog.json")), "old");
        assert_eq!(read(&staged.temp_path.join("catalog/pkg/catalog.json")), "new");
    }

    #[test]
    fn an_exchanged_target_can_be_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("build");
        publish(&out_dir, &[target("a", "old")], &OutputSettings::default()).unwrap();
        let steps = Steps::new(None);
        let staged = stage_target(&out_dir, &target("a", "new"), &steps).unwrap();
        let handle = open_dir(&out_dir).unwrap();
        let how = swap_in(&handle, &out_dir, &staged, &steps).unwrap();
        assert!(matches!(how, Swapped::Exchanged));
        assert_eq!(read(&out_dir.join("a/catalog/pkg/catalog.json")), "new");
        assert_eq!(read(&staged.temp_path.join("catalog/pkg/catalog.json")), "old");
        swap_back(&handle, &out_dir, &staged, &how).unwrap();
        assert_eq!(read(&out_dir.join("a/catalog/pkg/catalog.json")), "old");
        assert_eq!(read(&staged.temp_path.join("catalog/pkg/catalog.json")), "new");
    }

    #[test]
    fn files_outside_the_target_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("build");
        let escaping = StagedTarget {
            name: "a".to_string(),
            files: vec![(PathBuf::from("../escaped"), Vec::new())],
        };
        let error = publish(&out_dir, &[escaping], &OutputSettings::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot write outside its target `../escaped`: invalid input parameter"
        );
        assert_eq!(names(&out_dir), vec![".catbuild.lock"]);
    }
}
