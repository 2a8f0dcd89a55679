//! A node tree to JSON, as `yaml.Unmarshal` into `interface{}` (go-yaml v2
//! `decode.go`), then sigs.k8s.io/yaml's `convertToJSONableObject`, then
//! `json.Marshal` would take it.
//!
//! The three Go stages fail in order, and so do we: go-yaml's decode errors
//! (invalid map key, bad merge, alias cycle, excessive aliasing, a tagged
//! scalar that does not fit its tag) stop at once; a map key sigs.k8s.io/yaml
//! cannot turn into a string (null, uint64) is reported only if decoding
//! finished; a NaN or infinity is reported by `json.Marshal` only if the
//! conversion finished, and it is the first one in sorted-key order.
//!
//! Mappings follow go-yaml's non-strict `setMapIndex`: every entry, merged
//! ones included, is applied in document order and the last one for a key
//! wins. A `<<` key (plain, or tagged `!!merge`) merges a mapping or a
//! sequence of mappings; the sequence is applied from its last element to
//! its first, so earlier elements win among themselves, while keys written
//! after the `<<` override it and keys written before it are overridden.
//!
//! Aliases are deep copies. The value of an anchored collection is built once
//! and cloned for each alias, and go-yaml's alias-ratio guard ("document
//! contains excessive aliasing") is replayed from recorded node counts, so
//! billion-laughs documents fail as they do in Go instead of exhausting
//! memory.

use super::resolve::{Resolved, format_float_key, resolve_scalar};
use super::tree::{NodeData, NodeId, Tree};
use crate::encoding::json::{Number, Value};
use crate::go::go_quote;

/// A failed document: the message and the node to blame, if any.
#[derive(Debug)]
pub(super) struct Failure {
    pub message: String,
    pub node: Option<NodeId>,
}

/// Converts the tree's document to JSON.
pub(super) fn to_value(tree: &Tree<'_>) -> Result<Value, Failure> {
    let Some(root) = tree.root else {
        return Ok(Value::Null);
    };
    let mut is_target = vec![false; tree.nodes.len()];
    let mut has_aliases = false;
    for node in &tree.nodes {
        if let NodeData::Alias { target, .. } = node.data {
            is_target[target] = true;
            has_aliases = true;
        }
    }
    let mut converter = Converter {
        tree,
        is_target,
        // Only alias targets are cached: most documents need no table.
        cache: if has_aliases { vec![None; tree.nodes.len()] } else { Vec::new() },
        in_progress: vec![false; tree.nodes.len()],
        // go-yaml counts the document node too.
        decode_count: 1,
        alias_count: 0,
        alias_depth: 0,
        key_failure: None,
    };
    let value = converter.value(root)?;
    if let Some(failure) = converter.key_failure {
        return Err(failure);
    }
    if let Some((text, node)) = first_unsupported_number(&value) {
        return Err(Failure {
            message: format!("json: unsupported value: {text}"),
            node: Some(node),
        });
    }
    Ok(value)
}

/// Placeholder text for NaN and infinities inside the value being built:
/// `NaN#<node>`. They never leave this module: the document then fails.
const UNSUPPORTED_MARK: char = '#';

fn unsupported_number(value: f64, node: NodeId) -> Value {
    let text = if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    };
    Value::Number(Number::from_literal(format!("{text}{UNSUPPORTED_MARK}{node}")))
}

/// What `json.Marshal` trips on first: it walks objects in sorted key order.
fn first_unsupported_number(value: &Value) -> Option<(String, NodeId)> {
    match value {
        Value::Number(number) => {
            let (text, node) = number.as_str().split_once(UNSUPPORTED_MARK)?;
            Some((text.to_string(), node.parse().ok()?))
        }
        Value::Array(items) => items.iter().find_map(first_unsupported_number),
        Value::Object(entries) => entries.iter().find_map(|(_, item)| first_unsupported_number(item)),
        Value::Null | Value::Bool(_) | Value::String(_) | Value::Raw(_) => None,
    }
}

struct Converter<'t, 'a> {
    tree: &'t Tree<'a>,
    /// Nodes some alias points to: their values are cached.
    is_target: Vec<bool>,
    /// Built value of an anchored collection and the number of decode steps
    /// go-yaml spends on it.
    cache: Vec<Option<(Value, u64)>>,
    in_progress: Vec<bool>,
    decode_count: u64,
    alias_count: u64,
    alias_depth: u32,
    /// The first key sigs.k8s.io/yaml cannot convert.
    key_failure: Option<Failure>,
}

/// Entries of a mapping under construction: key, order of the set, value.
type Entries = Vec<(String, u32, Value)>;

impl Converter<'_, '_> {
    fn fail(message: String, node: NodeId) -> Failure {
        Failure { message, node: Some(node) }
    }

    /// One call of go-yaml's `decoder.unmarshal`, with its aliasing guard.
    fn step(&mut self, node: NodeId) -> Result<(), Failure> {
        self.add_steps(1, node)
    }

    fn add_steps(&mut self, n_steps: u64, node: NodeId) -> Result<(), Failure> {
        self.decode_count = self.decode_count.saturating_add(n_steps);
        if self.alias_depth > 0 {
            self.alias_count = self.alias_count.saturating_add(n_steps);
        }
        if self.alias_count > 100
            && self.decode_count > 1000
            && self.alias_count as f64 / self.decode_count as f64 > allowed_alias_ratio(self.decode_count)
        {
            return Err(Self::fail("yaml: document contains excessive aliasing".to_string(), node));
        }
        Ok(())
    }

    fn value(&mut self, id: NodeId) -> Result<Value, Failure> {
        if let Some(Some((value, n_steps))) = self.cache.get(id) {
            let (value, n_steps) = (value.clone(), *n_steps);
            self.add_steps(n_steps, id)?;
            return Ok(value);
        }
        let steps_before = self.decode_count;
        self.step(id)?;
        let tree = self.tree;
        let value = match &tree.nodes[id].data {
            NodeData::Scalar { value, tag, plain } => scalar_value(
                resolve_scalar(tree.scalar_text(value), tag.as_deref(), *plain).map_err(|e| Self::fail(format!("yaml: {e}"), id))?,
                id,
            ),
            NodeData::Alias { target, name } => return self.alias(*target, name, id),
            NodeData::Sequence(children) => {
                self.in_progress[id] = true;
                let items = children.iter().map(|&child| self.value(child)).collect::<Result<Vec<_>, _>>()?;
                self.in_progress[id] = false;
                Value::Array(items)
            }
            NodeData::Mapping(children) => {
                self.in_progress[id] = true;
                let mut entries = Vec::with_capacity(children.len() / 2);
                self.fill_mapping(id, &mut entries)?;
                self.in_progress[id] = false;
                finish_mapping(entries)
            }
        };
        if self.is_target[id] && !matches!(tree.nodes[id].data, NodeData::Scalar { .. }) {
            self.cache[id] = Some((value.clone(), self.decode_count - steps_before));
        }
        Ok(value)
    }

    /// go-yaml's `decoder.alias` (the alias node's own step is counted by
    /// the caller).
    fn alias(&mut self, target: NodeId, name: &str, alias: NodeId) -> Result<Value, Failure> {
        if self.in_progress[target] {
            return Err(Self::fail(format!("yaml: anchor '{name}' value contains itself"), alias));
        }
        self.alias_depth += 1;
        let value = self.value(target);
        self.alias_depth -= 1;
        value
    }

    /// Applies a mapping node's entries (and its merges) to `entries`.
    fn fill_mapping(&mut self, id: NodeId, entries: &mut Entries) -> Result<(), Failure> {
        let tree = self.tree;
        let NodeData::Mapping(children) = &tree.nodes[id].data else {
            return Ok(());
        };
        for pair in children.chunks(2) {
            let [key, value] = *pair else {
                continue;
            };
            if self.is_merge(key) {
                self.merge(value, entries)?;
                continue;
            }
            let key_text = self.key(key)?;
            let item = self.value(value)?;
            match key_text {
                Ok(text) => {
                    let order = entries.len() as u32;
                    entries.push((text, order, item));
                }
                Err(key_kind) => {
                    if self.key_failure.is_none() {
                        self.key_failure = Some(Self::fail(unsupported_key_message(&key_kind, &item), key));
                    }
                }
            }
        }
        Ok(())
    }

    fn is_merge(&self, id: NodeId) -> bool {
        match &self.tree.nodes[id].data {
            NodeData::Scalar { value, tag, plain } => {
                self.tree.scalar_text(value) == "<<"
                    && match tag.as_deref() {
                        None => *plain,
                        Some(tag) => tag == "!" || tag == "tag:yaml.org,2002:merge",
                    }
            }
            _ => false,
        }
    }

    /// A map key as sigs.k8s.io/yaml prints it; `Err` holds a key it
    /// refuses (null or uint64), reported after the decode finishes.
    fn key(&mut self, id: NodeId) -> Result<Result<String, Resolved>, Failure> {
        let tree = self.tree;
        let (resolved_id, via_alias) = match &tree.nodes[id].data {
            NodeData::Alias { target, .. } => {
                self.step(id)?;
                (*target, true)
            }
            _ => (id, false),
        };
        if via_alias {
            self.alias_depth += 1;
        }
        let resolved = match &tree.nodes[resolved_id].data {
            NodeData::Scalar { value, tag, plain } => {
                let step = self.step(resolved_id);
                step.and_then(|()| {
                    resolve_scalar(tree.scalar_text(value), tag.as_deref(), *plain)
                        .map_err(|e| Self::fail(format!("yaml: {e}"), resolved_id))
                })
            }
            _ => {
                let decoded = self.value(resolved_id);
                if via_alias {
                    self.alias_depth -= 1;
                }
                let decoded = decoded?;
                return Err(Self::fail(format!("yaml: invalid map key: {}", go_sharp_v(&decoded, false)), id));
            }
        };
        if via_alias {
            self.alias_depth -= 1;
        }
        Ok(match resolved? {
            Resolved::String(text) => Ok(text),
            Resolved::Int(int) => Ok(int.to_string()),
            Resolved::Float(float) => Ok(format_float_key(float)),
            Resolved::Bool(flag) => Ok(if flag { "true" } else { "false" }.to_string()),
            refused @ (Resolved::Null | Resolved::Uint(_)) => Err(refused),
        })
    }

    /// go-yaml's `decoder.merge` into the mapping being built.
    fn merge(&mut self, id: NodeId, entries: &mut Entries) -> Result<(), Failure> {
        let tree = self.tree;
        let want_map = || Self::fail("yaml: map merge requires map or sequence of maps as the value".to_string(), id);
        match &tree.nodes[id].data {
            NodeData::Mapping(_) => self.merge_one(id, entries),
            NodeData::Alias { target, .. } => {
                if !matches!(tree.nodes[*target].data, NodeData::Mapping(_)) {
                    return Err(want_map());
                }
                self.merge_one(id, entries)
            }
            NodeData::Sequence(children) => {
                for &child in children.iter().rev() {
                    let is_map = match &tree.nodes[child].data {
                        NodeData::Mapping(_) => true,
                        NodeData::Alias { target, .. } => {
                            matches!(tree.nodes[*target].data, NodeData::Mapping(_))
                        }
                        _ => false,
                    };
                    if !is_map {
                        return Err(want_map());
                    }
                    self.merge_one(child, entries)?;
                }
                Ok(())
            }
            NodeData::Scalar { .. } => Err(want_map()),
        }
    }

    /// Decodes a mapping (or an alias of one) into the entries being built.
    fn merge_one(&mut self, id: NodeId, entries: &mut Entries) -> Result<(), Failure> {
        let tree = self.tree;
        match &tree.nodes[id].data {
            NodeData::Mapping(_) if !self.is_target[id] => {
                self.step(id)?;
                self.fill_mapping(id, entries)
            }
            _ => {
                let Value::Object(merged) = self.value(id)? else {
                    return Ok(());
                };
                for (key, item) in merged {
                    let order = entries.len() as u32;
                    entries.push((key, order, item));
                }
                Ok(())
            }
        }
    }
}

/// go-yaml's `allowedAliasRatio`.
fn allowed_alias_ratio(decode_count: u64) -> f64 {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    if decode_count <= LOW {
        0.99
    } else if decode_count >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decode_count - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

fn scalar_value(resolved: Resolved, id: NodeId) -> Value {
    match resolved {
        Resolved::Null => Value::Null,
        Resolved::Bool(flag) => Value::Bool(flag),
        Resolved::Int(int) => Value::Number(Number::from_i64(int)),
        Resolved::Uint(uint) => Value::Number(Number::from_u64(uint)),
        Resolved::Float(float) => match Number::from_f64(float) {
            Some(number) => Value::Number(number),
            None => unsupported_number(float, id),
        },
        Resolved::String(text) => Value::String(text),
    }
}

/// Sorts bytewise and keeps the last set of each key, as a Go map that is
/// then marshalled.
fn finish_mapping(mut entries: Entries) -> Value {
    entries.sort_unstable_by(|left, right| left.0.cmp(&right.0).then(left.1.cmp(&right.1)));
    let mut object: Vec<(String, Value)> = Vec::with_capacity(entries.len());
    for (key, _, item) in entries {
        match object.last_mut() {
            Some(last) if last.0 == key => last.1 = item,
            _ => object.push((key, item)),
        }
    }
    Value::Object(object)
}

/// sigs.k8s.io/yaml's `unsupported map key of type: %s, key: %+#v, value: %+#v`.
fn unsupported_key_message(key: &Resolved, value: &Value) -> String {
    let (type_name, key_text) = match key {
        Resolved::Uint(uint) => ("uint64".to_string(), format!("0x{uint:x}")),
        _ => ("%!s(<nil>)".to_string(), "<nil>".to_string()),
    };
    format!(
        "unsupported map key of type: {type_name}, key: {key_text}, value: {}",
        go_sharp_v(value, false)
    )
}

/// Go's `%#v` of a decoded value (close enough for error messages: numbers
/// print as their JSON text).
fn go_sharp_v(value: &Value, nested: bool) -> String {
    match value {
        Value::Null if nested => "interface {}(nil)".to_string(),
        Value::Null => "<nil>".to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.as_str().to_string(),
        Value::String(text) | Value::Raw(text) => go_quote(text),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(|item| go_sharp_v(item, true)).collect();
            format!("[]interface {{}}{{{}}}", inner.join(", "))
        }
        Value::Object(entries) => {
            let inner: Vec<String> = entries
                .iter()
                .map(|(key, item)| format!("{}:{}", go_quote(key), go_sharp_v(item, true)))
                .collect();
            format!("map[interface {{}}]interface {{}}{{{}}}", inner.join(", "))
        }
    }
}
