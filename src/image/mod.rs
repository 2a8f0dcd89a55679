//! Daemonless, reproducible OCI images, built the way ko and jib build
//! them: tar layers, a config, a manifest (and an index for several
//! platforms), all as bytes named by their sha256.
//!
//! Nothing here reads the clock, the environment or the filesystem except
//! [`layout::read_image`], which loads a base image from an OCI layout the
//! user named: the same inputs give the same digests on any machine.
//! `bundle.rs` and `catalog.rs` say what OLM expects inside the images;
//! `layout.rs` writes them as an OCI image layout; pushing is `registry`.

pub mod bundle;
pub mod catalog;
pub mod layer;
pub mod layout;
pub mod oci;
pub mod reference;
pub mod unpack;

pub use layer::{Layer, LayerFile};
pub use oci::{Blob, Descriptor, Image, ImageConfig, Manifest, Platform};

/// `sha256:<64 lowercase hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex(&sha2::Sha256::digest(bytes)))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// Media types catbuild writes (OCI) and reads (OCI and Docker schema 2).
pub mod media_type {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    pub fn is_index(media_type: &str) -> bool {
        media_type == OCI_INDEX || media_type == DOCKER_LIST
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_of_nothing_is_the_known_digest() {
        assert_eq!(
            super::sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
