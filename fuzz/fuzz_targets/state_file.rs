#![no_main]
//! See fuzz/README.md and `wharf::fuzzing::state_file`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wharf::fuzzing::state_file(data);
});
