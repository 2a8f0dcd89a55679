//! YAML written exactly as opm writes it. (Placeholder: being written.)

use super::json::Value;

/// Error converting a value to YAML (go-yaml v2's emitter refusals).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EmitError(pub String);

/// `sigs.k8s.io/yaml.JSONToYAML` of the JSON text of `value`: one document,
/// without a leading `---`, ending in a newline.
pub fn to_yaml(value: &Value) -> Result<String, EmitError> {
    let _ = value;
    unimplemented!("yaml_out::to_yaml")
}
