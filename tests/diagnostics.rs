//! Our own error fixtures: each folder of `tests/data/diagnostics/` is a
//! small project (`catalog.toml` and bundles) with a `case.toml` (`args`,
//! `exit`) and `expected.stderr`, the exact text catbuild must print:
//! message, `file:line:col`, caret and `help:`. A test also checks that the
//! failed command wrote nothing. `UPDATE_GOLDEN=1` rewrites the expected
//! files; review the diff before committing it.
//!
//! Optional `case.toml` keys: `cwd` (run in this sub-directory of the case)
//! and `previous-output = true` (lay a previous build in `build/` first and
//! check that the failed command left it as it was).

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/diagnostics");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/data/diagnostics exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("case.toml").is_file())
        .collect();
    cases.sort();
    let trials = cases
        .into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
            Trial::test(name, move || run_case(&dir))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn run_case(dir: &Path) -> Result<(), Failed> {
    let case: toml::Table = toml::from_str(&std::fs::read_to_string(dir.join("case.toml"))?)?;
    let args: Vec<String> = case["args"]
        .as_array()
        .ok_or("args")?
        .iter()
        .filter_map(|arg| arg.as_str().map(str::to_string))
        .collect();
    let exit = case.get("exit").and_then(toml::Value::as_integer).unwrap_or(1) as i32;
    let cwd = match case.get("cwd").and_then(toml::Value::as_str) {
        Some(sub) => dir.join(sub),
        None => dir.to_path_buf(),
    };
    let previous_output = case.get("previous-output").and_then(toml::Value::as_bool).unwrap_or(false);
    let previous_file = dir.join("build/previous/catalog/previous.json");
    if previous_output {
        std::fs::create_dir_all(previous_file.parent().ok_or("parent")?)?;
        std::fs::write(&previous_file, "{\"schema\": \"previous\"}\n")?;
    }
    let output = Command::new(env!("CARGO_BIN_EXE_catbuild"))
        .args(&args)
        .current_dir(&cwd)
        .env("NO_COLOR", "1")
        .output();
    let build_after = previous_output.then(|| (visible_files(&dir.join("build")), std::fs::read_to_string(&previous_file).ok()));
    if previous_output {
        std::fs::remove_dir_all(dir.join("build"))?;
    }
    let output = output?;
    let stderr = String::from_utf8_lossy(&output.stderr).replace(&dir.display().to_string(), "[CASE]");
    let expected_path = dir.join("expected.stderr");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&expected_path, &stderr)?;
    }
    let expected = std::fs::read_to_string(&expected_path).map_err(|error| format!("{}: {error}", expected_path.display()))?;
    let mut problems = Vec::new();
    if output.status.code() != Some(exit) {
        problems.push(format!("exit code {:?}, expected {exit}", output.status.code()));
    }
    if stderr != expected {
        problems.push(format!("stderr differs.\n--- expected\n{expected}\n--- got\n{stderr}"));
    }
    match build_after {
        Some((files, content))
            if files != ["previous/catalog/previous.json"] || content.as_deref() != Some("{\"schema\": \"previous\"}\n") =>
        {
            problems.push(format!("the previous build/ changed: {files:?}, {content:?}"));
        }
        Some(_) => {}
        None if dir.join("build").exists() => problems.push("a failed command wrote build/".to_string()),
        None => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

/// Files under `dir`, relative and sorted, skipping hidden names (a lock
/// file or a temp dir of the build is not output).
fn visible_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}
