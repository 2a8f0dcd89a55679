//! The first half of `JSONToYAML`: go-yaml v2 reading the JSON text that
//! Go's `json.Encoder` writes for a value, into the `interface{}` tree the
//! encoder then marshals.
//!
//! Instead of printing the JSON and scanning it, this walks the value and
//! applies what the reader would do to each piece of that text:
//!
//! * the reader refuses some characters Go writes raw (DEL, C1 controls but
//!   NEL, U+FFFE, U+FFFF);
//! * strings are double-quoted scalars: escapes decode back, but a raw NEL
//!   (U+0085, which Go does not escape) is a line break, folded into a space
//!   with the blanks around it, and `---`/`...` right after one ends the
//!   document;
//! * a key must fit on one line and within 1024 characters of JSON text to
//!   be an implicit key in a flow mapping;
//! * numbers are plain scalars resolved by YAML 1.1 rules (see `resolve`);
//! * objects become Go maps: the last duplicate key wins, and the order is
//!   the encoder's key sort.

use super::sort::sort_entries;
use super::{EmitError, Node};
use crate::encoding::go_yaml_resolve::{Resolved, resolve_plain};
use crate::encoding::json::Value;

/// The tree `yaml.Unmarshal` builds from the JSON text of `value`.
pub(super) fn read_back(value: &Value) -> Result<Node, EmitError> {
    if has_refused_character(value) {
        return Err(EmitError("yaml: control characters are not allowed".to_string()));
    }
    JsonTextReader { line: 0 }.read(value)
}

/// Longest implicit key, counted in characters of JSON text from the opening
/// quote to the closing one.
const MAX_IMPLICIT_KEY_CHARS: usize = 1024;

/// Whether a string holds a character that Go writes unescaped and go-yaml's
/// reader refuses. The reader checks its whole input before the parser gets
/// far, so wherever such a character sits, this error comes first.
fn has_refused_character(value: &Value) -> bool {
    match value {
        Value::String(text) => text.chars().any(is_refused_raw_char),
        Value::Array(items) => items.iter().any(has_refused_character),
        Value::Object(entries) => entries
            .iter()
            .any(|(key, item)| key.chars().any(is_refused_raw_char) || has_refused_character(item)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
        Value::Raw(_) => has_refused_character(&value.resolve_raw()),
    }
}

/// Outside the reader's allowed set (TAB, LF, CR, U+0020..U+007E, NEL,
/// U+00A0..U+D7FF, U+E000..U+FFFD, U+10000..) and not escaped by Go's JSON
/// encoder (which escapes everything below U+0020).
fn is_refused_raw_char(ch: char) -> bool {
    matches!(ch as u32, 0x7F..=0x84 | 0x86..=0x9F | 0xFFFE | 0xFFFF)
}

fn is_go_escaped(ch: char) -> bool {
    (ch as u32) < 0x20 || matches!(ch, '"' | '\\' | '\u{2028}' | '\u{2029}')
}

/// Length of a character in Go's JSON text.
fn json_text_chars(ch: char) -> usize {
    match ch {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        ch if is_go_escaped(ch) => 6,
        _ => 1,
    }
}

/// Walks the value in the order of its JSON text, counting the raw line
/// breaks seen so far (the JSON is one line otherwise), as go-yaml's error
/// messages number lines by them.
struct JsonTextReader {
    line: usize,
}

impl JsonTextReader {
    fn read(&mut self, value: &Value) -> Result<Node, EmitError> {
        Ok(match value {
            Value::Null => Node::Null,
            Value::Bool(flag) => Node::Bool(*flag),
            Value::Number(number) => match resolve_plain(number.as_str()) {
                Resolved::Int(int) => Node::Int(int),
                Resolved::Uint(uint) => Node::Uint(uint),
                Resolved::Float(float) => Node::Float(float),
                Resolved::Bool(flag) => Node::Bool(flag),
                Resolved::Null => Node::Null,
                // Not reachable from JSON number syntax except for floats out
                // of range (`1e400`), which go-yaml keeps as strings.
                Resolved::Timestamp | Resolved::Str => Node::Str(number.as_str().to_string()),
            },
            Value::String(text) => Node::Str(self.scan_string(text)?),
            Value::Raw(_) => self.read(&value.resolve_raw())?,
            Value::Array(items) => Node::Seq(items.iter().map(|item| self.read(item)).collect::<Result<_, _>>()?),
            Value::Object(entries) => {
                let mut map: Vec<(String, Node)> = Vec::with_capacity(entries.len());
                let mut positions = std::collections::HashMap::new();
                for (key, item) in entries {
                    let key = self.scan_key(key)?;
                    let item = self.read(item)?;
                    match positions.get(&key) {
                        Some(&position) => map[position] = (key, item),
                        None => {
                            positions.insert(key.clone(), map.len());
                            map.push((key, item));
                        }
                    }
                }
                sort_entries(&mut map);
                Node::Map(map)
            }
        })
    }

    /// A key: scanned like any string, then it must have been an implicit
    /// key. If not, the scanner emits `:` without a key and the flow mapping
    /// parser fails at it; parser errors name the 0-based line, and none
    /// when it is 0.
    fn scan_key(&mut self, key: &str) -> Result<String, EmitError> {
        let start_line = self.line;
        let scanned = self.scan_string(key)?;
        let json_chars = 2 + key.chars().map(json_text_chars).sum::<usize>();
        if self.line > start_line || json_chars > MAX_IMPLICIT_KEY_CHARS {
            let place = if self.line == 0 {
                String::new()
            } else {
                format!("line {}: ", self.line)
            };
            return Err(EmitError(format!("yaml: {place}did not find expected ',' or '}}'")));
        }
        Ok(scanned)
    }

    /// go-yaml's double-quoted scalar scanner over the JSON text of `text`.
    /// Only raw spaces and raw NELs are blanks there; escaped characters
    /// (tabs, newlines, ...) are plain content.
    fn scan_string(&mut self, text: &str) -> Result<String, EmitError> {
        if !text.contains('\u{85}') {
            return Ok(text.to_string());
        }
        let chars: Vec<char> = text.chars().collect();
        let is_raw_blank = |ch: char| ch == ' ' || ch == '\u{85}';
        let mut scanned = String::with_capacity(text.len());
        let mut whitespace = String::new();
        let mut trailing_breaks = String::new();
        let mut at_line_start = false;
        let mut idx = 0;
        loop {
            if at_line_start && starts_document_marker(&chars[idx..]) {
                return Err(EmitError(format!(
                    "yaml: line {}: found unexpected document indicator",
                    self.line + 1
                )));
            }
            while let Some(&ch) = chars.get(idx).filter(|ch| !is_raw_blank(**ch)) {
                scanned.push(ch);
                idx += 1;
            }
            if idx == chars.len() {
                break;
            }
            let mut leading_break = false;
            while let Some(&ch) = chars.get(idx).filter(|ch| is_raw_blank(**ch)) {
                if ch == ' ' {
                    if !leading_break {
                        whitespace.push(' ');
                    }
                    at_line_start = false;
                } else {
                    if leading_break {
                        trailing_breaks.push('\n');
                    } else {
                        whitespace.clear();
                        leading_break = true;
                    }
                    at_line_start = true;
                    self.line += 1;
                }
                idx += 1;
            }
            if leading_break {
                // A single break folds into a space; more keep all but one.
                if trailing_breaks.is_empty() {
                    scanned.push(' ');
                } else {
                    scanned.push_str(&trailing_breaks);
                }
                trailing_breaks.clear();
            } else {
                scanned.push_str(&whitespace);
                whitespace.clear();
            }
        }
        Ok(scanned)
    }
}

/// `---` or `...` followed by a raw blank, at the start of a line.
fn starts_document_marker(rest: &[char]) -> bool {
    matches!(rest, ['-', '-', '-', ..] | ['.', '.', '.', ..]) && matches!(rest.get(3), Some(' ' | '\u{85}'))
}
