//! The deployment keys of a target (`olm`, `[target.deploy]`,
//! `[[target.install]]`) resolved and checked at their keys, so that the
//! deploy encoder gets values it can trust.

use std::collections::BTreeMap;

use super::{Resolver, Sourced, closest, raw};

/// Which OLM's objects a target's deploy YAML holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Olm {
    /// CatalogSource, OperatorGroup, Subscription.
    V0,
    /// ClusterCatalog, ClusterExtension with its ServiceAccount and RBAC.
    V1,
    /// Both sets, in `deploy/v0/` and `deploy/v1/`.
    Both,
}

impl Olm {
    pub const NAMES: [&'static str; 3] = ["v0", "v1", "both"];

    pub fn has_v0(self) -> bool {
        matches!(self, Olm::V0 | Olm::Both)
    }

    pub fn has_v1(self) -> bool {
        matches!(self, Olm::V1 | Olm::Both)
    }
}

/// A target's deployment objects, resolved.
#[derive(Debug, Clone)]
pub struct Deploy {
    pub olm: Olm,
    /// The CatalogSource's namespace.
    pub namespace: String,
    pub priority: Option<i64>,
    /// A Go duration (`30m`), for `registryPoll.interval`.
    pub poll_interval: Option<String>,
    /// The same in whole minutes, for `pollIntervalMinutes`.
    pub poll_interval_minutes: Option<u64>,
    pub secrets: Vec<String>,
    pub grpc_pod_config: Option<GrpcPodConfig>,
    pub operator_source: Option<OperatorSource>,
    pub mirrors: Vec<Mirror>,
    /// `idms` and/or `icsp`.
    pub mirror_objects: Vec<String>,
    pub values: toml::Table,
    pub installs: Vec<Install>,
}

#[derive(Debug, Clone, Default)]
pub struct GrpcPodConfig {
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<toml::Table>,
    pub priority_class_name: Option<String>,
    pub security_context_config: Option<String>,
    pub memory_target: Option<String>,
    /// `(catalogDir, cacheDir)` for binary-less (scratch) catalog images.
    pub extract_content: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct OperatorSource {
    pub endpoint: String,
    pub registry_namespace: String,
    pub secret: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Mirror {
    pub source: String,
    pub mirrors: Vec<String>,
    pub policy: Option<String>,
}

/// One package a target installs.
#[derive(Debug, Clone)]
pub struct Install {
    pub package: Sourced<String>,
    pub namespace: String,
    pub channel: Option<Sourced<String>>,
    pub approval: Option<String>,
    pub starting_csv: Option<String>,
    pub config: Option<toml::Table>,
    /// OperatorGroup `targetNamespaces`; empty = all namespaces.
    pub target_namespaces: Vec<String>,
    /// Whether to write an OperatorGroup for the namespace.
    pub operator_group: bool,
    pub version: Option<String>,
    pub upgrade_constraint_policy: Option<String>,
    pub service_account: String,
}

/// Where OLM's CatalogSources are global on OpenShift.
pub const DEFAULT_CATALOG_NAMESPACE: &str = "openshift-marketplace";

/// Go's `time.ParseDuration`, in seconds (fractions kept), for the units a
/// poll interval uses; `None` if Go would refuse it.
pub fn parse_go_duration(text: &str) -> Option<f64> {
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_len = rest.find(|ch: char| !(ch.is_ascii_digit() || ch == '.')).unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|ch: char| ch.is_ascii_digit() || ch == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Some(total)
}

impl Resolver<'_> {
    pub(super) fn deploy(
        &mut self,
        target: &str,
        olm: Option<&toml::Spanned<String>>,
        raw_deploy: Option<raw::RawDeploy>,
        raw_installs: Vec<raw::RawInstall>,
        target_packages: &[String],
    ) -> Option<Deploy> {
        let Some(olm) = olm else {
            if raw_deploy.is_some() || !raw_installs.is_empty() {
                let span = raw_installs.first().map_or(0..0, |install| install.package.span());
                self.error(span, format!("target `{target}` has deploy settings but no `olm`"))
                    .add_help("set `olm = \"v0\"`, `\"v1\"` or `\"both\"` in the target to write its deployment objects");
            }
            return None;
        };
        let olm_value = match olm.get_ref().as_str() {
            "v0" => Olm::V0,
            "v1" => Olm::V1,
            "both" => Olm::Both,
            other => {
                let help = closest(other, &Olm::NAMES).map_or_else(
                    || "use `v0` (CatalogSource, Subscription), `v1` (ClusterCatalog, ClusterExtension) or `both`".to_string(),
                    |best| format!("did you mean `{best}`?"),
                );
                self.error(olm.span(), format!("unknown `olm = \"{other}\"`")).add_help(help);
                return None;
            }
        };
        let raw_deploy = raw_deploy.unwrap_or(raw::RawDeploy {
            namespace: None,
            priority: None,
            poll_interval: None,
            secrets: Vec::new(),
            grpc_pod_config: None,
            operator_source: None,
            mirrors: Vec::new(),
            mirror_objects: Vec::new(),
            values: toml::Table::new(),
        });
        let namespace = match &raw_deploy.namespace {
            Some(namespace) => {
                self.check_label(namespace, "namespace");
                namespace.get_ref().clone()
            }
            None => DEFAULT_CATALOG_NAMESPACE.to_string(),
        };
        let mut poll_interval_minutes = None;
        if let Some(interval) = &raw_deploy.poll_interval {
            match parse_go_duration(interval.get_ref()) {
                None => {
                    self.error(
                        interval.span(),
                        format!("`poll-interval = \"{}\"` is not a duration", interval.get_ref()),
                    )
                    .add_help("write a Go duration such as `30m`, `1h` or `1h30m`");
                }
                Some(seconds) => {
                    let minutes = seconds / 60.0;
                    if minutes >= 1.0 && minutes.fract() == 0.0 {
                        poll_interval_minutes = Some(minutes as u64);
                    } else if olm_value.has_v1() {
                        self.error(
                            interval.span(),
                            format!("`poll-interval = \"{}\"` is not a whole number of minutes", interval.get_ref()),
                        )
                        .add_help("a ClusterCatalog polls in whole minutes (`pollIntervalMinutes` >= 1)");
                    }
                }
            }
        }
        let grpc_pod_config = raw_deploy.grpc_pod_config.map(|raw| {
            if let Some(level) = &raw.security_context_config
                && !["legacy", "restricted"].contains(&level.get_ref().as_str())
            {
                self.error(level.span(), format!("unknown `security-context-config = \"{}\"`", level.get_ref()))
                    .add_help("use `restricted` or `legacy`");
            }
            GrpcPodConfig {
                node_selector: raw.node_selector,
                tolerations: raw.tolerations,
                priority_class_name: raw.priority_class_name,
                security_context_config: raw.security_context_config.map(toml::Spanned::into_inner),
                memory_target: raw.memory_target,
                extract_content: raw.extract_content.map(|extract| {
                    (
                        extract.catalog_dir.unwrap_or_else(|| "/configs".to_string()),
                        extract.cache_dir.unwrap_or_else(|| "/tmp/cache".to_string()),
                    )
                }),
            }
        });
        let mut mirrors = Vec::new();
        for mirror in raw_deploy.mirrors {
            if let Some(policy) = &mirror.policy
                && !["AllowContactingSource", "NeverContactSource"].contains(&policy.get_ref().as_str())
            {
                self.error(policy.span(), format!("unknown mirror `policy = \"{}\"`", policy.get_ref()))
                    .add_help("use `AllowContactingSource` or `NeverContactSource`");
            }
            if mirror.mirrors.is_empty() {
                self.error(
                    mirror.source.span(),
                    format!("mirror of `{}` lists no `mirrors`", mirror.source.get_ref()),
                );
            }
            mirrors.push(Mirror {
                source: mirror.source.into_inner(),
                mirrors: mirror.mirrors.into_iter().map(toml::Spanned::into_inner).collect(),
                policy: mirror.policy.map(toml::Spanned::into_inner),
            });
        }
        let mut mirror_objects = Vec::new();
        for object in &raw_deploy.mirror_objects {
            match object.get_ref().as_str() {
                "idms" | "icsp" => mirror_objects.push(object.get_ref().clone()),
                other => {
                    self.error(object.span(), format!("unknown mirror object `{other}`"))
                        .add_help("use `idms` (ImageDigestMirrorSet, OpenShift 4.13+) or `icsp` (ImageContentSourcePolicy, older)");
                }
            }
        }
        if mirror_objects.is_empty() {
            mirror_objects.push("idms".to_string());
        }
        let mut installs: Vec<Install> = Vec::new();
        for raw in raw_installs {
            if !target_packages.contains(raw.package.get_ref()) {
                let known: Vec<&str> = target_packages.iter().map(String::as_str).collect();
                let help = closest(raw.package.get_ref(), &known).map_or_else(
                    || format!("the target builds: {}", known.join(", ")),
                    |best| format!("did you mean `{best}`?"),
                );
                self.error(
                    raw.package.span(),
                    format!("target `{target}` installs `{}`, which it does not build", raw.package.get_ref()),
                )
                .add_help(help);
            }
            if installs.iter().any(|install| install.package.value == *raw.package.get_ref()) {
                self.error(
                    raw.package.span(),
                    format!("target `{target}` installs `{}` twice", raw.package.get_ref()),
                );
            }
            let namespace = match &raw.namespace {
                Some(namespace) => {
                    self.check_label(namespace, "namespace");
                    namespace.get_ref().clone()
                }
                None => raw.package.get_ref().clone(),
            };
            if let Some(approval) = &raw.approval
                && !["Automatic", "Manual"].contains(&approval.get_ref().as_str())
            {
                self.error(approval.span(), format!("unknown `approval = \"{}\"`", approval.get_ref()))
                    .add_help("use `Automatic` or `Manual`");
            }
            if let Some(policy) = &raw.upgrade_constraint_policy
                && !["CatalogProvided", "SelfCertified"].contains(&policy.get_ref().as_str())
            {
                self.error(
                    policy.span(),
                    format!("unknown `upgrade-constraint-policy = \"{}\"`", policy.get_ref()),
                )
                .add_help("use `CatalogProvided` or `SelfCertified`");
            }
            let service_account = match &raw.service_account {
                Some(account) => {
                    if !crate::model::k8s_names::is_dns1123_subdomain(account.get_ref()) {
                        self.error(
                            account.span(),
                            format!("service account `{}` is not a valid Kubernetes name", account.get_ref()),
                        );
                    }
                    account.get_ref().clone()
                }
                None => format!("{}-installer", raw.package.get_ref()),
            };
            let target_namespaces = raw
                .target_namespaces
                .unwrap_or_default()
                .into_iter()
                .map(|namespace| {
                    self.check_label(&namespace, "target namespace");
                    namespace.into_inner()
                })
                .collect();
            installs.push(Install {
                package: Sourced::from_spanned(&raw.package),
                namespace,
                channel: raw.channel.as_ref().map(Sourced::from_spanned),
                approval: raw.approval.map(toml::Spanned::into_inner),
                starting_csv: raw.starting_csv,
                config: raw.config,
                target_namespaces,
                operator_group: raw.operator_group.unwrap_or(true),
                version: raw.version,
                upgrade_constraint_policy: raw.upgrade_constraint_policy.map(toml::Spanned::into_inner),
                service_account,
            });
        }
        Some(Deploy {
            olm: olm_value,
            namespace,
            priority: raw_deploy.priority.map(toml::Spanned::into_inner),
            poll_interval: raw_deploy.poll_interval.map(toml::Spanned::into_inner),
            poll_interval_minutes,
            secrets: raw_deploy.secrets.into_iter().map(toml::Spanned::into_inner).collect(),
            grpc_pod_config,
            operator_source: raw_deploy.operator_source.map(|raw| OperatorSource {
                endpoint: raw.endpoint.unwrap_or_else(|| "https://quay.io/cnr".to_string()),
                registry_namespace: raw.registry_namespace.into_inner(),
                secret: raw.secret,
            }),
            mirrors,
            mirror_objects,
            values: raw_deploy.values,
            installs,
        })
    }

    fn check_label(&mut self, value: &toml::Spanned<String>, what: &str) {
        if let Err(reason) = super::dns1123_label_problem(value.get_ref()) {
            self.error(
                value.span(),
                format!("{what} `{}` is not a valid Kubernetes namespace: {reason}", value.get_ref()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_go_duration;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("30m"), Some(1800.0));
        assert_eq!(parse_go_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_go_duration("45s"), Some(45.0));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("m"), None);
        assert_eq!(parse_go_duration(""), None);
    }
}
