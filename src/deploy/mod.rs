//! Deployment YAML: the objects that put a target's catalog on a cluster
//! and install its packages, rendered from minijinja templates
//! ([`templates`], built-ins embedded from `templates/`, a project may
//! override each) and checked before anything is written.
//!
//! OLM v0: Namespace, CatalogSource (grpc, image pinned by digest when one
//! is known), the legacy OperatorSource on request, one OperatorGroup per
//! install namespace and a Subscription per installed package. OLM v1:
//! ClusterCatalog and, per installed package, a ClusterExtension with its
//! installer ServiceAccount and least RBAC ([`rbac`]). Mirrors give an
//! ImageDigestMirrorSet and/or ImageContentSourcePolicy; a
//! `kustomization.yaml` lists every file. No I/O here except reading the
//! override directory ([`templates::Templates::load`]), which the pipeline
//! does as a declared input.

pub mod rbac;
pub mod templates;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use minijinja::Value;
use serde::Serialize;

use crate::config::deploy::{Deploy, Install, Olm};
use crate::config::{Catalog, Target};
use crate::diag::{Diagnostic, Location};
use crate::encoding::json;
use crate::semver::Version;

pub use rbac::BundleFacts;
pub use templates::Templates;

/// The directory of a target that holds its deployment YAML.
pub const DEPLOY_DIR: &str = "deploy";

/// Namespaces a cluster already has: never written as objects, so that
/// `kubectl delete -k` cannot take them away.
const SYSTEM_NAMESPACES: &[&str] = &[
    "default",
    "kube-system",
    "kube-public",
    "olm",
    "operators",
    "openshift-marketplace",
    "openshift-operators",
];

/// Namespaces whose OperatorGroup (`global-operators`) OLM installs itself.
const GLOBAL_OPERATOR_NAMESPACES: &[&str] = &["operators", "openshift-operators"];

/// The catalog image as deployment objects name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogImage {
    /// What the objects pull: `name@sha256:…` when a digest is known.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The tag reference it was pinned from, kept in an annotation.
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// Pins `reference` by `digest` (the catalog image's manifest digest, once
/// images are built). A reference that already names a digest stays as
/// written; without a digest the tag reference is used as it is.
pub fn pin_catalog_image(reference: &str, digest: Option<&str>) -> CatalogImage {
    if let Some((_, written)) = reference.split_once('@') {
        return CatalogImage {
            reference: reference.to_string(),
            tag: None,
            digest: Some(written.to_string()),
        };
    }
    let Some(digest) = digest else {
        return CatalogImage {
            reference: reference.to_string(),
            tag: None,
            digest: None,
        };
    };
    // The tag is after the last `:` that follows the last `/` (a `:` before
    // it is a registry port).
    let last_slash = reference.rfind('/').map_or(0, |idx| idx + 1);
    let repository = match reference[last_slash..].rfind(':') {
        Some(colon) => &reference[..last_slash + colon],
        None => reference,
    };
    CatalogImage {
        reference: format!("{repository}@{digest}"),
        tag: Some(reference.to_string()),
        digest: Some(digest.to_string()),
    }
}

/// What deploy needs of one validated package: its channels and their
/// bundles with versions.
#[derive(Debug, Clone, Default)]
pub struct PackageFacts {
    pub name: String,
    pub default_channel: Option<String>,
    pub channels: BTreeMap<String, Vec<(String, Version)>>,
}

impl PackageFacts {
    pub fn from_model(model: &crate::model::Model) -> Vec<PackageFacts> {
        model
            .packages
            .values()
            .map(|package| PackageFacts {
                name: package.name.clone(),
                default_channel: package.default_channel.clone(),
                channels: package
                    .channels
                    .values()
                    .map(|channel| {
                        let bundles = channel
                            .bundles
                            .values()
                            .map(|bundle| (bundle.name.clone(), bundle.version.clone()))
                            .collect();
                        (channel.name.clone(), bundles)
                    })
                    .collect(),
            })
            .collect()
    }
}

/// Everything a target's deployment objects are made of.
pub struct DeployInput<'a> {
    pub config_path: &'a Path,
    pub catalog: &'a Catalog,
    pub target: &'a Target,
    pub deploy: &'a Deploy,
    /// The catalog icon's bytes and media type.
    pub icon: Option<(&'a [u8], String)>,
    /// The catalog image's digest, once the image is built.
    pub image_digest: Option<&'a str>,
    pub templates: &'a Templates,
    /// The target's packages.
    pub packages: &'a [PackageFacts],
    /// Per bundle name, what its installer's RBAC is made of.
    pub bundles: &'a BTreeMap<String, BundleFacts>,
}

/// One rendered file, relative to the target's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployFile {
    pub path: PathBuf,
    pub text: String,
}

#[derive(Serialize)]
struct CatalogContext<'a> {
    name: &'a str,
    display_name: Option<&'a str>,
    publisher: Option<&'a str>,
    description: Option<&'a str>,
    icon: Option<IconContext>,
}

#[derive(Serialize)]
struct IconContext {
    base64data: String,
    mediatype: String,
}

#[derive(Serialize)]
struct DeployContext<'a> {
    olm: &'static str,
    namespace: &'a str,
    priority: Option<i64>,
    poll_interval: Option<&'a str>,
    poll_interval_minutes: Option<u64>,
    secrets: &'a [String],
    grpc_pod_config: Option<GrpcContext<'a>>,
    operator_source: Option<OperatorSourceContext<'a>>,
    mirrors: Vec<MirrorContext<'a>>,
    values: &'a toml::Table,
}

#[derive(Serialize)]
struct GrpcContext<'a> {
    node_selector: &'a BTreeMap<String, String>,
    tolerations: &'a [toml::Table],
    priority_class_name: Option<&'a str>,
    security_context_config: Option<&'a str>,
    memory_target: Option<&'a str>,
    extract_content: Option<ExtractContext<'a>>,
}

#[derive(Serialize)]
struct ExtractContext<'a> {
    catalog_dir: &'a str,
    cache_dir: &'a str,
}

#[derive(Serialize)]
struct OperatorSourceContext<'a> {
    endpoint: &'a str,
    registry_namespace: &'a str,
    secret: Option<&'a str>,
}

#[derive(Serialize)]
struct MirrorContext<'a> {
    source: &'a str,
    mirrors: &'a [String],
    policy: Option<&'a str>,
}

#[derive(Serialize)]
struct InstallContext<'a> {
    package: &'a str,
    /// The ClusterExtension's name.
    name: &'a str,
    namespace: &'a str,
    channel: Option<&'a str>,
    approval: Option<&'a str>,
    starting_csv: Option<&'a str>,
    config: Option<&'a toml::Table>,
    target_namespaces: &'a [String],
    version: Option<&'a str>,
    upgrade_constraint_policy: Option<&'a str>,
    service_account: &'a str,
}

/// Renders every deployment file of a target; every problem is reported
/// (template file and line, or template and object), and nothing is
/// returned unless all of it is good.
pub fn render_target(input: &DeployInput) -> Result<Vec<DeployFile>, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let image_reference = input.target.image.as_ref().map_or("", |image| image.value.as_str());
    let image = pin_catalog_image(image_reference, input.image_digest);
    let deploy = input.deploy;
    let catalog = CatalogContext {
        name: &input.catalog.name,
        display_name: input.catalog.display_name.as_deref(),
        publisher: input.catalog.publisher.as_deref(),
        description: input.catalog.description.as_deref(),
        icon: input.icon.as_ref().map(|(bytes, mediatype)| IconContext {
            base64data: base64_standard(bytes),
            mediatype: mediatype.clone(),
        }),
    };
    let deploy_context = DeployContext {
        olm: match deploy.olm {
            Olm::V0 => "v0",
            Olm::V1 => "v1",
            Olm::Both => "both",
        },
        namespace: &deploy.namespace,
        priority: deploy.priority,
        poll_interval: deploy.poll_interval.as_deref(),
        poll_interval_minutes: deploy.poll_interval_minutes,
        secrets: &deploy.secrets,
        grpc_pod_config: deploy.grpc_pod_config.as_ref().map(|pod| GrpcContext {
            node_selector: &pod.node_selector,
            tolerations: &pod.tolerations,
            priority_class_name: pod.priority_class_name.as_deref(),
            security_context_config: pod.security_context_config.as_deref(),
            memory_target: pod.memory_target.as_deref(),
            extract_content: pod
                .extract_content
                .as_ref()
                .map(|(catalog_dir, cache_dir)| ExtractContext { catalog_dir, cache_dir }),
        }),
        operator_source: deploy.operator_source.as_ref().map(|source| OperatorSourceContext {
            endpoint: &source.endpoint,
            registry_namespace: &source.registry_namespace,
            secret: source.secret.as_deref(),
        }),
        mirrors: deploy
            .mirrors
            .iter()
            .map(|mirror| MirrorContext {
                source: &mirror.source,
                mirrors: &mirror.mirrors,
                policy: mirror.policy.as_deref(),
            })
            .collect(),
        values: &deploy.values,
    };
    let base = BTreeMap::from([
        ("catalog", ser(&catalog)),
        ("target", ser(BTreeMap::from([("name", input.target.name.as_str())]))),
        ("vars", ser(&input.target.vars)),
        ("image", ser(&image)),
        ("deploy", ser(&deploy_context)),
    ]);
    let mut renderer = Renderer {
        input,
        base,
        diagnostics: &mut diagnostics,
    };
    let sets: Vec<(Olm, PathBuf)> = match deploy.olm {
        Olm::V0 => vec![(Olm::V0, PathBuf::from(DEPLOY_DIR))],
        Olm::V1 => vec![(Olm::V1, PathBuf::from(DEPLOY_DIR))],
        Olm::Both => vec![
            (Olm::V0, Path::new(DEPLOY_DIR).join("v0")),
            (Olm::V1, Path::new(DEPLOY_DIR).join("v1")),
        ],
    };
    let mut files = Vec::new();
    for (olm, dir) in sets {
        let set = if olm == Olm::V0 { renderer.v0() } else { renderer.v1() };
        let resources: Vec<String> = set.iter().map(|(name, _)| name.clone()).collect();
        let kustomization = renderer.render("kustomization.yaml.j2", &[("resources", ser(&resources))]);
        for (name, text) in set
            .into_iter()
            .chain(kustomization.map(|text| ("kustomization.yaml".to_string(), text)))
        {
            files.push(DeployFile {
                path: dir.join(name),
                text,
            });
        }
    }
    if diagnostics.is_empty() { Ok(files) } else { Err(diagnostics) }
}

struct Renderer<'a, 'd> {
    input: &'a DeployInput<'a>,
    base: BTreeMap<&'static str, Value>,
    diagnostics: &'d mut Vec<Diagnostic>,
}

impl Renderer<'_, '_> {
    /// Renders one template with the base context plus `extra`, and checks
    /// the YAML it gives.
    fn render(&mut self, name: &'static str, extra: &[(&'static str, Value)]) -> Option<String> {
        let template = self.input.templates.get(name);
        let mut context = self.base.clone();
        context.extend(extra.iter().cloned());
        match templates::render(&template, &ser(&context)) {
            Ok(mut text) => {
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                let problems = check_documents(name, &text);
                if problems.is_empty() {
                    return Some(text);
                }
                for problem in problems {
                    let mut diagnostic = Diagnostic::error("deploy", format!("deploy template `{name}` renders {problem}"))
                        .at(Location::file(&template.path));
                    if !template.overridden {
                        diagnostic = diagnostic.note("a built-in template: please report this");
                    }
                    self.diagnostics.push(diagnostic);
                }
                None
            }
            Err(error) => {
                self.diagnostics.push(error.diagnostic);
                None
            }
        }
    }

    fn namespaces(&mut self, extra: Option<&str>) -> Option<(String, String)> {
        let mut names: BTreeSet<&str> = BTreeSet::new();
        for install in &self.input.deploy.installs {
            names.insert(&install.namespace);
            names.extend(install.target_namespaces.iter().map(String::as_str));
        }
        names.extend(extra);
        let texts: Vec<String> = names
            .into_iter()
            .filter(|name| !SYSTEM_NAMESPACES.contains(name))
            .filter_map(|name| self.render("namespace.yaml.j2", &[("namespace", ser(BTreeMap::from([("name", name)])))]))
            .collect();
        if texts.is_empty() {
            return None;
        }
        Some(("namespace.yaml".to_string(), join_documents(&texts)))
    }

    fn mirrors(&mut self, files: &mut Vec<(String, String)>) {
        if self.input.deploy.mirrors.is_empty() {
            return;
        }
        for object in &self.input.deploy.mirror_objects {
            let (template, file) = match object.as_str() {
                "icsp" => ("imagecontentsourcepolicy.yaml.j2", "imagecontentsourcepolicy.yaml"),
                _ => ("imagedigestmirrorset.yaml.j2", "imagedigestmirrorset.yaml"),
            };
            if let Some(text) = self.render(template, &[]) {
                files.push((file.to_string(), text));
            }
        }
    }

    fn v0(&mut self) -> Vec<(String, String)> {
        let deploy = self.input.deploy;
        let mut files = Vec::new();
        files.extend(self.namespaces(Some(&deploy.namespace)));
        files.extend(
            self.render("catalogsource.yaml.j2", &[])
                .map(|text| ("catalogsource.yaml".to_string(), text)),
        );
        if deploy.operator_source.is_some() {
            files.extend(
                self.render("operatorsource.yaml.j2", &[])
                    .map(|text| ("operatorsource.yaml".to_string(), text)),
            );
        }
        // Exactly one OperatorGroup per namespace: the first install there
        // that wants one decides its target namespaces.
        let mut grouped = BTreeSet::new();
        for install in &deploy.installs {
            if !install.operator_group
                || GLOBAL_OPERATOR_NAMESPACES.contains(&install.namespace.as_str())
                || !grouped.insert(&install.namespace)
            {
                continue;
            }
            let group = BTreeMap::from([
                ("name", Value::from(install.namespace.as_str())),
                ("namespace", Value::from(install.namespace.as_str())),
                ("target_namespaces", ser(&install.target_namespaces)),
            ]);
            if let Some(text) = self.render("operatorgroup.yaml.j2", &[("operator_group", ser(&group))]) {
                files.push((format!("operatorgroup-{}.yaml", install.namespace), text));
            }
        }
        for install in &deploy.installs {
            // Reports a channel the package does not have.
            self.installed_bundle(install);
            let context = install_context(install);
            if let Some(text) = self.render("subscription.yaml.j2", &[("install", ser(&context))]) {
                files.push((format!("subscription-{}.yaml", install.package.value), text));
            }
        }
        self.mirrors(&mut files);
        files
    }

    fn v1(&mut self) -> Vec<(String, String)> {
        let deploy = self.input.deploy;
        let mut files = Vec::new();
        files.extend(self.namespaces(None));
        files.extend(
            self.render("clustercatalog.yaml.j2", &[])
                .map(|text| ("clustercatalog.yaml".to_string(), text)),
        );
        for install in &deploy.installs {
            let package = &install.package.value;
            let context = ser(install_context(install));
            let Some(bundle) = self.installed_bundle(install) else {
                continue;
            };
            let facts = self.input.bundles.get(&bundle).cloned().unwrap_or_default();
            let (cluster_rules, namespace_rules) = rbac::installer_rules(&facts, package);
            let to_values = |rules: &[json::Value]| rules.iter().map(json_value).collect::<Vec<Value>>();
            let role = format!("{package}-installer");
            let rbac_context = BTreeMap::from([
                ("bundle", Value::from(bundle.as_str())),
                ("cluster_role", Value::from(role.as_str())),
                ("role", Value::from(role.as_str())),
                ("cluster_rules", Value::from(to_values(&cluster_rules))),
                ("namespace_rules", Value::from(to_values(&namespace_rules))),
            ]);
            let extra = [("install", context), ("rbac", ser(&rbac_context))];
            for (template, file) in [
                ("serviceaccount.yaml.j2", format!("serviceaccount-{package}.yaml")),
                ("rbac.yaml.j2", format!("rbac-{package}.yaml")),
                ("clusterextension.yaml.j2", format!("clusterextension-{package}.yaml")),
            ] {
                if let Some(text) = self.render(template, &extra) {
                    files.push((file, text));
                }
            }
        }
        self.mirrors(&mut files);
        files
    }

    /// The bundle OLM v1 would install: the highest version among the
    /// entries of the chosen channel (default channel when none is named).
    fn installed_bundle(&mut self, install: &Install) -> Option<String> {
        let package = self.input.packages.iter().find(|package| package.name == install.package.value)?;
        let channel_name = install
            .channel
            .as_ref()
            .map(|channel| channel.value.clone())
            .or_else(|| package.default_channel.clone())
            .unwrap_or_default();
        let Some(bundles) = package.channels.get(&channel_name) else {
            let names: Vec<&str> = package.channels.keys().map(String::as_str).collect();
            let span = install
                .channel
                .as_ref()
                .map_or(install.package.span.clone(), |channel| channel.span.clone());
            let help = crate::config::closest(&channel_name, &names).map_or_else(
                || format!("channels of `{}`: {}", package.name, names.join(", ")),
                |best| format!("did you mean `{best}`?"),
            );
            self.diagnostics.push(
                Diagnostic::error("config", format!("package `{}` has no channel `{channel_name}`", package.name))
                    .at(Location::span(self.input.config_path, span))
                    .help(help),
            );
            return None;
        };
        bundles
            .iter()
            .max_by(|(_, left), (_, right)| left.compare(right))
            .map(|(name, _)| name.clone())
    }
}

fn install_context(install: &Install) -> InstallContext<'_> {
    InstallContext {
        package: &install.package.value,
        name: &install.package.value,
        namespace: &install.namespace,
        channel: install.channel.as_ref().map(|channel| channel.value.as_str()),
        approval: install.approval.as_deref(),
        starting_csv: install.starting_csv.as_deref(),
        config: install.config.as_ref(),
        target_namespaces: &install.target_namespaces,
        version: install.version.as_deref(),
        upgrade_constraint_policy: install.upgrade_constraint_policy.as_deref(),
        service_account: &install.service_account,
    }
}

/// Documents of several renders as one YAML stream.
fn join_documents(texts: &[String]) -> String {
    let mut out = String::new();
    for (idx, text) in texts.iter().enumerate() {
        if idx > 0 {
            out.push_str("---\n");
        }
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

fn json_value(value: &json::Value) -> Value {
    match value {
        json::Value::Null => Value::from(()),
        json::Value::Bool(flag) => Value::from(*flag),
        json::Value::Number(number) => {
            let text = number.as_str();
            text.parse::<i64>().map_or_else(|_| Value::from(number.as_f64()), Value::from)
        }
        json::Value::String(text) => Value::from(text.as_str()),
        json::Value::Array(items) => Value::from(items.iter().map(json_value).collect::<Vec<_>>()),
        json::Value::Object(entries) => Value::from_pairs(entries.iter().map(|(key, value)| (key.clone(), json_value(value)))),
        json::Value::Raw(text) => json::parse(text).map_or_else(|_| Value::from(text.as_str()), |parsed| json_value(&parsed)),
    }
}

/// A template value from anything serde can serialize.
fn ser<T: Serialize>(value: T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The objects a deploy template may write, with the fields each must
/// have and the top-level fields its API knows (a structural check of
/// the schema, so an override that writes a wrong object is stopped here;
/// the tests validate every object against the full schemas).
struct Shape {
    api_version: &'static str,
    kind: &'static str,
    cluster_scoped: bool,
    required: &'static [&'static [&'static str]],
    top_level: &'static [&'static str],
}

const SPEC: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const RBAC_ROLE: &[&str] = &["apiVersion", "kind", "metadata", "rules", "aggregationRule"];
const RBAC_BINDING: &[&str] = &["apiVersion", "kind", "metadata", "roleRef", "subjects"];

const SHAPES: &[Shape] = &[
    Shape {
        api_version: "v1",
        kind: "Namespace",
        cluster_scoped: true,
        required: &[],
        top_level: SPEC,
    },
    Shape {
        api_version: "v1",
        kind: "ServiceAccount",
        cluster_scoped: false,
        required: &[],
        top_level: &[
            "apiVersion",
            "kind",
            "metadata",
            "secrets",
            "imagePullSecrets",
            "automountServiceAccountToken",
        ],
    },
    Shape {
        api_version: "operators.coreos.com/v1alpha1",
        kind: "CatalogSource",
        cluster_scoped: false,
        required: &[&["spec", "sourceType"]],
        top_level: SPEC,
    },
    Shape {
        api_version: "operators.coreos.com/v1",
        kind: "OperatorSource",
        cluster_scoped: false,
        required: &[&["spec", "type"], &["spec", "endpoint"], &["spec", "registryNamespace"]],
        top_level: SPEC,
    },
    Shape {
        api_version: "operators.coreos.com/v1",
        kind: "OperatorGroup",
        cluster_scoped: false,
        required: &[],
        top_level: SPEC,
    },
    Shape {
        api_version: "operators.coreos.com/v1alpha1",
        kind: "Subscription",
        cluster_scoped: false,
        required: &[&["spec", "name"], &["spec", "source"], &["spec", "sourceNamespace"]],
        top_level: SPEC,
    },
    Shape {
        api_version: "olm.operatorframework.io/v1",
        kind: "ClusterCatalog",
        cluster_scoped: true,
        required: &[&["spec", "source", "type"]],
        top_level: SPEC,
    },
    Shape {
        api_version: "olm.operatorframework.io/v1",
        kind: "ClusterExtension",
        cluster_scoped: true,
        required: &[
            &["spec", "namespace"],
            &["spec", "serviceAccount", "name"],
            &["spec", "source", "sourceType"],
        ],
        top_level: SPEC,
    },
    Shape {
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        cluster_scoped: true,
        required: &[],
        top_level: RBAC_ROLE,
    },
    Shape {
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        cluster_scoped: false,
        required: &[],
        top_level: RBAC_ROLE,
    },
    Shape {
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        cluster_scoped: true,
        required: &[&["roleRef"]],
        top_level: RBAC_BINDING,
    },
    Shape {
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        cluster_scoped: false,
        required: &[&["roleRef"]],
        top_level: RBAC_BINDING,
    },
    Shape {
        api_version: "config.openshift.io/v1",
        kind: "ImageDigestMirrorSet",
        cluster_scoped: true,
        required: &[&["spec"]],
        top_level: &["apiVersion", "kind", "metadata", "spec", "status"],
    },
    Shape {
        api_version: "operator.openshift.io/v1alpha1",
        kind: "ImageContentSourcePolicy",
        cluster_scoped: true,
        required: &[&["spec"]],
        top_level: SPEC,
    },
];

/// Problems of a rendered file, each naming the object it is about.
pub fn check_documents(template: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (idx, document) in crate::encoding::yaml_in::decode_stream(text).into_iter().enumerate() {
        let document = match document {
            Ok(document) => document,
            Err(error) => {
                problems.push(format!("invalid YAML at line {} of its output: {}", error.line, error.message));
                continue;
            }
        };
        if template == "kustomization.yaml.j2" {
            if document.value.get("resources").and_then(json::Value::as_array).is_none() {
                problems.push("a kustomization without a `resources` list".to_string());
            }
            continue;
        }
        let value = &document.value;
        if value.is_null() {
            continue;
        }
        if value.as_object().is_none() {
            problems.push(format!("document {idx}, which is not a mapping"));
            continue;
        }
        let kind = value.get("kind").and_then(json::Value::as_str).unwrap_or_default();
        let api_version = value.get("apiVersion").and_then(json::Value::as_str).unwrap_or_default();
        let name = value
            .pointer(&["metadata", "name"])
            .and_then(json::Value::as_str)
            .unwrap_or_default();
        let object = format!("{} `{}`", if kind.is_empty() { "an object" } else { kind }, name);
        let Some(shape) = SHAPES.iter().find(|shape| shape.kind == kind && shape.api_version == api_version) else {
            problems.push(format!("{object} of `apiVersion: {api_version}`, which deploy does not write"));
            continue;
        };
        if name.is_empty() {
            problems.push(format!("{object} without `metadata.name`"));
        } else if !shape.kind.contains("Role") && !crate::model::k8s_names::is_dns1123_subdomain(name) {
            problems.push(format!("{object}, whose name is not a valid Kubernetes name"));
        }
        if shape.cluster_scoped && value.pointer(&["metadata", "namespace"]).is_some() {
            problems.push(format!("{object} with `metadata.namespace`, but {kind} is cluster-scoped"));
        }
        for path in shape.required {
            if value.pointer(path).is_none() {
                problems.push(format!("{object} without `{}`", path.join(".")));
            }
        }
        for (key, _) in value.as_object().unwrap_or_default() {
            if !shape.top_level.contains(&key.as_str()) {
                problems.push(format!("{object} with unknown field `{key}`"));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_keeps_the_tag_and_a_written_digest() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let pinned = pin_catalog_image("quay.io/example/fruits-catalog:ocp-4.16", Some(digest));
        assert_eq!(pinned.reference, format!("quay.io/example/fruits-catalog@{digest}"));
        assert_eq!(pinned.tag.as_deref(), Some("quay.io/example/fruits-catalog:ocp-4.16"));
        let port = pin_catalog_image("localhost:5000/cat", Some(digest));
        assert_eq!(port.reference, format!("localhost:5000/cat@{digest}"));
        let written = pin_catalog_image(&format!("quay.io/example/cat@{digest}"), None);
        assert_eq!(written.digest.as_deref(), Some(digest));
        assert_eq!(
            pin_catalog_image("quay.io/example/cat:v1", None).reference,
            "quay.io/example/cat:v1"
        );
    }

    #[test]
    fn wrong_objects_are_named() {
        let problems = check_documents(
            "catalogsource.yaml.j2",
            "apiVersion: operators.coreos.com/v1alpha1\nkind: CatalogSource\nmetadata:\n  name: x\nspec: {}\nextra: 1\n",
        );
        assert_eq!(
            problems,
            [
                "CatalogSource `x` without `spec.sourceType`",
                "CatalogSource `x` with unknown field `extra`"
            ]
        );
        let problems = check_documents("namespace.yaml.j2", "a: [\n");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("invalid YAML"), "{problems:?}");
    }
}
