//! Pushing images to OCI registries (the distribution API), with a small
//! blocking client: HEAD-skip, cross-repository mounts, parallel uploads,
//! retries with backoff, credentials from podman's and docker's files or
//! the environment, and TLS verified by default. The only part of catbuild
//! that changes the world outside the output directory.

pub mod auth;
mod client;
mod push;

pub use client::ClientSettings;
pub use push::{PushJob, PushReport, PushSettings, push_images};

/// A push that failed. The message names the registry and never holds a
/// secret (credentials are only ever sent, not printed).
#[derive(Debug, thiserror::Error)]
#[error("cannot push to `{registry}`: {message}")]
pub struct PushError {
    pub registry: String,
    pub message: String,
}
