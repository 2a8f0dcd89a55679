//! The registry+v1 bundle annotation keys, each defined once.
//!
//! A bundle names its package and channels in `metadata/annotations.yaml`
//! (and a bundle image in the same keys as config labels); its CSV carries
//! `olm.skipRange` and `olm.properties` in `metadata.annotations`. These
//! are keys of the bundle format that [`super`] parses, not of the FBC wire
//! format (whose schema and property names live in `fbc::declcfg`), so
//! they live here, and `init`, `source` and `pipeline` use them from here.
//! The values are opm's (`pkg/lib/bundle/const.go`, `pkg/registry/csv.go`).

/// The bundle's package (`metadata/annotations.yaml`), and the label that
/// makes an image a bundle image.
pub const ANNOTATION_PACKAGE: &str = "operators.operatorframework.io.bundle.package.v1";
/// The bundle's channels, comma-separated.
pub const ANNOTATION_CHANNELS: &str = "operators.operatorframework.io.bundle.channels.v1";
/// The bundle's default channel.
pub const ANNOTATION_DEFAULT_CHANNEL: &str = "operators.operatorframework.io.bundle.channel.default.v1";
/// The bundle's media type (`registry+v1`).
pub const ANNOTATION_MEDIATYPE: &str = "operators.operatorframework.io.bundle.mediatype.v1";
/// Where the manifests are in the bundle image (`manifests/`).
pub const ANNOTATION_MANIFESTS: &str = "operators.operatorframework.io.bundle.manifests.v1";
/// Where the metadata is in the bundle image (`metadata/`).
pub const ANNOTATION_METADATA: &str = "operators.operatorframework.io.bundle.metadata.v1";
/// The CSV annotation with the range of versions a bundle skips.
pub const ANNOTATION_SKIP_RANGE: &str = "olm.skipRange";
/// The CSV annotation with extra properties, a JSON list.
pub const ANNOTATION_PROPERTIES: &str = "olm.properties";
/// The OpenShift versions whose catalogs get the bundle
/// (`metadata/annotations.yaml`; Red Hat's, not opm's: `crate::openshift`).
pub const ANNOTATION_OPENSHIFT_VERSIONS: &str = "com.redhat.openshift.versions";
