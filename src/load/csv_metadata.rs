//! The `bundle-object-to-csv-metadata` migration
//! (`alpha/action/migrations/000_bundle_object_to_csv_metadata.go`): a
//! bundle with an image and a CSV loses its `olm.bundle.object` properties
//! and gains one `olm.csv.metadata` at the end.
//!
//! The value is `property.CSVMetadata` marshalled by `property.MustBuild`
//! (no HTML escaping) after `json.Unmarshal` of the CSV into the api
//! module's typed `ClusterServiceVersion`. So: fields in Go struct order
//! (api `pkg/operators/v1alpha1/clusterserviceversion_types.go`), unknown
//! fields dropped, `omitempty` rules per field (structs such as
//! `apiServiceDefinitions` and `provider` are never omitted, so an empty
//! one is `{}`), maps (`annotations`, `labels`) with sorted keys, and
//! descriptor `value`s kept as the raw, HTML-escaped JSON they were in the
//! CSV's `json.Marshal` text.

use super::document::{field, slice_of, string_of, strings_of, struct_of, type_error};
use crate::encoding::json::{self, Value};
use crate::fbc;

/// The CSV does not decode into the api module's typed CSV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("migrate: {message}")]
pub struct CsvMetadataError {
    pub message: String,
}

/// Applies the migration to one rendered bundle; `csv` is its CSV object
/// ([`super::LoadedBundle::csv`]). Bundles without an image are left
/// alone, as are bundles that already carry `olm.csv.metadata`.
pub fn migrate_to_csv_metadata(bundle: &mut fbc::Bundle, csv: &Value) -> Result<(), CsvMetadataError> {
    if bundle.image.is_empty() {
        return Ok(());
    }
    if bundle
        .properties
        .iter()
        .any(|property| property.type_ == fbc::PROPERTY_CSV_METADATA)
    {
        return Ok(());
    }
    let metadata = csv_metadata_property(csv)?;
    bundle.properties.retain(|property| property.type_ != fbc::PROPERTY_BUNDLE_OBJECT);
    bundle.properties.push(metadata);
    Ok(())
}

/// The migration for a bundle that carries its manifests as
/// `olm.bundle.object` properties (a rendered bundle, or a bundle read from
/// an FBC): the CSV is the last bundle object of kind
/// `ClusterServiceVersion`, as opm's `CsvJSON` is. Without one, nothing
/// changes.
pub fn migrate_bundle_to_csv_metadata(bundle: &mut fbc::Bundle) -> Result<(), CsvMetadataError> {
    if bundle.image.is_empty() {
        return Ok(());
    }
    match fbc::render::bundle_csv(bundle) {
        Some(csv) => migrate_to_csv_metadata(bundle, &csv),
        None => Ok(()),
    }
}

/// `property.MustBuildCSVMetadata` of the CSV.
pub fn csv_metadata_property(csv: &Value) -> Result<fbc::Property, CsvMetadataError> {
    let value = csv_metadata_text(csv).map_err(|message| CsvMetadataError { message })?;
    Ok(fbc::Property {
        type_: fbc::PROPERTY_CSV_METADATA.to_string(),
        value,
    })
}

/// Writes a Go struct as compact JSON, field by field.
struct StructWriter {
    out: String,
    empty: bool,
}

impl StructWriter {
    fn new() -> StructWriter {
        StructWriter {
            out: String::from("{"),
            empty: true,
        }
    }

    fn raw(&mut self, key: &str, raw: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push_str(&quoted(key));
        self.out.push(':');
        self.out.push_str(raw);
    }

    fn string(&mut self, key: &str, value: &str) {
        self.raw(key, &quoted(value));
    }

    fn string_omitempty(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.string(key, value);
        }
    }

    /// A slice field with `omitempty`: written only when non-empty.
    fn list_omitempty(&mut self, key: &str, items: &[String]) {
        if !items.is_empty() {
            self.raw(key, &format!("[{}]", items.join(",")));
        }
    }

    fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

fn quoted(text: &str) -> String {
    json::to_compact(&Value::str(text), false)
}

type Fields<'a> = &'a [(String, Value)];

fn csv_metadata_text(csv: &Value) -> Result<String, String> {
    let root = struct_of(Some(csv), None, "v1alpha1.ClusterServiceVersion")?.unwrap_or_default();
    let metadata = struct_of(field(root, "metadata"), Some("ClusterServiceVersion.metadata"), "v1.ObjectMeta")?.unwrap_or_default();
    let spec = struct_of(
        field(root, "spec"),
        Some("ClusterServiceVersion.spec"),
        "v1alpha1.ClusterServiceVersionSpec",
    )?
    .unwrap_or_default();

    let mut out = StructWriter::new();
    if let Some(annotations) = string_map(field(metadata, "annotations"), "ClusterServiceVersion.metadata.annotations")? {
        out.raw("annotations", &annotations);
    }
    out.raw(
        "apiServiceDefinitions",
        &definitions(
            field(spec, "apiservicedefinitions"),
            "spec.apiservicedefinitions",
            api_service_description,
        )?,
    );
    out.raw(
        "crdDescriptions",
        &definitions(
            field(spec, "customresourcedefinitions"),
            "spec.customresourcedefinitions",
            crd_description,
        )?,
    );
    out.string_omitempty(
        "description",
        &string_of(field(spec, "description"), Some("ClusterServiceVersion.spec.description"))?,
    );
    out.string_omitempty(
        "displayName",
        &string_of(field(spec, "displayName"), Some("ClusterServiceVersion.spec.displayName"))?,
    );
    out.list_omitempty(
        "installModes",
        &list(
            field(spec, "installModes"),
            "spec.installModes",
            "[]v1alpha1.InstallMode",
            install_mode,
        )?,
    );
    let keywords = strings_of(field(spec, "keywords"), Some("ClusterServiceVersion.spec.keywords"))?;
    out.list_omitempty("keywords", &keywords.iter().map(|keyword| quoted(keyword)).collect::<Vec<_>>());
    if let Some(labels) = string_map(field(metadata, "labels"), "ClusterServiceVersion.metadata.labels")? {
        out.raw("labels", &labels);
    }
    out.list_omitempty("links", &list(field(spec, "links"), "spec.links", "[]v1alpha1.AppLink", app_link)?);
    out.list_omitempty(
        "maintainers",
        &list(field(spec, "maintainers"), "spec.maintainers", "[]v1alpha1.Maintainer", maintainer)?,
    );
    out.string_omitempty(
        "maturity",
        &string_of(field(spec, "maturity"), Some("ClusterServiceVersion.spec.maturity"))?,
    );
    out.string_omitempty(
        "minKubeVersion",
        &string_of(field(spec, "minKubeVersion"), Some("ClusterServiceVersion.spec.minKubeVersion"))?,
    );
    out.list_omitempty(
        "nativeAPIs",
        &list(
            field(spec, "nativeAPIs"),
            "spec.nativeAPIs",
            "[]v1.GroupVersionKind",
            group_version_kind,
        )?,
    );
    let provider = struct_of(
        field(spec, "provider"),
        Some("ClusterServiceVersion.spec.provider"),
        "v1alpha1.AppLink",
    )?;
    out.raw("provider", &app_link_fields(provider.unwrap_or_default(), "spec.provider")?);
    Ok(out.finish())
}

/// A `map[string]string` with `omitempty`: `None` when empty.
fn string_map(value: Option<&Value>, go_field: &str) -> Result<Option<String>, String> {
    let Some(entries) = struct_of(value, Some(go_field), "map[string]string")? else {
        return Ok(None);
    };
    let mut map = std::collections::BTreeMap::new();
    for (key, value) in entries {
        map.insert(key.as_str(), string_of(Some(value), Some(go_field))?);
    }
    if map.is_empty() {
        return Ok(None);
    }
    let mut out = StructWriter::new();
    for (key, value) in map {
        out.string(key, &value);
    }
    Ok(Some(out.finish()))
}

/// Each item of a slice field encoded by `encode`.
fn list(
    value: Option<&Value>,
    path: &str,
    go_type: &str,
    encode: fn(Fields, &str) -> Result<String, String>,
) -> Result<Vec<String>, String> {
    let go_field = format!("ClusterServiceVersion.{path}");
    let items = slice_of(value, Some(&go_field), go_type)?;
    items
        .iter()
        .map(|item| encode(struct_of(Some(item), Some(&go_field), &go_type[2..])?.unwrap_or_default(), path))
        .collect()
}

/// `{owned, required}` of `APIServiceDefinitions` / `CustomResourceDefinitions`.
fn definitions(value: Option<&Value>, path: &str, encode: fn(Fields, &str) -> Result<String, String>) -> Result<String, String> {
    let fields = struct_of(value, Some(&format!("ClusterServiceVersion.{path}")), "struct")?.unwrap_or_default();
    let mut out = StructWriter::new();
    for key in ["owned", "required"] {
        let item_path = format!("{path}.{key}");
        out.list_omitempty(key, &list(field(fields, key), &item_path, "[]description", encode)?);
    }
    Ok(out.finish())
}

fn text(fields: Fields, key: &str, path: &str) -> Result<String, String> {
    string_of(field(fields, key), Some(&format!("ClusterServiceVersion.{path}.{key}")))
}

fn crd_description(fields: Fields, path: &str) -> Result<String, String> {
    let mut out = StructWriter::new();
    out.string("name", &text(fields, "name", path)?);
    out.string("version", &text(fields, "version", path)?);
    out.string("kind", &text(fields, "kind", path)?);
    out.string_omitempty("displayName", &text(fields, "displayName", path)?);
    out.string_omitempty("description", &text(fields, "description", path)?);
    descriptions_tail(&mut out, fields, path)?;
    Ok(out.finish())
}

fn api_service_description(fields: Fields, path: &str) -> Result<String, String> {
    let mut out = StructWriter::new();
    out.string("name", &text(fields, "name", path)?);
    out.string("group", &text(fields, "group", path)?);
    out.string("version", &text(fields, "version", path)?);
    out.string("kind", &text(fields, "kind", path)?);
    out.string_omitempty("deploymentName", &text(fields, "deploymentName", path)?);
    let port = int32_of(
        field(fields, "containerPort"),
        &format!("ClusterServiceVersion.{path}.containerPort"),
    )?;
    if port != 0 {
        out.raw("containerPort", &port.to_string());
    }
    out.string_omitempty("displayName", &text(fields, "displayName", path)?);
    out.string_omitempty("description", &text(fields, "description", path)?);
    descriptions_tail(&mut out, fields, path)?;
    Ok(out.finish())
}

/// `resources`, `statusDescriptors`, `specDescriptors`, `actionDescriptors`.
fn descriptions_tail(out: &mut StructWriter, fields: Fields, path: &str) -> Result<(), String> {
    out.list_omitempty(
        "resources",
        &list(
            field(fields, "resources"),
            &format!("{path}.resources"),
            "[]v1alpha1.APIResourceReference",
            resource_reference,
        )?,
    );
    for key in ["statusDescriptors", "specDescriptors", "actionDescriptors"] {
        out.list_omitempty(
            key,
            &list(field(fields, key), &format!("{path}.{key}"), "[]v1alpha1.Descriptor", descriptor)?,
        );
    }
    Ok(())
}

fn resource_reference(fields: Fields, path: &str) -> Result<String, String> {
    let mut out = StructWriter::new();
    out.string("name", &text(fields, "name", path)?);
    out.string("kind", &text(fields, "kind", path)?);
    out.string("version", &text(fields, "version", path)?);
    Ok(out.finish())
}

fn descriptor(fields: Fields, path: &str) -> Result<String, String> {
    let mut out = StructWriter::new();
    out.string("path", &text(fields, "path", path)?);
    out.string_omitempty("displayName", &text(fields, "displayName", path)?);
    out.string_omitempty("description", &text(fields, "description", path)?);
    let x_descriptors = strings_of(
        field(fields, "x-descriptors"),
        Some(&format!("ClusterServiceVersion.{path}.x-descriptors")),
    )?;
    out.list_omitempty("x-descriptors", &x_descriptors.iter().map(|item| quoted(item)).collect::<Vec<_>>());
    // json.RawMessage: the CSV JSON's bytes (json.Marshal: HTML-escaped),
    // copied as they are; `null` is kept, absent is omitted.
    if let Some(value) = field(fields, "value") {
        out.raw("value", &json::to_compact(value, true));
    }
    Ok(out.finish())
}

fn install_mode(fields: Fields, path: &str) -> Result<String, String> {
    let mut out = StructWriter::new();
    out.string("type", &text(fields, "type", path)?);
    let supported = match field(fields, "supported") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(other) => {
            return Err(type_error(other, Some(&format!("ClusterServiceVersion.{path}.supported")), "bool"));
        }
    };
    out.raw("supported", if supported { "true" } else { "false" });
    Ok(out.finish())
}

fn app_link(fields: Fields, path: &str) -> Result<String, String> {
    app_link_fields(fields, path)
}

fn app_link_fields(fields: Fields, path: &str) -> Result<String, String> {
    let mut out = StructWriter::new();
    out.string_omitempty("name", &text(fields, "name", path)?);
    out.string_omitempty("url", &text(fields, "url", path)?);
    Ok(out.finish())
}

fn maintainer(fields: Fields, path: &str) -> Result<String, String> {
    let mut out = StructWriter::new();
    out.string_omitempty("name", &text(fields, "name", path)?);
    out.string_omitempty("email", &text(fields, "email", path)?);
    Ok(out.finish())
}

fn group_version_kind(fields: Fields, path: &str) -> Result<String, String> {
    let mut out = StructWriter::new();
    out.string("group", &text(fields, "group", path)?);
    out.string("version", &text(fields, "version", path)?);
    out.string("kind", &text(fields, "kind", path)?);
    Ok(out.finish())
}

/// A Go `int32` field: an integral JSON number in range.
fn int32_of(value: Option<&Value>, go_field: &str) -> Result<i64, String> {
    match value {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(number)) => number.as_str().parse::<i32>().map(i64::from).map_err(|_| {
            format!(
                "json: cannot unmarshal number {} into Go struct field {go_field} of type int32",
                number.as_str()
            )
        }),
        Some(other) => Err(type_error(other, Some(go_field), "int32")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata_of(csv: &str) -> String {
        csv_metadata_text(&json::parse(csv).unwrap()).unwrap()
    }

    #[test]
    fn minimal_csv_keeps_struct_fields() {
        assert_eq!(
            metadata_of(r#"{"kind":"ClusterServiceVersion","spec":{}}"#),
            r#"{"apiServiceDefinitions":{},"crdDescriptions":{},"provider":{}}"#
        );
    }

    #[test]
    fn fields_in_go_struct_order_unknown_dropped_no_html_escape() {
        let csv = r#"{"metadata":{"annotations":{"z":"1","a":"<b>"},"labels":{"l":"v"}},
            "spec":{"provider":{"url":"u","name":"n"},"displayName":"D & E","description":"x","keywords":["k"],
            "unknown":1,"installModes":[{"supported":true,"type":"OwnNamespace"}],
            "customresourcedefinitions":{"owned":[{"kind":"K","name":"ks.g","version":"v1","specDescriptors":[
                {"path":"p","value":{"a":"<"},"x-descriptors":["urn:x"]}]}]},
            "maintainers":[{"email":"e"}],"links":[{"name":"l","url":"u"}],"minKubeVersion":"1.20.0","maturity":"alpha",
            "nativeAPIs":[{"kind":"Pod","version":"v1","group":""}]}}"#;
        assert_eq!(
            metadata_of(csv),
            concat!(
                r#"{"annotations":{"a":"<b>","z":"1"},"apiServiceDefinitions":{},"crdDescriptions":{"owned":[{"name":"ks.g","version":"v1","kind":"K","#,
                r#""specDescriptors":[{"path":"p","x-descriptors":["urn:x"],"value":{"a":"\u003c"}}]}]},"description":"x","displayName":"D & E","#,
                r#""installModes":[{"type":"OwnNamespace","supported":true}],"keywords":["k"],"labels":{"l":"v"},"links":[{"name":"l","url":"u"}],"#,
                r#""maintainers":[{"email":"e"}],"maturity":"alpha","minKubeVersion":"1.20.0","nativeAPIs":[{"group":"","version":"v1","kind":"Pod"}],"#,
                r#""provider":{"name":"n","url":"u"}}"#
            )
        );
    }

    #[test]
    fn wrong_types_fail_like_go() {
        let csv = json::parse(r#"{"spec":{"displayName":7}}"#).unwrap();
        assert_eq!(
            csv_metadata_text(&csv).unwrap_err(),
            "json: cannot unmarshal number into Go struct field ClusterServiceVersion.spec.displayName of type string"
        );
    }

    #[test]
    fn migration_finds_the_csv_among_bundle_objects() {
        use base64::Engine as _;
        let object = |json: &str| fbc::Property {
            type_: fbc::PROPERTY_BUNDLE_OBJECT.into(),
            value: format!(r#"{{"data":"{}"}}"#, base64::engine::general_purpose::STANDARD.encode(json)),
        };
        let package = fbc::Property {
            type_: fbc::PROPERTY_PACKAGE.into(),
            value: r#"{"packageName":"a","version":"1"}"#.into(),
        };
        let mut bundle = fbc::Bundle {
            image: "img".into(),
            properties: vec![
                package.clone(),
                object(r#"{"kind":"CustomResourceDefinition"}"#),
                object(r#"{"kind":"ClusterServiceVersion","spec":{"displayName":"A"}}"#),
            ],
            ..fbc::Bundle::default()
        };
        migrate_bundle_to_csv_metadata(&mut bundle).unwrap();
        let metadata = fbc::Property {
            type_: fbc::PROPERTY_CSV_METADATA.into(),
            value: r#"{"apiServiceDefinitions":{},"crdDescriptions":{},"displayName":"A","provider":{}}"#.into(),
        };
        assert_eq!(bundle.properties, vec![package, metadata]);
    }

    #[test]
    fn migration_skips_bundles_without_image() {
        let csv = json::parse(r#"{"spec":{}}"#).unwrap();
        let object = fbc::Property {
            type_: fbc::PROPERTY_BUNDLE_OBJECT.into(),
            value: r#"{"data":""}"#.into(),
        };
        let mut bundle = fbc::Bundle {
            properties: vec![object.clone()],
            ..fbc::Bundle::default()
        };
        migrate_to_csv_metadata(&mut bundle, &csv).unwrap();
        assert_eq!(bundle.properties, vec![object.clone()]);
        bundle.image = "img".into();
        migrate_to_csv_metadata(&mut bundle, &csv).unwrap();
        assert_eq!(bundle.properties.len(), 1);
        assert_eq!(bundle.properties[0].type_, fbc::PROPERTY_CSV_METADATA);
    }
}
