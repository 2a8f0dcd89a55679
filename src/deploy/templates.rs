//! The deploy templates: the built-in ones, embedded in the binary from
//! `templates/`, and a project's overrides (a file of the same name in
//! `[catalog] deploy-templates`), plus the minijinja environment that
//! renders them: strict undefined, and a `yaml` filter through which every
//! value goes, so no value can break the YAML around it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{Error, ErrorKind, Value, value::ValueKind};

use crate::diag::{Diagnostic, Location};

/// Every built-in template, by file name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("namespace.yaml.j2", include_str!("../../templates/namespace.yaml.j2")),
    ("catalogsource.yaml.j2", include_str!("../../templates/catalogsource.yaml.j2")),
    ("operatorsource.yaml.j2", include_str!("../../templates/operatorsource.yaml.j2")),
    ("operatorgroup.yaml.j2", include_str!("../../templates/operatorgroup.yaml.j2")),
    ("subscription.yaml.j2", include_str!("../../templates/subscription.yaml.j2")),
    ("clustercatalog.yaml.j2", include_str!("../../templates/clustercatalog.yaml.j2")),
    ("serviceaccount.yaml.j2", include_str!("../../templates/serviceaccount.yaml.j2")),
    ("rbac.yaml.j2", include_str!("../../templates/rbac.yaml.j2")),
    ("clusterextension.yaml.j2", include_str!("../../templates/clusterextension.yaml.j2")),
    (
        "imagedigestmirrorset.yaml.j2",
        include_str!("../../templates/imagedigestmirrorset.yaml.j2"),
    ),
    (
        "imagecontentsourcepolicy.yaml.j2",
        include_str!("../../templates/imagecontentsourcepolicy.yaml.j2"),
    ),
    ("kustomization.yaml.j2", include_str!("../../templates/kustomization.yaml.j2")),
];

/// Where built-in templates say they come from in messages.
pub const BUILTIN_DIR: &str = "templates";

/// The built-in template `name`, if there is one.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(known, _)| *known == name).map(|(_, text)| *text)
}

/// One template's text and the file it is reported at.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: &'static str,
    pub path: PathBuf,
    pub text: String,
    pub overridden: bool,
}

/// The templates of a project: built-ins with its overrides applied.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    overrides: BTreeMap<String, (PathBuf, String)>,
}

impl Templates {
    /// Reads the override directory (the only I/O of deploy; a declared
    /// input of the build). A file that overrides nothing is an error, so
    /// a misspelt name never silently falls back to the built-in.
    pub fn load(dir: &Path, config_path: &Path, span: std::ops::Range<usize>) -> Result<Templates, Vec<Diagnostic>> {
        let entries = fs_err::read_dir(dir).map_err(|error| {
            vec![
                Diagnostic::error("config", format!("cannot read `deploy-templates` directory: {error}"))
                    .at(Location::span(config_path, span.clone()))
                    .help("the path is relative to the directory of catalog.toml"),
            ]
        })?;
        let mut overrides = BTreeMap::new();
        let mut diagnostics = Vec::new();
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_file())
            .collect();
        paths.sort();
        let names: Vec<&str> = BUILTIN.iter().map(|(name, _)| *name).collect();
        for path in paths {
            let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            if name.starts_with('.') || !name.ends_with(".j2") {
                continue;
            }
            if builtin(&name).is_none() {
                let help = crate::config::closest(&name, &names).map_or_else(
                    || format!("templates: {}", names.join(", ")),
                    |best| format!("did you mean `{best}`?"),
                );
                diagnostics.push(
                    Diagnostic::error("deploy", format!("`{name}` overrides no built-in deploy template"))
                        .at(Location::file(&path))
                        .help(help),
                );
                continue;
            }
            match fs_err::read_to_string(&path) {
                Ok(text) => {
                    overrides.insert(name, (path, text));
                }
                Err(error) => {
                    diagnostics.push(Diagnostic::error("deploy", format!("cannot read template: {error}")).at(Location::file(&path)))
                }
            }
        }
        if diagnostics.is_empty() {
            Ok(Templates { overrides })
        } else {
            Err(diagnostics)
        }
    }

    /// The template `name` (a built-in's name) as this project has it.
    pub fn get(&self, name: &'static str) -> Template {
        match self.overrides.get(name) {
            Some((path, text)) => Template {
                name,
                path: path.clone(),
                text: text.clone(),
                overridden: true,
            },
            None => Template {
                name,
                path: Path::new(BUILTIN_DIR).join(name),
                text: builtin(name).unwrap_or_default().to_string(),
                overridden: false,
            },
        }
    }
}

/// A template that did not render: its file, line and minijinja's words.
pub struct RenderError {
    pub diagnostic: Diagnostic,
}

/// Renders `template` with `context`.
pub fn render(template: &Template, context: &Value) -> Result<String, RenderError> {
    let mut env = crate::load::jinja::environment();
    env.add_filter("yaml", yaml_filter);
    let result = env
        .template_from_named_str(template.name, &template.text)
        .and_then(|compiled| crate::load::jinja::render_bounded(&compiled, context.clone()));
    result.map_err(|error| {
        let what = match error.kind() {
            ErrorKind::UndefinedError => "undefined value".to_string(),
            kind => kind.to_string(),
        };
        let detail = error.detail().map(|detail| format!(": {detail}")).unwrap_or_default();
        let mut diagnostic = Diagnostic::error(
            "deploy",
            format!("deploy template `{}` does not render: {what}{detail}", template.name),
        );
        diagnostic = match error.line() {
            Some(line) if template.overridden => diagnostic.at(Location::line(&template.path, line)),
            Some(line) => diagnostic
                .at(Location::line(&template.path, line))
                .note("a built-in template; `catbuild templates show` prints it"),
            None => diagnostic.at(Location::file(&template.path)),
        };
        if error.kind() == ErrorKind::UndefinedError {
            diagnostic = diagnostic.help("the values a template can use are listed in docs/catalog-toml.md (Deploy templates)");
        }
        RenderError { diagnostic }
    })
}

/// `{{ value | yaml }}`: the value as a YAML flow node. Strings are JSON
/// double-quoted (valid YAML, the exact text survives `:`, `#`, quotes and
/// YAML 1.1 booleans), maps and lists are JSON flow collections.
fn yaml_filter(value: Value) -> Result<String, Error> {
    let mut out = String::new();
    write_flow(&value, &mut out)?;
    Ok(out)
}

fn write_flow(value: &Value, out: &mut String) -> Result<(), Error> {
    match value.kind() {
        ValueKind::Undefined => return Err(Error::new(ErrorKind::UndefinedError, "`yaml` of an undefined value")),
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&value.to_string()),
        ValueKind::String => quote(value.as_str().unwrap_or_default(), out),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            for (idx, item) in value.try_iter()?.enumerate() {
                if idx > 0 {
                    out.push_str(", ");
                }
                write_flow(&item, out)?;
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            for (idx, key) in value.try_iter()?.enumerate() {
                if idx > 0 {
                    out.push_str(", ");
                }
                quote(&key.to_string(), out);
                out.push_str(": ");
                write_flow(&value.get_item(&key)?, out)?;
            }
            out.push('}');
        }
        _ => quote(&value.to_string(), out),
    }
    Ok(())
}

/// A YAML double-quoted scalar (the JSON escapes are a subset of YAML's).
fn quote(text: &str, out: &mut String) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ch if (ch as u32) < 0x20 || ch == '\u{7f}' || ch == '\u{85}' || ch == '\u{2028}' || ch == '\u{2029}' || ch == '\u{feff}' => {
                out.push_str(&format!("\\u{:04x}", ch as u32));
            }
            ch => out.push(ch),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_filter_quotes_what_yaml_would_misread() {
        let value = Value::from("Team: \"A\" #1");
        assert_eq!(yaml_filter(value).unwrap(), r#""Team: \"A\" #1""#);
        assert_eq!(yaml_filter(Value::from("no")).unwrap(), "\"no\"");
        assert_eq!(yaml_filter(Value::from(5)).unwrap(), "5");
        assert_eq!(yaml_filter(Value::from(vec!["a", "b"])).unwrap(), r#"["a", "b"]"#);
    }
}
