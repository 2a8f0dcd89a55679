//! Bundle images: the [`ImageResolver`] seam and opm's label rules.
//!
//! opm decides what an image is from its config labels (spec A.7,
//! `alpha/action/render.go` renderImageConfig): the package label
//! `operators.operatorframework.io.bundle.package.v1` makes it a bundle;
//! without it the image type "could not be determined". The bundle's files
//! are then read from the unpacked image, like a bundle directory.
//!
//! [`LocalImages`] resolves `--local-image REF=DIR`: the image that
//! `bundle.Dockerfile` would build from `DIR`, whose labels are the entries
//! of its annotations file. A registry resolver would pull and unpack the
//! image and read its config instead.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::SourceError;
use crate::encoding::json::{self, Value};
use crate::load::{BundleError, BundleFiles, LoadedBundle};

/// The label that makes an image a bundle image (spec A.7).
pub const PACKAGE_LABEL: &str = crate::load::annotations::ANNOTATION_PACKAGE;

/// Finds bundle images: their files and their config labels.
pub trait ImageResolver {
    /// Whether `reference` names an image this resolver has at hand. Such a
    /// reference is an image even where a path of that name exists.
    fn has_image(&self, reference: &str) -> bool;

    /// The image's unpacked filesystem and its config labels.
    fn resolve(&self, reference: &str) -> Result<ResolvedImage, SourceError>;
}

/// An image, read: its content and its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    pub content: ImageContent,
    /// The image config's labels, sorted by key.
    pub labels: BTreeMap<String, String>,
}

/// What an image holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageContent {
    /// A bundle's files in memory (the same type a bundle directory reads
    /// into, so the loader cannot tell them apart).
    Files(BundleFiles),
    /// An unpacked filesystem: a bundle's `manifests/` and `metadata/` at
    /// its root, or a catalog where its label says.
    Unpacked(PathBuf),
}

impl ResolvedImage {
    /// An image unpacked into the cache.
    pub fn unpacked(image: &super::pulled::FetchedImage) -> ResolvedImage {
        ResolvedImage {
            content: ImageContent::Unpacked(image.rootfs.clone()),
            labels: image.labels.clone(),
        }
    }

    /// The bundle files of a bundle image.
    pub fn bundle_files(self) -> Result<BundleFiles, SourceError> {
        match self.content {
            ImageContent::Files(files) => Ok(files),
            ImageContent::Unpacked(root) => {
                crate::load::read_bundle_dir(&root).map_err(|error| SourceError::Bundle(BundleError::Read(error)))
            }
        }
    }
}

/// Images built from local bundle directories (`--local-image REF=DIR`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalImages {
    dirs: BTreeMap<String, PathBuf>,
}

impl LocalImages {
    /// From `REF=DIR` pairs (split at the last `=`; a later pair for the
    /// same reference wins).
    pub fn from_pairs(pairs: &[String]) -> Result<LocalImages, SourceError> {
        let mut dirs = BTreeMap::new();
        for pair in pairs {
            let Some((reference, dir)) = pair.rsplit_once('=') else {
                return Err(SourceError::MalformedLocalImage { pair: pair.clone() });
            };
            dirs.insert(reference.to_string(), PathBuf::from(dir));
        }
        Ok(LocalImages { dirs })
    }
}

impl ImageResolver for LocalImages {
    fn has_image(&self, reference: &str) -> bool {
        self.dirs.contains_key(reference)
    }

    fn resolve(&self, reference: &str) -> Result<ResolvedImage, SourceError> {
        let Some(dir) = self.dirs.get(reference) else {
            return Err(SourceError::CannotPull {
                reference: reference.to_string(),
            });
        };
        // The directory is read once: the labels and the bundle come from
        // the same bytes.
        let files = crate::load::read_bundle_dir(dir).map_err(|error| SourceError::Bundle(BundleError::Read(error)))?;
        Ok(ResolvedImage {
            labels: bundle_image_labels(&files),
            content: ImageContent::Files(files),
        })
    }
}

/// Loads the bundle image `reference`: its `image` is the reference, which
/// is also listed in `relatedImages`, as `opm render IMAGE` does.
pub(super) fn load_bundle_image(reference: &str, images: &dyn ImageResolver) -> Result<LoadedBundle, SourceError> {
    let image = images.resolve(reference)?;
    if !image.labels.contains_key(PACKAGE_LABEL) {
        return Err(SourceError::UnknownImageType {
            reference: reference.to_string(),
            labels: image.labels,
        });
    }
    let files = image.bundle_files()?;
    Ok(crate::load::load_bundle_files(&files, Some(reference))?)
}

/// Loads a bundle image unpacked in the cache, checking its package label
/// first (opm's rule); `image` is what the catalog names it (`None` for an
/// image with no registry name, such as an `oci:` layout).
pub fn load_unpacked_bundle(image: &super::pulled::FetchedImage, name: Option<&str>) -> Result<(LoadedBundle, BundleFiles), SourceError> {
    if !image.labels.contains_key(PACKAGE_LABEL) {
        return Err(SourceError::UnknownImageType {
            reference: image.reference.clone(),
            labels: image.labels.clone(),
        });
    }
    let files = ResolvedImage::unpacked(image).bundle_files()?;
    let loaded = crate::load::load_bundle_files(&files, name)?;
    Ok((loaded, files))
}

/// The labels `bundle.Dockerfile` would give the image of a bundle: the
/// entries of its annotations file (the first file of `metadata/` with a
/// non-empty `annotations` map), sorted by key; non-string values as JSON.
pub fn bundle_image_labels(files: &BundleFiles) -> BTreeMap<String, String> {
    for file in files.files_in(crate::load::METADATA_DIR) {
        let Ok(text) = std::str::from_utf8(&file.bytes) else {
            // Not an annotations file: the search goes on, as opm's does.
            continue;
        };
        let Some(Ok(document)) = crate::encoding::yaml_in::decode_stream(text).into_iter().next() else {
            continue;
        };
        if let Some(annotations) = document.value.get("annotations").and_then(Value::as_object)
            && !annotations.is_empty()
        {
            return annotations
                .iter()
                .map(|(key, value)| {
                    let text = match value {
                        Value::String(text) => text.clone(),
                        other => json::to_compact(other, false),
                    };
                    (key.clone(), text)
                })
                .collect();
        }
    }
    BTreeMap::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_image_pairs_split_at_the_last_equals_sign() {
        let images = LocalImages::from_pairs(&["quay.io/a/b:v1=x=dir".to_string()]).unwrap();
        assert!(images.has_image("quay.io/a/b:v1=x"));
        let error = LocalImages::from_pairs(&["quay.io/a/b:v1".to_string()]).unwrap_err();
        assert_eq!(error.to_string(), "--local-image \"quay.io/a/b:v1\": expected REF=DIR");
    }

    #[test]
    fn an_image_without_a_package_label_has_no_type() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("metadata")).unwrap();
        std::fs::write(
            dir.path().join("metadata/annotations.yaml"),
            "annotations:\n  operators.operatorframework.io.bundle.channels.v1: stable\n  b: 1\n",
        )
        .unwrap();
        let images = LocalImages::from_pairs(&[format!("img={}", dir.path().display())]).unwrap();
        let error = load_bundle_image("img", &images).unwrap_err();
        assert_eq!(
            error.to_string(),
            "render \"img\": image type could not be determined, found labels\n  b=1\n  operators.operatorframework.io.bundle.channels.v1=stable"
        );
        let error = load_bundle_image("other", &images).unwrap_err();
        assert!(matches!(error, SourceError::CannotPull { .. }), "{error}");
    }
}
