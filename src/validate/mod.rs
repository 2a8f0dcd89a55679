//! catbuild's own located checks: problems of a package's loaded bundles
//! and of its `catalog.toml` entries, each pointing at the CSV key, the
//! annotations file or the `catalog.toml` span to fix. opm's own validation
//! (with opm's texts) is [`crate::model`]'s; channel-graph rules are
//! [`crate::graph`]'s; this module turns what a package is given into
//! diagnostics before `pipeline` links it.
//!
//! * [`bundles`]: the bundles of one package: each names the package, has
//!   its own name, a valid version and a valid `olm.skipRange`.
//! * [`explicit`]: an explicit channel policy against the bundles: listed
//!   entries that are not bundles, `replaces` of unknown bundles (and the
//!   typo that breaks a channel), invalid entry skipRanges, opm's graph
//!   rules per channel, and bundles no channel lists.
//!
//! Invariants: no I/O and no printing. Every check takes the loaded bundles
//! and the resolved config and returns its problems as `Vec<Diagnostic>`
//! (data); the caller decides what they stop. Message texts are pinned by
//! the fixtures in `tests/data/diagnostics/`.

mod bundles;
mod explicit;

pub(crate) use bundles::check_package_bundles;
pub(crate) use explicit::{check_explicit_channels, check_unlisted_bundles, exclude_pattern};

use crate::diag::Location;
use crate::load::annotations::ANNOTATION_SKIP_RANGE;
use crate::load::{CsvField, LoadedBundle};

/// The line of a CSV field's key, from the node positions the YAML decode
/// kept; the file alone when the CSV does not have the field. `field` is a
/// [`crate::graph::GraphProblem`] field name or [`ANNOTATION_SKIP_RANGE`].
pub(crate) fn csv_field_location(bundle: &LoadedBundle, field: &str) -> Location {
    let field = match field {
        "name" => CsvField::Name,
        "version" => CsvField::Version,
        "replaces" => CsvField::Replaces,
        "skips" => CsvField::Skips,
        ANNOTATION_SKIP_RANGE => CsvField::SkipRange,
        _ => return Location::file(&bundle.csv_path),
    };
    let location = bundle.csv_field_location(field);
    match location.line {
        Some(line) => Location::line(&location.file, line),
        None => Location::file(&location.file),
    }
}
