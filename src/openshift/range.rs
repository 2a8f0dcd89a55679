//! The OpenShift versions a `catalog.toml` asks for:
//! `openshift = "v4.12-v4.22"`, or a list of versions and ranges
//! (`["v4.12", "v4.16-v4.18"]`). Each becomes one target named after
//! its version (`v4.12`).

use super::version::OcpVersion;

/// Why a setting names no versions catbuild can build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("`{item}` is not an OpenShift version or range: write `v4.16` or `v4.12-v4.22`")]
    Invalid { item: String },
    #[error("`{item}` ends before it starts: write the lower version first, as in `v4.12-v4.22`")]
    Backwards { item: String },
    #[error("`{item}` spans major versions, whose minors catbuild cannot list: split it, as in `v4.12-v4.22`")]
    AcrossMajors { item: String },
    #[error("no OpenShift version is listed: name at least one, as in `v4.12-v4.22`")]
    Empty,
    #[error("`{version}` is listed twice")]
    Duplicate { version: OcpVersion },
}

/// Every version the items name, in version order. A version named twice
/// (directly or by overlapping ranges) is an error: it would be two
/// targets of one name.
pub fn parse_versions(items: &[&str]) -> Result<Vec<OcpVersion>, RangeError> {
    if items.is_empty() {
        return Err(RangeError::Empty);
    }
    let mut versions = Vec::new();
    for item in items {
        let invalid = || RangeError::Invalid { item: (*item).to_string() };
        let text = item.trim();
        match text.split_once('-') {
            None => versions.push(minor_only(text).ok_or_else(invalid)?),
            Some((first, last)) => {
                let first = minor_only(first.trim()).ok_or_else(invalid)?;
                let last = minor_only(last.trim()).ok_or_else(invalid)?;
                if first.major != last.major {
                    return Err(RangeError::AcrossMajors { item: (*item).to_string() });
                }
                if last < first {
                    return Err(RangeError::Backwards { item: (*item).to_string() });
                }
                versions.extend((first.minor..=last.minor).map(|minor| OcpVersion::new(first.major, minor)));
            }
        }
    }
    versions.sort();
    if let Some(pair) = versions.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(RangeError::Duplicate { version: pair[0] });
    }
    Ok(versions)
}

/// `vX.Y` or `X.Y`; a patch means nothing for a catalog, so it is refused
/// here rather than silently dropped.
fn minor_only(text: &str) -> Option<OcpVersion> {
    let digits = text.strip_prefix('v').unwrap_or(text);
    if digits.matches('.').count() != 1 {
        return None;
    }
    OcpVersion::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(items: &[&str]) -> Vec<String> {
        parse_versions(items).unwrap().iter().map(ToString::to_string).collect()
    }

    fn error(items: &[&str]) -> String {
        parse_versions(items).unwrap_err().to_string()
    }

    #[test]
    fn a_range_expands_to_every_minor_in_it() {
        assert_eq!(
            names(&["v4.12-v4.22"]),
            [
                "v4.12", "v4.13", "v4.14", "v4.15", "v4.16", "v4.17", "v4.18", "v4.19", "v4.20", "v4.21", "v4.22"
            ]
        );
        assert_eq!(names(&["4.16-4.17"]), ["v4.16", "v4.17"]);
        assert_eq!(names(&["v4.16"]), ["v4.16"]);
    }

    #[test]
    fn a_list_mixes_versions_and_ranges_in_version_order() {
        assert_eq!(names(&["v4.18-v4.19", "v4.9", " v4.12 "]), ["v4.9", "v4.12", "v4.18", "v4.19"]);
    }

    #[test]
    fn bad_settings_say_what_to_write() {
        assert_eq!(
            error(&["v4.12-"]),
            "`v4.12-` is not an OpenShift version or range: write `v4.16` or `v4.12-v4.22`"
        );
        assert_eq!(
            error(&["4"]),
            "`4` is not an OpenShift version or range: write `v4.16` or `v4.12-v4.22`"
        );
        assert_eq!(
            error(&["v4.16.1"]),
            "`v4.16.1` is not an OpenShift version or range: write `v4.16` or `v4.12-v4.22`"
        );
        assert_eq!(
            error(&["=v4.16"]),
            "`=v4.16` is not an OpenShift version or range: write `v4.16` or `v4.12-v4.22`"
        );
        assert_eq!(
            error(&["v4.22-v4.12"]),
            "`v4.22-v4.12` ends before it starts: write the lower version first, as in `v4.12-v4.22`"
        );
        assert_eq!(
            error(&["v4.20-v5.1"]),
            "`v4.20-v5.1` spans major versions, whose minors catbuild cannot list: split it, as in `v4.12-v4.22`"
        );
        assert_eq!(error(&[]), "no OpenShift version is listed: name at least one, as in `v4.12-v4.22`");
        assert_eq!(error(&["v4.12-v4.16", "v4.16-v4.18"]), "`v4.16` is listed twice");
    }
}
