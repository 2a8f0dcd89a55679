//! Reading an opm `index.db` back into File-Based Catalogs: what opm's
//! `render index.db` and `migrate index.db` print (v1.73.0 and v1.26.5:
//! `pkg/sqlite/query.go` `listBundlesQuery`, `pkg/sqlite/conversion.go`
//! `ToModel`, `pkg/api/api_to_model.go`, `alpha/action/render.go`; spec D.7).
//!
//! The database is opened read-only and never migrated (opm migrates it in
//! place; catbuild reads only the final schema, version 13, and says so for
//! any other). Reading is two passes, so memory stays at one package's
//! manifests whatever the size of the index:
//!
//! 1. [`IndexDb::open`] reads every small table (packages, channels,
//!    entries, properties, dependencies, related images, bundle names and
//!    versions, not the manifests), checks that the rows hang together
//!    (every problem names the table and row), links opm's model and
//!    validates it as opm's `ToModel` does; then reads each bundle's
//!    manifests once, keeping none, so a damaged one is refused before
//!    anything is printed.
//! 2. [`IndexDb::package`] reads one package's manifests (`operatorbundle.bundle`)
//!    and gives that package's FBC, bundles post-processed as `opm render`
//!    does.
//!
//! What opm's conversion reads from the rows (spec D.5, D.7): the `replaces`
//! of a bundle in a channel is the entry its chain row points at (the chain
//! starts at the entries of least depth and follows `replaces`); every
//! other row with a `replaces` is a skip; rows naming bundles the index
//! does not have (skipped names) vanish; bundles with an `olm.deprecated`
//! property are dropped; `olm.gvk` properties and dependencies are rebuilt
//! from their group, version and kind; an `olm.package` dependency becomes
//! `olm.package.required`; other dependency types are dropped (or kept as
//! their FBC properties with [`Dependencies::Keep`]); `olm.bundle.object`s
//! are the manifests in stored order; relatedImages are the CSV's plus every
//! `related_image` row not already listed; the package icon is the first
//! icon of the default channel head's CSV; descriptions are not carried.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row};

use super::schema::SCHEMA_VERSION;
use crate::encoding::json::{self, Value};
use crate::fbc::{
    self, DeclarativeConfig, PROPERTY_BUNDLE_OBJECT, PROPERTY_GVK, PROPERTY_GVK_REQUIRED, PROPERTY_PACKAGE, PROPERTY_PACKAGE_REQUIRED,
};
use crate::model::{self, Model};
use crate::semver::Version;

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// opm marks a deprecated bundle with this property (`pkg/registry/types.go`).
const PROPERTY_DEPRECATED: &str = "olm.deprecated";

/// What to do with dependency rows that opm's conversion drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependencies {
    /// As opm: only `olm.gvk` and `olm.package` dependencies survive
    /// (`render`, so its output is opm's).
    AsOpm,
    /// Also `olm.label` (as `olm.label.required`) and `olm.constraint`, the
    /// FBC properties catbuild's writer stores as those rows: a catalog
    /// moving off SQLite loses nothing (`index-db` sources).
    Keep,
}

/// Why an index could not be read: the file, the table (when one is to
/// blame) and what is wrong, with a hint when the fix is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub path: PathBuf,
    pub table: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}: ", self.path.display())?;
        if let Some(table) = &self.table {
            write!(formatter, "table `{table}`: ")?;
        }
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for ReadError {}

impl ReadError {
    /// The error without the file's path, for messages that name it already.
    pub fn detail(&self) -> String {
        match &self.table {
            Some(table) => format!("table `{table}`: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// An opm index, checked and validated, ready to give each package's FBC.
pub struct IndexDb {
    path: PathBuf,
    connection: Connection,
    dependencies: Dependencies,
    /// Validated, without manifests: a bundle whose `operatorbundle.bundle`
    /// holds objects has one empty string in `objects` (validation only
    /// asks whether there are any).
    model: Model,
    /// `related_image` rows per bundle name, in row order, deduplicated.
    related_images: BTreeMap<String, Vec<String>>,
}

/// Whether a file starts like a SQLite database (what opm's `render`
/// checks before it treats a file as an index).
pub fn is_sqlite_file(path: &Path) -> bool {
    let mut header = [0u8; 16];
    fs_err::File::open(path)
        .and_then(|mut file| file.read_exact(&mut header))
        .is_ok_and(|()| &header == SQLITE_HEADER)
}

/// The names in an index's `package` table, sorted, after the checks of
/// [`IndexDb::open`] that need no more than that table (for
/// `[catalog] index-db` and `catbuild init`).
pub fn list_packages(path: &Path) -> Result<Vec<String>, ReadError> {
    let index = IndexDb::connect(path, Dependencies::AsOpm)?;
    let mut names: Vec<String> = index
        .rows("package", "select name from package", |row| text(row, 0))?
        .into_iter()
        .flatten()
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Reads a whole index into one FBC config (every package, in name order).
pub fn read_index(path: &Path, dependencies: Dependencies) -> Result<DeclarativeConfig, ReadError> {
    let index = IndexDb::open(path, dependencies)?;
    let mut config = DeclarativeConfig::default();
    for name in index.package_names() {
        config.extend(index.package(&name)?);
    }
    Ok(config)
}

impl IndexDb {
    /// Opens, checks and validates the index at `path` (pass 1).
    pub fn open(path: &Path, dependencies: Dependencies) -> Result<IndexDb, ReadError> {
        let mut index = IndexDb::connect(path, dependencies)?;
        let tables = index.read_tables()?;
        index.related_images = tables.related_images.clone();
        index.model = index.link(&tables)?;
        if let Err(error) = index.model.validate() {
            return Err(index.error(
                None,
                error.to_string(),
                Some("opm's `render` of this index fails the same way; fix the index with opm v1.73.0 or start from a catalog.toml"),
            ));
        }
        index.check_manifests()?;
        Ok(index)
    }

    /// Opens the file read-only and checks that it is an opm index of
    /// schema version 13; nothing is read yet.
    fn connect(path: &Path, dependencies: Dependencies) -> Result<IndexDb, ReadError> {
        let fail = |message: String, help: Option<&str>| ReadError {
            path: path.to_path_buf(),
            table: None,
            message,
            help: help.map(str::to_string),
        };
        let mut header = [0u8; 16];
        let mut file = fs_err::File::open(path).map_err(|error| fail(format!("cannot read it: {}", io_reason(&error)), None))?;
        let header_read = file.read_exact(&mut header);
        if header_read.is_err() || &header != SQLITE_HEADER {
            return Err(fail(
                "not a SQLite database (it does not start with `SQLite format 3`)".to_string(),
                Some("give the `index.db` of an opm index, for example `/database/index.db` of an index image"),
            ));
        }
        drop(file);
        let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|error| fail(format!("cannot open it: {error}"), None))?;
        let index = IndexDb {
            path: path.to_path_buf(),
            connection,
            dependencies,
            model: Model::default(),
            related_images: BTreeMap::new(),
        };
        index.check_schema()?;
        Ok(index)
    }

    /// The index's packages, in name order.
    pub fn package_names(&self) -> Vec<String> {
        self.model.packages.keys().cloned().collect()
    }

    /// The path this index was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One package's FBC as `opm render` prints it (pass 2): the package
    /// with its icon, channels with entries by name, bundles by name with
    /// their manifests as `olm.bundle.object`s and their relatedImages.
    pub fn package(&self, name: &str) -> Result<DeclarativeConfig, ReadError> {
        let mut config = self.package_without_manifests(name)?;
        for bundle in &mut config.bundles {
            self.complete_bundle(bundle)?;
        }
        Ok(config)
    }

    /// [`IndexDb::package`] with each bundle still lacking its manifests
    /// and relatedImages, which [`IndexDb::complete_bundle`] adds: a
    /// caller that prints bundle by bundle holds one bundle's manifests at
    /// a time. Bundles come sorted by name, as opm writes them.
    pub fn package_without_manifests(&self, name: &str) -> Result<DeclarativeConfig, ReadError> {
        let Some(package) = self.model.packages.get(name) else {
            return Err(self.error(Some("package"), format!("has no package `{name}`"), None));
        };
        let mut package = package.clone();
        package.icon = self.icon(&package)?;
        let mut single = Model::default();
        single.packages.insert(package.name.clone(), package);
        Ok(model::convert_from_model(&single))
    }

    fn error(&self, table: Option<&str>, message: String, help: Option<&str>) -> ReadError {
        ReadError {
            path: self.path.clone(),
            table: table.map(str::to_string),
            message,
            help: help.map(str::to_string),
        }
    }

    /// A SQLite failure while reading `table`.
    fn sqlite_error(&self, table: &str, error: &rusqlite::Error) -> ReadError {
        self.error(
            Some(table),
            format!("cannot read it: {error}"),
            Some("the file is damaged, or not an index written by opm (schema version 13)"),
        )
    }

    /// Runs `sql` and maps every row; a failure names `table`.
    fn rows<T>(&self, table: &str, sql: &str, mut map: impl FnMut(&Row) -> rusqlite::Result<T>) -> Result<Vec<T>, ReadError> {
        let mut run = || -> rusqlite::Result<Vec<T>> {
            let mut statement = self.connection.prepare(sql)?;
            let rows = statement.query_map([], |row| map(row))?;
            rows.collect()
        };
        run().map_err(|error| self.sqlite_error(table, &error))
    }

    /// An opm index has `schema_migrations` holding version 13.
    fn check_schema(&self) -> Result<(), ReadError> {
        let tables: BTreeSet<String> = self
            .rows("sqlite_master", "select name from sqlite_master where type = 'table'", |row| {
                row.get(0)
            })?
            .into_iter()
            .collect();
        if !tables.contains("schema_migrations") {
            return Err(self.error(
                Some("schema_migrations"),
                "no such table: this SQLite database is not an opm index".to_string(),
                Some("opm's indexes (from `opm index add`, `opm registry add` or the initializer) record their schema version there"),
            ));
        }
        let versions = self.rows("schema_migrations", "select version from schema_migrations limit 1", |row| {
            row.get::<_, Option<i64>>(0)
        })?;
        let Some(Some(version)) = versions.first().copied() else {
            return Err(self.error(
                Some("schema_migrations"),
                "has no version: opm's migrator never finished on this database".to_string(),
                None,
            ));
        };
        if version < SCHEMA_VERSION {
            return Err(self.error(
                Some("schema_migrations"),
                format!("schema version {version} is older than {SCHEMA_VERSION}, the only one catbuild reads"),
                Some("opm v1.73.0 migrates an index in place when it opens it, for example `opm registry prune-stranded -d index.db`; catbuild never changes its input"),
            ));
        }
        if version > SCHEMA_VERSION {
            return Err(self.error(
                Some("schema_migrations"),
                format!("schema version {version} is newer than {SCHEMA_VERSION}, the last one opm wrote"),
                Some("this database was not written by opm v1.73.0 or earlier"),
            ));
        }
        for table in [
            "operatorbundle",
            "package",
            "channel",
            "channel_entry",
            "properties",
            "dependencies",
            "related_image",
        ] {
            if !tables.contains(table) {
                return Err(self.error(
                    Some(table),
                    format!("no such table, though `schema_migrations` says version {SCHEMA_VERSION}"),
                    Some("the file is damaged, or not an index written by opm"),
                ));
            }
        }
        Ok(())
    }

    fn read_tables(&self) -> Result<Tables, ReadError> {
        let packages = self.rows("package", "select name, default_channel from package order by rowid", |row| {
            Ok((text(row, 0)?, text(row, 1)?))
        })?;
        let channels = self.rows(
            "channel",
            "select name, package_name, head_operatorbundle_name from channel order by rowid",
            |row| {
                Ok(ChannelRow {
                    name: text(row, 0)?.unwrap_or_default(),
                    package: text(row, 1)?.unwrap_or_default(),
                    head: text(row, 2)?,
                })
            },
        )?;
        let entries = self.rows(
            "channel_entry",
            "select entry_id, channel_name, package_name, operatorbundle_name, replaces, depth from channel_entry order by entry_id",
            |row| {
                Ok(EntryRow {
                    entry_id: row.get(0)?,
                    channel: text(row, 1)?,
                    package: text(row, 2)?,
                    bundle: text(row, 3)?,
                    replaces: integer(row, 4)?,
                    depth: integer(row, 5)?,
                })
            },
        )?;
        // The manifests stay on disk until pass 2; `bundle` is a BLOB, so
        // its length costs no read of its pages.
        let bundles = self.rows(
            "operatorbundle",
            "select name, bundlepath, version, skiprange, coalesce(length(bundle), 0) > 0 from operatorbundle order by name",
            |row| {
                Ok(BundleRow {
                    name: text(row, 0)?,
                    bundlepath: text(row, 1)?,
                    version: text(row, 2)?,
                    skiprange: text(row, 3)?.unwrap_or_default(),
                    has_objects: row.get::<_, bool>(4)?,
                })
            },
        )?;
        let by_bundle = |table: &str| -> Result<BTreeMap<String, Vec<(String, String)>>, ReadError> {
            let rows = self.rows(
                table,
                &format!("select type, value, operatorbundle_name from {table} order by rowid"),
                |row| Ok((text(row, 0)?, text(row, 1)?, text(row, 2)?)),
            )?;
            let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
            for (type_, value, bundle) in rows {
                if let Some(bundle) = bundle {
                    out.entry(bundle)
                        .or_default()
                        .push((type_.unwrap_or_default(), value.unwrap_or_default()));
                }
            }
            Ok(out)
        };
        let properties = by_bundle("properties")?;
        let dependencies = by_bundle("dependencies")?;
        let mut related_images: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (image, bundle) in self.rows(
            "related_image",
            "select image, operatorbundle_name from related_image order by rowid",
            |row| Ok((text(row, 0)?, text(row, 1)?)),
        )? {
            if let (Some(image), Some(bundle)) = (image, bundle) {
                let images = related_images.entry(bundle).or_default();
                if !images.contains(&image) {
                    images.push(image);
                }
            }
        }
        Ok(Tables {
            packages,
            channels,
            entries,
            bundles,
            properties,
            dependencies,
            related_images,
        })
    }

    /// Checks that the rows hang together and links opm's model: packages,
    /// their channels, and in each channel the bundles its entries name,
    /// with the edges opm's `listBundlesQuery` reads from them.
    fn link(&self, tables: &Tables) -> Result<Model, ReadError> {
        let mut model = Model::default();
        for (name, default_channel) in &tables.packages {
            let Some(name) = name else {
                return Err(self.error(Some("package"), "has a row without a name".to_string(), None));
            };
            model.packages.insert(
                name.clone(),
                model::Package {
                    name: name.clone(),
                    default_channel: default_channel.clone().filter(|channel| !channel.is_empty()),
                    ..model::Package::default()
                },
            );
        }
        for channel in &tables.channels {
            let Some(package) = model.packages.get_mut(&channel.package) else {
                return Err(self.error(
                    Some("channel"),
                    format!(
                        "channel `{}` belongs to package `{}`, which table `package` does not have",
                        channel.name, channel.package
                    ),
                    None,
                ));
            };
            package.channels.insert(
                channel.name.clone(),
                model::Channel {
                    package: channel.package.clone(),
                    name: channel.name.clone(),
                    ..model::Channel::default()
                },
            );
        }
        for package in model.packages.values() {
            if package.channels.is_empty() {
                return Err(self.error(
                    Some("channel"),
                    format!(
                        "package `{}` has no channel (opm: `package {} not found`)",
                        package.name, package.name
                    ),
                    None,
                ));
            }
            if let Some(default_channel) = &package.default_channel
                && !package.channels.contains_key(default_channel)
            {
                return Err(self.error(
                    Some("package"),
                    format!(
                        "the default channel of package `{}` is `{default_channel}`, which table `channel` does not have",
                        package.name
                    ),
                    None,
                ));
            }
        }
        let bundles: BTreeMap<&str, &BundleRow> = tables
            .bundles
            .iter()
            .filter_map(|bundle| Some((bundle.name.as_deref()?, bundle)))
            .collect();
        for channel in &tables.channels {
            if let Some(head) = &channel.head
                && !bundles.contains_key(head.as_str())
            {
                return Err(self.error(
                    Some("channel"),
                    format!(
                        "the head of channel `{}` of package `{}` is `{head}`, which table `operatorbundle` does not have",
                        channel.name, channel.package
                    ),
                    None,
                ));
            }
        }

        let edges = self.channel_edges(tables, &bundles, &model)?;
        let mut bundle_properties: BTreeMap<String, BundleProperties> = BTreeMap::new();
        for ((bundle_name, package_name, channel_name), edge) in edges {
            let bundle = bundles[bundle_name.as_str()];
            // opm skips rows it cannot scan into strings.
            let (Some(version), Some(bundlepath)) = (&bundle.version, &bundle.bundlepath) else {
                continue;
            };
            if !bundle_properties.contains_key(&bundle_name) {
                let computed = self.bundle_properties(tables, &bundle_name, &package_name, version)?;
                bundle_properties.insert(bundle_name.clone(), computed);
            }
            let computed = &bundle_properties[&bundle_name];
            if computed.deprecated {
                continue;
            }
            let parsed_version = Version::parse(&computed.version).map_err(|error| {
                self.error(
                    Some("operatorbundle"),
                    format!(
                        "bundle `{bundle_name}` has version `{}`, which is not a semantic version: {error}",
                        computed.version
                    ),
                    None,
                )
            })?;
            let channel = model
                .packages
                .get_mut(&package_name)
                .and_then(|package| package.channels.get_mut(&channel_name))
                .expect("entries were checked against table channel");
            channel.bundles.insert(
                bundle_name.clone(),
                model::Bundle {
                    package: package_name.clone(),
                    channel: channel_name.clone(),
                    name: bundle_name.clone(),
                    image: bundlepath.clone(),
                    replaces: edge.replaces,
                    skips: edge.skips,
                    skip_range: bundle.skiprange.clone(),
                    properties: computed.properties.clone().into(),
                    objects: if bundle.has_objects { vec![String::new()] } else { Vec::new() }.into(),
                    version: parsed_version,
                    ..model::Bundle::default()
                },
            );
        }
        Ok(model)
    }

    /// Per (bundle, package, channel) of `channel_entry`: the bundle it
    /// replaces (from the chain rows) and the ones it skips (every other
    /// row with a `replaces`), as opm's `listBundlesQuery` groups them.
    fn channel_edges(
        &self,
        tables: &Tables,
        bundles: &BTreeMap<&str, &BundleRow>,
        model: &Model,
    ) -> Result<BTreeMap<(String, String, String), Edges>, ReadError> {
        let by_id: BTreeMap<i64, &EntryRow> = tables.entries.iter().map(|entry| (entry.entry_id, entry)).collect();
        let row_error = |entry: &EntryRow, message: String| {
            self.error(
                Some("channel_entry"),
                format!(
                    "row {} (bundle `{}`): {message}",
                    entry.entry_id,
                    entry.bundle.as_deref().unwrap_or("")
                ),
                Some("the index is damaged; opm's loaders never write such a row"),
            )
        };
        for entry in &tables.entries {
            let (Some(package), Some(channel)) = (&entry.package, &entry.channel) else {
                return Err(row_error(entry, "has no channel or package".to_string()));
            };
            if !model
                .packages
                .get(package)
                .is_some_and(|known| known.channels.contains_key(channel))
            {
                return Err(row_error(
                    entry,
                    format!("names channel `{channel}` of package `{package}`, which table `channel` does not have"),
                ));
            }
            if let Some(replaces) = entry.replaces
                && !by_id.contains_key(&replaces)
            {
                return Err(row_error(entry, format!("replaces entry {replaces}, which does not exist")));
            }
        }
        // The chain: from the rows of least depth along `replaces`.
        let tip = tables.entries.iter().filter_map(|entry| entry.depth).min();
        let mut chain: BTreeSet<i64> = BTreeSet::new();
        let mut pending: Vec<i64> = tables
            .entries
            .iter()
            .filter(|entry| entry.depth.is_some() && entry.depth == tip)
            .map(|entry| entry.entry_id)
            .collect();
        while let Some(entry_id) = pending.pop() {
            if chain.insert(entry_id)
                && let Some(replaces) = by_id.get(&entry_id).and_then(|entry| entry.replaces)
            {
                pending.push(replaces);
            }
        }
        let mut edges: BTreeMap<(String, String, String), Edges> = BTreeMap::new();
        for entry in &tables.entries {
            let bundle = entry.bundle.clone().unwrap_or_default();
            if !bundles.contains_key(bundle.as_str()) {
                // Skipped names need not be bundles of the index, and opm's
                // deprecate/truncate leaves rows of removed bundles off the
                // chain; both vanish, as in opm. On the chain it is damage.
                if chain.contains(&entry.entry_id) {
                    return Err(row_error(
                        entry,
                        "is on the replaces chain of its channel, but table `operatorbundle` has no such bundle".to_string(),
                    ));
                }
                continue;
            }
            let key = (
                bundle,
                entry.package.clone().unwrap_or_default(),
                entry.channel.clone().unwrap_or_default(),
            );
            let edge = edges.entry(key).or_default();
            let Some(replaces) = entry.replaces else {
                continue;
            };
            let target = by_id[&replaces].bundle.clone().unwrap_or_default();
            if chain.contains(&entry.entry_id) {
                // opm takes the greatest name when two chain rows differ.
                if target > edge.replaces {
                    edge.replaces = target;
                }
            } else {
                edge.skips.push(target);
            }
        }
        Ok(edges)
    }

    /// A bundle's properties as opm's conversion builds them (without its
    /// manifests), and whether it is deprecated.
    fn bundle_properties(&self, tables: &Tables, bundle: &str, package: &str, version: &str) -> Result<BundleProperties, ReadError> {
        let property_error = |table: &str, type_: &str, error: String| {
            self.error(
                Some(table),
                format!("bundle `{bundle}`: the value of its `{type_}` row is not valid: {error}"),
                None,
            )
        };
        let mut out = Vec::new();
        let mut provided = BTreeSet::new();
        let mut required = BTreeSet::new();
        let mut has_package = false;
        let mut deprecated = false;
        let mut package_version = None;
        let empty = Vec::new();
        for (type_, value) in unique(tables.properties.get(bundle).unwrap_or(&empty)) {
            let value = compact(value).map_err(|error| property_error("properties", type_, error))?;
            match type_.as_str() {
                PROPERTY_GVK => {
                    provided.insert(gvk_fields(&value).map_err(|error| property_error("properties", type_, error))?);
                }
                PROPERTY_PACKAGE => {
                    has_package = true;
                    if package_version.is_none() {
                        package_version = json::parse(&value)
                            .ok()
                            .and_then(|parsed| parsed.get("version").and_then(Value::as_str).map(str::to_string));
                    }
                    out.push(fbc::Property {
                        type_: type_.clone(),
                        value,
                    });
                }
                _ => {
                    deprecated |= type_ == PROPERTY_DEPRECATED;
                    out.push(fbc::Property {
                        type_: type_.clone(),
                        value,
                    });
                }
            }
        }
        for (type_, value) in unique(tables.dependencies.get(bundle).unwrap_or(&empty)) {
            let value = compact(value).map_err(|error| property_error("dependencies", type_, error))?;
            match type_.as_str() {
                PROPERTY_GVK => {
                    required.insert(gvk_fields(&value).map_err(|error| property_error("dependencies", type_, error))?);
                }
                PROPERTY_PACKAGE => {
                    let [package_name, version_range] =
                        string_fields(&value, ["packageName", "version"]).map_err(|error| property_error("dependencies", type_, error))?;
                    out.push(object_property(
                        PROPERTY_PACKAGE_REQUIRED,
                        &[("packageName", package_name), ("versionRange", version_range)],
                    ));
                }
                // Stored by catbuild's writer from these FBC properties.
                "olm.label" if self.dependencies == Dependencies::Keep => out.push(fbc::Property {
                    type_: "olm.label.required".to_string(),
                    value,
                }),
                "olm.constraint" if self.dependencies == Dependencies::Keep => out.push(fbc::Property {
                    type_: type_.clone(),
                    value,
                }),
                _ => {}
            }
        }
        if !has_package {
            out.push(object_property(
                PROPERTY_PACKAGE,
                &[("packageName", package.to_string()), ("version", version.to_string())],
            ));
        }
        for [group, version, kind] in provided {
            out.push(object_property(
                PROPERTY_GVK,
                &[("group", group), ("kind", kind), ("version", version)],
            ));
        }
        for [group, version, kind] in required {
            out.push(object_property(
                PROPERTY_GVK_REQUIRED,
                &[("group", group), ("kind", kind), ("version", version)],
            ));
        }
        Ok(BundleProperties {
            properties: out,
            deprecated,
            version: package_version.unwrap_or_else(|| version.to_string()),
        })
    }

    /// opm's `populatePackageIcons`: the first icon of the default channel
    /// head's CSV (`operatorbundle.csv`), base64-decoded, retried without
    /// spaces; an icon that does not decode is left out, as opm does.
    fn icon(&self, package: &model::Package) -> Result<Option<model::Icon>, ReadError> {
        let Some(default_channel) = &package.default_channel else {
            return Ok(None);
        };
        let csv: Option<Vec<u8>> = self
            .connection
            .query_row(
                "select operatorbundle.csv from operatorbundle join channel on channel.head_operatorbundle_name = operatorbundle.name where channel.name = ?1 and channel.package_name = ?2",
                [default_channel, &package.name],
                |row| blob(row, 0),
            )
            .or_else(|error| match error {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })
            .map_err(|error| self.sqlite_error("operatorbundle", &error))?;
        let Some(csv) = csv.and_then(|bytes| json::parse(&String::from_utf8_lossy(&bytes)).ok()) else {
            return Ok(None);
        };
        let Some(icon) = csv.pointer(&["spec", "icon"]).and_then(Value::as_array).and_then(<[Value]>::first) else {
            return Ok(None);
        };
        let data = icon.get("base64data").and_then(Value::as_str).unwrap_or_default();
        let media_type = icon.get("mediatype").and_then(Value::as_str).unwrap_or_default();
        let decoded = crate::go::base64::decode(data).or_else(|_| crate::go::base64::decode(&data.replace(' ', "")));
        Ok(match decoded {
            Ok(bytes) if !bytes.is_empty() => Some(model::Icon {
                data: bytes,
                media_type: media_type.to_string(),
            }),
            _ => None,
        })
    }

    /// Adds a bundle's manifests (as `olm.bundle.object`s, in stored
    /// order, after its other properties) and relatedImages (the CSV's,
    /// then `related_image` rows not listed yet, sorted by image), as
    /// `opm render` prints them.
    pub fn complete_bundle(&self, bundle: &mut fbc::Bundle) -> Result<(), ReadError> {
        let stored: Option<Vec<u8>> = self
            .connection
            .query_row("select bundle from operatorbundle where name = ?1", [&bundle.name], |row| {
                blob(row, 0)
            })
            .map_err(|error| self.sqlite_error("operatorbundle", &error))?;
        let text = stored.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default();
        let mut related: Vec<fbc::RelatedImage> = Vec::new();
        if !text.is_empty() {
            let (objects, csv_idx) = self.manifests(&bundle.name, &text)?;
            let csv = &objects[csv_idx].1;
            for item in csv
                .pointer(&["spec", "relatedImages"])
                .and_then(Value::as_array)
                .unwrap_or_default()
            {
                let field = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
                related.push(fbc::RelatedImage {
                    name: field("name"),
                    image: field("image"),
                });
            }
            let engine = base64::engine::general_purpose::STANDARD;
            for (raw, _) in &objects {
                let mut value = String::with_capacity(raw.len() * 4 / 3 + 16);
                value.push_str("{\"data\":\"");
                engine.encode_string(raw.as_bytes(), &mut value);
                value.push_str("\"}");
                bundle.properties.push(fbc::Property {
                    type_: PROPERTY_BUNDLE_OBJECT.to_string(),
                    value,
                });
            }
        }
        for image in self.related_images.get(&bundle.name).into_iter().flatten() {
            if !related.iter().any(|known| known.image == *image) {
                related.push(fbc::RelatedImage {
                    name: String::new(),
                    image: image.clone(),
                });
            }
        }
        bundle.related_images = related;
        fbc::render::post_process(bundle);
        Ok(())
    }

    /// The objects of a bundle's `bundle` column and the position of its
    /// CSV, or why that column cannot be what opm wrote.
    fn manifests<'t>(&self, bundle_name: &str, text: &'t str) -> Result<(Objects<'t>, usize), ReadError> {
        let objects = split_objects(text).map_err(|error| {
            self.error(
                Some("operatorbundle"),
                format!("the `bundle` column of `{bundle_name}` is not a stream of JSON objects: {error}"),
                None,
            )
        })?;
        let csv_idx = objects
            .iter()
            .position(|(_, value)| value.get("kind").and_then(Value::as_str) == Some("ClusterServiceVersion"));
        let Some(csv_idx) = csv_idx else {
            return Err(self.error(
                Some("operatorbundle"),
                format!("the `bundle` column of `{bundle_name}` holds no ClusterServiceVersion (opm: `no csv in bundle`)"),
                None,
            ));
        };
        Ok((objects, csv_idx))
    }

    /// Part of pass 1: every manifest pass 2 will read, read once now and
    /// dropped, so that a damaged `bundle` column (or overflow page) is
    /// found before `render` prints its first package, not half way
    /// through. One bundle's manifests at a time.
    fn check_manifests(&self) -> Result<(), ReadError> {
        let mut statement = self
            .connection
            .prepare("select bundle from operatorbundle where name = ?1")
            .map_err(|error| self.sqlite_error("operatorbundle", &error))?;
        let mut names = BTreeSet::new();
        for package in self.model.packages.values() {
            for channel in package.channels.values() {
                names.extend(
                    channel
                        .bundles
                        .values()
                        .filter(|bundle| !bundle.objects.is_empty())
                        .map(|bundle| bundle.name.as_str()),
                );
            }
        }
        for name in names {
            let mut rows = statement
                .query([name])
                .map_err(|error| self.sqlite_error("operatorbundle", &error))?;
            let Some(row) = rows.next().map_err(|error| self.sqlite_error("operatorbundle", &error))? else {
                continue;
            };
            let bytes = match row.get_ref(0).map_err(|error| self.sqlite_error("operatorbundle", &error))? {
                ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes,
                _ => continue,
            };
            if !bytes.is_empty() {
                self.manifests(name, &String::from_utf8_lossy(bytes))?;
            }
        }
        Ok(())
    }
}

struct Tables {
    packages: Vec<(Option<String>, Option<String>)>,
    channels: Vec<ChannelRow>,
    entries: Vec<EntryRow>,
    bundles: Vec<BundleRow>,
    properties: BTreeMap<String, Vec<(String, String)>>,
    dependencies: BTreeMap<String, Vec<(String, String)>>,
    related_images: BTreeMap<String, Vec<String>>,
}

struct ChannelRow {
    name: String,
    package: String,
    head: Option<String>,
}

struct EntryRow {
    entry_id: i64,
    channel: Option<String>,
    package: Option<String>,
    bundle: Option<String>,
    replaces: Option<i64>,
    depth: Option<i64>,
}

struct BundleRow {
    name: Option<String>,
    bundlepath: Option<String>,
    version: Option<String>,
    skiprange: String,
    has_objects: bool,
}

#[derive(Default)]
struct Edges {
    replaces: String,
    skips: Vec<String>,
}

struct BundleProperties {
    properties: Vec<fbc::Property>,
    deprecated: bool,
    /// From the bundle's `olm.package` property, else the row's version.
    version: String,
}

/// A column as Go's `sql.NullString` scans it.
fn text(row: &Row, idx: usize) -> rusqlite::Result<Option<String>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => None,
        ValueRef::Integer(value) => Some(value.to_string()),
        ValueRef::Real(value) => Some(value.to_string()),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
    })
}

fn blob(row: &Row, idx: usize) -> rusqlite::Result<Option<Vec<u8>>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => Some(bytes.to_vec()),
        _ => None,
    })
}

/// A column as Go's `sql.NullInt64` scans it.
fn integer(row: &Row, idx: usize) -> rusqlite::Result<Option<i64>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Integer(value) => Some(value),
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok().and_then(|text| text.trim().parse().ok()),
        _ => None,
    })
}

fn io_reason(error: &std::io::Error) -> String {
    // fs_err's message repeats the path; the caller names the file.
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    }
}

/// opm's `uniqueProps`/`uniqueDeps`: the first of each (type, value).
fn unique(rows: &[(String, String)]) -> Vec<&(String, String)> {
    let mut seen = BTreeSet::new();
    rows.iter().filter(|row| seen.insert((&row.0, &row.1))).collect()
}

/// Go's `json.Compact`: refuses invalid JSON, then removes whitespace
/// outside strings.
fn compact(text: &str) -> Result<String, String> {
    json::parse(text).map_err(|error| error.to_string())?;
    Ok(json::compact_text(text))
}

/// `[group, version, kind]` of a GVK value, decoded as Go decodes it into
/// `api.GroupVersionKind`.
fn gvk_fields(value: &str) -> Result<[String; 3], String> {
    string_fields(value, ["group", "version", "kind"])
}

/// String fields of a JSON object, matched as Go's decoder matches them
/// (exact key, else case-insensitive; `null` leaves a field empty).
fn string_fields<const N: usize>(value: &str, names: [&str; N]) -> Result<[String; N], String> {
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    let parsed = json::parse(value).map_err(|error| error.to_string())?;
    let entries = match &parsed {
        Value::Null => return Ok(out),
        Value::Object(entries) => entries,
        other => return Err(format!("expected an object, found {}", other.go_type_name())),
    };
    for (key, item) in entries {
        let field_idx = names
            .iter()
            .position(|name| name == key)
            .or_else(|| names.iter().position(|name| name.eq_ignore_ascii_case(key)));
        let Some(field_idx) = field_idx else { continue };
        match item {
            Value::Null => {}
            Value::String(text) => out[field_idx] = text.clone(),
            other => return Err(format!("`{key}` must be a string, not {}", other.go_type_name())),
        }
    }
    Ok(out)
}

/// A property whose value is a JSON object of string fields, encoded as
/// opm's `property.MustBuild` does (no HTML escaping).
fn object_property(type_: &str, fields: &[(&str, String)]) -> fbc::Property {
    let value = Value::Object(fields.iter().map(|(key, value)| ((*key).to_string(), Value::str(value))).collect());
    fbc::Property {
        type_: type_.to_string(),
        value: json::to_compact(&value, false),
    }
}

/// The objects of an `operatorbundle.bundle` stream: each one's raw text
/// (what Go's decoder hands out as `json.RawMessage`) and its value.
type Objects<'t> = Vec<(&'t str, Value)>;

/// [`Objects`] of `text`.
fn split_objects(text: &str) -> Result<Objects<'_>, String> {
    let values = json::parse_stream(text).map_err(|error| error.to_string())?;
    let starts: Vec<usize> = values.iter().map(|(start, _)| *start).chain(std::iter::once(text.len())).collect();
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(idx, (start, value))| (text[start..starts[idx + 1]].trim_end(), value))
        .collect())
}
