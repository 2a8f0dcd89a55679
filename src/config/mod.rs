//! `catalog.toml`: raw serde types with spans, resolved into a `Config`.
