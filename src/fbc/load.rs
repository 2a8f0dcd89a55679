//! Reading File-Based Catalogs from disk the way opm's `declcfg.LoadFS` does
//! at HEAD: every regular file under the root (minus `.indexignore`
//! matches) is a stream of JSON or YAML documents; each document goes
//! through a Go map (keys sorted, numbers as float64) before it is decoded
//! into its schema's type.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::declcfg::{
    Bundle, Channel, DeclarativeConfig, Deprecation, Meta, Package, SCHEMA_BUNDLE, SCHEMA_CHANNEL, SCHEMA_DEPRECATIONS, SCHEMA_PACKAGE,
};
use crate::encoding::json::{self, Value};
use crate::encoding::yaml_in;

/// Why an FBC file could not be loaded. `path` is the file, `line` the
/// 1-based line of the document (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LoadError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

/// Loads every FBC file under `root`. Files are read in parallel but the
/// result is in sorted path order, so it never depends on thread timing.
pub fn load_dir(root: &Path) -> Result<DeclarativeConfig, LoadError> {
    let files = list_files(root)?;
    let configs: Vec<Result<DeclarativeConfig, LoadError>> = files.par_iter().map(|path| load_file(path)).collect();
    let mut config = DeclarativeConfig::default();
    for file_config in configs {
        config.extend(file_config?);
    }
    Ok(config)
}

/// The files under `root` in groups that opm's conventional layout keeps
/// apart: one group per top-level directory (`<root>/<package>/...`), and
/// each file directly under `root` on its own; groups and files in walk
/// order. A catalog can be checked group by group, without holding all of
/// it, when no package spans two groups (see `cli::opm`'s `validate`).
pub fn top_level_groups(root: &Path) -> Result<Vec<Vec<PathBuf>>, LoadError> {
    let mut groups: Vec<(Option<std::ffi::OsString>, Vec<PathBuf>)> = Vec::new();
    for path in list_files(root)? {
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let mut components = relative.components();
        let first = components.next().map(|component| component.as_os_str().to_os_string());
        // A file right under the root is a group of its own.
        let key = if components.next().is_some() { first } else { None };
        match groups.last_mut() {
            Some((last_key, files)) if key.is_some() && *last_key == key => files.push(path),
            _ => groups.push((key, vec![path])),
        }
    }
    Ok(groups.into_iter().map(|(_, files)| files).collect())
}

/// Loads one FBC file (a stream of documents).
pub fn load_file(path: &Path) -> Result<DeclarativeConfig, LoadError> {
    let bytes = crate::input::read(path).map_err(|error| LoadError {
        path: path.to_path_buf(),
        line: 0,
        message: format!("open {}: {error}", path.display()),
    })?;
    load_text(&utf8_text(&bytes), path)
}

/// The text of a file as Go reads it (invalid UTF-8 replaced). Checked
/// with `from_utf8` first: the lossy walk is several times slower, and
/// nearly every catalog is valid UTF-8.
pub fn utf8_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Decodes FBC documents from text; `path` only labels errors.
pub fn load_text(text: &str, path: &Path) -> Result<DeclarativeConfig, LoadError> {
    let mut config = DeclarativeConfig::default();
    for document in yaml_in::decode_stream(text) {
        let document = document.map_err(|error| LoadError {
            path: path.to_path_buf(),
            line: error.line,
            message: error.message.clone(),
        })?;
        let fail = |message: String| LoadError {
            path: path.to_path_buf(),
            line: document.line,
            message,
        };
        if document.value.is_null() {
            continue;
        }
        add_blob(&mut config, document.value).map_err(fail)?;
    }
    Ok(config)
}

/// Sorts one decoded document into the config, by schema.
pub fn add_blob(config: &mut DeclarativeConfig, value: Value) -> Result<(), String> {
    let value = value.into_go_map().ok_or_else(|| "json: unsupported value: +Inf".to_string())?;
    let schema = meta_key(&value, "schema")?;
    let package = meta_key(&value, "package")?;
    let name = meta_key(&value, "name")?;
    if schema.is_empty() {
        return Err(format!("object '{}' is missing root schema field", json::to_compact(&value, false)));
    }
    match schema.as_str() {
        SCHEMA_PACKAGE => config
            .packages
            .push(Package::decode(&value).map_err(|error| format!("parse package: {error}"))?),
        SCHEMA_CHANNEL => config
            .channels
            .push(Channel::decode(&value).map_err(|error| format!("parse channel: {error}"))?),
        SCHEMA_BUNDLE => config
            .bundles
            .push(Bundle::decode(&value).map_err(|error| format!("parse bundle: {error}"))?),
        SCHEMA_DEPRECATIONS => {
            config
                .deprecations
                .push(Deprecation::decode(&value).map_err(|error| format!("parse deprecation: {error}"))?);
        }
        _ => config.others.push(Meta {
            schema,
            package,
            name,
            blob: value,
        }),
    }
    Ok(())
}

/// `Meta.UnmarshalJSON`: `schema`, `package` and `name` are found by
/// case-folded key; two keys folding together, or a non-string, are errors.
fn meta_key(value: &Value, key: &str) -> Result<String, String> {
    let Some(fields) = value.as_object() else {
        return Ok(String::new());
    };
    let matches: Vec<&(String, Value)> = fields.iter().filter(|(candidate, _)| candidate.to_lowercase() == key).collect();
    match matches.as_slice() {
        [] => Ok(String::new()),
        [(_, Value::String(text))] => Ok(text.clone()),
        [(_, Value::Null)] => Ok(String::new()),
        [(_, other)] => Err(format!(
            "expected value for key {key:?} to be a string, got {}: {}",
            go_kind(other),
            json::to_compact(other, false)
        )),
        several => {
            let keys: Vec<&str> = several.iter().map(|(candidate, _)| candidate.as_str()).collect();
            Err(format!("duplicate keys for key {key:?}: [{}]", keys.join(" ")))
        }
    }
}

fn go_kind(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
        _ => "string",
    }
}

/// Every regular file under `root` in lexical walk order, minus
/// `.indexignore` files and the paths they match.
pub(crate) fn list_files(root: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut builder = ignore::WalkBuilder::new(root);
    builder
        .standard_filters(false)
        .add_custom_ignore_filename(".indexignore")
        .sort_by_file_path(|left, right| left.cmp(right))
        .follow_links(true);
    let mut files = Vec::new();
    for entry in builder.build() {
        let entry = entry.map_err(|error| LoadError {
            path: root.to_path_buf(),
            line: 0,
            message: error.to_string(),
        })?;
        let is_file = entry.file_type().is_some_and(|file_type| file_type.is_file());
        if is_file && entry.file_name() != ".indexignore" {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}
