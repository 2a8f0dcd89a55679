//! libFuzzer target: `catbuild_fuzz::catalog_toml` (see fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    catbuild_fuzz::catalog_toml(data);
});
