//! Channel policies: how a package's channels and upgrade edges are built.

pub mod mermaid;
