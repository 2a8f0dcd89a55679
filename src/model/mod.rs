//! The linked catalog model and opm's validation of it.
