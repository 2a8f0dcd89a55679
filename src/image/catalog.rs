//! Catalog images (spec E.1, E.4, E.7): one layer with the catalog
//! (`/configs` for a File-Based Catalog, `/database/index.db` for the
//! SQLite index) on a base image or on scratch, with opm's labels.
//!
//! No `/tmp/cache`: opm's serve cache carries a digest of opm's own making
//! and `opm serve --cache-dir` refuses to start when it does not match
//! (trap 11 in I), so a base with opm gets `opm serve /configs` without
//! `--cache-dir` and builds its cache at start. The scratch variant has no
//! entrypoint at all; OLM copies `/configs` out (`extractContent`).

use std::io;

use super::layer::{LayerFile, build_layer_of};
use super::layout::BaseImage;
use super::oci::{Image, ImageConfig, Manifest, Platform, rfc3339};

/// Where opm reads a File-Based Catalog in an image.
pub const CONFIGS_LABEL: &str = "operators.operatorframework.io.index.configs.v1";
pub const CONFIGS_DIR: &str = "configs";
/// Where opm reads a SQLite index in an image.
pub const DATABASE_LABEL: &str = "operators.operatorframework.io.index.database.v1";
pub const DATABASE_FILE: &str = "database/index.db";

/// What a catalog image carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogKind {
    Fbc,
    Sqlite,
}

/// Builds the catalog image: `files` are the catalog's files relative to
/// `/configs` (FBC) or the one `index.db` (SQLite). With a base index, the
/// result is an index with one image per platform, all sharing the one
/// catalog layer.
pub fn catalog_image(kind: CatalogKind, files: &[LayerFile], base: Option<&BaseImage>, mtime: u64) -> io::Result<Image> {
    let paths: Vec<String> = files
        .iter()
        .map(|file| match kind {
            CatalogKind::Fbc => format!("{CONFIGS_DIR}/{}", file.path),
            CatalogKind::Sqlite => DATABASE_FILE.to_string(),
        })
        .collect();
    let entries = paths.iter().zip(files).map(|(path, file)| (path.as_str(), file.bytes.as_slice()));
    let layer = build_layer_of(entries, mtime)?;
    let mut settings = ImageConfig {
        created: rfc3339(mtime),
        ..ImageConfig::default()
    };
    match kind {
        CatalogKind::Fbc => {
            settings.labels.insert(CONFIGS_LABEL.to_string(), format!("/{CONFIGS_DIR}"));
        }
        CatalogKind::Sqlite => {
            settings.labels.insert(DATABASE_LABEL.to_string(), format!("/{DATABASE_FILE}"));
        }
    }
    if base.is_some() {
        settings.entrypoint = Some(vec!["/bin/opm".to_string()]);
        settings.cmd = Some(match kind {
            CatalogKind::Fbc => vec!["serve".into(), format!("/{CONFIGS_DIR}")],
            CatalogKind::Sqlite => vec!["registry".into(), "serve".into(), "--database".into(), format!("/{DATABASE_FILE}")],
        });
        settings.exposed_ports = vec!["50051/tcp".to_string()];
    }
    Ok(match base {
        None => Image::Single(Manifest::build(None, &Platform::linux_amd64(), &settings, vec![layer])),
        Some(base) => {
            let manifests: Vec<Manifest> = base
                .manifests
                .iter()
                .map(|manifest| Manifest::build(Some(manifest), &manifest.platform, &settings, vec![layer.clone()]))
                .collect();
            match (base.is_index, manifests.as_slice()) {
                (false, [_]) => Image::Single(manifests.into_iter().next().expect("one manifest")),
                _ => Image::index(manifests),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::image::oci::{BaseManifest, Blob};

    fn fbc() -> Vec<LayerFile> {
        vec![LayerFile {
            path: "fruits/catalog.json".into(),
            bytes: b"{}\n".to_vec(),
        }]
    }

    fn config(manifest: &Manifest) -> Value {
        serde_json::from_slice(&manifest.config.bytes).unwrap()
    }

    #[test]
    fn scratch_fbc_image_has_the_configs_label_and_no_entrypoint() {
        let image = catalog_image(CatalogKind::Fbc, &fbc(), None, 0).unwrap();
        let config = config(&image.manifests()[0]);
        assert_eq!(config["config"]["Labels"], json!({CONFIGS_LABEL: "/configs"}));
        assert_eq!(config["config"]["Entrypoint"], Value::Null);
        assert_eq!(config["config"]["Cmd"], Value::Null);
    }

    fn base(architecture: &str) -> BaseManifest {
        BaseManifest {
            config: json!({"architecture": architecture, "os": "linux", "config": {"Entrypoint": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": ["sha256:11"]}}),
            diff_ids: vec!["sha256:11".into()],
            layers: vec![Blob::new(
                crate::image::media_type::OCI_LAYER_GZIP,
                architecture.as_bytes().to_vec(),
            )],
            platform: Platform {
                os: "linux".into(),
                architecture: architecture.into(),
                variant: None,
            },
        }
    }

    #[test]
    fn opm_base_serves_without_the_prebuilt_cache() {
        let base = BaseImage {
            digest: "sha256:00".into(),
            is_index: false,
            manifests: vec![base("amd64")],
        };
        let image = catalog_image(CatalogKind::Fbc, &fbc(), Some(&base), 0).unwrap();
        let config = config(&image.manifests()[0]);
        assert_eq!(config["config"]["Entrypoint"], json!(["/bin/opm"]));
        assert_eq!(config["config"]["Cmd"], json!(["serve", "/configs"]));
        let sqlite = catalog_image(
            CatalogKind::Sqlite,
            &[LayerFile {
                path: "index.db".into(),
                bytes: b"db".to_vec(),
            }],
            Some(&base),
            0,
        )
        .unwrap();
        let config = crate::image::catalog::tests::config(&sqlite.manifests()[0]);
        assert_eq!(config["config"]["Labels"], json!({DATABASE_LABEL: "/database/index.db"}));
        assert_eq!(
            config["config"]["Cmd"],
            json!(["registry", "serve", "--database", "/database/index.db"])
        );
    }

    #[test]
    fn multi_arch_base_gives_an_index_sharing_the_catalog_layer() {
        let base = BaseImage {
            digest: "sha256:00".into(),
            is_index: true,
            manifests: vec![base("amd64"), base("arm64")],
        };
        let image = catalog_image(CatalogKind::Fbc, &fbc(), Some(&base), 0).unwrap();
        let Image::Index { manifests, .. } = &image else {
            panic!("an index");
        };
        assert_eq!(manifests.len(), 2);
        assert_eq!(manifests[0].layers[1], manifests[1].layers[1]);
        assert_ne!(manifests[0].layers[0], manifests[1].layers[0]);
        assert_eq!(config(&manifests[1])["architecture"], "arm64");
    }
}
