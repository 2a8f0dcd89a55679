//! The action cache in front of loading and encoding: what each action's
//! key is made of, and why an action ran (`--explain`). The store itself
//! is `crate::cache`.
//!
//! Two actions are cached (constructive traces with early cutoff, STYLE
//! 5.1 and 5.4):
//!
//! * `load-bundle` (one bundle directory under one set of template
//!   variables): key = the digest of every file the loader would read
//!   (names and sha256, through the stat memo, so an unchanged file is not
//!   read), the directories present, the variables, the image epoch when
//!   images are built, and catbuild's version; value = the digest of what
//!   loading gave ([`loaded_digest`]: the `olm.bundle` blob and every field
//!   linking reads; with images, [`loaded_with_image_digest`] adds the
//!   bundle image, which a comment changes). Only bundles that load
//!   without a diagnostic are remembered.
//! * `encode-package` (one package in one target): key = the loaded
//!   digests of its bundles in plan order, the package's icon, the
//!   `catalog.toml` bytes (every setting is there; coarse, but a setting
//!   can never be missed), the target's name and formats, and catbuild's
//!   version; value = the package's staged files (with images, its bundle
//!   images' blobs too, as `oci/blobs/…` files, and their tags and
//!   manifest descriptors as a fact). So an edit that leaves a bundle's
//!   loaded digest as it was (whitespace, a comment) re-runs that bundle's
//!   load and nothing after it.
//!
//! * `catalog-layer` (one layer of a File-Based Catalog image, when
//!   building images): key = the layer format ([`LAYER_SCHEMA`]), the
//!   image epoch (every entry's mtime) and, for each file of the layer in
//!   path order, its path under `/configs` and the sha256 of its bytes
//!   (known from encoding or from the package's entry: no file is read to
//!   make the key); value = the gzip blob, its `diff_id` and size. So a
//!   one-package edit tars and gzips the one layer that holds it, and the
//!   others are named by digest and linked from the published layout.
//! * a run of a catalog layer (each package's entries, deflated on their
//!   own: `image::layer`): key = the layer format, the epoch and the run's
//!   paths and file digests; value = where its deflated bytes sit in the
//!   last layer blob that held them, their CRC-32, and the CRC-32 and
//!   length of the tar they hold. So the layer an edit rebuilds deflates
//!   the edited package alone.
//!
//! A package is served from the cache only when every target that has it
//! hits; then none of its bundles is read or parsed. Otherwise it is
//! loaded and linked whole, as without a cache (linking needs every
//! bundle), and its entries are written afterwards. Not cached (`off`):
//! targets that write SQLite or deployment objects (they need more of each
//! package than its files), builds that push (pushing needs every image in
//! memory), `index-db` and package-manifest packages, and any package with a diagnostic (warnings included), so
//! every diagnostic is printed by every build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cache::{Cache, Key, KeyBuilder, KeyHasher};
use crate::config::{Config, OutputFormat, PackageConfig, Target};
use crate::image::layer::{Deflated, RunEntry, RunSpan};
use crate::load::{LoadedBundle, Sha256Digest};

use super::plan::PackagePlan;
use super::report::Cached;

const LOAD_SCHEMA: u32 = 1;
const ENCODE_SCHEMA: u32 = 1;
/// The format of a catalog layer: tar entry rules, gzip settings and
/// bucketing (`image::catalog`), the deflate pieces (`image::layer`).
/// A change there must change this.
const LAYER_SCHEMA: u32 = 3;

/// catbuild's version and commit: every key has it.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " ", env!("CATBUILD_GIT_COMMIT"));

/// Where the cache is and whether to use it: `--no-cache`, `--cache-dir`.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub enabled: bool,
    /// Instead of `[catalog] cache-dir` (or `<output>/.cache`).
    pub dir: Option<PathBuf>,
    pub max_bytes: u64,
    /// The shared cache: `--cache-from` (read) and `--cache-to` (written).
    pub from: Vec<String>,
    pub to: Option<String>,
}

impl Default for CacheSettings {
    fn default() -> CacheSettings {
        CacheSettings {
            enabled: true,
            dir: None,
            max_bytes: crate::cache::DEFAULT_MAX_BYTES,
            from: Vec::new(),
            to: None,
        }
    }
}

/// The cache directory of a build writing to `out_dir`.
pub fn cache_dir(config: &Config, settings: &CacheSettings, out_dir: &Path) -> PathBuf {
    settings
        .dir
        .clone()
        .or_else(|| config.catalog.cache_dir.clone())
        .unwrap_or_else(|| out_dir.join(".cache"))
}

/// The run's cache and what every key shares.
pub(super) struct RunCache {
    pub(super) cache: Cache,
    /// sha256 of `catalog.toml`.
    config_digest: String,
    /// `[limits] file-size`: a larger file is left to the loader to refuse.
    file_limit: u64,
    root: PathBuf,
}

impl RunCache {
    /// A cache in `dir` for unit tests, with no project around it.
    #[cfg(test)]
    pub(super) fn at(dir: &Path) -> RunCache {
        RunCache {
            cache: Cache::open(dir, crate::cache::DEFAULT_MAX_BYTES),
            config_digest: String::new(),
            file_limit: u64::MAX,
            root: dir.to_path_buf(),
        }
    }

    pub(super) fn open(config: &Config, settings: &CacheSettings, out_dir: &Path) -> Option<RunCache> {
        if !settings.enabled {
            return None;
        }
        let config_bytes = std::fs::read(&config.path).ok()?;
        let mut cache = Cache::open(&cache_dir(config, settings, out_dir), settings.max_bytes);
        if !settings.from.is_empty() || settings.to.is_some() {
            cache = cache.with_remote(crate::cache::remote::Remote::open(&crate::cache::remote::RemoteSettings {
                from: settings.from.clone(),
                to: settings.to.clone(),
                client: crate::registry::ClientSettings {
                    insecure: config.images.insecure,
                    ca_file: config.images.ca_file.clone(),
                    timeout: config.images.timeout,
                },
            }));
        }
        Some(RunCache {
            cache,
            config_digest: Sha256Digest::of(&config_bytes).to_string(),
            file_limit: config.limits.file_bytes,
            root: config.root.clone(),
        })
    }

    /// The key of loading the bundle in `dir` with `vars`, without reading
    /// a file whose stat the memo knows; `None` when the directory cannot
    /// be looked at (loading it says why).
    /// With `image_epoch`, the action builds the bundle's image too. Also
    /// returns what it listed and the files it had to read (their stat
    /// unknown to the memo), so that loading the bundle after a miss
    /// neither lists nor reads and hashes them again.
    pub(super) fn bundle_key(
        &self,
        dir: &Path,
        vars: &BTreeMap<String, String>,
        image_epoch: Option<u64>,
    ) -> Option<(KeyBuilder, crate::load::PreRead)> {
        let mut pre_read = crate::load::PreRead::default();
        let mut builder = KeyBuilder::new("load-bundle", LOAD_SCHEMA, VERSION);
        builder.field("dir", self.relative(dir));
        if let Some(epoch) = image_epoch {
            builder.field("image epoch", epoch.to_string());
        }
        for (name, value) in vars {
            builder.field(format!("var {name}"), value.clone());
        }
        let mut manifests_present = false;
        for directory in [crate::load::MANIFESTS_DIR, crate::load::METADATA_DIR] {
            let path = dir.join(directory);
            match std::fs::metadata(&path) {
                Ok(metadata) if metadata.is_dir() => manifests_present |= directory == crate::load::MANIFESTS_DIR,
                Ok(_) => return None,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    builder.field(format!("absent {directory}"), "");
                    continue;
                }
                Err(_) => return None,
            }
            let mut entries: Vec<(String, PathBuf, std::fs::Metadata)> = Vec::new();
            for entry in std::fs::read_dir(&path).ok()? {
                let entry = entry.ok()?;
                // Stated through the directory (no path walked again).
                let metadata = entry.metadata().ok()?;
                entries.push((entry.file_name().into_string().ok()?, entry.path(), metadata));
            }
            entries.sort_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));
            let mut listed = Vec::with_capacity(entries.len());
            for (name, entry_path, link_metadata) in entries {
                if directory == crate::load::MANIFESTS_DIR && name.starts_with('.') {
                    continue;
                }
                // A link is followed, as the loader reads what it points to.
                let is_symlink = link_metadata.file_type().is_symlink();
                let metadata = if is_symlink {
                    std::fs::metadata(&entry_path).ok()?
                } else {
                    link_metadata
                };
                listed.push(crate::load::Listed {
                    name: name.clone(),
                    is_symlink,
                    is_dir: metadata.is_dir(),
                });
                if metadata.is_dir() {
                    continue;
                }
                if !metadata.is_file() {
                    return None;
                }
                let (digest, bytes) = self.cache.file_digest(&entry_path, &metadata, self.file_limit).ok()?;
                builder.field(format!("input {}/{directory}/{name}", self.relative(dir)), digest.to_string());
                if let Some(bytes) = bytes {
                    pre_read.files.insert(entry_path, (bytes, digest));
                }
            }
            pre_read.listings.insert(directory, listed);
        }
        // The loader looks for nested bundles when `manifests/` is missing
        // (and only then: a no-op build stats nothing it does not read).
        if !manifests_present {
            for nested in crate::load::NESTED_BUNDLE_DIRS {
                if dir.join(nested).join(crate::load::MANIFESTS_DIR).is_dir() {
                    builder.field(format!("nested {nested}"), "");
                }
            }
        }
        Some((builder, pre_read))
    }

    /// The key of encoding `package` in `target` from its bundles' loaded
    /// digests (in plan order).
    pub(super) fn encode_key(
        &self,
        package: &PackageConfig,
        package_plan: &PackagePlan,
        target: &Target,
        (formats, image_epoch): (&[OutputFormat], Option<u64>),
        loaded: &[(PathBuf, Sha256Digest)],
    ) -> KeyBuilder {
        let mut builder = KeyBuilder::new("encode-package", ENCODE_SCHEMA, VERSION);
        builder.field("catalog.toml", self.config_digest.clone());
        builder.field("target", target.name.clone());
        builder.field("formats", format!("{formats:?}"));
        // The entry holds the bundle images' blobs too.
        if let Some(epoch) = image_epoch {
            builder.field("image epoch", epoch.to_string());
        }
        builder.field("package", package.name.value.clone());
        if let Some(icon) = &package_plan.icon {
            builder.field(format!("icon {}", self.relative(&icon.path)), icon.digest.to_string());
        }
        for (dir, digest) in loaded {
            builder.field(format!("bundle {}", self.relative(dir)), digest.to_string());
        }
        builder
    }

    /// The key of the catalog layer holding `files` (`(path under
    /// /configs, sha256)`, in path order) with every entry's mtime `epoch`.
    pub(super) fn layer_key<'a>(&self, epoch: u64, files: impl IntoIterator<Item = (&'a str, &'a Sha256Digest)>) -> Key {
        let mut builder = KeyBuilder::new("catalog-layer", LAYER_SCHEMA, VERSION);
        builder.field("mtime", epoch.to_string());
        for (path, digest) in files {
            builder.field(format!("file {path}"), digest.hex());
        }
        builder.key()
    }

    /// The catalog layer stored under `key`: known by its blob's digest,
    /// `diff_id` and size, its bytes left in the cache.
    pub(super) fn catalog_layer(&self, key: &Key) -> Option<(Sha256Digest, crate::image::Layer)> {
        let entry = self.cache.get(key)?;
        let [(_, digest)] = entry.files.as_slice() else {
            return None;
        };
        let diff_id = entry.facts.get(LAYER_DIFF_ID_FACT)?.clone();
        let size = entry.facts.get(LAYER_SIZE_FACT)?.parse().ok()?;
        Some((*digest, crate::image::Layer::stored(digest.to_string(), diff_id, size)))
    }

    /// Keeps a catalog layer just built under `key`: its bytes, or, for
    /// a layer written into the cache as it was built, its blob already
    /// there; best effort.
    pub(super) fn put_catalog_layer(&self, key: &Key, layer: &crate::image::Layer) {
        let facts = BTreeMap::from([
            (LAYER_DIFF_ID_FACT.to_string(), layer.diff_id.clone()),
            (LAYER_SIZE_FACT.to_string(), layer.size.to_string()),
        ]);
        let put = match (&layer.blob, crate::cache::parse_digest(&layer.digest)) {
            (Some(blob), _) => self
                .cache
                .put(key, &[(LAYER_FILE.to_string(), blob)], facts)
                .map(|_| ())
                .map_err(|_| ()),
            (None, Some(digest)) => self
                .cache
                .put_stored(key, &[(LAYER_FILE.to_string(), digest)], facts)
                .map_err(|_| ()),
            (None, None) => Err(()),
        };
        if put.is_err() {
            self.cache.note_failure();
        }
    }

    /// The key of a run of a catalog layer (`image::layer::Run`): the
    /// layer format, the epoch and each entry's path, and for a file the
    /// sha256 of its bytes; `None` when a file's digest is not known.
    pub(super) fn run_key(&self, epoch: u64, entries: &[RunEntry], digest_of: impl Fn(&str) -> Option<Sha256Digest>) -> Option<Key> {
        let mut hasher = KeyHasher::new("catalog-layer-run", LAYER_SCHEMA, VERSION);
        hasher.field("mtime", &epoch.to_string());
        for entry in entries {
            if entry.dir {
                hasher.field("dir", &entry.path);
            } else {
                hasher.field(&format!("file {}", entry.path), &digest_of(&entry.path)?.hex());
            }
        }
        Some(hasher.finish())
    }

    /// The deflated bytes of the run stored under `key`: a span of an
    /// earlier layer's blob, checked against the CRC-32 its entry gives.
    pub(super) fn deflated_run(&self, key: &Key) -> Option<Deflated> {
        let entry = self.cache.get(key)?;
        let [(_, blob)] = entry.files.as_slice() else {
            return None;
        };
        let fact = |name: &str| entry.facts.get(name);
        let offset = fact(RUN_OFFSET_FACT)?.parse().ok()?;
        let len = fact(RUN_LEN_FACT)?.parse().ok()?;
        let check = fact(RUN_CHECK_FACT)?.parse().ok()?;
        Some(Deflated {
            bytes: self.cache.blob_range(blob, offset, len, check)?,
            crc: fact(RUN_CRC_FACT)?.parse().ok()?,
            raw_len: fact(RUN_RAW_LEN_FACT)?.parse().ok()?,
        })
    }

    /// Keeps where each keyed run of `layer` (just stored by
    /// [`RunCache::put_catalog_layer`]) sits in its blob; best effort.
    pub(super) fn put_runs(&self, layer: &crate::image::Layer, runs: &[(Key, RunSpan)]) {
        let Some(layer_digest) = crate::cache::parse_digest(&layer.digest) else {
            return;
        };
        for (key, span) in runs {
            if span.offset + span.len > layer.size {
                continue;
            }
            let facts = BTreeMap::from([
                (RUN_OFFSET_FACT.to_string(), span.offset.to_string()),
                (RUN_LEN_FACT.to_string(), span.len.to_string()),
                (RUN_CHECK_FACT.to_string(), span.check.to_string()),
                (RUN_CRC_FACT.to_string(), span.crc.to_string()),
                (RUN_RAW_LEN_FACT.to_string(), span.raw_len.to_string()),
            ]);
            if self
                .cache
                .put_stored(key, &[(LAYER_FILE.to_string(), layer_digest)], facts)
                .is_err()
            {
                self.cache.note_failure();
            }
        }
    }

    /// Hands the shared cache's events so far to `reporter`.
    pub(super) fn report_remote(&self, reporter: &dyn super::Reporter) {
        for event in self.cache.remote_events() {
            reporter.remote_cache(&event);
        }
    }

    /// A path as keys and messages show it: relative to the project.
    pub(super) fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).to_string_lossy().into_owned()
    }

    /// Why an action whose key is `builder` missed, from the inputs it last
    /// ran with; and those inputs are now `builder`'s.
    pub(super) fn explain_and_record(&self, id: &str, builder: &KeyBuilder) -> String {
        let mut reason = match self.cache.trace(id) {
            None => "not in the cache".to_string(),
            Some(previous) => first_difference(&previous, builder.fields()),
        };
        if let Some(remote) = self.cache.remote_miss(&builder.key()) {
            reason.push_str(&format!(", {remote}"));
        }
        self.cache.set_trace(id, builder.fields());
        reason
    }
}

/// The first input that differs between two key field lists, in words.
fn first_difference(previous: &[(String, String)], current: &[(String, String)]) -> String {
    let old: BTreeMap<&str, &str> = previous.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let new: BTreeMap<&str, &str> = current.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let describe = |name: &str, what: &str| -> String {
        let (kind, subject) = name.split_once(' ').unwrap_or((name, ""));
        match kind {
            "input" | "icon" => format!("input `{subject}` {what}"),
            "bundle" => format!("bundle `{subject}` {what}"),
            "var" => format!("variable `{subject}` {what}"),
            "catbuild" => "catbuild's version changed".to_string(),
            "catalog.toml" => "`catalog.toml` changed".to_string(),
            "kind" => "the cache's format changed".to_string(),
            _ => format!("`{name}` {what}"),
        }
    };
    for (name, value) in current {
        match old.get(name.as_str()) {
            Some(before) if before == value => {}
            Some(_) => return describe(name, "changed"),
            None => return describe(name, "is new"),
        }
    }
    for (name, _) in previous {
        if !new.contains_key(name.as_str()) {
            return describe(name, "was removed");
        }
    }
    // Same inputs: the entry was evicted or removed.
    "its entry was not in the cache (evicted or removed)".to_string()
}

/// The digest of what loading a bundle gave: its `olm.bundle` blob and
/// every field that linking and encoding read (not the lines diagnostics
/// point at: a package with a diagnostic is never cached).
pub(super) fn loaded_digest(bundle: &LoadedBundle) -> Sha256Digest {
    // Hashed as the fields come: the property values are most of the
    // bundle's bytes (its manifests, base64), and nothing explains this key.
    let mut hasher = KeyHasher::new("loaded-bundle", LOAD_SCHEMA, VERSION);
    let blob = &bundle.bundle;
    hasher
        .field("schema", &blob.schema)
        .field("blob package", &blob.package)
        .field("name", &blob.name)
        .field("image", &blob.image);
    for property in &blob.properties {
        hasher.field(&format!("property {}", property.type_), &property.value);
    }
    for image in &blob.related_images {
        hasher.field(&format!("related {}", image.name), &image.image);
    }
    hasher
        .field("package", &bundle.package)
        .field("channels", &bundle.channels.join("\n"))
        .field("default channel", &format!("{:?}", bundle.default_channel))
        .field("csv name", &bundle.csv_name)
        .field("version", &bundle.version)
        .field("release", &bundle.release)
        .field("replaces", &bundle.replaces)
        .field("skips", &bundle.skips.join("\n"))
        .field("skip range", &bundle.skip_range)
        .field("csv", &crate::encoding::json::to_compact(&bundle.csv, false))
        .field("object order", &format!("{:?}", bundle.object_file_order))
        .field("channel order", &bundle.manifest_channel_order.join("\n"))
        // A warning must be printed by every build: a bundle that gains
        // one is a different bundle.
        .field("warnings", &format!("{:?}", bundle.warnings));
    hasher.finish().0
}

/// The digest of a bundle loaded with its image: what it loaded to and
/// the image (which holds the bundle's files byte for byte, so an edit
/// that leaves the loaded bundle as it was still changes it).
pub(super) fn loaded_with_image_digest(loaded: Sha256Digest, image_digest: &str) -> Sha256Digest {
    let mut builder = KeyBuilder::new("loaded-bundle-image", LOAD_SCHEMA, VERSION);
    builder.field("loaded", loaded.to_string()).field("image", image_digest);
    builder.key().0
}

/// The reason an action ran, for `Cached::Miss`.
pub(super) fn miss(reason: impl Into<String>) -> Cached {
    Cached::Miss(reason.into())
}

/// A catalog layer entry's one file and its facts.
const LAYER_FILE: &str = "layer.tar.gz";
const LAYER_DIFF_ID_FACT: &str = "diff-id";
const LAYER_SIZE_FACT: &str = "size";
const RUN_OFFSET_FACT: &str = "offset";
const RUN_LEN_FACT: &str = "length";
/// CRC-32 of the deflated bytes (`RUN_CRC_FACT` is their tar's).
const RUN_CHECK_FACT: &str = "deflated-crc32";
const RUN_CRC_FACT: &str = "crc32";
const RUN_RAW_LEN_FACT: &str = "tar-length";

/// The fact of an entry that lists the package's bundle images.
pub(super) const IMAGES_FACT: &str = "bundle-images";

/// What a cache hit for one package in one target gives back: its files
/// by digest, read only if its target has to be staged again.
pub(super) struct Restored {
    pub(super) files: Vec<(PathBuf, Sha256Digest)>,
    pub(super) n_packages: usize,
    pub(super) n_bundles: usize,
    pub(super) outline: crate::summary::PackageOutline,
    /// The `--cache-from` it came from this run, if not the local store.
    pub(super) remote: Option<String>,
    /// Its bundle images, when the build makes images (their blobs are
    /// among `files`).
    pub(super) images: Vec<super::images::TargetBundleImage>,
}

impl RunCache {
    /// The files and counts of an entry (whose blobs are there; each is
    /// checked against its digest when it is read).
    pub(super) fn restore(&self, entry: &crate::cache::Entry) -> Option<Restored> {
        Some(Restored {
            files: entry.files.iter().map(|(path, digest)| (PathBuf::from(path), *digest)).collect(),
            n_packages: entry.facts.get("packages")?.parse().ok()?,
            n_bundles: entry.facts.get("bundles")?.parse().ok()?,
            outline: serde_json::from_str(entry.facts.get("outline")?).ok()?,
            remote: None,
            images: match entry.facts.get(IMAGES_FACT) {
                Some(text) => super::images::images_from_fact(text)?,
                None => Vec::new(),
            },
        })
    }
}

/// Every file of one target by digest (hex), and those of them that come
/// from the cache and are not staged yet.
#[derive(Default)]
pub(super) struct TargetFiles {
    pub(super) manifest: BTreeMap<PathBuf, String>,
    pub(super) deferred: Vec<(PathBuf, Sha256Digest)>,
    /// Files staged already: a blob that two packages' bundle images
    /// share is staged once.
    staged: std::collections::BTreeSet<PathBuf>,
}

impl TargetFiles {
    pub(super) fn add(&mut self, staged: Vec<(PathBuf, Sha256Digest)>, deferred: Vec<(PathBuf, Sha256Digest)>) {
        for (path, digest) in staged.iter().chain(&deferred) {
            self.manifest.insert(path.clone(), crate::cache::hex(digest));
        }
        self.staged.extend(staged.into_iter().map(|(path, _)| path));
        self.deferred.extend(deferred);
    }

    /// The files from the cache still to stage, each once.
    pub(super) fn take_deferred(&mut self) -> Vec<(PathBuf, Sha256Digest)> {
        let mut seen = std::collections::BTreeSet::new();
        let staged = &self.staged;
        std::mem::take(&mut self.deferred)
            .into_iter()
            .filter(|(path, _)| !staged.contains(path) && seen.insert(path.clone()))
            .collect()
    }
}

/// How a target was published, for its stamp.
pub(super) enum Published {
    /// Left in place: its stamp (whose text has this digest) stands.
    Kept { stamp_digest: String },
    /// A few files renamed into it (then `removed` removed) over a tree
    /// its stamp matched.
    Patched {
        stamp: crate::output::TargetStamp,
        renamed: Vec<PathBuf>,
        removed: Vec<PathBuf>,
    },
    /// Staged whole and swapped in.
    Staged,
}

impl Published {
    /// What the build stamp needs to know of it.
    pub(super) fn change(&self) -> super::fresh::TargetChange<'_> {
        match self {
            Published::Kept { .. } => super::fresh::TargetChange::Kept,
            Published::Patched { renamed, removed, .. } => super::fresh::TargetChange::Patched { renamed, removed },
            Published::Staged => super::fresh::TargetChange::Staged,
        }
    }
}

impl RunCache {
    /// The name a target's stamp is kept under: its absolute path.
    fn stamp_name(out_dir: &Path, target: &str) -> String {
        let dir = out_dir.join(target);
        std::path::absolute(&dir).unwrap_or(dir).to_string_lossy().into_owned()
    }

    /// Completes a target's staging, given the files it gets on top of its
    /// packages' (`extra`): when the target on disk is exactly as its stamp
    /// says and holds these very files, it is left in place (`Kept`) and
    /// nothing is read or written; when only a few files differ they are
    /// renamed into it (`Patched`); otherwise `extra` is written and the
    /// cache's files not staged yet are linked from the published tree
    /// where it has them, else written from their blobs.
    pub(super) fn publish_target(
        &self,
        publication: &mut crate::output::Publication,
        (out_dir, target_idx, name): (&Path, usize, &str),
        files: &mut TargetFiles,
        extra: &[(PathBuf, Vec<u8>)],
        vouched: Option<&str>,
    ) -> Result<Published, crate::output::OutputError> {
        for (path, bytes) in extra {
            files.manifest.insert(path.clone(), crate::cache::hex(&Sha256Digest::of(bytes)));
        }
        let target_dir = out_dir.join(name);
        // `vouched`: the build stamp's check found the target as the last
        // build left it, with a stamp of this digest; otherwise every file
        // is stated against the stamp.
        let stamp_text = self.cache.stamp(&Self::stamp_name(out_dir, name)).unwrap_or_default();
        let stamp_digest = super::fresh::target_stamp_digest(&stamp_text);
        let mut current = crate::output::TargetStamp::from_text(&stamp_text)
            .filter(|stamp| vouched == Some(stamp_digest.as_str()) || stamp.matches(&target_dir));
        drop(stamp_text);
        if current.as_ref().is_some_and(|stamp| stamp.same_files(&files.manifest)) {
            publication.keep(target_idx);
            return Ok(Published::Kept { stamp_digest });
        }
        // A few files differ (a one-bundle edit): they alone are renamed
        // into the published tree.
        let patch = current
            .as_ref()
            .and_then(|stamp| patch_plan(&stamp.differences(&files.manifest), &target_dir));
        if let Some((renamed, removed)) = patch
            && let Some(stamp) = current.take()
        {
            let from_extra: Vec<(PathBuf, Vec<u8>)> = extra.iter().filter(|(path, _)| renamed.contains(path)).cloned().collect();
            publication.write(target_idx, &from_extra)?;
            let from_blobs = files.deferred.iter().filter(|(path, _)| renamed.contains(path)).cloned().collect();
            self.write_deferred(publication, target_idx, from_blobs)?;
            files.deferred.clear();
            publication.patch(target_idx, &renamed, &removed);
            return Ok(Published::Patched { stamp, renamed, removed });
        }
        publication.write(target_idx, extra)?;
        let deferred = files.take_deferred();
        let (linked, from_blobs): (Vec<_>, Vec<_>) = deferred.into_iter().partition(|(path, digest)| {
            current
                .as_ref()
                .and_then(|stamp| stamp.digest(path))
                .is_some_and(|known| known == crate::cache::hex(digest))
        });
        let linked: Vec<PathBuf> = linked.into_iter().map(|(path, _)| path).collect();
        publication.link_published(target_idx, &linked)?;
        self.write_deferred(publication, target_idx, from_blobs)?;
        Ok(Published::Staged)
    }

    /// Stages files the cache holds from their blobs, each checked
    /// against its digest and linked (published files are never changed
    /// in place, and a cache blob changed through its output is caught
    /// by the next lookup: see `Cache::get`).
    pub(super) fn write_deferred(
        &self,
        publication: &crate::output::Publication,
        target_idx: usize,
        from_blobs: Vec<(PathBuf, Sha256Digest)>,
    ) -> Result<(), crate::output::OutputError> {
        use rayon::prelude::*;
        from_blobs.into_par_iter().try_for_each(|(path, digest)| {
            let Some(source) = self.cache.checked_blob_path(&digest) else {
                return Err(crate::output::OutputError::Io {
                    action: "read from the cache",
                    path: self.cache.blob_path(&digest),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "the blob is missing or damaged (removed now: the next build encodes its package again)",
                    ),
                });
            };
            publication.link_in(target_idx, &source, &path)
        })
    }

    /// Stamps a target just published, so the next build can leave it in
    /// place: a patched one from its old stamp and the files renamed, a
    /// staged one by stating every file. Best effort: without a stamp the
    /// next build stages it.
    /// Returns the digest of the stamp the target has now, if any.
    pub(super) fn stamp_target(&self, out_dir: &Path, name: &str, files: &TargetFiles, published: &Published) -> Option<String> {
        let target_dir = out_dir.join(name);
        let stamp = match published {
            Published::Kept { stamp_digest } => return Some(stamp_digest.clone()),
            Published::Patched { stamp, renamed, removed } => stamp.patched(&target_dir, &files.manifest, (renamed, removed)),
            Published::Staged => crate::output::TargetStamp::take(&target_dir, &files.manifest),
        };
        let saved = stamp.map_err(|_| ()).and_then(|stamp| {
            let text = stamp.to_text();
            self.cache.set_stamp(&Self::stamp_name(out_dir, name), &text).map_err(|_| ())?;
            Ok(super::fresh::target_stamp_digest(&text))
        });
        if saved.is_err() {
            self.cache.note_failure();
        }
        saved.ok()
    }
}

/// Whether a target that differs from its published tree as `differences`
/// says can be published by renames, and which: (files to rename in
/// order, files to remove after). So that every reader sees a whole
/// target at every moment, it can when at most one file outside the OCI
/// layout changes (one package's catalog file, replaced by one rename)
/// and the layout only gains and loses blobs (content-addressed names
/// nothing points at yet, or any more) and rewrites its `index.json`,
/// renamed after the blobs it names and before the old ones go. Anything
/// else (a package added or removed, two catalog files) is staged whole
/// and swapped.
fn patch_plan(differences: &crate::output::Differences, target_dir: &Path) -> Option<(Vec<PathBuf>, Vec<PathBuf>)> {
    let blobs = Path::new(crate::pipeline::images::OCI_DIR).join("blobs");
    let index = Path::new(crate::pipeline::images::OCI_DIR).join("index.json");
    let is_blob = |path: &Path| path.starts_with(&blobs);
    let (index_changed, others): (Vec<&Path>, Vec<&Path>) = differences.changed.iter().partition(|path| **path == index);
    let parent_exists = |path: &Path| path.parent().is_some_and(|parent| target_dir.join(parent).is_dir());
    let patchable = others.len() <= 1
        && others.iter().all(|path| !path.starts_with(crate::pipeline::images::OCI_DIR))
        && differences.added.iter().all(|path| is_blob(path) && parent_exists(path))
        && differences.removed.iter().all(|path| is_blob(path))
        && (!differences.added.is_empty() || !differences.changed.is_empty());
    if !patchable {
        return None;
    }
    let renamed = differences
        .added
        .iter()
        .chain(&others)
        .chain(&index_changed)
        .map(|path| path.to_path_buf())
        .collect();
    let removed = differences.removed.iter().map(|path| path.to_path_buf()).collect();
    Some((renamed, removed))
}

/// What the cache says of one package before anything is loaded.
pub(super) enum Probe {
    /// No cache for this package: load, link and encode as usual.
    Off,
    /// Every target's files, from the cache; the bundles whose loaded
    /// digest came from a `--cache-from` (which one).
    Hit(Vec<(usize, Restored)>, BTreeMap<PathBuf, String>),
    /// Something must run. Bundles whose digest was unknown are loaded
    /// already (per variable set); per target, the key to store its
    /// encoding under (when it can be keyed) and why it runs.
    Miss {
        preloaded: BTreeMap<usize, BTreeMap<PathBuf, super::load::LoadResult>>,
        encode: BTreeMap<usize, (Option<Key>, Cached)>,
        load_reason: String,
    },
}

impl super::PackageRun<'_> {
    /// Whether the cache keeps the package's encoding in a target: only
    /// FBC files (with its bundle images' blobs, when building images)
    /// that need nothing else of the package.
    fn cacheable(&self, package: &PackageConfig, target_idx: usize) -> bool {
        let formats = &self.formats[target_idx];
        package.index_db.is_none()
            && package.package_manifests.is_empty()
            && self.targets[target_idx].deploy.is_none()
            && !formats.is_empty()
            && formats
                .iter()
                .all(|format| matches!(format, OutputFormat::FbcJson | OutputFormat::FbcYaml))
    }

    /// Asks the cache about `package` in the targets `users`: loads only
    /// the bundles whose loaded digest it does not know, then looks up each
    /// target's encoding by the digests.
    pub(super) fn probe(
        &self,
        package: &PackageConfig,
        package_plan: &PackagePlan,
        users: &[usize],
        var_sets: &[&BTreeMap<String, String>],
    ) -> Probe {
        use rayon::prelude::*;
        let Some(run_cache) = self.cache else {
            return Probe::Off;
        };
        if users.is_empty() || !users.iter().all(|idx| self.cacheable(package, *idx)) {
            return Probe::Off;
        }
        let name = package.name.value.as_str();
        let mut preloaded = BTreeMap::new();
        let mut loaded: Vec<Option<Vec<(PathBuf, Sha256Digest)>>> = Vec::new();
        let mut unkeyed: Option<String> = None;
        let mut load_origins = BTreeMap::new();
        let boundary = self.config.boundary();
        for (set_idx, vars) in var_sets.iter().enumerate() {
            type Probed = (PathBuf, Option<Sha256Digest>, Option<super::load::LoadResult>, Option<String>);
            let probed: Vec<Probed> = package_plan
                .bundle_dirs
                .par_iter()
                .map(|dir| {
                    // Nothing it reads changed since the last build's stamp:
                    // not even listed.
                    if let Some(known) = self.hints.and_then(|hints| hints.loaded(dir, set_idx)) {
                        return (dir.clone(), Some(known), None, None);
                    }
                    let (builder, pre_read) = match run_cache.bundle_key(dir, vars, self.image_epoch) {
                        Some((builder, pre_read)) => (Some(builder), pre_read),
                        None => (None, crate::load::PreRead::default()),
                    };
                    if let Some(builder) = &builder {
                        let key = builder.key();
                        if let Some(known) = run_cache.cache.loaded(&key) {
                            let origin = run_cache.cache.remote_origin(&key).map(str::to_string);
                            return (dir.clone(), Some(known), None, origin);
                        }
                    }
                    // Loaded now: its digest decides whether anything
                    // after it runs (early cutoff).
                    let reason = match &builder {
                        Some(builder) => {
                            run_cache.explain_and_record(&format!("load-bundle {} {vars:?}", run_cache.relative(dir)), builder)
                        }
                        None => "its directory cannot be looked at".to_string(),
                    };
                    let result = super::load::load_one(
                        (self.config, &boundary),
                        name,
                        dir,
                        vars,
                        self.image_epoch,
                        (&miss(reason), self.reporter),
                        pre_read,
                    );
                    let digest = match (&builder, &result) {
                        (Some(builder), Ok((bundle, image))) => {
                            let digest = match image {
                                None => Some(loaded_digest(bundle)),
                                Some(Ok(image)) => Some(loaded_with_image_digest(loaded_digest(bundle), image.digest())),
                                // Its diagnostic is reported when the package loads.
                                Some(Err(_)) => None,
                            };
                            if let Some(digest) = digest {
                                run_cache.cache.set_loaded(builder.key(), digest);
                            }
                            digest
                        }
                        _ => None,
                    };
                    (dir.clone(), digest, Some(result), None)
                })
                .collect();
            if let Ok(mut stamped) = self.stamped_bundles.lock() {
                stamped.extend(probed.iter().filter_map(|(dir, digest, _, _)| {
                    Some(super::fresh::StampedBundle {
                        set_idx,
                        dir: dir.clone(),
                        canonical: PathBuf::new(),
                        loaded: (*digest)?,
                    })
                }));
            }
            let mut set_loaded = Vec::new();
            let mut set_preloaded = BTreeMap::new();
            for (dir, digest, result, origin) in probed {
                if let Some(origin) = origin {
                    load_origins.insert(dir.clone(), origin);
                }
                match digest {
                    Some(digest) => set_loaded.push((dir.clone(), digest)),
                    None => {
                        unkeyed.get_or_insert_with(|| format!("bundle `{}` did not load", run_cache.relative(&dir)));
                    }
                }
                if let Some(result) = result {
                    set_preloaded.insert(dir, result);
                }
            }
            loaded.push(Some(set_loaded));
            preloaded.insert(set_idx, set_preloaded);
        }
        let mut encode = BTreeMap::new();
        let mut entries = BTreeMap::new();
        for &target_idx in users {
            let target = self.targets[target_idx];
            let set_idx = var_sets.iter().position(|vars| **vars == target.vars).unwrap_or(0);
            let (Some(Some(set_loaded)), None) = (loaded.get(set_idx), &unkeyed) else {
                encode.insert(target_idx, (None, miss(unkeyed.clone().unwrap_or_default())));
                continue;
            };
            let builder = run_cache.encode_key(
                package,
                package_plan,
                target,
                (&self.formats[target_idx], self.image_epoch),
                set_loaded,
            );
            let key = builder.key();
            match run_cache.cache.get(&key).and_then(|entry| run_cache.restore(&entry)) {
                Some(mut restored) => {
                    restored.remote = run_cache.cache.remote_origin(&key).map(str::to_string);
                    entries.insert(target_idx, restored);
                    encode.insert(
                        target_idx,
                        (
                            Some(key),
                            Cached::Miss(format!("another target of package `{name}` needs it linked")),
                        ),
                    );
                }
                None => {
                    let reason = run_cache.explain_and_record(&format!("encode-package {} {name}", target.name), &builder);
                    encode.insert(target_idx, (Some(key), miss(reason)));
                }
            }
        }
        if entries.len() == users.len() {
            return Probe::Hit(entries.into_iter().collect(), load_origins);
        }
        let first_reason = encode
            .values()
            .find_map(|(_, cached)| match cached {
                Cached::Miss(reason) if !reason.starts_with("another target") => Some(reason.clone()),
                _ => None,
            })
            .unwrap_or_default();
        Probe::Miss {
            preloaded,
            encode,
            load_reason: format!("package `{name}` is linked again: {first_reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_renames_new_blobs_then_one_catalog_file_then_the_index() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("oci/blobs/sha256")).unwrap();
        let path = |text: &str| PathBuf::from(text);
        let (catalog, index, other) = (
            path("catalog/p/catalog.json"),
            path("oci/index.json"),
            path("catalog/q/catalog.json"),
        );
        let (new_blob, old_blob) = (path("oci/blobs/sha256/bb"), path("oci/blobs/sha256/aa"));
        let differences = crate::output::Differences {
            added: vec![&new_blob],
            changed: vec![&catalog, &index],
            removed: vec![&old_blob],
        };
        let (renamed, removed) = patch_plan(&differences, dir.path()).unwrap();
        assert_eq!(renamed, [new_blob.clone(), catalog.clone(), index.clone()]);
        assert_eq!(removed, std::slice::from_ref(&old_blob));
        // Two catalog files, a catalog file added, a blob in a directory
        // not there: staged whole.
        let two = crate::output::Differences {
            changed: vec![&catalog, &other],
            ..Default::default()
        };
        assert!(patch_plan(&two, dir.path()).is_none());
        let added = crate::output::Differences {
            added: vec![&other],
            ..Default::default()
        };
        assert!(patch_plan(&added, dir.path()).is_none());
        let elsewhere = path("oci/blobs/sha512/cc");
        let new_dir = crate::output::Differences {
            added: vec![&elsewhere],
            changed: vec![&index],
            ..Default::default()
        };
        assert!(patch_plan(&new_dir, dir.path()).is_none());
    }

    #[test]
    fn explain_names_the_first_input_that_differs() {
        let fields = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
        };
        let before = fields(&[
            ("kind", "load-bundle/1"),
            ("input manifests/x.csv.yaml", "sha256:aa"),
            ("input metadata/a.yaml", "sha256:bb"),
        ]);
        let after = fields(&[
            ("kind", "load-bundle/1"),
            ("input manifests/x.csv.yaml", "sha256:cc"),
            ("input metadata/a.yaml", "sha256:bb"),
        ]);
        assert_eq!(first_difference(&before, &after), "input `manifests/x.csv.yaml` changed");
        let added = fields(&[
            ("kind", "load-bundle/1"),
            ("input manifests/x.csv.yaml", "sha256:aa"),
            ("input manifests/y.yaml", "sha256:dd"),
            ("input metadata/a.yaml", "sha256:bb"),
        ]);
        assert_eq!(first_difference(&before, &added), "input `manifests/y.yaml` is new");
        assert_eq!(first_difference(&added, &before), "input `manifests/y.yaml` was removed");
        let config = fields(&[("catalog.toml", "sha256:1")]);
        assert_eq!(
            first_difference(&config, &fields(&[("catalog.toml", "sha256:2")])),
            "`catalog.toml` changed"
        );
        assert_eq!(
            first_difference(&before, &before),
            "its entry was not in the cache (evicted or removed)"
        );
    }
}
