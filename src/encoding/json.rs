//! A JSON value that keeps what Go keeps, and writers that print what Go prints.
//!
//! opm is written in Go, and catbuild's outputs must match its bytes. Two Go
//! behaviours drive this module:
//!
//! * `json.RawMessage` keeps an object's keys in source order, while
//!   `json.Marshal` of a `map[string]interface{}` sorts them bytewise. So
//!   [`Value::Object`] keeps insertion order and duplicates, and callers that
//!   mimic a Go map call [`Value::into_go_map`] first.
//! * Numbers keep their literal text ([`Number`]), because a raw message
//!   reprints `1.0` as `1.0` while a float64 prints it as `1`. Producers decide
//!   the text (see [`format_go_float`]).
//!
//! The writers follow `encoding/json`: [`to_compact`] is `json.Marshal`
//! (optionally with HTML escaping), [`to_indented`] is a `json.Encoder` with
//! `SetIndent("", indent)` and `SetEscapeHTML(false)`.

use std::fmt::Write as _;

/// A JSON number, stored as the exact text to print.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Number(String);

impl Number {
    /// Wraps text that the caller knows is a valid JSON number.
    pub fn from_literal(text: impl Into<String>) -> Number {
        Number(text.into())
    }

    pub fn from_i64(value: i64) -> Number {
        Number(value.to_string())
    }

    pub fn from_u64(value: u64) -> Number {
        Number(value.to_string())
    }

    /// A float64 as Go's `encoding/json` prints it. `None` for NaN and
    /// infinities, which Go refuses with "json: unsupported value".
    pub fn from_f64(value: f64) -> Option<Number> {
        format_go_float(value).map(Number)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as Go's float64 would hold it.
    pub fn as_f64(&self) -> f64 {
        self.0.parse::<f64>().unwrap_or(f64::NAN)
    }
}

/// A JSON document. Objects keep insertion order and may hold duplicate keys
/// (as raw JSON text can); see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
    /// JSON text written as it is, like Go's `json.RawMessage`: its string
    /// escapes (`\u003e` from a `json.Marshal`) survive the writers, which
    /// only re-space it. Readers see it through [`Value::resolve_raw`].
    Raw(String),
}

impl Value {
    pub fn str(text: impl Into<String>) -> Value {
        Value::String(text.into())
    }

    /// Looks a key up; the last occurrence wins, as in a Go map decode.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a path of object keys.
    pub fn pointer(&self, path: &[&str]) -> Option<&Value> {
        path.iter().try_fold(self, |value, key| value.get(key))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Go's name for the JSON type, as its decode errors print it.
    pub fn go_type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Raw(_) => "raw",
        }
    }

    /// The value with every [`Value::Raw`] parsed (what a Go decoder of the
    /// written text would see). Raw text that does not parse is kept as a string.
    pub fn resolve_raw(&self) -> Value {
        match self {
            Value::Raw(text) => parse(text)
                .map(|value| value.resolve_raw())
                .unwrap_or_else(|_| Value::String(text.clone())),
            Value::Array(items) => Value::Array(items.iter().map(Value::resolve_raw).collect()),
            Value::Object(entries) => Value::Object(entries.iter().map(|(key, value)| (key.clone(), value.resolve_raw())).collect()),
            other => other.clone(),
        }
    }

    /// What a round trip through Go's `map[string]interface{}` does: keys
    /// deduplicated (last wins) and sorted bytewise at every depth, every
    /// number turned into a float64. `None` if a number overflows to
    /// infinity (Go fails the decode then).
    pub fn into_go_map(self) -> Option<Value> {
        Some(match self {
            Value::Raw(_) => self.resolve_raw().into_go_map()?,
            Value::Number(number) => Value::Number(Number::from_f64(number.as_f64())?),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::into_go_map).collect::<Option<_>>()?),
            Value::Object(entries) => {
                let mut map = std::collections::BTreeMap::new();
                for (key, value) in entries {
                    map.insert(key, value.into_go_map()?);
                }
                Value::Object(map.into_iter().collect())
            }
            other => other,
        })
    }

    /// Sorts keys bytewise at every depth and drops duplicates (last wins),
    /// keeping numbers as they are: what `json.Marshal` of a decoded YAML
    /// document does.
    pub fn sort_keys(self) -> Value {
        match self {
            Value::Raw(_) => self.resolve_raw().sort_keys(),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::sort_keys).collect()),
            Value::Object(entries) => {
                // In place (no map per object: large CSVs have many): a
                // stable sort keeps duplicates in input order, so the last
                // of each run is the one that wins.
                let mut entries: Vec<(String, Value)> = entries.into_iter().map(|(key, value)| (key, value.sort_keys())).collect();
                entries.sort_by(|left, right| left.0.cmp(&right.0));
                let mut deduplicated: Vec<(String, Value)> = Vec::with_capacity(entries.len());
                for entry in entries {
                    if deduplicated.last().is_some_and(|last| last.0 == entry.0) {
                        deduplicated.pop();
                    }
                    deduplicated.push(entry);
                }
                Value::Object(deduplicated)
            }
            other => other,
        }
    }
}

/// Formats a float64 the way Go's `encoding/json` does: shortest text that
/// round-trips, `f` notation unless the exponent is small or large.
pub fn format_go_float(value: f64) -> Option<String> {
    if !value.is_finite() {
        return None;
    }
    let abs = value.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust prints `1e21` / `1.5e-7`; Go prints `1e+21` / `1.5e-07`, then
        // its encoder trims a lone leading zero of a negative exponent.
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e')?;
        return Some(if let Some(digits) = exponent.strip_prefix('-') {
            format!("{mantissa}e-{digits}")
        } else {
            format!("{mantissa}e+{exponent}")
        });
    }
    Some(format!("{value}"))
}

/// Whether `text`, which parsed to `value`, is already what
/// [`append_compact`] writes for `value.sort_keys()`: keys sorted and
/// unique at every depth, no whitespace between tokens, and every string
/// spelled as [`write_string`] spells it (the same escapes, no others).
/// Numbers are written as parsed, so any spelling passes. A `true` lets
/// a caller copy the text instead of re-encoding it, with the same bytes.
pub fn is_canonical_compact(text: &str, value: &Value, escape_html: bool) -> bool {
    keys_sorted(value) && spelled_compact(text.as_bytes(), escape_html)
}

fn keys_sorted(value: &Value) -> bool {
    match value {
        Value::Raw(_) => false,
        Value::Array(items) => items.iter().all(keys_sorted),
        Value::Object(entries) => entries.windows(2).all(|pair| pair[0].0 < pair[1].0) && entries.iter().all(|(_, item)| keys_sorted(item)),
        _ => true,
    }
}

/// The token-level half of [`is_canonical_compact`], over valid JSON.
fn spelled_compact(bytes: &[u8], escape_html: bool) -> bool {
    let table = if escape_html { &ESCAPE_HTML } else { &ESCAPE_PLAIN };
    let mut idx = 0;
    let mut in_string = false;
    while idx < bytes.len() {
        let byte = bytes[idx];
        if !in_string {
            match byte {
                b' ' | b'\t' | b'\n' | b'\r' => return false,
                b'"' => in_string = true,
                _ => {}
            }
            idx += 1;
            continue;
        }
        if !table[byte as usize] {
            idx += 1;
            continue;
        }
        match byte {
            b'"' => {
                in_string = false;
                idx += 1;
            }
            b'\\' => {
                let Some(&escape) = bytes.get(idx + 1) else {
                    return false;
                };
                match escape {
                    b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f' => idx += 2,
                    b'u' => {
                        let Some(code) = bytes.get(idx + 2..idx + 6).and_then(lowercase_hex) else {
                            return false;
                        };
                        let written = match code {
                            0x08 | 0x09 | 0x0A | 0x0C | 0x0D => false,
                            0x00..=0x1F | 0x2028 | 0x2029 => true,
                            0x3C | 0x3E | 0x26 => escape_html,
                            _ => false,
                        };
                        if !written {
                            return false;
                        }
                        idx += 6;
                    }
                    _ => return false,
                }
            }
            // Raw U+2028/U+2029 would have been escaped; other characters
            // starting with 0xE2 are written as they are.
            0xE2 => {
                if bytes.get(idx + 1) == Some(&0x80) && matches!(bytes.get(idx + 2), Some(0xA8 | 0xA9)) {
                    return false;
                }
                idx += 1;
            }
            // A control character or, with HTML escaping, `<`, `>`, `&`.
            _ => return false,
        }
    }
    !in_string
}

/// Four lowercase hex digits (as `write_string` writes them), as a number.
fn lowercase_hex(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |code, digit| {
        let nibble = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            _ => return None,
        };
        Some(code * 16 + u32::from(nibble))
    })
}

/// Whether [`compact_text`] gives `text` back unchanged: it holds no JSON
/// whitespace at all (inside strings too, where a raw one cannot be in
/// valid JSON anyway).
pub fn is_compact_text(text: &str) -> bool {
    // In blocks without an early exit per byte, which the compiler turns
    // into vector code: values are megabytes of base64 to scan.
    let bytes = text.as_bytes();
    let is_space = |byte: &u8| matches!(byte, b' ' | b'\t' | b'\n' | b'\r');
    let mut blocks = bytes.chunks_exact(64);
    for block in &mut blocks {
        if block.iter().fold(false, |found, byte| found | is_space(byte)) {
            return false;
        }
    }
    !blocks.remainder().iter().any(is_space)
}

/// Go's `json.Compact` on valid JSON text: whitespace outside strings
/// removed, everything else (escapes, number spellings) kept.
pub fn compact_text(text: &str) -> String {
    // Most values (bundle objects above all) hold no whitespace at all.
    if is_compact_text(text) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for ch in text.chars() {
        if in_string {
            out.push(ch);
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_string = false;
            }
        } else if !matches!(ch, ' ' | '\t' | '\n' | '\r') {
            in_string = ch == '"';
            out.push(ch);
        }
    }
    out
}

/// `json.Marshal`: compact, with `<`, `>`, `&` escaped when `escape_html`.
pub fn to_compact(value: &Value, escape_html: bool) -> String {
    let mut out = String::new();
    write_compact(&mut out, value, escape_html);
    out
}

/// [`to_compact`] appended to `out`, for callers that reuse a buffer.
pub fn append_compact(out: &mut String, value: &Value, escape_html: bool) {
    write_compact(out, value, escape_html);
}

/// A `json.Encoder` with `SetIndent("", indent)` and `SetEscapeHTML(false)`,
/// including its trailing newline.
pub fn to_indented(value: &Value, indent: &str) -> String {
    let mut out = String::new();
    write_indented(&mut out, value, indent, 0);
    out.push('\n');
    out
}

/// [`to_indented`] appended to `out`: a writer of many values (an FBC
/// file of a whole package) fills one buffer instead of copying each
/// value's text into it.
pub fn append_indented(out: &mut String, value: &Value, indent: &str) {
    write_indented(out, value, indent, 0);
    out.push('\n');
}

fn write_compact(out: &mut String, value: &Value, escape_html: bool) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(number.as_str()),
        Value::String(text) => write_string(out, text, escape_html),
        Value::Raw(text) => write_raw(out, text, None, 0),
        Value::Array(items) => {
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                write_compact(out, item, escape_html);
            }
            out.push(']');
        }
        Value::Object(entries) => {
            out.push('{');
            for (idx, (key, item)) in entries.iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                write_string(out, key, escape_html);
                out.push(':');
                write_compact(out, item, escape_html);
            }
            out.push('}');
        }
    }
}

fn write_indented(out: &mut String, value: &Value, indent: &str, depth: usize) {
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_indented(out, item, indent, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(entries) if !entries.is_empty() => {
            out.push('{');
            for (idx, (key, item)) in entries.iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_string(out, key, false);
                out.push_str(": ");
                write_indented(out, item, indent, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
        Value::Raw(text) => write_raw(out, text, Some(indent), depth),
        other => write_compact(out, other, false),
    }
}

/// Go's `json.Compact` (no `indent`) or `json.Indent` of raw JSON text:
/// whitespace outside strings is dropped or re-laid, everything else,
/// string escapes included, is copied. Empty `{}` and `[]` stay on one line.
fn write_raw(out: &mut String, text: &str, indent: Option<&str>, depth: usize) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(indent) = indent {
            out.push('\n');
            for _ in 0..depth {
                out.push_str(indent);
            }
        }
    };
    let bytes = text.as_bytes();
    let mut depth = depth;
    let mut idx = 0;
    while idx < bytes.len() {
        let ch = bytes[idx];
        match ch {
            b'"' => {
                // Copy the whole string, escapes included, in one slice.
                let mut end = idx + 1;
                while end < bytes.len() {
                    match find_string_stop(&bytes[end..], false) {
                        Some(stop) if bytes[end + stop] == b'\\' => end += stop + 2,
                        Some(stop) => {
                            end += stop;
                            break;
                        }
                        None => end = bytes.len(),
                    }
                }
                let end = (end + 1).min(bytes.len());
                out.push_str(&text[idx..end]);
                idx = end;
                continue;
            }
            b'{' | b'[' => {
                out.push(ch as char);
                let close = if ch == b'{' { b'}' } else { b']' };
                let mut next = idx + 1;
                while next < bytes.len() && bytes[next].is_ascii_whitespace() {
                    next += 1;
                }
                if bytes.get(next) == Some(&close) {
                    out.push(close as char);
                    idx = next + 1;
                    continue;
                }
                depth += 1;
                newline(out, depth);
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(out, depth);
                out.push(ch as char);
            }
            b',' => {
                out.push(',');
                newline(out, depth);
            }
            b':' => {
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => {
                // A literal (number, true, false, null): copy up to the next delimiter.
                let mut end = idx + 1;
                while end < bytes.len() && !matches!(bytes[end], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | b':' | b'"') {
                    end += 1;
                }
                out.push_str(&text[idx..end]);
                idx = end;
                continue;
            }
        }
        idx += 1;
    }
}

/// Go's `encodeState.string`: `\b \f \n \r \t` short forms (Go 1.22+), other
/// control characters as `\u00xx`, U+2028/U+2029 always escaped.
fn write_string(out: &mut String, text: &str, escape_html: bool) {
    out.reserve(text.len() + 2);
    out.push('"');
    // Scan bytes and copy runs that need no escape in one go: strings here
    // are large (descriptions, icons), escapes rare. A table says which
    // bytes may need one; 0xE2 only starts U+2028/U+2029 sometimes.
    let table = if escape_html { &ESCAPE_HTML } else { &ESCAPE_PLAIN };
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut idx = 0;
    while idx < bytes.len() {
        let byte = bytes[idx];
        if !table[byte as usize] {
            idx += 1;
            // Long plain runs (base64 above all) go 32 bytes at a time.
            idx += plain_run(&bytes[idx..], escape_html);
            continue;
        }
        let line_separator = byte == 0xE2 && bytes.get(idx + 1) == Some(&0x80) && matches!(bytes.get(idx + 2), Some(0xA8 | 0xA9));
        if byte == 0xE2 && !line_separator {
            idx += 1;
            continue;
        }
        out.push_str(&text[start..idx]);
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0C => out.push_str("\\f"),
            0xE2 => out.push_str(if bytes[idx + 2] == 0xA8 { "\\u2028" } else { "\\u2029" }),
            other => {
                let _ = write!(out, "\\u{:04x}", other);
            }
        }
        idx += if line_separator { 3 } else { 1 };
        start = idx;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// Bytes [`write_string`] must look at: control characters, `"`, `\`,
/// 0xE2 (U+2028/U+2029) and, for the HTML-escaping table, `<`, `>`, `&`.
const ESCAPE_PLAIN: [bool; 256] = escape_table(false);
const ESCAPE_HTML: [bool; 256] = escape_table(true);

const fn escape_table(escape_html: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0xE2] = true;
    if escape_html {
        table[b'<' as usize] = true;
        table[b'>' as usize] = true;
        table[b'&' as usize] = true;
    }
    table
}

/// A JSON syntax error with the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at offset {offset}")]
pub struct ParseError {
    pub message: String,
    pub offset: usize,
}

/// Parses one JSON value; trailing non-whitespace is an error.
pub fn parse(text: &str) -> Result<Value, ParseError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        pos: 0,
    };
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.pos != parser.bytes.len() {
        return Err(parser.error("invalid character after top-level value"));
    }
    Ok(value)
}

/// Parses a stream of concatenated JSON values (what Go's `json.Decoder`
/// reads in a loop), returning each value with its starting byte offset.
pub fn parse_stream(text: &str) -> Result<Vec<(usize, Value)>, ParseError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        pos: 0,
    };
    let mut values = Vec::new();
    loop {
        parser.skip_whitespace();
        if parser.pos == parser.bytes.len() {
            return Ok(values);
        }
        let start = parser.pos;
        values.push((start, parser.value(0)?));
    }
}

/// Go's scanner (`maxNestingDepth`) refuses the `[` or `{` that would open
/// more than this many arrays and objects at once; so do we, at the same
/// byte, instead of overflowing the stack.
const MAX_DEPTH: usize = 10_000;

/// How many bytes at the start of `bytes` surely need no escape, counted
/// in whole 32-byte chunks (the byte loop decides the rest). The test is
/// arithmetic, not the table, so the compiler can use vector code; it
/// flags every byte the tables do (0xE2 included).
fn plain_run(bytes: &[u8], escape_html: bool) -> usize {
    let may_escape = |byte: u8| {
        (byte < 0x20)
            | (byte == b'"')
            | (byte == b'\\')
            | (byte == 0xE2)
            | (escape_html & ((byte == b'<') | (byte == b'>') | (byte == b'&')))
    };
    bytes
        .chunks_exact(32)
        .take_while(|chunk| !chunk.iter().fold(false, |found, &byte| found | may_escape(byte)))
        .count()
        * 32
}

/// The first `"` or `\\` of `bytes` (or control character, with
/// `control`): where a JSON string's plain run ends. Catalogs are mostly
/// long strings (base64 objects), so this looks at 32 bytes at a time
/// with no branch per byte, which the compiler turns into vector code.
pub(crate) fn find_string_stop(bytes: &[u8], control: bool) -> Option<usize> {
    let is_stop = |byte: u8| (byte == b'"') | (byte == b'\\') | (control & (byte < 0x20));
    let mut chunks = bytes.chunks_exact(32);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        if chunk.iter().fold(false, |found, &byte| found | is_stop(byte)) {
            return chunk.iter().position(|&byte| is_stop(byte)).map(|idx| offset + idx);
        }
        offset += 32;
    }
    chunks.remainder().iter().position(|&byte| is_stop(byte)).map(|idx| offset + idx)
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> ParseError {
        ParseError {
            message: message.to_string(),
            offset: self.pos,
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The value at `pos`, inside `depth` open arrays and objects.
    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.skip_whitespace();
        match self.bytes.get(self.pos) {
            None => Err(self.error("unexpected end of JSON input")),
            // Go's text: "invalid character '[' exceeded max depth".
            Some(b'{' | b'[') if depth >= MAX_DEPTH => Err(self.error("invalid character exceeded max depth")),
            Some(b'{') => {
                self.pos += 1;
                let mut entries = Vec::new();
                self.skip_whitespace();
                if self.bytes.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Value::Object(entries));
                }
                loop {
                    self.skip_whitespace();
                    if self.bytes.get(self.pos) != Some(&b'"') {
                        return Err(self.error("invalid character looking for beginning of object key string"));
                    }
                    let key = self.string()?;
                    self.skip_whitespace();
                    if self.bytes.get(self.pos) != Some(&b':') {
                        return Err(self.error("invalid character after object key"));
                    }
                    self.pos += 1;
                    let item = self.value(depth + 1)?;
                    entries.push((key, item));
                    self.skip_whitespace();
                    match self.bytes.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Value::Object(entries));
                        }
                        _ => return Err(self.error("invalid character after object key:value pair")),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_whitespace();
                if self.bytes.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.skip_whitespace();
                    match self.bytes.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(self.error("invalid character after array element")),
                    }
                }
            }
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("invalid character looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let digits = |parser: &mut Self| {
            let from = parser.pos;
            while let Some(b'0'..=b'9') = parser.bytes.get(parser.pos) {
                parser.pos += 1;
            }
            parser.pos > from
        };
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        if self.bytes.get(self.pos) == Some(&b'0') {
            self.pos += 1;
        } else if !digits(self) {
            return Err(self.error("invalid character in numeric literal"));
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !digits(self) {
                return Err(self.error("invalid character after decimal point in numeric literal"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(self.error("invalid character in exponent of numeric literal"));
            }
        }
        Ok(Value::Number(Number(self.text[start..self.pos].to_string())))
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(stop) = find_string_stop(rest.as_bytes(), true) else {
                return Err(self.error("unexpected end of JSON input"));
            };
            if rest.as_bytes()[stop] < 0x20 {
                // A string cut short by the end of input says so first.
                if find_string_stop(&rest.as_bytes()[stop..], false).is_none() {
                    return Err(self.error("unexpected end of JSON input"));
                }
                self.pos += stop;
                return Err(self.error("invalid character in string literal"));
            }
            let chunk = &rest[..stop];
            out.push_str(chunk);
            self.pos += stop;
            if self.bytes[self.pos] == b'"' {
                self.pos += 1;
                return Ok(out);
            }
            self.pos += 1; // backslash
            let escape = *self.bytes.get(self.pos).ok_or_else(|| self.error("unexpected end of JSON input"))?;
            self.pos += 1;
            match escape {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let first = self.hex4()?;
                    // Surrogate pairs combine; a lone surrogate becomes U+FFFD as in Go.
                    if (0xD800..0xDC00).contains(&first) && self.bytes[self.pos..].starts_with(b"\\u") {
                        let save = self.pos;
                        self.pos += 2;
                        let second = self.hex4()?;
                        if (0xDC00..0xE000).contains(&second) {
                            let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                            out.push(char::from_u32(combined).unwrap_or('\u{FFFD}'));
                        } else {
                            out.push('\u{FFFD}');
                            self.pos = save;
                        }
                    } else {
                        out.push(char::from_u32(first).unwrap_or('\u{FFFD}'));
                    }
                }
                _ => return Err(self.error("invalid character in string escape code")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("unexpected end of JSON input"))?;
        let code = u32::from_str_radix(digits, 16).map_err(|_| self.error("invalid character in \\u hexadecimal character escape"))?;
        self.pos += 4;
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compactness_is_seen_at_every_position_of_long_text() {
        let long = format!("{{\"data\":\"{}\"}}", "QUJD".repeat(40));
        assert!(is_compact_text(&long));
        for idx in [0, 1, 31, 32, 33, 63, 64, 100, long.len() - 1] {
            for space in [b' ', b'\t', b'\n', b'\r'] {
                let mut bytes = long.clone().into_bytes();
                bytes[idx] = space;
                let text = String::from_utf8(bytes).unwrap();
                assert!(!is_compact_text(&text), "{space} at {idx}");
            }
        }
        assert!(is_compact_text(""));
        assert!(!is_compact_text("{ }"));
    }

    #[test]
    fn plain_runs_stop_at_every_byte_the_escape_tables_flag() {
        for escape_html in [false, true] {
            let table = if escape_html { &ESCAPE_HTML } else { &ESCAPE_PLAIN };
            for byte in 0..=255u8 {
                for at in [0, 17, 31, 32, 45, 63] {
                    let mut bytes = vec![b'a'; 70];
                    bytes[at] = byte;
                    let whole_chunks_before = at / 32 * 32;
                    let expected = if table[byte as usize] { whole_chunks_before } else { 64 };
                    assert_eq!(
                        plain_run(&bytes, escape_html),
                        expected,
                        "byte {byte:#x} at {at}, html {escape_html}"
                    );
                }
            }
        }
    }

    #[test]
    fn long_strings_are_escaped_and_raw_strings_copied_whatever_the_chunk_edges() {
        // Each special character at every offset around the 32-byte edges,
        // against the expected Go encoding written out by hand.
        for (special, escaped_html, escaped_plain) in [
            ("\"", "\\\"", "\\\""),
            ("\\", "\\\\", "\\\\"),
            ("\n", "\\n", "\\n"),
            ("<", "\\u003c", "<"),
            ("\u{2028}", "\\u2028", "\\u2028"),
            ("\u{2013}", "\u{2013}", "\u{2013}"),
        ] {
            for at in [0, 1, 30, 31, 32, 33, 63, 64, 65] {
                let text = format!("{}{special}{}", "A".repeat(at), "b".repeat(40));
                for (escape_html, escaped) in [(true, escaped_html), (false, escaped_plain)] {
                    let expected = format!("\"{}{escaped}{}\"", "A".repeat(at), "b".repeat(40));
                    assert_eq!(
                        to_compact(&Value::String(text.clone()), escape_html),
                        expected,
                        "{special:?} at {at}"
                    );
                }
                // A raw value's string is copied as it is, escapes and all.
                let raw = format!("{{\"data\": {}}}", to_compact(&Value::String(text.clone()), false));
                let compact = format!("{{\"data\":{}}}", to_compact(&Value::String(text), false));
                assert_eq!(to_compact(&Value::Raw(raw), true), compact);
            }
        }
    }

    #[test]
    fn string_stops_are_found_wherever_they_fall_in_the_32_byte_chunks() {
        // Checked against the plain byte-by-byte definition, with the stop
        // at every position around the chunk edges, and with none.
        let naive = |bytes: &[u8], control: bool| {
            bytes
                .iter()
                .position(|&byte| byte == b'"' || byte == b'\\' || (control && byte < 0x20))
        };
        for len in [0, 1, 31, 32, 33, 63, 64, 65, 100] {
            let plain = vec![b'a'; len];
            assert_eq!(find_string_stop(&plain, true), None);
            for at in 0..len {
                for stop in [b'"', b'\\', b'\n', 0x1f] {
                    let mut bytes = plain.clone();
                    bytes[at] = stop;
                    for control in [true, false] {
                        assert_eq!(
                            find_string_stop(&bytes, control),
                            naive(&bytes, control),
                            "len {len}, {stop:#x} at {at}, control {control}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_control_character_in_a_string_cut_short_is_still_the_end_of_input() {
        // Go reports the missing end first: the string never closes.
        assert_eq!(parse("\"abc\ndef").unwrap_err().message, "unexpected end of JSON input");
        assert_eq!(parse("\"abc\ndef\"").unwrap_err().message, "invalid character in string literal");
        let long = format!("\"{}\u{1}{}\"", "x".repeat(40), "y".repeat(40));
        assert_eq!(parse(&long).unwrap_err().offset, 41);
    }

    #[test]
    fn canonical_compact_is_exactly_what_sorting_and_reencoding_would_not_change() {
        // The expected answer comes from the encoder itself: a text is
        // canonical iff parse, sort_keys and append_compact give it back.
        let cases = [
            r#"{"a":1,"b":[true,null,"x"],"c":{"d":"e"}}"#,
            r#"{"a":1, "b":2}"#,
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":{"z":1,"y":2}}"#,
            r#"{"a":"x\/y"}"#,
            r#"{"a":"\u003c\u003e\u0026"}"#,
            r#"{"a":"\u003C"}"#,
            r#"{"a":"<b>&"}"#,
            r#"{"a":"caf\u00e9"}"#,
            "{\"a\":\"caf\u{e9} \u{2192} \u{20ac}\"}",
            "{\"a\":\"x\u{2028}y\"}",
            r#"{"a":"x\u2028y\u2029"}"#,
            r#"{"a":"\u0001\u001f"}"#,
            r#"{"a":"\u0009"}"#,
            r#"{"a":"\t\n\r\b\f\"\\"}"#,
            r#"{"a":1.50,"b":-0,"c":1e3}"#,
            r#"[{"b":1,"a":2}]"#,
            r#" {"a":1}"#,
            r#"{"a\u003c":1,"a":2}"#,
            r#"{"a":"","b":"\"{"}"#,
        ];
        for escape_html in [true, false] {
            for text in cases {
                let value = parse(text).unwrap();
                let mut reencoded = String::new();
                append_compact(&mut reencoded, &value.clone().sort_keys(), escape_html);
                assert_eq!(
                    is_canonical_compact(text, &value, escape_html),
                    reencoded == text,
                    "{text} (escape_html: {escape_html}), re-encoded: {reencoded}"
                );
            }
        }
        // Both answers occur, so the agreement above says something.
        assert!(is_canonical_compact(cases[0], &parse(cases[0]).unwrap(), true));
        assert!(!is_canonical_compact(cases[8], &parse(cases[8]).unwrap(), true));
        assert!(is_canonical_compact(cases[8], &parse(cases[8]).unwrap(), false));
    }

    #[test]
    fn go_float_text() {
        assert_eq!(format_go_float(1.0).unwrap(), "1");
        assert_eq!(format_go_float(0.1).unwrap(), "0.1");
        assert_eq!(format_go_float(-0.0).unwrap(), "-0");
        assert_eq!(format_go_float(1e21).unwrap(), "1e+21");
        assert_eq!(format_go_float(1e20).unwrap(), "100000000000000000000");
        assert_eq!(format_go_float(1.5e-7).unwrap(), "1.5e-7");
        assert_eq!(format_go_float(1e-10).unwrap(), "1e-10");
        assert_eq!(format_go_float(12345678901234567890.0).unwrap(), "12345678901234567000");
        assert!(format_go_float(f64::NAN).is_none());
    }

    #[test]
    fn string_escapes_follow_go() {
        let value = Value::str("a<b>&\u{2028}\u{7}\t\u{7f}é");
        assert_eq!(to_compact(&value, true), "\"a\\u003cb\\u003e\\u0026\\u2028\\u0007\\t\u{7f}é\"");
        assert_eq!(to_compact(&value, false), "\"a<b>&\\u2028\\u0007\\t\u{7f}é\"");
    }

    #[test]
    fn indented_matches_go_encoder() {
        let value = parse(r#"{"a":[],"b":{},"c":[1,{"d":null}]}"#).unwrap();
        assert_eq!(
            to_indented(&value, "    "),
            "{\n    \"a\": [],\n    \"b\": {},\n    \"c\": [\n        1,\n        {\n            \"d\": null\n        }\n    ]\n}\n"
        );
    }

    // A json.Encoder writing one value after another: each value indented
    // from column 0 and ended by its own newline, as an FBC file holds them.
    #[test]
    fn appended_values_follow_each_other() {
        let mut out = "[\n]\n".to_string();
        append_indented(&mut out, &parse(r#"{"a":[1]}"#).unwrap(), "    ");
        append_indented(&mut out, &parse("true").unwrap(), "    ");
        assert_eq!(out, "[\n]\n{\n    \"a\": [\n        1\n    ]\n}\ntrue\n");
    }

    #[test]
    fn raw_text_keeps_its_escapes_and_is_re_spaced() {
        let value = Value::Object(vec![(
            "value".to_string(),
            Value::Raw("{\"a\" : \"\\u003e=1\", \"b\":[ ],\"c\":[1,{}]}".to_string()),
        )]);
        assert_eq!(to_compact(&value, false), r#"{"value":{"a":"\u003e=1","b":[],"c":[1,{}]}}"#);
        assert_eq!(
            to_indented(&value, "  "),
            "{\n  \"value\": {\n    \"a\": \"\\u003e=1\",\n    \"b\": [],\n    \"c\": [\n      1,\n      {}\n    ]\n  }\n}\n"
        );
        assert_eq!(value.resolve_raw().get("value").unwrap().get("a").unwrap().as_str(), Some(">=1"));
    }

    #[test]
    fn go_map_sorts_and_floats() {
        let value = parse(r#"{"b":1.0,"a":12345678901234567890,"b":2e0}"#)
            .unwrap()
            .into_go_map()
            .unwrap();
        assert_eq!(to_compact(&value, false), r#"{"a":12345678901234567000,"b":2}"#);
    }

    #[test]
    fn stream_of_values() {
        let values = parse_stream(" {\"a\":1}\n{\"b\":2} ").unwrap();
        assert_eq!(values.len(), 2);
        assert_eq!(values[1].0, 9);
    }
}
