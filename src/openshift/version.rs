//! One OpenShift minor version (`4.16`), written `v4.16` as catalogs and
//! targets are named, and the 4.17 cut-over to `olm.csv.metadata`.

use std::fmt;

use crate::config::MigrateLevel;

/// An OpenShift minor version. Patch releases share their minor's catalog,
/// so there is no patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OcpVersion {
    pub major: u32,
    pub minor: u32,
}

/// The first version whose catalogs carry `olm.csv.metadata` instead of
/// `olm.bundle.object` (spec 6: the pipeline renders catalogs from v4.17 on
/// with `--migrate-level bundle-object-to-csv-metadata`).
pub const CSV_METADATA_FROM: OcpVersion = OcpVersion { major: 4, minor: 17 };

impl OcpVersion {
    pub const fn new(major: u32, minor: u32) -> OcpVersion {
        OcpVersion { major, minor }
    }

    /// `X.Y` or `vX.Y`, a patch (`X.Y.Z`) dropped as the pipeline's own
    /// parser drops it. `None` for anything else (no sign, no spaces).
    pub fn parse(text: &str) -> Option<OcpVersion> {
        let digits = text.strip_prefix('v').unwrap_or(text);
        let mut parts = digits.split('.');
        let major = number(parts.next()?)?;
        let minor = number(parts.next()?)?;
        if let Some(patch) = parts.next() {
            number(patch)?;
        }
        if parts.next().is_some() {
            return None;
        }
        Some(OcpVersion { major, minor })
    }
}

/// `v4.16`: how catalogs, index image tags and per-version targets are named.
impl fmt::Display for OcpVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "v{}.{}", self.major, self.minor)
    }
}

/// The migrate level of `version`'s catalog: `olm.csv.metadata` from 4.17
/// on, `olm.bundle.object` before.
pub fn migrate_level(version: OcpVersion) -> MigrateLevel {
    if version >= CSV_METADATA_FROM {
        MigrateLevel::BundleObjectToCsvMetadata
    } else {
        MigrateLevel::None
    }
}

/// The version a catalog name stands for, by the pipeline's rule (spec 6):
/// only names of the form `vX.Y` are versions. `4.22` (no `v`) is not: the
/// auto-release skips it, although `render_catalogs.sh` would migrate it.
pub fn catalog_version(name: &str) -> Option<OcpVersion> {
    let digits = name.strip_prefix('v')?;
    let (major, minor) = digits.split_once('.')?;
    Some(OcpVersion {
        major: number(major)?,
        minor: number(minor)?,
    })
}

/// A run of ASCII digits as a number (`u32::from_str` would take `+4`).
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_with_and_without_v_and_drop_a_patch() {
        assert_eq!(OcpVersion::parse("v4.12"), Some(OcpVersion::new(4, 12)));
        assert_eq!(OcpVersion::parse("4.12"), Some(OcpVersion::new(4, 12)));
        assert_eq!(OcpVersion::parse("v4.12.3"), Some(OcpVersion::new(4, 12)));
        for invalid in [
            "",
            "v",
            "4",
            "v4.",
            "v.12",
            "V4.12",
            "v4.12.3.1",
            "v+4.12",
            "v4.x",
            " v4.12",
            "vv4.12",
        ] {
            assert_eq!(OcpVersion::parse(invalid), None, "{invalid:?}");
        }
        assert_eq!(OcpVersion::new(4, 9).to_string(), "v4.9");
        // Minor numbers compare as numbers: 4.9 < 4.10.
        assert!(OcpVersion::new(4, 9) < OcpVersion::new(4, 10));
    }

    #[test]
    fn catalogs_from_4_17_on_carry_csv_metadata() {
        assert_eq!(migrate_level(OcpVersion::new(4, 16)), MigrateLevel::None);
        assert_eq!(migrate_level(OcpVersion::new(4, 17)), MigrateLevel::BundleObjectToCsvMetadata);
        assert_eq!(migrate_level(OcpVersion::new(4, 22)), MigrateLevel::BundleObjectToCsvMetadata);
        assert_eq!(migrate_level(OcpVersion::new(4, 2)), MigrateLevel::None);
        assert_eq!(migrate_level(OcpVersion::new(5, 0)), MigrateLevel::BundleObjectToCsvMetadata);
    }

    #[test]
    fn only_v_names_are_catalog_versions() {
        assert_eq!(catalog_version("v4.17"), Some(OcpVersion::new(4, 17)));
        assert_eq!(catalog_version("4.22"), None);
        assert_eq!(catalog_version("v4.17.1"), None);
        assert_eq!(catalog_version("stable"), None);
    }
}
