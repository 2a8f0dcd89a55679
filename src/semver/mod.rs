//! Semantic versions and ranges with the rules of blang/semver v4, which opm
//! uses for bundle versions (`olm.package` version) and `olm.skipRange`.
//! (Placeholder: being written.)

/// A parsed semantic version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<PreRelease>,
    pub build: Vec<String>,
}

/// One dot-separated pre-release identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PreRelease {
    Numeric(u64),
    Alpha(String),
}

impl Version {
    /// `semver.Parse`; the error text is blang's (e.g.
    /// `Invalid character(s) found in patch number "0.1"`).
    pub fn parse(text: &str) -> Result<Version, String> {
        let _ = text;
        unimplemented!("semver::Version::parse")
    }
}

/// A parsed range (`>=1.0.0 <2.0.0 || 3.x`).
#[derive(Debug, Clone)]
pub struct Range {
    _private: (),
}

impl Range {
    /// `semver.ParseRange`; the error text is blang's.
    pub fn parse(text: &str) -> Result<Range, String> {
        let _ = text;
        unimplemented!("semver::Range::parse")
    }

    pub fn contains(&self, version: &Version) -> bool {
        let _ = version;
        unimplemented!("semver::Range::contains")
    }
}
