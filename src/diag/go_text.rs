//! Go's JSON decoding errors in plain words. opm's texts name Go types
//! (`json: cannot unmarshal string into Go value of type map[string]interface
//! {}`); catbuild keeps them byte for byte where it replicates opm's output
//! (`render`, `validate DIR`), but its own build diagnostics lead with a
//! sentence a catalog author can act on and keep opm's text as a note.

use super::Diagnostic;

const GO_PREFIX: &str = "json: cannot unmarshal ";

/// Rewrites a diagnostic whose message holds a Go JSON decoding error: the
/// Go text is replaced by a plain sentence and kept, whole, in a note.
pub fn explain_go_text(diagnostic: &mut Diagnostic) {
    let Some(start) = diagnostic.message.find(GO_PREFIX) else {
        return;
    };
    let Some((plain, go_len)) = plain_sentence(&diagnostic.message[start..]) else {
        return;
    };
    let go_text = diagnostic.message[start..start + go_len].to_string();
    diagnostic.message.replace_range(start..start + go_len, &plain);
    diagnostic.notes.push(format!("opm reports it as: {go_text}"));
}

/// The plain sentence for a Go error text at the start of `text`, and the
/// length of that Go text.
fn plain_sentence(text: &str) -> Option<(String, usize)> {
    let rest = text.strip_prefix(GO_PREFIX)?;
    let (found, rest) = rest.split_once(" into Go ")?;
    // `number 1.5` names the value too; the kind is the first word.
    let found_kind = found.split(' ').next().unwrap_or(found);
    let (field, rest) = if let Some(rest) = rest.strip_prefix("value of type ") {
        (None, rest)
    } else {
        let rest = rest.strip_prefix("struct field ")?;
        let (field, rest) = rest.split_once(" of type ")?;
        (Some(field), rest)
    };
    let type_len = go_type_len(rest);
    let go_type = &rest[..type_len];
    let go_len = text.len() - rest.len() + type_len;
    let expected = expected_kind(go_type);
    let found_words = found_words(found_kind);
    let sentence = match field {
        // `Struct.path.to.field`: the struct is Go's, the path is the user's.
        Some(field) => {
            let path = field.split_once('.').map_or(field, |(_, path)| path);
            format!("`{path}` must be {expected}, not {found_words}")
        }
        None => format!("expected {expected}, found {found_words}"),
    };
    Some((sentence, go_len))
}

/// How long the Go type name at the start of `text` is (`map[string]interface {}`
/// has a space in it).
fn go_type_len(text: &str) -> usize {
    for spaced in ["map[string]interface {}", "[]interface {}", "interface {}"] {
        if text.starts_with(spaced) {
            return spaced.len();
        }
    }
    text.find(|ch: char| ch.is_whitespace() || ch == ')' || ch == ',' || ch == ';')
        .unwrap_or(text.len())
}

fn expected_kind(go_type: &str) -> &'static str {
    match go_type {
        "string" => "a string",
        "bool" => "`true` or `false`",
        "float32" | "float64" | "int" | "int8" | "int16" | "int32" | "int64" | "uint" | "uint8" | "uint16" | "uint32" | "uint64" => {
            "a number"
        }
        _ if go_type.starts_with("map[") => "a mapping of keys to values",
        _ if go_type.starts_with("[]") => "a list",
        _ => "a mapping of keys to values",
    }
}

fn found_words(found_kind: &str) -> String {
    match found_kind {
        "array" => "a list".to_string(),
        "object" => "a mapping".to_string(),
        "bool" => "a boolean".to_string(),
        "number" => "a number".to_string(),
        "string" => "a string".to_string(),
        other => format!("`{other}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explained(message: &str) -> (String, Vec<String>) {
        let mut diagnostic = Diagnostic::error("yaml", message);
        explain_go_text(&mut diagnostic);
        (diagnostic.message, diagnostic.notes)
    }

    #[test]
    fn a_document_that_is_not_a_mapping() {
        let (message, notes) =
            explained("cannot decode `a.yaml`: json: cannot unmarshal string into Go value of type map[string]interface {}");
        assert_eq!(
            message,
            "cannot decode `a.yaml`: expected a mapping of keys to values, found a string"
        );
        assert_eq!(
            notes,
            ["opm reports it as: json: cannot unmarshal string into Go value of type map[string]interface {}"]
        );
    }

    #[test]
    fn a_struct_field_of_the_wrong_kind_keeps_the_text_around_it() {
        let (message, _) = explained(
            "failed to derive properties: json: cannot unmarshal number into Go struct field ClusterServiceVersion.spec.displayName of type string (CSV x.yaml:7)",
        );
        assert_eq!(
            message,
            "failed to derive properties: `spec.displayName` must be a string, not a number (CSV x.yaml:7)"
        );
    }

    #[test]
    fn a_list_where_a_mapping_belongs() {
        let (message, _) = explained("json: cannot unmarshal object into Go value of type []interface {} (in a.yaml)");
        assert_eq!(message, "expected a list, found a mapping (in a.yaml)");
    }

    #[test]
    fn other_messages_are_left_alone() {
        let (message, notes) = explained("yaml: line 7: mapping values are not allowed in this context");
        assert_eq!(message, "yaml: line 7: mapping values are not allowed in this context");
        assert!(notes.is_empty());
    }
}
