//! catbuild: a declarative build system for OLM operator catalogs.
//!
//! `catalog.toml` in, File-Based Catalogs (and later SQLite indexes, images
//! and deployment YAML) out. See `ARCHITECTURE.md` for the module map; the
//! binary in `main.rs` only calls [`cli::run`].

pub mod cache;
pub mod catalog_template;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod diag;
pub mod diff;
pub mod dockerfile;
pub mod draw;
pub mod encoding;
pub mod fbc;
pub mod go;
pub mod graph;
pub mod image;
pub mod init;
pub mod input;
pub mod load;
pub mod memory;
pub mod model;
pub mod openshift;
pub mod output;
pub mod pipeline;
pub mod registry;
pub mod semver;
#[cfg(feature = "serve")]
pub mod serve;
pub mod source;
pub mod sqlite;
pub mod summary;
pub mod validate;
