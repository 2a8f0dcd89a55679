//! Tests of the YAML reader against go-yaml v2 / sigs.k8s.io/yaml behaviour
//! and against opm's rendered output in the conformance cases.

use super::*;

fn compact(text: &str) -> String {
    let documents = decode_stream(text);
    let values: Vec<String> = documents
        .into_iter()
        .map(|document| match document {
            Ok(document) => json::to_compact(&document.value, false),
            Err(error) => format!("ERR {} @{}:{}", error.message, error.line, error.column),
        })
        .collect();
    values.join("\n")
}

#[test]
fn smoke() {
    assert_eq!(compact("b: 1\na: [x, 'y', \"z\"]\n"), r#"{"a":["x","y","z"],"b":1}"#);
}

fn scalar(text: &str) -> String {
    compact(&format!("v: {text}\n"))
}

#[test]
fn yaml11_booleans() {
    for word in ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"] {
        assert_eq!(scalar(word), r#"{"v":true}"#, "{word}");
    }
    for word in ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"] {
        assert_eq!(scalar(word), r#"{"v":false}"#, "{word}");
    }
    for word in ["yES", "oN", "tRUE", "nO", "Yes!", "'yes'", "\"on\""] {
        let expected = format!(r#"{{"v":"{}"}}"#, word.trim_matches(['\'', '"']));
        assert_eq!(scalar(word), expected, "{word}");
    }
}

#[test]
fn yaml11_nulls() {
    for word in ["~", "null", "Null", "NULL", ""] {
        assert_eq!(scalar(word), r#"{"v":null}"#, "{word:?}");
    }
    assert_eq!(scalar("nULL"), r#"{"v":"nULL"}"#);
    assert_eq!(scalar("'null'"), r#"{"v":"null"}"#);
    assert_eq!(scalar("''"), r#"{"v":""}"#);
    assert_eq!(compact("v:\n"), r#"{"v":null}"#);
    assert_eq!(compact("- ~\n-\n- null\n"), "[null,null,null]");
}

#[test]
fn yaml11_integers() {
    let cases = [
        ("0", "0"),
        ("42", "42"),
        ("-17", "-17"),
        ("+17", "17"),
        ("0755", "493"),
        ("007", "7"),
        ("-010", "-8"),
        ("0x1F", "31"),
        ("0X1f", "31"),
        ("-0x10", "-16"),
        ("0o17", "15"),
        ("0b101", "5"),
        ("-0b101", "-5"),
        // go-yaml's last resort parses what follows `0b` with a sign allowed.
        ("0b-1", "-1"),
        ("0b+11", "3"),
        ("1_000", "1000"),
        ("1__0", "10"),
        ("0x_1F", "31"),
        ("9223372036854775807", "9223372036854775807"),
        ("-9223372036854775808", "-9223372036854775808"),
        // Past int64: uint64, then float64.
        ("9223372036854775808", "9223372036854775808"),
        ("18446744073709551615", "18446744073709551615"),
        ("18446744073709551616", "18446744073709552000"),
        ("-9223372036854775809", "-9223372036854776000"),
        ("+18446744073709551615", "18446744073709552000"),
        // Not octal, so the float pattern takes it.
        ("08", "8"),
        ("09.5", "9.5"),
        ("0xFFFFFFFFFFFFFFFF", "18446744073709551615"),
    ];
    for (text, expected) in cases {
        assert_eq!(scalar(text), format!(r#"{{"v":{expected}}}"#), "{text}");
    }
    for text in [
        "0x", "0b", "0b2", "0o8", "0xG", "_1", "1_000_", "1-2", "+", "12e", "0x1.8p1", "1,000",
    ] {
        let got = scalar(text);
        let expected = format!(r#"{{"v":"{text}"}}"#);
        if text == "1_000_" {
            // go-yaml strips every underscore before ParseInt.
            assert_eq!(got, r#"{"v":1000}"#);
        } else {
            assert_eq!(got, expected, "{text}");
        }
    }
}

#[test]
fn lone_dash_is_a_block_entry() {
    assert_eq!(scalar("-"), "ERR yaml: block sequence entries are not allowed in this context @1:4");
    assert_eq!(compact("- -\n"), "[[null]]");
}

#[test]
fn yaml11_floats() {
    let cases = [
        ("1.10", "1.1"),
        ("1.0", "1"),
        ("1.", "1"),
        (".5", "0.5"),
        ("-.5", "-0.5"),
        ("+.5", "0.5"),
        ("1e3", "1000"),
        ("1E3", "1000"),
        ("1.5e-3", "0.0015"),
        ("1e21", "1e+21"),
        ("1e-7", "1e-7"),
        ("-0.0", "-0"),
        ("3.14159265358979323846", "3.141592653589793"),
        ("1_000.5", "1000.5"),
        (".5_5", "0.55"),
        ("6.02e+23", "6.02e+23"),
    ];
    for (text, expected) in cases {
        assert_eq!(scalar(text), format!(r#"{{"v":{expected}}}"#), "{text}");
    }
    // Overflow is a ParseFloat error: the text stays a string.
    for text in ["1e400", "-1e400", "._5", ".e5", "1.2.3", "1e", ".", "1e3.5"] {
        assert_eq!(scalar(text), format!(r#"{{"v":"{text}"}}"#), "{text}");
    }
}

#[test]
fn nan_and_infinity_cannot_become_json() {
    for (text, go) in [
        (".nan", "NaN"),
        (".NaN", "NaN"),
        (".NAN", "NaN"),
        (".inf", "+Inf"),
        (".Inf", "+Inf"),
        ("+.INF", "+Inf"),
        ("-.inf", "-Inf"),
        ("!!float .inf", "+Inf"),
    ] {
        assert_eq!(scalar(text), format!("ERR json: unsupported value: {go} @1:4"), "{text}");
    }
    // Spellings outside go-yaml's table are strings.
    for text in [".nAn", ".iNF", "nan", "inf", "-inf", ".infinity"] {
        assert_eq!(scalar(text), format!(r#"{{"v":"{text}"}}"#), "{text}");
    }
    // json.Marshal walks sorted keys: the first bad value in that order is reported.
    assert_eq!(compact("z: .nan\na: -.inf\n"), "ERR json: unsupported value: -Inf @2:4");
    // As a map key a NaN is only a string.
    assert_eq!(compact(".nan: 1\n.inf: 2\n-.Inf: 3\n"), r#"{"-.inf":3,".inf":2,".nan":1}"#);
}

#[test]
fn timestamps_keep_their_text() {
    for text in [
        "2019-05-30T22:40:00Z",
        "2019-05-30 22:40:00",
        "2026-06-09T13:44:56",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 -5",
        "2002-12-14",
        "2019-01-24T15-33-43Z",
        "2019-1-2",
        "12:30:00",
        "2019-02-30",
    ] {
        assert_eq!(scalar(text), format!(r#"{{"v":"{text}"}}"#), "{text}");
    }
    assert_eq!(scalar("!!timestamp 2002-12-14"), r#"{"v":"2002-12-14"}"#);
    assert_eq!(scalar("!!timestamp '2001-12-14 21:59:43.10'"), r#"{"v":"2001-12-14 21:59:43.10"}"#);
    assert_eq!(
        scalar("!!timestamp 2019-02-30"),
        "ERR yaml: cannot decode !!str `2019-02-30` as a !!timestamp @1:4"
    );
    assert_eq!(
        scalar("!!timestamp 123"),
        "ERR yaml: cannot decode !!int `123` as a !!timestamp @1:4"
    );
}

#[test]
fn quoted_and_block_scalars_are_strings() {
    assert_eq!(scalar("'123'"), r#"{"v":"123"}"#);
    assert_eq!(scalar("\"0x1F\""), r#"{"v":"0x1F"}"#);
    assert_eq!(compact("v: |\n  yes\n"), r#"{"v":"yes\n"}"#);
    assert_eq!(compact("v: >-\n  1.5\n"), r#"{"v":"1.5"}"#);
    assert_eq!(scalar("\"a\\tb\\u00e9\\x41\""), r#"{"v":"a\tbéA"}"#);
    assert_eq!(scalar("'it''s'"), r#"{"v":"it's"}"#);
}

#[test]
fn explicit_tags() {
    let cases = [
        ("!!str 123", r#""123""#),
        ("!!str yes", r#""yes""#),
        ("!!str", r#""""#),
        ("!!int '42'", "42"),
        ("!!int 0x10", "16"),
        ("!!float 1", "1"),
        ("!!float '2.5'", "2.5"),
        ("!!bool 'on'", "true"),
        ("!!null ''", "null"),
        ("!!null ~", "null"),
        ("!!binary aGVsbG8=", r#""hello""#),
        ("!!binary |\n    aGVs\n    bG8=", r#""hello""#),
        ("!!merge foo", r#""foo""#),
        ("!foo 123", r#""123""#),
        ("! 123", r#""123""#),
        ("!!map {a: 1}", r#"{"a":1}"#),
        ("!!seq [1]", "[1]"),
        ("!<tag:yaml.org,2002:int> '7'", "7"),
    ];
    for (text, expected) in cases {
        assert_eq!(scalar(text), format!(r#"{{"v":{expected}}}"#), "{text}");
    }
    let errors = [
        ("!!int abc", "cannot decode !!str `abc` as a !!int"),
        ("!!int 1.5", "cannot decode !!float `1.5` as a !!int"),
        ("!!int ''", "cannot decode !!null `` as a !!int"),
        ("!!bool 1", "cannot decode !!int `1` as a !!bool"),
        ("!!null foo", "cannot decode !!str `foo` as a !!null"),
        (
            "!!float 18446744073709551615",
            "cannot decode !!int `18446744073709551615` as a !!float",
        ),
        ("!!int 2001-01-01", "cannot decode !!str `2001-01-01` as a !!int"),
        ("!!binary '%%%'", "!!binary value contains invalid base64 data"),
    ];
    for (text, message) in errors {
        assert_eq!(scalar(text), format!("ERR yaml: {message} @1:4"), "{text}");
    }
}

#[test]
fn binary_with_invalid_utf8_becomes_replacement_characters() {
    // 0xff 0x41: Go prints U+FFFD for the bad byte, then 'A'.
    assert_eq!(scalar("!!binary /0E="), "{\"v\":\"\u{fffd}A\"}");
}

#[test]
fn non_string_keys() {
    assert_eq!(compact("1: a\n0x10: b\n-3: c\n"), r#"{"-3":"c","1":"a","16":"b"}"#);
    assert_eq!(compact("yes: a\nn: b\nTrue: c\n"), r#"{"false":"b","true":"c"}"#);
    assert_eq!(
        compact("1.5: a\n1e3: b\n1e6: c\n0.0001: d\n0.00001: e\n3.14159265358979: f\n"),
        r#"{"0.0001":"d","1.5":"a","1000":"b","1e+06":"c","1e-05":"e","3.1415927":"f"}"#
    );
    assert_eq!(
        compact("1234567.0: a\n100000.5: b\n-0.0: c\n"),
        r#"{"-0":"c","1.234567e+06":"a","100000.5":"b"}"#
    );
    assert_eq!(compact("2019-05-30: a\n'q': b\n"), r#"{"2019-05-30":"a","q":"b"}"#);
    assert_eq!(
        compact("~: 1\n"),
        "ERR unsupported map key of type: %!s(<nil>), key: <nil>, value: 1 @1:1"
    );
    assert_eq!(
        compact("a: 1\n18446744073709551615: x\n"),
        "ERR unsupported map key of type: uint64, key: 0xffffffffffffffff, value: \"x\" @2:1"
    );
    assert_eq!(
        compact("? [a, b]\n: 1\n"),
        "ERR yaml: invalid map key: []interface {}{\"a\", \"b\"} @1:3"
    );
    assert_eq!(
        compact("? {a: 1}\n: x\n"),
        "ERR yaml: invalid map key: map[interface {}]interface {}{\"a\":1} @1:3"
    );
    // A key error waits for go-yaml's own errors, which come first.
    assert_eq!(compact("~: 1\nb: !!int x\n"), "ERR yaml: cannot decode !!str `x` as a !!int @2:4");
}

#[test]
fn duplicate_keys_last_wins() {
    assert_eq!(compact("a: 1\nb: 2\na: 3\n"), r#"{"a":3,"b":2}"#);
    assert_eq!(compact("m:\n  x: 1\n  y: 2\nm:\n  z: 3\n"), r#"{"m":{"z":3}}"#);
    // Different YAML keys that print the same: the later one is kept.
    assert_eq!(compact("1: int\n'1': str\n"), r#"{"1":"str"}"#);
}

#[test]
fn anchors_and_aliases_are_copies() {
    assert_eq!(
        compact("a: &x {k: [1, 2]}\nb: *x\nc: &s hi\nd: *s\n"),
        r#"{"a":{"k":[1,2]},"b":{"k":[1,2]},"c":"hi","d":"hi"}"#
    );
    assert_eq!(compact("a: &x 1\nb: *x\na2: &x 2\nc: *x\n"), r#"{"a":1,"a2":2,"b":1,"c":2}"#);
    assert_eq!(compact("- &k key\n- {*k : v}\n"), r#"["key",{"key":"v"}]"#);
    assert_eq!(compact("a: *nope\n"), "ERR yaml: unknown anchor 'nope' referenced @1:4");
    assert_eq!(compact("a: &x [1, *x]\n"), "ERR yaml: anchor 'x' value contains itself @1:11");
    assert_eq!(compact("a: &x {b: *x}\n"), "ERR yaml: anchor 'x' value contains itself @1:11");
}

#[test]
fn billion_laughs_is_refused() {
    let mut text = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let (previous, name) = (pair[0], pair[1]);
        let items = vec![format!("*{previous}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{items}]\n"));
    }
    let documents = decode_stream(&text);
    let error = documents[0].as_ref().unwrap_err();
    assert_eq!(error.message, "yaml: document contains excessive aliasing");
}

#[test]
fn many_small_aliases_are_fine() {
    let mut text = String::from("base: &b {x: 1}\nitems:\n");
    for _ in 0..2000 {
        text.push_str("- *b\n");
    }
    let documents = decode_stream(&text);
    let value = &documents[0].as_ref().unwrap().value;
    assert_eq!(value.get("items").and_then(Value::as_array).map(<[Value]>::len), Some(2000));
}

/// Runs `test` on a thread with the 256 MiB stack catbuild's own threads
/// have: a value 10,000 deep is parsed and printed recursively.
fn on_big_stack(test: impl FnOnce() + Send) {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(scope, test)
            .unwrap()
            .join()
            .unwrap();
    });
}

/// `depth` flow sequences around `x`, as a document of its own.
fn flow_sequences(depth: usize) -> String {
    format!("{}x{}\n", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn flow_nesting_is_limited_as_in_go_yaml() {
    on_big_stack(|| {
        // go-yaml's scanner refuses the 10,001st open flow collection
        // (`max_flow_level`); saphyr alone stopped at 255.
        let unwrap = |text: &str| {
            let documents = decode_stream(text);
            let mut value = &documents[0].as_ref().unwrap().value;
            let mut depth = 0;
            while let Some([inner]) = value.as_array() {
                value = inner;
                depth += 1;
            }
            depth
        };
        assert_eq!(unwrap(&flow_sequences(256)), 256);
        assert_eq!(unwrap(&flow_sequences(10_000)), 10_000);
        assert_eq!(compact(&flow_sequences(10_001)), "ERR yaml: exceeded max depth of 10000 @1:10001");
        let mappings = format!("a: {}x{}\n", "{b: ".repeat(10_000), "}".repeat(10_000));
        assert!(!compact(&mappings).starts_with("ERR"));
        let mappings = format!("a:\n  {}x{}\n", "{b: ".repeat(10_001), "}".repeat(10_001));
        assert_eq!(compact(&mappings), "ERR yaml: line 2: exceeded max depth of 10000 @2:40003");
    });
}

#[test]
fn json_nesting_is_limited_as_in_go() {
    on_big_stack(|| {
        // encoding/json refuses the `[` or `{` that opens the 10,001st level
        // (`maxNestingDepth`), at that byte; YAML then fails too, so the JSON
        // error stands.
        let json = |arrays: usize| format!("{{\"a\":{}{}}}", "[".repeat(arrays), "]".repeat(arrays));
        assert!(!compact(&json(9_999)).starts_with("ERR"));
        let offset = "{\"a\":".len() + 10_000;
        assert_eq!(
            compact(&json(10_000)),
            format!("ERR json: offset {offset}: invalid character '[' exceeded max depth @1:{offset}")
        );
    });
}

#[test]
fn block_and_flow_nesting_count_apart() {
    on_big_stack(|| {
        // go-yaml counts indentation levels (`max_indents`) and flow levels on
        // their own: 5,000 of one and 10,000 of the other is a document.
        let text = format!("{}{}", "- ".repeat(5_000), flow_sequences(10_000));
        let documents = decode_stream(&text);
        assert!(documents[0].is_ok(), "{:?}", documents[0].as_ref().err());
        let text = format!("{}{}", "- ".repeat(10_000), flow_sequences(1));
        assert!(decode_stream(&text)[0].is_ok());
        let text = format!("{}{}", "- ".repeat(10_001), flow_sequences(1));
        assert_eq!(compact(&text), "ERR yaml: exceeded max depth of 10000 @1:20001");
    });
}

#[test]
fn indentless_sequences_take_no_indentation_level() {
    on_big_stack(|| {
        // `key:` followed by `- ` at the key's own column: libyaml's roll_indent
        // opens no level for that `-`, so each `k:` / `- ` pair is one level.
        let nested = |levels: usize| {
            let mut text = String::new();
            for level in 0..levels {
                let indent = " ".repeat(2 * level);
                text.push_str(&format!("{indent}k:\n{indent}- "));
                text.push_str(if level + 1 == levels { "x\n" } else { "\n" });
            }
            text
        };
        let documents = decode_stream(&nested(6_000));
        assert!(documents[0].is_ok(), "{:?}", documents[0].as_ref().err());
        // The 10,001st mapping is where go-yaml stops: its key, on line 20,001.
        assert_eq!(
            compact(&nested(10_001)),
            "ERR yaml: line 20001: exceeded max depth of 10000 @20001:20001"
        );
    });
}

#[test]
fn merge_keys() {
    let base = "base: &b {a: 1, b: 2}\n";
    assert_eq!(
        compact(&format!("{base}m:\n  <<: *b\n  b: 3\n")),
        r#"{"base":{"a":1,"b":2},"m":{"a":1,"b":3}}"#
    );
    // go-yaml applies entries in document order: a key before `<<` is overridden.
    assert_eq!(
        compact(&format!("{base}m:\n  b: 3\n  <<: *b\n")),
        r#"{"base":{"a":1,"b":2},"m":{"a":1,"b":2}}"#
    );
    assert_eq!(
        compact(&format!("{base}m:\n  !!merge <<: *b\n  c: 3\n")),
        r#"{"base":{"a":1,"b":2},"m":{"a":1,"b":2,"c":3}}"#
    );
    // Sequence of maps: the earlier map wins.
    assert_eq!(
        compact("p: &p {k: p, p: 1}\nq: &q {k: q, q: 1}\nm:\n  <<: [*p, *q]\n"),
        r#"{"m":{"k":"p","p":1,"q":1},"p":{"k":"p","p":1},"q":{"k":"q","q":1}}"#
    );
    assert_eq!(compact("m:\n  <<: {a: 1}\n  <<: {a: 2, b: 2}\n"), r#"{"m":{"a":2,"b":2}}"#);
    // Quoted or `!!str` `<<` is an ordinary key.
    assert_eq!(compact("m:\n  '<<': {a: 1}\n"), r#"{"m":{"<<":{"a":1}}}"#);
    assert_eq!(compact("m:\n  !!str <<: 1\n"), r#"{"m":{"<<":1}}"#);
    assert_eq!(compact("v: <<\n"), r#"{"v":"<<"}"#);
    for bad in ["<<: 1", "<<: [1]", "<<: ~", "<<: [{a: 1}, [2]]"] {
        assert_eq!(
            compact(&format!("m:\n  {bad}\n")),
            "ERR yaml: map merge requires map or sequence of maps as the value @2:7",
            "{bad}"
        );
    }
    assert_eq!(
        compact("s: &s [1]\nm:\n  <<: *s\n"),
        "ERR yaml: map merge requires map or sequence of maps as the value @3:7"
    );
}

fn lines(documents: &[Result<Document, YamlError>]) -> Vec<usize> {
    documents
        .iter()
        .map(|document| document.as_ref().map_or(0, |document| document.line))
        .collect()
}

#[test]
fn documents_split_on_separator_lines() {
    let text = "---\na: 1\n---\n---\nb: 2\n--- # comment\nc: 3\n---\t\r\nd: 4\n---";
    let documents = decode_stream(text);
    assert_eq!(compact(text), "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n{\"d\":4}");
    assert_eq!(lines(&documents), vec![2, 5, 7, 9]);
    // A chunk with only comments or blank lines is an empty document (null).
    assert_eq!(compact("a: 1\n---\n# nothing\n\n---\nb: 2\n"), "{\"a\":1}\nnull\n{\"b\":2}");
    assert_eq!(compact(""), "");
    assert_eq!(compact("---\n"), "");
    assert_eq!(compact("\n"), "null");
    // `...` ends the document; go-yaml never reads what follows.
    assert_eq!(compact("a: 1\n...\nb: [\n"), "{\"a\":1}");
    // `---` inside a line or indented is not a separator.
    assert_eq!(compact("a: |\n  ---\n  x\nb: c---d\n"), r#"{"a":"---\nx\n","b":"c---d"}"#);
}

#[test]
fn separator_with_content_is_an_error() {
    let documents = decode_stream("a: 1\n--- !foo\nb: 2\n");
    assert_eq!(documents.len(), 1);
    assert_eq!(
        documents[0],
        Err(YamlError {
            message: "invalid Yaml document separator: !foo".to_string(),
            line: 2,
            column: 1
        })
    );
    assert_eq!(
        compact("a: 1\n---\nb: 2\n----\n"),
        "{\"a\":1}\nERR invalid Yaml document separator: - @4:1"
    );
    assert_eq!(compact("--- |\n  text\n"), "ERR invalid Yaml document separator: | @1:1");
    assert_eq!(compact("---# fine\na: 1\n"), r#"{"a":1}"#);
}

#[test]
fn decoding_stops_at_the_first_error() {
    let documents = decode_stream("a: 1\n---\nb: [\n---\nc: 3\n");
    assert_eq!(documents.len(), 2);
    assert!(documents[0].is_ok());
    assert_eq!(
        documents[1],
        Err(YamlError {
            message: "yaml: line 1: did not find expected node content".to_string(),
            line: 4,
            column: 1
        })
    );
}

#[test]
fn last_line_gains_a_newline() {
    // YAMLReader's ReadLine appends "\n" to a last line without one, so a
    // clipped block scalar ends with a newline.
    assert_eq!(compact("a: |\n  text"), r#"{"a":"text\n"}"#);
    assert_eq!(compact("a: |-\n  text"), r#"{"a":"text"}"#);
    assert_eq!(compact("a: b"), r#"{"a":"b"}"#);
}

#[test]
fn crlf_and_lone_cr_are_line_breaks() {
    assert_eq!(compact("a: |\r\n  x\r\n  y\r\nb: 'p\r\n  q'\r\n"), r#"{"a":"x\ny\n","b":"p q"}"#);
    assert_eq!(compact("---\r\na: 1\r\n---\r\nb: 2\r\n"), "{\"a\":1}\n{\"b\":2}");
    assert_eq!(compact("- a\r- b\r"), r#"["a","b"]"#);
}

#[test]
fn byte_order_mark_is_skipped() {
    assert_eq!(compact("\u{feff}a: 1\n"), r#"{"a":1}"#);
    // The BOM line is not a separator for YAMLReader, but go-yaml skips the
    // BOM and reads `---` as a document start.
    assert_eq!(compact("\u{feff}---\na: 1\n---\nb: 2\n"), "{\"a\":1}\n{\"b\":2}");
    // A BOM is not whitespace for the JSON sniffing: YAML reads the JSON.
    assert_eq!(compact("\u{feff}{\"b\": 1, \"a\": [true]}"), r#"{"a":[true],"b":1}"#);
    let documents = decode_stream("\u{feff}a: 1\nb: [\n");
    assert_eq!(documents[0].as_ref().unwrap_err().line, 3);
}

#[test]
fn unicode_line_breaks() {
    // NEL, LS and PS break lines for libyaml: a plain scalar cannot run on.
    assert_eq!(compact("a: b\u{2028}c: d\n"), r#"{"a":"b","c":"d"}"#);
    assert_eq!(compact("a: b\u{85}c: d\n"), r#"{"a":"b","c":"d"}"#);
    let documents = decode_stream("a: |\n  one\u{2029}two\n");
    assert!(documents[0].is_err());
    // Inside a quoted line they are fine characters for Go's JSON.
    assert_eq!(compact("a: 'x\\u2028'\n"), r#"{"a":"x\\u2028"}"#);
}

#[test]
fn control_characters_are_refused() {
    let documents = decode_stream("a: 1\nb: \"x\u{1}\"\n");
    assert_eq!(
        documents[0],
        Err(YamlError {
            message: "yaml: control characters are not allowed".to_string(),
            line: 2,
            column: 6
        })
    );
    assert_eq!(compact("a: \u{7f}\n"), "ERR yaml: control characters are not allowed @1:4");
    assert_eq!(compact("a: \u{fffe}\n"), "ERR yaml: control characters are not allowed @1:4");
    // Tabs, NEL, and the BMP above U+00A0 are allowed.
    assert_eq!(compact("a: \"x\ty\u{a0}\"\n"), "{\"a\":\"x\\ty\u{a0}\"}");
    // A syntax error well before the control character's input block wins.
    let mut text = String::from("a: 1\nb: c: d\n");
    text.push_str(&"#".repeat(1200));
    text.push_str("\n\u{1}\n");
    assert_eq!(
        compact(&text),
        "ERR yaml: line 2: mapping values are not allowed in this context @2:5"
    );
    // Reaching the control character's block first, libyaml reports it.
    let mut text = String::from("a: [\nb: 1\n");
    text.push_str(&"#".repeat(1200));
    text.push_str("\n\u{1}\n");
    assert_eq!(compact(&text), "ERR yaml: control characters are not allowed @4:1");
    // Found past the first blocks of plain ASCII, and among multi-byte
    // characters that straddle the blocks the scan checks at once.
    let text = format!("a: \"{}\u{1}\"\n", "x".repeat(100));
    assert_eq!(compact(&text), "ERR yaml: control characters are not allowed @1:105");
    let text = format!("a: \"{}\u{7f}\"\n", "\u{e9}".repeat(50));
    assert_eq!(compact(&text), "ERR yaml: control characters are not allowed @1:55");
    let text = format!("a: \"{}\"\n", "\u{e9}x\u{20ac}".repeat(40));
    assert_eq!(compact(&text), format!("{{\"a\":\"{}\"}}", "\u{e9}x\u{20ac}".repeat(40)));
}

#[test]
fn json_stream() {
    let text = "{\"b\": 1.0, \"a\": 2}\n{\"c\": [1e3]}";
    let documents = decode_stream(text);
    // JSON documents keep their text: the target type decides what to do.
    assert_eq!(compact(text), "{\"b\":1.0,\"a\":2}\n{\"c\":[1e3]}");
    assert_eq!(lines(&documents), vec![1, 2]);
    // Not JSON at the first value: the whole text is YAML.
    assert_eq!(compact("{b: 1, a: yes}\n"), r#"{"a":true,"b":1}"#);
    assert_eq!(compact("  {\"a\": 1,}\n"), r#"{"a":1}"#);
    // Not JSON at the second value: YAML after the first one.
    assert_eq!(compact("{\"a\": 1}\n{b: 2}\n"), "{\"a\":1}\n{\"b\":2}");
    // Not JSON at the third: the JSON error.
    assert_eq!(
        compact("{\"a\": 1}{\"b\": 2}{c: 3}"),
        "{\"a\":1}\n{\"b\":2}\nERR invalid character 'c' looking for beginning of object key string @1:18"
    );
    // Neither JSON nor YAML: the JSON error.
    assert_eq!(
        compact("{\"a\": [}"),
        "ERR json: offset 8: invalid character '}' looking for beginning of value @1:8"
    );
    assert_eq!(compact("{\"a\": 1"), "ERR unexpected EOF @1:8");
}

/// Root of the shared reference material, next to the repository.
fn shared(path: &str) -> std::path::PathBuf {
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")).join(path)
}

#[test]
fn every_corpus_file_decodes_except_the_known_invalid_one() {
    let mut n_files = 0;
    let mut failures = Vec::new();
    for pattern in ["corpus/bundles/**/*", "corpus/package-manifests/**/*", "corpus/expected/**/*"] {
        for path in glob::glob(shared(pattern).to_str().unwrap()).unwrap().flatten() {
            let name = path.to_string_lossy().to_string();
            if !path.is_file() || !(name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")) {
                continue;
            }
            n_files += 1;
            let text = fs_err::read_to_string(&path).unwrap();
            for document in decode_stream(&text) {
                if let Err(error) = document {
                    failures.push(format!("{name}: {} @{}:{}", error.message, error.line, error.column));
                }
            }
        }
    }
    assert!(n_files > 1500, "{n_files}");
    assert_eq!(failures.len(), 2, "{}", failures.join("\n"));
    assert!(
        failures.iter().all(|failure| failure.contains("eventing-kogito")),
        "{}",
        failures.join("\n")
    );
}

#[test]
fn under_indented_flow_and_quoted_lines_load_as_in_libyaml() {
    assert_eq!(compact("a: [\nb, c\n]\n"), r#"{"a":["b","c"]}"#);
    assert_eq!(
        compact("a:\n  b: [\n  x,\n  ]\n  c: {\nd: 1}\n"),
        r#"{"a":{"b":["x"],"c":{"d":1}}}"#
    );
    assert_eq!(compact("a: \"x\ny\"\nb: 'p\n\tq'\n"), r#"{"a":"x y","b":"p q"}"#);
    assert_eq!(compact("- a: \"x\n\t\\  y\"\n"), r#"[{"a":"x   y"}]"#);
    // Still an error where libyaml has one, and positions point at the original text.
    assert_eq!(
        compact("a: [\nb, c\n]\nd: [\n"),
        "ERR yaml: line 4: did not find expected node content @5:1"
    );
}

/// The `olm.bundle.object` blobs (base64 JSON) in an expected render output.
fn bundle_object_blobs(stdout: &str) -> Vec<String> {
    use base64::Engine as _;
    let mut blobs = Vec::new();
    for (_, document) in json::parse_stream(stdout).unwrap() {
        for property in document.get("properties").and_then(Value::as_array).unwrap_or_default() {
            if property.get("type").and_then(Value::as_str) != Some("olm.bundle.object") {
                continue;
            }
            let data = property.pointer(&["value", "data"]).and_then(Value::as_str).unwrap();
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
            blobs.push(String::from_utf8(bytes).unwrap());
        }
    }
    blobs
}

/// What opm stores for each manifest of a bundle dir: the first document of
/// each file, re-encoded by `json.Marshal`.
fn manifest_blobs(bundle_dir: &std::path::Path) -> Vec<String> {
    let mut blobs = Vec::new();
    let Ok(entries) = fs_err::read_dir(bundle_dir.join("manifests")) else {
        return blobs;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_file() || entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let text = fs_err::read_to_string(&path).unwrap();
        if let Some(Ok(document)) = decode_stream(&text).into_iter().next() {
            let value = if looks_like_json(&text) {
                document.value.sort_keys()
            } else {
                document.value
            };
            blobs.push(json::to_compact(&value, true));
        }
    }
    blobs
}

/// Bundle dirs a render-bundle case reads: its `[images]` and `input/` args.
fn case_bundle_dirs(case_dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let case: toml::Table = fs_err::read_to_string(case_dir.join("case.toml")).unwrap().parse().unwrap();
    let mut dirs = Vec::new();
    if let Some(images) = case.get("images").and_then(toml::Value::as_table) {
        dirs.extend(images.values().filter_map(toml::Value::as_str).map(|dir| case_dir.join(dir)));
    }
    for arg in case.get("args").and_then(toml::Value::as_array).into_iter().flatten() {
        if let Some(arg) = arg.as_str()
            && arg.starts_with("input/")
            && case_dir.join(arg).join("manifests").is_dir()
        {
            dirs.push(case_dir.join(arg));
        }
    }
    dirs
}

#[test]
fn render_bundle_objects_match_opm_byte_for_byte() {
    let mut n_blobs = 0;
    let mut mismatches = Vec::new();
    let mut cases: Vec<_> = fs_err::read_dir(shared("conformance/render-bundle"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    cases.sort();
    for case_dir in cases {
        let Ok(stdout) = fs_err::read_to_string(case_dir.join("expected/stdout.json")) else {
            continue;
        };
        let produced: Vec<String> = case_bundle_dirs(&case_dir).iter().flat_map(|dir| manifest_blobs(dir)).collect();
        for blob in bundle_object_blobs(&stdout) {
            n_blobs += 1;
            if !produced.contains(&blob) {
                mismatches.push(format!("{}: {}", case_dir.display(), &blob[..blob.len().min(300)]));
            }
        }
    }
    eprintln!(
        "render-bundle olm.bundle.object blobs: {n_blobs}, matching: {}",
        n_blobs - mismatches.len()
    );
    assert!(n_blobs > 50, "{n_blobs}");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

fn read_shared(path: &str) -> String {
    fs_err::read_to_string(shared(path)).unwrap()
}

fn csv_blob(case: &str) -> Result<String, YamlError> {
    let text = read_shared(&format!(
        "conformance/render-bundle/{case}/input/{case}/manifests/quux.clusterserviceversion.yaml"
    ));
    decode_stream(&text)
        .remove(0)
        .map(|document| json::to_compact(&document.value, true))
}

#[test]
fn conformance_yaml11_scalars_csv_matches_opm() {
    let stdout = read_shared("conformance/render-bundle/yaml11-scalars/expected/stdout.json");
    let blob = csv_blob("yaml11-scalars").unwrap();
    assert!(bundle_object_blobs(&stdout).contains(&blob), "{blob}");
}

#[test]
fn conformance_multi_document_keeps_first_document() {
    let stdout = read_shared("conformance/render-bundle/multi-document/expected/stdout.json");
    let blob = csv_blob("multi-document").unwrap();
    assert!(bundle_object_blobs(&stdout).contains(&blob), "{blob}");
}

#[test]
fn conformance_nan_and_line_separator_csvs_do_not_decode() {
    assert_eq!(csv_blob("nan-in-csv").unwrap_err().message, "json: unsupported value: NaN");
    let error = csv_blob("unicode-line-separator").unwrap_err();
    assert!(error.message.starts_with("yaml: "), "{error:?}");
    assert_eq!(
        csv_blob("malformed-csv-yaml").map_err(|e| e.message.starts_with("yaml: ")),
        Err(true)
    );
}

fn corpus(path: &str) -> Vec<Result<Document, YamlError>> {
    decode_stream(&read_shared(&format!("corpus/{path}")))
}

fn corpus_first(path: &str) -> Value {
    corpus(path).remove(0).unwrap().value
}

#[test]
fn corpus_multi_document_trivy_service() {
    let documents = corpus("bundles/community-trivy-operator/2.4.0/manifests/trivy-operator.service.yaml");
    assert_eq!(documents.len(), 2);
    let names: Vec<_> = documents
        .iter()
        .map(|d| d.as_ref().unwrap().value.pointer(&["metadata", "name"]).cloned())
        .collect();
    assert!(names.iter().all(Option::is_some));
    assert_ne!(names[0], names[1]);
}

#[test]
fn corpus_dynatrace_anchors_are_expanded() {
    let text = read_shared("corpus/bundles/dynatrace-operator/0.10.2/manifests/dynatrace-operator.clusterserviceversion.yaml");
    assert!(text.contains("&id001") && text.contains("*id001"));
    let value = corpus_first("bundles/dynatrace-operator/0.10.2/manifests/dynatrace-operator.clusterserviceversion.yaml");
    let compact = json::to_compact(&value, false);
    assert!(!compact.contains("id001"));
}

#[test]
fn corpus_clickhouse_merge_keys() {
    let path = "bundles/clickhouse/0.26.0/manifests/clickhouseinstallations.clickhouse.altinity.com.crd.yaml";
    let text = read_shared(&format!("corpus/{path}"));
    assert!(text.contains("!!merge <<: *TypeFiles"));
    let compact = json::to_compact(&corpus_first(path), false);
    assert!(!compact.contains("<<"));
    // The key written after the merge overrides the anchored description.
    let value = corpus_first(path);
    let versions = value.pointer(&["spec", "versions"]).and_then(Value::as_array).unwrap();
    let files = versions[0]
        .pointer(&[
            "schema",
            "openAPIV3Schema",
            "properties",
            "spec",
            "properties",
            "configuration",
            "properties",
            "files",
        ])
        .unwrap();
    assert!(files.get("type").is_some(), "{}", json::to_compact(files, false));
    assert!(files.get("description").and_then(Value::as_str).is_some());
}

#[test]
fn corpus_duplicate_keys_last_wins() {
    let value = corpus_first("bundles/nlp-server/0.8.6/manifests/nlp-server-role-binding.yaml");
    assert_eq!(
        value.get("apiVersion").and_then(Value::as_str),
        Some("rbac.authorization.k8s.io/v1")
    );
    let csv = corpus_first("bundles/kaoto-operator/0.0.10/manifests/kaoto-operator.clusterserviceversion.yaml");
    assert!(csv.pointer(&["spec", "minKubeVersion"]).is_some());
    for path in [
        "bundles/datadog-operator/0.7.0/manifests/datadog-operator.clusterserviceversion.yaml",
        "bundles/3scale-community-operator/0.5.1/manifests/3scale-community-operator.v0.5.1.clusterserviceversion.yaml",
    ] {
        assert!(corpus(path)[0].is_ok(), "{path}");
    }
    // Two `metadata.annotations` blocks: the second (empty) one replaces the first.
    let value = corpus_first("bundles/annotationlab/5.4.1/manifests/annotationlab-ServiceAccount.yml");
    assert_eq!(value.pointer(&["metadata", "annotations"]), Some(&Value::Null));
    assert_eq!(value.pointer(&["metadata", "name"]).and_then(Value::as_str), Some("annotationlab"));
}

#[test]
fn corpus_unquoted_timestamps_stay_text() {
    let cases = [
        (
            "bundles/3scale-community-operator/0.4.0/manifests/3scale-community-operator.v0.4.0.clusterserviceversion.yaml",
            "2019-05-30T22:40:00Z",
        ),
        (
            "bundles/3scale-community-operator/0.3.0/manifests/3scale-community-operator.v0.3.0.clusterserviceversion.yaml",
            "2019-05-30 22:40:00",
        ),
        (
            "bundles/rabbitmq-messaging-topology-operator/1.19.3/manifests/rabbitmq-messaging-topology-operator.clusterserviceversion.yaml",
            "2026-06-09T13:44:56",
        ),
    ];
    for (path, created_at) in cases {
        let value = corpus_first(path);
        assert_eq!(
            value.pointer(&["metadata", "annotations", "createdAt"]).and_then(Value::as_str),
            Some(created_at),
            "{path}"
        );
    }
}

#[test]
fn corpus_crlf_mariadb_package_manifest() {
    let text = read_shared("corpus/package-manifests/mariadb-operator-app/mariadb-operator.package.yaml");
    assert!(text.contains("\r\n"));
    let value = corpus_first("package-manifests/mariadb-operator-app/mariadb-operator.package.yaml");
    assert_eq!(value, decode_stream(&text.replace("\r\n", "\n")).remove(0).unwrap().value);
    let csv = corpus_first("package-manifests/mariadb-operator-app/0.0.3/mariadb-operator.v0.0.3.clusterserviceversion.yaml");
    let description = csv.pointer(&["spec", "description"]).and_then(Value::as_str).unwrap();
    // Escaped CRLF line breaks join lines; the tab indentation is dropped.
    assert!(
        description.contains("configured version  \n* Create a custom database"),
        "{description}"
    );
    assert!(!description.contains('\t'), "{description}");
}

#[test]
fn corpus_no_final_newline_and_leading_separator() {
    let text = read_shared("corpus/bundles/cockroachdb/3.0.7/manifests/cockroachdb.v3.0.7.clusterserviceversion.yaml");
    assert!(!text.ends_with('\n'));
    let documents = corpus("bundles/cockroachdb/3.0.7/manifests/cockroachdb.v3.0.7.clusterserviceversion.yaml");
    assert_eq!(documents.len(), 1);
    assert_eq!(
        documents[0].as_ref().unwrap().value,
        decode_stream(&format!("{text}\n")).remove(0).unwrap().value
    );
    let annotations = read_shared("corpus/bundles/dxoperator/1.0.77.0/metadata/annotations.yaml");
    assert!(annotations.starts_with("---"));
    let documents = corpus("bundles/dxoperator/1.0.77.0/metadata/annotations.yaml");
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].as_ref().unwrap().line, 2);
}

#[test]
fn corpus_synthesized_bom() {
    let text = read_shared("corpus/bundles/kube-green/0.5.0/metadata/annotations.yaml");
    let with_bom = format!("\u{feff}{text}");
    assert_eq!(decode_stream(&with_bom), decode_stream(&text));
}

#[test]
fn corpus_malformed_eventing_kogito_dependencies() {
    for version in ["1.1.0", "1.2.0"] {
        let documents = corpus(&format!("bundles/eventing-kogito/{version}/metadata/dependencies.yaml"));
        assert_eq!(
            documents,
            vec![Err(YamlError {
                message: "yaml: line 22: mapping values are not allowed in this context".to_string(),
                line: 22,
                column: 12,
            })]
        );
    }
}

/// Key lines come from node positions, in file lines, for the first
/// document only; the last of duplicate keys wins, as in go-yaml's map.
#[test]
fn key_lines_of_the_first_document() {
    let paths: [&[&str]; 4] = [&["spec", "version"], &["metadata", "name"], &["spec", "missing"], &["a", "b"]];
    let text =
        "---\n# comment\nmetadata:\n  name: x\n  owned:\n    version: v1\nspec:\n  version: 1.0.0\n  version: 2.0.0\n---\na:\n  b: 1\n";
    let mut key_lines = KeyLines::new(&paths);
    let documents = decode_stream_locating(text, &mut key_lines);
    assert_eq!(documents.len(), 2);
    assert_eq!(key_lines.lines, vec![Some(9), Some(4), None, None]);
    // NEL is a line break to libyaml but not to a line count of `\n`s.
    let text = "metadata: {name: x}\nnote: \"a\u{85}b\"\nspec:\n  version: 1\n";
    let mut key_lines = KeyLines::new(&paths);
    decode_stream_locating(text, &mut key_lines);
    assert_eq!(key_lines.lines, vec![Some(4), Some(1), None, None]);
    let text = "{\"metadata\": {\"name\": \"x\"},\n \"spec\": {\n  \"version\": \"1\"}}";
    let mut key_lines = KeyLines::new(&paths);
    decode_stream_locating(text, &mut key_lines);
    assert_eq!(key_lines.lines, vec![Some(3), Some(1), None, None]);
}

/// The vendored scanner takes runs of plain and block scalar text in one
/// step from a string (`vendor/README.md`); reading the same text one
/// character at a time (`BufferedInput`, which has no such step) must give
/// the same events, spans and errors.
#[test]
fn runs_of_scalar_text_read_as_character_by_character_does() {
    use saphyr_parser::{BufferedInput, Parser};
    fn events<'a, T: saphyr_parser::Input>(mut parser: Parser<'a, T>) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(next) = parser.next_event() {
            match next {
                Ok((event, span)) => out.push(format!("{event:?} {span:?}")),
                Err(error) => {
                    out.push(format!("ERR {error:?}"));
                    break;
                }
            }
        }
        out
    }
    let long = "iVBORw0KGgo+/=._-".repeat(2_000);
    let documents = [
        format!("icon:\n- base64data: {long}\n  mediatype: image/png\n"),
        format!("v: {long}\n  continued {long}\nw: 1\n"),
        format!("v: {long} # comment\nw: x#y\n"),
        format!("v: {long}:{long}\n"),
        format!("v: {long}: x\n"),
        format!("v: [{long}, a-b, {long}:c, {{k: {long}}}]\n"),
        format!("v: [{long}]]\n"),
        format!("v: |\n  {long}\n  \ttab and é {long}\n\n  last\nw: >-\n  {long}\n   more\n"),
        format!("v: |\n  {long}\r\n  crlf\r\n"),
        format!("v: {long}\u{feff}x\n"),
        "v: é+/=é\n- x\n".to_string(),
    ];
    for (idx, text) in documents.iter().enumerate() {
        let by_run = events(Parser::new_from_str(text));
        let by_character = events(Parser::new(BufferedInput::new(text.chars())));
        assert_eq!(by_run, by_character, "document {idx}");
    }
}
