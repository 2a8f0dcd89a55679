//! Which OpenShift version's catalog holds which bundle, and why: the one
//! rule a build's version targets follow ([`cell`]) and the table
//! `catbuild matrix` prints ([`matrix`]). Pure: the caller says what each
//! bundle's rule is.

use super::annotation::Admitted;
use super::version::OcpVersion;

/// What decides whether a bundle is in a version's catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Its `com.redhat.openshift.versions` (packages whose channels come
    /// from bundles). `value` is `None` when the key is absent; `admitted`
    /// is `None` when the value is refused (the build says why).
    Annotation { value: Option<String>, admitted: Option<Admitted> },
    /// The explicit channels that list it, each with the versions it is
    /// for (`None`: every version). Listed in none: every version (the
    /// build reports the bundle as in no channel).
    Channels(Vec<(String, Option<Vec<OcpVersion>>)>),
    /// Nothing per version: every catalog holds it (`why` says what
    /// decides instead, e.g. an index).
    Every { why: String },
    /// Left out by the package's `exclude`.
    Excluded,
}

impl Rule {
    /// What decides, in a few words: the WHY column of `catbuild matrix`.
    pub fn describe(&self) -> String {
        match self {
            Rule::Annotation { value: None, .. } => "no com.redhat.openshift.versions: every version".to_string(),
            Rule::Annotation {
                value: Some(value),
                admitted: Some(_),
            } if value.trim().is_empty() => "empty com.redhat.openshift.versions: every version".to_string(),
            Rule::Annotation {
                value: Some(value),
                admitted: Some(_),
            } => format!("com.redhat.openshift.versions: {value}"),
            Rule::Annotation { value: Some(value), .. } => format!("com.redhat.openshift.versions: {value} (refused)"),
            Rule::Channels(channels) if channels.is_empty() => "in no channel".to_string(),
            Rule::Channels(channels) => {
                let listed: Vec<String> = channels
                    .iter()
                    .map(|(name, versions)| match versions {
                        None => format!("{name} (every version)"),
                        Some(versions) => format!("{name} ({})", span_text(versions)),
                    })
                    .collect();
                format!("channels {}", listed.join(", "))
            }
            Rule::Every { why } => why.clone(),
            Rule::Excluded => "excluded by `exclude`".to_string(),
        }
    }
}

/// `v4.12-v4.15, v4.18`: versions as runs of consecutive minors.
pub fn span_text(versions: &[OcpVersion]) -> String {
    let mut runs: Vec<(OcpVersion, OcpVersion)> = Vec::new();
    for version in versions {
        match runs.last_mut() {
            Some((_, last)) if last.major == version.major && last.minor + 1 == version.minor => *last = *version,
            _ => runs.push((*version, *version)),
        }
    }
    runs.iter()
        .map(|(first, last)| {
            if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One bundle in one version's catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub held: bool,
    /// Short: `v4.12-v4.16`, `channel stable`, `excluded`.
    pub why: String,
}

/// Whether `version`'s catalog holds a bundle under `rule`.
pub fn cell(rule: &Rule, version: OcpVersion) -> Cell {
    match rule {
        Rule::Annotation { value: None, .. } => Cell {
            held: true,
            why: "no annotation".to_string(),
        },
        Rule::Annotation {
            value: Some(value),
            admitted: Some(admitted),
        } => Cell {
            held: admitted.admits(version),
            why: if value.trim().is_empty() {
                "empty annotation".to_string()
            } else {
                value.clone()
            },
        },
        Rule::Annotation {
            value: Some(value),
            admitted: None,
        } => Cell {
            held: false,
            why: format!("invalid {value}"),
        },
        Rule::Channels(channels) if channels.is_empty() => Cell {
            held: true,
            why: "in no channel".to_string(),
        },
        Rule::Channels(channels) => {
            let names: Vec<&str> = channels
                .iter()
                .filter(|(_, versions)| versions.as_ref().is_none_or(|versions| versions.contains(&version)))
                .map(|(name, _)| name.as_str())
                .collect();
            Cell {
                held: !names.is_empty(),
                why: if names.is_empty() {
                    "no channel".to_string()
                } else {
                    format!("channel {}", names.join(", "))
                },
            }
        }
        Rule::Every { why } => Cell {
            held: true,
            why: why.clone(),
        },
        Rule::Excluded => Cell {
            held: false,
            why: "excluded".to_string(),
        },
    }
}

/// One bundle's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub package: String,
    pub bundle: String,
    pub rule: Rule,
    /// One per version of [`Matrix::versions`].
    pub cells: Vec<Cell>,
}

/// Bundles × versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    pub versions: Vec<OcpVersion>,
    pub rows: Vec<Row>,
}

/// The table of `bundles` (package, bundle, rule) over `versions`, rows in
/// the order given.
pub fn matrix(bundles: Vec<(String, String, Rule)>, versions: &[OcpVersion]) -> Matrix {
    let rows = bundles
        .into_iter()
        .map(|(package, bundle, rule)| Row {
            cells: versions.iter().map(|version| cell(&rule, *version)).collect(),
            package,
            bundle,
            rule,
        })
        .collect();
    Matrix {
        versions: versions.to_vec(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(rule: &Rule) -> Vec<u32> {
        (12..=18).filter(|minor| cell(rule, OcpVersion::new(4, *minor)).held).collect()
    }

    #[test]
    fn annotations_decide_by_their_range() {
        let rule = Rule::Annotation {
            value: Some("v4.14-v4.16".to_string()),
            admitted: Some(Admitted::Between(OcpVersion::new(4, 14), OcpVersion::new(4, 16))),
        };
        assert_eq!(held(&rule), [14, 15, 16]);
        assert_eq!(cell(&rule, OcpVersion::new(4, 12)).why, "v4.14-v4.16");
        let absent = Rule::Annotation {
            value: None,
            admitted: Some(Admitted::Every),
        };
        assert_eq!(held(&absent), [12, 13, 14, 15, 16, 17, 18]);
        let invalid = Rule::Annotation {
            value: Some("v4.6,v4.7".to_string()),
            admitted: None,
        };
        assert_eq!(held(&invalid), Vec::<u32>::new());
        assert_eq!(cell(&invalid, OcpVersion::new(4, 12)).why, "invalid v4.6,v4.7");
    }

    #[test]
    fn explicit_channels_decide_by_their_versions() {
        let rule = Rule::Channels(vec![
            ("old".to_string(), Some(vec![OcpVersion::new(4, 12), OcpVersion::new(4, 13)])),
            ("fast".to_string(), Some(vec![OcpVersion::new(4, 13), OcpVersion::new(4, 18)])),
        ]);
        assert_eq!(held(&rule), [12, 13, 18]);
        assert_eq!(cell(&rule, OcpVersion::new(4, 13)).why, "channel old, fast");
        assert_eq!(cell(&rule, OcpVersion::new(4, 14)).why, "no channel");
        let everywhere = Rule::Channels(vec![("stable".to_string(), None)]);
        assert_eq!(held(&everywhere), [12, 13, 14, 15, 16, 17, 18]);
        assert_eq!(held(&Rule::Channels(Vec::new())).len(), 7);
        assert_eq!(held(&Rule::Excluded), Vec::<u32>::new());
        assert_eq!(rule.describe(), "channels old (v4.12-v4.13), fast (v4.13, v4.18)");
    }

    #[test]
    fn the_matrix_has_one_cell_per_version() {
        let versions = [OcpVersion::new(4, 16), OcpVersion::new(4, 17)];
        let found = matrix(
            vec![(
                "p".to_string(),
                "p.v1".to_string(),
                Rule::Annotation {
                    value: Some("=v4.17".to_string()),
                    admitted: Some(Admitted::Only(OcpVersion::new(4, 17))),
                },
            )],
            &versions,
        );
        let held: Vec<bool> = found.rows[0].cells.iter().map(|cell| cell.held).collect();
        assert_eq!(held, [false, true]);
    }
}
