//! What a reference given to `render` names, decided in opm's order: an
//! image the resolver has (a `--local-image` wins over a path of the same
//! name), then a directory (a bundle when it has `manifests/` and
//! `metadata/`, else a File-Based Catalog), then a SQLite file (an opm
//! `index.db`), then, for anything that is not a path, an image reference.
//! Any other path that exists but is not a directory is refused, as opm
//! refuses it.

use std::path::{Path, PathBuf};

use super::{BundleOptions, BundleSource, ImageResolver, SourceError, load_bundle};
use crate::fbc::{self, DeclarativeConfig};

/// One `render` argument, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderReference {
    /// A bundle directory or a bundle image.
    Bundle(BundleSource),
    /// A File-Based Catalog directory.
    Catalog(PathBuf),
    /// An opm SQLite index (`index.db`), read as opm's `render` reads it.
    SqliteIndex(PathBuf),
}

impl RenderReference {
    /// Decides what `reference` names.
    pub fn classify(reference: &str, images: &dyn ImageResolver) -> Result<RenderReference, SourceError> {
        if images.has_image(reference) {
            return Ok(RenderReference::image(reference));
        }
        let path = Path::new(reference);
        if path.is_dir() {
            // As opm: a directory with a bundle's parts is a bundle, any
            // other one a catalog (whose loader reports what it cannot read).
            if crate::load::has_bundle_parts(path).unwrap_or(false) {
                return Ok(RenderReference::Bundle(BundleSource::Dir(path.to_path_buf())));
            }
            return Ok(RenderReference::Catalog(path.to_path_buf()));
        }
        if path.is_file() && crate::sqlite::is_sqlite_file(path) {
            return Ok(RenderReference::SqliteIndex(path.to_path_buf()));
        }
        if path.exists() {
            return Err(SourceError::NotADirectory {
                reference: reference.to_string(),
            });
        }
        Ok(RenderReference::image(reference))
    }

    /// A bundle image reference.
    pub fn image(reference: &str) -> RenderReference {
        RenderReference::Bundle(BundleSource::Image {
            reference: reference.to_string(),
        })
    }

    /// The bundle directory this reference names, if it names one.
    pub fn bundle_dir(&self) -> Option<&Path> {
        match self {
            RenderReference::Bundle(BundleSource::Dir(dir)) => Some(dir),
            _ => None,
        }
    }
}

/// What `opm render` prints for one reference: the bundle's blob, or every
/// blob of the catalog (bundles post-processed as opm's render does).
pub fn render_reference(reference: &RenderReference, options: &BundleOptions) -> Result<DeclarativeConfig, SourceError> {
    match reference {
        RenderReference::Bundle(BundleSource::Image { reference }) => render_image(reference, options),
        RenderReference::Bundle(source) => {
            let loaded = load_bundle(source, options)?;
            Ok(DeclarativeConfig {
                bundles: vec![loaded.bundle],
                ..DeclarativeConfig::default()
            })
        }
        RenderReference::Catalog(dir) => render_catalog_dir(dir),
        RenderReference::SqliteIndex(path) => {
            crate::sqlite::read_index(path, crate::sqlite::Dependencies::AsOpm).map_err(SourceError::Index)
        }
    }
}

/// The label of a File-Based Catalog image: where its FBC root is (spec E.1).
pub const CONFIGS_LABEL: &str = "operators.operatorframework.io.index.configs.v1";
/// The label of a SQLite index image: where its database is (spec E.4).
pub const DATABASE_LABEL: &str = "operators.operatorframework.io.index.database.v1";

fn render_catalog_dir(dir: &Path) -> Result<DeclarativeConfig, SourceError> {
    let mut config = fbc::load::load_dir(dir).map_err(SourceError::Catalog)?;
    for bundle in &mut config.bundles {
        fbc::render::post_process(bundle);
    }
    Ok(config)
}

/// An image, by its labels as opm's render reads them (spec A.7): the
/// configs label makes it a File-Based Catalog, the package label a
/// bundle, the database label a SQLite index; none is opm's
/// `image type could not be determined`.
fn render_image(reference: &str, options: &BundleOptions) -> Result<DeclarativeConfig, SourceError> {
    let image = options.images.resolve(reference)?;
    let root = match &image.content {
        super::ImageContent::Unpacked(root) => Some(root.clone()),
        super::ImageContent::Files(_) => None,
    };
    if let (Some(root), Some(configs)) = (&root, image.labels.get(CONFIGS_LABEL)) {
        return render_catalog_dir(&inside(root, reference, CONFIGS_LABEL, configs)?);
    }
    if image.labels.contains_key(super::PACKAGE_LABEL) {
        let files = image.bundle_files()?;
        let loaded = crate::load::load_bundle_files(&files, Some(reference))?;
        return Ok(DeclarativeConfig {
            bundles: vec![loaded.bundle],
            ..DeclarativeConfig::default()
        });
    }
    if let (Some(root), Some(database)) = (&root, image.labels.get(DATABASE_LABEL)) {
        let path = inside(root, reference, DATABASE_LABEL, database)?;
        return crate::sqlite::read_index(&path, crate::sqlite::Dependencies::AsOpm).map_err(SourceError::Index);
    }
    Err(SourceError::UnknownImageType {
        reference: reference.to_string(),
        labels: image.labels,
    })
}

/// The path a label names inside an unpacked image, which it may not leave.
fn inside(root: &Path, reference: &str, label: &str, value: &str) -> Result<PathBuf, SourceError> {
    let mut path = root.to_path_buf();
    for component in Path::new(value).components() {
        match component {
            std::path::Component::Normal(part) => path.push(part),
            std::path::Component::RootDir | std::path::Component::CurDir => {}
            _ => {
                return Err(SourceError::BadImageLabel {
                    reference: reference.to_string(),
                    label: label.to_string(),
                    value: value.to_string(),
                });
            }
        }
    }
    Ok(path)
}
