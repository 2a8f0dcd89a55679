//! The bundles of one package, checked before they are linked: a bundle
//! whose annotations name another package, two bundles with one name, a
//! version that is not semver, an `olm.skipRange` that is not a range, an
//! image pull spec opm's model would refuse, properties opm cannot read,
//! not exactly one `olm.package` property, a bad release, an empty skip
//! (so that one run reports them with every other problem, not only after
//! all other checks passed).

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
        diagnostics.extend(model_problems(bundle));
    }
    diagnostics
}

/// What opm's `ConvertToModel` and `Bundle.Validate` refuse in one bundle
/// and the checks above do not see: properties opm cannot decode (from
/// `metadata/properties.yaml`, `metadata/dependencies.yaml` or the CSV's
/// `olm.properties` annotation), not exactly one `olm.package` property or
/// one naming another package, a release that does not parse or does not
/// match the bundle's name, and empty `skips`. The gate stays as a safety
/// net; these say where to look, in the same run as every other problem.
fn model_problems(bundle: &LoadedBundle) -> Vec<Diagnostic> {
    let name = &bundle.bundle.name;
    let mut diagnostics = Vec::new();
    let metadata = Location::file(&bundle.dir.join(crate::load::METADATA_DIR));
    let properties_help = "the bundle's properties come from `metadata/properties.yaml`, `metadata/dependencies.yaml` and the CSV's `olm.properties` annotation";
    match crate::model::property::parse_with(&bundle.bundle.properties, crate::model::property::Objects::Checked) {
        Err(reason) => diagnostics.push(
            Diagnostic::error("bundle", format!("bundle `{name}` has a property opm cannot read: {reason}"))
                .at(metadata)
                .help(properties_help),
        ),
        Ok(parsed) => match parsed.packages.as_slice() {
            [package] if package.package_name != bundle.package => diagnostics.push(
                Diagnostic::error(
                    "bundle",
                    format!(
                        "bundle `{name}` has an `olm.package` property for package `{}`, not `{}`",
                        package.package_name, bundle.package
                    ),
                )
                .at(metadata)
                .help(properties_help),
            ),
            [package] => {
                if let Err(reason) = crate::model::convert::parse_release(&package.release) {
                    diagnostics.push(
                        Diagnostic::error(
                            "bundle",
                            format!("bundle `{name}` has invalid release `{}`: {reason}", package.release),
                        )
                        .at(Location::file(&bundle.csv_path))
                        .help("`spec.release` is dot-separated alphanumerics and hyphens, at most 20 characters"),
                    );
                } else if !package.release.is_empty() {
                    let normalized = format!("{}-v{}-{}", bundle.package, package.version, package.release);
                    if *name != normalized {
                        diagnostics.push(
                            Diagnostic::error(
                                "bundle",
                                format!("bundle `{name}` has a release, so opm requires its name to be `{normalized}`"),
                            )
                            .at(csv_field_location(bundle, "name"))
                            .help(format!("name the CSV `{normalized}` (`metadata.name`), or drop `spec.release`")),
                        );
                    }
                    if package.version.contains('+') {
                        diagnostics.push(
                            Diagnostic::error(
                                "bundle",
                                format!(
                                    "bundle `{name}` has both build metadata in its version `{}` and a release",
                                    package.version
                                ),
                            )
                            .at(csv_field_location(bundle, "version"))
                            .help("opm refuses the two together: drop the `+…` part of `spec.version` or `spec.release`"),
                        );
                    }
                }
            }
            packages => diagnostics.push(
                Diagnostic::error(
                    "bundle",
                    format!(
                        "bundle `{name}` has {} `olm.package` properties; opm requires exactly one",
                        packages.len()
                    ),
                )
                .at(metadata)
                .help(format!("{properties_help}; the CSV gives one already")),
            ),
        },
    }
    for (skip_idx, skip) in bundle.skips.iter().enumerate() {
        if skip.is_empty() {
            diagnostics.push(
                Diagnostic::error(
                    "bundle",
                    format!("bundle `{name}` has an empty entry in `spec.skips` (skips[{skip_idx}])"),
                )
                .at(csv_field_location(bundle, "skips"))
                .help("remove the empty entry: opm refuses a skip without a name"),
            );
        }
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
