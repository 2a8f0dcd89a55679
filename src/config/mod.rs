//! `catalog.toml`: [`raw`] mirrors the file (serde, spans, unknown keys
//! refused); [`load`] resolves it into a [`Config`]: defaults applied,
//! paths made absolute against the file's directory, names checked, every
//! problem reported with the span of the key to blame. Only this module
//! reads the environment (`SOURCE_DATE_EPOCH` later) and passes it on.

pub mod deploy;
pub mod raw;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Location};
use toml::Spanned;

/// The file name `catbuild` looks for.
pub const FILE_NAME: &str = "catalog.toml";

/// A resolved `catalog.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Absolute path of `catalog.toml`.
    pub path: PathBuf,
    /// The directory holding it; relative paths resolve against it.
    pub root: PathBuf,
    pub catalog: Catalog,
    pub vars: BTreeMap<String, String>,
    pub packages: Vec<PackageConfig>,
    pub targets: Vec<Target>,
    pub images: Images,
    /// `[limits]` on the files a build reads.
    pub limits: crate::input::Limits,
    /// `[limits]` `pulled-*`: on each image a build pulls.
    pub pulled_limits: crate::image::unpack::Limits,
    /// What is allowed but likely not meant (at its key): a build reports
    /// these with its own warnings.
    pub warnings: Vec<Diagnostic>,
}

impl Config {
    /// The OpenShift versions of the targets (`openshift`), in order: what
    /// a bundle's `com.redhat.openshift.versions` must admit one of.
    pub fn openshift_versions(&self) -> Vec<crate::openshift::OcpVersion> {
        let mut versions: Vec<_> = self.targets.iter().filter_map(|target| target.openshift).collect();
        versions.sort();
        versions.dedup();
        versions
    }
}

impl Config {
    /// Where a build reads files from: the project and `external-paths`.
    pub fn boundary(&self) -> crate::input::Boundary {
        crate::input::Boundary::new(&self.root, &self.catalog.external_paths)
    }
}

/// `[images]`: whether and how bundle and catalog images are built and
/// pushed. Per-target settings (base image, push) are on [`Target`].
#[derive(Debug, Clone, Default)]
pub struct Images {
    /// Write OCI layouts to `build/<target>/oci/`.
    pub build: bool,
    pub bundle_refs: BundleRefs,
    /// `HOST[:PORT]/PREFIX` that replaces the registry and path of every
    /// pushed reference (the last path component and the tag stay).
    pub registry: Option<String>,
    /// Plain HTTP, or unverified TLS, to a registry that is not loopback.
    pub insecure: bool,
    /// Extra CA certificates (PEM) for registries.
    pub ca_file: Option<PathBuf>,
    /// `timeout`: how long a registry call may wait to connect, for an
    /// answer, or for the next bytes of a body; `None` keeps the client's.
    pub timeout: Option<std::time::Duration>,
}

/// How the catalog's `olm.bundle` `image` names each bundle image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BundleRefs {
    /// As `bundle-image` renders it (a tag).
    #[default]
    Tag,
    /// `repository@sha256:…` of the bundle image catbuild built: what
    /// production catalogs should name, since a tag can move.
    Digest,
}

/// Where a catalog image's base comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseImage {
    /// No base: `/configs` only (OLM's `extractContent`).
    Scratch,
    /// An OCI image layout on disk: `oci:DIR[:TAG]`, `DIR` relative to
    /// `catalog.toml`.
    Layout { text: String, dir: PathBuf, tag: Option<String> },
    /// A registry reference, `HOST/REPO[:TAG][@DIGEST]`: pulled once (all
    /// its platforms), pinned in `catalog.lock`, kept in the image cache.
    Registry { text: String },
}

impl BaseImage {
    /// Reads `scratch`, `oci:DIR[:TAG]` or a registry reference; anything
    /// else is an error saying what to write instead.
    pub fn parse(text: &str, root: &Path) -> Result<BaseImage, String> {
        if text == "scratch" {
            return Ok(BaseImage::Scratch);
        }
        if let Some(rest) = text.strip_prefix("oci:") {
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((dir, tag)) if !tag.contains('/') => (dir, Some(tag.to_string())),
                _ => (rest, None),
            };
            if dir.is_empty() {
                return Err(format!("base image `{text}` names no directory"));
            }
            return Ok(BaseImage::Layout {
                text: text.to_string(),
                dir: root.join(dir),
                tag,
            });
        }
        match crate::registry::ImageSource::parse(text, root) {
            Ok(_) => Ok(BaseImage::Registry { text: text.to_string() }),
            Err(reason) => Err(format!(
                "base image {reason}; name `scratch`, an OCI layout as `oci:DIR[:TAG]`, or a registry image as `HOST/REPO[:TAG][@sha256:DIGEST]`"
            )),
        }
    }

    pub fn text(&self) -> &str {
        match self {
            BaseImage::Scratch => "scratch",
            BaseImage::Layout { text, .. } | BaseImage::Registry { text } => text,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub name: String,
    pub display_name: Option<String>,
    pub publisher: Option<String>,
    pub description: Option<String>,
    /// The catalog icon file (absolute) and the span of its `icon` value.
    pub icon: Option<Sourced<PathBuf>>,
    pub output_dir: PathBuf,
    /// `deploy-templates`: a directory whose files override the built-in
    /// deploy templates of the same name (absolute).
    pub deploy_templates: Option<Sourced<PathBuf>>,
    /// `external-paths`: directories outside the project that bundle files
    /// and icons may lead into (absolute).
    pub external_paths: Vec<PathBuf>,
    /// `cache-dir`: the action cache (absolute); `None` is
    /// `<output dir>/.cache`.
    pub cache_dir: Option<PathBuf>,
}

/// A value from the file and the byte span it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T: Clone> Sourced<T> {
    fn from_spanned(spanned: &Spanned<T>) -> Sourced<T> {
        Sourced {
            value: spanned.get_ref().clone(),
            span: spanned.span(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PackageConfig {
    pub name: Sourced<String>,
    pub default_channel: Option<Sourced<String>>,
    pub description: Option<String>,
    /// The package icon file (absolute) and the span of its `icon` value.
    pub icon: Option<Sourced<PathBuf>>,
    /// `icon = false`: the package blob has no icon, not even the head
    /// CSV's (as a basic template's package without one).
    pub no_icon: bool,
    /// Glob patterns of registry+v1 bundle directories, relative to the root.
    pub bundles: Vec<Sourced<String>>,
    /// Package-manifest directories (`<pkg>.package.yaml` + version dirs).
    pub package_manifests: Vec<Sourced<String>>,
    /// Bundle image references, as written (each one parses as an image
    /// source; `oci:` layouts are relative to the root).
    pub bundle_images: Vec<Sourced<String>>,
    /// An opm `index.db` (absolute) that holds this package: its bundles,
    /// channels and default channel come from there, as opm renders them.
    pub index_db: Option<Sourced<PathBuf>>,
    /// Glob patterns of bundle directories to leave out (known-broken ones),
    /// relative to the root; each is a valid pattern.
    pub exclude: Vec<Sourced<String>>,
    /// minijinja template of each bundle's image reference.
    pub bundle_image: Option<Sourced<String>>,
    pub channel_policy: ChannelPolicy,
    /// What to do with bundles the `replaces` policy cannot reach.
    pub unreachable_bundles: UnreachableBundles,
}

/// `unreachable`: bundles that list a channel whose head does not reach
/// them through `replaces` or `skips`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnreachableBundles {
    /// An error naming each one (for new projects, a broken graph).
    #[default]
    Error,
    /// Left out of that channel with a warning naming each one, as opm's
    /// replaces mode does silently (for adopting published packages).
    Drop,
}

/// How a package's channels and upgrade edges are made.
#[derive(Debug, Clone)]
pub enum ChannelPolicy {
    /// Channels and entries written in `catalog.toml`, like opm's basic template.
    Explicit(Vec<ExplicitChannel>),
    /// Channels from bundle annotations, edges from each CSV's replaces,
    /// skips and skipRange, like opm's replaces mode.
    Replaces,
    /// Channels from bundle annotations, edges from versions, like
    /// `opm index add --mode semver` (ci.yaml `updateGraph: semver-mode`).
    SemverMode,
    /// Like [`ChannelPolicy::SemverMode`], and each patch release also
    /// skips the older patches of its minor version, like
    /// `opm index add --mode semver-skippatch`.
    SemverSkipPatchMode,
    /// Channels generated from versions, like opm's semver template.
    SemverTemplate(SemverPolicy),
}

impl ChannelPolicy {
    /// Every `channel-policy` value.
    pub const NAMES: [&'static str; 5] = ["explicit", "replaces", "semver-mode", "semver-skippatch-mode", "semver-template"];

    pub fn name(&self) -> &'static str {
        match self {
            ChannelPolicy::Explicit(_) => "explicit",
            ChannelPolicy::Replaces => "replaces",
            ChannelPolicy::SemverMode => "semver-mode",
            ChannelPolicy::SemverSkipPatchMode => "semver-skippatch-mode",
            ChannelPolicy::SemverTemplate(_) => "semver-template",
        }
    }
}

/// The help line for a `channel-policy` value that is an old or ambiguous
/// name: `semver` meant opm's semver template before the add modes came,
/// and opm's and ci.yaml's spellings name the add modes differently.
fn renamed_channel_policy(typed: &str) -> Option<String> {
    match typed {
        "semver" => Some(
            "write `semver-template` for opm's semver catalog template (what `semver` used to mean), or `semver-mode` for `opm index add --mode semver` (ci.yaml `updateGraph: semver-mode`)"
                .to_string(),
        ),
        "semver-skippatch" => Some("write `semver-skippatch-mode` for `opm index add --mode semver-skippatch`".to_string()),
        "replaces-mode" => Some("write `replaces` for opm's replaces mode (ci.yaml `updateGraph: replaces-mode`)".to_string()),
        _ => None,
    }
}

#[derive(Debug, Clone)]
pub struct ExplicitChannel {
    pub name: Sourced<String>,
    /// `openshift`: the OpenShift version targets that get this channel;
    /// `None` for every target.
    pub openshift: Option<Sourced<Vec<crate::openshift::OcpVersion>>>,
    /// `default = true`: the package's default channel in the targets that
    /// get this channel (per-version templates differ in their default),
    /// over `default-channel`; the span of the value.
    pub default: Option<Range<usize>>,
    pub entries: Vec<ExplicitEntry>,
}

#[derive(Debug, Clone)]
pub struct ExplicitEntry {
    pub name: Sourced<String>,
    pub replaces: Option<Sourced<String>>,
    pub skips: Vec<Sourced<String>>,
    pub skip_range: Option<Sourced<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct SemverPolicy {
    pub generate_major_channels: bool,
    pub generate_minor_channels: bool,
    /// `major` or `minor`; empty for opm's default.
    pub default_channel_type_preference: String,
    /// Bundle names per archetype; `None` = chosen from channel annotations.
    pub candidate: Option<Vec<Sourced<String>>>,
    pub fast: Option<Vec<Sourced<String>>>,
    pub stable: Option<Vec<Sourced<String>>>,
}

/// One output flavour of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutputFormat {
    FbcJson,
    FbcYaml,
    /// The legacy SQLite index `index.db` (opm's schema version 13), for
    /// clusters that cannot read File-Based Catalogs.
    Sqlite,
}

impl OutputFormat {
    pub const ALL: [(&'static str, OutputFormat); 3] = [
        ("fbc-json", OutputFormat::FbcJson),
        ("fbc-yaml", OutputFormat::FbcYaml),
        ("sqlite", OutputFormat::Sqlite),
    ];

    pub fn parse(text: &str) -> Option<OutputFormat> {
        OutputFormat::ALL.iter().find(|(name, _)| *name == text).map(|(_, format)| *format)
    }

    pub fn name(self) -> &'static str {
        OutputFormat::ALL
            .iter()
            .find(|(_, format)| *format == self)
            .map_or("", |(name, _)| name)
    }
}

/// opm's `--migrate-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MigrateLevel {
    #[default]
    None,
    BundleObjectToCsvMetadata,
}

impl MigrateLevel {
    pub fn parse(text: &str) -> Option<MigrateLevel> {
        match text {
            "none" | "" => Some(MigrateLevel::None),
            "bundle-object-to-csv-metadata" => Some(MigrateLevel::BundleObjectToCsvMetadata),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub formats: Vec<OutputFormat>,
    /// Names of the packages this target builds, in config order.
    pub packages: Vec<String>,
    /// Catalog variables with this target's overrides applied.
    pub vars: BTreeMap<String, String>,
    pub migrate_level: MigrateLevel,
    /// The catalog image reference of this target (`image`, rendered with
    /// the target's variables and `target.name`, a valid pull spec), and
    /// the span of the template it came from. Images and deployment YAML
    /// name the catalog by it.
    pub image: Option<Sourced<String>>,
    /// The deployment objects to write (`olm` and its settings), if any.
    pub deploy: Option<deploy::Deploy>,
    /// The catalog image's base (`base-image`, else `[images] base-image`,
    /// else scratch) and the span of the key, if any.
    pub base_image: BaseImage,
    pub base_image_span: Option<Range<usize>>,
    /// Push this target's images after the build.
    pub push: bool,
    /// The OpenShift version this target is the catalog of (`openshift`):
    /// bundles whose `com.redhat.openshift.versions` does not admit it are
    /// left out, and so are explicit channels not meant for it.
    pub openshift: Option<crate::openshift::OcpVersion>,
}

/// Checks `HOST[:PORT][/PREFIX]` (the `registry` setting and
/// `--registry`) and returns it without a trailing `/`.
pub fn parse_registry_prefix(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('/');
    let (host, prefix) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let host_ok = !host.is_empty()
        && (host.contains('.') || host.contains(':') || host == "localhost")
        && host.bytes().all(|byte| byte.is_ascii_alphanumeric() || b".-:[]".contains(&byte));
    if !host_ok || text.contains("://") {
        return Err(format!("registry `{text}` does not start with a registry host (`HOST[:PORT]`)"));
    }
    let prefix_ok = prefix.is_empty()
        || prefix.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-".contains(&byte))
        });
    if !prefix_ok {
        return Err(format!(
            "registry `{text}` has a path that is not a repository prefix (lowercase letters, digits, `.`, `_`, `-`, separated by `/`)"
        ));
    }
    Ok(trimmed.to_string())
}

/// Which `catalog.toml` a command reads: `--config PATH` (a directory
/// means its `catalog.toml`), else the first `catalog.toml` in `cwd` or one
/// of its parents, as Cargo finds `Cargo.toml`.
pub fn find(given: Option<&Path>, cwd: &Path) -> Result<PathBuf, Vec<Diagnostic>> {
    if let Some(path) = given {
        let path = if path.is_dir() { path.join(FILE_NAME) } else { path.to_path_buf() };
        return Ok(path);
    }
    if let Some(found) = cwd.ancestors().map(|dir| dir.join(FILE_NAME)).find(|path| path.is_file()) {
        return Ok(found);
    }
    Err(vec![
        Diagnostic::error("config", format!("no `{FILE_NAME}` in `{}` or any parent directory", cwd.display()))
            .help("run `catbuild init` to write one, or pass `--config PATH`"),
    ])
}

/// Reads and resolves `catalog.toml`. Every problem found is returned.
pub fn load(path: &Path) -> Result<Config, Vec<Diagnostic>> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let text = match crate::input::read(&path).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Ok(Err(error)) => {
            // TOML is UTF-8 text; point at the first byte that is not.
            let offset = error.utf8_error().valid_up_to();
            let line = error.as_bytes()[..offset].iter().filter(|&&byte| byte == b'\n').count() + 1;
            return Err(vec![
                Diagnostic::error(
                    "config",
                    format!("`{}` is not UTF-8 text (byte {offset}, line {line})", path.display()),
                )
                .help("save the file as UTF-8"),
            ]);
        }
        Err(error) => {
            let reason = match &error {
                crate::input::InputError::Io(error) => io_reason(error),
                other => other.to_string(),
            };
            return Err(vec![
                Diagnostic::error("config", format!("cannot read `{}`: {reason}", path.display()))
                    .help("run `catbuild init` to write one, or pass `--config PATH`"),
            ]);
        }
    };
    parse(&text, &path)
}

fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        _ => error.to_string(),
    }
}

/// Resolves config text; `path` is where it lives (for relative paths and
/// diagnostics).
pub fn parse(text: &str, path: &Path) -> Result<Config, Vec<Diagnostic>> {
    let raw: raw::RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(error) => return Err(vec![toml_error(&error, path)]),
    };
    let mut resolver = Resolver {
        target_image_settings: Vec::new(),
        path,
        diagnostics: Vec::new(),
    };
    let mut config = resolver.resolve(raw, text);
    if resolver.diagnostics.iter().any(Diagnostic::is_error) {
        Err(resolver.diagnostics)
    } else {
        config.warnings = resolver.diagnostics;
        Ok(config)
    }
}

fn toml_error(error: &toml::de::Error, path: &Path) -> Diagnostic {
    let message = error.message().trim_end().to_string();
    let mut diagnostic = Diagnostic::error("config", message.clone());
    if let Some(span) = error.span() {
        diagnostic = diagnostic.at(Location::span(path, span));
    } else {
        diagnostic = diagnostic.at(Location::file(path));
    }
    if let Some(help) = unknown_key_help(&message) {
        diagnostic = diagnostic.help(help);
    }
    diagnostic
}

/// For serde's "unknown field `x`, expected one of `a`, `b`": the closest
/// valid key, when one is close.
fn unknown_key_help(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (typed, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let best = closest(typed, &candidates)?;
    Some(format!("did you mean `{best}`?"))
}

/// The candidate nearest to `typed`, if near enough to be a typo of it.
///
/// Distance is Damerau–Levenshtein (a swap of two neighbours is one edit),
/// within a third of the longer name. Ties go to the candidate nearest in
/// value where the names first differ: numerically for a run of digits, so
/// `v0.0.5` suggests `v0.0.4` rather than `v0.0.1`, and by character code
/// otherwise; then to the lexically smaller name, so the choice is stable.
pub fn closest<'a>(typed: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(typed, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.chars().count().max(typed.chars().count()) / 3).max(1))
        .min_by(|(left_distance, left), (right_distance, right)| {
            left_distance
                .cmp(right_distance)
                .then_with(|| first_difference_gap(typed, left).cmp(&first_difference_gap(typed, right)))
                .then_with(|| left.cmp(right))
        })
        .map(|(_, candidate)| candidate)
}

/// How far apart `typed` and `candidate` are where they first differ: the
/// numeric difference of the digit runs there (`5` vs `4` is 1, `10` vs `11`
/// is 1, `10` vs `1` is 9), else the difference of the two characters.
fn first_difference_gap(typed: &str, candidate: &str) -> u128 {
    let typed_chars: Vec<char> = typed.chars().collect();
    let candidate_chars: Vec<char> = candidate.chars().collect();
    let mut idx = typed_chars
        .iter()
        .zip(&candidate_chars)
        .take_while(|(left, right)| left == right)
        .count();
    // Back up to the start of a number both names share a prefix of.
    while idx > 0 && typed_chars[idx - 1].is_ascii_digit() {
        idx -= 1;
    }
    let number_at = |chars: &[char]| -> Option<u128> {
        let digits: String = chars.get(idx..)?.iter().take_while(|ch| ch.is_ascii_digit()).collect();
        digits.parse().ok()
    };
    if let (Some(typed_number), Some(candidate_number)) = (number_at(&typed_chars), number_at(&candidate_chars)) {
        return typed_number.abs_diff(candidate_number);
    }
    let code_at = |chars: &[char]| chars.get(idx).map_or(0, |ch| u128::from(u32::from(*ch)));
    code_at(&typed_chars).abs_diff(code_at(&candidate_chars))
}

struct Resolver<'a> {
    path: &'a Path,
    diagnostics: Vec<Diagnostic>,
    /// Each target's own `base-image` and `push`, in target order, applied
    /// once `[images]` is resolved.
    target_image_settings: Vec<(Option<Spanned<String>>, Option<bool>)>,
}

impl Resolver<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics
            .push(Diagnostic::error("config", message).at(Location::span(self.path, span)));
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn root(&self) -> PathBuf {
        self.path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }

    fn resolve(&mut self, raw: raw::RawConfig, text: &str) -> Config {
        if let Some(version) = &raw.version
            && *version.get_ref() != 1
        {
            self.error(version.span(), format!("unsupported `version = {}`", version.get_ref()))
                .add_help("this catbuild reads `version = 1`");
        }
        let root = self.root();
        let name = raw.catalog.name.get_ref().clone();
        if !crate::model::k8s_names::is_dns1123_subdomain(&name) {
            self.error(
                raw.catalog.name.span(),
                format!("catalog name `{name}` is not a valid Kubernetes object name"),
            )
            .add_help("use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit (at most 253 characters)");
        }
        let vars = self.vars(&raw.vars);
        let catalog_bundle_image = raw.catalog.bundle_image.as_ref().map(Sourced::from_spanned);
        let catalog = Catalog {
            name,
            display_name: raw.catalog.display_name,
            publisher: raw.catalog.publisher,
            description: raw.catalog.description,
            icon: raw.catalog.icon.as_ref().map(|icon| Sourced {
                value: root.join(icon.get_ref()),
                span: icon.span(),
            }),
            output_dir: root.join(raw.catalog.output.map_or_else(|| "build".to_string(), Spanned::into_inner)),
            deploy_templates: raw.catalog.deploy_templates.as_ref().map(|dir| Sourced {
                value: root.join(dir.get_ref()),
                span: dir.span(),
            }),
            external_paths: raw.catalog.external_paths.iter().map(|dir| root.join(dir.get_ref())).collect(),
            cache_dir: raw.catalog.cache_dir.as_ref().map(|dir| root.join(dir.get_ref())),
        };
        let mut packages: Vec<PackageConfig> = Vec::new();
        for raw_package in raw.packages {
            let package = self.package(raw_package, &root, catalog_bundle_image.as_ref());
            if let Some(first) = packages.iter().find(|other| other.name.value == package.name.value) {
                let (first_line, _) = crate::diag::line_col(text, first.name.span.start);
                let name = package.name.value.clone();
                self.error(package.name.span.clone(), format!("package `{name}` is declared twice"))
                    .add_help(format!("merge it with the `[[package]]` at line {first_line}"));
                continue;
            }
            packages.push(package);
        }
        if let Some(index_db) = &raw.catalog.index_db {
            self.catalog_index_db_packages(index_db, &root, &mut packages);
        }
        let images = self.images(raw.images.as_ref(), &root);
        let (limits, pulled_limits) = self.limits(raw.limits.as_ref());
        if images.bundle_refs == BundleRefs::Digest
            && let Some(key) = raw.images.as_ref().and_then(|images| images.bundle_image_refs.as_ref())
        {
            let without: Vec<&str> = packages
                .iter()
                // Pulled bundles are named by their own references.
                .filter(|package| {
                    package.bundle_image.is_none()
                        && package.index_db.is_none()
                        && !(package.bundles.is_empty() && package.package_manifests.is_empty())
                })
                .map(|package| package.name.value.as_str())
                .collect();
            if !without.is_empty() {
                let names = without.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ");
                self.error(
                    key.span(),
                    format!("`bundle-image-refs = \"digest\"` needs a repository to name, and package(s) {names} have no `bundle-image`"),
                )
                .add_help("set `bundle-image` in `[catalog]` or in each package");
            }
        }
        let openshift_span = raw.catalog.openshift.as_ref().map(Spanned::span).or_else(|| {
            raw.targets
                .iter()
                .find_map(|target| target.get_ref().openshift.as_ref().map(Spanned::span))
        });
        let mut targets = self.targets(
            raw.targets,
            &packages,
            &vars,
            raw.catalog.image.as_ref(),
            raw.catalog.openshift.as_ref(),
        );
        self.check_channel_versions(&packages, &targets);
        if let Some(span) = openshift_span {
            self.check_csv_metadata_images(&packages, &targets, span);
        }
        let default_base = raw.images.as_ref().and_then(|images| images.base_image.as_ref());
        let default_push = raw.images.as_ref().and_then(|images| images.push).unwrap_or(false);
        for (target, (base, push)) in targets.iter_mut().zip(self.target_image_settings.drain(..).collect::<Vec<_>>()) {
            let base = base.as_ref().or(default_base);
            if let Some(base) = base {
                match BaseImage::parse(base.get_ref(), &root) {
                    Ok(parsed) => target.base_image = parsed,
                    Err(message) => {
                        self.error(base.span(), message);
                    }
                }
                target.base_image_span = Some(base.span());
            }
            target.push = push.unwrap_or(default_push);
        }
        Config {
            limits,
            pulled_limits,
            path: self.path.to_path_buf(),
            root,
            catalog,
            vars,
            packages,
            targets,
            images,
            warnings: Vec::new(),
        }
    }

    fn vars(&mut self, raw_vars: &BTreeMap<String, Spanned<toml::Value>>) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        for (key, value) in raw_vars {
            let text = match value.get_ref() {
                toml::Value::String(text) => text.clone(),
                toml::Value::Integer(number) => number.to_string(),
                toml::Value::Float(number) => number.to_string(),
                toml::Value::Boolean(flag) => flag.to_string(),
                _ => {
                    self.error(value.span(), format!("variable `{key}` must be a string, number or boolean"));
                    continue;
                }
            };
            vars.insert(key.clone(), text);
        }
        vars
    }

    fn package(&mut self, raw: raw::RawPackage, root: &Path, catalog_bundle_image: Option<&Sourced<String>>) -> PackageConfig {
        let name = Sourced::from_spanned(&raw.name);
        if let Err(problem) = dns1123_label_problem(&name.value) {
            self.error(
                name.span.clone(),
                format!("package name `{}` is not a DNS-1123 label: {problem}", name.value),
            )
            .add_help("opm requires lowercase letters, digits and `-`, at most 63 characters");
        }
        if let Some(index_db) = &raw.index_db {
            self.index_db_package_keys(&raw, &name.value, index_db);
        } else if raw.bundles.is_empty() && raw.package_manifests.is_empty() && raw.bundle_images.is_empty() {
            self.error(name.span.clone(), format!("package `{}` has no bundle sources", name.value))
                .add_help("add `bundles = [\"path/to/bundles/*\"]`, `bundle-images = [\"registry/repo:tag\"]`, `package-manifests = [\"path\"]` or `index-db = \"path/index.db\"`");
        }
        for image in &raw.bundle_images {
            if let Err(message) = crate::registry::ImageSource::parse(image.get_ref(), root) {
                self.error(image.span(), format!("`bundle-images`: {message}"))
                    .add_help("write `HOST/REPOSITORY:TAG`, `HOST/REPOSITORY@sha256:DIGEST` or `oci:DIR[:TAG]`");
            }
        }
        let policy_name = raw.channel_policy.as_ref().map_or("replaces", |policy| policy.get_ref().as_str());
        let policy_span = raw.channel_policy.as_ref().map_or(name.span.clone(), Spanned::span);
        let channel_policy = match policy_name {
            "explicit" => {
                if raw.channels.is_empty() {
                    self.error(
                        policy_span.clone(),
                        format!(
                            "package `{}` uses `channel-policy = \"explicit\"` but declares no channels",
                            name.value
                        ),
                    )
                    .add_help("add `[[package.channel]]` tables with `name` and `entries`");
                }
                ChannelPolicy::Explicit(raw.channels.iter().map(|channel| self.explicit_channel(channel)).collect())
            }
            "replaces" => ChannelPolicy::Replaces,
            "semver-mode" => ChannelPolicy::SemverMode,
            "semver-skippatch-mode" => ChannelPolicy::SemverSkipPatchMode,
            "semver-template" => ChannelPolicy::SemverTemplate(self.semver(raw.semver.as_ref())),
            other => {
                let (message, help) = match renamed_channel_policy(other) {
                    Some(help) => (format!("channel policy `{other}` is ambiguous"), help),
                    None => (
                        format!("unknown channel policy `{other}`"),
                        closest(other, &ChannelPolicy::NAMES).map_or_else(
                            || format!("use one of: {}", ChannelPolicy::NAMES.map(|name| format!("`{name}`")).join(", ")),
                            |best| format!("did you mean `{best}`?"),
                        ),
                    ),
                };
                self.error(policy_span.clone(), message).add_help(help);
                ChannelPolicy::Replaces
            }
        };
        if !raw.channels.is_empty() && !matches!(channel_policy, ChannelPolicy::Explicit(_)) {
            self.error(
                raw.channels[0].name.span(),
                format!(
                    "`[[package.channel]]` is only read with `channel-policy = \"explicit\"` (package `{}` uses `{}`)",
                    name.value,
                    channel_policy.name()
                ),
            )
            .add_help("set `channel-policy = \"explicit\"` or remove the channel tables");
        }
        if raw.semver.is_some() && !matches!(channel_policy, ChannelPolicy::SemverTemplate(_)) {
            self.error(
                policy_span,
                format!(
                    "`[package.semver]` is only read with `channel-policy = \"semver-template\"` (package `{}` uses `{}`)",
                    name.value,
                    channel_policy.name()
                ),
            );
        }
        let mut exclude = Vec::new();
        for pattern in &raw.exclude {
            match glob::Pattern::new(pattern.get_ref()) {
                Ok(_) => exclude.push(Sourced::from_spanned(pattern)),
                Err(error) => {
                    self.error(
                        pattern.span(),
                        format!("invalid glob pattern `{}`: {}", pattern.get_ref(), error.msg),
                    )
                    .add_help("`exclude` takes globs of bundle directories, such as `bundles/1.0.*`");
                }
            }
        }
        let unreachable_bundles = match &raw.unreachable {
            None => UnreachableBundles::Error,
            Some(value) => {
                let setting = match value.get_ref().as_str() {
                    "error" => UnreachableBundles::Error,
                    "drop" => UnreachableBundles::Drop,
                    other => {
                        self.error(value.span(), format!("unknown `unreachable` setting `{other}`"))
                            .add_help("use `error` or `drop`");
                        UnreachableBundles::Error
                    }
                };
                if !matches!(channel_policy, ChannelPolicy::Replaces) {
                    self.error(
                        value.span(),
                        format!(
                            "`unreachable` is only read with `channel-policy = \"replaces\"` (package `{}` uses `{}`)",
                            name.value,
                            channel_policy.name()
                        ),
                    );
                }
                setting
            }
        };
        let (icon, no_icon) = match raw.icon.as_ref() {
            None => (None, false),
            Some(icon) => match icon.get_ref() {
                toml::Value::String(path) => (
                    Some(Sourced {
                        value: root.join(path),
                        span: icon.span(),
                    }),
                    false,
                ),
                toml::Value::Boolean(false) => (None, true),
                _ => {
                    self.error(icon.span(), "`icon` is the path of an image file, or `false` for no icon")
                        .add_help("without `icon`, the package takes the icon of its default channel head's CSV");
                    (None, false)
                }
            },
        };
        PackageConfig {
            name,
            default_channel: raw.default_channel.as_ref().map(Sourced::from_spanned),
            description: raw.description,
            icon,
            no_icon,
            bundles: raw.bundles.iter().map(Sourced::from_spanned).collect(),
            package_manifests: raw.package_manifests.iter().map(Sourced::from_spanned).collect(),
            bundle_images: raw.bundle_images.iter().map(Sourced::from_spanned).collect(),
            index_db: raw.index_db.as_ref().map(|index_db| Sourced {
                value: root.join(index_db.get_ref()),
                span: index_db.span(),
            }),
            exclude,
            bundle_image: raw
                .bundle_image
                .as_ref()
                .map(Sourced::from_spanned)
                .or_else(|| catalog_bundle_image.cloned()),
            channel_policy,
            unreachable_bundles,
        }
    }

    /// A package from an `index.db` takes its bundles, channels and edges
    /// from there: the keys that say otherwise are refused, not ignored.
    fn index_db_package_keys(&mut self, raw: &raw::RawPackage, name: &str, index_db: &Spanned<String>) {
        let mut conflicting: Vec<(&str, Range<usize>)> = Vec::new();
        if let Some(first) = raw.bundles.first() {
            conflicting.push(("bundles", first.span()));
        }
        if let Some(first) = raw.package_manifests.first() {
            conflicting.push(("package-manifests", first.span()));
        }
        if let Some(first) = raw.bundle_images.first() {
            conflicting.push(("bundle-images", first.span()));
        }
        if let Some(first) = raw.exclude.first() {
            conflicting.push(("exclude", first.span()));
        }
        for (key, value) in [
            ("channel-policy", raw.channel_policy.as_ref()),
            ("bundle-image", raw.bundle_image.as_ref()),
            ("unreachable", raw.unreachable.as_ref()),
            ("default-channel", raw.default_channel.as_ref()),
        ] {
            if let Some(value) = value {
                conflicting.push((key, value.span()));
            }
        }
        if let Some(icon) = &raw.icon {
            conflicting.push(("icon", icon.span()));
        }
        if let Some(channel) = raw.channels.first() {
            conflicting.push(("[[package.channel]]", channel.name.span()));
        }
        if raw.semver.is_some() {
            conflicting.push(("[package.semver]", index_db.span()));
        }
        for (key, span) in conflicting {
            self.error(
                span,
                format!("`{key}` is not read for package `{name}`: its bundles and channels come from `index-db`"),
            )
            .add_help(format!(
                "remove `{key}`, or remove `index-db = {:?}` to build the package from bundle directories",
                index_db.get_ref()
            ));
        }
    }

    /// `[catalog] index-db`: every package of that index, as if each had a
    /// `[[package]]` with `index-db`, except those declared by name.
    fn catalog_index_db_packages(&mut self, index_db: &Spanned<String>, root: &Path, packages: &mut Vec<PackageConfig>) {
        let path = root.join(index_db.get_ref());
        let names = match crate::sqlite::read::list_packages(&path) {
            Ok(names) => names,
            Err(error) => {
                let diagnostic = self.error(
                    index_db.span(),
                    format!("cannot use `{}` as a source: {}", index_db.get_ref(), error.detail()),
                );
                if let Some(help) = error.help {
                    diagnostic.add_help(help);
                }
                return;
            }
        };
        for name in names {
            if packages.iter().any(|package| package.name.value == name) {
                continue;
            }
            packages.push(PackageConfig {
                name: Sourced {
                    value: name,
                    span: index_db.span(),
                },
                default_channel: None,
                description: None,
                icon: None,
                no_icon: false,
                bundles: Vec::new(),
                package_manifests: Vec::new(),
                bundle_images: Vec::new(),
                index_db: Some(Sourced {
                    value: path.clone(),
                    span: index_db.span(),
                }),
                exclude: Vec::new(),
                bundle_image: None,
                channel_policy: ChannelPolicy::Replaces,
                unreachable_bundles: UnreachableBundles::Error,
            });
        }
    }

    fn semver(&mut self, raw: Option<&raw::RawSemver>) -> SemverPolicy {
        let Some(raw) = raw else {
            return SemverPolicy {
                generate_minor_channels: true,
                ..SemverPolicy::default()
            };
        };
        let mut minor = raw.generate_minor_channels.unwrap_or(false);
        if !raw.generate_major_channels && !minor {
            minor = true;
        }
        let preference = raw.default_channel_type_preference.as_ref();
        let preference_text = preference.map_or(String::new(), |value| value.get_ref().clone());
        if let Some(value) = preference {
            match value.get_ref().as_str() {
                "major" if !raw.generate_major_channels => {
                    self.error(
                        value.span(),
                        "`default-channel-type-preference = \"major\"` needs `generate-major-channels = true`",
                    );
                }
                "minor" if !minor => {
                    self.error(
                        value.span(),
                        "`default-channel-type-preference = \"minor\"` needs `generate-minor-channels = true`",
                    );
                }
                "major" | "minor" | "" => {}
                other => {
                    self.error(value.span(), format!("unknown default channel type preference `{other}`"))
                        .add_help("use `major` or `minor`");
                }
            }
        }
        let list = |items: &Option<Vec<Spanned<String>>>| items.as_ref().map(|items| items.iter().map(Sourced::from_spanned).collect());
        SemverPolicy {
            generate_major_channels: raw.generate_major_channels,
            generate_minor_channels: minor,
            default_channel_type_preference: preference_text,
            candidate: list(&raw.candidate),
            fast: list(&raw.fast),
            stable: list(&raw.stable),
        }
    }

    fn targets(
        &mut self,
        raw_targets: Vec<Spanned<raw::RawTarget>>,
        packages: &[PackageConfig],
        vars: &BTreeMap<String, String>,
        catalog_image: Option<&Spanned<String>>,
        catalog_openshift: Option<&Spanned<raw::RawVersions>>,
    ) -> Vec<Target> {
        let all_packages: Vec<String> = packages.iter().map(|package| package.name.value.clone()).collect();
        if raw_targets.is_empty() && catalog_openshift.is_none() {
            // The default target takes `[images] base-image` and `push`.
            self.target_image_settings.push((None, None));
            return vec![Target {
                name: "default".to_string(),
                formats: vec![OutputFormat::FbcJson],
                packages: all_packages,
                vars: vars.clone(),
                migrate_level: MigrateLevel::None,
                image: catalog_image.and_then(|template| self.catalog_image(template, "default", vars)),
                deploy: None,
                base_image: BaseImage::Scratch,
                base_image_span: None,
                push: false,
                openshift: None,
            }];
        }
        // `[catalog] openshift` alone: the default target, once per version.
        let raw_targets = if raw_targets.is_empty() {
            let span = catalog_openshift.map_or(0..0, Spanned::span);
            vec![Spanned::new(span, raw::RawTarget::default())]
        } else {
            raw_targets
        };
        let mut targets: Vec<Target> = Vec::new();
        for spanned in raw_targets {
            let table_span = spanned.span();
            let raw = spanned.into_inner();
            // A target's own `openshift` wins over the catalog's.
            let openshift = raw.openshift.as_ref().or(catalog_openshift);
            let versions = openshift.map(|value| (self.versions(value).unwrap_or_default(), value.span()));
            let Some(first_name) = (match (&raw.name, &versions) {
                (Some(name), None) => Some(name.get_ref().clone()),
                (name, Some((versions, _))) => versions.first().map(|version| version_target_name(name.as_ref(), *version)),
                (None, None) => {
                    self.error(table_span.clone(), "this `[[target]]` has no `name`")
                        .add_help("name it (`name = \"prod\"`), or set `openshift = \"v4.12-v4.22\"` for one target per OpenShift version");
                    None
                }
            }) else {
                continue;
            };
            let template_span = raw
                .name
                .as_ref()
                .map_or_else(|| openshift.map_or(table_span.clone(), Spanned::span), Spanned::span);
            let raw_name = raw.name.clone();
            let migrate_level_set = raw.migrate_level.is_some();
            let (base_image, push) = (raw.base_image.clone(), raw.push);
            let image_template = raw.image.clone().or_else(|| catalog_image.cloned());
            let first = self.target(raw, first_name, &all_packages, vars, catalog_image);
            let mut expanded = Vec::new();
            match versions {
                None => expanded.push(first),
                Some((versions, _)) => {
                    for version in versions {
                        let mut target = first.clone();
                        target.name = version_target_name(raw_name.as_ref(), version);
                        target.openshift = Some(version);
                        if !migrate_level_set {
                            target.migrate_level = crate::openshift::migrate_level(version);
                        }
                        // The image template sees each version's own name
                        // (rendered once more only when it rendered at all).
                        if target.name != first.name
                            && first.image.is_some()
                            && let Some(template) = &image_template
                        {
                            target.image = self.catalog_image(template, &target.name, &target.vars);
                        }
                        expanded.push(target);
                    }
                }
            }
            for target in expanded {
                if targets.iter().any(|other| other.name == target.name) {
                    self.error(template_span.clone(), format!("target `{}` is declared twice", target.name))
                        .add_help("two `[[target]]` tables (or their `openshift` versions) give the same name: rename one");
                    continue;
                }
                if target.name.is_empty() || target.name.contains(['/', '\\']) || target.name == "." || target.name == ".." {
                    self.error(
                        template_span.clone(),
                        format!("target name `{}` cannot be used as a directory name", target.name),
                    );
                }
                // The output directory's lock and temp dirs use these names.
                if target.name.starts_with(".catbuild") {
                    self.error(
                        template_span.clone(),
                        format!(
                            "target name `{}` is reserved: catbuild names its lock and temp dirs `.catbuild…`",
                            target.name
                        ),
                    );
                }
                self.target_image_settings.push((base_image.clone(), push));
                targets.push(target);
            }
        }
        targets
    }

    /// The versions of an `openshift` value, every bad item reported at
    /// its own span; `None` when one is bad.
    fn versions(&mut self, value: &Spanned<raw::RawVersions>) -> Option<Vec<crate::openshift::OcpVersion>> {
        let items: Vec<(String, Range<usize>)> = match value.get_ref() {
            raw::RawVersions::One(text) => vec![(text.clone(), value.span())],
            raw::RawVersions::List(items) => items.iter().map(|item| (item.get_ref().clone(), item.span())).collect(),
        };
        let mut ok = true;
        for (text, span) in &items {
            if let Err(error) = crate::openshift::parse_versions(&[text.as_str()]) {
                self.error(span.clone(), error.to_string());
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let texts: Vec<&str> = items.iter().map(|(text, _)| text.as_str()).collect();
        match crate::openshift::parse_versions(&texts) {
            Ok(versions) => Some(versions),
            Err(error) => {
                self.error(value.span(), error.to_string());
                None
            }
        }
    }

    /// One `[[target]]` resolved under `name` (for a template: its first
    /// version's name; the caller copies it for the others).
    fn target(
        &mut self,
        raw: raw::RawTarget,
        name: String,
        all_packages: &[String],
        vars: &BTreeMap<String, String>,
        catalog_image: Option<&Spanned<String>>,
    ) -> Target {
        let mut formats = Vec::new();
        for format in &raw.formats {
            match OutputFormat::parse(format.get_ref()) {
                Some(parsed) if !formats.contains(&parsed) => formats.push(parsed),
                Some(_) => {}
                None => {
                    let names: Vec<&str> = OutputFormat::ALL.iter().map(|(name, _)| *name).collect();
                    let help = closest(format.get_ref(), &names).map_or_else(
                        || format!("supported formats: {}", names.join(", ")),
                        |best| format!("did you mean `{best}`?"),
                    );
                    self.error(format.span(), format!("unknown output format `{}`", format.get_ref()))
                        .add_help(help);
                }
            }
        }
        if raw.formats.is_empty() {
            formats.push(OutputFormat::FbcJson);
        }
        if formats.contains(&OutputFormat::FbcJson) && formats.contains(&OutputFormat::FbcYaml) {
            // Both flavours in one catalog directory would declare every
            // package twice, which opm rejects.
            self.error(
                raw.formats[0].span().start..raw.formats[raw.formats.len() - 1].span().end,
                format!("target `{name}` asks for both `fbc-json` and `fbc-yaml`"),
            )
            .add_help("a catalog directory holds one flavour; declare a second `[[target]]` for the other");
        }
        let target_packages = match &raw.packages {
            None => all_packages.to_vec(),
            Some(names) => {
                let mut selected = Vec::new();
                for package in names {
                    let known: Vec<&str> = all_packages.iter().map(String::as_str).collect();
                    if known.contains(&package.get_ref().as_str()) {
                        selected.push(package.get_ref().clone());
                    } else {
                        let help = closest(package.get_ref(), &known).map_or_else(
                            || "add a `[[package]]` with this name or remove it from the target".to_string(),
                            |best| format!("did you mean `{best}`?"),
                        );
                        self.error(
                            package.span(),
                            format!("target `{name}` names unknown package `{}`", package.get_ref()),
                        )
                        .add_help(help);
                    }
                }
                selected
            }
        };
        let mut target_vars = vars.clone();
        target_vars.extend(self.vars(&raw.vars));
        let migrate_level = match &raw.migrate_level {
            None => MigrateLevel::None,
            Some(level) => MigrateLevel::parse(level.get_ref()).unwrap_or_else(|| {
                self.error(level.span(), format!("unknown migrate level `{}`", level.get_ref()))
                    .add_help("use `none` or `bundle-object-to-csv-metadata`");
                MigrateLevel::None
            }),
        };
        let image = raw
            .image
            .as_ref()
            .or(catalog_image)
            .and_then(|template| self.catalog_image(template, &name, &target_vars));
        let deploy = self.deploy(&name, raw.olm.as_ref(), raw.deploy, raw.install, &target_packages);
        if deploy.is_some() && image.is_none() {
            let span = raw.olm.as_ref().map_or(0..0, Spanned::span);
            self.error(span, format!("target `{name}` writes deployment objects but has no catalog image"))
                .add_help("set `image` in `[catalog]` or in the target: the CatalogSource and ClusterCatalog name it");
        }
        Target {
            name,
            formats,
            packages: target_packages,
            vars: target_vars,
            migrate_level,
            image,
            deploy,
            base_image: BaseImage::Scratch,
            base_image_span: None,
            push: false,
            openshift: None,
        }
    }
}

impl Resolver<'_> {
    fn explicit_channel(&mut self, raw: &raw::RawChannel) -> ExplicitChannel {
        ExplicitChannel {
            name: Sourced::from_spanned(&raw.name),
            openshift: raw.openshift.as_ref().map(|value| Sourced {
                value: self.versions(value).unwrap_or_default(),
                span: value.span(),
            }),
            default: raw.default.as_ref().filter(|value| *value.get_ref()).map(Spanned::span),
            entries: raw
                .entries
                .iter()
                .map(|entry| ExplicitEntry {
                    name: Sourced::from_spanned(&entry.name),
                    replaces: entry.replaces.as_ref().map(Sourced::from_spanned),
                    skips: entry.skips.iter().map(Sourced::from_spanned).collect(),
                    skip_range: entry.skip_range.as_ref().map(Sourced::from_spanned),
                })
                .collect(),
        }
    }

    /// Channels keyed by OpenShift version need version targets, and a
    /// channel no version target gets is most likely a typo.
    fn check_channel_versions(&mut self, packages: &[PackageConfig], targets: &[Target]) {
        let built: Vec<crate::openshift::OcpVersion> = targets.iter().filter_map(|target| target.openshift).collect();
        for package in packages {
            let ChannelPolicy::Explicit(channels) = &package.channel_policy else {
                continue;
            };
            self.check_default_channels(package, channels, &built);
            for channel in channels {
                let Some(versions) = &channel.openshift else {
                    continue;
                };
                if built.is_empty() {
                    self.error(
                        versions.span.clone(),
                        format!(
                            "channel `{}` of package `{}` is for OpenShift versions, but no target is",
                            channel.name.value, package.name.value
                        ),
                    )
                    .add_help("set `openshift = \"v4.12-v4.22\"` in `[catalog]` or a `[[target]]`, or remove the channel's `openshift`");
                } else if !versions.value.is_empty() && !versions.value.iter().any(|version| built.contains(version)) {
                    let diagnostic = Diagnostic::warning(
                        "config",
                        format!(
                            "channel `{}` of package `{}` is for no OpenShift version a target builds",
                            channel.name.value, package.name.value
                        ),
                    )
                    .at(Location::span(self.path, versions.span.clone()))
                    .help(format!("the targets build {}", version_list(&built)));
                    self.diagnostics.push(diagnostic);
                }
            }
        }
    }

    /// Two channels marked `default = true` for one target leave the
    /// default undecided.
    fn check_default_channels(&mut self, package: &PackageConfig, channels: &[ExplicitChannel], built: &[crate::openshift::OcpVersion]) {
        let defaults: Vec<&ExplicitChannel> = channels.iter().filter(|channel| channel.default.is_some()).collect();
        for (index, later) in defaults.iter().enumerate() {
            let Some(earlier) = defaults[..index].iter().find(|earlier| {
                match (&earlier.openshift, &later.openshift) {
                    (Some(left), Some(right)) => left.value.iter().any(|version| right.value.contains(version)),
                    // A channel for every target meets every other.
                    _ => true,
                }
            }) else {
                continue;
            };
            let shared: Vec<crate::openshift::OcpVersion> = built
                .iter()
                .copied()
                .filter(|version| {
                    [earlier, later]
                        .iter()
                        .all(|channel| channel.openshift.as_ref().is_none_or(|versions| versions.value.contains(version)))
                })
                .collect();
            let whom = if shared.is_empty() {
                "the same targets".to_string()
            } else {
                version_list(&shared)
            };
            self.error(
                later.default.clone().unwrap_or_default(),
                format!(
                    "channels `{}` and `{}` of package `{}` are both `default = true` for {whom}",
                    earlier.name.value, later.name.value, package.name.value
                ),
            )
            .add_help("mark one channel per OpenShift version as the default");
        }
    }

    /// opm migrates only bundles that have an image to `olm.csv.metadata`:
    /// without `bundle-image`, a v4.17+ version target would keep
    /// `olm.bundle.object`, which the community pipeline's check refuses.
    fn check_csv_metadata_images(&mut self, packages: &[PackageConfig], targets: &[Target], span: Range<usize>) {
        let migrated: Vec<&Target> = targets
            .iter()
            .filter(|target| target.openshift.is_some() && target.migrate_level == MigrateLevel::BundleObjectToCsvMetadata)
            .collect();
        let Some(first) = migrated.first() else {
            return;
        };
        let without: Vec<String> = packages
            .iter()
            .filter(|package| package.bundle_image.is_none() && package.index_db.is_none())
            .filter(|package| migrated.iter().any(|target| target.packages.contains(&package.name.value)))
            .map(|package| format!("`{}`", package.name.value))
            .collect();
        if without.is_empty() {
            return;
        }
        let diagnostic = Diagnostic::warning(
            "config",
            format!(
                "package(s) {} have no `bundle-image`, so their bundles keep `olm.bundle.object` in `{}` and later versions",
                without.join(", "),
                first.name
            ),
        )
        .at(Location::span(self.path, span))
        .help("set `bundle-image` in `[catalog]` or the package: opm migrates only bundles with an image to `olm.csv.metadata`")
        .note("the community pipeline refuses a v4.17+ catalog with `olm.bundle.object`");
        self.diagnostics.push(diagnostic);
    }

    /// `[limits]`: the defaults where a key is missing; zero and negative
    /// values are errors at the key.
    fn limits(&mut self, raw: Option<&raw::RawLimits>) -> (crate::input::Limits, crate::image::unpack::Limits) {
        let mut limits = crate::input::Limits::default();
        let mut pulled = crate::image::unpack::Limits::default();
        let Some(raw) = raw else {
            return (limits, pulled);
        };
        let mut positive = |value: &Option<Spanned<i64>>, key: &str| -> Option<u64> {
            let value = value.as_ref()?;
            match u64::try_from(*value.get_ref()) {
                Ok(number) if number > 0 => Some(number),
                _ => {
                    self.error(value.span(), format!("`{key}` must be a positive integer"))
                        .add_help("leave the key out for the default (see docs/catalog-toml.md)");
                    None
                }
            }
        };
        let as_usize = |number: u64| usize::try_from(number).unwrap_or(usize::MAX);
        if let Some(number) = positive(&raw.file_size, "file-size") {
            limits.file_bytes = number;
        }
        if let Some(number) = positive(&raw.line_length, "line-length") {
            limits.line_bytes = number;
        }
        if let Some(number) = positive(&raw.documents, "documents") {
            limits.documents = as_usize(number);
        }
        if let Some(number) = positive(&raw.template_steps, "template-steps") {
            limits.template_steps = number;
        }
        if let Some(number) = positive(&raw.template_output, "template-output") {
            limits.template_output_bytes = number;
        }
        if let Some(number) = positive(&raw.diagnostics, "diagnostics") {
            limits.diagnostics = as_usize(number);
        }
        if let Some(number) = positive(&raw.pulled_file_size, "pulled-file-size") {
            pulled.file = number;
        }
        if let Some(number) = positive(&raw.pulled_layer_size, "pulled-layer-size") {
            pulled.layer = number;
        }
        if let Some(number) = positive(&raw.pulled_image_size, "pulled-image-size") {
            pulled.image = number;
        }
        if let Some(number) = positive(&raw.pulled_ratio, "pulled-ratio") {
            pulled.ratio = number;
        }
        if let Some(number) = positive(&raw.pulled_files, "pulled-files") {
            pulled.files = number;
        }
        (limits, pulled)
    }

    fn images(&mut self, raw: Option<&raw::RawImages>, root: &Path) -> Images {
        let Some(raw) = raw else {
            return Images::default();
        };
        let bundle_refs = match &raw.bundle_image_refs {
            None => BundleRefs::Tag,
            Some(text) => match text.get_ref().as_str() {
                "tag" => BundleRefs::Tag,
                "digest" => BundleRefs::Digest,
                other => {
                    self.error(text.span(), format!("unknown `bundle-image-refs = \"{other}\"`"))
                        .add_help("use `tag` (as `bundle-image` renders it) or `digest` (the built image's digest)");
                    BundleRefs::Tag
                }
            },
        };
        let registry = raw
            .registry
            .as_ref()
            .and_then(|registry| match parse_registry_prefix(registry.get_ref()) {
                Ok(prefix) => Some(prefix),
                Err(message) => {
                    self.error(registry.span(), message)
                        .add_help("write `HOST[:PORT]/PREFIX`, e.g. `quay.io/example`");
                    None
                }
            });
        let timeout = raw.timeout.as_ref().and_then(|seconds| match u64::try_from(*seconds.get_ref()) {
            Ok(seconds @ 1..=3600) => Some(std::time::Duration::from_secs(seconds)),
            _ => {
                self.error(seconds.span(), format!("`timeout` is {} seconds", seconds.get_ref()))
                    .add_help("write a whole number of seconds from 1 to 3600");
                None
            }
        });
        Images {
            build: raw.build.unwrap_or(false),
            bundle_refs,
            registry,
            insecure: raw.insecure.unwrap_or(false),
            ca_file: raw.ca_file.as_ref().map(|file| root.join(file.get_ref())),
            timeout,
        }
    }

    /// Renders an `image` template for one target; a template that fails or
    /// yields something that is not a pull spec is an error at the template.
    fn catalog_image(&mut self, template: &Spanned<String>, target: &str, vars: &BTreeMap<String, String>) -> Option<Sourced<String>> {
        match crate::load::catalog_image(template.get_ref(), vars, target) {
            Ok(reference) => match crate::model::image_ref::parse_normalized_named(&reference) {
                Ok(()) => Some(Sourced {
                    value: reference,
                    span: template.span(),
                }),
                Err(reason) => {
                    self.error(
                        template.span(),
                        format!("catalog image of target `{target}` is `{reference}`, not an image reference: {reason}"),
                    )
                    .add_help("write `HOST/REPOSITORY:TAG`, for example `quay.io/example/catalog:{{ target.name }}`");
                    None
                }
            },
            Err(error) => {
                self.error(
                    template.span(),
                    format!("cannot render the catalog image of target `{target}`: {error}"),
                )
                .add_help("the template sees the `[vars]` (with the target's overrides) and `target.name`");
                None
            }
        }
    }
}

/// `v4.12, v4.13` for messages.
pub(crate) fn version_list(versions: &[crate::openshift::OcpVersion]) -> String {
    versions.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The name of a template target's version: `v4.16`, or `prod-v4.16` when
/// the template has `name = "prod"`.
fn version_target_name(name: Option<&Spanned<String>>, version: crate::openshift::OcpVersion) -> String {
    match name {
        Some(name) => format!("{}-{version}", name.get_ref()),
        None => version.to_string(),
    }
}

/// Why `name` is not a DNS-1123 label (what opm HEAD requires of package names).
pub fn dns1123_label_problem(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_string());
    }
    if name.len() > 63 {
        return Err("must be no more than 63 characters".to_string());
    }
    if name.contains('.') {
        return Err("must not contain dots".to_string());
    }
    if !crate::model::k8s_names::is_dns1123_label(name) {
        return Err(
            "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character".to_string(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<(String, String, Vec<String>)> {
        let path = Path::new("/project/catalog.toml");
        match parse(text, path) {
            Ok(_) => Vec::new(),
            Err(diagnostics) => diagnostics
                .into_iter()
                .map(|diagnostic| {
                    let span = diagnostic
                        .location
                        .and_then(|location| location.span)
                        .map(|span| text[span].to_string())
                        .unwrap_or_default();
                    (diagnostic.message, span, diagnostic.help)
                })
                .collect(),
        }
    }

    const MINIMAL: &str = "[catalog]\nname = \"fruits\"\n\n[[package]]\nname = \"apple\"\nbundles = [\"b/*\"]\n";

    #[test]
    fn minimal_config_gets_a_default_target() {
        let config = parse(MINIMAL, Path::new("/project/catalog.toml")).unwrap();
        assert_eq!(config.targets.len(), 1);
        assert_eq!(config.targets[0].name, "default");
        assert_eq!(config.targets[0].formats, vec![OutputFormat::FbcJson]);
        assert_eq!(config.targets[0].packages, vec!["apple".to_string()]);
        assert_eq!(config.catalog.output_dir, Path::new("/project/build"));
        assert!(matches!(config.packages[0].channel_policy, ChannelPolicy::Replaces));
    }

    #[test]
    fn catalog_image_is_rendered_per_target_and_overridable() {
        let text = "[catalog]\nname = \"fruits\"\nimage = \"{{ registry }}/fruits-catalog:{{ target.name }}\"\n\
                    [vars]\nregistry = \"quay.io/example\"\n\
                    [[package]]\nname = \"apple\"\nbundles = [\"b/*\"]\n\
                    [[target]]\nname = \"v4.16\"\n\
                    [[target]]\nname = \"mirror\"\nvars = { registry = \"registry.example.com:5000/ops\" }\n\
                    [[target]]\nname = \"pinned\"\nimage = \"quay.io/example/fixed@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"\n";
        let config = parse(text, Path::new("/project/catalog.toml")).unwrap();
        let images: Vec<&str> = config
            .targets
            .iter()
            .map(|target| target.image.as_ref().unwrap().value.as_str())
            .collect();
        assert_eq!(
            images,
            [
                "quay.io/example/fruits-catalog:v4.16",
                "registry.example.com:5000/ops/fruits-catalog:mirror",
                "quay.io/example/fixed@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ]
        );
        assert!(
            parse(MINIMAL, Path::new("/project/catalog.toml")).unwrap().targets[0]
                .image
                .is_none()
        );
    }

    #[test]
    fn digest_bundle_refs_need_a_bundle_image_template() {
        let found = errors(
            "[catalog]\nname = \"fruits\"\n[[package]]\nname = \"p\"\nbundles = [\"b/*\"]\n[images]\nbundle-image-refs = \"digest\"\n",
        );
        assert_eq!(
            (found[0].0.as_str(), found[0].1.as_str()),
            (
                "`bundle-image-refs = \"digest\"` needs a repository to name, and package(s) `p` have no `bundle-image`",
                "\"digest\""
            )
        );
        let unknown = errors("[catalog]\nname = \"fruits\"\n[images]\nbundle-image-refs = \"sha\"\n");
        assert_eq!(unknown[0].0, "unknown `bundle-image-refs = \"sha\"`");
    }

    #[test]
    fn registry_prefixes_are_checked() {
        assert_eq!(parse_registry_prefix("127.0.0.1:5000/test/").unwrap(), "127.0.0.1:5000/test");
        assert_eq!(parse_registry_prefix("localhost").unwrap(), "localhost");
        assert!(parse_registry_prefix("https://quay.io/x").is_err());
        assert!(parse_registry_prefix("example/x").is_err());
        assert!(parse_registry_prefix("quay.io/Upper").is_err());
    }

    #[test]
    fn catalog_image_that_is_no_pull_spec_is_an_error_at_the_template() {
        let found = errors("[catalog]\nname = \"fruits\"\nimage = \"Quay.io/Example/{{ target.name }}\"\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].0,
            "catalog image of target `default` is `Quay.io/Example/default`, not an image reference: invalid reference format: repository name must be lowercase"
        );
        assert_eq!(found[0].1, "\"Quay.io/Example/{{ target.name }}\"");
        let found = errors("[catalog]\nname = \"fruits\"\nimage = \"{{ registry }}/cat\"\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].0,
            "cannot render the catalog image of target `default`: `registry` is not defined"
        );
    }

    #[test]
    fn unknown_key_points_at_the_key_and_suggests() {
        let found = errors("[catalog]\nname = \"fruits\"\ndisplay-nmae = \"x\"\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].0.starts_with("unknown field `display-nmae`"), "{found:?}");
        assert_eq!(found[0].1, "display-nmae");
        assert_eq!(found[0].2, vec!["did you mean `display-name`?".to_string()]);
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let found = errors("[catalog]\nname = 5\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].0.contains("invalid type: integer `5`, expected a string"), "{found:?}");
        assert_eq!(found[0].1, "5");
    }

    #[test]
    fn duplicate_package_names_the_first_line() {
        let text = format!("{MINIMAL}\n[[package]]\nname = \"apple\"\nbundles = [\"c/*\"]\n");
        let found = errors(&text);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "package `apple` is declared twice");
        assert_eq!(found[0].2, vec!["merge it with the `[[package]]` at line 5".to_string()]);
    }

    #[test]
    fn find_takes_a_directory_or_searches_upward() {
        let project = tempfile::tempdir().unwrap();
        let nested = project.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(project.path().join(FILE_NAME), MINIMAL).unwrap();
        let expected = project.path().join(FILE_NAME);
        assert_eq!(find(None, &nested).unwrap(), expected);
        assert_eq!(find(Some(project.path()), &nested).unwrap(), expected);
        assert_eq!(find(Some(Path::new("other.toml")), &nested).unwrap(), Path::new("other.toml"));
    }

    #[test]
    fn closest_prefers_the_nearest_version_on_ties() {
        let versions = ["op.v0.0.1", "op.v0.0.2", "op.v0.0.3", "op.v0.0.4"];
        assert_eq!(closest("op.v0.0.5", &versions), Some("op.v0.0.4"));
        assert_eq!(closest("op.v0.0.10", &["op.v0.0.1", "op.v0.0.11", "op.v0.0.9"]), Some("op.v0.0.11"));
        assert_eq!(closest("stabel", &["alpha", "stable"]), Some("stable"));
        assert_eq!(
            closest("tiny.v0.2.O", &["tiny.v0.1.0", "tiny.v0.2.0", "tiny.v0.3.0"]),
            Some("tiny.v0.2.0")
        );
        assert_eq!(closest("xyz", &["stable"]), None);
    }

    #[test]
    fn semantic_errors_are_all_reported() {
        let text = format!(
            "{MINIMAL}channel-policy = \"semver-mod\"\n\n[[package]]\nname = \"Bad.Name\"\nbundles = []\n\n[[target]]\nname = \"t\"\nformats = [\"fbc-jsn\"]\npackages = [\"aple\"]\n"
        );
        let found = errors(&text);
        let messages: Vec<&str> = found.iter().map(|(message, _, _)| message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "unknown channel policy `semver-mod`",
                "package name `Bad.Name` is not a DNS-1123 label: must not contain dots",
                "package `Bad.Name` has no bundle sources",
                "unknown output format `fbc-jsn`",
                "target `t` names unknown package `aple`",
            ]
        );
        assert_eq!(found[0].2, vec!["did you mean `semver-mode`?".to_string()]);
        assert_eq!(found[3].1, "\"fbc-jsn\"");
        assert_eq!(found[4].2, vec!["did you mean `apple`?".to_string()]);
    }

    #[test]
    fn old_semver_policy_name_points_at_the_new_ones() {
        let text = format!("{MINIMAL}channel-policy = \"semver\"\n");
        let found = errors(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "channel policy `semver` is ambiguous");
        assert_eq!(found[0].1, "\"semver\"");
        assert_eq!(
            found[0].2,
            vec![
                "write `semver-template` for opm's semver catalog template (what `semver` used to mean), or `semver-mode` for `opm index add --mode semver` (ci.yaml `updateGraph: semver-mode`)"
                    .to_string()
            ]
        );
        for (typed, policy) in [
            ("semver-mode", "semver-mode"),
            ("semver-skippatch-mode", "semver-skippatch-mode"),
            ("semver-template", "semver-template"),
            ("replaces", "replaces"),
        ] {
            let config = parse(
                &format!("{MINIMAL}channel-policy = \"{typed}\"\n"),
                Path::new("/project/catalog.toml"),
            )
            .unwrap();
            assert_eq!(config.packages[0].channel_policy.name(), policy);
        }
        let found = errors(&format!("{MINIMAL}channel-policy = \"replaces-mode\"\n"));
        assert_eq!(found[0].0, "channel policy `replaces-mode` is ambiguous");
        assert_eq!(
            found[0].2,
            vec!["write `replaces` for opm's replaces mode (ci.yaml `updateGraph: replaces-mode`)".to_string()]
        );
    }

    #[test]
    fn unreachable_setting_is_for_the_replaces_policy() {
        let config = parse(&format!("{MINIMAL}unreachable = \"drop\"\n"), Path::new("/project/catalog.toml")).unwrap();
        assert_eq!(config.packages[0].unreachable_bundles, UnreachableBundles::Drop);
        let found = errors(&format!("{MINIMAL}unreachable = \"skip\"\n"));
        assert_eq!(found[0].0, "unknown `unreachable` setting `skip`");
        assert_eq!(found[0].2, vec!["use `error` or `drop`".to_string()]);
        let found = errors(&format!("{MINIMAL}channel-policy = \"semver-mode\"\nunreachable = \"drop\"\n"));
        assert_eq!(
            found[0].0,
            "`unreachable` is only read with `channel-policy = \"replaces\"` (package `apple` uses `semver-mode`)"
        );
        assert_eq!(found[0].1, "\"drop\"");
    }

    fn targets_of(text: &str) -> Vec<(String, Option<String>, MigrateLevel, Vec<OutputFormat>)> {
        parse(text, Path::new("/project/catalog.toml"))
            .unwrap()
            .targets
            .into_iter()
            .map(|target| {
                (
                    target.name,
                    target.openshift.map(|version| version.to_string()),
                    target.migrate_level,
                    target.formats,
                )
            })
            .collect()
    }

    #[test]
    fn catalog_openshift_makes_one_target_per_version_switching_at_4_17() {
        let text = MINIMAL.replace("name = \"fruits\"\n", "name = \"fruits\"\nopenshift = \"v4.15-v4.18\"\n");
        let found = targets_of(&text);
        let json = vec![OutputFormat::FbcJson];
        assert_eq!(
            found,
            [
                ("v4.15".to_string(), Some("v4.15".to_string()), MigrateLevel::None, json.clone()),
                ("v4.16".to_string(), Some("v4.16".to_string()), MigrateLevel::None, json.clone()),
                (
                    "v4.17".to_string(),
                    Some("v4.17".to_string()),
                    MigrateLevel::BundleObjectToCsvMetadata,
                    json.clone()
                ),
                (
                    "v4.18".to_string(),
                    Some("v4.18".to_string()),
                    MigrateLevel::BundleObjectToCsvMetadata,
                    json
                ),
            ]
        );
        let config = parse(&text, Path::new("/project/catalog.toml")).unwrap();
        assert!(config.targets.iter().all(|target| target.packages == ["apple"]));
        assert_eq!(config.openshift_versions().len(), 4);
    }

    #[test]
    fn a_target_template_is_copied_per_version_and_its_own_value_wins() {
        let text = "[catalog]\nname = \"fruits\"\nopenshift = \"v4.12-v4.22\"\n\
                    image = \"quay.io/example/fruits:{{ target.name }}\"\n\
                    [[package]]\nname = \"apple\"\nbundles = [\"b/*\"]\n\
                    [[package]]\nname = \"pear\"\nbundles = [\"p/*\"]\n\
                    [[target]]\nopenshift = [\"v4.16\", \"v4.17\"]\nformats = [\"fbc-yaml\"]\npackages = [\"pear\"]\n\
                    [[target]]\nname = \"pinned\"\nopenshift = \"v4.18\"\nmigrate-level = \"none\"\n";
        let config = parse(text, Path::new("/project/catalog.toml")).unwrap();
        type Summary<'a> = (&'a str, MigrateLevel, &'a [OutputFormat], &'a [String], &'a str);
        let summary: Vec<Summary> = config
            .targets
            .iter()
            .map(|target| {
                (
                    target.name.as_str(),
                    target.migrate_level,
                    target.formats.as_slice(),
                    target.packages.as_slice(),
                    target.image.as_ref().unwrap().value.as_str(),
                )
            })
            .collect();
        let pear = ["pear".to_string()];
        let both = ["apple".to_string(), "pear".to_string()];
        assert_eq!(
            summary,
            [
                (
                    "v4.16",
                    MigrateLevel::None,
                    &[OutputFormat::FbcYaml][..],
                    &pear[..],
                    "quay.io/example/fruits:v4.16"
                ),
                (
                    "v4.17",
                    MigrateLevel::BundleObjectToCsvMetadata,
                    &[OutputFormat::FbcYaml][..],
                    &pear[..],
                    "quay.io/example/fruits:v4.17"
                ),
                // A set migrate level is kept, whatever the version.
                (
                    "pinned-v4.18",
                    MigrateLevel::None,
                    &[OutputFormat::FbcJson][..],
                    &both[..],
                    "quay.io/example/fruits:pinned-v4.18"
                ),
            ]
        );
    }

    #[test]
    fn bad_openshift_values_are_errors_at_the_value() {
        let base = "[catalog]\nname = \"fruits\"\nbundle-image = \"quay.io/example/{{ bundle.name }}\"\n[[package]]\nname = \"apple\"\nbundles = [\"b/*\"]\n";
        let found = errors(&format!("{base}[[target]]\nopenshift = [\"v4.12\", \"v4.14-v4.13\"]\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].0.as_str(), found[0].1.as_str()),
            (
                "`v4.14-v4.13` ends before it starts: write the lower version first, as in `v4.12-v4.22`",
                "\"v4.14-v4.13\""
            )
        );
        let found = errors(&format!("{base}[[target]]\nopenshift = \"4.16+\"\n"));
        assert_eq!(found[0].1, "\"4.16+\"");
        let found = errors(&format!("{base}[[target]]\nopenshift = 4.16\n"));
        assert!(
            found[0]
                .0
                .starts_with("invalid type: floating point `4.16`, expected an OpenShift version range"),
            "{found:?}"
        );
        // Two templates giving one name.
        let found = errors(&format!(
            "{base}[[target]]\nopenshift = \"v4.16-v4.17\"\n[[target]]\nopenshift = \"v4.17\"\nformats = [\"sqlite\"]\n"
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].0.as_str(), found[0].1.as_str()),
            ("target `v4.17` is declared twice", "\"v4.17\"")
        );
        let found = errors(&format!("{base}[[target]]\nformats = [\"sqlite\"]\n"));
        assert_eq!(found[0].0, "this `[[target]]` has no `name`");
        assert_eq!(found[0].1, "[[target]]");
    }

    #[test]
    fn version_targets_from_4_17_without_bundle_images_warn() {
        let text = MINIMAL.replace("name = \"fruits\"\n", "name = \"fruits\"\nopenshift = \"v4.16-v4.18\"\n");
        let config = parse(&text, Path::new("/project/catalog.toml")).unwrap();
        let messages: Vec<&str> = config.warnings.iter().map(|warning| warning.message.as_str()).collect();
        assert_eq!(
            messages,
            ["package(s) `apple` have no `bundle-image`, so their bundles keep `olm.bundle.object` in `v4.17` and later versions"]
        );
        let span = config.warnings[0].location.as_ref().unwrap().span.clone().unwrap();
        assert_eq!(&text[span], "\"v4.16-v4.18\"");
        // With an image, or before 4.17 only, nothing to say.
        let with_image = text.replace("[catalog]\n", "[catalog]\nbundle-image = \"quay.io/example/{{ bundle.name }}\"\n");
        assert!(parse(&with_image, Path::new("/p/catalog.toml")).unwrap().warnings.is_empty());
        let before = MINIMAL.replace("name = \"fruits\"\n", "name = \"fruits\"\nopenshift = \"v4.12-v4.16\"\n");
        assert!(parse(&before, Path::new("/p/catalog.toml")).unwrap().warnings.is_empty());
    }

    #[test]
    fn channels_keyed_by_version_need_version_targets() {
        let channel = "channel-policy = \"explicit\"\n[[package.channel]]\nname = \"stable\"\nopenshift = \"v4.12-v4.15\"\nentries = [{ name = \"a.v1\" }]\n";
        let found = errors(&format!("{MINIMAL}{channel}"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].0.as_str(), found[0].1.as_str()),
            (
                "channel `stable` of package `apple` is for OpenShift versions, but no target is",
                "\"v4.12-v4.15\""
            )
        );
        let with_targets = format!("{MINIMAL}{channel}[[target]]\nopenshift = \"v4.16-v4.17\"\n");
        let config = parse(&with_targets, Path::new("/project/catalog.toml")).unwrap();
        let ChannelPolicy::Explicit(channels) = &config.packages[0].channel_policy else {
            panic!("explicit");
        };
        assert_eq!(channels[0].openshift.as_ref().unwrap().value.len(), 4);
        // No target builds v4.12–v4.15: a warning at the range.
        let Err(diagnostics) = parse(
            &format!("{with_targets}[[target]]\nname = \"x\"\nformats = [\"bad\"]\n"),
            Path::new("/p/catalog.toml"),
        ) else {
            panic!("the bad format is an error");
        };
        assert!(
            diagnostics.iter().any(|diagnostic| !diagnostic.is_error()
                && diagnostic.message == "channel `stable` of package `apple` is for no OpenShift version a target builds"),
            "{diagnostics:?}"
        );
    }
}
