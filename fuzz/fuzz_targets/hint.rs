//! See `katamari_fuzz::targets::hint` for the input format and what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| katamari_fuzz::targets::hint(data));
