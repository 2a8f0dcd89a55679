//! opm's final SQLite index schema (version 13), as catbuild's own DDL.
//!
//! opm creates a database by replaying `pkg/sqlite/migrations/000..013`
//! (operator-registry v1.73.0, `pkg/sqlite/migrator.go`), so the text
//! SQLite keeps in `sqlite_master` carries the migrations' history: the
//! `", skiprange TEXT, ..."` tail left by `ALTER TABLE ... ADD COLUMN`, the
//! quoted `"api_provider"`/`"api_requirer"` names left by `ALTER TABLE ...
//! RENAME` in migration 006, and the Go source's tabs and stray spaces.
//! Tools compare `sqlite3 index.db .schema` output, so catbuild creates the
//! final tables directly, with statements whose stored text is that
//! history's result, in the order the migrations leave in `sqlite_master`.
//! `spec/sqlite-schema.sql` in `../shared` documents the same text.

/// The version opm's migrator records in `schema_migrations` after the
/// last of its migrations (`pkg/sqlite/migrator.go`).
pub const SCHEMA_VERSION: i64 = 13;

/// The page size of every `index.db`: SQLite's default, fixed so that the
/// bytes do not depend on the SQLite build.
pub const PAGE_SIZE: u32 = 4096;

/// The `CREATE` statements, in `sqlite_master` order. Whitespace inside
/// them is significant (see the module docs).
pub const STATEMENTS: [&str; 15] = [
    r#"CREATE TABLE schema_migrations (
		version bigint NOT NULL,
        timestamp DATETIME DEFAULT CURRENT_TIMESTAMP
	)"#,
    r#"CREATE TABLE api (
			group_name TEXT,
			version TEXT,
			kind TEXT,
			plural TEXT NOT NULL,
			PRIMARY KEY(group_name, version, kind)
		)"#,
    r#"CREATE TABLE operatorbundle (
			name TEXT PRIMARY KEY,
			csv TEXT,
			bundle TEXT,
			bundlepath TEXT, skiprange TEXT, version TEXT, replaces TEXT, skips TEXT, substitutesfor TEXT)"#,
    r#"CREATE TABLE package (
			name TEXT PRIMARY KEY,
			default_channel TEXT,
			FOREIGN KEY(name, default_channel) REFERENCES channel(package_name,name) ON DELETE CASCADE
		)"#,
    r#"CREATE TABLE channel (
			name TEXT,
			package_name TEXT,
			head_operatorbundle_name TEXT,
			PRIMARY KEY(name, package_name),
			FOREIGN KEY(head_operatorbundle_name) REFERENCES operatorbundle(name) ON DELETE CASCADE
		)"#,
    r#"CREATE TABLE channel_entry (
			entry_id INTEGER PRIMARY KEY,
			channel_name TEXT,
			package_name TEXT,
			operatorbundle_name TEXT,
			replaces INTEGER,
			depth INTEGER,
			FOREIGN KEY(replaces) REFERENCES channel_entry(entry_id) DEFERRABLE INITIALLY DEFERRED, 
			FOREIGN KEY(channel_name, package_name) REFERENCES channel(name, package_name) ON DELETE CASCADE
		)"#,
    r#"CREATE TABLE related_image (
			image TEXT,
     		operatorbundle_name TEXT,
     		FOREIGN KEY(operatorbundle_name) REFERENCES operatorbundle(name) ON DELETE CASCADE
		)"#,
    r#"CREATE TABLE "api_provider" (
			group_name TEXT,
			version TEXT,
			kind TEXT,
			operatorbundle_name TEXT,
			operatorbundle_version TEXT,
			operatorbundle_path TEXT,
			FOREIGN KEY(operatorbundle_name, operatorbundle_version, operatorbundle_path) REFERENCES operatorbundle(name, version, bundlepath) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
			FOREIGN KEY(group_name, version, kind) REFERENCES api(group_name, version, kind) ON DELETE CASCADE
		)"#,
    r#"CREATE TABLE "api_requirer" (
			group_name TEXT,
			version TEXT,
			kind TEXT,
			operatorbundle_name TEXT,
			operatorbundle_version TEXT,
			operatorbundle_path TEXT,
			FOREIGN KEY(operatorbundle_name, operatorbundle_version, operatorbundle_path) REFERENCES operatorbundle(name, version, bundlepath) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
			FOREIGN KEY(group_name, version, kind) REFERENCES api(group_name, version, kind) ON DELETE CASCADE
		)"#,
    r#"CREATE UNIQUE INDEX pk ON operatorbundle(name, version, bundlepath)"#,
    r#"CREATE TRIGGER api_provider_cleanup
		AFTER DELETE ON api_provider
		WHEN NOT EXISTS (SELECT 1 FROM api_provider JOIN api_requirer WHERE 
		    (api_provider.group_name = OLD.group_name AND api_provider.version = OLD.version AND api_provider.kind = OLD.kind) OR 
			(api_requirer.group_name = OLD.group_name AND api_requirer.version = OLD.version AND api_requirer.kind = OLD.kind))
		BEGIN
			DELETE FROM api WHERE group_name = OLD.group_name AND version = OLD.version AND kind = OLD.kind;
		END"#,
    r#"CREATE TRIGGER api_requirer_cleanup
		AFTER DELETE ON api_requirer
		WHEN NOT EXISTS (SELECT 1 FROM api_provider JOIN api_requirer WHERE 
		    (api_provider.group_name = OLD.group_name AND api_provider.version = OLD.version AND api_provider.kind = OLD.kind) OR 
			(api_requirer.group_name = OLD.group_name AND api_requirer.version = OLD.version AND api_requirer.kind = OLD.kind))	
		BEGIN
			DELETE FROM api WHERE group_name = OLD.group_name AND version = OLD.version AND kind = OLD.kind;
		END"#,
    r#"CREATE TABLE dependencies (
			type TEXT,
			value TEXT,
			operatorbundle_name TEXT,
			operatorbundle_version TEXT,
			operatorbundle_path TEXT,
			FOREIGN KEY(operatorbundle_name, operatorbundle_version, operatorbundle_path) REFERENCES operatorbundle(name, version, bundlepath) ON DELETE CASCADE
		)"#,
    r#"CREATE TABLE properties (
			type TEXT,
			value TEXT,
			operatorbundle_name TEXT,
			operatorbundle_version TEXT,
			operatorbundle_path TEXT,
			FOREIGN KEY(operatorbundle_name, operatorbundle_version, operatorbundle_path) REFERENCES operatorbundle(name, version, bundlepath) ON DELETE CASCADE
		)"#,
    r#"CREATE TABLE deprecated (
			operatorbundle_name TEXT PRIMARY KEY
		)"#,
];

/// Creates every table, index and trigger of schema version 13.
pub fn create(connection: &rusqlite::Connection) -> rusqlite::Result<()> {
    for statement in STATEMENTS {
        connection.execute(statement, [])?;
    }
    Ok(())
}
