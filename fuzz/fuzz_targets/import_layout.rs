#![no_main]
//! See fuzz/README.md and `wharf::fuzzing::import_layout`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wharf::fuzzing::import_layout(data);
});
