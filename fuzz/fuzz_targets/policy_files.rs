//! Policy and notice files: sector policies and consent purpose/notice files, as operators
//! write them. Either parsed and validated, or refused with an error naming the problem.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = trustline::policy::parse_sector("fuzz.toml", data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = trustline::consent::catalogue::parse_purpose(text);
    }
});
