//! Catalog images (spec E.1, E.4, E.7): the catalog (`/configs` for a
//! File-Based Catalog, `/database/index.db` for the SQLite index) on a
//! base image or on scratch, with opm's labels.
//!
//! A File-Based Catalog is split over up to [`FBC_LAYERS`] layers, each
//! package's directory in the layer of its bucket ([`fbc_bucket`]), so
//! that a release that changes one package rebuilds, pushes and pulls one
//! layer, not the whole catalog (issue 19). The SQLite index is one file
//! and one layer.
//!
//! No `/tmp/cache`: opm's serve cache carries a digest of opm's own making
//! and `opm serve --cache-dir` refuses to start when it does not match
//! (trap 11 in I), so a base with opm gets `opm serve /configs` without
//! `--cache-dir` and builds its cache at start. The scratch variant has no
//! entrypoint at all; OLM copies `/configs` out (`extractContent`).

use std::collections::BTreeMap;
use std::io;

use sha2::Digest as _;

use super::Layer;
use super::layer::{Deflated, LayerFile, LayerOut, Run, RunEntry, build_layer_of, build_run_layer};
use super::layout::BaseImage;
use super::oci::{Image, ImageConfig, Manifest, Platform, rfc3339};

/// Where opm reads a File-Based Catalog in an image.
pub const CONFIGS_LABEL: &str = "operators.operatorframework.io.index.configs.v1";
pub const CONFIGS_DIR: &str = "configs";
/// Where opm reads a SQLite index in an image.
pub const DATABASE_LABEL: &str = "operators.operatorframework.io.index.database.v1";
pub const DATABASE_FILE: &str = "database/index.db";

/// The most layers a File-Based Catalog is split over. Container runtimes
/// stop near 125 layers in all (Docker's overlay2 limit; containerd and
/// CRI-O's overlay mounts are bounded by the same mount-option page), and
/// the base image's layers count too: opm's base images have a handful,
/// so 64 leaves half the room to the base. Fewer buckets would make each
/// one bigger, and a one-package change rebuilds and moves a whole bucket:
/// with 64, a 1,000-package catalog of 100 MB changes about 1.6 MB.
/// Changing it moves every package to another layer: every catalog image
/// digest changes once.
pub const FBC_LAYERS: u64 = 64;

/// The bucket (layer) of the package `package`: the first 8 bytes of
/// sha256 of its name, read big-endian, modulo [`FBC_LAYERS`]. It depends
/// on the name alone, never on the catalog's other packages, the version
/// of catbuild or the machine, so a package stays in its layer.
pub fn fbc_bucket(package: &str) -> u64 {
    let digest = sha2::Sha256::digest(package.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % FBC_LAYERS
}

/// The bucket of a file of the catalog, by its path relative to
/// `/configs`: its package directory's, or bucket 0 for a file at the top
/// (the FBC writer makes none, a hand-made catalog may).
pub fn fbc_bucket_of_path(path: &str) -> u64 {
    match path.split_once('/') {
        Some((package, _)) => fbc_bucket(package),
        None => 0,
    }
}

/// `items` (files of the catalog, `path` giving each one's path relative
/// to `/configs`) grouped by bucket, in bucket order; empty buckets are
/// left out.
pub fn by_bucket<T>(items: impl IntoIterator<Item = T>, path: impl Fn(&T) -> &str) -> Vec<Vec<T>> {
    let mut buckets: BTreeMap<u64, Vec<T>> = BTreeMap::new();
    for item in items {
        buckets.entry(fbc_bucket_of_path(path(&item))).or_default().push(item);
    }
    buckets.into_values().collect()
}

/// What a catalog image carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogKind {
    Fbc,
    Sqlite,
}

/// The layer of the catalog files `files` (`(path relative to /configs,
/// bytes)`, all of one bucket, in any order) under `/configs`.
pub fn fbc_layer<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>, mtime: u64) -> io::Result<Layer> {
    fbc_layer_reusing(files, mtime, &|_| None, LayerOut::Memory).map(|(layer, _)| layer)
}

/// [`fbc_layer`], its deflate stream cut into one run per package (see
/// [`build_run_layer`]): `reuse` may give a run's deflated bytes from an
/// earlier layer, so an edit deflates its own package alone, not the
/// other packages of its bucket. Returns the layer and its runs.
pub fn fbc_layer_reusing<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    mtime: u64,
    reuse: &dyn Fn(&[RunEntry]) -> Option<Deflated>,
    out: LayerOut,
) -> io::Result<(Layer, Vec<Run>)> {
    let files: Vec<(String, &[u8])> = files
        .into_iter()
        .map(|(path, bytes)| (format!("{CONFIGS_DIR}/{path}"), bytes))
        .collect();
    build_run_layer(
        files.iter().map(|(path, bytes)| (path.as_str(), *bytes)),
        mtime,
        &fbc_run_of,
        reuse,
        out,
    )
}

/// The run of a catalog layer's entry: its package's directory
/// (`configs/p` for `configs/p` and everything under it); `configs` and a
/// file at the top of `/configs` are runs of their own.
fn fbc_run_of(path: &str) -> &str {
    let top = CONFIGS_DIR.len() + 1;
    match path.get(top..).and_then(|rest| rest.find('/')) {
        Some(slash) if path.as_bytes().get(top - 1) == Some(&b'/') => &path[..top + slash],
        _ => path,
    }
}

/// The layers of a File-Based Catalog (`files` relative to `/configs`):
/// one per non-empty bucket, in bucket order, built in parallel. A
/// catalog with no file at all gets one empty layer, as it always had.
pub fn fbc_layers(files: &[LayerFile], mtime: u64) -> io::Result<Vec<Layer>> {
    use rayon::prelude::*;
    let buckets = by_bucket(files, |file| file.path.as_str());
    if buckets.is_empty() {
        return Ok(vec![fbc_layer([], mtime)?]);
    }
    buckets
        .par_iter()
        .map(|bucket| fbc_layer(bucket.iter().map(|file| (file.path.as_str(), file.bytes.as_slice())), mtime))
        .collect()
}

/// The layer of a SQLite index: `index.db`'s bytes at [`DATABASE_FILE`].
pub fn sqlite_layer(index_db: &[u8], mtime: u64) -> io::Result<Layer> {
    build_layer_of([(DATABASE_FILE, index_db)], mtime)
}

/// [`sqlite_layer`] of the index in the file `index_db`, streamed from
/// disk (a build's staged `index.db`: never read into memory whole).
pub fn sqlite_layer_of_file(index_db: &std::path::Path, mtime: u64, out: LayerOut) -> io::Result<Layer> {
    super::layer::build_layer_into([(DATABASE_FILE, super::layer::Content::File(index_db))], mtime, out)
}

/// Builds the catalog image: `files` are the catalog's files relative to
/// `/configs` (FBC) or the one `index.db` (SQLite). With a base index, the
/// result is an index with one image per platform, all sharing the
/// catalog's layers.
pub fn catalog_image(kind: CatalogKind, files: &[LayerFile], base: Option<&BaseImage>, mtime: u64) -> io::Result<Image> {
    let layers = match kind {
        CatalogKind::Fbc => fbc_layers(files, mtime)?,
        CatalogKind::Sqlite => {
            let bytes: &[u8] = files.first().map_or(&[], |file| file.bytes.as_slice());
            vec![sqlite_layer(bytes, mtime)?]
        }
    };
    Ok(catalog_image_of(kind, layers, base, mtime))
}

/// The catalog image made of `layers` (built, or known by digest to a
/// cache), on `base` or scratch, with opm's labels and command.
pub fn catalog_image_of(kind: CatalogKind, layers: Vec<Layer>, base: Option<&BaseImage>, mtime: u64) -> Image {
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
    match base {
        None => Image::Single(Manifest::build(None, &Platform::linux_amd64(), &settings, layers)),
        Some(base) => {
            let manifests: Vec<Manifest> = base
                .manifests
                .iter()
                .map(|manifest| Manifest::build(Some(manifest), &manifest.platform, &settings, layers.clone()))
                .collect();
            match (base.is_index, manifests.as_slice()) {
                (false, [_]) => Image::Single(manifests.into_iter().next().expect("one manifest")),
                _ => Image::index(manifests),
            }
        }
    }
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
    fn buckets_are_pinned_by_the_sha256_of_the_name() {
        // `printf %s NAME | sha256sum`, first 8 bytes big-endian mod 64:
        // with 64 buckets, the low 6 bits of the 8th byte.
        // etcd                         c38cbd92fce41312 -> 0x12 & 63 = 18
        // fruits-catalog-operator      d5be8e2a5b597c22 -> 0x22 & 63 = 34
        // prometheus                   1809f7cd0c75acf3 -> 0xf3 & 63 = 51
        // synth-network-00001-operator 8554bec53b09cca5 -> 0xa5 & 63 = 37
        assert_eq!(FBC_LAYERS, 64);
        assert_eq!(fbc_bucket("etcd"), 18);
        assert_eq!(fbc_bucket("fruits-catalog-operator"), 34);
        assert_eq!(fbc_bucket("prometheus"), 51);
        assert_eq!(fbc_bucket("synth-network-00001-operator"), 37);
        assert_eq!(fbc_bucket_of_path("etcd/catalog.json"), 18);
        assert_eq!(fbc_bucket_of_path("etcd/more/deep.yaml"), 18);
        assert_eq!(fbc_bucket_of_path("top-level.json"), 0);
    }

    fn file(path: &str, text: &str) -> LayerFile {
        LayerFile {
            path: path.into(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    /// The paths in a layer's tar, in order.
    fn paths(layer: &Layer) -> Vec<String> {
        paths_in(layer.blob.as_deref().unwrap())
    }

    fn paths_of(blob: &Blob) -> Vec<String> {
        paths_in(&blob.bytes)
    }

    fn paths_in(gzip: &[u8]) -> Vec<String> {
        let mut tar_bytes = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gzip), &mut tar_bytes).unwrap();
        tar::Archive::new(&tar_bytes[..])
            .entries()
            .unwrap()
            .map(|entry| String::from_utf8(entry.unwrap().path_bytes().to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn one_layer_per_non_empty_bucket_in_bucket_order_reproducibly() {
        // Buckets (pinned above): etcd 18, fruits 34, prometheus 51; a top
        // level file goes to bucket 0, first.
        let files = vec![
            file("prometheus/catalog.json", "{\"p\": 1}\n"),
            file("etcd/catalog.json", "{\"e\": 1}\n"),
            file("fruits-catalog-operator/catalog.json", "{}\n"),
            file("etcd/extra.json", "{}\n"),
            file("README", "x\n"),
        ];
        let layers = fbc_layers(&files, 0).unwrap();
        assert_eq!(layers.len(), 4);
        let listed: Vec<Vec<String>> = layers.iter().map(paths).collect();
        assert_eq!(listed[0], ["configs/", "configs/README"]);
        assert_eq!(
            listed[1],
            ["configs/", "configs/etcd/", "configs/etcd/catalog.json", "configs/etcd/extra.json"]
        );
        assert_eq!(
            listed[2],
            [
                "configs/",
                "configs/fruits-catalog-operator/",
                "configs/fruits-catalog-operator/catalog.json"
            ]
        );
        assert_eq!(listed[3], ["configs/", "configs/prometheus/", "configs/prometheus/catalog.json"]);
        // The same files in another order give the same bytes.
        let mut shuffled = files.clone();
        shuffled.reverse();
        assert_eq!(fbc_layers(&shuffled, 0).unwrap(), layers);
        // A change to one package changes its layer alone.
        let mut edited = files.clone();
        edited[0] = file("prometheus/catalog.json", "{\"p\": 2}\n");
        let changed = fbc_layers(&edited, 0).unwrap();
        let same: Vec<bool> = layers.iter().zip(&changed).map(|(one, two)| one.digest == two.digest).collect();
        assert_eq!(same, [true, true, true, false]);
        // The image lists them in that order, after nothing on scratch.
        let image = catalog_image(CatalogKind::Fbc, &files, None, 0).unwrap();
        let digests: Vec<&str> = image.manifests()[0].layers.iter().map(|blob| blob.digest.as_str()).collect();
        let built: Vec<&str> = layers.iter().map(|layer| layer.digest.as_str()).collect();
        assert_eq!(digests, built);
        assert_eq!(config(&image.manifests()[0])["rootfs"]["diff_ids"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn a_stored_layer_names_the_same_image_as_the_built_one() {
        let files = vec![file("etcd/catalog.json", "{}\n"), file("prometheus/catalog.json", "{}\n")];
        let built = fbc_layers(&files, 0).unwrap();
        let stored: Vec<Layer> = built
            .iter()
            .map(|layer| Layer::stored(layer.digest.clone(), layer.diff_id.clone(), layer.size))
            .collect();
        let one = catalog_image_of(CatalogKind::Fbc, built, None, 0);
        let two = catalog_image_of(CatalogKind::Fbc, stored, None, 0);
        assert_eq!(one.digest(), two.digest());
        assert!(one.manifests()[0].layers.iter().all(Blob::held));
        assert!(!two.manifests()[0].layers.iter().any(Blob::held));
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
    fn multi_arch_base_gives_an_index_sharing_the_catalog_layers() {
        let base = BaseImage {
            digest: "sha256:00".into(),
            is_index: true,
            manifests: vec![base("amd64"), base("arm64")],
        };
        let files = vec![fbc()[0].clone(), file("etcd/catalog.json", "{}\n")];
        let image = catalog_image(CatalogKind::Fbc, &files, Some(&base), 0).unwrap();
        let Image::Index { manifests, .. } = &image else {
            panic!("an index");
        };
        assert_eq!(manifests.len(), 2);
        // The base's layer, then the catalog's two (etcd's bucket 18, then
        // fruits' 34), the same blobs in both platforms.
        assert_eq!(manifests[0].layers.len(), 3);
        assert_eq!(manifests[0].layers[1..], manifests[1].layers[1..]);
        assert_ne!(manifests[0].layers[0], manifests[1].layers[0]);
        assert_eq!(paths_of(&manifests[0].layers[1])[1], "configs/etcd/");
        assert_eq!(config(&manifests[1])["architecture"], "arm64");
    }
}
