//! OpenShift version targets (`openshift`, issue 18): which of a package's
//! bundles and channels a version's catalog holds, by the rule of
//! [`crate::openshift::matrix::cell`], and the bundle annotation's
//! problems as located diagnostics. Also the data of `catbuild matrix`.
//!
//! Packages whose channels come from bundles are filtered by each bundle's
//! `com.redhat.openshift.versions`, as the community release pipeline adds
//! a bundle to the index images its annotation selects; explicit packages
//! by the `openshift` of their channels, as a catalog template per version
//! would. Packages from an `index.db` are taken as they are.

use crate::config::{ChannelPolicy, Config, ExplicitChannel, PackageConfig, Target};
use crate::diag::{Diagnostic, Location};
use crate::load::{LoadedBundle, OpenshiftVersions};
use crate::openshift::matrix::{Matrix, Rule};
use crate::openshift::{self, AnnotationError, OcpVersion};

use super::BuildError;

/// The bundles `target` holds (`true` by position in `bundles`), or `None`
/// when it holds them all without looking (no version, or nothing decides
/// per version). The annotation's problems go to `diagnostics`: the same in
/// every target, so they are reported once.
pub(super) fn held_bundles(
    config: &Config,
    package: &PackageConfig,
    target: &Target,
    bundles: &[LoadedBundle],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Vec<bool>> {
    let version = target.openshift?;
    let rules: Vec<Rule> = bundles
        .iter()
        .map(|bundle| rule_of(config, package, bundle, Some(&mut *diagnostics)))
        .collect();
    if rules.iter().all(|rule| matches!(rule, Rule::Every { .. })) {
        return None;
    }
    Some(rules.iter().map(|rule| openshift::matrix::cell(rule, version).held).collect())
}

/// The explicit channels `target` gets: those whose `openshift` names its
/// version, and those without `openshift`.
pub(super) fn target_channels(channels: &[ExplicitChannel], target: &Target) -> Vec<ExplicitChannel> {
    channels
        .iter()
        .filter(|channel| match (&channel.openshift, target.openshift) {
            (Some(versions), Some(version)) => versions.value.contains(&version),
            _ => true,
        })
        .cloned()
        .collect()
}

/// What decides whether a version's catalog holds `bundle`. With
/// `diagnostics`, an annotation's problems are reported there: its traps
/// as warnings; a refused value, or one admitting no version a target
/// builds, as an error naming the annotations file and line.
pub(super) fn rule_of(config: &Config, package: &PackageConfig, bundle: &LoadedBundle, diagnostics: Option<&mut Vec<Diagnostic>>) -> Rule {
    let channels = match &package.channel_policy {
        ChannelPolicy::Explicit(channels) if channels.iter().any(|channel| channel.openshift.is_some()) => channels,
        ChannelPolicy::Explicit(_) => {
            return Rule::Every {
                why: "explicit channels".to_string(),
            };
        }
        _ => return annotation_rule(config, bundle, diagnostics),
    };
    Rule::Channels(
        channels
            .iter()
            .filter(|channel| channel.entries.iter().any(|entry| entry.name.value == bundle.bundle.name))
            .map(|channel| {
                (
                    channel.name.value.clone(),
                    channel.openshift.as_ref().map(|versions| versions.value.clone()),
                )
            })
            .collect(),
    )
}

fn annotation_rule(config: &Config, bundle: &LoadedBundle, diagnostics: Option<&mut Vec<Diagnostic>>) -> Rule {
    let annotation = bundle.openshift_versions.as_ref();
    let parsed = openshift::parse_annotation(
        annotation.map(|found| found.value.as_str()),
        annotation.map_or(openshift::ScalarStyle::Quoted, |found| found.style),
    );
    let value = annotation.map(|found| found.value.clone());
    let Some(diagnostics) = diagnostics else {
        return Rule::Annotation {
            value,
            admitted: parsed.ok().map(|parsed| parsed.admitted),
        };
    };
    let location = annotation_location(bundle, annotation);
    let name = &bundle.bundle.name;
    match parsed {
        Err(error) => {
            let help = match error {
                AnnotationError::CommaList { .. } => "the release pipeline would add the bundle to no catalog; write one range",
                _ => "fix the value, or remove the key to admit every version",
            };
            diagnostics.push(
                Diagnostic::error("bundle", format!("bundle `{name}`: `com.redhat.openshift.versions`: {error}"))
                    .at(location)
                    .help(help),
            );
            Rule::Annotation { value, admitted: None }
        }
        Ok(parsed) => {
            for trap in &parsed.traps {
                diagnostics.push(
                    Diagnostic::warning("bundle", format!("bundle `{name}`: `com.redhat.openshift.versions`: {trap}")).at(location.clone()),
                );
            }
            let versions = config.openshift_versions();
            if !versions.is_empty() && parsed.admitted.admitted(&versions).is_empty() {
                let written = value.clone().unwrap_or_default();
                diagnostics.push(
                    Diagnostic::error(
                        "bundle",
                        format!(
                            "bundle `{name}` is for OpenShift `{written}`, which admits none of the versions built ({})",
                            crate::config::version_list(&versions)
                        ),
                    )
                    .at(location)
                    .help("widen `com.redhat.openshift.versions`, leave the bundle out with the package's `exclude`, or build the versions it is for")
                    .note("the community release pipeline fails such a bundle (`No supported indices found`)"),
                );
            }
            Rule::Annotation {
                value,
                admitted: Some(parsed.admitted),
            }
        }
    }
}

fn annotation_location(bundle: &LoadedBundle, annotation: Option<&OpenshiftVersions>) -> Location {
    let path = bundle.annotations_path();
    match annotation.and_then(|found| found.line) {
        Some(line) => Location::line(&path, line),
        None => Location::file(&path),
    }
}

/// A note for the graph problems of a version target that left bundles
/// out: which ones, and by what, so a stranded bundle's error says why its
/// neighbour is missing.
pub(super) fn left_out_note(target: &Target, left_out: &[(&LoadedBundle, Rule)]) -> Option<String> {
    let version = target.openshift?;
    if left_out.is_empty() {
        return None;
    }
    let named: Vec<String> = left_out
        .iter()
        .map(|(bundle, rule)| {
            let why = match rule {
                Rule::Annotation { value: Some(value), .. } => format!("`com.redhat.openshift.versions: {value}`"),
                Rule::Channels(_) => format!("no channel for {version}"),
                _ => openshift::matrix::cell(rule, version).why,
            };
            format!("`{}` ({why})", bundle.bundle.name)
        })
        .collect();
    Some(format!(
        "target `{}` leaves out what OpenShift {version} does not admit: {}",
        target.name,
        named.join(", ")
    ))
}

/// The data of `catbuild matrix`: every bundle of every package of the
/// selected version targets, loaded (not linked), against their versions.
/// Loading problems and the annotations' problems come back as diagnostics.
pub fn matrix(config: &Config, target_names: &[String]) -> Result<(Matrix, Vec<Diagnostic>), BuildError> {
    let options = super::BuildOptions {
        targets: target_names.to_vec(),
        ..super::BuildOptions::default()
    };
    let targets = super::select_targets(config, &options)?;
    let mut versions: Vec<OcpVersion> = targets.iter().filter_map(|target| target.openshift).collect();
    versions.sort();
    versions.dedup();
    if versions.is_empty() {
        return Err(BuildError::Input(vec![
            Diagnostic::error("config", "no selected target is an OpenShift version")
                .at(Location::file(&config.path))
                .help("set `openshift = \"v4.12-v4.22\"` in `[catalog]` or a `[[target]]`"),
        ]));
    }
    let mut diagnostics = config.warnings.clone();
    // Bundle images are not pulled for the table (it stays offline).
    let plan = super::plan::plan(config, None, &mut diagnostics);
    let mut rows = Vec::new();
    for package in &config.packages {
        if !targets
            .iter()
            .any(|target| target.openshift.is_some() && target.packages.contains(&package.name.value))
        {
            continue;
        }
        let name = &package.name.value;
        if package.index_db.is_some() {
            rows.push((
                name.clone(),
                String::from("(every bundle)"),
                Rule::Every {
                    why: "index-db".to_string(),
                },
            ));
            continue;
        }
        let Some(package_plan) = plan.packages.get(name) else {
            continue;
        };
        let (bundles, _, found) = super::load::load_package(
            config,
            (name, package_plan),
            &config.vars,
            None,
            (std::collections::BTreeMap::new(), &super::report::Cached::Off),
            &super::report::Silent,
        );
        diagnostics.extend(found);
        // Oldest first (by CSV version), then what `exclude` left out.
        let mut package_rows: Vec<(Option<crate::semver::Version>, String, Rule)> = bundles
            .iter()
            .map(|bundle| {
                (
                    crate::semver::Version::parse(&bundle.version).ok(),
                    bundle.bundle.name.clone(),
                    rule_of(config, package, bundle, Some(&mut diagnostics)),
                )
            })
            .collect();
        package_rows.sort_by(|left, right| (left.0.is_none(), &left.0, &left.1).cmp(&(right.0.is_none(), &right.0, &right.1)));
        package_rows.extend(
            package_plan
                .excluded_dirs
                .iter()
                .map(|dir| (None, crate::diag::display_path(dir, &config.root), Rule::Excluded)),
        );
        rows.extend(package_rows.into_iter().map(|(_, bundle, rule)| (name.clone(), bundle, rule)));
    }
    crate::diag::dedupe(&mut diagnostics);
    crate::diag::sort(&mut diagnostics);
    Ok((openshift::matrix::matrix(rows, &versions), diagnostics))
}
