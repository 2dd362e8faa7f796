//! The voiceprint as a sessions [`BiometricScorer`]: a session's `evidence.voice` sample (the
//! same base64 audio + encoding as the voice API, parsed at the edge) is decoded, analysed
//! (VAD, CAM++ + GE2E, AASIST) and scored against the customer's opened template with the
//! S-norm + fusion + FMR calibration of `POST /v1/customers/{ref}/voiceprint/verify`. Audio is
//! dropped once embedded.
//!
//! Replays: the sample's fingerprint is checked against the fingerprints of audio already seen
//! for the customer (the scorer's memory, [`SEEN_AUDIO`]); an exact or near-exact match raises
//! `replay_suspected`, which the sector policy's `[presentation_attack]` blocks or flags.

use std::sync::Arc;

use super::{
    VoiceError,
    embed::{AnalyseOptions, analyse},
    scoring::decision_fmr,
    service::{VoiceEngine, evidence, model_versions},
    template::{SeenAudio, VoiceTemplate},
};
use crate::{
    biometrics::{
        audio,
        models::ModelRegistry,
        scorer::{BiometricScorer, MemorySlot, Sample, ScoreError, ScorerRegistry},
    },
    policy::Modality,
    sessions::engine::{BiometricScore, REPLAY_SUSPECTED, SPOOF_SUSPECTED},
};

/// The replay fingerprints of audio already seen for the customer (enrolment, verifications,
/// sessions, calls): a sealed JSON [`SeenAudio`].
pub const SEEN_AUDIO: MemorySlot = MemorySlot {
    modality: super::FINGERPRINT_MODALITY,
    model_id: "replay-fingerprint",
    model_version: "1",
};

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

    fn score(&self, template: &[u8], sample: &Sample) -> Result<BiometricScore, ScoreError> {
        self.score_remembering(template, None, sample)
            .map(|(score, _)| score)
    }

    fn memory(&self) -> Option<MemorySlot> {
        Some(SEEN_AUDIO)
    }

    fn score_remembering(
        &self,
        template: &[u8],
        memory: Option<&[u8]>,
        sample: &Sample,
    ) -> Result<(BiometricScore, Option<Vec<u8>>), ScoreError> {
        let Sample::Voice(voice) = sample else {
            return Err(ScoreError::Unusable("not a voice sample".into()));
        };
        let utterance = audio::decode(&voice.bytes, voice.encoding)?;
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
        let mut seen: SeenAudio = match memory {
            Some(m) => serde_json::from_slice(m)
                .map_err(|_| ScoreError::Unusable("the seen-audio record cannot be read".into()))?,
            None => SeenAudio::default(),
        };
        let mut alerts = Vec::new();
        if ev.spoof.as_ref().is_some_and(|c| c.flagged) {
            alerts.push(SPOOF_SUSPECTED.to_string());
        }
        if a.fingerprint.matches(&seen.fingerprints).is_replay() {
            alerts.push(REPLAY_SUSPECTED.to_string());
        }
        // Remembered either way: a later replay of this sample is caught too.
        seen.push(a.fingerprint);
        let memory = serde_json::to_vec(&seen)
            .map_err(|_| ScoreError::Unusable("the seen-audio record cannot be written".into()))?;
        let score = BiometricScore {
            modality: Modality::Voice,
            model_id: self.model_id.clone(),
            model_version: self.model_version.clone(),
            score: f64::from(ev.score),
            alerts,
            // Sessions decide on measured rates only (see `decision_fmr`).
            fmr: decision_fmr(
                ev.fmr,
                ev.fmr_source,
                self.engine.scorer(ev.condition).measured_fmr_floor(),
            ),
        };
        Ok((score, Some(memory)))
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
