//! The I/O shell of a live voice stream (`GET /v1/sessions/{id}/voice/stream`): frames in
//! (`audio::framing`), speech accumulated and re-scored (`voice::stream`), the session's
//! evidence and decision updated (`sessions::service`), progress pushed to the session's
//! server-sent events. Audio is never stored: it lives in this stream's memory and is dropped
//! with it.
//!
//! One stream per session at a time (per instance: the registry below). The session's
//! evidence holds one accumulated voice score for the stream, replaced as speech accumulates;
//! it is committed when it first matches, when [`stream::NO_MATCH_AFTER_MS`] of net speech did
//! not match, and when the stream ends. The stream is one attempt against the customer's
//! consecutive-failure counter, claimed when it opens, before any audio is scored (so parallel
//! streams cannot all be scored on one counter value): a match resets the counter, a stream
//! that ends without one stays counted, one that ends before any score gives its step back.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use serde::Serialize;
use tokio::sync::broadcast;

use super::{
    VoiceError,
    replay::{Fingerprint, ReplayMatch},
    service::{VoiceEngine, model_versions, open_voiceprint, remember_audio, seen_audio},
    stream::{self, AccumulatedScore, SpeechAccumulator},
    template::{SeenAudio, VoiceTemplate},
};
use crate::{
    AppState,
    biometrics::audio::framing::{Frame, FrameError, Framer, StreamFormat},
    policy::{AlertAction, Modality},
    sessions::{
        BiometricScore, Outcome, SessionError,
        attempts::Reservation,
        engine::{self, REPLAY_SUSPECTED, SPOOF_SUSPECTED, sample_matches},
        service::{self as sessions, StreamSession},
    },
    store::now_ms,
    tenants::TenantId,
};

/// Why a stream is refused or ended. Each has a stable problem `code`.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Voice(#[from] VoiceError),
    #[error("a voice stream is already open for this session")]
    AlreadyStreaming,
    #[error("the customer has no voiceprint, or did not choose voice recognition")]
    NotEnrolled,
    #[error("biometrics are disabled for this customer after repeated failures")]
    BiometricsDisabled,
    #[error("the session ended while audio was still arriving")]
    SessionEnded,
    #[error("the stream carried no speech")]
    NoSpeech,
    #[error("no message for {0} s: the stream is closed")]
    Idle(u64),
    #[error("the stream failed: {0}")]
    Internal(String),
}

impl StreamError {
    pub fn code(&self) -> &'static str {
        match self {
            StreamError::Frame(e) => e.code(),
            StreamError::Session(SessionError::NotFound) => "session_not_found",
            StreamError::Session(SessionError::Expired | SessionError::Closed) => "session_ended",
            StreamError::Session(_) => "internal",
            StreamError::Voice(VoiceError::Audio(a)) => a.code(),
            StreamError::Voice(_) => "internal",
            StreamError::AlreadyStreaming => "stream_already_open",
            StreamError::NotEnrolled => "voice_not_enrolled",
            StreamError::BiometricsDisabled => "biometrics_disabled",
            StreamError::SessionEnded => "session_ended",
            StreamError::NoSpeech => "no_speech",
            StreamError::Idle(_) => "idle_timeout",
            StreamError::Internal(_) => "internal",
        }
    }
}

/// A voice update pushed to the session's event stream (`GET /v1/sessions/{id}/events`).
#[derive(Debug, Clone, Serialize)]
pub struct VoiceEvent {
    #[serde(skip)]
    pub tenant: String,
    #[serde(skip)]
    pub session_id: String,
    /// `voice_progress` | `verified` | `no_match` | `voice_stream_ended`
    pub event: &'static str,
    pub net_speech_ms: u32,
    pub audio_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fmr: Option<f64>,
    /// `replay_suspected` when the call replays audio already seen for the customer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<String>,
    /// The accumulated score is within the policy's limit for voice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<bool>,
    /// The session's decision after the update, when it was committed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// `voice_stream_ended`: `completed` or the problem code that ended it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: i64,
}

/// Open streams (one per session) and the voice events hub of this process.
#[derive(Debug)]
pub struct StreamRegistry {
    open: Mutex<HashSet<(String, String)>>,
    events: broadcast::Sender<VoiceEvent>,
}

impl Default for StreamRegistry {
    fn default() -> Self {
        Self {
            open: Mutex::new(HashSet::new()),
            events: broadcast::channel(1024).0,
        }
    }
}

impl StreamRegistry {
    pub fn subscribe(&self) -> broadcast::Receiver<VoiceEvent> {
        self.events.subscribe()
    }

    fn publish(&self, event: VoiceEvent) {
        // No listener is not an error.
        let _ = self.events.send(event);
    }

    fn claim(self: &Arc<Self>, tenant: &TenantId, session_id: &str) -> Option<StreamClaim> {
        let key = (tenant.to_string(), session_id.to_string());
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.insert(key.clone()).then(|| StreamClaim {
            registry: self.clone(),
            key,
        })
    }
}

/// Holds a session's stream slot; released when the stream is dropped.
struct StreamClaim {
    registry: Arc<StreamRegistry>,
    key: (String, String),
}

impl Drop for StreamClaim {
    fn drop(&mut self) {
        let mut open = self.registry.open.lock().unwrap_or_else(|p| p.into_inner());
        open.remove(&self.key);
    }
}

/// What one message asks of the socket.
#[derive(Debug, Default)]
pub struct Pushed {
    pub reply: Option<String>,
    pub end: bool,
}

/// The AASIST check of a stream. It runs beside the scoring, off the latency-critical path:
/// where the policy only flags, a match is reported without waiting for it (its alert joins
/// the evidence when it is done, at the latest when the stream ends); where the policy blocks,
/// a match waits for it.
enum SpoofCheck {
    NotStarted,
    Running(tokio::task::JoinHandle<Option<bool>>),
    Done(bool),
}

pub struct LiveStream {
    state: AppState,
    tenant: TenantId,
    session_id: String,
    session: StreamSession,
    framer: Framer,
    acc: Option<SpeechAccumulator>,
    tpl: Arc<VoiceTemplate>,
    /// The customer's data key and the fingerprints of audio already seen for them.
    key: crate::crypto::envelope::DataKey,
    seen: Arc<SeenAudio>,
    /// The accumulated speech replays audio already seen (checked on the first score and at
    /// the end; once seen, it stays).
    replay: ReplayMatch,
    fingerprint: Option<Fingerprint>,
    /// The AASIST presentation-attack check, run once on the speech of the first score.
    spoof: SpoofCheck,
    engine: Arc<VoiceEngine>,
    model_id: String,
    model_version: String,
    /// The score this stream last put in the session's evidence.
    committed: Option<BiometricScore>,
    latest: Option<(BiometricScore, AccumulatedScore)>,
    matched_sent: bool,
    no_match_sent: bool,
    /// The stream's attempt against the consecutive-failure counter, until it is settled.
    attempt: Option<Reservation>,
    _claim: StreamClaim,
}

impl LiveStream {
    /// Check everything a stream needs before the socket is upgraded.
    pub async fn open(
        state: &AppState,
        tenant: &TenantId,
        session_id: &str,
        format: StreamFormat,
    ) -> Result<Self, StreamError> {
        let session = sessions::stream_session(state, tenant, session_id).await?;
        let c = &session.customer_state;
        if !c.registered
            || !c.methods.iter().any(|m| m == Modality::Voice.method())
            || !c.templates.contains(&Modality::Voice)
        {
            return Err(StreamError::NotEnrolled);
        }
        if engine::biometrics_disabled(&session.policy.lockout, &c.lockout) {
            return Err(StreamError::BiometricsDisabled);
        }
        let (tpl, key) = open_voiceprint(state, tenant, &session.customer)
            .await?
            .ok_or(StreamError::NotEnrolled)?;
        let seen = seen_audio(state, tenant, &session.customer, &key).await?;
        let versions = model_versions(&state.models);
        if !tpl.models.is_empty() && tpl.models != versions {
            // Embeddings of other model versions are not comparable: re-enrolment is needed.
            return Err(StreamError::NotEnrolled);
        }
        let engine = VoiceEngine::shared(&state.models)?;
        let claim = state
            .voice_streams
            .claim(tenant, session_id)
            .ok_or(StreamError::AlreadyStreaming)?;
        let acc =
            SpeechAccumulator::new(format.rate()).map_err(|e| StreamError::Voice(e.into()))?;
        // Last, so that nothing refuses the stream after its attempt is counted.
        let attempt = sessions::stream_claim(state, tenant, &session)
            .await?
            .ok_or(StreamError::BiometricsDisabled)?;
        let join =
            |f: fn(&(String, String)) -> &str| versions.iter().map(f).collect::<Vec<_>>().join("+");
        Ok(Self {
            state: state.clone(),
            tenant: tenant.clone(),
            session_id: session_id.to_string(),
            framer: Framer::new(format),
            acc: Some(acc),
            tpl: Arc::new(tpl),
            key,
            seen: Arc::new(seen),
            replay: ReplayMatch::None,
            fingerprint: None,
            spoof: SpoofCheck::NotStarted,
            engine,
            model_id: join(|v| v.0.as_str()),
            model_version: join(|v| v.1.as_str()),
            session,
            committed: None,
            latest: None,
            matched_sent: false,
            no_match_sent: false,
            attempt: Some(attempt),
            _claim: claim,
        })
    }

    /// One WebSocket message.
    pub async fn push(&mut self, frame: Frame<'_>) -> Result<Pushed, StreamError> {
        let step = self.framer.push(frame)?;
        if !step.audio.is_empty() {
            if now_ms() >= self.session.expires_at {
                return Err(StreamError::SessionEnded);
            }
            self.accumulate(step.audio).await?;
            if self.acc.as_ref().is_some_and(SpeechAccumulator::due) {
                // The replay check runs on the first score (a played-back recording is caught
                // before it can verify) and again at the end.
                let check_replay = self.latest.is_none();
                self.rescore(check_replay).await?;
            }
        }
        Ok(Pushed {
            reply: step.reply,
            end: step.end,
        })
    }

    async fn accumulate(&mut self, audio: Vec<f32>) -> Result<(), StreamError> {
        let mut acc = self.acc.take().ok_or(StreamError::SessionEnded)?;
        let models = self.state.models.clone();
        // VAD is model inference: off the async runtime. The socket is not read meanwhile,
        // so a sender faster than the analysis is held back by TCP, never buffered here.
        let (acc, result) = tokio::task::spawn_blocking(move || {
            let r = acc.push(&models, &audio);
            (acc, r)
        })
        .await
        .map_err(|e| StreamError::Internal(e.to_string()))?;
        self.acc = Some(acc);
        Ok(result?)
    }

    async fn rescore(&mut self, check_replay: bool) -> Result<(), StreamError> {
        let acc = self.acc.take().ok_or(StreamError::SessionEnded)?;
        let (models, engine, tpl, seen) = (
            self.state.models.clone(),
            self.engine.clone(),
            self.tpl.clone(),
            self.seen.clone(),
        );
        let (mut acc, result, replay) = tokio::task::spawn_blocking(move || {
            let r = stream::score(&models, &engine, &engine.front, &tpl, &acc);
            let replay = check_replay.then(|| {
                let f = Fingerprint::of(&engine.front.fbank, acc.speech());
                let m = f.matches(&seen.fingerprints);
                (f, m)
            });
            (acc, r, replay)
        })
        .await
        .map_err(|e| StreamError::Internal(e.to_string()))?;
        acc.mark_scored();
        self.acc = Some(acc);
        if let Some((f, m)) = replay {
            if m.is_replay() {
                self.replay = m;
            }
            self.fingerprint = Some(f);
        }
        let scored = result?;
        self.start_spoof_check();
        let mut score = BiometricScore {
            modality: Modality::Voice,
            model_id: self.model_id.clone(),
            model_version: self.model_version.clone(),
            score: f64::from(scored.scores.fused),
            fmr: scored.decision_fmr,
            alerts: self.alerts(false).await,
        };
        let mut matched = sample_matches(&self.session.policy, self.session.channel, &score);
        if matched
            && !self.matched_sent
            && self.session.policy.presentation_attack.spoof == AlertAction::Block
        {
            // The policy blocks attacks: a first match waits for the detector.
            score.alerts = self.alerts(true).await;
            matched = sample_matches(&self.session.policy, self.session.channel, &score);
        }
        let net = scored.net_speech_ms;
        self.latest = Some((score.clone(), scored));
        // Commit when the stream first matches, and when it has heard enough without a match.
        let first_match = matched && !self.matched_sent;
        let gave_up = !matched && !self.no_match_sent && net >= stream::NO_MATCH_AFTER_MS;
        if first_match {
            // Reset the counter before the decision: this stream's own claim must not count
            // against the match that settles it.
            self.settle(&score).await?;
        }
        let outcome = if first_match || gave_up {
            Some(self.commit().await?)
        } else {
            None
        };
        self.event("voice_progress", Some(&score), Some(matched), outcome, None);
        if first_match {
            self.matched_sent = true;
            if outcome == Some(Outcome::Verified) {
                self.event("verified", Some(&score), Some(true), outcome, None);
            }
        } else if gave_up {
            self.no_match_sent = true;
            self.event("no_match", Some(&score), Some(false), outcome, None);
        }
        Ok(())
    }

    /// Start AASIST on the speech accumulated so far (once).
    fn start_spoof_check(&mut self) {
        let (Some(acc), Some(thresholds), SpoofCheck::NotStarted) =
            (self.acc.as_ref(), self.engine.spoof, &self.spoof)
        else {
            return;
        };
        let speech = acc.speech().to_vec();
        let telephone = acc.telephone();
        let models = self.state.models.clone();
        self.spoof = SpoofCheck::Running(tokio::task::spawn_blocking(move || {
            let model = models.get(super::AASIST).ok()?;
            let score = model
                .run(|s| super::antispoof::bona_fide_score(s, &speech))
                .ok()?;
            Some(thresholds.flagged(score, telephone))
        }));
    }

    /// The alerts the stream's evidence carries now; `wait`: let the detector finish first.
    async fn alerts(&mut self, wait: bool) -> Vec<String> {
        if let SpoofCheck::Running(handle) = &mut self.spoof
            && (wait || handle.is_finished())
        {
            // A detector that failed flags nothing (as a posted sample without AASIST).
            let flagged = handle.await.ok().flatten().unwrap_or(false);
            self.spoof = SpoofCheck::Done(flagged);
        }
        let mut alerts = Vec::new();
        if matches!(self.spoof, SpoofCheck::Done(true)) {
            alerts.push(SPOOF_SUSPECTED.to_string());
        }
        if self.replay.is_replay() {
            alerts.push(REPLAY_SUSPECTED.to_string());
        }
        alerts
    }

    async fn check_replay_of_all(&mut self) -> Result<(), StreamError> {
        let acc = self.acc.take().ok_or(StreamError::SessionEnded)?;
        let (engine, seen) = (self.engine.clone(), self.seen.clone());
        let (acc, f, m) = tokio::task::spawn_blocking(move || {
            let f = Fingerprint::of(&engine.front.fbank, acc.speech());
            let m = f.matches(&seen.fingerprints);
            (acc, f, m)
        })
        .await
        .map_err(|e| StreamError::Internal(e.to_string()))?;
        self.acc = Some(acc);
        if m.is_replay() {
            self.replay = m;
        }
        self.fingerprint = Some(f);
        Ok(())
    }

    /// Put the latest accumulated score in the session's evidence; the new outcome.
    async fn commit(&mut self) -> Result<Outcome, StreamError> {
        let Some((score, _)) = &self.latest else {
            return Err(StreamError::NoSpeech);
        };
        if self.committed.as_ref() == Some(score) {
            return self.outcome_of_session().await;
        }
        let view = sessions::stream_evidence(
            &self.state,
            &self.tenant,
            &self.session_id,
            self.committed.as_ref(),
            score,
        )
        .await
        .map_err(|e| match e {
            SessionError::Expired | SessionError::Closed => StreamError::SessionEnded,
            e => StreamError::Session(e),
        })?;
        self.committed = Some(score.clone());
        Ok(view.decision.outcome)
    }

    async fn outcome_of_session(&self) -> Result<Outcome, StreamError> {
        let view = sessions::get(&self.state, &self.tenant, &self.session_id).await?;
        Ok(view.decision.outcome)
    }

    /// The platform ended the stream (or closed the socket): score what is left, commit the
    /// final accumulated score, count the stream once against the lockout counter.
    pub async fn finish(&mut self) -> Result<(), StreamError> {
        let pending = self
            .acc
            .as_ref()
            .is_some_and(|a| a.net_speech_ms() >= crate::biometrics::audio::MIN_NET_SPEECH_MS);
        let rescored_needed = self.latest.as_ref().map(|(_, s)| s.net_speech_ms)
            != self.acc.as_ref().map(SpeechAccumulator::net_speech_ms);
        if pending && rescored_needed {
            self.rescore(true).await?;
        } else if pending {
            // Scored already on all of it: still check all of it for a replay.
            self.check_replay_of_all().await?;
        }
        // The final score carries every alert, the detector's included.
        let alerts = self.alerts(true).await;
        if let Some((score, _)) = &mut self.latest {
            score.alerts = alerts;
        }
        let Some((score, _)) = self.latest.clone() else {
            return Err(StreamError::NoSpeech);
        };
        // Remember what this call sounded like (a later replay of it is caught) and mark the
        // voiceprint used: retention counts from the last use.
        if let Some(f) = self.fingerprint.take() {
            remember_audio(
                &self.state,
                &self.tenant,
                &self.session.customer,
                &self.key,
                (*self.seen).clone(),
                f,
            )
            .await?;
        }
        let outcome = self.commit().await?;
        self.settle(&score).await?;
        let matched = sample_matches(&self.session.policy, self.session.channel, &score);
        if !matched && !self.no_match_sent {
            self.no_match_sent = true;
            self.event("no_match", Some(&score), Some(false), Some(outcome), None);
        }
        self.ended("completed");
        Ok(())
    }

    /// Settle the stream's attempt with a score (once; later scores change nothing).
    async fn settle(&mut self, score: &BiometricScore) -> Result<(), StreamError> {
        if let Some(attempt) = self.attempt.take() {
            sessions::stream_attempt(&self.state, &self.tenant, &self.session, attempt, score)
                .await?;
        }
        Ok(())
    }

    /// The stream ended with an error: an attempt never scored gives its step back; one that
    /// was scored without a match stays counted (ending a stream early does not undo it).
    pub async fn abandon(&mut self) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        if self.latest.is_some() {
            attempt.failed();
        } else if let Err(e) = attempt
            .release(&self.state, &self.tenant, &self.session.customer)
            .await
        {
            tracing::warn!(error = %e, "stream attempt not released");
        }
    }

    /// Tell the session's listeners the stream ended (`completed` or a problem code).
    pub fn ended(&self, reason: &str) {
        self.event("voice_stream_ended", None, None, None, Some(reason.into()));
    }

    fn event(
        &self,
        kind: &'static str,
        score: Option<&BiometricScore>,
        matched: Option<bool>,
        outcome: Option<Outcome>,
        reason: Option<String>,
    ) {
        let acc = self.acc.as_ref();
        self.state.voice_streams.publish(VoiceEvent {
            tenant: self.tenant.to_string(),
            session_id: self.session_id.clone(),
            event: kind,
            net_speech_ms: acc.map_or(0, SpeechAccumulator::net_speech_ms),
            audio_ms: acc.map_or(0, SpeechAccumulator::audio_ms),
            score: score.map(|s| s.score),
            fmr: score.map(|s| s.fmr),
            alerts: score.map(|s| s.alerts.clone()).unwrap_or_default(),
            matched,
            outcome,
            reason,
            at: now_ms(),
        });
    }
}
