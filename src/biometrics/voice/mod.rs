//! Passive voiceprint: embeddings (CAM++ + GE2E), encrypted templates, adaptive S-norm, fusion
//! and score -> FMR calibration, replay detection and the AASIST presentation-attack flag.
//!
//! A caller's phone is not an authenticated sensor (NIST SP 800-63B-4 §5.3): the evidence built
//! here is a risk signal with a calibrated false-match rate; the sector policy decides what it
//! is worth.

pub mod antispoof;
pub mod embed;
pub mod live;
pub mod pad_head;
pub mod replay;
pub mod scorer;
pub mod scoring;
pub mod service;
pub mod stream;
pub mod template;

use crate::biometrics::{audio::AudioError, models::ModelError};

/// Template modality names in `biometric_templates`.
pub const MODALITY: &str = "voice";
/// Encrypted replay fingerprints of audio already seen for the customer.
pub const FINGERPRINT_MODALITY: &str = "voice_fingerprints";

/// Manifest ids this module needs.
pub const CAMPPLUS: &str = "campplus";
pub const GE2E: &str = "ge2e";
pub const VAD: &str = "silero_vad";
pub const AASIST: &str = "aasist";
/// The trained presentation-attack head over the embeddings and the AASIST score.
pub const PAD_HEAD: &str = "pad-head";
pub const WIDEBAND_ARTIFACT: &str = "voice-wideband";
pub const TELEPHONE_ARTIFACT: &str = "voice-telephone";

/// Every way a voice operation fails. Mapped once to problem+json at the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("voice artifact {id} is invalid: {reason}")]
    Artifact { id: String, reason: String },
    #[error("no voiceprint is enrolled for this customer")]
    NotEnrolled,
    #[error("enrolment needs 1 to {max} utterances, got {got}")]
    UtteranceCount { got: usize, max: usize },
    #[error("the stored voiceprint could not be opened")]
    Template,
    #[error(transparent)]
    Consent(#[from] crate::consent::ConsentError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
}

impl From<crate::crypto::customer_key::CustomerKeyError> for VoiceError {
    fn from(e: crate::crypto::customer_key::CustomerKeyError) -> Self {
        use crate::crypto::customer_key::CustomerKeyError;
        match e {
            CustomerKeyError::Store(e) => VoiceError::Store(e),
            CustomerKeyError::Envelope(_) => VoiceError::Template,
        }
    }
}

impl From<ort::Error> for VoiceError {
    fn from(e: ort::Error) -> Self {
        VoiceError::Model(ModelError::Inference {
            id: "voice".into(),
            reason: e.to_string(),
        })
    }
}
