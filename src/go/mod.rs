//! The pieces of Go's standard library whose behaviour leaks into opm's
//! bytes and messages, in one place, so each Go rule is written once:
//! `strconv` (`%q` quoting, integer parse errors), `unicode` (letter and
//! digit tables), `base64` (`StdEncoding`, the rule for every `[]byte` opm
//! decodes) and `sort` (`sort.Slice`, whose tie order shows in output).
//!
//! Nothing here knows about catalogs; go-yaml's scalar rules live with the
//! YAML code in `encoding`.

pub(crate) mod base64;
pub(crate) mod sort;
pub(crate) mod strconv;
pub(crate) mod unicode;

pub(crate) use sort::go_sort_slice;
pub use strconv::go_quote;
