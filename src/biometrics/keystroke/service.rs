//! The I/O around keystroke verification: the consent gate, templates sealed under the
//! customer's data key, ONNX inference off the async runtime. Handlers and (later) the session
//! engine call these functions; the decision logic stays in the pure modules beside this one.

use std::sync::{Arc, OnceLock};

use serde::Serialize;

use super::{
    KeyEvent, KeystrokeError, KeystrokeScore, KeystrokeSegment,
    calibration::FmrTable,
    fixed::{self, FixedTextTemplate},
    free::{self, FreeTextTemplate, FreeTextWindows},
};
use crate::{
    AppState,
    biometrics::{
        models::{LoadedModel, ModelRegistry, ModelTask},
        scorer::{BiometricScorer, Sample, ScoreError, ScorerRegistry},
    },
    consent::{self, ConsentError, Purpose},
    crypto::{
        customer_key::{self, CustomerKeyError},
        envelope::{self, EnvelopeError},
    },
    policy::Modality,
    sessions::engine::BiometricScore,
    store::{self, StoreError},
    tenants::{CustomerRef, TenantId},
};

pub const MODALITY_FIXED: &str = "keystroke_fixed";
pub const MODALITY_FREE: &str = "keystroke_free";
const FIXED_CALIBRATION: &str = "keystroke-fixed-calibration";
const FREE_CALIBRATION: &str = "keystroke-free-calibration";

#[derive(Debug, thiserror::Error)]
pub enum KeystrokeServiceError {
    #[error(transparent)]
    Input(#[from] KeystrokeError),
    #[error(transparent)]
    Consent(#[from] ConsentError),
    #[error("customer is not registered")]
    UnknownCustomer,
    #[error("the customer did not choose typing as a recognition method")]
    MethodNotChosen,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("template envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("no {0} model is loaded")]
    NoModel(&'static str),
    #[error("inference worker failed: {0}")]
    Worker(String),
}

impl From<CustomerKeyError> for KeystrokeServiceError {
    fn from(e: CustomerKeyError) -> Self {
        match e {
            CustomerKeyError::Store(e) => KeystrokeServiceError::Store(e),
            CustomerKeyError::Envelope(e) => KeystrokeServiceError::Envelope(e),
        }
    }
}

/// Keystroke evidence of one attempt, parsed at the edge (`biometrics::scorer`).
#[derive(Debug, Clone)]
pub enum KeystrokeEvidence {
    /// One repetition of the enrolled phrase.
    Fixed(KeystrokeSegment),
    /// Free-text windows (from chat messages, at least 50 keystrokes in all).
    Free(FreeTextWindows),
}

/// A scored attempt, with what produced the score (for the decision record).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeystrokeVerdict {
    pub modality: &'static str,
    pub model_id: String,
    pub model_version: String,
    #[serde(flatten)]
    pub score: KeystrokeScore,
}

#[derive(Debug, Clone)]
pub enum VerifyOutcome {
    Scored(KeystrokeVerdict),
    NotEnrolled,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EnrolmentReceipt {
    pub modality: &'static str,
    pub model_id: String,
    pub model_version: String,
    /// Repetitions (fixed text) or 50-keystroke windows (free text) in the template.
    pub samples: usize,
}

/// Score -> FMR tables, parsed once per process (the models are fixed for its lifetime).
struct Tables {
    fixed_few: FmrTable,
    fixed_many: FmrTable,
    free: FmrTable,
}

fn tables(models: &ModelRegistry) -> Result<&'static Tables, KeystrokeError> {
    static TABLES: OnceLock<Result<Tables, KeystrokeError>> = OnceLock::new();
    TABLES
        .get_or_init(|| {
            let fixed = models
                .artifact(FIXED_CALIBRATION)
                .map_err(|e| KeystrokeError::Model(e.to_string()))?;
            let free = models
                .artifact(FREE_CALIBRATION)
                .map_err(|e| KeystrokeError::Model(e.to_string()))?;
            Ok(Tables {
                fixed_few: FmrTable::parse_named(fixed, "enrol_10")?,
                fixed_many: FmrTable::parse_named(fixed, "enrol_200")?,
                free: FmrTable::parse_single(free)?,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn model(models: &ModelRegistry, task: ModelTask) -> Result<&LoadedModel, KeystrokeServiceError> {
    models
        .for_task(task)
        .ok_or(KeystrokeServiceError::NoModel(match task {
            ModelTask::KeystrokeFixed => "keystroke_fixed",
            _ => "keystroke_free",
        }))
}

/// Pure scoring of one parsed fixed-text attempt (phrase check, features, ONNX, calibration):
/// what the benchmark measures end to end. Call from blocking context.
pub fn score_fixed(
    models: &ModelRegistry,
    template: &FixedTextTemplate,
    segment: &KeystrokeSegment,
) -> Result<KeystrokeScore, KeystrokeServiceError> {
    let sample = fixed::sample_for(segment, template)?;
    let m = model(models, ModelTask::KeystrokeFixed)?;
    let scores = m.run(|s| fixed::score_batch(s, &sample.vector, template))?;
    let score = scores.first().copied().unwrap_or(f32::NEG_INFINITY);
    let t = tables(models)?;
    let table = if template.repetitions.len() < 50 {
        &t.fixed_few
    } else {
        &t.fixed_many
    };
    Ok(KeystrokeScore {
        score,
        fmr: table.fmr(f64::from(score)),
    })
}

/// Pure scoring of parsed free-text evidence. Call from blocking context.
pub fn score_free(
    models: &ModelRegistry,
    template: &FreeTextTemplate,
    windows: &FreeTextWindows,
) -> Result<KeystrokeScore, KeystrokeServiceError> {
    let m = model(models, ModelTask::KeystrokeFree)?;
    let score = m.run(|s| free::verify(s, windows, template))?;
    Ok(KeystrokeScore {
        score,
        fmr: tables(models)?.free.fmr(f64::from(score)),
    })
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, KeystrokeServiceError> + Send + 'static,
) -> Result<R, KeystrokeServiceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| KeystrokeServiceError::Worker(e.to_string()))?
}

async fn require_typing(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<(), KeystrokeServiceError> {
    let stored = store::customers::get(&state.db, tenant, customer)
        .await?
        .ok_or(KeystrokeServiceError::UnknownCustomer)?;
    if !stored.methods.iter().any(|m| m == "typing") {
        return Err(KeystrokeServiceError::MethodNotChosen);
    }
    Ok(())
}

/// Seal and store a template (no consent check: callers gate it).
pub async fn store_template(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    modality: &'static str,
    model: (&str, &str),
    plaintext: &[u8],
) -> Result<(), KeystrokeServiceError> {
    let key = customer_key::get_or_create(&state.db, &state.master_key, tenant, customer).await?;
    let sealed = key.seal(
        &envelope::context(tenant.as_str(), customer.as_str(), modality),
        plaintext,
    )?;
    store::templates::upsert_template(
        &state.db, tenant, customer, modality, model.0, model.1, &sealed,
    )
    .await?;
    Ok(())
}

async fn load_template(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    modality: &'static str,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, KeystrokeServiceError> {
    let Some(stored) = store::templates::template(&state.db, tenant, customer, modality).await?
    else {
        return Ok(None);
    };
    let Some(key) = customer_key::existing(&state.db, &state.master_key, tenant, customer).await?
    else {
        return Ok(None);
    };
    let plain = key.open(
        &envelope::context(tenant.as_str(), customer.as_str(), modality),
        &stored.ciphertext,
    )?;
    Ok(Some(plain))
}

/// Enrol free text (at least 250 keystrokes): consent first, then parse, model, seal, store.
pub async fn enrol_free(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    segments: Vec<Vec<KeyEvent>>,
) -> Result<EnrolmentReceipt, KeystrokeServiceError> {
    require_typing(state, tenant, customer).await?;
    consent::require(state, tenant, customer, Purpose::KeystrokeEnrolment).await?;
    let models = state.models.clone();
    let template = blocking(move || {
        let windows = free::parse_enrolment(&segments)?;
        let m = model(&models, ModelTask::KeystrokeFree)?;
        Ok(m.run(|s| free::enrol(s, &windows))?)
    })
    .await?;
    finish_enrolment(
        state,
        tenant,
        customer,
        MODALITY_FREE,
        ModelTask::KeystrokeFree,
        &template.to_bytes(),
        template.windows,
    )
    .await
}

/// Enrol a fixed text from its repetitions.
pub async fn enrol_fixed(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    repetitions: Vec<Vec<KeyEvent>>,
) -> Result<EnrolmentReceipt, KeystrokeServiceError> {
    require_typing(state, tenant, customer).await?;
    consent::require(state, tenant, customer, Purpose::KeystrokeEnrolment).await?;
    let template = fixed::enrol(&repetitions)?;
    let samples = template.repetitions.len();
    finish_enrolment(
        state,
        tenant,
        customer,
        MODALITY_FIXED,
        ModelTask::KeystrokeFixed,
        &template.to_bytes(),
        samples,
    )
    .await
}

async fn finish_enrolment(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    modality: &'static str,
    task: ModelTask,
    bytes: &[u8],
    samples: usize,
) -> Result<EnrolmentReceipt, KeystrokeServiceError> {
    let m = model(&state.models, task)?;
    let (id, version) = (m.entry.id.clone(), m.entry.version.clone());
    store_template(state, tenant, customer, modality, (&id, &version), bytes).await?;
    Ok(EnrolmentReceipt {
        modality,
        model_id: id,
        model_version: version,
        samples,
    })
}

/// Score parsed keystroke evidence against the customer's template.
pub async fn verify(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    evidence: KeystrokeEvidence,
) -> Result<VerifyOutcome, KeystrokeServiceError> {
    let (modality, task) = match &evidence {
        KeystrokeEvidence::Fixed(_) => (MODALITY_FIXED, ModelTask::KeystrokeFixed),
        KeystrokeEvidence::Free(_) => (MODALITY_FREE, ModelTask::KeystrokeFree),
    };
    let Some(plain) = load_template(state, tenant, customer, modality).await? else {
        return Ok(VerifyOutcome::NotEnrolled);
    };
    let m = model(&state.models, task)?;
    let (model_id, model_version) = (m.entry.id.clone(), m.entry.version.clone());
    let models = state.models.clone();
    let score = blocking(move || match evidence {
        KeystrokeEvidence::Fixed(segment) => {
            let t = FixedTextTemplate::from_bytes(&plain)?;
            score_fixed(&models, &t, &segment)
        }
        KeystrokeEvidence::Free(windows) => {
            let t = FreeTextTemplate::from_bytes(&plain)?;
            score_free(&models, &t, &windows)
        }
    })
    .await?;
    store::templates::touch_template(&state.db, tenant, customer, modality).await?;
    Ok(VerifyOutcome::Scored(KeystrokeVerdict {
        modality,
        model_id,
        model_version,
        score,
    }))
}

/// The sessions engine's view of the keystroke models: one scorer per modality, registered at
/// start-up. Samples arrive parsed (`biometrics::scorer::KeystrokeFixedSample` and
/// `KeystrokeFreeSample`); a sample that does not fit the template is unusable.
pub struct KeystrokeScorer {
    models: Arc<ModelRegistry>,
    modality: Modality,
}

impl BiometricScorer for KeystrokeScorer {
    fn modality(&self) -> Modality {
        self.modality
    }

    fn score(&self, template: &[u8], sample: &Sample) -> Result<BiometricScore, ScoreError> {
        let unusable = |e: KeystrokeServiceError| ScoreError::Unusable(e.to_string());
        let (task, score) = match sample {
            Sample::KeystrokeFixed(segment) => {
                let t = FixedTextTemplate::from_bytes(template).map_err(|e| unusable(e.into()))?;
                let s = score_fixed(&self.models, &t, segment).map_err(unusable)?;
                (ModelTask::KeystrokeFixed, s)
            }
            Sample::KeystrokeFree(windows) => {
                let t = FreeTextTemplate::from_bytes(template).map_err(|e| unusable(e.into()))?;
                let s = score_free(&self.models, &t, windows).map_err(unusable)?;
                (ModelTask::KeystrokeFree, s)
            }
            Sample::Voice(_) => {
                return Err(ScoreError::Unusable("not a keystroke sample".into()));
            }
        };
        let m = model(&self.models, task).map_err(unusable)?;
        Ok(BiometricScore {
            modality: self.modality,
            model_id: m.entry.id.clone(),
            model_version: m.entry.version.clone(),
            score: f64::from(score.score),
            fmr: score.fmr,
            alerts: Vec::new(),
        })
    }
}

/// Register the fixed- and free-text scorers with the sessions engine (when their models are
/// in the manifest).
pub fn register_scorers(scorers: &ScorerRegistry, models: &Arc<ModelRegistry>) {
    for (modality, task) in [
        (Modality::KeystrokeFixed, ModelTask::KeystrokeFixed),
        (Modality::KeystrokeFree, ModelTask::KeystrokeFree),
    ] {
        if models.for_task(task).is_some() {
            scorers.register(Arc::new(KeystrokeScorer {
                models: models.clone(),
                modality,
            }));
        }
    }
}
