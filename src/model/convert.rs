//! The bridges between the wire types and the model: opm's
//! `declcfg.ConvertToModel` (link blobs, refuse the first inconsistency
//! with opm's exact message, then run model validation) and
//! `declcfg.ConvertFromModel` (back to sorted blobs for the encoders).
//!
//! `ConvertToModel` stops at the first failing check, in opm's order; where
//! opm's order depends on Go map iteration (which package's orphaned
//! channel entries are reported first), catbuild takes packages by name.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::encoding::json::{self, Value};
use crate::fbc::{self, DeclarativeConfig, PROPERTY_PACKAGE, SCHEMA_BUNDLE, SCHEMA_CHANNEL, SCHEMA_PACKAGE};
use crate::go::go_quote;
use crate::semver::{PreRelease, Version};

use super::k8s_names::dns1123_label_errors;
use super::property::Objects;
use super::{Bundle, Channel, Deprecation, Icon, Model, Package, PropertyChecks, RelatedImage, ValidationError, image_ref, property};

/// Why `convert_to_model` refused a config. `Display` is opm's error text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("config contains package with no name")]
    PackageWithoutName,
    #[error("duplicate package {}", go_quote(.0))]
    DuplicatePackage(String),
    /// `errors` are the k8s `IsDNS1123Label` messages.
    #[error("invalid package name {}: [{}]", go_quote(.name), .errors.join(" "))]
    InvalidPackageName { name: String, errors: Vec<String> },
    #[error("unknown package {} for channel {}", go_quote(.package), go_quote(.channel))]
    UnknownPackageForChannel { package: String, channel: String },
    #[error("package {} contains channel with no name", go_quote(.0))]
    ChannelWithoutName(String),
    #[error("package {} has duplicate channel {}", go_quote(.package), go_quote(.channel))]
    DuplicateChannel { package: String, channel: String },
    #[error("invalid package {}, channel {}: duplicate entry {}", go_quote(.package), go_quote(.channel), go_quote(.entry))]
    DuplicateEntry { package: String, channel: String, entry: String },
    #[error("package name must be set for bundle {}", go_quote(.0))]
    BundleWithoutPackage(String),
    #[error("unknown package {} for bundle {}", go_quote(.package), go_quote(.bundle))]
    UnknownPackageForBundle { package: String, bundle: String },
    #[error("package {} has duplicate bundle {}", go_quote(.package), go_quote(.bundle))]
    DuplicateBundle { package: String, bundle: String },
    #[error("parse properties for bundle {}: {error}", go_quote(.bundle))]
    BundleProperties { bundle: String, error: String },
    #[error("package {} bundle {} must have exactly 1 {} property, found {count}", go_quote(.package), go_quote(.bundle), go_quote(PROPERTY_PACKAGE))]
    PackagePropertyCount { package: String, bundle: String, count: usize },
    #[error("package {} does not match {} property {}", go_quote(.package), go_quote(PROPERTY_PACKAGE), go_quote(.property_package))]
    PackagePropertyMismatch { package: String, property_package: String },
    /// `field` is `image` or `relatedImages[<index>].image`.
    #[error("package {} bundle {} {field}: invalid image pull spec {}: {error}", go_quote(.package), go_quote(.bundle), go_quote(.image))]
    InvalidImage {
        package: String,
        bundle: String,
        field: String,
        image: String,
        error: String,
    },
    #[error("error parsing bundle {} version {}: {error}", go_quote(.bundle), go_quote(.version))]
    InvalidVersion { bundle: String, version: String, error: String },
    #[error("error parsing bundle {} release version {}: {error}", go_quote(.bundle), go_quote(.release))]
    InvalidRelease { bundle: String, release: String, error: String },
    #[error("package {}, bundle {} not found in any channel entries", go_quote(.package), go_quote(.bundle))]
    BundleNotInChannel { package: String, bundle: String },
    #[error("no olm.bundle blobs found in package {} for olm.channel entries [{}]", go_quote(.package), .entries.join(" "))]
    EntriesWithoutBundles { package: String, entries: Vec<String> },
    #[error("package name must be set for deprecation item {0}")]
    DeprecationWithoutPackage(usize),
    #[error("cannot apply deprecations to an unknown package {}", go_quote(.0))]
    DeprecationUnknownPackage(String),
    #[error("expected a maximum of one deprecation per package: {}", go_quote(.0))]
    DuplicateDeprecation(String),
    #[error("schema must be set for deprecation entry [{entry}] for package {}", go_quote(.package))]
    DeprecationEntryWithoutSchema { package: String, entry: usize },
    #[error("duplicate deprecation entry {} for package {}", go_reference(.schema, .name), go_quote(.package))]
    DuplicateDeprecationEntry { package: String, schema: String, name: String },
    #[error("cannot deprecate bundle {} for package {}: bundle not found", go_quote(.bundle), go_quote(.package))]
    DeprecatedBundleNotFound { package: String, bundle: String },
    #[error("cannot deprecate channel {} for package {}: channel not found", go_quote(.channel), go_quote(.package))]
    DeprecatedChannelNotFound { package: String, channel: String },
    #[error("package name must be empty for deprecated package {} (specified {})", go_quote(.package), go_quote(.name))]
    DeprecatedPackageWithName { package: String, name: String },
    #[error("cannot deprecate object {} referenced by entry {entry} for package {}: object schema unknown", go_reference(.schema, .name), go_quote(.package))]
    DeprecationUnknownSchema {
        package: String,
        entry: usize,
        schema: String,
        name: String,
    },
    #[error("{0}")]
    Invalid(ValidationError),
}

/// Go's `%#v` of a `declcfg.PackageScopedReference`.
fn go_reference(schema: &str, name: &str) -> String {
    format!(
        "declcfg.PackageScopedReference{{Schema:{}, Name:{}}}",
        go_quote(schema),
        go_quote(name)
    )
}

/// What `opm validate DIR` prints for a loaded config: `Ok` with the model,
/// or the text of the Go error (flat for the conversion checks, the tree
/// for model validation).
/// `objects`: whether the model's bundles keep their decoded objects.
pub fn validate_config(config: &DeclarativeConfig, objects: Objects) -> Result<Model, String> {
    convert_to_model_with(config, objects).map_err(|error| error.to_string())
}

/// opm's `ConvertToModel`: links packages, channels and bundles, runs the
/// conversion checks in opm's order, applies deprecations, and validates
/// the result.
pub fn convert_to_model(config: &DeclarativeConfig) -> Result<Model, ModelError> {
    convert_to_model_with(config, Objects::Decoded)
}

/// [`convert_to_model`], keeping bundle objects as `objects` says.
pub fn convert_to_model_with(config: &DeclarativeConfig, objects: Objects) -> Result<Model, ModelError> {
    let mut packages: BTreeMap<String, Package> = BTreeMap::new();
    let mut default_channels: BTreeMap<String, String> = BTreeMap::new();
    for fbc_package in &config.packages {
        if fbc_package.name.is_empty() {
            return Err(ModelError::PackageWithoutName);
        }
        if packages.contains_key(&fbc_package.name) {
            return Err(ModelError::DuplicatePackage(fbc_package.name.clone()));
        }
        let errors = dns1123_label_errors(&fbc_package.name);
        if !errors.is_empty() {
            return Err(ModelError::InvalidPackageName {
                name: fbc_package.name.clone(),
                errors,
            });
        }
        let package = Package {
            name: fbc_package.name.clone(),
            description: fbc_package.description.clone(),
            icon: fbc_package.icon.as_ref().map(|icon| Icon {
                data: icon.data.clone(),
                media_type: icon.media_type.clone(),
            }),
            ..Package::default()
        };
        default_channels.insert(fbc_package.name.clone(), fbc_package.default_channel.clone());
        packages.insert(fbc_package.name.clone(), package);
    }

    // opm overwrites this per channel (`channelDefinedEntries[pkg] = cde`),
    // so only the LAST channel blob of each package is checked for entries
    // without a bundle blob. Copied as is.
    let mut channel_defined_entries: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for fbc_channel in &config.channels {
        let Some(package) = packages.get_mut(&fbc_channel.package) else {
            return Err(ModelError::UnknownPackageForChannel {
                package: fbc_channel.package.clone(),
                channel: fbc_channel.name.clone(),
            });
        };
        if fbc_channel.name.is_empty() {
            return Err(ModelError::ChannelWithoutName(fbc_channel.package.clone()));
        }
        if package.channels.contains_key(&fbc_channel.name) {
            return Err(ModelError::DuplicateChannel {
                package: fbc_channel.package.clone(),
                channel: fbc_channel.name.clone(),
            });
        }
        let mut channel = Channel {
            package: package.name.clone(),
            name: fbc_channel.name.clone(),
            properties: fbc_channel.properties.clone(),
            ..Channel::default()
        };
        let mut defined_entries = BTreeSet::new();
        for entry in fbc_channel.entries.iter().flatten() {
            if channel.bundles.contains_key(&entry.name) {
                return Err(ModelError::DuplicateEntry {
                    package: fbc_channel.package.clone(),
                    channel: fbc_channel.name.clone(),
                    entry: entry.name.clone(),
                });
            }
            defined_entries.insert(entry.name.clone());
            let bundle = Bundle {
                package: package.name.clone(),
                channel: channel.name.clone(),
                name: entry.name.clone(),
                replaces: entry.replaces.clone(),
                skips: entry.skips.clone(),
                skip_range: entry.skip_range.clone(),
                ..Bundle::default()
            };
            channel.bundles.insert(entry.name.clone(), bundle);
        }
        channel_defined_entries.insert(fbc_channel.package.clone(), defined_entries);
        if default_channels.get(&fbc_channel.package) == Some(&fbc_channel.name) {
            package.default_channel = Some(fbc_channel.name.clone());
        }
        package.channels.insert(fbc_channel.name.clone(), channel);
    }

    let mut package_bundles: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Each bundle's properties are parsed here; validation below would
    // parse the same list again (decoding every manifest a second time),
    // so it is handed the results. `parsed_lists` keeps each list alive
    // until then, so no other list can take its address.
    let mut checks = PropertyChecks::default();
    let mut parsed_lists = Vec::with_capacity(config.bundles.len());
    for fbc_bundle in &config.bundles {
        let (properties, n_packages) = link_bundle(
            fbc_bundle,
            objects,
            &mut packages,
            &mut package_bundles,
            &mut channel_defined_entries,
        )?;
        checks.insert(Arc::as_ptr(&properties), Ok(n_packages));
        parsed_lists.push(properties);
    }

    for (package, entries) in &channel_defined_entries {
        if !entries.is_empty() {
            return Err(ModelError::EntriesWithoutBundles {
                package: package.clone(),
                entries: entries.iter().cloned().collect(),
            });
        }
    }

    // A default channel without a channel blob becomes an empty channel,
    // which validation then reports as empty.
    for package in packages.values_mut() {
        let default_channel = default_channels.get(&package.name).cloned().unwrap_or_default();
        if !default_channel.is_empty() && package.default_channel.is_none() {
            let channel = Channel {
                package: package.name.clone(),
                name: default_channel.clone(),
                ..Channel::default()
            };
            package.channels.insert(default_channel.clone(), channel);
            package.default_channel = Some(default_channel);
        }
    }

    apply_deprecations(config, &mut packages, &package_bundles)?;

    let mut model = Model { packages };
    model.validate_with_checks(checks).map_err(ModelError::Invalid)?;
    drop(parsed_lists);
    normalize(&mut model);
    Ok(model)
}

/// opm's `Model.Normalize`: every bundle property value re-encoded by
/// `property.Build`, which for a raw value is `json.Compact`: whitespace
/// outside strings removed, string contents (escapes included) untouched.
/// Validation has already proven every value to be valid JSON.
/// Each shared property list is normalized once, and stays shared.
fn normalize(model: &mut Model) {
    let bundles = model
        .packages
        .values_mut()
        .flat_map(|package| package.channels.values_mut())
        .flat_map(|channel| channel.bundles.values_mut());
    // Keyed by the shared list's address; the original is kept alive in
    // the map so no other list can take its address meanwhile.
    type Shared = Arc<Vec<fbc::Property>>;
    let mut normalized: HashMap<*const Vec<fbc::Property>, (Shared, Shared)> = HashMap::new();
    for bundle in bundles {
        let (_, done) = normalized.entry(Arc::as_ptr(&bundle.properties)).or_insert_with(|| {
            // Nearly every list is compact already (catbuild's own values,
            // bundle objects above all): it is kept, not copied.
            if bundle.properties.iter().all(|property| json::is_compact_text(&property.value)) {
                return (Arc::clone(&bundle.properties), Arc::clone(&bundle.properties));
            }
            let mut properties = bundle.properties.as_ref().clone();
            for property in &mut properties {
                property.value = crate::encoding::json::compact_text(&property.value);
            }
            (Arc::clone(&bundle.properties), Arc::new(properties))
        });
        bundle.properties = Arc::clone(done);
    }
}

/// The per-bundle part of `ConvertToModel`: checks, then copies the blob's
/// data into every channel's copy of the bundle. Gives the shared property
/// list and its number of `olm.package` properties.
fn link_bundle(
    fbc_bundle: &fbc::Bundle,
    objects: Objects,
    packages: &mut BTreeMap<String, Package>,
    package_bundles: &mut BTreeMap<String, BTreeSet<String>>,
    channel_defined_entries: &mut BTreeMap<String, BTreeSet<String>>,
) -> Result<(Arc<Vec<fbc::Property>>, usize), ModelError> {
    let package_name = &fbc_bundle.package;
    let bundle_name = &fbc_bundle.name;
    if package_name.is_empty() {
        return Err(ModelError::BundleWithoutPackage(bundle_name.clone()));
    }
    let Some(package) = packages.get_mut(package_name) else {
        return Err(ModelError::UnknownPackageForBundle {
            package: package_name.clone(),
            bundle: bundle_name.clone(),
        });
    };
    if !package_bundles.entry(package_name.clone()).or_default().insert(bundle_name.clone()) {
        return Err(ModelError::DuplicateBundle {
            package: package_name.clone(),
            bundle: bundle_name.clone(),
        });
    }
    let mut parsed = property::parse_with(&fbc_bundle.properties, objects).map_err(|error| ModelError::BundleProperties {
        bundle: bundle_name.clone(),
        error,
    })?;
    let [package_property] = parsed.packages.as_slice() else {
        return Err(ModelError::PackagePropertyCount {
            package: package_name.clone(),
            bundle: bundle_name.clone(),
            count: parsed.packages.len(),
        });
    };
    if *package_name != package_property.package_name {
        return Err(ModelError::PackagePropertyMismatch {
            package: package_name.clone(),
            property_package: package_property.package_name.clone(),
        });
    }
    let image_error = |field: String, image: &str, error: String| ModelError::InvalidImage {
        package: package_name.clone(),
        bundle: bundle_name.clone(),
        field,
        image: image.to_string(),
        error,
    };
    if !fbc_bundle.image.is_empty() {
        image_ref::parse_normalized_named(&fbc_bundle.image).map_err(|error| image_error("image".to_string(), &fbc_bundle.image, error))?;
    }
    for (image_idx, related) in fbc_bundle.related_images.iter().enumerate() {
        if !related.image.is_empty() {
            image_ref::parse_normalized_named(&related.image)
                .map_err(|error| image_error(format!("relatedImages[{image_idx}].image"), &related.image, error))?;
        }
    }
    let version = Version::parse(&package_property.version).map_err(|error| ModelError::InvalidVersion {
        bundle: bundle_name.clone(),
        version: package_property.version.clone(),
        error,
    })?;
    let release = if package_property.release.is_empty() {
        Vec::new()
    } else {
        parse_release(&package_property.release).map_err(|error| ModelError::InvalidRelease {
            bundle: bundle_name.clone(),
            release: package_property.release.clone(),
            error,
        })?
    };

    if let Some(entries) = channel_defined_entries.get_mut(package_name) {
        entries.remove(bundle_name);
    }
    // The decoded bytes are moved, not copied: objects are most of a
    // catalog's bytes, and nearly always valid UTF-8 already.
    let objects: Arc<Vec<String>> = Arc::new(
        std::mem::take(&mut parsed.bundle_objects)
            .into_iter()
            .map(|bytes| String::from_utf8(bytes).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()))
            .collect(),
    );
    let properties = Arc::new(fbc_bundle.properties.clone());
    let related_images: Vec<RelatedImage> = fbc_bundle
        .related_images
        .iter()
        .map(|related| RelatedImage {
            name: related.name.clone(),
            image: related.image.clone(),
        })
        .collect();
    let mut found = false;
    for channel in package.channels.values_mut() {
        if let Some(bundle) = channel.bundles.get_mut(bundle_name) {
            found = true;
            bundle.image = fbc_bundle.image.clone();
            bundle.properties = Arc::clone(&properties);
            bundle.related_images = related_images.clone();
            bundle.objects = Arc::clone(&objects);
            bundle.version = version.clone();
            bundle.release = release.clone();
        }
    }
    if !found {
        return Err(ModelError::BundleNotInChannel {
            package: package_name.clone(),
            bundle: bundle_name.clone(),
        });
    }
    // What validation's `property::parse` of this list would count.
    Ok((properties, parsed.packages.len()))
}

/// The deprecation part of `ConvertToModel`, checks in opm's order.
fn apply_deprecations(
    config: &DeclarativeConfig,
    packages: &mut BTreeMap<String, Package>,
    package_bundles: &BTreeMap<String, BTreeSet<String>>,
) -> Result<(), ModelError> {
    let mut deprecated_packages: BTreeSet<&str> = BTreeSet::new();
    for (deprecation_idx, deprecation) in config.deprecations.iter().enumerate() {
        let package_name = &deprecation.package;
        if package_name.is_empty() {
            return Err(ModelError::DeprecationWithoutPackage(deprecation_idx));
        }
        let Some(package) = packages.get_mut(package_name) else {
            return Err(ModelError::DeprecationUnknownPackage(package_name.clone()));
        };
        if !deprecated_packages.insert(package_name) {
            return Err(ModelError::DuplicateDeprecation(package_name.clone()));
        }
        let mut references: BTreeSet<(&str, &str)> = BTreeSet::new();
        for (entry_idx, entry) in deprecation.entries.iter().enumerate() {
            let reference = &entry.reference;
            if reference.schema.is_empty() {
                return Err(ModelError::DeprecationEntryWithoutSchema {
                    package: package_name.clone(),
                    entry: entry_idx,
                });
            }
            if !references.insert((&reference.schema, &reference.name)) {
                return Err(ModelError::DuplicateDeprecationEntry {
                    package: package_name.clone(),
                    schema: reference.schema.clone(),
                    name: reference.name.clone(),
                });
            }
            let message = Deprecation {
                message: entry.message.clone(),
            };
            match reference.schema.as_str() {
                SCHEMA_BUNDLE => {
                    if !package_bundles
                        .get(package_name)
                        .is_some_and(|bundles| bundles.contains(&reference.name))
                    {
                        return Err(ModelError::DeprecatedBundleNotFound {
                            package: package_name.clone(),
                            bundle: reference.name.clone(),
                        });
                    }
                    for channel in package.channels.values_mut() {
                        if let Some(bundle) = channel.bundles.get_mut(&reference.name) {
                            bundle.deprecation = Some(message.clone());
                        }
                    }
                }
                SCHEMA_CHANNEL => {
                    let Some(channel) = package.channels.get_mut(&reference.name) else {
                        return Err(ModelError::DeprecatedChannelNotFound {
                            package: package_name.clone(),
                            channel: reference.name.clone(),
                        });
                    };
                    channel.deprecation = Some(message);
                }
                SCHEMA_PACKAGE => {
                    if !reference.name.is_empty() {
                        return Err(ModelError::DeprecatedPackageWithName {
                            package: package_name.clone(),
                            name: reference.name.clone(),
                        });
                    }
                    package.deprecation = Some(message);
                }
                _ => {
                    return Err(ModelError::DeprecationUnknownSchema {
                        package: package_name.clone(),
                        entry: entry_idx,
                        schema: reference.schema.clone(),
                        name: reference.name.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// opm's `model.NewRelease`: at most 20 bytes, dot-separated identifiers
/// that are valid semver pre-release identifiers; all bad segments are
/// reported, joined by newlines (Go's `errors.Join`).
pub fn parse_release(text: &str) -> Result<Vec<PreRelease>, String> {
    const RELEASE_MAX_LENGTH: usize = 20;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if text.len() > RELEASE_MAX_LENGTH {
        return Err(format!(
            "invalid release {}: exceeds maximum length of {RELEASE_MAX_LENGTH} characters",
            go_quote(text)
        ));
    }
    let mut release = Vec::new();
    let mut errors = Vec::new();
    for (segment_idx, segment) in text.split('.').enumerate() {
        match PreRelease::parse(segment) {
            Ok(identifier) => release.push(identifier),
            Err(error) => errors.push(format!("segment {segment_idx}: {error}")),
        }
    }
    if errors.is_empty() {
        Ok(release)
    } else {
        Err(format!("invalid release {}: {}", go_quote(text), errors.join("\n")))
    }
}

/// opm keeps each object's manifest as JSON made by sigs.k8s.io/yaml
/// `ToJSON` (decode, then `json.Marshal`: keys sorted, HTML characters
/// escaped, compact). `olm.bundle.object` data is JSON in practice, and for
/// JSON that is what this does (numbers keep their text). Data that is not
/// JSON (YAML) is kept as decoded until a YAML reader is wired in here.
pub(crate) fn csv_json(objects: &[String]) -> String {
    objects
        .iter()
        .filter(|object| object.contains("ClusterServiceVersion"))
        .find_map(|object| {
            let value = json::parse(object).ok()?;
            (value.get("kind").and_then(Value::as_str) == Some("ClusterServiceVersion")).then(|| json::to_compact(&value.sort_keys(), true))
        })
        .unwrap_or_default()
}

/// opm's `ConvertFromModel`: one `olm.package` per package (no
/// properties; deprecations are not written back), channels with entries
/// sorted by name, one `olm.bundle` per bundle name with the properties of
/// all its channel copies deduplicated and sorted by (type, value text).
/// Packages, channels and bundles come out sorted by (package, name).
pub fn convert_from_model(model: &Model) -> DeclarativeConfig {
    let mut config = DeclarativeConfig::default();
    for package in model.packages.values() {
        config.packages.push(fbc::Package {
            schema: SCHEMA_PACKAGE.to_string(),
            name: package.name.clone(),
            default_channel: package.default_channel.clone().unwrap_or_default(),
            icon: package.icon.as_ref().map(|icon| fbc::Icon {
                data: icon.data.clone(),
                media_type: icon.media_type.clone(),
            }),
            description: package.description.clone(),
            properties: Vec::new(),
        });
        let mut bundles: BTreeMap<&str, fbc::Bundle> = BTreeMap::new();
        for channel in package.channels.values() {
            // Bundles iterate by name: the entries are already sorted.
            let entries = channel
                .bundles
                .values()
                .map(|bundle| fbc::ChannelEntry {
                    name: bundle.name.clone(),
                    replaces: bundle.replaces.clone(),
                    skips: bundle.skips.clone(),
                    skip_range: bundle.skip_range.clone(),
                })
                .collect();
            config.channels.push(fbc::Channel {
                schema: SCHEMA_CHANNEL.to_string(),
                package: package.name.clone(),
                name: channel.name.clone(),
                entries: Some(entries),
                properties: channel.properties.clone(),
            });
            for bundle in channel.bundles.values() {
                let fbc_bundle = bundles.entry(&bundle.name).or_insert_with(|| fbc::Bundle {
                    schema: SCHEMA_BUNDLE.to_string(),
                    package: package.name.clone(),
                    name: bundle.name.clone(),
                    image: bundle.image.clone(),
                    properties: Vec::new(),
                    related_images: bundle
                        .related_images
                        .iter()
                        .map(|related| fbc::RelatedImage {
                            name: related.name.clone(),
                            image: related.image.clone(),
                        })
                        .collect(),
                });
                fbc_bundle.properties.extend(bundle.properties.iter().cloned());
            }
        }
        for mut fbc_bundle in bundles.into_values() {
            fbc_bundle.properties = deduplicate_and_sort(fbc_bundle.properties);
            config.bundles.push(fbc_bundle);
        }
    }
    config
}

/// opm's `property.Deduplicate` (first of each (type, value text) kept)
/// then sort by type, then value text.
fn deduplicate_and_sort(properties: Vec<fbc::Property>) -> Vec<fbc::Property> {
    let mut seen = BTreeSet::new();
    let mut unique: Vec<fbc::Property> = properties
        .into_iter()
        .filter(|property| seen.insert((property.type_.clone(), property.value.clone())))
        .collect();
    unique.sort_by(|left, right| left.type_.cmp(&right.type_).then_with(|| left.value.cmp(&right.value)));
    unique
}
