//! `catbuild init [DIR...]`: adopt an existing operator repository. It
//! finds bundle directories (also nested under `bundle/` or
//! `certification/`, which it says), package-manifest directories and
//! community-operators style `<package>/<version>/` trees, and writes a
//! `catalog.toml` that builds them: one `[[package]]` per package name, with
//! the channel policy of a `ci.yaml` `updateGraph` where there is one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CommandResult, Failure, GlobalArgs};
use crate::encoding::json::Value;
use crate::encoding::yaml_in;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directories to scan (default: the current directory)
    #[arg(value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Overwrite an existing catalog.toml
    #[arg(long)]
    force: bool,
    /// Catalog name (default: the current directory's name)
    #[arg(long)]
    name: Option<String>,
}

/// Where a package's bundles were found.
#[derive(Debug, Default)]
struct FoundPackage {
    /// (bundle dir, note) — note says why the dir is special.
    bundles: Vec<(PathBuf, Option<String>)>,
    package_manifests: Vec<PathBuf>,
    policy: Option<(&'static str, PathBuf)>,
}

pub fn run(global: &GlobalArgs, args: &InitArgs) -> CommandResult {
    let config_path = global.config.clone().unwrap_or_else(|| PathBuf::from(crate::config::FILE_NAME));
    if config_path.exists() && !args.force {
        return Err(Failure::InputMessage(format!(
            "`{}` already exists (pass --force to overwrite it)",
            config_path.display()
        )));
    }
    let config_dir = std::path::absolute(&config_path)
        .map_err(|error| Failure::Other(error.to_string()))?
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let dirs = if args.dirs.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.dirs.clone()
    };
    let mut packages: BTreeMap<String, FoundPackage> = BTreeMap::new();
    let mut skipped = Vec::new();
    for dir in &dirs {
        if !dir.is_dir() {
            return Err(Failure::InputMessage(format!("`{}` is not a directory", dir.display())));
        }
        let dir = std::path::absolute(dir).map_err(|error| Failure::Other(error.to_string()))?;
        scan(&dir, 0, &mut packages, &mut skipped);
    }
    if packages.is_empty() {
        return Err(Failure::InputMessage(
            "found no bundle directories (manifests/ + metadata/) and no package manifests (*.package.yaml)".to_string(),
        ));
    }
    let name = args.name.clone().unwrap_or_else(|| {
        let base = config_dir
            .file_name()
            .map_or_else(|| "catalog".to_string(), |name| name.to_string_lossy().to_lowercase());
        let cleaned: String = base.chars().map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' }).collect();
        let cleaned = cleaned.trim_matches('-').to_string();
        if cleaned.is_empty() { "catalog".to_string() } else { cleaned }
    });
    let text = render_config(&name, &packages, &config_dir);
    fs_err::write(&config_path, text).map_err(|error| Failure::Other(error.to_string()))?;
    if !global.quiet {
        let n_bundles: usize = packages.values().map(|package| package.bundles.len()).sum();
        eprintln!(
            "Wrote {}: {} packages, {n_bundles} bundle directories",
            config_path.display(),
            packages.len()
        );
        for (path, reason) in &skipped {
            eprintln!("warning: skipped `{}`: {reason}", path.display());
        }
    }
    Ok(())
}

const MAX_DEPTH: usize = 6;

fn scan(dir: &Path, depth: usize, packages: &mut BTreeMap<String, FoundPackage>, skipped: &mut Vec<(PathBuf, String)>) {
    if dir.join("manifests").is_dir() && dir.join("metadata").is_dir() {
        add_bundle(dir, None, packages, skipped);
        return;
    }
    for nested in ["bundle", "certification"] {
        let root = dir.join(nested);
        if root.join("manifests").is_dir() && root.join("metadata").is_dir() {
            let note = format!("bundle found under `{nested}/`");
            add_bundle(&root, Some(note), packages, skipped);
            return;
        }
    }
    if let Some(package_name) = package_manifest_name(dir) {
        let found = packages.entry(package_name).or_default();
        found.package_manifests.push(dir.to_path_buf());
        return;
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = fs_err::read_dir(dir) else { return };
    let mut children: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).filter(|path| path.is_dir()).collect();
    children.sort();
    for child in children {
        let hidden = child.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.'));
        if !hidden {
            scan(&child, depth + 1, packages, skipped);
        }
    }
}

fn add_bundle(dir: &Path, note: Option<String>, packages: &mut BTreeMap<String, FoundPackage>, skipped: &mut Vec<(PathBuf, String)>) {
    let Some(package_name) = annotation_package(&dir.join("metadata")) else {
        skipped.push((dir.to_path_buf(), "no package annotation in metadata/".to_string()));
        return;
    };
    let found = packages.entry(package_name).or_default();
    // The ci.yaml of a community-operators tree sits in the package dir,
    // the parent of the version dir (of the nested root's parent).
    let version_dir = if note.is_some() { dir.parent().unwrap_or(dir) } else { dir };
    if found.policy.is_none()
        && let Some(package_dir) = version_dir.parent()
        && let Some(policy) = ci_update_graph(&package_dir.join("ci.yaml"))
    {
        found.policy = Some((policy, package_dir.join("ci.yaml")));
    }
    found.bundles.push((dir.to_path_buf(), note));
}

/// The package annotation of a bundle's metadata directory (any file in it,
/// as opm finds annotations by content).
fn annotation_package(metadata: &Path) -> Option<String> {
    let mut files: Vec<PathBuf> = fs_err::read_dir(metadata)
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files.iter().find_map(|file| {
        let value = first_document(file)?;
        value
            .pointer(&["annotations", "operators.operatorframework.io.bundle.package.v1"])
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
    })
}

/// The `packageName` of a `*.package.yaml` in `dir`, if any.
fn package_manifest_name(dir: &Path) -> Option<String> {
    let mut files: Vec<PathBuf> = fs_err::read_dir(dir)
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .iter()
        .filter(|file| file.to_string_lossy().ends_with(".package.yaml"))
        .find_map(|file| {
            first_document(file)?
                .get("packageName")
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
                .map(str::to_string)
        })
}

/// community-operators `ci.yaml` `updateGraph` → our channel policy.
fn ci_update_graph(path: &Path) -> Option<&'static str> {
    let value = first_document(path)?;
    match value.get("updateGraph")?.as_str()? {
        "replaces-mode" => Some("replaces"),
        "semver-mode" | "semver-skippatch-mode" => Some("semver"),
        _ => None,
    }
}

fn first_document(path: &Path) -> Option<Value> {
    let text = fs_err::read_to_string(path).ok()?;
    yaml_in::decode_stream(&text)
        .into_iter()
        .next()?
        .ok()
        .map(|document| document.value)
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn relative(path: &Path, base: &Path) -> String {
    pathdiff(path, base).to_string_lossy().replace('\\', "/")
}

/// `path` relative to `base` (both absolute), with `..` where needed.
fn pathdiff(path: &Path, base: &Path) -> PathBuf {
    let path_parts: Vec<_> = path.components().collect();
    let base_parts: Vec<_> = base.components().collect();
    let common = path_parts.iter().zip(&base_parts).take_while(|(left, right)| left == right).count();
    let mut out = PathBuf::new();
    for _ in common..base_parts.len() {
        out.push("..");
    }
    for part in &path_parts[common..] {
        out.push(part);
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

fn render_config(name: &str, packages: &BTreeMap<String, FoundPackage>, config_dir: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Written by `catbuild init`; every key is described in docs/catalog-toml.md.");
    let _ = writeln!(out, "version = 1\n\n[catalog]\nname = {}\n", toml_string(name));
    for (package_name, found) in packages {
        let _ = writeln!(out, "[[package]]\nname = {}", toml_string(package_name));
        let bundle_dirs: Vec<&PathBuf> = found.bundles.iter().map(|(dir, _)| dir).collect();
        let parents: Vec<Option<&Path>> = bundle_dirs.iter().map(|dir| dir.parent()).collect();
        let one_parent = found.bundles.iter().all(|(_, note)| note.is_none()) && parents.windows(2).all(|pair| pair[0] == pair[1]);
        if one_parent && bundle_dirs.len() > 1 {
            let parent = parents[0].unwrap_or(config_dir);
            let _ = writeln!(out, "bundles = [{}]", toml_string(&format!("{}/*", relative(parent, config_dir))));
        } else if !bundle_dirs.is_empty() {
            let _ = writeln!(out, "bundles = [");
            for (dir, note) in &found.bundles {
                let comment = note.as_ref().map(|note| format!("  # {note}")).unwrap_or_default();
                let _ = writeln!(out, "  {},{comment}", toml_string(&relative(dir, config_dir)));
            }
            let _ = writeln!(out, "]");
        }
        if !found.package_manifests.is_empty() {
            let listed: Vec<String> = found
                .package_manifests
                .iter()
                .map(|dir| toml_string(&relative(dir, config_dir)))
                .collect();
            let _ = writeln!(out, "package-manifests = [{}]", listed.join(", "));
        }
        match &found.policy {
            Some((policy, ci_yaml)) => {
                let _ = writeln!(
                    out,
                    "channel-policy = {}  # from {}",
                    toml_string(policy),
                    relative(ci_yaml, config_dir)
                );
            }
            None => {
                let _ = writeln!(out, "channel-policy = \"replaces\"");
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "[[target]]\nname = \"default\"\nformats = [\"fbc-json\"]");
    out
}
