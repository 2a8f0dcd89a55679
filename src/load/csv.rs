//! The ClusterServiceVersion as opm's `pkg/registry/csv.go` sees it: typed
//! `metadata` (name, annotations, labels) and `spec` kept raw, with one
//! accessor per field opm reads. Each accessor decodes only its part of
//! `spec`, with Go's rules, so a malformed field fails exactly the
//! operation that reads it (as in opm) and nothing else.

use super::annotations::ANNOTATION_SKIP_RANGE;
use super::document::{field, format_go_g64, slice_of, string_of, strings_of, struct_of, type_error};
use crate::encoding::json::Value;

pub(crate) const KIND_CSV: &str = "ClusterServiceVersion";
pub(crate) const KIND_CRD: &str = "CustomResourceDefinition";

/// A CSV definition key (`DefinitionKey` in opm): an entry of
/// `customresourcedefinitions` or `apiservicedefinitions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DefinitionKey {
    pub group: String,
    pub kind: String,
    pub name: String,
    pub version: String,
}

/// opm's `APIKey`; field order is Go's, which `fmt` uses to sort map keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ApiKey {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
}

impl std::fmt::Display for ApiKey {
    /// `APIKey.String()`: `group/version/kind (plural)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{} ({})", self.group, self.version, self.kind, self.plural)
    }
}

/// A decoded CSV object (already in unstructured form).
pub(crate) struct CsvView<'a> {
    pub name: String,
    annotations: Vec<(&'a str, &'a str)>,
    /// `None` when the CSV has no `spec` key: every spec read then fails
    /// with Go's "unexpected end of JSON input".
    spec: Option<&'a Value>,
}

impl<'a> CsvView<'a> {
    /// `runtime.DefaultUnstructuredConverter.FromUnstructured` into opm's
    /// CSV type: metadata fields must have their Go types.
    pub fn new(object: &'a Value) -> Result<CsvView<'a>, String> {
        let metadata = match object.get("metadata") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Object(fields)) => fields.as_slice(),
            Some(other) => {
                return Err(format!("cannot convert {} to struct", unstructured_type(other)));
            }
        };
        let lookup = |key: &str| metadata.iter().rev().find(|(name, _)| name == key).map(|(_, value)| value);
        let name = match lookup("name") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(name)) => name.clone(),
            Some(other) => return Err(string_conversion_error(other)),
        };
        let annotations = string_map(lookup("annotations"))?;
        string_map(lookup("labels"))?;
        Ok(CsvView {
            name,
            annotations,
            spec: object.get("spec"),
        })
    }

    pub fn annotation(&self, key: &str) -> Option<&'a str> {
        self.annotations
            .iter()
            .rev()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| *value)
    }

    /// `metadata.annotations["olm.skipRange"]`.
    pub fn skip_range(&self) -> String {
        self.annotation(ANNOTATION_SKIP_RANGE).unwrap_or_default().to_string()
    }

    /// `json.Unmarshal(csv.Spec, &map[string]*json.RawMessage)`.
    fn spec_map(&self) -> Result<&'a [(String, Value)], String> {
        match self.spec {
            None => Err("unexpected end of JSON input".to_string()),
            Some(Value::Null) => Ok(&[]),
            Some(Value::Object(fields)) => Ok(fields),
            Some(other) => Err(type_error(other, None, "map[string]*json.RawMessage")),
        }
    }

    /// A spec key as a Go map lookup (exact key; `null` counts as absent).
    fn spec_key(&self, key: &str) -> Result<Option<&'a Value>, String> {
        Ok(self
            .spec_map()?
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
            .filter(|value| !value.is_null()))
    }

    /// `GetVersion`: `spec.version` as a string.
    pub fn version(&self) -> Result<String, String> {
        string_of(self.spec_key("version")?, None)
    }

    /// `GetRelease`: a string, or a number printed `%d` when integral, else `%g`.
    pub fn release(&self) -> Result<String, String> {
        match self.spec_key("release")? {
            None => Ok(String::new()),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(Value::Number(number)) => {
                let float = number.as_f64();
                if float.fract() == 0.0 && float.abs() < 9.2e18 {
                    Ok(format!("{}", float as i64))
                } else {
                    Ok(format_go_g64(float))
                }
            }
            Some(_) => Err("release field must be a string or number".to_string()),
        }
    }

    /// `GetReplaces`.
    pub fn replaces(&self) -> Result<String, String> {
        string_of(self.spec_key("replaces")?, None)
    }

    /// `GetSkips`.
    pub fn skips(&self) -> Result<Vec<String>, String> {
        strings_of(self.spec_key("skips")?, None)
    }

    /// `GetCustomResourceDefintions`: (owned, required).
    pub fn crd_definitions(&self) -> Result<(Vec<DefinitionKey>, Vec<DefinitionKey>), String> {
        definitions(self.spec_key("customresourcedefinitions")?)
    }

    /// `GetApiServiceDefinitions`: (owned, required).
    pub fn api_service_definitions(&self) -> Result<(Vec<DefinitionKey>, Vec<DefinitionKey>), String> {
        let value = self
            .spec_key("apiservicedefinitions")
            .map_err(|error| format!("error unmarshaling into object map: {error}"))?;
        definitions(value)
    }

    /// `spec.relatedImages` decoded as `[]declcfg.RelatedImage`: (name, image).
    pub fn related_images(&self) -> Result<Vec<(String, String)>, String> {
        let items = slice_of(self.spec_key("relatedImages")?, None, "[]declcfg.RelatedImage")?;
        let mut images = Vec::with_capacity(items.len());
        for item in items {
            let fields = struct_of(Some(item), None, "declcfg.RelatedImage")?.unwrap_or_default();
            images.push((
                string_of(field(fields, "name"), Some("RelatedImage.name"))?,
                string_of(field(fields, "image"), Some("RelatedImage.image"))?,
            ));
        }
        Ok(images)
    }

    /// `GetOperatorImages`: images of the containers and init containers of
    /// every deployment, when the install strategy is `deployment`. A set;
    /// returned sorted (opm iterates a Go map, and sorts the result later).
    pub fn operator_images(&self) -> Result<Vec<String>, String> {
        let spec = struct_of(Some(self.spec.ok_or("unexpected end of JSON input")?), None, "registry.csvSpec")?.unwrap_or_default();
        let install = struct_of(field(spec, "install"), Some("csvSpec.Install"), "registry.strategy")?.unwrap_or_default();
        let strategy = string_of(field(install, "strategy"), Some("csvSpec.Install.strategy"))?;
        let details = struct_of(field(install, "spec"), Some("csvSpec.Install.spec"), "registry.strategySpec")?.unwrap_or_default();
        let deployments = slice_of(
            field(details, "deployments"),
            Some("csvSpec.Install.spec.Deployments"),
            "[]registry.dep",
        )?;
        let mut images = std::collections::BTreeSet::new();
        for deployment in deployments {
            let deployment = struct_of(Some(deployment), Some("csvSpec.Install.spec.Deployments"), "registry.dep")?.unwrap_or_default();
            string_of(field(deployment, "name"), Some("dep.Install.spec.Deployments.Name"))?;
            let deployment_spec = struct_of(
                field(deployment, "spec"),
                Some("dep.Install.spec.Deployments.Spec"),
                "v1.DeploymentSpec",
            )?
            .unwrap_or_default();
            let template = struct_of(
                field(deployment_spec, "template"),
                Some("DeploymentSpec.template"),
                "v1.PodTemplateSpec",
            )?
            .unwrap_or_default();
            let pod_spec = struct_of(field(template, "spec"), Some("PodTemplateSpec.template.spec"), "v1.PodSpec")?.unwrap_or_default();
            for (key, go_field) in [
                ("containers", "PodSpec.template.spec.containers"),
                ("initContainers", "PodSpec.template.spec.initContainers"),
            ] {
                for container in slice_of(field(pod_spec, key), Some(go_field), "[]v1.Container")? {
                    let container = struct_of(Some(container), Some(go_field), "v1.Container")?.unwrap_or_default();
                    images.insert(string_of(
                        field(container, "image"),
                        Some(&format!("Container.{}.image", &go_field[8..])),
                    )?);
                }
            }
        }
        if strategy != "deployment" {
            return Ok(Vec::new());
        }
        Ok(images.into_iter().collect())
    }
}

/// Decodes `{owned: [...], required: [...]}` into definition keys.
fn definitions(value: Option<&Value>) -> Result<(Vec<DefinitionKey>, Vec<DefinitionKey>), String> {
    let fields = struct_of(
        value,
        None,
        "struct { Owned []*registry.DefinitionKey \"json:\\\"owned\\\"\"; Required []*registry.DefinitionKey \"json:\\\"required\\\"\" }",
    )?
    .unwrap_or_default();
    let mut lists = [Vec::new(), Vec::new()];
    for (list, key) in lists.iter_mut().zip(["owned", "required"]) {
        let go_field = format!(".{key}");
        for item in slice_of(field(fields, key), Some(&go_field), "[]*registry.DefinitionKey")? {
            let Some(entry) = struct_of(Some(item), Some(&go_field), "registry.DefinitionKey")? else {
                // A null element is a nil pointer; opm would dereference it.
                return Err(format!("invalid nil entry in {key} definitions"));
            };
            let text = |name: &str| string_of(field(entry, name), Some(&format!("DefinitionKey.{key}.{name}")));
            list.push(DefinitionKey {
                group: text("group")?,
                kind: text("kind")?,
                name: text("name")?,
                version: text("version")?,
            });
        }
    }
    let [owned, required] = lists;
    Ok((owned, required))
}

/// A `map[string]string` from unstructured data.
fn string_map(value: Option<&Value>) -> Result<Vec<(&str, &str)>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(entries)) => entries
            .iter()
            .map(|(key, value)| match value {
                Value::String(text) => Ok((key.as_str(), text.as_str())),
                // A null map value becomes "" (the zero value).
                Value::Null => Ok((key.as_str(), "")),
                other => Err(string_conversion_error(other)),
            })
            .collect(),
        Some(other) => Err(format!("cannot convert {} to map", unstructured_type(other))),
    }
}

/// apimachinery's converter: an int64 is Go-convertible to string but
/// refused; anything else falls through to "unrecognized type".
fn string_conversion_error(value: &Value) -> String {
    match value {
        Value::Number(number) if number.as_str().parse::<i64>().is_ok() => "cannot convert int64 to string".to_string(),
        _ => "unrecognized type: string".to_string(),
    }
}

fn unstructured_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.as_str().parse::<i64>().is_ok() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Raw(_) => "json.RawMessage",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// CRD facts opm reads (`spec.group`, `spec.names`, `spec.versions[].name`,
/// and the v1beta1 `spec.version`), as provided API keys.
pub(crate) fn crd_provided_apis(object: &Value) -> Result<Vec<ApiKey>, String> {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let version = match api_version.split_once('/') {
        None => api_version,
        Some((_, version)) if !version.contains('/') => version,
        Some(_) => "",
    };
    let is_v1 = match version {
        "v1" => true,
        "v1beta1" => false,
        _ => return Ok(Vec::new()),
    };
    let wrap = |error: String| format!("error decoding {} CRD: {error}", if is_v1 { "v1" } else { "v1beta1" });
    let fields = object.as_object().unwrap_or_default();
    let spec = struct_of(
        field(fields, "spec"),
        Some("CustomResourceDefinition.spec"),
        "v1.CustomResourceDefinitionSpec",
    )
    .map_err(wrap)?
    .unwrap_or_default();
    let group = string_of(field(spec, "group"), Some("CustomResourceDefinition.spec.group")).map_err(wrap)?;
    let names = struct_of(
        field(spec, "names"),
        Some("CustomResourceDefinition.spec.names"),
        "v1.CustomResourceDefinitionNames",
    )
    .map_err(wrap)?
    .unwrap_or_default();
    let kind = string_of(field(names, "kind"), Some("CustomResourceDefinition.spec.names.kind")).map_err(wrap)?;
    let plural = string_of(field(names, "plural"), Some("CustomResourceDefinition.spec.names.plural")).map_err(wrap)?;
    let mut keys = Vec::new();
    for item in slice_of(
        field(spec, "versions"),
        Some("CustomResourceDefinition.spec.versions"),
        "[]v1.CustomResourceDefinitionVersion",
    )
    .map_err(wrap)?
    {
        let item = struct_of(
            Some(item),
            Some("CustomResourceDefinition.spec.versions"),
            "v1.CustomResourceDefinitionVersion",
        )
        .map_err(wrap)?
        .unwrap_or_default();
        let name = string_of(field(item, "name"), Some("CustomResourceDefinition.spec.versions.name")).map_err(wrap)?;
        keys.push(ApiKey {
            group: group.clone(),
            version: name,
            kind: kind.clone(),
            plural: plural.clone(),
        });
    }
    if !is_v1 {
        let version = string_of(field(spec, "version"), Some("CustomResourceDefinition.spec.version")).map_err(wrap)?;
        if !version.is_empty() {
            keys.push(ApiKey {
                group,
                version,
                kind,
                plural,
            });
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::json;

    #[test]
    fn spec_reads_follow_go_types() {
        let csv = json::parse(
            r#"{"kind":"ClusterServiceVersion","metadata":{"name":"a.v1"},"spec":{"version":1.5,"release":3,"replaces":"a.v0"}}"#,
        )
        .unwrap();
        let view = CsvView::new(&csv).unwrap();
        assert_eq!(
            view.version().unwrap_err(),
            "json: cannot unmarshal number into Go value of type string"
        );
        assert_eq!(view.release().unwrap(), "3");
        assert_eq!(view.replaces().unwrap(), "a.v0");
        assert_eq!(view.skips().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn missing_spec_fails_every_spec_read() {
        let csv = json::parse(r#"{"kind":"ClusterServiceVersion","metadata":{"name":"a.v1"}}"#).unwrap();
        let view = CsvView::new(&csv).unwrap();
        assert_eq!(view.version().unwrap_err(), "unexpected end of JSON input");
    }

    #[test]
    fn non_string_annotation_is_a_conversion_error() {
        let csv = json::parse(r#"{"metadata":{"annotations":{"a":4}}}"#).unwrap();
        assert_eq!(CsvView::new(&csv).err().unwrap(), "cannot convert int64 to string");
    }

    #[test]
    fn release_float_uses_percent_g() {
        let csv = json::parse(r#"{"spec":{"release":1.25}}"#).unwrap();
        assert_eq!(CsvView::new(&csv).unwrap().release().unwrap(), "1.25");
    }

    #[test]
    fn operator_images_only_for_deployment_strategy() {
        let csv = json::parse(
            r#"{"spec":{"install":{"strategy":"deployment","spec":{"deployments":[{"name":"d","spec":{"template":{"spec":{
                "containers":[{"image":"b"},{"image":"a"}],"initContainers":[{"image":"a"}]}}}}]}}}}"#,
        )
        .unwrap();
        assert_eq!(CsvView::new(&csv).unwrap().operator_images().unwrap(), vec!["a", "b"]);
    }
}
