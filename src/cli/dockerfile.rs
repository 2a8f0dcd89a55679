//! `catbuild dockerfile catalog|index|bundle`: the Dockerfiles opm writes,
//! on stdout, for people who build images with docker, podman or buildah.
//! `catalog` is `opm generate dockerfile` (build context: the target's
//! output directory), `index` the SQLite index image's, `bundle` what
//! `opm alpha bundle generate` writes for a bundle directory.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{CommandResult, Failure, print_stdout};
use crate::dockerfile::{self, DEFAULT_OPM_IMAGE};
use crate::encoding::json::Value;
use crate::load::annotations;

#[derive(Debug, Args)]
pub(super) struct DockerfileArgs {
    #[command(subcommand)]
    command: DockerfileCommand,
}

#[derive(Debug, Subcommand)]
enum DockerfileCommand {
    /// The catalog image's Dockerfile, as `opm generate dockerfile DIR` writes it
    Catalog {
        /// The FBC directory, relative to the build context
        #[arg(default_value = "catalog")]
        dir: String,
        /// Image the catalog is served from (`scratch`: binary-less, for `extractContent`)
        #[arg(short = 'i', long, default_value = DEFAULT_OPM_IMAGE)]
        base_image: String,
        /// Image whose opm pre-builds the serve cache (use the base image's opm)
        #[arg(short = 'b', long, default_value = DEFAULT_OPM_IMAGE)]
        builder_image: String,
        /// Extra label KEY=VALUE (repeatable)
        #[arg(short = 'l', long = "extra-labels", value_name = "KEY=VALUE")]
        labels: Vec<String>,
    },
    /// The SQLite index image's Dockerfile, as `opm index add` writes it
    Index {
        /// The database, relative to the build context
        #[arg(long, default_value = "index.db")]
        database: String,
        /// Image with /bin/opm
        #[arg(short = 'i', long, default_value = DEFAULT_OPM_IMAGE)]
        binary_image: String,
    },
    /// A bundle image's Dockerfile, as `opm alpha bundle generate` writes it
    Bundle {
        /// The bundle directory (with manifests/ and metadata/), relative to the build context
        dir: PathBuf,
        /// Base image of the bundle image
        #[arg(long, default_value = "scratch")]
        base_image: String,
    },
}

pub(super) fn run(args: &DockerfileArgs) -> CommandResult {
    let text = match &args.command {
        DockerfileCommand::Catalog {
            dir,
            base_image,
            builder_image,
            labels,
        } => {
            let labels = dockerfile::parse_labels(labels).map_err(|error| Failure::InputMessage(error.to_string()))?;
            dockerfile::catalog_dockerfile(&dockerfile::CatalogDockerfile {
                builder_image: builder_image.clone(),
                base_image: base_image.clone(),
                index_dir: dir.clone(),
                labels,
            })
            .map_err(|error| Failure::InputMessage(error.to_string()))?
        }
        DockerfileCommand::Index { database, binary_image } => dockerfile::index_dockerfile(binary_image, database),
        DockerfileCommand::Bundle { dir, base_image } => bundle(dir, base_image)?,
    };
    print_stdout(&text)
}

fn bundle(dir: &Path, base_image: &str) -> Result<String, Failure> {
    let path = dir.join("metadata").join("annotations.yaml");
    let text = fs_err::read_to_string(&path).map_err(|error| {
        Failure::InputMessage(format!(
            "{error} (a bundle directory has metadata/annotations.yaml; run this where the build context is)"
        ))
    })?;
    let document = crate::encoding::yaml_in::decode_stream(&text)
        .into_iter()
        .next()
        .transpose()
        .map_err(|error| Failure::InputMessage(format!("`{}` line {}: {}", path.display(), error.line, error.message)))?;
    let found = document.as_ref().and_then(|document| document.value.get("annotations"));
    let get = |key: &str| {
        found
            .and_then(|annotations| annotations.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let package = get(annotations::ANNOTATION_PACKAGE);
    if package.is_empty() {
        return Err(Failure::InputMessage(format!(
            "`{}` has no `{}` annotation",
            path.display(),
            annotations::ANNOTATION_PACKAGE
        )));
    }
    let dir_text = dir.to_string_lossy().replace('\\', "/");
    Ok(dockerfile::bundle_dockerfile(&dockerfile::BundleDockerfile {
        base_image: base_image.to_string(),
        media_type: get(annotations::ANNOTATION_MEDIATYPE),
        manifests: get(annotations::ANNOTATION_MANIFESTS),
        metadata: get(annotations::ANNOTATION_METADATA),
        package,
        channels: get(annotations::ANNOTATION_CHANNELS),
        default_channel: get(annotations::ANNOTATION_DEFAULT_CHANNEL),
        copy_manifests_dir: dockerfile::relative_to(&format!("{dir_text}/manifests"), "."),
        copy_metadata_dir: dockerfile::relative_to(&format!("{dir_text}/metadata"), "."),
    }))
}
