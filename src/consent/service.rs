//! Consent service: the I/O around the consent rules.
//!
//! Order of writes, chosen so a crash never leaves more consent in force than the log shows:
//! * grant: append `consent_granted` to the log (durable), then store the consent row. A crash
//!   between the two leaves a logged grant that is not in force (fails closed); the caller got
//!   no receipt, so nothing acknowledged is lost.
//! * withdrawal: end the row first (takes effect at once, pushed to listeners), then append
//!   `consent_withdrawn`. A crash between the two leaves consent ended (fails closed).

use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use serde_json::{Value, json};

use super::{
    CaptureMethod, ConsentScope, Purpose,
    catalogue::{Catalogue, CatalogueError, Controller, Notice, PurposeSpec},
    events::{Hub, SessionEvent},
    receipt::{self, LogPosition},
    rules::{
        self, CAMERA_GRANT_TTL_SECS, CAMERA_GRANT_TYP, CUSTOMER_CREDENTIAL_TYP, CaptureEvidence,
        CustomerCredentialClaims, GrantInput, GrantRefusal,
    },
};
use crate::{
    AppState,
    crypto::signing::Signer,
    ledger::{LedgerError, LedgerEvent, LedgerReceipt},
    store::{self, StoreError, batch::BatchWrite, consents::ConsentRow, now_ms},
    tenants::{CustomerRef, TenantId},
};

/// Loaded once at start-up: the purposes and notices, and the listeners' hub.
#[derive(Debug)]
pub struct Consents {
    pub catalogue: Catalogue,
    pub hub: Hub,
}

impl Consents {
    pub fn load(policies: &std::path::Path) -> Result<Self, CatalogueError> {
        Ok(Self {
            catalogue: Catalogue::load(policies)?,
            hub: Hub::default(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("unknown purpose `{0}`")]
    UnknownPurpose(String),
    #[error("no such customer for this tenant")]
    CustomerNotFound,
    #[error("no such consent")]
    ConsentNotFound,
    #[error("the customer credential is not valid")]
    InvalidCredential,
    #[error(transparent)]
    Refused(#[from] GrantRefusal),
    #[error("no explicit, unexpired, unwithdrawn `{}` consent", .purpose.as_str())]
    ConsentRequired {
        purpose: Purpose,
        notice: Box<Notice>,
        accepted_methods: Vec<CaptureMethod>,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing failed: {0}")]
    Signing(String),
    #[error("the session has ended")]
    SessionEnded,
    #[error("the session belongs to another customer")]
    SessionMismatch,
    /// The consent row and the log disagree (someone wrote the database): no receipt is
    /// signed for it. The detail names the entry, for the operator's log only.
    #[error("the consent record does not match the log: {0}")]
    LogMismatch(String),
}

/// How the platform says the grant was captured.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum CaptureRequest {
    /// The customer pressed a button on their own device; `customer_credential` is the
    /// customer's session credential that device holds.
    CustomerDevice { customer_credential: String },
    /// The customer pressed a key in the IVR.
    Dtmf { ivr_call_id: String },
    /// The customer said yes; `witness` is the agent's id.
    VerbalWitnessed { witness: String },
}

#[derive(Debug, Clone)]
pub struct GrantCommand {
    pub customer: CustomerRef,
    pub purpose: Purpose,
    pub notice_version: String,
    pub language: String,
    pub capture: CaptureRequest,
    pub scope: Option<ConsentScope>,
    pub session_id: Option<String>,
    pub valid_for_secs: Option<u64>,
    /// What exactly the customer allowed (the camera choice), stored with the consent and
    /// logged with the grant.
    pub terms: Option<Value>,
}

/// A receipt and its signature.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignedReceipt {
    /// Kantara Consent Receipt v1.1 fields (plus a `trustline` extension member).
    #[schema(value_type = Object)]
    pub receipt: Value,
    /// Compact JWS (EdDSA, typ `kantara-cr+jwt`) of `receipt`; verify with the JWKS.
    pub jws: String,
}

#[derive(Debug, Clone)]
pub struct GrantOutcome {
    pub consent: ConsentRow,
    pub ledger: LedgerReceipt,
    pub receipt: SignedReceipt,
}

pub fn inclusion_proof_path(index: u64) -> String {
    format!("/v1/ledger/entries/{index}/inclusion-proof")
}

/// A random UUID (version 4) for consent, grant and receipt ids.
pub fn new_id() -> Result<String, ServiceError> {
    let mut b = [0u8; 16];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| ServiceError::Signing("no randomness".into()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// Issue a customer session credential. Called by the flows that face the customer themself
/// (privacy centre, a session verified on the customer's own device); never exposed to the
/// platform's API key, so an agent cannot mint one.
pub fn issue_customer_credential(
    signer: &Signer,
    tenant: &TenantId,
    customer: &CustomerRef,
    session_id: Option<&str>,
    ttl_secs: i64,
) -> Result<String, ServiceError> {
    let mut claims = serde_json::to_value(CustomerCredentialClaims {
        tenant: tenant.to_string(),
        sub: customer.to_string(),
        sid: session_id.map(str::to_string),
        exp: now_ms() / 1000 + ttl_secs,
    })
    .map_err(|e| ServiceError::Signing(e.to_string()))?;
    claims["use"] = json!("customer_credential");
    signer
        .sign_jws(&claims, CUSTOMER_CREDENTIAL_TYP)
        .map_err(|e| ServiceError::Signing(e.to_string()))
}

fn verify_customer_credential(
    signer: &Signer,
    token: &str,
) -> Result<CustomerCredentialClaims, ServiceError> {
    let claims = signer
        .verify_jws(token)
        .map_err(|_| ServiceError::InvalidCredential)?;
    // The use claim keeps other tokens this service signs (grants, receipts) from passing.
    if claims.get("use").and_then(Value::as_str) != Some("customer_credential") {
        return Err(ServiceError::InvalidCredential);
    }
    serde_json::from_value(claims).map_err(|_| ServiceError::InvalidCredential)
}

async fn ensure_customer(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<(), ServiceError> {
    store::customers::get(&state.db, tenant, customer)
        .await?
        .map(|_| ())
        .ok_or(ServiceError::CustomerNotFound)
}

/// A session id names a session of this tenant when the sessions service created it: then it
/// must belong to this customer and must not have expired. Ids the sessions service does not
/// know stay opaque (the platform may scope consent to its own call or chat id).
async fn check_session(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    session_id: &str,
) -> Result<(), ServiceError> {
    if let Some(session) = store::sessions::get(&state.db, tenant, session_id).await? {
        if session.customer_ref != customer.as_str() {
            return Err(ServiceError::SessionMismatch);
        }
        if session.expires_at <= now_ms() {
            return Err(ServiceError::SessionEnded);
        }
    }
    Ok(())
}

pub async fn grant(
    state: &AppState,
    tenant: &TenantId,
    cmd: GrantCommand,
) -> Result<GrantOutcome, ServiceError> {
    let set = state.consents.catalogue.for_tenant(tenant.as_str());
    let spec = set
        .get(cmd.purpose)
        .ok_or_else(|| ServiceError::UnknownPurpose(cmd.purpose.as_str().into()))?;
    ensure_customer(state, tenant, &cmd.customer).await?;
    if let Some(session) = &cmd.session_id {
        check_session(state, tenant, &cmd.customer, session).await?;
    }
    let evidence = match &cmd.capture {
        CaptureRequest::CustomerDevice {
            customer_credential,
        } => CaptureEvidence::CustomerDevice(verify_customer_credential(
            &state.signer,
            customer_credential,
        )?),
        CaptureRequest::Dtmf { ivr_call_id } => CaptureEvidence::Dtmf {
            ivr_call_id: ivr_call_id.clone(),
        },
        CaptureRequest::VerbalWitnessed { witness } => CaptureEvidence::VerbalWitnessed {
            witness: witness.clone(),
        },
    };
    let now = now_ms();
    let valid = rules::validate_grant(
        spec,
        &GrantInput {
            tenant: tenant.as_str(),
            customer: cmd.customer.as_str(),
            notice_version: &cmd.notice_version,
            scope: cmd.scope,
            session_id: cmd.session_id.as_deref(),
            evidence: &evidence,
            valid_for_secs: cmd.valid_for_secs,
            now_ms: now,
        },
    )?;
    let language = if valid.notice.text.contains_key(&cmd.language) {
        cmd.language.clone()
    } else {
        "en".to_string()
    };
    let session_id = match valid.scope {
        ConsentScope::Session => cmd.session_id.clone(),
        ConsentScope::Standing => None,
    };
    let consent_id = new_id()?;
    let (witness, ivr_call_id) = match &evidence {
        CaptureEvidence::VerbalWitnessed { witness } => (Some(witness.clone()), None),
        CaptureEvidence::Dtmf { ivr_call_id } => (None, Some(ivr_call_id.clone())),
        CaptureEvidence::CustomerDevice(_) => (None, None),
    };
    let mut consent = ConsentRow {
        consent_id: consent_id.clone(),
        customer_ref: cmd.customer.to_string(),
        purpose: cmd.purpose.as_str().into(),
        notice_version: valid.notice.version.clone(),
        notice_hash: valid.notice.hash.clone(),
        language: language.clone(),
        capture_method: evidence.method().as_str().into(),
        witness: witness.clone(),
        scope: valid.scope.as_str().into(),
        session_id: session_id.clone(),
        granted_at: now,
        valid_until: valid.valid_until,
        ended_at: None,
        end_reason: None,
        ledger_index: 0, // set by the ledger writer to the entry's index
        end_ledger_index: None,
        terms: cmd.terms.as_ref().map(Value::to_string),
    };
    // The row and its log entry commit in one transaction: in force exactly when logged.
    let ledger = state
        .ledger
        .append_with(
            tenant,
            LedgerEvent {
                kind: "consent_granted".into(),
                customer: Some(cmd.customer.clone()),
                session_id: session_id.clone(),
                body: json!({
                    "consent_id": consent_id,
                    "purpose": cmd.purpose.as_str(),
                    "notice_version": valid.notice.version,
                    "notice_hash": valid.notice.hash,
                    "language": language,
                    "capture_method": evidence.method().as_str(),
                    "witness": witness,
                    "ivr_call_id": ivr_call_id,
                    "scope": valid.scope.as_str(),
                    "valid_until": valid.valid_until,
                    "terms": cmd.terms,
                    // The grant's own time, so a receipt built from this entry says it exactly.
                    "granted_at": now,
                }),
            },
            vec![BatchWrite::ConsentGrant {
                tenant: tenant.clone(),
                row: Box::new(consent.clone()),
            }],
        )
        .await?;
    consent.ledger_index = ledger.index as i64;
    if let Some(session) = &session_id {
        state.consents.hub.publish(SessionEvent {
            tenant: tenant.to_string(),
            session_id: session.clone(),
            event: "consent_granted",
            consent_id: consent.consent_id.clone(),
            purpose: consent.purpose.clone(),
            at: now,
        });
    }
    let receipt = sign_receipt(state, tenant, &consent, &hex::encode(ledger.leaf_hash))?;
    metrics::counter!("trustline_consent_events_total", "event" => "granted", "purpose" => cmd.purpose.as_str()).increment(1);
    Ok(GrantOutcome {
        consent,
        ledger,
        receipt,
    })
}

/// The purpose's spec and the tenant's controller, for a stored consent's receipt.
fn receipt_context<'a>(
    state: &'a AppState,
    tenant: &TenantId,
    consent: &ConsentRow,
) -> Result<(&'a PurposeSpec, &'a Controller), ServiceError> {
    let set = state.consents.catalogue.for_tenant(tenant.as_str());
    let purpose: Purpose = consent
        .purpose
        .parse()
        .map_err(ServiceError::UnknownPurpose)?;
    let spec = set
        .get(purpose)
        .ok_or_else(|| ServiceError::UnknownPurpose(consent.purpose.clone()))?;
    Ok((spec, &set.controller))
}

fn sign(state: &AppState, doc: Value) -> Result<SignedReceipt, ServiceError> {
    let jws = state
        .signer
        .sign_jws(&doc, receipt::RECEIPT_TYP)
        .map_err(|e| ServiceError::Signing(e.to_string()))?;
    Ok(SignedReceipt { receipt: doc, jws })
}

fn log_position(index: u64, leaf_hash: String) -> LogPosition {
    LogPosition {
        index,
        leaf_hash,
        inclusion_proof: inclusion_proof_path(index),
    }
}

fn sign_receipt(
    state: &AppState,
    tenant: &TenantId,
    consent: &ConsentRow,
    leaf_hash: &str,
) -> Result<SignedReceipt, ServiceError> {
    let (spec, controller) = receipt_context(state, tenant, consent)?;
    let position = log_position(consent.ledger_index as u64, leaf_hash.to_string());
    sign(state, receipt::build(consent, spec, controller, &position))
}

/// The receipt of a stored consent, signed again from its log entries: the row only says
/// where they are (see [`logged_consent`]).
pub async fn receipt(
    state: &AppState,
    tenant: &TenantId,
    consent_id: &str,
) -> Result<SignedReceipt, ServiceError> {
    let row = store::consents::get(&state.db, tenant, consent_id)
        .await?
        .ok_or(ServiceError::ConsentNotFound)?;
    let (consent, leaf_hash) = logged_consent(state, tenant, &row).await?;
    sign_receipt(state, tenant, &consent, &leaf_hash)
}

/// The consent as the log records it. The row names the entries; each must be the ledger's
/// own (its hashed fields reproduce the leaf hash the ledger's tree and latest checkpoint
/// hold), be for this consent, and commit to the row's customer. Every field a receipt shows
/// then comes from the entries, so an edited row can change no receipt: it gets `LogMismatch`.
/// Returns the consent and the grant entry's leaf hash (hex).
pub(crate) async fn logged_consent(
    state: &AppState,
    tenant: &TenantId,
    row: &ConsentRow,
) -> Result<(ConsentRow, String), ServiceError> {
    let mismatch = |what: String| {
        tracing::error!(tenant = %tenant, consent = %row.consent_id, fault = %what, "consent row disagrees with the log");
        ServiceError::LogMismatch(what)
    };
    let entry_at = |index: i64| async move {
        let entry = store::ledger::entry(&state.db, tenant.as_str(), index as u64)
            .await?
            .ok_or_else(|| mismatch(format!("log entry {index} does not exist")))?;
        state
            .ledger
            .check_entry(tenant, &entry)
            .await
            .map_err(|e| mismatch(e.to_string()))?;
        Ok::<_, ServiceError>(entry)
    };
    let grant_entry = entry_at(row.ledger_index).await?;
    let grant = super::logged::grant_from_entry(&grant_entry, &row.consent_id)
        .map_err(|e| mismatch(e.to_string()))?;
    let salt = store::ledger::salt(&state.db, tenant.as_str(), &row.customer_ref).await?;
    let committed = salt
        .map(|salt| crate::ledger::entry::customer_commitment(&salt, &row.customer_ref).to_vec());
    if committed.is_none() || committed != grant_entry.customer_commitment {
        return Err(mismatch(format!(
            "log entry {} does not commit to the row's customer",
            grant.index
        )));
    }
    let end = match row.end_ledger_index {
        Some(index) => {
            let entry = entry_at(index).await?;
            let end = super::logged::end_from_entry(&entry).map_err(|e| mismatch(e.to_string()))?;
            if end.consent_id != row.consent_id {
                return Err(mismatch(format!(
                    "log entry {index} ends consent {}, not this one",
                    end.consent_id
                )));
            }
            Some(end)
        }
        // The row names no end: ask the log itself (by the grant's customer commitment), so a
        // withdrawal cannot be undone by nulling a column.
        None => {
            let commitment = committed.as_deref().unwrap_or_default();
            let ends = store::ledger::consent_ends(
                &state.db,
                tenant.as_str(),
                commitment,
                grant.index,
                &row.consent_id,
            )
            .await?;
            match ends.first() {
                Some(entry) => {
                    state
                        .ledger
                        .check_entry(tenant, entry)
                        .await
                        .map_err(|e| mismatch(e.to_string()))?;
                    Some(
                        super::logged::end_from_entry(entry)
                            .map_err(|e| mismatch(e.to_string()))?,
                    )
                }
                None => None,
            }
        }
    };
    Ok((
        grant.to_row(&row.customer_ref, end.as_ref()),
        hex::encode(&grant_entry.leaf_hash),
    ))
}

pub async fn list(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Vec<ConsentRow>, ServiceError> {
    ensure_customer(state, tenant, customer).await?;
    Ok(store::consents::for_customer(&state.db, tenant, customer).await?)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Withdrawn {
    pub consent_id: String,
    pub log_index: u64,
    /// Signed receipt of the withdrawal (Kantara fields of the grant, plus the withdrawal's
    /// time, method and log position, and the grant's log position).
    pub receipt: SignedReceipt,
}

/// A consent that this call ended, with the log entry that records the end.
pub(crate) struct Ended {
    pub consent: ConsentRow,
    pub log: LedgerReceipt,
}

/// Withdraw every consent in force for the customer and purpose (optionally only those of one
/// session). Idempotent: nothing in force is a clear, successful answer with nothing ended.
pub async fn withdraw(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    purpose: Purpose,
    session: Option<&str>,
    method: &str,
) -> Result<Vec<Withdrawn>, ServiceError> {
    ensure_customer(state, tenant, customer).await?;
    let now = now_ms();
    let open =
        store::consents::in_force(&state.db, tenant, customer, purpose.as_str(), session, now)
            .await?;
    let mut ended = Vec::new();
    for consent in open {
        if let Some(e) = end_consent(state, tenant, &consent, "withdrawn", method, now).await? {
            let receipt = sign_withdrawal_receipt(state, tenant, &e, method).await?;
            ended.push(Withdrawn {
                consent_id: e.consent.consent_id,
                log_index: e.log.index,
                receipt,
            });
        }
    }
    if !ended.is_empty() {
        super::retention::destroy_if_purpose_ended(state, tenant, customer, purpose).await?;
    }
    Ok(ended)
}

/// End one consent (withdrawn or expired): the row first, listeners at once, then the log.
pub(crate) async fn end_consent(
    state: &AppState,
    tenant: &TenantId,
    consent: &ConsentRow,
    reason: &'static str,
    method: &str,
    now: i64,
) -> Result<Option<Ended>, ServiceError> {
    if !store::consents::end(&state.db, tenant, &consent.consent_id, now, reason).await? {
        return Ok(None); // someone else ended it first
    }
    let event = match reason {
        "expired" => "consent_expired",
        _ => "consent_withdrawn",
    };
    if let Some(session) = &consent.session_id {
        state.consents.hub.publish(SessionEvent {
            tenant: tenant.to_string(),
            session_id: session.clone(),
            event,
            consent_id: consent.consent_id.clone(),
            purpose: consent.purpose.clone(),
            at: now,
        });
    }
    let customer: Option<CustomerRef> = consent.customer_ref.parse().ok();
    let logged = state
        .ledger
        .append(
            tenant,
            LedgerEvent {
                kind: event.into(),
                customer,
                session_id: consent.session_id.clone(),
                body: json!({
                    "consent_id": consent.consent_id,
                    "purpose": consent.purpose,
                    "reason": reason,
                    "method": method,
                    "ended_at": now,
                }),
            },
        )
        .await?;
    store::consents::set_end_ledger_index(&state.db, tenant, &consent.consent_id, logged.index)
        .await?;
    metrics::counter!("trustline_consent_events_total", "event" => reason).increment(1);
    let mut consent = consent.clone();
    consent.ended_at = Some(now);
    consent.end_reason = Some(reason.to_string());
    consent.end_ledger_index = Some(logged.index as i64);
    Ok(Some(Ended {
        consent,
        log: logged,
    }))
}

/// The withdrawal receipt, built from the grant and withdrawal entries the log holds.
async fn sign_withdrawal_receipt(
    state: &AppState,
    tenant: &TenantId,
    ended: &Ended,
    method: &str,
) -> Result<SignedReceipt, ServiceError> {
    let (consent, grant_leaf) = logged_consent(state, tenant, &ended.consent).await?;
    let (spec, controller) = receipt_context(state, tenant, &consent)?;
    let doc = receipt::build_withdrawal(
        &consent,
        spec,
        controller,
        &log_position(consent.ledger_index as u64, grant_leaf),
        &log_position(ended.log.index, hex::encode(ended.log.leaf_hash)),
        method,
    );
    sign(state, doc)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CameraGrant {
    /// Compact JWS (EdDSA, typ `trustline-camera-grant+jwt`); verify offline with the JWKS.
    pub grant: String,
    pub grant_id: String,
    pub consent_id: String,
    /// Seconds since the epoch.
    pub expires_at: i64,
    pub log_index: u64,
}

/// The consents for `purpose` (of this session, if given) in force *as the log records them*:
/// each row only locates its grant entry; the logged grant (and any logged end, see
/// [`logged_consent`]) decides. A planted, extended or un-withdrawn row yields nothing; a row
/// that disagrees with the log is skipped (logged where found); other errors fail the call.
pub(crate) async fn confirmed_in_force(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    purpose: Purpose,
    session: Option<&str>,
    now: i64,
) -> Result<Vec<ConsentRow>, ServiceError> {
    let rows =
        store::consents::in_force(&state.db, tenant, customer, purpose.as_str(), session, now)
            .await?;
    let mut confirmed = Vec::new();
    for row in &rows {
        match logged_consent(state, tenant, row).await {
            Ok((logged, _))
                if logged.purpose == purpose.as_str()
                    && session.is_none_or(|s| logged.session_id.as_deref() == Some(s))
                    && rules::in_force(logged.ended_at, logged.valid_until, now) =>
            {
                confirmed.push(logged);
            }
            Ok(_) => {
                tracing::error!(tenant = %tenant, consent = %row.consent_id, "consent row in force but its log entries say otherwise; refused");
            }
            Err(ServiceError::LogMismatch(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(confirmed)
}

/// A short-lived camera grant, only while an explicit camera consent for this customer and
/// session is in force; otherwise `ConsentRequired` with the notice to show.
///
/// The session id is opaque here: the sessions work validates that it names an open session
/// of this tenant and customer before calling this (see `http::consent`).
pub async fn camera_grant(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
    customer: &CustomerRef,
) -> Result<CameraGrant, ServiceError> {
    ensure_customer(state, tenant, customer).await?;
    check_session(state, tenant, customer, session_id).await?;
    let now = now_ms();
    let confirmed = confirmed_in_force(
        state,
        tenant,
        customer,
        Purpose::Camera,
        Some(session_id),
        now,
    )
    .await?;
    let Some(consent) = confirmed.into_iter().max_by_key(|c| c.valid_until) else {
        return Err(consent_required(state, tenant, Purpose::Camera));
    };
    let grant_id = new_id()?;
    let expires_at = (now / 1000 + CAMERA_GRANT_TTL_SECS).min(consent.valid_until / 1000);
    // The customer's choice (mode, blur, recording, retention) travels in the grant, so the
    // video platform enforces exactly what was allowed.
    let choice: Option<Value> = consent
        .terms
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok());
    let claims = json!({
        "use": "camera_grant",
        "tenant": tenant.as_str(),
        "sid": session_id,
        "consent_id": consent.consent_id,
        "choice": choice,
        "jti": grant_id,
        "iat": now / 1000,
        "exp": expires_at,
    });
    let grant = state
        .signer
        .sign_jws(&claims, CAMERA_GRANT_TYP)
        .map_err(|e| ServiceError::Signing(e.to_string()))?;
    let logged = state
        .ledger
        .append(
            tenant,
            LedgerEvent {
                kind: "camera_grant_issued".into(),
                customer: Some(customer.clone()),
                session_id: Some(session_id.to_string()),
                body: json!({"consent_id": consent.consent_id, "grant_id": grant_id, "exp": expires_at}),
            },
        )
        .await?;
    Ok(CameraGrant {
        grant,
        grant_id,
        consent_id: consent.consent_id,
        expires_at,
        log_index: logged.index,
    })
}

pub fn consent_required(state: &AppState, tenant: &TenantId, purpose: Purpose) -> ServiceError {
    let set = state.consents.catalogue.for_tenant(tenant.as_str());
    match set
        .get(purpose)
        .and_then(|s| s.current_notice().map(|n| (s, n)))
    {
        Some((spec, notice)) => ServiceError::ConsentRequired {
            purpose,
            notice: Box::new(notice.clone()),
            accepted_methods: spec.accepted_methods.clone(),
        },
        None => ServiceError::UnknownPurpose(purpose.as_str().into()),
    }
}
