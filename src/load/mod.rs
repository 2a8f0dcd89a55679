//! Loading bundles (registry+v1 directories, package manifests) into `olm.bundle` blobs.
