//! The basic template (`schema: olm.template.basic`): a list of FBC blobs
//! in which each `olm.bundle` is only a pointer to an image. Rendering
//! replaces every such pointer by the rendered bundle and passes every other
//! blob through (opm's `alpha/template/basic` at HEAD).
//!
//! Only the first YAML/JSON document of the file is read, as opm's
//! `YAMLOrJSONDecoder.Decode` does; entries go through the same map round
//! trip as FBC files (`Meta.UnmarshalJSON`, then `declcfg.LoadSlice`).

use super::{BundleRenderer, TemplateError};
use crate::encoding::json::{self, Value};
use crate::encoding::yaml_in;
use crate::fbc::{Bundle, DeclarativeConfig, load};
use crate::go::go_quote;

/// The schema a basic template must declare.
pub const SCHEMA: &str = "olm.template.basic";

/// Renders a basic template. Bundle entries are rendered in template order
/// with `render_bundle`; only the bundles it returns are kept.
pub fn render(text: &str, render_bundle: BundleRenderer) -> Result<DeclarativeConfig, TemplateError> {
    let entries = parse_spec(text)?;
    let mut config = DeclarativeConfig::default();
    for entry in entries {
        load::add_blob(&mut config, entry).map_err(TemplateError::Entry)?;
    }
    let mut bundles = Vec::with_capacity(config.bundles.len());
    for bundle in &config.bundles {
        if !is_bundle_template(bundle) {
            return Err(TemplateError::UnexpectedBundleFields);
        }
        let contributor = render_bundle(&bundle.image).map_err(TemplateError::RenderBundle)?;
        bundles.extend(contributor.bundles);
    }
    config.bundles = bundles;
    Ok(config)
}

/// A bundle entry may name an image and nothing else that opm decodes
/// (`name` is tolerated, as opm's `isBundleTemplate` does not look at it).
fn is_bundle_template(bundle: &Bundle) -> bool {
    !bundle.schema.is_empty()
        && !bundle.image.is_empty()
        && bundle.package.is_empty()
        && bundle.properties.is_empty()
        && bundle.related_images.is_empty()
}

/// `parseSpec`: the first document, decoded as Go decodes
/// `BasicTemplateData{Schema string; Entries []*declcfg.Meta}`, then the
/// schema check. Returns the entries.
fn parse_spec(text: &str) -> Result<Vec<Value>, TemplateError> {
    let document = match yaml_in::decode_stream(text).into_iter().next() {
        None => return Err(TemplateError::DecodeBasic("EOF".to_string())),
        Some(Err(error)) => return Err(TemplateError::DecodeBasic(error.message)),
        Some(Ok(document)) => document.value,
    };
    let fields = match &document {
        Value::Null => &[][..],
        Value::Object(fields) => fields.as_slice(),
        other => {
            return Err(TemplateError::UnmarshalBasic(format!(
                "json: cannot unmarshal {} into Go value of type basic.BasicTemplateData",
                other.go_type_name()
            )));
        }
    };
    let mut schema = String::new();
    let mut entries = Vec::new();
    // Go's decoder visits keys in document order, matching field names
    // case-insensitively; a later key overwrites an earlier one.
    for (key, value) in fields {
        if key.eq_ignore_ascii_case("schema") {
            match value {
                Value::Null => {}
                Value::String(text) => schema = text.clone(),
                other => return Err(type_error(other, "schema", "string")),
            }
        } else if key.eq_ignore_ascii_case("entries") {
            match value {
                Value::Null => entries.clear(),
                Value::Array(items) => {
                    entries.clear();
                    for item in items {
                        check_meta(item).map_err(TemplateError::UnmarshalBasic)?;
                        entries.push(item.clone());
                    }
                }
                other => return Err(type_error(other, "entries", "[]*declcfg.Meta")),
            }
        }
    }
    if schema != SCHEMA {
        return Err(TemplateError::UnknownBasicSchema { found: schema });
    }
    Ok(entries)
}

fn type_error(value: &Value, field: &str, go_type: &str) -> TemplateError {
    TemplateError::UnmarshalBasic(format!(
        "json: cannot unmarshal {} into Go struct field BasicTemplateData.{field} of type {go_type}",
        value.go_type_name()
    ))
}

/// The checks of `Meta.UnmarshalJSON` that run while the template is
/// decoded: the entry must be an object, no two keys may fold to the same
/// text, and `schema`, `package` and `name` must be strings.
fn check_meta(entry: &Value) -> Result<(), String> {
    let fields = match entry {
        Value::Object(fields) => fields,
        // A `null` entry is a nil `*Meta`; opm crashes on it later. Report it
        // where opm's loader would have complained about the missing schema.
        Value::Null => return Err("object 'null' is missing root schema field".to_string()),
        other => return Err(not_an_object(other)),
    };
    let mut folded: std::collections::BTreeMap<String, std::collections::BTreeSet<&str>> = std::collections::BTreeMap::new();
    for (key, _) in fields {
        folded.entry(key.to_lowercase()).or_default().insert(key);
    }
    let duplicates: Vec<String> = folded
        .iter()
        .filter(|(_, keys)| keys.len() > 1)
        .map(|(folded_key, keys)| {
            let keys: Vec<&str> = keys.iter().copied().collect();
            format!("duplicate keys for key {}: [{}]", go_quote(folded_key), keys.join(" "))
        })
        .collect();
    match duplicates.len() {
        0 => {}
        1 => return Err(duplicates.into_iter().next().unwrap_or_default()),
        _ => return Err(format!("[{}]", duplicates.join(", "))),
    }
    for meta_key in ["schema", "package", "name"] {
        // The last occurrence of a key is what a Go map keeps.
        let Some((key, value)) = fields.iter().rev().find(|(key, _)| key.to_lowercase() == meta_key) else {
            continue;
        };
        if !matches!(value, Value::String(_)) {
            let value = value.clone().into_go_map().unwrap_or(Value::Null);
            return Err(format!(
                "expected value for key {} to be a string, got {}: {}",
                go_quote(key),
                go_format_bool_verb(&value),
                go_format_value(&value)
            ));
        }
    }
    Ok(())
}

/// What `prettyunmarshaler` prints when an entry is not a JSON object: Go's
/// type error, then the entry with a marker where the decoder stopped (after
/// a scalar, just inside an array).
fn not_an_object(entry: &Value) -> String {
    let data = json::to_compact(entry, false);
    let message = format!(
        "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
        entry.go_type_name()
    );
    let pretty = json::to_indented(entry, "    ");
    let pretty = pretty.strip_suffix('\n').unwrap_or(&pretty);
    match entry {
        Value::Array(_) => format!("{message} at offset 1 (indicated by <==)\n[ <== {}", &pretty[1..]),
        _ => format!("{message} at offset {} (indicated by <==)\n{pretty} <==", data.len()),
    }
}

/// Go's `%t` of a decoded JSON value (`bool`, `float64`, `string`, slices
/// and maps of them).
fn go_format_bool_verb(value: &Value) -> String {
    match value {
        Value::Bool(flag) => flag.to_string(),
        Value::Null => "%!t(<nil>)".to_string(),
        Value::Number(_) => format!("%!t(float64={})", go_format_value(value)),
        Value::String(text) => format!("%!t(string={text})"),
        Value::Raw(_) => go_format_bool_verb(&value.resolve_raw()),
        Value::Array(items) => format!("[{}]", items.iter().map(go_format_bool_verb).collect::<Vec<_>>().join(" ")),
        Value::Object(fields) => format!(
            "map[{}]",
            fields
                .iter()
                .map(|(key, item)| format!("%!t(string={key}):{}", go_format_bool_verb(item)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// Go's `%v` of a decoded JSON value.
fn go_format_value(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => go_format_float(number.as_f64()),
        Value::String(text) => text.clone(),
        Value::Raw(_) => go_format_value(&value.resolve_raw()),
        Value::Array(items) => format!("[{}]", items.iter().map(go_format_value).collect::<Vec<_>>().join(" ")),
        Value::Object(fields) => format!(
            "map[{}]",
            fields
                .iter()
                .map(|(key, item)| format!("{key}:{}", go_format_value(item)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// `strconv.FormatFloat(value, 'g', -1, 64)`, which `%v` uses for float64:
/// shortest digits, in exponent form when the decimal exponent is below -4
/// or at least 6 (`1e+06`, `1e-05`, `123456`).
fn go_format_float(value: f64) -> String {
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0".to_string()
        } else {
            "0".to_string()
        };
    }
    let scientific = format!("{value:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..6).contains(&exponent) {
        return format_exponent(mantissa, exponent);
    }
    format!("{value}")
}

fn format_exponent(mantissa: &str, exponent: i32) -> String {
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_bundles(image: &str) -> Result<DeclarativeConfig, String> {
        Err(format!("unexpected render of {image}"))
    }

    #[test]
    fn unknown_schema_is_refused() {
        let error = render(r#"{"schema":"olm.template.other","entries":[]}"#, &no_bundles).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"template has unknown schema ("olm.template.other"), should be "olm.template.basic""#
        );
    }

    #[test]
    fn bundle_with_properties_is_refused() {
        let text = r#"{"schema":"olm.template.basic","entries":[
            {"schema":"olm.bundle","image":"quay.io/foo:1","properties":[{"type":"olm.package","value":{}}]}]}"#;
        let error = render(text, &no_bundles).unwrap_err();
        assert_eq!(error.to_string(), "unexpected fields present in basic template bundle");
    }

    #[test]
    fn bundles_are_replaced_and_others_pass_through() {
        let text = r#"{"Schema":"olm.template.basic","entries":[
            {"schema":"olm.package","name":"foo","defaultChannel":"stable"},
            {"schema":"olm.bundle","image":"quay.io/foo:1"},
            {"schema":"olm.bundle","image":"quay.io/foo:1"},
            {"schema":"custom.thing","package":"foo","b":1,"a":2}]}"#;
        let rendered = |image: &str| {
            Ok(DeclarativeConfig {
                packages: vec![crate::fbc::Package {
                    name: "dropped".into(),
                    ..Default::default()
                }],
                bundles: vec![Bundle {
                    schema: "olm.bundle".into(),
                    name: "foo.v1".into(),
                    package: "foo".into(),
                    image: image.into(),
                    ..Default::default()
                }],
                ..Default::default()
            })
        };
        let config = render(text, &rendered).unwrap();
        assert_eq!(config.packages.len(), 1);
        assert_eq!(config.packages[0].default_channel, "stable");
        assert_eq!(config.bundles.len(), 2);
        assert!(
            config
                .bundles
                .iter()
                .all(|bundle| bundle.image == "quay.io/foo:1" && bundle.name == "foo.v1")
        );
        assert_eq!(
            json::to_compact(&config.others[0].blob, false),
            r#"{"a":2,"b":1,"package":"foo","schema":"custom.thing"}"#
        );
    }

    #[test]
    fn entry_errors_use_go_wording() {
        let text = r#"{"schema":"olm.template.basic","entries":[{"schema":"olm.package","Name":"a","name":"b"}]}"#;
        assert_eq!(
            render(text, &no_bundles).unwrap_err().to_string(),
            r#"unmarshalling template: duplicate keys for key "name": [Name name]"#
        );
        let text = r#"{"schema":"olm.template.basic","entries":[{"schema":1}]}"#;
        assert_eq!(
            render(text, &no_bundles).unwrap_err().to_string(),
            r#"unmarshalling template: expected value for key "schema" to be a string, got %!t(float64=1): 1"#
        );
        let text = r#"{"schema":"olm.template.basic","entries":["x"]}"#;
        assert_eq!(
            render(text, &no_bundles).unwrap_err().to_string(),
            "unmarshalling template: json: cannot unmarshal string into Go value of type map[string]interface {} at offset 3 (indicated by <==)\n\"x\" <=="
        );
        let text = r#"{"schema":"olm.template.basic","entries":{}}"#;
        assert_eq!(
            render(text, &no_bundles).unwrap_err().to_string(),
            "unmarshalling template: json: cannot unmarshal object into Go struct field BasicTemplateData.entries of type []*declcfg.Meta"
        );
    }

    #[test]
    fn go_float_text() {
        assert_eq!(go_format_float(1.0), "1");
        assert_eq!(go_format_float(123456.0), "123456");
        assert_eq!(go_format_float(1e6), "1e+06");
        assert_eq!(go_format_float(1234567.0), "1.234567e+06");
        assert_eq!(go_format_float(0.0001), "0.0001");
        assert_eq!(go_format_float(0.00001), "1e-05");
        assert_eq!(go_format_float(1.5), "1.5");
    }
}
