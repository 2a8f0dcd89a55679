//! The `olm.bundle` blob of a parsed bundle, as opm's `bundleToDeclcfg`
//! builds it (`alpha/action/render.go`, `pkg/registry/registry_to_model.go`).
//!
//! Properties: the last `olm.package` of the parsed list wins (rebuilt in
//! struct order), `olm.gvk` and `olm.gvk.required` become sets (parsed list,
//! dependencies and the CSV/CRD APIs), `olm.package` dependencies become
//! `olm.package.required`, everything else keeps its raw value; one
//! `olm.bundle.object` per manifest. All sorted by (type, raw value text),
//! then bundle objects moved to the end (`moveBundleObjectsToEndOfPropertySlices`).
//!
//! Related images: the CSV's `spec.relatedImages` as written, then the
//! bundle image, then operator (container) images not listed yet, sorted by
//! image. Values built here are encoded without HTML escaping, as opm's
//! `property.MustBuild` does.

use std::collections::BTreeSet;

use base64::Engine as _;

use super::csv::CsvView;
use super::document::{field, string_of, struct_of};
use super::error::{BundleError, Location};
use super::parsed::{ParsedBundle, RawProperty};
use crate::encoding::json::{self, Value};
use crate::fbc;

/// Renders a parsed bundle with the given image reference ("" for none),
/// with the manifest position of each `olm.bundle.object` (see
/// [`properties`]).
pub(crate) fn render_bundle(parsed: &ParsedBundle, image: &str) -> Result<(fbc::Bundle, Vec<u32>), BundleError> {
    let (properties, object_file_order) = properties(parsed)?;
    let related_images = related_images(parsed, image)?;
    let bundle = fbc::Bundle {
        schema: fbc::SCHEMA_BUNDLE.to_string(),
        package: parsed.package.clone(),
        name: parsed.csv.name.clone(),
        image: image.to_string(),
        properties,
        related_images,
    };
    Ok((bundle, object_file_order))
}

/// A property about to be sorted: `sort_value` is the raw text Go compares
/// (empty for a nil `json.RawMessage`, which is written as `null`).
struct Sortable {
    type_: String,
    sort_value: Option<String>,
    /// A bundle object's position among the bundle's manifests.
    file_idx: Option<u32>,
}

/// `ObjectsAndPropertiesFromBundle`, then the move of bundle objects to the end.
///
/// Also returns, for each `olm.bundle.object` property in output order,
/// the position of its manifest among the bundle's manifests (`u32::MAX`
/// for one that came from `properties.yaml`): the SQLite index stores the
/// objects in manifest order.
fn properties(parsed: &ParsedBundle) -> Result<(Vec<fbc::Property>, Vec<u32>), BundleError> {
    let csv_name = &parsed.csv.name;
    let error = |message: String, location: Option<Location>| BundleError::Properties {
        csv_name: csv_name.clone(),
        location,
        message,
    };

    let mut provided_gvks: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut required_gvks: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut package: Option<(String, String, String)> = None;
    let mut others: Vec<Sortable> = Vec::new();
    let mut packages_required: Vec<Sortable> = Vec::new();

    for (idx, property) in parsed.properties.iter().enumerate() {
        let parse_error = |message: String| error(parse_error_text(idx, &property.type_, &message), Some(parsed.csv_location()));
        match property.type_.as_str() {
            fbc::PROPERTY_GVK => {
                provided_gvks.insert(decode_gvk(property, "property.GVK").map_err(parse_error)?);
            }
            fbc::PROPERTY_PACKAGE => {
                package = Some(decode_package(property).map_err(parse_error)?);
            }
            _ => others.push(Sortable {
                type_: property.type_.clone(),
                sort_value: property.value.clone(),
                file_idx: None,
            }),
        }
    }
    for (idx, dependency) in parsed.dependencies.iter().enumerate() {
        let parse_error = |message: String| error(parse_error_text(idx, &dependency.type_, &message), None);
        match dependency.type_.as_str() {
            fbc::PROPERTY_GVK => {
                required_gvks.insert(decode_gvk(dependency, "property.GVK").map_err(parse_error)?);
            }
            fbc::PROPERTY_PACKAGE => {
                let (name, version, _) = decode_package(dependency).map_err(parse_error)?;
                packages_required.push(Sortable {
                    type_: fbc::PROPERTY_PACKAGE_REQUIRED.to_string(),
                    sort_value: Some(package_required_value(&name, &version)),
                    file_idx: None,
                });
            }
            _ => others.push(Sortable {
                type_: dependency.type_.clone(),
                sort_value: dependency.value.clone(),
                file_idx: None,
            }),
        }
    }

    let version = parsed
        .csv
        .version
        .clone()
        .map_err(|message| error(format!("get version: {message}"), Some(parsed.csv_location())))?;
    let release = parsed
        .csv
        .release
        .clone()
        .map_err(|message| error(format!("get release: {message}"), Some(parsed.csv_location())))?;
    for api in &parsed.provided_apis {
        provided_gvks.insert((api.group.clone(), api.kind.clone(), api.version.clone()));
    }
    let required_apis = parsed
        .required_apis
        .as_ref()
        .map_err(|message| error(format!("get required apis: {message}"), Some(parsed.csv_location())))?;
    for api in required_apis {
        required_gvks.insert((api.group.clone(), api.kind.clone(), api.version.clone()));
    }

    let mut all: Vec<Sortable> = Vec::with_capacity(parsed.objects.len() + others.len() + provided_gvks.len() + 4);
    for (file_idx, object) in (0_u32..).zip(&parsed.objects) {
        all.push(Sortable {
            type_: fbc::PROPERTY_BUNDLE_OBJECT.to_string(),
            sort_value: Some(object.rendered.get_or_init(|| bundle_object_value(&object.value)).clone()),
            file_idx: Some(file_idx),
        });
    }
    let (package_name, package_version, package_release) = package.unwrap_or_else(|| (parsed.package.clone(), version, release));
    all.push(Sortable {
        type_: fbc::PROPERTY_PACKAGE.to_string(),
        sort_value: Some(package_value(&package_name, &package_version, &package_release, false)),
        file_idx: None,
    });
    for (group, kind, version) in &provided_gvks {
        all.push(Sortable {
            type_: fbc::PROPERTY_GVK.to_string(),
            sort_value: Some(gvk_value(group, kind, version, false)),
            file_idx: None,
        });
    }
    for (group, kind, version) in &required_gvks {
        all.push(Sortable {
            type_: fbc::PROPERTY_GVK_REQUIRED.to_string(),
            sort_value: Some(gvk_value(group, kind, version, false)),
            file_idx: None,
        });
    }
    all.extend(packages_required);
    all.extend(others);

    all.sort_by(|left, right| {
        left.type_.cmp(&right.type_).then_with(|| {
            left.sort_value
                .as_deref()
                .unwrap_or("")
                .cmp(right.sort_value.as_deref().unwrap_or(""))
        })
    });
    let is_object = |property: &Sortable| property.type_ == fbc::PROPERTY_BUNDLE_OBJECT || property.type_ == fbc::PROPERTY_CSV_METADATA;
    let (objects, rest): (Vec<Sortable>, Vec<Sortable>) = all.into_iter().partition(is_object);
    let object_file_order = objects
        .iter()
        .filter(|property| property.type_ == fbc::PROPERTY_BUNDLE_OBJECT)
        .map(|property| property.file_idx.unwrap_or(u32::MAX))
        .collect();
    let properties = rest
        .into_iter()
        .chain(objects)
        .map(|property| fbc::Property {
            type_: property.type_,
            value: property.sort_value.unwrap_or_else(|| "null".to_string()),
        })
        .collect();
    Ok((properties, object_file_order))
}

fn parse_error_text(idx: usize, type_: &str, message: &str) -> String {
    format!("parse property[{idx}] of type {type_:?}: {message}")
}

/// The raw value as Go's `json.Unmarshal` input: a nil value is an empty
/// input.
fn parse_raw(property: &RawProperty) -> Result<Value, String> {
    match property.value.as_deref() {
        None | Some("") => Err("unexpected end of JSON input".to_string()),
        Some(text) => json::parse(text).map_err(|error| error.message),
    }
}

/// `json.Unmarshal(value, &property.GVK)` → (group, kind, version).
fn decode_gvk(property: &RawProperty, go_type: &str) -> Result<(String, String, String), String> {
    let value = parse_raw(property)?;
    let fields = struct_of(Some(&value), None, go_type)?.unwrap_or_default();
    Ok((
        string_of(field(fields, "group"), Some("GVK.group"))?,
        string_of(field(fields, "kind"), Some("GVK.kind"))?,
        string_of(field(fields, "version"), Some("GVK.version"))?,
    ))
}

/// `json.Unmarshal(value, &property.Package)` → (packageName, version, release).
fn decode_package(property: &RawProperty) -> Result<(String, String, String), String> {
    let value = parse_raw(property)?;
    let fields = struct_of(Some(&value), None, "property.Package")?.unwrap_or_default();
    Ok((
        string_of(field(fields, "packageName"), Some("Package.packageName"))?,
        string_of(field(fields, "version"), Some("Package.version"))?,
        string_of(field(fields, "release"), Some("Package.release"))?,
    ))
}

fn quoted(text: &str, escape_html: bool) -> String {
    json::to_compact(&Value::str(text), escape_html)
}

/// `{"packageName":…,"version":…[,"release":…]}`; `escape_html` is true for
/// `json.Marshal` (registry) and false for `property.MustBuild`.
pub(crate) fn package_value(name: &str, version: &str, release: &str, escape_html: bool) -> String {
    let mut out = format!(
        r#"{{"packageName":{},"version":{}"#,
        quoted(name, escape_html),
        quoted(version, escape_html)
    );
    if !release.is_empty() {
        out.push_str(&format!(r#","release":{}"#, quoted(release, escape_html)));
    }
    out.push('}');
    out
}

/// `{"group":…,"kind":…,"version":…}` (also the `olm.gvk.required` shape).
pub(crate) fn gvk_value(group: &str, kind: &str, version: &str, escape_html: bool) -> String {
    format!(
        r#"{{"group":{},"kind":{},"version":{}}}"#,
        quoted(group, escape_html),
        quoted(kind, escape_html),
        quoted(version, escape_html)
    )
}

fn package_required_value(name: &str, version_range: &str) -> String {
    format!(
        r#"{{"packageName":{},"versionRange":{}}}"#,
        quoted(name, false),
        quoted(version_range, false)
    )
}

/// `{"data":"<base64 of json.Marshal(object)>"}`.
fn bundle_object_value(object: &Value) -> String {
    thread_local! {
        // The compact JSON of each object is only base64's input: one
        // buffer per thread spares a large allocation per manifest.
        static JSON_BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    JSON_BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        json::append_compact(buffer, object, true);
        let mut out = String::with_capacity(buffer.len().div_ceil(3) * 4 + 11);
        out.push_str(r#"{"data":""#);
        base64::engine::general_purpose::STANDARD.encode_string(buffer.as_bytes(), &mut out);
        out.push_str(r#""}"#);
        out
    })
}

/// `getRelatedImages`, then the sort by image of `Render.Run`.
fn related_images(parsed: &ParsedBundle, image: &str) -> Result<Vec<fbc::RelatedImage>, BundleError> {
    let location = parsed.csv_location();
    let error = |message: String| BundleError::RelatedImages {
        csv_name: parsed.csv.name.clone(),
        location: location.clone(),
        message,
    };
    let view = CsvView::new(&parsed.csv_object().value).map_err(error)?;
    let mut related: Vec<fbc::RelatedImage> = view
        .related_images()
        .map_err(error)?
        .into_iter()
        .map(|(name, image)| fbc::RelatedImage { name, image })
        .collect();
    let mut all_images: std::collections::HashSet<String> = related.iter().map(|related| related.image.clone()).collect();
    if !image.is_empty() && !all_images.contains(image) {
        // opm does not add the bundle image to its "seen" set here.
        related.push(fbc::RelatedImage {
            name: String::new(),
            image: image.to_string(),
        });
    }
    for operator_image in view.operator_images().map_err(error)? {
        if !all_images.contains(&operator_image) {
            related.push(fbc::RelatedImage {
                name: String::new(),
                image: operator_image.clone(),
            });
        }
        all_images.insert(operator_image);
    }
    // Go's sort.Slice: insertion sort (stable) below 13 items, which covers
    // nearly every bundle; equal images keep CSV order here.
    related.sort_by(|left, right| left.image.cmp(&right.image));
    Ok(related)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_values_are_not_html_escaped() {
        assert_eq!(
            package_value("a<b", "1.0.0", "", false),
            r#"{"packageName":"a<b","version":"1.0.0"}"#
        );
        assert_eq!(
            package_value("a<b", "1.0.0", "2", true),
            r#"{"packageName":"a\u003cb","version":"1.0.0","release":"2"}"#
        );
        assert_eq!(gvk_value("g", "K", "v1", false), r#"{"group":"g","kind":"K","version":"v1"}"#);
    }

    #[test]
    fn bundle_object_is_base64_of_html_escaped_compact_json() {
        let object = json::parse(r#"{"a":"<&>"}"#).unwrap();
        let value = bundle_object_value(&object);
        let data = value.trim_start_matches(r#"{"data":""#).trim_end_matches(r#""}"#);
        let decoded = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), r#"{"a":"\u003c\u0026\u003e"}"#);
    }
}
