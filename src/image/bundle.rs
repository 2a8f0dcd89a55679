//! Bundle images (spec A.7): `/manifests` and `/metadata` as the bundle
//! has them (`.j2` files as rendered), on scratch, with the annotations of
//! `annotations.yaml` as config labels, which is how opm tells a bundle
//! image from a catalog image.

use std::collections::BTreeMap;
use std::io;

use super::layer::build_layer_of;
use super::oci::{Image, ImageConfig, Manifest, Platform};
use crate::encoding::json::Value;
use crate::load::BundleFiles;

/// The label opm looks for to call an image a bundle.
pub const PACKAGE_LABEL: &str = crate::load::annotations::ANNOTATION_PACKAGE;

/// Builds the image of one bundle from its (rendered) files.
pub fn bundle_image(files: &BundleFiles, mtime: u64) -> io::Result<Image> {
    let mut paths = Vec::with_capacity(files.files.len());
    for file in &files.files {
        // A bundle read from `bundle/manifests` is served from /manifests.
        let parent = file.parent();
        let top = if parent.ends_with(crate::load::MANIFESTS_DIR) {
            crate::load::MANIFESTS_DIR
        } else {
            crate::load::METADATA_DIR
        };
        paths.push(format!("{top}/{}", file.name()));
    }
    let entries = paths
        .iter()
        .zip(&files.files)
        .map(|(path, file)| (path.as_str(), file.bytes.as_slice()));
    let layer = build_layer_of(entries, mtime)?;
    let settings = ImageConfig {
        labels: annotation_labels(files),
        entrypoint: None,
        cmd: None,
        exposed_ports: Vec::new(),
        created: super::oci::rfc3339(mtime),
    };
    Ok(Image::Single(Manifest::build(
        None,
        &Platform::linux_amd64(),
        &settings,
        vec![layer],
    )))
}

/// Every annotation of the bundle's annotations file (the first file of
/// `metadata/` whose `annotations` name a package, as opm picks it), as
/// text: what `LABEL` lines of a bundle.Dockerfile would set.
pub fn annotation_labels(files: &BundleFiles) -> BTreeMap<String, String> {
    for file in files.files_in(crate::load::METADATA_DIR) {
        let Ok(text) = std::str::from_utf8(&file.bytes) else {
            continue;
        };
        let Some(Ok(document)) = crate::encoding::yaml_in::decode_stream(text).into_iter().next() else {
            continue;
        };
        let Value::Object(top) = document.value else {
            continue;
        };
        let Some((_, Value::Object(annotations))) = top.into_iter().find(|(key, _)| key == "annotations") else {
            continue;
        };
        if !annotations.iter().any(|(key, _)| key == PACKAGE_LABEL) {
            continue;
        }
        return annotations
            .into_iter()
            .filter_map(|(key, value)| {
                let text = match value {
                    Value::String(text) => text,
                    Value::Bool(flag) => flag.to_string(),
                    Value::Number(number) => number.as_str().to_string(),
                    _ => return None,
                };
                Some((key, text))
            })
            .collect();
    }
    BTreeMap::new()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::load::{BundleFile, Sha256Digest};

    fn bundle_file(path: &str, text: &str) -> BundleFile {
        BundleFile {
            path: PathBuf::from(path),
            bytes: text.as_bytes().to_vec(),
            source: PathBuf::from(path),
            source_digest: Sha256Digest::of(text.as_bytes()),
        }
    }

    #[test]
    fn labels_are_the_annotations_and_files_keep_their_places() {
        let files = BundleFiles {
            dir: PathBuf::from("b"),
            files: vec![
                bundle_file("manifests/csv.yaml", "kind: ClusterServiceVersion\n"),
                bundle_file(
                    "metadata/annotations.yaml",
                    "annotations:\n  operators.operatorframework.io.bundle.package.v1: fruits\n  \
                     operators.operatorframework.io.bundle.channels.v1: stable,fast\n  \
                     operators.operatorframework.io.bundle.mediatype.v1: registry+v1\n",
                ),
            ],
            directories: Default::default(),
            limits: Default::default(),
        };
        let image = bundle_image(&files, 0).unwrap();
        let manifest = &image.manifests()[0];
        let config: serde_json::Value = serde_json::from_slice(&manifest.config.bytes).unwrap();
        assert_eq!(
            config["config"]["Labels"],
            serde_json::json!({
                "operators.operatorframework.io.bundle.package.v1": "fruits",
                "operators.operatorframework.io.bundle.channels.v1": "stable,fast",
                "operators.operatorframework.io.bundle.mediatype.v1": "registry+v1",
            })
        );
        assert_eq!(config["config"]["Entrypoint"], serde_json::Value::Null);
        assert_eq!(manifest.layers.len(), 1);
        assert_eq!(image, bundle_image(&files, 0).unwrap(), "same input, same image");
    }
}
