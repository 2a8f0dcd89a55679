//! libFuzzer target: `catbuild_fuzz::semver_range` (see fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    catbuild_fuzz::semver_range(data);
});
