//! The served catalog, read and linked once: opm's model (validated as
//! `opm serve` validates it) turned into what the gRPC calls look up (per
//! package, channel and bundle: heads, upgrade edges, the `api.Bundle`
//! fields), and the catalogd JSON Lines with each object's schema, package
//! and name for the HTTP API's filters.
//!
//! opm's `serve` refuses a catalog its model rejects (o-r `pkg/cache`
//! `Build`: `LoadFS`, `ConvertToModel`, each channel's head), so every
//! document is still decoded and the model checked before health says
//! SERVING. What is not kept is the bulk: a bundle's `olm.bundle.object`
//! data (most of a catalog's bytes) is checked as base64 and then dropped
//! from the decoded document before the model sees it; the index keeps the
//! bundle document's byte range in its file, with the file open and its
//! size and mtime taken at load, and a call that asks for the objects reads
//! and decodes that one document again. A file changed in place since the
//! load is refused, never served wrong; a file replaced by rename (as a
//! rebuild does) leaves the open one readable.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rayon::prelude::*;

use super::api;
use crate::encoding::json::{self, Value};
use crate::encoding::yaml_in::{self, DocumentSpan};
use crate::fbc::{
    self, DeclarativeConfig, PROPERTY_BUNDLE_OBJECT, PROPERTY_CSV_METADATA, PROPERTY_GVK_REQUIRED, PROPERTY_PACKAGE_REQUIRED,
};
use crate::model::{self, property};

/// A whole catalog, ready to answer.
#[derive(Debug)]
pub struct Index {
    pub packages: BTreeMap<String, PackageIndex>,
    pub metas: Metas,
    /// When this index was made: catalogd's `Last-Modified` is when it
    /// wrote `catalog.jsonl`.
    pub modified: SystemTime,
}

#[derive(Debug)]
pub struct PackageIndex {
    pub name: String,
    pub default_channel: String,
    pub deprecation: Option<String>,
    pub channels: BTreeMap<String, ChannelIndex>,
    /// One per bundle name, shared by its channels: the `api.Bundle` fields
    /// that do not depend on the channel.
    pub bundles: BTreeMap<String, Arc<BundleBase>>,
}

#[derive(Debug)]
pub struct ChannelIndex {
    pub name: String,
    pub head: String,
    pub deprecation: Option<String>,
    pub entries: BTreeMap<String, EntryIndex>,
}

/// A bundle's upgrade edges in one channel.
#[derive(Debug)]
pub struct EntryIndex {
    pub name: String,
    pub replaces: String,
    pub skips: Vec<String>,
    pub skip_range: String,
}

/// `api.Bundle` without `channelName`, `replaces`, `skips`, `skipRange`,
/// `csvJson` and `object`: the objects stay in the catalog's file, and
/// `csvJson` is made from them when asked for (most calls clear it).
#[derive(Debug)]
pub struct BundleBase {
    pub bundle: api::Bundle,
    pub objects: BundleObjects,
    pub csv: CsvJson,
}

/// Where a bundle's objects are, until a call asks for them.
#[derive(Debug)]
pub enum BundleObjects {
    None,
    /// In the bundle's document, `span` of `file`.
    InFile {
        file: Arc<SourceFile>,
        span: DocumentSpan,
    },
    /// In memory (an index.db's, or a file that is not valid UTF-8, whose
    /// decoded text has other offsets than its bytes).
    Packed(PackedObjects),
}

/// An FBC file held open while bundles of it are served, with what it was
/// at load: reading it again checks that it still is.
#[derive(Debug)]
pub struct SourceFile {
    path: PathBuf,
    file: std::fs::File,
    len: u64,
    modified: Option<SystemTime>,
}

/// Where a bundle document of a file is: by (package, bundle name).
type BundleSpans = HashMap<(String, String), (Arc<SourceFile>, DocumentSpan)>;

/// A bundle's objects (decoded manifests, JSON), length-prefixed and
/// deflated at the fastest level.
#[derive(Debug, Default)]
pub struct PackedObjects {
    packed: Vec<u8>,
}

impl PackedObjects {
    fn pack(objects: &[String]) -> PackedObjects {
        use std::io::Write as _;
        if objects.is_empty() {
            return PackedObjects::default();
        }
        let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        for object in objects {
            // Writing into a Vec cannot fail.
            let _ = encoder.write_all(&(object.len() as u64).to_le_bytes());
            let _ = encoder.write_all(object.as_bytes());
        }
        let mut packed = encoder.finish().unwrap_or_default();
        packed.shrink_to_fit();
        PackedObjects { packed }
    }

    /// The objects, as the model decoded them.
    pub fn unpack(&self) -> Vec<String> {
        use std::io::Read as _;
        if self.packed.is_empty() {
            return Vec::new();
        }
        let mut bytes = Vec::new();
        // Inflating what `pack` deflated in memory cannot fail.
        let _ = flate2::read::DeflateDecoder::new(self.packed.as_slice()).read_to_end(&mut bytes);
        let mut objects = Vec::new();
        let mut rest = bytes.as_slice();
        while let Some((len, tail)) = rest.split_first_chunk::<8>() {
            let len = usize::try_from(u64::from_le_bytes(*len)).unwrap_or(usize::MAX).min(tail.len());
            objects.push(String::from_utf8_lossy(&tail[..len]).into_owned());
            rest = &tail[len..];
        }
        objects
    }
}

/// Where a bundle's `csvJson` comes from.
#[derive(Debug)]
pub enum CsvJson {
    /// The object whose kind is ClusterServiceVersion, re-encoded (or none).
    FromObjects,
    /// Made up from `olm.csv.metadata`, for a bundle without objects: it is
    /// also the only object.
    OnlyObject(String),
    /// Made up from `olm.csv.metadata`, beside objects that hold no CSV.
    Synthesized(String),
}

/// The catalogd view: every object as one JSON line, in file walk order.
#[derive(Debug, Default)]
pub struct Metas {
    pub jsonl: Vec<u8>,
    pub objects: Vec<MetaLine>,
}

/// One object's line (`jsonl[start..end]`, newline included) and the keys
/// `/api/v1/metas` filters on (empty when the object has none).
#[derive(Debug)]
pub struct MetaLine {
    pub schema: String,
    pub package: String,
    pub name: String,
    pub start: usize,
    pub end: usize,
}

/// Which objects get a catalogd JSON line: all of them for the HTTP API,
/// else only those of other schemas (the experimental gRPC `GetMetas`
/// answers from them), so a gRPC-only server does not hold the catalog
/// twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaScope {
    All,
    OtherSchemas,
}

impl MetaScope {
    fn keeps(self, schema: &str) -> bool {
        self == MetaScope::All
            || ![
                fbc::SCHEMA_PACKAGE,
                fbc::SCHEMA_CHANNEL,
                fbc::SCHEMA_BUNDLE,
                fbc::SCHEMA_DEPRECATIONS,
            ]
            .contains(&schema)
    }
}

/// Why a catalog cannot be served: the file and line where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("{}{}: {message}", path.display(), line_suffix(*line))]
    Load {
        path: std::path::PathBuf,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    Model(String),
}

fn line_suffix(line: usize) -> String {
    if line == 0 { String::new() } else { format!(":{line}") }
}

impl Index {
    /// Reads an FBC directory as `opm serve` does: every file (minus
    /// `.indexignore` matches). In opm's layout (a directory per package)
    /// each package directory is read, linked and indexed on its own, in
    /// parallel, and dropped but for its index; a catalog where that does
    /// not work (a package in two directories, or an error) is read whole,
    /// which also words its errors as opm does.
    pub fn load_dir(root: &Path, scope: MetaScope) -> Result<Index, IndexError> {
        let groups = fbc::load::top_level_groups(root).map_err(load_error)?;
        raise_open_files_limit();
        if let Some(index) = Index::load_by_group(&groups, scope) {
            return Ok(index);
        }
        let files: Vec<&PathBuf> = groups.iter().flatten().collect();
        let per_file: Vec<Result<LoadedFile, IndexError>> = files.par_iter().map(|path| load_file(path, scope)).collect();
        let mut config = DeclarativeConfig::default();
        let mut metas = Metas::default();
        let mut spans = BundleSpans::new();
        for file in per_file {
            let (file_config, file_metas, file_spans) = file?;
            config.extend(file_config);
            metas.append(file_metas);
            spans.extend(file_spans);
        }
        Ok(Index {
            packages: index_packages(&config, &spans)?,
            metas,
            modified: SystemTime::now(),
        })
    }

    fn load_by_group(groups: &[Vec<PathBuf>], scope: MetaScope) -> Option<Index> {
        let parts: Vec<Option<IndexedGroup>> = groups
            .par_iter()
            .map(|files| {
                let mut config = DeclarativeConfig::default();
                let mut metas = Metas::default();
                let mut spans = BundleSpans::new();
                for file in files {
                    let (file_config, file_metas, file_spans) = load_file(file, scope).ok()?;
                    config.extend(file_config);
                    metas.append(file_metas);
                    spans.extend(file_spans);
                }
                let names = package_names(&config);
                let packages = index_packages(&config, &spans).ok()?;
                Some((names, packages, metas))
            })
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut packages = BTreeMap::new();
        let mut metas = Metas::default();
        let total: usize = parts.iter().flatten().map(|(_, _, part)| part.jsonl.len()).sum();
        metas.jsonl.reserve_exact(total);
        // Each part is dropped as soon as it is copied in.
        for part in parts {
            let (names, part_packages, part_metas) = part?;
            for name in names {
                if !seen.insert(name) {
                    return None;
                }
            }
            packages.extend(part_packages);
            metas.append(part_metas);
        }
        Some(Index {
            packages,
            metas,
            modified: SystemTime::now(),
        })
    }

    /// Reads an opm SQLite index: each package's FBC as `opm render` gives
    /// it, and the JSON lines from those objects.
    pub fn load_index_db(path: &Path) -> Result<Index, IndexError> {
        let text = path.display().to_string();
        let config = crate::sqlite::read::read_index(path, crate::sqlite::Dependencies::AsOpm).map_err(|error| IndexError::Load {
            path: path.to_path_buf(),
            line: 0,
            message: error.detail(),
        })?;
        let mut metas = Metas::default();
        let blobs = config
            .packages
            .iter()
            .map(fbc::Package::to_value)
            .chain(config.channels.iter().map(fbc::Channel::to_value))
            .chain(config.bundles.iter().map(fbc::Bundle::to_value))
            .chain(config.deprecations.iter().map(fbc::Deprecation::to_value));
        for blob in blobs {
            let blob = blob
                .into_go_map()
                .ok_or_else(|| IndexError::Model(format!("{text}: a number out of range")))?;
            let keys = MetaKeys::of(&blob);
            metas.push(keys, &json::to_compact(&blob, false));
        }
        Index::build(&config, metas)
    }

    /// Links and validates the model, then keeps what the calls need.
    pub fn build(config: &DeclarativeConfig, metas: Metas) -> Result<Index, IndexError> {
        let packages = index_packages(config, &BundleSpans::new())?;
        Ok(Index {
            packages,
            metas,
            modified: SystemTime::now(),
        })
    }

    pub fn n_bundles(&self) -> usize {
        self.packages.values().map(|package| package.bundles.len()).sum()
    }
}

/// Every file with bundles stays open while served (see the module
/// comment), so a catalog of thousands of files needs more than the usual
/// soft limit of 1,024 descriptors; Go raises it to the hard limit for
/// every program (opm too), and so does this.
fn raise_open_files_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            let _ = setrlimit(
                Resource::Nofile,
                rustix::process::Rlimit {
                    current: limit.maximum,
                    maximum: limit.maximum,
                },
            );
        }
    }
}

/// opm's model of `config`, validated, as package indexes.
fn index_packages(config: &DeclarativeConfig, spans: &BundleSpans) -> Result<BTreeMap<String, PackageIndex>, IndexError> {
    let model = model::convert_to_model(config).map_err(|error| IndexError::Model(error.to_string()))?;
    model
        .packages
        .into_par_iter()
        .map(|(name, package)| package_index(&package, spans).map(|index| (name, index)))
        .collect()
}

/// Every package name a config's blobs name.
fn package_names(config: &DeclarativeConfig) -> Vec<String> {
    let packages = config.packages.iter().map(|package| &package.name);
    let channels = config.channels.iter().map(|channel| &channel.package);
    let bundles = config.bundles.iter().map(|bundle| &bundle.package);
    let deprecations = config.deprecations.iter().map(|deprecation| &deprecation.package);
    let names: std::collections::BTreeSet<&String> = packages.chain(channels).chain(bundles).chain(deprecations).collect();
    names.into_iter().cloned().collect()
}

fn load_error(error: fbc::load::LoadError) -> IndexError {
    IndexError::Load {
        path: error.path,
        line: error.line,
        message: error.message,
    }
}

/// `schema`, `package` and `name` of an object, as catalogd indexes it.
#[derive(Debug, Default)]
struct MetaKeys {
    schema: String,
    package: String,
    name: String,
}

impl MetaKeys {
    fn of(blob: &Value) -> MetaKeys {
        let text = |key: &str| blob.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
        MetaKeys {
            schema: text("schema"),
            package: text("package"),
            name: text("name"),
        }
    }
}

impl Metas {
    fn push(&mut self, keys: MetaKeys, line: &str) {
        let start = self.jsonl.len();
        self.jsonl.extend_from_slice(line.as_bytes());
        self.jsonl.push(b'\n');
        self.objects.push(MetaLine {
            schema: keys.schema,
            package: keys.package,
            name: keys.name,
            start,
            end: self.jsonl.len(),
        });
    }

    /// Moves `other`'s lines after these.
    fn append(&mut self, other: Metas) {
        let shift = self.jsonl.len();
        self.jsonl.extend_from_slice(&other.jsonl);
        self.objects.extend(other.objects.into_iter().map(|object| MetaLine {
            start: object.start + shift,
            end: object.end + shift,
            ..object
        }));
    }

    /// `/api/v1/metas`: the lines matching every non-empty filter, in
    /// catalog order.
    pub fn select(&self, schema: &str, package: &str, name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for object in &self.objects {
            if (schema.is_empty() || object.schema == schema)
                && (package.is_empty() || object.package == package)
                && (name.is_empty() || object.name == name)
            {
                out.extend_from_slice(&self.jsonl[object.start..object.end]);
            }
        }
        out
    }
}

/// A package directory, indexed: the package names its blobs name, its
/// packages, its JSON lines.
type IndexedGroup = (Vec<String>, BTreeMap<String, PackageIndex>, Metas);

/// A file's typed blobs (objects' data dropped where [`BundleSpans`] has
/// the bundle), its objects' JSON lines, and where its bundles are.
type LoadedFile = (DeclarativeConfig, Metas, BundleSpans);

/// One FBC file: its typed blobs, and each object as catalogd re-encodes
/// it (a Go map: keys sorted, numbers as float64, compact, HTML unescaped).
fn load_file(path: &Path, scope: MetaScope) -> Result<LoadedFile, IndexError> {
    let io_error = |error: std::io::Error| IndexError::Load {
        path: path.to_path_buf(),
        line: 0,
        message: format!("{}: {error}", path.display()),
    };
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(io_error)?;
    let text = fbc::load::utf8_text(&bytes);
    // Offsets into the text are offsets into the file only when no invalid
    // UTF-8 was replaced. (Reading at an offset without moving a shared
    // file position is a unix call; elsewhere the objects stay packed.)
    let source = (cfg!(unix) && matches!(text, std::borrow::Cow::Borrowed(_))).then(|| {
        Arc::new(SourceFile {
            path: path.to_path_buf(),
            file,
            len: bytes.len() as u64,
            modified: metadata.modified().ok(),
        })
    });
    let mut config = DeclarativeConfig::default();
    let mut metas = Metas::default();
    let mut spans = BundleSpans::new();
    let (documents, document_spans) = yaml_in::decode_stream_spans(&text);
    for (idx, document) in documents.into_iter().enumerate() {
        let document = document.map_err(|error| IndexError::Load {
            path: path.to_path_buf(),
            line: error.line,
            message: error.message.clone(),
        })?;
        if document.value.is_null() {
            continue;
        }
        let fail = |message: String| IndexError::Load {
            path: path.to_path_buf(),
            line: document.line,
            message,
        };
        let mut blob = document
            .value
            .into_go_map()
            .ok_or_else(|| fail("json: unsupported value: +Inf".to_string()))?;
        let keys = MetaKeys::of(&blob);
        let is_bundle = keys.schema == fbc::SCHEMA_BUNDLE;
        if scope.keeps(&keys.schema) {
            metas.push(keys, &json::to_compact(&blob, false));
        }
        let located = match (&source, document_spans.get(idx)) {
            (Some(source), Some(span)) if is_bundle => Some((source, *span)),
            _ => None,
        };
        if located.is_some() {
            drop_object_data(&mut blob);
        }
        let n_bundles = config.bundles.len();
        fbc::load::add_blob(&mut config, blob).map_err(fail)?;
        if let (Some((source, span)), Some(bundle)) = (located, config.bundles.get(n_bundles)) {
            spans.insert((bundle.package.clone(), bundle.name.clone()), (Arc::clone(source), span));
        }
    }
    Ok((config, metas, spans))
}

/// Empties the data of each `olm.bundle.object` property of a bundle
/// document whose data is valid base64, leaving as many (empty) objects:
/// the model checks their number, never their text, and the objects are
/// read again from the file when asked for. Anything unusual (a property
/// of another shape, an `olm.csv.metadata`, whose CSV the model looks for
/// among the objects; data that is not base64) leaves the document whole,
/// so the model words its errors from the real data.
fn drop_object_data(blob: &mut Value) {
    let Value::Object(fields) = blob else { return };
    let Some((_, Value::Array(properties))) = fields.iter_mut().find(|(key, _)| key == "properties") else {
        return;
    };
    let plain = properties.iter().all(|property| match property {
        Value::Object(entries) => match entries.as_slice() {
            [(type_key, Value::String(type_)), (value_key, _)] => {
                type_key == "type" && value_key == "value" && type_ != PROPERTY_CSV_METADATA
            }
            _ => false,
        },
        _ => false,
    });
    if !plain {
        return;
    }
    for property in properties.iter_mut() {
        let Value::Object(entries) = property else { continue };
        let [(_, Value::String(type_)), (_, Value::Object(value))] = entries.as_mut_slice() else {
            continue;
        };
        if type_ != PROPERTY_BUNDLE_OBJECT {
            continue;
        }
        if let [(data_key, Value::String(data))] = value.as_mut_slice()
            && data_key == "data"
            && crate::go::base64::is_valid(data)
        {
            *data = String::new();
        }
    }
}

impl SourceFile {
    /// The text of `span`, if the file is still what was loaded.
    fn read(&self, span: DocumentSpan) -> Result<String, String> {
        let changed = || {
            format!(
                "{} changed since `catbuild serve` read it; restart the server (or serve with --watch) to serve the new catalog",
                self.path.display()
            )
        };
        let metadata = self.file.metadata().map_err(|error| format!("{}: {error}", self.path.display()))?;
        if metadata.len() != self.len || metadata.modified().ok() != self.modified {
            return Err(changed());
        }
        let mut bytes = vec![0; span.end - span.start];
        #[cfg(unix)]
        std::os::unix::fs::FileExt::read_exact_at(&self.file, &mut bytes, span.start as u64)
            .map_err(|error| format!("{}: {error}", self.path.display()))?;
        String::from_utf8(bytes).map_err(|_| changed())
    }
}

/// A bundle's objects, decoded again from its document as the model
/// decoded them (opm's `property.Parse`, then the text of each).
fn objects_from_file(file: &SourceFile, span: DocumentSpan, package: &str, name: &str) -> Result<Vec<String>, String> {
    let text = file.read(span)?;
    let changed = |detail: String| {
        format!(
            "{} changed since `catbuild serve` read it ({detail}); restart the server (or serve with --watch)",
            file.path.display()
        )
    };
    let value = yaml_in::decode_span(&text, span.json).map_err(|error| changed(error.message))?;
    let value = value.into_go_map().ok_or_else(|| changed("a number out of range".to_string()))?;
    let mut config = DeclarativeConfig::default();
    fbc::load::add_blob(&mut config, value).map_err(changed)?;
    let bundle = config
        .bundles
        .pop()
        .filter(|bundle| bundle.package == package && bundle.name == name)
        .ok_or_else(|| changed(format!("bundle {name:?} is not where it was")))?;
    let parsed = property::parse(&bundle.properties).map_err(changed)?;
    Ok(parsed
        .bundle_objects
        .iter()
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
        .collect())
}

fn package_index(package: &model::Package, spans: &BundleSpans) -> Result<PackageIndex, IndexError> {
    let mut bundles: BTreeMap<String, Arc<BundleBase>> = BTreeMap::new();
    let mut channels = BTreeMap::new();
    for channel in package.channels.values() {
        let head = channel
            .head()
            .map_err(|error| IndexError::Model(format!("package {:?}, channel {:?}: {error}", package.name, channel.name)))?;
        let mut entries = BTreeMap::new();
        for bundle in channel.bundles.values() {
            if !bundles.contains_key(&bundle.name) {
                let located = spans.get(&(package.name.clone(), bundle.name.clone()));
                let base = bundle_base(package, bundle, located)
                    .map_err(|error| IndexError::Model(format!("package {:?}, bundle {:?}: {error}", package.name, bundle.name)))?;
                bundles.insert(bundle.name.clone(), Arc::new(base));
            }
            entries.insert(
                bundle.name.clone(),
                EntryIndex {
                    name: bundle.name.clone(),
                    replaces: bundle.replaces.clone(),
                    skips: bundle.skips.clone(),
                    skip_range: bundle.skip_range.clone(),
                },
            );
        }
        channels.insert(
            channel.name.clone(),
            ChannelIndex {
                name: channel.name.clone(),
                head: head.name.clone(),
                deprecation: channel.deprecation.as_ref().map(|deprecation| deprecation.message.clone()),
                entries,
            },
        );
    }
    Ok(PackageIndex {
        name: package.name.clone(),
        default_channel: package.default_channel.clone().unwrap_or_default(),
        deprecation: package.deprecation.as_ref().map(|deprecation| deprecation.message.clone()),
        channels,
        bundles,
    })
}

/// opm's `ConvertModelBundleToAPIBundle`, minus the channel's fields.
fn bundle_base(
    package: &model::Package,
    bundle: &model::Bundle,
    located: Option<&(Arc<SourceFile>, DocumentSpan)>,
) -> Result<BundleBase, String> {
    let parsed = property::parse(&bundle.properties).map_err(|error| format!("parse properties: {error}"))?;
    if parsed.packages.len() != 1 {
        return Err(format!(
            "parse properties: expected exactly 1 property of type \"olm.package\", found {}",
            parsed.packages.len()
        ));
    }
    if parsed.csv_metadatas.len() > 1 {
        return Err(format!(
            "parse properties: expected at most 1 property of type \"olm.csv.metadata\", found {}",
            parsed.csv_metadatas.len()
        ));
    }
    let gvks = |gvks: &[property::Gvk]| -> Vec<api::GroupVersionKind> {
        gvks.iter()
            .map(|gvk| api::GroupVersionKind {
                group: gvk.group.clone(),
                version: gvk.version.clone(),
                kind: gvk.kind.clone(),
                plural: String::new(),
            })
            .collect()
    };
    let objects = match located {
        _ if bundle.objects.is_empty() => BundleObjects::None,
        Some((file, span)) => BundleObjects::InFile {
            file: Arc::clone(file),
            span: *span,
        },
        None => BundleObjects::Packed(PackedObjects::pack(&bundle.objects)),
    };
    let mut csv = CsvJson::FromObjects;
    // A bundle with `olm.csv.metadata` kept its objects' data (see
    // `drop_object_data`), so the model's CSV is the real one.
    if let [metadata] = parsed.csv_metadatas.as_slice()
        && bundle.csv_json().is_empty()
    {
        let csv_json = super::registry::synthesized_csv(package, bundle, metadata);
        csv = if bundle.objects.is_empty() {
            CsvJson::OnlyObject(csv_json)
        } else {
            CsvJson::Synthesized(csv_json)
        };
    }
    let mut dependencies = Vec::new();
    let mut required_packages = parsed.packages_required.iter();
    for property in bundle.properties.iter() {
        match property.type_.as_str() {
            PROPERTY_GVK_REQUIRED => dependencies.push(api::Dependency {
                r#type: fbc::PROPERTY_GVK.to_string(),
                value: property.value.clone(),
            }),
            PROPERTY_PACKAGE_REQUIRED => {
                // Re-encoded as an `olm.package` property (packageName,
                // version = the range), unescaped as opm's property
                // builder writes it.
                let Some(required) = required_packages.next() else { continue };
                let value = Value::Object(vec![
                    ("packageName".to_string(), Value::str(required.package_name.clone())),
                    ("version".to_string(), Value::str(required.version_range.clone())),
                ]);
                dependencies.push(api::Dependency {
                    r#type: fbc::PROPERTY_PACKAGE.to_string(),
                    value: json::to_compact(&value, false),
                });
            }
            _ => {}
        }
    }
    let properties = bundle
        .properties
        .iter()
        .filter(|property| property.type_ != PROPERTY_BUNDLE_OBJECT && property.type_ != PROPERTY_CSV_METADATA)
        .map(|property| api::Property {
            r#type: property.type_.clone(),
            value: property.value.clone(),
        })
        .collect();
    Ok(BundleBase {
        bundle: api::Bundle {
            csv_name: bundle.name.clone(),
            package_name: package.name.clone(),
            channel_name: String::new(),
            csv_json: String::new(),
            object: Vec::new(),
            bundle_path: bundle.image.clone(),
            provided_apis: gvks(&parsed.gvks),
            required_apis: gvks(&parsed.gvks_required),
            version: parsed.packages[0].version.clone(),
            skip_range: String::new(),
            dependencies,
            properties,
            replaces: String::new(),
            skips: Vec::new(),
            deprecation: bundle.deprecation.as_ref().map(|deprecation| api::Deprecation {
                message: deprecation.message.clone(),
            }),
        },
        objects,
        csv,
    })
}

impl BundleBase {
    /// The bundle's objects (read from its file again), as opm's model
    /// has them; an error when the file changed since the load.
    pub fn objects(&self) -> Result<Vec<String>, String> {
        if let CsvJson::OnlyObject(csv) = &self.csv {
            return Ok(vec![csv.clone()]);
        }
        match &self.objects {
            BundleObjects::None => Ok(Vec::new()),
            BundleObjects::InFile { file, span } => objects_from_file(file, *span, &self.bundle.package_name, &self.bundle.csv_name),
            BundleObjects::Packed(packed) => Ok(packed.unpack()),
        }
    }

    /// The CSV object as opm keeps it (keys sorted, compact), or the one
    /// made up from `olm.csv.metadata`, or empty.
    pub fn csv_json(&self) -> Result<String, String> {
        Ok(self.csv_json_of(&self.objects()?))
    }

    /// [`BundleBase::csv_json`] from the objects.
    fn csv_json_of(&self, objects: &[String]) -> String {
        match &self.csv {
            CsvJson::FromObjects => model::convert::csv_json(objects),
            CsvJson::OnlyObject(csv) | CsvJson::Synthesized(csv) => csv.clone(),
        }
    }
}

impl PackageIndex {
    /// The `api.Bundle` of `entry` in `channel`; `with_blobs` false leaves
    /// `csvJson` and `object` empty. An error when the objects' file
    /// changed since the load.
    pub fn bundle(&self, channel: &ChannelIndex, entry: &EntryIndex, with_blobs: bool) -> Result<api::Bundle, String> {
        let shared = &self.bundles[&entry.name];
        let base = &shared.bundle;
        let (csv_json, object) = if with_blobs {
            let objects = shared.objects()?;
            (shared.csv_json_of(&objects), objects)
        } else {
            (String::new(), Vec::new())
        };
        Ok(api::Bundle {
            csv_name: base.csv_name.clone(),
            package_name: base.package_name.clone(),
            channel_name: channel.name.clone(),
            csv_json,
            object,
            bundle_path: base.bundle_path.clone(),
            provided_apis: base.provided_apis.clone(),
            required_apis: base.required_apis.clone(),
            version: base.version.clone(),
            skip_range: entry.skip_range.clone(),
            dependencies: base.dependencies.clone(),
            properties: base.properties.clone(),
            replaces: entry.replaces.clone(),
            skips: entry.skips.clone(),
            deprecation: base.deprecation.clone(),
        })
    }

    pub fn provides(&self, bundle: &str, group: &str, version: &str, kind: &str) -> bool {
        self.bundles.get(bundle).is_some_and(|base| {
            base.bundle
                .provided_apis
                .iter()
                .any(|gvk| gvk.group == group && gvk.version == version && gvk.kind == kind)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_document(properties: &str) -> Value {
        json::parse(&format!(
            r#"{{"name":"b","package":"p","properties":[{properties}],"schema":"olm.bundle"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn object_data_is_dropped_only_from_plain_bundle_documents() {
        let object = r#"{"type":"olm.bundle.object","value":{"data":"e30="}}"#;
        let emptied = r#"{"type":"olm.bundle.object","value":{"data":""}}"#;
        let package = r#"{"type":"olm.package","value":{"packageName":"p","version":"1.0.0"}}"#;
        let mut blob = bundle_document(&format!("{package},{object}"));
        drop_object_data(&mut blob);
        assert_eq!(blob, bundle_document(&format!("{package},{emptied}")));
        // The model looks for the CSV among the objects of a bundle with
        // `olm.csv.metadata`: that bundle keeps them.
        let metadata = r#"{"type":"olm.csv.metadata","value":{}}"#;
        for kept in [
            format!("{object},{metadata}"),
            r#"{"type":"olm.bundle.object","value":{"data":"not base64"}}"#.to_string(),
            r#"{"type":"olm.bundle.object","value":{"data":"e30=","extra":1}}"#.to_string(),
            r#"{"type":"olm.bundle.object","value":{"data":"e30="},"x":1}"#.to_string(),
        ] {
            let mut blob = bundle_document(&kept);
            let before = blob.clone();
            drop_object_data(&mut blob);
            assert_eq!(blob, before, "{kept}");
        }
    }
}
