//! One reproducible layer: a tar of files and their parent directories,
//! sorted by path, 0644 files and 0755 directories owned by 0:0 with one
//! fixed mtime and no user or group names, gzipped with a fixed header.
//! Hashed in the same pass that writes it: the gzip bytes give the
//! layer's digest, the tar bytes its `diff_id`.

use std::collections::BTreeMap;
use std::io::{self, Write};

use sha2::Digest as _;

use super::{hex, media_type};

/// A file of a layer: its path inside the image (relative, `/`-separated,
/// no leading `/`) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// A layer: the gzip blob and its digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub media_type: &'static str,
    /// The gzip bytes; `None` for a layer built by an earlier build and
    /// kept by the action cache ([`Layer::stored`]).
    pub blob: Option<Vec<u8>>,
    /// Length of the gzip bytes.
    pub size: u64,
    /// sha256 of the gzip bytes.
    pub digest: String,
    /// sha256 of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: String,
}

impl Layer {
    /// A layer known by its digests and size alone: it can be named in a
    /// manifest; its bytes are written by whoever keeps them.
    pub fn stored(digest: String, diff_id: String, size: u64) -> Layer {
        Layer {
            media_type: media_type::OCI_LAYER_GZIP,
            blob: None,
            size,
            digest,
            diff_id,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }
}

/// Builds the layer holding `files` (their order does not matter) with
/// every entry's mtime set to `mtime` (seconds since the epoch:
/// `SOURCE_DATE_EPOCH`, or 0). Two files at one path, or a file where a
/// directory must be, are a caller's bug and an error.
pub fn build_layer(files: &[LayerFile], mtime: u64) -> io::Result<Layer> {
    build_layer_of(files.iter().map(|file| (file.path.as_str(), file.bytes.as_slice())), mtime)
}

/// [`build_layer`] of `(path, bytes)` pairs that borrow their bytes: a
/// catalog or a bundle is not copied to be put in a layer.
pub fn build_layer_of<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>, mtime: u64) -> io::Result<Layer> {
    // path -> Some(bytes) for a file, None for a directory.
    let mut entries: BTreeMap<&str, Option<&[u8]>> = BTreeMap::new();
    let mut total = 0;
    for (file_path, bytes) in files {
        let path = file_path.trim_start_matches('/');
        if path.is_empty() || path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{file_path}` is not a layer path"),
            ));
        }
        total += bytes.len();
        let mut end = 0;
        while let Some(slash) = path[end..].find('/') {
            let dir = &path[..end + slash];
            if let Some(Some(_)) = entries.insert(dir, None) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("`{dir}` is both a file and a directory"),
                ));
            }
            end += slash + 1;
        }
        if entries.insert(path, Some(bytes)).is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{path}` is in the layer twice"),
            ));
        }
    }
    // Room for text that compresses 3:1, so the blob seldom moves.
    let blob = HashingWriter::new(Vec::with_capacity(total / 3 + 4096));
    // flate2 writes OS byte 255 ("unknown") and, given a fixed level, a
    // fixed XFL byte; mtime 0 keeps the header free of the build time.
    // Level 1, as ggcr's layers default to (gzip.BestSpeed): catalogs are
    // text that compresses well at any level, and push time is the goal.
    let gzip = flate2::GzBuilder::new().mtime(0).write(blob, flate2::Compression::fast());
    let mut tar = tar::Builder::new(HashingWriter::new(gzip));
    for (path, content) in &entries {
        let mut header = tar::Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        match content {
            Some(bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(bytes.len() as u64);
                tar.append_data(&mut header, path, *bytes)?;
            }
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), io::empty())?;
            }
        }
    }
    let tar_hashed = tar.into_inner()?;
    let diff_id = format!("sha256:{}", hex(&tar_hashed.hasher.finalize()));
    let blob_hashed = tar_hashed.inner.finish()?;
    let digest = format!("sha256:{}", hex(&blob_hashed.hasher.finalize()));
    Ok(Layer {
        media_type: media_type::OCI_LAYER_GZIP,
        size: blob_hashed.inner.len() as u64,
        blob: Some(blob_hashed.inner),
        digest,
        diff_id,
    })
}

/// Passes bytes through to `inner` and hashes them on the way.
struct HashingWriter<W> {
    inner: W,
    hasher: sha2::Sha256,
}

impl<W> HashingWriter<W> {
    fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hasher: sha2::Sha256::new(),
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn file(path: &str, text: &str) -> LayerFile {
        LayerFile {
            path: path.to_string(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    /// (path, type, mode, uid, gid, mtime, uname, gname, size) of an entry.
    type Entry = (String, char, u32, u64, u64, u64, String, String, u64);

    fn entries(layer: &Layer) -> Vec<Entry> {
        let mut tar_bytes = Vec::new();
        flate2::read::GzDecoder::new(layer.blob.as_deref().unwrap())
            .read_to_end(&mut tar_bytes)
            .unwrap();
        assert_eq!(crate::image::sha256_digest(&tar_bytes), layer.diff_id);
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    String::from_utf8(entry.path_bytes().to_vec()).unwrap(),
                    if header.entry_type().is_dir() { 'd' } else { 'f' },
                    header.mode().unwrap(),
                    header.uid().unwrap(),
                    header.gid().unwrap(),
                    header.mtime().unwrap(),
                    String::from_utf8_lossy(header.username_bytes().unwrap_or_default()).into_owned(),
                    String::from_utf8_lossy(header.groupname_bytes().unwrap_or_default()).into_owned(),
                    header.size().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn entries_are_sorted_with_parents_normalized_modes_and_owners() {
        let layer = build_layer(
            &[
                file("metadata/annotations.yaml", "a: b\n"),
                file("manifests/z.yaml", "z\n"),
                file("manifests/a.yaml", "abc\n"),
            ],
            1_700_000_000,
        )
        .unwrap();
        let found = entries(&layer);
        let shape: Vec<(&str, char, u32)> = found.iter().map(|entry| (entry.0.as_str(), entry.1, entry.2)).collect();
        assert_eq!(
            shape,
            [
                ("manifests/", 'd', 0o755),
                ("manifests/a.yaml", 'f', 0o644),
                ("manifests/z.yaml", 'f', 0o644),
                ("metadata/", 'd', 0o755),
                ("metadata/annotations.yaml", 'f', 0o644),
            ]
        );
        for entry in &found {
            assert_eq!((entry.3, entry.4, entry.5), (0, 0, 1_700_000_000), "{}", entry.0);
            assert_eq!((entry.6.as_str(), entry.7.as_str()), ("", ""), "{}", entry.0);
        }
        assert_eq!(found[1].8, 4);
    }

    #[test]
    fn input_order_does_not_change_the_digest_and_content_does() {
        let one = build_layer(&[file("a/x", "1"), file("b/y", "2")], 0).unwrap();
        let two = build_layer(&[file("b/y", "2"), file("a/x", "1")], 0).unwrap();
        assert_eq!(one, two);
        let changed = build_layer(&[file("b/y", "3"), file("a/x", "1")], 0).unwrap();
        assert_ne!(one.digest, changed.digest);
        let later = build_layer(&[file("b/y", "2"), file("a/x", "1")], 1).unwrap();
        assert_ne!(one.diff_id, later.diff_id);
        assert_eq!(one.digest, crate::image::sha256_digest(one.blob.as_deref().unwrap()));
    }

    #[test]
    fn gzip_header_has_no_time_and_fixed_flags() {
        let layer = build_layer(&[file("configs/p/catalog.json", "{}")], 0).unwrap();
        // magic, deflate, no flags, mtime 0, XFL 4 (fastest), OS 255.
        assert_eq!(&layer.blob.as_deref().unwrap()[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255]);
    }

    #[test]
    fn a_known_layer_has_a_known_digest() {
        // Pinned: a change here changes every image digest catbuild makes.
        let layer = build_layer(&[file("configs/p/catalog.json", "{}\n")], 0).unwrap();
        assert_eq!(
            layer.diff_id,
            "sha256:24ec7fb9b4ffba31186369c4126752b253cda409cf71ce8207c80158f73da7d1"
        );
        assert_eq!(
            layer.digest,
            "sha256:f2762405e6b9d0be2b55c78c130b6272c787923f5106bed5d1cbba243edfd879"
        );
        // The gzip bytes are the deflate backend's (zlib-rs); GNU gzip
        // reads them back to the very tar the diff_id names.
        let mut gzip = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        gzip.stdin.take().unwrap().write_all(layer.blob.as_deref().unwrap()).unwrap();
        let output = gzip.wait_with_output().unwrap();
        assert!(output.status.success());
        assert_eq!(crate::image::sha256_digest(&output.stdout), layer.diff_id);
    }

    #[test]
    fn long_paths_survive() {
        let long = format!("configs/{}/catalog.json", "p".repeat(150));
        let layer = build_layer(&[file(&long, "{}")], 0).unwrap();
        assert_eq!(entries(&layer).last().unwrap().0, long);
    }

    #[test]
    fn bad_paths_and_clashes_are_errors() {
        assert!(build_layer(&[file("a/../b", "")], 0).is_err());
        assert!(build_layer(&[file("a", ""), file("a/b", "")], 0).is_err());
        assert!(build_layer(&[file("a", ""), file("a", "")], 0).is_err());
    }
}
