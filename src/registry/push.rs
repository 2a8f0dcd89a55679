//! Pushing images from an OCI layout, ggcr's `remote.Write` way: an image
//! whose tag already names its digest is left alone; otherwise per blob,
//! HEAD (the registry may have it), else mount it from a repository this
//! push already filled, else upload it (streamed from its file); then the
//! manifests, children before an index. Images
//! go up in parallel on a few threads; each blob upload that fails on a
//! dropped connection, a timeout or a 5xx starts again from the POST,
//! after a backoff.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::PushError;
use super::client::{Access, Body, CallError, Client, ClientSettings};
use crate::image::Blob;
use crate::image::layout::{LayoutBlob, LayoutImage};
use crate::image::reference::Reference;

/// One image of an OCI layout to push to one reference (with a tag).
/// The push reads it from the layout, blob by blob: a build that pushes
/// holds no image in memory, and an image from the action cache pushes
/// like one built this run.
pub struct PushJob {
    pub reference: Reference,
    /// The layout directory (`oci-layout`, `blobs/sha256/<hex>`).
    pub layout: PathBuf,
    /// Digest of the image's manifest or index.
    pub digest: String,
}

/// How a push goes.
#[derive(Debug, Clone)]
pub struct PushSettings {
    pub client: ClientSettings,
    /// Calls in flight at once. ggcr defaults to 4; registry calls are
    /// latency-bound, and 8 halved a 20-bundle push to a loopback registry.
    pub jobs: usize,
    /// Attempts per call before giving up.
    pub attempts: u32,
    /// First backoff; doubled after each failed attempt.
    pub backoff: Duration,
}

impl Default for PushSettings {
    fn default() -> PushSettings {
        PushSettings {
            client: ClientSettings::default(),
            jobs: 8,
            attempts: 5,
            backoff: Duration::from_millis(200),
        }
    }
}

/// What a push did.
#[derive(Debug, Clone, Default)]
pub struct PushReport {
    /// `reference@digest` of each image pushed, in job order.
    pub pushed: Vec<String>,
    /// Images whose tag named their digest already: nothing was sent.
    pub images_present: usize,
    pub blobs_uploaded: usize,
    pub bytes_uploaded: u64,
    /// Blobs the registry already had.
    pub blobs_present: usize,
    pub blobs_mounted: usize,
    /// Calls that failed and were tried again.
    pub retries: usize,
}

/// Pushes every job of every group: first every blob of every group
/// (each (repository, blob) once, all in parallel), then the manifests
/// group by group, so a later group's manifests (catalogs) go up only
/// after an earlier group's (the bundles they name). The first failure
/// stops the push; what is already up stays, and a second push skips it.
pub fn push_images(groups: &[&[PushJob]], settings: &PushSettings) -> Result<PushReport, PushError> {
    let failed = |job: &PushJob, message: String| PushError {
        registry: job.reference.registry.clone(),
        message: format!("{}: {message}", job.reference),
    };
    // Each image's manifests are read (and checked) before anything goes
    // up: a layout that changed since the build fails the push early.
    let mut images: Vec<Vec<(&PushJob, LayoutImage)>> = Vec::new();
    for group in groups {
        let read: Result<Vec<_>, PushError> = group
            .iter()
            .map(|job| {
                Ok((
                    job,
                    crate::image::layout::read_for_push(&job.layout, &job.digest).map_err(|message| failed(job, message))?,
                ))
            })
            .collect();
        images.push(read?);
    }
    let mut clients: BTreeMap<String, Client> = BTreeMap::new();
    for (job, _) in images.iter().flatten() {
        let host = &job.reference.registry;
        if !clients.contains_key(host) {
            let client = Client::connect(host, &settings.client).map_err(|message| PushError {
                registry: host.clone(),
                message,
            })?;
            clients.insert(host.clone(), client);
        }
    }
    let state = State {
        present_images: AtomicUsize::new(0),
        known: Mutex::new(BTreeMap::new()),
        uploaded: AtomicUsize::new(0),
        bytes: AtomicU64::new(0),
        present: AtomicUsize::new(0),
        mounted: AtomicUsize::new(0),
        retries: AtomicUsize::new(0),
    };
    // An image whose tag already names its digest is in the registry
    // whole (a registry takes a manifest only once it holds each blob
    // the manifest names): nothing of it is sent again, so pushing an
    // unchanged catalog of 1,000 bundles is one call per image.
    let all: Vec<&(&PushJob, LayoutImage)> = images.iter().flatten().collect();
    let tagged = Mutex::new(BTreeSet::new());
    run_parallel(&all, settings.jobs, |(job, _)| {
        if tag_names(&clients[&job.reference.registry], job, settings, &state).map_err(|message| failed(job, message))? {
            tagged
                .lock()
                .map_err(|_| failed(job, "internal error: a push thread panicked".to_string()))?
                .insert((job.reference.to_string(), job.digest.clone()));
        }
        Ok(())
    })?;
    let tagged = tagged.into_inner().unwrap_or_default();
    state.present_images.store(tagged.len(), Ordering::Relaxed);
    let images: Vec<Vec<&(&PushJob, LayoutImage)>> = images
        .iter()
        .map(|group| {
            group
                .iter()
                .filter(|(job, _)| !tagged.contains(&(job.reference.to_string(), job.digest.clone())))
                .collect()
        })
        .collect();
    // Each blob once per repository; larger blobs first, so the long
    // uploads overlap the many small calls.
    let mut blobs: Vec<(&PushJob, &LayoutBlob)> = Vec::new();
    let mut seen = BTreeSet::new();
    for (job, image) in images.iter().flatten() {
        for blob in &image.blobs {
            if seen.insert((&job.reference.registry, &job.reference.repository, &blob.digest)) {
                blobs.push((job, blob));
            }
        }
    }
    blobs.sort_by_key(|(_, blob)| std::cmp::Reverse(blob.size));
    run_parallel(&blobs, settings.jobs, |(job, blob)| {
        push_blob(&clients[&job.reference.registry], &job.reference.repository, blob, settings, &state)
            .map_err(|message| failed(job, message))
    })?;
    for group in &images {
        run_parallel(group, settings.jobs, |(job, image)| {
            push_manifests(&clients[&job.reference.registry], job, image, settings, &state).map_err(|message| failed(job, message))
        })?;
    }
    Ok(PushReport {
        pushed: all.iter().map(|(job, _)| format!("{}@{}", job.reference, job.digest)).collect(),
        images_present: state.present_images.into_inner(),
        blobs_uploaded: state.uploaded.into_inner(),
        bytes_uploaded: state.bytes.into_inner(),
        blobs_present: state.present.into_inner(),
        blobs_mounted: state.mounted.into_inner(),
        retries: state.retries.into_inner(),
    })
}

/// Runs `work` on every item with at most `jobs` threads; stops taking
/// new items after the first error, which it returns.
fn run_parallel<T: Sync>(items: &[T], jobs: usize, work: impl Fn(&T) -> Result<(), PushError> + Sync) -> Result<(), PushError> {
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<PushError>> = Mutex::new(None);
    let workers = jobs.clamp(1, 32).min(items.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    if failure.lock().map(|failed| failed.is_some()).unwrap_or(true) {
                        return;
                    }
                    let Some(item) = items.get(next.fetch_add(1, Ordering::SeqCst)) else {
                        return;
                    };
                    if let Err(error) = work(item)
                        && let Ok(mut failed) = failure.lock()
                    {
                        failed.get_or_insert(error);
                    }
                }
            });
        }
    });
    match failure.into_inner().ok().flatten() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

struct State {
    present_images: AtomicUsize,
    /// (registry, digest) → repositories known to hold the blob.
    known: Mutex<BTreeMap<(String, String), BTreeSet<String>>>,
    uploaded: AtomicUsize,
    bytes: AtomicU64,
    present: AtomicUsize,
    mounted: AtomicUsize,
    retries: AtomicUsize,
}

impl State {
    fn holds(&self, registry: &str, digest: &str, repository: &str) -> bool {
        self.known
            .lock()
            .map(|known| {
                known
                    .get(&(registry.to_string(), digest.to_string()))
                    .is_some_and(|repos| repos.contains(repository))
            })
            .unwrap_or(false)
    }

    fn record(&self, registry: &str, digest: &str, repository: &str) {
        if let Ok(mut known) = self.known.lock() {
            known
                .entry((registry.to_string(), digest.to_string()))
                .or_default()
                .insert(repository.to_string());
        }
    }

    fn mount_source(&self, registry: &str, digest: &str, repository: &str) -> Option<String> {
        let known = self.known.lock().ok()?;
        known
            .get(&(registry.to_string(), digest.to_string()))?
            .iter()
            .find(|other| *other != repository)
            .cloned()
    }
}

/// The manifests of one image, once its blobs are up: an index's
/// children by digest, then the image's own manifest or index by tag.
fn push_manifests(client: &Client, job: &PushJob, image: &LayoutImage, settings: &PushSettings, state: &State) -> Result<(), String> {
    let repository = &job.reference.repository;
    let tag = job.reference.tag.as_deref().unwrap_or("latest");
    let Some((top, children)) = image.manifests.split_last() else {
        return Err(format!("internal error: image {} has no manifest", job.digest));
    };
    for child in children {
        put_manifest(client, repository, child, &child.digest, settings, state)?;
    }
    put_manifest(client, repository, top, tag, settings, state)
}

/// Whether the job's tag names its image's digest in the registry
/// already (a registry that does not say, or has no such tag: no).
fn tag_names(client: &Client, job: &PushJob, settings: &PushSettings, state: &State) -> Result<bool, String> {
    let repository = &job.reference.repository;
    let tag = job.reference.tag.as_deref().unwrap_or("latest");
    let path = format!("/v2/{repository}/manifests/{tag}");
    let response = with_retries(settings, state, || {
        client.send("HEAD", &path, &[repository], Access::Push, &[("Accept", super::pull::ACCEPT)], &[])
    })?;
    let digest = response
        .headers()
        .get("docker-content-digest")
        .and_then(|value| value.to_str().ok());
    Ok(response.status().as_u16() == 200 && digest == Some(job.digest.as_str()))
}

/// Runs `call` with the push's retry settings, counting retries.
fn with_retries<T>(settings: &PushSettings, state: &State, call: impl FnMut() -> Result<T, CallError>) -> Result<T, String> {
    let on_retry = || {
        state.retries.fetch_add(1, Ordering::Relaxed);
    };
    super::client::with_retries(settings.attempts, settings.backoff, &on_retry, call)
}

fn push_blob(client: &Client, repository: &str, blob: &LayoutBlob, settings: &PushSettings, state: &State) -> Result<(), String> {
    let registry = &client.host;
    if state.holds(registry, &blob.digest, repository) {
        return Ok(());
    }
    let head_path = format!("/v2/{repository}/blobs/{}", blob.digest);
    let head = with_retries(settings, state, || client.call("HEAD", &head_path, &[repository], None, &[]))?;
    if head.status == 200 {
        state.present.fetch_add(1, Ordering::Relaxed);
        state.record(registry, &blob.digest, repository);
        return Ok(());
    }
    // The whole upload is one unit: a failure anywhere starts it again
    // from the POST, since a half-written upload session is not resumable
    // on every registry.
    let mount_from = state.mount_source(registry, &blob.digest, repository);
    let outcome = with_retries(settings, state, || {
        let (path, scopes): (String, Vec<&str>) = match &mount_from {
            Some(from) => (
                format!("/v2/{repository}/blobs/uploads/?mount={}&from={from}", blob.digest),
                vec![repository, from.as_str()],
            ),
            None => (format!("/v2/{repository}/blobs/uploads/"), vec![repository]),
        };
        let started = client.call("POST", &path, &scopes, None, &[])?;
        if started.status == 201 && mount_from.is_some() {
            return Ok(true);
        }
        if started.status != 202 {
            return Err(CallError {
                message: format!("POST {path} answered {}: {}", started.status, started.body.trim()),
                retry: false,
                retry_after: None,
            });
        }
        let location = started.location.ok_or_else(|| CallError {
            message: format!("POST {path} answered 202 without a Location"),
            retry: false,
            retry_after: None,
        })?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let put_url = format!("{location}{separator}digest={}", blob.digest);
        let put = client.call(
            "PUT",
            &put_url,
            &[repository],
            Some("application/octet-stream"),
            Body::File(&blob.path),
        )?;
        if put.status == 400 && put.body.contains("DIGEST_INVALID") {
            return Err(CallError {
                message: format!(
                    "the registry found that `{}` does not hash to {}: the layout changed after it was built; build again",
                    blob.path.display(),
                    blob.digest
                ),
                retry: false,
                retry_after: None,
            });
        }
        if put.status != 201 {
            return Err(CallError {
                message: format!("upload of {} answered {}: {}", blob.digest, put.status, put.body.trim()),
                retry: false,
                retry_after: None,
            });
        }
        Ok(false)
    })?;
    if outcome {
        state.mounted.fetch_add(1, Ordering::Relaxed);
    } else {
        state.uploaded.fetch_add(1, Ordering::Relaxed);
        state.bytes.fetch_add(blob.size, Ordering::Relaxed);
    }
    state.record(registry, &blob.digest, repository);
    Ok(())
}

fn put_manifest(
    client: &Client,
    repository: &str,
    manifest: &Blob,
    reference: &str,
    settings: &PushSettings,
    state: &State,
) -> Result<(), String> {
    let path = format!("/v2/{repository}/manifests/{reference}");
    let response = with_retries(settings, state, || {
        client.call("PUT", &path, &[repository], Some(&manifest.media_type), manifest.bytes.as_slice())
    })?;
    if response.status != 201 && response.status != 200 {
        return Err(format!("PUT {path} answered {}: {}", response.status, response.body.trim()));
    }
    Ok(())
}
