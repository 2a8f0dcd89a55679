//! YAML read exactly as opm reads it. (Placeholder: being written.)

use super::json::Value;

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
/// the first error, which is the last item.
pub fn decode_stream(text: &str) -> Vec<Result<Document, YamlError>> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    if body.trim_start().starts_with('{') {
        return decode_json_stream(body);
    }
    unimplemented!("yaml_in::decode_stream (YAML branch)")
}

/// The JSON branch: concatenated JSON values.
fn decode_json_stream(text: &str) -> Vec<Result<Document, YamlError>> {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    match super::json::parse_stream(text) {
        Ok(values) => values.into_iter().map(|(offset, value)| Ok(Document { line: line_of(offset), value })).collect(),
        Err(error) => {
            let line = line_of(error.offset.min(text.len()));
            let column = error.offset - text[..error.offset.min(text.len())].rfind('\n').map_or(0, |idx| idx + 1) + 1;
            vec![Err(YamlError { message: error.message, line, column })]
        }
    }
}
