//! libFuzzer target: `catbuild_fuzz::bundle` (see fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    catbuild_fuzz::bundle(data);
});
