//! Semantic versions and ranges with the rules of blang/semver v4, which opm
//! uses for bundle versions (`olm.package` version), `olm.skipRange` and the
//! release field. opm's ordering of bundles, its duplicate-version check and
//! its error messages all come from that library, so catbuild reimplements
//! it instead of using the `semver` crate (whose rules are Cargo's): every
//! error text below is blang's, byte for byte, because opm prints them.
//!
//! blang quirks kept on purpose: `Parse` is strict (no `v` prefix, no
//! leading zeroes, exactly three numbers); build metadata takes no part in
//! ordering; `ParseRange` expands `x` wildcards textually and rejects
//! `<=v0.10.1` (the `v` becomes part of the operator).

mod range;

use crate::go::go_quote;
use std::cmp::Ordering;
use std::fmt;

pub use range::{Comparison, Operator, Range};

/// A parsed semantic version (blang's `semver.Version`).
///
/// Equality, hashing and ordering follow blang's `Compare`: build metadata
/// is ignored, so `1.0.0+a == 1.0.0+b`. Use [`Version::identical`] to
/// compare every field, or [`Version::build_id_compare`] for opm's ordering
/// that does look at build metadata.
#[derive(Debug, Clone, Default)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<PreRelease>,
    pub build: Vec<String>,
}

/// One dot-separated pre-release identifier (blang's `PRVersion`). Numeric
/// identifiers sort before alphanumeric ones; the derived order (variant
/// first, then value, strings bytewise) is exactly blang's `PRVersion.Compare`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PreRelease {
    Numeric(u64),
    Alpha(String),
}

const NUMBERS: &str = "0123456789";
const ALPHANUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789";

impl Version {
    /// `semver.Parse`; the error text is blang's (e.g.
    /// `Invalid character(s) found in patch number "0.1"`).
    pub fn parse(text: &str) -> Result<Version, String> {
        if text.is_empty() {
            return Err("Version string empty".to_string());
        }
        let parts: Vec<&str> = text.splitn(3, '.').collect();
        let [major_text, minor_text, rest] = parts.as_slice() else {
            return Err("No Major.Minor.Patch elements found".to_string());
        };
        let major = parse_number(major_text, "major", "Major")?;
        let minor = parse_number(minor_text, "minor", "Minor")?;

        let mut patch_text = *rest;
        let mut build_texts: Vec<&str> = Vec::new();
        let mut pre_texts: Vec<&str> = Vec::new();
        if let Some(build_idx) = patch_text.find('+') {
            build_texts = patch_text[build_idx + 1..].split('.').collect();
            patch_text = &patch_text[..build_idx];
        }
        if let Some(pre_idx) = patch_text.find('-') {
            pre_texts = patch_text[pre_idx + 1..].split('.').collect();
            patch_text = &patch_text[..pre_idx];
        }
        let patch = parse_number(patch_text, "patch", "Patch")?;

        let pre = pre_texts.into_iter().map(PreRelease::parse).collect::<Result<Vec<_>, _>>()?;
        let mut build = Vec::with_capacity(build_texts.len());
        for build_text in build_texts {
            if build_text.is_empty() {
                return Err("Build meta data is empty".to_string());
            }
            if !contains_only(build_text, ALPHANUM) {
                return Err(format!("Invalid character(s) found in build meta data {}", go_quote(build_text)));
            }
            build.push(build_text.to_string());
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre,
            build,
        })
    }

    /// A version with only the three numbers set.
    pub fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
            pre: Vec::new(),
            build: Vec::new(),
        }
    }

    /// blang's `Compare`: numbers, then pre-release (a version without one
    /// is greater), build metadata ignored.
    pub fn compare(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_pre(&self.pre, &other.pre))
    }

    /// True when every field, build metadata included, is the same.
    pub fn identical(&self, other: &Version) -> bool {
        self.compare(other) == Ordering::Equal && self.build == other.build
    }

    /// opm's `BuildIdCompare` (`pkg/lib/semver`), used by the SQLite
    /// semver modes and registry add: like [`Version::compare`], but when
    /// two versions tie, their build metadata is compared as if it were a
    /// pre-release of `1.0.0` (and no build metadata as `0.0.0`), so
    /// `1.0.0 < 1.0.0+0 < 1.0.0+1 < 1.0.0+1.2`. Fails, with opm's text, when
    /// a build identifier is not a valid pre-release identifier (`+01`).
    pub fn build_id_compare(&self, other: &Version) -> Result<Ordering, String> {
        let ordering = self.compare(other);
        if ordering != Ordering::Equal {
            return Ok(ordering);
        }
        let self_pre = self.build_as_prerelease()?;
        let other_pre = other.build_as_prerelease()?;
        Ok(self_pre.compare(&other_pre))
    }

    fn build_as_prerelease(&self) -> Result<Version, String> {
        let pre = self
            .build
            .iter()
            .map(|build| PreRelease::parse(build))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("failed to convert build-id of {self} to prerelease version for comparison: {error}"))?;
        let major = u64::from(!pre.is_empty());
        Ok(Version {
            major,
            minor: 0,
            patch: 0,
            pre,
            build: Vec::new(),
        })
    }

    /// The version without build metadata. opm's semver template refuses
    /// bundles whose versions are equal once this is applied
    /// (`stripBuildMetadata`), since blang cannot order them.
    pub fn without_build(&self) -> Version {
        Version {
            build: Vec::new(),
            ..self.clone()
        }
    }

    /// blang's `FinalizeVersion`: `major.minor.patch` only.
    pub fn finalize_version(&self) -> String {
        format!("{}.{}.{}", self.major, self.minor, self.patch)
    }

    /// blang's `Validate`, for versions built by hand (parsed ones are
    /// always valid).
    pub fn validate(&self) -> Result<(), String> {
        for pre in &self.pre {
            if let PreRelease::Alpha(text) = pre {
                if text.is_empty() {
                    return Err(format!("Prerelease can not be empty {}", go_quote(text)));
                }
                if !contains_only(text, ALPHANUM) {
                    return Err(format!("Invalid character(s) found in prerelease {}", go_quote(text)));
                }
            }
        }
        for build in &self.build {
            if build.is_empty() {
                return Err(format!("Build meta data can not be empty {}", go_quote(build)));
            }
            if !contains_only(build, ALPHANUM) {
                return Err(format!("Invalid character(s) found in build meta data {}", go_quote(build)));
            }
        }
        Ok(())
    }
}

/// blang compares pre-release lists identifier by identifier; an empty list
/// (a release) is greater than any pre-release, and a longer list wins a tie.
fn compare_pre(left: &[PreRelease], right: &[PreRelease]) -> Ordering {
    match (left.is_empty(), right.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => left.cmp(right),
    }
}

impl PreRelease {
    /// blang's `NewPRVersion`.
    pub fn parse(text: &str) -> Result<PreRelease, String> {
        if text.is_empty() {
            return Err("Prerelease is empty".to_string());
        }
        if contains_only(text, NUMBERS) {
            if has_leading_zeroes(text) {
                return Err(format!(
                    "Numeric PreRelease version must not contain leading zeroes {}",
                    go_quote(text)
                ));
            }
            return crate::go::strconv::parse_uint(text).map(PreRelease::Numeric);
        }
        if contains_only(text, ALPHANUM) {
            return Ok(PreRelease::Alpha(text.to_string()));
        }
        Err(format!("Invalid character(s) found in prerelease {}", go_quote(text)))
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, PreRelease::Numeric(_))
    }
}

impl fmt::Display for PreRelease {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreRelease::Numeric(number) => write!(formatter, "{number}"),
            PreRelease::Alpha(text) => formatter.write_str(text),
        }
    }
}

/// blang's `String()`: `1.2.3-alpha.1+build.5`.
impl fmt::Display for Version {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}.{}", self.major, self.minor, self.patch)?;
        for (idx, pre) in self.pre.iter().enumerate() {
            formatter.write_str(if idx == 0 { "-" } else { "." })?;
            write!(formatter, "{pre}")?;
        }
        for (idx, build) in self.build.iter().enumerate() {
            formatter.write_str(if idx == 0 { "+" } else { "." })?;
            formatter.write_str(build)?;
        }
        Ok(())
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.compare(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Build metadata is left out, as it is from equality.
        (self.major, self.minor, self.patch, &self.pre).hash(state);
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.compare(other)
    }
}

impl std::str::FromStr for Version {
    type Err = String;

    fn from_str(text: &str) -> Result<Version, String> {
        Version::parse(text)
    }
}

/// One of major/minor/patch, with blang's checks in blang's order.
fn parse_number(text: &str, lower: &str, upper: &str) -> Result<u64, String> {
    if !contains_only(text, NUMBERS) {
        return Err(format!("Invalid character(s) found in {lower} number {}", go_quote(text)));
    }
    if has_leading_zeroes(text) {
        return Err(format!("{upper} number must not contain leading zeroes {}", go_quote(text)));
    }
    crate::go::strconv::parse_uint(text)
}

fn contains_only(text: &str, set: &str) -> bool {
    text.chars().all(|ch| set.contains(ch))
}

fn has_leading_zeroes(text: &str) -> bool {
    text.len() > 1 && text.starts_with('0')
}

#[cfg(test)]
mod tests;
