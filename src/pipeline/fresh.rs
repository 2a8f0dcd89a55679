//! The whole-build stamp: a no-op build checked before planning (issue 19).
//!
//! After a build that changed nothing outside the output directory while
//! it ran, a stamp (in the action cache, named by the output directory) lists
//! every directory and file under the project's roots (the project and
//! its `external-paths`) and every directory and file of every target it
//! wrote, grouped by directory, each group with a digest of its paths'
//! stats (device, inode, mode, size, mtime, ctime), plus a key over
//! catbuild's version, the resolved `Config` and every build option that
//! changes output bytes. A later build whose key is the same and whose
//! stats hash the same is a no-op: it stats those paths and returns the
//! last build's report, reading no input byte and writing nothing.
//!
//! A stamp whose key still matches but where some groups changed (an
//! edit) still vouches for the rest: it also holds each bundle's loaded
//! digest, and a bundle under which no group changed, nor the group
//! holding its own entry, is neither listed nor keyed again
//! ([`Hints`]); the new stamp keeps the unchanged groups' stats and walks
//! only the changed directories again. A bundle with a symbolic link in
//! it (whose target may lie anywhere) is never vouched for.
//!
//! It vouches for the output the same way: each target's entry holds the
//! digest of the target's own stamp (`output::TargetStamp`) as the build
//! left it, and a target none of whose groups changed is, file for file,
//! what a stamp of that digest says ([`Hints::target_stamp`]); a stamp the
//! build failed to write, or one written since, has another digest. The
//! check's lock on the output directory is held until the publication
//! takes it, so no other build moves a target in between, and the new
//! stamp takes such a target's stats from the check, stating again only
//! what the build's patch renamed or removed ([`patch_groups`]).
//!
//! Why a matching stamp means the output is what a build would make now,
//! for every way an input can change:
//!
//! * a file edited in place, or touched (same size): its mtime and ctime
//!   change. Setting the mtime back (`touch -d`, `rsync -t`) still sets
//!   the ctime, which user space cannot choose.
//! * a file replaced (editors' write-and-rename, `cp`, `git checkout`),
//!   added, removed or renamed, a directory added, removed or renamed: an
//!   entry of its parent directory changes, and with it that directory's
//!   mtime and ctime (POSIX); the old inode is gone. Every directory under
//!   the roots is listed, so a new bundle directory a pattern would now
//!   match is seen. A symbolic link is stated itself, and is retargeted
//!   only by replacing it in its directory.
//! * `catalog.toml`, environment variables and flags: everything they set
//!   is in the resolved `Config` and `BuildOptions`, which are in the key
//!   (their `Debug` text: conservative, a comment moving a span is a
//!   miss). Outside `config` only the registry code reads the environment,
//!   and builds that touch registries or images are never stamped.
//! * catbuild itself: its version and commit are in the key.
//! * the output: every file and directory of every target is stated too,
//!   so a target changed or removed by hand is a miss; published files are
//!   never written in place (`output` stages and swaps).
//! * an edit while the stamped build ran: the build notes the time before
//!   it reads anything. A path whose mtime or ctime is not older than
//!   that, less [`CLOCK_SLACK`] (filesystem timestamps come from a coarse
//!   clock that may lag the real one by a tick), is racy: a later change
//!   in the same tick would leave its stats as they are (git's "racy
//!   clean" rule). A racy file is stamped with the sha256 of the bytes
//!   the build used (the memo's, for exactly its stat), and every check
//!   hashes it again; any other racy path means no stamp. Every other
//!   path was last changed before it was read, and any later change moves
//!   its ctime.
//!
//! Not stamped (they build as before): `--no-cache`, `--cache-to` (its
//! export needs the actions), builds with warnings, images from a base
//! image (a registry's tag may move) or pushed, `bundle-images`, and
//! inputs outside the roots or inside the output or cache directory, a
//! `.git` directory or another catbuild output directory (all skipped by
//! the walk, so nothing a build reads may be there). Anything the walk cannot read means no stamp; the stamp is only a
//! hint, so losing it costs time, never correctness.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use super::{BuildOptions, BuildReport, TargetReport};
use crate::config::Config;
use crate::load::Sha256Digest;

/// How far filesystem timestamps may lag the clock: Linux stamps files
/// with a coarse clock that is at most one tick behind, and a tick is at
/// most 10 ms (`HZ` >= 100).
pub(super) const CLOCK_SLACK: Duration = Duration::from_millis(10);
const HEADER: &str = "catbuild build stamp 3";
/// Past this many paths the walk gives up: a project that large gains
/// little from a stamp it must stat whole.
const MAX_ENTRIES: usize = 2_000_000;
/// At most this many racy files in a stamp: every check hashes each again.
const MAX_RACY: usize = 64;

/// catbuild's version and commit.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " ", env!("CATBUILD_GIT_COMMIT"));

/// Whether a build with these settings may be answered by a stamp at all.
pub(super) fn eligible(config: &Config, options: &BuildOptions) -> bool {
    use crate::config::BaseImage;
    // `--cache-to` must see the build's actions to export them, so such a
    // build is never answered by a stamp (one made without it would
    // otherwise leave the shared cache unwritten).
    // Images are made from the inputs alone when no base image is read
    // (from a registry, whose tag may move, or a layout). A build that
    // pushes is never a no-op: the push must run even when nothing
    // changed (an earlier push may have failed, or the registry lost it).
    let images_from_inputs_alone = !options.push
        && config.targets.iter().all(|target| !target.push)
        && match &options.base_image {
            Some(base) => *base == BaseImage::Scratch,
            None => config.targets.iter().all(|target| target.base_image == BaseImage::Scratch),
        };
    options.cache.enabled
        && options.cache.to.is_none()
        && (!options.images(config) || images_from_inputs_alone)
        && config.packages.iter().all(|package| package.bundle_images.is_empty())
}

/// The key of a build: catbuild's version, the resolved config, and every
/// option that changes what is written where.
pub(super) fn key(config: &Config, options: &BuildOptions, out_dir: &Path, version: &str) -> String {
    let mut hasher = Sha256::new();
    let options_text = format!(
        "targets {:?}\nformats {:?}\nout {:?}\npush {}\nimages {}\nregistry {:?}\nbase {:?}\nepoch {}\ncache {:?} {:?} {}",
        options.targets,
        options.formats,
        out_dir,
        options.push,
        options.build_images,
        options.registry,
        options.base_image,
        options.source_date_epoch,
        options.cache.enabled,
        options.cache.dir,
        options.cache.max_bytes,
    );
    for text in [version, &format!("{config:?}"), &options_text] {
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    crate::cache::hex(&Sha256Digest(hasher.finalize().into()))
}

/// The name the stamp of a build into `out_dir` is kept under.
pub(super) fn stamp_name(out_dir: &Path) -> String {
    let absolute = std::path::absolute(out_dir).unwrap_or_else(|_| out_dir.to_path_buf());
    format!("build {}", absolute.display())
}

/// One target as the stamp remembers it, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StampedTarget {
    pub(super) name: String,
    pub(super) n_packages: usize,
    pub(super) n_bundles: usize,
    pub(super) n_excluded: usize,
    /// The digest of the target's own stamp (`output::TargetStamp`) as
    /// this build left it, when it left one: while the target's files are
    /// as stamped here, that stamp describes them ([`Hints::target_stamp`]).
    pub(super) target_stamp: Option<String>,
}

/// A bundle directory's loaded digest under one variable set (its index
/// among the package's, which the key fixes), as the build that wrote
/// the stamp found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StampedBundle {
    pub(super) set_idx: usize,
    /// As the plan names it.
    pub(super) dir: PathBuf,
    /// Where it is: the plan may reach it through a link (a project whose
    /// `tree` links to an `external-paths` root), and the walk follows
    /// none. Empty until [`take`] resolves it.
    pub(super) canonical: PathBuf,
    pub(super) loaded: Sha256Digest,
}

/// Each of `dirs` with its parent resolved (`canonicalize`, once per
/// parent), or `None` when that fails. The last component is kept as it
/// is: a bundle directory that is itself a link is not walked as a
/// directory, so it is never vouched for.
fn resolved<'a>(dirs: impl Iterator<Item = &'a Path>) -> HashMap<&'a Path, Option<PathBuf>> {
    let mut parents: Vec<&Path> = dirs.filter_map(Path::parent).collect();
    parents.sort_unstable();
    parents.dedup();
    parents
        .into_par_iter()
        .map(|parent| (parent, std::fs::canonicalize(parent).ok()))
        .collect()
}

fn resolve(parents: &HashMap<&Path, Option<PathBuf>>, dir: &Path) -> Option<PathBuf> {
    Some(parents.get(dir.parent()?)?.as_ref()?.join(dir.file_name()?))
}

/// A stamp: what it answers (`key`), its targets, the paths it vouches
/// for, grouped by directory, each group with the digest of its paths'
/// stats, and the loaded digest of every bundle wholly under them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BuildStamp {
    pub(super) version: String,
    pub(super) key: String,
    pub(super) targets: Vec<StampedTarget>,
    /// Absolute paths, grouped by their directory, in the order their stats
    /// are hashed.
    pub(super) groups: Vec<Group>,
    /// Per group, [`group_digest`] of its paths' stats.
    pub(super) digests: Vec<String>,
    pub(super) bundles: Vec<StampedBundle>,
    /// Files changed too shortly before the build for their stats to
    /// vouch for their bytes, with the sha256 of the bytes the build used.
    pub(super) racy: Vec<(PathBuf, Sha256Digest)>,
}

/// Paths in one directory: each is stated by name relative to the
/// directory, opened once, which saves the kernel walking every
/// component of every path (most of a no-op build's time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Group {
    pub(super) dir: PathBuf,
    pub(super) names: Vec<std::ffi::OsString>,
}

impl BuildStamp {
    /// As text: `d DIGEST DIR` then its `f NAME`s, then `b SET LOADED DIR`.
    pub(super) fn to_text(&self) -> Option<String> {
        let mut text = format!("{HEADER}\nversion {}\nkey {}\n", self.version, self.key);
        for target in &self.targets {
            if target.name.contains(['\n', '\t']) {
                return None;
            }
            text.push_str(&format!(
                "target {}\t{}\t{}\t{}\t{}\n",
                target.name,
                target.n_packages,
                target.n_bundles,
                target.n_excluded,
                target.target_stamp.as_deref().unwrap_or("-")
            ));
        }
        // Pushed piece by piece: a stamp has a line per input path.
        for (group, digest) in self.groups.iter().zip(&self.digests) {
            let dir = group.dir.to_str().filter(|dir| !dir.contains('\n'))?;
            for piece in ["d ", digest, " ", dir, "\n"] {
                text.push_str(piece);
            }
            for name in &group.names {
                let name = name.to_str().filter(|name| !name.contains('\n'))?;
                for piece in ["f ", name, "\n"] {
                    text.push_str(piece);
                }
            }
        }
        for bundle in &self.bundles {
            let plain = |path: &Path| path.to_str().filter(|text| !text.contains(['\n', '\t'])).map(str::to_string);
            let (dir, canonical) = (plain(&bundle.dir)?, plain(&bundle.canonical)?);
            text.push_str(&format!("b {} {} {dir}\t{canonical}\n", bundle.set_idx, bundle.loaded));
        }
        for (path, digest) in &self.racy {
            let path = path.to_str().filter(|path| !path.contains('\n'))?;
            text.push_str(&format!("r {digest} {path}\n"));
        }
        Some(text)
    }

    /// `None` for a damaged stamp or another layout's.
    pub(super) fn from_text(text: &str) -> Option<BuildStamp> {
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let version = lines.next()?.strip_prefix("version ")?.to_string();
        let key = lines.next()?.strip_prefix("key ")?.to_string();
        let mut stamp = BuildStamp {
            version,
            key,
            targets: Vec::new(),
            groups: Vec::new(),
            digests: Vec::new(),
            bundles: Vec::new(),
            racy: Vec::new(),
        };
        for line in lines {
            let (kind, rest) = line.split_once(' ')?;
            match kind {
                "target" => {
                    let fields: Vec<&str> = rest.split('\t').collect();
                    let [name, n_packages, n_bundles, n_excluded, target_stamp] = fields.as_slice() else {
                        return None;
                    };
                    stamp.targets.push(StampedTarget {
                        name: name.to_string(),
                        n_packages: n_packages.parse().ok()?,
                        n_bundles: n_bundles.parse().ok()?,
                        n_excluded: n_excluded.parse().ok()?,
                        target_stamp: (*target_stamp != "-").then(|| target_stamp.to_string()),
                    });
                }
                "d" => {
                    let (digest, dir) = rest.split_once(' ')?;
                    stamp.digests.push(digest.to_string());
                    stamp.groups.push(Group {
                        dir: PathBuf::from(dir),
                        names: Vec::new(),
                    });
                }
                "f" => stamp.groups.last_mut()?.names.push(rest.into()),
                "b" => {
                    let mut fields = rest.splitn(3, ' ');
                    let set_idx = fields.next()?.parse().ok()?;
                    let loaded = crate::cache::parse_digest(fields.next()?)?;
                    let (dir, canonical) = fields.next()?.split_once('\t')?;
                    stamp.bundles.push(StampedBundle {
                        set_idx,
                        dir: PathBuf::from(dir),
                        canonical: PathBuf::from(canonical),
                        loaded,
                    });
                }
                "r" => {
                    let (digest, path) = rest.split_once(' ')?;
                    stamp.racy.push((PathBuf::from(path), crate::cache::parse_digest(digest)?));
                }
                _ => return None,
            }
        }
        Some(stamp)
    }
}

/// `paths` grouped by directory, keeping their order.
fn group(paths: &[PathBuf]) -> Option<Vec<Group>> {
    let mut groups: Vec<Group> = Vec::new();
    for path in paths {
        let dir = path.parent()?;
        let name = path.file_name()?.to_os_string();
        match groups.last_mut() {
            Some(last) if last.dir == dir => last.names.push(name),
            _ => groups.push(Group {
                dir: dir.to_path_buf(),
                names: vec![name],
            }),
        }
    }
    Some(groups)
}

/// `(device, inode, mode, size, mtime, ctime)` of every path, times in ns.
pub(super) type StatFields = [i128; 6];

/// `(size, mtime, inode, device)`, as the action cache's memo keeps them.
pub(super) fn memo_stat(stat: &StatFields) -> Option<(u64, i128, u64, u64)> {
    Some((
        u64::try_from(stat[3]).ok()?,
        stat[4],
        u64::try_from(stat[1]).ok()?,
        u64::try_from(stat[0]).ok()?,
    ))
}

/// The stats (as `lstat` gives them) of each group's paths, in order;
/// `None` for a group whose directory or one of whose paths cannot be
/// stated.
/// How many directories below its open ancestor a group may be (see
/// [`stats_of`]).
const STAT_DEPTH: usize = 3;

fn stats_of(groups: &[Group]) -> Vec<Option<Vec<StatFields>>> {
    use rustix::fs::{AtFlags, Mode, OFlags};
    let open = |dir: &Path| rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok();
    groups
        .par_iter()
        .with_min_len(64)
        // Paths are stated relative to an open ancestor, the parent of the
        // first group that is not at most three levels under the last one:
        // the groups come sorted, so one open serves a whole tree of
        // `package/bundle/manifests`, where opening each group's directory
        // took a third of a no-op's stat time (an open and a close, and the
        // whole path walked, per directory).
        .map_init(
            || (None::<(PathBuf, rustix::fd::OwnedFd)>, PathBuf::new()),
            |(anchor, path), group| {
                let near = |base: &Path| {
                    group
                        .dir
                        .strip_prefix(base)
                        .is_ok_and(|under| under.components().nth(STAT_DEPTH).is_none())
                };
                if !anchor.as_ref().is_some_and(|(base, _)| near(base)) {
                    let parent = group.dir.parent().filter(|parent| !parent.as_os_str().is_empty());
                    *anchor = parent
                        .and_then(|parent| Some((parent.to_path_buf(), open(parent)?)))
                        .or_else(|| Some((group.dir.clone(), open(&group.dir)?)));
                }
                let (base, fd) = anchor.as_ref()?;
                let under = group.dir.strip_prefix(base).ok()?;
                group
                    .names
                    .iter()
                    .map(|name| {
                        path.as_mut_os_string().clear();
                        path.push(under);
                        path.push(name);
                        let stat = rustix::fs::statat(fd, path.as_path(), AtFlags::SYMLINK_NOFOLLOW).ok()?;
                        Some(stat_fields(&stat))
                    })
                    .collect()
            },
        )
        .collect()
}

/// The digest of one group's stats: the first half of their sha256, as
/// hex (plenty to tell a change, and a tenth of a stamp's size less).
fn group_digest(stats: &[StatFields]) -> String {
    let mut hasher = Sha256::new();
    for stat in stats {
        for value in stat {
            hasher.update(value.to_le_bytes());
        }
    }
    let mut hex = Sha256Digest(hasher.finalize().into()).hex();
    hex.truncate(32);
    hex
}

fn newest_of(stats: &[StatFields]) -> SystemTime {
    let newest_ns = stats.iter().map(|stat| stat[4].max(stat[5])).max().unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_nanos(u64::try_from(newest_ns).unwrap_or(0))
}

fn file_type(stat: &StatFields) -> Option<rustix::fs::FileType> {
    u32::try_from(stat[2]).ok().map(rustix::fs::FileType::from_raw_mode)
}

fn is_symlink(stat: &StatFields) -> bool {
    file_type(stat) == Some(rustix::fs::FileType::Symlink)
}

fn is_regular_file(stat: &StatFields) -> bool {
    file_type(stat) == Some(rustix::fs::FileType::RegularFile)
}

/// Every directory and file under `root` (itself included), sorted,
/// with its stats (as [`stats_of`] takes them), leaving out the
/// directories in `skip`, any named `.git` and any other catbuild output
/// directory (one holding its lock file: another build's `--out`, whose
/// swaps would otherwise break this build's stamp), which are added to
/// `skip`; `None` when a directory cannot be read or there are too many.
/// Each entry is stated through its directory's descriptor as it is
/// listed: one pass, and no path walked component by component. The
/// subdirectories of a directory are walked in parallel: the walk runs
/// beside the publish's fsyncs, and one core listed 10,000 paths in
/// about 30 ms of a 110 ms one-bundle edit.
fn walk(root: &Path, skip: &mut Vec<PathBuf>, paths: &mut Vec<PathBuf>, stats: &mut Vec<StatFields>) -> Option<()> {
    use rustix::fs::{AtFlags, CWD};
    let root_stat = stat_fields(&rustix::fs::statat(CWD, root, AtFlags::SYMLINK_NOFOLLOW).ok()?);
    let n_paths = std::sync::atomic::AtomicUsize::new(paths.len() + 1);
    let listing = list_dir(root, root, skip, &n_paths)?;
    paths.push(root.to_path_buf());
    stats.push(root_stat);
    paths.extend(listing.paths);
    stats.extend(listing.stats);
    skip.extend(listing.output_dirs);
    Some(())
}

/// One directory's part of a [`walk`]: its entries in name order, then
/// each subdirectory's part in name order.
#[derive(Default)]
struct Listing {
    paths: Vec<PathBuf>,
    stats: Vec<StatFields>,
    /// Other catbuild output directories found below, left out.
    output_dirs: Vec<PathBuf>,
    /// This directory is another build's output directory.
    holds_lock: bool,
}

fn list_dir(dir: &Path, root: &Path, skip: &[PathBuf], n_paths: &std::sync::atomic::AtomicUsize) -> Option<Listing> {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    use std::os::unix::ffi::OsStrExt as _;
    let fd = rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut reader = rustix::fs::Dir::new(fd).ok()?;
    let mut entries: Vec<(std::ffi::OsString, StatFields, bool)> = Vec::new();
    let mut holds_lock = false;
    while let Some(entry) = reader.read() {
        let entry = entry.ok()?;
        let name = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        let stat = rustix::fs::statat(reader.fd().ok()?, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
        let file_type = FileType::from_raw_mode(stat.st_mode);
        let name = std::ffi::OsStr::from_bytes(name.to_bytes()).to_os_string();
        holds_lock |= file_type == FileType::RegularFile && name == crate::output::LOCK_FILE_NAME;
        entries.push((name, stat_fields(&stat), file_type == FileType::Directory));
    }
    drop(reader);
    if holds_lock && dir != root {
        return Some(Listing {
            holds_lock: true,
            ..Listing::default()
        });
    }
    entries.sort_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));
    let mut listing = Listing::default();
    let mut subdirs = Vec::new();
    for (name, stat, is_dir) in entries {
        let path = dir.join(name);
        if is_dir && (path.file_name() == Some(std::ffi::OsStr::new(".git")) || skip.contains(&path)) {
            continue;
        }
        if is_dir {
            subdirs.push(path.clone());
        }
        listing.paths.push(path);
        listing.stats.push(stat);
    }
    let seen = n_paths.fetch_add(listing.paths.len(), std::sync::atomic::Ordering::Relaxed) + listing.paths.len();
    if seen > MAX_ENTRIES {
        return None;
    }
    let below: Vec<Option<Listing>> = subdirs.par_iter().map(|subdir| list_dir(subdir, root, skip, n_paths)).collect();
    for (subdir, sub_listing) in subdirs.into_iter().zip(below) {
        let sub_listing = sub_listing?;
        if sub_listing.holds_lock {
            // Found when it is read, after this directory listed it: it
            // goes, as if never listed.
            let idx = listing.paths.iter().position(|path| *path == subdir)?;
            listing.paths.remove(idx);
            listing.stats.remove(idx);
            listing.output_dirs.push(subdir);
            continue;
        }
        listing.paths.extend(sub_listing.paths);
        listing.stats.extend(sub_listing.stats);
        listing.output_dirs.extend(sub_listing.output_dirs);
    }
    Some(listing)
}

fn stat_fields(stat: &rustix::fs::Stat) -> StatFields {
    [
        i128::from(stat.st_dev),
        i128::from(stat.st_ino),
        i128::from(stat.st_mode),
        i128::from(stat.st_size),
        i128::from(stat.st_mtime) * 1_000_000_000 + i128::from(stat.st_mtime_nsec),
        i128::from(stat.st_ctime) * 1_000_000_000 + i128::from(stat.st_ctime_nsec),
    ]
}

/// What a finished build hands over for its stamp.
pub(super) struct Finished<'a> {
    pub(super) config: &'a Config,
    pub(super) options: &'a BuildOptions,
    pub(super) reports: &'a [TargetReport],
    /// The inputs' side, walked once every input was read.
    pub(super) inputs: InputWalk,
    /// Every bundle's loaded digest the build knew (those wholly under
    /// the walked paths are kept).
    pub(super) bundles: Vec<StampedBundle>,
    /// Per report, the digest of the target stamp it left
    /// ([`target_stamp_digest`]).
    pub(super) target_stamps: Vec<Option<String>>,
    /// Per report, what the build did to its target.
    pub(super) target_changes: Vec<TargetChange<'a>>,
    /// What the check of the last stamp found, if it still held in parts.
    pub(super) hints: Option<&'a Hints>,
}

/// What a build did to a target's files, so that its part of the stamp
/// need not be walked again where the check's stats still hold.
pub(super) enum TargetChange<'a> {
    /// Left as it was.
    Kept,
    /// These files (relative to the target) renamed into it, then those
    /// removed; no directory made or removed.
    Patched { renamed: &'a [PathBuf], removed: &'a [PathBuf] },
    /// Staged whole, or unknown.
    Staged,
}

/// Every path under the project's roots with its stats, taken after the
/// build read its inputs: [`walk_inputs`].
pub(super) struct InputWalk {
    /// `out_dir`, canonical.
    out_dir: PathBuf,
    groups: Vec<Group>,
    /// The stats of the groups' paths, in order.
    stats: Vec<StatFields>,
    racy: Vec<(PathBuf, Sha256Digest)>,
}

/// When a build began (before it read any input), and what the stamp it
/// missed still says.
pub(super) struct Start {
    pub(super) at: SystemTime,
    pub(super) hints: Option<Hints>,
}

/// What a stamp that no longer holds still says to a build with its key
/// (same catbuild, config and options): which of its directories changed,
/// and the loaded digest of every bundle nothing under which did.
pub(super) struct Hints {
    /// The stamp's input groups, each with its stats as the check took
    /// them when they are the stamped ones (`None`: changed); taken by
    /// the new stamp's walk.
    groups: std::sync::Mutex<Option<Vec<CheckedGroup>>>,
    /// The directories of the groups that changed or could not be read,
    /// inputs' and outputs'.
    changed: Vec<PathBuf>,
    /// Per bundle directory as the plan names it.
    bundles: HashMap<PathBuf, KnownBundle>,
    /// Racy files of unchanged groups, with the stats the check found and
    /// the digest their bytes still hash to.
    racy: HashMap<PathBuf, (StatFields, Sha256Digest)>,
    /// Targets none of whose files or directories changed, with the
    /// digest of the target stamp the last build left for them.
    targets: HashMap<String, String>,
    /// The stamp's output groups, as [`Hints::groups`] holds its inputs'.
    outputs: Vec<(Group, Option<Vec<StatFields>>)>,
    /// The output directory's lock, taken for the check and held until
    /// the build's publication takes it over: nothing can change the
    /// targets the check found untouched in between.
    lock: std::sync::Mutex<Option<crate::output::OutputLock>>,
}

/// A group of the stamp with its stats as the check took them, when they
/// are the stamped ones (`None`: changed).
type CheckedGroup = (Group, Option<Vec<StatFields>>);

/// A bundle directory as the stamp knows it.
struct KnownBundle {
    /// `(variable set index, loaded digest)`.
    digests: Vec<(usize, Sha256Digest)>,
    /// Where it was.
    canonical: PathBuf,
    /// Where it is now.
    now: Option<PathBuf>,
}

impl Hints {
    /// The loaded digest of the bundle in `dir` under variable set
    /// `set_idx`, when nothing loading it could read changed since the
    /// stamp: no group at or below it changed, nor its parent's (which
    /// holds its own entry, so it was not replaced). Its files' contents,
    /// entries and subdirectories are all in those groups.
    /// A link on its way retargeted since is a change too.
    pub(super) fn loaded(&self, dir: &Path, set_idx: usize) -> Option<Sha256Digest> {
        let KnownBundle { digests, canonical, now } = self.bundles.get(dir)?;
        let (_, digest) = digests.iter().find(|(idx, _)| *idx == set_idx)?;
        if now.as_ref() != Some(canonical) {
            return None;
        }
        let parent = canonical.parent()?;
        let touched = self
            .changed
            .iter()
            .any(|changed| changed == parent || changed.starts_with(canonical));
        (!touched).then_some(*digest)
    }

    /// The digest of target `name`'s stamp when its files and directories
    /// are all as the last build left them: a stamp with that digest
    /// describes them, so it need not be checked against the disk again.
    /// (The digest tells a stamp the last build failed to write, or one
    /// written since, from the one it left.)
    pub(super) fn target_stamp(&self, name: &str) -> Option<&str> {
        self.targets.get(name).map(String::as_str)
    }

    /// Target `name`'s groups and their stats as a walk of it would find
    /// them now, from the stats the check took, when the check vouched
    /// for the target and this build left it (`change`) or only patched
    /// it: then the patch's files are stated again, and so is the entry
    /// of each directory it changed (in its parent's group). The output
    /// directory's lock has been held since the check, so nothing else
    /// moved them.
    fn output_groups(&self, canonical_out: &Path, name: &str, change: &TargetChange) -> Option<(Vec<Group>, Vec<StatFields>)> {
        self.targets.get(name)?;
        let target_dir = canonical_out.join(name);
        let mut target_groups: Vec<(Group, Vec<StatFields>)> = Vec::new();
        for (group, group_stats) in &self.outputs {
            let own_entry = group.dir == canonical_out && group.names.len() == 1 && group.names[0] == *name;
            if own_entry || group.dir.starts_with(&target_dir) {
                target_groups.push((group.clone(), group_stats.clone()?));
            }
        }
        // A walk of the target begins with its own entry.
        if target_groups.first().is_none_or(|(group, _)| group.dir != canonical_out) {
            return None;
        }
        match change {
            TargetChange::Kept => {}
            TargetChange::Patched { renamed, removed } => patch_groups(&mut target_groups, &target_dir, renamed, removed)?,
            TargetChange::Staged => return None,
        }
        let mut stats = Vec::new();
        let groups = target_groups
            .into_iter()
            .map(|(group, group_stats)| {
                stats.extend(group_stats);
                group
            })
            .collect();
        Some((groups, stats))
    }

    /// The output directory's lock the check holds, for the publication.
    pub(super) fn take_lock(&self) -> Option<crate::output::OutputLock> {
        self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

/// `groups` (a target's, with their stats) after `renamed` (relative to
/// `target_dir`) were renamed into it and `removed` removed: those names
/// are stated again or dropped, and so is the entry of every directory
/// whose entries changed. Names stay in the order a walk lists them
/// (bytewise). `None` when a path cannot be stated or lies outside the
/// groups (then the target is walked).
fn patch_groups(groups: &mut [(Group, Vec<StatFields>)], target_dir: &Path, renamed: &[PathBuf], removed: &[PathBuf]) -> Option<()> {
    use rustix::fs::{AtFlags, Mode, OFlags};
    use std::collections::{BTreeSet, HashMap};
    use std::os::unix::ffi::OsStrExt as _;
    let mut by_dir: HashMap<PathBuf, (BTreeSet<&std::ffi::OsStr>, BTreeSet<&std::ffi::OsStr>)> = HashMap::new();
    for (paths, is_removed) in [(renamed, false), (removed, true)] {
        for path in paths {
            let absolute = target_dir.join(path);
            let dir = absolute.parent()?.to_path_buf();
            let name = path.file_name()?;
            let (renamed_here, removed_here) = by_dir.entry(dir).or_default();
            if is_removed { removed_here } else { renamed_here }.insert(name);
        }
    }
    let mut seen = 0;
    for (group, group_stats) in groups.iter_mut() {
        let changes = by_dir.get(&group.dir);
        seen += usize::from(changes.is_some());
        let moved_dirs: Vec<usize> = (0..group.names.len())
            .filter(|idx| by_dir.contains_key(&group.dir.join(&group.names[*idx])))
            .collect();
        if changes.is_none() && moved_dirs.is_empty() {
            continue;
        }
        let mut entries: Vec<(std::ffi::OsString, Option<StatFields>)> = group
            .names
            .drain(..)
            .zip(group_stats.drain(..))
            .enumerate()
            .filter(|(_, (name, _))| changes.is_none_or(|(_, removed_here)| !removed_here.contains(name.as_os_str())))
            .map(|(idx, (name, stat))| (name, (!moved_dirs.contains(&idx)).then_some(stat)))
            .collect();
        for name in changes.iter().flat_map(|(renamed_here, _)| renamed_here) {
            match entries.binary_search_by(|(known, _)| known.as_bytes().cmp(name.as_bytes())) {
                Ok(idx) => entries[idx].1 = None,
                Err(idx) => entries.insert(idx, (name.to_os_string(), None)),
            }
        }
        let dir = rustix::fs::open(&group.dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok()?;
        for (name, stat) in entries {
            let stat = match stat {
                Some(stat) => stat,
                None => stat_fields(&rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW).ok()?),
            };
            group.names.push(name);
            group_stats.push(stat);
        }
    }
    // Every directory the patch touched is one of the target's groups.
    (seen == by_dir.len()).then_some(())
}

/// The digest of a target stamp's text, as the build stamp records it.
pub(super) fn target_stamp_digest(text: &str) -> String {
    Sha256Digest::of(text.as_bytes()).hex()
}

/// The inputs' side of a stamp, or `None` when it cannot be trusted:
/// every directory and file under the project's roots with its stats,
/// taken once the build has read every input (`inputs`: every path the
/// plan named, which must lie where the walk looks) and before it takes
/// the outputs' side ([`take`]). It reads nothing the publish writes, so
/// it runs while the publish waits on the disk.
///
/// After a stamp that still vouched for most paths ([`Hints`]), only the
/// directories that changed are walked again: the others keep the stats
/// the check took, which were the stamped ones. Those were taken before
/// the build read anything, so a change since shows at the next check,
/// like any other.
/// `known` gives the sha256 of the bytes the build used for a file, when
/// it knows them for exactly that stat.
pub(super) fn walk_inputs(
    (config, options): (&Config, &BuildOptions),
    out_dir: &Path,
    start: &Start,
    inputs: &[PathBuf],
    known: &(dyn Fn(&Path, &StatFields) -> Option<Sha256Digest> + Sync),
) -> Option<InputWalk> {
    let out_dir = std::fs::canonicalize(out_dir).ok()?;
    let cache_dir = super::cache_dir(config, &options.cache, &out_dir);
    let mut skip = vec![out_dir.clone()];
    if let Ok(cache_dir) = std::fs::canonicalize(&cache_dir) {
        skip.push(cache_dir);
    }
    let mut roots: Vec<PathBuf> = std::iter::once(&config.root)
        .chain(&config.catalog.external_paths)
        .filter_map(|root| std::fs::canonicalize(root).ok())
        .collect();
    roots.sort();
    roots.dedup();
    let nested: Vec<PathBuf> = roots
        .iter()
        .filter(|root| roots.iter().any(|other| other != *root && root.starts_with(other)))
        .cloned()
        .collect();
    roots.retain(|root| !nested.contains(root));
    // The output must not hold a root, nor any input lie where the walk
    // does not look.
    if roots.iter().any(|root| root.starts_with(&out_dir)) {
        return None;
    }
    // A root changed since the build began makes the stamp racy whatever
    // the walk finds: a first build does that, making its output
    // directory in the project's. One stat, then, not a walk thrown away.
    for root in &roots {
        let stat = rustix::fs::statat(rustix::fs::CWD, root, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).ok()?;
        if newest_of(&[stat_fields(&stat)]) + CLOCK_SLACK >= start.at {
            return None;
        }
    }
    let (groups, stats) = match &start.hints {
        Some(hints) => walk_changed(hints, &roots, &mut skip)?,
        None => {
            let mut paths = Vec::new();
            let mut stats = Vec::new();
            for root in &roots {
                walk(root, &mut skip, &mut paths, &mut stats)?;
            }
            (group(&paths)?, stats)
        }
    };
    // A path walked is canonical already (the walk follows no link and
    // starts at canonical roots), under a root and not skipped: only the
    // others need `canonicalize` (a `readlink` per component).
    let walked: HashMap<&Path, &Group> = groups.iter().map(|group| (group.dir.as_path(), group)).collect();
    let was_walked = |input: &Path| {
        walked.contains_key(input)
            || input
                .parent()
                .zip(input.file_name())
                .and_then(|(parent, name)| walked.get(parent).map(|group| group.names.iter().any(|known| known == name)))
                .unwrap_or(false)
    };
    // Inputs reached through a link (a `tree` linking to an
    // `external-paths` root) are found by their parent, resolved once per
    // parent: not a `canonicalize` per bundle.
    let unwalked: Vec<&Path> = inputs.iter().map(PathBuf::as_path).filter(|input| !was_walked(input)).collect();
    let parents = resolved(unwalked.iter().copied());
    for input in unwalked {
        if resolve(&parents, input).is_some_and(|resolved| was_walked(&resolved)) {
            continue;
        }
        let input = std::fs::canonicalize(input).ok()?;
        let under_root = roots.iter().any(|root| input.starts_with(root));
        let skipped = skip.iter().any(|dir| input.starts_with(dir)) || input.components().any(|component| component.as_os_str() == ".git");
        if !under_root || skipped {
            return None;
        }
    }
    let racy = racy_files(&groups, &stats, start, known)?;
    Some(InputWalk {
        out_dir,
        groups,
        stats,
        racy,
    })
}

/// The racy files among the walked paths (changed too shortly before the
/// build began for their stats to tell a later change: they may not be
/// what the build read), each with the digest of the bytes the build
/// used; `None` when one is not a regular file, or its bytes are not
/// known for exactly its stat, or there are too many. A file that changes
/// after these stats are taken no longer matches them, and a check hashes
/// each racy file again.
fn racy_files(
    groups: &[Group],
    stats: &[StatFields],
    start: &Start,
    known: &(dyn Fn(&Path, &StatFields) -> Option<Sha256Digest> + Sync),
) -> Option<Vec<(PathBuf, Sha256Digest)>> {
    let mut racy = Vec::new();
    let mut offset = 0;
    for group in groups {
        let group_stats = stats.get(offset..offset + group.names.len())?;
        offset += group.names.len();
        for (name, stat) in group.names.iter().zip(group_stats) {
            if newest_of(std::slice::from_ref(stat)) + CLOCK_SLACK < start.at {
                continue;
            }
            if racy.len() == MAX_RACY || !is_regular_file(stat) {
                return None;
            }
            let path = group.dir.join(name);
            let checked = || {
                let (checked_stat, digest) = start.hints.as_ref()?.racy.get(&path)?;
                (checked_stat == stat).then_some(*digest)
            };
            let digest = known(&path, stat).or_else(checked)?;
            racy.push((path, digest));
        }
    }
    Some(racy)
}

/// The inputs' groups after a stamp that still held elsewhere: its
/// unchanged groups as the check stated them, and each changed directory
/// (its highest, whose walk covers the rest) walked again.
fn walk_changed(hints: &Hints, roots: &[PathBuf], skip: &mut Vec<PathBuf>) -> Option<(Vec<Group>, Vec<StatFields>)> {
    let changed: Vec<&Path> = hints
        .changed
        .iter()
        .map(PathBuf::as_path)
        .filter(|dir| !skip.iter().any(|skipped| dir.starts_with(skipped)))
        .collect();
    // A group above a root (the one holding a root's own entry) changed:
    // that root is walked again whole.
    let mut tops: Vec<&Path> = Vec::new();
    for dir in &changed {
        if changed.iter().any(|other| other != dir && dir.starts_with(other)) {
            continue;
        }
        if roots.iter().any(|root| dir.starts_with(root)) {
            tops.push(dir);
        } else {
            let below: Vec<&Path> = roots.iter().filter(|root| root.starts_with(dir)).map(PathBuf::as_path).collect();
            if below.is_empty() {
                return None;
            }
            tops.extend(below);
        }
    }
    let mut groups = Vec::new();
    let mut stats = Vec::new();
    // Moved out, not copied (a group per input directory); a second
    // walk, which would find none, gives no stamp.
    let unchanged = hints.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()?;
    for (group, group_stats) in unchanged {
        // Under a directory walked again, or the entry of a root walked
        // again whole (that walk has both).
        let rewalked = tops.iter().any(|top| group.dir.starts_with(top))
            || roots.iter().any(|root| {
                tops.contains(&root.as_path())
                    && Some(group.dir.as_path()) == root.parent()
                    && group.names.iter().map(|name| name.as_os_str()).eq(root.file_name())
            });
        if rewalked {
            continue;
        }
        stats.extend(group_stats?);
        groups.push(group);
    }
    let mut walked_stats = Vec::new();
    for top in tops {
        let root = roots.iter().find(|root| top.starts_with(root))?;
        let mut paths = Vec::new();
        if top == root.as_path() {
            walk(root, skip, &mut paths, &mut walked_stats)?;
        } else {
            let n_paths = std::sync::atomic::AtomicUsize::new(stats.len());
            let listing = list_dir(top, root, skip, &n_paths)?;
            if listing.holds_lock || !listing.output_dirs.is_empty() {
                // Another build's output appeared: its parent's listing
                // must lose it, which a walk from the top does.
                return None;
            }
            paths = listing.paths;
            walked_stats.extend(listing.stats);
        }
        groups.extend(group(&paths)?);
    }
    stats.extend(walked_stats);
    Some((groups, stats))
}

/// The stamp of a build that just swapped its targets in (under the
/// output directory's lock), or `None` when it cannot be trusted.
pub(super) fn take(finished: Finished) -> Option<BuildStamp> {
    let Finished {
        config,
        options,
        reports,
        inputs: InputWalk {
            out_dir,
            mut groups,
            mut stats,
            racy,
        },
        bundles,
        target_stamps,
        target_changes,
        hints,
    } = finished;
    // A bundle is vouched for only when every path loading it reads is a
    // walked one: its directory walked as such (no link on the way), and
    // no link below it (whose target may lie anywhere).
    let mut link_dirs: Vec<&Path> = Vec::new();
    let mut group_dirs = std::collections::HashSet::new();
    let mut offset = 0;
    for group in &groups {
        let group_stats = stats.get(offset..offset + group.names.len())?;
        if group_stats.iter().any(is_symlink) {
            link_dirs.push(&group.dir);
        }
        group_dirs.insert(group.dir.as_path());
        offset += group.names.len();
    }
    let parents = resolved(bundles.iter().map(|bundle| bundle.dir.as_path()));
    let bundles: Vec<StampedBundle> = bundles
        .iter()
        .filter_map(|bundle| {
            let canonical = resolve(&parents, &bundle.dir)?;
            let vouched = group_dirs.contains(canonical.as_path()) && !link_dirs.iter().any(|dir| dir.starts_with(&canonical));
            vouched.then(|| StampedBundle {
                canonical,
                ..bundle.clone()
            })
        })
        .collect();
    drop((group_dirs, parents));
    // Each target as the check found it, updated where this build
    // patched it; walked again when it was staged or the check did not
    // vouch for it.
    for (target_idx, report) in reports.iter().enumerate() {
        let change = target_changes.get(target_idx).unwrap_or(&TargetChange::Staged);
        match hints.and_then(|hints| hints.output_groups(&out_dir, &report.name, change)) {
            Some((target_groups, target_stats)) => {
                groups.extend(target_groups);
                stats.extend(target_stats);
            }
            None => {
                let mut paths = Vec::new();
                walk(&out_dir.join(&report.name), &mut Vec::new(), &mut paths, &mut stats)?;
                groups.extend(group(&paths)?);
            }
        }
    }
    let mut slices = Vec::with_capacity(groups.len());
    let mut offset = 0;
    for group in &groups {
        slices.push(stats.get(offset..offset + group.names.len())?);
        offset += group.names.len();
    }
    let digests: Vec<String> = slices.into_par_iter().map(group_digest).collect();
    Some(BuildStamp {
        version: VERSION.to_string(),
        key: key(config, options, &out_dir, VERSION),
        targets: reports
            .iter()
            .zip(target_stamps.into_iter().chain(std::iter::repeat(None)))
            .map(|(report, target_stamp)| StampedTarget {
                name: report.name.clone(),
                n_packages: report.n_packages,
                n_bundles: report.n_bundles,
                n_excluded: report.n_excluded,
                target_stamp,
            })
            .collect(),
        groups,
        digests,
        bundles,
        racy,
    })
}

/// What the stamp of the last build into an output directory says of
/// this one.
pub(super) enum Checked {
    /// Nothing changed: that build's report.
    Fresh(BuildReport),
    /// Same settings, some paths changed.
    Stale(Box<Hints>),
    /// No stamp, or another build's.
    Unknown,
}

/// Checks the stamp of the last build into `out_dir` for `config` and
/// `options` (under the output directory's lock).
pub(super) fn check(config: &Config, options: &BuildOptions, out_dir: &Path) -> Result<Checked, super::BuildError> {
    if !eligible(config, options) {
        return Ok(Checked::Unknown);
    }
    let cache_dir = super::cache_dir(config, &options.cache, out_dir);
    let Some(text) = crate::cache::read_stamp(&cache_dir, &stamp_name(out_dir)) else {
        return Ok(Checked::Unknown);
    };
    let Some(stamp) = BuildStamp::from_text(&text) else {
        return Ok(Checked::Unknown);
    };
    drop(text);
    let Ok(canonical_out) = std::fs::canonicalize(out_dir) else {
        return Ok(Checked::Unknown);
    };
    if stamp.version != VERSION || stamp.key != key(config, options, &canonical_out, VERSION) {
        return Ok(Checked::Unknown);
    }
    let lock = crate::output::OutputLock::acquire(out_dir, &options.output)?;
    let stats: Vec<Option<(Vec<StatFields>, String)>> = stats_of(&stamp.groups)
        .into_par_iter()
        .map(|group_stats| {
            group_stats.map(|group_stats| {
                let digest = group_digest(&group_stats);
                (group_stats, digest)
            })
        })
        .collect();
    let BuildStamp {
        targets: stamped_targets,
        groups: stamped_groups,
        digests,
        bundles: stamped_bundles,
        racy: stamped_racy,
        ..
    } = stamp;
    let mut racy_by_dir: HashMap<&Path, Vec<(&std::ffi::OsStr, &Sha256Digest)>> = HashMap::new();
    for (path, digest) in &stamped_racy {
        if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
            racy_by_dir.entry(dir).or_default().push((name, digest));
        }
    }
    let mut changed = Vec::new();
    let mut groups = Vec::new();
    let mut outputs = Vec::new();
    let mut racy = HashMap::new();
    for ((group, digest), now) in stamped_groups.into_iter().zip(&digests).zip(stats) {
        let (group_stats, mut same) = match now {
            Some((group_stats, now_digest)) => {
                let same = now_digest == *digest;
                (Some(group_stats), same)
            }
            None => (None, false),
        };
        // Its racy files' stats may not tell a change: their bytes do.
        if same && let (Some(files), Some(group_stats)) = (racy_by_dir.get(group.dir.as_path()), &group_stats) {
            for (name, digest) in files {
                let position = group.names.iter().position(|known| known == name);
                let hashed = std::fs::read(group.dir.join(name)).ok().map(|bytes| Sha256Digest::of(&bytes));
                match position {
                    Some(idx) if hashed.as_ref() == Some(*digest) => {
                        racy.insert(group.dir.join(name), (group_stats[idx], **digest));
                    }
                    _ => same = false,
                }
            }
        }
        if !same {
            changed.push(group.dir.clone());
        }
        if group.dir.starts_with(&canonical_out) {
            outputs.push((group, group_stats.filter(|_| same)));
        } else {
            groups.push((group, group_stats.filter(|_| same)));
        }
    }
    if !changed.is_empty() {
        let parents = resolved(stamped_bundles.iter().map(|bundle| bundle.dir.as_path()));
        let now: HashMap<&Path, Option<PathBuf>> = stamped_bundles
            .iter()
            .map(|bundle| (bundle.dir.as_path(), resolve(&parents, &bundle.dir)))
            .collect();
        let mut bundles: HashMap<PathBuf, KnownBundle> = HashMap::new();
        for bundle in &stamped_bundles {
            let known = bundles.entry(bundle.dir.clone()).or_insert_with(|| KnownBundle {
                digests: Vec::new(),
                canonical: bundle.canonical.clone(),
                now: now.get(bundle.dir.as_path()).cloned().flatten(),
            });
            known.digests.push((bundle.set_idx, bundle.loaded));
        }
        // A target is untouched when no group at or below its directory
        // changed, nor the output directory's own (which holds its entry).
        let targets = stamped_targets
            .iter()
            .filter_map(|target| {
                let target_dir = canonical_out.join(&target.name);
                let touched = changed.iter().any(|dir| *dir == canonical_out || dir.starts_with(&target_dir));
                Some((target.name.clone(), target.target_stamp.clone().filter(|_| !touched)?))
            })
            .collect();
        return Ok(Checked::Stale(Box::new(Hints {
            groups: std::sync::Mutex::new(Some(groups)),
            changed,
            bundles,
            racy,
            targets,
            outputs,
            lock: std::sync::Mutex::new(Some(lock)),
        })));
    }
    let mut targets = Vec::new();
    for stamped in &stamped_targets {
        let target_dir = out_dir.join(&stamped.name);
        let Some(packages) = std::fs::read(target_dir.join(crate::summary::SUMMARY_FILE))
            .ok()
            .and_then(|bytes| crate::summary::from_file(&bytes))
        else {
            return Ok(Checked::Unknown);
        };
        targets.push(TargetReport {
            name: stamped.name.clone(),
            n_packages: stamped.n_packages,
            n_bundles: stamped.n_bundles,
            n_excluded: stamped.n_excluded,
            output: Some(target_dir),
            images: Vec::new(),
            changes: Some(crate::summary::changes(&packages, &packages)),
            packages,
        });
    }
    let warnings = super::stale_target_warnings(config, out_dir)?;
    Ok(Checked::Fresh(BuildReport { targets, warnings }))
}

/// Every input path the plan names, for [`take`]'s check that the walk
/// covers them.
pub(super) fn planned_inputs(config: &Config, plan: &super::plan::Plan) -> Vec<PathBuf> {
    let mut inputs: Vec<PathBuf> = vec![config.path.clone()];
    for package_plan in plan.packages.values() {
        inputs.extend(package_plan.bundle_dirs.iter().cloned());
        inputs.extend(package_plan.package_manifest_dirs.iter().cloned());
        inputs.extend(package_plan.icon.iter().map(|icon| icon.path.clone()));
    }
    inputs.extend(plan.catalog_icon.iter().map(|icon| icon.path.clone()));
    for package in &config.packages {
        inputs.extend(package.index_db.iter().map(|index_db| index_db.value.clone()));
    }
    inputs.extend(config.catalog.deploy_templates.iter().map(|dir| dir.value.clone()));
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back_and_a_damaged_one_is_refused() {
        let groups = group(&["/p", "/p/a", "/p/a/x.yaml", "/p/b.toml", "/out/v4.16"].map(PathBuf::from)).unwrap();
        let stamp = BuildStamp {
            version: "0.1.0 abc".to_string(),
            key: "k".repeat(64),
            targets: vec![
                StampedTarget {
                    name: "v4.16".to_string(),
                    n_packages: 2,
                    n_bundles: 9,
                    n_excluded: 1,
                    target_stamp: Some("e".repeat(64)),
                },
                StampedTarget {
                    name: "v4.17".to_string(),
                    n_packages: 0,
                    n_bundles: 0,
                    n_excluded: 0,
                    target_stamp: None,
                },
            ],
            digests: groups.iter().map(|_| "d".repeat(32)).collect(),
            groups,
            bundles: vec![StampedBundle {
                set_idx: 1,
                dir: PathBuf::from("/p/a b"),
                canonical: PathBuf::from("/q/a b"),
                loaded: Sha256Digest([7; 32]),
            }],
            racy: vec![(PathBuf::from("/p/a/x.yaml"), Sha256Digest([9; 32]))],
        };
        let text = stamp.to_text().unwrap();
        assert_eq!(BuildStamp::from_text(&text).unwrap(), stamp);
        assert!(BuildStamp::from_text(&text.replace(HEADER, "catbuild build stamp 1")).is_none());
        assert!(BuildStamp::from_text(&format!("{text}x y\n")).is_none());
        assert!(BuildStamp::from_text(&text.replace(" sha256:", " sha1:")).is_none());
        let odd = BuildStamp {
            digests: vec!["d".repeat(32)],
            groups: group(&[PathBuf::from("/p/a\nb")]).unwrap(),
            ..stamp
        };
        assert!(odd.to_text().is_none(), "a newline in a path is not stamped");
    }

    /// A target's groups and stats as a walk finds them.
    fn walked(target: &Path) -> Vec<(Group, Vec<StatFields>)> {
        let (mut paths, mut stats) = (Vec::new(), Vec::new());
        walk(target, &mut Vec::new(), &mut paths, &mut stats).unwrap();
        let mut offset = 0;
        group(&paths)
            .unwrap()
            .into_iter()
            .map(|group| {
                let group_stats = stats[offset..offset + group.names.len()].to_vec();
                offset += group.names.len();
                (group, group_stats)
            })
            .collect()
    }

    #[test]
    fn a_patched_target_s_groups_are_those_a_walk_finds() {
        let out = tempfile::tempdir().unwrap();
        let target = std::fs::canonicalize(out.path()).unwrap().join("default");
        for dir in ["catalog/a", "catalog/b", "oci/blobs/sha256"] {
            std::fs::create_dir_all(target.join(dir)).unwrap();
        }
        for file in [
            "catalog/a/catalog.json",
            "catalog/b/catalog.json",
            "oci/index.json",
            "oci/blobs/sha256/11",
            "oci/blobs/sha256/33",
            "summary.json",
        ] {
            std::fs::write(target.join(file), file).unwrap();
        }
        let before = walked(&target);
        // Past the filesystem's timestamp tick, as a later build is.
        std::thread::sleep(Duration::from_millis(20));
        let staging = out.path().join(".staging");
        std::fs::create_dir(&staging).unwrap();
        let renamed = [
            "oci/blobs/sha256/22",
            "oci/blobs/sha256/44",
            "catalog/b/catalog.json",
            "oci/index.json",
            "summary.json",
        ]
        .map(PathBuf::from);
        for (idx, path) in renamed.iter().enumerate() {
            let staged = staging.join(idx.to_string());
            std::fs::write(&staged, "new").unwrap();
            std::fs::rename(&staged, target.join(path)).unwrap();
        }
        let removed = [PathBuf::from("oci/blobs/sha256/11")];
        std::fs::remove_file(target.join(&removed[0])).unwrap();
        let mut patched = before.clone();
        patch_groups(&mut patched, &target, &renamed, &removed).unwrap();
        assert_eq!(patched, walked(&target));
        assert_ne!(patched, before);
        // A patch into a directory the groups do not hold: walk instead.
        let mut patched = before.clone();
        assert!(patch_groups(&mut patched, &target, &[PathBuf::from("elsewhere/x")], &[]).is_none());
    }

    /// The digests of `groups` as a check takes them.
    fn digests_now(groups: &[Group]) -> Vec<Option<String>> {
        stats_of(groups)
            .into_iter()
            .map(|stats| stats.map(|stats| group_digest(&stats)))
            .collect()
    }

    #[test]
    fn stats_taken_through_an_ancestor_are_the_walks_at_any_depth() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("p");
        for deep in ["a/b/c/d/e/f", "a/b2", "g/h"] {
            std::fs::create_dir_all(root.join(deep)).unwrap();
            std::fs::write(root.join(deep).join("x.yaml"), deep).unwrap();
        }
        std::os::unix::fs::symlink("a/b", root.join("link")).unwrap();
        // A group of many names.
        std::fs::create_dir_all(root.join("many")).unwrap();
        for idx in 0..1200 {
            std::fs::write(root.join("many").join(idx.to_string()), idx.to_string()).unwrap();
        }
        std::fs::create_dir_all(root.join("z/empty")).unwrap();
        let mut paths = Vec::new();
        let mut walked_stats = Vec::new();
        walk(&root, &mut Vec::new(), &mut paths, &mut walked_stats).unwrap();
        let groups = group(&paths).unwrap();
        assert!(groups.len() > 8, "{groups:?}");
        let stats = stats_of(&groups);
        assert_eq!(stats.iter().flatten().flatten().copied().collect::<Vec<_>>(), walked_stats);
        // Directories gone: their groups and their parents' (which list
        // them) are unstatable, a grandparent's changed (the parent's
        // mtime), the others are as they were.
        std::fs::remove_dir_all(root.join("a/b/c/d")).unwrap();
        std::fs::remove_dir(root.join("z/empty")).unwrap();
        std::fs::remove_file(root.join("many").join("600")).unwrap();
        let after = stats_of(&groups);
        for (group, (before, now)) in groups.iter().zip(stats.iter().zip(&after)) {
            let gone = group.dir.starts_with(root.join("a/b/c")) || group.dir.starts_with(root.join("z")) || group.dir.ends_with("many");
            assert_eq!(now.is_none(), gone, "{}", group.dir.display());
            if group.dir == root.join("a/b") || group.dir == root {
                assert_ne!(now, before);
            } else if !gone {
                assert_eq!(now, before, "{}", group.dir.display());
            }
        }
    }

    #[test]
    fn any_change_to_a_listed_path_changes_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("p");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("a/x.yaml"), "one").unwrap();
        let mut paths = Vec::new();
        let mut walked_stats = Vec::new();
        walk(&root, &mut Vec::new(), &mut paths, &mut walked_stats).unwrap();
        assert_eq!(paths, vec![root.clone(), root.join("a"), root.join("a/x.yaml")]);
        let groups = group(&paths).unwrap();
        assert_eq!(groups.len(), 3, "{groups:?}");
        // The walk's stats are the ones a check takes.
        assert_eq!(stats_of(&groups).into_iter().flatten().flatten().collect::<Vec<_>>(), walked_stats);
        let before = digests_now(&groups);
        assert!(before.iter().all(Option::is_some));
        assert_eq!(before, digests_now(&groups), "stable");
        // Same size, same mtime put back: the ctime still moves, in the
        // group of the file's directory only.
        let mtime = std::fs::metadata(root.join("a/x.yaml")).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(root.join("a/x.yaml"), "two").unwrap();
        std::fs::File::options()
            .append(true)
            .open(root.join("a/x.yaml"))
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let after = digests_now(&groups);
        assert_eq!(
            (after[0] == before[0], after[1] == before[1], after[2] == before[2]),
            (true, true, false)
        );
        // A file added: its directory's own entry (in its parent's group).
        std::fs::write(root.join("a/y.yaml"), "new").unwrap();
        let added = digests_now(&groups);
        assert_ne!(added[1], after[1]);
        std::fs::remove_dir_all(root.join("a")).unwrap();
        assert_eq!(digests_now(&groups)[2], None, "a directory gone cannot be read");
    }

    #[test]
    fn the_walk_leaves_out_git_skipped_and_other_output_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("p");
        for (path, text) in [
            ("a/x.yaml", "x"),
            (".git/HEAD", "ref"),
            ("skipped/y.yaml", "y"),
            ("other-out/v4.16/catalog.json", "{}"),
            (&format!("other-out/{}", crate::output::LOCK_FILE_NAME), ""),
            ("z.toml", "z"),
        ] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let mut skip = vec![root.join("skipped")];
        let (mut paths, mut stats) = (Vec::new(), Vec::new());
        walk(&root, &mut skip, &mut paths, &mut stats).unwrap();
        assert_eq!(paths, [root.clone(), root.join("a"), root.join("z.toml"), root.join("a/x.yaml")]);
        assert_eq!(stats.len(), paths.len());
        assert_eq!(skip, [root.join("skipped"), root.join("other-out")]);
    }

    #[test]
    fn the_walk_gives_the_same_listing_for_any_number_of_threads() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("p");
        for path in ["b/2/m.yaml", "b/1/m.yaml", "a/x.yaml", "c/deep/er/f", "top"] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let out = root.join("b/2/out");
        std::fs::create_dir_all(out.join("v1")).unwrap();
        std::fs::write(out.join(crate::output::LOCK_FILE_NAME), "").unwrap();
        let walked = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let (mut skip, mut paths, mut stats) = (Vec::new(), Vec::new(), Vec::new());
                walk(&root, &mut skip, &mut paths, &mut stats).unwrap();
                (skip, paths, stats)
            })
        };
        let (skip, paths, stats) = walked(1);
        let relative: Vec<String> = paths
            .iter()
            .map(|path| path.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        // A directory's entries, then each subdirectory's, in name order.
        assert_eq!(
            relative,
            [
                "",
                "a",
                "b",
                "c",
                "top",
                "a/x.yaml",
                "b/1",
                "b/2",
                "b/1/m.yaml",
                "b/2/m.yaml",
                "c/deep",
                "c/deep/er",
                "c/deep/er/f"
            ]
        );
        assert_eq!(skip, [out]);
        assert_eq!(
            stats_of(&group(&paths).unwrap())
                .into_iter()
                .flatten()
                .flatten()
                .collect::<Vec<_>>(),
            stats
        );
        for threads in [2, 4] {
            assert_eq!(walked(threads), (skip.clone(), paths.clone(), stats.clone()), "{threads} threads");
        }
    }

    #[test]
    fn the_key_changes_with_the_version_and_each_option() {
        let text = "[catalog]\nname = \"fruits\"\n\n[[package]]\nname = \"apple\"\nbundles = [\"b/*\"]\n";
        let config = crate::config::parse(text, Path::new("/project/catalog.toml")).unwrap();
        let options = BuildOptions::default();
        let out = Path::new("/out");
        let base = key(&config, &options, out, "1");
        assert_eq!(base, key(&config, &options, out, "1"), "the key is stable");
        assert_ne!(base, key(&config, &options, out, "2"));
        assert_ne!(base, key(&config, &options, Path::new("/other"), "1"));
        let epoch = BuildOptions {
            source_date_epoch: 1,
            ..BuildOptions::default()
        };
        assert_ne!(base, key(&config, &epoch, out, "1"));
    }
}
