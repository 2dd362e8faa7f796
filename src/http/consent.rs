//! Platform API: consent (scope `consent`), camera grants, session events, and the log's
//! proofs (scope `consent` or `audit`).
//!
//! Session ids are strings the platform passes. When the sessions service knows the id (it
//! created the session), a grant or camera grant is refused once the session has ended
//! (409 `session_ended`) or if it belongs to another customer (409 `session_mismatch`); other
//! ids stay opaque (a call or chat id of the platform), which keeps the coupling to one lookup
//! (`consent::service::check_session`).

use std::{collections::HashSet, convert::Infallible, time::Duration};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{
        IntoResponse,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    extract::{ApiJson, ApiPath, PlatformCaller},
    problem::Problem,
};
use crate::{
    AppState,
    consent::{
        ConsentScope, Purpose,
        catalogue::Notice,
        rules::GrantRefusal,
        service::{
            self, CameraGrant, CaptureRequest, GrantCommand, ServiceError, SignedReceipt, Withdrawn,
        },
    },
    ledger::{ConsistencyProof, InclusionProof, LedgerError, SignedTreeHead},
    store::{self, consents::ConsentRow},
    tenants::{CustomerRef, Scope},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/consents", post(grant))
        .route("/consents/withdrawals", post(withdraw))
        .route("/consents/{consent_id}/receipt", get(receipt))
        .route("/customers/{customer_ref}/consents", get(list))
        .route("/notices/{purpose}", get(notice))
        .route("/sessions/{session_id}/camera-grants", post(camera_grant))
        .route("/sessions/{session_id}/events", get(session_events))
        .route("/ledger/tree-head", get(tree_head).post(sign_tree_head))
        .route(
            "/ledger/entries/{index}/inclusion-proof",
            get(inclusion_proof),
        )
        .route("/ledger/consistency-proof", get(consistency_proof))
}

fn require_any(caller: &PlatformCaller, scopes: &[Scope]) -> Result<(), Problem> {
    if scopes.iter().any(|s| caller.scopes.contains(s)) {
        Ok(())
    } else {
        Err(Problem::scope_denied(scopes[0].as_str()))
    }
}

fn parse_purpose(raw: &str) -> Result<Purpose, Problem> {
    raw.parse::<Purpose>().map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "unknown_purpose",
            "No such consent purpose",
        )
        .with_detail(e)
        .with_extension(
            "purposes",
            Purpose::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        )
    })
}

/// An opaque session id: 1-128 printable ASCII characters.
fn parse_session(raw: &str) -> Result<String, Problem> {
    if (1..=128).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(raw.to_string())
    } else {
        Err(Problem::bad_request(
            "a session id is 1-128 printable ASCII characters",
        ))
    }
}

fn notice_json(notice: &Notice) -> serde_json::Value {
    json!({
        "purpose": notice.purpose,
        "version": notice.version,
        "hash": notice.hash,
        "text": notice.text,
    })
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        match e {
        ServiceError::UnknownPurpose(p) => parse_purpose(&p)
            .err()
            .unwrap_or_else(|| Problem::bad_request(format!("purpose `{p}` is not configured"))),
        ServiceError::CustomerNotFound => Problem::new(
            StatusCode::NOT_FOUND,
            "customer_not_found",
            "No such customer for this tenant",
        ),
        ServiceError::ConsentNotFound => Problem::not_found(),
        ServiceError::InvalidCredential => Problem::new(
            StatusCode::FORBIDDEN,
            "invalid_customer_credential",
            "The customer credential is not valid",
        ),
        ServiceError::Refused(r) => {
            let (status, code) = match &r {
                GrantRefusal::UnknownNotice(_) => {
                    (StatusCode::BAD_REQUEST, "unknown_notice_version")
                }
                GrantRefusal::RetiredNotice(_) => (StatusCode::BAD_REQUEST, "notice_retired"),
                GrantRefusal::MethodNotAccepted(_) => {
                    (StatusCode::FORBIDDEN, "capture_method_not_accepted")
                }
                GrantRefusal::ScopeNotAccepted(_) => {
                    (StatusCode::BAD_REQUEST, "scope_not_accepted")
                }
                GrantRefusal::CredentialMismatch => {
                    (StatusCode::FORBIDDEN, "invalid_customer_credential")
                }
                GrantRefusal::SessionRequired | GrantRefusal::WitnessRequired => {
                    (StatusCode::BAD_REQUEST, "invalid_request")
                }
            };
            Problem::new(status, code, "The consent was not recorded").with_detail(r.to_string())
        }
        ServiceError::ConsentRequired {
            purpose,
            notice,
            accepted_methods,
        } => Problem::new(
            StatusCode::FORBIDDEN,
            "consent_required",
            "Explicit consent is required first",
        )
        .with_detail(format!(
            "no explicit, unexpired, unwithdrawn `{}` consent exists for this customer and session; show the notice and capture consent",
            purpose.as_str()
        ))
        .with_extension("purpose", purpose.as_str())
        .with_extension("notice", notice_json(&notice))
        .with_extension(
            "accepted_methods",
            accepted_methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        ),
        ServiceError::Ledger(e) => e.into(),
        ServiceError::Store(e) => e.into(),
        ServiceError::Signing(e) => {
            tracing::error!(error = %e, "signing failed");
            Problem::internal()
        }
        ServiceError::SessionEnded => Problem::new(
            StatusCode::CONFLICT,
            "session_ended",
            "The session has ended",
        )
        .with_detail("start a new session; consent and camera grants are per live session"),
        ServiceError::SessionMismatch => Problem::new(
            StatusCode::CONFLICT,
            "session_mismatch",
            "The session belongs to another customer",
        ),
        // Someone wrote the database: the operator's log names the entry; the caller learns
        // only that no receipt is signed for a record that contradicts the log.
        ServiceError::LogMismatch(_) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "log_mismatch",
            "The consent record does not match the tamper-evident log; no receipt is signed",
        ),
    }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    pub customer_ref: String,
    /// camera | recording | recording_reuse | voiceprint_enrolment | keystroke_enrolment
    pub purpose: String,
    /// The notice version shown to the customer.
    pub notice_version: String,
    /// The notice language shown (default `en`).
    #[serde(default)]
    pub language: Option<String>,
    pub capture: CaptureRequest,
    /// session | standing (default: the purpose's first accepted scope).
    #[serde(default)]
    pub scope: Option<ConsentScope>,
    /// Required for session scope; opaque (validated by the sessions work).
    #[serde(default)]
    pub session_id: Option<String>,
    /// Shorter than the purpose's validity if wanted.
    #[serde(default)]
    pub valid_for_secs: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogPositionView {
    pub index: u64,
    pub leaf_hash: String,
    pub inclusion_proof: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantResponse {
    #[schema(value_type = Object)]
    pub consent: ConsentRow,
    pub log: LogPositionView,
    pub receipt: SignedReceipt,
}

/// Record a consent grant. Requires scope `consent`.
#[utoipa::path(post, path = "/v1/consents", tag = "consent", security(("api_key" = [])),
    request_body = GrantRequest,
    responses((status = 201, body = GrantResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn grant(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiJson(body): ApiJson<GrantRequest>,
) -> Result<impl IntoResponse, Problem> {
    caller.require(Scope::Consent)?;
    let customer = CustomerRef::try_from(body.customer_ref)?;
    let purpose = parse_purpose(&body.purpose)?;
    let session_id = body.session_id.as_deref().map(parse_session).transpose()?;
    let outcome = service::grant(
        &state,
        &caller.tenant,
        GrantCommand {
            customer,
            purpose,
            notice_version: body.notice_version,
            language: body.language.unwrap_or_else(|| "en".into()),
            capture: body.capture,
            scope: body.scope,
            session_id,
            valid_for_secs: body.valid_for_secs,
            terms: None,
        },
    )
    .await?;
    let index = outcome.ledger.index;
    Ok((
        StatusCode::CREATED,
        Json(GrantResponse {
            consent: outcome.consent,
            log: LogPositionView {
                index,
                leaf_hash: hex::encode(outcome.ledger.leaf_hash),
                inclusion_proof: service::inclusion_proof_path(index),
            },
            receipt: outcome.receipt,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    pub customer_ref: String,
    pub purpose: String,
    /// Only this session's consents (default: every consent for the purpose).
    #[serde(default)]
    pub session_id: Option<String>,
    /// How the customer withdrew (free text for the log: customer_device, dtmf, verbal, ...).
    #[serde(default)]
    pub method: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WithdrawResponse {
    /// `withdrawn`, or `not_in_force` when there was nothing to withdraw (idempotent).
    pub status: &'static str,
    pub withdrawn: Vec<Withdrawn>,
}

/// Withdraw consent: ends every consent in force for the customer and purpose at once, pushes
/// the withdrawal to session listeners, destroys the templates the purpose covered. Requires
/// scope `consent`. Withdrawing what was never given answers 200 `not_in_force`.
#[utoipa::path(post, path = "/v1/consents/withdrawals", tag = "consent", security(("api_key" = [])),
    request_body = WithdrawRequest,
    responses((status = 200, body = WithdrawResponse), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn withdraw(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiJson(body): ApiJson<WithdrawRequest>,
) -> Result<Json<WithdrawResponse>, Problem> {
    caller.require(Scope::Consent)?;
    let customer = CustomerRef::try_from(body.customer_ref)?;
    let purpose = parse_purpose(&body.purpose)?;
    let session = body.session_id.as_deref().map(parse_session).transpose()?;
    let method = body.method.unwrap_or_else(|| "platform".into());
    let method: String = method
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect();
    let withdrawn = service::withdraw(
        &state,
        &caller.tenant,
        &customer,
        purpose,
        session.as_deref(),
        &method,
    )
    .await?;
    Ok(Json(WithdrawResponse {
        status: if withdrawn.is_empty() {
            "not_in_force"
        } else {
            "withdrawn"
        },
        withdrawn,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub consent: ConsentRow,
    /// active | withdrawn | expired
    pub status: &'static str,
}

/// A customer's consents, newest last, with their status. Requires scope `consent`.
#[utoipa::path(get, path = "/v1/customers/{customer_ref}/consents", tag = "consent", security(("api_key" = [])),
    params(("customer_ref" = String, Path)),
    responses((status = 200, body = Vec<ConsentView>), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiPath(customer): ApiPath<CustomerRef>,
) -> Result<Json<Vec<ConsentView>>, Problem> {
    caller.require(Scope::Consent)?;
    let now = store::now_ms();
    let rows = service::list(&state, &caller.tenant, &customer).await?;
    Ok(Json(
        rows.into_iter()
            .map(|c| {
                let status = match c.end_reason.as_deref() {
                    Some("withdrawn") => "withdrawn",
                    Some(_) => "expired",
                    None if c.valid_until <= now => "expired",
                    None => "active",
                };
                ConsentView { consent: c, status }
            })
            .collect(),
    ))
}

/// The signed Kantara Consent Receipt v1.1 of a consent. Requires scope `consent`.
#[utoipa::path(get, path = "/v1/consents/{consent_id}/receipt", tag = "consent", security(("api_key" = [])),
    params(("consent_id" = String, Path)),
    responses((status = 200, body = SignedReceipt), (status = 404, body = Problem)))]
pub async fn receipt(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(consent_id): Path<String>,
) -> Result<Json<SignedReceipt>, Problem> {
    caller.require(Scope::Consent)?;
    service::receipt(&state, &caller.tenant, &consent_id)
        .await
        .map(Json)
        .map_err(Problem::from)
}

/// The current notice of a purpose (what to show before asking). Requires scope `consent`.
#[utoipa::path(get, path = "/v1/notices/{purpose}", tag = "consent", security(("api_key" = [])),
    params(("purpose" = String, Path)),
    responses((status = 200, body = Notice), (status = 400, body = Problem)))]
pub async fn notice(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(purpose): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    caller.require(Scope::Consent)?;
    let purpose = parse_purpose(&purpose)?;
    let set = state.consents.catalogue.for_tenant(caller.tenant.as_str());
    let spec = set.get(purpose).ok_or_else(Problem::not_found)?;
    let notice = spec.current_notice().ok_or_else(Problem::not_found)?;
    let mut v = notice_json(notice);
    v["title"] = json!(spec.title);
    v["accepted_methods"] = json!(spec.accepted_methods);
    v["scopes"] = json!(spec.scopes);
    v["validity_secs"] = json!(spec.validity_secs);
    Ok(Json(v))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraGrantRequest {
    pub customer_ref: String,
}

/// A short-lived signed camera grant, only while an explicit camera consent for this customer
/// and session is in force; otherwise 403 `consent_required` with the notice to show.
/// Requires scope `consent`.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/camera-grants", tag = "consent", security(("api_key" = [])),
    params(("session_id" = String, Path)), request_body = CameraGrantRequest,
    responses((status = 201, body = CameraGrant), (status = 403, body = Problem)))]
pub async fn camera_grant(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(session_id): Path<String>,
    ApiJson(body): ApiJson<CameraGrantRequest>,
) -> Result<impl IntoResponse, Problem> {
    caller.require(Scope::Consent)?;
    let session = parse_session(&session_id)?;
    let customer = CustomerRef::try_from(body.customer_ref)?;
    let grant = service::camera_grant(&state, &caller.tenant, &session, &customer).await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

/// Server-sent events for one session: `consent_granted`, `consent_withdrawn` (stop the
/// camera at once), `consent_expired` (scope `consent`); and, from a live voice stream on this
/// instance, `voice_progress`, `verified`, `no_match`, `voice_stream_ended`, and
/// `passkey_approved` (a passkey step-up approved on the customer's phone; scope `sessions`).
/// A key with either scope may listen and gets the events its scopes cover.
#[utoipa::path(get, path = "/v1/sessions/{session_id}/events", tag = "consent", security(("api_key" = [])),
    params(("session_id" = String, Path)),
    responses((status = 200, description = "text/event-stream")))]
pub async fn session_events(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(session_id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    require_any(&caller, &[Scope::Consent, Scope::Sessions])?;
    let session = parse_session(&session_id)?;
    let consent = caller.require(Scope::Consent).is_ok();
    let receiver = state.consents.hub.subscribe();
    let sessions = caller.require(Scope::Sessions).is_ok();
    let voice = sessions.then(|| state.voice_streams.subscribe());
    let listener = Listener {
        consent,
        sessions,
        voice,
        receiver,
        state,
        tenant: caller.tenant,
        session,
        since: store::now_ms(),
        seen: HashSet::new(),
        poll: tokio::time::interval(Duration::from_secs(2)),
        pending: Vec::new(),
    };
    let stream = futures_util::stream::unfold(listener, |mut l| async move {
        let event = l.next().await?;
        Some((Ok(event), l))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

struct Listener {
    /// The caller may see consent events (scope `consent`).
    consent: bool,
    /// The caller may see session events (scope `sessions`): voice streams, passkey step-ups.
    sessions: bool,
    /// Voice stream events, when the caller has scope `sessions`.
    voice: Option<tokio::sync::broadcast::Receiver<crate::biometrics::voice::live::VoiceEvent>>,
    receiver: tokio::sync::broadcast::Receiver<crate::consent::events::SessionEvent>,
    state: AppState,
    tenant: crate::tenants::TenantId,
    session: String,
    since: i64,
    /// (event, consent id) already sent, so the poll and the hub never repeat one.
    seen: HashSet<(&'static str, String)>,
    poll: tokio::time::Interval,
    pending: Vec<Event>,
}

impl Listener {
    fn event(
        &mut self,
        kind: &'static str,
        consent_id: &str,
        purpose: &str,
        at: i64,
    ) -> Option<Event> {
        if !self.seen.insert((kind, consent_id.to_string())) {
            return None;
        }
        Event::default()
            .event(kind)
            .json_data(
                json!({"event": kind, "consent_id": consent_id, "purpose": purpose, "at": at}),
            )
            .ok()
    }

    /// Next event: from this instance's hub at once, or (every 2 s) from consents that other
    /// instances ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.pending.pop() {
                return Some(e);
            }
            tokio::select! {
                Some(received) = recv_voice(&mut self.voice) => match received {
                    Ok(ev) if ev.tenant == self.tenant.as_str() && ev.session_id == self.session => {
                        if let Ok(e) = Event::default().event(ev.event).json_data(&ev) {
                            return Some(e);
                        }
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => self.voice = None,
                },
                received = self.receiver.recv(), if self.consent || self.sessions => match received {
                    // A passkey step-up approved on the customer's phone (scope `sessions`).
                    Ok(ev) if ev.tenant == self.tenant.as_str() && ev.session_id == self.session
                        && ev.event == "passkey_approved" => {
                        if self.sessions && self.seen.insert((ev.event, ev.consent_id.clone()))
                            && let Ok(e) = Event::default().event(ev.event).json_data(
                                json!({"event": ev.event, "request_id": ev.consent_id, "at": ev.at}),
                            )
                        {
                            return Some(e);
                        }
                    }
                    Ok(ev) if self.consent && ev.tenant == self.tenant.as_str() && ev.session_id == self.session => {
                        if let Some(e) = self.event(ev.event, &ev.consent_id, &ev.purpose, ev.at) {
                            return Some(e);
                        }
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.poll.tick(), if self.consent => {
                    let ended = store::consents::ended_in_session_since(
                        &self.state.db, &self.tenant, &self.session, self.since,
                    ).await;
                    if let Ok(rows) = ended {
                        for c in rows {
                            let kind = if c.end_reason.as_deref() == Some("withdrawn") {
                                "consent_withdrawn"
                            } else {
                                "consent_expired"
                            };
                            let at = c.ended_at.unwrap_or_default();
                            if let Some(e) = self.event(kind, &c.consent_id, &c.purpose, at) {
                                self.pending.push(e);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The next voice event, or never when the listener takes none.
async fn recv_voice(
    voice: &mut Option<
        tokio::sync::broadcast::Receiver<crate::biometrics::voice::live::VoiceEvent>,
    >,
) -> Option<
    Result<crate::biometrics::voice::live::VoiceEvent, tokio::sync::broadcast::error::RecvError>,
> {
    match voice {
        Some(r) => Some(r.recv().await),
        None => std::future::pending().await,
    }
}

/// The latest signed tree head of the caller's log. Requires scope `consent` or `audit`.
#[utoipa::path(get, path = "/v1/ledger/tree-head", tag = "consent", security(("api_key" = [])),
    responses((status = 200, body = SignedTreeHead), (status = 404, body = Problem)))]
pub async fn tree_head(
    State(state): State<AppState>,
    caller: PlatformCaller,
) -> Result<Json<SignedTreeHead>, Problem> {
    require_any(&caller, &[Scope::Audit, Scope::Consent])?;
    state
        .ledger
        .latest_tree_head(&caller.tenant)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::from(LedgerError::NoTreeHead))
}

/// Sign a tree head over everything committed now (on demand). Requires scope `audit`.
#[utoipa::path(post, path = "/v1/ledger/tree-head", tag = "consent", security(("api_key" = [])),
    responses((status = 201, body = SignedTreeHead)))]
pub async fn sign_tree_head(
    State(state): State<AppState>,
    caller: PlatformCaller,
) -> Result<impl IntoResponse, Problem> {
    require_any(&caller, &[Scope::Audit, Scope::Consent])?;
    let head = state.ledger.sign_tree_head(&caller.tenant).await?;
    Ok((StatusCode::CREATED, Json(head)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ProofQuery {
    /// Tree size to prove against (default: a signed head covering the entry).
    pub tree_size: Option<u64>,
}

/// RFC 9162 inclusion proof of one entry. Requires scope `consent` or `audit`.
#[utoipa::path(get, path = "/v1/ledger/entries/{index}/inclusion-proof", tag = "consent", security(("api_key" = [])),
    params(("index" = u64, Path), ProofQuery),
    responses((status = 200, body = InclusionProof), (status = 400, body = Problem),
        (status = 404, description = "`not_found`: no signed head yet, or the entry is beyond the tree size", body = Problem)))]
pub async fn inclusion_proof(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(index): Path<u64>,
    Query(q): Query<ProofQuery>,
) -> Result<Json<InclusionProof>, Problem> {
    require_any(&caller, &[Scope::Audit, Scope::Consent])?;
    state
        .ledger
        .inclusion_proof(&caller.tenant, index, q.tree_size)
        .await
        .map(Json)
        .map_err(Problem::from)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ConsistencyQuery {
    pub first: u64,
    pub second: u64,
}

/// RFC 9162 consistency proof between two tree sizes. Requires scope `consent` or `audit`.
#[utoipa::path(get, path = "/v1/ledger/consistency-proof", tag = "consent", security(("api_key" = [])),
    params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = Problem),
        (status = 404, description = "`not_found`: a size beyond the log", body = Problem),
        (status = 422, description = "`sizes_out_of_order`: `first` > `second`", body = Problem)))]
pub async fn consistency_proof(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, Problem> {
    require_any(&caller, &[Scope::Audit, Scope::Consent])?;
    state
        .ledger
        .consistency_proof(&caller.tenant, q.first, q.second)
        .await
        .map(Json)
        .map_err(Problem::from)
}
