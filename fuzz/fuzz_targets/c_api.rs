//! See `katamari_fuzz::capi` for the input format and what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| katamari_fuzz::capi::run(data));
