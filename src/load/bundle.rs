//! Parsing a registry+v1 bundle as opm's `pkg/registry/parse.go` does, from
//! its files in memory ([`super::read`]), and rendering it into an
//! `olm.bundle` blob.
//!
//! The parse does no I/O: reading is a step of its own, so every file a
//! bundle is made of is a declared input with a digest, and a templated
//! bundle is parsed from its rendered files without a temp directory. Paths
//! in errors and warnings are the files that were read (the `.j2` file for
//! a rendered template), joined to the bundle directory.
//!
//! The parse keeps opm's order of checks, because which error a broken
//! bundle reports depends on it: manifests (no objects, no CSV, CSV and CRD
//! typed views, owned CRDs present), then metadata (annotations required),
//! then the derived properties (CSV version and release).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::annotations::{
    ANNOTATION_CHANNELS, ANNOTATION_DEFAULT_CHANNEL, ANNOTATION_OPENSHIFT_VERSIONS, ANNOTATION_PACKAGE, ANNOTATION_PROPERTIES,
};
use super::csv::{ApiKey, CsvView, KIND_CRD, KIND_CSV, crd_provided_apis};
use super::document::{
    FirstDocument, coerced_string, decode_first_locating, field, into_unstructured, kind_of, missing_kind_message, raw_message, slice_of,
    string_of, struct_of, type_error,
};
use super::error::{BundleError, Location, Warning};
use super::memo::{Decoded, DecodedObject};
use super::parsed::{CsvFacts, CsvField, CsvFieldLines, ManifestObject, OpenshiftVersions, ParsedBundle, RawProperty};
use super::read::{BundleFiles, MANIFESTS_DIR, METADATA_DIR, Sha256Digest, read_bundle_dir};
use super::render;
use crate::encoding::json::{self, Value};
use crate::fbc;

/// A bundle read from a directory, rendered, with the facts that graph
/// building needs (replaces mode, D.4/D.5) kept next to the blob.
#[derive(Debug, Clone)]
pub struct LoadedBundle {
    /// The directory the bundle was read from.
    pub dir: PathBuf,
    /// The rendered blob, exactly as `opm render` prints it.
    pub bundle: fbc::Bundle,
    /// From the package annotation (or the package manifest).
    pub package: String,
    /// The channels annotation split on `,` without trimming (opm's
    /// `GetChannels`); empty when the annotation is empty.
    pub channels: Vec<String>,
    /// `com.redhat.openshift.versions` of the annotations file (in
    /// [`LoadedBundle::annotations_path`]), when it has the key.
    pub openshift_versions: Option<OpenshiftVersions>,
    /// The default-channel annotation, when set and non-empty.
    pub default_channel: Option<String>,
    /// CSV `metadata.name` (= bundle name).
    pub csv_name: String,
    /// The CSV file (the template it was rendered from, if any).
    pub csv_path: PathBuf,
    /// CSV `spec.version` (may be empty: opm does not check it on load).
    pub version: String,
    /// CSV `spec.release` (HEAD opm), formatted as opm formats it.
    pub release: String,
    /// CSV `spec.replaces`, empty when absent.
    pub replaces: String,
    /// CSV `spec.skips`.
    pub skips: Vec<String>,
    /// CSV annotation `olm.skipRange`, empty when absent.
    pub skip_range: String,
    /// The CSV object as opm holds it (keys sorted, numbers as Go's
    /// unstructured decoding leaves them).
    pub csv: Value,
    /// What opm would have logged.
    pub warnings: Vec<Warning>,
    /// For each `olm.bundle.object` of `bundle`, in its order, the position
    /// of that manifest among the bundle's files: opm's SQLite index keeps
    /// the objects in file order, the FBC sorts them.
    pub object_file_order: Vec<u32>,
    /// For a bundle of a package-manifest directory: every channel of the
    /// package file, in its order (the initializer inserts channels, and so
    /// numbers `channel_entry` rows, in that order). Empty otherwise.
    pub manifest_channel_order: Vec<String>,
    /// Every file the bundle was made of (relative to `dir`; templates as
    /// read, before rendering) and the sha256 of its bytes, sorted by path.
    pub inputs: Vec<(PathBuf, Sha256Digest)>,
    /// Where `package`, `channels` and `default_channel` came from.
    annotations_path: PathBuf,
    /// Lines of the CSV fields diagnostics point at.
    csv_field_lines: CsvFieldLines,
}

impl LoadedBundle {
    /// The file that declares the bundle's package and channels: the
    /// annotations file of `metadata/`, or the package manifest.
    pub fn annotations_path(&self) -> PathBuf {
        self.annotations_path.clone()
    }

    /// The CSV file and the line of `field`'s key, when the CSV has it.
    pub fn csv_field_location(&self, field: CsvField) -> Location {
        Location {
            file: self.csv_path.clone(),
            line: self.csv_field_lines.line(field),
        }
    }
}

/// The data `--alpha-image-ref-template` sees (`{{.Package}}`, `{{.Name}}`,
/// `{{.Version}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRefTemplateData {
    pub package: String,
    pub name: String,
    /// The version of the bundle's first `olm.package` property.
    pub version: String,
}

/// Reads, loads and renders the bundle in `dir`. `image` is the bundle image
/// reference when the directory stands for a pulled image (the blob's
/// `image` is set and the image is added to `relatedImages` with name ""),
/// `None` for a plain directory (`image: ""`).
pub fn load_bundle_dir(dir: &Path, image: Option<&str>) -> Result<LoadedBundle, BundleError> {
    let files = read_bundle_dir(dir)?;
    load_bundle_files(&files, image)
}

/// Loads and renders a bundle from its files in memory (see
/// [`load_bundle_dir`] for `image`).
pub fn load_bundle_files(files: &BundleFiles, image: Option<&str>) -> Result<LoadedBundle, BundleError> {
    let parsed = parse_bundle_files(files)?;
    finish(parsed, image.unwrap_or(""), files.inputs())
}

/// Loads a bundle directory whose image reference is computed from the
/// bundle (`opm render DIR --alpha-image-ref-template T`). As in opm, the
/// templated reference counts as the bundle image for `relatedImages` too.
pub fn load_bundle_dir_with_template(
    dir: &Path,
    template: &dyn Fn(&ImageRefTemplateData) -> Result<String, String>,
) -> Result<LoadedBundle, BundleError> {
    let files = read_bundle_dir(dir)?;
    let parsed = parse_bundle_files(&files)?;
    let version = parsed.first_package_version().map_err(|message| BundleError::ImageRefTemplate {
        dir: dir.to_path_buf(),
        message,
    })?;
    let data = ImageRefTemplateData {
        package: parsed.package.clone(),
        name: parsed.csv.name.clone(),
        version,
    };
    let image = template(&data).map_err(|message| BundleError::ImageRefTemplate {
        dir: dir.to_path_buf(),
        message,
    })?;
    finish(parsed, &image, files.inputs())
}

// ---------------------------------------------------------------------------

pub(crate) fn finish(parsed: ParsedBundle, image: &str, inputs: Vec<(PathBuf, Sha256Digest)>) -> Result<LoadedBundle, BundleError> {
    let (bundle, object_file_order) = render::render_bundle(&parsed, image)?;
    let ParsedBundle {
        dir,
        mut objects,
        csv_idx,
        csv,
        package,
        package_source,
        channels,
        default_channel,
        openshift_versions,
        mut warnings,
        ..
    } = parsed;
    let csv_object = objects.swap_remove(csv_idx);
    let location = Location {
        file: csv_object.file.clone(),
        line: Some(csv_object.line),
    };
    let view = CsvView::new(&csv_object.value).map_err(|message| BundleError::Manifest {
        location: location.clone(),
        message,
    })?;
    let replaces = view.replaces().unwrap_or_else(|message| {
        warnings.push(Warning::CsvFieldIgnored {
            location: location.clone(),
            field: "spec.replaces",
            message,
        });
        String::new()
    });
    let skips = view.skips().unwrap_or_else(|message| {
        warnings.push(Warning::CsvFieldIgnored {
            location: location.clone(),
            field: "spec.skips",
            message,
        });
        Vec::new()
    });
    let skip_range = view.skip_range();
    drop(view);
    Ok(LoadedBundle {
        dir,
        bundle,
        package,
        channels,
        default_channel,
        openshift_versions,
        csv_name: csv.name,
        csv_path: csv_object.file,
        version: csv.version.unwrap_or_default(),
        release: csv.release.unwrap_or_default(),
        replaces,
        skips,
        skip_range,
        csv: Arc::unwrap_or_clone(csv_object.value),
        warnings,
        inputs,
        annotations_path: package_source,
        csv_field_lines: csv_object.field_lines,
        object_file_order,
        manifest_channel_order: Vec::new(),
    })
}

/// opm's `bundleParser.Parse` over a bundle's files.
pub(crate) fn parse_bundle_files(files: &BundleFiles) -> Result<ParsedBundle, BundleError> {
    let dir = files.dir.as_path();
    if !files.has_directory(MANIFESTS_DIR) {
        let nested = super::read::NESTED_BUNDLE_DIRS
            .iter()
            .find(|name| files.has_directory(&format!("{name}/{MANIFESTS_DIR}")))
            .map(|name| dir.join(name));
        return Err(BundleError::NoManifestsDir {
            dir: dir.to_path_buf(),
            nested,
        });
    }
    let mut warnings = Vec::new();
    let (objects, csv_idx) = read_manifests(files, &mut warnings)?;
    let manifests = Manifests::check(dir, objects, csv_idx)?;

    if !files.has_directory(METADATA_DIR) {
        return Err(BundleError::NoMetadataDir { dir: dir.to_path_buf() });
    }
    let metadata = read_metadata(files, &mut warnings);
    let Some(annotations) = metadata.annotations else {
        return Err(BundleError::NoAnnotations { dir: dir.to_path_buf() });
    };
    let channels = if annotations.channels.is_empty() {
        Vec::new()
    } else {
        annotations.channels.split(',').map(str::to_string).collect()
    };
    let default_channel = (!annotations.default_channel.is_empty()).then(|| annotations.default_channel.clone());

    let mut parsed = ParsedBundle {
        dir: dir.to_path_buf(),
        csv: manifests.csv,
        csv_idx: manifests.csv_idx,
        objects: manifests.objects,
        package: annotations.package,
        package_source: annotations.path,
        channels,
        default_channel,
        openshift_versions: annotations.openshift_versions,
        properties: Vec::new(),
        dependencies: metadata.dependencies,
        provided_apis: manifests.provided_apis,
        required_apis: manifests.required_apis,
        warnings,
    };
    let derived = derived_properties(&mut parsed)?;
    let mut properties = metadata.properties;
    properties.extend(derived);
    parsed.properties = property_set(properties);
    Ok(parsed)
}

/// The files of `manifests/` (read non-recursively, hidden files left out),
/// decoded in name order; returns the objects and the first CSV's index.
fn read_manifests(files: &BundleFiles, warnings: &mut Vec<Warning>) -> Result<(Vec<ManifestObject>, Option<usize>), BundleError> {
    let mut objects = Vec::new();
    let mut csv_idx = None;
    for file in files.files_in(MANIFESTS_DIR) {
        if file.name().starts_with('.') {
            continue;
        }
        // A rendered template's digest is its source's, not its bytes'.
        let digest = (file.path == file.source).then_some(&file.source_digest);
        let Some(object) = decode_manifest(files.dir.join(&file.source), &file.bytes, digest, warnings) else {
            continue;
        };
        if kind_of(&object.value) == KIND_CSV {
            if let Some(kept) = csv_idx {
                let kept: &ManifestObject = &objects[kept];
                warnings.push(Warning::ExtraCsv {
                    file: object.file,
                    kept: kept.file.clone(),
                });
                continue;
            }
            csv_idx = Some(objects.len());
        }
        objects.push(object);
    }
    Ok((objects, csv_idx))
}

/// Decodes one manifest (the bytes of `file`, whose sha256 is `digest`
/// when known) into an unstructured object, or skips it with a warning as
/// opm does. Bytes decoded before are not decoded again ([`super::memo`]).
pub(crate) fn decode_manifest(
    file: PathBuf,
    bytes: &[u8],
    digest: Option<&Sha256Digest>,
    warnings: &mut Vec<Warning>,
) -> Option<ManifestObject> {
    match &*super::memo::decoded(digest, bytes, || decode_manifest_bytes(bytes)) {
        Decoded::Skipped { message, line } => {
            warnings.push(Warning::UndecodableManifest {
                location: Location { file, line: *line },
                message: message.clone(),
            });
            None
        }
        Decoded::Object(object) => {
            if object.extra_documents {
                warnings.push(Warning::ExtraDocuments { file: file.clone() });
            }
            Some(ManifestObject {
                file,
                line: object.line,
                value: Arc::clone(&object.value),
                field_lines: object.field_lines,
                rendered: Arc::clone(&object.rendered),
            })
        }
    }
}

/// What decoding `bytes` gives, whatever file they are in.
fn decode_manifest_bytes(bytes: &[u8]) -> Decoded {
    let skip = |message: String, line: Option<usize>| Decoded::Skipped { message, line };
    let key_paths = CsvField::key_paths();
    let (
        FirstDocument {
            value,
            line,
            extra_documents,
            ..
        },
        key_lines,
    ) = match decode_first_locating(bytes, &key_paths) {
        Ok(document) => document,
        Err(failure) => return skip(failure.message, failure.line),
    };
    let value = match value {
        Value::Object(_) => match into_unstructured(value) {
            Ok(value) => value,
            Err(message) => return skip(message, Some(line)),
        },
        Value::Null => return skip(missing_kind_message(&Value::Null), Some(line)),
        other => {
            return skip(type_error(&other, None, "map[string]interface {}"), Some(line));
        }
    };
    if kind_of(&value).is_empty() {
        return skip(missing_kind_message(&value), Some(line));
    }
    Decoded::Object(DecodedObject {
        line,
        value: Arc::new(value),
        field_lines: CsvFieldLines::from_lines(&key_lines),
        extra_documents,
        rendered: Arc::default(),
    })
}

/// The manifests after opm's `addManifests` checks.
pub(crate) struct Manifests {
    pub objects: Vec<ManifestObject>,
    pub csv_idx: usize,
    pub csv: CsvFacts,
    pub provided_apis: BTreeSet<ApiKey>,
    pub required_apis: Result<BTreeSet<ApiKey>, String>,
}

impl Manifests {
    /// No objects, no CSV, typed CSV/CRD views (`Bundle.cache`), then
    /// `AllProvidedAPIsInBundle`.
    pub(crate) fn check(dir: &Path, objects: Vec<ManifestObject>, csv_idx: Option<usize>) -> Result<Manifests, BundleError> {
        if objects.is_empty() {
            return Err(BundleError::NoBundleObjects { dir: dir.to_path_buf() });
        }
        let Some(csv_idx) = csv_idx else {
            return Err(BundleError::NoCsv { dir: dir.to_path_buf() });
        };
        let csv_object = &objects[csv_idx];
        let csv_location = Location {
            file: csv_object.file.clone(),
            line: Some(csv_object.line),
        };
        let view = CsvView::new(&csv_object.value).map_err(|message| BundleError::Manifest {
            location: csv_location.clone(),
            message,
        })?;
        let mut crd_apis = Vec::new();
        for object in &objects {
            if kind_of(&object.value) == KIND_CRD {
                let apis = crd_provided_apis(&object.value).map_err(|message| BundleError::Manifest {
                    location: Location {
                        file: object.file.clone(),
                        line: Some(object.line),
                    },
                    message,
                })?;
                crd_apis.extend(apis);
            }
        }
        let provided_error = |message: String| BundleError::ProvidedApis {
            csv_name: view.name.clone(),
            location: csv_location.clone(),
            message,
        };
        let provided_apis = provided_apis(&view, crd_apis).map_err(provided_error)?;
        let (owned, _) = view.crd_definitions().map_err(provided_error)?;
        let mut should_exist = Vec::new();
        for definition in &owned {
            should_exist.push(split_crd_name(&definition.name, &definition.version, &definition.kind).map_err(provided_error)?);
        }
        if let Some(missing) = should_exist.iter().find(|key| !provided_apis.contains(key)) {
            // Go prints the map with `%v`: keys via String(), sorted by field.
            let found = provided_apis.iter().map(|key| format!("{key}:{{}}")).collect::<Vec<_>>().join(" ");
            return Err(provided_error(format!("couldn't find {missing} in bundle. found: map[{found}]")));
        }
        let required_apis = required_apis(&view);
        let csv = CsvFacts {
            name: view.name.clone(),
            version: view.version(),
            release: view.release(),
        };
        Ok(Manifests {
            objects,
            csv_idx,
            csv,
            provided_apis,
            required_apis,
        })
    }
}

/// `Bundle.ProvidedAPIs`: CRD versions plus owned API services.
fn provided_apis(view: &CsvView, crd_apis: Vec<ApiKey>) -> Result<BTreeSet<ApiKey>, String> {
    let mut provided: BTreeSet<ApiKey> = crd_apis.into_iter().collect();
    let (owned, _) = view
        .api_service_definitions()
        .map_err(|error| format!("error getting apiservice definitions: {error}"))?;
    for api in owned {
        provided.insert(ApiKey {
            group: api.group,
            version: api.version,
            kind: api.kind,
            plural: api.name,
        });
    }
    Ok(provided)
}

/// `Bundle.RequiredAPIs`: required CRDs (name split into plural.group) and
/// required API services.
fn required_apis(view: &CsvView) -> Result<BTreeSet<ApiKey>, String> {
    let mut required = BTreeSet::new();
    let (_, crds) = view.crd_definitions()?;
    for api in crds {
        required.insert(split_crd_name(&api.name, &api.version, &api.kind)?);
    }
    let (_, services) = view.api_service_definitions()?;
    for api in services {
        required.insert(ApiKey {
            group: api.group,
            version: api.version,
            kind: api.kind,
            plural: api.name,
        });
    }
    Ok(required)
}

fn split_crd_name(name: &str, version: &str, kind: &str) -> Result<ApiKey, String> {
    let Some((plural, group)) = name.split_once('.') else {
        return Err(format!("couldn't parse plural.group from crd name: {name}"));
    };
    Ok(ApiKey {
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        plural: plural.to_string(),
    })
}

// ---------------------------------------------------------------------------
// metadata/

#[derive(Default)]
struct AnnotationsFile {
    path: PathBuf,
    package: String,
    channels: String,
    default_channel: String,
    openshift_versions: Option<OpenshiftVersions>,
}

#[derive(Default)]
struct Metadata {
    annotations: Option<AnnotationsFile>,
    dependencies: Vec<RawProperty>,
    properties: Vec<RawProperty>,
}

/// opm's `addMetadata`: every entry of `metadata/` (any name, hidden ones
/// too) is tried as annotations, dependencies and properties file; the
/// first non-empty decode of each kind wins. Decode failures are ignored.
fn read_metadata(files: &BundleFiles, warnings: &mut Vec<Warning>) -> Metadata {
    let mut metadata = Metadata::default();
    let mut found_dependencies = false;
    let mut found_properties = false;
    for file in files.files_in(METADATA_DIR) {
        if metadata.annotations.is_some() && found_dependencies && found_properties {
            break;
        }
        let path = files.dir.join(&file.source);
        let relative = path.clone();
        let bytes = &file.bytes;
        let (document, openshift_line) = match decode_first_locating(bytes, &[&["annotations", ANNOTATION_OPENSHIFT_VERSIONS]]) {
            Ok((document, lines)) => (document, lines.first().copied().flatten()),
            Err(failure) => {
                warnings.push(Warning::UndecodableMetadata {
                    location: Location {
                        file: relative,
                        line: failure.line,
                    },
                    message: failure.message,
                });
                continue;
            }
        };
        if document.extra_documents {
            warnings.push(Warning::ExtraDocuments { file: relative.clone() });
        }
        if metadata.annotations.is_none()
            && let Ok(annotations) = decode_annotations_file(&document.value)
            && (!annotations.package.is_empty() || !annotations.channels.is_empty() || !annotations.default_channel.is_empty())
        {
            let openshift_versions = openshift_versions(&document.value, bytes, openshift_line);
            metadata.annotations = Some(AnnotationsFile {
                path: path.clone(),
                openshift_versions,
                ..annotations
            });
        }
        if !found_dependencies
            && let Ok(dependencies) = decode_property_list(&document, "dependencies", "registry.DependenciesFile", "Dependency")
            && !dependencies.is_empty()
        {
            metadata.dependencies = dependencies;
            found_dependencies = true;
        }
        if !found_properties
            && let Ok(properties) = decode_property_list(&document, "properties", "registry.PropertiesFile", "Property")
            && !properties.is_empty()
        {
            metadata.properties = properties;
            found_properties = true;
        }
    }
    metadata
}

/// Decodes `registry.AnnotationsFile`.
fn decode_annotations_file(value: &Value) -> Result<AnnotationsFile, String> {
    let file = struct_of(Some(value), None, "registry.AnnotationsFile")?.unwrap_or_default();
    let annotations = struct_of(
        field(file, "annotations"),
        Some("AnnotationsFile.annotations"),
        "registry.Annotations",
    )?
    .unwrap_or_default();
    let text = |key: &str| coerced_string(field(annotations, key), Some("AnnotationsFile.annotations"));
    Ok(AnnotationsFile {
        path: PathBuf::new(),
        package: text(ANNOTATION_PACKAGE)?,
        channels: text(ANNOTATION_CHANNELS)?,
        default_channel: text(ANNOTATION_DEFAULT_CHANNEL)?,
        openshift_versions: None,
    })
}

/// `com.redhat.openshift.versions` of a decoded annotations file. A number
/// keeps the digits written on the key's line (`4.10`: the YAML value is
/// already 4.1, and what it was meant to say is worth telling).
fn openshift_versions(document: &Value, bytes: &[u8], line: Option<usize>) -> Option<OpenshiftVersions> {
    use crate::openshift::ScalarStyle;
    let annotations = document.get("annotations")?;
    let value = annotations.get(ANNOTATION_OPENSHIFT_VERSIONS)?;
    let (text, style) = match value {
        Value::String(text) => (text.clone(), ScalarStyle::Quoted),
        Value::Null => (String::new(), ScalarStyle::Quoted),
        Value::Number(number) => {
            let written = line
                .and_then(|line| written_scalar(bytes, line))
                .unwrap_or_else(|| number.as_str().to_string());
            (written, ScalarStyle::Plain)
        }
        other => (json::to_compact(other, false), ScalarStyle::Quoted),
    };
    Some(OpenshiftVersions { value: text, style, line })
}

/// The number written after `key:` on a 1-based line (YAML or JSON).
fn written_scalar(bytes: &[u8], line: usize) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?.lines().nth(line.checked_sub(1)?)?;
    let after = &text[text.find(ANNOTATION_OPENSHIFT_VERSIONS)? + ANNOTATION_OPENSHIFT_VERSIONS.len()..];
    let after = after.trim_start_matches(['"', '\'']).trim_start();
    let value: String = after
        .strip_prefix(':')?
        .trim_start()
        .chars()
        .take_while(|ch| ch.is_ascii_digit() || "._+-eE".contains(*ch))
        .collect();
    (!value.is_empty()).then_some(value)
}

/// Decodes `{<key>: [{type, value}, ...]}` (`DependenciesFile` /
/// `PropertiesFile`); `value` stays raw JSON text.
fn decode_property_list(document: &FirstDocument, key: &str, go_type: &str, item_type: &str) -> Result<Vec<RawProperty>, String> {
    let file = struct_of(Some(&document.value), None, go_type)?.unwrap_or_default();
    let go_field = format!("{}.{key}", &go_type[9..]);
    let items = slice_of(field(file, key), Some(&go_field), &format!("[]registry.{item_type}"))?;
    let mut list = Vec::with_capacity(items.len());
    for item in items {
        let fields = struct_of(Some(item), Some(&go_field), &format!("registry.{item_type}"))?.unwrap_or_default();
        let type_ = coerced_string(field(fields, "type"), Some(&format!("{item_type}.{key}.type")))?;
        let value = field(fields, "value").map(|value| raw_message(value, document.is_json));
        list.push(RawProperty { type_, value });
    }
    Ok(list)
}

// ---------------------------------------------------------------------------
// derived properties

/// opm's `derivedProperties`: `olm.package` from the annotations (first),
/// then the CSV's `olm.properties` annotation, then one `olm.gvk` per
/// provided API; deduplicated.
pub(crate) fn derived_properties(parsed: &mut ParsedBundle) -> Result<Vec<RawProperty>, BundleError> {
    let location = parsed.csv_location();
    let mut derived = Vec::new();
    let csv_object = &parsed.objects[parsed.csv_idx];
    let view = CsvView::new(&csv_object.value).map_err(|message| BundleError::Manifest {
        location: location.clone(),
        message,
    })?;
    if let Some(text) = view.annotation(ANNOTATION_PROPERTIES) {
        let (properties, error) = parse_annotation_properties(text);
        derived = properties;
        if let Some(message) = error {
            parsed.warnings.push(Warning::CsvPropertiesAnnotation {
                location: location.clone(),
                message,
            });
        }
    }
    if !parsed.package.is_empty() {
        let derive_error = |message: &String| BundleError::DeriveProperties {
            location: location.clone(),
            message: message.clone(),
        };
        let version = parsed.csv.version.as_ref().map_err(derive_error)?;
        let release = parsed.csv.release.as_ref().map_err(derive_error)?;
        let value = render::package_value(&parsed.package, version, release, true);
        derived.insert(
            0,
            RawProperty {
                type_: fbc::PROPERTY_PACKAGE.to_string(),
                value: Some(value),
            },
        );
    }
    for api in &parsed.provided_apis {
        let value = render::gvk_value(&api.group, &api.kind, &api.version, true);
        derived.push(RawProperty {
            type_: fbc::PROPERTY_GVK.to_string(),
            value: Some(value),
        });
    }
    Ok(property_set(derived))
}

/// Deduplicates by (type, raw value), first wins (`propertySet`).
pub(crate) fn property_set(properties: Vec<RawProperty>) -> Vec<RawProperty> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(properties.len());
    for property in properties {
        let key = (property.key().0.to_string(), property.key().1.to_string());
        if seen.insert(key) {
            out.push(property);
        }
    }
    out
}

/// `json.Unmarshal(annotation, &[]Property)`: values keep their raw text.
/// Go keeps what it decoded before a type error; so does this.
pub(crate) fn parse_annotation_properties(text: &str) -> (Vec<RawProperty>, Option<String>) {
    let value = match json::parse(text) {
        Ok(value) => value,
        Err(error) => return (Vec::new(), Some(error.message)),
    };
    let items = match &value {
        Value::Null => return (Vec::new(), None),
        Value::Array(items) => items,
        other => {
            return (Vec::new(), Some(type_error(other, None, "[]registry.Property")));
        }
    };
    let raw_items = raw_json::array_items(text);
    let mut properties = Vec::with_capacity(items.len());
    let mut first_error = None;
    for (idx, item) in items.iter().enumerate() {
        let mut property = RawProperty {
            type_: String::new(),
            value: None,
        };
        match item {
            Value::Null => {}
            Value::Object(fields) => {
                match string_of(field(fields, "type"), Some("Property.type")) {
                    Ok(type_) => property.type_ = type_,
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
                property.value = raw_items
                    .get(idx)
                    .and_then(|raw| raw_json::object_member(raw, "value"))
                    .map(str::to_string);
            }
            other => {
                first_error.get_or_insert(type_error(other, None, "registry.Property"));
            }
        }
        properties.push(property);
    }
    (properties, first_error)
}

/// Byte spans of valid JSON text, for `json.RawMessage` fields that keep
/// the source bytes.
mod raw_json {
    fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
        while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t' | b'\n' | b'\r') {
            pos += 1;
        }
        pos
    }

    /// End of the value starting at `pos` (the text must be valid JSON).
    fn value_end(bytes: &[u8], pos: usize) -> usize {
        match bytes.get(pos) {
            Some(b'"') => string_end(bytes, pos),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                let mut idx = pos;
                while idx < bytes.len() {
                    match bytes[idx] {
                        b'"' => {
                            idx = string_end(bytes, idx);
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return idx + 1;
                            }
                        }
                        _ => {}
                    }
                    idx += 1;
                }
                bytes.len()
            }
            _ => {
                let mut idx = pos;
                while idx < bytes.len() && !matches!(bytes[idx], b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                    idx += 1;
                }
                idx
            }
        }
    }

    fn string_end(bytes: &[u8], pos: usize) -> usize {
        let mut idx = pos + 1;
        while idx < bytes.len() {
            match bytes[idx] {
                b'\\' => idx += 2,
                b'"' => return idx + 1,
                _ => idx += 1,
            }
        }
        bytes.len()
    }

    /// The raw text of each item of a top-level array.
    pub(super) fn array_items(text: &str) -> Vec<&str> {
        let bytes = text.as_bytes();
        let mut items = Vec::new();
        let mut pos = skip_ws(bytes, 0);
        if bytes.get(pos) != Some(&b'[') {
            return items;
        }
        pos = skip_ws(bytes, pos + 1);
        while pos < bytes.len() && bytes[pos] != b']' {
            let end = value_end(bytes, pos);
            items.push(&text[pos..end]);
            pos = skip_ws(bytes, end);
            if bytes.get(pos) == Some(&b',') {
                pos = skip_ws(bytes, pos + 1);
            }
        }
        items
    }

    /// The raw text of the last member of an object whose key equals `name`
    /// ignoring ASCII case (Go's struct field matching).
    pub(super) fn object_member<'a>(object: &'a str, name: &str) -> Option<&'a str> {
        let bytes = object.as_bytes();
        let mut pos = skip_ws(bytes, 0);
        if bytes.get(pos) != Some(&b'{') {
            return None;
        }
        pos = skip_ws(bytes, pos + 1);
        let mut found = None;
        while pos < bytes.len() && bytes[pos] != b'}' {
            let key_end = string_end(bytes, pos);
            let key = crate::encoding::json::parse(&object[pos..key_end]).ok();
            pos = skip_ws(bytes, key_end);
            pos = skip_ws(bytes, pos + 1); // ':'
            let end = value_end(bytes, pos);
            if key
                .as_ref()
                .and_then(|key| key.as_str())
                .is_some_and(|key| key.eq_ignore_ascii_case(name))
            {
                found = Some(&object[pos..end]);
            }
            pos = skip_ws(bytes, end);
            if bytes.get(pos) == Some(&b',') {
                pos = skip_ws(bytes, pos + 1);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `com.redhat.openshift.versions` of an annotations file's text.
    fn openshift_of(text: &str) -> Option<(String, crate::openshift::ScalarStyle, Option<usize>)> {
        let (document, lines) = decode_first_locating(text.as_bytes(), &[&["annotations", ANNOTATION_OPENSHIFT_VERSIONS]]).unwrap();
        openshift_versions(&document.value, text.as_bytes(), lines[0]).map(|found| (found.value, found.style, found.line))
    }

    #[test]
    fn the_openshift_annotation_is_kept_as_written_with_its_line() {
        use crate::openshift::ScalarStyle::{Plain, Quoted};
        let head = "annotations:\n  operators.operatorframework.io.bundle.package.v1: p\n";
        assert_eq!(openshift_of(head), None);
        let found = |line: &str| openshift_of(&format!("{head}{line}\n"));
        assert_eq!(
            found("  com.redhat.openshift.versions: \"v4.12-v4.14\""),
            Some(("v4.12-v4.14".to_string(), Quoted, Some(3)))
        );
        assert_eq!(
            found("  com.redhat.openshift.versions: v4.16"),
            Some(("v4.16".to_string(), Quoted, Some(3)))
        );
        // Unquoted numbers keep their digits: 4.10 is what was meant, 4.1
        // what YAML (and the pipeline) reads.
        assert_eq!(
            found("  com.redhat.openshift.versions: 4.10"),
            Some(("4.10".to_string(), Plain, Some(3)))
        );
        assert_eq!(
            found("  com.redhat.openshift.versions: 4.20 # newest"),
            Some(("4.20".to_string(), Plain, Some(3)))
        );
        assert_eq!(
            found("  com.redhat.openshift.versions: '4.20'"),
            Some(("4.20".to_string(), Quoted, Some(3)))
        );
        // One file in the community repository writes a space before the colon.
        assert_eq!(
            found("  com.redhat.openshift.versions : v4.14"),
            Some(("v4.14".to_string(), Quoted, Some(3)))
        );
        assert_eq!(found("  com.redhat.openshift.versions:"), Some((String::new(), Quoted, Some(3))));
        assert_eq!(
            openshift_of("{\"annotations\": {\"com.redhat.openshift.versions\": 4.10}}"),
            Some(("4.10".to_string(), Plain, Some(1)))
        );
    }

    #[test]
    fn annotation_properties_keep_raw_value_text() {
        let (properties, error) =
            parse_annotation_properties(r#"[{"type":"olm.maxOpenShiftVersion","value": "4.8"}, {"Type":"x","value":{"b": 1,"a":[1, 2]}}]"#);
        assert_eq!(error, None);
        assert_eq!(
            properties,
            vec![
                RawProperty {
                    type_: "olm.maxOpenShiftVersion".into(),
                    value: Some(r#""4.8""#.into())
                },
                RawProperty {
                    type_: "x".into(),
                    value: Some(r#"{"b": 1,"a":[1, 2]}"#.into())
                },
            ]
        );
    }

    #[test]
    fn annotation_properties_keep_items_before_a_type_error() {
        let (properties, error) = parse_annotation_properties(r#"[{"type":"a","value":1},{"type":2}]"#);
        assert_eq!(
            error.as_deref(),
            Some("json: cannot unmarshal number into Go struct field Property.type of type string")
        );
        assert_eq!(properties.len(), 2);
        assert_eq!(
            properties[1],
            RawProperty {
                type_: String::new(),
                value: None
            }
        );
    }

    #[test]
    fn annotation_properties_object_is_a_warning() {
        let (properties, error) = parse_annotation_properties(r#"{"properties":[]}"#);
        assert!(properties.is_empty());
        assert_eq!(
            error.as_deref(),
            Some("json: cannot unmarshal object into Go value of type []registry.Property")
        );
    }

    /// A bundle dir written as JSON files (JSON input needs no YAML reader).
    fn json_bundle(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(path, text).unwrap();
        }
        dir
    }

    const CSV: &str = r#"{"apiVersion":"operators.coreos.com/v1alpha1","kind":"ClusterServiceVersion",
        "metadata":{"name":"a.v1.0.0","annotations":{"olm.skipRange":"<1.0.0"}},
        "spec":{"version":"1.0.0","replaces":"a.v0.9.0","skips":["a.v0.9.1"],"relatedImages":[{"name":"op","image":"q/op:1"}],
        "install":{"strategy":"deployment","spec":{"deployments":[{"name":"d","spec":{"template":{"spec":{"containers":[{"image":"q/op:1"},{"image":"q/side:1"}]}}}}]}}}}"#;
    const ANNOTATIONS: &str = r#"{"annotations":{"operators.operatorframework.io.bundle.package.v1":"a",
        "operators.operatorframework.io.bundle.channels.v1":"stable, fast"}}"#;

    #[test]
    fn loads_graph_facts_and_renders_image_bundles() {
        let dir = json_bundle(&[
            ("manifests/a.csv.json", CSV),
            (
                "manifests/b.csv.json",
                r#"{"kind":"ClusterServiceVersion","metadata":{"name":"b"}}"#,
            ),
            ("manifests/.hidden.json", "not json"),
            ("manifests/notes.txt", "plain text"),
            ("metadata/annotations.json", ANNOTATIONS),
        ]);
        let loaded = load_bundle_dir(dir.path(), Some("q/bundle:1")).unwrap();
        assert_eq!(
            (loaded.package.as_str(), loaded.csv_name.as_str(), loaded.version.as_str()),
            ("a", "a.v1.0.0", "1.0.0")
        );
        assert_eq!(loaded.channels, vec!["stable", " fast"]);
        assert_eq!(loaded.default_channel, None);
        assert_eq!(
            (loaded.replaces.as_str(), loaded.skips.clone(), loaded.skip_range.as_str()),
            ("a.v0.9.0", vec!["a.v0.9.1".to_string()], "<1.0.0")
        );
        assert_eq!(loaded.csv_path, dir.path().join("manifests/a.csv.json"));
        assert_eq!(loaded.annotations_path(), dir.path().join("metadata/annotations.json"));
        let images: Vec<(&str, &str)> = loaded
            .bundle
            .related_images
            .iter()
            .map(|image| (image.name.as_str(), image.image.as_str()))
            .collect();
        assert_eq!(images, vec![("", "q/bundle:1"), ("op", "q/op:1"), ("", "q/side:1")]);
        let types: Vec<&str> = loaded.bundle.properties.iter().map(|property| property.type_.as_str()).collect();
        assert_eq!(types, vec!["olm.package", "olm.bundle.object"]);
        assert_eq!(loaded.bundle.properties[0].value, r#"{"packageName":"a","version":"1.0.0"}"#);
        assert!(
            matches!(
                &loaded.warnings[..],
                [Warning::ExtraCsv { .. }, Warning::UndecodableManifest { .. }]
            ),
            "{:?}",
            loaded.warnings
        );
    }

    #[test]
    fn errors_start_with_opm_text_and_point_at_files() {
        let dir = json_bundle(&[("manifests/a.csv.json", CSV), ("metadata/other.json", r#"{"dependencies":[]}"#)]);
        let error = load_bundle_dir(dir.path(), None).unwrap_err();
        assert!(error.to_string().starts_with("Could not find annotations file"), "{error}");
        assert_eq!(error.location(), Some((dir.path().join("metadata"), None)));
        let owned = CSV.replace(
            r#""version":"1.0.0","#,
            r#""version":"1.0.0","customresourcedefinitions":{"owned":[{"name":"as.g","version":"v1","kind":"A"}]},"#,
        );
        let dir = json_bundle(&[("manifests/a.csv.json", &owned), ("metadata/annotations.json", ANNOTATIONS)]);
        let error = load_bundle_dir(dir.path(), None).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("error checking provided apis in bundle a.v1.0.0: couldn't find g/v1/A (as) in bundle. found: map[]"),
            "{error}"
        );
        assert_eq!(error.location(), Some((dir.path().join("manifests/a.csv.json"), Some(1))));
        assert!(error.help().is_some());
    }

    /// See: issue 12. A CSV field error pointed at the first line starting
    /// with `version:` (an owned CRD's version at line 73 of pelorus-operator
    /// 0.0.2's CSV), not at `spec.version` (line 463).
    #[test]
    fn issue12_csv_field_lines_are_key_positions_not_the_first_line_with_the_name() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/bundles/pelorus-operator/0.0.2");
        let loaded = load_bundle_dir(&dir, None).unwrap();
        let line = |field| loaded.csv_field_location(field).line;
        assert_eq!(
            loaded.csv_field_location(CsvField::Version).file,
            dir.join("manifests/pelorus-operator.clusterserviceversion.yaml")
        );
        assert_eq!(line(CsvField::Version), Some(463));
        assert_eq!(line(CsvField::Replaces), Some(464));
        assert_eq!(line(CsvField::Name), Some(62));
        assert_eq!(line(CsvField::Skips), Some(465));
        assert_eq!(line(CsvField::SkipRange), None);
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/bundles/gitlab-runner-operator/1.21.0");
        let loaded = load_bundle_dir(&dir, None).unwrap();
        assert_eq!(loaded.csv_field_location(CsvField::SkipRange).line, Some(32));
    }

    #[test]
    fn csv_field_lines_of_a_json_csv() {
        let dir = json_bundle(&[("manifests/a.csv.json", CSV), ("metadata/annotations.json", ANNOTATIONS)]);
        let loaded = load_bundle_dir(dir.path(), None).unwrap();
        let line = |field| loaded.csv_field_location(field).line;
        assert_eq!(
            (
                line(CsvField::Name),
                line(CsvField::SkipRange),
                line(CsvField::Version),
                line(CsvField::Skips)
            ),
            (Some(2), Some(2), Some(3), Some(3))
        );
    }

    #[test]
    fn inputs_are_the_files_read_with_their_digests() {
        let dir = json_bundle(&[("manifests/a.csv.json", CSV), ("metadata/annotations.json", ANNOTATIONS)]);
        let loaded = load_bundle_dir(dir.path(), None).unwrap();
        let inputs: Vec<(&Path, Sha256Digest)> = loaded.inputs.iter().map(|(path, digest)| (path.as_path(), *digest)).collect();
        assert_eq!(
            inputs,
            vec![
                (Path::new("manifests/a.csv.json"), Sha256Digest::of(CSV.as_bytes())),
                (Path::new("metadata/annotations.json"), Sha256Digest::of(ANNOTATIONS.as_bytes())),
            ]
        );
    }

    #[test]
    fn property_set_keeps_first() {
        let property = |type_: &str, value: &str| RawProperty {
            type_: type_.into(),
            value: Some(value.into()),
        };
        let set = property_set(vec![property("a", "1"), property("b", "1"), property("a", "1"), property("a", "2")]);
        assert_eq!(set, vec![property("a", "1"), property("b", "1"), property("a", "2")]);
    }
}
