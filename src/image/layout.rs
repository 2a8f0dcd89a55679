//! OCI image layouts (image-spec `image-layout.md`): writing tagged images
//! as files (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) for
//! `output` to put in place, and reading a base image from one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::media_type;
use super::oci::{BaseManifest, Blob, Descriptor, Image, Platform};

/// The annotation that names a manifest in a layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The files of a layout holding `images` under their tags (relative to
/// the layout directory), index entries sorted by tag, each blob once.
pub fn layout_files(images: &[(String, &Image)]) -> Vec<(PathBuf, Vec<u8>)> {
    let tagged: Vec<(String, Descriptor)> = images.iter().map(|(tag, image)| (tag.clone(), image.top().descriptor())).collect();
    let mut files = layout_index(&tagged);
    let mut blobs: BTreeMap<&str, &Blob> = BTreeMap::new();
    for (_, image) in images {
        for blob in image_blobs(image) {
            blobs.insert(&blob.digest, blob);
        }
    }
    files.extend(blobs.into_values().map(|blob| (blob_path(&blob.digest), blob.bytes.to_vec())));
    files
}

/// `oci-layout` and `index.json` of a layout whose tags name `tagged`
/// (each the descriptor of a manifest or index), entries sorted by tag:
/// the layout without its blobs, which the caller writes (or keeps).
pub fn layout_index(tagged: &[(String, Descriptor)]) -> Vec<(PathBuf, Vec<u8>)> {
    let mut sorted: Vec<&(String, Descriptor)> = tagged.iter().collect();
    sorted.sort_by(|left, right| left.0.cmp(&right.0));
    let descriptors: Vec<Value> = sorted
        .into_iter()
        .map(|(tag, descriptor)| {
            let mut descriptor = descriptor.clone();
            descriptor.annotations.insert(REF_NAME.to_string(), tag.clone());
            descriptor.to_json()
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": descriptors});
    vec![
        (PathBuf::from("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        (
            PathBuf::from("index.json"),
            serde_json::to_vec(&index).expect("JSON values serialize"),
        ),
    ]
}

/// Every blob of `image`: its index (if any), manifests, configs and
/// layers, possibly with repeats (a layer shared by platforms).
pub fn image_blobs(image: &Image) -> Vec<&Blob> {
    let mut blobs = vec![image.top()];
    for manifest in image.manifests() {
        blobs.push(&manifest.manifest);
        blobs.extend(manifest.blobs());
    }
    blobs
}

/// Where a layout keeps the blob `digest` (`blobs/sha256/<hex>`).
pub fn blob_path(digest: &str) -> PathBuf {
    PathBuf::from("blobs/sha256").join(digest.trim_start_matches("sha256:"))
}

/// A base image read from a layout: its digest and one manifest per
/// platform (one for a plain manifest).
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// Digest of the manifest or index the tag names.
    pub digest: String,
    pub is_index: bool,
    pub manifests: Vec<BaseManifest>,
}

/// Reads the image tagged `tag` (or the only image, when `tag` is `None`)
/// from the layout in `dir`, checking every blob against its digest.
/// Errors are sentences for the user, naming the file.
pub fn read_image(dir: &Path, tag: Option<&str>) -> Result<BaseImage, String> {
    let index_path = dir.join("index.json");
    let index = read_json(&index_path)?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let chosen: Vec<&Value> = match tag {
        Some(tag) => entries.iter().filter(|entry| entry["annotations"][REF_NAME] == tag).collect(),
        None => entries.iter().collect(),
    };
    let entry = match (chosen.as_slice(), tag) {
        ([entry], _) => *entry,
        ([], Some(tag)) => {
            let tags: Vec<&str> = entries.iter().filter_map(|entry| entry["annotations"][REF_NAME].as_str()).collect();
            return Err(format!(
                "`{}` has no image tagged `{tag}` (tags: {})",
                index_path.display(),
                if tags.is_empty() { "none".to_string() } else { tags.join(", ") }
            ));
        }
        (_, None) => {
            return Err(format!(
                "`{}` holds {} images; name one as `oci:DIR:TAG`",
                index_path.display(),
                chosen.len()
            ));
        }
        (_, Some(tag)) => return Err(format!("`{}` has several images tagged `{tag}`", index_path.display())),
    };
    let (media, digest) = descriptor_of(entry, &index_path)?;
    read_top(dir, &digest, media)
}

/// Reads the image whose manifest or index has `digest` from the blobs of
/// the layout (or blob store) in `dir`, with no `index.json`: how a base
/// pulled from a registry into the image cache is read back.
pub fn read_image_by_digest(dir: &Path, digest: &str) -> Result<BaseImage, String> {
    read_top(dir, digest, String::new())
}

fn read_top(dir: &Path, digest: &str, media: String) -> Result<BaseImage, String> {
    let digest = digest.to_string();
    let bytes = read_blob(dir, &digest)?;
    let top: Value = parse_json(&bytes, &blob_path(&digest))?;
    let media = top["mediaType"].as_str().map_or(media, str::to_string);
    // `mediaType` is optional in an OCI index; its `manifests` list is not.
    if media_type::is_index(&media) || (media.is_empty() && top["manifests"].is_array()) {
        let mut manifests = Vec::new();
        for child in top["manifests"].as_array().into_iter().flatten() {
            let (_, child_digest) = descriptor_of(child, &dir.join(blob_path(&digest)))?;
            let platform = platform_of(&child["platform"]);
            // Attestation manifests (buildx) say `unknown/unknown`.
            if platform.as_ref().is_some_and(|platform| platform.os == "unknown") {
                continue;
            }
            manifests.push(read_manifest(dir, &child_digest, platform)?);
        }
        if manifests.is_empty() {
            return Err(format!("the image index {digest} in `{}` lists no platform image", dir.display()));
        }
        Ok(BaseImage {
            digest,
            is_index: true,
            manifests,
        })
    } else {
        Ok(BaseImage {
            digest: digest.clone(),
            is_index: false,
            manifests: vec![read_manifest(dir, &digest, None)?],
        })
    }
}

fn read_manifest(dir: &Path, digest: &str, platform: Option<Platform>) -> Result<BaseManifest, String> {
    let path = dir.join(blob_path(digest));
    let manifest = parse_json(&read_blob(dir, digest)?, &path)?;
    let (_, config_digest) = descriptor_of(&manifest["config"], &path)?;
    let config_path = dir.join(blob_path(&config_digest));
    let config = parse_json(&read_blob(dir, &config_digest)?, &config_path)?;
    if !config.is_object() {
        return Err(format!("`{}` is not an image config", config_path.display()));
    }
    let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|id| id.as_str().map(str::to_string))
        .collect();
    let mut layers = Vec::new();
    for layer in manifest["layers"].as_array().into_iter().flatten() {
        let (media, layer_digest) = descriptor_of(layer, &path)?;
        // Same bytes, OCI name: an OCI manifest lists OCI layer types.
        let media = if media == media_type::DOCKER_LAYER_GZIP {
            media_type::OCI_LAYER_GZIP.to_string()
        } else {
            media
        };
        layers.push(Blob::with_digest(&media, layer_digest.clone(), read_blob(dir, &layer_digest)?));
    }
    if diff_ids.len() != layers.len() {
        return Err(format!(
            "`{}` lists {} diff_ids for {} layers",
            config_path.display(),
            diff_ids.len(),
            layers.len()
        ));
    }
    let platform = platform.unwrap_or_else(|| platform_of(&config).unwrap_or_else(Platform::linux_amd64));
    Ok(BaseManifest {
        config,
        diff_ids,
        layers,
        platform,
    })
}

/// An image as a layout holds it, ready to push: its manifests with
/// their bytes (children before the index that names them, the image's
/// own manifest or index last), and every other blob (configs, layers)
/// by digest, size and file, never read here.
#[derive(Debug)]
pub struct LayoutImage {
    pub manifests: Vec<Blob>,
    pub blobs: Vec<LayoutBlob>,
}

/// A blob of a layout, named by its descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutBlob {
    pub digest: String,
    pub size: u64,
    pub path: PathBuf,
}

/// Reads the image `digest` names from the layout in `dir` for a push:
/// each manifest (or index) is checked against its digest; a config or
/// layer only against its descriptor's size (the registry checks its
/// digest as it takes the upload).
pub fn read_for_push(dir: &Path, digest: &str) -> Result<LayoutImage, String> {
    let top = read_blob(dir, digest)?;
    let top_path = dir.join(blob_path(digest));
    let value = parse_json(&top, &top_path)?;
    let mut image = LayoutImage {
        manifests: Vec::new(),
        blobs: Vec::new(),
    };
    let manifest_blobs = |value: &Value, path: &Path, blobs: &mut Vec<LayoutBlob>| -> Result<(), String> {
        let layers = value["layers"].as_array().into_iter().flatten();
        for descriptor in std::iter::once(&value["config"]).chain(layers) {
            let (_, digest) = descriptor_of(descriptor, path)?;
            let size = descriptor["size"]
                .as_u64()
                .ok_or_else(|| format!("`{}` has a descriptor without a size", path.display()))?;
            let blob_file = dir.join(blob_path(&digest));
            let found = std::fs::metadata(&blob_file).map_err(|error| format!("cannot read `{}`: {error}", blob_file.display()))?;
            if found.len() != size {
                return Err(format!(
                    "`{}` holds {} bytes where its descriptor says {size}: the layout changed after it was built",
                    blob_file.display(),
                    found.len()
                ));
            }
            blobs.push(LayoutBlob {
                digest,
                size,
                path: blob_file,
            });
        }
        Ok(())
    };
    // `mediaType` is optional in OCI JSON; a registry needs one to take
    // a manifest.
    let is_index = value["manifests"].is_array();
    let media = match value["mediaType"].as_str() {
        Some(media) => media.to_string(),
        None if is_index => media_type::OCI_INDEX.to_string(),
        None => media_type::OCI_MANIFEST.to_string(),
    };
    if media_type::is_index(&media) || is_index {
        for child in value["manifests"].as_array().into_iter().flatten() {
            let (child_media, child_digest) = descriptor_of(child, &top_path)?;
            let bytes = read_blob(dir, &child_digest)?;
            let child_path = dir.join(blob_path(&child_digest));
            manifest_blobs(&parse_json(&bytes, &child_path)?, &child_path, &mut image.blobs)?;
            let child_media = if child_media.is_empty() {
                media_type::OCI_MANIFEST.to_string()
            } else {
                child_media
            };
            image.manifests.push(Blob::with_digest(&child_media, child_digest, bytes));
        }
    } else {
        manifest_blobs(&value, &top_path, &mut image.blobs)?;
    }
    image.manifests.push(Blob::with_digest(&media, digest.to_string(), top));
    Ok(image)
}

fn platform_of(value: &Value) -> Option<Platform> {
    Some(Platform {
        os: value["os"].as_str()?.to_string(),
        architecture: value["architecture"].as_str()?.to_string(),
        variant: value["variant"].as_str().map(str::to_string),
    })
}

fn descriptor_of(value: &Value, path: &Path) -> Result<(String, String), String> {
    let digest = value["digest"].as_str().unwrap_or_default();
    let hex = digest.strip_prefix("sha256:").unwrap_or_default();
    if hex.len() != 64 || !hex.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)) {
        return Err(format!("`{}` has a descriptor without a sha256 digest", path.display()));
    }
    Ok((value["mediaType"].as_str().unwrap_or_default().to_string(), digest.to_string()))
}

fn read_blob(dir: &Path, digest: &str) -> Result<Vec<u8>, String> {
    let path = dir.join(blob_path(digest));
    let bytes = fs_err::read(&path).map_err(|error| error.to_string())?;
    let found = super::sha256_digest(&bytes);
    if found != digest {
        return Err(format!(
            "`{}` has digest {found}, not {digest}: the layout is corrupt",
            path.display()
        ));
    }
    Ok(bytes)
}

fn read_json(path: &Path) -> Result<Value, String> {
    let bytes = fs_err::read(path).map_err(|error| error.to_string())?;
    parse_json(&bytes, path)
}

fn parse_json(bytes: &[u8], path: &Path) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|error| format!("`{}` is not valid JSON: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::layer::{LayerFile, build_layer};
    use crate::image::oci::{ImageConfig, Manifest};

    fn image(content: &str) -> Image {
        let layer = build_layer(
            &[LayerFile {
                path: "configs/x".into(),
                bytes: content.as_bytes().to_vec(),
            }],
            0,
        )
        .unwrap();
        Image::Single(Manifest::build(
            None,
            &Platform::linux_amd64(),
            &ImageConfig::default(),
            vec![layer],
        ))
    }

    #[test]
    fn layout_has_marker_tagged_index_and_every_blob_once() {
        let one = image("1");
        let two = image("2");
        let files = layout_files(&[("b".into(), &two), ("a".into(), &one), ("c".into(), &one)]);
        let names: Vec<String> = files.iter().map(|(path, _)| path.display().to_string()).collect();
        assert_eq!(names[0], "oci-layout");
        assert_eq!(files[0].1, br#"{"imageLayoutVersion":"1.0.0"}"#);
        assert_eq!(names[1], "index.json");
        // 2 manifests + 2 configs + 2 layers (the empty label set makes
        // both configs differ only by diff_id).
        assert_eq!(names.len(), 2 + 6, "{names:?}");
        let index: Value = serde_json::from_slice(&files[1].1).unwrap();
        let tags: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["annotations"][REF_NAME].as_str().unwrap())
            .collect();
        assert_eq!(tags, ["a", "b", "c"]);
        assert_eq!(index["manifests"][0]["digest"], json!(one.digest()));
        for (path, bytes) in &files[2..] {
            assert_eq!(
                path.file_name().unwrap().to_str().unwrap(),
                crate::image::sha256_digest(bytes).trim_start_matches("sha256:")
            );
        }
    }

    fn write_layout(dir: &Path, images: &[(String, &Image)]) {
        for (path, bytes) in layout_files(images) {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
    }

    #[test]
    fn an_image_read_for_a_push_lists_manifests_children_first_and_blobs_by_file() {
        let dir = tempfile::tempdir().unwrap();
        let single = image("1");
        let arm = Platform {
            architecture: "arm64".to_string(),
            ..Platform::linux_amd64()
        };
        let manifests = vec![single.manifests()[0].clone(), {
            let mut other = image("2").manifests()[0].clone();
            other.platform = arm;
            other
        }];
        let index = Image::index(manifests);
        write_layout(dir.path(), &[("one".into(), &single), ("both".into(), &index)]);

        let read = read_for_push(dir.path(), single.digest()).unwrap();
        assert_eq!(read.manifests, vec![single.top().clone()]);
        let expected: Vec<LayoutBlob> = single.manifests()[0]
            .blobs()
            .map(|blob| LayoutBlob {
                digest: blob.digest.clone(),
                size: blob.size(),
                path: dir.path().join(blob_path(&blob.digest)),
            })
            .collect();
        assert_eq!(read.blobs, expected);

        let read = read_for_push(dir.path(), index.digest()).unwrap();
        let names: Vec<&str> = read.manifests.iter().map(|blob| blob.digest.as_str()).collect();
        let children: Vec<&str> = index.manifests().iter().map(|manifest| manifest.digest()).collect();
        assert_eq!(names, [children[0], children[1], index.digest()]);
        assert_eq!(read.manifests[2].media_type, media_type::OCI_INDEX);
        assert_eq!(read.manifests[0].media_type, media_type::OCI_MANIFEST);
        assert_eq!(read.blobs.len(), 4, "two configs and two layers");

        // A layer that changed size, or a manifest that changed at all,
        // is refused before anything is pushed.
        let layer = dir.path().join(blob_path(&single.manifests()[0].layers[0].digest));
        let layer_bytes = std::fs::read(&layer).unwrap();
        std::fs::write(&layer, b"shorter").unwrap();
        let error = read_for_push(dir.path(), single.digest()).unwrap_err();
        assert!(error.contains("holds 7 bytes where its descriptor says"), "{error}");
        std::fs::write(&layer, layer_bytes).unwrap();
        assert!(read_for_push(dir.path(), index.digest()).is_ok());
        std::fs::write(dir.path().join(blob_path(children[1])), b"{}").unwrap();
        assert!(
            read_for_push(dir.path(), index.digest())
                .unwrap_err()
                .contains("the layout is corrupt")
        );
    }

    #[test]
    fn an_image_written_reads_back_with_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let written = image("1");
        write_layout(dir.path(), &[("v1".into(), &written)]);
        let read = read_image(dir.path(), Some("v1")).unwrap();
        assert_eq!(read.digest, written.digest());
        assert!(!read.is_index);
        assert_eq!(read.manifests[0].layers, written.manifests()[0].layers);
        assert!(
            read_image(dir.path(), Some("v2"))
                .unwrap_err()
                .contains("no image tagged `v2` (tags: v1)")
        );
        // A blob that does not match its name is refused.
        let layer = dir.path().join(blob_path(&written.manifests()[0].layers[0].digest));
        std::fs::write(&layer, b"tampered").unwrap();
        assert!(read_image(dir.path(), None).unwrap_err().contains("the layout is corrupt"));
    }
}
