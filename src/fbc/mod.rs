//! File-Based Catalogs on the wire: opm's `declcfg` types ([`declcfg`]),
//! loading FBC directories ([`load`]) and writing them byte for byte as opm
//! does ([`write`]), and `render DIR` a group at a time ([`spool`]). The
//! model never sees these types' encodings.

pub mod declcfg;
pub mod load;
pub mod render;
pub mod spool;
pub mod write;

pub use declcfg::*;
