#![no_main]
//! See fuzz/README.md and `wharf::fuzzing::purge_filters`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wharf::fuzzing::purge_filters(data);
});
