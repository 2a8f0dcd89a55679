//! What each fuzz target does with one input, apart from libFuzzer, so
//! `tests/fuzz_regressions.rs` replays every saved crash through the very
//! same code on a stable toolchain (it includes this file as a module).
//!
//! Each entry takes arbitrary bytes and runs one reader of other people's
//! files as a build would, diagnostics rendering included (slicing a
//! source line at a span is where a panic would hide). An entry returns
//! normally for every input: an error is a fine outcome, a panic, a hang
//! or an allocation beyond libFuzzer's RSS limit is a finding. Each returns
//! whether the input was accepted, so the replay test can check that its
//! seeds reach the end of the pipeline and not only its first error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use catbuild::diag::{self, Diagnostic, Location};

/// Separates the files of one `bundle` input: the first file is
/// `metadata/annotations.yaml`, the others `manifests/N.yaml` (or
/// `manifests/N.yaml.j2` when they start with [`TEMPLATE_MARK`]).
pub const FILE_SEPARATOR: &[u8] = b"\n%%file%%\n";

/// A `bundle` file starting with this is a `.j2` template.
pub const TEMPLATE_MARK: &[u8] = b"#j2\n";

/// `catalog.toml` text resolved into a config; its diagnostics rendered
/// against the text.
pub fn catalog_toml(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let path = Path::new("/project/catalog.toml");
    match catbuild::config::parse(text, path) {
        Ok(config) => {
            render(&config.warnings, path, text);
            true
        }
        Err(diagnostics) => {
            render(&diagnostics, path, text);
            false
        }
    }
}

/// A registry+v1 bundle made of the input's files (see [`FILE_SEPARATOR`]):
/// templates rendered, manifests decoded, the `olm.bundle` blob made.
pub fn bundle(data: &[u8]) -> bool {
    let dir = PathBuf::from("/project/bundle");
    let mut files = catbuild::load::BundleFiles {
        dir: dir.clone(),
        ..Default::default()
    };
    files.directories.insert(PathBuf::from("manifests"));
    files.directories.insert(PathBuf::from("metadata"));
    for (index, chunk) in split(data, FILE_SEPARATOR).enumerate() {
        let (path, bytes) = if index == 0 {
            (PathBuf::from("metadata/annotations.yaml"), chunk)
        } else if let Some(template) = chunk.strip_prefix(TEMPLATE_MARK) {
            (PathBuf::from(format!("manifests/{index:03}.yaml.j2")), template)
        } else {
            (PathBuf::from(format!("manifests/{index:03}.yaml")), chunk)
        };
        files.files.push(catbuild::load::BundleFile {
            source: path.clone(),
            path,
            bytes: bytes.to_vec(),
            source_digest: catbuild::load::Sha256Digest::of(bytes),
        });
    }
    // `read_bundle_dir` keeps `manifests/` then `metadata/`, each by name.
    files.files.sort_by(|left, right| left.path.cmp(&right.path));
    let sources: BTreeMap<PathBuf, Vec<u8>> = files.files.iter().map(|file| (dir.join(&file.path), file.bytes.clone())).collect();
    // The example's one catalog variable, so its templated bundle renders.
    let vars = BTreeMap::from([("registry".to_string(), "quay.io/example".to_string())]);
    let files = match catbuild::load::render_templates(files, &vars) {
        Ok(files) => files,
        Err(errors) => {
            let diagnostics: Vec<Diagnostic> = errors
                .iter()
                .map(|error| {
                    let path = dir.join(&error.file);
                    let location = match (&error.span, error.line) {
                        (Some(span), _) => Location::span(&path, span.clone()),
                        (None, Some(line)) => Location::line(&path, line),
                        (None, None) => Location::file(&path),
                    };
                    Diagnostic::error("template", error.problem.to_string()).at(location)
                })
                .collect();
            render_files(&diagnostics, &dir, &sources);
            return false;
        }
    };
    let Err(error) = catbuild::load::load_bundle_files(&files, None) else {
        return true;
    };
    {
        let mut diagnostic = Diagnostic::error("bundle", error.to_string());
        if let Some((path, line)) = error.location() {
            let path = dir.join(path);
            diagnostic = diagnostic.at(match line {
                Some(line) => Location::line(&path, line),
                None => Location::file(&path),
            });
        }
        render_files(&[diagnostic], &dir, &sources);
    }
    false
}

/// An FBC file decoded, then linked and validated as `opm validate` does.
pub fn fbc(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("/project/catalog/index.yaml");
    match catbuild::fbc::load::load_text(&text, path) {
        Ok(config) => {
            use catbuild::model::property::Objects;
            // Validation only checks bundle objects; decoding them must
            // never change the verdict.
            let checked = catbuild::model::convert::validate_config(&config, Objects::Checked);
            let decoded = catbuild::model::convert::validate_config(&config, Objects::Decoded);
            assert_eq!(checked.as_ref().err(), decoded.as_ref().err());
            checked.is_ok()
        }
        Err(error) => {
            let diagnostic = Diagnostic::error("fbc", error.message.clone()).at(Location::line(path, error.line.max(1)));
            render(&[diagnostic], path, &text);
            false
        }
    }
}

/// A semver range (the first line) and a version (the second) parsed as
/// blang/semver does, and matched (accepted: the range holds the version).
pub fn semver_range(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let (range_text, version_text) = text.split_once('\n').unwrap_or((text, "1.0.0"));
    let range = catbuild::semver::Range::parse(range_text);
    let version = catbuild::semver::Version::parse(version_text);
    let matched = match (&range, &version) {
        (Ok(range), Ok(version)) => range.contains(version),
        _ => false,
    };
    if let Ok(version) = version {
        let _ = version.validate();
        let _ = version.compare(&version.without_build());
        let _ = version.build_id_compare(&version);
        let _ = version.finalize_version();
    }
    matched
}

/// The input as one image layer (gzip or a plain tar), unpacked with small limits into a fresh directory. Beyond
/// not panicking: nothing may appear beside the unpack directory.
pub fn unpack(data: &[u8]) -> bool {
    use catbuild::image::unpack::{LayerBlob, Limits, unpack_layers};
    use sha2::Digest as _;
    let blobs = tempfile::tempdir().expect("a temp dir for the blob");
    let blob_path = blobs.path().join("layer");
    std::fs::write(&blob_path, data).expect("the blob written");
    let digest: String = sha2::Sha256::digest(data).iter().map(|byte| format!("{byte:02x}")).collect();
    let layer = LayerBlob {
        digest: format!("sha256:{digest}"),
        // The unpacker sniffs gzip from the bytes, whatever the type says.
        media_type: catbuild::image::media_type::OCI_LAYER_GZIP.to_string(),
        size: data.len() as u64,
        path: blob_path,
    };
    let sandbox = tempfile::tempdir().expect("a temp dir to unpack into");
    let root = sandbox.path().join("root");
    std::fs::create_dir(&root).expect("the unpack root");
    let limits = Limits {
        file: 1 << 20,
        layer: 4 << 20,
        image: 8 << 20,
        ratio: 100,
        files: 10_000,
    };
    let unpacked = unpack_layers(std::slice::from_ref(&layer), &root, &limits);
    let beside: Vec<_> = std::fs::read_dir(sandbox.path())
        .expect("the sandbox listed")
        .map(|entry| entry.expect("a sandbox entry").file_name())
        .collect();
    assert_eq!(beside, [std::ffi::OsString::from("root")], "the layer wrote outside its root");
    unpacked.is_ok()
}

fn render(diagnostics: &[Diagnostic], path: &Path, text: &str) {
    let _ = diag::render(diagnostics, Path::new("/project"), false, &|shown: &Path| {
        (shown == path).then(|| text.to_string())
    });
}

fn render_files(diagnostics: &[Diagnostic], dir: &Path, sources: &BTreeMap<PathBuf, Vec<u8>>) {
    let _ = diag::render(diagnostics, dir, false, &|shown: &Path| {
        sources.get(shown).map(|bytes| String::from_utf8_lossy(bytes).into_owned())
    });
}

/// `data` cut at every `separator`.
fn split<'a>(data: &'a [u8], separator: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.windows(separator.len()).position(|window| window == separator) {
            Some(at) => {
                rest = Some(&current[at + separator.len()..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}
