//! Where bundles come from: a registry+v1 bundle directory on disk, or a
//! bundle image found through an [`ImageResolver`]: [`LocalImages`]
//! (`--local-image REF=DIR`: the image built from a directory), or images
//! pulled and unpacked ([`pulled::PulledImages`] for `bundle-images` in a
//! build, [`pulled::RenderImages`] for `render`).
//!
//! * [`image`]: the resolver seam and opm's image-label rules (spec A.7):
//!   a bundle image is recognised by its package label.
//! * [`reference`]: what `render REF` means for each kind of reference
//!   (bundle directory, FBC directory, image), in opm's order.
//! * [`pulled`]: images pulled from a registry or an OCI layout and
//!   unpacked into a cache, and the resolvers that read them.
//!
//! Error texts are opm's where `render` and `template` replicate opm
//! (the conformance cases compare them); nothing here prints.

mod image;
pub mod pulled;
mod reference;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use image::{ImageContent, ImageResolver, LocalImages, PACKAGE_LABEL, ResolvedImage, bundle_image_labels, load_unpacked_bundle};
pub use reference::{CONFIGS_LABEL, DATABASE_LABEL, RenderReference, render_reference};

use crate::diag::Diagnostic;
use crate::load::{BundleError, LoadedBundle};

/// One bundle, by where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleSource {
    /// A registry+v1 bundle directory (`manifests/` + `metadata/`).
    Dir(PathBuf),
    /// A bundle image reference, resolved by an [`ImageResolver`].
    Image { reference: String },
}

/// How to load bundles: which images exist, and what a directory's
/// `.j2` files and image reference become.
#[derive(Clone, Copy)]
pub struct BundleOptions<'a> {
    pub images: &'a dyn ImageResolver,
    /// opm's `--alpha-image-ref-template` for bundle directories:
    /// `{{.Package}}`, `{{.Name}}`, `{{.Version}}` are replaced.
    pub image_ref_template: Option<&'a str>,
    /// The project's variables, for bundle directories with `.j2` files;
    /// without them such a directory is an error.
    pub template_vars: Option<TemplateVars<'a>>,
}

/// The variables `.j2` files are rendered with, and the project root that
/// diagnostics are relative to.
#[derive(Debug, Clone, Copy)]
pub struct TemplateVars<'a> {
    pub vars: &'a BTreeMap<String, String>,
    pub root: &'a Path,
}

/// Why a bundle or reference could not be loaded. `Display` is opm's text
/// where catbuild replicates opm.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The resolver does not have the image (it was not pulled).
    #[error("image {reference:?} is not among the images at hand (pulled, or given with --local-image {reference}=DIR)")]
    CannotPull { reference: String },
    /// The image could not be pulled, or its content is refused.
    #[error(transparent)]
    Fetch(pulled::FetchError),
    /// The image has no package label, so opm cannot tell what it is.
    #[error("{}", unknown_image_type(reference, labels))]
    UnknownImageType {
        reference: String,
        labels: BTreeMap<String, String>,
    },
    /// A reference that names neither a path nor an image.
    #[error("{reference:?}: {message}")]
    BadReference { reference: String, message: String },
    /// A catalog image whose label names a path outside the image.
    #[error("image {reference:?}: label {label}={value:?} names a path outside the image")]
    BadImageLabel { reference: String, label: String, value: String },
    /// A `--local-image` value without `=`.
    #[error("--local-image {pair:?}: expected REF=DIR")]
    MalformedLocalImage { pair: String },
    /// A render reference that is a path but not a directory.
    #[error("ref {reference:?} is not a directory: not allowed")]
    NotADirectory { reference: String },
    /// An FBC directory that does not load.
    #[error("{}: {}", .0.path.display(), .0)]
    Catalog(crate::fbc::load::LoadError),
    /// A bundle that does not load (opm's text).
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// A bundle directory with `.j2` files and no project variables:
    /// `catbuild build` renders them.
    #[error("{}", templated_bundle(templates))]
    TemplatedBundle { dir: PathBuf, templates: Vec<PathBuf> },
    /// `--alpha-image-ref-template` on a bundle with `.j2` files: the
    /// project's `bundle-image` names such bundles.
    #[error(
        "`--alpha-image-ref-template` does not apply to a bundle with templated files; `bundle-image` in `catalog.toml` names its image when `catbuild build` renders it"
    )]
    ImageRefTemplateOnTemplatedBundle { dir: PathBuf },
    /// An opm `index.db` that cannot be read, or whose model is invalid.
    #[error("{}", index_error(.0))]
    Index(crate::sqlite::ReadError),
    /// Rendering the `.j2` files or loading the rendered bundle failed.
    #[error("{} problem(s) in a templated bundle", .0.len())]
    Templated(Vec<Diagnostic>),
}

/// The error, then its hint on a line of its own.
fn index_error(error: &crate::sqlite::ReadError) -> String {
    match &error.help {
        Some(help) => format!("{error}\nhint: {help}"),
        None => error.to_string(),
    }
}

/// Loads one bundle.
pub fn load_bundle(source: &BundleSource, options: &BundleOptions) -> Result<LoadedBundle, SourceError> {
    match source {
        BundleSource::Dir(dir) => load_bundle_dir(dir, options),
        BundleSource::Image { reference } => image::load_bundle_image(reference, options.images),
    }
}

/// `.j2` files directly inside a bundle directory's `manifests/` and
/// `metadata/`, which only a build with the project's variables renders.
/// A directory that cannot be read has none here; loading it says why.
pub fn templated_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(files) = crate::load::read_bundle_dir(dir) else {
        return Vec::new();
    };
    files
        .files
        .iter()
        .filter(|file| file.path.extension().is_some_and(|extension| extension == "j2"))
        .map(|file| dir.join(&file.path))
        .collect()
}

fn load_bundle_dir(dir: &Path, options: &BundleOptions) -> Result<LoadedBundle, SourceError> {
    let templates = templated_files(dir);
    if !templates.is_empty() {
        let Some(template_vars) = options.template_vars else {
            let templates = templates
                .iter()
                .map(|template| template.strip_prefix(dir).unwrap_or(template).to_path_buf())
                .collect();
            return Err(SourceError::TemplatedBundle {
                dir: dir.to_path_buf(),
                templates,
            });
        };
        if options.image_ref_template.is_some() {
            return Err(SourceError::ImageRefTemplateOnTemplatedBundle { dir: dir.to_path_buf() });
        }
        return crate::pipeline::load_templated_bundle(dir, template_vars.vars, template_vars.root).map_err(SourceError::Templated);
    }
    let loaded = match options.image_ref_template {
        None => crate::load::load_bundle_dir(dir, None),
        Some(template) => crate::load::load_bundle_dir_with_template(dir, &|data: &crate::load::ImageRefTemplateData| {
            Ok(template
                .replace("{{.Package}}", &data.package)
                .replace("{{.Name}}", &data.name)
                .replace("{{.Version}}", &data.version))
        }),
    }?;
    Ok(loaded)
}

/// opm's `image type could not be determined` (renderImageConfig), with the
/// labels it found, one per line, sorted by key.
fn unknown_image_type(reference: &str, labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return format!("render {reference:?}: image type could not be determined: image has no labels");
    }
    let listed: String = labels.iter().map(|(key, value)| format!("\n  {key}={value}")).collect();
    format!("render {reference:?}: image type could not be determined, found labels{listed}")
}

fn templated_bundle(templates: &[PathBuf]) -> String {
    let listed: Vec<String> = templates
        .iter()
        .map(|template| format!("`{}`", template.to_string_lossy().replace('\\', "/")))
        .collect();
    format!(
        "the bundle has templated files ({}), which `catbuild build` renders with the `[vars]` of `catalog.toml`",
        listed.join(", ")
    )
}
