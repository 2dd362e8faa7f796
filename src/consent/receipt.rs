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

/// The receipt for the end of a consent by withdrawal: the grant's receipt fields (what was
/// consented to, when, how), the withdrawal's own time, method and log position, and the
/// grant's log position, so one document proves both events. Its `consentReceiptID` is
/// derived from the consent id (stable when re-signed, distinct from the grant's receipt).
pub fn build_withdrawal(
    consent: &ConsentRow,
    spec: &PurposeSpec,
    controller: &Controller,
    grant_log: &LogPosition,
    withdrawal_log: &LogPosition,
    method: &str,
) -> Value {
    let mut doc = build(consent, spec, controller, grant_log);
    doc["consentReceiptID"] = json!(withdrawal_receipt_id(&consent.consent_id));
    let ext = &mut doc["trustline"];
    ext["event"] = json!("withdrawal");
    ext["consentId"] = json!(consent.consent_id);
    ext["withdrawnAt"] = json!(consent.ended_at);
    ext["withdrawalMethod"] = json!(method);
    ext["grantLog"] = ext["log"].take();
    ext["log"] = json!({
        "index": withdrawal_log.index,
        "leafHash": withdrawal_log.leaf_hash,
        "inclusionProof": withdrawal_log.inclusion_proof,
    });
    doc
}

/// A UUID-shaped id (version 8, RFC 9562 custom) from SHA-256 of the consent id.
pub fn withdrawal_receipt_id(consent_id: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("trustline withdrawal receipt\0{consent_id}").as_bytes(),
    );
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
