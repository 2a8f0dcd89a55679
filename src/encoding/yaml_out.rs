//! YAML written exactly as opm writes it.
//!
//! opm's `WriteYAML` encodes each blob with Go's `json.Encoder` (HTML
//! escaping off) and converts that JSON with sigs.k8s.io/yaml v1.6.0
//! `JSONToYAML`: go-yaml v2.4.4 (go.yaml.in/yaml/v2) unmarshals the JSON
//! into `interface{}` and marshals the result. So the output is not a
//! direct rendering of the value; it carries both halves of that round trip:
//!
//! * reading ([`reread`]): JSON numbers are re-typed by YAML 1.1 rules
//!   (`1.0` prints as `1`, `-0` as `0`, integers above `i64::MAX` stay
//!   exact as uint64), object keys are deduplicated and re-sorted, a raw
//!   U+0085 in a string is a line break that folds into a space, and some
//!   characters make the reader fail (`yaml: control characters are not
//!   allowed`, e.g. U+007F);
//! * writing ([`emitter`]): go-yaml's key order ([`sort`]: letters after
//!   other characters, digit runs by value), its choice of plain, quoted or
//!   literal style per string (quoting whatever would read back as another
//!   type, see `encoding::go_yaml_resolve`), 2-space indentation with
//!   sequences not indented under their key, and folding of long scalars
//!   with spaces at 80 columns.

mod emitter;
mod reread;
mod sort;

#[cfg(test)]
mod tests;

use super::json::Value;

/// Error converting a value to YAML: what `JSONToYAML` returns, e.g.
/// `yaml: control characters are not allowed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EmitError(pub String);

/// `sigs.k8s.io/yaml.JSONToYAML` of the JSON text of `value`: one document,
/// without a leading `---`, ending in a newline.
pub fn to_yaml(value: &Value) -> Result<String, EmitError> {
    // Raw JSON (property values) is text to go-yaml's reader: parse it.
    let resolved = value.resolve_raw();
    let tree = reread::read_back(&resolved)?;
    String::from_utf8(emitter::emit_document(&tree))
        .map_err(|_| EmitError("internal error: YAML emitter produced invalid UTF-8".to_string()))
}

/// The `interface{}` tree go-yaml decodes the JSON into: what its encoder
/// marshals. Map entries are deduplicated and already in encoder order.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}
