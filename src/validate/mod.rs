//! Project-level checks with catbuild diagnostics.
