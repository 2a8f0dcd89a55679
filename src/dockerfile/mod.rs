//! Dockerfiles as opm and operator-sdk write them, for people who still
//! build catalog and bundle images with docker, podman or buildah: the
//! catalog image's (`opm generate dockerfile`), the SQLite index image's
//! (`opm index add --generate`) and a bundle's (`opm alpha bundle
//! generate`, what operator-sdk's `bundle.Dockerfile` follows). Pure text
//! functions, byte for byte what opm writes (`../shared/conformance/dockerfiles`);
//! no I/O.

use std::collections::BTreeMap;

use crate::load::annotations;

/// opm's default for `--base-image`, `--builder-image` and `--binary-image`
/// (`containertools.DefaultBinarySourceImage`).
pub const DEFAULT_OPM_IMAGE: &str = "quay.io/operator-framework/opm:latest";

/// The label that tells opm and OLM v1 where the FBC root is in the image.
pub const CONFIGS_LABEL: &str = "operators.operatorframework.io.index.configs.v1";

/// The label naming the SQLite database in an index image.
pub const DATABASE_LABEL: &str = "operators.operatorframework.io.index.database.v1";

/// Why opm refuses to write a catalog Dockerfile; the texts are opm's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("base image is unset")]
    BaseImageUnset,
    #[error("index directory is unset")]
    IndexDirUnset,
    #[error("invalid builder image: \"scratch\"")]
    ScratchBuilder,
    #[error("invalid label {0:?}")]
    InvalidLabel(String),
}

/// The inputs of `opm generate dockerfile DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogDockerfile {
    /// The image the `RUN opm serve --cache-only` stage runs in.
    pub builder_image: String,
    /// The image the catalog is served from; `scratch` gives a binary-less
    /// image for `grpcPodConfig.extractContent`.
    pub base_image: String,
    /// The FBC directory, relative to the build context (`ADD DIR /configs`).
    pub index_dir: String,
    /// Extra labels; written sorted by key, as Go's template ranges a map.
    pub labels: BTreeMap<String, String>,
}

/// `opm generate dockerfile` (operator-registry HEAD, two-stage): the
/// builder stage pre-populates the serve cache with the same opm that
/// serves it when both images are the same (trap 11 in the spec's I).
pub fn catalog_dockerfile(params: &CatalogDockerfile) -> Result<String, Error> {
    if params.base_image.is_empty() {
        return Err(Error::BaseImageUnset);
    }
    if params.index_dir.is_empty() {
        return Err(Error::IndexDirUnset);
    }
    if params.builder_image == "scratch" {
        return Err(Error::ScratchBuilder);
    }
    let mut out = String::new();
    out.push_str("# The builder image is expected to contain\n# /bin/opm (with serve subcommand)\n");
    out.push_str(&format!("FROM {} as builder\n\n", params.builder_image));
    out.push_str("# Copy FBC root into image at /configs and pre-populate serve cache\n");
    out.push_str(&format!("ADD {} /configs\n", params.index_dir));
    out.push_str("RUN [\"/bin/opm\", \"serve\", \"/configs\", \"--cache-dir=/tmp/cache\", \"--cache-only\"]\n\n");
    out.push_str(&format!("FROM {}\n", params.base_image));
    if params.base_image == "scratch" {
        out.push_str(
            "# OLMv0 CatalogSources that use binary-less images must set:\n# spec:\n#   grpcPodConfig:\n#     extractContent:\n#       catalogDir: /configs\n#       cacheDir: /tmp/cache\n",
        );
    } else {
        out.push_str("# The base image is expected to contain\n# /bin/opm (with serve subcommand) and /bin/grpc_health_probe\n\n");
        out.push_str("# Configure the entrypoint and command\nENTRYPOINT [\"/bin/opm\"]\n");
        out.push_str("CMD [\"serve\", \"/configs\", \"--cache-dir=/tmp/cache\"]\n");
    }
    out.push_str("\nCOPY --from=builder /configs /configs\nCOPY --from=builder /tmp/cache /tmp/cache\n\n");
    out.push_str("# Set FBC-specific label for the location of the FBC root directory\n# in the image\n");
    out.push_str(&format!("LABEL {CONFIGS_LABEL}=/configs\n"));
    if !params.labels.is_empty() {
        out.push_str("\n# Set other custom labels\n");
        for (key, value) in &params.labels {
            out.push_str(&format!("LABEL \"{key}\"=\"{value}\"\n"));
        }
    }
    Ok(out)
}

/// opm's `-l key=value` flags: split at the first `=`, the last duplicate
/// wins.
pub fn parse_labels<S: AsRef<str>>(flags: &[S]) -> Result<BTreeMap<String, String>, Error> {
    let mut labels = BTreeMap::new();
    for flag in flags {
        let flag = flag.as_ref();
        let (key, value) = flag.split_once('=').ok_or_else(|| Error::InvalidLabel(flag.to_string()))?;
        labels.insert(key.to_string(), value.to_string());
    }
    Ok(labels)
}

/// The SQLite index image's Dockerfile (`opm index add`, v1.73.0):
/// `database_path` is the database relative to the build context; an
/// empty `binary_image` means opm's default image.
pub fn index_dockerfile(binary_image: &str, database_path: &str) -> String {
    let image = if binary_image.is_empty() { DEFAULT_OPM_IMAGE } else { binary_image };
    format!(
        "FROM {image}\nLABEL {DATABASE_LABEL}=/database/index.db\nADD {database_path} /database/index.db\nEXPOSE 50051\nENTRYPOINT [\"/bin/opm\"]\nCMD [\"registry\", \"serve\", \"--database\", \"/database/index.db\"]\n"
    )
}

/// The Dockerfile of an index built by the upstream-registry-builder (the
/// `initializer`) from a package-manifests directory, as operator-registry's
/// `upstream-example.Dockerfile` has it.
pub fn upstream_registry_builder_dockerfile(builder_image: &str, manifests_dir: &str) -> String {
    format!(
        "FROM {builder_image} as builder\n\nCOPY {manifests_dir} manifests\nRUN /bin/initializer -o ./bundles.db\n\n\
         FROM scratch\nCOPY [\"nsswitch.conf\", \"/etc/nsswitch.conf\"]\nCOPY --from=builder /bundles.db /bundles.db\n\
         COPY --from=builder /bin/registry-server /registry-server\nCOPY --from=builder /bin/grpc_health_probe /bin/grpc_health_probe\n\
         USER 1001\nEXPOSE 50051\nENTRYPOINT [\"/registry-server\"]\nCMD [\"--database\", \"bundles.db\"]\n"
    )
}

/// The inputs of opm's `GenerateDockerfile` (`opm alpha bundle generate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleDockerfile {
    pub base_image: String,
    /// The annotation values, as written in `metadata/annotations.yaml`.
    pub media_type: String,
    pub manifests: String,
    pub metadata: String,
    pub package: String,
    pub channels: String,
    /// Empty: no default-channel label.
    pub default_channel: String,
    /// The `COPY` sources: the bundle's `manifests/` and `metadata/`
    /// directories relative to the build context, with `/`.
    pub copy_manifests_dir: String,
    pub copy_metadata_dir: String,
}

/// A bundle image's Dockerfile. Without a default channel the channels
/// label runs straight into the first `COPY`; with one, a blank line
/// follows it (trap 19 in the spec's I).
pub fn bundle_dockerfile(params: &BundleDockerfile) -> String {
    let mut out = format!("FROM {}\n\n", params.base_image);
    for (key, value) in [
        (annotations::ANNOTATION_MEDIATYPE, &params.media_type),
        (annotations::ANNOTATION_MANIFESTS, &params.manifests),
        (annotations::ANNOTATION_METADATA, &params.metadata),
        (annotations::ANNOTATION_PACKAGE, &params.package),
        (annotations::ANNOTATION_CHANNELS, &params.channels),
    ] {
        out.push_str(&format!("LABEL {key}={value}\n"));
    }
    if !params.default_channel.is_empty() {
        out.push_str(&format!(
            "LABEL {}={}\n\n",
            annotations::ANNOTATION_DEFAULT_CHANNEL,
            params.default_channel
        ));
    }
    out.push_str(&format!("COPY {} /manifests/\n", params.copy_manifests_dir));
    out.push_str(&format!("COPY {} /metadata/\n", params.copy_metadata_dir));
    out
}

/// `metadata/annotations.yaml` as `opm alpha bundle generate` writes it
/// (go-yaml v3, two-space indent, keys sorted).
pub fn bundle_annotations_yaml(params: &BundleDockerfile) -> String {
    let mut entries = BTreeMap::new();
    entries.insert(annotations::ANNOTATION_MEDIATYPE, &params.media_type);
    entries.insert(annotations::ANNOTATION_MANIFESTS, &params.manifests);
    entries.insert(annotations::ANNOTATION_METADATA, &params.metadata);
    entries.insert(annotations::ANNOTATION_PACKAGE, &params.package);
    entries.insert(annotations::ANNOTATION_CHANNELS, &params.channels);
    if !params.default_channel.is_empty() {
        entries.insert(annotations::ANNOTATION_DEFAULT_CHANNEL, &params.default_channel);
    }
    let mut out = String::from("annotations:\n");
    for (key, value) in entries {
        out.push_str(&format!("  {key}: {value}\n"));
    }
    out
}

/// A path relative to `base` as Go's `filepath.Rel` gives it for relative
/// inputs: both are cleaned, `.` and empty mean the current directory.
pub fn relative_to(path: &str, base: &str) -> String {
    let clean = |text: &str| -> Vec<String> {
        let mut parts: Vec<String> = Vec::new();
        for part in text.split('/') {
            match part {
                "" | "." => {}
                ".." if parts.last().is_some_and(|last| last != "..") => {
                    parts.pop();
                }
                _ => parts.push(part.to_string()),
            }
        }
        parts
    };
    let path_parts = clean(path);
    let base_parts = clean(base);
    let common = path_parts.iter().zip(&base_parts).take_while(|(left, right)| left == right).count();
    let mut parts: Vec<String> = base_parts[common..].iter().map(|_| "..".to_string()).collect();
    parts.extend(path_parts[common..].iter().cloned());
    if parts.is_empty() { ".".to_string() } else { parts.join("/") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_follow_filepath_rel() {
        assert_eq!(relative_to("a/b/c", "./"), "a/b/c");
        assert_eq!(relative_to("manifests", "."), "manifests");
        assert_eq!(relative_to("bundle/manifests", "bundle"), "manifests");
        assert_eq!(relative_to("x", "y"), "../x");
    }

    #[test]
    fn labels_split_once_and_last_wins() {
        let labels = parse_labels(&["z=first", "a.b/c=x=y", "z=last"]).unwrap();
        assert_eq!(labels.get("z").map(String::as_str), Some("last"));
        assert_eq!(labels.get("a.b/c").map(String::as_str), Some("x=y"));
        assert_eq!(parse_labels(&["novalue"]), Err(Error::InvalidLabel("novalue".to_string())));
    }
}
