//! `catalog.toml` as the user wrote it: serde types that mirror the file
//! key for key, with spans on every value a later check may blame. Unknown
//! keys are refused here (serde's `deny_unknown_fields`), so a typo points
//! at the key.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawConfig {
    /// Format version of the file; only `1` exists.
    pub version: Option<Spanned<i64>>,
    pub catalog: RawCatalog,
    #[serde(default)]
    pub vars: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default, rename = "package")]
    pub packages: Vec<RawPackage>,
    #[serde(default, rename = "target")]
    pub targets: Vec<Spanned<RawTarget>>,
    pub images: Option<RawImages>,
    pub limits: Option<RawLimits>,
}

/// `[limits]`: bounds on what a build reads (issue 22); each a positive
/// integer, bytes where it is a size.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawLimits {
    pub file_size: Option<Spanned<i64>>,
    pub line_length: Option<Spanned<i64>>,
    pub documents: Option<Spanned<i64>>,
    pub template_steps: Option<Spanned<i64>>,
    pub template_output: Option<Spanned<i64>>,
    pub diagnostics: Option<Spanned<i64>>,
    pub pulled_file_size: Option<Spanned<i64>>,
    pub pulled_layer_size: Option<Spanned<i64>>,
    pub pulled_image_size: Option<Spanned<i64>>,
    pub pulled_ratio: Option<Spanned<i64>>,
    pub pulled_files: Option<Spanned<i64>>,
}

/// `[images]`: OCI images of the bundles and catalogs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawImages {
    /// Write `build/<target>/oci/`.
    pub build: Option<bool>,
    /// `scratch` or `oci:DIR[:TAG]`; a target's `base-image` overrides it.
    pub base_image: Option<Spanned<String>>,
    /// `tag` or `digest`: how the catalog names each bundle image.
    pub bundle_image_refs: Option<Spanned<String>>,
    /// Push after every build (as `--push`).
    pub push: Option<bool>,
    /// `HOST[:PORT]/PREFIX` to push to instead of the images' own registries.
    pub registry: Option<Spanned<String>>,
    /// Allow plain HTTP and unverified TLS to registries that are not loopback.
    pub insecure: Option<bool>,
    /// A PEM file of CA certificates to trust besides the system's.
    pub ca_file: Option<Spanned<String>>,
    /// Seconds a registry call may wait on the network before it is retried.
    pub timeout: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawCatalog {
    pub name: Spanned<String>,
    pub display_name: Option<String>,
    pub publisher: Option<String>,
    pub description: Option<String>,
    pub icon: Option<Spanned<String>>,
    /// Default bundle image reference template for every package.
    pub bundle_image: Option<Spanned<String>>,
    /// Catalog image reference template (variables plus `target.name`).
    pub image: Option<Spanned<String>>,
    /// Build directory, relative to `catalog.toml`.
    pub output: Option<Spanned<String>>,
    /// An opm `index.db` whose every package is a package of this catalog
    /// (unless a `[[package]]` of the same name says otherwise).
    pub index_db: Option<Spanned<String>>,
    /// A directory of deploy templates overriding the built-in ones by name.
    pub deploy_templates: Option<Spanned<String>>,
    /// Directories outside the project that bundle files may link into.
    #[serde(default)]
    pub external_paths: Vec<Spanned<String>>,
    /// The action cache's directory, relative to `catalog.toml` (default
    /// `<output>/.cache`).
    pub cache_dir: Option<Spanned<String>>,
    /// OpenShift versions: every target becomes one target per version.
    pub openshift: Option<Spanned<RawVersions>>,
}

/// `openshift = "v4.12-v4.22"` or `openshift = ["v4.12", "v4.16-v4.18"]`:
/// one string or a list, each item with its own span (an untagged enum
/// would lose them).
#[derive(Debug, Clone)]
pub enum RawVersions {
    One(String),
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawVersions {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<RawVersions, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawVersions;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("an OpenShift version range such as \"v4.12-v4.22\", or a list of versions and ranges")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<RawVersions, E> {
                Ok(RawVersions::One(value.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawVersions, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    items.push(item);
                }
                Ok(RawVersions::List(items))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawPackage {
    pub name: Spanned<String>,
    pub default_channel: Option<Spanned<String>>,
    pub description: Option<String>,
    /// A path, or `false` for no icon (a basic template's package without one).
    pub icon: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub bundles: Vec<Spanned<String>>,
    #[serde(default)]
    pub package_manifests: Vec<Spanned<String>>,
    /// Bundle image references (`HOST/REPO:TAG`, `...@sha256:...`,
    /// `oci:DIR[:TAG]`), pulled and unpacked.
    #[serde(default)]
    pub bundle_images: Vec<Spanned<String>>,
    /// An opm `index.db` holding this package (its bundles and channels).
    pub index_db: Option<Spanned<String>>,
    /// Globs of bundle directories to leave out, relative to `catalog.toml`.
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    pub bundle_image: Option<Spanned<String>>,
    pub channel_policy: Option<Spanned<String>>,
    /// `error` or `drop`: bundles the replaces policy cannot reach.
    pub unreachable: Option<Spanned<String>>,
    #[serde(default, rename = "channel")]
    pub channels: Vec<RawChannel>,
    pub semver: Option<RawSemver>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawChannel {
    pub name: Spanned<String>,
    /// The OpenShift version targets that get this channel (all without).
    pub openshift: Option<Spanned<RawVersions>>,
    /// This channel is the package's default for the versions it is for.
    pub default: Option<Spanned<bool>>,
    #[serde(default)]
    pub entries: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawEntry {
    pub name: Spanned<String>,
    pub replaces: Option<Spanned<String>>,
    #[serde(default)]
    pub skips: Vec<Spanned<String>>,
    pub skip_range: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSemver {
    #[serde(default)]
    pub generate_major_channels: bool,
    pub generate_minor_channels: Option<bool>,
    pub default_channel_type_preference: Option<Spanned<String>>,
    pub candidate: Option<Vec<Spanned<String>>>,
    pub fast: Option<Vec<Spanned<String>>>,
    pub stable: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawTarget {
    /// Optional with `openshift`, whose versions name the targets.
    pub name: Option<Spanned<String>>,
    /// OpenShift versions: this target is a template, one target per version.
    pub openshift: Option<Spanned<RawVersions>>,
    #[serde(default)]
    pub formats: Vec<Spanned<String>>,
    pub packages: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub vars: BTreeMap<String, Spanned<toml::Value>>,
    pub migrate_level: Option<Spanned<String>>,
    /// Overrides `[catalog] image` for this target.
    pub image: Option<Spanned<String>>,
    /// `v0`, `v1` or `both`: which OLM's deployment objects to write.
    pub olm: Option<Spanned<String>>,
    /// Values of the deployment objects.
    pub deploy: Option<RawDeploy>,
    /// Packages the deployment objects install.
    #[serde(default)]
    pub install: Vec<RawInstall>,
    /// Overrides `[images] base-image` for this target.
    pub base_image: Option<Spanned<String>>,
    /// Overrides `[images] push` for this target.
    pub push: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawDeploy {
    pub namespace: Option<Spanned<String>>,
    pub priority: Option<Spanned<i64>>,
    pub poll_interval: Option<Spanned<String>>,
    #[serde(default)]
    pub secrets: Vec<Spanned<String>>,
    pub grpc_pod_config: Option<RawGrpcPodConfig>,
    pub operator_source: Option<RawOperatorSource>,
    #[serde(default)]
    pub mirrors: Vec<RawMirror>,
    #[serde(default)]
    pub mirror_objects: Vec<Spanned<String>>,
    /// Free values for override templates (`deploy.values`).
    #[serde(default)]
    pub values: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawGrpcPodConfig {
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Kubernetes tolerations, field names as in Kubernetes.
    #[serde(default)]
    pub tolerations: Vec<toml::Table>,
    pub priority_class_name: Option<String>,
    pub security_context_config: Option<Spanned<String>>,
    pub memory_target: Option<String>,
    pub extract_content: Option<RawExtractContent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawExtractContent {
    pub catalog_dir: Option<String>,
    pub cache_dir: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawOperatorSource {
    pub endpoint: Option<String>,
    pub registry_namespace: Spanned<String>,
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawMirror {
    pub source: Spanned<String>,
    pub mirrors: Vec<Spanned<String>>,
    /// ImageDigestMirrorSet `mirrorSourcePolicy`.
    pub policy: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawInstall {
    pub package: Spanned<String>,
    pub namespace: Option<Spanned<String>>,
    pub channel: Option<Spanned<String>>,
    pub approval: Option<Spanned<String>>,
    pub starting_csv: Option<String>,
    /// Subscription `spec.config`, field names as in Kubernetes.
    pub config: Option<toml::Table>,
    pub target_namespaces: Option<Vec<Spanned<String>>>,
    pub operator_group: Option<bool>,
    pub version: Option<String>,
    pub upgrade_constraint_policy: Option<Spanned<String>>,
    pub service_account: Option<Spanned<String>>,
}
