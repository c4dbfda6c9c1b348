//! See `katamari_fuzz::targets::merge_file` for the input format and what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| katamari_fuzz::targets::merge_file(data));
