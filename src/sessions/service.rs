//! The imperative shell around the decision engine: load, score, decide, store, audit, sign.

use std::{str::FromStr, sync::Arc};

use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::{
    audit,
    engine::{
        self, BiometricScore, CustomerState, Decision, DecisionInput, Evidence, FactorAttempt,
        LockoutState, Outcome,
    },
};
use crate::{
    AppState,
    biometrics::scorer::{
        KeystrokeFixedSample, KeystrokeFreeSample, Sample, SampleError, ScoreError, VoiceSample,
    },
    crypto::{
        customer_key,
        envelope::{EnvelopeError, context},
        signing::SigningError,
    },
    factors::{
        codes::CodeError,
        service::{self as factors, FactorError},
    },
    ledger::LedgerError,
    policy::{Channel, FactorKind, Modality, Policy, PolicyError},
    store::{self, StoreError, now_ms},
    tenants::{CustomerRef, Sector, TenantError, TenantId},
};

/// Session bodies that may carry evidence are accepted up to one voice sample (base64 of
/// `audio::MAX_BYTES` plus the JSON around it) and two keystroke samples of this size; each
/// sample is then bounded by its own parser (`biometrics::scorer`).
pub const MAX_SAMPLE_BYTES: usize = 256 * 1024;
pub const MAX_VOICE_SAMPLE_BYTES: usize = (crate::biometrics::audio::MAX_BYTES / 3 + 1) * 4 + 1024;
pub const MAX_EVIDENCE_ITEMS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("unknown channel `{0}` (expected voice, chat, web or video)")]
    UnknownChannel(String),
    #[error("unknown factor `{0}` (expected totp, one_time_code, pin, recovery_code or passkey)")]
    UnknownFactor(String),
    #[error("no such session")]
    NotFound,
    #[error("the session has expired")]
    Expired,
    #[error("the session was denied; start a new one")]
    Closed,
    #[error("a session holds at most {max_items} pieces of evidence")]
    EvidenceTooLarge { max_items: usize },
    #[error(transparent)]
    InvalidSample(#[from] SampleError),
    #[error(transparent)]
    InvalidAudio(#[from] crate::biometrics::audio::AudioError),
    #[error("factor `{0}` is in its back-off delay")]
    Delayed(FactorKind, i64),
    #[error("factor `{0}` is locked after too many failures")]
    FactorLocked(FactorKind),
    #[error("the session changed concurrently; retry")]
    Conflict,
    #[error("the calling tenant has no row")]
    TenantMissing,
    #[error("the stored tenant or customer is not valid: {0}")]
    Stored(#[from] TenantError),
    #[error("the tenant's policy cannot be resolved: {0}")]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Factor(#[from] FactorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit append failed: {0}")]
    Ledger(#[from] LedgerError),
    #[error("template could not be opened: {0}")]
    Template(#[from] EnvelopeError),
    #[error("the scorer task failed: {0}")]
    Scorer(#[from] tokio::task::JoinError),
    #[error("stored session JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("assertion signing failed: {0}")]
    Signing(#[from] SigningError),
    #[error("no randomness for a session id: {0}")]
    Random(#[from] CodeError),
}

/// Passive evidence as the platform sends it, one typed sample per modality.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceInput {
    /// One utterance, as `POST /v1/customers/{ref}/voiceprint/verify` takes it: base64 audio
    /// and its encoding (same formats and limits). Scored by the voiceprint scorer; bad audio
    /// is refused with `422 invalid_audio` (or `413 payload_too_large`) and nothing is stored.
    #[serde(default)]
    pub voice: Option<VoiceSample>,
    /// One repetition of the enrolled phrase; refused as `POST …/keystroke/evidence` refuses it.
    #[serde(default)]
    pub keystroke_fixed: Option<KeystrokeFixedSample>,
    /// Free text of the session; refused as `POST …/keystroke/evidence` refuses it.
    #[serde(default)]
    pub keystroke_free: Option<KeystrokeFreeSample>,
}

impl EvidenceInput {
    /// Parse every sample (the edge's one check of the caller's input, before any I/O).
    pub fn parse(&self) -> Result<Vec<Sample>, SampleError> {
        let mut samples = Vec::new();
        if let Some(v) = &self.voice {
            samples.push(Sample::Voice(v.parse()?));
        }
        if let Some(k) = &self.keystroke_fixed {
            samples.push(Sample::KeystrokeFixed(k.parse()?));
        }
        if let Some(k) = &self.keystroke_free {
            samples.push(Sample::KeystrokeFree(k.parse()?));
        }
        Ok(samples)
    }
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub session_id: String,
    pub customer_ref: String,
    pub channel: Channel,
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff_from: Option<String>,
    pub decision: Decision,
    /// Signed JWT (EdDSA) when the decision is `verified`; verify with /.well-known/jwks.json.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assertion: Option<String>,
}

pub fn parse_channel(raw: &str) -> Result<Channel, SessionError> {
    Channel::from_str(raw).map_err(|_| SessionError::UnknownChannel(raw.to_string()))
}

pub fn parse_factor(raw: &str) -> Result<FactorKind, SessionError> {
    FactorKind::from_str(raw).map_err(|_| SessionError::UnknownFactor(raw.to_string()))
}

fn new_session_id() -> Result<String, SessionError> {
    let bytes = crate::factors::codes::random_bytes::<16>()?;
    Ok(format!("ses_{}", hex::encode(bytes)))
}

async fn policy_for(state: &AppState, tenant: &TenantId) -> Result<Arc<Policy>, SessionError> {
    let t = store::tenants::get(&state.db, tenant)
        .await?
        .ok_or(SessionError::TenantMissing)?;
    Ok(state.policies.for_tenant(tenant, t.sector)?)
}

/// The tenant's policy and the customer as the engine sees them (registration, templates,
/// factors, lockout counters), from one read: this runs on every decision.
async fn decision_context(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<(Arc<Policy>, CustomerState), SessionError> {
    let modalities = Modality::ALL.map(|m| m.as_str());
    let ctx = store::sessions::decision_context(&state.db, tenant, customer, &modalities)
        .await?
        .ok_or(SessionError::TenantMissing)?;
    let sector = Sector::from_str(&ctx.sector)?;
    let policy = state.policies.for_tenant(tenant, sector)?;
    Ok((policy, customer_state(ctx)))
}

/// Map the stored context to the engine's input (pure).
fn customer_state(ctx: store::sessions::DecisionContext) -> CustomerState {
    let Some(methods) = ctx.methods else {
        return CustomerState::default();
    };
    let templates = Modality::ALL
        .into_iter()
        .filter(|m| ctx.templates.iter().any(|t| t == m.as_str()))
        .collect();
    // One-time codes count only when the tenant's webhook can deliver them; so does a passkey
    // (its step-up link reaches the customer's phone through the webhook).
    let factors = [
        (FactorKind::Totp, ctx.totp),
        (FactorKind::OneTimeCode, ctx.webhook),
        (FactorKind::Pin, ctx.pin),
        (FactorKind::RecoveryCode, ctx.recovery_codes),
        (FactorKind::Passkey, ctx.passkey && ctx.webhook),
    ]
    .into_iter()
    .filter_map(|(kind, present)| present.then_some(kind))
    .collect();
    let mut lockout = LockoutState {
        biometric_failures: u32::try_from(ctx.biometric_failures).unwrap_or(u32::MAX),
        ..LockoutState::default()
    };
    for (factor, failures, last) in ctx.factor_failures {
        if let Ok(kind) = FactorKind::from_str(&factor) {
            lockout
                .code_failures
                .insert(kind, (u32::try_from(failures).unwrap_or(u32::MAX), last));
        }
    }
    CustomerState {
        registered: true,
        methods,
        templates,
        factors,
        lockout,
    }
}

/// Score the parsed samples the engine says can count ([`engine::eligible_modalities`]),
/// against the customer's templates (and what their scorers remember: a replayed voice sample
/// raises `replay_suspected`). Returns the scores and the reasons for samples not used.
///
/// Each sample claims one step of the customer's consecutive biometric failures before it is
/// scored (`attempts::reserve_biometric`), so concurrent attempts on parallel sessions and
/// instances cannot all be scored on one counter value: a miss stays counted, a match resets
/// the counter, a sample not scored gives its step back. `customer_state`'s counter is set to
/// what the first claim saw, the value this request's decision stands on.
async fn score_samples(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    (policy, channel): (&Policy, Channel),
    customer_state: &mut CustomerState,
    samples: Vec<Sample>,
) -> Result<(Vec<BiometricScore>, Vec<String>), SessionError> {
    let mut scores = Vec::new();
    let (mut used, mut memories) = (Vec::new(), Vec::new());
    let requested: Vec<Modality> = samples.iter().map(Sample::modality).collect();
    let (eligible, mut reasons) = engine::eligible_modalities(policy, customer_state, &requested);
    let mut first_claim = true;
    for sample in samples {
        let modality = sample.modality();
        if !eligible.contains(&modality) {
            continue;
        }
        let Some(scorer) = state.scorers.get(modality) else {
            reasons.push(format!("{}_scorer_unavailable", modality.as_str()));
            continue;
        };
        let Some((ciphertext, wrapped)) =
            store::templates::sealed_template(&state.db, tenant, customer, modality.as_str())
                .await?
        else {
            reasons.push(format!("{}_not_enrolled", modality.as_str()));
            continue;
        };
        let key = customer_key::unwrap(&state.master_key, tenant, customer, &wrapped)?;
        let opened = key.open(
            &context(tenant.as_str(), customer.as_str(), modality.as_str()),
            &ciphertext,
        )?;
        // What the scorer remembers of the customer's past samples (the voiceprint's replay
        // fingerprints), sealed like the template.
        let slot = scorer.memory();
        let memory = match slot {
            Some(slot) => {
                match store::templates::template(&state.db, tenant, customer, slot.modality).await?
                {
                    Some(row) => Some(key.open(
                        &context(tenant.as_str(), customer.as_str(), slot.modality),
                        &row.ciphertext,
                    )?),
                    None => None,
                }
            }
            None => None,
        };
        let claim =
            super::attempts::reserve_biometric(state, tenant, customer, &policy.lockout).await?;
        let counted = match &claim {
            Ok(c) => c.failures_before,
            Err(n) => *n,
        };
        if std::mem::take(&mut first_claim) {
            customer_state.lockout.biometric_failures = counted;
        }
        let Ok(claim) = claim else {
            // Other attempts reached the maximum since the context was read.
            reasons.push("biometrics_disabled_after_failures".into());
            break;
        };
        let result = tokio::task::spawn_blocking(move || {
            scorer.score_remembering(&opened, memory.as_deref().map(Vec::as_slice), &sample)
        })
        .await;
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                claim.reservation.release(state, tenant, customer).await?;
                return Err(e.into());
            }
        };
        match result {
            Ok((score, remembered)) => {
                if engine::sample_matches(policy, channel, &score) {
                    claim.reservation.succeeded(state, tenant, customer).await?;
                } else {
                    claim.reservation.failed();
                }
                scores.push(score);
                used.push(modality);
                if let (Some(slot), Some(plain)) = (slot, remembered) {
                    let plain = Zeroizing::new(plain);
                    let sealed = key.seal(
                        &context(tenant.as_str(), customer.as_str(), slot.modality),
                        &plain,
                    )?;
                    memories.push((slot, sealed));
                }
            }
            // The caller's audio is at fault: refuse the request before anything is stored.
            Err(ScoreError::InvalidAudio(e)) => {
                claim.reservation.release(state, tenant, customer).await?;
                return Err(SessionError::InvalidAudio(e));
            }
            Err(ScoreError::Unusable(e)) => {
                claim.reservation.release(state, tenant, customer).await?;
                tracing::warn!(modality = modality.as_str(), error = %e, "sample not scored");
                reasons.push(format!("{}_sample_unusable", modality.as_str()));
            }
        }
    }
    // Every sample is scored (none was refused): remember them (a later replay of one is
    // caught) and record each template's use, since retention counts from the last use.
    for (slot, sealed) in memories {
        store::templates::upsert_template(
            &state.db,
            tenant,
            customer,
            slot.modality,
            slot.model_id,
            slot.model_version,
            &sealed,
        )
        .await?;
    }
    for modality in used {
        store::templates::touch_template(&state.db, tenant, customer, modality.as_str()).await?;
    }
    Ok((scores, reasons))
}

fn decide(
    policy: &Policy,
    channel: Channel,
    customer: &CustomerState,
    evidence: &Evidence,
    expires_at: i64,
    extra_reasons: Vec<String>,
    now: i64,
) -> Decision {
    let mut decision = engine::decide(&DecisionInput {
        policy,
        channel,
        customer,
        evidence,
        now_ms: now,
        expires_ms: expires_at,
    });
    for r in extra_reasons {
        if !decision.reasons.contains(&r) {
            decision.reasons.push(r);
        }
    }
    decision.reasons.sort();
    decision
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, SessionError> {
    Ok(serde_json::to_string(v)?)
}

/// The signed assertion of a verified decision still in its session's lifetime.
fn assertion(
    state: &AppState,
    tenant: &TenantId,
    policy: &Policy,
    view: &SessionView,
    verified_at: Option<i64>,
    now: i64,
) -> Result<Option<String>, SessionError> {
    let decision = &view.decision;
    if decision.outcome != Outcome::Verified || now >= view.expires_at {
        return Ok(None);
    }
    let lifetime = policy.channel(decision.channel).assertion_lifetime_secs as i64;
    let claims = json!({
        "iss": state.settings.public_url,
        "sub": view.customer_ref,
        "aud": tenant.as_str(),
        "tenant": tenant.as_str(),
        "acr": decision.acr,
        "amr": decision.amr,
        "auth_time": verified_at.unwrap_or(now) / 1000,
        "iat": now / 1000,
        "exp": now / 1000 + lifetime,
        "sid": view.session_id,
        "channel": decision.channel,
        "policy": decision.policy,
    });
    Ok(Some(state.signer.sign_jws(&claims, "JWT")?))
}

/// The answer for a session: its decision as decided (never re-read from its JSON), and the
/// assertion when verified.
fn view(
    state: &AppState,
    tenant: &TenantId,
    policy: &Policy,
    mut view: SessionView,
    verified_at: Option<i64>,
    now: i64,
) -> Result<SessionView, SessionError> {
    view.assertion = assertion(state, tenant, policy, &view, verified_at, now)?;
    Ok(view)
}

/// A stored session as `GET` shows it (the one path that parses a stored decision).
fn stored_view(
    state: &AppState,
    tenant: &TenantId,
    policy: &Policy,
    s: store::sessions::StoredSession,
) -> Result<SessionView, SessionError> {
    let decision: Decision = serde_json::from_str(&s.decision)?;
    let channel = parse_channel(&s.channel)?;
    let v = SessionView {
        session_id: s.session_id,
        customer_ref: s.customer_ref,
        channel,
        created_at: s.created_at,
        expires_at: s.expires_at,
        handoff_from: s.handoff_from,
        decision,
        assertion: None,
    };
    view(state, tenant, policy, v, s.verified_at, now_ms())
}

#[allow(clippy::too_many_arguments)] // one row's fields; a struct would only rename them
async fn insert_session(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    policy: &Policy,
    channel: Channel,
    evidence: &Evidence,
    decision: Decision,
    expires_at: i64,
    handoff_from: Option<&str>,
    now: i64,
) -> Result<SessionView, SessionError> {
    let session_id = new_session_id()?;
    let evidence_json = to_json(evidence)?;
    let decision_json = to_json(&decision)?;
    let verified_at = (decision.outcome == Outcome::Verified).then_some(now);
    let writes = vec![store::sessions::SessionWrite::Insert(Box::new(
        store::sessions::OwnedSession {
            session_id: session_id.clone(),
            tenant: tenant.clone(),
            customer: customer.clone(),
            channel: channel.as_str().into(),
            outcome: decision.outcome.as_str().into(),
            assurance: decision.assurance.as_str().into(),
            policy_id: policy.id.clone(),
            policy_version: policy.version.clone(),
            policy_hash: policy.hash.clone(),
            evidence: evidence_json,
            decision: decision_json,
            handoff_from: handoff_from.map(str::to_string),
            now,
            expires_at,
            verified_at,
        },
    ))];
    // One durable commit for the row and its audit event: they ride in the
    // ledger's group-commit batch (DESIGN: "write the outcome and its audit event in one
    // transaction"), and the answer waits for that commit.
    audit::decision(state, tenant, customer, &session_id, &decision, writes).await?;
    let v = SessionView {
        session_id,
        customer_ref: customer.to_string(),
        channel,
        created_at: now,
        expires_at,
        handoff_from: handoff_from.map(str::to_string),
        decision,
        assertion: None,
    };
    view(state, tenant, policy, v, verified_at, now)
}

/// `POST /v1/sessions`.
pub async fn start(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    channel: Channel,
    samples: Vec<Sample>,
) -> Result<SessionView, SessionError> {
    let (policy, mut customer_state) = decision_context(state, tenant, customer).await?;
    let (scores, reasons) = score_samples(
        state,
        tenant,
        customer,
        (&policy, channel),
        &mut customer_state,
        samples,
    )
    .await?;
    // One reading of the clock for the decision and its row.
    let now = now_ms();
    let expires_at = now + policy.channel(channel).session_lifetime_secs as i64 * 1000;
    let evidence = Evidence {
        biometrics: scores,
        factors: Vec::new(),
    };
    let decision = decide(
        &policy,
        channel,
        &customer_state,
        &evidence,
        expires_at,
        reasons,
        now,
    );
    insert_session(
        state, tenant, customer, &policy, channel, &evidence, decision, expires_at, None, now,
    )
    .await
}

/// A live session of this tenant (another tenant's id is simply not found).
async fn live(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
) -> Result<(store::sessions::StoredSession, CustomerRef, Channel), SessionError> {
    if session_id.len() > 64 {
        return Err(SessionError::NotFound);
    }
    let s = store::sessions::get(&state.db, tenant, session_id)
        .await?
        .ok_or(SessionError::NotFound)?;
    if now_ms() >= s.expires_at {
        return Err(SessionError::Expired);
    }
    if s.outcome == Outcome::Denied.as_str() {
        return Err(SessionError::Closed);
    }
    let customer: CustomerRef = s.customer_ref.parse()?;
    let channel = parse_channel(&s.channel)?;
    Ok((s, customer, channel))
}

/// Re-decide with extra evidence and store it (optimistic concurrency on the session row).
async fn update_with(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
    add: impl Fn(&mut Evidence),
    reasons: Vec<String>,
) -> Result<SessionView, SessionError> {
    for _ in 0..5 {
        let (s, customer, channel) = live(state, tenant, session_id).await?;
        let mut evidence: Evidence = serde_json::from_str(&s.evidence)?;
        add(&mut evidence);
        if evidence.biometrics.len() + evidence.factors.len() > MAX_EVIDENCE_ITEMS {
            return Err(SessionError::EvidenceTooLarge {
                max_items: MAX_EVIDENCE_ITEMS,
            });
        }
        let (policy, customer_state) = decision_context(state, tenant, &customer).await?;
        let now = now_ms();
        let decision = decide(
            &policy,
            channel,
            &customer_state,
            &evidence,
            s.expires_at,
            reasons.clone(),
            now,
        );
        let verified_at = (decision.outcome == Outcome::Verified).then_some(now);
        let update =
            store::sessions::SessionWrite::Update(Box::new(store::sessions::SessionUpdate {
                tenant: tenant.clone(),
                session_id: session_id.to_string(),
                revision: s.revision,
                outcome: decision.outcome.as_str().into(),
                assurance: decision.assurance.as_str().into(),
                evidence: to_json(&evidence)?,
                decision: to_json(&decision)?,
                now,
                verified_at,
            }));
        // The update rides with its decision entry in one transaction (as a new session's row
        // does): both are durable or neither. A revision that moved refuses both; re-read.
        match audit::decision(
            state,
            tenant,
            &customer,
            session_id,
            &decision,
            vec![update],
        )
        .await
        {
            Err(SessionError::Ledger(LedgerError::Store(StoreError::Stale))) => continue,
            other => other?,
        }
        // The row as just written: the read one with the new decision (no second read).
        let v = SessionView {
            session_id: s.session_id,
            customer_ref: s.customer_ref,
            channel,
            created_at: s.created_at,
            expires_at: s.expires_at,
            handoff_from: s.handoff_from,
            decision,
            assertion: None,
        };
        return view(
            state,
            tenant,
            &policy,
            v,
            s.verified_at.or(verified_at),
            now,
        );
    }
    Err(SessionError::Conflict)
}

/// `POST /v1/sessions/{id}/evidence`.
pub async fn add_evidence(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
    samples: Vec<Sample>,
) -> Result<SessionView, SessionError> {
    let (s, customer, channel) = live(state, tenant, session_id).await?;
    let previous: Evidence = serde_json::from_str(&s.evidence)?;
    if previous.biometrics.len() + previous.factors.len() + samples.len() > MAX_EVIDENCE_ITEMS {
        return Err(SessionError::EvidenceTooLarge {
            max_items: MAX_EVIDENCE_ITEMS,
        });
    }
    let (policy, mut customer_state) = decision_context(state, tenant, &customer).await?;
    let (scores, reasons) = score_samples(
        state,
        tenant,
        &customer,
        (&policy, channel),
        &mut customer_state,
        samples,
    )
    .await?;
    update_with(
        state,
        tenant,
        session_id,
        |e| e.biometrics.extend(scores.iter().cloned()),
        reasons,
    )
    .await
}

/// What a live voice stream needs of its session (`biometrics::voice::live`).
pub struct StreamSession {
    pub customer: CustomerRef,
    pub channel: Channel,
    pub policy: Arc<Policy>,
    pub customer_state: CustomerState,
    pub expires_at: i64,
}

/// The live session a voice stream may feed (expired and denied sessions are refused).
pub async fn stream_session(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
) -> Result<StreamSession, SessionError> {
    let (s, customer, channel) = live(state, tenant, session_id).await?;
    let (policy, customer_state) = decision_context(state, tenant, &customer).await?;
    Ok(StreamSession {
        customer,
        channel,
        policy,
        customer_state,
        expires_at: s.expires_at,
    })
}

/// A live stream's accumulated voice score goes into the session's evidence in place of the
/// one the same stream put there before: one stream is one piece of evidence however often it
/// is re-scored (its pieces are not independent samples). Re-decides and stores.
pub async fn stream_evidence(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
    previous: Option<&BiometricScore>,
    score: &BiometricScore,
) -> Result<SessionView, SessionError> {
    update_with(
        state,
        tenant,
        session_id,
        |e| {
            if let Some(i) = previous.and_then(|p| e.biometrics.iter().position(|b| b == p)) {
                e.biometrics.remove(i);
            }
            e.biometrics.push(score.clone());
        },
        Vec::new(),
    )
    .await
}

/// Claim a voice stream's one attempt against the customer's consecutive-failure counter
/// before any of its audio is scored (as `score_samples` claims one per posted sample).
/// `None`: biometrics are disabled for the customer.
pub async fn stream_claim(
    state: &AppState,
    tenant: &TenantId,
    stream: &StreamSession,
) -> Result<Option<super::attempts::Reservation>, SessionError> {
    let claim =
        super::attempts::reserve_biometric(state, tenant, &stream.customer, &stream.policy.lockout)
            .await?;
    Ok(claim.ok().map(|c| c.reservation))
}

/// Settle a stream's claim with its score: a match resets the counter, a miss stays counted.
pub async fn stream_attempt(
    state: &AppState,
    tenant: &TenantId,
    stream: &StreamSession,
    claim: super::attempts::Reservation,
    score: &BiometricScore,
) -> Result<(), SessionError> {
    if engine::sample_matches(&stream.policy, stream.channel, score) {
        claim.succeeded(state, tenant, &stream.customer).await
    } else {
        claim.failed();
        Ok(())
    }
}

/// `POST /v1/sessions/{id}/factors/{kind}`: verify a code, count it, re-decide.
pub async fn submit_factor(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
    kind: FactorKind,
    code: Zeroizing<String>,
) -> Result<SessionView, SessionError> {
    if !kind.is_code() {
        return Err(SessionError::Factor(FactorError::Invalid(
            "a passkey is not typed in: ask for it with POST /v1/sessions/{id}/passkey-requests"
                .into(),
        )));
    }
    let (_, customer, _) = live(state, tenant, session_id).await?;
    let (policy, customer_state) = decision_context(state, tenant, &customer).await?;
    if !customer_state.registered {
        // The tenant knows it never registered this customer: nothing more is revealed.
        return Err(SessionError::Factor(FactorError::NotRegistered));
    }
    // Claim the attempt in the database before the code is compared: concurrent attempts (on
    // any instance) cannot all pass the gate on one counter value.
    let seen = customer_state.lockout.code_failures.get(&kind).copied();
    let reservation =
        super::attempts::reserve(state, tenant, &customer, &policy.lockout, kind, seen).await?;
    let result = factors::verify(state, tenant, &customer, session_id, kind, code).await;
    let success = match result {
        Ok(ok) => ok,
        Err(e @ (FactorError::Replayed | FactorError::OutsideWindow)) => {
            reservation.release(state, tenant, &customer).await?;
            audit::factor_attempt(state, tenant, &customer, session_id, kind, refused(&e)).await?;
            return Err(e.into());
        }
        Err(e) => {
            // Not compared (not enrolled, bad input, storage): nothing to count.
            if let Err(release) = reservation.release(state, tenant, &customer).await {
                tracing::warn!(error = %release, "lockout reservation not released");
            }
            return Err(e.into());
        }
    };
    let now = now_ms();
    if success {
        reservation.succeeded(state, tenant, &customer).await?;
    }
    // A failure is already counted: the reservation was the increment.
    audit::factor_attempt(
        state,
        tenant,
        &customer,
        session_id,
        kind,
        if success { "success" } else { "failure" },
    )
    .await?;
    let attempt = FactorAttempt {
        kind,
        success,
        at_ms: now,
    };
    let reasons = if success {
        Vec::new()
    } else {
        vec![format!("{}_failed", kind.as_str())]
    };
    update_with(
        state,
        tenant,
        session_id,
        |e| e.factors.push(attempt),
        reasons,
    )
    .await
}

/// A passkey step-up the customer approved on their device (`passkeys::stepup`, after
/// webauthn-rs verified the assertion against this session's request): counted as a successful
/// `passkey` factor, logged, re-decided.
pub async fn passkey_approved(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
) -> Result<SessionView, SessionError> {
    let (_, customer, _) = live(state, tenant, session_id).await?;
    audit::factor_attempt(
        state,
        tenant,
        &customer,
        session_id,
        FactorKind::Passkey,
        "success",
    )
    .await?;
    let attempt = FactorAttempt {
        kind: FactorKind::Passkey,
        success: true,
        at_ms: now_ms(),
    };
    update_with(
        state,
        tenant,
        session_id,
        |e| e.factors.push(attempt),
        Vec::new(),
    )
    .await
}

fn refused(e: &FactorError) -> &'static str {
    match e {
        FactorError::Replayed => "replayed",
        _ => "outside_window",
    }
}

/// `POST /v1/sessions/{id}/one_time_code`: send a code through the tenant's webhook.
pub async fn send_one_time_code(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
) -> Result<factors::OneTimeCodeSent, SessionError> {
    let (_, customer, channel) = live(state, tenant, session_id).await?;
    if store::customers::get(&state.db, tenant, &customer)
        .await?
        .is_none()
    {
        return Err(SessionError::Factor(FactorError::NotRegistered));
    }
    Ok(factors::send_one_time_code(state, tenant, &customer, session_id, channel.as_str()).await?)
}

/// `GET /v1/sessions/{id}`.
pub async fn get(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
) -> Result<SessionView, SessionError> {
    if session_id.len() > 64 {
        return Err(SessionError::NotFound);
    }
    let s = store::sessions::get(&state.db, tenant, session_id)
        .await?
        .ok_or(SessionError::NotFound)?;
    let policy = policy_for(state, tenant).await?;
    stored_view(state, tenant, &policy, s)
}

/// `POST /v1/sessions/{id}/handoff`: continue on another channel. The evidence travels; the
/// target channel's rules decide, so the assurance is kept when they are met and otherwise only
/// the missing factor is asked for.
pub async fn handoff(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
    target: Channel,
) -> Result<SessionView, SessionError> {
    let (s, customer, _) = live(state, tenant, session_id).await?;
    let (policy, customer_state) = decision_context(state, tenant, &customer).await?;
    let evidence: Evidence = serde_json::from_str(&s.evidence)?;
    // Failed attempts stay with the source session; successes and scores travel.
    let carried = Evidence {
        biometrics: evidence.biometrics,
        factors: evidence.factors.into_iter().filter(|f| f.success).collect(),
    };
    let now = now_ms();
    let expires_at = s
        .expires_at
        .min(now + policy.channel(target).session_lifetime_secs as i64 * 1000);
    let decision = decide(
        &policy,
        target,
        &customer_state,
        &carried,
        expires_at,
        vec!["handoff".into()],
        now,
    );
    insert_session(
        state,
        tenant,
        &customer,
        &policy,
        target,
        &carried,
        decision,
        expires_at,
        Some(session_id),
        now,
    )
    .await
}
