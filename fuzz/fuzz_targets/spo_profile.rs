//! Fuzz target: see `syscage_fuzz::spo_profile`.
#![no_main]
#![expect(
    unused_crate_dependencies,
    reason = "the binaries reach profile-gen through the crate's library"
)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| syscage_fuzz::spo_profile(data));
