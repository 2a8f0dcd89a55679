//! opm's `property.Parse`: each property of a known type is decoded into
//! its Go struct, and the first failure stops the parse with
//! `parse property[<index>] of type "<type>": <Go json error>`. Both
//! `ConvertToModel` (counting `olm.package` properties) and bundle
//! validation call it, so the Go `encoding/json` error texts are copied for
//! the shapes these structs can meet: a wrong JSON kind for a string field
//! (`json: cannot unmarshal number into Go struct field Package.version of
//! type string`) or for the whole value, and bad base64 in
//! `olm.bundle.object` data.
//!
//! `olm.csv.metadata` is only checked to be an object (or null): opm
//! decodes it into a large CSV-derived struct whose field-level type errors
//! are not reproduced here.

use crate::encoding::json::{self, Value};
use crate::fbc::{
    PROPERTY_BUNDLE_OBJECT, PROPERTY_CHANNEL, PROPERTY_CSV_METADATA, PROPERTY_GVK, PROPERTY_GVK_REQUIRED, PROPERTY_PACKAGE,
    PROPERTY_PACKAGE_REQUIRED, Property,
};
use crate::go::go_quote;

/// `olm.package`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageProperty {
    pub package_name: String,
    pub version: String,
    pub release: String,
}

/// `olm.package.required`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageRequired {
    pub package_name: String,
    pub version_range: String,
}

/// `olm.gvk` and `olm.gvk.required`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gvk {
    pub group: String,
    pub kind: String,
    pub version: String,
}

/// The typed view of a property list (opm's `property.Properties`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Properties {
    pub packages: Vec<PackageProperty>,
    pub packages_required: Vec<PackageRequired>,
    pub gvks: Vec<Gvk>,
    pub gvks_required: Vec<Gvk>,
    /// Decoded `data` of each `olm.bundle.object`.
    pub bundle_objects: Vec<Vec<u8>>,
    /// `channelName` of each (internal) `olm.channel` property.
    pub channels: Vec<String>,
    pub csv_metadatas: Vec<Value>,
    pub others: Vec<Property>,
}

/// What [`parse_with`] keeps of each `olm.bundle.object`'s data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objects {
    /// The decoded bytes (what the SQLite index and the server need).
    Decoded,
    /// Only checked, as opm's decode would check it, and kept empty:
    /// enough for validation, which counts objects. A catalog's objects
    /// are most of its bytes, so this spares decoding and holding them.
    Checked,
}

/// opm's `property.Parse`.
pub fn parse(properties: &[Property]) -> Result<Properties, String> {
    parse_with(properties, Objects::Decoded)
}

/// [`parse`], keeping bundle objects as `objects` says; the errors are
/// the same either way.
pub fn parse_with(properties: &[Property], objects: Objects) -> Result<Properties, String> {
    let mut parsed = Properties::default();
    for (property_idx, property) in properties.iter().enumerate() {
        parse_one(property, objects, &mut parsed)
            .map_err(|error| format!("parse property[{property_idx}] of type {}: {error}", go_quote(&property.type_)))?;
    }
    Ok(parsed)
}

fn parse_one(property: &Property, objects: Objects, parsed: &mut Properties) -> Result<(), String> {
    // Fast path for the bulk of a catalog: `{"data":"<base64>"}` written by
    // a JSON encoder needs no general parse. A `"` or `\` inside would fail
    // the strict base64 check, which then sends the value the slow way.
    if property.type_ == PROPERTY_BUNDLE_OBJECT
        && let Some(data) = property
            .value
            .strip_prefix("{\"data\":\"")
            .and_then(|rest| rest.strip_suffix("\"}"))
    {
        let bytes = match objects {
            Objects::Decoded => crate::go::base64::decode(data).ok(),
            Objects::Checked => crate::go::base64::is_valid(data).then(Vec::new),
        };
        if let Some(bytes) = bytes {
            parsed.bundle_objects.push(bytes);
            return Ok(());
        }
    }
    // Go's json.Unmarshal checks the syntax of the whole input first.
    let value = json::parse(&property.value).map_err(|error| go_syntax_error(&property.value, &error))?;
    match property.type_.as_str() {
        PROPERTY_PACKAGE => {
            let [package_name, version, release] = string_fields(&value, "Package", ["packageName", "version", "release"])?;
            parsed.packages.push(PackageProperty {
                package_name,
                version,
                release,
            });
        }
        PROPERTY_PACKAGE_REQUIRED => {
            let [package_name, version_range] = string_fields(&value, "PackageRequired", ["packageName", "versionRange"])?;
            parsed.packages_required.push(PackageRequired {
                package_name,
                version_range,
            });
        }
        PROPERTY_GVK => {
            let [group, kind, version] = string_fields(&value, "GVK", ["group", "kind", "version"])?;
            parsed.gvks.push(Gvk { group, kind, version });
        }
        PROPERTY_GVK_REQUIRED => {
            let [group, kind, version] = string_fields(&value, "GVKRequired", ["group", "kind", "version"])?;
            parsed.gvks_required.push(Gvk { group, kind, version });
        }
        PROPERTY_BUNDLE_OBJECT => {
            let mut data = bundle_object_data(&value)?;
            if objects == Objects::Checked {
                data = Vec::new();
            }
            parsed.bundle_objects.push(data);
        }
        PROPERTY_CHANNEL => {
            let [channel_name] = string_fields(&value, "Channel", ["channelName"])?;
            parsed.channels.push(channel_name);
        }
        PROPERTY_CSV_METADATA => match &value {
            Value::Null | Value::Object(_) => parsed.csv_metadatas.push(value),
            other => return Err(go_value_type_error(other, "property.CSVMetadata")),
        },
        _ => parsed.others.push(property.clone()),
    }
    Ok(())
}

/// Decodes a JSON value into a Go struct of string fields the way
/// `encoding/json` does: keys match field names exactly or else
/// case-insensitively, unknown keys are ignored, `null` changes nothing, a
/// later duplicate key wins, and the first kind mismatch is the error.
fn string_fields<const N: usize>(value: &Value, go_struct: &str, names: [&str; N]) -> Result<[String; N], String> {
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    let entries = match value {
        Value::Null => return Ok(out),
        Value::Object(entries) => entries,
        other => return Err(go_value_type_error(other, &format!("property.{go_struct}"))),
    };
    let mut first_error = None;
    for (key, item) in entries {
        let field_idx = names
            .iter()
            .position(|name| name == key)
            .or_else(|| names.iter().position(|name| name.eq_ignore_ascii_case(key)));
        let Some(field_idx) = field_idx else { continue };
        match item {
            Value::String(text) => out[field_idx] = text.clone(),
            Value::Null => {}
            other => {
                first_error.get_or_insert_with(|| go_field_type_error(other, go_struct, names[field_idx], "string"));
            }
        }
    }
    first_error.map_or(Ok(out), Err)
}

/// `BundleObject.Data` is a Go `[]byte`: a base64 string, or (as for any
/// slice) an array of numbers 0-255.
fn bundle_object_data(value: &Value) -> Result<Vec<u8>, String> {
    let entries = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Object(entries) => entries,
        other => return Err(go_value_type_error(other, "property.BundleObject")),
    };
    let mut data = Vec::new();
    let mut first_error = None;
    let data_values = entries
        .iter()
        .filter(|(key, _)| key == "data" || key.eq_ignore_ascii_case("data"))
        .map(|(_, item)| item);
    for item in data_values {
        match item {
            Value::Null => {}
            Value::String(text) => match crate::go::base64::decode(text) {
                Ok(bytes) => data = bytes,
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            },
            Value::Array(items) => {
                data = Vec::with_capacity(items.len());
                for element in items {
                    match element {
                        Value::Number(number) => match number.as_str().parse::<u8>() {
                            Ok(byte) => data.push(byte),
                            Err(_) => {
                                first_error.get_or_insert_with(|| {
                                    format!(
                                        "json: cannot unmarshal number {} into Go struct field BundleObject.data of type uint8",
                                        number.as_str()
                                    )
                                });
                                data.push(0);
                            }
                        },
                        other => {
                            first_error.get_or_insert_with(|| go_field_type_error(other, "BundleObject", "data", "uint8"));
                            data.push(0);
                        }
                    }
                }
            }
            other => {
                first_error.get_or_insert_with(|| go_field_type_error(other, "BundleObject", "data", "[]uint8"));
            }
        }
    }
    first_error.map_or(Ok(data), Err)
}

/// Go's `json.SyntaxError` text: running out of input is `unexpected end
/// of JSON input`; otherwise the offending character is quoted into the
/// message (`invalid character 'x' looking for beginning of value`).
fn go_syntax_error(text: &str, error: &json::ParseError) -> String {
    let Some(found) = text.get(error.offset..).and_then(|rest| rest.chars().next()) else {
        return "unexpected end of JSON input".to_string();
    };
    match error.message.strip_prefix("invalid character ") {
        Some(context) => {
            let quoted = match found {
                '\'' => "'\\''".to_string(),
                '"' => "'\"'".to_string(),
                other => {
                    let go_quoted = go_quote(&other.to_string());
                    format!("'{}'", &go_quoted[1..go_quoted.len() - 1])
                }
            };
            format!("invalid character {quoted} {context}")
        }
        None => error.message.clone(),
    }
}

fn go_field_type_error(found: &Value, go_struct: &str, field: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field {go_struct}.{field} of type {go_type}",
        found.go_type_name()
    )
}

fn go_value_type_error(found: &Value, go_type: &str) -> String {
    format!("json: cannot unmarshal {} into Go value of type {go_type}", found.go_type_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(type_: &str, value: &str) -> Property {
        Property {
            type_: type_.to_string(),
            value: value.to_string(),
        }
    }

    #[test]
    fn parses_known_types() {
        let parsed = parse(&[
            property("olm.package", r#"{"packageName":"foo","version":"0.1.0","release":"1"}"#),
            property("olm.gvk", r#"{"group":"g","kind":"K","version":"v1"}"#),
            property("olm.bundle.object", r#"{"data":"e30="}"#),
            property("custom", r#"[1,2]"#),
        ])
        .unwrap();
        assert_eq!(
            parsed.packages,
            [PackageProperty {
                package_name: "foo".to_string(),
                version: "0.1.0".to_string(),
                release: "1".to_string()
            }]
        );
        assert_eq!(parsed.gvks.len(), 1);
        assert_eq!(parsed.bundle_objects, [b"{}".to_vec()]);
        assert_eq!(parsed.others.len(), 1);
    }

    #[test]
    fn reports_go_json_errors() {
        // model_test.go Bundle/Error/InvalidProperty.
        assert_eq!(
            parse(&[property("broken", "{")]).unwrap_err(),
            r#"parse property[0] of type "broken": unexpected end of JSON input"#
        );
        assert_eq!(
            parse(&[property("x", "[1,]")]).unwrap_err(),
            r#"parse property[0] of type "x": invalid character ']' looking for beginning of value"#
        );
        assert_eq!(
            parse(&[
                property("olm.gvk", "{}"),
                property("olm.package", r#"{"packageName":1,"version":true}"#)
            ])
            .unwrap_err(),
            r#"parse property[1] of type "olm.package": json: cannot unmarshal number into Go struct field Package.packageName of type string"#
        );
        assert_eq!(
            parse(&[property("olm.package", r#""foo""#)]).unwrap_err(),
            r#"parse property[0] of type "olm.package": json: cannot unmarshal string into Go value of type property.Package"#
        );
        assert_eq!(
            parse(&[property("olm.bundle.object", r#"{"data":"e30"}"#)]).unwrap_err(),
            r#"parse property[0] of type "olm.bundle.object": illegal base64 data at input byte 0"#
        );
    }

    #[test]
    fn keys_match_case_insensitively_and_null_is_zero() {
        let parsed = parse(&[
            property("olm.package", r#"{"PackageName":"foo","version":null}"#),
            property("olm.package", "null"),
        ])
        .unwrap();
        assert_eq!(parsed.packages[0].package_name, "foo");
        assert_eq!(parsed.packages[0].version, "");
        assert_eq!(parsed.packages.len(), 2);
    }
}
