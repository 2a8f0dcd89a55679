//! Images pulled and unpacked into a cache directory, and the resolver
//! that reads them: what `bundle-images` in `catalog.toml` and image
//! references given to `render` come to.
//!
//! The cache (`build/.cache/images/` for a build, a temp dir for
//! `render`) holds verified blobs (`blobs/sha256/<hex>`, see
//! `registry::pull`) and unpacked images (`sha256/<hex>/`, named by the
//! digest of the manifest or index the reference resolved to, holding
//! `rootfs/` and the image's `config.json`). An image is unpacked into
//! `tmp/<random>/` and renamed into place whole, so a pull or unpack that
//! fails or is killed never leaves a half-unpacked image where a later
//! build would take it; a later build removes what is left in `tmp/`
//! (`pipeline::images`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{ImageResolver, ResolvedImage, SourceError};
use crate::image::unpack::{UnpackError, unpack_layers};
use crate::registry::{ImageSource, PullError, PullSettings, config_labels};

/// An image in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedImage {
    /// The reference as the user wrote it.
    pub reference: String,
    /// The digest it resolved to (its manifest's or index's).
    pub digest: String,
    /// Its unpacked filesystem.
    pub rootfs: PathBuf,
    /// Its config labels, sorted.
    pub labels: BTreeMap<String, String>,
}

/// Why an image is not in the cache.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The registry (or layout) could not give it: exit 2.
    #[error(transparent)]
    Pull(PullError),
    /// Its content is not safe to unpack: the input is wrong.
    #[error("image `{reference}` is refused: {error}")]
    Unsafe { reference: String, error: UnpackError },
    /// The cache directory failed us.
    #[error("cannot write the image cache `{}`: {message}", path.display())]
    Cache { path: PathBuf, message: String },
}

/// The unpacked image of `digest` in `cache`, if there.
pub fn cached(cache: &Path, reference: &str, digest: &str) -> Option<FetchedImage> {
    let dir = cache.join("sha256").join(digest.strip_prefix("sha256:")?);
    let config = fs_err::read(dir.join("config.json")).ok()?;
    let rootfs = dir.join("rootfs");
    rootfs.is_dir().then(|| FetchedImage {
        reference: reference.to_string(),
        digest: digest.to_string(),
        rootfs,
        labels: config_labels(&config),
    })
}

/// Pulls `text` (with `pin`, the image of that digest; a cached image of
/// that digest needs no network) and unpacks it into `cache`.
pub fn fetch(
    text: &str,
    source: &ImageSource,
    pin: Option<&str>,
    settings: &PullSettings,
    cache: &Path,
) -> Result<FetchedImage, FetchError> {
    if let Some(pin) = pin
        && let Some(found) = cached(cache, text, pin)
    {
        return Ok(found);
    }
    let cache_error = |path: &Path, message: String| FetchError::Cache {
        path: path.to_path_buf(),
        message,
    };
    fs_err::create_dir_all(cache).map_err(|error| cache_error(cache, error.to_string()))?;
    let pulled = crate::registry::pull(text, source, pin, settings, cache).map_err(FetchError::Pull)?;
    if let Some(found) = cached(cache, text, &pulled.digest) {
        return Ok(found);
    }
    let temp_root = cache.join("tmp");
    fs_err::create_dir_all(&temp_root).map_err(|error| cache_error(&temp_root, error.to_string()))?;
    let temp = tempfile::Builder::new()
        .prefix("unpack-")
        .tempdir_in(&temp_root)
        .map_err(|error| cache_error(&temp_root, error.to_string()))?;
    let rootfs = temp.path().join("rootfs");
    fs_err::create_dir(&rootfs).map_err(|error| cache_error(&rootfs, error.to_string()))?;
    unpack_layers(&pulled.layers, &rootfs, &settings.limits).map_err(|error| FetchError::Unsafe {
        reference: text.to_string(),
        error,
    })?;
    fs_err::write(temp.path().join("config.json"), &pulled.config).map_err(|error| cache_error(temp.path(), error.to_string()))?;
    let digest_dir = cache.join("sha256");
    fs_err::create_dir_all(&digest_dir).map_err(|error| cache_error(&digest_dir, error.to_string()))?;
    let hex = pulled.digest.trim_start_matches("sha256:");
    let final_dir = digest_dir.join(hex);
    let staged = temp.keep();
    if let Err(error) = std::fs::rename(&staged, &final_dir) {
        let _ = std::fs::remove_dir_all(&staged);
        // Another build unpacked the same image meanwhile: same bytes.
        if cached(cache, text, &pulled.digest).is_none() {
            return Err(cache_error(&final_dir, error.to_string()));
        }
    }
    cached(cache, text, &pulled.digest).ok_or_else(|| cache_error(&final_dir, "the unpacked image went missing".to_string()))
}

/// Images already fetched, by the reference the user wrote.
#[derive(Debug, Clone, Default)]
pub struct PulledImages {
    images: BTreeMap<String, FetchedImage>,
}

impl PulledImages {
    pub fn insert(&mut self, image: FetchedImage) {
        self.images.insert(image.reference.clone(), image);
    }

    pub fn get(&self, reference: &str) -> Option<&FetchedImage> {
        self.images.get(reference)
    }
}

impl ImageResolver for PulledImages {
    fn has_image(&self, reference: &str) -> bool {
        self.images.contains_key(reference)
    }

    fn resolve(&self, reference: &str) -> Result<ResolvedImage, SourceError> {
        let Some(image) = self.images.get(reference) else {
            return Err(SourceError::CannotPull {
                reference: reference.to_string(),
            });
        };
        Ok(ResolvedImage::unpacked(image))
    }
}

/// `render`'s images: `--local-image` directories first, else pulled on
/// first use into a temp dir that goes when `render` ends.
pub struct RenderImages {
    local: super::LocalImages,
    settings: PullSettings,
    base_dir: PathBuf,
    cache: tempfile::TempDir,
    pulled: Mutex<PulledImages>,
}

impl RenderImages {
    pub fn new(local: super::LocalImages, settings: PullSettings, base_dir: &Path) -> std::io::Result<RenderImages> {
        Ok(RenderImages {
            local,
            settings,
            base_dir: base_dir.to_path_buf(),
            cache: tempfile::Builder::new().prefix("catbuild-render-").tempdir()?,
            pulled: Mutex::new(PulledImages::default()),
        })
    }
}

impl ImageResolver for RenderImages {
    fn has_image(&self, reference: &str) -> bool {
        self.local.has_image(reference)
    }

    fn resolve(&self, reference: &str) -> Result<ResolvedImage, SourceError> {
        if self.local.has_image(reference) {
            return self.local.resolve(reference);
        }
        if let Some(image) = self.pulled.lock().ok().and_then(|pulled| pulled.get(reference).cloned()) {
            return Ok(ResolvedImage::unpacked(&image));
        }
        // A path that does not exist is not an image the user meant.
        if ["/", "./", "../"].iter().any(|prefix| reference.starts_with(prefix)) {
            return Err(SourceError::BadReference {
                reference: reference.to_string(),
                message: "no such file or directory, and not an image reference".to_string(),
            });
        }
        let source = ImageSource::parse(reference, &self.base_dir).map_err(|message| SourceError::BadReference {
            reference: reference.to_string(),
            message,
        })?;
        let image = fetch(reference, &source, None, &self.settings, self.cache.path()).map_err(SourceError::Fetch)?;
        if let Ok(mut pulled) = self.pulled.lock() {
            pulled.insert(image.clone());
        }
        Ok(ResolvedImage::unpacked(&image))
    }
}
