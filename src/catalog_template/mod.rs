//! opm's catalog templates: `olm.template.basic` ([`basic`]) and
//! `olm.semver` ([`semver`]), as `opm alpha render-template` expands them.
//!
//! A template is a short hand-written document that names bundle images;
//! rendering it pulls each image (through a caller-supplied callback, so this
//! module never touches the network or the filesystem) and returns a whole
//! [`DeclarativeConfig`]. The caller writes it with [`crate::fbc::write`],
//! exactly as opm writes the template's result with `WriteJSON`/`WriteYAML`.
//!
//! Error texts are opm's (`alpha/template/...` at HEAD), because users and
//! the conformance cases match on them. `render-template` prefixes them with
//! `rendering template: `; that prefix belongs to the CLI.

pub mod basic;
pub mod semver;

use crate::go::go_quote;

use crate::fbc::DeclarativeConfig;

/// Renders one bundle image reference into a config fragment, the way
/// `opm render IMAGE` does (bundle objects last, related images sorted).
/// The error is the renderer's text, passed through unchanged.
pub type BundleRenderer<'a> = &'a dyn Fn(&str) -> Result<DeclarativeConfig, String>;

/// Why a template could not be rendered. `Display` prints opm's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Basic template: the first document is not valid YAML or JSON.
    #[error("decoding template schema: {0}")]
    DecodeBasic(String),
    /// Basic template: the document does not fit `BasicTemplateData`.
    #[error("unmarshalling template: {0}")]
    UnmarshalBasic(String),
    /// Basic template: `schema` is not `olm.template.basic`.
    #[error("template has unknown schema ({}), should be {}", go_quote(.found), go_quote(basic::SCHEMA))]
    UnknownBasicSchema { found: String },
    /// Basic template: an entry could not be loaded as an FBC blob
    /// (`declcfg.LoadSlice`), e.g. `parse channel: ...`.
    #[error("{0}")]
    Entry(String),
    /// Basic template: an `olm.bundle` entry carries more than `schema` and
    /// `image`.
    #[error("unexpected fields present in basic template bundle")]
    UnexpectedBundleFields,
    /// The bundle renderer failed; its text is kept as is.
    #[error("{0}")]
    RenderBundle(String),
    /// Semver template: the document could not be read (`readFile`).
    #[error("render: unable to read file: {0}")]
    ReadSemver(String),
    /// Semver template: an image rendered to other than one bundle.
    #[error("bundle reference {} resulted in {count} bundles, expected 1", go_quote(.image))]
    BundleCount { image: String, count: usize },
    /// Semver template: nothing to build channels from.
    #[error("render: no bundles specified or no bundles could be rendered")]
    NoBundles,
    /// Semver template: a rendered bundle does not fit the template
    /// (missing, bad version, wrong package, duplicate name).
    #[error("render: unable to post-process bundle info: {0}")]
    PostProcess(String),
}

/// The `olm.package` property of a bundle as opm's `property.Parse` reads
/// it: `(packageName, version)`. Both the semver template and the mermaid
/// writer (`parseVersionProperty`) need exactly one, with these errors.
pub(crate) fn bundle_package(bundle: &crate::fbc::Bundle) -> Result<(String, crate::semver::Version), String> {
    use crate::encoding::json::Value;
    let mut packages = Vec::new();
    for (idx, property) in bundle.properties.iter().enumerate() {
        if property.type_ != crate::fbc::PROPERTY_PACKAGE {
            continue;
        }
        let parse_error = |message: String| {
            format!(
                "parse properties for bundle {}: parse property[{idx}] of type {}: {message}",
                go_quote(&bundle.name),
                go_quote(&property.type_)
            )
        };
        let value = property.parsed_value().map_err(|error| parse_error(error.message))?;
        let mut package_name = String::new();
        let mut version = String::new();
        match &value {
            Value::Null => {}
            Value::Object(fields) => {
                for (key, field) in fields {
                    let mut release = String::new();
                    let (go_name, target) = if key.eq_ignore_ascii_case("packageName") {
                        ("packageName", &mut package_name)
                    } else if key.eq_ignore_ascii_case("version") {
                        ("version", &mut version)
                    } else if key.eq_ignore_ascii_case("release") {
                        ("release", &mut release)
                    } else {
                        continue;
                    };
                    match field {
                        Value::Null => {}
                        Value::String(text) => *target = text.clone(),
                        other => {
                            return Err(parse_error(format!(
                                "json: cannot unmarshal {} into Go struct field Package.{go_name} of type string",
                                other.go_type_name()
                            )));
                        }
                    }
                }
            }
            other => {
                return Err(parse_error(format!(
                    "json: cannot unmarshal {} into Go value of type property.Package",
                    other.go_type_name()
                )));
            }
        }
        packages.push((package_name, version));
    }
    let [(package_name, version)] = <[(String, String); 1]>::try_from(packages).map_err(|_| {
        format!(
            "bundle {} has multiple {} properties, expected exactly 1",
            go_quote(&bundle.name),
            go_quote(crate::fbc::PROPERTY_PACKAGE)
        )
    })?;
    let parsed = crate::semver::Version::parse(&version).map_err(|error| {
        format!(
            "bundle {} has invalid version {}: {error}",
            go_quote(&bundle.name),
            go_quote(&version)
        )
    })?;
    Ok((package_name, parsed))
}

#[cfg(test)]
mod conformance_tests;
