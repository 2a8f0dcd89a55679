//! Encoders: the seam where every output format plugs in.
//!
//! An encoder turns a validated package (its wire config and the linked
//! model opm's validation built from it) into files under the target's
//! directory, and then joins the parts of every package of the target.
//! Encoders do no I/O: they return [`OutputFile`]s, which `write` puts in
//! place atomically. FBC and the SQLite index (`index.db`) are the formats
//! so far, picked by [`OutputFormat`] in [`encode_package`].
//!
//! A package's files are staged as soon as it is encoded, so a target
//! never holds every package's bytes. The one exception to "no I/O" is
//! `index.db`, a single file made of every package: its rows go into
//! [`SqliteIndex`], a database SQLite writes straight into the file
//! `output` reserved in the target's staging directory, as each package
//! passes the gate (in package order). Kept in memory, the index and its
//! copies made a 1,000-bundle build hold 510 MiB.
//!
//! Why per package and not per target: a target's linked model, kept whole
//! until every format was encoded, raised the peak memory of a 1,000-bundle
//! build from 440 to 715 MiB. A package's model lives only while its
//! package is encoded; whole-target outputs (an `index.db`, a catalog
//! image) are assembled from the per-package parts in [`Encoder::finish`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::report::{self, Action, Reporter};
use crate::config::OutputFormat;
use crate::deploy;
use crate::diag::Diagnostic;
use crate::fbc::{self, DeclarativeConfig};
use crate::model::Model;
use crate::model::property::Objects;
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
    /// Packages whose channels come from opm's semver add modes: their
    /// SQLite rows are those `opm registry add --mode semver` leaves.
    pub semver_add_mode_packages: BTreeSet<String>,
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
/// package's rows, which [`SqliteIndex`] inserts in package order.
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
        let writer = if settings.semver_add_mode_packages.contains(&package_name) {
            sqlite::ChannelWriter::SemverGraph
        } else {
            sqlite::ChannelWriter::ReplacesChain
        };
        sqlite::package_rows(package.config, &package.model, package.source_order, loader, writer).map_err(|error| EncodeError {
            package: package_name,
            format: OutputFormat::Sqlite.name(),
            message: error.to_string(),
        })
    }
}

/// A target's `index.db` while the build runs: created in the target's
/// staging directory before the first package, each valid package's rows
/// added as it passes the gate, committed after the last.
pub(crate) struct SqliteIndex {
    /// The staged file.
    pub path: PathBuf,
    /// `None` once finished or after a failure.
    writer: std::sync::Mutex<Option<sqlite::IndexWriter>>,
}

impl SqliteIndex {
    /// Starts the index of a target at `path` (reserved by `output`).
    pub fn create(path: PathBuf) -> Result<SqliteIndex, EncodeError> {
        let writer = sqlite::IndexWriter::create(&path).map_err(|error| sqlite_error(String::new(), &error))?;
        Ok(SqliteIndex {
            path,
            writer: std::sync::Mutex::new(Some(writer)),
        })
    }

    /// Inserts a valid package's rows. Packages of one target come one
    /// at a time, in the catalog's order (`PackageRun::packages`).
    pub fn add(&self, rows: &[sqlite::PackageRows]) -> Result<(), EncodeError> {
        let mut writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(open) = writer.as_mut() else {
            return Ok(());
        };
        for package in rows {
            if let Err(error) = open.add(package) {
                // What is in the file is of no use now; the build fails.
                *writer = None;
                return Err(sqlite_error(package.name.clone(), &error));
            }
        }
        Ok(())
    }

    /// Checks the whole index and commits it.
    pub fn finish(&self) -> Result<(), EncodeError> {
        let writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        match writer {
            Some(writer) => {
                writer.finish().map_err(|error| sqlite_error(String::new(), &error))?;
                if let Ok(file) = std::fs::File::open(&self.path) {
                    crate::output::start_writeback(&file);
                }
                Ok(())
            }
            None => Ok(()),
        }
    }
}

fn sqlite_error(package: String, error: &sqlite::SqliteError) -> EncodeError {
    EncodeError {
        package,
        format: OutputFormat::Sqlite.name(),
        message: error.to_string(),
    }
}

/// Why a package could not be encoded.
#[derive(Debug)]
pub(crate) enum PackageFailure {
    /// opm's model validation rejected it (worded as opm words it).
    Invalid(String),
    Encode(EncodeError),
}

/// One valid package in a target's formats: the files it adds to the
/// target (FBC; written at once, so no target holds every package's
/// files), and its SQLite rows, for the target's [`SqliteIndex`].
pub(crate) struct EncodedPackage {
    pub files: Vec<OutputFile>,
    pub sqlite_rows: Vec<sqlite::PackageRows>,
    /// What the target's deployment objects need of this package's model
    /// (empty unless the target writes them).
    pub deploy_facts: Vec<deploy::PackageFacts>,
    /// Its channels and heads, for the build summary.
    pub outline: Option<crate::summary::PackageOutline>,
}

/// The gate, then every format: validates the package with opm's model
/// rules and, when `formats` is not empty, encodes it while its model is
/// at hand.
pub(crate) fn encode_package(
    config: &DeclarativeConfig,
    source_order: &sqlite::SourceOrder,
    formats: &[OutputFormat],
    settings: &TargetSettings,
    (reporter, cached): (&dyn Reporter, &report::Cached),
) -> Result<EncodedPackage, PackageFailure> {
    let package_name = config.packages.first().map_or("", |package| package.name.as_str());
    let action = Action::EncodePackage {
        target: &settings.target,
        package: package_name,
    };
    report::action(reporter, &action, cached, || {
        // Only the SQLite rows read the objects' bytes; every other format
        // writes the config's own text.
        let objects = if formats.contains(&OutputFormat::Sqlite) {
            Objects::Decoded
        } else {
            Objects::Checked
        };
        let model = crate::model::validate_config(config, objects).map_err(PackageFailure::Invalid)?;
        let deploy_facts = if settings.deploy.is_some() {
            deploy::PackageFacts::from_model(&model)
        } else {
            Vec::new()
        };
        let outline = model.packages.values().next().map(crate::summary::PackageOutline::from_model);
        let package = ValidPackage {
            config,
            model,
            source_order,
        };
        let mut encoded = EncodedPackage {
            files: Vec::new(),
            sqlite_rows: Vec::new(),
            deploy_facts,
            outline,
        };
        for format in formats {
            match fbc_encoder(*format) {
                Some(encoder) => encoded
                    .files
                    .extend(encoder.encode_package(&package, settings).map_err(PackageFailure::Encode)?),
                None => encoded
                    .sqlite_rows
                    .extend(SqliteEncoder.encode_package(&package, settings).map_err(PackageFailure::Encode)?),
            }
        }
        Ok(encoded)
    })
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

/// The deployment YAML of a target, under `deploy/`: rendered from every
/// valid package's facts and the target's settings, each file checked.
/// Its problems are the user's (a template, a value): diagnostics.
pub(crate) fn encode_deploy(settings: &DeploySettings, packages: &[deploy::PackageFacts]) -> Result<Vec<OutputFile>, Vec<Diagnostic>> {
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
