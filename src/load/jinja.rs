//! minijinja for bundles: `.j2` files of a bundle rendered in memory, and
//! the `bundle-image` reference template. Undefined variables are errors
//! (strict mode), reported at their line, because a silently empty value in
//! a CSV or an image reference ships a broken catalog.
//!
//! Rendering maps a bundle's files ([`BundleFiles`]) to the files the
//! parser reads: `x.yaml.j2` becomes `x.yaml` with the rendered bytes, and
//! keeps `x.yaml.j2` as its source, so diagnostics point at the template and
//! the input digest is the template's. No temp directory is involved.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use minijinja::{Environment, UndefinedBehavior};

use super::bundle::LoadedBundle;
use super::read::{BundleFile, BundleFiles};

/// The suffix of a template file.
pub(crate) const TEMPLATE_SUFFIX: &str = ".j2";

/// A template of a bundle that does not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} (in {})", file.display())]
pub struct TemplateError {
    /// The template file.
    pub file: PathBuf,
    /// Byte range in the template, when minijinja knows it.
    pub span: Option<Range<usize>>,
    /// 1-based line, when minijinja knows it and no span does.
    pub line: Option<usize>,
    pub problem: TemplateProblem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateProblem {
    #[error("template is not UTF-8 text")]
    NotUtf8,

    /// `name` is the variable as written in the template, when the span
    /// shows it (else minijinja's `detail`); `defined` lists the variables
    /// there are.
    #[error("undefined template variable")]
    Undefined {
        name: Option<String>,
        detail: Option<String>,
        defined: Vec<String>,
    },

    /// Any other minijinja error: its kind and detail.
    #[error("template error: {kind}")]
    Invalid { kind: String, detail: Option<String> },

    /// The bundle has both `x.yaml` and `x.yaml.j2`: which one is meant?
    #[error("`{}` is in the bundle and is also what this template renders to", rendered.display())]
    RenderedFileExists { rendered: PathBuf },
}

/// A `bundle-image` template that does not render for a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot render `bundle-image` for bundle `{bundle}`: {kind}{}", detail.as_ref().map(|detail| format!(": {detail}")).unwrap_or_default())]
pub struct BundleImageError {
    pub bundle: String,
    pub kind: String,
    pub detail: Option<String>,
}

/// Steps one template may take (minijinja's fuel): real templates take
/// thousands; a runaway loop ends here after about a second.
pub(crate) const TEMPLATE_STEPS: u64 = 20_000_000;

/// The largest text one template may render (bytes).
pub(crate) const MAX_TEMPLATE_OUTPUT: usize = 64 << 20;

/// The environment every template of catbuild renders in: undefined values
/// are errors, the final newline is kept, and steps are budgeted.
pub(crate) fn environment() -> Environment<'static> {
    environment_within(TEMPLATE_STEPS)
}

/// [`environment`] with `steps` of fuel (`[limits] template-steps`).
fn environment_within(steps: u64) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Keep the file's final newline: YAML cares little, diffs care a lot.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder().keep_trailing_newline(true).build() {
        env.set_syntax(syntax);
    }
    env.set_fuel(Some(steps));
    env
}

/// Renders `template`, stopping at [`MAX_TEMPLATE_OUTPUT`] bytes of output
/// (a few steps can repeat a string to a gigabyte); budget errors say which
/// limit was hit.
pub(crate) fn render_bounded(template: &minijinja::Template, context: minijinja::Value) -> Result<String, minijinja::Error> {
    render_within(template, context, TEMPLATE_STEPS, MAX_TEMPLATE_OUTPUT)
}

/// [`render_bounded`] with the bounds of `[limits]`: `steps` is what the
/// template's environment was given, `max_output` its output cap.
fn render_within(
    template: &minijinja::Template,
    context: minijinja::Value,
    steps: u64,
    max_output: usize,
) -> Result<String, minijinja::Error> {
    let mut output = CappedOutput {
        bytes: Vec::new(),
        over: false,
        limit: max_output,
    };
    match template.render_captured_to(context, &mut output) {
        Ok(_) => Ok(String::from_utf8_lossy(&output.bytes).into_owned()),
        Err(_) if output.over => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("the output is larger than the {} a template may write", describe_bytes(max_output)),
        )),
        Err(error) if error.kind() == minijinja::ErrorKind::OutOfFuel => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("it took more than {steps} steps (a loop that does not end?)"),
        )),
        Err(error) => Err(error),
    }
}

/// `64 MiB` for whole mebibytes, else `N bytes`.
fn describe_bytes(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// A writer that refuses to grow past `limit` bytes.
struct CappedOutput {
    bytes: Vec<u8>,
    over: bool,
    limit: usize,
}

impl std::io::Write for CappedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > self.limit {
            self.over = true;
            return Err(std::io::Error::other("template output limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether any file of the bundle is a template.
pub(crate) fn has_templates(files: &BundleFiles) -> bool {
    files.files.iter().any(|file| file.name().ends_with(TEMPLATE_SUFFIX))
}

/// Renders every `.j2` file of `files` with `vars`; other files pass
/// through untouched (not copied). Every template that fails is reported.
pub fn render_templates(mut files: BundleFiles, vars: &BTreeMap<String, String>) -> Result<BundleFiles, Vec<TemplateError>> {
    if !has_templates(&files) {
        return Ok(files);
    }
    let limits = files.limits;
    let env = environment_within(limits.template_steps);
    let mut errors = Vec::new();
    let plain_paths: Vec<PathBuf> = files
        .files
        .iter()
        .filter(|file| !file.name().ends_with(TEMPLATE_SUFFIX))
        .map(|file| file.path.clone())
        .collect();
    for file in &mut files.files {
        let Some(rendered_name) = file.name().strip_suffix(TEMPLATE_SUFFIX).map(str::to_string) else {
            continue;
        };
        let template_path = files.dir.join(&file.source);
        let rendered_path = file.parent().join(rendered_name);
        if plain_paths.contains(&rendered_path) {
            errors.push(TemplateError {
                file: template_path,
                span: None,
                line: None,
                problem: TemplateProblem::RenderedFileExists {
                    rendered: files.dir.join(&rendered_path),
                },
            });
            continue;
        }
        match render_file(&env, file, vars, &limits) {
            Ok(text) => {
                file.bytes = text.into_bytes();
                file.path = rendered_path;
            }
            Err((span, line, problem)) => errors.push(TemplateError {
                file: template_path,
                span,
                line,
                problem,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Rendered names sort where the parser expects them (Go's `fs.ReadDir`
    // order of a directory holding the rendered files).
    files.files.sort_by(|left, right| sort_key(left).cmp(&sort_key(right)));
    Ok(files)
}

/// A file's place in the parser's order: its directory, then its name bytes.
fn sort_key(file: &BundleFile) -> (&[u8], &[u8]) {
    (file.parent().as_os_str().as_encoded_bytes(), file.name_bytes())
}

type RenderFailure = (Option<Range<usize>>, Option<usize>, TemplateProblem);

fn render_file(
    env: &Environment,
    file: &BundleFile,
    vars: &BTreeMap<String, String>,
    limits: &crate::input::Limits,
) -> Result<String, RenderFailure> {
    let Ok(source) = std::str::from_utf8(&file.bytes) else {
        return Err((None, None, TemplateProblem::NotUtf8));
    };
    env.template_from_str(source)
        .and_then(|template| {
            render_within(
                &template,
                minijinja::Value::from_pairs(vars.iter().map(|(key, value)| (key.as_str(), value.as_str()))),
                limits.template_steps,
                usize::try_from(limits.template_output_bytes).unwrap_or(usize::MAX),
            )
        })
        .map_err(|error| failure(&error, source, vars))
}

fn failure(error: &minijinja::Error, source: &str, vars: &BTreeMap<String, String>) -> RenderFailure {
    let span = error.range().filter(|range| range.end <= source.len());
    let line = if span.is_some() { None } else { error.line() };
    if error.kind() == minijinja::ErrorKind::UndefinedError {
        // minijinja's own detail text differs between build profiles; name
        // the variable from the source span instead.
        let name = error
            .range()
            .and_then(|range| source.get(range))
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_string);
        let problem = TemplateProblem::Undefined {
            detail: if name.is_none() { error.detail().map(str::to_string) } else { None },
            name,
            defined: vars.keys().cloned().collect(),
        };
        return (span, line, problem);
    }
    let problem = TemplateProblem::Invalid {
        kind: error.kind().to_string(),
        detail: error.detail().map(str::to_string),
    };
    (span, line, problem)
}

/// Renders a `bundle-image` template for one bundle: the target's variables
/// plus `bundle.package`, `bundle.name` and `bundle.version`.
pub fn bundle_image(template: &str, vars: &BTreeMap<String, String>, bundle: &LoadedBundle) -> Result<String, BundleImageError> {
    let env = environment();
    let mut context: BTreeMap<String, minijinja::Value> = vars
        .iter()
        .map(|(key, value)| (key.clone(), minijinja::Value::from(value.as_str())))
        .collect();
    let mut bundle_fields = BTreeMap::new();
    bundle_fields.insert("package", bundle.package.clone());
    bundle_fields.insert("name", bundle.bundle.name.clone());
    bundle_fields.insert("version", bundle.version.clone());
    bundle_fields.insert("dir", crate::load::version_dir_name(&bundle.dir));
    context.insert("bundle".to_string(), minijinja::Value::from(bundle_fields));
    env.render_str(template, context).map_err(|error| BundleImageError {
        bundle: bundle.bundle.name.clone(),
        kind: error.kind().to_string(),
        detail: error.detail().map(str::to_string),
    })
}

/// Renders a catalog `image` template for one target: the target's
/// variables plus `target.name`. The error is minijinja's kind and detail.
pub fn catalog_image(template: &str, vars: &BTreeMap<String, String>, target: &str) -> Result<String, String> {
    let mut context: BTreeMap<String, minijinja::Value> = vars
        .iter()
        .map(|(key, value)| (key.clone(), minijinja::Value::from(value.as_str())))
        .collect();
    context.insert(
        "target".to_string(),
        minijinja::Value::from(BTreeMap::from([("name", target.to_string())])),
    );
    environment().render_str(template, context).map_err(|error| {
        let culprit = error.range().and_then(|range| template.get(range)).map(str::trim);
        match (error.kind(), culprit) {
            (minijinja::ErrorKind::UndefinedError, Some(name)) if !name.is_empty() => format!("`{name}` is not defined"),
            _ => match error.detail() {
                Some(detail) => format!("{}: {detail}", error.kind()),
                None => error.kind().to_string(),
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::load::read::Sha256Digest;

    fn file(path: &str, text: &str) -> BundleFile {
        BundleFile {
            path: PathBuf::from(path),
            bytes: text.as_bytes().to_vec(),
            source: PathBuf::from(path),
            source_digest: Sha256Digest::of(text.as_bytes()),
        }
    }

    fn bundle(files: Vec<BundleFile>) -> BundleFiles {
        BundleFiles {
            dir: PathBuf::from("/b"),
            files,
            directories: ["manifests", "metadata"].iter().map(PathBuf::from).collect(),
            limits: crate::input::Limits::default(),
        }
    }

    #[test]
    fn renders_in_memory_keeping_the_template_as_source_and_name_order() {
        let files = bundle(vec![
            file("manifests/a.yaml", "a"),
            file("manifests/z.yaml.j2", "kind: {{ kind }}\n"),
            file("manifests/b.yaml", "b"),
        ]);
        let template_digest = files.files[1].source_digest;
        let vars = BTreeMap::from([("kind".to_string(), "X".to_string())]);
        let rendered = render_templates(files, &vars).unwrap();
        let paths: Vec<(&Path, &Path)> = rendered
            .files
            .iter()
            .map(|file| (file.path.as_path(), file.source.as_path()))
            .collect();
        assert_eq!(
            paths,
            vec![
                (Path::new("manifests/a.yaml"), Path::new("manifests/a.yaml")),
                (Path::new("manifests/b.yaml"), Path::new("manifests/b.yaml")),
                (Path::new("manifests/z.yaml"), Path::new("manifests/z.yaml.j2")),
            ]
        );
        assert_eq!(rendered.files[2].bytes, b"kind: X\n");
        assert_eq!(rendered.files[2].source_digest, template_digest);
    }

    #[test]
    fn every_failing_template_is_reported() {
        let files = bundle(vec![
            file("manifests/a.yaml", "a"),
            file("manifests/a.yaml.j2", "a"),
            file("metadata/annotations.yaml.j2", "x: {{ missing }}\n"),
        ]);
        let errors = render_templates(files, &BTreeMap::new()).unwrap_err();
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            vec![
                "`/b/manifests/a.yaml` is in the bundle and is also what this template renders to (in /b/manifests/a.yaml.j2)",
                "undefined template variable (in /b/metadata/annotations.yaml.j2)",
            ]
        );
        assert_eq!(errors[1].span, Some(6..13));
        assert_eq!(
            errors[1].problem,
            TemplateProblem::Undefined {
                name: Some("missing".to_string()),
                detail: None,
                defined: Vec::new()
            }
        );
    }
}
