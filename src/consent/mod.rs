//! Consent: purposes and the one check every biometric enrolment calls.

use serde::{Deserialize, Serialize};

use crate::{
    store::{Db, StoreError},
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

#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("no explicit, unexpired, unwithdrawn `{}` consent exists for this customer", .0.as_str())]
    Required(Purpose),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The single gate in front of every biometric enrolment and camera grant.
///
/// Until the consent store exists (issue 6) no consent can have been captured, so this refuses:
/// failing closed is the only honest answer when consent cannot be proven.
pub async fn require(
    _db: &Db,
    _tenant: &TenantId,
    _customer: &CustomerRef,
    purpose: Purpose,
) -> Result<(), ConsentError> {
    Err(ConsentError::Required(purpose))
}
