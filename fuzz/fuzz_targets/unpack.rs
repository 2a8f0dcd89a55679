//! libFuzzer target: `catbuild_fuzz::unpack` (see fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    catbuild_fuzz::unpack(data);
});
