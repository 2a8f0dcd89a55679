//! Adopting an FBC-managed package's opm catalog template: a basic
//! template becomes explicit channels, keeping only the entries whose
//! bundle was found; a semver template gives its generate flags. Templates
//! are read as opm reads them ([`crate::catalog_template`]), so a template
//! opm rejects is not adopted, with the reason.

use std::collections::BTreeSet;
use std::path::Path;

use super::TemplateNotAdopted;
use super::images::{FoundCsv, TemplateImages, map_images};
use crate::encoding::json::Value;
use crate::encoding::yaml_in;
use crate::fbc::{ChannelEntry, DeclarativeConfig};

/// What a package's template becomes in `catalog.toml`.
#[derive(Debug)]
pub(super) enum Adoption {
    Explicit(ExplicitAdoption),
    Semver(SemverAdoption),
}

/// A basic template as explicit channels.
#[derive(Debug, Default)]
pub struct ExplicitAdoption {
    pub default_channel: Option<String>,
    /// Channels in template order, each with at least one kept entry.
    pub channels: Vec<AdoptedChannel>,
    /// Channels all of whose entries were dropped.
    pub empty_channels: Vec<String>,
    /// The template's default channel, when it did not survive.
    pub lost_default: Option<String>,
    /// Bundle names kept in some channel.
    pub kept: BTreeSet<String>,
    /// The template has `olm.deprecations` entries (not carried over).
    pub deprecations: bool,
    /// The template's package has an icon (else the build must not take
    /// the head CSV's).
    pub icon: bool,
    /// The template's package description.
    pub description: String,
    /// The template's `olm.bundle` images, mapped to found bundles.
    pub images: TemplateImages,
}

/// One channel of a basic template, minus the entries with no bundle found.
#[derive(Debug, Clone, PartialEq)]
pub struct AdoptedChannel {
    pub name: String,
    pub entries: Vec<ChannelEntry>,
    /// Names of the entries left out (no bundle directory found).
    pub dropped: Vec<String>,
}

/// A semver template's settings.
#[derive(Debug, Default)]
pub struct SemverAdoption {
    pub generate_major_channels: Option<bool>,
    pub generate_minor_channels: Option<bool>,
    pub default_channel_type_preference: Option<String>,
    /// Archetypes that list bundles (by image) in the template, lowercase,
    /// each with its images in template order.
    pub archetypes: Vec<(String, Vec<String>)>,
    /// Every image the archetypes list, mapped to found bundles.
    pub images: TemplateImages,
}

/// Reads `template` and adopts it for `package_name`, whose found bundles
/// have the CSVs `found`.
pub(super) fn adopt_template(package_name: &str, template: &Path, found: &[FoundCsv]) -> Result<Adoption, TemplateNotAdopted> {
    let found_names: BTreeSet<String> = found.iter().map(|csv| csv.name.clone()).collect();
    let text = fs_err::read_to_string(template).map_err(TemplateNotAdopted::Unreadable)?;
    let document = match yaml_in::decode_stream(&text).into_iter().next() {
        Some(Ok(document)) => document.value,
        Some(Err(error)) => return Err(TemplateNotAdopted::NotYaml { message: error.message }),
        None => return Err(TemplateNotAdopted::Empty),
    };
    match field(&document, "schema").and_then(Value::as_str) {
        Some(crate::catalog_template::basic::SCHEMA) => adopt_basic(package_name, &text, &found_names).map(|mut adoption| {
            adoption.images = map_images(&basic_images(&document), found);
            Adoption::Explicit(adoption)
        }),
        Some(crate::catalog_template::semver::SCHEMA) => {
            let mut adoption = adopt_semver(&document);
            let images: Vec<String> = adoption.archetypes.iter().flat_map(|(_, images)| images.clone()).collect();
            adoption.images = map_images(&images, found);
            Ok(Adoption::Semver(adoption))
        }
        Some(other) => Err(TemplateNotAdopted::UnknownSchema { schema: other.to_string() }),
        None => Err(TemplateNotAdopted::NoSchema),
    }
}

/// A key matched case-insensitively, as Go's JSON decoder matches fields
/// (the semver templates of community-operators write `GenerateMajorChannels`).
fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value
        .as_object()?
        .iter()
        .rev()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, value)| value)
}

pub(super) fn adopt_basic(package_name: &str, text: &str, found_names: &BTreeSet<String>) -> Result<ExplicitAdoption, TemplateNotAdopted> {
    // Rendering with a renderer that yields nothing keeps the package and
    // channel blobs exactly as opm decodes them, and drops the bundles.
    let no_bundles = |_: &str| Ok(DeclarativeConfig::default());
    let config = crate::catalog_template::basic::render(text, &no_bundles).map_err(TemplateNotAdopted::BasicDoesNotLoad)?;
    let template_package = config.packages.iter().find(|package| package.name == package_name);
    let mut adoption = ExplicitAdoption {
        deprecations: !config.deprecations.is_empty(),
        icon: template_package.is_some_and(|package| package.icon.is_some()),
        description: template_package.map(|package| package.description.clone()).unwrap_or_default(),
        ..ExplicitAdoption::default()
    };
    let template_default = template_package
        .map(|package| package.default_channel.clone())
        .filter(|name| !name.is_empty());
    for channel in config.channels.iter().filter(|channel| channel.package == package_name) {
        let (kept, dropped): (Vec<ChannelEntry>, Vec<ChannelEntry>) = channel
            .entries
            .iter()
            .flatten()
            .cloned()
            .partition(|entry| found_names.contains(&entry.name));
        let dropped: Vec<String> = dropped.into_iter().map(|entry| entry.name).collect();
        if kept.is_empty() {
            adoption.empty_channels.push(channel.name.clone());
            continue;
        }
        adoption.kept.extend(kept.iter().map(|entry| entry.name.clone()));
        adoption.channels.push(AdoptedChannel {
            name: channel.name.clone(),
            entries: kept,
            dropped,
        });
    }
    if adoption.channels.is_empty() {
        return Err(TemplateNotAdopted::NoChannelWithFoundBundle {
            package: package_name.to_string(),
        });
    }
    match template_default {
        Some(default) if adoption.channels.iter().any(|channel| channel.name == default) => adoption.default_channel = Some(default),
        other => adoption.lost_default = other,
    }
    Ok(adoption)
}

pub(super) fn adopt_semver(document: &Value) -> SemverAdoption {
    let flag = |key: &str| match field(document, key) {
        Some(Value::Bool(value)) => Some(*value),
        _ => None,
    };
    let archetypes = ["Candidate", "Fast", "Stable"]
        .into_iter()
        .filter_map(|archetype| {
            let bundles = field(document, archetype)
                .and_then(|value| field(value, "bundles"))
                .and_then(Value::as_array)
                .filter(|bundles| !bundles.is_empty())?;
            let images = bundles
                .iter()
                .filter_map(|bundle| field(bundle, "image").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            Some((archetype.to_lowercase(), images))
        })
        .collect();
    SemverAdoption {
        generate_major_channels: flag("generateMajorChannels"),
        generate_minor_channels: flag("generateMinorChannels"),
        default_channel_type_preference: field(document, "defaultChannelTypePreference")
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_string),
        archetypes,
        images: TemplateImages::default(),
    }
}

/// The `image` of each `olm.bundle` entry of a basic template.
fn basic_images(document: &Value) -> Vec<String> {
    field(document, "entries")
        .and_then(Value::as_array)
        .unwrap_or_default()
        .iter()
        .filter(|entry| field(entry, "schema").and_then(Value::as_str) == Some("olm.bundle"))
        .filter_map(|entry| field(entry, "image").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_template_keys_match_case_insensitively() {
        let document = yaml_in::decode_stream(
            "Schema: olm.semver\nGenerateMajorChannels: true\nGenerateMinorChannels: false\nCandidate:\n  Bundles:\n  - Image: example.com/a:1\n",
        )
        .remove(0)
        .unwrap()
        .value;
        let adoption = adopt_semver(&document);
        assert_eq!(adoption.generate_major_channels, Some(true));
        assert_eq!(adoption.generate_minor_channels, Some(false));
        assert_eq!(
            adoption.archetypes,
            vec![("candidate".to_string(), vec!["example.com/a:1".to_string()])]
        );
        assert_eq!(adoption.default_channel_type_preference, None);
    }

    #[test]
    fn a_template_without_found_bundles_is_not_adopted() {
        let template = "schema: olm.template.basic\nentries:\n- schema: olm.package\n  name: a\n- schema: olm.channel\n  package: a\n  name: stable\n  entries:\n  - name: a.v1\n";
        let error = adopt_basic("a", template, &BTreeSet::new()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no channel of package `a` in the template lists a bundle that was found"
        );
    }
}
