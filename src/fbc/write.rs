//! opm's FBC writers (`declcfg.WriteJSON`, `WriteYAML`, `WriteFS`): blobs
//! grouped per package, packages by name, then channels and bundles sorted
//! by name, others by schema, deprecations last, package-less others at the
//! very end.

use std::collections::BTreeMap;

use super::declcfg::DeclarativeConfig;
use crate::encoding::json::{self, Value};
use crate::encoding::yaml_out;

/// Output flavour of a catalog file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Yaml => "yaml",
        }
    }
}

/// The blobs of a config in writer order.
pub fn ordered_blobs(config: &DeclarativeConfig) -> Vec<Value> {
    ordered_groups(config).into_iter().flat_map(|(_, blobs)| blobs).collect()
}

/// Blobs grouped by package in writer order; the package-less group (name
/// `""`) comes last. Packages, channels and bundles whose package key is
/// empty are dropped, as opm's writer drops them.
pub fn ordered_groups(config: &DeclarativeConfig) -> Vec<(String, Vec<Value>)> {
    #[derive(Default)]
    struct Group<'a> {
        packages: Vec<&'a super::declcfg::Package>,
        channels: Vec<&'a super::declcfg::Channel>,
        bundles: Vec<&'a super::declcfg::Bundle>,
        others: Vec<&'a super::declcfg::Meta>,
        deprecations: Vec<&'a super::declcfg::Deprecation>,
    }
    let mut groups: BTreeMap<&str, Group> = BTreeMap::new();
    for package in &config.packages {
        if !package.name.is_empty() {
            groups.entry(&package.name).or_default().packages.push(package);
        }
    }
    for channel in &config.channels {
        if !channel.package.is_empty() {
            groups.entry(&channel.package).or_default().channels.push(channel);
        }
    }
    for bundle in &config.bundles {
        if !bundle.package.is_empty() {
            groups.entry(&bundle.package).or_default().bundles.push(bundle);
        }
    }
    let mut root_others = Vec::new();
    for other in &config.others {
        if other.package.is_empty() {
            root_others.push(other.blob.clone());
        } else {
            groups.entry(&other.package).or_default().others.push(other);
        }
    }
    for deprecation in &config.deprecations {
        if !deprecation.package.is_empty() {
            groups.entry(&deprecation.package).or_default().deprecations.push(deprecation);
        }
    }
    let mut out = Vec::new();
    for (name, mut group) in groups {
        group.channels.sort_by(|left, right| left.name.cmp(&right.name));
        group.bundles.sort_by(|left, right| left.name.cmp(&right.name));
        group.others.sort_by(|left, right| left.schema.cmp(&right.schema));
        let mut blobs = Vec::new();
        blobs.extend(group.packages.iter().map(|package| package.to_value()));
        blobs.extend(group.channels.iter().map(|channel| channel.to_value()));
        blobs.extend(group.bundles.iter().map(|bundle| bundle.to_value()));
        blobs.extend(group.others.iter().map(|other| other.blob.clone()));
        blobs.extend(group.deprecations.iter().map(|deprecation| deprecation.to_value()));
        out.push((name.to_string(), blobs));
    }
    if !root_others.is_empty() {
        out.push((String::new(), root_others));
    }
    out
}

/// Writes blobs as a JSON stream (4-space indent) or YAML documents.
pub fn write_blobs(blobs: &[Value], format: Format) -> Result<String, yaml_out::EmitError> {
    let mut out = String::new();
    for blob in blobs {
        match format {
            Format::Json => json::append_indented(&mut out, blob, "    "),
            Format::Yaml => {
                out.push_str("---\n");
                out.push_str(&yaml_out::to_yaml(blob)?);
            }
        }
    }
    Ok(out)
}

/// `WriteJSON` / `WriteYAML` of a whole config.
pub fn write(config: &DeclarativeConfig, format: Format) -> Result<String, yaml_out::EmitError> {
    write_blobs(&ordered_blobs(config), format)
}

/// `WriteFS`: one `(relative path, bytes)` per package, `<package>/catalog.<ext>`;
/// package-less blobs go to `catalog.<ext>` at the root.
pub fn write_fs(config: &DeclarativeConfig, format: Format) -> Result<Vec<(String, String)>, yaml_out::EmitError> {
    use rayon::prelude::*;
    // Packages encode independently; rayon keeps them in input order.
    ordered_groups(config)
        .par_iter()
        .map(|(package, blobs)| {
            let path = if package.is_empty() {
                format!("catalog.{}", format.extension())
            } else {
                format!("{package}/catalog.{}", format.extension())
            };
            Ok((path, write_blobs(blobs, format)?))
        })
        .collect()
}
