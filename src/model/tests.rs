//! Unit tests of the model: channel head and replaces-chain rules
//! (transcribed from opm `alpha/model/model_test.go` TestChannelHead,
//! TestValidReplacesChain, TestValidators), the tree renderer, and
//! conversion cases of `alpha/declcfg/declcfg_to_model_test.go` that the
//! conformance suite does not carry.

use std::path::Path;

use super::*;
use crate::fbc::{self, DeclarativeConfig};

fn bundle(name: &str, replaces: &str, skips: &[&str]) -> Bundle {
    Bundle {
        package: "anakin".to_string(),
        channel: "light".to_string(),
        name: name.to_string(),
        replaces: replaces.to_string(),
        skips: skips.iter().map(|skip| skip.to_string()).collect(),
        image: format!("anakin-operator:{name}"),
        properties: vec![package_property("anakin", "0.0.1")].into(),
        ..Bundle::default()
    }
}

fn package_property(package: &str, version: &str) -> fbc::Property {
    fbc::Property {
        type_: "olm.package".to_string(),
        value: format!(r#"{{"packageName":"{package}","version":"{version}"}}"#),
    }
}

fn channel(bundles: Vec<Bundle>) -> Channel {
    Channel {
        package: "anakin".to_string(),
        name: "light".to_string(),
        bundles: bundles.into_iter().map(|bundle| (bundle.name.clone(), bundle)).collect(),
        ..Channel::default()
    }
}

// TestChannelHead.
#[test]
fn channel_head() {
    let head = bundle("anakin.v0.0.3", "anakin.v0.0.1", &["anakin.v0.0.2"]);
    let valid = channel(vec![
        bundle("anakin.v0.0.1", "", &[]),
        bundle("anakin.v0.0.2", "", &[]),
        head.clone(),
    ]);
    assert_eq!(valid.head().unwrap(), &head);

    let no_head = channel(vec![bundle("anakin.v0.0.1", "anakin.v0.0.3", &[]), head.clone()]);
    assert_eq!(no_head.head().unwrap_err().to_string(), "no channel head found in graph");

    let two_heads = channel(vec![
        bundle("anakin.v0.0.1", "", &[]),
        head,
        bundle("anakin.v0.0.4", "anakin.v0.0.1", &[]),
    ]);
    assert_eq!(
        two_heads.head().unwrap_err().to_string(),
        "multiple channel heads found in graph: anakin.v0.0.3, anakin.v0.0.4"
    );
}

// TestValidReplacesChain.
#[test]
fn validate_replaces_chain_table() {
    let cases = [
        (
            vec![
                bundle("anakin.v0.0.1", "", &[]),
                bundle("anakin.v0.0.2", "", &["anakin.v0.0.1"]),
                bundle("anakin.v0.0.3", "", &["anakin.v0.0.2"]),
                bundle("anakin.v0.0.4", "anakin.v0.0.3", &[]),
            ],
            None,
        ),
        (
            vec![
                bundle("anakin.v0.0.4", "anakin.v0.0.4", &[]),
                bundle("anakin.v0.0.5", "anakin.v0.0.4", &[]),
            ],
            Some("detected cycle in replaces chain of upgrade graph: anakin.v0.0.4 -> anakin.v0.0.4"),
        ),
        (
            vec![
                bundle("anakin.v0.0.1", "anakin.v0.0.3", &[]),
                bundle("anakin.v0.0.2", "anakin.v0.0.1", &[]),
                bundle("anakin.v0.0.3", "anakin.v0.0.2", &[]),
                bundle("anakin.v0.0.4", "anakin.v0.0.3", &[]),
            ],
            Some("detected cycle in replaces chain of upgrade graph: anakin.v0.0.3 -> anakin.v0.0.2 -> anakin.v0.0.1 -> anakin.v0.0.3"),
        ),
        (
            vec![
                bundle("anakin.v0.0.1", "", &[]),
                bundle("anakin.v0.0.2", "anakin.v0.0.1", &[]),
                bundle("anakin.v0.0.3", "", &["anakin.v0.0.2"]),
            ],
            Some("channel contains one or more stranded bundles: anakin.v0.0.1"),
        ),
        (
            vec![
                bundle("anakin.v0.0.1", "", &[]),
                bundle("anakin.v0.0.2", "anakin.v0.0.1", &[]),
                bundle("anakin.v0.0.3", "anakin.v0.0.2", &["anakin.v0.0.2"]),
            ],
            Some("channel contains one or more stranded bundles: anakin.v0.0.1"),
        ),
    ];
    for (bundles, expected) in cases {
        let channel = channel(bundles);
        let result = channel.validate_replaces_chain().map_err(|error| error.to_string());
        assert_eq!(result, expected.map_or(Ok(()), |text| Err(text.to_string())));
    }
}

// Spec H: the chain stops at a skipped or missing name; the tail may
// replace a bundle that is not in the channel; skipRange makes no edge.
#[test]
fn replaces_chain_walk_and_skip_range() {
    let chain_channel = channel(vec![
        bundle("a.v3", "a.v2", &[]),
        bundle("a.v2", "a.v1", &[]),
        bundle("a.v1", "a.v0-not-here", &[]),
    ]);
    let names: Vec<&str> = chain_channel
        .replaces_chain()
        .unwrap()
        .iter()
        .map(|bundle| bundle.name.as_str())
        .collect();
    assert_eq!(names, ["a.v3", "a.v2", "a.v1"]);
    assert_eq!(chain_channel.validate_replaces_chain(), Ok(()));

    let skipping = channel(vec![
        bundle("a.v3", "a.v2", &["a.v2"]),
        bundle("a.v2", "a.v1", &[]),
        bundle("a.v1", "", &[]),
    ]);
    let names: Vec<&str> = skipping
        .replaces_chain()
        .unwrap()
        .iter()
        .map(|bundle| bundle.name.as_str())
        .collect();
    assert_eq!(names, ["a.v3"]);

    // Trap 9: an entry only covered by a skipRange is a second head.
    let mut head = bundle("a.v2", "", &[]);
    head.skip_range = "<2.0.0".to_string();
    let range_only = channel(vec![head, bundle("a.v1", "", &[])]);
    assert_eq!(
        range_only.head().unwrap_err().to_string(),
        "multiple channel heads found in graph: a.v1, a.v2"
    );
}

// TestValidators: the package and bundle checks, with opm's texts.
#[test]
fn validators_report_opm_messages() {
    let mut duplicated = channel(vec![
        bundle("anakin.v0.0.1", "", &[]),
        bundle("anakin.v0.0.2", "anakin.v0.0.1", &[]),
        bundle("anakin.v1.0.1", "anakin.v0.0.2", &[]),
        bundle("anakin.v1.0.2", "anakin.v1.0.1", &[]),
    ]);
    for (name, version) in [
        ("anakin.v0.0.1", "0.0.1"),
        ("anakin.v0.0.2", "0.0.1"),
        ("anakin.v1.0.1", "1.0.1"),
        ("anakin.v1.0.2", "1.0.1"),
    ] {
        duplicated.bundles.get_mut(name).unwrap().version = Version::parse(version).unwrap();
    }
    let package = Package {
        name: "anakin".to_string(),
        default_channel: Some("light".to_string()),
        channels: [("light".to_string(), duplicated)].into_iter().collect(),
        ..Package::default()
    };
    let issues = package.validate().unwrap();
    assert_eq!(
        issues.issues().iter().map(|issue| issue.to_string()).collect::<Vec<_>>(),
        ["duplicate versions found in bundles: [{0.0.1: [anakin.v0.0.1, anakin.v0.0.2]} {1.0.1: [anakin.v1.0.1, anakin.v1.0.2]}]"]
    );

    let mut release_bundle = bundle("anakin.v0.0.1.alpha1", "", &[]);
    release_bundle.version = Version::parse("0.0.1").unwrap();
    release_bundle.release = vec![PreRelease::Alpha("alpha1".to_string())];
    let tree = release_bundle.validate("anakin").unwrap();
    assert_eq!(
        tree.render(),
        "invalid bundle \"anakin.v0.0.1.alpha1\":\n└── name \"anakin.v0.0.1.alpha1\" does not match normalized name \"anakin-v0.0.1-alpha1\""
    );

    let mut bad = bundle("anakin.v0.0.0", "", &["", "x"]);
    bad.image = String::new();
    bad.skip_range = ">v0.1.0".to_string();
    bad.properties = vec![fbc::Property {
        type_: "broken".to_string(),
        value: "{".to_string(),
    }]
    .into();
    bad.package = "other".to_string();
    bad.deprecation = Some(Deprecation::default());
    let messages: Vec<String> = bad
        .validate("anakin")
        .unwrap()
        .issues()
        .iter()
        .map(|issue| issue.to_string())
        .collect();
    assert_eq!(
        messages,
        [
            "package does not match channel's package",
            r#"parse property[0] of type "broken": unexpected end of JSON input"#,
            "skip[0] is empty",
            r#"invalid skipRange ">v0.1.0": Could not parse Range ">v0.1.0": Could not parse comparator ">v" in ">v0.1.0""#,
            "bundle image must be set",
            "invalid deprecation: message must be set",
        ]
    );

    let mut with_data = bundle("anakin.v0.0.0", "", &[]);
    with_data.image = String::new();
    with_data.objects = vec!["{}".to_string()].into();
    std::sync::Arc::make_mut(&mut with_data.properties).push(package_property("anakin", "0.0.1"));
    let messages: Vec<String> = with_data
        .validate("anakin")
        .unwrap()
        .issues()
        .iter()
        .map(|issue| issue.to_string())
        .collect();
    assert_eq!(messages, [r#"must be exactly one property with type "olm.package""#]);
}

#[test]
fn package_checks_and_links() {
    let mut stray = channel(vec![bundle("anakin.v0.0.1", "", &[])]);
    stray.package = "vader".to_string();
    stray.bundles.get_mut("anakin.v0.0.1").unwrap().channel = "dark".to_string();
    let package = Package {
        name: "anakin".to_string(),
        default_channel: Some("not-found".to_string()),
        channels: [("light".to_string(), stray)].into_iter().collect(),
        ..Package::default()
    };
    let model = Model {
        packages: [("anakin".to_string(), package)].into_iter().collect(),
    };
    assert_eq!(
        model.validate().unwrap_err().to_string(),
        "invalid index:\n\
         └── invalid package \"anakin\":\n    \
             ├── invalid channel \"light\":\n    \
             │   ├── invalid bundle \"anakin.v0.0.1\":\n    \
             │   │   └── package does not match channel's package\n    \
             │   └── bundle \"anakin.v0.0.1\" not correctly linked to parent channel\n    \
             ├── channel \"light\" not correctly linked to parent package\n    \
             └── default channel \"not-found\" not found in channels list"
    );
    let empty = Package {
        name: String::new(),
        ..Package::default()
    };
    let messages: Vec<String> = empty.validate().unwrap().issues().iter().map(|issue| issue.to_string()).collect();
    assert_eq!(
        messages,
        [
            "package name must not be empty",
            "default channel must be set",
            "package must contain at least one channel"
        ]
    );
}

// The tree layout of opm's error.go (TestValidationError_Error shapes),
// with the example the spec took from a real opm run.
#[test]
fn renders_opm_tree() {
    let stable = ErrorTree {
        scope: Scope::Channel("stable".to_string()),
        children: vec![
            ErrorChild::Issue(Issue::ReplacesChain(ReplacesChainError::MultipleHeads {
                heads: vec!["foo.v0.0.1".to_string(), "foo.v0.2.0".to_string()],
            })),
            ErrorChild::Tree(ErrorTree {
                scope: Scope::Bundle("foo.v0.0.1".to_string()),
                children: vec![ErrorChild::Issue(Issue::EmptySkip { index: 0 })],
            }),
        ],
    };
    let beta = ErrorTree {
        scope: Scope::Channel("beta".to_string()),
        children: vec![ErrorChild::Issue(Issue::ReplacesChain(ReplacesChainError::MultipleHeads {
            heads: vec!["foo.v0.0.1".to_string(), "foo.v0.1.0".to_string()],
        }))],
    };
    let tree = ErrorTree {
        scope: Scope::Index,
        children: vec![ErrorChild::Tree(ErrorTree {
            scope: Scope::Package("foo".to_string()),
            children: vec![ErrorChild::Tree(stable), ErrorChild::Tree(beta)],
        })],
    };
    let expected = r#"invalid index:
└── invalid package "foo":
    ├── invalid channel "stable":
    │   ├── multiple channel heads found in graph: foo.v0.0.1, foo.v0.2.0
    │   └── invalid bundle "foo.v0.0.1":
    │       └── skip[0] is empty
    └── invalid channel "beta":
        └── multiple channel heads found in graph: foo.v0.0.1, foo.v0.1.0"#;
    assert_eq!(tree.render(), expected);
    assert_eq!(ErrorTree::new(Scope::Index).render(), "invalid index");
}

fn load(text: &str) -> DeclarativeConfig {
    fbc::load::load_text(text, Path::new("test.json")).unwrap()
}

const FOO_PACKAGE: &str = r#"{"schema":"olm.package","name":"foo","defaultChannel":"alpha"}"#;

fn foo_bundle(version: &str, image: &str) -> String {
    format!(
        r#"{{"schema":"olm.bundle","name":"foo.v{version}","package":"foo","image":"{image}","properties":[{{"type":"olm.package","value":{{"packageName":"foo","version":"{version}"}}}}]}}"#
    )
}

fn convert_error(text: &str) -> String {
    convert_to_model(&load(text)).unwrap_err().to_string()
}

// declcfg_to_model_test.go cases not in the conformance suite.
#[test]
fn convert_to_model_errors() {
    let channel = r#"{"schema":"olm.channel","name":"alpha","package":"foo","entries":[{"name":"foo.v0.1.0"}]}"#;
    let bad_properties = r#"{"schema":"olm.bundle","name":"foo.v0.1.0","package":"foo","image":"x","properties":[{"type":"olm.package","value":{"packageName":"foo","version":"0.1.0"}},{"type":"olm.gvk","value":{}},{"type":"olm.foo","value":{}}]}"#;
    let mut config = load(&format!("{FOO_PACKAGE}{channel}{bad_properties}"));
    config.bundles[0].properties[2].value = "{".to_string();
    assert_eq!(
        convert_to_model(&config).unwrap_err().to_string(),
        r#"parse properties for bundle "foo.v0.1.0": parse property[2] of type "olm.foo": unexpected end of JSON input"#
    );

    let md5 = foo_bundle(
        "0.1.0",
        "quay.io/operator-framework/foo-bundle@md5:abcd1234abcd1234abcd1234abcd1234",
    );
    assert_eq!(
        convert_error(&format!("{FOO_PACKAGE}{channel}{md5}")),
        r#"package "foo" bundle "foo.v0.1.0" image: invalid image pull spec "quay.io/operator-framework/foo-bundle@md5:abcd1234abcd1234abcd1234abcd1234": unsupported digest algorithm"#
    );
    let ssha = foo_bundle(
        "0.1.0",
        "quay.io/operator-framework/foo-bundle@ssha256:abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234",
    );
    assert!(convert_error(&format!("{FOO_PACKAGE}{channel}{ssha}")).ends_with(": unsupported digest algorithm"));

    let mut related = load(&format!("{FOO_PACKAGE}{channel}{}", foo_bundle("0.1.0", "foo-bundle:v0.1.0")));
    related.bundles[0].related_images = vec![
        fbc::RelatedImage {
            name: "bundle".to_string(),
            image: "foo-bundle:v0.1.0".to_string(),
        },
        fbc::RelatedImage {
            name: "operator".to_string(),
            image: "quay.io/x/My-Operator:v1".to_string(),
        },
    ];
    assert_eq!(
        convert_to_model(&related).unwrap_err().to_string(),
        r#"package "foo" bundle "foo.v0.1.0" relatedImages[1].image: invalid image pull spec "quay.io/x/My-Operator:v1": invalid reference format: repository name must be lowercase"#
    );

    let long_name = "a".repeat(64);
    assert_eq!(
        convert_error(&format!(r#"{{"schema":"olm.package","name":"{long_name}.B"}}"#)),
        format!(
            "invalid package name \"{long_name}.B\": [must be no more than 63 characters a lowercase RFC 1123 label must consist of lower case \
             alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc', regex used \
             for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')]"
        )
    );

    assert_eq!(
        parse_release("1.2.3.4.5.6.7.8.9.10.11").unwrap_err(),
        r#"invalid release "1.2.3.4.5.6.7.8.9.10.11": exceeds maximum length of 20 characters"#
    );
    assert_eq!(
        parse_release("01.a!").unwrap_err(),
        "invalid release \"01.a!\": segment 0: Numeric PreRelease version must not contain leading zeroes \"01\"\nsegment 1: Invalid character(s) found in prerelease \"a!\""
    );
}

// opm replaces `channelDefinedEntries[pkg]` per channel: only the last
// channel's orphaned entries are reported (declcfg_to_model.go).
#[test]
fn only_last_channel_entries_are_checked_for_bundles() {
    let alpha = r#"{"schema":"olm.channel","name":"alpha","package":"foo","entries":[{"name":"foo.v0.1.0"},{"name":"foo.v9.9.9"}]}"#;
    let beta = r#"{"schema":"olm.channel","name":"beta","package":"foo","entries":[{"name":"foo.v0.1.0"}]}"#;
    let text = format!("{FOO_PACKAGE}{alpha}{beta}{}", foo_bundle("0.1.0", "foo-bundle:v0.1.0"));
    // The orphan of `alpha` slips through to model validation, where the
    // entry without data has no image and is a second head.
    let error = convert_error(&text);
    assert!(
        error.starts_with("invalid index:\n└── invalid package \"foo\":\n    └── invalid channel \"alpha\":\n"),
        "{error}"
    );
    assert!(error.contains("└── invalid bundle \"foo.v9.9.9\":\n"), "{error}");

    let text = format!("{FOO_PACKAGE}{beta}{alpha}{}", foo_bundle("0.1.0", "foo-bundle:v0.1.0"));
    assert_eq!(
        convert_error(&text),
        "no olm.bundle blobs found in package \"foo\" for olm.channel entries [foo.v9.9.9]"
    );
}

#[test]
fn converts_deprecations_and_bundle_data() {
    let channels = r#"{"schema":"olm.channel","name":"alpha","package":"foo","entries":[{"name":"foo.v0.1.0"},{"name":"foo.v0.2.0","replaces":"foo.v0.1.0","skipRange":"<0.2.0"}]}
{"schema":"olm.channel","name":"beta","package":"foo","entries":[{"name":"foo.v0.2.0"}]}"#;
    let deprecation = r#"{"schema":"olm.deprecations","package":"foo","entries":[{"reference":{"schema":"olm.package"},"message":"gone"},{"reference":{"schema":"olm.channel","name":"beta"},"message":"no beta"},{"reference":{"schema":"olm.bundle","name":"foo.v0.2.0"},"message":"bad"}]}"#;
    let object = r#"{"type":"olm.bundle.object","value":{"data":"eyJraW5kIjoiQ2x1c3RlclNlcnZpY2VWZXJzaW9uIiwiYXBpVmVyc2lvbiI6InYxIiwibWV0YWRhdGEiOnsiYW5ub3RhdGlvbnMiOnsiZCI6ImE8YiJ9fX0="}}"#;
    let with_object = format!(
        r#"{{"schema":"olm.bundle","name":"foo.v0.1.0","package":"foo","image":"","properties":[{object},{{"type":"olm.package","value":{{"packageName":"foo","version":"0.1.0"}}}}]}}"#
    );
    let text = format!(
        "{FOO_PACKAGE}{channels}{with_object}{}{deprecation}",
        foo_bundle("0.2.0", "foo-bundle:v0.2.0")
    );
    let model = convert_to_model(&load(&text)).unwrap();
    let package = &model.packages["foo"];
    assert_eq!(
        package.deprecation,
        Some(Deprecation {
            message: "gone".to_string()
        })
    );
    assert_eq!(
        package.channels["beta"].deprecation,
        Some(Deprecation {
            message: "no beta".to_string()
        })
    );
    assert_eq!(
        package.channels["alpha"].bundles["foo.v0.2.0"].deprecation,
        Some(Deprecation {
            message: "bad".to_string()
        })
    );
    assert_eq!(
        package.channels["beta"].bundles["foo.v0.2.0"].deprecation,
        Some(Deprecation {
            message: "bad".to_string()
        })
    );
    let data_bundle = &package.channels["alpha"].bundles["foo.v0.1.0"];
    assert_eq!(
        data_bundle.csv_json(),
        r#"{"apiVersion":"v1","kind":"ClusterServiceVersion","metadata":{"annotations":{"d":"a\u003cb"}}}"#
    );
    assert_eq!(package.channels["alpha"].head().unwrap().name, "foo.v0.2.0");
    let by_version: Vec<&str> = package.bundles_by_version().iter().map(|bundle| bundle.name.as_str()).collect();
    assert_eq!(by_version, ["foo.v0.1.0", "foo.v0.2.0"]);

    let bad_schema =
        r#"{"schema":"olm.deprecations","package":"foo","entries":[{"reference":{"schema":"olm.package","name":"foo"},"message":"x"}]}"#;
    let text = format!(
        "{FOO_PACKAGE}{channels}{with_object}{}{bad_schema}",
        foo_bundle("0.2.0", "foo-bundle:v0.2.0")
    );
    assert_eq!(
        convert_error(&text),
        r#"package name must be empty for deprecated package "foo" (specified "foo")"#
    );
    let no_schema = r#"{"schema":"olm.deprecations","package":"foo","entries":[{"reference":{"name":"beta"},"message":"x"}]}"#;
    let text = format!(
        "{FOO_PACKAGE}{channels}{with_object}{}{no_schema}",
        foo_bundle("0.2.0", "foo-bundle:v0.2.0")
    );
    assert_eq!(
        convert_error(&text),
        r#"schema must be set for deprecation entry [0] for package "foo""#
    );
    let no_channel =
        r#"{"schema":"olm.deprecations","package":"foo","entries":[{"reference":{"schema":"olm.channel","name":"gamma"},"message":"x"}]}"#;
    let text = format!(
        "{FOO_PACKAGE}{channels}{with_object}{}{no_channel}",
        foo_bundle("0.2.0", "foo-bundle:v0.2.0")
    );
    assert_eq!(
        convert_error(&text),
        r#"cannot deprecate channel "gamma" for package "foo": channel not found"#
    );
}

#[test]
fn bundles_sort_by_version_then_release() {
    let mut plain = bundle("b", "", &[]);
    plain.version = Version::parse("1.0.0").unwrap();
    let mut released = bundle("a", "", &[]);
    released.version = Version::parse("1.0.0").unwrap();
    released.release = vec![PreRelease::Numeric(2)];
    let mut older = bundle("c", "", &[]);
    older.version = Version::parse("0.9.0").unwrap();
    let channel = channel(vec![plain, released, older]);
    let names: Vec<&str> = channel.bundles_by_version().iter().map(|bundle| bundle.name.as_str()).collect();
    assert_eq!(names, ["c", "b", "a"]);
    assert_eq!(channel.bundles["a"].version_string(), "1.0.0-2");
}

// ConvertFromModel: entries sorted by name, one bundle per name with the
// properties of its channel copies deduplicated and sorted, no
// deprecations, channel properties kept.
#[test]
fn convert_from_model_sorts_and_deduplicates() {
    let channels = r#"{"schema":"olm.channel","name":"beta","package":"foo","entries":[{"name":"foo.v0.2.0"}],"properties":[{"type":"x","value":1}]}
{"schema":"olm.channel","name":"alpha","package":"foo","entries":[{"name":"foo.v0.2.0","replaces":"foo.v0.1.0"},{"name":"foo.v0.1.0"}]}"#;
    let with_gvk = r#"{"schema":"olm.bundle","name":"foo.v0.2.0","package":"foo","image":"foo-bundle:v0.2.0","properties":[{"type":"olm.package","value":{"packageName":"foo","version":"0.2.0"}},{"type":"olm.gvk","value":{"group":"g","kind":"K","version":"v1"}},{"type":"olm.gvk","value":{"group":"g","kind":"K","version":"v1"}}],"relatedImages":[{"name":"","image":"foo-bundle:v0.2.0"}]}"#;
    let deprecation =
        r#"{"schema":"olm.deprecations","package":"foo","entries":[{"reference":{"schema":"olm.package"},"message":"gone"}]}"#;
    let text = format!(
        "{FOO_PACKAGE}{channels}{}{with_gvk}{deprecation}",
        foo_bundle("0.1.0", "foo-bundle:v0.1.0")
    );
    let model = convert_to_model(&load(&text)).unwrap();
    let config = convert_from_model(&model);
    assert!(config.deprecations.is_empty());
    assert_eq!(config.packages.len(), 1);
    assert_eq!(config.packages[0].default_channel, "alpha");
    let channel_names: Vec<&str> = config.channels.iter().map(|channel| channel.name.as_str()).collect();
    assert_eq!(channel_names, ["alpha", "beta"]);
    let alpha_entries: Vec<&str> = config.channels[0]
        .entries
        .iter()
        .flatten()
        .map(|entry| entry.name.as_str())
        .collect();
    assert_eq!(alpha_entries, ["foo.v0.1.0", "foo.v0.2.0"]);
    assert_eq!(
        config.channels[1].properties,
        [fbc::Property {
            type_: "x".to_string(),
            value: "1".to_string()
        }]
    );
    let bundle_names: Vec<&str> = config.bundles.iter().map(|bundle| bundle.name.as_str()).collect();
    assert_eq!(bundle_names, ["foo.v0.1.0", "foo.v0.2.0"]);
    let types: Vec<&str> = config.bundles[1]
        .properties
        .iter()
        .map(|property| property.type_.as_str())
        .collect();
    assert_eq!(types, ["olm.gvk", "olm.package"]);
    assert_eq!(
        config.bundles[1].related_images,
        [fbc::RelatedImage {
            name: String::new(),
            image: "foo-bundle:v0.2.0".to_string()
        }]
    );
    // And back: the round trip gives the same model minus deprecations.
    let again = convert_to_model(&config).unwrap();
    assert_eq!(
        again.packages["foo"].channels["alpha"].bundles,
        model.packages["foo"].channels["alpha"]
            .bundles
            .iter()
            .map(|(name, bundle)| {
                let mut bundle = bundle.clone();
                bundle.deprecation = None;
                bundle.properties = deduplicate(&bundle.properties).into();
                (name.clone(), bundle)
            })
            .collect()
    );
}

fn deduplicate(properties: &[fbc::Property]) -> Vec<fbc::Property> {
    let mut out: Vec<fbc::Property> = Vec::new();
    for property in properties {
        if !out.contains(property) {
            out.push(property.clone());
        }
    }
    out.sort_by(|left, right| (&left.type_, &left.value).cmp(&(&right.type_, &right.value)));
    out
}

// A Go string holds any bytes; catbuild's objects are Rust strings, so a
// byte that starts no UTF-8 sequence becomes U+FFFD (what Go's JSON
// encoder prints for it), and valid objects are kept as decoded.
#[test]
fn bundle_objects_keep_their_text_and_replace_bad_bytes() {
    let channel = r#"{"schema":"olm.channel","name":"alpha","package":"foo","entries":[{"name":"foo.v0.1.0"}]}"#;
    // base64 of `{"kind":"ConfigMap"}` and of the bytes 7b ff 7d.
    let bundle = r#"{"schema":"olm.bundle","name":"foo.v0.1.0","package":"foo","image":"foo-bundle:v0.1.0","properties":[{"type":"olm.bundle.object","value":{"data":"eyJraW5kIjoiQ29uZmlnTWFwIn0="}},{"type":"olm.bundle.object","value":{"data":"e/99"}},{"type":"olm.package","value":{"packageName":"foo","version":"0.1.0"}}]}"#;
    let model = convert_to_model(&load(&format!("{FOO_PACKAGE}{channel}{bundle}"))).unwrap();
    let objects = &model.packages["foo"].channels["alpha"].bundles["foo.v0.1.0"].objects;
    assert_eq!(objects.as_slice(), [r#"{"kind":"ConfigMap"}"#, "{\u{fffd}}"]);
}

// Validation only checks objects: each is counted, none kept, and a bad
// one is refused with the same error as when they are decoded (here a
// line break, which the quick check leaves to Go's decoder, and a short
// quantum, which that decoder refuses at byte 4).
#[test]
fn checked_objects_are_counted_not_kept_and_refused_alike() {
    let channel = r#"{"schema":"olm.channel","name":"alpha","package":"foo","entries":[{"name":"foo.v0.1.0"}]}"#;
    let bundle = |data: &str| {
        format!(
            r#"{{"schema":"olm.bundle","name":"foo.v0.1.0","package":"foo","image":"","properties":[{{"type":"olm.bundle.object","value":{{"data":"eyJraW5kIjoiQ29uZmlnTWFwIn0="}}}},{{"type":"olm.bundle.object","value":{{"data":"{data}"}}}},{{"type":"olm.package","value":{{"packageName":"foo","version":"0.1.0"}}}}]}}"#
        )
    };
    let config = load(&format!("{FOO_PACKAGE}{channel}{}", bundle("e/\\n99")));
    let model = convert_to_model_with(&config, property::Objects::Checked).unwrap();
    let objects = &model.packages["foo"].channels["alpha"].bundles["foo.v0.1.0"].objects;
    assert_eq!(objects.as_slice(), ["", ""]);
    let bad = load(&format!("{FOO_PACKAGE}{channel}{}", bundle("e/99x")));
    let checked = convert_to_model_with(&bad, property::Objects::Checked).unwrap_err().to_string();
    assert!(checked.contains("illegal base64 data at input byte 4"), "{checked}");
    assert_eq!(checked, convert_to_model(&bad).unwrap_err().to_string());
}

// opm's Normalize step compacts property values without touching strings.
#[test]
fn converted_property_values_are_compacted() {
    let channel = r#"{"schema":"olm.channel","name":"alpha","package":"foo","entries":[{"name":"foo.v0.1.0"}]}"#;
    let mut config = load(&format!("{FOO_PACKAGE}{channel}{}", foo_bundle("0.1.0", "foo-bundle:v0.1.0")));
    config.bundles[0].properties.push(fbc::Property {
        type_: "custom".to_string(),
        value: "{ \"a b\" : [ 1, \"\\u003c \\\" x\" ] }".to_string(),
    });
    let model = convert_to_model(&config).unwrap();
    let properties = &model.packages["foo"].channels["alpha"].bundles["foo.v0.1.0"].properties;
    assert_eq!(properties[1].value, r#"{"a b":[1,"\u003c \" x"]}"#);
}

// k8s IsDNS1123Label, as ConvertToModel reports it.
#[test]
fn dns1123_label_messages() {
    let regex_message = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end \
                         with an alphanumeric character (e.g. 'my-name' or '123-abc', regex used for validation is \
                         '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    assert!(dns1123_label_errors("etcd-operator").is_empty());
    assert!(dns1123_label_errors("0a").is_empty());
    assert_eq!(dns1123_label_errors("foo.bar"), ["must not contain dots"]);
    assert_eq!(dns1123_label_errors("Foo"), [regex_message]);
    assert_eq!(dns1123_label_errors("-foo"), [regex_message]);
    assert_eq!(dns1123_label_errors("foo_bar"), [regex_message]);
    assert_eq!(dns1123_label_errors(&"a".repeat(64)), ["must be no more than 63 characters"]);
    assert_eq!(dns1123_label_errors(""), [regex_message]);
}
