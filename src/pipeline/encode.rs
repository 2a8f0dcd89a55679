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

/// A target's `index.db`, created in its staging directory before the
/// first package and written by a thread of its own while the build goes
/// on, each valid package's rows as it passes the gate: packages are
/// finished one at a time in catalog order,
/// and their inserts (a tenth of a cold 10,000-bundle build's CPU) no
/// longer wait in that line. Rows go over a short queue, so at most a
/// few packages' rows are in memory, and in the order sent, which decides
/// the rowids (and so the bytes).
pub(crate) struct SqliteIndex {
    /// The staged file.
    pub path: PathBuf,
    /// `None` once finished.
    queue: std::sync::Mutex<Option<std::sync::mpsc::SyncSender<Vec<sqlite::PackageRows>>>>,
    writer: std::sync::Mutex<Option<std::thread::JoinHandle<Result<sqlite::IndexWriter, EncodeError>>>>,
}

/// Packages' rows queued for the writer thread.
const QUEUED_PACKAGES: usize = 1;

impl SqliteIndex {
    /// Starts the index of a target at `path` (reserved by `output`).
    pub fn create(path: PathBuf) -> Result<SqliteIndex, EncodeError> {
        let mut writer = sqlite::IndexWriter::create(&path).map_err(|error| sqlite_error(String::new(), &error))?;
        let (queue, rows) = std::sync::mpsc::sync_channel::<Vec<sqlite::PackageRows>>(QUEUED_PACKAGES);
        let thread = std::thread::Builder::new()
            .name("index.db".to_string())
            .spawn(move || {
                let _doing = crate::memory::doing(format_args!("writing index.db"));
                for package in rows.iter().flatten() {
                    // What is in the file is of no use now; the build fails.
                    writer.add(&package).map_err(|error| sqlite_error(package.name.clone(), &error))?;
                }
                Ok(writer)
            })
            .map_err(|error| EncodeError {
                package: String::new(),
                format: OutputFormat::Sqlite.name(),
                message: format!("cannot start the thread that writes index.db: {error}"),
            })?;
        Ok(SqliteIndex {
            path,
            queue: std::sync::Mutex::new(Some(queue)),
            writer: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Queues a valid package's rows. Packages of one target come one at
    /// a time, in the catalog's order (`PackageRun::packages`). A failure
    /// of an earlier package's inserts is reported here or by `finish`.
    pub fn add(&self, rows: Vec<sqlite::PackageRows>) -> Result<(), EncodeError> {
        let queue = self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(sender) = queue.as_ref() else {
            return Ok(());
        };
        if sender.send(rows).is_ok() {
            return Ok(());
        }
        // The writer stopped: its error says why.
        drop(queue);
        self.join().map(drop)
    }

    /// Waits for every insert, checks the whole index and commits it.
    pub fn finish(&self) -> Result<(), EncodeError> {
        let Some(writer) = self.join()? else {
            return Ok(());
        };
        writer.finish().map_err(|error| sqlite_error(String::new(), &error))?;
        if let Ok(file) = std::fs::File::open(&self.path) {
            crate::output::start_writeback(&file);
        }
        Ok(())
    }

    /// Ends the queue and waits for the writer; `None` when an earlier
    /// call took it.
    fn join(&self) -> Result<Option<sqlite::IndexWriter>, EncodeError> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let thread = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let Some(thread) = thread else {
            return Ok(None);
        };
        match thread.join() {
            Ok(written) => written.map(Some),
            Err(_) => Err(EncodeError {
                package: String::new(),
                format: OutputFormat::Sqlite.name(),
                message: "internal error: the thread that writes index.db panicked".to_string(),
            }),
        }
    }
}

impl Drop for SqliteIndex {
    /// A build that stops early still waits for its writer, which closes
    /// the file before the staging directory goes.
    fn drop(&mut self) {
        let _ = self.join();
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

#[cfg(test)]
mod tests {
    use super::SqliteIndex;
    use crate::sqlite::PackageRows;

    fn package(name: &str) -> PackageRows {
        PackageRows {
            name: name.to_string(),
            default_channel: None,
            bundles: Vec::new(),
            channels: Vec::new(),
        }
    }

    #[test]
    fn the_index_writer_keeps_the_order_sent_and_reports_a_failed_insert() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.db");
        let index = SqliteIndex::create(path.clone()).unwrap();
        for name in ["zeta", "alpha", "mid"] {
            index.add(vec![package(name)]).unwrap();
        }
        index.finish().unwrap();
        let connection = rusqlite::Connection::open(&path).unwrap();
        let mut statement = connection.prepare("select name from package order by rowid").unwrap();
        let names: Vec<String> = statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(names, ["zeta", "alpha", "mid"]);

        // A package inserted twice breaks the table's key: the writer
        // stops, and a later add or the finish says which package.
        let path = dir.path().join("broken.db");
        let index = SqliteIndex::create(path).unwrap();
        let mut failure = None;
        for _ in 0..8 {
            if let Err(error) = index.add(vec![package("twice")]) {
                failure = Some(error);
                break;
            }
        }
        let error = failure.or_else(|| index.finish().err()).expect("the second insert fails");
        assert_eq!(error.package, "twice");
        assert!(error.message.contains("package"), "{}", error.message);
        assert!(index.finish().is_ok(), "a second finish has nothing left to do");
    }
}
