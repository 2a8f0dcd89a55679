//! The bundle annotation `com.redhat.openshift.versions`
//! ([`crate::load::annotations::ANNOTATION_OPENSHIFT_VERSIONS`]): which OpenShift
//! versions' catalogs the release pipeline adds a bundle to (spec 2).
//!
//! The pipeline sends the value to Pyxis, which is not public; its meaning
//! here is the spec's table (Red Hat's guide, the pipeline's static check
//! and freshmaker agree on it), including what the pipeline really does
//! with values the guide forbids: no `v` works, an unquoted number is read
//! by PyYAML as a float first (`4.10` is 4.1, so every version), and a
//! comma list other than `v4.5,v4.6` admits nothing.

use std::fmt;

use super::version::OcpVersion;

/// How the value was written in `annotations.yaml`: a plain (unquoted)
/// YAML scalar can be a number for the pipeline's YAML reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    Quoted,
}

/// The versions an annotation admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// No annotation, or an empty one: every version.
    Every,
    /// `vX.Y`: X.Y and every later version, those still to come included.
    From(OcpVersion),
    /// `=vX.Y`: X.Y only.
    Only(OcpVersion),
    /// `vX.Y-vZ.W`: X.Y to Z.W, both included.
    Between(OcpVersion, OcpVersion),
}

impl Admitted {
    /// Whether `version`'s catalog gets the bundle.
    pub fn admits(self, version: OcpVersion) -> bool {
        match self {
            Admitted::Every => true,
            Admitted::From(first) => version >= first,
            Admitted::Only(only) => version == only,
            Admitted::Between(first, last) => first <= version && version <= last,
        }
    }

    /// The versions of `versions` this admits, in their order.
    pub fn admitted(self, versions: &[OcpVersion]) -> Vec<OcpVersion> {
        versions.iter().copied().filter(|version| self.admits(*version)).collect()
    }
}

/// An annotation as the pipeline reads it, and what in it works only by
/// luck (worth a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAnnotation {
    pub admitted: Admitted,
    pub traps: Vec<AnnotationTrap>,
}

/// A value the pipeline accepts, but not as its author may think.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnotationTrap {
    /// A version without `v`: the pipeline's parser takes it, Red Hat's
    /// guide says the `v` is required.
    WithoutV { value: String },
    /// An unquoted number: PyYAML reads `4.10` as the float 4.1, which the
    /// pipeline sends as `4.1`.
    UnquotedNumber { written: String, read_as: String },
}

impl fmt::Display for AnnotationTrap {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnnotationTrap::WithoutV { value } => write!(
                formatter,
                "`{value}` has no `v`: the release pipeline accepts it, but Red Hat's guide requires `v4.12` style versions"
            ),
            AnnotationTrap::UnquotedNumber { written, read_as } if written.trim() == read_as => write!(
                formatter,
                "unquoted `{written}` is a YAML number for the release pipeline; it reads as intended, but `4.10` would read as 4.1: quote the value"
            ),
            AnnotationTrap::UnquotedNumber { written, read_as } => write!(
                formatter,
                "unquoted `{written}` is the YAML number {read_as} for the release pipeline, so it means `{read_as}`, not `{}`: quote the value",
                written.trim()
            ),
        }
    }
}

/// A value the pipeline adds to no catalog, or that is no version range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    #[error(
        "`{value}` is not an OpenShift version range: write `v4.12` (4.12 and later), `=v4.12` (4.12 only) or `v4.12-v4.14` (4.12 to 4.14)"
    )]
    Invalid { value: String },
    #[error(
        "`{value}` is a comma list, which the release pipeline accepts only as `v4.5,v4.6` and otherwise adds to no catalog: write a range such as `v4.6-v4.7`"
    )]
    CommaList { value: String },
    #[error("`{value}` ends before it starts, so it admits no version: write the lower version first")]
    Backwards { value: String },
}

/// Reads an annotation value (`None`: the key is absent) as the pipeline
/// does.
pub fn parse_annotation(value: Option<&str>, style: ScalarStyle) -> Result<ParsedAnnotation, AnnotationError> {
    let Some(written) = value else {
        return Ok(ParsedAnnotation {
            admitted: Admitted::Every,
            traps: Vec::new(),
        });
    };
    let mut traps = Vec::new();
    let text = match (style, pyyaml_float_text(written.trim())) {
        (ScalarStyle::Plain, Some(read_as)) => {
            traps.push(AnnotationTrap::UnquotedNumber {
                written: written.to_string(),
                read_as: read_as.clone(),
            });
            read_as
        }
        _ => written.trim().to_string(),
    };
    let invalid = || AnnotationError::Invalid {
        value: written.to_string(),
    };
    let mut version = |part: &str| -> Result<OcpVersion, AnnotationError> {
        let part = part.trim();
        let version = OcpVersion::parse(part).ok_or_else(invalid)?;
        if !part.starts_with('v') && traps.is_empty() {
            traps.push(AnnotationTrap::WithoutV {
                value: written.to_string(),
            });
        }
        Ok(version)
    };

    let admitted = if text.is_empty() {
        Admitted::Every
    } else if text.contains(',') {
        // Only `v4.5,v4.6` (either order) is accepted, as `v4.5`.
        let parts: Vec<&str> = text.split(',').collect();
        let comma_list = || AnnotationError::CommaList {
            value: written.to_string(),
        };
        let mut versions = Vec::new();
        for part in &parts {
            versions.push(version(part).map_err(|_| comma_list())?);
        }
        versions.sort();
        if versions != [OcpVersion::new(4, 5), OcpVersion::new(4, 6)] {
            return Err(comma_list());
        }
        Admitted::From(OcpVersion::new(4, 5))
    } else if let Some(only) = text.strip_prefix('=') {
        Admitted::Only(version(only)?)
    } else if let Some((first, last)) = text.split_once('-') {
        let (first, last) = (version(first)?, version(last)?);
        if last < first {
            return Err(AnnotationError::Backwards {
                value: written.to_string(),
            });
        }
        Admitted::Between(first, last)
    } else {
        Admitted::From(version(&text)?)
    };
    Ok(ParsedAnnotation { admitted, traps })
}

/// What PyYAML (YAML 1.1) makes of a plain scalar that is a decimal
/// number, as Python's `str` prints the float: `4.10` → `4.1`, `4.9` →
/// `4.9`, `4.` → `4.0`. `None` if YAML 1.1 reads it as no float (a string,
/// or an integer such as `4`, which is no version either way).
fn pyyaml_float_text(text: &str) -> Option<String> {
    let (whole, fraction) = text.split_once('.')?;
    let digits_or_underscores = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit() || byte == b'_');
    if !whole.starts_with(|c: char| c.is_ascii_digit()) || !digits_or_underscores(whole) || !digits_or_underscores(fraction) {
        return None;
    }
    let number: f64 = text.replace('_', "").parse().ok()?;
    // Rust's shortest round-trip text is Python's `repr` for these
    // magnitudes, but for the `.0` Python keeps on whole numbers.
    let mut printed = number.to_string();
    if !printed.contains('.') {
        printed.push_str(".0");
    }
    Some(printed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIVE: [OcpVersion; 11] = [
        OcpVersion::new(4, 12),
        OcpVersion::new(4, 13),
        OcpVersion::new(4, 14),
        OcpVersion::new(4, 15),
        OcpVersion::new(4, 16),
        OcpVersion::new(4, 17),
        OcpVersion::new(4, 18),
        OcpVersion::new(4, 19),
        OcpVersion::new(4, 20),
        OcpVersion::new(4, 21),
        OcpVersion::new(4, 22),
    ];

    /// The minors (of 4) that `value` admits among v4.12 … v4.22.
    fn minors(value: Option<&str>, style: ScalarStyle) -> Vec<u32> {
        let parsed = parse_annotation(value, style).unwrap();
        parsed.admitted.admitted(&ACTIVE).iter().map(|version| version.minor).collect()
    }

    fn quoted(value: &str) -> Vec<u32> {
        minors(Some(value), ScalarStyle::Quoted)
    }

    fn error(value: &str) -> String {
        parse_annotation(Some(value), ScalarStyle::Quoted).unwrap_err().to_string()
    }

    fn traps(value: &str, style: ScalarStyle) -> Vec<String> {
        parse_annotation(Some(value), style)
            .unwrap()
            .traps
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const ALL: [u32; 11] = [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22];

    // One test per row of the table in spec 2.

    #[test]
    fn an_absent_or_empty_annotation_admits_every_version() {
        assert_eq!(minors(None, ScalarStyle::Plain), ALL);
        assert_eq!(quoted(""), ALL);
        assert_eq!(quoted("  "), ALL);
        assert_eq!(parse_annotation(None, ScalarStyle::Plain).unwrap().admitted, Admitted::Every);
    }

    #[test]
    fn a_single_version_admits_it_and_every_later_one() {
        assert_eq!(quoted("v4.12"), ALL);
        assert_eq!(quoted("v4.18"), [18, 19, 20, 21, 22]);
        // Older than every active version: all of them.
        assert_eq!(quoted("v4.9"), ALL);
        assert!(
            parse_annotation(Some("v4.18"), ScalarStyle::Quoted)
                .unwrap()
                .admitted
                .admits(OcpVersion::new(4, 30))
        );
        assert!(traps("v4.18", ScalarStyle::Quoted).is_empty());
    }

    #[test]
    fn an_equals_sign_admits_that_version_only() {
        assert_eq!(quoted("=v4.13"), [13]);
        // Not an active version: nothing (the caller reports it).
        assert_eq!(quoted("=v4.11"), Vec::<u32>::new());
        assert_eq!(
            parse_annotation(Some("=v4.13"), ScalarStyle::Quoted).unwrap().admitted,
            Admitted::Only(OcpVersion::new(4, 13))
        );
    }

    #[test]
    fn a_range_admits_both_ends_and_everything_between() {
        assert_eq!(quoted("v4.12-v4.14"), [12, 13, 14]);
        assert_eq!(quoted("v4.16-v4.21"), [16, 17, 18, 19, 20, 21]);
        // The guide's example: v4.5-v4.7 is 4.5, 4.6, 4.7, not 4.8.
        let admitted = parse_annotation(Some("v4.5-v4.7"), ScalarStyle::Quoted).unwrap().admitted;
        assert!(admitted.admits(OcpVersion::new(4, 7)) && !admitted.admits(OcpVersion::new(4, 8)));
        // Entirely before the active versions: nothing.
        assert_eq!(quoted("v4.6-v4.8"), Vec::<u32>::new());
        assert_eq!(quoted("v4.14-v4.14"), [14]);
    }

    #[test]
    fn versions_without_v_mean_the_same_and_warn() {
        assert_eq!(quoted("4.12"), ALL);
        assert_eq!(quoted("4.10-4.17"), [12, 13, 14, 15, 16, 17]);
        assert_eq!(quoted("=4.13"), [13]);
        assert_eq!(quoted("v4.12-4.14"), [12, 13, 14]);
        assert_eq!(
            traps("4.10-4.17", ScalarStyle::Quoted),
            ["`4.10-4.17` has no `v`: the release pipeline accepts it, but Red Hat's guide requires `v4.12` style versions"]
        );
        // A range is no YAML number, quoted or not.
        assert_eq!(minors(Some("4.14-4.17"), ScalarStyle::Plain), [14, 15, 16, 17]);
    }

    #[test]
    fn an_unquoted_number_is_read_as_pyyaml_reads_it() {
        // `4.10` is the float 4.1: 4.1 and later, every active version.
        assert_eq!(minors(Some("4.10"), ScalarStyle::Plain), ALL);
        assert_eq!(
            parse_annotation(Some("4.20"), ScalarStyle::Plain).unwrap().admitted,
            Admitted::From(OcpVersion::new(4, 2))
        );
        assert_eq!(
            traps("4.20", ScalarStyle::Plain),
            ["unquoted `4.20` is the YAML number 4.2 for the release pipeline, so it means `4.2`, not `4.20`: quote the value"]
        );
        // Quoted, the same text is the intended version.
        assert_eq!(quoted("4.20"), [20, 21, 22]);
        // A number that survives the float still warns.
        assert_eq!(minors(Some("4.18"), ScalarStyle::Plain), [18, 19, 20, 21, 22]);
        assert_eq!(
            traps("4.18", ScalarStyle::Plain),
            [
                "unquoted `4.18` is a YAML number for the release pipeline; it reads as intended, but `4.10` would read as 4.1: quote the value"
            ]
        );
        // `v4.10` is a string in YAML.
        assert_eq!(minors(Some("v4.10"), ScalarStyle::Plain), ALL);
        assert!(traps("v4.10", ScalarStyle::Plain).is_empty());
        assert_eq!(pyyaml_float_text("4."), Some("4.0".to_string()));
        assert_eq!(pyyaml_float_text("4.1_0"), Some("4.1".to_string()));
        assert_eq!(pyyaml_float_text("4"), None);
        assert_eq!(pyyaml_float_text(".5"), None);
    }

    #[test]
    fn the_legacy_comma_list_is_v4_5() {
        for value in ["v4.5,v4.6", "v4.6,v4.5", "v4.5, v4.6"] {
            assert_eq!(
                parse_annotation(Some(value), ScalarStyle::Quoted).unwrap().admitted,
                Admitted::From(OcpVersion::new(4, 5)),
                "{value}"
            );
            assert_eq!(quoted(value), ALL);
        }
    }

    #[test]
    fn any_other_comma_list_is_refused() {
        assert_eq!(
            error("v4.6,v4.7"),
            "`v4.6,v4.7` is a comma list, which the release pipeline accepts only as `v4.5,v4.6` and otherwise adds to no catalog: write a range such as `v4.6-v4.7`"
        );
        for value in ["v4.12,v4.13", "v4.5,v4.6,v4.7", "v4.5,", "v4.5,foo"] {
            assert!(matches!(
                parse_annotation(Some(value), ScalarStyle::Quoted),
                Err(AnnotationError::CommaList { .. })
            ));
        }
    }

    #[test]
    fn garbage_is_refused_with_the_syntax() {
        assert_eq!(
            error("ocpfournine"),
            "`ocpfournine` is not an OpenShift version range: write `v4.12` (4.12 and later), `=v4.12` (4.12 only) or `v4.12-v4.14` (4.12 to 4.14)"
        );
        for value in [
            "foo",
            "v4",
            "=",
            "=v4.12-v4.14",
            "v4.12-",
            "-v4.12",
            "v4.12-v4.14-v4.16",
            "V4.12",
            ">=v4.12",
            "v4.12+",
        ] {
            assert!(
                matches!(
                    parse_annotation(Some(value), ScalarStyle::Quoted),
                    Err(AnnotationError::Invalid { .. })
                ),
                "{value}"
            );
        }
        assert_eq!(
            error("v4.14-v4.12"),
            "`v4.14-v4.12` ends before it starts, so it admits no version: write the lower version first"
        );
    }
}
