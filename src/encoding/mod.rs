//! Byte-exact encodings shared by every loader and writer: Go-compatible
//! JSON ([`json`]), YAML read the way opm reads it ([`yaml_in`]: go-yaml v2
//! through sigs.k8s.io/yaml) and YAML written the way opm writes it
//! ([`yaml_out`]). Nothing here knows about catalogs. `go_yaml_resolve`
//! (go-yaml's scalar typing) is the piece of go-yaml both directions agree
//! on; Go's standard library rules they share live in [`crate::go`].

pub(crate) mod go_yaml_resolve;
pub mod json;
pub mod yaml_in;
pub mod yaml_out;
