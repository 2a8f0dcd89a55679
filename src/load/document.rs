//! Reading one bundle file the way opm does, and the Go `encoding/json`
//! decoding rules that opm's typed reads apply to it.
//!
//! opm opens every file with k8s' `YAMLOrJSONDecoder` and decodes only the
//! first document (`pkg/registry/decode.go` decodeFileFS); a second decode
//! only serves the "found more than one document" warning. Manifests are
//! decoded into `unstructured.Unstructured`, which (a) needs a non-empty
//! string `kind`, (b) holds a Go map, so keys come out sorted and
//! deduplicated (last wins) when re-encoded, and (c) keeps integral numbers
//! as int64 and every other number as float64 (apimachinery `util/json`).
//! [`into_unstructured`] applies (b) and (c) in one pass.
//!
//! Typed reads (annotations, dependencies, properties, the CSV spec) follow
//! `encoding/json` into Go structs: keys match struct fields
//! case-insensitively, the last matching key wins, `null` leaves the zero
//! value, and a wrong JSON type is an error worded like Go's. When the file
//! is YAML, sigs.k8s.io/yaml first turns numbers and booleans into strings
//! wherever the target field is a string ([`coerced_string`]); a JSON file
//! that fails its typed decode is retried as YAML, so the coercion applies
//! to both.

use crate::encoding::json::{Number, Value};
use crate::encoding::yaml_in::{self, YamlError};

/// The first document of a file.
pub(crate) struct FirstDocument {
    pub value: Value,
    /// 1-based line where the document starts.
    pub line: usize,
    /// A second document follows that Go would decode into a map: opm warns
    /// `found more than one document inside %s, using only the first one`.
    pub extra_documents: bool,
    /// The file was read as a JSON stream, not YAML: raw property values
    /// are the file's bytes rather than re-encoded JSON.
    pub is_json: bool,
}

/// Why a file has no usable first document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeFailure {
    pub message: String,
    pub line: Option<usize>,
}

impl DecodeFailure {
    fn from_yaml(error: YamlError) -> DecodeFailure {
        DecodeFailure {
            message: error.message,
            line: (error.line > 0).then_some(error.line),
        }
    }
}

/// Decodes the first document of a file's bytes.
pub(crate) fn decode_first(bytes: &[u8]) -> Result<FirstDocument, DecodeFailure> {
    decode_first_locating(bytes, &[]).map(|(document, _)| document)
}

/// [`decode_first`], also returning the 1-based line of each key path's
/// key in the first document (see [`yaml_in::KeyLines`]).
pub(crate) fn decode_first_locating(bytes: &[u8], key_paths: &[&[&str]]) -> Result<(FirstDocument, Vec<Option<usize>>), DecodeFailure> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        // go-yaml refuses invalid UTF-8 before parsing anything.
        return Err(DecodeFailure {
            message: "yaml: invalid leading UTF-8 octet".to_string(),
            line: None,
        });
    };
    let is_json = text.strip_prefix('\u{feff}').unwrap_or(text).trim_start().starts_with('{');
    let mut key_lines = yaml_in::KeyLines::new(key_paths);
    let mut documents = yaml_in::decode_stream_locating(text, &mut key_lines).into_iter();
    match documents.next() {
        // Go's decoder returns io.EOF for a stream without documents.
        None => Err(DecodeFailure {
            message: "EOF".to_string(),
            line: None,
        }),
        Some(Err(error)) => Err(DecodeFailure::from_yaml(error)),
        Some(Ok(document)) => {
            let extra_documents = matches!(
                documents.next(),
                Some(Ok(yaml_in::Document {
                    value: Value::Object(_) | Value::Null,
                    ..
                }))
            );
            Ok((
                FirstDocument {
                    value: document.value,
                    line: document.line,
                    extra_documents,
                    is_json,
                },
                key_lines.lines,
            ))
        }
    }
}

/// What `unstructured.Unstructured` holds after decoding `value`: keys
/// sorted bytewise and deduplicated (last wins) at every depth, integral
/// numbers that fit int64 kept, every other number turned into a float64.
/// Fails like Go when a number overflows float64.
pub(crate) fn into_unstructured(mut value: Value) -> Result<Value, String> {
    make_unstructured(&mut value)?;
    Ok(value)
}

/// [`into_unstructured`] in place: no value is moved or re-collected
/// (YAML input arrives sorted and deduplicated already).
fn make_unstructured(value: &mut Value) -> Result<(), String> {
    match value {
        Value::Number(number) => {
            if let Some(normalized) = unstructured_number(number)? {
                *number = normalized;
            }
        }
        Value::Array(items) => {
            for item in items {
                make_unstructured(item)?;
            }
        }
        Value::Object(entries) => {
            for (_, item) in entries.iter_mut() {
                make_unstructured(item)?;
            }
            sort_dedup_last_wins(entries);
        }
        _ => {}
    }
    Ok(())
}

/// Stable-sorts entries by key and keeps the last entry of each key, as a
/// Go map filled in document order does.
pub(crate) fn sort_dedup_last_wins(entries: &mut Vec<(String, Value)>) {
    if entries.windows(2).all(|pair| pair[0].0 < pair[1].0) {
        return;
    }
    entries.sort_by(|left, right| left.0.cmp(&right.0));
    let mut idx = 0;
    while idx + 1 < entries.len() {
        if entries[idx].0 == entries[idx + 1].0 {
            entries.remove(idx);
        } else {
            idx += 1;
        }
    }
}

/// The Go number `number` becomes, `None` when its text stays as it is.
fn unstructured_number(number: &Number) -> Result<Option<Number>, String> {
    let text = number.as_str();
    if let Ok(integer) = text.parse::<i64>() {
        // Not as Go formats it: a `+` sign, a leading zero, or `-0`.
        let reformatted = text.starts_with('+') || text.starts_with("-0") || (text.starts_with('0') && text.len() > 1);
        return Ok(reformatted.then(|| Number::from_i64(integer)));
    }
    Number::from_f64(number.as_f64())
        .map(Some)
        .ok_or_else(|| format!("json: cannot unmarshal number {text} into Go value of type float64"))
}

/// `kind` of an unstructured object: a string, else empty.
pub(crate) fn kind_of(object: &Value) -> &str {
    object.get("kind").and_then(Value::as_str).unwrap_or("")
}

/// The text of apimachinery's missing-kind error.
pub(crate) fn missing_kind_message(value: &Value) -> String {
    format!("Object 'Kind' is missing in '{}'", crate::encoding::json::to_compact(value, true))
}

// ---------------------------------------------------------------------------
// Go encoding/json into structs.

/// Looks up a struct field: the last key equal to `name` ignoring ASCII
/// case, as Go's decoder assigns every matching key in order.
pub(crate) fn field<'a>(fields: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    fields
        .iter()
        .rev()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// Go's `UnmarshalTypeError` text. `field` is the dotted Go struct field
/// path (`Struct.json.path`), or `None` for a top-level value.
pub(crate) fn type_error(found: &Value, field: Option<&str>, go_type: &str) -> String {
    match field {
        Some(field) => format!(
            "json: cannot unmarshal {} into Go struct field {field} of type {go_type}",
            found.go_type_name()
        ),
        None => format!("json: cannot unmarshal {} into Go value of type {go_type}", found.go_type_name()),
    }
}

/// A JSON value decoded into a Go `string`.
pub(crate) fn string_of(value: Option<&Value>, field: Option<&str>) -> Result<String, String> {
    match value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(type_error(other, field, "string")),
    }
}

/// A YAML value decoded into a Go `string` through sigs.k8s.io/yaml, which
/// first formats numbers (`%d`, or `FormatFloat(f, 'g', -1, 32)`) and
/// booleans as strings.
pub(crate) fn coerced_string(value: Option<&Value>, field: Option<&str>) -> Result<String, String> {
    match value {
        Some(Value::Number(number)) => Ok(coerce_number(number)),
        Some(Value::Bool(flag)) => Ok(flag.to_string()),
        other => string_of(other, field),
    }
}

fn coerce_number(number: &Number) -> String {
    let text = number.as_str();
    if !text.contains(['.', 'e', 'E']) {
        return text.to_string();
    }
    format_go_g32(number.as_f64() as f32)
}

/// `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest float32 digits, in
/// `%e` form when the decimal exponent is below -4 or at least 6 (Go fixes
/// the precision used for that choice at 6 for shortest output).
fn format_go_g32(value: f32) -> String {
    format_go_g_shortest(&format!("{value:e}"), value == 0.0, value.is_sign_negative())
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`, which is also `fmt`'s `%g`.
pub(crate) fn format_go_g64(value: f64) -> String {
    format_go_g_shortest(&format!("{value:e}"), value == 0.0, value.is_sign_negative())
}

/// Go's shortest `'g'` layout from Rust's shortest `{:e}` text.
fn format_go_g_shortest(sci: &str, is_zero: bool, negative: bool) -> String {
    let sign = if negative { "-" } else { "" };
    if is_zero {
        return format!("{sign}0");
    }
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n_digits = digits.len();
    if !(-4..6).contains(&exponent) {
        let mut out = format!("{sign}{}", &digits[..1]);
        if n_digits > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        out.push_str(&format!("e{exp_sign}{:02}", exponent.abs()));
        return out;
    }
    if exponent < 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-exponent - 1) as usize));
    }
    let int_len = (exponent + 1) as usize;
    if n_digits <= int_len {
        format!("{sign}{digits}{}", "0".repeat(int_len - n_digits))
    } else {
        format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

/// A JSON value decoded into a Go `[]string` (elements `null` become "").
pub(crate) fn strings_of(value: Option<&Value>, field: Option<&str>) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|item| string_of(Some(item), field)).collect(),
        Some(other) => Err(type_error(other, field, "[]string")),
    }
}

/// A JSON value decoded into a Go struct: its fields, or `None` for null
/// (the zero value).
pub(crate) fn struct_of<'a>(value: Option<&'a Value>, field: Option<&str>, go_type: &str) -> Result<Option<&'a [(String, Value)]>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(fields)) => Ok(Some(fields)),
        Some(other) => Err(type_error(other, field, go_type)),
    }
}

/// A JSON value decoded into a Go slice: its items, or empty for null.
pub(crate) fn slice_of<'a>(value: Option<&'a Value>, field: Option<&str>, go_type: &str) -> Result<&'a [Value], String> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(type_error(other, field, go_type)),
    }
}

/// Raw JSON text of a `json.RawMessage` field decoded from YAML: the
/// compact, key-sorted, HTML-escaped text sigs.k8s.io/yaml produced.
pub(crate) fn raw_message(value: &Value, is_json: bool) -> String {
    if is_json {
        crate::encoding::json::to_compact(value, false)
    } else {
        crate::encoding::json::to_compact(&value.clone().sort_keys(), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::json;

    #[test]
    fn unstructured_sorts_dedups_and_turns_numbers_into_go_numbers() {
        let value = json::parse(r#"{"b":1.0,"a":{"z":-0,"y":12345678901234567890,"x":1e3},"b":2.5}"#).unwrap();
        let value = into_unstructured(value).unwrap();
        assert_eq!(
            json::to_compact(&value, false),
            r#"{"a":{"x":1000,"y":12345678901234567000,"z":0},"b":2.5}"#
        );
    }

    #[test]
    fn coerced_strings_follow_sigs_yaml() {
        let number = |text: &str| Value::Number(Number::from_literal(text));
        assert_eq!(coerced_string(Some(&number("7")), None).unwrap(), "7");
        assert_eq!(coerced_string(Some(&number("1.1")), None).unwrap(), "1.1");
        assert_eq!(coerced_string(Some(&number("0.1")), None).unwrap(), "0.1");
        assert_eq!(coerced_string(Some(&number("3.141592653589793")), None).unwrap(), "3.1415927");
        assert_eq!(coerced_string(Some(&number("1.5e+21")), None).unwrap(), "1.5e+21");
        assert_eq!(coerced_string(Some(&number("0.00001")), None).unwrap(), "1e-05");
        assert_eq!(coerced_string(Some(&Value::Bool(true)), None).unwrap(), "true");
        assert_eq!(
            coerced_string(Some(&Value::Array(vec![])), Some("Annotations.x")).unwrap_err(),
            "json: cannot unmarshal array into Go struct field Annotations.x of type string"
        );
    }
}
