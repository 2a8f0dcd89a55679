//! Tables transcribed from blang/semver v4 `semver_test.go` and
//! `range_test.go` (expectations only), plus the exact error texts opm
//! users meet, and opm's `BuildIdCompare` table
//! (`pkg/registry/helper_test.go@v1.73.0 TestBundleVersionCompare`).

use std::cmp::Ordering;

use super::*;

fn alpha(text: &str) -> PreRelease {
    PreRelease::Alpha(text.to_string())
}

fn version(major: u64, minor: u64, patch: u64, pre: Vec<PreRelease>, build: &[&str]) -> Version {
    Version {
        major,
        minor,
        patch,
        pre,
        build: build.iter().map(|item| item.to_string()).collect(),
    }
}

fn v(text: &str) -> Version {
    Version::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"))
}

// formatTests: String() and Parse agree.
#[test]
fn format_and_parse_table() {
    let cases = [
        (version(1, 2, 3, vec![], &[]), "1.2.3"),
        (version(0, 0, 1, vec![], &[]), "0.0.1"),
        (
            version(0, 0, 1, vec![alpha("alpha"), alpha("preview")], &["123", "456"]),
            "0.0.1-alpha.preview+123.456",
        ),
        (
            version(1, 2, 3, vec![alpha("alpha"), PreRelease::Numeric(1)], &["123", "456"]),
            "1.2.3-alpha.1+123.456",
        ),
        (version(1, 2, 3, vec![alpha("alpha"), PreRelease::Numeric(1)], &[]), "1.2.3-alpha.1"),
        (version(1, 2, 3, vec![], &["123", "456"]), "1.2.3+123.456"),
        (
            version(1, 2, 3, vec![alpha("alpha"), alpha("b-eta")], &["123", "b-uild"]),
            "1.2.3-alpha.b-eta+123.b-uild",
        ),
        (version(1, 2, 3, vec![], &["123", "b-uild"]), "1.2.3+123.b-uild"),
        (version(1, 2, 3, vec![alpha("alpha"), alpha("b-eta")], &[]), "1.2.3-alpha.b-eta"),
    ];
    for (expected, text) in cases {
        assert_eq!(expected.to_string(), text);
        let parsed = v(text);
        assert!(parsed.identical(&expected), "{text}: {parsed:?}");
        assert_eq!(parsed.validate(), Ok(()));
        assert_eq!(
            expected.finalize_version(),
            format!("{}.{}.{}", expected.major, expected.minor, expected.patch)
        );
    }
}

// compareTests, both directions.
#[test]
fn compare_table() {
    let pre = |items: &[&str]| -> Vec<PreRelease> { items.iter().map(|item| PreRelease::parse(item).unwrap()).collect() };
    let cases = [
        (version(1, 0, 0, vec![], &[]), version(1, 0, 0, vec![], &[]), 0),
        (version(2, 0, 0, vec![], &[]), version(1, 0, 0, vec![], &[]), 1),
        (version(0, 1, 0, vec![], &[]), version(0, 1, 0, vec![], &[]), 0),
        (version(0, 2, 0, vec![], &[]), version(0, 1, 0, vec![], &[]), 1),
        (version(0, 0, 1, vec![], &[]), version(0, 0, 1, vec![], &[]), 0),
        (version(0, 0, 2, vec![], &[]), version(0, 0, 1, vec![], &[]), 1),
        (version(1, 2, 3, vec![], &[]), version(1, 2, 3, vec![], &[]), 0),
        (version(2, 2, 4, vec![], &[]), version(1, 2, 4, vec![], &[]), 1),
        (version(1, 3, 3, vec![], &[]), version(1, 2, 3, vec![], &[]), 1),
        (version(1, 2, 4, vec![], &[]), version(1, 2, 3, vec![], &[]), 1),
        (version(1, 0, 0, vec![], &[]), version(2, 0, 0, vec![], &[]), -1),
        (version(2, 0, 0, vec![], &[]), version(2, 1, 0, vec![], &[]), -1),
        (version(2, 1, 0, vec![], &[]), version(2, 1, 1, vec![], &[]), -1),
        (version(1, 0, 0, vec![], &[]), version(1, 0, 0, pre(&["alpha"]), &[]), 1),
        (
            version(1, 0, 0, pre(&["alpha"]), &[]),
            version(1, 0, 0, pre(&["alpha", "1"]), &[]),
            -1,
        ),
        (
            version(1, 0, 0, pre(&["alpha", "1"]), &[]),
            version(1, 0, 0, pre(&["alpha", "beta"]), &[]),
            -1,
        ),
        (
            version(1, 0, 0, pre(&["alpha", "beta"]), &[]),
            version(1, 0, 0, pre(&["beta"]), &[]),
            -1,
        ),
        (
            version(1, 0, 0, pre(&["beta"]), &[]),
            version(1, 0, 0, pre(&["beta", "2"]), &[]),
            -1,
        ),
        (
            version(1, 0, 0, pre(&["beta", "2"]), &[]),
            version(1, 0, 0, pre(&["beta", "11"]), &[]),
            -1,
        ),
        (
            version(1, 0, 0, pre(&["beta", "11"]), &[]),
            version(1, 0, 0, pre(&["rc", "1"]), &[]),
            -1,
        ),
        (version(1, 0, 0, pre(&["rc", "1"]), &[]), version(1, 0, 0, vec![], &[]), -1),
        (version(1, 0, 0, vec![], &["1", "2", "3"]), version(1, 0, 0, vec![], &[]), 0),
    ];
    let to_ordering = |value: i32| value.cmp(&0);
    for (left, right, expected) in cases {
        assert_eq!(left.cmp(&right), to_ordering(expected), "{left} vs {right}");
        assert_eq!(right.cmp(&left), to_ordering(-expected), "{right} vs {left}");
    }
}

// wrongformatTests: every one of these fails to parse; the texts are what
// blang's Parse returns for them.
#[test]
fn wrong_format_errors() {
    let cases = [
        ("", "Version string empty"),
        (".", "No Major.Minor.Patch elements found"),
        ("1.", "No Major.Minor.Patch elements found"),
        (".1", "No Major.Minor.Patch elements found"),
        ("a.b.c", r#"Invalid character(s) found in major number "a""#),
        ("1.a.b", r#"Invalid character(s) found in minor number "a""#),
        ("1.1.a", r#"Invalid character(s) found in patch number "a""#),
        ("1.a.1", r#"Invalid character(s) found in minor number "a""#),
        ("a.1.1", r#"Invalid character(s) found in major number "a""#),
        ("..", r#"strconv.ParseUint: parsing "": invalid syntax"#),
        ("1..", r#"strconv.ParseUint: parsing "": invalid syntax"#),
        ("1.1.", r#"strconv.ParseUint: parsing "": invalid syntax"#),
        ("1..1", r#"strconv.ParseUint: parsing "": invalid syntax"#),
        ("1.1.+123", r#"strconv.ParseUint: parsing "": invalid syntax"#),
        ("1.1.-beta", r#"strconv.ParseUint: parsing "": invalid syntax"#),
        ("-1.1.1", r#"Invalid character(s) found in major number "-1""#),
        ("1.-1.1", r#"Invalid character(s) found in minor number "-1""#),
        ("1.1.-1", r#"strconv.ParseUint: parsing "": invalid syntax"#),
        (
            "20000000000000000000.1.1",
            r#"strconv.ParseUint: parsing "20000000000000000000": value out of range"#,
        ),
        (
            "1.20000000000000000000.1",
            r#"strconv.ParseUint: parsing "20000000000000000000": value out of range"#,
        ),
        (
            "1.1.20000000000000000000",
            r#"strconv.ParseUint: parsing "20000000000000000000": value out of range"#,
        ),
        (
            "1.1.1-20000000000000000000",
            r#"strconv.ParseUint: parsing "20000000000000000000": value out of range"#,
        ),
        ("01.1.1", r#"Major number must not contain leading zeroes "01""#),
        ("001.1.1", r#"Major number must not contain leading zeroes "001""#),
        ("1.01.1", r#"Minor number must not contain leading zeroes "01""#),
        ("1.001.1", r#"Minor number must not contain leading zeroes "001""#),
        ("1.1.01", r#"Patch number must not contain leading zeroes "01""#),
        ("1.1.001", r#"Patch number must not contain leading zeroes "001""#),
        ("1.1.1-01", r#"Numeric PreRelease version must not contain leading zeroes "01""#),
        ("1.1.1-001", r#"Numeric PreRelease version must not contain leading zeroes "001""#),
        (
            "1.1.1-beta.01",
            r#"Numeric PreRelease version must not contain leading zeroes "01""#,
        ),
        (
            "1.1.1-beta.001",
            r#"Numeric PreRelease version must not contain leading zeroes "001""#,
        ),
        ("0.0.0-!", r#"Invalid character(s) found in prerelease "!""#),
        ("0.0.0+!", r#"Invalid character(s) found in build meta data "!""#),
        ("0.0.0-.alpha", "Prerelease is empty"),
        ("0.0.0-alpha+", "Build meta data is empty"),
        ("0.0.0-alpha+test.", "Build meta data is empty"),
        // The text opm users meet most (declcfg_to_model_test BundleInvalidVersion).
        ("0.1.0.1", r#"Invalid character(s) found in patch number "0.1""#),
        ("v1.0.0", r#"Invalid character(s) found in major number "v1""#),
        ("1.0", "No Major.Minor.Patch elements found"),
    ];
    for (text, expected) in cases {
        assert_eq!(Version::parse(text).unwrap_err(), expected, "input {text:?}");
    }
}

// The hand-built bad versions of wrongformatTests fail Validate.
#[test]
fn validate_rejects_hand_built_versions() {
    assert_eq!(
        version(0, 0, 0, vec![alpha("!")], &[]).validate().unwrap_err(),
        r#"Invalid character(s) found in prerelease "!""#
    );
    assert_eq!(
        version(0, 0, 0, vec![], &["!"]).validate().unwrap_err(),
        r#"Invalid character(s) found in build meta data "!""#
    );
    assert_eq!(
        version(0, 0, 0, vec![alpha(""), alpha("alpha")], &[]).validate().unwrap_err(),
        r#"Prerelease can not be empty """#
    );
    assert_eq!(
        version(0, 0, 0, vec![alpha("alpha")], &[""]).validate().unwrap_err(),
        r#"Build meta data can not be empty """#
    );
}

#[test]
fn equality_ignores_build_metadata_but_identical_does_not() {
    assert_eq!(v("1.0.0+a"), v("1.0.0+b"));
    assert!(!v("1.0.0+a").identical(&v("1.0.0+b")));
    assert!(v("1.0.0-rc.1") < v("1.0.0"));
    let mut versions = [v("1.0.0"), v("0.9.0"), v("1.0.0-alpha"), v("1.0.0-alpha.1"), v("1.0.0-1")];
    versions.sort();
    let texts: Vec<String> = versions.iter().map(Version::to_string).collect();
    assert_eq!(texts, ["0.9.0", "1.0.0-1", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0"]);
}

// TestBundleVersionCompare (opm pkg/registry/helper_test.go@v1.73.0).
#[test]
fn build_id_compare_table() {
    let cases = [
        ("1.0.0+1", "1.0.0+2", Ordering::Less),
        ("1.0.0+2", "1.0.0+1", Ordering::Greater),
        ("1.0.0+1", "1.0.0", Ordering::Greater),
        ("1.0.0+1", "1.0.0+1", Ordering::Equal),
        ("1.0.0+0", "1.0.0", Ordering::Greater),
        ("1.0.0+0", "1.0.0+1.2.3", Ordering::Less),
        ("1.0.0", "1.0.1", Ordering::Less),
        ("1.0.1", "1.0.0", Ordering::Greater),
        ("1.0.0", "1.1.0", Ordering::Less),
        ("1.1.0", "1.0.0", Ordering::Greater),
        ("1.0.0", "2.0.0", Ordering::Less),
        ("2.0.0", "1.0.0", Ordering::Greater),
        ("1.0.0-pre", "1.0.0", Ordering::Less),
        ("2.0.0-pre", "1.0.0", Ordering::Greater),
        ("1.0.0-pre+1", "1.0.0-pre+2", Ordering::Less),
    ];
    for (left, right, expected) in cases {
        assert_eq!(v(left).build_id_compare(&v(right)), Ok(expected), "{left} vs {right}");
    }
    assert_eq!(
        v("1.0.0+01").build_id_compare(&v("1.0.0")).unwrap_err(),
        r#"failed to convert build-id of 1.0.0+01 to prerelease version for comparison: Numeric PreRelease version must not contain leading zeroes "01""#
    );
}

// TestParseRange: match tables.
#[test]
fn parse_range_match_table() {
    let cases: &[(&str, &[(&str, bool)])] = &[
        (">1.2.3", &[("1.2.2", false), ("1.2.3", false), ("1.2.4", true)]),
        (">=1.2.3", &[("1.2.3", true), ("1.2.4", true), ("1.2.2", false)]),
        ("<1.2.3", &[("1.2.2", true), ("1.2.3", false), ("1.2.4", false)]),
        ("<=1.2.3", &[("1.2.2", true), ("1.2.3", true), ("1.2.4", false)]),
        ("1.2.3", &[("1.2.2", false), ("1.2.3", true), ("1.2.4", false)]),
        ("=1.2.3", &[("1.2.2", false), ("1.2.3", true), ("1.2.4", false)]),
        ("==1.2.3", &[("1.2.2", false), ("1.2.3", true), ("1.2.4", false)]),
        ("!=1.2.3", &[("1.2.2", true), ("1.2.3", false), ("1.2.4", true)]),
        ("!1.2.3", &[("1.2.2", true), ("1.2.3", false), ("1.2.4", true)]),
        (">1.2.2 <1.2.4", &[("1.2.2", false), ("1.2.3", true), ("1.2.4", false)]),
        (
            "<1.2.2 <1.2.4",
            &[("1.2.1", true), ("1.2.2", false), ("1.2.3", false), ("1.2.4", false)],
        ),
        (
            ">1.2.2 <1.2.5 !=1.2.4",
            &[("1.2.2", false), ("1.2.3", true), ("1.2.4", false), ("1.2.5", false)],
        ),
        (
            ">1.2.2 <1.2.5 !1.2.4",
            &[("1.2.2", false), ("1.2.3", true), ("1.2.4", false), ("1.2.5", false)],
        ),
        (">1.2.2 || <1.2.4", &[("1.2.2", true), ("1.2.3", true), ("1.2.4", true)]),
        ("<1.2.2 || >1.2.4", &[("1.2.2", false), ("1.2.3", false), ("1.2.4", false)]),
        (">1.x", &[("0.1.9", false), ("1.2.6", false), ("1.9.0", false), ("2.0.0", true)]),
        (">1.2.x", &[("1.1.9", false), ("1.2.6", false), ("1.3.0", true)]),
        (
            ">1.2.2 <1.2.4 || >=2.0.0",
            &[
                ("1.2.2", false),
                ("1.2.3", true),
                ("1.2.4", false),
                ("2.0.0", true),
                ("2.0.1", true),
            ],
        ),
        (
            "1.x || >=2.0.x <2.2.x",
            &[
                ("0.9.2", false),
                ("1.2.2", true),
                ("2.0.0", true),
                ("2.1.8", true),
                ("2.2.0", false),
            ],
        ),
        (
            ">1.2.2 <1.2.4 || >=2.0.0 <3.0.0",
            &[
                ("1.2.2", false),
                ("1.2.3", true),
                ("1.2.4", false),
                ("2.0.0", true),
                ("2.0.1", true),
                ("2.9.9", true),
                ("3.0.0", false),
            ],
        ),
        // Spaces between operator and version stay glued (TestSplitAndTrim).
        (">= 1.0.0 < 1.0.3", &[("1.0.0", true), ("1.0.2", true), ("1.0.3", false)]),
        // Pre-releases compare below their release.
        ("<1.0.0", &[("1.0.0-rc.1", true), ("1.0.0", false)]),
        // Build metadata is ignored when matching.
        ("=1.0.0", &[("1.0.0+build.5", true)]),
    ];
    for (range_text, checks) in cases {
        let range = Range::parse(range_text).unwrap_or_else(|error| panic!("{range_text}: {error}"));
        for (version_text, expected) in *checks {
            assert_eq!(range.contains(&v(version_text)), *expected, "{range_text} contains {version_text}");
        }
    }
}

// The failures of TestParseRange, the two opm model tests
// (Bundle/Error/InvalidSkipRange/LeadingV and LeadingZero), and the `v`
// prefixes real catalogs carry, all with blang's exact text.
#[test]
fn parse_range_errors() {
    let cases = [
        (
            ">>1.2.3",
            r#"Could not parse Range ">>1.2.3": Could not parse comparator ">>" in ">>1.2.3""#,
        ),
        (
            "1.0",
            r#"Could not parse Range "1.0": Could not parse version "1.0" in "1.0": No Major.Minor.Patch elements found"#,
        ),
        ("string", r#"Could not get version from string: "string""#),
        ("", "Last element in range is '||'"),
        ("fo.ob.ar.x", r#"Could not get version from string: "fo.ob.ar.x""#),
        (
            ">v0.1.0",
            r#"Could not parse Range ">v0.1.0": Could not parse comparator ">v" in ">v0.1.0""#,
        ),
        (
            ">1.00.1",
            r#"Could not parse Range ">1.00.1": Could not parse version "1.00.1" in ">1.00.1": Minor number must not contain leading zeroes "00""#,
        ),
        (
            "<=v0.10.1",
            r#"Could not parse Range "<=v0.10.1": Could not parse comparator "<=v" in "<=v0.10.1""#,
        ),
        (
            "<v1.4.0",
            r#"Could not parse Range "<v1.4.0": Could not parse comparator "<v" in "<v1.4.0""#,
        ),
        ("not-a-range", r#"Could not get version from string: "not-a-range""#),
        ("|| >1.0.0", "First element in range is '||'"),
        (">1.0.0 ||", "Last element in range is '||'"),
        // Any word with an `x` is "expanded": `>` has nothing to increment.
        (">1.0.0-xyz", r#"Could not get version from string: ">=""#),
        (
            ">=1.0.0 <1.2.0-",
            r#"Could not parse Range "<1.2.0-": Could not parse version "1.2.0-" in "<1.2.0-": Prerelease is empty"#,
        ),
    ];
    for (range_text, expected) in cases {
        assert_eq!(Range::parse(range_text).unwrap_err(), expected, "range {range_text:?}");
    }
}

#[test]
fn wildcard_with_unknown_operator_keeps_flat_version() {
    // blang drops an unknown operator next to an `x`: `~1.2.x` is `1.2.0`.
    let range = Range::parse("~1.2.x").unwrap();
    assert!(range.contains(&v("1.2.0")));
    assert!(!range.contains(&v("1.2.1")));
}

#[test]
fn go_quote_escapes_like_strconv_quote() {
    assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
    assert_eq!(go_quote("tab\there\n"), r#""tab\there\n""#);
    assert_eq!(go_quote("\u{1}\u{7f}"), r#""\x01\x7f""#);
    assert_eq!(go_quote("caf\u{e9} \u{a0}\u{feff}"), "\"caf\u{e9} \\u00a0\\ufeff\"");
    assert_eq!(go_quote("\u{f0000}"), r#""\U000f0000""#);
}
