//! A community-operators `ci.yaml` as `catbuild init` reads it: the
//! package's `updateGraph`, and for `fbc.enabled: true` the catalog
//! template that `fbc.catalog_mapping` assigns to the newest catalog
//! (`v4.21` beats `v4.9`, compared numerically).

use std::path::{Path, PathBuf};

use super::scan::first_document;
use super::{TemplateNotAdopted, UpdateGraph};
use crate::encoding::json::Value;

/// The graph settings of a `ci.yaml`.
#[derive(Debug)]
pub(super) enum CiPolicy {
    /// `updateGraph`: `replaces-mode` or `semver-mode`.
    UpdateGraph(UpdateGraph),
    /// `fbc.enabled: true`: the template of the newest catalog, and the
    /// policy to fall back to if it cannot be used.
    Fbc {
        template: PathBuf,
        catalog: String,
        fallback: UpdateGraph,
    },
    /// `fbc.enabled: true` but no template to read; the fallback policy
    /// (from `updateGraph`, else `replaces`) and the reason.
    FbcUnusable { fallback: UpdateGraph, reason: TemplateNotAdopted },
}

/// What `package_dir/ci.yaml` says about the package's update graph;
/// `None` when there is no `ci.yaml` or it says nothing init uses.
pub(super) fn read_ci(package_dir: &Path) -> Option<CiPolicy> {
    let value = first_document(&package_dir.join("ci.yaml"))?;
    let update_graph = match value.get("updateGraph").and_then(Value::as_str) {
        Some("replaces-mode") => Some(UpdateGraph::Replaces),
        Some("semver-mode" | "semver-skippatch-mode") => Some(UpdateGraph::Semver),
        _ => None,
    };
    if !matches!(value.pointer(&["fbc", "enabled"]), Some(Value::Bool(true))) {
        return update_graph.map(CiPolicy::UpdateGraph);
    }
    let fallback = update_graph.unwrap_or(UpdateGraph::Replaces);
    Some(match newest_template(&value) {
        Ok((catalog, template_name)) => {
            let template = package_dir.join("catalog-templates").join(&template_name);
            if template.is_file() {
                CiPolicy::Fbc {
                    template,
                    catalog,
                    fallback,
                }
            } else {
                CiPolicy::FbcUnusable {
                    fallback,
                    reason: TemplateNotAdopted::MissingTemplate { catalog, template_name },
                }
            }
        }
        Err(reason) => CiPolicy::FbcUnusable { fallback, reason },
    })
}

/// `(catalog name, template file name)` of the `fbc.catalog_mapping` entry
/// that lists the newest catalog.
fn newest_template(ci: &Value) -> Result<(String, String), TemplateNotAdopted> {
    let mappings = ci
        .pointer(&["fbc", "catalog_mapping"])
        .and_then(Value::as_array)
        .ok_or(TemplateNotAdopted::NoCatalogMapping)?;
    let mut best: Option<(Vec<u64>, String, String)> = None;
    for mapping in mappings {
        let Some(template_name) = mapping.get("template_name").and_then(Value::as_str) else {
            continue;
        };
        for catalog in mapping.get("catalog_names").and_then(Value::as_array).unwrap_or_default() {
            let text = match catalog {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.as_str().to_string(),
                _ => continue,
            };
            let Some(key) = catalog_version(&text) else { continue };
            if best.as_ref().is_none_or(|(best_key, _, _)| key > *best_key) {
                best = Some((key, text, template_name.to_string()));
            }
        }
    }
    best.map(|(_, catalog, template)| (catalog, template))
        .ok_or(TemplateNotAdopted::NoCatalogVersion)
}

/// `v4.21` / `4.21` → `[4, 21]`, compared numerically.
fn catalog_version(name: &str) -> Option<Vec<u64>> {
    let digits = name.strip_prefix('v').unwrap_or(name);
    digits.split('.').map(|part| part.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::yaml_in;

    #[test]
    fn catalog_names_compare_numerically() {
        let ci = yaml_in::decode_stream(
            "fbc:\n  enabled: true\n  catalog_mapping:\n  - catalog_names: [v4.9, \"4.22\"]\n    template_name: a.yaml\n  - catalog_names: [v4.21]\n    template_name: b.yaml\n  - catalog_names: [v4.10]\n    template_name: c.yaml\n",
        )
        .remove(0)
        .unwrap()
        .value;
        assert_eq!(newest_template(&ci).unwrap(), ("4.22".to_string(), "a.yaml".to_string()));
        assert!(catalog_version("v4.21") > catalog_version("v4.9"));
        assert_eq!(catalog_version("latest"), None);
    }

    #[test]
    fn fbc_without_a_mapping_says_so() {
        let ci = yaml_in::decode_stream("fbc:\n  enabled: true\n").remove(0).unwrap().value;
        let error = newest_template(&ci).unwrap_err();
        assert_eq!(
            error.to_string(),
            "ci.yaml has `fbc.enabled: true` but no `fbc.catalog_mapping` list"
        );
    }
}
