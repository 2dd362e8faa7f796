//! The one seam between sessions and the biometric models.
//!
//! * Samples as the platform sends them ([`VoiceSample`], [`KeystrokeFixedSample`],
//!   [`KeystrokeFreeSample`]) are typed request bodies, and [`parse`](KeystrokeFreeSample::parse)
//!   turns each into a [`Sample`] the models can trust. Every route that takes a sample (the
//!   voice and keystroke APIs, session evidence) parses it the same way, before any I/O, so the
//!   same bad input gets the same refusal everywhere ([`SampleError`]).
//! * A [`BiometricScorer`] per modality scores a parsed sample against the customer's opened
//!   template; the voice and keystroke services register theirs in the [`ScorerRegistry`].

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use base64::Engine as _;
use serde::Deserialize;

use super::{
    audio::{self, AudioEncoding, AudioError},
    keystroke::{KeyEvent, KeystrokeError, KeystrokeSegment, free, parse_events},
};
use crate::{
    http::json_objects::object_or_array, policy::Modality, sessions::engine::BiometricScore,
};

/// One utterance: base64 audio bytes and how they are encoded (the voice API's body, and
/// `evidence.voice` of a session).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoiceSample {
    /// Base64 (standard alphabet) of the audio bytes (at most 12 MiB decoded, 60 s).
    pub audio: String,
    /// `wav` (PCM16, 8/16/44.1/48 kHz, mono/stereo), `mulaw`, `alaw` (8 kHz G.711),
    /// `s16le8k`, `s16le16k`.
    pub encoding: AudioEncoding,
}

/// An utterance whose bytes are decoded from base64 and within the size limit.
#[derive(Debug, Clone)]
pub struct VoiceAudio {
    pub bytes: Vec<u8>,
    pub encoding: AudioEncoding,
}

impl VoiceSample {
    pub fn parse(&self) -> Result<VoiceAudio, SampleError> {
        // Larger base64 cannot decode to an acceptable utterance: refuse before decoding.
        let max_b64 = (audio::MAX_BYTES / 3 + 1) * 4;
        if self.audio.len() > max_b64 {
            return Err(AudioError::Oversized {
                bytes: self.audio.len() / 4 * 3,
                max_bytes: audio::MAX_BYTES,
            }
            .into());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.audio.as_bytes())
            .map_err(|_| SampleError::Base64)?;
        if bytes.len() > audio::MAX_BYTES {
            return Err(AudioError::Oversized {
                bytes: bytes.len(),
                max_bytes: audio::MAX_BYTES,
            }
            .into());
        }
        Ok(VoiceAudio {
            bytes,
            encoding: self.encoding,
        })
    }
}

/// One repetition of the customer's enrolled phrase: `{"events": [KeyEvent…]}` or the bare
/// array of events.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(from = "FixedShape")]
pub struct KeystrokeFixedSample {
    pub events: Vec<KeyEvent>,
}

// The wrapped form refuses unknown fields like every other body. Both forms are read by
// `json_objects::object_or_array`, not an untagged enum: serde's buffering would build the key
// events from arrays of their fields again (and ignore unknown fields of a struct variant).
struct FixedShape(Vec<KeyEvent>);

impl<'de> Deserialize<'de> for FixedShape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        object_or_array::<_, FixedWrapped, Vec<KeyEvent>, _>(d)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixedWrapped {
    events: Vec<KeyEvent>,
}

impl From<FixedWrapped> for FixedShape {
    fn from(w: FixedWrapped) -> Self {
        Self(w.events)
    }
}

impl From<Vec<KeyEvent>> for FixedShape {
    fn from(events: Vec<KeyEvent>) -> Self {
        Self(events)
    }
}

impl From<FixedShape> for KeystrokeFixedSample {
    fn from(FixedShape(events): FixedShape) -> Self {
        Self { events }
    }
}

impl KeystrokeFixedSample {
    pub fn parse(&self) -> Result<KeystrokeSegment, SampleError> {
        Ok(parse_events(&self.events)?)
    }
}

/// Free text typed in the session (chat messages): `{"segments": [[KeyEvent…]…]}` or the bare
/// array of segments; at least 50 keystrokes in all.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(from = "FreeShape")]
pub struct KeystrokeFreeSample {
    pub segments: Vec<Vec<KeyEvent>>,
}

struct FreeShape(Vec<Vec<KeyEvent>>);

impl<'de> Deserialize<'de> for FreeShape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        object_or_array::<_, FreeWrapped, Vec<Vec<KeyEvent>>, _>(d)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FreeWrapped {
    segments: Vec<Vec<KeyEvent>>,
}

impl From<FreeWrapped> for FreeShape {
    fn from(w: FreeWrapped) -> Self {
        Self(w.segments)
    }
}

impl From<Vec<Vec<KeyEvent>>> for FreeShape {
    fn from(segments: Vec<Vec<KeyEvent>>) -> Self {
        Self(segments)
    }
}

impl From<FreeShape> for KeystrokeFreeSample {
    fn from(FreeShape(segments): FreeShape) -> Self {
        Self { segments }
    }
}

impl KeystrokeFreeSample {
    pub fn parse(&self) -> Result<free::FreeTextWindows, SampleError> {
        Ok(free::parse_verification(&self.segments)?)
    }
}

/// A sample parsed at the edge: what a scorer receives.
#[derive(Debug, Clone)]
pub enum Sample {
    Voice(VoiceAudio),
    KeystrokeFixed(KeystrokeSegment),
    KeystrokeFree(free::FreeTextWindows),
}

impl Sample {
    pub fn modality(&self) -> Modality {
        match self {
            Sample::Voice(_) => Modality::Voice,
            Sample::KeystrokeFixed(_) => Modality::KeystrokeFixed,
            Sample::KeystrokeFree(_) => Modality::KeystrokeFree,
        }
    }
}

/// Why a sample was refused at the edge (nothing was looked up or stored).
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("`audio` is not valid base64")]
    Base64,
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Keystroke(#[from] KeystrokeError),
}

/// Why a scorer did not score a parsed sample.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// The audio cannot be used (empty, too short, clipped, silent, wrong format, too long):
    /// the request is refused with the voice API's problem, nothing is stored.
    #[error(transparent)]
    InvalidAudio(#[from] AudioError),
    /// Anything else (the sample does not fit the template, a model failed): the sample is
    /// skipped and the decision says `<modality>_sample_unusable`.
    #[error("{0}")]
    Unusable(String),
}

/// Scores one modality's parsed sample against the customer's opened template. Implemented by
/// the voice and keystroke services and registered at start-up; runs in `spawn_blocking`.
pub trait BiometricScorer: Send + Sync {
    fn modality(&self) -> Modality;
    fn score(&self, template: &[u8], sample: &Sample) -> Result<BiometricScore, ScoreError>;

    /// Where this scorer keeps what it remembers of the customer's past samples (the
    /// voiceprint's replay fingerprints): a stored row sealed under the customer's key like a
    /// template. `None`: it remembers nothing and [`score`](Self::score) is all it does.
    fn memory(&self) -> Option<MemorySlot> {
        None
    }

    /// Score against the template and the opened memory (`None`: nothing remembered yet).
    /// Returns the score and the memory to store now that this sample has been seen; the
    /// caller stores it only once the whole request has been scored.
    fn score_remembering(
        &self,
        template: &[u8],
        _memory: Option<&[u8]>,
        sample: &Sample,
    ) -> Result<(BiometricScore, Option<Vec<u8>>), ScoreError> {
        Ok((self.score(template, sample)?, None))
    }
}

/// The stored row a scorer's memory lives in (`biometric_templates.modality`, model columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySlot {
    pub modality: &'static str,
    pub model_id: &'static str,
    pub model_version: &'static str,
}

/// The scorers available to sessions, by modality.
#[derive(Default)]
pub struct ScorerRegistry {
    inner: RwLock<HashMap<Modality, Arc<dyn BiometricScorer>>>,
}

impl ScorerRegistry {
    pub fn register(&self, scorer: Arc<dyn BiometricScorer>) {
        if let Ok(mut map) = self.inner.write() {
            map.insert(scorer.modality(), scorer);
        }
    }
    pub fn get(&self, modality: Modality) -> Option<Arc<dyn BiometricScorer>> {
        self.inner.read().ok()?.get(&modality).cloned()
    }
}

impl std::fmt::Debug for ScorerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScorerRegistry")
    }
}
