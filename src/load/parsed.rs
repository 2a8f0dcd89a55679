//! A bundle after opm's `Parse` and before rendering: the types that the
//! parse ([`super::bundle`], [`super::package_manifest`]) fills and the
//! renderer ([`super::render`]) reads, in a file of their own so neither
//! depends on the other.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::csv::ApiKey;
use super::document::{field, string_of, struct_of};
use super::error::{Location, Warning};
use crate::encoding::json::{self, Value};
use crate::fbc;

/// A CSV field a diagnostic may point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvField {
    /// `metadata.name`
    Name,
    /// `spec.version`
    Version,
    /// `spec.replaces`
    Replaces,
    /// `spec.skips`
    Skips,
    /// `metadata.annotations["olm.skipRange"]`
    SkipRange,
}

impl CsvField {
    const ALL: [CsvField; 5] = [
        CsvField::Name,
        CsvField::Version,
        CsvField::Replaces,
        CsvField::Skips,
        CsvField::SkipRange,
    ];

    fn key_path(self) -> &'static [&'static str] {
        match self {
            CsvField::Name => &["metadata", "name"],
            CsvField::Version => &["spec", "version"],
            CsvField::Replaces => &["spec", "replaces"],
            CsvField::Skips => &["spec", "skips"],
            CsvField::SkipRange => &["metadata", "annotations", super::annotations::ANNOTATION_SKIP_RANGE],
        }
    }

    /// The key paths, in the order of [`CsvFieldLines`].
    pub(crate) fn key_paths() -> [&'static [&'static str]; 5] {
        CsvField::ALL.map(CsvField::key_path)
    }
}

/// Where the keys of [`CsvField`]s are in a manifest file (1-based lines),
/// from the YAML node positions of the decode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsvFieldLines([Option<usize>; 5]);

impl CsvFieldLines {
    pub(crate) fn from_lines(lines: &[Option<usize>]) -> CsvFieldLines {
        let mut found = [None; 5];
        for (slot, line) in found.iter_mut().zip(lines) {
            *slot = *line;
        }
        CsvFieldLines(found)
    }

    pub fn line(&self, field: CsvField) -> Option<usize> {
        let idx = CsvField::ALL.iter().position(|candidate| *candidate == field)?;
        self.0[idx]
    }
}

/// One decoded manifest.
pub(crate) struct ManifestObject {
    /// The file it came from (the template, for a rendered one).
    pub file: PathBuf,
    pub line: usize,
    /// Shared with every other bundle that has the same bytes ([`super::memo`]).
    pub value: std::sync::Arc<Value>,
    /// Lines of the CSV fields diagnostics point at (for a CSV).
    pub field_lines: CsvFieldLines,
    /// Its `olm.bundle.object` value once rendered, shared like `value`.
    pub rendered: std::sync::Arc<std::sync::OnceLock<String>>,
}

/// A property or dependency as opm holds it before rendering: the value is
/// raw JSON text, `None` for a missing value (a nil `json.RawMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawProperty {
    pub type_: String,
    pub value: Option<String>,
}

impl RawProperty {
    /// opm's dedup key, `Property.String()`.
    pub(crate) fn key(&self) -> (&str, &str) {
        (&self.type_, self.value.as_deref().unwrap_or(""))
    }
}

/// Facts of the CSV that the parse reads once.
pub(crate) struct CsvFacts {
    pub name: String,
    pub version: Result<String, String>,
    pub release: Result<String, String>,
}

/// The annotation `com.redhat.openshift.versions` as written in a bundle's
/// annotations file: which OpenShift catalogs get the bundle
/// ([`crate::openshift::parse_annotation`] reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenshiftVersions {
    /// The text: a string's value, a number as written (`4.10`, which the
    /// release pipeline's YAML reader takes for 4.1), `""` for a null.
    pub value: String,
    /// Plain for a YAML number, quoted for a string.
    pub style: crate::openshift::ScalarStyle,
    /// 1-based line of the key in the annotations file.
    pub line: Option<usize>,
}

/// A bundle after opm's `Parse`, before rendering.
pub(crate) struct ParsedBundle {
    pub dir: PathBuf,
    pub objects: Vec<ManifestObject>,
    pub csv_idx: usize,
    pub csv: CsvFacts,
    pub package: String,
    /// The file the package came from (annotations, or package manifest).
    pub package_source: PathBuf,
    pub channels: Vec<String>,
    pub default_channel: Option<String>,
    /// `com.redhat.openshift.versions`, when the annotations file has it.
    pub openshift_versions: Option<OpenshiftVersions>,
    /// `bundle.Properties`: properties.yaml entries then derived ones, deduplicated.
    pub properties: Vec<RawProperty>,
    /// `bundle.Dependencies`: dependencies.yaml entries.
    pub dependencies: Vec<RawProperty>,
    pub provided_apis: BTreeSet<ApiKey>,
    pub required_apis: Result<BTreeSet<ApiKey>, String>,
    pub warnings: Vec<Warning>,
}

impl ParsedBundle {
    pub fn csv_object(&self) -> &ManifestObject {
        &self.objects[self.csv_idx]
    }

    pub fn csv_location(&self) -> Location {
        let object = self.csv_object();
        Location {
            file: object.file.clone(),
            line: Some(object.line),
        }
    }

    pub(crate) fn first_package_version(&self) -> Result<String, String> {
        let Some(property) = self.properties.iter().find(|property| property.type_ == fbc::PROPERTY_PACKAGE) else {
            return Ok(String::new());
        };
        let value = json::parse(property.value.as_deref().unwrap_or("")).map_err(|_| "unexpected end of JSON input".to_string())?;
        let fields = struct_of(Some(&value), None, "property.Package")?.unwrap_or_default();
        string_of(field(fields, "version"), Some("Package.version"))
    }
}
