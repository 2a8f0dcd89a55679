//! opm's catalog templates: basic and semver.
