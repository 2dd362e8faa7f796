//! Kantara Consent Receipt v1.1 documents (pure). The service signs them as compact JWS
//! (EdDSA, typ `kantara-cr+jwt`), verifiable offline with the service's JWKS; the receipt
//! also names the consent's log position and where to fetch its inclusion proof.

use serde_json::{Value, json};

use super::catalogue::{Controller, PurposeSpec};
use crate::store::consents::ConsentRow;

pub const RECEIPT_VERSION: &str = "KI-CR-v1.1.0";
pub const RECEIPT_TYP: &str = "kantara-cr+jwt";

/// Where the consent event sits in the tenant's log.
#[derive(Debug, Clone)]
pub struct LogPosition {
    pub index: u64,
    pub leaf_hash: String,
    /// Relative URL of the inclusion proof endpoint.
    pub inclusion_proof: String,
}

/// The receipt for one grant. `piiPrincipalId` is the tenant's opaque customer reference.
pub fn build(
    consent: &ConsentRow,
    spec: &PurposeSpec,
    controller: &Controller,
    log: &LogPosition,
) -> Value {
    let termination = format!(
        "On withdrawal, or at {} ms since the epoch, whichever comes first",
        consent.valid_until
    );
    json!({
        "version": RECEIPT_VERSION,
        "jurisdiction": controller.jurisdiction,
        "consentTimestamp": consent.granted_at / 1000,
        "collectionMethod": consent.capture_method,
        "consentReceiptID": consent.consent_id,
        "language": consent.language,
        "piiPrincipalId": consent.customer_ref,
        "piiControllers": [{
            "piiController": controller.name,
            "contact": controller.contact,
            "address": controller.address,
            "email": controller.email,
            "phone": controller.phone,
            "piiControllerUrl": controller.url,
        }],
        "policyUrl": spec.policy_url,
        "services": [{
            "service": "Customer recognition (trustline)",
            "purposes": [{
                "purpose": spec.title,
                "purposeCategory": [consent.purpose],
                "consentType": "EXPLICIT",
                "piiCategory": spec.pii_categories,
                "primaryPurpose": true,
                "termination": termination,
                "thirdPartyDisclosure": false,
            }],
        }],
        "sensitive": spec.sensitive,
        "spiCat": spec.spi_categories,
        // Extension members (the schema allows them): what the log and the notice say.
        "trustline": {
            "purpose": consent.purpose,
            "noticeVersion": consent.notice_version,
            "noticeHash": consent.notice_hash,
            "scope": consent.scope,
            "sessionId": consent.session_id,
            "validUntil": consent.valid_until,
            "witness": consent.witness,
            "log": {
                "index": log.index,
                "leafHash": log.leaf_hash,
                "inclusionProof": log.inclusion_proof,
            },
        },
    })
}
