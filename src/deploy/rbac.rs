//! The least RBAC an OLM v1 installer ServiceAccount needs for one bundle,
//! as operator-controller's `docs/howto/derive-service-account.md` lists it
//! (spec olm-v1.md B.1): manage its ClusterRoles and bindings and its CRDs,
//! update the ClusterExtension's finalizers, create its bundled objects,
//! and hold every rule the CSV grants. Read from the CSV and the bundle's
//! objects; no I/O.

use std::collections::BTreeSet;

use crate::encoding::json::Value;

/// What of one bundle decides its installer's RBAC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BundleFacts {
    /// `spec.install.spec.clusterPermissions[*].rules` and
    /// `permissions[*].rules`, in CSV order.
    pub csv_rules: Vec<Value>,
    /// Whether the CSV has namespaced `permissions`, for which OLM makes
    /// Roles and RoleBindings in the install namespace.
    pub namespaced_permissions: bool,
    /// Deployment names of the install strategy.
    pub deployments: BTreeSet<String>,
    /// ServiceAccounts the CSV's permissions name.
    pub service_accounts: BTreeSet<String>,
    /// Names of the CRDs the bundle ships.
    pub crds: BTreeSet<String>,
    /// Other bundled objects: `(api group, resource, name, cluster-scoped)`.
    pub objects: BTreeSet<(String, String, String, bool)>,
}

/// Kinds registry+v1 may bundle that are cluster-scoped.
const CLUSTER_SCOPED: &[&str] = &[
    "ClusterRole",
    "ClusterRoleBinding",
    "PriorityClass",
    "ConsoleYAMLSample",
    "ConsoleQuickStart",
    "ConsoleCLIDownload",
    "ConsoleLink",
];

const CREATE: [&str; 3] = ["create", "list", "watch"];
const MANAGE: [&str; 4] = ["get", "update", "patch", "delete"];

/// The facts of a bundle from its CSV and its other manifests.
pub fn bundle_facts(csv: &Value, objects: impl Iterator<Item = Value>) -> BundleFacts {
    let mut facts = BundleFacts::default();
    let install = csv.pointer(&["spec", "install", "spec"]);
    for key in ["clusterPermissions", "permissions"] {
        for permission in install.and_then(|spec| spec.get(key)).and_then(Value::as_array).unwrap_or_default() {
            facts.namespaced_permissions |= key == "permissions";
            if let Some(account) = permission.get("serviceAccountName").and_then(Value::as_str) {
                facts.service_accounts.insert(account.to_string());
            }
            facts.csv_rules.extend(
                permission
                    .get("rules")
                    .and_then(Value::as_array)
                    .unwrap_or_default()
                    .iter()
                    .cloned(),
            );
        }
    }
    for deployment in install
        .and_then(|spec| spec.get("deployments"))
        .and_then(Value::as_array)
        .unwrap_or_default()
    {
        if let Some(name) = deployment.get("name").and_then(Value::as_str) {
            facts.deployments.insert(name.to_string());
        }
    }
    for object in objects {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
        let name = object.pointer(&["metadata", "name"]).and_then(Value::as_str).unwrap_or_default();
        if kind.is_empty() || name.is_empty() || kind == "ClusterServiceVersion" {
            continue;
        }
        if kind == "CustomResourceDefinition" {
            facts.crds.insert(name.to_string());
            continue;
        }
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
        facts.objects.insert((
            group.to_string(),
            resource_of(kind),
            name.to_string(),
            CLUSTER_SCOPED.contains(&kind),
        ));
    }
    facts
}

/// Kubernetes' guess of a kind's resource (`UnsafeGuessKindToResource`).
fn resource_of(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower.ends_with('s') {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str], names: &[&str]) -> Value {
    let strings = |items: &[&str]| Value::Array(items.iter().map(|item| Value::str(*item)).collect());
    let mut entries = vec![
        ("apiGroups".to_string(), strings(groups)),
        ("resources".to_string(), strings(resources)),
        ("verbs".to_string(), strings(verbs)),
    ];
    if !names.is_empty() {
        entries.push(("resourceNames".to_string(), strings(names)));
    }
    Value::Object(entries)
}

/// The installer's ClusterRole rules and its Role rules (in the install
/// namespace) for `extension`.
pub fn installer_rules(facts: &BundleFacts, extension: &str) -> (Vec<Value>, Vec<Value>) {
    let rbac = ["rbac.authorization.k8s.io"];
    // OLM names the roles it makes `<package>.<hash>`: no names to scope by.
    let mut cluster = vec![
        rule(&rbac, &["clusterroles", "clusterrolebindings"], &CREATE, &[]),
        rule(&rbac, &["clusterroles", "clusterrolebindings"], &MANAGE, &[]),
    ];
    if !facts.crds.is_empty() {
        let crds: Vec<&str> = facts.crds.iter().map(String::as_str).collect();
        cluster.push(rule(&["apiextensions.k8s.io"], &["customresourcedefinitions"], &CREATE, &[]));
        cluster.push(rule(&["apiextensions.k8s.io"], &["customresourcedefinitions"], &MANAGE, &crds));
    }
    cluster.push(rule(
        &["olm.operatorframework.io"],
        &["clusterextensions/finalizers"],
        &["update"],
        &[extension],
    ));
    let mut namespaced = Vec::new();
    if facts.namespaced_permissions {
        namespaced.push(rule(&rbac, &["roles", "rolebindings"], &CREATE, &[]));
        namespaced.push(rule(&rbac, &["roles", "rolebindings"], &MANAGE, &[]));
    }
    if !facts.deployments.is_empty() {
        let names: Vec<&str> = facts.deployments.iter().map(String::as_str).collect();
        namespaced.push(rule(&["apps"], &["deployments"], &CREATE, &[]));
        namespaced.push(rule(&["apps"], &["deployments"], &MANAGE, &names));
    }
    let mut accounts: BTreeSet<&str> = facts.service_accounts.iter().map(String::as_str).collect();
    for (group, resource, name, cluster_scoped) in &facts.objects {
        if group.is_empty() && resource == "serviceaccounts" && !cluster_scoped {
            accounts.insert(name);
        }
    }
    if !accounts.is_empty() {
        let names: Vec<&str> = accounts.into_iter().collect();
        namespaced.push(rule(&[""], &["serviceaccounts"], &CREATE, &[]));
        namespaced.push(rule(&[""], &["serviceaccounts"], &MANAGE, &names));
    }
    for (group, resource, name, cluster_scoped) in &facts.objects {
        if group.is_empty() && resource == "serviceaccounts" {
            continue;
        }
        if group == "rbac.authorization.k8s.io" {
            continue;
        }
        let target = if *cluster_scoped { &mut cluster } else { &mut namespaced };
        target.push(rule(&[group], &[resource], &CREATE, &[]));
        target.push(rule(&[group], &[resource], &MANAGE, &[name]));
    }
    // To grant the operator its permissions the installer must hold them.
    cluster.extend(facts.csv_rules.iter().cloned());
    (cluster, namespaced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::json;

    #[test]
    fn resources_follow_kubernetes_guess() {
        assert_eq!(resource_of("Service"), "services");
        assert_eq!(resource_of("PriorityClass"), "priorityclasses");
        assert_eq!(resource_of("NetworkPolicy"), "networkpolicies");
        assert_eq!(resource_of("ConfigMap"), "configmaps");
    }

    #[test]
    fn csv_rules_deployments_and_crds_are_read() {
        let csv = json::parse(
            r#"{"kind":"ClusterServiceVersion","spec":{"install":{"spec":{"deployments":[{"name":"op"}],
            "permissions":[{"serviceAccountName":"op-sa","rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]}]}}}}"#,
        )
        .unwrap();
        let crd = json::parse(
            r#"{"kind":"CustomResourceDefinition","apiVersion":"apiextensions.k8s.io/v1","metadata":{"name":"fruits.example.com"}}"#,
        )
        .unwrap();
        let facts = bundle_facts(&csv, vec![crd].into_iter());
        assert_eq!(facts.deployments.iter().collect::<Vec<_>>(), ["op"]);
        assert_eq!(facts.crds.iter().collect::<Vec<_>>(), ["fruits.example.com"]);
        let (cluster, namespaced) = installer_rules(&facts, "fruits");
        let text = |rules: &[Value]| {
            rules
                .iter()
                .map(|rule| json::to_compact(rule, false))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(text(&cluster).contains(
            r#""resources":["customresourcedefinitions"],"verbs":["get","update","patch","delete"],"resourceNames":["fruits.example.com"]"#
        ));
        assert!(text(&cluster).contains(r#"{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}"#));
        assert!(text(&namespaced).contains(r#""resourceNames":["op-sa"]"#));
    }
}
