//! Images of a build: one bundle image per loaded bundle (built while its
//! rendered files are at hand), and per target one catalog image per
//! format, all written as one OCI layout under `build/<target>/oci/`.
//! Pure: the base image was read by `build` (a declared input), the
//! layout's files go through `output` like every other file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::OutputFormat;
use crate::diag::{Diagnostic, Location};
use crate::image::catalog::{CatalogKind, by_bucket, catalog_image_of, fbc_layer, fbc_layer_reusing};
use crate::image::layer::{Deflated, LayerOut, RunEntry};
use crate::image::layout::{BaseImage, layout_index};
use crate::image::reference::Reference;
use crate::image::{Descriptor, Image, Layer};
use crate::load::{BundleFiles, Sha256Digest};

use super::cached::RunCache;
use super::encode::{FBC_DIR, OutputFile};

/// The directory of a target that holds its OCI image layout.
pub const OCI_DIR: &str = "oci";

/// The bundle images of one variable set, by bundle directory.
pub(super) type BundleImages = BTreeMap<PathBuf, Arc<Image>>;

/// A bundle image as one target's catalog names it.
#[derive(Debug, Clone)]
pub(super) struct TargetBundleImage {
    /// The bundle (CSV) name: its tag in the layout.
    pub name: String,
    /// What `bundle-image` renders for it (pushed there), if set.
    pub reference: Option<String>,
    /// Its manifest's descriptor: the layout's `index.json` entry.
    pub top: Descriptor,
    /// The image, when this build made it; a package from the cache has
    /// only its blobs, among the package's files.
    pub image: Option<Arc<Image>>,
}

impl TargetBundleImage {
    pub fn built(name: String, reference: Option<String>, image: &Arc<Image>) -> TargetBundleImage {
        TargetBundleImage {
            name,
            reference,
            top: image.top().descriptor(),
            image: Some(Arc::clone(image)),
        }
    }
}

/// What the cache keeps of a package's bundle image (its blobs are files
/// of the package's entry).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct CachedBundleImage {
    name: String,
    reference: Option<String>,
    media_type: String,
    digest: String,
    size: u64,
}

/// The bundle images of a package as an entry's fact.
pub(super) fn images_fact(images: &[TargetBundleImage]) -> String {
    let cached: Vec<CachedBundleImage> = images
        .iter()
        .map(|image| CachedBundleImage {
            name: image.name.clone(),
            reference: image.reference.clone(),
            media_type: image.top.media_type.clone(),
            digest: image.top.digest.clone(),
            size: image.top.size,
        })
        .collect();
    serde_json::to_string(&cached).expect("plain data serializes")
}

/// The bundle images an entry's fact names; `None` when it is not one.
pub(super) fn images_from_fact(text: &str) -> Option<Vec<TargetBundleImage>> {
    let cached: Vec<CachedBundleImage> = serde_json::from_str(text).ok()?;
    Some(
        cached
            .into_iter()
            .map(|image| TargetBundleImage {
                name: image.name,
                reference: image.reference,
                top: Descriptor {
                    media_type: image.media_type,
                    digest: image.digest,
                    size: image.size,
                    platform: None,
                    annotations: BTreeMap::new(),
                },
                image: None,
            })
            .collect(),
    )
}

/// The blobs of a package's bundle images, as files of its target
/// (`oci/blobs/sha256/<hex>`), each once, in digest order (borrowed: a
/// bundle's layer is not copied to be written).
pub(super) fn bundle_blob_files(images: &[TargetBundleImage]) -> Vec<(PathBuf, &[u8])> {
    let mut blobs = BTreeMap::new();
    for image in images.iter().filter_map(|image| image.image.as_deref()) {
        for blob in crate::image::layout::image_blobs(image) {
            blobs.entry(blob.digest.as_str()).or_insert(blob);
        }
    }
    blobs
        .into_values()
        .map(|blob| {
            let path = PathBuf::from(OCI_DIR).join(crate::image::layout::blob_path(&blob.digest));
            (path, blob.bytes.as_slice())
        })
        .collect()
}

/// What one image of a target is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRole {
    Bundle { name: String },
    Catalog { format: OutputFormat },
}

/// One image a target built: where it is in `build/<target>/oci/` (its
/// tag there), where it is pushed (if anywhere known) and its digest.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub role: ImageRole,
    /// `org.opencontainers.image.ref.name` in the layout: the bundle name,
    /// or `catalog-<format>`.
    pub layout_tag: String,
    /// The reference it is pushed to (`bundle-image`, or the target's
    /// `image`, with `-<format>` added to the tag when the target has
    /// several formats), before any `--registry` rewrite.
    pub reference: Option<String>,
    /// Digest of the manifest (or index) the tag names.
    pub digest: String,
    /// A catalog image as built, for the layout's files; `None` for a
    /// bundle image, whose blobs its package staged. A push reads every
    /// image from the published layout, not from here.
    pub image: Option<Arc<Image>>,
}

impl BuiltImage {
    /// `repository@sha256:…`: how deployment objects should name it.
    pub fn pinned(&self) -> Option<String> {
        let reference = self.reference.as_deref()?;
        Some(format!("{}@{}", crate::image::reference::without_tag(reference), self.digest))
    }
}

/// Builds one bundle's image; a failure is a problem of that bundle.
pub(super) fn bundle_image(files: &BundleFiles, epoch: u64) -> Result<Image, Diagnostic> {
    crate::image::bundle::bundle_image(files, epoch)
        .map_err(|error| Diagnostic::error("image", format!("cannot build the bundle image: {error}")).at(Location::file(&files.dir)))
}

/// A file of a target's catalog, for its catalog images.
#[derive(Debug)]
pub(super) struct CatalogFile {
    /// Relative to the target: `catalog/<package>/catalog.json`.
    pub path: PathBuf,
    /// sha256 of its bytes, when the build has a cache (the encode step
    /// or the package's entry knows it; it is never hashed again here).
    pub digest: Option<Sha256Digest>,
    /// Its bytes, unless its package was restored from the cache (then
    /// they are read from there only if a layer holding them must be
    /// built) or it is staged (`staged`).
    pub bytes: Option<Vec<u8>>,
    /// Where the build staged it, to be read back bucket by bucket rather
    /// than held: a catalog can be a gigabyte.
    pub staged: Option<PathBuf>,
}

/// What a target's images add to it.
pub(super) struct TargetLayout {
    /// `index.json`, `oci-layout` and the blobs built this run.
    pub files: Vec<OutputFile>,
    /// Blobs the action cache holds (catalog layers built by an earlier
    /// build), by digest: linked from the published layout or written
    /// from the cache when the target is staged.
    pub stored: Vec<(PathBuf, Sha256Digest)>,
    /// Blobs written to a scratch file of the target's staging as they
    /// were built (the SQLite index's layer; the FBC layers when there is
    /// no cache), for the caller to move in.
    pub spilled: Vec<Spilled>,
    pub built: Vec<BuiltImage>,
}

/// A blob of a layout in a scratch file: its path in the target, its
/// digest, the file.
pub(super) type Spilled = (PathBuf, Sha256Digest, tempfile::NamedTempFile);

/// Makes a scratch file in the target's staging (`Publication::scratch`).
pub(super) type Scratch<'a> = dyn Fn() -> Result<tempfile::NamedTempFile, String> + Sync + 'a;

/// `layer`, just written to `file`, as a blob to move into the layout.
fn spilled(layer: &Layer, file: tempfile::NamedTempFile) -> Result<Spilled, String> {
    let digest =
        crate::cache::parse_digest(&layer.digest).ok_or_else(|| format!("internal error: `{}` is not a sha256 digest", layer.digest))?;
    Ok((
        PathBuf::from(OCI_DIR).join(crate::image::layout::blob_path(&layer.digest)),
        digest,
        file,
    ))
}

/// The catalog images of one target (one per catalog format among its
/// files) and the layout holding them and its bundle images: `index.json`,
/// `oci-layout` and the catalog images' blobs (the bundle images' blobs
/// are files of their packages). With a cache, each layer of the
/// File-Based Catalog that an earlier build made is not built again. The
/// catalog is its FBC files and its staged `index.db`, if any; with
/// `scratch`, the index's layer and the FBC layers the cache does not
/// take are written to scratch files of the staging, not held.
pub(super) fn target_images(
    target: &crate::config::Target,
    formats: &[OutputFormat],
    (files, index_db, scratch): (Vec<CatalogFile>, Option<&Path>, Option<&Scratch>),
    bundles: &[TargetBundleImage],
    base: Option<&BaseImage>,
    epoch: u64,
    layer_cache: Option<&RunCache>,
) -> Result<TargetLayout, String> {
    let target_name = target.name.as_str();
    let mut built = Vec::new();
    for bundle in bundles {
        built.push(BuiltImage {
            role: ImageRole::Bundle { name: bundle.name.clone() },
            layout_tag: bundle.name.clone(),
            reference: bundle.reference.clone(),
            digest: bundle.top.digest.clone(),
            image: bundle.image.clone(),
        });
    }
    // Moved, not copied: a catalog can be hundreds of megabytes.
    let mut fbc_files = Vec::new();
    for file in files {
        if let Ok(relative) = file.path.strip_prefix(FBC_DIR) {
            fbc_files.push((slash_path(relative), file));
        }
    }
    let wants = |kind: CatalogKind| formats.iter().any(|format| catalog_kind(*format) == kind);
    let failed = |kind: CatalogKind, error: String| {
        let name = match kind {
            CatalogKind::Fbc => "fbc",
            CatalogKind::Sqlite => OutputFormat::Sqlite.name(),
        };
        format!("cannot build the {name} catalog image of target `{target_name}`: {error}")
    };
    // The File-Based Catalog's layers (one set for both FBC formats) and
    // the index's, side by side.
    let (fbc_layers, sqlite_layer) = rayon::join(
        || {
            wants(CatalogKind::Fbc)
                .then(|| fbc_layers(fbc_files, epoch, layer_cache, scratch).map_err(|error| failed(CatalogKind::Fbc, error)))
                .transpose()
        },
        || {
            wants(CatalogKind::Sqlite)
                .then(|| sqlite_layer(index_db, epoch, scratch).map_err(|error| failed(CatalogKind::Sqlite, error)))
                .transpose()
        },
    );
    let mut spilled = Vec::new();
    let mut fbc_layers = fbc_layers?.map(|layers| {
        layers
            .into_iter()
            .map(|(layer, file)| {
                spilled.extend(file);
                layer
            })
            .collect::<Vec<Layer>>()
    });
    let mut sqlite_layer = sqlite_layer?.map(|(layer, file)| {
        spilled.extend(file);
        layer
    });
    for (format_idx, format) in formats.iter().enumerate() {
        let kind = catalog_kind(*format);
        // The last format of a kind takes its layers, an earlier one (FBC
        // as JSON beside FBC as YAML) a copy: a 10,000-bundle index's
        // layer is 660 MB.
        let last_of_kind = !formats[format_idx + 1..].iter().any(|later| catalog_kind(*later) == kind);
        let layers = match (kind, last_of_kind) {
            (CatalogKind::Fbc, true) => fbc_layers.take().unwrap_or_default(),
            (CatalogKind::Fbc, false) => fbc_layers.clone().unwrap_or_default(),
            (CatalogKind::Sqlite, true) => sqlite_layer.take().into_iter().collect(),
            (CatalogKind::Sqlite, false) => sqlite_layer.clone().into_iter().collect(),
        };
        let image = catalog_image_of(kind, layers, base, epoch);
        let reference = target.image.as_ref().map(|reference| {
            if formats.len() == 1 {
                reference.value.clone()
            } else {
                with_tag_suffix(&reference.value, format.name())
            }
        });
        built.push(BuiltImage {
            role: ImageRole::Catalog { format: *format },
            layout_tag: format!("catalog-{}", format.name()),
            reference,
            digest: image.digest().to_string(),
            image: Some(Arc::new(image)),
        });
    }
    let mut tagged: Vec<(String, Descriptor)> = bundles.iter().map(|bundle| (bundle.name.clone(), bundle.top.clone())).collect();
    for image in &built[bundles.len()..] {
        if let Some(catalog) = &image.image {
            tagged.push((image.layout_tag.clone(), catalog.top().descriptor()));
        }
    }
    let mut layout = layout_index(&tagged);
    let mut blobs = BTreeMap::new();
    let mut stored = BTreeMap::new();
    for image in &built[bundles.len()..] {
        for blob in image.image.iter().flat_map(|catalog| crate::image::layout::image_blobs(catalog)) {
            let path = PathBuf::from(OCI_DIR).join(crate::image::layout::blob_path(&blob.digest));
            if spilled.iter().any(|(spilled_path, _, _)| *spilled_path == path) {
                continue;
            }
            if blob.held() {
                blobs.entry(path).or_insert_with(|| blob.bytes.to_vec());
            } else {
                let digest = crate::cache::parse_digest(&blob.digest)
                    .ok_or_else(|| format!("internal error: `{}` is not a sha256 digest", blob.digest))?;
                stored.insert(path, digest);
            }
        }
    }
    let mut files: Vec<OutputFile> = layout
        .drain(..)
        .map(|(path, bytes)| OutputFile {
            path: PathBuf::from(OCI_DIR).join(path),
            bytes,
        })
        .collect();
    files.extend(blobs.into_iter().map(|(path, bytes)| OutputFile { path, bytes }));
    Ok(TargetLayout {
        files,
        stored: stored.into_iter().collect(),
        spilled,
        built,
    })
}

/// The SQLite index's layer, streamed from its staged `index.db` (an
/// empty index when there is none); with `scratch`, written to a scratch
/// file instead of held.
fn sqlite_layer(index_db: Option<&Path>, epoch: u64, scratch: Option<&Scratch>) -> Result<(Layer, Option<Spilled>), String> {
    use crate::image::catalog::{sqlite_layer, sqlite_layer_of_file};
    let (Some(path), Some(scratch)) = (index_db, scratch) else {
        let layer = match index_db {
            Some(path) => sqlite_layer_of_file(path, epoch, LayerOut::Memory),
            None => sqlite_layer(&[], epoch),
        };
        return Ok((layer.map_err(|error| error.to_string())?, None));
    };
    let mut file = scratch()?;
    let layer = sqlite_layer_of_file(path, epoch, LayerOut::File(file.as_file_mut())).map_err(|error| error.to_string())?;
    let file = spilled(&layer, file)?;
    Ok((layer, Some(file)))
}

fn catalog_kind(format: OutputFormat) -> CatalogKind {
    match format {
        OutputFormat::FbcJson | OutputFormat::FbcYaml => CatalogKind::Fbc,
        OutputFormat::Sqlite => CatalogKind::Sqlite,
    }
}

/// The File-Based Catalog's layers: one per non-empty bucket, in bucket
/// order, each from the cache when an earlier build made it (or built,
/// in parallel, and kept there); a layer the cache does not take goes to
/// a scratch file when there is `scratch`.
fn fbc_layers(
    files: Vec<(String, CatalogFile)>,
    epoch: u64,
    layer_cache: Option<&RunCache>,
    scratch: Option<&Scratch>,
) -> Result<Vec<(Layer, Option<Spilled>)>, String> {
    use rayon::prelude::*;
    let buckets = by_bucket(files, |(path, _)| path.as_str());
    if buckets.is_empty() {
        return Ok(vec![(fbc_layer([], epoch).map_err(|error| error.to_string())?, None)]);
    }
    buckets
        .into_par_iter()
        .map(|mut bucket| {
            bucket.sort_by(|left, right| left.0.cmp(&right.0));
            bucket_layer(&bucket, epoch, layer_cache, scratch)
        })
        .collect()
}

/// A bucket's layer without a cache: in a scratch file, or held.
fn uncached_layer(contents: &[(&str, &[u8])], epoch: u64, scratch: Option<&Scratch>) -> Result<(Layer, Option<Spilled>), String> {
    let Some(scratch) = scratch else {
        return Ok((fbc_layer(contents.iter().copied(), epoch).map_err(|error| error.to_string())?, None));
    };
    let mut file = scratch()?;
    let (layer, _) = fbc_layer_reusing(contents.iter().copied(), epoch, &|_| None, LayerOut::File(file.as_file_mut()))
        .map_err(|error| error.to_string())?;
    let file = spilled(&layer, file)?;
    Ok((layer, Some(file)))
}

/// The layer of one bucket's files (sorted by path), and its scratch file
/// when it went to one.
fn bucket_layer(
    files: &[(String, CatalogFile)],
    epoch: u64,
    layer_cache: Option<&RunCache>,
    scratch: Option<&Scratch>,
) -> Result<(Layer, Option<Spilled>), String> {
    let digests: Option<Vec<(&str, &Sha256Digest)>> = files
        .iter()
        .map(|(path, file)| Some((path.as_str(), file.digest.as_ref()?)))
        .collect();
    let keyed = layer_cache
        .zip(digests)
        .map(|(layer_cache, digests)| (layer_cache, layer_cache.layer_key(epoch, digests)));
    if let Some((layer_cache, key)) = &keyed
        && let Some((_, layer)) = layer_cache.catalog_layer(key)
    {
        return Ok((layer, None));
    }
    // Files staged, or of a package restored from the cache, are read
    // now.
    let mut read: Vec<Option<Vec<u8>>> = Vec::with_capacity(files.len());
    for (_, file) in files {
        read.push(match (&file.bytes, &file.digest, keyed.as_ref()) {
            (Some(_), _, _) => None,
            (None, _, _) if let Some(staged) = &file.staged => {
                Some(std::fs::read(staged).map_err(|error| format!("cannot read `{}` back: {error}", staged.display()))?)
            }
            (None, Some(digest), Some((layer_cache, _))) => Some(layer_cache.cache.blob(digest).ok_or_else(|| {
                format!(
                    "`{}` is missing or damaged in the cache (removed now: the next build encodes its package again)",
                    file.path.display()
                )
            })?),
            (None, _, _) => return Err(format!("internal error: no bytes for `{}`", file.path.display())),
        });
    }
    let contents = || {
        files.iter().zip(&read).map(|((path, file), read)| {
            let bytes = read.as_deref().or(file.bytes.as_deref()).unwrap_or_default();
            (path.as_str(), bytes)
        })
    };
    let Some((layer_cache, key)) = &keyed else {
        return uncached_layer(&contents().collect::<Vec<_>>(), epoch, scratch);
    };
    // A package's run is keyed by its files' digests, so the packages of
    // the bucket that did not change are spliced in deflated already.
    let digests: BTreeMap<String, Sha256Digest> = files
        .iter()
        .filter_map(|(path, file)| Some((format!("{}/{path}", crate::image::catalog::CONFIGS_DIR), file.digest?)))
        .collect();
    let run_key = |entries: &[RunEntry]| layer_cache.run_key(epoch, entries, |path| digests.get(path).copied());
    let reuse = |entries: &[RunEntry]| run_key(entries).and_then(|key| layer_cache.deflated_run(&key));
    let build = |reuse: &dyn Fn(&[RunEntry]) -> Option<Deflated>| {
        // The layer is written straight into the cache, never held whole,
        // and the layout links it from there.
        let cache = &layer_cache.cache;
        if let Ok(mut temp) = cache.new_blob() {
            let (layer, runs) = fbc_layer_reusing(contents(), epoch, reuse, LayerOut::File(temp.as_file_mut()))?;
            let kept = crate::cache::parse_digest(&layer.digest).is_some_and(|digest| cache.persist_blob(temp, &digest).is_ok());
            if kept {
                return Ok((layer, runs));
            }
            cache.note_failure();
        }
        fbc_layer_reusing(contents(), epoch, reuse, LayerOut::Memory)
    };
    let (layer, runs) = match build(&reuse) {
        // A stored run that does not hold what its key says: built anew.
        Err(error) if error.kind() == std::io::ErrorKind::InvalidData => build(&|_| None),
        built => built,
    }
    .map_err(|error: std::io::Error| error.to_string())?;
    layer_cache.put_catalog_layer(key, &layer);
    let keyed_runs: Vec<_> = runs.iter().filter_map(|run| Some((run_key(&run.entries)?, run.span))).collect();
    layer_cache.put_runs(&layer, &keyed_runs);
    Ok((layer, None))
}

/// `reference` with `-suffix` added to its tag (`latest` when it has none).
fn with_tag_suffix(reference: &str, suffix: &str) -> String {
    match Reference::parse(reference) {
        Ok(parsed) if parsed.digest.is_none() => {
            let name = crate::image::reference::without_tag(reference);
            format!("{name}:{}-{suffix}", parsed.tag.as_deref().unwrap_or("latest"))
        }
        _ => reference.to_string(),
    }
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::{LOCK_FILE, write_lock};

    #[test]
    fn a_bucket_layer_splices_in_the_packages_an_edit_left_alone() {
        use super::{CatalogFile, PathBuf, RunCache, RunEntry, Sha256Digest, bucket_layer, fbc_layer};
        use crate::image::catalog::fbc_bucket;
        // Two packages of one bucket.
        assert_eq!(fbc_bucket("pkg-4"), fbc_bucket("pkg-5"));
        let text = |package: &str, version: u32| {
            (0..40_000)
                .map(|idx| format!("{{\"schema\": \"olm.bundle\", \"name\": \"{package}.v{version}.{idx}\"}}\n"))
                .collect::<String>()
        };
        let file = |package: &str, text: &str| {
            (
                format!("{package}/catalog.json"),
                CatalogFile {
                    path: PathBuf::from(format!("catalog/{package}/catalog.json")),
                    digest: Some(Sha256Digest::of(text.as_bytes())),
                    bytes: Some(text.as_bytes().to_vec()),
                    staged: None,
                },
            )
        };
        let uncached = |files: &[(String, CatalogFile)]| {
            fbc_layer(files.iter().map(|(path, file)| (path.as_str(), file.bytes.as_deref().unwrap())), 0).unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let cache = RunCache::at(dir.path());
        let layer_cache = Some(&cache);
        let kept = text("pkg-5", 1);
        let kept_entries = [
            RunEntry {
                path: "configs/pkg-5".to_string(),
                dir: true,
            },
            RunEntry {
                path: "configs/pkg-5/catalog.json".to_string(),
                dir: false,
            },
        ];
        let kept_key = cache
            .run_key(0, &kept_entries, |_| Some(Sha256Digest::of(kept.as_bytes())))
            .unwrap();
        // A build writes each layer into the cache and holds none: the
        // layer here is given its blob back from there, to be compared
        // whole.
        let build = |version: u32| {
            let files = [file("pkg-4", &text("pkg-4", version)), file("pkg-5", &kept)];
            let (layer, _) = bucket_layer(&files, 0, layer_cache, None).unwrap();
            assert_eq!(layer.blob, None, "a layer was held");
            let digest = crate::cache::parse_digest(&layer.digest).unwrap();
            let blob = cache.cache.blob(&digest).expect("the layer is in the cache");
            (crate::image::Layer { blob: Some(blob), ..layer }, uncached(&files))
        };
        let (first, expected) = build(1);
        assert_eq!(first, expected);
        // The untouched package's run is kept, as a span of the layer.
        let stored = cache.deflated_run(&kept_key).expect("the run is kept");
        let blob = first.blob.as_deref().unwrap();
        assert!(blob.windows(stored.bytes.len()).any(|window| window == stored.bytes.as_slice()));
        // Its bytes swapped for another deflate of the same tar (stored
        // blocks): the next layer holds them, which shows they were
        // spliced in, and still reads back to the very same tar.
        let tar = inflate_raw(&stored.bytes);
        assert_eq!((crc32fast::hash(&tar), tar.len() as u64), (stored.crc, stored.raw_len));
        let other = deflate_stored(&tar);
        let other_layer = crate::image::Layer {
            blob: Some(other.clone()),
            ..crate::image::Layer::stored(crate::image::sha256_digest(&other), String::new(), other.len() as u64)
        };
        cache.put_catalog_layer(&crate::cache::Key(Sha256Digest::of(b"other")), &other_layer);
        let span = crate::image::layer::RunSpan {
            offset: 0,
            len: other.len() as u64,
            crc: stored.crc,
            raw_len: stored.raw_len,
            check: crc32fast::hash(&other),
        };
        cache.put_runs(&other_layer, &[(kept_key, span)]);
        let (spliced, expected) = build(2);
        assert_eq!(spliced.diff_id, expected.diff_id);
        assert_ne!(spliced.digest, expected.digest, "the kept run was deflated again");
        assert_eq!(gunzip(spliced.blob.as_deref().unwrap()), gunzip(expected.blob.as_deref().unwrap()));
        // A damaged span is refused, and the run deflated anew.
        let blob_path = cache.cache.blob_path(&crate::cache::parse_digest(&spliced.digest).unwrap());
        let mut bytes = std::fs::read(&blob_path).unwrap();
        let at = bytes.windows(other.len()).position(|window| window == other.as_slice()).unwrap();
        bytes[at + other.len() / 2] ^= 0x55;
        std::fs::write(&blob_path, &bytes).unwrap();
        assert!(cache.deflated_run(&kept_key).is_none());
        let (fresh, expected) = build(3);
        assert_eq!(fresh, expected);
    }

    fn gunzip(blob: &[u8]) -> Vec<u8> {
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(blob), &mut tar).unwrap();
        tar
    }

    /// Raw deflate data ended by a sync flush, inflated.
    fn inflate_raw(bytes: &[u8]) -> Vec<u8> {
        let mut inflate = flate2::Decompress::new(false);
        let mut out = Vec::with_capacity(bytes.len() * 4);
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            }
            let consumed = inflate.total_in() as usize;
            inflate
                .decompress_vec(&bytes[consumed..], &mut out, flate2::FlushDecompress::Sync)
                .unwrap();
            if inflate.total_in() as usize == bytes.len() && out.len() < out.capacity() {
                return out;
            }
        }
    }

    /// `bytes` as stored (uncompressed) deflate blocks, ended by a sync flush.
    fn deflate_stored(bytes: &[u8]) -> Vec<u8> {
        let mut deflate = flate2::Compress::new(flate2::Compression::none(), false);
        let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 1000 + 64);
        loop {
            if out.len() == out.capacity() {
                out.reserve(4096);
            }
            let consumed = deflate.total_in() as usize;
            deflate
                .compress_vec(&bytes[consumed..], &mut out, flate2::FlushCompress::Sync)
                .unwrap();
            if deflate.total_in() as usize == bytes.len() && out.len() < out.capacity() {
                return out;
            }
        }
    }

    #[test]
    fn the_lock_file_is_left_alone_when_it_says_this_already() {
        use std::os::unix::fs::MetadataExt as _;
        let root = tempfile::tempdir().unwrap();
        write_lock(root.path(), "a\n").unwrap();
        let first = std::fs::metadata(root.path().join(LOCK_FILE)).unwrap();
        let dir_before = std::fs::metadata(root.path()).unwrap().mtime_nsec();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_lock(root.path(), "a\n").unwrap();
        assert_eq!(std::fs::metadata(root.path().join(LOCK_FILE)).unwrap().ino(), first.ino());
        assert_eq!(std::fs::metadata(root.path()).unwrap().mtime_nsec(), dir_before);
        write_lock(root.path(), "b\n").unwrap();
        assert_eq!(std::fs::read_to_string(root.path().join(LOCK_FILE)).unwrap(), "b\n");
    }

    #[test]
    fn several_formats_get_their_own_tags() {
        assert_eq!(super::with_tag_suffix("quay.io/a/cat:v1", "sqlite"), "quay.io/a/cat:v1-sqlite");
        assert_eq!(
            super::with_tag_suffix("localhost:5000/cat", "fbc-json"),
            "localhost:5000/cat:latest-fbc-json"
        );
    }
}

/// The lock file beside `catalog.toml` that pins each base image and each
/// pulled bundle image by digest.
pub const LOCK_FILE: &str = "catalog.lock";

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct LockFile {
    #[serde(default, rename = "base-image")]
    base_images: Vec<LockedImage>,
    #[serde(default, rename = "bundle-image")]
    bundle_images: Vec<LockedImage>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct LockedImage {
    name: String,
    digest: String,
}

/// What `catalog.lock` pins: base images and bundle images, each by the
/// text that names it in `catalog.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Pins {
    pub base_images: BTreeMap<String, String>,
    pub bundle_images: BTreeMap<String, String>,
}

/// Reads `catalog.lock` (none is an empty lock).
pub(super) fn read_lock(config: &crate::config::Config) -> Result<Pins, Diagnostic> {
    let lock_path = config.root.join(LOCK_FILE);
    let lock: LockFile = match fs_err::read_to_string(&lock_path) {
        Ok(text) => toml::from_str(&text).map_err(|error| {
            Diagnostic::error(
                "lock",
                format!("`{LOCK_FILE}` is not a lock file catbuild wrote: {}", error.message()),
            )
            .at(Location::file(&lock_path))
            .help(format!("delete `{LOCK_FILE}`; the next build writes it again"))
        })?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => LockFile::default(),
        Err(error) => return Err(Diagnostic::error("lock", error.to_string()).at(Location::file(&lock_path))),
    };
    let pairs = |images: Vec<LockedImage>| images.into_iter().map(|image| (image.name, image.digest)).collect();
    Ok(Pins {
        base_images: pairs(lock.base_images),
        bundle_images: pairs(lock.bundle_images),
    })
}

/// The lock's new text when the bases read or the bundle images pulled
/// added pins to what it holds; `None` when nothing changed.
pub(super) fn new_lock(
    config: &crate::config::Config,
    bases: Option<&Bases>,
    bundle_pins: Option<&BTreeMap<String, String>>,
) -> Option<String> {
    let new_bases = bases.and_then(|bases| bases.new_pins.as_ref());
    if new_bases.is_none() && bundle_pins.is_none() {
        return None;
    }
    // Read again: only the part this build changed is replaced.
    let mut pins = read_lock(config).unwrap_or_default();
    if let Some(new_bases) = new_bases {
        pins.base_images.clone_from(new_bases);
    }
    if let Some(bundle_pins) = bundle_pins {
        pins.bundle_images.clone_from(bundle_pins);
    }
    let mut text = String::from(
        "# Written by catbuild: each base image and bundle image of catalog.toml,\n\
         # pinned by digest. Commit it. Remove an entry to take an image's new digest.\nversion = 1\n",
    );
    for (table, entries) in [("base-image", &pins.base_images), ("bundle-image", &pins.bundle_images)] {
        for (name, digest) in entries {
            text.push_str(&format!(
                "\n[[{table}]]\nname = {}\ndigest = {}\n",
                toml::Value::String(name.clone()),
                toml::Value::String(digest.clone())
            ));
        }
    }
    Some(text)
}

/// Base images read for a build, by the text that names them, and the
/// lock's base-image pins when they must change.
pub(super) struct Bases {
    pub by_name: BTreeMap<String, Arc<BaseImage>>,
    pub new_pins: Option<BTreeMap<String, String>>,
}

/// Why the base images could not be read.
pub(super) enum BasesError {
    /// The input is wrong (a missing layout, a moved pin): exit 1.
    Input(Vec<Diagnostic>),
    /// The registry or the cache failed: exit 2.
    Pull(crate::source::pulled::FetchError),
}

/// Reads every base image the targets name (`override_base` replaces
/// them all for one run) and checks each against `catalog.lock`. A base
/// whose digest moved is an input error; new bases are added to the lock.
/// A registry base is pulled (all its platforms) into `cache` once: a
/// pinned one is taken by its pin, from the cache when it is there, so a
/// locked rebuild with a warm cache needs no network.
pub(super) fn read_bases(
    config: &crate::config::Config,
    targets: &[&crate::config::Target],
    override_base: Option<&crate::config::BaseImage>,
    cache: &Path,
) -> Result<Bases, BasesError> {
    use crate::config::BaseImage as Base;
    let mut diagnostics = Vec::new();
    let mut locked = read_lock(config)
        .map_err(|diagnostic| BasesError::Input(vec![diagnostic]))?
        .base_images;
    let mut changed = false;
    let mut by_name = BTreeMap::new();
    let mut settings = None;
    for target in targets {
        let base = override_base.unwrap_or(&target.base_image);
        let text = match base {
            Base::Scratch => continue,
            Base::Layout { text, .. } | Base::Registry { text } => text,
        };
        if by_name.contains_key(text) {
            continue;
        }
        let at = |diagnostic: Diagnostic| match &target.base_image_span {
            Some(span) if override_base.is_none() => diagnostic.at(Location::span(&config.path, span.clone())),
            _ => diagnostic,
        };
        let read = match base {
            Base::Scratch => continue,
            Base::Layout { dir, tag, .. } => crate::image::layout::read_image(dir, tag.as_deref()),
            Base::Registry { text } => {
                if settings.is_none() {
                    settings = Some(pull_settings(config).map_err(|message| {
                        BasesError::Input(vec![Diagnostic::error("image", format!("cannot read registries.conf: {message}"))])
                    })?);
                }
                let settings = settings.as_ref().expect("set just above");
                read_registry_base(config, text, locked.get(text).map(String::as_str), settings, cache).map_err(BasesError::Pull)?
            }
        };
        match read {
            Ok(image) => {
                match locked.get(text) {
                    Some(digest) if *digest != image.digest => diagnostics.push(
                        at(Diagnostic::error(
                            "lock",
                            format!("base image `{text}` is now {}, but `{LOCK_FILE}` pins {digest}", image.digest),
                        ))
                        .help(format!("if the new base is intended, remove its entry from `{LOCK_FILE}`")),
                    ),
                    Some(_) => {}
                    None => {
                        locked.insert(text.clone(), image.digest.clone());
                        changed = true;
                    }
                }
                by_name.insert(text.clone(), Arc::new(image));
            }
            Err(message) => diagnostics.push(
                at(Diagnostic::error("image", format!("cannot read base image `{text}`: {message}")))
                    .help("name an OCI image layout as `oci:DIR[:TAG]` (`skopeo copy docker://REF oci:DIR:TAG` makes one), a registry image, or `scratch`"),
            ),
        }
    }
    if !diagnostics.is_empty() {
        return Err(BasesError::Input(diagnostics));
    }
    Ok(Bases {
        by_name,
        new_pins: changed.then_some(locked),
    })
}

/// A registry base image from the cache's blob store, pulled into it
/// first unless `pin` is already there whole. The outer `Err` is a failed
/// pull or cache (exit 2); the inner one a base that is not an image.
fn read_registry_base(
    config: &crate::config::Config,
    text: &str,
    pin: Option<&str>,
    settings: &crate::registry::PullSettings,
    cache: &Path,
) -> Result<Result<BaseImage, String>, crate::source::pulled::FetchError> {
    use crate::registry::ImageSource;
    use crate::source::pulled::FetchError;
    let reference = match ImageSource::parse(text, &config.root) {
        Ok(ImageSource::Registry(reference)) => reference,
        // Parsed when the config was resolved: neither can happen.
        Ok(ImageSource::Layout { .. }) => return Ok(Err("not a registry reference".to_string())),
        Err(message) => return Ok(Err(message)),
    };
    // A digest in the reference is a pin of its own.
    let pin = pin.or(reference.digest.as_deref());
    if let Some(pin) = pin
        && let Ok(image) = crate::image::layout::read_image_by_digest(cache, pin)
    {
        return Ok(Ok(image));
    }
    let digest = crate::registry::pull_all(text, &reference, pin, settings, cache).map_err(FetchError::Pull)?;
    crate::image::layout::read_image_by_digest(cache, &digest)
        .map(Ok)
        .map_err(|message| FetchError::Cache {
            path: cache.to_path_buf(),
            message: format!("base image `{text}` pulled but not readable: {message}"),
        })
}

/// How this build pulls: `[images]` TLS settings and registries.conf.
fn pull_settings(config: &crate::config::Config) -> Result<crate::registry::PullSettings, String> {
    let registries = crate::registry::mirrors::Registries::load()?;
    Ok(crate::registry::PullSettings {
        client: crate::registry::ClientSettings {
            insecure: config.images.insecure,
            ca_file: config.images.ca_file.clone(),
            timeout: config.images.timeout,
        },
        registries,
        limits: config.pulled_limits,
        ..crate::registry::PullSettings::default()
    })
}

/// Replaces `catalog.lock` atomically (a temp file renamed over it).
pub(super) fn write_lock(root: &Path, text: &str) -> std::io::Result<()> {
    // Left alone when it says this already: a rewrite moves the project
    // directory's mtime, and every build stamp of the project with it (a
    // no-op build after an images build was a full stat pass).
    if std::fs::read(root.join(LOCK_FILE)).is_ok_and(|current| current == text.as_bytes()) {
        return Ok(());
    }
    let mut temp = tempfile::NamedTempFile::new_in(root)?;
    std::io::Write::write_all(&mut temp, text.as_bytes())?;
    temp.as_file().sync_all()?;
    temp.persist(root.join(LOCK_FILE)).map_err(|error| error.error)?;
    Ok(())
}

/// The cache of pulled images below an output directory.
pub(super) fn image_cache(out_dir: &Path) -> PathBuf {
    out_dir.join(".cache").join("images")
}

/// One pulled bundle image of a package, unpacked in the cache.
#[derive(Debug, Clone)]
pub(super) struct PulledBundle {
    /// The `bundle-images` entry that names it.
    pub reference: crate::config::Sourced<String>,
    pub image: crate::source::pulled::FetchedImage,
    /// An `oci:` layout has no registry name for the catalog.
    pub is_layout: bool,
}

/// What pulling the `bundle-images` of every package gave.
#[derive(Debug, Default)]
pub(super) struct PulledBundles {
    pub by_package: BTreeMap<String, Vec<PulledBundle>>,
    /// The lock's bundle-image pins, when new ones were added.
    pub new_pins: Option<BTreeMap<String, String>>,
    /// The registry or the cache failed (not the input): the build stops
    /// with exit 2.
    pub failure: Option<crate::source::pulled::FetchError>,
}

/// Images pulled at once: registry calls wait on the network, not the CPU.
const PULL_JOBS: usize = 8;

/// Pulls and unpacks every package's `bundle-images` into `cache`, in
/// parallel, each reference once. A reference `catalog.lock` pins is
/// pulled by that digest, so a rebuild gets the same bytes (and needs no
/// network once they are cached); a new one is pinned. Content that is not
/// safe to unpack, and an `oci:` layout whose image moved from its pin,
/// are input problems at the reference.
pub(super) fn pull_bundle_images(config: &crate::config::Config, cache: &Path, diagnostics: &mut Vec<Diagnostic>) -> PulledBundles {
    use crate::registry::ImageSource;
    use crate::source::pulled::{FetchError, fetch};
    use rayon::prelude::*;
    let mut pulled = PulledBundles::default();
    let wanted: Vec<(&str, &crate::config::Sourced<String>)> = config
        .packages
        .iter()
        .flat_map(|package| package.bundle_images.iter().map(|image| (package.name.value.as_str(), image)))
        .collect();
    if wanted.is_empty() {
        return pulled;
    }
    let pins = match read_lock(config) {
        Ok(pins) => pins.bundle_images,
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            return pulled;
        }
    };
    let settings = match pull_settings(config) {
        Ok(settings) => settings,
        Err(message) => {
            diagnostics.push(Diagnostic::error("image", format!("cannot read registries.conf: {message}")));
            return pulled;
        }
    };
    remove_old_temp_dirs(cache);
    let mut texts: Vec<&str> = wanted.iter().map(|(_, image)| image.value.as_str()).collect();
    texts.sort_unstable();
    texts.dedup();
    let fetch_one = |text: &&str| {
        // Parsed when the config was resolved: a failure here cannot happen.
        let source = ImageSource::parse(text, &config.root).map_err(|message| {
            FetchError::Pull(crate::registry::PullError {
                reference: text.to_string(),
                message,
            })
        })?;
        let is_layout = matches!(source, ImageSource::Layout { .. });
        // A layout is local: read as it is now, then held to its pin.
        let pin = if is_layout { None } else { pins.get(*text).map(String::as_str) };
        fetch(text, &source, pin, &settings, cache).map(|image| (image, is_layout))
    };
    let results: Vec<_> = match rayon::ThreadPoolBuilder::new().num_threads(PULL_JOBS).build() {
        Ok(pool) => pool.install(|| texts.par_iter().map(fetch_one).collect()),
        Err(_) => texts.iter().map(fetch_one).collect(),
    };
    let mut new_pins = pins.clone();
    let mut fetched = BTreeMap::new();
    for (text, result) in texts.iter().zip(results) {
        match result {
            Ok((image, is_layout)) => {
                match pins.get(*text) {
                    Some(pin) if *pin != image.digest => {
                        let span = wanted
                            .iter()
                            .find(|(_, image)| image.value == *text)
                            .map(|(_, image)| image.span.clone());
                        let mut diagnostic = Diagnostic::error(
                            "lock",
                            format!("bundle image `{text}` is now {}, but `{LOCK_FILE}` pins {pin}", image.digest),
                        )
                        .help(format!("if the new image is intended, remove its entry from `{LOCK_FILE}`"));
                        if let Some(span) = span {
                            diagnostic = diagnostic.at(Location::span(&config.path, span));
                        }
                        diagnostics.push(diagnostic);
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        new_pins.insert(text.to_string(), image.digest.clone());
                    }
                }
                fetched.insert(*text, (image, is_layout));
            }
            Err(FetchError::Unsafe { reference, error }) => {
                for (_, image) in wanted.iter().filter(|(_, image)| image.value == reference) {
                    diagnostics.push(
                        Diagnostic::error("image", format!("bundle image `{reference}` is refused: {error}"))
                            .at(Location::span(&config.path, image.span.clone()))
                            .note(
                                "catbuild unpacks only plain files, directories and links that stay inside the image, within size limits",
                            ),
                    );
                }
            }
            Err(error) => {
                pulled.failure.get_or_insert(error);
            }
        }
    }
    for (package, image) in &wanted {
        if let Some((fetched_image, is_layout)) = fetched.get(image.value.as_str()) {
            pulled.by_package.entry(package.to_string()).or_default().push(PulledBundle {
                reference: (*image).clone(),
                image: fetched_image.clone(),
                is_layout: *is_layout,
            });
        }
    }
    if new_pins != pins {
        pulled.new_pins = Some(new_pins);
    }
    pulled
}

/// Removes unpack dirs that killed builds left behind (an hour old or
/// more, so a build running beside this one keeps its own).
fn remove_old_temp_dirs(cache: &Path) {
    let Ok(entries) = std::fs::read_dir(cache.join("tmp")) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 3600);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
