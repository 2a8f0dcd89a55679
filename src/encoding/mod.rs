//! Byte-exact encodings shared by every loader and writer: Go-compatible
//! JSON ([`json`]), YAML read the way opm reads it ([`yaml_in`]: go-yaml v2
//! through sigs.k8s.io/yaml) and YAML written the way opm writes it
//! ([`yaml_out`]). Nothing here knows about catalogs. `go_yaml_resolve`
//! (go-yaml's scalar typing) and `go_unicode` (Go's letter and digit
//! tables) are the pieces of Go both directions, and semver, agree on;
//! `go_base64` is Go's `StdEncoding` decoder, the one base64 rule for every
//! `[]byte` opm decodes (bundle objects, icons, YAML `!!binary`).

pub(crate) mod go_base64;
pub(crate) mod go_unicode;
pub(crate) mod go_yaml_resolve;
pub mod json;
pub mod yaml_in;
pub mod yaml_out;
