//! Walks every case of `shared/conformance/validate-fbc`: loads the input
//! with `fbc::load::load_dir`, runs [`validate_config`], and checks the exit
//! status, every `stderr_contains` string, and the message of the
//! `json_stdout` file (the whole Go error text). Where a message is a tree
//! with several siblings, opm's sibling order is random (trap 12), so the
//! lines are compared as sets when the texts differ.
//!
//! All failures are collected and reported together with per-kind counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::encoding::json;
use crate::fbc;

use super::property::Objects;
use super::validate_config;

const SUITE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance/validate-fbc");

#[derive(Debug, Default)]
struct Counts {
    passed: usize,
    failed: usize,
    pending: usize,
}

#[test]
fn validate_fbc_conformance_cases() {
    let mut case_dirs: Vec<PathBuf> = fs_err::read_dir(SUITE_DIR)
        .expect("the shared conformance suite must be present beside the repository, as `../shared`")
        .map(|entry| entry.expect("readable suite dir").path())
        .filter(|path| path.join("case.toml").is_file())
        .collect();
    case_dirs.sort();
    assert!(
        case_dirs.len() >= 43,
        "expected the 43 validate-fbc cases, found {}",
        case_dirs.len()
    );

    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut pending = Vec::new();
    for case_dir in &case_dirs {
        let case_name = case_dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let case: toml::Table = toml::from_str(&fs_err::read_to_string(case_dir.join("case.toml")).expect("case.toml"))
            .unwrap_or_else(|error| panic!("{case_name}: case.toml: {error}"));
        let kind = case.get("kind").and_then(toml::Value::as_str).unwrap_or("?").to_string();
        let entry = counts.entry(kind).or_default();
        match run_case(case_dir, &case) {
            Outcome::Pass => entry.passed += 1,
            Outcome::Pending(reason) => {
                entry.pending += 1;
                pending.push(format!("{case_name}: {reason}"));
            }
            Outcome::Fail(reason) => {
                entry.failed += 1;
                failures.push(format!("{case_name}: {reason}"));
            }
        }
    }
    let summary: Vec<String> = counts
        .iter()
        .map(|(kind, counts)| {
            format!(
                "{kind}: {} passed, {} failed, {} pending",
                counts.passed, counts.failed, counts.pending
            )
        })
        .collect();
    eprintln!("validate-fbc conformance: {}", summary.join("; "));
    for line in &pending {
        eprintln!("pending: {line}");
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n\n"));
}

enum Outcome {
    Pass,
    Pending(String),
    Fail(String),
}

fn run_case(case_dir: &Path, case: &toml::Table) -> Outcome {
    let args: Vec<&str> = case
        .get("args")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_str)
        .collect();
    let [command, input] = args.as_slice() else {
        return Outcome::Fail(format!("unexpected args {args:?}"));
    };
    if *command != "validate" {
        return Outcome::Fail(format!("not a validate case: {args:?}"));
    }
    let input_dir = case_dir.join(input);
    if has_yaml_input(&input_dir) {
        // YAML needs src/encoding/yaml_in.rs, written by another helper.
        if let Err(error) = fbc::load::load_dir(&input_dir) {
            return Outcome::Pending(format!("YAML input not loadable yet: {error}"));
        }
    }
    let config = match fbc::load::load_dir(&input_dir) {
        Ok(config) => config,
        Err(error) => return Outcome::Fail(format!("load failed: {} ({})", error, error.path.display())),
    };
    // Validation keeps objects only checked; a conversion that keeps them
    // decoded must come to the same verdict.
    let result = validate_config(&config, Objects::Checked);
    if result.as_ref().err() != validate_config(&config, Objects::Decoded).as_ref().err() {
        return Outcome::Fail("decoding the bundle objects changed the verdict".to_string());
    }
    let expected_exit = case.get("exit").and_then(toml::Value::as_integer).unwrap_or(0);
    let message = match (&result, expected_exit) {
        (Ok(_), 0) => None,
        (Err(message), 1) => Some(message.clone()),
        (Ok(_), _) => return Outcome::Fail(format!("expected exit {expected_exit}, validation passed")),
        (Err(message), _) => return Outcome::Fail(format!("expected exit {expected_exit}, got error:\n{message}")),
    };
    let wanted: Vec<&str> = case
        .get("stderr_contains")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_str)
        .collect();
    for needle in wanted {
        let text = message.as_deref().unwrap_or_default();
        if !text.contains(needle) && !same_lines(text, needle) {
            return Outcome::Fail(format!("error does not contain\n{needle}\ngot\n{text}"));
        }
    }
    if let Some(json_file) = case.get("json_stdout").and_then(toml::Value::as_str) {
        let expected_text = match fs_err::read_to_string(case_dir.join(json_file)) {
            Ok(text) => text,
            Err(error) => return Outcome::Fail(error.to_string()),
        };
        let expected = match json::parse(&expected_text) {
            Ok(value) => value,
            Err(error) => return Outcome::Fail(format!("{json_file}: {error}")),
        };
        let passed = expected.get("passed") == Some(&json::Value::Bool(true));
        if passed != message.is_none() {
            return Outcome::Fail(format!("{json_file} says passed={passed}"));
        }
        let expected_message = expected.pointer(&["error", "message"]).and_then(json::Value::as_str);
        if let (Some(expected_message), Some(message)) = (expected_message, &message)
            && expected_message != message
            && !same_lines(message, expected_message)
        {
            return Outcome::Fail(format!(
                "message differs from {json_file}:\nexpected\n{expected_message}\ngot\n{message}"
            ));
        }
    }
    Outcome::Pass
}

/// Same lines in any order (tree siblings follow Go map order in opm).
fn same_lines(left: &str, right: &str) -> bool {
    let mut left_lines: Vec<&str> = left.lines().collect();
    let mut right_lines: Vec<&str> = right.lines().collect();
    left_lines.sort_unstable();
    right_lines.sort_unstable();
    left_lines == right_lines
}

fn has_yaml_input(dir: &Path) -> bool {
    let Ok(entries) = fs_err::read_dir(dir) else { return false };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            return has_yaml_input(&path);
        }
        fs_err::read_to_string(&path).is_ok_and(|text| !text.trim_start().starts_with('{'))
    })
}
