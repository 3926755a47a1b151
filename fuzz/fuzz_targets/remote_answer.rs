#![no_main]
//! See fuzz/README.md and `wharf::fuzzing::remote_answer`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wharf::fuzzing::remote_answer(data);
});
