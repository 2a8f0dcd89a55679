//! `render DIR` without holding the catalog. opm prints nothing when any
//! file fails to load, and its writer orders blobs by package, so the
//! output can start only once everything was read. Rather than keep the
//! whole catalog (or its text) in memory, each top-level group of the
//! directory (a package directory in opm's layout) is loaded, rendered and
//! written on its own, in parallel, into an unnamed temp file; only after
//! every group loaded are the packages copied out in writer order. Peak
//! memory follows the largest group, not the catalog.
//!
//! Whatever this path cannot answer exactly as the whole-catalog writer
//! does (a load or write error, whose first occurrence opm's order decides,
//! or a package spread over two groups) gives `None`, and the caller takes
//! the whole-catalog path, which also words the error.

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;

use rayon::prelude::*;

use super::declcfg::{Bundle, DeclarativeConfig};
use super::write::{self, Format};
use super::{load, render};

/// A rendered catalog in a temp file, and where each package's text is.
pub struct Spooled {
    file: std::fs::File,
    /// Named packages in writer order (by name): offset and length.
    packages: BTreeMap<String, (u64, u64)>,
    /// The package-less blobs of each group, in walk order: opm writes
    /// them last.
    rest: Vec<(u64, u64)>,
}

/// A group's packages as written: name and text.
type Written = Vec<(String, String)>;

/// Loads and renders `dir` group by group; `prepare` runs on every bundle
/// after opm's render post-processing (`--migrate`). `None`: take the
/// whole-catalog path.
pub fn render_dir(dir: &Path, format: Format, prepare: &(dyn Fn(&mut Bundle) -> Result<(), String> + Sync)) -> Option<Spooled> {
    let groups = load::top_level_groups(dir).ok()?;
    let spool = Mutex::new(tempfile::tempfile().ok()?);
    let placed: Vec<Option<Vec<(String, u64, u64)>>> = groups
        .par_iter()
        .map(|files| {
            let written = render_group(files, format, prepare)?;
            // Appended under the lock; the text is dropped right after.
            let mut file = spool.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut offset = file.seek(SeekFrom::End(0)).ok()?;
            let mut places = Vec::with_capacity(written.len());
            for (package, text) in written {
                file.write_all(text.as_bytes()).ok()?;
                let len = text.len() as u64;
                places.push((package, offset, len));
                offset += len;
            }
            Some(places)
        })
        .collect();
    let mut packages = BTreeMap::new();
    let mut rest = Vec::new();
    for group in placed {
        for (package, offset, len) in group? {
            if package.is_empty() {
                rest.push((offset, len));
            } else if packages.insert(package, (offset, len)).is_some() {
                // A package in two groups: the writer would merge them.
                return None;
            }
        }
    }
    let file = spool.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    Some(Spooled { file, packages, rest })
}

fn render_group(
    files: &[std::path::PathBuf],
    format: Format,
    prepare: &(dyn Fn(&mut Bundle) -> Result<(), String> + Sync),
) -> Option<Written> {
    let mut config = DeclarativeConfig::default();
    for file in files {
        config.extend(load::load_file(file).ok()?);
    }
    for bundle in &mut config.bundles {
        render::post_process(bundle);
        prepare(bundle).ok()?;
    }
    let groups = write::ordered_groups(&config);
    // The blobs are copies: the typed config need not live while they are written.
    drop(config);
    groups
        .into_iter()
        .map(|(package, blobs)| write::write_blobs(&blobs, format).ok().map(|text| (package, text)))
        .collect()
}

impl Spooled {
    /// Copies the catalog out in writer order.
    pub fn copy_to(mut self, out: &mut dyn Write) -> std::io::Result<()> {
        let ranges: Vec<(u64, u64)> = self.packages.values().copied().chain(self.rest.iter().copied()).collect();
        let mut buffer = vec![0; 1 << 16];
        for (offset, len) in ranges {
            self.file.seek(SeekFrom::Start(offset))?;
            let mut left = len;
            while left > 0 {
                let want = usize::try_from(left.min(buffer.len() as u64)).unwrap_or(buffer.len());
                self.file.read_exact(&mut buffer[..want])?;
                out.write_all(&buffer[..want])?;
                left -= want as u64;
            }
        }
        out.flush()
    }
}
