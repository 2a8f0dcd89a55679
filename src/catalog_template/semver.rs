//! The semver template (`schema: olm.semver`): bundles listed under the
//! `candidate`, `fast` and `stable` archetypes; channels and upgrade edges
//! are generated from the bundle versions (opm's `alpha/template/semver` at
//! HEAD).
//!
//! * Channels: one per archetype and major version (`stable-v1`) and/or per
//!   major.minor (`stable-v1.2`); minor channels only when neither generate
//!   flag is set.
//! * Edges: within one archetype and channel kind, walking bundles by
//!   version, only the last bundle of each minor version gets edges:
//!   `replaces` the last bundle of the previous minor version and `skips`
//!   every earlier bundle of the same major version. Nothing links across
//!   majors, archetypes or kinds.
//! * Default channel: the "high-water" channel: most stable archetype, then
//!   the highest version that created a channel, then the preferred kind.
//! * The package's description and icon come from the default channel
//!   head's CSV.
//!
//! The file is decoded strictly, as `sigs.k8s.io/yaml.UnmarshalStrict`
//! does: unknown keys are errors, keys match field names case-insensitively,
//! and a YAML number or boolean given for a string field becomes its text.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::{BundleRenderer, TemplateError, bundle_package};
use crate::encoding::json::Value;
use crate::encoding::yaml_in;
use crate::fbc::{self, Channel, ChannelEntry, DeclarativeConfig, Icon, Package};
use crate::go::go_quote;
use crate::semver::Version;

/// The schema a semver template must declare.
pub const SCHEMA: &str = "olm.semver";

/// Renders a semver template. Each distinct image is rendered once, in
/// template order, with `render_bundle`.
pub fn render(text: &str, render_bundle: BundleRenderer) -> Result<DeclarativeConfig, TemplateError> {
    let template = read_file(text).map_err(TemplateError::ReadSemver)?;

    let mut images: Vec<&str> = Vec::new();
    for archetype in Archetype::ALL {
        for image in template.bundles(archetype) {
            if !images.contains(&image.as_str()) {
                images.push(image);
            }
        }
    }
    let mut rendered_images: BTreeMap<&str, String> = BTreeMap::new();
    let mut out = DeclarativeConfig::default();
    for image in images {
        let contributor = render_bundle(image).map_err(TemplateError::RenderBundle)?;
        if contributor.bundles.len() != 1 {
            return Err(TemplateError::BundleCount {
                image: image.to_string(),
                count: contributor.bundles.len(),
            });
        }
        rendered_images.insert(image, contributor.bundles[0].image.clone());
        out.extend(contributor);
    }
    if out.bundles.is_empty() {
        return Err(TemplateError::NoBundles);
    }

    let mut package_name: Option<String> = None;
    let mut versions: Vec<(Archetype, Vec<(String, Version)>)> = Vec::new();
    for archetype in Archetype::ALL {
        let channel_versions = versions_from_channel(&template, archetype, &rendered_images, &mut out, &mut package_name)
            .map_err(TemplateError::PostProcess)?;
        validate_versions(&channel_versions).map_err(TemplateError::PostProcess)?;
        versions.push((archetype, channel_versions));
    }
    let package_name = package_name.unwrap_or_default();

    let (channels, default_channel) = generate_channels(&template, &package_name, &versions);
    out.channels = channels;
    if let Some(package) = out.packages.first_mut() {
        package.default_channel = default_channel.clone();
    }
    populate_package_metadata(&mut out, &default_channel);
    Ok(out)
}

/// What [`generate`] is asked for: the `generateMajorChannels`,
/// `generateMinorChannels` and `defaultChannelTypePreference` of a semver
/// template (`""` for opm's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateOptions {
    pub generate_major_channels: bool,
    pub generate_minor_channels: bool,
    pub default_channel_type_preference: String,
}

/// Channels built from bundle versions, and the default channel's name.
#[derive(Debug, Clone, PartialEq)]
pub struct SemverChannels {
    pub channels: Vec<Channel>,
    pub default_channel: String,
}

/// The semver template's channel generation on its own, for callers that
/// know the bundles already (catalog.toml's `semver` channel policy): each
/// archetype's bundles as `(name, version)`. Errors are opm's texts
/// (attribute mismatch, unknown preference, duplicate names, versions that
/// differ only by build metadata).
pub fn generate(
    package: &str,
    options: &GenerateOptions,
    candidate: &[(String, Version)],
    fast: &[(String, Version)],
    stable: &[(String, Version)],
) -> Result<SemverChannels, String> {
    let mut template = SemverTemplate {
        generate_major_channels: options.generate_major_channels,
        generate_minor_channels: options.generate_minor_channels,
        default_channel_type_preference: options.default_channel_type_preference.clone(),
        ..SemverTemplate::default()
    };
    apply_defaults(&mut template)?;
    let mut versions = Vec::with_capacity(3);
    for (archetype, bundles) in [
        (Archetype::Candidate, candidate),
        (Archetype::Fast, fast),
        (Archetype::Stable, stable),
    ] {
        for (idx, (name, _)) in bundles.iter().enumerate() {
            if bundles[..idx].iter().any(|(earlier, _)| earlier == name) {
                return Err(format!("duplicate bundle name {}", go_quote(name)));
            }
        }
        validate_versions(bundles)?;
        versions.push((archetype, bundles.to_vec()));
    }
    let (channels, default_channel) = generate_channels(&template, package, &versions);
    Ok(SemverChannels { channels, default_channel })
}

/// Channel archetypes, least stable first (their priority order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Archetype {
    Candidate,
    Fast,
    Stable,
}

impl Archetype {
    const ALL: [Archetype; 3] = [Archetype::Candidate, Archetype::Fast, Archetype::Stable];

    fn name(self) -> &'static str {
        match self {
            Archetype::Candidate => "candidate",
            Archetype::Fast => "fast",
            Archetype::Stable => "stable",
        }
    }
}

/// opm's `StreamType`: which kind of channel; the declaration order is the
/// general preference (minor channels rank highest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum StreamType {
    Unset,
    Major,
    Minor,
}

/// `SemverTemplateData` after `readFile`'s defaults.
#[derive(Debug, Default)]
struct SemverTemplate {
    schema: String,
    generate_major_channels: bool,
    generate_minor_channels: bool,
    default_channel_type_preference: String,
    candidate: Vec<String>,
    fast: Vec<String>,
    stable: Vec<String>,
}

impl SemverTemplate {
    fn bundles(&self, archetype: Archetype) -> &[String] {
        match archetype {
            Archetype::Candidate => &self.candidate,
            Archetype::Fast => &self.fast,
            Archetype::Stable => &self.stable,
        }
    }

    fn preference(&self) -> StreamType {
        match self.default_channel_type_preference.as_str() {
            "minor" => StreamType::Minor,
            "major" => StreamType::Major,
            _ => StreamType::Unset,
        }
    }
}

/// `readFile`: strict decode, schema check, defaults.
fn read_file(text: &str) -> Result<SemverTemplate, String> {
    let document = match yaml_in::decode_stream(text).into_iter().next() {
        None => Value::Null,
        Some(Ok(document)) => document.value,
        Some(Err(error)) => {
            // sigs.k8s.io/yaml's prefix, once, whether or not the decoder adds it.
            const PREFIX: &str = "error converting YAML to JSON: ";
            let message = error.message.strip_prefix(PREFIX).unwrap_or(&error.message);
            return Err(format!("{PREFIX}{message}"));
        }
    };
    let mut template = SemverTemplate::default();
    decode_template(&document, &mut template).map_err(|error| format!("error unmarshaling JSON: while decoding JSON: {error}"))?;
    if template.schema != SCHEMA {
        return Err(format!("readFile: input file has unknown schema, should be {}", go_quote(SCHEMA)));
    }
    apply_defaults(&mut template)?;
    Ok(template)
}

/// `readFile`'s defaults: minor channels when no kind is asked for, and a
/// default-channel preference matching the generated kind.
fn apply_defaults(template: &mut SemverTemplate) -> Result<(), String> {
    if !template.generate_major_channels && !template.generate_minor_channels {
        template.generate_minor_channels = true;
    }
    match template.default_channel_type_preference.as_str() {
        "" => {
            if template.generate_minor_channels {
                template.default_channel_type_preference = "minor".to_string();
            } else if template.generate_major_channels {
                template.default_channel_type_preference = "major".to_string();
            }
        }
        "minor" if !template.generate_minor_channels => {
            return Err("schema attribute mismatch: DefaultChannelTypePreference set to 'minor' doesn't make sense if not generating minor-version channels".to_string());
        }
        "major" if !template.generate_major_channels => {
            return Err("schema attribute mismatch: DefaultChannelTypePreference set to 'major' doesn't make sense if not generating major-version channels".to_string());
        }
        "minor" | "major" => {}
        other => {
            return Err(format!(
                "unknown DefaultChannelTypePreference: {}\nValid values are 'major' or 'minor'",
                go_quote(other)
            ));
        }
    }
    Ok(())
}

/// Go's `json.Decoder` with `DisallowUnknownFields` over the JSON that
/// `sigs.k8s.io/yaml` produced: keys in sorted order, the first error wins.
fn decode_template(document: &Value, template: &mut SemverTemplate) -> Result<(), String> {
    let fields = match document {
        Value::Null => return Ok(()),
        Value::Object(fields) => sorted_fields(fields),
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type semver.SemverTemplateData",
                other.go_type_name()
            ));
        }
    };
    let mut first_error: Option<String> = None;
    let mut keep = |result: Result<(), String>| {
        if let Err(error) = result {
            first_error.get_or_insert(error);
        }
    };
    for (key, value) in fields {
        let context = |go_name: &str, go_type: &str| TypeContext {
            go_struct: "SemverTemplateData",
            path: go_name.to_string(),
            go_type: go_type.to_string(),
        };
        match key.to_ascii_lowercase().as_str() {
            "schema" => keep(decode_string(value, &context("schema", "string")).map(|text| {
                if let Some(text) = text {
                    template.schema = text;
                }
            })),
            "generatemajorchannels" => keep(decode_bool(value, &context("generateMajorChannels", "bool")).map(|flag| {
                if let Some(flag) = flag {
                    template.generate_major_channels = flag;
                }
            })),
            "generateminorchannels" => keep(decode_bool(value, &context("generateMinorChannels", "bool")).map(|flag| {
                if let Some(flag) = flag {
                    template.generate_minor_channels = flag;
                }
            })),
            "defaultchanneltypepreference" => {
                keep(
                    decode_string(value, &context("defaultChannelTypePreference", "semver.StreamType")).map(|text| {
                        if let Some(text) = text {
                            template.default_channel_type_preference = text;
                        }
                    }),
                );
            }
            "candidate" => keep(decode_channel_bundles(value, "candidate", &mut template.candidate)),
            "fast" => keep(decode_channel_bundles(value, "fast", &mut template.fast)),
            "stable" => keep(decode_channel_bundles(value, "stable", &mut template.stable)),
            _ => keep(Err(format!("json: unknown field {}", go_quote(key)))),
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Where a Go `UnmarshalTypeError` happened: the innermost struct, the JSON
/// path from the top, and the Go type expected there.
struct TypeContext {
    go_struct: &'static str,
    path: String,
    go_type: String,
}

impl TypeContext {
    fn error(&self, value: &Value) -> String {
        format!(
            "json: cannot unmarshal {} into Go struct field {}.{} of type {}",
            value.go_type_name(),
            self.go_struct,
            self.path,
            self.go_type
        )
    }
}

/// The keys of an object in the order `json.Marshal` of a Go map writes
/// them (bytewise; a repeated key keeps its last value).
fn sorted_fields(fields: &[(String, Value)]) -> Vec<(&String, &Value)> {
    let mut map: BTreeMap<&String, &Value> = BTreeMap::new();
    for (key, value) in fields {
        map.insert(key, value);
    }
    map.into_iter().collect()
}

/// A string field. `sigs.k8s.io/yaml` turns a YAML number or boolean aimed
/// at a string field into its text, so only arrays and objects fail.
fn decode_string(value: &Value, context: &TypeContext) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        Value::Bool(flag) => Ok(Some(flag.to_string())),
        Value::Number(number) => Ok(Some(yaml_number_as_string(number.as_str()))),
        other => Err(context.error(other)),
    }
}

/// How `sigs.k8s.io/yaml` prints a YAML number for a string field: integers
/// in decimal, floats with `strconv.FormatFloat(f, 'g', -1, 32)` (exponent form
/// outside 1e-4..1e6).
fn yaml_number_as_string(literal: &str) -> String {
    if literal.bytes().all(|byte| byte.is_ascii_digit() || byte == b'-') {
        return literal.to_string();
    }
    let value = literal.parse::<f64>().unwrap_or(f64::NAN) as f32;
    if value == 0.0 {
        return "0".to_string();
    }
    let scientific = format!("{value:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        format!("{value}")
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

fn decode_bool(value: &Value, context: &TypeContext) -> Result<Option<bool>, String> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(flag) => Ok(Some(*flag)),
        other => Err(context.error(other)),
    }
}

/// `channelBundles{Bundles []bundleEntry}` under the archetype key `name`.
fn decode_channel_bundles(value: &Value, name: &str, images: &mut Vec<String>) -> Result<(), String> {
    let fields = match value {
        Value::Null => return Ok(()),
        Value::Object(fields) => sorted_fields(fields),
        other => {
            let context = TypeContext {
                go_struct: "SemverTemplateData",
                path: name.to_string(),
                go_type: "semver.channelBundles".to_string(),
            };
            return Err(context.error(other));
        }
    };
    let mut first_error: Option<String> = None;
    for (key, value) in fields {
        let result = if key.eq_ignore_ascii_case("bundles") {
            decode_bundle_entries(value, name, images)
        } else {
            Err(format!("json: unknown field {}", go_quote(key)))
        };
        if let Err(error) = result {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn decode_bundle_entries(value: &Value, name: &str, images: &mut Vec<String>) -> Result<(), String> {
    let path = format!("{name}.bundles");
    let items = match value {
        Value::Null => {
            images.clear();
            return Ok(());
        }
        Value::Array(items) => items,
        other => {
            let context = TypeContext {
                go_struct: "channelBundles",
                path,
                go_type: "[]semver.bundleEntry".to_string(),
            };
            return Err(context.error(other));
        }
    };
    images.clear();
    let mut first_error: Option<String> = None;
    for item in items {
        let mut image = String::new();
        let result = match item {
            Value::Null => Ok(()),
            Value::Object(fields) => {
                let mut entry_error: Option<String> = None;
                for (key, value) in sorted_fields(fields) {
                    let result = if key.eq_ignore_ascii_case("image") {
                        let context = TypeContext {
                            go_struct: "bundleEntry",
                            path: format!("{path}.image"),
                            go_type: "string".to_string(),
                        };
                        decode_string(value, &context).map(|text| {
                            if let Some(text) = text {
                                image = text;
                            }
                        })
                    } else {
                        Err(format!("json: unknown field {}", go_quote(key)))
                    };
                    if let Err(error) = result {
                        entry_error.get_or_insert(error);
                    }
                }
                entry_error.map_or(Ok(()), Err)
            }
            other => {
                let context = TypeContext {
                    go_struct: "channelBundles",
                    path: path.clone(),
                    go_type: "semver.bundleEntry".to_string(),
                };
                Err(context.error(other))
            }
        };
        if let Err(error) = result {
            first_error.get_or_insert(error);
        }
        images.push(image);
    }
    first_error.map_or(Ok(()), Err)
}

/// `getVersionsFromChannel`: the rendered bundle behind each template
/// image of one archetype, with its version. The first bundle seen names
/// the package (and adds its `olm.package` blob).
fn versions_from_channel(
    template: &SemverTemplate,
    archetype: Archetype,
    rendered_images: &BTreeMap<&str, String>,
    out: &mut DeclarativeConfig,
    package_name: &mut Option<String>,
) -> Result<Vec<(String, Version)>, String> {
    let mut entries: Vec<(String, Version)> = Vec::new();
    for image in template.bundles(archetype) {
        let rendered_image = rendered_images.get(image.as_str()).map_or("", String::as_str);
        let Some(bundle) = out.bundles.iter().find(|bundle| bundle.image == rendered_image) else {
            return Err(format!(
                "supplied bundle image name {} not found in rendered bundle images",
                go_quote(image)
            ));
        };
        let (bundle_package_name, version) = bundle_package(bundle)?;
        match package_name {
            Some(known) if *known != bundle_package_name => {
                return Err(format!(
                    "bundle {} does not belong to this package: {}",
                    go_quote(&bundle_package_name),
                    go_quote(known)
                ));
            }
            Some(_) => {}
            None => {
                *package_name = Some(bundle_package_name.clone());
                let name = bundle_package_name;
                out.packages.push(Package {
                    schema: fbc::SCHEMA_PACKAGE.to_string(),
                    name,
                    ..Package::default()
                });
            }
        }
        let bundle_name = bundle.name.clone();
        if entries.iter().any(|(name, _)| *name == bundle_name) {
            return Err(format!("duplicate bundle name {}", go_quote(&bundle_name)));
        }
        entries.push((bundle_name, version));
    }
    Ok(entries)
}

/// `validateVersions`: two bundles of one archetype whose versions differ
/// only by build metadata cannot be ordered.
fn validate_versions(entries: &[(String, Version)]) -> Result<(), String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut errors = Vec::new();
    for (_, version) in entries {
        let stripped = Version {
            build: Vec::new(),
            ..version.clone()
        }
        .to_string();
        if !seen.insert(stripped.clone()) {
            errors.push(format!(
                "bundle version {} cannot be compared to {}",
                go_quote(&version.to_string()),
                go_quote(&stripped)
            ));
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let joined = if errors.len() == 1 {
        errors.remove(0)
    } else {
        format!("[{}]", errors.join(", "))
    };
    Err(format!(
        "encountered bundle versions which differ only by build metadata, which cannot be ordered: {joined}"
    ))
}

/// The "high-water" channel: the candidate for the package's default.
#[derive(Debug, Clone)]
struct Highwater {
    archetype: Archetype,
    kind: StreamType,
    version: Version,
    name: String,
}

impl Highwater {
    /// opm's `highwaterChannel.gt`.
    fn is_above(&self, other: &Highwater, preference: StreamType) -> bool {
        if self.archetype != other.archetype {
            return self.archetype > other.archetype;
        }
        match self.version.compare(&other.version) {
            Ordering::Equal => {}
            ordering => return ordering == Ordering::Greater,
        }
        if self.kind != other.kind {
            if self.kind == preference {
                return true;
            }
            if other.kind == preference {
                return false;
            }
            return self.kind > other.kind;
        }
        false
    }
}

/// One channel entry waiting for its edges (`entryTuple`).
#[derive(Debug, Clone)]
struct EntryTuple {
    archetype: Archetype,
    kind: StreamType,
    channel: String,
    name: String,
    version: Version,
    index: usize,
}

/// `generateChannels`: the channels sorted by name, and the default
/// channel's name.
fn generate_channels(
    template: &SemverTemplate,
    package_name: &str,
    versions: &[(Archetype, Vec<(String, Version)>)],
) -> (Vec<Channel>, String) {
    let zero = Version {
        major: 0,
        minor: 0,
        patch: 0,
        pre: Vec::new(),
        build: Vec::new(),
    };
    let mut highwater = Highwater {
        archetype: Archetype::Candidate,
        kind: StreamType::Unset,
        version: zero,
        name: String::new(),
    };
    let preference = template.preference();
    let mut unlinked: BTreeMap<String, Channel> = BTreeMap::new();
    let mut tuples: Vec<EntryTuple> = Vec::new();

    for (archetype, bundles) in versions {
        let mut by_version: Vec<&(String, Version)> = bundles.iter().collect();
        by_version.sort_by(|left, right| left.1.compare(&right.1));
        for (bundle_name, version) in by_version {
            // opm walks a map of the wanted kinds; the outcome does not
            // depend on the order, so major comes first here.
            let mut kinds = Vec::new();
            if template.generate_major_channels {
                kinds.push((StreamType::Major, format!("{}-v{}", archetype.name(), version.major)));
            }
            if template.generate_minor_channels {
                kinds.push((
                    StreamType::Minor,
                    format!("{}-v{}.{}", archetype.name(), version.major, version.minor),
                ));
            }
            for (kind, channel_name) in kinds {
                let channel = unlinked.entry(channel_name.clone()).or_insert_with(|| {
                    let candidate = Highwater {
                        archetype: *archetype,
                        kind,
                        version: version.clone(),
                        name: channel_name.clone(),
                    };
                    if candidate.is_above(&highwater, preference) {
                        highwater = candidate;
                    }
                    Channel {
                        schema: fbc::SCHEMA_CHANNEL.to_string(),
                        package: package_name.to_string(),
                        name: channel_name.clone(),
                        entries: Some(Vec::new()),
                        properties: Vec::new(),
                    }
                });
                let entries = channel.entries.get_or_insert_with(Vec::new);
                entries.push(ChannelEntry::named(bundle_name));
                tuples.push(EntryTuple {
                    archetype: *archetype,
                    kind,
                    channel: channel_name,
                    name: bundle_name.clone(),
                    version: version.clone(),
                    index: entries.len() - 1,
                });
            }
        }
    }
    link_channels(&mut unlinked, tuples);
    (unlinked.into_values().collect(), highwater.name)
}

/// `linkChannels`: walks all entries sorted by archetype, kind and version
/// and writes each minor version's last entry's `replaces` and `skips`.
fn link_channels(channels: &mut BTreeMap<String, Channel>, mut tuples: Vec<EntryTuple>) {
    tuples.sort_by(|left, right| {
        left.archetype
            .cmp(&right.archetype)
            .then(left.kind.cmp(&right.kind))
            .then_with(|| left.version.compare(&right.version))
    });
    let mut set_edges = |tuple: &EntryTuple, replaces: &str, skips: &BTreeSet<String>| {
        let Some(entry) = channels
            .get_mut(&tuple.channel)
            .and_then(|channel| channel.entries.as_mut())
            .and_then(|entries| entries.get_mut(tuple.index))
        else {
            return;
        };
        entry.replaces = replaces.to_string();
        let skips: Vec<String> = skips.iter().filter(|skip| skip.as_str() != replaces).cloned().collect();
        if !skips.is_empty() {
            entry.skips = skips;
        }
    };

    let mut previous_minor_max = String::new();
    let mut skips: BTreeSet<String> = BTreeSet::new();
    for pair in tuples.windows(2) {
        let (previous, current) = (&pair[0], &pair[1]);
        let stream_change = previous.archetype != current.archetype || previous.kind != current.kind;
        let major_change = previous.version.major != current.version.major;
        let minor_change = previous.version.minor != current.version.minor;
        if stream_change || major_change || minor_change {
            set_edges(previous, &previous_minor_max, &skips);
        }
        if stream_change || major_change {
            skips.clear();
            previous_minor_max.clear();
        } else {
            if minor_change {
                previous_minor_max = previous.name.clone();
            }
            skips.insert(previous.name.clone());
        }
    }
    if let [.., penultimate, last] = tuples.as_slice() {
        let same_stream = penultimate.archetype == last.archetype && penultimate.kind == last.kind;
        if same_stream && penultimate.version.major == last.version.major {
            set_edges(last, &previous_minor_max, &skips);
        }
    }
}

/// `populatePackageMetadata`: the description and first icon of the CSV of
/// the default channel's last entry.
fn populate_package_metadata(out: &mut DeclarativeConfig, default_channel: &str) {
    if out.packages.is_empty() {
        return;
    }
    let Some(channel) = out.channels.iter().find(|channel| channel.name == default_channel) else {
        return;
    };
    let Some(head) = channel.entries.as_deref().and_then(<[ChannelEntry]>::last) else {
        return;
    };
    let Some(csv) = out
        .bundles
        .iter()
        .filter(|bundle| bundle.name == head.name)
        .find_map(fbc::render::bundle_csv)
    else {
        return;
    };
    let Value::Object(csv_fields) = &csv else {
        return;
    };
    let spec = csv_fields
        .iter()
        .rev()
        .find(|(key, _)| key.eq_ignore_ascii_case("spec"))
        .map(|(_, value)| value);
    let spec_fields: &[(String, Value)] = match spec {
        // An absent spec is an empty raw message, which Go fails to decode.
        None => return,
        Some(Value::Null) => &[],
        Some(Value::Object(fields)) => fields,
        Some(_) => return,
    };
    // `GetDescription`/`GetIcons` decode the spec into a map: exact keys.
    let spec_field = |name: &str| spec_fields.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value);
    if let Some(Value::String(description)) = spec_field("description")
        && !description.is_empty()
    {
        out.packages[0].description = description.clone();
    }
    if let Some(icon) = spec_field("icon").and_then(first_icon) {
        out.packages[0].icon = Some(icon);
    }
}

/// The first entry of a CSV's `spec.icon`, or `None` when the list is
/// empty or does not decode as `[]registry.Icon`.
fn first_icon(value: &Value) -> Option<Icon> {
    let Value::Array(items) = value else {
        return None;
    };
    let mut icons = Vec::with_capacity(items.len());
    for item in items {
        let fields: &[(String, Value)] = match item {
            Value::Null => &[],
            Value::Object(fields) => fields,
            _ => return None,
        };
        let mut icon = Icon::default();
        for (key, field) in fields {
            if key.eq_ignore_ascii_case("mediatype") {
                match field {
                    Value::Null => {}
                    Value::String(text) => icon.media_type = text.clone(),
                    _ => return None,
                }
            } else if key.eq_ignore_ascii_case("base64data") {
                match field {
                    Value::Null => icon.data = Vec::new(),
                    Value::String(text) => icon.data = crate::go::base64::decode(text).ok()?,
                    _ => return None,
                }
            }
        }
        icons.push(icon);
    }
    icons.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fbc::Bundle;
    use base64::Engine as _;

    /// The version set of opm's `TestGenerateChannels`: prereleases, gaps
    /// between minors and four majors, all in the stable archetype.
    fn stable_versions() -> Vec<(Archetype, Vec<(String, Version)>)> {
        let versions = [
            "0.1.0",
            "0.1.1",
            "1.1.0",
            "1.2.1",
            "1.3.1",
            "2.1.0",
            "1.3.1-beta",
            "2.1.1",
            "2.3.1",
            "2.3.2",
            "3.1.0",
            "3.1.1",
            "1.3.1-alpha",
            "1.4.1",
            "1.4.1-beta1",
            "1.4.1-beta2",
        ];
        let stable = versions
            .iter()
            .map(|text| (format!("a-v{text}"), Version::parse(text).unwrap()))
            .collect();
        vec![
            (Archetype::Candidate, Vec::new()),
            (Archetype::Fast, Vec::new()),
            (Archetype::Stable, stable),
        ]
    }

    /// `channel: entry[>replaces][~skip,skip] ...` for compact comparison.
    fn describe(channels: &[Channel]) -> Vec<String> {
        channels
            .iter()
            .map(|channel| {
                let entries: Vec<String> = channel
                    .entries
                    .iter()
                    .flatten()
                    .map(|entry| {
                        let mut text = entry.name.trim_start_matches("a-v").to_string();
                        if !entry.replaces.is_empty() {
                            text.push_str(&format!(">{}", entry.replaces.trim_start_matches("a-v")));
                        }
                        if !entry.skips.is_empty() {
                            let skips: Vec<&str> = entry.skips.iter().map(|skip| skip.trim_start_matches("a-v")).collect();
                            text.push_str(&format!("~{}", skips.join(",")));
                        }
                        text
                    })
                    .collect();
                format!("{}: {}", channel.name, entries.join(" "))
            })
            .collect()
    }

    fn template(major: bool, minor: bool, preference: &str) -> SemverTemplate {
        SemverTemplate {
            generate_major_channels: major,
            generate_minor_channels: minor,
            default_channel_type_preference: preference.to_string(),
            ..SemverTemplate::default()
        }
    }

    #[test]
    fn minor_channels_link_across_minors() {
        let (channels, default_channel) = generate_channels(&template(false, true, "minor"), "a", &stable_versions());
        assert_eq!(
            describe(&channels),
            [
                "stable-v0.1: 0.1.0 0.1.1~0.1.0",
                "stable-v1.1: 1.1.0",
                "stable-v1.2: 1.2.1>1.1.0",
                "stable-v1.3: 1.3.1-alpha 1.3.1-beta 1.3.1>1.2.1~1.1.0,1.3.1-alpha,1.3.1-beta",
                "stable-v1.4: 1.4.1-beta1 1.4.1-beta2 1.4.1>1.3.1~1.1.0,1.2.1,1.3.1-alpha,1.3.1-beta,1.4.1-beta1,1.4.1-beta2",
                "stable-v2.1: 2.1.0 2.1.1~2.1.0",
                "stable-v2.3: 2.3.1 2.3.2>2.1.1~2.1.0,2.3.1",
                "stable-v3.1: 3.1.0 3.1.1~3.1.0",
            ]
        );
        assert_eq!(default_channel, "stable-v3.1");
    }

    #[test]
    fn major_channels_do_not_link_across_majors() {
        let (channels, default_channel) = generate_channels(&template(true, false, "major"), "a", &stable_versions());
        assert_eq!(
            describe(&channels),
            [
                "stable-v0: 0.1.0 0.1.1~0.1.0",
                "stable-v1: 1.1.0 1.2.1>1.1.0 1.3.1-alpha 1.3.1-beta 1.3.1>1.2.1~1.1.0,1.3.1-alpha,1.3.1-beta 1.4.1-beta1 1.4.1-beta2 \
                 1.4.1>1.3.1~1.1.0,1.2.1,1.3.1-alpha,1.3.1-beta,1.4.1-beta1,1.4.1-beta2",
                "stable-v2: 2.1.0 2.1.1~2.1.0 2.3.1 2.3.2>2.1.1~2.1.0,2.3.1",
                "stable-v3: 3.1.0 3.1.1~3.1.0",
            ]
        );
        assert_eq!(default_channel, "stable-v3");
    }

    #[test]
    fn default_channel_follows_the_preferred_kind() {
        let (channels, default_channel) = generate_channels(&template(true, true, "minor"), "a", &stable_versions());
        assert_eq!(channels.len(), 12);
        assert_eq!(default_channel, "stable-v3.1");
        let (_, default_channel) = generate_channels(&template(true, true, "major"), "a", &stable_versions());
        assert_eq!(default_channel, "stable-v3");
    }

    #[test]
    fn generate_applies_template_defaults() {
        let stable = stable_versions().remove(2).1;
        let generated = generate("a", &GenerateOptions::default(), &[], &[], &stable).unwrap();
        assert_eq!(generated.default_channel, "stable-v3.1");
        assert_eq!(generated.channels.len(), 8);
        let options = GenerateOptions {
            generate_major_channels: true,
            default_channel_type_preference: "minor".to_string(),
            ..GenerateOptions::default()
        };
        assert_eq!(
            generate("a", &options, &[], &[], &stable).unwrap_err(),
            "schema attribute mismatch: DefaultChannelTypePreference set to 'minor' doesn't make sense if not generating minor-version channels"
        );
        let twice = vec![stable[0].clone(), stable[0].clone()];
        assert_eq!(
            generate("a", &GenerateOptions::default(), &twice, &[], &[]).unwrap_err(),
            r#"duplicate bundle name "a-v0.1.0""#
        );
    }

    #[test]
    fn read_file_errors_use_opm_wording() {
        let error = read_file(r#"{"schema":"olm.semver","candidate":{"bundles":[],"extra":1}}"#);
        assert_eq!(
            error.unwrap_err(),
            r#"error unmarshaling JSON: while decoding JSON: json: unknown field "extra""#
        );
        assert_eq!(
            read_file(r#"{"schema":"olm.semver","generateMajorChannels":"yes"}"#).unwrap_err(),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field SemverTemplateData.generateMajorChannels of type bool"
        );
        assert_eq!(
            read_file(r#"{"schema":"olm.semver","stable":{"bundles":[{"image":["x"]}]}}"#).unwrap_err(),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go struct field bundleEntry.stable.bundles.image of type string"
        );
        assert_eq!(
            read_file(r#"{"schema":"olm.other"}"#).unwrap_err(),
            r#"readFile: input file has unknown schema, should be "olm.semver""#
        );
        assert_eq!(
            read_file(r#"{"schema":"olm.semver","defaultChannelTypePreference":1}"#).unwrap_err(),
            "unknown DefaultChannelTypePreference: \"1\"\nValid values are 'major' or 'minor'"
        );
        let template = read_file(r#"{"SCHEMA":"olm.semver","generateMajorChannels":true}"#).unwrap();
        assert!(template.generate_major_channels && !template.generate_minor_channels);
        assert_eq!(template.default_channel_type_preference, "major");
    }

    #[test]
    fn build_metadata_only_differences_are_refused() {
        let entries = vec![
            ("a.1".to_string(), Version::parse("1.0.0+1").unwrap()),
            ("a.2".to_string(), Version::parse("1.0.0+2").unwrap()),
        ];
        assert_eq!(
            validate_versions(&entries).unwrap_err(),
            r#"encountered bundle versions which differ only by build metadata, which cannot be ordered: bundle version "1.0.0+2" cannot be compared to "1.0.0""#
        );
    }

    fn bundle_with_csv(name: &str, spec: &str) -> Bundle {
        let csv = format!(
            r#"{{"apiVersion":"operators.coreos.com/v1alpha1","kind":"ClusterServiceVersion","metadata":{{"name":"{name}"}},"spec":{spec}}}"#
        );
        let data = base64::engine::general_purpose::STANDARD.encode(csv);
        Bundle {
            schema: fbc::SCHEMA_BUNDLE.to_string(),
            name: name.to_string(),
            properties: vec![fbc::Property {
                type_: fbc::PROPERTY_BUNDLE_OBJECT.to_string(),
                value: format!(r#"{{"data":"{data}"}}"#),
            }],
            ..Bundle::default()
        }
    }

    #[test]
    fn package_metadata_comes_from_the_default_channel_head() {
        let mut config = DeclarativeConfig {
            packages: vec![Package {
                schema: fbc::SCHEMA_PACKAGE.to_string(),
                name: "test-operator".to_string(),
                ..Package::default()
            }],
            channels: vec![Channel {
                name: "stable-v1".to_string(),
                package: "test-operator".to_string(),
                entries: Some(vec![ChannelEntry::named("op.v1.0.0"), ChannelEntry::named("op.v1.1.0")]),
                ..Channel::default()
            }],
            bundles: vec![
                bundle_with_csv(
                    "op.v1.0.0",
                    r#"{"description":"Old","icon":[{"base64data":"b2xkZGF0YQ==","mediatype":"image/png"}]}"#,
                ),
                bundle_with_csv(
                    "op.v1.1.0",
                    r#"{"description":"New","icon":[{"base64data":"aGVsbG93b3JsZA==","mediatype":"image/svg+xml"}]}"#,
                ),
            ],
            ..DeclarativeConfig::default()
        };
        populate_package_metadata(&mut config, "stable-v1");
        assert_eq!(config.packages[0].description, "New");
        assert_eq!(
            config.packages[0].icon,
            Some(Icon {
                data: b"helloworld".to_vec(),
                media_type: "image/svg+xml".to_string()
            })
        );

        let mut config_without_icons = config.clone();
        config_without_icons.packages[0] = Package {
            name: "test-operator".to_string(),
            ..Package::default()
        };
        config_without_icons.bundles[1] = bundle_with_csv("op.v1.1.0", r#"{"description":"","icon":[]}"#);
        populate_package_metadata(&mut config_without_icons, "stable-v1");
        assert_eq!(config_without_icons.packages[0].description, "");
        assert_eq!(config_without_icons.packages[0].icon, None);

        populate_package_metadata(&mut config, "missing");
        assert_eq!(config.packages[0].description, "New");
    }
}
