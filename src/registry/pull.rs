//! Pulling an image: its manifest by tag or digest (from an image index,
//! the `linux/amd64` image, or the only one), its config, and its layers,
//! each blob streamed into a temp file beside the blob store, its sha256
//! and size checked, then renamed into place, so the store only ever holds
//! verified blobs. A blob cut off mid-way, a dropped connection or a 5xx
//! is fetched again from the start, after a backoff (the push's retry
//! rule). An OCI image layout (`oci:DIR[:TAG]`) is read the same way,
//! its layers left where they are (checked as they are unpacked).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sha2::Digest as _;

use super::client::{Access, CallError, Client, ClientSettings, with_retries};
use super::mirrors::Registries;
use crate::image::layout::REF_NAME;
use crate::image::reference::Reference;
use crate::image::unpack::{LayerBlob, Limits};
use crate::image::{media_type, sha256_digest};

/// A manifest or config larger than this is refused before it is read.
const JSON_LIMIT: u64 = 4 << 20;

/// Where an image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A registry (through registries.conf's mirrors).
    Registry(Reference),
    /// An OCI image layout: `oci:DIR[:TAG]`.
    Layout { dir: PathBuf, tag: Option<String> },
}

impl ImageSource {
    /// Parses `HOST/REPO[:TAG][@DIGEST]` or `oci:DIR[:TAG]` (a relative
    /// `DIR` is taken from `base_dir`).
    pub fn parse(text: &str, base_dir: &Path) -> Result<ImageSource, String> {
        if let Some(rest) = text.strip_prefix("oci:") {
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((dir, tag)) if !tag.contains('/') && !dir.is_empty() => (dir, Some(tag.to_string())),
                _ => (rest, None),
            };
            if dir.is_empty() {
                return Err(format!("`{text}` names no layout directory (expected `oci:DIR[:TAG]`)"));
            }
            return Ok(ImageSource::Layout {
                dir: base_dir.join(dir),
                tag,
            });
        }
        // opm's rule for what a pull spec is (docker's reference grammar).
        crate::model::image_ref::parse_normalized_named(text).map_err(|reason| format!("`{text}` is not an image reference: {reason}"))?;
        let reference = Reference::parse(text)?;
        if let Some(digest) = &reference.digest
            && !is_sha256(digest)
        {
            return Err(format!("`{text}` has a digest that is not `sha256:` and 64 hex digits"));
        }
        Ok(ImageSource::Registry(reference))
    }
}

/// How pulls go.
#[derive(Debug, Clone)]
pub struct PullSettings {
    pub client: ClientSettings,
    pub registries: Registries,
    pub limits: Limits,
    /// Attempts per call before giving up.
    pub attempts: u32,
    /// First backoff; doubled after each failed attempt.
    pub backoff: Duration,
}

impl Default for PullSettings {
    fn default() -> PullSettings {
        PullSettings {
            client: ClientSettings::default(),
            registries: Registries::default(),
            limits: Limits::default(),
            attempts: 5,
            backoff: Duration::from_millis(200),
        }
    }
}

/// An image, pulled: what its layers need to be unpacked.
#[derive(Debug, Clone)]
pub struct PulledImage {
    /// Digest of the manifest or index the reference names: what
    /// `REPO@DIGEST` pulls again.
    pub digest: String,
    /// The config blob's bytes (its digest checked).
    pub config: Vec<u8>,
    /// Bottom layer first; registry blobs are in the blob store, verified;
    /// layout blobs are the layout's files, verified as they are unpacked.
    pub layers: Vec<LayerBlob>,
}

impl PulledImage {
    /// The config's `config.Labels`, sorted; non-string values as JSON.
    pub fn labels(&self) -> std::collections::BTreeMap<String, String> {
        config_labels(&self.config)
    }
}

/// The labels of an image config's bytes.
pub fn config_labels(config: &[u8]) -> std::collections::BTreeMap<String, String> {
    let value: Value = serde_json::from_slice(config).unwrap_or(Value::Null);
    value["config"]["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_string);
            (key.clone(), text)
        })
        .collect()
}

/// A pull that failed: the message names the reference (as the user wrote
/// it) and never holds a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot pull `{reference}`: {message}")]
pub struct PullError {
    pub reference: String,
    pub message: String,
}

/// Pulls `source` (named `text` in messages); with `pin`, the image of
/// that digest instead of what the tag names now. Registry blobs go to
/// `blob_dir` (`blobs/sha256/<hex>` below it).
pub fn pull(
    text: &str,
    source: &ImageSource,
    pin: Option<&str>,
    settings: &PullSettings,
    blob_dir: &Path,
) -> Result<PulledImage, PullError> {
    let fail = |message: String| PullError {
        reference: text.to_string(),
        message,
    };
    match source {
        ImageSource::Layout { dir, tag } => read_layout(dir, tag.as_deref(), pin, &settings.limits).map_err(fail),
        ImageSource::Registry(reference) => through_mirrors(reference, pin, settings, |endpoint, insecure| {
            pull_from(endpoint, insecure, settings, blob_dir)
        })
        .map_err(fail),
    }
}

/// Runs `pull` on each place registries.conf says `reference` (with
/// `pin`, that digest) is served from, mirrors first, until one succeeds;
/// the message names every place tried.
fn through_mirrors<T>(
    reference: &Reference,
    pin: Option<&str>,
    settings: &PullSettings,
    pull: impl Fn(&Reference, bool) -> Result<T, String>,
) -> Result<T, String> {
    let mut reference = reference.clone();
    if let Some(pin) = pin {
        reference.tag = None;
        reference.digest = Some(pin.to_string());
    }
    let endpoints = settings.registries.endpoints(&reference, settings.client.insecure)?;
    let mut failures = Vec::new();
    for endpoint in &endpoints {
        match pull(&endpoint.reference, endpoint.insecure) {
            Ok(pulled) => return Ok(pulled),
            Err(message) if endpoints.len() > 1 => failures.push(format!("from `{}`: {message}", endpoint.reference)),
            Err(message) => failures.push(message),
        }
    }
    Err(failures.join("; "))
}

/// A client for `reference`'s registry and what to ask it for: the digest,
/// else the tag, else `latest`.
fn connect(reference: &Reference, insecure: bool, settings: &PullSettings) -> Result<(Client, String), String> {
    let client_settings = ClientSettings {
        insecure,
        ..settings.client.clone()
    };
    // Docker Hub's API is not served at the name its references use.
    let host = if reference.registry == "docker.io" {
        "registry-1.docker.io"
    } else {
        reference.registry.as_str()
    };
    let client = Client::connect(host, &client_settings)?;
    let wanted = reference
        .digest
        .clone()
        .unwrap_or_else(|| reference.tag.clone().unwrap_or_else(|| "latest".to_string()));
    Ok((client, wanted))
}

fn pull_from(reference: &Reference, insecure: bool, settings: &PullSettings, blob_dir: &Path) -> Result<PulledImage, String> {
    let (client, wanted) = connect(reference, insecure, settings)?;
    let repository = reference.repository.as_str();
    let retry = |call: &mut dyn FnMut() -> Result<Vec<u8>, CallError>| with_retries(settings.attempts, settings.backoff, &|| {}, call);
    let top = retry(&mut || get_manifest(&client, repository, &wanted))?;
    let digest = sha256_digest(&top);
    if reference.digest.as_ref().is_some_and(|pinned| *pinned != digest) {
        return Err(format!("the registry sent a manifest with digest {digest} for {wanted}"));
    }
    let manifest = match parse_top(&top)? {
        Top::Index(children) => {
            let child = pick_platform(&children)?;
            let bytes = retry(&mut || get_manifest(&client, repository, &child))?;
            if sha256_digest(&bytes) != child {
                return Err(format!("the registry sent a manifest that is not {child}"));
            }
            parse_manifest(&bytes)?
        }
        Top::Manifest(manifest) => manifest,
    };
    check_sizes(&manifest, &settings.limits)?;
    let config_digest = manifest.config.clone();
    let config = retry(&mut || {
        let path = format!("/v2/{repository}/blobs/{config_digest}");
        let mut response = client.send("GET", &path, &[repository], Access::Pull, &[], &[])?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(refused(status, &format!("config blob {config_digest}")));
        }
        read_limited(response.body_mut(), JSON_LIMIT, &path)
    })?;
    if sha256_digest(&config) != manifest.config {
        return Err(format!("the config blob is not {}", manifest.config));
    }
    let store = blob_dir.join("blobs/sha256");
    fs_err::create_dir_all(&store).map_err(|error| error.to_string())?;
    let mut layers = Vec::new();
    for layer in &manifest.layers {
        let path = store.join(layer.digest.trim_start_matches("sha256:"));
        // Only a verified blob is ever renamed into the store.
        let present = std::fs::metadata(&path).is_ok_and(|metadata| metadata.len() == layer.size);
        if !present {
            with_retries(settings.attempts, settings.backoff, &|| {}, || {
                fetch_blob(&client, repository, layer, &store, &path)
            })?;
        }
        layers.push(LayerBlob {
            digest: layer.digest.clone(),
            media_type: layer.media_type.clone(),
            size: layer.size,
            path,
        });
    }
    Ok(PulledImage { digest, config, layers })
}

/// Copies the whole image `reference` names (with `pin`, the image of that
/// digest) into the blob store below `blob_dir` (`blobs/sha256/<hex>`, the
/// blobs of an OCI layout): its manifest or index, every platform's
/// manifest of an index (attestations left out), each config and layer.
/// Every blob is verified before it is renamed into place, and one already
/// there is not fetched again. Returns the digest of the top manifest or
/// index; `image::layout::read_image_by_digest` reads it back. This is how
/// a catalog's base image comes from a registry: all of its platforms.
pub fn pull_all(
    text: &str,
    reference: &Reference,
    pin: Option<&str>,
    settings: &PullSettings,
    blob_dir: &Path,
) -> Result<String, PullError> {
    through_mirrors(reference, pin, settings, |endpoint, insecure| {
        pull_all_from(endpoint, insecure, settings, blob_dir)
    })
    .map_err(|message| PullError {
        reference: text.to_string(),
        message,
    })
}

fn pull_all_from(reference: &Reference, insecure: bool, settings: &PullSettings, blob_dir: &Path) -> Result<String, String> {
    let (client, wanted) = connect(reference, insecure, settings)?;
    let repository = reference.repository.as_str();
    let retry = |call: &mut dyn FnMut() -> Result<Vec<u8>, CallError>| with_retries(settings.attempts, settings.backoff, &|| {}, call);
    let store = blob_dir.join("blobs/sha256");
    fs_err::create_dir_all(&store).map_err(|error| error.to_string())?;
    let top = retry(&mut || get_manifest(&client, repository, &wanted))?;
    let digest = sha256_digest(&top);
    if reference.digest.as_ref().is_some_and(|pinned| *pinned != digest) {
        return Err(format!("the registry sent a manifest with digest {digest} for {wanted}"));
    }
    let mut manifests = Vec::new();
    match parse_top(&top)? {
        Top::Index(children) => {
            for (child, platform) in children {
                if platform.starts_with("unknown/") {
                    continue;
                }
                let bytes = retry(&mut || get_manifest(&client, repository, &child))?;
                if sha256_digest(&bytes) != child {
                    return Err(format!("the registry sent a manifest that is not {child}"));
                }
                manifests.push((child, bytes));
            }
        }
        Top::Manifest(_) => {}
    }
    let mut parsed = Vec::new();
    for (_, bytes) in &manifests {
        parsed.push(parse_manifest(bytes)?);
    }
    if manifests.is_empty() {
        parsed.push(parse_manifest(&top)?);
    }
    for manifest in &parsed {
        check_sizes(manifest, &settings.limits)?;
        if manifest.config_size > JSON_LIMIT {
            return Err(format!(
                "its config {} is {} bytes by its descriptor, too large for an image config",
                manifest.config, manifest.config_size
            ));
        }
        let config = Descriptor {
            media_type: String::new(),
            digest: manifest.config.clone(),
            size: manifest.config_size,
        };
        for blob in std::iter::once(&config).chain(&manifest.layers) {
            let path = store.join(blob.digest.trim_start_matches("sha256:"));
            if !std::fs::metadata(&path).is_ok_and(|metadata| metadata.len() == blob.size) {
                with_retries(settings.attempts, settings.backoff, &|| {}, || {
                    fetch_blob(&client, repository, blob, &store, &path)
                })?;
            }
        }
    }
    // Manifests last: a top manifest in the store means all it names is too.
    for (child, bytes) in &manifests {
        store_verified(&store, child, bytes)?;
    }
    store_verified(&store, &digest, &top)?;
    Ok(digest)
}

/// Writes `bytes`, whose digest was checked, as the blob `digest` in
/// `store` (a temp file renamed into place).
fn store_verified(store: &Path, digest: &str, bytes: &[u8]) -> Result<(), String> {
    let failed = |error: std::io::Error| format!("cannot write the blob store `{}`: {error}", store.display());
    let mut temp = tempfile::NamedTempFile::new_in(store).map_err(failed)?;
    temp.write_all(bytes).map_err(failed)?;
    temp.as_file().sync_all().map_err(failed)?;
    temp.persist(store.join(digest.trim_start_matches("sha256:")))
        .map_err(|error| failed(error.error))?;
    Ok(())
}

/// Every manifest media type catbuild reads (and pushes).
pub(super) const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
                      application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

fn get_manifest(client: &Client, repository: &str, wanted: &str) -> Result<Vec<u8>, CallError> {
    let path = format!("/v2/{repository}/manifests/{wanted}");
    let mut response = client.send("GET", &path, &[repository], Access::Pull, &[("Accept", ACCEPT)], &[])?;
    let status = response.status().as_u16();
    if status != 200 {
        let body = response.body_mut().with_config().limit(4096).read_to_string().unwrap_or_default();
        let mut call_error = refused(status, &format!("manifest `{wanted}` of `{repository}`"));
        if !body.trim().is_empty() {
            call_error.message.push_str(&format!(": {}", body.trim()));
        }
        return Err(call_error);
    }
    read_limited(response.body_mut(), JSON_LIMIT, &path)
}

fn refused(status: u16, what: &str) -> CallError {
    CallError {
        message: match status {
            404 => format!("the registry has no {what} (404)"),
            _ => format!("the registry answered {status} for {what}"),
        },
        retry: false,
        retry_after: None,
    }
}

fn read_limited(body: &mut ureq::Body, limit: u64, path: &str) -> Result<Vec<u8>, CallError> {
    let mut bytes = Vec::new();
    body.with_config().limit(limit).reader().read_to_end(&mut bytes).map_err(|error| {
        // Too large will not shrink on a second try; a cut might heal.
        let too_large = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .is_some_and(|inner| matches!(inner, ureq::Error::BodyExceedsLimit(_)));
        CallError {
            message: format!("GET {path}: {error}"),
            retry: !too_large,
            retry_after: None,
        }
    })?;
    Ok(bytes)
}

/// Streams one blob into a temp file in `store`, hashing and counting;
/// renames it to `path` only when digest and size match.
fn fetch_blob(client: &Client, repository: &str, layer: &Descriptor, store: &Path, path: &Path) -> Result<(), CallError> {
    let blob_path = format!("/v2/{repository}/blobs/{}", layer.digest);
    let local = |error: std::io::Error| CallError {
        message: format!("cannot write the blob store `{}`: {error}", store.display()),
        retry: false,
        retry_after: None,
    };
    let mut response = client.send("GET", &blob_path, &[repository], Access::Pull, &[], &[])?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(refused(status, &format!("layer blob {}", layer.digest)));
    }
    let mut temp = tempfile::NamedTempFile::new_in(store).map_err(local)?;
    let mut reader = response.body_mut().with_config().limit(layer.size + 1).reader();
    let mut hasher = sha2::Sha256::new();
    let mut n_read = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buffer).map_err(|error| CallError {
            message: format!("GET {blob_path}: cut off after {n_read} of {} bytes: {error}", layer.size),
            retry: true,
            retry_after: None,
        })?;
        if n == 0 {
            break;
        }
        n_read += n as u64;
        if n_read > layer.size {
            return Err(CallError {
                message: format!("GET {blob_path}: more than the {} bytes its descriptor says", layer.size),
                retry: false,
                retry_after: None,
            });
        }
        hasher.update(&buffer[..n]);
        temp.write_all(&buffer[..n]).map_err(local)?;
    }
    if n_read != layer.size {
        return Err(CallError {
            message: format!("GET {blob_path}: cut off after {n_read} of {} bytes", layer.size),
            retry: true,
            retry_after: None,
        });
    }
    let digest = format!("sha256:{}", crate::image::hex(&hasher.finalize()));
    if digest != layer.digest {
        return Err(CallError {
            message: format!("GET {blob_path}: the bytes have digest {digest}"),
            retry: true,
            retry_after: None,
        });
    }
    temp.as_file().sync_all().map_err(local)?;
    temp.persist(path).map_err(|error| local(error.error))?;
    Ok(())
}

/// A content descriptor as read.
#[derive(Debug, Clone)]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
}

#[derive(Debug, Clone)]
struct ImageManifest {
    config: String,
    config_size: u64,
    layers: Vec<Descriptor>,
}

enum Top {
    /// `(digest, os/architecture)` of each child.
    Index(Vec<(String, String)>),
    Manifest(ImageManifest),
}

fn parse_top(bytes: &[u8]) -> Result<Top, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|error| format!("the manifest is not JSON: {error}"))?;
    let media = value["mediaType"].as_str().unwrap_or_default();
    if media_type::is_index(media) || (media.is_empty() && value["manifests"].is_array()) {
        let mut children = Vec::new();
        for child in value["manifests"].as_array().into_iter().flatten() {
            let descriptor = descriptor(child)?;
            let platform = format!(
                "{}/{}",
                child["platform"]["os"].as_str().unwrap_or_default(),
                child["platform"]["architecture"].as_str().unwrap_or_default()
            );
            children.push((descriptor.digest, platform));
        }
        return Ok(Top::Index(children));
    }
    parse_manifest(bytes).map(Top::Manifest)
}

fn parse_manifest(bytes: &[u8]) -> Result<ImageManifest, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|error| format!("the manifest is not JSON: {error}"))?;
    if value["schemaVersion"].as_u64() != Some(2) {
        return Err("the manifest is not schema version 2 (Docker schema 1 is not supported)".to_string());
    }
    let config = descriptor(&value["config"])?;
    let layers = value["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(descriptor)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ImageManifest {
        config: config.digest,
        config_size: config.size,
        layers,
    })
}

fn descriptor(value: &Value) -> Result<Descriptor, String> {
    let digest = value["digest"].as_str().unwrap_or_default();
    if !is_sha256(digest) {
        return Err(format!("a descriptor has the digest {digest:?}, not sha256"));
    }
    Ok(Descriptor {
        media_type: value["mediaType"].as_str().unwrap_or_default().to_string(),
        digest: digest.to_string(),
        size: value["size"]
            .as_u64()
            .ok_or_else(|| format!("the descriptor of {digest} has no size"))?,
    })
}

fn is_sha256(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)))
}

/// `linux/amd64`, else the only image that is not an attestation.
fn pick_platform(children: &[(String, String)]) -> Result<String, String> {
    if let Some((digest, _)) = children.iter().find(|(_, platform)| platform == "linux/amd64") {
        return Ok(digest.clone());
    }
    let real: Vec<&(String, String)> = children.iter().filter(|(_, platform)| !platform.starts_with("unknown/")).collect();
    match real.as_slice() {
        [(digest, _)] => Ok(digest.clone()),
        [] => Err("the image index lists no image".to_string()),
        several => Err(format!(
            "the image index has no linux/amd64 image and several others ({})",
            several.iter().map(|(_, platform)| platform.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Descriptor sizes checked against the limits before anything is fetched.
fn check_sizes(manifest: &ImageManifest, limits: &Limits) -> Result<(), String> {
    let mut total = 0u64;
    for layer in &manifest.layers {
        if layer.size > limits.layer {
            return Err(format!(
                "layer {} is {} bytes by its descriptor, above the layer limit of {}",
                layer.digest, layer.size, limits.layer
            ));
        }
        total = total.saturating_add(layer.size);
    }
    if total > limits.image {
        return Err(format!(
            "its layers are {total} bytes by their descriptors, above the image limit of {}",
            limits.image
        ));
    }
    Ok(())
}

/// Reads `oci:DIR[:TAG]` (with `pin`, the image of that digest).
fn read_layout(dir: &Path, tag: Option<&str>, pin: Option<&str>, limits: &Limits) -> Result<PulledImage, String> {
    let index_path = dir.join("index.json");
    let index: Value = serde_json::from_slice(&fs_err::read(&index_path).map_err(|error| error.to_string())?)
        .map_err(|error| format!("`{}` is not JSON: {error}", index_path.display()))?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let digest = match (pin, tag) {
        (Some(pin), _) => pin.to_string(),
        (None, Some(tag)) => {
            let found: Vec<&Value> = entries.iter().filter(|entry| entry["annotations"][REF_NAME] == tag).collect();
            match found.as_slice() {
                [entry] => descriptor(entry)?.digest,
                [] => return Err(format!("`{}` has no image tagged `{tag}`", index_path.display())),
                _ => return Err(format!("`{}` has several images tagged `{tag}`", index_path.display())),
            }
        }
        (None, None) => match entries.as_slice() {
            [entry] => descriptor(entry)?.digest,
            _ => {
                return Err(format!(
                    "`{}` holds {} images; name one as `oci:DIR:TAG`",
                    index_path.display(),
                    entries.len()
                ));
            }
        },
    };
    let read_blob = |digest: &str| -> Result<Vec<u8>, String> {
        let path = dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
        let size = fs_err::metadata(&path).map_err(|error| error.to_string())?.len();
        if size > JSON_LIMIT {
            return Err(format!("`{}` is {size} bytes, too large for a manifest or config", path.display()));
        }
        let bytes = fs_err::read(&path).map_err(|error| error.to_string())?;
        if sha256_digest(&bytes) != digest {
            return Err(format!("`{}` does not have digest {digest}: the layout is corrupt", path.display()));
        }
        Ok(bytes)
    };
    let top = read_blob(&digest)?;
    let manifest = match parse_top(&top)? {
        Top::Index(children) => parse_manifest(&read_blob(&pick_platform(&children)?)?)?,
        Top::Manifest(manifest) => manifest,
    };
    check_sizes(&manifest, limits)?;
    let config = read_blob(&manifest.config)?;
    let layers = manifest
        .layers
        .iter()
        .map(|layer| LayerBlob {
            digest: layer.digest.clone(),
            media_type: layer.media_type.clone(),
            size: layer.size,
            path: dir.join("blobs/sha256").join(layer.digest.trim_start_matches("sha256:")),
        })
        .collect();
    Ok(PulledImage { digest, config, layers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        let base = Path::new("/project");
        assert_eq!(
            ImageSource::parse("oci:bundles/layout:v1", base).unwrap(),
            ImageSource::Layout {
                dir: PathBuf::from("/project/bundles/layout"),
                tag: Some("v1".to_string())
            }
        );
        assert_eq!(
            ImageSource::parse("oci:layout", base).unwrap(),
            ImageSource::Layout {
                dir: PathBuf::from("/project/layout"),
                tag: None
            }
        );
        assert!(ImageSource::parse("quay.io/a/b@sha256:00", base).unwrap_err().contains("sha256"));
        assert!(matches!(
            ImageSource::parse("quay.io/a/b:v1", base).unwrap(),
            ImageSource::Registry(_)
        ));
    }

    #[test]
    fn an_index_gives_linux_amd64_or_its_only_image() {
        let children = vec![
            ("sha256:a".to_string(), "linux/arm64".to_string()),
            ("sha256:b".to_string(), "linux/amd64".to_string()),
        ];
        assert_eq!(pick_platform(&children).unwrap(), "sha256:b");
        let one = vec![
            ("sha256:a".to_string(), "linux/arm64".to_string()),
            ("sha256:c".to_string(), "unknown/unknown".to_string()),
        ];
        assert_eq!(pick_platform(&one).unwrap(), "sha256:a");
        assert!(pick_platform(&children[..1].iter().chain(&children[..1]).cloned().collect::<Vec<_>>()).is_err());
    }
}
