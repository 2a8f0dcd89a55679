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
use crate::image::catalog::{CatalogKind, catalog_image};
use crate::image::layout::{BaseImage, layout_files};
use crate::image::reference::Reference;
use crate::image::{Image, LayerFile};
use crate::load::BundleFiles;

use super::encode::{FBC_DIR, OutputFile, SQLITE_FILE};

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
    pub image: Arc<Image>,
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
    pub image: Arc<Image>,
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

/// The catalog images of one target (one per catalog format among its
/// files) and the layout holding them and its bundle images.
pub(super) fn target_images(
    target_name: &str,
    target_image: Option<&str>,
    formats: &[OutputFormat],
    files: &[OutputFile],
    bundles: &[TargetBundleImage],
    base: Option<&BaseImage>,
    epoch: u64,
) -> Result<(Vec<OutputFile>, Vec<BuiltImage>), String> {
    let mut built = Vec::new();
    for bundle in bundles {
        built.push(BuiltImage {
            role: ImageRole::Bundle { name: bundle.name.clone() },
            layout_tag: bundle.name.clone(),
            reference: bundle.reference.clone(),
            digest: bundle.image.digest().to_string(),
            image: Arc::clone(&bundle.image),
        });
    }
    for format in formats {
        let (kind, layer_files) = match format {
            OutputFormat::FbcJson | OutputFormat::FbcYaml => (
                CatalogKind::Fbc,
                files
                    .iter()
                    .filter_map(|file| {
                        let relative = file.path.strip_prefix(FBC_DIR).ok()?;
                        Some(LayerFile {
                            path: slash_path(relative),
                            bytes: file.bytes.clone(),
                        })
                    })
                    .collect::<Vec<_>>(),
            ),
            OutputFormat::Sqlite => (
                CatalogKind::Sqlite,
                files
                    .iter()
                    .filter(|file| file.path == Path::new(SQLITE_FILE))
                    .map(|file| LayerFile {
                        path: SQLITE_FILE.to_string(),
                        bytes: file.bytes.clone(),
                    })
                    .collect(),
            ),
        };
        let image = catalog_image(kind, layer_files, base, epoch).map_err(|error| {
            format!(
                "cannot build the {} catalog image of target `{target_name}`: {error}",
                format.name()
            )
        })?;
        let reference = target_image.map(|reference| {
            if formats.len() == 1 {
                reference.to_string()
            } else {
                with_tag_suffix(reference, format.name())
            }
        });
        built.push(BuiltImage {
            role: ImageRole::Catalog { format: *format },
            layout_tag: format!("catalog-{}", format.name()),
            reference,
            digest: image.digest().to_string(),
            image: Arc::new(image),
        });
    }
    let tagged: Vec<(String, &Image)> = built.iter().map(|image| (image.layout_tag.clone(), image.image.as_ref())).collect();
    let layout = layout_files(&tagged)
        .into_iter()
        .map(|(path, bytes)| OutputFile {
            path: PathBuf::from(OCI_DIR).join(path),
            bytes,
        })
        .collect();
    Ok((layout, built))
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
    #[test]
    fn several_formats_get_their_own_tags() {
        assert_eq!(super::with_tag_suffix("quay.io/a/cat:v1", "sqlite"), "quay.io/a/cat:v1-sqlite");
        assert_eq!(
            super::with_tag_suffix("localhost:5000/cat", "fbc-json"),
            "localhost:5000/cat:latest-fbc-json"
        );
    }
}

/// The lock file beside `catalog.toml` that pins each base image.
pub const LOCK_FILE: &str = "catalog.lock";

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct LockFile {
    #[serde(default, rename = "base-image")]
    base_images: Vec<LockedBase>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct LockedBase {
    name: String,
    digest: String,
}

/// Base images read for a build, by the text that names them, and the
/// lock file's text when it must change.
pub(super) struct Bases {
    pub by_name: BTreeMap<String, Arc<BaseImage>>,
    pub new_lock: Option<String>,
}

/// Reads every base image the targets name (`override_base` replaces
/// them all for one run) and checks each against `catalog.lock`. A base
/// whose digest moved is an input error; new bases are added to the lock.
pub(super) fn read_bases(
    config: &crate::config::Config,
    targets: &[&crate::config::Target],
    override_base: Option<&crate::config::BaseImage>,
) -> Result<Bases, Vec<Diagnostic>> {
    let lock_path = config.root.join(LOCK_FILE);
    let mut diagnostics = Vec::new();
    let lock: LockFile = match fs_err::read_to_string(&lock_path) {
        Ok(text) => toml::from_str(&text).map_err(|error| {
            vec![
                Diagnostic::error(
                    "lock",
                    format!("`{LOCK_FILE}` is not a lock file catbuild wrote: {}", error.message()),
                )
                .at(Location::file(&lock_path))
                .help(format!("delete `{LOCK_FILE}`; the next build writes it again")),
            ]
        })?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => LockFile::default(),
        Err(error) => return Err(vec![Diagnostic::error("lock", error.to_string()).at(Location::file(&lock_path))]),
    };
    let mut locked: BTreeMap<String, String> = lock.base_images.into_iter().map(|base| (base.name, base.digest)).collect();
    let mut changed = false;
    let mut by_name = BTreeMap::new();
    for target in targets {
        let base = override_base.unwrap_or(&target.base_image);
        let crate::config::BaseImage::Layout { text, dir, tag } = base else {
            continue;
        };
        if by_name.contains_key(text) {
            continue;
        }
        let at = |diagnostic: Diagnostic| match &target.base_image_span {
            Some(span) if override_base.is_none() => diagnostic.at(Location::span(&config.path, span.clone())),
            _ => diagnostic,
        };
        match crate::image::layout::read_image(dir, tag.as_deref()) {
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
                    .help("name an OCI image layout as `oci:DIR[:TAG]` (`skopeo copy docker://REF oci:DIR:TAG` makes one), or `scratch`"),
            ),
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let new_lock = changed.then(|| {
        let mut text = String::from(
            "# Written by catbuild: each base image of catalog.toml, pinned by digest.\n\
             # Commit it. Remove an entry to take a base image's new digest.\nversion = 1\n",
        );
        for (name, digest) in &locked {
            text.push_str(&format!(
                "\n[[base-image]]\nname = {}\ndigest = {}\n",
                toml::Value::String(name.clone()),
                toml::Value::String(digest.clone())
            ));
        }
        text
    });
    Ok(Bases { by_name, new_lock })
}

/// Replaces `catalog.lock` atomically (a temp file renamed over it).
pub(super) fn write_lock(root: &Path, text: &str) -> std::io::Result<()> {
    let mut temp = tempfile::NamedTempFile::new_in(root)?;
    std::io::Write::write_all(&mut temp, text.as_bytes())?;
    temp.as_file().sync_all()?;
    temp.persist(root.join(LOCK_FILE)).map_err(|error| error.error)?;
    Ok(())
}
