//! `catbuild diff`: golden output on hand-made catalogs that cover every
//! kind of change (`tests/data/diff/README.md` lists them), exit codes as
//! `diff` has them, targets of a project as sides, and real corpus
//! catalogs whose one difference the spec defines.

mod common;

use std::path::{Path, PathBuf};

use common::{catbuild, example_project, repo, stderr};

fn data() -> PathBuf {
    repo().join("tests/data/diff")
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn every_kind_of_change_in_text_json_and_markdown() {
    let (old, new) = (data().join("old"), data().join("new"));
    for (args, expected) in [
        (&[][..], "diff.txt"),
        (&["--json"][..], "diff.json"),
        (&["--format", "json"][..], "diff.json"),
        (&["--format", "markdown"][..], "diff.md"),
    ] {
        let mut command = vec!["diff", old.to_str().unwrap(), new.to_str().unwrap()];
        command.extend(args);
        let output = catbuild(&repo(), &command);
        assert_eq!(output.status.code(), Some(1), "catbuild {command:?}: {}", stderr(&output));
        let expected_text = std::fs::read_to_string(data().join("expected").join(expected)).unwrap();
        assert_eq!(stdout(&output), expected_text, "catbuild {command:?}");
    }
}

#[test]
fn reversed_sides_swap_added_and_removed() {
    let output = catbuild(
        &repo(),
        &["diff", data().join("new").to_str().unwrap(), data().join("old").to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("+ package banana:"), "{text}");
    assert!(text.contains("- package durian:"), "{text}");
    assert!(text.contains("default channel: fast -> stable"), "{text}");
    assert!(text.contains("head: apple.v1.3.0 -> apple.v1.2.0"), "{text}");
    assert!(text.contains("- deprecated bundle apple.v1.1.0:"), "{text}");
}

#[test]
fn equal_catalogs_exit_zero_whatever_the_file_layout() {
    // The same catalog split into one file per package, in another order.
    let split = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data().join("old/catalog.yaml")).unwrap();
    let mut documents: Vec<&str> = text.split("\n---\n").skip(1).collect();
    documents.reverse();
    for (index, document) in documents.iter().enumerate() {
        std::fs::write(split.path().join(format!("{index:02}.yaml")), document).unwrap();
    }
    let output = catbuild(
        &repo(),
        &["diff", data().join("old").to_str().unwrap(), split.path().to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert_eq!(stdout(&output), "The catalogs are equal.\n");
    let output = catbuild(
        &repo(),
        &[
            "diff",
            data().join("old").to_str().unwrap(),
            split.path().to_str().unwrap(),
            "--json",
        ],
    );
    assert!(stdout(&output).starts_with("{\n  \"equal\": true,"), "{}", stdout(&output));
}

#[test]
fn unreadable_sides_exit_two_and_say_which() {
    let output = catbuild(&repo(), &["diff", "no-such-catalog", data().join("new").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: `no-such-catalog` is not a file, a directory or a target of catalog.toml\n"
    );
    let broken = tempfile::tempdir().unwrap();
    std::fs::write(broken.path().join("catalog.yaml"), "schema: olm.package\nname: [oops\n").unwrap();
    let output = catbuild(
        &repo(),
        &["diff", data().join("old").to_str().unwrap(), broken.path().to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("error: cannot read the catalog `"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("catalog.yaml"), "{}", stderr(&output));
}

#[test]
fn two_targets_of_a_project_are_compared_as_built() {
    let project = example_project();
    let output = catbuild(project.path(), &["diff", "ocp-4.16", "ocp-4.17"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output)
            .contains("target `ocp-4.16` has no built catalog at `build/ocp-4.16/catalog`: run `catbuild build --target ocp-4.16` first"),
        "{}",
        stderr(&output)
    );
    let output = catbuild(project.path(), &["build"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The example's two targets differ only by migrate level (4.17 carries
    // olm.csv.metadata instead of olm.bundle.object), so every bundle
    // changes in exactly those two property types and nothing else does.
    let output = catbuild(project.path(), &["diff", "ocp-4.16", "ocp-4.17", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_migration_only(&stdout(&output), 3);
}

/// A `--json` diff whose only changes are each bundle trading its
/// `olm.bundle.object` properties for one `olm.csv.metadata`, as
/// `--migrate-level bundle-object-to-csv-metadata` does (spec B, migrate).
fn assert_migration_only(json: &str, bundles: usize) {
    let diff: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(diff["summary"]["changed"], 1, "{json}");
    assert_eq!(diff["summary"]["added"], 0, "{json}");
    assert_eq!(diff["summary"]["removed"], 0, "{json}");
    let package = &diff["packages"][0];
    assert_eq!(package["channels"].as_array().unwrap().len(), 0, "{json}");
    assert_eq!(package["defaultChannel"], serde_json::Value::Null, "{json}");
    let changed = package["bundles"].as_array().unwrap();
    assert_eq!(changed.len(), bundles, "{json}");
    for bundle in changed {
        assert_eq!(bundle["change"], "changed");
        assert_eq!(bundle["image"], serde_json::Value::Null);
        let properties = bundle["properties"].as_array().unwrap();
        assert_eq!(properties.len(), 2, "{bundle}");
        assert_eq!(properties[0]["type"], "olm.bundle.object");
        assert_eq!(properties[0]["added"], 0);
        assert!(properties[0]["removed"].as_u64().unwrap() >= 1);
        assert_eq!(properties[1]["type"], "olm.csv.metadata");
        assert_eq!(properties[1]["added"], 1);
        assert_eq!(properties[1]["removed"], 0);
    }
}

#[test]
fn real_catalogs_published_in_both_flavours_differ_only_by_the_migration() {
    let corpus = repo().join("../shared/corpus/expected");
    let mut compared = 0;
    for entry in std::fs::read_dir(corpus.join("fbc-bundle-object")).unwrap() {
        let old = entry.unwrap().path();
        let name = old.file_name().unwrap().to_owned();
        let new = corpus.join("fbc").join(&name);
        if !new.is_dir() {
            continue;
        }
        let output = catbuild(&repo(), &["diff", old.to_str().unwrap(), new.to_str().unwrap(), "--json"]);
        assert_eq!(output.status.code(), Some(1), "{}: {}", Path::new(&name).display(), stderr(&output));
        let bundles = std::fs::read_to_string(new.join("catalog.json"))
            .or_else(|_| std::fs::read_to_string(new.join("catalog.yaml")))
            .map(|text| text.matches("\"schema\": \"olm.bundle\"").count() + text.matches("schema: olm.bundle\n").count())
            .unwrap();
        assert_migration_only(&stdout(&output), bundles);
        compared += 1;
    }
    assert!(compared >= 3, "only {compared} corpus packages are published in both flavours");
}
