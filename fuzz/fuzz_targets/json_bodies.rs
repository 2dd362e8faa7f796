//! The public JSON request bodies, through the same types the handlers deserialise (unknown
//! fields refused), then the boundary parsing that follows (customer references, channels,
//! factor kinds, evidence sizes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustline::{
    http::{consent, customers, keystroke, sessions, voice},
    sessions::{
        EvidenceInput,
        service::{parse_channel, parse_factor},
    },
    tenants::CustomerRef,
};

fn body<T: serde::de::DeserializeOwned + std::fmt::Debug>(data: &[u8]) -> Option<T> {
    serde_json::from_slice::<T>(data).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    match selector % 11 {
        0 => {
            if let Some(b) = body::<sessions::StartSession>(data) {
                let _ = CustomerRef::try_from(b.customer_ref);
                let _ = parse_channel(&b.channel);
                if let Some(e) = b.evidence {
                    let _ = e.parse();
                }
            }
        }
        1 => {
            if let Some(b) = body::<sessions::FactorSubmission>(data) {
                let _ = parse_factor(&b.code);
            }
        }
        2 => drop(body::<sessions::PinRequest>(data)),
        3 => drop(body::<sessions::WebhookRequest>(data)),
        4 => {
            if let Some(b) = body::<consent::GrantRequest>(data) {
                let _ = CustomerRef::try_from(b.customer_ref);
            }
        }
        5 => drop(body::<consent::WithdrawRequest>(data)),
        6 => drop(body::<customers::CustomerRequest>(data)),
        7 => drop(body::<voice::EnrolRequest>(data)),
        8 => drop(body::<keystroke::FreeEnrolmentRequest>(data)),
        9 => drop(body::<keystroke::EvidenceRequest>(data)),
        _ => {
            if let Some(e) = body::<EvidenceInput>(data) {
                let _ = e.parse();
            }
        }
    }
});
