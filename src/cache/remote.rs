//! The shared cache (issue 19): the action cache's entries and blobs kept
//! in an OCI registry as one artifact, so CI runners share work through a
//! registry they already have (BuildKit's registry cache does the same
//! for image layers). `--cache-from REF` reads it, `--cache-to REF` writes
//! it; docs/progress.md describes the format for people.
//!
//! The artifact is an OCI image manifest (`artifactType` [`ARTIFACT_TYPE`],
//! the empty config) whose first layer is the index ([`INDEX_MEDIA_TYPE`]:
//! JSON, each loaded bundle's digest by its key and each action entry's
//! text by its key) and whose other layers are the entries' blobs
//! ([`BLOB_MEDIA_TYPE`]), by digest.
//!
//! Trust: nothing downloaded is used before its sha256 is checked against
//! the digest that names it (the index against the manifest, each blob
//! against the entry and the manifest; an entry against its key, as the
//! local store does). A blob that does not match, or cannot be fetched,
//! is refused with a warning and its action runs; the build never fails
//! because of the shared cache, and never uses bytes it did not check.
//!
//! Import is by index and lazy: the manifest and the index are read once
//! when the build starts; a blob is fetched only when an action the local
//! cache misses is found in the index, then kept in the local store, so
//! the next build needs no network. Export sends what this build used:
//! the manifest is compared with the one at the tag (equal: nothing to
//! do), each blob is asked for by HEAD and uploaded only when missing
//! (mounted from a `--cache-from` repository on the same registry when
//! that one has it), and the manifest goes last.

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::{Entry, Key, hex, parse_digest, parse_entry, parse_hex};
use crate::image::reference::Reference;
use crate::load::Sha256Digest;
use crate::registry::{Access, CallError, Client, ClientSettings, with_retries};

/// The manifest's `artifactType`: a catbuild cache, layout `v1`.
pub const ARTIFACT_TYPE: &str = "application/vnd.catbuild.cache.v1";
/// The index layer: JSON, `{"catbuild-cache": "v1", "loaded": {...}, "entries": {...}}`.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.catbuild.cache.index.v1+json";
/// Every other layer: a blob of the action cache (output bytes).
pub const BLOB_MEDIA_TYPE: &str = "application/vnd.catbuild.cache.blob.v1";
/// The tag of a reference that names none.
pub const DEFAULT_TAG: &str = "cache";

const MANIFEST_MEDIA_TYPE: &str = crate::image::media_type::OCI_MANIFEST;
/// The OCI empty descriptor's media type and bytes (image-spec 1.1).
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY: &[u8] = b"{}";
/// Larger manifests and indexes are refused before they are read whole.
const MANIFEST_LIMIT: u64 = 32 << 20;
const INDEX_LIMIT: u64 = 512 << 20;
/// Registry calls in flight during an export (as a push's).
const JOBS: usize = 8;
/// Attempts per call: the shared cache is a speed-up, so it gives up
/// sooner than a push does.
const ATTEMPTS: u32 = 3;
const BACKOFF: Duration = Duration::from_millis(200);

/// Where the shared cache is read from and written to.
#[derive(Debug, Clone, Default)]
pub struct RemoteSettings {
    /// `--cache-from`, in the order they are asked.
    pub from: Vec<String>,
    /// `--cache-to` (already `None` in a pull request unless asked for).
    pub to: Option<String>,
    /// `[images]` `insecure`, `ca-file`, `timeout`.
    pub client: ClientSettings,
}

/// Parses a shared cache reference, `HOST[:PORT]/REPO[:TAG][@DIGEST]`
/// (tag [`DEFAULT_TAG`] when it names none); `pinned_ok` allows a digest
/// (reading only).
pub fn parse_reference(text: &str, pinned_ok: bool) -> Result<Reference, String> {
    crate::model::image_ref::parse_normalized_named(text).map_err(|reason| format!("`{text}` is not a registry reference: {reason}"))?;
    let mut reference = Reference::parse(text)?;
    if let Some(digest) = &reference.digest {
        if !pinned_ok {
            return Err(format!("`{text}` names a digest; the cache is written to a tag"));
        }
        if parse_digest(digest).is_none() {
            return Err(format!("`{text}` has a digest that is not `sha256:` and 64 hex digits"));
        }
    } else if reference.tag.is_none() {
        reference.tag = Some(DEFAULT_TAG.to_string());
    }
    Ok(reference)
}

/// Which CI variable says this build is for a pull (or merge) request,
/// as `NAME=value`, read through `env`. Such builds do not write the
/// shared cache unless asked to: a pull request's content is not yet
/// trusted, and its cache should not replace the branch's.
pub fn pull_request(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let set = |name: &str| env(name).filter(|value| !value.is_empty());
    let said = |name: &str, value: String| Some(format!("{name}={value}"));
    // GitHub Actions.
    if let Some(value) = set("GITHUB_EVENT_NAME").filter(|value| value == "pull_request" || value == "pull_request_target") {
        return said("GITHUB_EVENT_NAME", value);
    }
    // Set only in a pipeline of a merge request (GitLab), of a pull
    // request (Jenkins multibranch, CircleCI, Bitbucket, Prow presubmits).
    for name in [
        "CI_MERGE_REQUEST_IID",
        "CHANGE_ID",
        "CIRCLE_PULL_REQUEST",
        "BITBUCKET_PR_ID",
        "PULL_NUMBER",
    ] {
        if let Some(value) = set(name) {
            return said(name, value);
        }
    }
    // Azure Pipelines.
    if let Some(value) = set("BUILD_REASON").filter(|value| value == "PullRequest") {
        return said("BUILD_REASON", value);
    }
    // Travis CI and Buildkite say `false` when it is not one.
    for name in ["TRAVIS_PULL_REQUEST", "BUILDKITE_PULL_REQUEST"] {
        if let Some(value) = set(name).filter(|value| value != "false") {
            return said(name, value);
        }
    }
    None
}

/// What the shared cache did, for the CLI to print (warnings on stderr)
/// and for `--json` (`remote-cache` events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteEvent {
    /// A `--cache-from` read: how many entries and loaded bundles it has.
    Imported { reference: String, entries: usize, loaded: usize },
    /// A `--cache-from` that could not be read (unreachable, empty, not a
    /// catbuild cache): the build goes on without it.
    Unavailable { reference: String, message: String },
    /// A blob or entry that failed its check or could not be fetched:
    /// not used, its action runs.
    Refused {
        reference: String,
        digest: String,
        message: String,
    },
    /// `--cache-to` written (`unchanged`: the registry had exactly it).
    Exported {
        reference: String,
        entries: usize,
        blobs: usize,
        uploaded: usize,
        bytes_uploaded: u64,
        present: usize,
        mounted: usize,
        unchanged: bool,
    },
    /// `--cache-to` failed; the build's output is not affected.
    ExportFailed { reference: String, message: String },
    /// `--cache-to` not written (a pull request without `--cache-to-in-pr`).
    ExportSkipped { reference: String, reason: String },
}

/// One `--cache-from` that was read.
struct Source {
    text: String,
    repository: String,
    host: String,
    client: Client,
    /// The blob layers of its manifest, with their sizes.
    blobs: HashMap<Sha256Digest, u64>,
}

/// The shared cache of one build.
pub struct Remote {
    sources: Vec<Source>,
    /// Loaded-bundle digests by key, and the source that has them (the
    /// first `--cache-from` that does).
    loaded: HashMap<Key, (Sha256Digest, usize)>,
    entries: HashMap<Key, (Entry, usize)>,
    to: Option<(String, Reference)>,
    client: ClientSettings,
    events: Mutex<Vec<RemoteEvent>>,
}

impl Remote {
    /// Reads the manifest and index of each `--cache-from` (a failure is
    /// an [`RemoteEvent::Unavailable`], never an error).
    pub fn open(settings: &RemoteSettings) -> Remote {
        let mut remote = Remote {
            sources: Vec::new(),
            loaded: HashMap::new(),
            entries: HashMap::new(),
            to: None,
            client: settings.client.clone(),
            events: Mutex::new(Vec::new()),
        };
        if let Some(text) = &settings.to {
            match parse_reference(text, false) {
                Ok(reference) => remote.to = Some((text.clone(), reference)),
                Err(message) => remote.event(RemoteEvent::ExportFailed {
                    reference: text.clone(),
                    message,
                }),
            }
        }
        for text in &settings.from {
            match import(text, &settings.client) {
                Ok((source, index)) => {
                    let source_idx = remote.sources.len();
                    let (mut n_entries, mut n_loaded) = (0, 0);
                    for (key, digest) in index.loaded {
                        remote.loaded.entry(key).or_insert_with(|| {
                            n_loaded += 1;
                            (digest, source_idx)
                        });
                    }
                    for (key, entry) in index.entries {
                        // An entry naming a blob its manifest does not
                        // list could never be served whole.
                        if entry.files.iter().all(|(_, digest)| source.blobs.contains_key(digest)) {
                            remote.entries.entry(key).or_insert_with(|| {
                                n_entries += 1;
                                (entry, source_idx)
                            });
                        }
                    }
                    remote.event(RemoteEvent::Imported {
                        reference: text.clone(),
                        entries: n_entries,
                        loaded: n_loaded,
                    });
                    remote.sources.push(source);
                }
                Err(message) => remote.event(RemoteEvent::Unavailable {
                    reference: text.clone(),
                    message,
                }),
            }
        }
        remote
    }

    /// Whether any `--cache-from` could be read.
    pub fn has_sources(&self) -> bool {
        !self.sources.is_empty()
    }

    /// Whether a `--cache-from` has an answer for `key` (then a miss means
    /// it was refused).
    pub fn knows(&self, key: &Key) -> bool {
        self.loaded.contains_key(key) || self.entries.contains_key(key)
    }

    /// Whether this build writes the shared cache (so the store records
    /// what it uses).
    pub fn exports(&self) -> bool {
        self.to.is_some()
    }

    /// The events so far, taken.
    pub fn take_events(&self) -> Vec<RemoteEvent> {
        self.events
            .lock()
            .map(|mut events| std::mem::take(&mut *events))
            .unwrap_or_default()
    }

    fn event(&self, event: RemoteEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }

    /// The name of a source, for `--explain` and `--json`.
    pub fn source_name(&self, source_idx: usize) -> &str {
        self.sources.get(source_idx).map_or("", |source| source.text.as_str())
    }

    /// The loaded digest of a bundle key, and which source has it.
    pub fn loaded(&self, key: &Key) -> Option<(Sha256Digest, usize)> {
        self.loaded.get(key).copied()
    }

    /// The entry of `key`, and which source has it (its blobs not fetched).
    pub fn entry(&self, key: &Key) -> Option<(&Entry, usize)> {
        self.entries.get(key).map(|(entry, source_idx)| (entry, *source_idx))
    }

    /// A blob of source `source_idx`, checked against `digest` and the
    /// size its manifest gives; refused (with an event) otherwise.
    pub fn blob(&self, source_idx: usize, digest: &Sha256Digest) -> Option<Vec<u8>> {
        let source = self.sources.get(source_idx)?;
        let result = match source.blobs.get(digest) {
            Some(size) => fetch_verified(&source.client, &source.repository, &digest.to_string(), *size, "blob"),
            None => Err("the cache's manifest does not list it".to_string()),
        };
        match result {
            Ok(bytes) => Some(bytes),
            Err(message) => {
                self.event(RemoteEvent::Refused {
                    reference: source.text.clone(),
                    digest: digest.to_string(),
                    message,
                });
                None
            }
        }
    }

    /// Writes the shared cache from what the build used: `loaded` bundle
    /// digests, `entries` (each with its text), and `blob_file` giving a
    /// blob's bytes from the local store (checked). Records an event.
    pub fn export(
        &self,
        loaded: &BTreeMap<Key, Sha256Digest>,
        entries: &BTreeMap<Key, (Entry, String)>,
        blob_file: &(dyn Fn(&Sha256Digest) -> Option<Vec<u8>> + Sync),
        blob_size: &dyn Fn(&Sha256Digest) -> Option<u64>,
    ) {
        let Some((text, reference)) = &self.to else {
            return;
        };
        // A build that used no entry (targets the cache does not keep)
        // would replace a useful cache with an empty one.
        if entries.is_empty() {
            self.event(RemoteEvent::ExportSkipped {
                reference: text.clone(),
                reason: "this build used no cached action (only FBC-only targets are cached)".to_string(),
            });
            return;
        }
        let event = match self.export_to(reference, loaded, entries, blob_file, blob_size) {
            Ok(mut event) => {
                if let RemoteEvent::Exported { reference, .. } = &mut event {
                    reference.clone_from(text);
                }
                event
            }
            Err(message) => RemoteEvent::ExportFailed {
                reference: text.clone(),
                message,
            },
        };
        self.event(event);
    }

    fn export_to(
        &self,
        reference: &Reference,
        loaded: &BTreeMap<Key, Sha256Digest>,
        entries: &BTreeMap<Key, (Entry, String)>,
        blob_file: &(dyn Fn(&Sha256Digest) -> Option<Vec<u8>> + Sync),
        blob_size: &dyn Fn(&Sha256Digest) -> Option<u64>,
    ) -> Result<RemoteEvent, String> {
        let index = index_bytes(loaded, entries);
        let index_digest = Sha256Digest::of(&index);
        let mut blobs: Vec<Sha256Digest> = entries
            .values()
            .flat_map(|(entry, _)| entry.files.iter().map(|(_, digest)| *digest))
            .collect();
        blobs.sort();
        blobs.dedup();
        let mut layers = vec![descriptor(INDEX_MEDIA_TYPE, &index_digest, index.len() as u64)];
        for digest in &blobs {
            let size = blob_size(digest).ok_or_else(|| format!("the local cache lost blob {digest}"))?;
            layers.push(descriptor(BLOB_MEDIA_TYPE, digest, size));
        }
        let empty = Sha256Digest::of(EMPTY);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": ARTIFACT_TYPE,
            "config": descriptor(EMPTY_MEDIA_TYPE, &empty, EMPTY.len() as u64),
            "layers": layers,
        });
        let manifest = serde_json::to_vec(&manifest).map_err(|error| error.to_string())?;
        let tag = reference.tag.as_deref().unwrap_or(DEFAULT_TAG);
        let repository = reference.repository.as_str();
        let client = Client::connect(&reference.registry, &self.client)?;
        let mut exported = RemoteEvent::Exported {
            reference: String::new(),
            entries: entries.len(),
            blobs: blobs.len(),
            uploaded: 0,
            bytes_uploaded: 0,
            present: 0,
            mounted: 0,
            unchanged: true,
        };
        // The same manifest at the tag: everything it names is there.
        if get_manifest(&client, repository, tag).is_ok_and(|current| current == manifest) {
            return Ok(exported);
        }
        let counts = Counts::default();
        let mut uploads: Vec<(Sha256Digest, Upload)> = vec![(empty, Upload::Bytes(EMPTY.to_vec())), (index_digest, Upload::Bytes(index))];
        uploads.extend(blobs.iter().map(|digest| (*digest, Upload::Local)));
        let failure: Mutex<Option<String>> = Mutex::new(None);
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..JOBS.min(uploads.len()) {
                scope.spawn(|| {
                    while let Some((digest, upload)) = uploads.get(next.fetch_add(1, Ordering::SeqCst)) {
                        if failure.lock().map(|failed| failed.is_some()).unwrap_or(true) {
                            return;
                        }
                        let bytes = || match upload {
                            Upload::Bytes(bytes) => Some(bytes.clone()),
                            Upload::Local => blob_file(digest),
                        };
                        let mount_from = self.mount_source(&reference.registry, repository, digest);
                        if let Err(message) = push_blob(&client, repository, digest, &bytes, mount_from, &counts)
                            && let Ok(mut failed) = failure.lock()
                        {
                            failed.get_or_insert(message);
                        }
                    }
                });
            }
        });
        if let Some(message) = failure.into_inner().ok().flatten() {
            return Err(message);
        }
        let path = format!("/v2/{repository}/manifests/{tag}");
        let response = with_retries(ATTEMPTS, BACKOFF, &|| {}, || {
            client.call("PUT", &path, &[repository], Some(MANIFEST_MEDIA_TYPE), &manifest)
        })?;
        if response.status != 201 && response.status != 200 {
            return Err(format!("PUT {path} answered {}: {}", response.status, response.body.trim()));
        }
        if let RemoteEvent::Exported {
            uploaded,
            bytes_uploaded,
            present,
            mounted,
            unchanged,
            ..
        } = &mut exported
        {
            *uploaded = counts.uploaded.into_inner();
            *bytes_uploaded = counts.bytes.into_inner();
            *present = counts.present.into_inner();
            *mounted = counts.mounted.into_inner();
            *unchanged = false;
        }
        Ok(exported)
    }

    /// Another repository of the same registry that a `--cache-from`
    /// read and that lists `digest`: a mount saves the upload.
    fn mount_source(&self, registry: &str, repository: &str, digest: &Sha256Digest) -> Option<String> {
        self.sources
            .iter()
            .find(|source| source.host == registry && source.repository != repository && source.blobs.contains_key(digest))
            .map(|source| source.repository.clone())
    }
}

enum Upload {
    Bytes(Vec<u8>),
    /// Read from the local store only when the registry lacks it.
    Local,
}

#[derive(Default)]
struct Counts {
    uploaded: AtomicUsize,
    bytes: AtomicU64,
    present: AtomicUsize,
    mounted: AtomicUsize,
}

/// What an index layer holds.
#[derive(Debug)]
struct Index {
    loaded: Vec<(Key, Sha256Digest)>,
    entries: Vec<(Key, Entry)>,
}

fn descriptor(media_type: &str, digest: &Sha256Digest, size: u64) -> Value {
    json!({ "mediaType": media_type, "digest": digest.to_string(), "size": size })
}

/// The index layer's bytes: sorted maps, so the same cache is the same
/// bytes (and an export of an unchanged cache changes nothing).
fn index_bytes(loaded: &BTreeMap<Key, Sha256Digest>, entries: &BTreeMap<Key, (Entry, String)>) -> Vec<u8> {
    let loaded: BTreeMap<String, String> = loaded.iter().map(|(key, digest)| (key.hex(), hex(digest))).collect();
    let entries: BTreeMap<String, &str> = entries.iter().map(|(key, (_, text))| (key.hex(), text.as_str())).collect();
    serde_json::to_vec(&json!({ "catbuild-cache": super::LAYOUT, "loaded": loaded, "entries": entries })).unwrap_or_default()
}

fn parse_index(bytes: &[u8]) -> Result<Index, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|error| format!("its index is not JSON: {error}"))?;
    if value["catbuild-cache"] != super::LAYOUT {
        return Err(format!(
            "its index is of layout {}, not {} (written by another catbuild)",
            value["catbuild-cache"],
            super::LAYOUT
        ));
    }
    let mut index = Index {
        loaded: Vec::new(),
        entries: Vec::new(),
    };
    for (key, digest) in value["loaded"].as_object().into_iter().flatten() {
        if let (Some(key), Some(digest)) = (parse_hex(key), digest.as_str().and_then(parse_hex)) {
            index.loaded.push((Key(key), digest));
        }
    }
    for (key, text) in value["entries"].as_object().into_iter().flatten() {
        // An entry must answer the key it is filed under.
        if let Some(key) = parse_hex(key).map(Key)
            && let Some(entry) = text.as_str().and_then(|text| parse_entry(text, &key))
        {
            index.entries.push((key, entry));
        }
    }
    Ok(index)
}

/// Reads one `--cache-from`: its manifest and its index, checked.
fn import(text: &str, client_settings: &ClientSettings) -> Result<(Source, Index), String> {
    let reference = parse_reference(text, true)?;
    let client = Client::connect(&reference.registry, client_settings)?;
    let repository = reference.repository.clone();
    let wanted = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| DEFAULT_TAG.to_string());
    let manifest = get_manifest(&client, &repository, &wanted)?;
    if let Some(pinned) = &reference.digest
        && Sha256Digest::of(&manifest).to_string() != *pinned
    {
        return Err(format!("the registry sent a manifest with another digest than {pinned}"));
    }
    let manifest: Value = serde_json::from_slice(&manifest).map_err(|error| format!("its manifest is not JSON: {error}"))?;
    if manifest["artifactType"] != ARTIFACT_TYPE {
        return Err(format!("it is not a catbuild cache (artifactType is {})", manifest["artifactType"]));
    }
    let mut index_layer = None;
    let mut blobs = HashMap::new();
    for layer in manifest["layers"].as_array().into_iter().flatten() {
        let (Some(digest), Some(size)) = (layer["digest"].as_str().and_then(parse_digest), layer["size"].as_u64()) else {
            return Err("its manifest has a layer without a sha256 digest and a size".to_string());
        };
        match layer["mediaType"].as_str() {
            Some(INDEX_MEDIA_TYPE) if index_layer.is_none() => index_layer = Some((digest, size)),
            Some(BLOB_MEDIA_TYPE) => {
                blobs.insert(digest, size);
            }
            _ => return Err(format!("its manifest has an unexpected layer {digest}")),
        }
    }
    let Some((index_digest, index_size)) = index_layer else {
        return Err("its manifest has no index layer".to_string());
    };
    if index_size > INDEX_LIMIT {
        return Err(format!("its index is {index_size} bytes, more than catbuild reads"));
    }
    let index = fetch_verified(&client, &repository, &index_digest.to_string(), index_size, "index")?;
    let index = parse_index(&index)?;
    let host = reference.registry.clone();
    Ok((
        Source {
            text: text.to_string(),
            repository,
            host,
            client,
            blobs,
        },
        index,
    ))
}

fn get_manifest(client: &Client, repository: &str, wanted: &str) -> Result<Vec<u8>, String> {
    let path = format!("/v2/{repository}/manifests/{wanted}");
    with_retries(ATTEMPTS, BACKOFF, &|| {}, || {
        let mut response = client.send("GET", &path, &[repository], Access::Pull, &[("Accept", MANIFEST_MEDIA_TYPE)], &[])?;
        match response.status().as_u16() {
            200 => read_limited(response.body_mut(), MANIFEST_LIMIT, &path),
            404 => Err(refusal(format!("nothing is stored at `{wanted}` yet (404)"))),
            status => Err(refusal(format!("GET {path} answered {status}"))),
        }
    })
}

/// GETs a blob and checks its size and sha256; a mismatch is not retried
/// (the registry holds other bytes than the digest names).
fn fetch_verified(client: &Client, repository: &str, digest: &str, size: u64, what: &str) -> Result<Vec<u8>, String> {
    let path = format!("/v2/{repository}/blobs/{digest}");
    with_retries(ATTEMPTS, BACKOFF, &|| {}, || {
        let mut response = client.send("GET", &path, &[repository], Access::Pull, &[], &[])?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(refusal(format!("GET {path} answered {status}")));
        }
        let bytes = read_limited(response.body_mut(), size + 1, &path)?;
        if bytes.len() as u64 != size {
            return Err(refusal(format!(
                "the {what} is {} bytes, not the {size} its manifest says",
                bytes.len()
            )));
        }
        let actual = Sha256Digest::of(&bytes);
        if actual.to_string() != digest {
            return Err(refusal(format!("the {what}'s bytes have digest {actual}, not {digest}")));
        }
        Ok(bytes)
    })
}

fn refusal(message: String) -> CallError {
    CallError {
        message,
        retry: false,
        retry_after: None,
    }
}

fn read_limited(body: &mut ureq::Body, limit: u64, path: &str) -> Result<Vec<u8>, CallError> {
    let mut bytes = Vec::new();
    body.with_config()
        .limit(limit)
        .reader()
        .read_to_end(&mut bytes)
        .map_err(|error| CallError {
            message: format!("GET {path}: {error}"),
            retry: true,
            retry_after: None,
        })?;
    Ok(bytes)
}

/// One blob into `repository`: HEAD (there already), else a mount from
/// `mount_from`, else an upload of `bytes()` (read only then).
fn push_blob(
    client: &Client,
    repository: &str,
    digest: &Sha256Digest,
    bytes: &dyn Fn() -> Option<Vec<u8>>,
    mount_from: Option<String>,
    counts: &Counts,
) -> Result<(), String> {
    let head_path = format!("/v2/{repository}/blobs/{digest}");
    let head = with_retries(ATTEMPTS, BACKOFF, &|| {}, || {
        client.call("HEAD", &head_path, &[repository], None, &[])
    })?;
    if head.status == 200 {
        counts.present.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    if let Some(from) = &mount_from {
        let path = format!("/v2/{repository}/blobs/uploads/?mount={digest}&from={from}");
        let mounted = with_retries(ATTEMPTS, BACKOFF, &|| {}, || {
            client.call("POST", &path, &[repository, from], None, &[])
        })?;
        if mounted.status == 201 {
            counts.mounted.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
    }
    let bytes = bytes().ok_or_else(|| format!("the local cache lost blob {digest}"))?;
    with_retries(ATTEMPTS, BACKOFF, &|| {}, || {
        let path = format!("/v2/{repository}/blobs/uploads/");
        let started = client.call("POST", &path, &[repository], None, &[])?;
        if started.status != 202 {
            return Err(refusal(format!("POST {path} answered {}: {}", started.status, started.body.trim())));
        }
        let location = started
            .location
            .ok_or_else(|| refusal(format!("POST {path} answered 202 without a Location")))?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let put_url = format!("{location}{separator}digest={digest}");
        let put = client.call("PUT", &put_url, &[repository], Some("application/octet-stream"), &bytes)?;
        if put.status != 201 {
            return Err(refusal(format!("upload of {digest} answered {}: {}", put.status, put.body.trim())));
        }
        Ok(())
    })?;
    counts.uploaded.fetch_add(1, Ordering::Relaxed);
    counts.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_requests_are_known_by_their_ci_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_string())
        };
        assert_eq!(
            pull_request(&env(&[("GITHUB_EVENT_NAME", "pull_request")])).as_deref(),
            Some("GITHUB_EVENT_NAME=pull_request")
        );
        assert!(pull_request(&env(&[("GITHUB_EVENT_NAME", "pull_request_target")])).is_some());
        assert_eq!(pull_request(&env(&[("GITHUB_EVENT_NAME", "push")])), None);
        assert_eq!(
            pull_request(&env(&[("CI_MERGE_REQUEST_IID", "17")])).as_deref(),
            Some("CI_MERGE_REQUEST_IID=17")
        );
        assert_eq!(pull_request(&env(&[("CI_MERGE_REQUEST_IID", "")])), None);
        assert_eq!(pull_request(&env(&[("TRAVIS_PULL_REQUEST", "false")])), None);
        assert!(pull_request(&env(&[("TRAVIS_PULL_REQUEST", "42")])).is_some());
        assert!(pull_request(&env(&[("BUILD_REASON", "PullRequest")])).is_some());
        assert_eq!(pull_request(&env(&[("BUILD_REASON", "IndividualCI")])), None);
        assert_eq!(pull_request(&env(&[])), None);
    }

    #[test]
    fn references_get_the_default_tag_and_only_reads_take_a_digest() {
        let reference = parse_reference("127.0.0.1:5000/team/catalog-cache", false).unwrap();
        assert_eq!(
            (reference.registry.as_str(), reference.repository.as_str(), reference.tag.as_deref()),
            ("127.0.0.1:5000", "team/catalog-cache", Some(DEFAULT_TAG))
        );
        let pinned = format!("127.0.0.1:5000/c@sha256:{}", "a".repeat(64));
        assert!(parse_reference(&pinned, true).is_ok());
        assert!(parse_reference(&pinned, false).unwrap_err().contains("digest"));
        assert!(parse_reference("127.0.0.1:5000/Bad", false).is_err());
    }

    #[test]
    fn an_index_entry_filed_under_another_key_is_dropped() {
        let key = Key(Sha256Digest::of(b"k"));
        let other = Key(Sha256Digest::of(b"other"));
        let entry = Entry {
            files: vec![("catalog/x/catalog.json".to_string(), Sha256Digest::of(b"{}"))],
            facts: BTreeMap::new(),
        };
        let text = super::super::entry_text(&key, &entry);
        let entries = BTreeMap::from([(key, (entry.clone(), text.clone())), (other, (entry.clone(), text))]);
        let loaded = BTreeMap::from([(key, Sha256Digest::of(b"loaded"))]);
        let index = parse_index(&index_bytes(&loaded, &entries)).unwrap();
        assert_eq!(index.entries, vec![(key, entry)]);
        assert_eq!(index.loaded, vec![(key, Sha256Digest::of(b"loaded"))]);
        assert!(parse_index(br#"{"catbuild-cache":"v0"}"#).unwrap_err().contains("layout"));
    }
}
