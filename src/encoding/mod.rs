//! Byte-exact encodings shared by every loader and writer: Go-compatible
//! JSON ([`json`]), YAML read the way opm reads it ([`yaml_in`]: go-yaml v2
//! through sigs.k8s.io/yaml) and YAML written the way opm writes it
//! ([`yaml_out`]). Nothing here knows about catalogs.

pub mod json;
pub mod yaml_in;
pub mod yaml_out;
