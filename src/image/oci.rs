//! OCI image JSON: configs, manifests and indexes as the bytes that are
//! hashed, written to layouts and pushed (never re-serialized after the
//! digest is taken). serde_json's maps keep keys sorted, so the bytes
//! depend only on the content.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{Layer, media_type, sha256_digest};

/// Content named by its digest; shared, since one catalog layer serves
/// every platform of an index and one bundle image every target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub media_type: String,
    pub digest: String,
    /// The bytes; empty for a blob described but not held (a catalog
    /// layer the action cache and the published layout keep: see
    /// [`Blob::held`]), which can be named in a manifest, not written.
    pub bytes: Arc<Vec<u8>>,
    size: u64,
}

impl Blob {
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob {
            media_type: media_type.to_string(),
            digest: sha256_digest(&bytes),
            size: bytes.len() as u64,
            bytes: Arc::new(bytes),
        }
    }

    /// A blob whose bytes are `bytes`, already hashed to `digest`.
    pub fn with_digest(media_type: &str, digest: String, bytes: Vec<u8>) -> Blob {
        Blob {
            media_type: media_type.to_string(),
            digest,
            size: bytes.len() as u64,
            bytes: Arc::new(bytes),
        }
    }

    /// A blob this build does not hold: its digest and size are known
    /// (from the action cache), its bytes are elsewhere.
    pub fn stored(media_type: &str, digest: String, size: u64) -> Blob {
        Blob {
            media_type: media_type.to_string(),
            digest,
            bytes: Arc::new(Vec::new()),
            size,
        }
    }

    /// Whether `bytes` are the blob's bytes (an empty blob is held).
    pub fn held(&self) -> bool {
        self.bytes.len() as u64 == self.size
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.size(),
            platform: None,
            annotations: BTreeMap::new(),
        }
    }
}

impl From<Layer> for Blob {
    fn from(layer: Layer) -> Blob {
        match layer.blob {
            Some(bytes) => Blob::with_digest(layer.media_type, layer.digest, bytes),
            None => Blob::stored(layer.media_type, layer.digest, layer.size),
        }
    }
}

/// An OCI platform (`linux/amd64`, `linux/arm/v7`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// What a scratch image says it is for: OLM's catalog pods and bundle
    /// unpack jobs do not filter by platform, and opm's images default to it.
    pub fn linux_amd64() -> Platform {
        Platform {
            os: "linux".to_string(),
            architecture: "amd64".to_string(),
            variant: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut value = json!({"architecture": self.architecture, "os": self.os});
        if let Some(variant) = &self.variant {
            value["variant"] = json!(variant);
        }
        value
    }
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub platform: Option<Platform>,
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub fn to_json(&self) -> Value {
        let mut value = json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size});
        if let Some(platform) = &self.platform {
            value["platform"] = platform.to_json();
        }
        if !self.annotations.is_empty() {
            value["annotations"] = json!(self.annotations);
        }
        value
    }
}

/// What catbuild sets in an image's config; everything else comes from
/// the base image's config (or is empty on scratch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub labels: BTreeMap<String, String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// `50051/tcp` and the like.
    pub exposed_ports: Vec<String>,
    /// RFC 3339, from `SOURCE_DATE_EPOCH` or the epoch.
    pub created: String,
}

/// One image: a manifest, its config and layers (bottom first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub platform: Platform,
}

impl Manifest {
    /// Stacks `layers` on `base` (its config and layers; `None` for
    /// scratch) and sets `settings` in the config.
    pub fn build(base: Option<&BaseManifest>, platform: &Platform, settings: &ImageConfig, layers: Vec<Layer>) -> Manifest {
        let mut config = base.map_or_else(|| json!({}), |base| base.config.clone());
        let object = config.as_object_mut().expect("a config is an object (checked when read)");
        object.insert("created".into(), json!(settings.created));
        if base.is_none() {
            for (key, value) in platform.to_json().as_object().into_iter().flatten() {
                object.insert(key.clone(), value.clone());
            }
        }
        let inner = object.entry("config").or_insert_with(|| json!({}));
        if !inner.is_object() {
            *inner = json!({});
        }
        let inner = inner.as_object_mut().expect("set to an object above");
        let labels = inner.entry("Labels").or_insert_with(|| json!({}));
        if !labels.is_object() {
            *labels = json!({});
        }
        for (key, value) in &settings.labels {
            labels[key] = json!(value);
        }
        if let Some(entrypoint) = &settings.entrypoint {
            inner.insert("Entrypoint".into(), json!(entrypoint));
            // A new entrypoint drops the base's command, as docker's does.
            inner.remove("Cmd");
        }
        if let Some(cmd) = &settings.cmd {
            inner.insert("Cmd".into(), json!(cmd));
        }
        if !settings.exposed_ports.is_empty() {
            let ports = inner.entry("ExposedPorts").or_insert_with(|| json!({}));
            if !ports.is_object() {
                *ports = json!({});
            }
            for port in &settings.exposed_ports {
                ports[port] = json!({});
            }
        }
        let mut diff_ids: Vec<Value> = base
            .map(|base| base.diff_ids.iter().map(|id| json!(id)).collect())
            .unwrap_or_default();
        diff_ids.extend(layers.iter().map(|layer| json!(layer.diff_id)));
        object.insert("rootfs".into(), json!({"type": "layers", "diff_ids": diff_ids}));
        if let Some(Value::Array(history)) = object.get_mut("history") {
            for _ in &layers {
                history.push(json!({"created": settings.created, "created_by": "catbuild"}));
            }
        }
        let config = Blob::new(media_type::OCI_CONFIG, serde_json::to_vec(&config).expect("JSON values serialize"));
        let mut all_layers: Vec<Blob> = base.map(|base| base.layers.clone()).unwrap_or_default();
        all_layers.extend(layers.into_iter().map(Blob::from));
        Manifest::assemble(config, all_layers, platform.clone())
    }

    fn assemble(config: Blob, layers: Vec<Blob>, platform: Platform) -> Manifest {
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "config": config.descriptor().to_json(),
            "layers": layers.iter().map(|layer| layer.descriptor().to_json()).collect::<Vec<_>>(),
        });
        Manifest {
            manifest: Blob::new(
                media_type::OCI_MANIFEST,
                serde_json::to_vec(&manifest).expect("JSON values serialize"),
            ),
            config,
            layers,
            platform,
        }
    }

    pub fn digest(&self) -> &str {
        &self.manifest.digest
    }

    /// Every blob the manifest refers to, config first.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        std::iter::once(&self.config).chain(&self.layers)
    }
}

/// A base image's manifest as read: config JSON and layers (media types
/// already OCI).
#[derive(Debug, Clone)]
pub struct BaseManifest {
    pub config: Value,
    pub diff_ids: Vec<String>,
    pub layers: Vec<Blob>,
    pub platform: Platform,
}

/// A single-platform image or an index of several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Image {
    Single(Manifest),
    Index { index: Blob, manifests: Vec<Manifest> },
}

impl Image {
    /// An index of `manifests`, one per platform, in the given order.
    pub fn index(manifests: Vec<Manifest>) -> Image {
        let descriptors: Vec<Value> = manifests
            .iter()
            .map(|manifest| {
                let mut descriptor = manifest.manifest.descriptor();
                descriptor.platform = Some(manifest.platform.clone());
                descriptor.to_json()
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": descriptors});
        Image::Index {
            index: Blob::new(media_type::OCI_INDEX, serde_json::to_vec(&index).expect("JSON values serialize")),
            manifests,
        }
    }

    /// The blob a tag points at: the manifest, or the index.
    pub fn top(&self) -> &Blob {
        match self {
            Image::Single(manifest) => &manifest.manifest,
            Image::Index { index, .. } => index,
        }
    }

    pub fn digest(&self) -> &str {
        &self.top().digest
    }

    pub fn manifests(&self) -> &[Manifest] {
        match self {
            Image::Single(manifest) => std::slice::from_ref(manifest),
            Image::Index { manifests, .. } => manifests,
        }
    }
}

/// RFC 3339 UTC of `seconds` since the epoch (the config's `created`).
pub fn rfc3339(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = i64::try_from(days).unwrap_or(i64::MAX / 2) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::layer::{LayerFile, build_layer};

    fn layer(path: &str) -> Layer {
        build_layer(
            &[LayerFile {
                path: path.to_string(),
                bytes: b"x".to_vec(),
            }],
            0,
        )
        .unwrap()
    }

    #[test]
    fn created_is_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn scratch_image_config_and_manifest_have_exact_structure() {
        let settings = ImageConfig {
            labels: BTreeMap::from([("a.b/c".to_string(), "d".to_string())]),
            entrypoint: Some(vec!["/bin/opm".into()]),
            cmd: Some(vec!["serve".into(), "/configs".into()]),
            exposed_ports: vec!["50051/tcp".into()],
            created: rfc3339(0),
        };
        let layer = layer("configs/x");
        let diff_id = layer.diff_id.clone();
        let manifest = Manifest::build(None, &Platform::linux_amd64(), &settings, vec![layer]);
        let config: Value = serde_json::from_slice(&manifest.config.bytes).unwrap();
        assert_eq!(
            config,
            json!({
                "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
                "config": {"Labels": {"a.b/c": "d"}, "Entrypoint": ["/bin/opm"], "Cmd": ["serve", "/configs"],
                           "ExposedPorts": {"50051/tcp": {}}},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            })
        );
        let text = String::from_utf8(manifest.manifest.bytes.to_vec()).unwrap();
        assert!(text.starts_with(r#"{"config":{"digest":"sha256:"#), "{text}");
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["schemaVersion"], 2);
        assert_eq!(parsed["mediaType"], media_type::OCI_MANIFEST);
        assert_eq!(parsed["config"]["digest"], json!(manifest.config.digest));
        assert_eq!(parsed["config"]["size"], json!(manifest.config.size()));
        assert_eq!(parsed["layers"][0]["mediaType"], media_type::OCI_LAYER_GZIP);
        assert_eq!(manifest.digest(), sha256_digest(&manifest.manifest.bytes));
    }

    #[test]
    fn base_config_is_kept_and_extended() {
        let base = BaseManifest {
            config: json!({"architecture": "arm64", "os": "linux", "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Labels": {"base": "1"}},
                           "rootfs": {"type": "layers", "diff_ids": ["sha256:aa"]}, "history": [{"created_by": "base"}]}),
            diff_ids: vec!["sha256:aa".into()],
            layers: vec![Blob::new(media_type::OCI_LAYER_GZIP, b"base layer".to_vec())],
            platform: Platform {
                os: "linux".into(),
                architecture: "arm64".into(),
                variant: None,
            },
        };
        let settings = ImageConfig {
            labels: BTreeMap::from([("mine".to_string(), "2".to_string())]),
            entrypoint: Some(vec!["/bin/opm".into()]),
            cmd: None,
            exposed_ports: Vec::new(),
            created: rfc3339(0),
        };
        let manifest = Manifest::build(Some(&base), &base.platform.clone(), &settings, vec![layer("configs/x")]);
        let config: Value = serde_json::from_slice(&manifest.config.bytes).unwrap();
        assert_eq!(config["architecture"], "arm64");
        assert_eq!(config["config"]["Env"], json!(["PATH=/bin"]));
        assert_eq!(config["config"]["Cmd"], Value::Null);
        assert_eq!(config["config"]["Labels"], json!({"base": "1", "mine": "2"}));
        assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        assert_eq!(config["history"].as_array().unwrap().len(), 2);
        assert_eq!(manifest.layers.len(), 2);
        assert_eq!(manifest.layers[0].digest, base.layers[0].digest);
    }

    #[test]
    fn index_lists_each_platform() {
        let settings = ImageConfig::default();
        let amd = Manifest::build(None, &Platform::linux_amd64(), &settings, vec![layer("a")]);
        let arm_platform = Platform {
            os: "linux".into(),
            architecture: "arm".into(),
            variant: Some("v7".into()),
        };
        let arm = Manifest::build(None, &arm_platform, &settings, vec![layer("a")]);
        let image = Image::index(vec![amd.clone(), arm.clone()]);
        let index: Value = serde_json::from_slice(&image.top().bytes).unwrap();
        assert_eq!(index["mediaType"], media_type::OCI_INDEX);
        assert_eq!(index["manifests"][0]["digest"], json!(amd.digest()));
        assert_eq!(
            index["manifests"][1]["platform"],
            json!({"architecture": "arm", "os": "linux", "variant": "v7"})
        );
        assert_eq!(amd.layers[0], arm.layers[0], "platforms share the layer");
    }
}
