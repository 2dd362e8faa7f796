//! The voiceprint as a sessions [`BiometricScorer`]: a session's `evidence.voice` sample (the
//! same base64 audio + encoding as the voice API, parsed at the edge) is decoded, analysed
//! (VAD, CAM++ + GE2E, AASIST) and scored against the customer's opened template with the
//! S-norm + fusion + FMR calibration of `POST /v1/customers/{ref}/voiceprint/verify`. Audio is
//! dropped once embedded.
//!
//! Not done here (the decision engine has no input for it yet): the replay check, which the
//! voice API reports.

use std::sync::Arc;

use super::{
    VoiceError,
    embed::{AnalyseOptions, analyse},
    scoring::decision_fmr,
    service::{VoiceEngine, evidence, model_versions},
    template::VoiceTemplate,
};
use crate::{
    biometrics::{
        audio,
        models::ModelRegistry,
        scorer::{BiometricScorer, Sample, ScoreError, ScorerRegistry},
    },
    policy::Modality,
    sessions::engine::{BiometricScore, SPOOF_SUSPECTED},
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
