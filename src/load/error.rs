//! Errors and warnings of bundle loading, as data.
//!
//! Each error's text starts with what opm prints for the same problem (the
//! CLI adds opm's `render reference "<ref>": ` prefix), followed by where
//! catbuild found it, so a user sees both the familiar message and the file.
//! Paths inside a bundle are shown relative to the bundle root
//! (`manifests/foo.csv.yaml`), as a bundle image has no other root.

use std::fmt;
use std::path::PathBuf;

/// Where in a bundle something was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Path relative to the bundle root, e.g. `manifests/foo.csv.yaml`.
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
    #[error("read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// No `manifests/` sub-directory. `nested` names a `bundle/` or
    /// `certification/` sub-directory that holds one (an upstream packaging
    /// mistake opm does not follow either).
    #[error("{}", no_manifests_text(dir, nested.as_ref()))]
    NoManifestsDir {
        dir: PathBuf,
        nested: Option<PathBuf>,
    },

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

fn no_manifests_text(dir: &std::path::Path, nested: Option<&PathBuf>) -> String {
    let mut text = format!(
        "error opening manifests directory: no `manifests/` directory in {}",
        dir.display()
    );
    if let Some(nested) = nested {
        text.push_str(&format!(
            "; a bundle is nested at {}\nhint: point catbuild at `{}` if that is the bundle you mean (opm does not look there either)",
            nested.display(),
            nested.display()
        ));
    }
    text
}

fn location_suffix(location: Option<&Location>) -> String {
    location
        .map(|location| format!(" (in {location})"))
        .unwrap_or_default()
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
