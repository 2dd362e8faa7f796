//! Passive typing-rhythm verification.
//!
//! * [`input`]: what the widget sends (press/release times and a coarse key class, never
//!   characters) and the parsing that validates it.
//! * [`features`]: timing features, identical to the Python training code.
//! * [`fixed`]: fixed text (a passphrase or account number typed every time): a per-customer
//!   detector over the enrolled repetitions, scored by the `keystroke_fixed` ONNX model.
//! * [`free`]: free text (chat): 50-keystroke windows embedded by the `keystroke_free` model and
//!   compared with the customer's enrolled embedding.
//! * [`calibration`]: score -> false-match rate tables measured on development data.
//!
//! Templates are serialised here and sealed by the caller with the customer's data key
//! (`crypto::envelope`); nothing in this module does I/O.

pub mod calibration;
pub mod features;
pub mod fixed;
pub mod free;
pub mod input;
pub mod service;

pub use input::{KeyClass, KeyEvent, KeystrokeSegment, parse_events};

/// Fewest keys in a fixed text (shorter strings carry too little rhythm to verify).
pub const MIN_FIXED_KEYS: usize = 6;
/// Most keys in a fixed text.
pub const MAX_FIXED_KEYS: usize = 128;
/// Fewest repetitions to enrol a fixed text (the detector uses the 3 nearest repetitions).
pub const MIN_FIXED_REPETITIONS: usize = 5;
/// Most repetitions kept in a fixed-text template.
pub const MAX_FIXED_REPETITIONS: usize = 400;
/// Fewest keystrokes for one free-text verification (one window of the model).
pub const MIN_FREE_KEYSTROKES: usize = features::FREE_WINDOW;
/// Fewest keystrokes to enrol free text (5 windows of 50, as evaluated).
pub const MIN_FREE_ENROL_KEYSTROKES: usize = 5 * features::FREE_WINDOW;

/// Everything that can be wrong with keystroke evidence or its scoring.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeystrokeError {
    #[error("event {index}: a timestamp is NaN or infinite")]
    NotFinite { index: usize },
    #[error("event {index}: a timestamp is negative or too large for a monotonic clock in ms")]
    OutOfRange { index: usize },
    #[error("event {index}: released before it was pressed")]
    ReleaseBeforePress { index: usize },
    #[error("event {index}: pressed before the previous key (events must be in press order)")]
    OutOfOrder { index: usize },
    #[error(
        "event {index}: the same key class pressed twice at the same instant (duplicate event)"
    )]
    DuplicateEvent { index: usize },
    #[error(
        "event {index}: a hold or pause of {latency_ms} ms is longer than 5000 ms; start a new segment"
    )]
    ImplausibleLatency { index: usize, latency_ms: f64 },
    #[error("{got} events; at most {max} are accepted")]
    TooManyEvents { got: usize, max: usize },
    #[error("expected {expected} keys for the enrolled text, got {got}")]
    WrongKeyCount { expected: usize, got: usize },
    #[error("the key classes typed do not match the enrolled text")]
    KeySequenceMismatch,
    #[error("repetition {index} differs from the first in its key classes or length")]
    InconsistentRepetitions { index: usize },
    #[error("not enough keystroke evidence: {got} {what}, at least {needed} needed")]
    Insufficient {
        what: &'static str,
        got: usize,
        needed: usize,
    },
    #[error("too much keystroke evidence: {got} {what}, at most {max} accepted")]
    TooMuch {
        what: &'static str,
        got: usize,
        max: usize,
    },
    #[error("the stored keystroke template is unreadable")]
    Template,
    #[error("keystroke model: {0}")]
    Model(String),
}

impl KeystrokeError {
    /// Stable code for problem+json and decision reasons.
    pub fn code(&self) -> &'static str {
        match self {
            KeystrokeError::NotFinite { .. } => "not_finite",
            KeystrokeError::OutOfRange { .. } => "out_of_range",
            KeystrokeError::ReleaseBeforePress { .. } => "release_before_press",
            KeystrokeError::OutOfOrder { .. } => "out_of_order",
            KeystrokeError::DuplicateEvent { .. } => "duplicate_event",
            KeystrokeError::ImplausibleLatency { .. } => "implausible_latency",
            KeystrokeError::TooManyEvents { .. } | KeystrokeError::TooMuch { .. } => {
                "too_many_events"
            }
            KeystrokeError::WrongKeyCount { .. } => "wrong_key_count",
            KeystrokeError::KeySequenceMismatch => "key_sequence_mismatch",
            KeystrokeError::InconsistentRepetitions { .. } => "inconsistent_repetitions",
            KeystrokeError::Insufficient { .. } => "insufficient_evidence",
            KeystrokeError::Template => "template_unreadable",
            KeystrokeError::Model(_) => "model_failure",
        }
    }

    /// Errors the caller caused (bad or too little input), as opposed to server faults.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, KeystrokeError::Template | KeystrokeError::Model(_))
    }
}

/// A verification outcome: the model's score and the false-match rate it corresponds to.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct KeystrokeScore {
    /// Model score, higher = more likely the enrolled customer.
    pub score: f32,
    /// Calibrated false-match rate at this score (fraction of impostor attempts scoring at
    /// least this high on development data).
    pub fmr: f64,
}
