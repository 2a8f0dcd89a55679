//! The legacy SQLite index (`index.db`, schema version 13) that older OLM
//! and OpenShift 4.10 and before read instead of File-Based Catalogs
//! (issue 14).
//!
//! opm v1.73.0 was the last opm that could write one (`pkg/sqlite`), so
//! catbuild writes it from its own validated model: [`rows`] turns one
//! package into the rows opm's loaders would insert (no I/O), [`index`]
//! creates the schema of [`schema`] in a new database file, inserts each
//! package's rows as it comes, in one transaction, and commits. That file
//! (in the target's staging directory, reserved by `output`) is the only
//! one this module writes.
//!
//! Determinism: a fixed page size, rows inserted in model order into a
//! fresh database, and a fixed `schema_migrations` timestamp, so
//! the same catalog gives the same bytes (and the same index image digest).
//! No `VACUUM`: it would move every index and trigger after the tables in
//! `sqlite_master`, and `.schema` would no longer print opm's order. It
//! would not make the file smaller either: nothing is deleted or updated
//! into free pages (`freelist_count` is 0; `VACUUM` saved 2 of 31,605
//! pages on the 1,000-bundle synthetic tree).
//!
//! The way back: [`read`] opens an existing `index.db` read-only and gives
//! the FBC opm's `render`/`migrate` print for it, one package at a time.

pub mod index;
pub mod read;
pub mod rows;
pub mod schema;

pub use index::{IndexWriter, SqliteError, write_index};
pub use read::{Dependencies, IndexDb, ReadError, is_sqlite_file, read_index};
pub use rows::{ChannelWriter, Loader, PackageRows, SourceOrder, package_rows};
