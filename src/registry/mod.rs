//! OCI registries (the distribution API), with a small blocking client:
//! pushing (HEAD-skip, cross-repository mounts, parallel uploads) and
//! pulling (manifests by tag or digest, blobs streamed and verified, OCI
//! layouts read the same way), retries with backoff, credentials from
//! podman's and docker's files or the environment, registries.conf
//! mirrors, and TLS verified by default. Pushing is the only part of
//! catbuild that changes the world outside the output directory.

pub mod auth;
mod client;
pub mod mirrors;
mod pull;
mod push;

pub use client::ClientSettings;
// The shared action cache (`cache::remote`) talks to registries too.
pub(crate) use client::{Access, CallError, Client, with_retries};
pub use pull::{ImageSource, PullError, PullSettings, PulledImage, config_labels, pull, pull_all};
pub use push::{PushJob, PushReport, PushSettings, push_images};

/// A push that failed. The message names the registry and never holds a
/// secret (credentials are only ever sent, not printed).
#[derive(Debug, thiserror::Error)]
#[error("cannot push to `{registry}`: {message}")]
pub struct PushError {
    pub registry: String,
    pub message: String,
}
