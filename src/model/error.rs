//! Model validation results: a tree of problems (index → package → channel
//! → bundle) held as data, and a renderer that prints it exactly as opm's
//! `alpha/model/error.go` does (box-drawing connectors, whole text
//! whitespace-trimmed), because `opm validate` prints that text and users
//! and scripts match on it.
//!
//! The [`Issue`] variants are the leaf checks of `alpha/model/model.go`;
//! their `Display` is opm's wording. Sibling order is catbuild's (sorted by
//! name, see the module docs of [`crate::model`]); opm's follows Go map
//! iteration and changes between runs.

use std::fmt;

use crate::go::go_quote;

/// `Model::validate` failed; `Display` renders opm's tree text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError(pub ErrorTree);

impl fmt::Display for ValidationError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0.render())
    }
}

impl std::error::Error for ValidationError {}

/// What a tree node is about; its `Display` is opm's node message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Index,
    Package(String),
    Channel(String),
    Bundle(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Index => formatter.write_str("invalid index"),
            Scope::Package(name) => write!(formatter, "invalid package {}", go_quote(name)),
            Scope::Channel(name) => write!(formatter, "invalid channel {}", go_quote(name)),
            Scope::Bundle(name) => write!(formatter, "invalid bundle {}", go_quote(name)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorTree {
    pub scope: Scope,
    pub children: Vec<ErrorChild>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorChild {
    Tree(ErrorTree),
    Issue(Issue),
}

/// One failed check of opm's model validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    PackageKeyMismatch {
        key: String,
        name: String,
    },
    PackageNameEmpty,
    DefaultChannelNotSet,
    NoChannels,
    ChannelKeyMismatch {
        key: String,
        name: String,
    },
    ChannelNotLinked {
        channel: String,
    },
    /// `(version string, bundle names)`, both sorted.
    DuplicateVersions {
        versions: Vec<(String, Vec<String>)>,
    },
    DefaultChannelNotFound {
        channel: String,
    },
    /// A deprecation (of a package, channel or bundle) without a message.
    DeprecationMessageEmpty,
    ChannelNameEmpty,
    ChannelPackageNotSet,
    ChannelEmpty,
    ReplacesChain(ReplacesChainError),
    BundleKeyMismatch {
        key: String,
        name: String,
    },
    BundleNotLinked {
        bundle: String,
    },
    BundleNameEmpty,
    NameNotNormalized {
        name: String,
        normalized: String,
    },
    BundleChannelNotSet,
    BundlePackageNotSet,
    BundlePackageMismatch,
    /// A property that does not parse; the text is opm's `property.Parse`
    /// error (`parse property[0] of type "x": ...`).
    Property(String),
    EmptySkip {
        index: usize,
    },
    /// `error` is blang's `ParseRange` text.
    InvalidSkipRange {
        skip_range: String,
        error: String,
    },
    PackagePropertyCount,
    BundleImageNotSet,
    BuildMetadataWithRelease,
}

impl fmt::Display for Issue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Issue::PackageKeyMismatch { key, name } => {
                write!(
                    formatter,
                    "package key {} does not match package name {}",
                    go_quote(key),
                    go_quote(name)
                )
            }
            Issue::PackageNameEmpty => formatter.write_str("package name must not be empty"),
            Issue::DefaultChannelNotSet => formatter.write_str("default channel must be set"),
            Issue::NoChannels => formatter.write_str("package must contain at least one channel"),
            Issue::ChannelKeyMismatch { key, name } => {
                write!(
                    formatter,
                    "channel key {} does not match channel name {}",
                    go_quote(key),
                    go_quote(name)
                )
            }
            Issue::ChannelNotLinked { channel } => {
                write!(formatter, "channel {} not correctly linked to parent package", go_quote(channel))
            }
            Issue::DuplicateVersions { versions } => {
                // `%v` of a []error: `[` + messages joined by spaces + `]`.
                let items: Vec<String> = versions
                    .iter()
                    .map(|(version, names)| format!("{{{version}: [{}]}}", names.join(", ")))
                    .collect();
                write!(formatter, "duplicate versions found in bundles: [{}]", items.join(" "))
            }
            Issue::DefaultChannelNotFound { channel } => {
                write!(formatter, "default channel {} not found in channels list", go_quote(channel))
            }
            Issue::DeprecationMessageEmpty => formatter.write_str("invalid deprecation: message must be set"),
            Issue::ChannelNameEmpty => formatter.write_str("channel name must not be empty"),
            Issue::ChannelPackageNotSet | Issue::BundlePackageNotSet => formatter.write_str("package must be set"),
            Issue::ChannelEmpty => formatter.write_str("channel must contain at least one bundle"),
            Issue::ReplacesChain(error) => write!(formatter, "{error}"),
            Issue::BundleKeyMismatch { key, name } => {
                write!(
                    formatter,
                    "bundle key {} does not match bundle name {}",
                    go_quote(key),
                    go_quote(name)
                )
            }
            Issue::BundleNotLinked { bundle } => write!(formatter, "bundle {} not correctly linked to parent channel", go_quote(bundle)),
            Issue::BundleNameEmpty => formatter.write_str("name must be set"),
            Issue::NameNotNormalized { name, normalized } => {
                write!(
                    formatter,
                    "name {} does not match normalized name {}",
                    go_quote(name),
                    go_quote(normalized)
                )
            }
            Issue::BundleChannelNotSet => formatter.write_str("channel must be set"),
            Issue::BundlePackageMismatch => formatter.write_str("package does not match channel's package"),
            Issue::Property(error) => formatter.write_str(error),
            Issue::EmptySkip { index } => write!(formatter, "skip[{index}] is empty"),
            Issue::InvalidSkipRange { skip_range, error } => write!(formatter, "invalid skipRange {}: {error}", go_quote(skip_range)),
            Issue::PackagePropertyCount => write!(formatter, "must be exactly one property with type {}", go_quote("olm.package")),
            Issue::BundleImageNotSet => formatter.write_str("bundle image must be set"),
            Issue::BuildMetadataWithRelease => formatter.write_str("cannot use build metadata in version with a release version"),
        }
    }
}

/// Why a channel's upgrade graph is refused (opm's `Head` and
/// `validateReplacesChain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplacesChainError {
    NoHead,
    /// Head names, sorted.
    MultipleHeads {
        heads: Vec<String>,
    },
    /// From the first repeated bundle back to itself.
    Cycle {
        chain: Vec<String>,
    },
    /// Bundles neither on the chain nor skipped, sorted.
    Stranded {
        bundles: Vec<String>,
    },
}

impl fmt::Display for ReplacesChainError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplacesChainError::NoHead => formatter.write_str("no channel head found in graph"),
            ReplacesChainError::MultipleHeads { heads } => write!(formatter, "multiple channel heads found in graph: {}", heads.join(", ")),
            ReplacesChainError::Cycle { chain } => {
                write!(
                    formatter,
                    "detected cycle in replaces chain of upgrade graph: {}",
                    chain.join(" -> ")
                )
            }
            ReplacesChainError::Stranded { bundles } => {
                write!(formatter, "channel contains one or more stranded bundles: {}", bundles.join(", "))
            }
        }
    }
}

impl std::error::Error for ReplacesChainError {}

impl ErrorTree {
    pub fn new(scope: Scope) -> ErrorTree {
        ErrorTree {
            scope,
            children: Vec::new(),
        }
    }

    pub fn push(&mut self, issue: Issue) {
        self.children.push(ErrorChild::Issue(issue));
    }

    /// opm's `orNil`: a node without children is no error.
    pub fn into_result(self) -> Option<ErrorTree> {
        if self.children.is_empty() { None } else { Some(self) }
    }

    /// Every leaf issue, depth first.
    pub fn issues(&self) -> Vec<&Issue> {
        let mut issues = Vec::new();
        for child in &self.children {
            match child {
                ErrorChild::Tree(tree) => issues.extend(tree.issues()),
                ErrorChild::Issue(issue) => issues.push(issue),
            }
        }
        issues
    }

    /// opm's `validationError.Error()`: one line per node, `:` after a node
    /// with children, `├── `/`└── ` before each child, the parent's
    /// connector turned into `│   ` or four spaces one level down, and the
    /// whole text trimmed.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out, &[], true);
        out.trim().to_string()
    }

    fn render_into(&self, out: &mut String, prefix: &[char], last: bool) {
        out.extend(prefix);
        out.push_str(&self.scope.to_string());
        out.push_str(if self.children.is_empty() { "\n" } else { ":\n" });
        for (child_idx, child) in self.children.iter().enumerate() {
            let mut child_prefix = prefix.to_vec();
            if child_prefix.len() >= 4 {
                child_prefix.truncate(child_prefix.len() - 4);
                child_prefix.extend(if last { "    " } else { "│   " }.chars());
            }
            let child_last = child_idx + 1 == self.children.len();
            child_prefix.extend(if child_last { "└── " } else { "├── " }.chars());
            match child {
                ErrorChild::Tree(tree) => tree.render_into(out, &child_prefix, child_last),
                ErrorChild::Issue(issue) => {
                    out.extend(&child_prefix);
                    out.push_str(&issue.to_string());
                    out.push('\n');
                }
            }
        }
    }
}
