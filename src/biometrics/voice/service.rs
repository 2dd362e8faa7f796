//! Voice enrolment and verification: the I/O shell around the pure parts (audio, embedding,
//! scoring). Loads and stores through `store/`, seals through `crypto/`, never keeps audio.

use std::sync::{Arc, OnceLock};

use serde::Serialize;

use super::{
    CAMPPLUS, GE2E, TELEPHONE_ARTIFACT, VoiceError, WIDEBAND_ARTIFACT,
    antispoof::SpoofThresholds,
    embed::{AnalyseOptions, FrontEnd, UtteranceAnalysis, analyse},
    replay::ReplayMatch,
    scoring::{Condition, FmrSource, VoiceScorer},
    template::{self, SeenAudio, VoiceTemplate},
};
use crate::{
    AppState,
    biometrics::{
        audio::{self, AudioEncoding},
        models::ModelRegistry,
        templates,
    },
    consent::{self, Purpose},
    crypto::customer_key,
    store,
    tenants::{CustomerRef, TenantId},
};

/// At most this many utterances per enrolment request.
pub const MAX_ENROLMENT_UTTERANCES: usize = 10;

/// The loaded voice recipe: front end, per-condition scorers, spoof thresholds.
pub struct VoiceEngine {
    pub front: FrontEnd,
    pub wideband: VoiceScorer,
    pub telephone: VoiceScorer,
    pub spoof: Option<SpoofThresholds>,
}

impl VoiceEngine {
    pub fn from_registry(models: &ModelRegistry) -> Result<Self, VoiceError> {
        let wideband =
            VoiceScorer::from_json(WIDEBAND_ARTIFACT, models.artifact(WIDEBAND_ARTIFACT)?)?;
        let telephone =
            VoiceScorer::from_json(TELEPHONE_ARTIFACT, models.artifact(TELEPHONE_ARTIFACT)?)?;
        let spoof = models
            .get(super::AASIST)
            .ok()
            .and_then(|m| SpoofThresholds::from_manifest(&m.entry.thresholds));
        Ok(Self {
            front: FrontEnd::default(),
            wideband,
            telephone,
            spoof,
        })
    }

    pub fn scorer(&self, condition: Condition) -> &VoiceScorer {
        match condition {
            Condition::Wideband => &self.wideband,
            Condition::Telephone => &self.telephone,
        }
    }

    /// One engine per registry (built on first use; the registry is loaded once per process).
    pub fn shared(models: &Arc<ModelRegistry>) -> Result<Arc<VoiceEngine>, VoiceError> {
        static ENGINE: OnceLock<(usize, Arc<VoiceEngine>)> = OnceLock::new();
        let key = Arc::as_ptr(models) as usize;
        if let Some((k, e)) = ENGINE.get() {
            if *k == key {
                return Ok(e.clone());
            }
            return Ok(Arc::new(VoiceEngine::from_registry(models)?));
        }
        let engine = Arc::new(VoiceEngine::from_registry(models)?);
        let _ = ENGINE.set((key, engine.clone()));
        Ok(engine)
    }
}

/// Ids and versions of the embedding models, in template order.
pub(crate) fn model_versions(models: &ModelRegistry) -> Vec<(String, String)> {
    [CAMPPLUS, GE2E]
        .iter()
        .filter_map(|id| {
            models
                .get(id)
                .ok()
                .map(|m| (m.entry.id.clone(), m.entry.version.clone()))
        })
        .collect()
}

/// Decode + analyse one utterance off the async runtime.
pub async fn analyse_bytes(
    models: Arc<ModelRegistry>,
    engine: Arc<VoiceEngine>,
    bytes: Vec<u8>,
    encoding: AudioEncoding,
) -> Result<UtteranceAnalysis, VoiceError> {
    tokio::task::spawn_blocking(move || {
        let utterance = audio::decode(&bytes, encoding)?;
        drop(bytes);
        analyse(
            &models,
            &engine.front,
            &utterance,
            AnalyseOptions::default(),
        )
    })
    .await
    .map_err(|e| {
        VoiceError::Model(crate::biometrics::models::ModelError::Inference {
            id: "voice".into(),
            reason: e.to_string(),
        })
    })?
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EnrolmentOutcome {
    pub utterances: u32,
    pub net_speech_ms: u32,
    pub condition: Condition,
    /// Model ids and versions the template was made with.
    #[schema(value_type = Vec<Vec<String>>)]
    pub models: Vec<(String, String)>,
    /// Utterances the presentation-attack check flagged (enrolment continues; policy decides).
    pub spoof_flags: u32,
}

/// Enrol (or re-enrol) a customer's voiceprint from one or more utterances.
/// Refused with `consent_required` unless a `voiceprint_enrolment` consent exists.
pub async fn enrol(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    utterances: Vec<(Vec<u8>, AudioEncoding)>,
) -> Result<EnrolmentOutcome, VoiceError> {
    // BIPA §15(b): a written release before any biometric is collected.
    consent::require(state, tenant, customer, Purpose::VoiceprintEnrolment).await?;
    if utterances.is_empty() || utterances.len() > MAX_ENROLMENT_UTTERANCES {
        return Err(VoiceError::UtteranceCount {
            got: utterances.len(),
            max: MAX_ENROLMENT_UTTERANCES,
        });
    }
    let engine = VoiceEngine::shared(&state.models)?;
    let mut analyses = Vec::with_capacity(utterances.len());
    for (bytes, encoding) in utterances {
        analyses.push(analyse_bytes(state.models.clone(), engine.clone(), bytes, encoding).await?);
    }
    let versions = model_versions(&state.models);
    let tpl = VoiceTemplate::from_analyses(&analyses, versions.clone()).ok_or(
        VoiceError::UtteranceCount {
            got: 0,
            max: MAX_ENROLMENT_UTTERANCES,
        },
    )?;
    let spoof_flags = analyses
        .iter()
        .filter(|a| match (engine.spoof, a.spoof_score) {
            (Some(t), Some(s)) => t.flagged(s, a.telephone),
            _ => false,
        })
        .count() as u32;
    let key = customer_key::get_or_create(&state.db, &state.master_key, tenant, customer).await?;
    let sealed = template::seal_template(&key, tenant.as_str(), customer.as_str(), &tpl)?;
    let mut seen = SeenAudio::default();
    for a in &analyses {
        seen.push(a.fingerprint.clone());
    }
    let sealed_seen = template::seal_seen(&key, tenant.as_str(), customer.as_str(), &seen)?;
    let model_id = versions
        .iter()
        .map(|(i, _)| i.as_str())
        .collect::<Vec<_>>()
        .join("+");
    let model_version = versions
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join("+");
    store::templates::upsert_template(
        &state.db,
        tenant,
        customer,
        super::MODALITY,
        &model_id,
        &model_version,
        &sealed,
    )
    .await?;
    store::templates::upsert_template(
        &state.db,
        tenant,
        customer,
        super::scorer::SEEN_AUDIO.modality,
        super::scorer::SEEN_AUDIO.model_id,
        super::scorer::SEEN_AUDIO.model_version,
        &sealed_seen,
    )
    .await?;
    Ok(EnrolmentOutcome {
        utterances: tpl.utterances,
        net_speech_ms: tpl.net_speech_ms,
        condition: if tpl.telephone {
            Condition::Telephone
        } else {
            Condition::Wideband
        },
        models: versions,
        spoof_flags,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModelScore {
    pub model_id: String,
    pub model_version: String,
    pub cosine: f32,
    pub snorm: f32,
    pub fmr: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpoofCheck {
    pub model_id: String,
    pub model_version: String,
    /// AASIST bona fide score (logit difference); lower is more spoof-like.
    pub score: f32,
    pub threshold: f32,
    pub flagged: bool,
}

/// Voice evidence for a session: what the decision engine consumes and records.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VoiceEvidence {
    pub condition: Condition,
    pub net_speech_ms: u32,
    /// Fused S-norm score (CAM++ + GE2E, dev-fitted weights).
    pub score: f32,
    /// Calibrated false-match rate of `score` on the development corpus.
    pub fmr: f64,
    #[schema(value_type = String)]
    pub fmr_source: FmrSource,
    pub models: Vec<ModelScore>,
    pub spoof: Option<SpoofCheck>,
    #[schema(value_type = Object)]
    pub replay: ReplayMatch,
}

/// The customer's voiceprint, opened, with the data key it is sealed under (None: not
/// enrolled, or erased).
pub async fn open_voiceprint(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Option<(VoiceTemplate, crate::crypto::envelope::DataKey)>, VoiceError> {
    let Some(stored) =
        store::templates::template(&state.db, tenant, customer, super::MODALITY).await?
    else {
        return Ok(None);
    };
    let Some(key) = customer_key::existing(&state.db, &state.master_key, tenant, customer).await?
    else {
        return Ok(None);
    };
    let tpl =
        template::open_template(&key, tenant.as_str(), customer.as_str(), &stored.ciphertext)?;
    Ok(Some((tpl, key)))
}

/// Replay fingerprints of audio already seen for the customer (enrolment and verifications).
pub async fn seen_audio(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    key: &crate::crypto::envelope::DataKey,
) -> Result<SeenAudio, VoiceError> {
    match store::templates::template(&state.db, tenant, customer, super::FINGERPRINT_MODALITY)
        .await?
    {
        Some(s) => template::open_seen(key, tenant.as_str(), customer.as_str(), &s.ciphertext),
        None => Ok(SeenAudio::default()),
    }
}

/// Remember this audio's fingerprint (the newest `replay::KEEP` are kept) and mark the
/// voiceprint used now: retention counts from its last use (BIPA §15(a)).
pub async fn remember_audio(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    key: &crate::crypto::envelope::DataKey,
    mut seen: SeenAudio,
    fingerprint: super::replay::Fingerprint,
) -> Result<(), VoiceError> {
    seen.push(fingerprint);
    let sealed_seen = template::seal_seen(key, tenant.as_str(), customer.as_str(), &seen)?;
    store::templates::upsert_template(
        &state.db,
        tenant,
        customer,
        super::scorer::SEEN_AUDIO.modality,
        super::scorer::SEEN_AUDIO.model_id,
        super::scorer::SEEN_AUDIO.model_version,
        &sealed_seen,
    )
    .await?;
    store::templates::touch_template(&state.db, tenant, customer, super::MODALITY).await?;
    Ok(())
}

/// Score one utterance against the customer's voiceprint.
pub async fn verify(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    bytes: Vec<u8>,
    encoding: AudioEncoding,
) -> Result<VoiceEvidence, VoiceError> {
    let (tpl, key) = open_voiceprint(state, tenant, customer)
        .await?
        .ok_or(VoiceError::NotEnrolled)?;
    let engine = VoiceEngine::shared(&state.models)?;
    let a = analyse_bytes(state.models.clone(), engine.clone(), bytes, encoding).await?;
    let evidence = evidence(&state.models, &engine, &tpl, &a, None);

    // Replay check against audio already seen for this customer, then remember this one.
    let seen = seen_audio(state, tenant, customer, &key).await?;
    let replay = a.fingerprint.matches(&seen.fingerprints);
    remember_audio(state, tenant, customer, &key, seen, a.fingerprint.clone()).await?;
    Ok(VoiceEvidence { replay, ..evidence })
}

/// Pure: the evidence for an analysed utterance against a template.
pub fn evidence(
    models: &ModelRegistry,
    engine: &VoiceEngine,
    tpl: &VoiceTemplate,
    a: &UtteranceAnalysis,
    replay: Option<ReplayMatch>,
) -> VoiceEvidence {
    // Either side narrow-band: score in the telephone condition.
    let condition = if a.telephone || tpl.telephone {
        Condition::Telephone
    } else {
        Condition::Wideband
    };
    let scorer = engine.scorer(condition);
    let s = scorer.score(&tpl.campplus, &tpl.ge2e, &a.campplus, &a.ge2e);
    let version = |id: &str| {
        models
            .get(id)
            .map(|m| m.entry.version.clone())
            .unwrap_or_default()
    };
    let spoof = match (engine.spoof, a.spoof_score) {
        (Some(t), Some(score)) => Some(SpoofCheck {
            model_id: super::AASIST.into(),
            model_version: version(super::AASIST),
            score,
            threshold: if a.telephone { t.telephone } else { t.wideband },
            flagged: t.flagged(score, a.telephone),
        }),
        _ => None,
    };
    VoiceEvidence {
        condition,
        net_speech_ms: a.net_speech_ms,
        score: s.fused,
        fmr: s.fmr,
        fmr_source: s.fmr_source,
        models: vec![
            ModelScore {
                model_id: CAMPPLUS.into(),
                model_version: version(CAMPPLUS),
                cosine: s.campplus_cosine,
                snorm: s.campplus_snorm,
                fmr: scorer.campplus_fmr(s.campplus_snorm),
            },
            ModelScore {
                model_id: GE2E.into(),
                model_version: version(GE2E),
                cosine: s.ge2e_cosine,
                snorm: s.ge2e_snorm,
                fmr: scorer.ge2e_fmr(s.ge2e_snorm),
            },
        ],
        spoof,
        replay: replay.unwrap_or(ReplayMatch::None),
    }
}

/// Delete the voiceprint and its replay fingerprints (the platform's DELETE), each logged.
pub async fn delete(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<bool, VoiceError> {
    let why = templates::Destruction {
        by: "platform",
        reason: "platform_request",
    };
    let had = templates::destroy(state, tenant, customer, super::MODALITY, why).await?;
    templates::destroy(state, tenant, customer, super::FINGERPRINT_MODALITY, why).await?;
    Ok(had)
}
