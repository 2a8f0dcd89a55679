//! `to_yaml` against opm's own bytes: every conformance case that has the
//! same catalog printed both as JSON and as YAML by opm, plus targeted
//! cases for the quoting and folding rules.

use super::{EmitError, to_yaml};
use crate::encoding::json::{self, Number, Value};

const CONFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance");

fn read_case_file(relative: &str) -> String {
    let path = format!("{CONFORMANCE}/{relative}");
    fs_err::read_to_string(path).unwrap_or_else(|err| panic!("{err}"))
}

/// What `WriteYAML` prints for the documents of a JSON stream.
fn yaml_stream(json_text: &str) -> Result<String, EmitError> {
    let documents = json::parse_stream(json_text).unwrap_or_else(|err| panic!("bad JSON: {err}"));
    let mut out = String::new();
    for (_, document) in &documents {
        out.push_str("---\n");
        out.push_str(&to_yaml(document)?);
    }
    Ok(out)
}

/// Compares the YAML written for `json_file` with `yaml_file`, reporting
/// the first differing line.
fn assert_same_as_opm(json_file: &str, yaml_file: &str) {
    let actual = yaml_stream(&read_case_file(json_file)).unwrap_or_else(|err| panic!("{json_file}: unexpected error {err}"));
    let expected = read_case_file(yaml_file);
    if actual == expected {
        return;
    }
    let mismatch = actual
        .lines()
        .zip(expected.lines())
        .enumerate()
        .find(|(_, (ours, theirs))| ours != theirs);
    match mismatch {
        Some((line_idx, (ours, theirs))) => panic!(
            "{yaml_file}: line {} differs\n  ours:   {ours:?}\n  theirs: {theirs:?}",
            line_idx + 1
        ),
        None => panic!(
            "{yaml_file}: lengths differ (ours {} bytes, theirs {} bytes)",
            actual.len(),
            expected.len()
        ),
    }
}

#[test]
fn writer_golden() {
    assert_same_as_opm(
        "write-format/writejson-golden/expected/catalog.json",
        "write-format/writeyaml-golden/expected/catalog.yaml",
    );
}

#[test]
fn render_golden() {
    assert_same_as_opm(
        "write-format/render-json-golden/expected/stdout.json",
        "write-format/render-yaml-golden/expected/stdout.yaml",
    );
}

#[test]
fn tricky_strings() {
    assert_same_as_opm(
        "write-format/render-json-tricky-strings/expected/stdout.json",
        "write-format/render-yaml-tricky-strings/expected/stdout.yaml",
    );
}

#[test]
fn tricky_strings_as_printed_by_opm_v1_26_5() {
    assert_same_as_opm(
        "write-format/render-json-tricky-strings/expected/opm-v1.26.5.json",
        "write-format/render-yaml-tricky-strings/expected/opm-v1.26.5.yaml",
    );
}

#[test]
fn control_character_is_refused() {
    let json_text = read_case_file("write-format/render-yaml-control-char-error/expected/stdout.json");
    let expected = read_case_file("write-format/render-yaml-control-char-error/expected/error.txt");
    let err = yaml_stream(&json_text).expect_err("U+007F must be refused");
    assert_eq!(err.0, "yaml: control characters are not allowed");
    assert_eq!(format!("{err}\n"), expected);
}

#[test]
fn rendered_fbc_directory() {
    assert_same_as_opm(
        "render-fbc-and-migrate/declcfg-directory/expected/stdout.json",
        "render-fbc-and-migrate/declcfg-directory-yaml/expected/stdout.yaml",
    );
}

#[test]
fn basic_template() {
    assert_same_as_opm(
        "basic-template/foo-two-bundles/expected/stdout.json",
        "basic-template/foo-two-bundles-yaml/expected/stdout.yaml",
    );
    assert_same_as_opm(
        "basic-template/foo-two-bundles/expected/opm-v1.26.5.json",
        "basic-template/foo-two-bundles-yaml/expected/opm-v1.26.5.yaml",
    );
}

#[test]
fn rendered_bundle_image() {
    assert_same_as_opm(
        "render-bundle/bundle-image/expected/stdout.json",
        "render-bundle/foo-v0.2.0-yaml/expected/stdout.yaml",
    );
}

#[test]
fn rendered_sqlite_indexes() {
    let cases = [
        "aqua-render-and-migrate",
        "ghost-render-and-migrate",
        "initializer-mariadb",
        "registry-add-bar-default-channel-change",
        "registry-add-baz-semver",
        "registry-add-baz-semver-skippatch",
        "registry-add-foo-replaces",
        "registry-add-foo-semver",
        "registry-add-multi-package",
    ];
    for case in cases {
        assert_same_as_opm(
            &format!("sqlite-migrate/{case}/expected/render.json"),
            &format!("sqlite-migrate/{case}/expected/stdout.yaml"),
        );
    }
}

fn yaml_of(json_text: &str) -> String {
    let value = json::parse(json_text).unwrap_or_else(|err| panic!("bad JSON: {err}"));
    to_yaml(&value).unwrap_or_else(|err| panic!("{err}"))
}

fn yaml_of_string(text: &str) -> String {
    to_yaml(&Value::str(text)).unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn layout_of_collections() {
    assert_eq!(
        yaml_of(r#"{"schema":"olm.channel","entries":[{"name":"a","replaces":"b"}],"x":[[1,[]],{}]}"#),
        "entries:\n- name: a\n  replaces: b\nschema: olm.channel\nx:\n- - 1\n  - []\n- {}\n"
    );
    assert_eq!(yaml_of("{}"), "{}\n");
    assert_eq!(yaml_of("[]"), "[]\n");
    assert_eq!(yaml_of("null"), "null\n");
    assert_eq!(yaml_of(r#"[{"a":{"b":null}}]"#), "- a:\n    b: null\n");
}

#[test]
fn numbers_are_retyped_by_yaml_rules() {
    let numbers = [
        "1.0",
        "-0",
        "-0.0",
        "12345678901234567890",
        "1e+21",
        "1.5e-07",
        "1234567.5",
        "1e400",
    ];
    let value = Value::Array(numbers.iter().map(|text| Value::Number(Number::from_literal(*text))).collect());
    assert_eq!(
        to_yaml(&value).unwrap(),
        "- 1\n- 0\n- -0\n- 12345678901234567890\n- 1e+21\n- 1.5e-07\n- 1.2345675e+06\n- 1e400\n"
    );
}

#[test]
fn strings_that_read_as_other_types_are_double_quoted() {
    for text in ["yes", "Null", "~", "", "0x1F", "1_000", "2021-01-01", "12:30:00", ".inf", "+1"] {
        assert_eq!(yaml_of_string(text), format!("\"{text}\"\n"), "{text:?}");
    }
    for text in ["yes!", "nil", "1.2.3", "0b", "<<", "=", "+", "1:60"] {
        assert_eq!(yaml_of_string(text), format!("{text}\n"), "{text:?}");
    }
}

#[test]
fn multi_line_strings_use_literal_blocks() {
    assert_eq!(yaml_of(r#"{"a":"x\ny"}"#), "a: |-\n  x\n  y\n");
    assert_eq!(yaml_of(r#"{"a":"x\ny\n"}"#), "a: |\n  x\n  y\n");
    assert_eq!(yaml_of(r#"{"a":"x\n\n"}"#), "a: |+\n  x\n\n");
    assert_eq!(yaml_of(r#"{"a":" x\ny"}"#), "a: |2-\n   x\n  y\n");
    assert_eq!(yaml_of(r#"{"a":"\n"}"#), "a: |2+\n\n");
    assert_eq!(yaml_of(r#"["x\ny"]"#), "- |-\n  x\n  y\n");
    // Trailing space before a break, or a tab: no block style.
    assert_eq!(yaml_of(r#"{"a":"x \ny"}"#), "a: \"x \\ny\"\n");
    assert_eq!(yaml_of(r#"{"a":"x\ty\nz"}"#), "a: \"x\\ty\\nz\"\n");
    // A multi-line key is written as a complex key.
    assert_eq!(yaml_of(r#"{"x\ny":1}"#), "? |-\n  x\n  y\n: 1\n");
}

#[test]
fn long_scalars_fold_at_80_columns() {
    let words = vec!["word"; 30].join(" ");
    assert_eq!(
        yaml_of_string(&words),
        format!("{}\n  {}\n", vec!["word"; 17].join(" "), vec!["word"; 13].join(" "))
    );
    let no_spaces = "x".repeat(200);
    assert_eq!(yaml_of_string(&no_spaces), format!("{no_spaces}\n"));
}

#[test]
fn long_keys_use_the_complex_form() {
    let key = "k".repeat(129);
    assert_eq!(yaml_of(&format!(r#"{{"{key}":1}}"#)), format!("? {key}\n: 1\n"));
    let key = "k".repeat(128);
    assert_eq!(yaml_of(&format!(r#"{{"{key}":1}}"#)), format!("{key}: 1\n"));
}

#[test]
fn keys_too_long_for_an_implicit_json_key_fail() {
    let key = "k".repeat(1023);
    let value = json::parse(&format!(r#"{{"{key}":1}}"#)).unwrap();
    assert_eq!(to_yaml(&value).unwrap_err().0, "yaml: did not find expected ',' or '}'");
    let key = "k".repeat(1022);
    let value = json::parse(&format!(r#"{{"{key}":1}}"#)).unwrap();
    assert!(to_yaml(&value).is_ok());
}

#[test]
fn special_characters_are_escaped() {
    assert_eq!(yaml_of_string("a\u{0}b\u{7}c\u{1b}"), "\"a\\0b\\ac\\e\"\n");
    assert_eq!(yaml_of_string("\u{1}"), "\"\\x01\"\n");
    assert_eq!(yaml_of_string("rocket \u{1F680}"), "\"rocket \\U0001F680\"\n");
    // U+2028 is a printable line break: alone it only rules out plain style,
    // and single quotes carry it raw, followed by the indentation.
    assert_eq!(yaml_of_string("a\u{2028}b"), "'a\u{2028}  b'\n");
    assert_eq!(yaml_of_string("a\u{2028}b\t"), "\"a\\Lb\\t\"\n");
    // No-break space is neither a space nor special: plain.
    assert_eq!(yaml_of_string("caf\u{e9} \u{a0}"), "caf\u{e9} \u{a0}\n");
    // go-yaml checks for a BOM at the start of the text at every position.
    assert_eq!(yaml_of_string("\u{feff}ab"), "\"\\uFEFF\\x61\\x62\"\n");
    assert_eq!(yaml_of_string("a\u{feff}"), "\"a\\uFEFF\"\n");
    for refused in ['\u{7f}', '\u{80}', '\u{9f}', '\u{fffe}'] {
        assert_eq!(
            to_yaml(&Value::str(format!("x{refused}"))).unwrap_err().0,
            "yaml: control characters are not allowed"
        );
    }
}

#[test]
fn raw_next_line_characters_fold_while_reading() {
    assert_eq!(yaml_of_string("\u{85}nel"), "' nel'\n");
    assert_eq!(yaml_of_string("a \u{85} b"), "a b\n");
    assert_eq!(yaml_of_string("a\u{85}\u{85}b"), "|-\n  a\n  b\n");
    let value = Value::Object(vec![("k\u{85}".to_string(), Value::Null)]);
    assert_eq!(to_yaml(&value).unwrap_err().0, "yaml: line 1: did not find expected ',' or '}'");
    assert_eq!(
        to_yaml(&Value::str("a\u{85}--- b")).unwrap_err().0,
        "yaml: line 2: found unexpected document indicator"
    );
}

#[test]
fn duplicate_keys_keep_the_last_value() {
    assert_eq!(yaml_of(r#"{"b":1,"a":2,"b":3}"#), "a: 2\nb: 3\n");
}
