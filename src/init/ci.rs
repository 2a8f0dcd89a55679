//! A community-operators `ci.yaml` as `catbuild init` reads it: the
//! package's `updateGraph`, and for `fbc.enabled: true` the catalog
//! template that `fbc.catalog_mapping` assigns to the newest catalog
//! (`v4.21` beats `v4.9`, compared numerically).
//!
//! The file is YAML as the community pipeline reads it: comments, blank
//! lines and a `---` before the document are fine (the k8s document
//! splitter makes a comment block before `---` an empty document of its
//! own, so the first document that holds something is the one read).

use std::path::{Path, PathBuf};

use super::{TemplateNotAdopted, UpdateGraph};
use crate::encoding::json::Value;
use crate::encoding::yaml_in;

/// The graph settings of a `ci.yaml`.
#[derive(Debug)]
pub(super) enum CiPolicy {
    /// `updateGraph`: `replaces-mode`, `semver-mode` or
    /// `semver-skippatch-mode`.
    UpdateGraph(UpdateGraph),
    /// `fbc.enabled: true`: the template of the newest catalog, and the
    /// policy to fall back to if it cannot be used.
    Fbc {
        template: PathBuf,
        catalog: String,
        /// Every catalog name mapped to this template, or to another
        /// template file with the same bytes.
        catalogs: Vec<String>,
        /// Templates whose bytes differ, each with its catalog names
        /// (identical copies grouped).
        others: Vec<(PathBuf, Vec<String>)>,
        fallback: UpdateGraph,
    },
    /// `fbc.enabled: true` but no template to read; the fallback policy
    /// (from `updateGraph`, else `replaces`) and the reason.
    FbcUnusable { fallback: UpdateGraph, reason: TemplateNotAdopted },
}

/// What a package's `ci.yaml` says.
#[derive(Debug)]
pub(super) struct CiFile {
    /// The policy it names; `None` when it names none init uses.
    pub(super) policy: Option<CiPolicy>,
    /// An `updateGraph` value init does not know (the text as written, or
    /// how it is not a string); the package falls back to `replaces`.
    pub(super) unknown_update_graph: Option<String>,
}

/// What `package_dir/ci.yaml` says about the package's update graph;
/// `None` when there is no `ci.yaml` or no document in it holds a value.
pub(super) fn read_ci(package_dir: &Path) -> Option<CiFile> {
    let text = fs_err::read_to_string(package_dir.join("ci.yaml")).ok()?;
    let value = first_value(&text)?;
    let mut unknown_update_graph = None;
    let update_graph = match value.get("updateGraph") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            let known = UpdateGraph::from_ci(text);
            if known.is_none() {
                unknown_update_graph = Some(text.clone());
            }
            known
        }
        Some(_) => {
            unknown_update_graph = Some("(not a string)".to_string());
            None
        }
    };
    let policy = policy_of(&value, update_graph, package_dir);
    Some(CiFile {
        policy,
        unknown_update_graph,
    })
}

/// The first document of a YAML stream that holds a value: documents made
/// only of comments or blank lines decode to null and are passed over.
fn first_value(text: &str) -> Option<Value> {
    yaml_in::decode_stream(text)
        .into_iter()
        .map_while(Result::ok)
        .map(|document| document.value)
        .find(|value| !matches!(value, Value::Null))
}

fn policy_of(value: &Value, update_graph: Option<UpdateGraph>, package_dir: &Path) -> Option<CiPolicy> {
    if !matches!(value.pointer(&["fbc", "enabled"]), Some(Value::Bool(true))) {
        return update_graph.map(CiPolicy::UpdateGraph);
    }
    let fallback = update_graph.unwrap_or(UpdateGraph::Replaces);
    Some(match newest_template(value) {
        Ok((catalog, template_name, mut catalogs)) => {
            let templates = package_dir.join("catalog-templates");
            let template = templates.join(&template_name);
            if template.is_file() {
                // Packages that map one template per catalog often keep
                // identical copies: those catalogs are built from the one
                // adopted, the others are named in a comment.
                let adopted = std::fs::read(&template).ok();
                let mut others: Vec<(PathBuf, Option<Vec<u8>>, Vec<String>)> = Vec::new();
                for (other, names) in mappings(value).unwrap_or_default() {
                    let names = names.into_iter().filter(|name| catalog_version(name).is_some());
                    if other == template_name {
                        continue;
                    }
                    let path = templates.join(&other);
                    let bytes = std::fs::read(&path).ok();
                    if adopted.is_some() && bytes == adopted {
                        catalogs.extend(names);
                    } else if let Some(group) = others
                        .iter_mut()
                        .find(|(_, group_bytes, _)| bytes.is_some() && *group_bytes == bytes)
                    {
                        group.2.extend(names);
                    } else {
                        others.push((path, bytes, names.collect()));
                    }
                }
                catalogs.sort_by_key(|name| catalog_version(name));
                catalogs.dedup();
                let mut others: Vec<(PathBuf, Vec<String>)> = others
                    .into_iter()
                    .map(|(path, _, mut names)| {
                        names.retain(|name| !catalogs.contains(name));
                        names.sort_by_key(|name| catalog_version(name));
                        names.dedup();
                        (path, names)
                    })
                    .filter(|(_, names)| !names.is_empty())
                    .collect();
                others.sort_by_key(|(_, names)| catalog_version(&names[0]));
                CiPolicy::Fbc {
                    template,
                    catalog,
                    catalogs,
                    others,
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

/// `(catalog name, template file name, every catalog name of the entry)`
/// of the `fbc.catalog_mapping` entry that lists the newest catalog.
fn newest_template(ci: &Value) -> Result<(String, String, Vec<String>), TemplateNotAdopted> {
    let mut best: Option<(Vec<u64>, String, String, Vec<String>)> = None;
    for (template_name, names) in mappings(ci)? {
        for text in &names {
            let Some(key) = catalog_version(text) else { continue };
            if best.as_ref().is_none_or(|(best_key, ..)| key > *best_key) {
                best = Some((key, text.clone(), template_name.clone(), names.clone()));
            }
        }
    }
    best.map(|(_, catalog, template, names)| (catalog, template, names))
        .ok_or(TemplateNotAdopted::NoCatalogVersion)
}

/// Each `fbc.catalog_mapping` entry with a template: `(template file
/// name, catalog names)`.
fn mappings(ci: &Value) -> Result<Vec<(String, Vec<String>)>, TemplateNotAdopted> {
    let mappings = ci
        .pointer(&["fbc", "catalog_mapping"])
        .and_then(Value::as_array)
        .ok_or(TemplateNotAdopted::NoCatalogMapping)?;
    Ok(mappings
        .iter()
        .filter_map(|mapping| {
            let template_name = mapping.get("template_name").and_then(Value::as_str)?;
            let names = mapping
                .get("catalog_names")
                .and_then(Value::as_array)
                .unwrap_or_default()
                .iter()
                .filter_map(|catalog| match catalog {
                    Value::String(text) => Some(text.clone()),
                    Value::Number(number) => Some(number.as_str().to_string()),
                    _ => None,
                })
                .collect();
            Some((template_name.to_string(), names))
        })
        .collect())
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
        assert_eq!(
            newest_template(&ci).unwrap(),
            (
                "4.22".to_string(),
                "a.yaml".to_string(),
                vec!["v4.9".to_string(), "4.22".to_string()]
            )
        );
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

    #[test]
    fn comments_blank_lines_and_separator_before_the_document() {
        // community-operators style: a comment block, then `---`.
        let text = "# Use `replaces-mode` or `semver-mode`.\n\n---\n# The graph\nupdateGraph: semver-skippatch-mode\n";
        let value = first_value(text).unwrap();
        assert_eq!(value.get("updateGraph").and_then(Value::as_str), Some("semver-skippatch-mode"));
        assert!(first_value("# nothing\n---\n").is_none());
    }
}
