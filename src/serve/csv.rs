//! The CSV opm's server makes up for a bundle that carries only
//! `olm.csv.metadata` (o-r `pkg/api/model_to_api.go` at HEAD): packageserver
//! and OLM read `csvJson`, so a migrated catalog still answers with a CSV.
//! Top-level fields follow Go's `json.Marshal` of the v1alpha1 struct
//! (field order, `omitempty`, the always-present empty structs); nested
//! metadata values are passed on as the catalog has them, so their key
//! order can differ from opm's struct order (same JSON value).

use crate::encoding::json::{self, Value};
use crate::model;

pub fn synthesized_csv(package: &model::Package, bundle: &model::Bundle, metadata: &Value) -> String {
    let field = |key: &str| metadata.get(key).filter(|value| !is_empty(value)).cloned();
    let object = |entries: Vec<(&str, Value)>| Value::Object(entries.into_iter().map(|(key, value)| (key.to_string(), value)).collect());

    let mut meta = vec![("name", Value::str(bundle.name.clone())), ("creationTimestamp", Value::Null)];
    if let Some(labels) = field("labels") {
        meta.push(("labels", labels));
    }
    if let Some(annotations) = field("annotations") {
        meta.push(("annotations", annotations));
    }

    let mut spec = vec![
        (
            "install",
            object(vec![
                // opm's stub: packageserver panics on a CSV without one.
                ("strategy", Value::str("deployment")),
                ("spec", object(vec![("deployments", Value::Null)])),
            ]),
        ),
        ("version", Value::str(bundle.version.to_string())),
    ];
    if let Some(maturity) = field("maturity") {
        spec.push(("maturity", maturity));
    }
    spec.push((
        "customresourcedefinitions",
        field("crdDescriptions").unwrap_or_else(|| object(vec![])),
    ));
    spec.push((
        "apiservicedefinitions",
        field("apiServiceDefinitions").unwrap_or_else(|| object(vec![])),
    ));
    if let Some(native) = field("nativeAPIs") {
        spec.push(("nativeAPIs", native));
    }
    if let Some(min_kube) = field("minKubeVersion") {
        spec.push(("minKubeVersion", min_kube));
    }
    spec.push(("displayName", field("displayName").unwrap_or_else(|| Value::str(""))));
    // An empty description falls back to the package's.
    let description = field("description").or_else(|| (!package.description.is_empty()).then(|| Value::str(package.description.clone())));
    if let Some(description) = description {
        spec.push(("description", description));
    }
    for key in ["keywords", "maintainers"] {
        if let Some(value) = field(key) {
            spec.push((key, value));
        }
    }
    spec.push(("provider", field("provider").unwrap_or_else(|| object(vec![]))));
    if let Some(links) = field("links") {
        spec.push(("links", links));
    }
    if let Some(icon) = &package.icon {
        spec.push((
            "icon",
            Value::Array(vec![object(vec![
                (
                    "base64data",
                    Value::str(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &icon.data)),
                ),
                ("mediatype", Value::str(icon.media_type.clone())),
            ])]),
        ));
    }
    if let Some(install_modes) = field("installModes") {
        spec.push(("installModes", install_modes));
    }
    spec.push(("cleanup", object(vec![("enabled", Value::Bool(false))])));
    if !bundle.related_images.is_empty() {
        let images = bundle
            .related_images
            .iter()
            .map(|image| {
                object(vec![
                    ("name", Value::str(image.name.clone())),
                    ("image", Value::str(image.image.clone())),
                ])
            })
            .collect();
        spec.push(("relatedImages", Value::Array(images)));
    }

    let csv = object(vec![
        ("kind", Value::str("ClusterServiceVersion")),
        ("apiVersion", Value::str("operators.coreos.com/v1alpha1")),
        ("metadata", object(meta)),
        ("spec", object(spec)),
        ("status", object(vec![("cleanup", object(vec![]))])),
    ]);
    json::to_compact(&csv, true)
}

/// Go's `omitempty`: empty strings, arrays and maps, and null.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(entries) => entries.is_empty(),
        _ => false,
    }
}
