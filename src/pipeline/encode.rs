//! Encoders: the seam where every output format plugs in.
//!
//! An encoder turns a validated package (its wire config and the linked
//! model opm's validation built from it) into files under the target's
//! directory, and then joins the parts of every package of the target.
//! Encoders do no I/O: they return [`OutputFile`]s, which `write` puts in
//! place atomically. FBC and the SQLite index (`index.db`) are the formats
//! so far; the image layouts and deploy YAML will be more implementations
//! of [`Encoder`], picked by [`OutputFormat`] in [`encode_target`].
//!
//! Why per package and not per target: a target's linked model, kept whole
//! until every format was encoded, raised the peak memory of a 1,000-bundle
//! build from 440 to 715 MiB. A package's model lives only while its
//! package is encoded; whole-target outputs (an `index.db`, a catalog
//! image) are assembled from the per-package parts in [`Encoder::finish`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use rayon::prelude::*;

use super::report::{self, Action, Reporter};
use crate::config::OutputFormat;
use crate::deploy;
use crate::diag::Diagnostic;
use crate::fbc::{self, DeclarativeConfig};
use crate::model::Model;
use crate::sqlite;

/// One file an encoder wants written, relative to the target's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// The settings of a target that change output bytes; encoders read
/// nothing else (no files, no environment).
#[derive(Debug, Clone)]
pub struct TargetSettings {
    /// The target's name, for messages.
    pub target: String,
    /// Packages whose bundles all come from package-manifest directories:
    /// their SQLite rows are the initializer's, not `opm registry add`'s.
    pub package_manifest_packages: BTreeSet<String>,
    /// The target's deployment objects, when it writes them (`olm`).
    pub deploy: Option<DeploySettings>,
}

/// What the deploy encoder reads besides the packages.
#[derive(Debug, Clone)]
pub struct DeploySettings {
    pub config_path: PathBuf,
    pub catalog: crate::config::Catalog,
    pub target: crate::config::Target,
    pub templates: deploy::Templates,
    /// The catalog icon's bytes and media type.
    pub icon: Option<(Vec<u8>, String)>,
    /// The catalog image's manifest digest, once the image is built.
    pub image_digest: Option<String>,
    /// Per bundle name, what its OLM v1 installer's RBAC is made of.
    pub bundle_facts: BTreeMap<String, deploy::BundleFacts>,
}

/// One package that passed every check: what opm writes (`config`) and
/// the linked model opm's validation built from it (`model`). Only the
/// gate in `pipeline` makes one, so an encoder may assume both are valid.
pub struct ValidPackage<'a> {
    pub config: &'a DeclarativeConfig,
    pub model: Model,
    /// What the loaders saw that the model does not keep (manifest order).
    pub source_order: &'a sqlite::SourceOrder,
}

/// An output format.
pub(crate) trait Encoder: Sync {
    /// What one package contributes.
    type Part: Send;

    fn encode_package(&self, package: &ValidPackage, settings: &TargetSettings) -> Result<Self::Part, EncodeError>;

    /// Joins the packages' parts (in package order) into the target's files.
    fn finish(&self, parts: Vec<Self::Part>, settings: &TargetSettings) -> Result<Vec<OutputFile>, EncodeError>;
}

/// An encoder that could not encode a valid package: a bug or a limit of
/// the format, never the user's input (that was checked before).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode package `{package}` as {format}: {message}")]
pub struct EncodeError {
    pub package: String,
    pub format: &'static str,
    pub message: String,
}

/// The File-Based Catalog, one `catalog.json` or `catalog.yaml` per
/// package under `catalog/`, byte for byte as opm writes it.
pub(crate) struct FbcEncoder {
    pub format: fbc::write::Format,
}

/// The directory of a target that holds its File-Based Catalog.
pub const FBC_DIR: &str = "catalog";

impl Encoder for FbcEncoder {
    type Part = Vec<OutputFile>;

    fn encode_package(&self, package: &ValidPackage, _settings: &TargetSettings) -> Result<Vec<OutputFile>, EncodeError> {
        let files = fbc::write::write_fs(package.config, self.format).map_err(|error| EncodeError {
            package: package.model.packages.keys().next().cloned().unwrap_or_default(),
            format: self.name(),
            message: error.to_string(),
        })?;
        Ok(files
            .into_iter()
            .map(|(relative, text)| OutputFile {
                path: PathBuf::from(FBC_DIR).join(relative),
                bytes: text.into_bytes(),
            })
            .collect())
    }

    fn finish(&self, parts: Vec<Vec<OutputFile>>, _settings: &TargetSettings) -> Result<Vec<OutputFile>, EncodeError> {
        Ok(parts.into_iter().flatten().collect())
    }
}

impl FbcEncoder {
    fn name(&self) -> &'static str {
        match self.format {
            fbc::write::Format::Json => OutputFormat::FbcJson.name(),
            fbc::write::Format::Yaml => OutputFormat::FbcYaml.name(),
        }
    }
}

/// The legacy SQLite index, `index.db` at the target's root: each
/// package's rows are computed in parallel, then inserted into one
/// database in package order.
pub(crate) struct SqliteEncoder;

/// The file of a target that holds its SQLite index.
pub const SQLITE_FILE: &str = "index.db";

impl Encoder for SqliteEncoder {
    type Part = Vec<sqlite::PackageRows>;

    fn encode_package(&self, package: &ValidPackage, settings: &TargetSettings) -> Result<Vec<sqlite::PackageRows>, EncodeError> {
        let package_name = package.model.packages.keys().next().cloned().unwrap_or_default();
        let loader = if settings.package_manifest_packages.contains(&package_name) {
            sqlite::Loader::Directory
        } else {
            sqlite::Loader::Image
        };
        sqlite::package_rows(package.config, &package.model, package.source_order, loader).map_err(|error| EncodeError {
            package: package_name,
            format: OutputFormat::Sqlite.name(),
            message: error.to_string(),
        })
    }

    fn finish(&self, parts: Vec<Vec<sqlite::PackageRows>>, _settings: &TargetSettings) -> Result<Vec<OutputFile>, EncodeError> {
        let packages: Vec<sqlite::PackageRows> = parts.into_iter().flatten().collect();
        let bytes = sqlite::write_index(&packages).map_err(|error| EncodeError {
            package: String::new(),
            format: OutputFormat::Sqlite.name(),
            message: error.to_string(),
        })?;
        Ok(vec![OutputFile {
            path: PathBuf::from(SQLITE_FILE),
            bytes,
        }])
    }
}

/// Why a target could not be encoded.
#[derive(Debug)]
pub(crate) enum TargetFailure {
    /// opm's model validation rejected packages (one message per package,
    /// worded as opm words it).
    Invalid(Vec<String>),
    Encode(EncodeError),
    /// The deployment objects did not render or check.
    Deploy(Vec<Diagnostic>),
}

/// The gate, then every format: validates each package with opm's model
/// rules and, when `formats` is not empty, encodes it while its model is
/// at hand. Packages run in parallel; results keep package order.
pub(crate) fn encode_target(
    packages: &[DeclarativeConfig],
    source_orders: &[sqlite::SourceOrder],
    formats: &[OutputFormat],
    settings: &TargetSettings,
    reporter: &dyn Reporter,
) -> Result<Vec<OutputFile>, TargetFailure> {
    let no_order = sqlite::SourceOrder::default();
    let per_package: Vec<Result<EncodedPackage, String>> = packages
        .par_iter()
        .enumerate()
        .map(|(package_idx, config)| {
            let source_order = source_orders.get(package_idx).unwrap_or(&no_order);
            let package_name = config.packages.first().map_or("", |package| package.name.as_str());
            let action = Action::EncodePackage {
                target: &settings.target,
                package: package_name,
            };
            report::action(reporter, &action, || {
                let model = crate::model::validate_config(config)?;
                let facts = if settings.deploy.is_some() {
                    deploy::PackageFacts::from_model(&model)
                } else {
                    Vec::new()
                };
                let package = ValidPackage {
                    config,
                    model,
                    source_order,
                };
                Ok((
                    formats.iter().map(|format| encode_package(*format, &package, settings)).collect(),
                    facts,
                ))
            })
        })
        .collect();
    let mut failures = Vec::new();
    let mut parts_by_package = Vec::new();
    let mut package_facts = Vec::new();
    for result in per_package {
        match result {
            Ok((parts, facts)) => {
                parts_by_package.push(parts);
                package_facts.extend(facts);
            }
            Err(message) => failures.push(message),
        }
    }
    if !failures.is_empty() {
        return Err(TargetFailure::Invalid(failures));
    }
    let mut files = finish_target(formats, parts_by_package, settings).map_err(TargetFailure::Encode)?;
    if let Some(deploy_settings) = &settings.deploy {
        files.extend(encode_deploy(deploy_settings, &package_facts).map_err(TargetFailure::Deploy)?);
    }
    Ok(files)
}

/// The deployment YAML of a target, under `deploy/`: rendered from the
/// validated packages and the target's settings, every file checked.
fn encode_deploy(settings: &DeploySettings, packages: &[deploy::PackageFacts]) -> Result<Vec<OutputFile>, Vec<Diagnostic>> {
    let Some(deploy_config) = &settings.target.deploy else {
        return Ok(Vec::new());
    };
    let input = deploy::DeployInput {
        config_path: &settings.config_path,
        catalog: &settings.catalog,
        target: &settings.target,
        deploy: deploy_config,
        icon: settings
            .icon
            .as_ref()
            .map(|(bytes, media_type)| (bytes.as_slice(), media_type.clone())),
        image_digest: settings.image_digest.as_deref(),
        templates: &settings.templates,
        packages,
        bundles: &settings.bundle_facts,
    };
    let files = deploy::render_target(&input)?;
    Ok(files
        .into_iter()
        .map(|file| OutputFile {
            path: file.path,
            bytes: file.text.into_bytes(),
        })
        .collect())
}

/// One package's parts and what deploy needs of its model.
type EncodedPackage = (Vec<PackageParts>, Vec<deploy::PackageFacts>);

/// One package's parts, one entry per format, in the target's format order.
enum PackageParts {
    Fbc(Result<Vec<OutputFile>, EncodeError>),
    Sqlite(Result<Vec<sqlite::PackageRows>, EncodeError>),
}

/// The FBC encoder of `fbc-json` or `fbc-yaml`; `None` for the other
/// formats.
fn fbc_encoder(format: OutputFormat) -> Option<FbcEncoder> {
    let format = match format {
        OutputFormat::FbcJson => fbc::write::Format::Json,
        OutputFormat::FbcYaml => fbc::write::Format::Yaml,
        OutputFormat::Sqlite => return None,
    };
    Some(FbcEncoder { format })
}

fn encode_package(format: OutputFormat, package: &ValidPackage, settings: &TargetSettings) -> PackageParts {
    match format {
        OutputFormat::Sqlite => PackageParts::Sqlite(SqliteEncoder.encode_package(package, settings)),
        OutputFormat::FbcJson | OutputFormat::FbcYaml => match fbc_encoder(format) {
            Some(encoder) => PackageParts::Fbc(encoder.encode_package(package, settings)),
            None => PackageParts::Fbc(Ok(Vec::new())),
        },
    }
}

fn finish_target(
    formats: &[OutputFormat],
    parts_by_package: Vec<Vec<PackageParts>>,
    settings: &TargetSettings,
) -> Result<Vec<OutputFile>, EncodeError> {
    let mut files = Vec::new();
    // Transpose: each format gets its parts in package order.
    let mut by_format: Vec<Vec<PackageParts>> = formats.iter().map(|_| Vec::new()).collect();
    for package_parts in parts_by_package {
        for (format_idx, part) in package_parts.into_iter().enumerate() {
            by_format[format_idx].push(part);
        }
    }
    for (format, parts) in formats.iter().zip(by_format) {
        match format {
            OutputFormat::FbcJson | OutputFormat::FbcYaml => {
                let mut fbc_parts = Vec::new();
                for part in parts {
                    if let PackageParts::Fbc(result) = part {
                        fbc_parts.push(result?);
                    }
                }
                if let Some(encoder) = fbc_encoder(*format) {
                    files.extend(encoder.finish(fbc_parts, settings)?);
                }
            }
            OutputFormat::Sqlite => {
                let mut sqlite_parts = Vec::new();
                for part in parts {
                    if let PackageParts::Sqlite(result) = part {
                        sqlite_parts.push(result?);
                    }
                }
                files.extend(SqliteEncoder.finish(sqlite_parts, settings)?);
            }
        }
    }
    Ok(files)
}
