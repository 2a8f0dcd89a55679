//! YAML read exactly as opm reads it.
//!
//! opm reads every manifest, annotations file and File-Based Catalog with
//! k8s apimachinery's `YAMLOrJSONDecoder` (`pkg/util/yaml/decoder.go`):
//!
//! * If the text starts with `{` (after whitespace, within the first bytes
//!   it peeks at), it is a stream of JSON values. When the first or second
//!   value is not valid JSON the decoder falls back to YAML for the rest of
//!   the text (so `{a: 1}` still loads).
//! * Otherwise its `YAMLReader` cuts the text into documents on lines that
//!   start with `---`: what follows `---` on that line must be blank or a
//!   comment (else `invalid Yaml document separator: ...`), a separator with
//!   nothing buffered before it (a leading `---`, or two in a row) is
//!   skipped, and `---\r` is still a separator. Each line is read with
//!   `bufio.Reader.ReadLine` and written back with `\n`, so the last line
//!   gains a newline (which a `|` block scalar then keeps).
//! * Each document goes through sigs.k8s.io/yaml `Unmarshal`: go-yaml v2
//!   decodes it into `interface{}`, `convertToJSONableObject` turns map keys
//!   into strings and `json.Marshal` prints it, so objects come out with
//!   sorted keys.
//!
//! The low-level parsing is saphyr-parser's (YAML 1.2); the go-yaml v2
//! behaviour (YAML 1.1 scalars, merges, aliases, error texts) is rebuilt on
//! its events in the submodules: [`tree`] (events to nodes, error texts),
//! [`resolve`] (scalar resolution) and [`convert`] (decoding to JSON).
//! libyaml's input rules that saphyr does not share are applied here: a BOM
//! is skipped, NEL, LS and PS are line breaks, and control characters are
//! refused (`yaml: control characters are not allowed`).
//!
//! Positions: [`YamlError::message`] carries go-yaml's own text, whose
//! `line N` counts from the start of the document chunk (and is off by one
//! for parser errors, as in Go), while [`YamlError::line`] and
//! [`YamlError::column`] point into the whole file. opm's decoder wraps YAML
//! conversion errors as `error converting YAML to JSON: <message>`; callers
//! that print opm's full text add that prefix.

mod convert;
mod relax;
mod resolve;
mod tree;

use std::borrow::Cow;

use super::json::{self, Value};

/// One decoded document of a YAML or JSON stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 1-based line of the file where the document starts.
    pub line: usize,
    pub value: Value,
}

/// A YAML error, with the 1-based line (and column when known) in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// Text as opm prints it, e.g. `yaml: line 22: mapping values are not allowed in this context`.
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Decodes a whole file as k8s' `YAMLOrJSONDecoder` does: a stream of JSON
/// values when the text starts with `{`, else YAML documents split on `---`
/// lines, each converted to JSON with go-yaml v2 rules. Decoding stops at
/// the first error, which is the last item. A document holding nothing (only
/// comments or blank lines) is [`Value::Null`], as opm's decoder leaves its
/// target untouched for it.
pub fn decode_stream(text: &str) -> Vec<Result<Document, YamlError>> {
    decode_stream_locating(text, &mut KeyLines::default())
}

/// Where keys of the first document are: for each key path (`["spec",
/// "version"]`), the 1-based line of the key in the file, when the path
/// leads through mappings to it. When a mapping has the key twice, the last
/// one counts, as go-yaml's decoding into a map keeps the last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLines<'paths> {
    paths: &'paths [&'paths [&'paths str]],
    /// One entry per path, filled by the decode.
    pub lines: Vec<Option<usize>>,
}

impl<'paths> KeyLines<'paths> {
    pub fn new(paths: &'paths [&'paths [&'paths str]]) -> KeyLines<'paths> {
        KeyLines {
            paths,
            lines: vec![None; paths.len()],
        }
    }
}

/// [`decode_stream`], also finding the lines of `key_lines`' paths in the
/// first document from the node positions the parser keeps (no second
/// parse).
pub fn decode_stream_locating(text: &str, key_lines: &mut KeyLines<'_>) -> Vec<Result<Document, YamlError>> {
    decode_stream_with_spans(text, key_lines, &mut Vec::new())
}

/// Where a decoded document's text is in the file, and how it was read:
/// [`decode_span`] of `text[start..end]` gives the same value again, so a
/// reader may keep the range and drop the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentSpan {
    pub start: usize,
    pub end: usize,
    /// Read as one JSON value (else as one YAML document chunk).
    pub json: bool,
}

/// [`decode_stream`], with the span of each document: when every item is
/// `Ok`, `spans[i]` is where `documents[i]` came from.
pub fn decode_stream_spans(text: &str) -> (Vec<Result<Document, YamlError>>, Vec<DocumentSpan>) {
    let mut spans = Vec::new();
    let documents = decode_stream_with_spans(text, &mut KeyLines::default(), &mut spans);
    (documents, spans)
}

/// Decodes one document again from its span's text (see [`DocumentSpan`]).
pub fn decode_span(text: &str, json: bool) -> Result<Value, YamlError> {
    if json {
        return json::parse(text).map_err(|error| YamlError {
            message: error.message,
            line: 0,
            column: 0,
        });
    }
    decode_chunk(text, 0, text.len(), 1, None).map(|document| document.value)
}

fn decode_stream_with_spans(text: &str, key_lines: &mut KeyLines<'_>, spans: &mut Vec<DocumentSpan>) -> Vec<Result<Document, YamlError>> {
    if looks_like_json(text) {
        return decode_json_stream(text, key_lines, spans);
    }
    decode_yaml_stream(text, 0, key_lines, spans)
}

/// How far `GuessJSONStream` looks for the opening brace. opm passes 4096
/// for FBC files and 30 for bundle manifests; a manifest with more leading
/// whitespace than that is read as YAML by opm, which reads a single JSON
/// object the same way.
const JSON_PEEK_BYTES: usize = 4096;

/// `IsJSONBuffer`: the first non-space character (Go's `unicode.IsSpace`;
/// a BOM is not a space) of the peeked bytes is `{`.
fn looks_like_json(text: &str) -> bool {
    let peek = &text.as_bytes()[..text.len().min(JSON_PEEK_BYTES)];
    let peek = match std::str::from_utf8(peek) {
        Ok(valid) => valid,
        Err(error) => std::str::from_utf8(&peek[..error.valid_up_to()]).unwrap_or_default(),
    };
    peek.trim_start().starts_with('{')
}

/// `YAMLReader` plus `YAMLToJSONDecoder` from byte `start` of the file.
fn decode_yaml_stream(
    file: &str,
    start: usize,
    key_lines: &mut KeyLines<'_>,
    spans: &mut Vec<DocumentSpan>,
) -> Vec<Result<Document, YamlError>> {
    let mut documents = Vec::new();
    let mut chunk: Option<(usize, usize)> = None;
    let mut pos = start;
    let mut line = line_of(file, start);
    while pos < file.len() {
        let line_end = file[pos..].find('\n').map_or(file.len(), |idx| pos + idx);
        let next = (line_end + 1).min(file.len());
        let content = &file[pos..line_end];
        if let Some(rest) = content.strip_prefix("---") {
            let rest = rest.trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                documents.push(Err(YamlError {
                    message: format!("invalid Yaml document separator: {rest}"),
                    line,
                    column: 1,
                }));
                return documents;
            }
            if let Some((chunk_start, chunk_line)) = chunk.take() {
                let locate = if documents.is_empty() { Some(&mut *key_lines) } else { None };
                let decoded = decode_chunk(file, chunk_start, pos, chunk_line, locate);
                spans.push(DocumentSpan {
                    start: chunk_start,
                    end: pos,
                    json: false,
                });
                let failed = decoded.is_err();
                documents.push(decoded);
                if failed {
                    return documents;
                }
            }
        } else if chunk.is_none() {
            chunk = Some((pos, line));
        }
        pos = next;
        line += 1;
    }
    if let Some((chunk_start, chunk_line)) = chunk {
        let locate = if documents.is_empty() { Some(&mut *key_lines) } else { None };
        documents.push(decode_chunk(file, chunk_start, file.len(), chunk_line, locate));
        spans.push(DocumentSpan {
            start: chunk_start,
            end: file.len(),
            json: false,
        });
    }
    documents
}

/// Decodes one document chunk, `file[start..end]`, which starts at `line`.
fn decode_chunk(file: &str, start: usize, end: usize, line: usize, locate: Option<&mut KeyLines<'_>>) -> Result<Document, YamlError> {
    let chunk = &file[start..end];
    let body_offset = if chunk.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let parse_text = parse_text(&chunk[body_offset..]);
    let control = first_control_character(chunk);
    let body = &chunk[body_offset..];
    let mut relaxed: Option<(String, Vec<relax::Reindent>)> = None;
    let mut built = tree::build(&parse_text);
    if let Err(error) = &built
        && error.relaxable
    {
        relaxed = relax::reindent(&parse_text);
    }
    if let Some((relaxed_text, _)) = &relaxed {
        built = tree::build(relaxed_text);
    }
    let changes: &[relax::Reindent] = relaxed.as_ref().map_or(&[], |(_, changes)| changes);
    let chunk_offset = |parse_line: usize, parse_col: usize| {
        body_offset + offset_in_chunk(body, parse_line, relax::original_col(changes, parse_line, parse_col))
    };
    let position = |parse_line: usize, parse_col: usize| file_position(file, start + chunk_offset(parse_line, parse_col));
    let tree = match built {
        Ok(tree) => tree,
        Err(error) => {
            let error_offset = chunk_offset(error.line, error.col);
            if let Some(control_offset) = control
                && error_offset + LIBYAML_LOOKAHEAD >= libyaml_block_start(control_offset)
            {
                return Err(control_error(file, start + control_offset));
            }
            let (line, column) = position(error.line, error.col);
            return Err(YamlError {
                message: error.message,
                line,
                column,
            });
        }
    };
    if let Some(control_offset) = control {
        return Err(control_error(file, start + control_offset));
    }
    if let Some(key_lines) = locate {
        // Lines of the parsed text are lines of the file from the chunk's
        // first line on, unless libyaml's extra line breaks were made `\n`
        // (rare: then count from the offset).
        let mut extra_breaks = None;
        for (path, found) in key_lines.paths.iter().zip(key_lines.lines.iter_mut()) {
            *found = find_key(&tree, path).map(|key| {
                let node = &tree.nodes[key];
                let has_extra_breaks =
                    *extra_breaks.get_or_insert_with(|| !body.is_ascii() && body.contains(['\u{85}', '\u{2028}', '\u{2029}']));
                if has_extra_breaks {
                    position(node.line, node.col).0
                } else {
                    line + node.line - 1
                }
            });
        }
    }
    match convert_tree(&tree) {
        Ok(value) => Ok(Document { line, value }),
        Err(failure) => {
            let (line, column) = match failure.node {
                Some(node) => position(tree.nodes[node].line, tree.nodes[node].col),
                None => (line, 1),
            };
            Err(YamlError {
                message: failure.message,
                line,
                column,
            })
        }
    }
}

/// The key node at the end of `path`, walking mappings from the root
/// (through aliases); the last of equal keys wins.
fn find_key(tree: &tree::Tree<'_>, path: &[&str]) -> Option<tree::NodeId> {
    let resolve = |mut id: tree::NodeId| {
        // An alias chain is finite: the builder only links to earlier anchors.
        for _ in 0..tree.nodes.len() {
            match &tree.nodes[id].data {
                tree::NodeData::Alias { target, .. } => id = *target,
                _ => break,
            }
        }
        id
    };
    let mut node = resolve(tree.root?);
    let mut found_key = None;
    for segment in path {
        let tree::NodeData::Mapping(children) = &tree.nodes[node].data else {
            return None;
        };
        let mut matched = None;
        for pair in children.chunks_exact(2) {
            if let tree::NodeData::Scalar { value, .. } = &tree.nodes[resolve(pair[0])].data
                && tree.scalar_text(value) == *segment
            {
                matched = Some((pair[0], pair[1]));
            }
        }
        let (key, value) = matched?;
        found_key = Some(key);
        node = resolve(value);
    }
    found_key
}

/// Deep documents are decoded on a thread with a large stack: go-yaml
/// accepts nesting up to 10,000 levels and the decoder recurses per level.
fn convert_tree(tree: &tree::Tree<'_>) -> Result<Value, convert::Failure> {
    const SHALLOW: usize = 256;
    if tree.max_depth <= SHALLOW {
        return convert::to_value(tree);
    }
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(scope, || convert::to_value(tree));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(convert::Failure {
                    message: "yaml: document too deeply nested".to_string(),
                    node: None,
                })
            }),
            Err(_) => convert::to_value(tree),
        }
    })
}

/// The text saphyr parses: libyaml's extra line breaks (NEL, LS, PS) made
/// plain `\n`, and the final newline `ReadLine` adds.
fn parse_text(body: &str) -> Cow<'_, str> {
    let has_extra_breaks = !body.is_ascii() && body.contains(['\u{85}', '\u{2028}', '\u{2029}']);
    let needs_newline = !body.is_empty() && !body.ends_with('\n');
    if !has_extra_breaks && !needs_newline {
        return Cow::Borrowed(body);
    }
    let mut text: String = if has_extra_breaks {
        body.chars()
            .map(|c| if matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') { '\n' } else { c })
            .collect()
    } else {
        body.to_string()
    };
    if needs_newline {
        text.push('\n');
    }
    Cow::Owned(text)
}

/// libyaml reads its input in blocks of this size and checks every
/// character of a block when it loads it.
const LIBYAML_RAW_BLOCK: usize = 512;
/// How far ahead of its position libyaml's scanner asks for characters.
const LIBYAML_LOOKAHEAD: usize = 4;

fn libyaml_block_start(offset: usize) -> usize {
    offset / LIBYAML_RAW_BLOCK * LIBYAML_RAW_BLOCK
}

/// libyaml's reader check: tab, LF, CR, printable ASCII, NEL, and the
/// Unicode ranges `A0-D7FF`, `E000-FFFD`, `10000-10FFFF`.
fn first_control_character(chunk: &str) -> Option<usize> {
    // Bytes, not chars: manifests are almost all ASCII, and only the rare
    // non-ASCII character needs decoding.
    let bytes = chunk.as_bytes();
    let plain = |byte: u8| matches!(byte, b'\t' | b'\n' | b'\r' | b' '..=b'~');
    const BLOCK: usize = 32;
    let mut idx = 0;
    while idx < bytes.len() {
        // Whole blocks of printable ASCII at once (a loop without early
        // exit, which the compiler vectorises); a block that fails is then
        // walked character by character.
        if let Some(block) = bytes.get(idx..idx + BLOCK)
            && block.iter().fold(true, |all, &byte| all & plain(byte))
        {
            idx += BLOCK;
            continue;
        }
        let block_end = (idx + BLOCK).min(bytes.len());
        while idx < block_end {
            let byte = bytes[idx];
            if byte.is_ascii() {
                if !plain(byte) {
                    return Some(idx);
                }
                idx += 1;
                continue;
            }
            // `idx` is a character boundary: every step so far was a whole character.
            let c = chunk[idx..].chars().next()?;
            if !matches!(c, '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..) {
                return Some(idx);
            }
            idx += c.len_utf8();
        }
    }
    None
}

fn control_error(file: &str, offset: usize) -> YamlError {
    let (line, column) = file_position(file, offset);
    YamlError {
        message: "yaml: control characters are not allowed".to_string(),
        line,
        column,
    }
}

/// Byte offset in `body` of a saphyr position (1-based line, 0-based
/// character column), counting line breaks as libyaml does.
fn offset_in_chunk(body: &str, line: usize, col: usize) -> usize {
    let bytes = body.as_bytes();
    let mut line_start = 0;
    let mut current = 1;
    let mut idx = 0;
    while current < line && idx < bytes.len() {
        let break_len = match bytes[idx] {
            b'\r' if bytes.get(idx + 1) == Some(&b'\n') => 2,
            b'\r' | b'\n' => 1,
            0xC2 if bytes.get(idx + 1) == Some(&0x85) => 2,
            0xE2 if bytes.get(idx + 1) == Some(&0x80) && matches!(bytes.get(idx + 2), Some(0xA8 | 0xA9)) => 3,
            _ => 0,
        };
        if break_len > 0 {
            idx += break_len;
            line_start = idx;
            current += 1;
        } else {
            idx += 1;
        }
    }
    let rest = &body[line_start..];
    line_start + rest.char_indices().nth(col).map_or(rest.len(), |(offset, _)| offset)
}

/// 1-based line (counting `\n`) of a byte offset.
fn line_of(file: &str, offset: usize) -> usize {
    file.as_bytes()[..offset.min(file.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// 1-based line and character column of a byte offset in the file.
fn file_position(file: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(file.len());
    let mut boundary = offset;
    while !file.is_char_boundary(boundary) {
        boundary -= 1;
    }
    let line_start = file[..boundary].rfind('\n').map_or(0, |idx| idx + 1);
    (line_of(file, boundary), file[line_start..boundary].chars().count() + 1)
}

/// The JSON branch: concatenated JSON values. As in `YAMLOrJSONDecoder`,
/// a failure on the first or second value switches to YAML for the rest of
/// the text, and the JSON error is reported only if YAML fails too.
fn decode_json_stream(file: &str, key_lines: &mut KeyLines<'_>, spans: &mut Vec<DocumentSpan>) -> Vec<Result<Document, YamlError>> {
    let mut documents = Vec::new();
    let mut pos = 0;
    // Lines counted from the last document on, not from the file's start
    // each time: that was quadratic in a package's bundles.
    let mut counted = (0, 1);
    loop {
        let value_start = skip_json_whitespace(file, pos);
        if value_start == file.len() {
            return documents;
        }
        let value_end = json_value_end(file, value_start);
        let error = match json::parse(&file[value_start..value_end]) {
            Ok(value) => {
                if documents.is_empty() && !key_lines.paths.is_empty() {
                    locate_json_keys(file, value_start, value_end, key_lines);
                }
                counted = (
                    value_start,
                    counted.1
                        + file.as_bytes()[counted.0..value_start]
                            .iter()
                            .filter(|&&byte| byte == b'\n')
                            .count(),
                );
                documents.push(Ok(Document { line: counted.1, value }));
                spans.push(DocumentSpan {
                    start: value_start,
                    end: value_end,
                    json: true,
                });
                pos = value_end;
                continue;
            }
            Err(error) => error,
        };
        let error_offset = value_start + error.offset.min(value_end - value_start);
        let (line, column) = file_position(file, error_offset);
        let truncated = error.message == "unexpected end of JSON input" || error_offset >= file.len();
        let syntax_message = go_json_message(file, &error.message, error_offset);
        if documents.len() > 1 {
            let message = if truncated { "unexpected EOF".to_string() } else { syntax_message };
            documents.push(Err(YamlError { message, line, column }));
            return documents;
        }
        let json_error = YamlError {
            message: if truncated {
                "unexpected EOF".to_string()
            } else {
                format!("json: offset {}: {syntax_message}", error_offset + 1)
            },
            line,
            column,
        };
        let Some(resume) = consume_whitespace_line(file, pos) else {
            documents.push(Err(json_error));
            return documents;
        };
        let mut no_key_lines = KeyLines::default();
        let rest_key_lines = if documents.is_empty() { key_lines } else { &mut no_key_lines };
        let mut rest = decode_yaml_stream(file, resume, rest_key_lines, spans);
        if let Some(first @ Err(_)) = rest.first_mut() {
            *first = Err(json_error);
            rest.truncate(1);
        }
        documents.extend(rest);
        return documents;
    }
}

/// Key lines of a JSON value: JSON is YAML flow syntax, so its node tree
/// has the positions (JSON manifests are rare; YAML ones need no second parse).
fn locate_json_keys(file: &str, start: usize, end: usize, key_lines: &mut KeyLines<'_>) {
    let Ok(tree) = tree::build(&file[start..end]) else {
        return;
    };
    for (path, found) in key_lines.paths.iter().zip(key_lines.lines.iter_mut()) {
        *found = find_key(&tree, path).map(|key| {
            let node = &tree.nodes[key];
            file_position(file, start + offset_in_chunk(&file[start..end], node.line, node.col)).0
        });
    }
}

/// Go's JSON syntax messages name the offending character.
fn go_json_message(file: &str, message: &str, offset: usize) -> String {
    let Some(c) = file.get(offset..).and_then(|rest| rest.chars().next()) else {
        return message.to_string();
    };
    let quoted = match c {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        c => {
            let debug = format!("{c:?}");
            debug
        }
    };
    message.replacen("invalid character", &format!("invalid character {quoted}"), 1)
}

fn skip_json_whitespace(file: &str, mut pos: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = file.as_bytes().get(pos) {
        pos += 1;
    }
    pos
}

/// `consumeWhitespace`: eats Unicode spaces up to and including the first
/// newline; `None` when only spaces remain.
fn consume_whitespace_line(file: &str, pos: usize) -> Option<usize> {
    for (offset, c) in file[pos..].char_indices() {
        if c == '\n' {
            return Some(pos + offset + 1);
        }
        if !c.is_whitespace() {
            return Some(pos + offset);
        }
    }
    None
}

/// Where the JSON value starting at `start` ends, by bracket matching (the
/// JSON parser then says whether it is valid).
fn json_value_end(file: &str, start: usize) -> usize {
    let bytes = file.as_bytes();
    let mut depth = 0usize;
    let mut idx = start;
    let mut in_string = false;
    while idx < bytes.len() {
        if in_string {
            // Skip the string's plain run at once.
            let Some(stop) = json::find_string_stop(&bytes[idx..], false) else {
                return bytes.len();
            };
            idx += stop;
        }
        let byte = bytes[idx];
        if in_string {
            match byte {
                b'\\' => idx += 1,
                b'"' => {
                    in_string = false;
                    if depth == 0 {
                        return idx + 1;
                    }
                }
                _ => {}
            }
        } else {
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    if depth <= 1 {
                        return idx + 1;
                    }
                    depth -= 1;
                }
                b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' if depth == 0 => return idx,
                _ => {}
            }
        }
        idx += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests;
