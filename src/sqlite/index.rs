//! Rows in, `index.db` out: the only code that runs SQLite to write.
//!
//! A build writes the index straight into the file `output` reserved for
//! it in the target's staging directory ([`IndexWriter::create`]), one
//! package at a time as each passes the gate, so neither every package's
//! rows nor the database are ever held whole. An index kept in memory and
//! serialized at the end cost three copies of the file (the pages, the
//! serialized image, the bytes handed to `output`): 510 MiB of peak memory
//! and most of the build's time for a 129 MB index of 1,000 bundles,
//! spent zeroing fresh pages. [`write_index`] still gives the bytes of a
//! small index for callers that want them (tests, the round trip).
//!
//! Everything is inserted in one transaction with prepared statements; the
//! statements' text follows opm's `pkg/sqlite/load.go` (v1.73.0) so the
//! rows are the ones opm's loaders make.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, Statement, params};

use super::rows::{Api, PackageRows};
use super::schema;

/// The `schema_migrations.timestamp` of every index catbuild writes. opm
/// stores the time of the migration there (`CURRENT_TIMESTAMP`); nothing
/// reads it, and a fixed value keeps the bytes reproducible.
pub const MIGRATION_TIMESTAMP: &str = "1970-01-01 00:00:00";

/// SQLite's page cache while an index is written, in KiB. Most of an
/// index is row data (CSVs, objects) written once to overflow pages and
/// never read again; the cache only has to hold the B-tree pages that
/// inserts revisit. More made no difference on 1,000 bundles, nor 4 MiB
/// against 16 MiB on 10,000 (22.2-23.1 s against 22.5 s), which saved
/// about 10 MiB of a cold build's peak; the bytes do not depend on it
/// (pages are numbered by the B-tree, not the cache).
const CACHE_KIB: i64 = 4 * 1024;

/// The index could not be written: a bug or a limit (the rows come from a
/// validated model), or the file could not be, named by the table.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    /// SQLite refused a statement.
    #[error("cannot write table `{table}` of index.db: {source}")]
    Statement {
        table: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// A row points at a row that was never written.
    #[error("index.db would be inconsistent: row {rowid} of table `{table}` refers to a missing row of table `{parent}`")]
    ForeignKey { table: String, rowid: i64, parent: String },
    /// The file could not be created.
    #[error("cannot create `{}`: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An `index.db` being written: the schema is in, packages are added in
/// order, and [`IndexWriter::finish`] checks and commits the whole.
/// Dropped unfinished, the file holds no valid index (nothing is
/// committed); the caller removes it with the staging directory.
pub struct IndexWriter {
    connection: Connection,
    next_entry_id: i64,
}

impl IndexWriter {
    /// Creates the index at `path`, which must not exist yet.
    pub fn create(path: &Path) -> Result<IndexWriter, SqliteError> {
        // An empty file is an empty database to SQLite; creating it here
        // refuses to write over a file that is already there.
        std::fs::File::create_new(path).map_err(|source| SqliteError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(at("sqlite_master"))?;
        // No journal and no syncs: the file is a staging file that nobody
        // reads before `output` makes it durable and swaps it in, and a
        // killed build's staging directory is removed by the next build.
        IndexWriter::start(
            connection,
            &format!(
                "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE; PRAGMA cache_size = -{CACHE_KIB};"
            ),
        )
    }

    /// An index in memory, for [`write_index`].
    fn in_memory() -> Result<IndexWriter, SqliteError> {
        let connection = Connection::open_in_memory().map_err(at("sqlite_master"))?;
        IndexWriter::start(connection, "")
    }

    fn start(connection: Connection, pragmas: &str) -> Result<IndexWriter, SqliteError> {
        connection
            // Foreign keys off (rusqlite's bundled SQLite turns them on by
            // default): they are checked once before the commit, see
            // `finish`.
            .execute_batch(&format!(
                "PRAGMA page_size = {}; PRAGMA foreign_keys = OFF; {pragmas} BEGIN;",
                schema::PAGE_SIZE
            ))
            .map_err(at("sqlite_master"))?;
        schema::create(&connection).map_err(at("sqlite_master"))?;
        // The migrator deletes and re-inserts the single row after each
        // migration (`pkg/sqlite/migrator.go`); only the last one stays.
        connection
            .execute(
                "insert into schema_migrations(version, timestamp) values(?, ?)",
                params![schema::SCHEMA_VERSION, MIGRATION_TIMESTAMP],
            )
            .map_err(at("schema_migrations"))?;
        Ok(IndexWriter {
            connection,
            next_entry_id: 1,
        })
    }

    /// Inserts one package's rows; packages go in in the catalog's order,
    /// which decides the rowids and `entry_id`s (and so the bytes).
    pub fn add(&mut self, package: &PackageRows) -> Result<(), SqliteError> {
        // Prepared once per package: a statement borrows the connection,
        // and 11 prepares per package cost nothing beside its rows.
        let mut inserts = Inserts::prepare(&self.connection)?;
        inserts.package(package, &mut self.next_entry_id)
    }

    /// Checks that every row's parent row is there, commits and closes the
    /// file.
    pub fn finish(self) -> Result<(), SqliteError> {
        self.commit()?;
        // Closing reports what dropping would hide.
        self.connection.close().map_err(|(_, source)| SqliteError::Statement {
            table: "sqlite_master",
            source,
        })
    }

    fn commit(&self) -> Result<(), SqliteError> {
        // opm inserts with foreign keys on. Here they are checked once,
        // at the end: enforced per row, every insert into a table that
        // a deferred key points at (`channel_entry.replaces`,
        // `api_provider`, `api_requirer`) scans the unindexed child table
        // while a violation is outstanding, which made a 1,000-bundle
        // index take 12 s instead of 1 s.
        check_foreign_keys(&self.connection)?;
        // No `VACUUM`: it rewrites `sqlite_master` with every table before
        // every index and trigger, which changes `.schema` from opm's
        // order. A fresh database that only ever had rows inserted (and
        // one `package` column set) has no free pages, and the same
        // inserts in the same order give the same pages.
        self.connection.execute_batch("COMMIT").map_err(at("sqlite_master"))
    }
}

/// Builds the whole index of these packages, in this order, in memory, and
/// returns the database file's bytes.
pub fn write_index(packages: Vec<PackageRows>) -> Result<Vec<u8>, SqliteError> {
    let mut writer = IndexWriter::in_memory()?;
    for package in packages {
        writer.add(&package)?;
    }
    writer.commit()?;
    let data = writer.connection.serialize(rusqlite::MAIN_DB).map_err(at("sqlite_master"))?;
    Ok(data.to_vec())
}

fn at(table: &'static str) -> impl Fn(rusqlite::Error) -> SqliteError {
    move |source| SqliteError::Statement { table, source }
}

/// `PRAGMA foreign_key_check` over the whole database: the first row
/// whose parent row is missing, if any.
fn check_foreign_keys(connection: &Connection) -> Result<(), SqliteError> {
    let at = |source| SqliteError::Statement {
        table: "sqlite_master",
        source,
    };
    let mut statement = connection.prepare("PRAGMA foreign_key_check").map_err(at)?;
    let mut rows = statement.query([]).map_err(at)?;
    match rows.next().map_err(at)? {
        Some(row) => Err(SqliteError::ForeignKey {
            table: row.get(0).map_err(at)?,
            rowid: row.get::<_, Option<i64>>(1).map_err(at)?.unwrap_or_default(),
            parent: row.get(2).map_err(at)?,
        }),
        None => Ok(()),
    }
}

struct Inserts<'c> {
    operatorbundle: Statement<'c>,
    related_image: Statement<'c>,
    properties: Statement<'c>,
    dependencies: Statement<'c>,
    api: Statement<'c>,
    api_provider: Statement<'c>,
    api_requirer: Statement<'c>,
    package: Statement<'c>,
    channel: Statement<'c>,
    default_channel: Statement<'c>,
    channel_entry: Statement<'c>,
}

impl<'c> Inserts<'c> {
    fn prepare(connection: &'c Connection) -> Result<Inserts<'c>, SqliteError> {
        let prepare = |table: &'static str, sql: &str| connection.prepare(sql).map_err(|source| SqliteError::Statement { table, source });
        Ok(Inserts {
            operatorbundle: prepare(
                "operatorbundle",
                "insert into operatorbundle(name, csv, bundle, bundlepath, version, skiprange, replaces, skips, substitutesfor) values(?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?,
            related_image: prepare(
                "related_image",
                "insert into related_image(image, operatorbundle_name) values(?, ?)",
            )?,
            properties: prepare(
                "properties",
                "insert into properties(type, value, operatorbundle_name, operatorbundle_version, operatorbundle_path) values(?, ?, ?, ?, ?)",
            )?,
            dependencies: prepare(
                "dependencies",
                "insert into dependencies(type, value, operatorbundle_name, operatorbundle_version, operatorbundle_path) values(?, ?, ?, ?, ?)",
            )?,
            api: prepare(
                "api",
                "insert or ignore into api(group_name, version, kind, plural) values(?, ?, ?, ?)",
            )?,
            api_provider: prepare(
                "api_provider",
                "insert into api_provider(group_name, version, kind, operatorbundle_name, operatorbundle_version, operatorbundle_path) values(?, ?, ?, ?, ?, ?)",
            )?,
            api_requirer: prepare(
                "api_requirer",
                "insert into api_requirer(group_name, version, kind, operatorbundle_name, operatorbundle_version, operatorbundle_path) values(?, ?, ?, ?, ?, ?)",
            )?,
            package: prepare("package", "insert into package(name) values(?)")?,
            channel: prepare(
                "channel",
                "insert into channel(name, package_name, head_operatorbundle_name) values(?, ?, ?)",
            )?,
            default_channel: prepare("package", "update package set default_channel = ? where name = ?")?,
            channel_entry: prepare(
                "channel_entry",
                "insert into channel_entry(entry_id, channel_name, package_name, operatorbundle_name, replaces, depth) values(?, ?, ?, ?, ?, ?)",
            )?,
        })
    }

    /// `addOperatorBundle` for each bundle, then `addPackageChannels`.
    fn package(&mut self, package: &PackageRows, next_entry_id: &mut i64) -> Result<(), SqliteError> {
        let at = |table: &'static str| move |source: rusqlite::Error| SqliteError::Statement { table, source };
        for bundle in &package.bundles {
            // opm binds an empty version or path as NULL in the tables that
            // point at a bundle (`pkg/sqlite/load.go`, sql.NullString).
            let version = non_empty(&bundle.version);
            let path = non_empty(&bundle.bundlepath);
            self.operatorbundle
                .execute(params![
                    bundle.name,
                    bundle.csv,
                    bundle.bundle,
                    bundle.bundlepath,
                    bundle.version,
                    bundle.skiprange,
                    bundle.replaces,
                    bundle.skips,
                    bundle.substitutesfor,
                ])
                .map_err(at("operatorbundle"))?;
            for image in &bundle.related_images {
                self.related_image
                    .execute(params![image, bundle.name])
                    .map_err(at("related_image"))?;
            }
            for (type_, value) in &bundle.properties {
                self.properties
                    .execute(params![type_, value, bundle.name, version, path])
                    .map_err(at("properties"))?;
            }
            // opm binds a dependency's value as Go `[]byte` (the
            // `json.RawMessage` of dependencies.yaml, `json.Marshal` for
            // required APIs), so SQLite stores a BLOB, unlike `properties`.
            for (type_, value) in &bundle.dependencies {
                self.dependencies
                    .execute(params![type_, value.as_bytes(), bundle.name, version, path])
                    .map_err(at("dependencies"))?;
            }
            for Api {
                group,
                version: api_version,
                kind,
                plural,
            } in &bundle.provided_apis
            {
                self.api.execute(params![group, api_version, kind, plural]).map_err(at("api"))?;
                self.api_provider
                    .execute(params![group, api_version, kind, bundle.name, version, path])
                    .map_err(at("api_provider"))?;
            }
            for Api {
                group,
                version: api_version,
                kind,
                plural,
            } in &bundle.required_apis
            {
                self.api.execute(params![group, api_version, kind, plural]).map_err(at("api"))?;
                self.api_requirer
                    .execute(params![group, api_version, kind, bundle.name, version, path])
                    .map_err(at("api_requirer"))?;
            }
        }

        self.package.execute(params![package.name]).map_err(at("package"))?;
        for channel in &package.channels {
            self.channel
                .execute(params![channel.name, package.name, channel.head])
                .map_err(at("channel"))?;
        }
        if let Some(default_channel) = &package.default_channel {
            self.default_channel
                .execute(params![default_channel, package.name])
                .map_err(at("package"))?;
        }
        for channel in &package.channels {
            let first_id = *next_entry_id;
            for (entry_idx, entry) in channel.entries.iter().enumerate() {
                let entry_id = first_id + to_i64(entry_idx);
                let replaces = entry.replaces.map(|replaces_idx| first_id + to_i64(replaces_idx));
                self.channel_entry
                    .execute(params![
                        entry_id,
                        channel.name,
                        package.name,
                        entry.operatorbundle_name,
                        replaces,
                        entry.depth
                    ])
                    .map_err(at("channel_entry"))?;
            }
            *next_entry_id = first_id + to_i64(channel.entries.len());
            // One `olm.package` property per bundle the walk visited.
            for (bundle_name, version) in &channel.visited {
                let path = package
                    .bundles
                    .iter()
                    .find(|bundle| &bundle.name == bundle_name)
                    .and_then(|bundle| non_empty(&bundle.bundlepath));
                let value = crate::encoding::json::to_compact(
                    &crate::encoding::json::Value::Object(vec![
                        ("packageName".to_string(), crate::encoding::json::Value::str(package.name.clone())),
                        ("version".to_string(), crate::encoding::json::Value::str(version.clone())),
                    ]),
                    true,
                );
                self.properties
                    .execute(params![crate::fbc::PROPERTY_PACKAGE, value, bundle_name, non_empty(version), path])
                    .map_err(at("properties"))?;
            }
        }
        Ok(())
    }
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

fn to_i64(index: usize) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_pointing_at_a_missing_row_is_refused() {
        use super::super::rows::{ChannelEntryRow, ChannelRows};
        // A channel whose head has no `operatorbundle` row: the model
        // never gives one, but the check must catch it if it did.
        let package = PackageRows {
            name: "foo".to_string(),
            default_channel: Some("stable".to_string()),
            bundles: Vec::new(),
            channels: vec![ChannelRows {
                name: "stable".to_string(),
                head: "foo.v1.0.0".to_string(),
                entries: vec![ChannelEntryRow {
                    operatorbundle_name: "foo.v1.0.0".to_string(),
                    replaces: None,
                    depth: 0,
                }],
                visited: Vec::new(),
            }],
        };
        assert_eq!(
            write_index(vec![package]).unwrap_err().to_string(),
            "index.db would be inconsistent: row 1 of table `channel` refers to a missing row of table `operatorbundle`"
        );
    }

    #[test]
    fn an_empty_index_has_the_schema_in_opms_order_and_version_13() {
        let bytes = write_index(Vec::new()).unwrap();
        assert_eq!(&bytes[..16], b"SQLite format 3\0");
        // The page size is a big-endian u16 at offset 16.
        assert_eq!(u32::from(u16::from_be_bytes([bytes[16], bytes[17]])), schema::PAGE_SIZE);
        assert_eq!(bytes, write_index(Vec::new()).unwrap(), "two builds differ");

        let mut connection = Connection::open_in_memory().unwrap();
        connection
            .deserialize_read_exact(rusqlite::MAIN_DB, bytes.as_slice(), bytes.len(), true)
            .unwrap();
        let mut statement = connection
            .prepare("select sql from sqlite_master where sql is not null order by rowid")
            .unwrap();
        let stored: Vec<String> = statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(stored, schema::STATEMENTS);
        let version: i64 = connection
            .query_row("select version from schema_migrations", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, 13);
    }
}
