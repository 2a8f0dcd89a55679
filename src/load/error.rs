//! Errors and warnings of bundle loading, as data.
//!
//! Each error's text starts with what opm prints for the same problem (the
//! CLI adds opm's `render reference "<ref>": ` prefix), followed by where
//! catbuild found it, so a user sees both the familiar message and the file.
//! [`BundleError::location`] and [`BundleError::help`] give the same facts
//! as data for diagnostics.

use std::fmt;
use std::path::PathBuf;

use super::read::ReadError;

/// Where in a bundle something was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, e.g. `<bundle>/manifests/foo.csv.yaml`.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        Ok(())
    }
}

/// A bundle that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file or directory of the bundle cannot be read.
    #[error(transparent)]
    Read(#[from] ReadError),

    /// No `manifests/` sub-directory. `nested` names a `bundle/` or
    /// `certification/` sub-directory that holds one (an upstream packaging
    /// mistake opm does not follow either).
    #[error("{}", no_manifests_text(dir, nested.as_ref()))]
    NoManifestsDir { dir: PathBuf, nested: Option<PathBuf> },

    #[error("error opening metadata directory: no `metadata/` directory in {}", dir.display())]
    NoMetadataDir { dir: PathBuf },

    /// Every manifest failed to decode, or `manifests/` is empty.
    #[error("no bundle objects found (in {}/manifests)", dir.display())]
    NoBundleObjects { dir: PathBuf },

    #[error("no csv in bundle (no file in {}/manifests decodes to kind ClusterServiceVersion)", dir.display())]
    NoCsv { dir: PathBuf },

    /// The CSV (or a CRD) cannot be read through opm's typed view.
    #[error("{message} (in {location})")]
    Manifest { location: Location, message: String },

    /// An owned CRD of the CSV is missing, or a CRD name is malformed.
    #[error("error checking provided apis in bundle {csv_name}: {message} (CSV {location})")]
    ProvidedApis {
        csv_name: String,
        location: Location,
        message: String,
    },

    #[error(
        "Could not find annotations file (no file in {}/metadata decodes to a non-empty `annotations:` map)",
        dir.display()
    )]
    NoAnnotations { dir: PathBuf },

    /// The CSV version, release or provided APIs cannot be read while
    /// building the `olm.package` and `olm.gvk` properties.
    #[error("failed to derive properties: {message} (CSV {location})")]
    DeriveProperties { location: Location, message: String },

    /// A property or dependency has a value of the wrong shape.
    #[error("get properties for bundle {csv_name:?}: {message}{}", location_suffix(location.as_ref()))]
    Properties {
        csv_name: String,
        location: Option<Location>,
        message: String,
    },

    #[error("get related images for bundle {csv_name:?}: {message} (CSV {location})")]
    RelatedImages {
        csv_name: String,
        location: Location,
        message: String,
    },

    /// `--alpha-image-ref-template` failed.
    #[error("failed templating image reference from bundle for {:?}: {message}", dir.display().to_string())]
    ImageRefTemplate { dir: PathBuf, message: String },
}

impl BundleError {
    /// The file (or directory) to point at, and the 1-based line when known.
    pub fn location(&self) -> Option<(PathBuf, Option<usize>)> {
        let at = |location: &Location| Some((location.file.clone(), location.line));
        match self {
            BundleError::Read(error) => Some((error.path().to_path_buf(), None)),
            BundleError::NoManifestsDir { dir, .. } | BundleError::NoMetadataDir { dir } | BundleError::ImageRefTemplate { dir, .. } => {
                Some((dir.clone(), None))
            }
            BundleError::NoBundleObjects { dir } | BundleError::NoCsv { dir } => Some((dir.join(super::MANIFESTS_DIR), None)),
            BundleError::NoAnnotations { dir } => Some((dir.join(super::METADATA_DIR), None)),
            BundleError::Manifest { location, .. }
            | BundleError::ProvidedApis { location, .. }
            | BundleError::DeriveProperties { location, .. }
            | BundleError::RelatedImages { location, .. } => at(location),
            BundleError::Properties { location, .. } => location.as_ref().and_then(at),
        }
    }

    /// A hint for the user, when the fix is known.
    pub fn help(&self) -> Option<String> {
        match self {
            BundleError::NoManifestsDir { nested: Some(nested), .. } => Some(format!(
                "the bundle seems to be nested at `{}`: point catbuild there if that is the bundle you mean (opm does not look there either)",
                nested.display()
            )),
            BundleError::NoManifestsDir { nested: None, .. } => {
                Some("a registry+v1 bundle has its manifests in `manifests/` and `metadata/annotations.yaml` beside it".to_string())
            }
            BundleError::NoCsv { .. } => Some(
                "every bundle needs one ClusterServiceVersion in `manifests/`; files that fail to decode are skipped (see the warnings)"
                    .to_string(),
            ),
            BundleError::NoAnnotations { .. } => Some(format!(
                "add `metadata/annotations.yaml` with `annotations:` holding `{}`",
                super::annotations::ANNOTATION_PACKAGE
            )),
            BundleError::ProvidedApis { .. } => Some(
                "each owned CRD of the CSV (`spec.customresourcedefinitions.owned`) must be a CRD manifest in `manifests/`".to_string(),
            ),
            BundleError::Read(error) => error.help(),
            BundleError::DeriveProperties { message, .. } if message.contains("into Go value of type string") => {
                Some("quote `spec.version` in the CSV (an unquoted `1.0` is a number)".to_string())
            }
            _ => None,
        }
    }
}

fn no_manifests_text(dir: &std::path::Path, nested: Option<&PathBuf>) -> String {
    let mut text = format!("error opening manifests directory: no `manifests/` directory in {}", dir.display());
    if let Some(nested) = nested {
        text.push_str(&format!("; a bundle is nested at {}", nested.display()));
    }
    text
}

fn location_suffix(location: Option<&Location>) -> String {
    location.map(|location| format!(" (in {location})")).unwrap_or_default()
}

impl Warning {
    /// The file the warning is about, and the line when known.
    pub fn location(&self) -> (PathBuf, Option<usize>) {
        match self {
            Warning::ExtraDocuments { file } | Warning::ExtraCsv { file, .. } => (file.clone(), None),
            Warning::UndecodableManifest { location, .. }
            | Warning::UndecodableMetadata { location, .. }
            | Warning::CsvPropertiesAnnotation { location, .. }
            | Warning::CsvFieldIgnored { location, .. } => (location.file.clone(), location.line),
        }
    }
}

/// Something opm logs and carries on from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Warning {
    /// Only the first document of a manifest or metadata file is read.
    #[error("found more than one document inside {}, using only the first one", file.display())]
    ExtraDocuments { file: PathBuf },

    /// A manifest that does not decode (bad YAML, no `kind`, not an
    /// object) is skipped.
    #[error("failed to decode: {message} (skipped {location})")]
    UndecodableManifest { location: Location, message: String },

    /// A later CSV in `manifests/` is dropped: only the first counts.
    #[error("ignoring {}: only the first ClusterServiceVersion in manifests/ is used ({})", file.display(), kept.display())]
    ExtraCsv { file: PathBuf, kept: PathBuf },

    /// A `metadata/` file that is not valid YAML is ignored by opm without a
    /// word (so a broken dependencies.yaml silently drops dependencies).
    #[error("ignoring {location}: not valid YAML ({message}); opm ignores it silently")]
    UndecodableMetadata { location: Location, message: String },

    /// The CSV's `olm.properties` annotation is not a JSON list of properties.
    #[error("failed to unmarshal csv annotation properties: {message} (CSV {location})")]
    CsvPropertiesAnnotation { location: Location, message: String },

    /// A CSV field used for the upgrade graph (`spec.replaces`, `spec.skips`)
    /// has the wrong type; the value is taken as empty.
    #[error("ignoring CSV {field}: {message} (CSV {location})")]
    CsvFieldIgnored {
        location: Location,
        field: &'static str,
        message: String,
    },
}
