//! Passkeys (WebAuthn) for customers: registered in the privacy centre, used to approve a
//! step-up on the customer's own phone (the CIBA pattern: the platform asks, the customer
//! approves, the session gets the factor).
//!
//! The ceremony checks (origin, RP id hash, challenge, signature, user verification, signature
//! counter) are webauthn-rs's; this module decides what trustline does around them. Pure rules
//! live here; `service` does the I/O.
//!
//! A passkey ceremony always requires user verification (webauthn-rs's `Passkey` type), so a
//! passkey is a multi-factor cryptographic authenticator in NIST SP 800-63B-4 terms (something
//! you have, unlocked by something you know or are on the device itself): one passkey
//! assertion satisfies AAL2 on its own.

pub mod service;
pub mod stepup;

use std::fmt;

/// A ceremony (challenge) is answered within five minutes (webauthn-rs's default timeout).
pub const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;
/// A step-up request's link lives five minutes, and never beyond its session.
pub const REQUEST_TTL_MS: i64 = 5 * 60 * 1000;
/// A customer keeps at most this many passkeys (each is one row and one entry in every
/// assertion's allow list).
pub const MAX_PASSKEYS_PER_CUSTOMER: usize = 10;
pub const MAX_NAME_CHARS: usize = 64;

/// What a ceremony is for (the `kind` column of `passkey_ceremonies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Registration,
    Authentication,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::Authentication => "authentication",
        }
    }
}

/// Who may finish a ceremony: the browser session that started it (privacy centre) or the
/// step-up request it was started for. Stored in `bound_to`, so a challenge obtained in one
/// place cannot be answered in another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    WebSession(String),
    Request(String),
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Binding::WebSession(hash) => write!(f, "web:{hash}"),
            Binding::Request(id) => write!(f, "request:{id}"),
        }
    }
}

/// The label a customer gives a passkey ("my phone"): trimmed, 1–64 characters, no control
/// characters; empty means the default label.
pub fn passkey_name(raw: &str) -> Result<String, PasskeyError> {
    let name = raw.trim();
    if name.is_empty() {
        return Ok("Passkey".to_string());
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(PasskeyError::InvalidName);
    }
    Ok(name.to_string())
}

/// Why a WebAuthn response was refused, by what webauthn-rs found. Each is a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// clientDataJSON.origin is not this service's public origin.
    WrongOrigin,
    /// The authenticator data is for another relying party id.
    WrongRpId,
    /// The response answers another challenge.
    ChallengeMismatch,
    /// The authenticator did not verify the user (PIN or biometric on the device).
    UserNotVerified,
    /// The credential is not one of this customer's passkeys.
    CredentialNotAllowed,
    /// The signature counter did not move forward: a cloned authenticator or a replay.
    CounterRegressed,
    /// Anything else: bad signature, malformed CBOR or JSON, wrong ceremony type.
    Invalid,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::WrongOrigin => "passkey_wrong_origin",
            Refusal::WrongRpId => "passkey_wrong_rp_id",
            Refusal::ChallengeMismatch => "passkey_challenge_mismatch",
            Refusal::UserNotVerified => "passkey_user_not_verified",
            Refusal::CredentialNotAllowed => "passkey_not_allowed",
            Refusal::CounterRegressed => "passkey_counter_regressed",
            Refusal::Invalid => "passkey_invalid",
        }
    }

    /// Map webauthn-rs's finding to ours (the library's error is logged, never returned).
    pub fn from_webauthn(e: &webauthn_rs::prelude::WebauthnError) -> Self {
        use webauthn_rs::prelude::WebauthnError as W;
        match e {
            W::InvalidRPOrigin | W::CredentialCrossOrigin => Refusal::WrongOrigin,
            W::InvalidRPIDHash => Refusal::WrongRpId,
            W::MismatchedChallenge => Refusal::ChallengeMismatch,
            W::UserNotVerified | W::UserNotPresent => Refusal::UserNotVerified,
            W::CredentialNotFound => Refusal::CredentialNotAllowed,
            W::CredentialPossibleCompromise => Refusal::CounterRegressed,
            _ => Refusal::Invalid,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// Passkeys need a public URL whose host is a domain name (WebAuthn RP ids are domains;
    /// browsers refuse IP addresses).
    #[error("passkeys are not available: {0}")]
    Unavailable(String),
    #[error("the passkey name must be 1–64 characters without control characters")]
    InvalidName,
    #[error("the customer already has the maximum number of passkeys")]
    TooMany,
    #[error("the customer has no passkey")]
    NoPasskey,
    #[error("no such passkey")]
    NotFound,
    /// The ceremony is unknown, already finished, expired, or was started elsewhere.
    #[error("no such ceremony in flight (already used, expired or started elsewhere)")]
    CeremonyInvalid,
    #[error("this passkey is already registered")]
    AlreadyRegistered,
    #[error("the passkey response was refused: {}", .0.code())]
    Refused(Refusal),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(passkey_name("  my phone ").unwrap(), "my phone");
        assert_eq!(passkey_name("").unwrap(), "Passkey");
        assert!(matches!(
            passkey_name(&"x".repeat(65)),
            Err(PasskeyError::InvalidName)
        ));
        assert!(matches!(
            passkey_name("a\u{0}b"),
            Err(PasskeyError::InvalidName)
        ));
        assert_eq!(passkey_name(&"é".repeat(64)).unwrap().chars().count(), 64);
    }

    #[test]
    fn bindings_name_their_place() {
        assert_eq!(Binding::WebSession("ab".into()).to_string(), "web:ab");
        assert_eq!(
            Binding::Request("pkr_1".into()).to_string(),
            "request:pkr_1"
        );
    }

    #[test]
    fn refusals_have_stable_codes() {
        use webauthn_rs::prelude::WebauthnError as W;
        assert_eq!(
            Refusal::from_webauthn(&W::InvalidRPOrigin).code(),
            "passkey_wrong_origin"
        );
        assert_eq!(
            Refusal::from_webauthn(&W::InvalidRPIDHash).code(),
            "passkey_wrong_rp_id"
        );
        assert_eq!(
            Refusal::from_webauthn(&W::CredentialPossibleCompromise).code(),
            "passkey_counter_regressed"
        );
        assert_eq!(
            Refusal::from_webauthn(&W::ParseNOMFailure).code(),
            "passkey_invalid"
        );
    }
}
