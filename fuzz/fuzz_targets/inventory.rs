#![no_main]
//! See fuzz/README.md and `wharf::fuzzing::inventory`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wharf::fuzzing::inventory(data);
});
