//! The File-Based Catalog wire types, field for field as opm's
//! `alpha/declcfg` structs, with Go `encoding/json` decoding rules (keys
//! matched case-insensitively, unknown keys ignored, `null` leaves the zero
//! value) and encoding in struct field order.

use base64::Engine as _;

use crate::encoding::json::{self, Value};

pub const SCHEMA_PACKAGE: &str = "olm.package";
pub const SCHEMA_CHANNEL: &str = "olm.channel";
pub const SCHEMA_BUNDLE: &str = "olm.bundle";
pub const SCHEMA_DEPRECATIONS: &str = "olm.deprecations";

pub const PROPERTY_PACKAGE: &str = "olm.package";
pub const PROPERTY_PACKAGE_REQUIRED: &str = "olm.package.required";
pub const PROPERTY_GVK: &str = "olm.gvk";
pub const PROPERTY_GVK_REQUIRED: &str = "olm.gvk.required";
pub const PROPERTY_BUNDLE_OBJECT: &str = "olm.bundle.object";
pub const PROPERTY_CSV_METADATA: &str = "olm.csv.metadata";
pub const PROPERTY_CHANNEL: &str = "olm.channel";

/// A whole catalog as blobs, before it is linked into a model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeclarativeConfig {
    pub packages: Vec<Package>,
    pub channels: Vec<Channel>,
    pub bundles: Vec<Bundle>,
    pub deprecations: Vec<Deprecation>,
    pub others: Vec<Meta>,
}

impl DeclarativeConfig {
    pub fn extend(&mut self, other: DeclarativeConfig) {
        self.packages.extend(other.packages);
        self.channels.extend(other.channels);
        self.bundles.extend(other.bundles);
        self.deprecations.extend(other.deprecations);
        self.others.extend(other.others);
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Package {
    pub schema: String,
    pub name: String,
    pub default_channel: String,
    pub icon: Option<Icon>,
    pub description: String,
    pub properties: Vec<Property>,
}

/// A package icon; `data` holds the decoded bytes, as Go's `[]byte` does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Icon {
    pub data: Vec<u8>,
    pub media_type: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Channel {
    pub schema: String,
    pub package: String,
    pub name: String,
    /// `None` is Go's nil slice, written as `null`.
    pub entries: Option<Vec<ChannelEntry>>,
    pub properties: Vec<Property>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelEntry {
    pub name: String,
    pub replaces: String,
    pub skips: Vec<String>,
    pub skip_range: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bundle {
    pub schema: String,
    pub package: String,
    pub name: String,
    pub image: String,
    pub properties: Vec<Property>,
    pub related_images: Vec<RelatedImage>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct RelatedImage {
    pub name: String,
    pub image: String,
}

/// A bundle or package property. `value` is raw JSON text, as Go's
/// `json.RawMessage`: ordering and deduplication compare this text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Property {
    pub type_: String,
    pub value: String,
}

impl Property {
    /// A property whose value is `json.Marshal` of `value` (HTML-escaped).
    pub fn new(type_: &str, value: &Value) -> Property {
        Property {
            type_: type_.to_string(),
            value: json::to_compact(value, true),
        }
    }

    pub fn parsed_value(&self) -> Result<Value, json::ParseError> {
        json::parse(&self.value)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deprecation {
    pub schema: String,
    pub package: String,
    pub entries: Vec<DeprecationEntry>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeprecationEntry {
    pub reference: PackageScopedReference,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PackageScopedReference {
    pub schema: String,
    pub name: String,
}

impl PackageScopedReference {
    /// Go's `%#v` of the struct, used in opm's deprecation errors.
    pub fn go_syntax(&self) -> String {
        format!("declcfg.PackageScopedReference{{Schema:{:?}, Name:{:?}}}", self.schema, self.name)
    }
}

/// A blob of a schema catbuild does not model, kept whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub schema: String,
    pub package: String,
    pub name: String,
    pub blob: Value,
}

/// A typed-decode failure, worded like Go's `json.UnmarshalTypeError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("json: cannot unmarshal {found} into Go struct field {field} of type {expected}")]
pub struct DecodeError {
    pub found: &'static str,
    pub field: String,
    pub expected: &'static str,
}

type Fields<'a> = &'a [(String, Value)];

/// Go matches struct fields case-insensitively and lets a later key win.
fn field<'a>(fields: Fields<'a>, name: &str) -> Option<&'a Value> {
    fields
        .iter()
        .rev()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

fn string_field(fields: Fields, name: &str, go_field: &str) -> Result<String, DecodeError> {
    match field(fields, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(DecodeError {
            found: other.go_type_name(),
            field: go_field.to_string(),
            expected: "string",
        }),
    }
}

fn array_field<'a>(fields: Fields<'a>, name: &str, go_field: &str, expected: &'static str) -> Result<Option<&'a [Value]>, DecodeError> {
    match field(fields, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(DecodeError {
            found: other.go_type_name(),
            field: go_field.to_string(),
            expected,
        }),
    }
}

fn object_of<'a>(value: &'a Value, go_field: &str, expected: &'static str) -> Result<Option<Fields<'a>>, DecodeError> {
    match value {
        Value::Null => Ok(None),
        Value::Object(fields) => Ok(Some(fields)),
        other => Err(DecodeError {
            found: other.go_type_name(),
            field: go_field.to_string(),
            expected,
        }),
    }
}

fn properties_field(fields: Fields, go_struct: &str) -> Result<Vec<Property>, DecodeError> {
    let go_field = format!("{go_struct}.properties");
    let Some(items) = array_field(fields, "properties", &go_field, "[]property.Property")? else {
        return Ok(Vec::new());
    };
    let mut properties = Vec::with_capacity(items.len());
    for item in items {
        let Some(prop) = object_of(item, &go_field, "property.Property")? else {
            properties.push(Property::default());
            continue;
        };
        let type_ = string_field(prop, "type", "Property.type")?;
        let value = field(prop, "value").map_or_else(|| "null".to_string(), |value| json::to_compact(value, false));
        properties.push(Property { type_, value });
    }
    Ok(properties)
}

fn strings_field(fields: Fields, name: &str, go_field: &str) -> Result<Vec<String>, DecodeError> {
    let Some(items) = array_field(fields, name, go_field, "[]string")? else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(text) => Ok(text.clone()),
            Value::Null => Ok(String::new()),
            other => Err(DecodeError {
                found: other.go_type_name(),
                field: go_field.to_string(),
                expected: "string",
            }),
        })
        .collect()
}

impl Package {
    pub fn decode(blob: &Value) -> Result<Package, DecodeError> {
        let fields = blob.as_object().unwrap_or_default();
        let icon = match field(fields, "icon") {
            None | Some(Value::Null) => None,
            Some(value) => {
                let icon_fields = object_of(value, "Package.icon", "declcfg.Icon")?.unwrap_or_default();
                let data = match field(icon_fields, "base64data") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::String(text)) => decode_go_base64(text).ok_or(DecodeError {
                        found: "string",
                        field: "Package.icon.base64data".to_string(),
                        expected: "[]uint8",
                    })?,
                    Some(other) => {
                        return Err(DecodeError {
                            found: other.go_type_name(),
                            field: "Package.icon.base64data".to_string(),
                            expected: "[]uint8",
                        });
                    }
                };
                Some(Icon {
                    data,
                    media_type: string_field(icon_fields, "mediatype", "Package.icon.mediatype")?,
                })
            }
        };
        Ok(Package {
            schema: string_field(fields, "schema", "Package.schema")?,
            name: string_field(fields, "name", "Package.name")?,
            default_channel: string_field(fields, "defaultChannel", "Package.defaultChannel")?,
            icon,
            description: string_field(fields, "description", "Package.description")?,
            properties: properties_field(fields, "Package")?,
        })
    }

    pub fn to_value(&self) -> Value {
        let mut out = vec![
            ("schema".to_string(), Value::str(&self.schema)),
            ("name".to_string(), Value::str(&self.name)),
            ("defaultChannel".to_string(), Value::str(&self.default_channel)),
        ];
        if let Some(icon) = &self.icon {
            let data = if icon.data.is_empty() {
                Value::Null
            } else {
                Value::String(base64::engine::general_purpose::STANDARD.encode(&icon.data))
            };
            out.push((
                "icon".to_string(),
                Value::Object(vec![
                    ("base64data".to_string(), data),
                    ("mediatype".to_string(), Value::str(&icon.media_type)),
                ]),
            ));
        }
        if !self.description.is_empty() {
            out.push(("description".to_string(), Value::str(&self.description)));
        }
        push_properties(&mut out, &self.properties);
        Value::Object(out)
    }
}

/// Go decodes `[]byte` with the standard alphabet and ignores `\r` and `\n`.
fn decode_go_base64(text: &str) -> Option<Vec<u8>> {
    crate::go::base64::decode(text).ok()
}

impl Channel {
    pub fn decode(blob: &Value) -> Result<Channel, DecodeError> {
        let fields = blob.as_object().unwrap_or_default();
        let entries = match array_field(fields, "entries", "Channel.entries", "[]declcfg.ChannelEntry")? {
            None => None,
            Some(items) => {
                let mut entries = Vec::with_capacity(items.len());
                for item in items {
                    let entry = object_of(item, "Channel.entries", "declcfg.ChannelEntry")?.unwrap_or_default();
                    entries.push(ChannelEntry {
                        name: string_field(entry, "name", "ChannelEntry.entries.name")?,
                        replaces: string_field(entry, "replaces", "ChannelEntry.entries.replaces")?,
                        skips: strings_field(entry, "skips", "ChannelEntry.entries.skips")?,
                        skip_range: string_field(entry, "skipRange", "ChannelEntry.entries.skipRange")?,
                    });
                }
                Some(entries)
            }
        };
        Ok(Channel {
            schema: string_field(fields, "schema", "Channel.schema")?,
            package: string_field(fields, "package", "Channel.package")?,
            name: string_field(fields, "name", "Channel.name")?,
            entries,
            properties: properties_field(fields, "Channel")?,
        })
    }

    pub fn to_value(&self) -> Value {
        let entries = match &self.entries {
            None => Value::Null,
            Some(entries) => Value::Array(entries.iter().map(ChannelEntry::to_value).collect()),
        };
        let mut out = vec![
            ("schema".to_string(), Value::str(&self.schema)),
            ("name".to_string(), Value::str(&self.name)),
            ("package".to_string(), Value::str(&self.package)),
            ("entries".to_string(), entries),
        ];
        push_properties(&mut out, &self.properties);
        Value::Object(out)
    }
}

impl ChannelEntry {
    pub fn named(name: &str) -> ChannelEntry {
        ChannelEntry {
            name: name.to_string(),
            ..ChannelEntry::default()
        }
    }

    pub fn to_value(&self) -> Value {
        let mut out = vec![("name".to_string(), Value::str(&self.name))];
        if !self.replaces.is_empty() {
            out.push(("replaces".to_string(), Value::str(&self.replaces)));
        }
        if !self.skips.is_empty() {
            out.push(("skips".to_string(), Value::Array(self.skips.iter().map(Value::str).collect())));
        }
        if !self.skip_range.is_empty() {
            out.push(("skipRange".to_string(), Value::str(&self.skip_range)));
        }
        Value::Object(out)
    }
}

impl Bundle {
    pub fn decode(blob: &Value) -> Result<Bundle, DecodeError> {
        let fields = blob.as_object().unwrap_or_default();
        let mut related_images = Vec::new();
        if let Some(items) = array_field(fields, "relatedImages", "Bundle.relatedImages", "[]declcfg.RelatedImage")? {
            for item in items {
                let image = object_of(item, "Bundle.relatedImages", "declcfg.RelatedImage")?.unwrap_or_default();
                related_images.push(RelatedImage {
                    name: string_field(image, "name", "Bundle.relatedImages.name")?,
                    image: string_field(image, "image", "Bundle.relatedImages.image")?,
                });
            }
        }
        Ok(Bundle {
            schema: string_field(fields, "schema", "Bundle.schema")?,
            package: string_field(fields, "package", "Bundle.package")?,
            name: string_field(fields, "name", "Bundle.name")?,
            image: string_field(fields, "image", "Bundle.image")?,
            properties: properties_field(fields, "Bundle")?,
            related_images,
        })
    }

    pub fn to_value(&self) -> Value {
        let mut out = vec![("schema".to_string(), Value::str(&self.schema))];
        if !self.name.is_empty() {
            out.push(("name".to_string(), Value::str(&self.name)));
        }
        if !self.package.is_empty() {
            out.push(("package".to_string(), Value::str(&self.package)));
        }
        out.push(("image".to_string(), Value::str(&self.image)));
        push_properties(&mut out, &self.properties);
        if !self.related_images.is_empty() {
            let images = self
                .related_images
                .iter()
                .map(|related| {
                    Value::Object(vec![
                        ("name".to_string(), Value::str(&related.name)),
                        ("image".to_string(), Value::str(&related.image)),
                    ])
                })
                .collect();
            out.push(("relatedImages".to_string(), Value::Array(images)));
        }
        Value::Object(out)
    }
}

impl Deprecation {
    pub fn decode(blob: &Value) -> Result<Deprecation, DecodeError> {
        let fields = blob.as_object().unwrap_or_default();
        let mut entries = Vec::new();
        if let Some(items) = array_field(fields, "entries", "Deprecation.entries", "[]declcfg.DeprecationEntry")? {
            for item in items {
                let entry = object_of(item, "Deprecation.entries", "declcfg.DeprecationEntry")?.unwrap_or_default();
                let reference = match field(entry, "reference") {
                    None => PackageScopedReference::default(),
                    Some(value) => {
                        let reference =
                            object_of(value, "Deprecation.entries.reference", "declcfg.PackageScopedReference")?.unwrap_or_default();
                        PackageScopedReference {
                            schema: string_field(reference, "schema", "Deprecation.entries.reference.schema")?,
                            name: string_field(reference, "name", "Deprecation.entries.reference.name")?,
                        }
                    }
                };
                entries.push(DeprecationEntry {
                    reference,
                    message: string_field(entry, "message", "Deprecation.entries.message")?,
                });
            }
        }
        Ok(Deprecation {
            schema: string_field(fields, "schema", "Deprecation.schema")?,
            package: string_field(fields, "package", "Deprecation.package")?,
            entries,
        })
    }

    pub fn to_value(&self) -> Value {
        let entries = self
            .entries
            .iter()
            .map(|entry| {
                let mut reference = vec![("schema".to_string(), Value::str(&entry.reference.schema))];
                if !entry.reference.name.is_empty() {
                    reference.push(("name".to_string(), Value::str(&entry.reference.name)));
                }
                Value::Object(vec![
                    ("reference".to_string(), Value::Object(reference)),
                    ("message".to_string(), Value::str(&entry.message)),
                ])
            })
            .collect();
        Value::Object(vec![
            ("schema".to_string(), Value::str(&self.schema)),
            ("package".to_string(), Value::str(&self.package)),
            ("entries".to_string(), Value::Array(entries)),
        ])
    }
}

fn push_properties(out: &mut Vec<(String, Value)>, properties: &[Property]) {
    if properties.is_empty() {
        return;
    }
    let items = properties
        .iter()
        .map(|property| {
            // Raw, as Go's json.RawMessage: escapes in the value survive.
            let value = Value::Raw(property.value.clone());
            Value::Object(vec![
                ("type".to_string(), Value::str(&property.type_)),
                ("value".to_string(), value),
            ])
        })
        .collect();
    out.push(("properties".to_string(), Value::Array(items)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_fields_in_go_struct_order() {
        let bundle = Bundle {
            schema: SCHEMA_BUNDLE.to_string(),
            package: "foo".to_string(),
            name: "foo.v1".to_string(),
            image: String::new(),
            properties: vec![Property {
                type_: "olm.package".to_string(),
                value: r#"{"packageName":"foo","version":"1"}"#.to_string(),
            }],
            related_images: vec![],
        };
        assert_eq!(
            json::to_compact(&bundle.to_value(), false),
            r#"{"schema":"olm.bundle","name":"foo.v1","package":"foo","image":"","properties":[{"type":"olm.package","value":{"packageName":"foo","version":"1"}}]}"#
        );
    }

    #[test]
    fn decode_matches_keys_case_insensitively() {
        let blob = json::parse(r#"{"Schema":"olm.package","NAME":"foo","defaultchannel":"stable"}"#).unwrap();
        let package = Package::decode(&blob).unwrap();
        assert_eq!((package.name.as_str(), package.default_channel.as_str()), ("foo", "stable"));
    }

    #[test]
    fn decode_reports_go_type_errors() {
        let blob = json::parse(r#"{"schema":"olm.package","name":7}"#).unwrap();
        assert_eq!(
            Package::decode(&blob).unwrap_err().to_string(),
            "json: cannot unmarshal number into Go struct field Package.name of type string"
        );
    }
}
