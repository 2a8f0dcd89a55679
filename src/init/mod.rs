//! Adopting an existing operator repository (`catbuild init`): [`plan`]
//! scans directories and returns an [`InitPlan`] (the packages found, their
//! bundle patterns and channel policies, the catalog templates adopted, and
//! warnings as data); [`write_catalog_toml`] serializes a plan into
//! `catalog.toml` text. Nothing here prints or writes a file: the CLI does.
//!
//! What is found ([`scan`]): bundle directories (also nested under
//! `bundle/` or `certification/`), package-manifest directories and
//! community-operators style `<package>/<version>/` trees, one package per
//! package name.
//!
//! The channel policy comes from the package's community-operators
//! `ci.yaml` ([`ci`]):
//! * `updateGraph: replaces-mode` / `semver-mode` / `semver-skippatch-mode`
//!   → `replaces` / `semver-mode` / `semver-skippatch-mode` (opm's add
//!   modes, which the community pipeline builds such packages with); an
//!   unknown value is a warning and the package gets `replaces`. A
//!   `replaces-mode` package with bundles no channel head reaches gets
//!   `unreachable = "drop"` ([`reach`]): upstream's index drops them. In a
//!   community tree (other packages have a `ci.yaml`), a package with no
//!   `updateGraph` is built in the pipeline's default, `replaces-mode`,
//!   and is treated so;
//! * `fbc.enabled: true`: upstream builds the package from an opm template
//!   (`catalog-templates/`), and the bundles' channel annotations need not
//!   describe that graph at all. init reads the template that
//!   `fbc.catalog_mapping` assigns to the newest catalog (`v4.21` beats
//!   `v4.9`) and adopts it ([`adopt`]): a basic template becomes explicit
//!   channels, keeping only the entries whose bundle was found (templates
//!   often list newer bundles than a checkout holds) and leaving out found
//!   bundles the template does not list (upstream does not publish them); a
//!   semver template gives its generate flags. What was dropped is said in
//!   TOML comments ([`write`]), so a reader sees every difference from
//!   upstream.
//!
//! Given an opm `index.db` instead of directories, init writes one
//! `[[package]]` with `index-db` per package of the index ([`index_db`]).
//!
//! A directory whose `metadata/` names a package but that has no
//! `manifests/` is listed too, with a comment: the build then says what is
//! wrong instead of a version going missing without a word.

mod adopt;
mod ci;
mod images;
mod index_db;
mod reach;
mod scan;
mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

pub use adopt::{AdoptedChannel, ExplicitAdoption, SemverAdoption};
pub use images::TemplateImages;
pub use index_db::write_index_db_catalog_toml;
pub use write::write_catalog_toml;

use adopt::Adoption;
use ci::CiPolicy;
use scan::{FoundPackage, Scan};

/// What `catbuild init` was asked to adopt.
#[derive(Debug, Clone)]
pub struct InitRequest<'a> {
    /// Directories to scan; the current directory when empty.
    pub dirs: &'a [PathBuf],
    /// The absolute directory `catalog.toml` goes to: paths in it are
    /// written relative to this directory.
    pub config_dir: &'a Path,
    /// `[catalog] name`; derived from `config_dir`'s name when `None`.
    pub catalog_name: Option<&'a str>,
}

/// Everything `catalog.toml` will say, and what the CLI reports.
#[derive(Debug)]
pub struct InitPlan {
    pub catalog_name: String,
    /// The directory of `catalog.toml`, absolute and without `.` or `..`.
    pub config_dir: PathBuf,
    /// One per package name, sorted by name.
    pub packages: Vec<PlannedPackage>,
    /// In the order found: skipped directories, then bundles without
    /// `manifests/` (by package).
    pub warnings: Vec<InitWarning>,
}

/// One `[[package]]` table.
#[derive(Debug)]
pub struct PlannedPackage {
    pub name: String,
    /// Every bundle directory found for the package, in scan order.
    pub bundles: Vec<FoundBundle>,
    /// How `bundles = [...]` names them.
    pub bundle_list: BundleList,
    /// Package-manifest directories (`<pkg>.package.yaml` + version dirs).
    pub package_manifests: Vec<PathBuf>,
    pub channel_policy: PlannedChannelPolicy,
    /// Bundles no channel head reaches, for a package `ci.yaml` builds in
    /// replaces mode (which drops them): written as `unreachable = "drop"`.
    pub unreachable: Vec<crate::graph::UnreachableBundle>,
    /// For a classic package (channels from bundles) whose bundles carry
    /// `com.redhat.openshift.versions`: the community catalogs (v4.12 to
    /// v4.22, those COP publishes) some bundle's annotation admits.
    pub annotated_versions: Vec<crate::openshift::OcpVersion>,
    /// Bundle directories whose annotation admits none of those catalogs
    /// (upstream publishes them nowhere now), with the value: excluded.
    pub admits_none: Vec<(PathBuf, String)>,
}

/// The OpenShift catalogs the community pipeline publishes
/// (community-operators-prod `catalogs/`: `v4.12` … `v4.22`), which a
/// classic package's annotations are read against.
pub const COMMUNITY_CATALOGS: (crate::openshift::OcpVersion, crate::openshift::OcpVersion) =
    (crate::openshift::OcpVersion::new(4, 12), crate::openshift::OcpVersion::new(4, 22));

/// One bundle directory and why it is special, if it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundBundle {
    pub dir: PathBuf,
    pub note: Option<BundleNote>,
}

/// Why a bundle directory gets a comment in `catalog.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleNote {
    /// Found under `bundle/` or `certification/` of a version directory.
    NestedUnder(&'static str),
    /// `metadata/` names a package but there is no `manifests/`.
    NoManifestsDirectory,
}

impl std::fmt::Display for BundleNote {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BundleNote::NestedUnder(subdir) => write!(formatter, "bundle found under `{subdir}/`"),
            BundleNote::NoManifestsDirectory => {
                formatter.write_str("no `manifests/` directory; catbuild will report this bundle until its manifests are moved there")
            }
        }
    }
}

/// How a package's `bundles` key lists its directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleList {
    /// No bundle directories (package manifests only): no `bundles` key.
    Empty,
    /// `["<parent>/*"]`: the bundles are exactly the bundle-like
    /// directories of `parent`.
    Wildcard(PathBuf),
    /// One line per directory; those the adopted template does not list
    /// are written as comments.
    Dirs {
        listed: Vec<FoundBundle>,
        left_out: Vec<LeftOutBundle>,
    },
}

/// A bundle directory the package's adopted basic template does not list,
/// so upstream does not publish it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOutBundle {
    pub bundle: FoundBundle,
    /// Its CSV's `metadata.name`.
    pub csv_name: String,
}

/// The `opm index add` modes a `ci.yaml` can name in `updateGraph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateGraph {
    Replaces,
    SemverMode,
    SemverSkipPatchMode,
}

impl UpdateGraph {
    /// The `updateGraph` value of `ci.yaml`.
    pub fn from_ci(update_graph: &str) -> Option<UpdateGraph> {
        match update_graph {
            "replaces-mode" => Some(UpdateGraph::Replaces),
            "semver-mode" => Some(UpdateGraph::SemverMode),
            "semver-skippatch-mode" => Some(UpdateGraph::SemverSkipPatchMode),
            _ => None,
        }
    }

    /// The `channel-policy` value.
    pub fn name(self) -> &'static str {
        match self {
            UpdateGraph::Replaces => "replaces",
            UpdateGraph::SemverMode => "semver-mode",
            UpdateGraph::SemverSkipPatchMode => "semver-skippatch-mode",
        }
    }
}

/// The catalog template `ci.yaml` assigns to the newest catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogTemplateSource {
    pub path: PathBuf,
    /// The catalog name it is mapped to, e.g. `v4.21`.
    pub catalog: String,
    /// Every catalog name mapped to it or to an identical copy (`v4.15`
    /// … `v4.21`).
    pub catalogs: Vec<String>,
    /// Templates that differ from it, with their catalog names: adopted
    /// per version where they can be ([`PlannedChannelPolicy::Explicit`]),
    /// else named in a comment and not built.
    pub others: Vec<(PathBuf, Vec<String>)>,
}

/// A basic template mapped to some catalogs, adopted for those versions.
#[derive(Debug)]
pub struct VersionedAdoption {
    pub template: PathBuf,
    pub catalogs: Vec<String>,
    pub adoption: ExplicitAdoption,
}

/// A package's `channel-policy`, and where it came from.
#[derive(Debug)]
pub enum PlannedChannelPolicy {
    /// Nothing says otherwise: opm's replaces mode.
    Replaces,
    /// No `updateGraph` (no `ci.yaml`, or one without the key) in a
    /// community-operators tree, where other packages have a `ci.yaml`: the
    /// community pipeline builds such a package in its default mode,
    /// `replaces-mode`, as if `ci.yaml` said so.
    CommunityDefault,
    /// `ci.yaml`'s `updateGraph`.
    FromCi { update_graph: UpdateGraph, ci_yaml: PathBuf },
    /// A basic catalog template, adopted as explicit channels; with
    /// per-version templates that differ, each of the others too
    /// (`versioned`, the channels then keyed by `openshift`).
    Explicit {
        adoption: ExplicitAdoption,
        template: CatalogTemplateSource,
        versioned: Vec<VersionedAdoption>,
    },
    /// A semver catalog template, adopted as the semver policy.
    Semver {
        adoption: SemverAdoption,
        template: CatalogTemplateSource,
    },
    /// `ci.yaml` has `fbc.enabled: true` but its template could not be
    /// adopted: the fallback policy and why.
    TemplateNotAdopted {
        ci_yaml: PathBuf,
        fallback: UpdateGraph,
        reason: TemplateNotAdopted,
    },
}

/// Why a package's catalog template was not adopted. The text goes into a
/// `catalog.toml` comment.
#[derive(Debug, thiserror::Error)]
pub enum TemplateNotAdopted {
    #[error("ci.yaml has `fbc.enabled: true` but no `fbc.catalog_mapping` list")]
    NoCatalogMapping,
    #[error("no entry of `fbc.catalog_mapping` names a catalog like `v4.21` and a template")]
    NoCatalogVersion,
    #[error("ci.yaml maps catalog {catalog} to `catalog-templates/{template_name}`, which does not exist")]
    MissingTemplate { catalog: String, template_name: String },
    #[error(transparent)]
    Unreadable(std::io::Error),
    #[error("the template does not decode: {message}")]
    NotYaml { message: String },
    #[error("the template is empty")]
    Empty,
    #[error("the template does not load: {0}")]
    BasicDoesNotLoad(crate::catalog_template::TemplateError),
    #[error("no channel of package `{package}` in the template lists a bundle that was found")]
    NoChannelWithFoundBundle { package: String },
    #[error("the template has schema `{schema}`, which init does not adopt")]
    UnknownSchema { schema: String },
    #[error("the template has no `schema`")]
    NoSchema,
}

/// What the user should know about the scan; `catalog.toml` is written
/// anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitWarning {
    /// A bundle-like directory whose `metadata/` names no package.
    NoPackageAnnotation { dir: PathBuf },
    /// A bundle listed although it has no `manifests/` (the build reports it).
    NoManifestsDirectory { dir: PathBuf },
    /// A `ci.yaml` whose `updateGraph` init does not know; the package
    /// gets `channel-policy = "replaces"`.
    UnknownUpdateGraph { ci_yaml: PathBuf, value: String },
}

/// Why init cannot write a `catalog.toml`.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("`{}` is not a directory", dir.display())]
    NotADirectory { dir: PathBuf },
    /// The current directory could not be read to make `dir` absolute.
    #[error("{source}")]
    Absolute {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("found no bundle directories (manifests/ + metadata/) and no package manifests (*.package.yaml)")]
    NothingFound,
    /// `catalog.toml` (and the build output beside it) would land inside a
    /// package-manifest directory, where opm's loader reads every file as
    /// part of the package, so the project could never build.
    #[error(
        "`catalog.toml` cannot go inside the package-manifest directory of package `{package}`: every file there is read as part of the package"
    )]
    ConfigInsidePackageManifest { package: String, package_manifest_dir: PathBuf },
}

/// How many of each thing a plan holds, for the CLI's summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InitSummary {
    pub n_packages: usize,
    /// Every bundle directory found, left-out ones included.
    pub n_bundle_dirs: usize,
    /// Bundle directories written as comments (not in their template).
    pub n_bundle_dirs_left_out: usize,
    pub n_package_manifest_dirs: usize,
    pub n_templates_adopted: usize,
    pub n_templates_not_adopted: usize,
}

/// Scans `request.dirs` and decides what `catalog.toml` says.
pub fn plan(request: &InitRequest) -> Result<InitPlan, InitError> {
    let config_dir = normalize(request.config_dir);
    let current = [PathBuf::from(".")];
    let dirs = if request.dirs.is_empty() { &current[..] } else { request.dirs };
    let mut scan = Scan::default();
    for dir in dirs {
        if !dir.is_dir() {
            return Err(InitError::NotADirectory { dir: dir.clone() });
        }
        let absolute = std::path::absolute(dir).map_err(|source| InitError::Absolute { dir: dir.clone(), source })?;
        scan.scan_dir(&normalize(&absolute), 0);
    }
    if scan.packages.is_empty() {
        return Err(InitError::NothingFound);
    }
    for (package_name, found) in &scan.packages {
        if let Some(package_manifest_dir) = found.package_manifests.iter().find(|dir| config_dir.starts_with(dir)) {
            return Err(InitError::ConfigInsidePackageManifest {
                package: package_name.clone(),
                package_manifest_dir: package_manifest_dir.clone(),
            });
        }
    }
    let catalog_name = request.catalog_name.map_or_else(|| catalog_name_of(&config_dir), str::to_string);
    let mut warnings: Vec<InitWarning> = scan
        .skipped
        .iter()
        .map(|dir| InitWarning::NoPackageAnnotation { dir: dir.clone() })
        .collect();
    // A tree where packages have a ci.yaml is a community-operators tree:
    // its pipeline builds a package without `updateGraph` in replaces mode.
    let community_tree = scan.packages.values().any(|found| found.has_ci_yaml);
    // Only a lone package gets version targets, so only it can take one
    // template per version.
    let alone = scan.packages.len() == 1;
    let mut packages = Vec::new();
    for (package_name, found) in scan.packages {
        if let Some((value, ci_yaml)) = &found.unknown_update_graph {
            warnings.push(InitWarning::UnknownUpdateGraph {
                ci_yaml: ci_yaml.clone(),
                value: value.clone(),
            });
        }
        for bundle in &found.bundles {
            if bundle.note == Some(BundleNote::NoManifestsDirectory) {
                warnings.push(InitWarning::NoManifestsDirectory { dir: bundle.dir.clone() });
            }
        }
        packages.push(plan_package(package_name, found, community_tree, alone));
    }
    Ok(InitPlan {
        catalog_name,
        config_dir,
        packages,
        warnings,
    })
}

impl InitPlan {
    /// `path` as `catalog.toml` writes it: relative to its directory, with
    /// `/` separators.
    pub fn relative(&self, path: &Path) -> String {
        relative_path(path, &self.config_dir)
    }

    pub fn summary(&self) -> InitSummary {
        let mut summary = InitSummary {
            n_packages: self.packages.len(),
            ..InitSummary::default()
        };
        for package in &self.packages {
            summary.n_bundle_dirs += package.bundles.len();
            summary.n_package_manifest_dirs += package.package_manifests.len();
            if let BundleList::Dirs { left_out, .. } = &package.bundle_list {
                summary.n_bundle_dirs_left_out += left_out.len();
            }
            match package.channel_policy {
                PlannedChannelPolicy::Explicit { .. } | PlannedChannelPolicy::Semver { .. } => summary.n_templates_adopted += 1,
                PlannedChannelPolicy::TemplateNotAdopted { .. } => summary.n_templates_not_adopted += 1,
                PlannedChannelPolicy::Replaces | PlannedChannelPolicy::CommunityDefault | PlannedChannelPolicy::FromCi { .. } => {}
            }
        }
        summary
    }
}

/// `[catalog] name` from the directory's name: lowercase, anything but
/// ASCII letters and digits becomes `-`.
pub fn catalog_name_of(config_dir: &Path) -> String {
    let base = config_dir
        .file_name()
        .map_or_else(|| "catalog".to_string(), |name| name.to_string_lossy().to_lowercase());
    let cleaned: String = base.chars().map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' }).collect();
    let cleaned = cleaned.trim_matches('-').to_string();
    if cleaned.is_empty() { "catalog".to_string() } else { cleaned }
}

fn plan_package(name: String, found: FoundPackage, community_tree: bool, alone: bool) -> PlannedPackage {
    // FBC-managed packages: the template decides which bundles belong.
    let mut csv_names: BTreeMap<PathBuf, Option<String>> = BTreeMap::new();
    let mut versioned: Vec<VersionedAdoption> = Vec::new();
    let adoption: Option<Result<Adoption, TemplateNotAdopted>> = match &found.ci {
        Some((CiPolicy::Fbc { template, others, .. }, _)) => {
            let mut csvs = Vec::new();
            for bundle in &found.bundles {
                let csv = scan::csv_identity(&bundle.dir);
                csv_names.insert(bundle.dir.clone(), csv.as_ref().map(|csv| csv.name.clone()));
                csvs.extend(csv);
            }
            let adoption = adopt::adopt_template(&name, template, &csvs);
            // Basic templates that differ per version: each for its own
            // catalogs, when every one of them can be adopted.
            if alone && matches!(adoption, Ok(Adoption::Explicit(_))) {
                let adopted: Option<Vec<VersionedAdoption>> = others
                    .iter()
                    .map(|(path, catalogs)| match adopt::adopt_template(&name, path, &csvs) {
                        Ok(Adoption::Explicit(adoption)) => Some(VersionedAdoption {
                            template: path.clone(),
                            catalogs: catalogs.clone(),
                            adoption,
                        }),
                        _ => None,
                    })
                    .collect();
                versioned = adopted.unwrap_or_default();
            }
            Some(adoption)
        }
        _ => None,
    };

    // Bundle directories no adopted explicit template lists.
    // A semver template renders only the bundles it lists: when every one
    // of its images was mapped, the others are not published upstream.
    let semver_kept: Option<BTreeSet<&String>> = match &adoption {
        Some(Ok(Adoption::Semver(adoption))) if adoption.images.unmapped.is_empty() && !adoption.images.names.is_empty() => {
            Some(adoption.images.names.values().collect())
        }
        _ => None,
    };
    let left_out_csv = |bundle: &FoundBundle| -> Option<String> {
        let csv = csv_names.get(&bundle.dir).cloned().flatten()?;
        let kept = match &adoption {
            Some(Ok(Adoption::Explicit(adoption))) => {
                adoption.kept.contains(&csv) || versioned.iter().any(|other| other.adoption.kept.contains(&csv))
            }
            Some(Ok(Adoption::Semver(_))) => semver_kept.as_ref().is_none_or(|kept| kept.contains(&csv)),
            _ => true,
        };
        (!kept).then_some(csv)
    };
    let listed: Vec<FoundBundle> = found
        .bundles
        .iter()
        .filter(|bundle| left_out_csv(bundle).is_none())
        .cloned()
        .collect();
    let left_out: Vec<LeftOutBundle> = found
        .bundles
        .iter()
        .filter_map(|bundle| {
            left_out_csv(bundle).map(|csv_name| LeftOutBundle {
                bundle: bundle.clone(),
                csv_name,
            })
        })
        .collect();
    let bundle_list = match scan::sibling_wildcard(&listed) {
        Some(parent) if left_out.is_empty() => BundleList::Wildcard(parent),
        _ if !found.bundles.is_empty() => BundleList::Dirs { listed, left_out },
        _ => BundleList::Empty,
    };

    let channel_policy = match (found.ci, adoption) {
        (
            Some((
                CiPolicy::Fbc {
                    template,
                    catalog,
                    catalogs,
                    others,
                    ..
                },
                _,
            )),
            Some(Ok(adoption)),
        ) => {
            let template = CatalogTemplateSource {
                path: template,
                catalog,
                catalogs,
                others,
            };
            match adoption {
                Adoption::Explicit(adoption) => PlannedChannelPolicy::Explicit {
                    adoption,
                    template,
                    versioned,
                },
                Adoption::Semver(adoption) => PlannedChannelPolicy::Semver { adoption, template },
            }
        }
        (Some((CiPolicy::Fbc { fallback, .. }, ci_yaml)), Some(Err(reason))) => {
            PlannedChannelPolicy::TemplateNotAdopted { ci_yaml, fallback, reason }
        }
        (Some((CiPolicy::FbcUnusable { fallback, reason }, ci_yaml)), _) => {
            PlannedChannelPolicy::TemplateNotAdopted { ci_yaml, fallback, reason }
        }
        (Some((CiPolicy::UpdateGraph(update_graph), ci_yaml)), _) => PlannedChannelPolicy::FromCi { update_graph, ci_yaml },
        (None, _) if community_tree && found.package_manifests.is_empty() => PlannedChannelPolicy::CommunityDefault,
        (Some((CiPolicy::Fbc { .. }, _)), None) | (None, _) => PlannedChannelPolicy::Replaces,
    };
    let unreachable = match &channel_policy {
        PlannedChannelPolicy::FromCi {
            update_graph: UpdateGraph::Replaces,
            ..
        }
        | PlannedChannelPolicy::CommunityDefault => reach::unreachable_bundles(&name, &found.bundles),
        _ => Vec::new(),
    };
    let (annotated_versions, admits_none) = match &channel_policy {
        PlannedChannelPolicy::Explicit { .. } | PlannedChannelPolicy::Semver { .. } => (Vec::new(), Vec::new()),
        _ if alone => annotated_versions(&found.bundles),
        _ => (Vec::new(), Vec::new()),
    };
    PlannedPackage {
        name,
        unreachable,
        annotated_versions,
        admits_none,
        bundles: found.bundles,
        bundle_list,
        package_manifests: found.package_manifests,
        channel_policy,
    }
}

/// The community catalogs the bundles' `com.redhat.openshift.versions`
/// admit, read as the release pipeline reads them (empty when no bundle
/// has the annotation: every version then holds every bundle, and the
/// project needs no version targets), and the bundles admitted by none.
fn annotated_versions(bundles: &[FoundBundle]) -> (Vec<crate::openshift::OcpVersion>, Vec<(PathBuf, String)>) {
    let (first, last) = COMMUNITY_CATALOGS;
    let catalogs: Vec<crate::openshift::OcpVersion> = (first.minor..=last.minor)
        .map(|minor| crate::openshift::OcpVersion::new(first.major, minor))
        .collect();
    let annotations: Vec<Option<(String, crate::openshift::ScalarStyle)>> =
        bundles.iter().map(|bundle| scan::openshift_annotation(&bundle.dir)).collect();
    if annotations.iter().all(Option::is_none) {
        return (Vec::new(), Vec::new());
    }
    let mut admitted = std::collections::BTreeSet::new();
    let mut admits_none = Vec::new();
    for (bundle, annotation) in bundles.iter().zip(&annotations) {
        let parsed = crate::openshift::parse_annotation(
            annotation.as_ref().map(|(value, _)| value.as_str()),
            annotation
                .as_ref()
                .map_or(crate::openshift::ScalarStyle::Quoted, |(_, style)| *style),
        );
        // A refused value is the build's to report, with its line.
        if let Ok(parsed) = parsed {
            let versions = parsed.admitted.admitted(&catalogs);
            if versions.is_empty()
                && let Some((value, _)) = annotation
            {
                admits_none.push((bundle.dir.clone(), value.clone()));
            }
            admitted.extend(versions);
        }
    }
    (admitted.into_iter().collect(), admits_none)
}

/// `path` without `.` and `..` components, resolved lexically (as Cargo
/// does): `/a/b/..` is `/a`, so `--config ../catalog.toml` names the
/// parent directory, not a path that ends in `..`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !matches!(out.components().next_back(), Some(Component::RootDir | Component::Prefix(_))) {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

/// `path` relative to `base` (both absolute), with `..` where needed and
/// `/` separators.
pub fn relative_path(path: &Path, base: &Path) -> String {
    let path_parts: Vec<_> = path.components().collect();
    let base_parts: Vec<_> = base.components().collect();
    let common = path_parts.iter().zip(&base_parts).take_while(|(left, right)| left == right).count();
    let mut out = PathBuf::new();
    for _ in common..base_parts.len() {
        out.push("..");
    }
    for part in &path_parts[common..] {
        out.push(part);
    }
    let out = if out.as_os_str().is_empty() { PathBuf::from(".") } else { out };
    out.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_resolves_dots_lexically() {
        assert_eq!(normalize(Path::new("/a/b/../c/./d")), PathBuf::from("/a/c/d"));
        assert_eq!(normalize(Path::new("/a/..")), PathBuf::from("/"));
        assert_eq!(normalize(Path::new("/..")), PathBuf::from("/"));
    }

    #[test]
    fn relative_paths_climb_with_dot_dot() {
        assert_eq!(relative_path(Path::new("/a/b/c"), Path::new("/a")), "b/c");
        assert_eq!(relative_path(Path::new("/a/x"), Path::new("/a/b")), "../x");
        assert_eq!(relative_path(Path::new("/a"), Path::new("/a")), ".");
    }

    #[test]
    fn catalog_names_are_dns_friendly() {
        assert_eq!(catalog_name_of(Path::new("/src/My_Operators")), "my-operators");
        assert_eq!(catalog_name_of(Path::new("/")), "catalog");
        assert_eq!(catalog_name_of(Path::new("/__")), "catalog");
    }
}
