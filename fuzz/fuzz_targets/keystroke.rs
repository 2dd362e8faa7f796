//! Keystroke parsing and features: widget events as JSON (as the API receives them), then
//! segment parsing, fixed-text enrolment and free-text windows. Features must stay finite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustline::biometrics::keystroke::{
    features::{fixed_text_vector, free_text_rows, free_text_windows},
    fixed, free,
    input::{KeyEvent, parse_events},
};

fuzz_target!(|data: &[u8]| {
    let Ok(segments) = serde_json::from_slice::<Vec<Vec<KeyEvent>>>(data) else {
        return;
    };
    let mut parsed = Vec::new();
    for events in &segments {
        if let Ok(segment) = parse_events(events) {
            assert!(fixed_text_vector(&segment).iter().all(|v| v.is_finite()));
            parsed.push(segment);
        }
    }
    let (_, windows) = free_text_windows(&free_text_rows(&parsed));
    assert!(windows.iter().all(|v| v.is_finite()));
    let _ = free::parse_segments(&segments, 0);
    if let Ok(template) = fixed::enrol(&segments) {
        for events in &segments {
            let _ = fixed::parse_sample(events, &template);
        }
    }
});
