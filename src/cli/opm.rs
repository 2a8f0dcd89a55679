//! The opm-compatible commands: `render`, `validate DIR` and `template`
//! (`graph`'s mermaid is in `graph.rs`). Their output is byte for byte what opm prints, so they double as
//! the conformance suite's entry points. Errors carry opm's Go error text.
//! What a reference names and how bundles and images are loaded is
//! [`crate::source`]'s; this module wires flags and prints.

use std::path::PathBuf;

use clap::Args;

use super::{CommandResult, Failure, GlobalArgs, print_stdout};
use crate::config::{Config, MigrateLevel};
use crate::encoding::json::{self, Value};
use crate::fbc::write::Format;
use crate::fbc::{self, DeclarativeConfig};
use crate::source::pulled::{FetchError, RenderImages};
use crate::source::{self, BundleOptions, LocalImages, RenderReference, SourceError, TemplateVars};

#[derive(Debug, Args)]
pub(super) struct RenderArgs {
    /// Bundle directories, FBC directories, opm SQLite indexes (index.db), or bundle image references
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
pub(super) struct OutputArgs {
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
pub(super) struct LocalImageArgs {
    /// Treat image REF as the bundle image built from DIR (offline rendering)
    #[arg(long = "local-image", value_name = "REF=DIR")]
    local_images: Vec<String>,
}

impl LocalImageArgs {
    /// `--local-image` directories, else images pulled on first use (from
    /// a registry through registries.conf's mirrors, or an OCI layout).
    fn resolver(&self) -> Result<RenderImages, Failure> {
        let local = LocalImages::from_pairs(&self.local_images).map_err(|error| Failure::InputMessage(error.to_string()))?;
        let registries = crate::registry::mirrors::Registries::load()
            .map_err(|message| Failure::InputMessage(format!("cannot read registries.conf: {message}")))?;
        let settings = crate::registry::PullSettings {
            registries,
            ..crate::registry::PullSettings::default()
        };
        RenderImages::new(local, settings, std::path::Path::new("."))
            .map_err(|error| Failure::Other(format!("cannot make a temp dir: {error}")))
    }
}

pub(super) fn render(global: &GlobalArgs, args: &RenderArgs) -> CommandResult {
    // Peak RSS: freed pages go back at once (see `memory`).
    super::memory::purge_freed_memory_at_once();
    let format = args.output.format()?;
    let migrate_level = if args.migrate {
        MigrateLevel::BundleObjectToCsvMetadata
    } else {
        match &args.migrate_level {
            None => MigrateLevel::None,
            Some(level) => MigrateLevel::parse(level).ok_or_else(|| Failure::InputMessage(format!("unknown migration level {level:?}")))?,
        }
    };
    let local_images = args.images.resolver()?;
    if let [text] = args.refs.as_slice()
        && let Ok(RenderReference::SqliteIndex(path)) = RenderReference::classify(text, &local_images)
    {
        return render_index(text, &path, format, migrate_level);
    }
    if let [text] = args.refs.as_slice()
        && let Ok(RenderReference::Catalog(dir)) = RenderReference::classify(text, &local_images)
        && let Some(spooled) = render_catalog_spooled(&dir, format, migrate_level)
    {
        return copy_stdout(spooled);
    }
    // The project, read only when a bundle directory has `.j2` files:
    // `None` until then, `Some(None)` outside a project.
    let mut project: Option<Option<Config>> = None;
    let mut combined = DeclarativeConfig::default();
    for text in &args.refs {
        let reference = RenderReference::classify(text, &local_images).map_err(|error| render_failure(text, error))?;
        if project.is_none()
            && let Some(dir) = reference.bundle_dir()
            && !source::templated_files(dir).is_empty()
        {
            project = Some(project_config(global)?);
        }
        let options = BundleOptions {
            images: &local_images,
            image_ref_template: args.alpha_image_ref_template.as_deref(),
            template_vars: project.as_ref().and_then(Option::as_ref).map(|config| TemplateVars {
                vars: &config.vars,
                root: &config.root,
            }),
        };
        let config = source::render_reference(&reference, &options).map_err(|error| render_failure(text, error))?;
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

/// `render DIR` a package directory at a time (`fbc::spool`); `None` when
/// only the whole-catalog path gives opm's answer (an error, say).
fn render_catalog_spooled(dir: &std::path::Path, format: Format, migrate_level: MigrateLevel) -> Option<fbc::spool::Spooled> {
    let migrate = migrate_level == MigrateLevel::BundleObjectToCsvMetadata;
    let prepare = |bundle: &mut fbc::Bundle| {
        if migrate {
            crate::load::migrate_bundle_to_csv_metadata(bundle).map_err(|error| error.to_string())?;
        }
        Ok(())
    };
    fbc::spool::render_dir(dir, format, &prepare)
}

fn copy_stdout(spooled: fbc::spool::Spooled) -> CommandResult {
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match spooled.copy_to(&mut stdout) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(Failure::Other(format!("cannot write to stdout: {error}"))),
    }
}

/// `render index.db`: checked and validated first, then printed one bundle
/// at a time (package and channels first, as opm's writer orders them), so
/// memory holds one bundle's manifests however big the index is.
fn render_index(text: &str, path: &std::path::Path, format: Format, migrate_level: MigrateLevel) -> CommandResult {
    let failure = |error: crate::sqlite::ReadError| render_failure(text, SourceError::Index(error));
    let write = |config: &DeclarativeConfig| -> CommandResult {
        let written = fbc::write::write(config, format).map_err(|error| Failure::InputMessage(error.to_string()))?;
        print_stdout(&written)
    };
    let index = crate::sqlite::IndexDb::open(path, crate::sqlite::Dependencies::AsOpm).map_err(failure)?;
    for name in index.package_names() {
        let mut config = index.package_without_manifests(&name).map_err(failure)?;
        let bundles = std::mem::take(&mut config.bundles);
        write(&config)?;
        for mut bundle in bundles {
            index.complete_bundle(&mut bundle).map_err(failure)?;
            if migrate_level == MigrateLevel::BundleObjectToCsvMetadata {
                crate::load::migrate_bundle_to_csv_metadata(&mut bundle)
                    .map_err(|error| Failure::InputMessage(format!("migrate: {error}")))?;
            }
            write(&DeclarativeConfig {
                bundles: vec![bundle],
                ..DeclarativeConfig::default()
            })?;
        }
    }
    Ok(())
}

/// The project `render` runs in: `--config`, else `./catalog.toml` when it
/// exists; `None` outside a project.
fn project_config(global: &GlobalArgs) -> Result<Option<Config>, Failure> {
    let path = match &global.config {
        Some(path) => path.clone(),
        None => {
            let path = PathBuf::from(crate::config::FILE_NAME);
            if !path.exists() {
                return Ok(None);
            }
            path
        }
    };
    crate::config::load(&path).map(Some).map_err(Failure::Input)
}

fn render_failure_text(reference: &str, error: SourceError) -> String {
    format!("render reference {reference:?}: {error}")
}

/// opm's `render reference "<ref>": ` before the error; diagnostics of a
/// templated bundle as they are.
fn render_failure(reference: &str, error: SourceError) -> Failure {
    match error {
        SourceError::Templated(diagnostics) => Failure::Input(diagnostics),
        // The registry or the machine failed, not the input (exit 2).
        SourceError::Fetch(error @ (FetchError::Pull(_) | FetchError::Cache { .. })) => {
            Failure::Other(format!("render reference {reference:?}: {error}"))
        }
        SourceError::TemplatedBundle { .. } => Failure::InputMessage(format!(
            "render reference {reference:?}: {error}\nhint: run `catbuild render` in the project's directory, or pass `--config PATH`, to render them with its `[vars]`"
        )),
        other => Failure::InputMessage(format!("render reference {reference:?}: {other}")),
    }
}

#[derive(Debug, Args)]
pub(super) struct MigrateArgs {
    /// An opm SQLite index (index.db)
    #[arg(value_name = "INDEX_DB")]
    index: PathBuf,
    /// Directory to write: one `<package>/catalog.<json|yaml>` per package; must not exist or be empty
    #[arg(value_name = "OUT_DIR")]
    out: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
}

/// `migrate index.db OUT`: what `opm migrate` (v1.73.0) writes for an
/// index, one file per package. Written into a temp dir beside `OUT` and
/// renamed into place, so a failure leaves no half-written `OUT`.
pub(super) fn migrate(args: &MigrateArgs) -> CommandResult {
    let format = args.output.format()?;
    let has_entries = match fs_err::read_dir(&args.out) {
        Ok(mut entries) => entries.next().is_some(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
        Err(error) => return Err(Failure::Other(error.to_string())),
    };
    if has_entries {
        return Err(Failure::InputMessage(format!(
            "output dir {:?} must be empty",
            args.out.display().to_string()
        )));
    }
    let text = args.index.display().to_string();
    let failure = |error: crate::sqlite::ReadError| {
        Failure::InputMessage(format!(
            "render catalog image: {}",
            render_failure_text(&text, SourceError::Index(error))
        ))
    };
    let index = crate::sqlite::IndexDb::open(&args.index, crate::sqlite::Dependencies::AsOpm).map_err(failure)?;
    let absolute = std::path::absolute(&args.out).map_err(|error| Failure::Other(error.to_string()))?;
    let parent = absolute.parent().unwrap_or(&absolute).to_path_buf();
    fs_err::create_dir_all(&parent).map_err(|error| Failure::Other(error.to_string()))?;
    let staging = tempfile::Builder::new()
        .prefix(".catbuild-migrate-")
        .tempdir_in(&parent)
        .map_err(|error| Failure::Other(format!("cannot create a temp dir in `{}`: {error}", parent.display())))?;
    for name in index.package_names() {
        let config = index.package(&name).map_err(failure)?;
        let written = fbc::write::write(&config, format).map_err(|error| Failure::InputMessage(error.to_string()))?;
        let dir = staging.path().join(&name);
        fs_err::create_dir_all(&dir).map_err(|error| Failure::Other(error.to_string()))?;
        fs_err::write(dir.join(format!("catalog.{}", format.extension())), written).map_err(|error| Failure::Other(error.to_string()))?;
    }
    if absolute.exists() {
        // Empty (checked above): rename cannot replace it otherwise.
        fs_err::remove_dir(&absolute).map_err(|error| Failure::Other(error.to_string()))?;
    }
    let staged = staging.keep();
    fs_err::rename(&staged, &absolute).map_err(|error| Failure::Other(error.to_string()))?;
    Ok(())
}

#[derive(Debug, Args)]
pub(super) struct ValidateArgs {
    /// An FBC directory to validate like `opm validate`; without it, the project
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// opm's machine-readable result: json or yaml (FBC directories only)
    #[arg(short = 'o', long = "output", value_name = "FORMAT")]
    output: Option<String>,
}

/// `opm validate DIR`: the whole catalog converted to opm's model and
/// validated. Package directory by package directory first (in parallel),
/// so memory follows the largest package, not the catalog (a 1.2 GB
/// catalog took 7.1 GB loaded whole). That is the same verdict when every
/// directory passes and no package spans two of them; otherwise the whole
/// catalog is loaded once more, for opm's exact first error.
fn validate_dir(dir: &std::path::Path) -> Result<(), String> {
    if validate_by_package_dir(dir) {
        return Ok(());
    }
    fbc::load::load_dir(dir)
        .map_err(|error| format!("{}: {}", error.path.display(), error.message))
        .and_then(|config| crate::model::validate_config(&config, crate::model::property::Objects::Checked).map(|_| ()))
}

/// Whether every top-level group of `dir` loads and validates on its own,
/// with no package named in two groups.
fn validate_by_package_dir(dir: &std::path::Path) -> bool {
    use rayon::prelude::*;
    let Ok(groups) = fbc::load::top_level_groups(dir) else {
        return false;
    };
    let names: Vec<Option<std::collections::BTreeSet<String>>> = groups
        .par_iter()
        .map(|files| {
            let mut config = DeclarativeConfig::default();
            for file in files {
                config.extend(fbc::load::load_file(file).ok()?);
            }
            crate::model::validate_config(&config, crate::model::property::Objects::Checked).ok()?;
            let packages = config.packages.iter().map(|package| &package.name);
            let channels = config.channels.iter().map(|channel| &channel.package);
            let bundles = config.bundles.iter().map(|bundle| &bundle.package);
            let deprecations = config.deprecations.iter().map(|deprecation| &deprecation.package);
            Some(packages.chain(channels).chain(bundles).chain(deprecations).cloned().collect())
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for group_names in names {
        let Some(group_names) = group_names else {
            return false;
        };
        for name in group_names {
            if !seen.insert(name) {
                return false;
            }
        }
    }
    true
}

pub(super) fn validate(global: &GlobalArgs, args: &ValidateArgs) -> CommandResult {
    let Some(dir) = &args.dir else {
        return super::build::validate_project(global);
    };
    if !dir.is_dir() {
        return Err(Failure::InputMessage(format!("{:?} is not a directory", dir.display().to_string())));
    }
    // Peak RSS, as `render` (see `memory`).
    super::memory::purge_freed_memory_at_once();
    let result = validate_dir(dir);
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
pub(super) struct TemplateArgs {
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

pub(super) fn template(args: &TemplateArgs) -> CommandResult {
    let format = args.output.format()?;
    let local_images = args.images.resolver()?;
    let text = fs_err::read_to_string(&args.file).map_err(|error| Failure::Other(error.to_string()))?;
    let options = BundleOptions {
        images: &local_images,
        image_ref_template: None,
        template_vars: None,
    };
    let render_bundle = |image: &str| -> Result<DeclarativeConfig, String> {
        source::render_reference(&RenderReference::image(image), &options).map_err(|error| error.to_string())
    };
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
