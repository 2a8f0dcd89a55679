//! File-Based Catalogs on the wire: opm's `declcfg` types ([`declcfg`]),
//! loading FBC directories ([`load`]) and writing them byte for byte as opm
//! does ([`write`]). The model never sees these types' encodings.

pub mod declcfg;
pub mod load;
pub mod render;
pub mod write;

pub use declcfg::*;
