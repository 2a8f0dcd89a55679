//! Loading bundles (registry+v1 directories, package manifests) into `olm.bundle` blobs.
//!
//! Everything here copies what opm does when it renders a bundle, because the
//! blobs must be byte-identical to `opm render`'s: the parser of
//! `pkg/registry/parse.go` (first document of each manifest file only, first
//! CSV only, every `metadata/` file tried as annotations, dependencies and
//! properties), the property rules of `pkg/registry/registry_to_model.go`
//! (sorted by type and raw value text, bundle objects moved to the end) and
//! the related-image rules of `alpha/action/render.go`.
//!
//! Layout:
//! * [`annotations`]: the registry+v1 annotation keys (package, channels,
//!   default channel, `olm.skipRange`, `olm.properties`), defined once.
//! * [`read`]: a bundle directory into memory ([`BundleFiles`], with the
//!   sha256 of every file): the only filesystem access of bundle loading,
//!   and the one definition of a directory that looks like a bundle
//!   ([`looks_like_bundle`], used by `pipeline`'s planning and `init`).
//! * [`jinja`]: `.j2` bundle files rendered in memory, and the
//!   `bundle-image` reference template.
//! * [`document`]: reading a file the way k8s' `YAMLOrJSONDecoder` does, and
//!   the Go `encoding/json` decoding rules the typed reads need.
//! * [`csv`]: the raw CSV view of `pkg/registry/csv.go` (name, version,
//!   replaces, CRD and API service definitions, operator images).
//! * [`bundle`]: the parse of in-memory files ([`load_bundle_files`],
//!   [`load_bundle_dir`]) into a [`LoadedBundle`].
//! * [`parsed`]: the parsed bundle, between the parse and the renderer.
//! * [`render`]: properties and related images of the `olm.bundle` blob.
//! * [`csv_metadata`]: the `bundle-object-to-csv-metadata` migration.
//! * [`package_manifest`]: the legacy `<pkg>.package.yaml` layout.
//!
//! Invariants: nothing here prints. opm logs warnings (a second document in
//! a manifest, an undecodable file); catbuild returns them as [`Warning`]s
//! and errors as [`BundleError`]s whose text starts with opm's wording, so
//! the CLI can prefix `render reference "<ref>": ` exactly as opm does.

pub mod annotations;
mod bundle;
mod csv;
mod csv_metadata;
mod document;
mod error;
pub(crate) mod jinja;
mod memo;
mod package_manifest;
mod parsed;
mod read;
mod render;

#[cfg(test)]
mod conformance_tests;

pub use bundle::{ImageRefTemplateData, LoadedBundle, load_bundle_dir, load_bundle_dir_with_template, load_bundle_files};
pub use csv_metadata::{CsvMetadataError, csv_metadata_property, migrate_bundle_to_csv_metadata, migrate_to_csv_metadata};
pub use error::{BundleError, Location, Warning};
pub use jinja::{BundleImageError, TemplateError, TemplateProblem, bundle_image, catalog_image, render_templates};
pub use package_manifest::{PackageChannel, PackageManifest, PackageManifestError, load_package_manifest_dir};
pub use parsed::{CsvField, OpenshiftVersions};
pub use read::{
    BundleFile, BundleFiles, Listed, PreRead, ReadError, Sha256Digest, read_bundle_dir, read_bundle_dir_reusing, read_bundle_dir_within,
};
pub(crate) use read::{
    MANIFESTS_DIR, METADATA_DIR, NESTED_BUNDLE_DIRS, has_bundle_parts, looks_like_bundle, nested_bundle_root, version_dir_name,
};
