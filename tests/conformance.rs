//! Conformance runner: every case folder under `../shared/conformance/<suite>/`
//! becomes one named test (libtest-mimic), so adding a case is adding a
//! folder. A case runs the real `catbuild` binary with the case's `args`
//! in the case directory and compares exit code, stdout bytes and stderr
//! fragments with what opm produced (see the suite README for the format).
//!
//! `[images]` tables map image references to bundle directories; here
//! `--local-image REF=DIR` renders the directory exactly as the image built
//! from it would be rendered (`tests/pull.rs` runs the same cases against
//! the images themselves, pushed to a real registry and pulled).

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};

/// The suites run here; the SQLite suites have their own runners
/// (`tests/sqlite.rs`, `tests/sqlite_read.rs`, `tests/add_modes.rs`).
const SUITES: &[&str] = &[
    "dockerfiles",
    "render-bundle",
    "render-fbc-and-migrate",
    "write-format",
    "validate-fbc",
    "basic-template",
    "semver-template",
    "sqlite-migrate",
];

fn conformance_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance")
}

fn main() {
    let args = Arguments::from_args();
    let root = conformance_root();
    let mut trials = Vec::new();
    for suite in SUITES {
        let suite_dir = root.join(suite);
        let mut cases: Vec<PathBuf> = match std::fs::read_dir(&suite_dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.join("case.toml").is_file())
                .collect(),
            Err(error) => panic!("cannot read {}: {error} (is ../shared beside the repo?)", suite_dir.display()),
        };
        cases.sort();
        for case_dir in cases {
            let name = format!("{suite}/{}", case_dir.file_name().unwrap_or_default().to_string_lossy());
            let case = Case::read(&case_dir);
            if suite == &"render-fbc-and-migrate" && !case.args.iter().any(|arg| arg == "render") {
                // Only the FBC render cases belong to this issue.
                continue;
            }
            let kind = case.kind.clone();
            trials.push(Trial::test(name, move || case.run()).with_kind(kind));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

#[derive(Clone)]
struct Case {
    dir: PathBuf,
    kind: String,
    args: Vec<String>,
    exit: i32,
    stdout: Option<String>,
    stderr_contains: Vec<String>,
    json_stdout: Option<String>,
    output_file: Option<String>,
    /// sqlite-migrate: the `-o json` variant of the same render.
    render_json: Option<String>,
    /// sqlite-migrate: the tree `opm migrate DB OUT -o json` writes.
    migrate_dir: Option<String>,
    images: Vec<(String, String)>,
}

impl Case {
    fn read(dir: &Path) -> Case {
        let text = std::fs::read_to_string(dir.join("case.toml")).expect("case.toml readable");
        let table: toml::Table = toml::from_str(&text).expect("case.toml parses");
        let string = |key: &str| table.get(key).and_then(|value| value.as_str()).map(str::to_string);
        let strings = |key: &str| -> Vec<String> {
            table
                .get(key)
                .and_then(|value| value.as_array())
                .map(|items| items.iter().filter_map(|item| item.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        };
        let images = table
            .get("images")
            .and_then(|value| value.as_table())
            .map(|images| {
                images
                    .iter()
                    .filter_map(|(image, dir)| dir.as_str().map(|dir| (image.clone(), dir.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Case {
            dir: dir.to_path_buf(),
            kind: string("kind").unwrap_or_default(),
            args: strings("args"),
            exit: table.get("exit").and_then(|value| value.as_integer()).unwrap_or(0) as i32,
            stdout: string("stdout"),
            stderr_contains: strings("stderr_contains"),
            json_stdout: string("json_stdout"),
            output_file: string("output_file"),
            render_json: string("render_json"),
            migrate_dir: string("migrate_dir"),
            images,
        }
    }

    fn run(&self) -> Result<(), Failed> {
        if self.args.is_empty() && self.dir.join("input/params.toml").is_file() {
            return self.run_dockerfile_case();
        }
        if self.args.is_empty() {
            return self.run_writer_case();
        }
        let mut args = self.args.clone();
        for (image, dir) in &self.images {
            args.push("--local-image".to_string());
            args.push(format!("{image}={dir}"));
        }
        let output = run_catbuild(&self.dir, &args)?;
        let mut problems = Vec::new();
        if output.code != self.exit {
            problems.push(format!("exit code {} (expected {})", output.code, self.exit));
        }
        if let Some(expected_path) = &self.stdout {
            let expected = read_expected(&self.dir.join(expected_path))?;
            if output.stdout != expected {
                problems.push(format!(
                    "stdout differs from {expected_path}:\n{}",
                    first_difference(&expected, &output.stdout)
                ));
            }
        }
        for fragment in &self.stderr_contains {
            if !contains_tree(&output.stderr, fragment) {
                problems.push(format!("stderr lacks {fragment:?}"));
            }
        }
        if let Some(json_path) = &self.json_stdout {
            let mut json_args = args.clone();
            json_args.extend(["-o".to_string(), "json".to_string()]);
            let json_output = run_catbuild(&self.dir, &json_args)?;
            let expected = read_expected(&self.dir.join(json_path))?;
            if !same_validate_json(&json_output.stdout, &expected) {
                problems.push(format!(
                    "`-o json` stdout differs from {json_path}:\n{}",
                    first_difference(&expected, &json_output.stdout)
                ));
            }
            if json_output.code != self.exit {
                problems.push(format!("`-o json` exit code {} (expected {})", json_output.code, self.exit));
            }
        }
        if let Some(json_path) = &self.render_json {
            let json_args: Vec<String> = args
                .iter()
                .map(|arg| if arg == "yaml" { "json".to_string() } else { arg.clone() })
                .collect();
            let json_output = run_catbuild(&self.dir, &json_args)?;
            let expected = read_expected(&self.dir.join(json_path))?;
            if json_output.stdout != expected {
                problems.push(format!(
                    "`-o json` stdout differs from {json_path}:\n{}",
                    first_difference(&expected, &json_output.stdout)
                ));
            }
        }
        if let Some(migrate_path) = &self.migrate_dir {
            problems.extend(self.check_migrate(migrate_path)?);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{}\nstderr was:\n{}", problems.join("\n"), output.stderr).into())
        }
    }

    /// `catbuild migrate DB OUT -o json` (DB: the case's render argument)
    /// must write exactly the files of `expected/migrate/`.
    fn check_migrate(&self, migrate_path: &str) -> Result<Vec<String>, Failed> {
        let db = self.args.get(1).ok_or("a migrate case renders one index")?;
        let out = tempfile::tempdir().map_err(|error| error.to_string())?;
        let out_dir = out.path().join("migrated");
        let args = [
            "migrate".to_string(),
            db.clone(),
            out_dir.display().to_string(),
            "-o".to_string(),
            "json".to_string(),
        ];
        let output = run_catbuild(&self.dir, &args)?;
        if output.code != 0 {
            return Ok(vec![format!("migrate exited {}: {}", output.code, output.stderr)]);
        }
        let expected = files_under(&self.dir.join(migrate_path));
        let written = files_under(&out_dir);
        let mut problems = Vec::new();
        let names = |files: &[(String, String)]| files.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>();
        if names(&expected) != names(&written) {
            problems.push(format!("migrate wrote {:?}, expected {:?}", names(&written), names(&expected)));
        }
        for ((name, want), (_, have)) in expected.iter().zip(&written) {
            if want != have {
                problems.push(format!("migrate: {name} differs:\n{}", first_difference(want, have)));
            }
        }
        Ok(problems)
    }

    /// `args = []` cases of write-format: load `input/catalog` and write it
    /// with the plain writer (no render post-processing).
    fn run_writer_case(&self) -> Result<(), Failed> {
        let Some(output_file) = &self.output_file else {
            return Err("case has neither args nor output_file".into());
        };
        let format = if output_file.ends_with(".yaml") {
            catbuild::fbc::write::Format::Yaml
        } else {
            catbuild::fbc::write::Format::Json
        };
        let config = catbuild::fbc::load::load_dir(&self.dir.join("input/catalog")).map_err(|error| format!("load: {error}"))?;
        let written = catbuild::fbc::write::write(&config, format).map_err(|error| format!("write: {error}"))?;
        let expected = read_expected(&self.dir.join(output_file))?;
        if written == expected {
            Ok(())
        } else {
            Err(first_difference(&expected, &written).into())
        }
    }
}

impl Case {
    /// `args = []` cases of dockerfiles: `input/params.toml` holds what
    /// catbuild's config or flags would carry; which Dockerfile it is
    /// follows from its keys.
    fn run_dockerfile_case(&self) -> Result<(), Failed> {
        use catbuild::dockerfile;
        let text = read_expected(&self.dir.join("input/params.toml"))?;
        let params: toml::Table = toml::from_str(&text).map_err(|error| format!("params.toml: {error}"))?;
        let get = |key: &str| params.get(key).and_then(|value| value.as_str()).unwrap_or_default().to_string();
        let mut extra_files = Vec::new();
        let result = if params.contains_key("index_dir") {
            let mut flags: Vec<String> = params
                .get("labels")
                .and_then(|value| value.as_array())
                .map(|items| items.iter().filter_map(|item| item.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            for (key, value) in &params {
                if let (Some(label), Some(value)) = (key.strip_prefix("label."), value.as_str()) {
                    flags.push(format!("{label}={value}"));
                }
            }
            dockerfile::parse_labels(&flags).and_then(|labels| {
                dockerfile::catalog_dockerfile(&dockerfile::CatalogDockerfile {
                    builder_image: get("builder_image"),
                    base_image: get("base_image"),
                    index_dir: get("index_dir"),
                    labels,
                })
            })
        } else if params.contains_key("database_path") {
            Ok(dockerfile::index_dockerfile(&get("binary_image"), &get("database_path")))
        } else if params.contains_key("manifests_dir") {
            Ok(dockerfile::upstream_registry_builder_dockerfile(
                &get("builder_image"),
                &get("manifests_dir"),
            ))
        } else if params.contains_key("directory") {
            // `opm alpha bundle generate -d DIR`: metadata/ beside DIR.
            let directory = get("directory");
            let metadata_dir = match directory.rsplit_once('/') {
                Some((parent, _)) => format!("{parent}/metadata"),
                None => "metadata".to_string(),
            };
            let bundle = dockerfile::BundleDockerfile {
                base_image: get("base_image"),
                media_type: "registry+v1".to_string(),
                manifests: "manifests/".to_string(),
                metadata: "metadata/".to_string(),
                package: get("package"),
                channels: get("channels"),
                default_channel: get("default_channel"),
                copy_manifests_dir: dockerfile::relative_to(&directory, &get("working_dir")),
                copy_metadata_dir: dockerfile::relative_to(&metadata_dir, &get("working_dir")),
            };
            extra_files.push(("expected/metadata/annotations.yaml", dockerfile::bundle_annotations_yaml(&bundle)));
            Ok(dockerfile::bundle_dockerfile(&bundle))
        } else {
            Ok(dockerfile::bundle_dockerfile(&dockerfile::BundleDockerfile {
                base_image: get("base_image"),
                media_type: get("media_type"),
                manifests: get("manifests"),
                metadata: get("metadata"),
                package: get("package"),
                channels: get("channels"),
                default_channel: get("default_channel"),
                copy_manifests_dir: dockerfile::relative_to(&get("copy_manifest_dir"), &get("working_dir")),
                copy_metadata_dir: dockerfile::relative_to(&get("copy_metadata_dir"), &get("working_dir")),
            }))
        };
        match (result, self.exit) {
            (Ok(text), 0) => {
                let Some(output_file) = &self.output_file else {
                    return Err("case has no output_file".into());
                };
                extra_files.push((output_file.as_str(), text));
                for (path, got) in extra_files {
                    let expected = read_expected(&self.dir.join(path))?;
                    if got != expected {
                        return Err(format!("{path}: {}", first_difference(&expected, &got)).into());
                    }
                }
                Ok(())
            }
            (Err(error), 1) => {
                let message = error.to_string();
                match self.stderr_contains.iter().find(|fragment| !message.contains(fragment.as_str())) {
                    Some(fragment) => Err(format!("error {message:?} lacks {fragment:?}").into()),
                    None => Ok(()),
                }
            }
            (Ok(_), exit) => Err(format!("generated a Dockerfile, expected exit {exit}").into()),
            (Err(error), exit) => Err(format!("failed with {error:?}, expected exit {exit}").into()),
        }
    }
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_catbuild(dir: &Path, args: &[String]) -> Result<Output, Failed> {
    let output = Command::new(env!("CARGO_BIN_EXE_catbuild"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .map_err(|error| format!("cannot run catbuild: {error}"))?;
    Ok(Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Every file under `root` as (relative path, text), sorted by path.
fn files_under(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap_or(&path).display().to_string();
                out.push((relative, std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

fn read_expected(path: &Path) -> Result<String, Failed> {
    std::fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()).into())
}

/// opm's validation trees list siblings in Go map order, which is random
/// (trap 12 in I). A fragment matches if it occurs verbatim, or if stderr
/// holds a block with the same lines in another order.
fn contains_tree(stderr: &str, fragment: &str) -> bool {
    if stderr.contains(fragment) {
        return true;
    }
    if !fragment.contains('\n') {
        return false;
    }
    let mut wanted: Vec<&str> = fragment.lines().map(strip_connector).collect();
    wanted.sort_unstable();
    let lines: Vec<&str> = stderr.lines().collect();
    lines.windows(wanted.len()).any(|window| {
        let mut got: Vec<&str> = window.iter().map(|line| strip_connector(line)).collect();
        got.sort_unstable();
        got == wanted
    })
}

/// A tree line without its box-drawing prefix (which depends on order).
fn strip_connector(line: &str) -> &str {
    line.trim_start_matches(['│', '├', '└', '─', ' '])
}

/// `opm validate -o json` output; the error message may list tree siblings
/// in another order, so compare messages as line sets.
fn same_validate_json(got: &str, expected: &str) -> bool {
    if got == expected {
        return true;
    }
    let (Ok(got), Ok(expected)) = (
        serde_json::from_str::<serde_json::Value>(got),
        serde_json::from_str::<serde_json::Value>(expected),
    ) else {
        return false;
    };
    let message = |value: &serde_json::Value| value.pointer("/error/message").and_then(|value| value.as_str()).map(str::to_string);
    match (message(&got), message(&expected)) {
        (Some(got_message), Some(expected_message)) => {
            got.get("passed") == expected.get("passed")
                && contains_tree(&got_message, &expected_message)
                && got_message.lines().count() == expected_message.lines().count()
        }
        _ => false,
    }
}

/// A short description of where two texts first differ.
fn first_difference(expected: &str, got: &str) -> String {
    let expected_lines: Vec<&str> = expected.lines().collect();
    let got_lines: Vec<&str> = got.lines().collect();
    for idx in 0..expected_lines.len().max(got_lines.len()) {
        let want = expected_lines.get(idx);
        let have = got_lines.get(idx);
        if want != have {
            return format!(
                "first difference at line {}:\n  expected: {:?}\n  got:      {:?}",
                idx + 1,
                want.unwrap_or(&"<end>"),
                have.unwrap_or(&"<end>")
            );
        }
    }
    if expected.len() != got.len() {
        "texts differ only in their final newline".to_string()
    } else {
        "texts are identical".to_string()
    }
}
