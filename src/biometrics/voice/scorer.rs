//! The voiceprint as a sessions [`BiometricScorer`]: a session's `evidence.voice` sample (the
//! same base64 audio + encoding as the voice API) is decoded, analysed (VAD, CAM++ + GE2E) and
//! scored against the customer's opened template with the S-norm + fusion + FMR calibration of
//! `POST /v1/customers/{ref}/voiceprint/verify`. Audio is dropped once embedded.
//!
//! Not done here (the decision engine has no input for them yet): the AASIST presentation-attack
//! flag and the replay check, both of which the voice API reports.

use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::{
    VoiceError,
    embed::{AnalyseOptions, analyse},
    scoring::decision_fmr,
    service::{VoiceEngine, evidence, model_versions},
    template::VoiceTemplate,
};
use crate::{
    biometrics::{
        audio::{self, AudioEncoding},
        models::ModelRegistry,
    },
    policy::Modality,
    sessions::{
        BiometricScore, BiometricScorer, ScoreError, ScorerRegistry, engine::SPOOF_SUSPECTED,
    },
};

/// A voice sample in session evidence: one utterance, exactly as the voice API takes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoiceSample {
    /// Base64 (standard alphabet) of the audio bytes (at most 12 MiB decoded, 60 s).
    pub audio: String,
    /// `wav` (PCM16, 8/16/44.1/48 kHz, mono/stereo), `mulaw`, `alaw` (8 kHz G.711),
    /// `s16le8k`, `s16le16k`.
    #[schema(value_type = String)]
    pub encoding: AudioEncoding,
}

/// The same, borrowing the base64 text from the request body instead of copying it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoiceSampleRef<'a> {
    #[serde(borrow)]
    audio: &'a str,
    encoding: AudioEncoding,
}

pub struct VoiceScorer {
    models: Arc<ModelRegistry>,
    engine: Arc<VoiceEngine>,
    /// `campplus+ge2e` and their versions, as the template row records them.
    model_id: String,
    model_version: String,
}

impl VoiceScorer {
    pub fn new(models: Arc<ModelRegistry>) -> Result<Self, VoiceError> {
        let engine = VoiceEngine::shared(&models)?;
        // Every model the analysis runs must be there (VAD, CAM++, GE2E).
        for id in [super::VAD, super::CAMPPLUS, super::GE2E] {
            models.get(id)?;
        }
        let versions = model_versions(&models);
        let join =
            |f: fn(&(String, String)) -> &str| versions.iter().map(f).collect::<Vec<_>>().join("+");
        Ok(Self {
            model_id: join(|v| v.0.as_str()),
            model_version: join(|v| v.1.as_str()),
            engine,
            models,
        })
    }

    fn versions(&self) -> Vec<(String, String)> {
        model_versions(&self.models)
    }
}

impl BiometricScorer for VoiceScorer {
    fn modality(&self) -> Modality {
        Modality::Voice
    }

    fn score(&self, template: &[u8], sample: &Value) -> Result<BiometricScore, String> {
        self.score_checked(template, sample)
            .map_err(|e| e.to_string())
    }

    fn score_checked(&self, template: &[u8], sample: &Value) -> Result<BiometricScore, ScoreError> {
        let s = VoiceSampleRef::deserialize(sample).map_err(|e| {
            ScoreError::InvalidSample(format!(
                "`evidence.voice` must be {{\"audio\": base64, \"encoding\": ...}}: {e}"
            ))
        })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.audio.as_bytes())
            .map_err(|_| {
                ScoreError::InvalidSample("`evidence.voice.audio` is not valid base64".into())
            })?;
        let utterance = audio::decode(&bytes, s.encoding)?;
        drop(bytes);
        let tpl = VoiceTemplate::from_bytes(template)
            .map_err(|_| ScoreError::Unusable("the stored voiceprint cannot be read".into()))?;
        // Embeddings of other model versions are not comparable: re-enrolment is needed.
        if !tpl.models.is_empty() && tpl.models != self.versions() {
            return Err(ScoreError::Unusable(
                "the voiceprint was enrolled with other model versions".into(),
            ));
        }
        let options = AnalyseOptions {
            enforce_min_speech: true,
            // AASIST (~0.5 s a sample on one core): its flag is an input to the decision, which
            // the sector policy's `[presentation_attack]` turns into a block or a flag.
            antispoof: true,
        };
        let a = analyse(&self.models, &self.engine.front, &utterance, options).map_err(
            |e| match e {
                VoiceError::Audio(a) => ScoreError::InvalidAudio(a),
                other => ScoreError::Unusable(other.to_string()),
            },
        )?;
        drop(utterance);
        let ev = evidence(&self.models, &self.engine, &tpl, &a, None);
        Ok(BiometricScore {
            modality: Modality::Voice,
            model_id: self.model_id.clone(),
            model_version: self.model_version.clone(),
            score: f64::from(ev.score),
            alerts: ev
                .spoof
                .as_ref()
                .filter(|c| c.flagged)
                .map(|_| vec![SPOOF_SUSPECTED.to_string()])
                .unwrap_or_default(),
            // Sessions decide on measured rates only (see `decision_fmr`).
            fmr: decision_fmr(
                ev.fmr,
                ev.fmr_source,
                self.engine.scorer(ev.condition).measured_fmr_floor(),
            ),
        })
    }
}

/// Register the voiceprint scorer with the sessions engine when the voice models and
/// artifacts are in the manifest (otherwise sessions say `voice_scorer_unavailable`).
pub fn register_scorer(scorers: &ScorerRegistry, models: &Arc<ModelRegistry>) {
    match VoiceScorer::new(models.clone()) {
        Ok(scorer) => scorers.register(Arc::new(scorer)),
        Err(e) => tracing::warn!(error = %e, "voice scorer not registered"),
    }
}
