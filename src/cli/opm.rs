//! The opm-compatible commands: `render`, `validate DIR`, `template` and
//! `graph`. Their output is byte for byte what opm prints, so they double as
//! the conformance suite's entry points. Errors carry opm's Go error text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CommandResult, Failure, GlobalArgs, print_stdout};
use crate::config::MigrateLevel;
use crate::encoding::json::{self, Value};
use crate::fbc::write::Format;
use crate::fbc::{self, DeclarativeConfig};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Bundle directories, FBC directories or files, or bundle image references
    #[arg(required = true, value_name = "REF")]
    refs: Vec<String>,
    #[command(flatten)]
    output: OutputArgs,
    /// Migrations to apply: `none` or `bundle-object-to-csv-metadata`
    #[arg(long, value_name = "LEVEL")]
    migrate_level: Option<String>,
    /// Apply every migration (same as the highest --migrate-level)
    #[arg(long, conflicts_with = "migrate_level")]
    migrate: bool,
    /// Image reference for bundle directories: `{{.Package}}`, `{{.Name}}`, `{{.Version}}` are replaced
    #[arg(long, value_name = "TEMPLATE")]
    alpha_image_ref_template: Option<String>,
    #[command(flatten)]
    images: LocalImageArgs,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format: json or yaml
    #[arg(short = 'o', long = "output", default_value = "json", value_name = "FORMAT")]
    output: String,
}

impl OutputArgs {
    fn format(&self) -> Result<Format, Failure> {
        match self.output.as_str() {
            "json" => Ok(Format::Json),
            "yaml" => Ok(Format::Yaml),
            other => Err(Failure::InputMessage(format!(
                "invalid --output value {other:?}, expected (json|yaml)"
            ))),
        }
    }
}

#[derive(Debug, Args)]
pub struct LocalImageArgs {
    /// Treat image REF as the bundle image built from DIR (offline rendering)
    #[arg(long = "local-image", value_name = "REF=DIR")]
    local_images: Vec<String>,
}

impl LocalImageArgs {
    fn map(&self) -> Result<BTreeMap<String, PathBuf>, Failure> {
        let mut map = BTreeMap::new();
        for pair in &self.local_images {
            let Some((image, dir)) = pair.rsplit_once('=') else {
                return Err(Failure::InputMessage(format!("--local-image {pair:?}: expected REF=DIR")));
            };
            map.insert(image.to_string(), PathBuf::from(dir));
        }
        Ok(map)
    }
}

/// Renders one bundle image (from its local directory) into a config.
fn render_image(image: &str, local_images: &BTreeMap<String, PathBuf>) -> Result<DeclarativeConfig, String> {
    let Some(dir) = local_images.get(image) else {
        return Err(format!(
            "cannot pull image {image:?}: this catbuild renders bundle images from local directories only (pass --local-image {image}=DIR)"
        ));
    };
    // An image built from the directory carries one label per annotation;
    // opm decides what the image is from those labels (spec A.7). The
    // directory is read once: the labels and the bundle come from the same
    // bytes.
    let files = crate::load::read_bundle_dir(dir).map_err(|error| error.to_string())?;
    let labels = image_labels(&files);
    if !labels.contains_key(PACKAGE_LABEL) {
        let listed: String = labels.iter().map(|(key, value)| format!("\n  {key}={value}")).collect();
        return Err(if labels.is_empty() {
            format!("render {image:?}: image type could not be determined: image has no labels")
        } else {
            format!("render {image:?}: image type could not be determined, found labels{listed}")
        });
    }
    let loaded = crate::load::load_bundle_files(&files, Some(image)).map_err(|error| error.to_string())?;
    Ok(DeclarativeConfig {
        bundles: vec![loaded.bundle],
        ..DeclarativeConfig::default()
    })
}

const PACKAGE_LABEL: &str = "operators.operatorframework.io.bundle.package.v1";

/// The labels `bundle.Dockerfile` would give the image of a bundle: the
/// entries of its annotations file (the first file of `metadata/` with a
/// non-empty `annotations` map), sorted by key.
fn image_labels(files: &crate::load::BundleFiles) -> BTreeMap<String, String> {
    for file in files.files_in("metadata") {
        let Ok(text) = std::str::from_utf8(&file.bytes) else {
            // Not an annotations file: the search goes on, as opm's does.
            continue;
        };
        let Some(Ok(document)) = crate::encoding::yaml_in::decode_stream(text).into_iter().next() else {
            continue;
        };
        if let Some(annotations) = document.value.get("annotations").and_then(Value::as_object)
            && !annotations.is_empty()
        {
            return annotations
                .iter()
                .map(|(key, value)| {
                    let text = match value {
                        Value::String(text) => text.clone(),
                        other => json::to_compact(other, false),
                    };
                    (key.clone(), text)
                })
                .collect();
        }
    }
    BTreeMap::new()
}

pub fn render(args: &RenderArgs) -> CommandResult {
    let format = args.output.format()?;
    let migrate_level = if args.migrate {
        MigrateLevel::BundleObjectToCsvMetadata
    } else {
        match &args.migrate_level {
            None => MigrateLevel::None,
            Some(level) => MigrateLevel::parse(level).ok_or_else(|| Failure::InputMessage(format!("unknown migration level {level:?}")))?,
        }
    };
    let local_images = args.images.map()?;
    let mut combined = DeclarativeConfig::default();
    for reference in &args.refs {
        let config = render_reference(reference, &local_images, args.alpha_image_ref_template.as_deref())
            .map_err(|error| Failure::InputMessage(format!("render reference {reference:?}: {error}")))?;
        combined.extend(config);
    }
    if migrate_level == MigrateLevel::BundleObjectToCsvMetadata {
        for bundle in &mut combined.bundles {
            crate::load::migrate_bundle_to_csv_metadata(bundle).map_err(|error| Failure::InputMessage(format!("migrate: {error}")))?;
        }
    }
    let text = fbc::write::write(&combined, format).map_err(|error| Failure::InputMessage(error.to_string()))?;
    print_stdout(&text)
}

fn render_reference(
    reference: &str,
    local_images: &BTreeMap<String, PathBuf>,
    image_template: Option<&str>,
) -> Result<DeclarativeConfig, String> {
    if local_images.contains_key(reference) {
        return render_image(reference, local_images);
    }
    let path = Path::new(reference);
    if path.is_dir() {
        if path.join("manifests").is_dir() && path.join("metadata").is_dir() {
            let loaded = match image_template {
                None => crate::load::load_bundle_dir(path, None),
                Some(template) => crate::load::load_bundle_dir_with_template(path, &|data: &crate::load::ImageRefTemplateData| {
                    Ok(template
                        .replace("{{.Package}}", &data.package)
                        .replace("{{.Name}}", &data.name)
                        .replace("{{.Version}}", &data.version))
                }),
            }
            .map_err(|error| error.to_string())?;
            return Ok(DeclarativeConfig {
                bundles: vec![loaded.bundle],
                ..DeclarativeConfig::default()
            });
        }
        let mut config = fbc::load::load_dir(path).map_err(|error| format!("{}: {error}", error.path.display()))?;
        for bundle in &mut config.bundles {
            fbc::render::post_process(bundle);
        }
        return Ok(config);
    }
    if path.exists() {
        return Err(format!("ref {reference:?} is not a directory: not allowed"));
    }
    render_image(reference, local_images)
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// An FBC directory to validate like `opm validate`; without it, the project
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// opm's machine-readable result: json or yaml (FBC directories only)
    #[arg(short = 'o', long = "output", value_name = "FORMAT")]
    output: Option<String>,
}

pub fn validate(global: &GlobalArgs, args: &ValidateArgs) -> CommandResult {
    let Some(dir) = &args.dir else {
        return super::build::validate_project(global);
    };
    if !dir.is_dir() {
        return Err(Failure::InputMessage(format!("{:?} is not a directory", dir.display().to_string())));
    }
    let result = fbc::load::load_dir(dir)
        .map_err(|error| format!("{}: {}", error.path.display(), error.message))
        .and_then(|config| crate::model::validate_config(&config).map(|_| ()));
    match args.output.as_deref() {
        None => result.map_err(Failure::InputMessage),
        Some(format @ ("json" | "yaml")) => {
            let mut fields = vec![("passed".to_string(), Value::Bool(result.is_ok()))];
            if let Err(message) = &result {
                fields.push((
                    "error".to_string(),
                    Value::Object(vec![("message".to_string(), Value::str(message))]),
                ));
            }
            let value = Value::Object(fields);
            let text = if format == "json" {
                // json.MarshalIndent escapes HTML characters.
                let compact = json::to_compact(&value, true);
                let reparsed = json::parse(&compact).unwrap_or(value);
                indent_two(&reparsed, true)
            } else {
                crate::encoding::yaml_out::to_yaml(&value).map_err(|error| Failure::Other(error.to_string()))?
            };
            print_stdout(&text)?;
            if result.is_ok() {
                Ok(())
            } else {
                Err(Failure::InputMessage("validation failed".to_string()))
            }
        }
        Some(other) => Err(Failure::InputMessage(format!(
            "invalid --output value {other:?}, expected (json|yaml)"
        ))),
    }
}

/// `json.MarshalIndent(v, "", "  ")` plus a newline.
fn indent_two(value: &Value, escape_html: bool) -> String {
    let text = json::to_indented(value, "  ");
    if !escape_html {
        return text;
    }
    text.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// Template type: basic or semver
    #[arg(value_name = "TYPE")]
    kind: String,
    /// Template file
    #[arg(value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    images: LocalImageArgs,
}

pub fn template(args: &TemplateArgs) -> CommandResult {
    let format = args.output.format()?;
    let local_images = args.images.map()?;
    let text = fs_err::read_to_string(&args.file).map_err(|error| Failure::Other(error.to_string()))?;
    let render_bundle = |image: &str| -> Result<DeclarativeConfig, String> { render_image(image, &local_images) };
    let config = match args.kind.as_str() {
        "basic" => crate::catalog_template::basic::render(&text, &render_bundle),
        "semver" => crate::catalog_template::semver::render(&text, &render_bundle),
        other => {
            return Err(Failure::InputMessage(format!(
                "invalid template type {other:?}, must be one of: basic, semver"
            )));
        }
    }
    .map_err(|error| Failure::InputMessage(error.to_string()))?;
    let written = fbc::write::write(&config, format).map_err(|error| Failure::InputMessage(error.to_string()))?;
    print_stdout(&written)
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// FBC directory
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Output format (only `mermaid`)
    #[arg(long, default_value = "mermaid")]
    format: String,
    /// Style deprecated and skipped bundles the way OLM v0 resolves them
    #[arg(long)]
    draw_v0_semantics: bool,
    /// Drop edges below this bundle
    #[arg(long, value_name = "BUNDLE")]
    minimum_edge: Option<String>,
    /// Only this package
    #[arg(short = 'p', long, value_name = "PACKAGE")]
    package_name: Option<String>,
}

pub fn graph(args: &GraphArgs) -> CommandResult {
    if args.format != "mermaid" {
        return Err(Failure::InputMessage(format!(
            "unknown graph format {:?}, expected mermaid",
            args.format
        )));
    }
    let config =
        fbc::load::load_dir(&args.dir).map_err(|error| Failure::InputMessage(format!("{}: {}", error.path.display(), error.message)))?;
    let options = crate::graph::mermaid::MermaidOptions {
        minimum_edge: args.minimum_edge.clone(),
        package_name: args.package_name.clone(),
        draw_v0_semantics: args.draw_v0_semantics,
    };
    let text = crate::graph::mermaid::write_mermaid(&config, &options).map_err(Failure::InputMessage)?;
    print_stdout(&text)
}
