//! Scalar decoding as go-yaml v2's `decoder.scalar` does it for an
//! `interface{}` target: tags (`!!str`, `!!int`, `!!binary`, unknown ones),
//! the check of the resolved type against an explicit tag with go-yaml's
//! error text, and the text of float map keys.
//!
//! The YAML 1.1 implicit typing underneath (`yes` is true, `0755` is 493,
//! `.inf` is a float) is [`go_yaml_resolve`], shared with the writer so that
//! both directions agree on every edge case.

use crate::encoding::go_yaml_resolve::{self, Resolved as Implicit};

/// The long form of go-yaml's `!!` tags.
pub(super) const TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// What a scalar decodes to in Go's `interface{}`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Resolved {
    Null,
    Bool(bool),
    /// Go `int` (64 bits on every platform opm ships for).
    Int(i64),
    /// Go `uint64`: positive integers above `i64::MAX`.
    Uint(u64),
    Float(f64),
    String(String),
}

/// Why a scalar could not be decoded: the text go-yaml fails with.
pub(super) type ResolveError = String;

/// Resolves one scalar node. `tag` is the full tag (`None` when absent),
/// `plain` says whether the scalar was written without quotes or block
/// indicators. Mirrors go-yaml's `decoder.scalar` for an `interface{}`
/// target: quoted untagged scalars are strings, timestamps keep their text,
/// `!!binary` is base64-decoded.
pub(super) fn resolve_scalar(value: &str, tag: Option<&str>, plain: bool) -> Result<Resolved, ResolveError> {
    let Some(tag) = tag else {
        // Quoted and block scalars without a tag are strings.
        if !plain {
            return Ok(Resolved::String(value.to_string()));
        }
        return Ok(resolve_untagged(value, true).0);
    };
    let short = tag.strip_prefix(TAG_PREFIX);
    match short {
        Some("binary") => {
            let bytes = decode_base64(value).ok_or_else(|| "!!binary value contains invalid base64 data".to_string())?;
            Ok(Resolved::String(go_string_from_bytes(&bytes)))
        }
        Some(name @ ("str" | "bool" | "int" | "float" | "null" | "timestamp")) => {
            if name == "str" {
                return Ok(Resolved::String(value.to_string()));
            }
            let (resolved, kind) = resolve_untagged(value, name == "timestamp");
            match (name, kind) {
                (wanted, found) if wanted == found => Ok(resolved),
                ("float", "int") => Ok(match resolved {
                    Resolved::Int(int) => Resolved::Float(int as f64),
                    // go-yaml converts only `int`/`int64` results; a uint64
                    // falls through to the failure below.
                    other => return Err(cannot_decode(found_kind_uint(&other), value, "float")),
                }),
                (wanted, found) => Err(cannot_decode(found, value, wanted)),
            }
        }
        // Any other tag (`!foo`, the bare `!`, `!!merge`, `!!map`, ...) is
        // not resolvable: the text stays a string.
        _ => Ok(Resolved::String(value.to_string())),
    }
}

fn found_kind_uint(resolved: &Resolved) -> &'static str {
    match resolved {
        Resolved::Uint(_) | Resolved::Int(_) => "int",
        _ => "str",
    }
}

fn cannot_decode(found: &str, value: &str, wanted: &str) -> String {
    format!("cannot decode !!{found} `{value}` as a !!{wanted}")
}

/// go-yaml's `resolve` for an empty or resolvable tag: the value and the
/// short name of the tag it resolved to. The typing rules themselves are
/// shared with the writer ([`go_yaml_resolve`]).
fn resolve_untagged(text: &str, try_timestamp: bool) -> (Resolved, &'static str) {
    let implicit = go_yaml_resolve::resolve(text, try_timestamp);
    let value = match implicit {
        Implicit::Null => Resolved::Null,
        Implicit::Bool(flag) => Resolved::Bool(flag),
        Implicit::Int(int) => Resolved::Int(int),
        Implicit::Uint(uint) => Resolved::Uint(uint),
        Implicit::Float(float) => Resolved::Float(float),
        Implicit::Timestamp | Implicit::Str => Resolved::String(text.to_string()),
    };
    (value, implicit.tag())
}

/// Go's `base64.StdEncoding.DecodeString`: padding required, `\r` and `\n`
/// ignored, anything else outside the alphabet is an error.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    crate::go::base64::decode(text).ok()
}

/// A Go string holding arbitrary bytes, as `json.Marshal` would print it:
/// each byte that does not start a valid UTF-8 sequence becomes U+FFFD.
fn go_string_from_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                break;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{fffd}');
                rest = &after[1..];
            }
        }
    }
    out
}

/// `strconv.FormatFloat(value, 'g', -1, 32)`, which sigs.k8s.io/yaml uses
/// for float map keys, with its `.inf`/`-.inf`/`.nan` spellings.
pub(super) fn format_float_key(value: f64) -> String {
    let narrow = value as f32;
    if narrow.is_nan() {
        return ".nan".to_string();
    }
    if narrow.is_infinite() {
        return if narrow > 0.0 { ".inf" } else { "-.inf" }.to_string();
    }
    if narrow == 0.0 {
        return if narrow.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits of the f32.
    let scientific = format!("{:e}", narrow.abs());
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if narrow < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exponent) {
        let (head, tail) = digits.split_at(1);
        let fraction = if tail.is_empty() { String::new() } else { format!(".{tail}") };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{head}{fraction}e{exponent_sign}{:02}", exponent.abs());
    }
    let point = exponent + 1;
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = point as usize;
    if digits.len() <= point {
        format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}
