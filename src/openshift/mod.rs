//! OpenShift minor versions and which catalog gets what (issue 18; spec
//! `../shared/spec/openshift-versions.md`).
//!
//! OpenShift reads one catalog per minor version (`v4.12` … `v4.22`). For
//! packages whose channels come from bundles, the community release
//! pipeline adds a bundle to the catalogs its `com.redhat.openshift.versions`
//! annotation admits ([`annotation`]); from 4.17 on, catalogs carry
//! `olm.csv.metadata` instead of `olm.bundle.object` ([`migrate_level`]).
//! [`range`] reads the versions a `catalog.toml` asks for; [`matrix`] says
//! which version's catalog holds which bundle, and why. Pure functions
//! over strings: no I/O, no config types beyond the migrate level.

pub mod annotation;
pub mod matrix;
pub mod range;
pub mod version;

pub use annotation::{Admitted, AnnotationError, AnnotationTrap, ParsedAnnotation, ScalarStyle, parse_annotation};
pub use range::{RangeError, parse_versions};
pub use version::{CSV_METADATA_FROM, OcpVersion, catalog_version, migrate_level};
