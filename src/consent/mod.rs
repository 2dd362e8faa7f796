//! Consent: purposes and notices, consent events, camera grants, receipts, retention, and the
//! one check every biometric enrolment calls.
//!
//! * [`catalogue`] and [`rules`] are pure (notices, what a grant must carry, when a consent is
//!   in force); [`receipt`] builds Kantara Consent Receipt v1.1 documents (pure).
//! * [`service`] does the I/O: validate, append the event to the ledger, store the consent,
//!   sign the receipt, push withdrawals to listeners ([`events`]).
//! * [`retention`] ends expired consents and destroys templates whose purpose ended or whose
//!   last use is older than the retention limit (Illinois BIPA §15(a)), logging each.

pub mod audit;
pub mod camera_choice;
pub mod catalogue;
pub mod events;
pub mod link_service;
pub mod links;
pub mod logged;
pub mod receipt;
pub mod retention;
pub mod rules;
pub mod service;

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{
    store::{self, StoreError},
    tenants::{CustomerRef, TenantId},
};

/// What a customer can consent to. Notices per purpose live in `policies/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Camera,
    Recording,
    RecordingReuse,
    VoiceprintEnrolment,
    KeystrokeEnrolment,
}

impl Purpose {
    pub const ALL: [Purpose; 5] = [
        Purpose::Camera,
        Purpose::Recording,
        Purpose::RecordingReuse,
        Purpose::VoiceprintEnrolment,
        Purpose::KeystrokeEnrolment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Camera => "camera",
            Purpose::Recording => "recording",
            Purpose::RecordingReuse => "recording_reuse",
            Purpose::VoiceprintEnrolment => "voiceprint_enrolment",
            Purpose::KeystrokeEnrolment => "keystroke_enrolment",
        }
    }
}

impl FromStr for Purpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown purpose `{s}`"))
    }
}

/// How a consent was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    /// A button on the customer's own device, with the customer's session credential.
    CustomerDevice,
    /// A key press in the IVR, reported by the platform.
    Dtmf,
    /// Spoken, witnessed by an agent (named).
    VerbalWitnessed,
}

impl CaptureMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMethod::CustomerDevice => "customer_device",
            CaptureMethod::Dtmf => "dtmf",
            CaptureMethod::VerbalWitnessed => "verbal_witnessed",
        }
    }
}

/// A consent for one session, or standing until withdrawn or expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentScope {
    Session,
    Standing,
}

impl ConsentScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentScope::Session => "session",
            ConsentScope::Standing => "standing",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("no explicit, unexpired, unwithdrawn `{}` consent exists for this customer", .0.as_str())]
    Required(Purpose),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The gate in front of every biometric enrolment: passes only while an explicit, unexpired,
/// unwithdrawn consent for `purpose` exists for this customer (any scope) *as the log records
/// it*: the row only locates its grant entry, which must be the ledger's own, for this
/// customer, unexpired by the logged validity, with no logged end. A row planted, extended or
/// un-withdrawn by someone who can write the database grants nothing. Fails closed on any
/// storage error. (Camera grants check the same per session in `service::camera_grant`.)
pub async fn require(
    state: &crate::AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    purpose: Purpose,
) -> Result<(), ConsentError> {
    if in_force_logged(state, tenant, customer, purpose).await? {
        Ok(())
    } else {
        Err(ConsentError::Required(purpose))
    }
}

/// Whether a consent for the purpose is in force by the log (see [`require`]). The
/// retention sweep keeps templates only while this holds, so an un-withdrawn row cannot keep a
/// biometric alive past the customer's withdrawal.
pub async fn in_force_logged(
    state: &crate::AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    purpose: Purpose,
) -> Result<bool, ConsentError> {
    match service::confirmed_in_force(state, tenant, customer, purpose, None, store::now_ms()).await
    {
        Ok(confirmed) => Ok(!confirmed.is_empty()),
        Err(service::ServiceError::Store(e)) => Err(ConsentError::Store(e)),
        // Ledger errors fail closed: no consent is confirmed.
        Err(e) => {
            tracing::error!(tenant = %tenant, error = %e, "consent not confirmed by the log; refused");
            Ok(false)
        }
    }
}
