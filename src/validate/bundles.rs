//! The bundles of one package, checked before they are linked: a bundle
//! whose annotations name another package, two bundles with one name, a
//! version that is not semver, an `olm.skipRange` that is not a range, an
//! image pull spec opm's model would refuse (so that one run reports it
//! with every other problem, not only after all other checks passed).

use std::collections::BTreeMap;

use super::csv_field_location;
use crate::config::Config;
use crate::diag::{Diagnostic, Location};
use crate::load::LoadedBundle;
use crate::load::annotations::{ANNOTATION_PACKAGE, ANNOTATION_SKIP_RANGE};

/// The problems of `bundles`, listed for package `package_name`, in bundle
/// order. Every one is an error: a package with any is not linked. A
/// bundle of another package or with a taken name is not checked further.
pub(crate) fn check_package_bundles(config: &Config, package_name: &str, bundles: &[LoadedBundle]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let name = package_name;
    let mut seen: BTreeMap<&str, &LoadedBundle> = BTreeMap::new();
    for bundle in bundles {
        if bundle.package != name {
            diagnostics.push(
                Diagnostic::error(
                    "bundle",
                    format!(
                        "bundle `{}` belongs to package `{}`, not `{name}`",
                        bundle.bundle.name, bundle.package
                    ),
                )
                .at(Location::file(&bundle.annotations_path()))
                .help(format!(
                    "fix `{ANNOTATION_PACKAGE}` in its annotations, or list the bundle under `[[package]] name = \"{}\"`",
                    bundle.package
                )),
            );
            continue;
        }
        if let Some(first) = seen.insert(bundle.bundle.name.as_str(), bundle) {
            diagnostics.push(
                Diagnostic::error(
                    "bundle",
                    format!("two bundles of package `{name}` are named `{}`", bundle.bundle.name),
                )
                .at(Location::file(&bundle.csv_path))
                .note(format!(
                    "the other one is `{}`",
                    crate::diag::display_path(&first.csv_path, &config.root)
                ))
                .help("each CSV needs its own `metadata.name`; remove the duplicate directory"),
            );
            continue;
        }
        if let Err(reason) = crate::semver::Version::parse(&bundle.version) {
            diagnostics.push(
                Diagnostic::error(
                    "bundle",
                    format!("bundle `{}` has invalid version `{}`: {reason}", bundle.bundle.name, bundle.version),
                )
                .at(csv_field_location(bundle, "version"))
                .help("`spec.version` must be a semantic version such as `1.2.3`; quote it in YAML so `1.10` stays a string"),
            );
        }
        if !bundle.skip_range.is_empty()
            && let Err(reason) = crate::semver::Range::parse(&bundle.skip_range)
        {
            diagnostics.push(
                Diagnostic::error(
                    "graph",
                    format!(
                        "bundle `{}` has invalid skipRange `{}`: {reason}",
                        bundle.bundle.name, bundle.skip_range
                    ),
                )
                .at(csv_field_location(bundle, ANNOTATION_SKIP_RANGE))
                .help("write a range such as `>=1.0.0 <1.2.0` (no `v` prefix)"),
            );
        }
        diagnostics.extend(related_image_problems(bundle));
    }
    diagnostics
}

/// The related images (from the CSV's `spec.relatedImages` and its
/// containers) that opm's `ConvertToModel` refuses as pull specs.
fn related_image_problems(bundle: &LoadedBundle) -> Vec<Diagnostic> {
    bundle
        .bundle
        .related_images
        .iter()
        .filter(|related| !related.image.is_empty())
        .filter_map(|related| {
            let reason = crate::model::image_ref::parse_normalized_named(&related.image).err()?;
            Some(
                Diagnostic::error(
                    "bundle",
                    format!(
                        "bundle `{}` refers to image `{}`, which is not a valid pull spec: {reason}",
                        bundle.bundle.name, related.image
                    ),
                )
                .at(Location::file(&bundle.csv_path))
                .help("write a reference such as `quay.io/org/image:1.2.3` or `quay.io/org/image@sha256:<64 hex digits>` in `spec.relatedImages` or the container `image`"),
            )
        })
        .collect()
}
