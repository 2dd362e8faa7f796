//! Customer links: the I/O around [`super::links`] (mint, deliver, open, redeem) and the camera
//! choice made on the page a camera link opens ([`super::camera_choice`]).
//!
//! Every step is an entry in the tenant's tamper-evident log: `customer_link_requested` (which
//! API key asked), `customer_link_delivered` (the webhook took it), `customer_link_opened`,
//! `customer_link_code_shown` (which agent saw the code), `customer_link_code_rejected` /
//! `customer_link_locked`, `customer_link_redeemed`, and `camera_choice_decided` (what the
//! customer chose; the consent grant and withdrawal it causes are logged as usual).

use serde::Serialize;
use serde_json::{Value, json};

use super::{
    ConsentScope, Purpose,
    camera_choice::{self, CameraChoice, CameraMode, CameraOptions, ChoiceError, ChoiceRequest},
    events::SessionEvent,
    links::{
        self, CODE_DIGITS, LINK_TTL_MS, LinkPurpose, LinkRefusal, LinkState, MAX_CODE_ATTEMPTS,
        MintRefusal, SessionFacts,
    },
    service::{self as consent_service, CaptureRequest, GrantCommand, ServiceError},
};
use crate::{
    AppState,
    factors::codes,
    ledger::{LedgerError, LedgerEvent},
    oidc::service::{random_token, token_hash},
    store::{
        self, StoreError,
        customer_links::{NewLink, StoredLink},
        now_ms,
    },
    tenants::{CustomerRef, TenantId},
};

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no such session for this tenant")]
    SessionNotFound,
    #[error(transparent)]
    Mint(#[from] MintRefusal),
    #[error(transparent)]
    Refused(#[from] LinkRefusal),
    #[error("this link does not lead to a camera choice")]
    NotCamera,
    #[error(transparent)]
    Choice(#[from] ChoiceError),
    #[error(transparent)]
    Consent(#[from] ServiceError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no secure random numbers available")]
    Random,
}

/// What the platform is told when it asks for a link: where it goes and until when, never the
/// confirmation code.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkRequested {
    pub link_id: String,
    pub purpose: LinkPurpose,
    pub session_id: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: i64,
    /// `webhook` when the tenant's webhook will carry the link (event `customer_link`), else
    /// `embed_only`.
    pub delivery: &'static str,
    /// The same link for a customer already in the tenant's app or web chat (open it in the
    /// app's web view). It still needs the code the agent reads out.
    pub embed_url: String,
    /// SHA-256 of the link's token (kept by the passkey step-up request; never serialised).
    #[serde(skip)]
    #[schema(ignore)]
    pub token_hash: String,
}

fn link_state(l: &StoredLink) -> LinkState {
    LinkState {
        expires_at: l.expires_at,
        redeemed: l.redeemed_at.is_some(),
        locked: l.locked_at.is_some(),
        attempts: l.attempts,
    }
}

fn customer_of(l: &StoredLink) -> Option<CustomerRef> {
    l.customer_ref.parse().ok()
}

async fn log(
    state: &AppState,
    link: &StoredLink,
    kind: &str,
    body: Value,
) -> Result<(), LinkError> {
    let mut body = body;
    body["link_id"] = json!(link.link_id);
    body["purpose"] = json!(link.purpose);
    state
        .ledger
        .append(
            &link.tenant_id,
            LedgerEvent {
                kind: kind.into(),
                customer: customer_of(link),
                session_id: Some(link.session_id.clone()),
                body,
            },
        )
        .await?;
    Ok(())
}

/// Mint a link for a session of this tenant, queue it on the tenant's webhook, log who asked.
pub async fn request(
    state: &AppState,
    tenant: &TenantId,
    minted_by: &str,
    purpose: LinkPurpose,
    session_id: &str,
) -> Result<LinkRequested, LinkError> {
    let session = store::sessions::get(&state.db, tenant, session_id)
        .await?
        .ok_or(LinkError::SessionNotFound)?;
    let now = now_ms();
    links::check_mint(
        purpose,
        &SessionFacts {
            outcome: &session.outcome,
            verified_at: session.verified_at,
            expires_at: session.expires_at,
        },
        now,
    )?;
    let token = random_token().map_err(|_| LinkError::Random)?;
    let hashed = token_hash(&token);
    let code = codes::numeric_code(CODE_DIGITS).map_err(|_| LinkError::Random)?;
    let link_id = hex::encode(codes::random_bytes::<12>().map_err(|_| LinkError::Random)?);
    let outbox_id = hex::encode(codes::random_bytes::<12>().map_err(|_| LinkError::Random)?);
    let expires_at = (now + LINK_TTL_MS).min(session.expires_at);
    let url = format!("{}/l/{token}", state.settings.public_url);
    let webhook = store::factors::webhook(&state.db, tenant.as_str())
        .await?
        .is_some();
    let delivery = if webhook { "webhook" } else { "embed_only" };
    // Logged before it exists: a link is never usable without its request in the log.
    state
        .ledger
        .append(
            tenant,
            LedgerEvent {
                kind: "customer_link_requested".into(),
                customer: session.customer_ref.parse().ok(),
                session_id: Some(session_id.to_string()),
                body: json!({
                    "link_id": link_id,
                    "purpose": purpose.as_str(),
                    "minted_by": minted_by,
                    "delivery": delivery,
                    "expires_at": expires_at,
                }),
            },
        )
        .await?;
    let payload = json!({
        "event": "customer_link",
        "purpose": purpose.as_str(),
        "link_id": link_id,
        "session_id": session_id,
        "customer_ref": session.customer_ref,
        "url": url,
        "expires_at": expires_at,
    })
    .to_string();
    store::customer_links::insert(
        &state.db,
        &NewLink {
            tenant,
            link_id: &link_id,
            purpose: purpose.as_str(),
            customer_ref: &session.customer_ref,
            session_id,
            token_hash: &hashed,
            agent_code: code.as_str(),
            minted_by,
            created_at: now,
            expires_at,
        },
        webhook.then_some((outbox_id.as_str(), payload.as_str())),
    )
    .await?;
    metrics::counter!("trustline_customer_links_total", "event" => "requested", "purpose" => purpose.as_str()).increment(1);
    Ok(LinkRequested {
        link_id,
        purpose,
        session_id: session_id.to_string(),
        expires_at,
        delivery,
        embed_url: format!("{url}?view=embed"),
        token_hash: hashed,
    })
}

/// Log the webhook delivery of a link once the outbox reports it delivered.
pub async fn log_delivery(state: &AppState, link: &StoredLink) -> Result<(), LinkError> {
    let Some(outbox_id) = &link.outbox_id else {
        return Ok(());
    };
    if link.delivery_logged.is_some() {
        return Ok(());
    }
    let delivered = matches!(
        store::factors::outbox_status(&state.db, outbox_id).await?,
        Some((status, _)) if status == "delivered"
    );
    if delivered
        && store::customer_links::mark_delivery_logged(
            &state.db,
            &link.tenant_id,
            &link.link_id,
            now_ms(),
        )
        .await?
    {
        log(
            state,
            link,
            "customer_link_delivered",
            json!({"via": "webhook"}),
        )
        .await?;
    }
    Ok(())
}

async fn find(state: &AppState, token: &str) -> Result<StoredLink, LinkError> {
    if token.is_empty() || token.len() > 128 {
        return Err(LinkRefusal::Invalid.into());
    }
    store::customer_links::by_token(&state.db, &token_hash(token))
        .await?
        .ok_or(LinkError::Refused(LinkRefusal::Invalid))
}

/// The landing page: the link must still be usable; the first open is logged.
pub async fn open(state: &AppState, token: &str) -> Result<StoredLink, LinkError> {
    let link = find(state, token).await?;
    links::check_open(&link_state(&link), now_ms())?;
    log_delivery(state, &link).await?;
    if store::customer_links::mark_opened(&state.db, &link.tenant_id, &link.link_id, now_ms())
        .await?
    {
        log(state, &link, "customer_link_opened", json!({})).await?;
    }
    Ok(link)
}

/// Redeem with the code the agent read out. Wrong codes count towards the lock.
pub async fn redeem(state: &AppState, token: &str, code: &str) -> Result<StoredLink, LinkError> {
    let link = find(state, token).await?;
    let now = now_ms();
    links::check_open(&link_state(&link), now)?;
    if !LinkPurpose::parse(&link.purpose).is_some_and(LinkPurpose::redeemed_by_code) {
        // A passkey link is confirmed by the passkey alone, never by a code.
        return Err(LinkRefusal::Invalid.into());
    }
    let expected = link.agent_code.clone().unwrap_or_default();
    if !links::code_matches(&expected, code) {
        let attempts = store::customer_links::count_wrong_code(
            &state.db,
            &link.tenant_id,
            &link.link_id,
            MAX_CODE_ATTEMPTS,
            now,
        )
        .await?;
        if attempts >= MAX_CODE_ATTEMPTS {
            log(
                state,
                &link,
                "customer_link_locked",
                json!({"attempts": attempts}),
            )
            .await?;
            return Err(LinkRefusal::Locked.into());
        }
        log(
            state,
            &link,
            "customer_link_code_rejected",
            json!({"attempts": attempts}),
        )
        .await?;
        return Err(LinkRefusal::WrongCode {
            attempts_left: MAX_CODE_ATTEMPTS - attempts,
        }
        .into());
    }
    if !store::customer_links::redeem(
        &state.db,
        &link.tenant_id,
        &link.link_id,
        MAX_CODE_ATTEMPTS,
        now,
    )
    .await?
    {
        return Err(LinkRefusal::Used.into());
    }
    log(
        state,
        &link,
        "customer_link_redeemed",
        json!({
            "minted_by": link.minted_by,
            "redeemed_by": "customer_device",
            "code_read_out_by": link.code_shown_to,
        }),
    )
    .await?;
    metrics::counter!("trustline_customer_links_total", "event" => "redeemed", "purpose" => link.purpose.clone()).increment(1);
    Ok(link)
}

/// Redeem a passkey link once its passkey assertion was verified (single use, like a code
/// redemption, and logged the same way with the passkey that confirmed it).
pub async fn redeem_by_passkey(
    state: &AppState,
    token: &str,
    passkey_id: &str,
) -> Result<StoredLink, LinkError> {
    let link = find(state, token).await?;
    let now = now_ms();
    links::check_open(&link_state(&link), now)?;
    if link.purpose != LinkPurpose::Passkey.as_str() {
        return Err(LinkRefusal::Invalid.into());
    }
    if !store::customer_links::redeem(
        &state.db,
        &link.tenant_id,
        &link.link_id,
        MAX_CODE_ATTEMPTS,
        now,
    )
    .await?
    {
        return Err(LinkRefusal::Used.into());
    }
    log(
        state,
        &link,
        "customer_link_redeemed",
        json!({
            "minted_by": link.minted_by,
            "redeemed_by": "passkey",
            "passkey_id": passkey_id,
        }),
    )
    .await?;
    metrics::counter!("trustline_customer_links_total", "event" => "redeemed", "purpose" => link.purpose.clone()).increment(1);
    Ok(link)
}

/// A usable link by its token, without logging an open (the passkey page's JSON calls).
pub async fn usable(state: &AppState, token: &str) -> Result<StoredLink, LinkError> {
    let link = find(state, token).await?;
    links::check_open(&link_state(&link), now_ms())?;
    Ok(link)
}

/// Tie a redeemed link to the browser session it started: only that device may use the page.
pub async fn bind_device(
    state: &AppState,
    link: &StoredLink,
    device_session: &str,
) -> Result<(), LinkError> {
    Ok(store::customer_links::bind_device(
        &state.db,
        &link.tenant_id,
        &link.link_id,
        device_session,
    )
    .await?)
}

/// What the customer has allowed in a session, as the agent and the platform see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChoiceState {
    /// `not_decided` (no choice yet), `decided`.
    pub state: &'static str,
    /// The choice in force (`audio_only` once the camera was refused or withdrawn).
    pub choice: Option<CameraChoice>,
    /// The camera consent that carries the choice, while one is in force.
    pub consent_id: Option<String>,
}

/// The camera choice in force for a session: the in-force camera consent's terms; camera off
/// once a decision was made and no consent is in force; otherwise not decided.
pub async fn choice_state(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
) -> Result<ChoiceState, LinkError> {
    let now = now_ms();
    let session = store::sessions::get(&state.db, tenant, session_id).await?;
    if let Some(customer) = session
        .as_ref()
        .and_then(|s| s.customer_ref.parse::<CustomerRef>().ok())
    {
        let open = store::consents::in_force(
            &state.db,
            tenant,
            &customer,
            Purpose::Camera.as_str(),
            Some(session_id),
            now,
        )
        .await?;
        if let Some(c) = open
            .iter()
            .filter(|c| c.session_id.as_deref() == Some(session_id))
            .max_by_key(|c| c.granted_at)
        {
            let choice = c
                .terms
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok());
            return Ok(ChoiceState {
                state: "decided",
                choice,
                consent_id: Some(c.consent_id.clone()),
            });
        }
    }
    let decided = store::customer_links::for_session(&state.db, tenant, session_id)
        .await?
        .iter()
        .any(|l| l.purpose == LinkPurpose::Camera.as_str() && l.last_choice.is_some());
    Ok(if decided {
        ChoiceState {
            state: "decided",
            choice: Some(CameraChoice {
                mode: CameraMode::AudioOnly,
                background_blur: false,
                recording_allowed: false,
                retention_days: None,
            }),
            consent_id: None,
        }
    } else {
        ChoiceState {
            state: "not_decided",
            choice: None,
            consent_id: None,
        }
    })
}

/// A camera link's page, for the device that redeemed it, while its session is live.
pub async fn camera_link(
    state: &AppState,
    tenant: &TenantId,
    link_id: &str,
    device_session: &str,
) -> Result<StoredLink, LinkError> {
    let link = store::customer_links::get(&state.db, tenant, link_id)
        .await?
        .ok_or(LinkError::Refused(LinkRefusal::Invalid))?;
    if link.purpose != LinkPurpose::Camera.as_str() {
        return Err(LinkError::NotCamera);
    }
    if link.redeemed_at.is_none() || link.device_session.as_deref() != Some(device_session) {
        return Err(LinkRefusal::OtherDevice.into());
    }
    let session = store::sessions::get(&state.db, tenant, &link.session_id)
        .await?
        .ok_or(LinkError::SessionNotFound)?;
    if session.expires_at <= now_ms() {
        return Err(MintRefusal::SessionEnded.into());
    }
    Ok(link)
}

/// The options the tenant's camera policy offers.
pub fn camera_options(state: &AppState, tenant: &TenantId) -> CameraOptions {
    state
        .consents
        .catalogue
        .for_tenant(tenant.as_str())
        .get(Purpose::Camera)
        .and_then(|s| s.camera_choices.clone())
        .unwrap_or_else(CameraOptions::minimal)
}

/// Record the customer's choice from their own device: validated against the policy first
/// (nothing changes on a choice it does not offer); then the camera consent in force is ended
/// and, for a video mode, a new one granted carrying the choice. Pushed to the session's
/// listeners at once.
pub async fn decide(
    state: &AppState,
    link: &StoredLink,
    language: &str,
    request: &ChoiceRequest,
) -> Result<CameraChoice, LinkError> {
    let tenant = &link.tenant_id;
    let choice = camera_choice::validate(&camera_options(state, tenant), request)?;
    let customer = customer_of(link).ok_or(LinkError::Refused(LinkRefusal::Invalid))?;
    let session = link.session_id.as_str();
    let current = choice_state(state, tenant, session).await?;
    if current.state == "decided" && current.choice.as_ref() == Some(&choice) {
        return Ok(choice); // the same tap twice changes nothing
    }
    // The consents this choice replaces. The new one is granted first and the old ones ended
    // after, so the session never shows "camera off" in between a change (the newest consent
    // is the one in force: camera grants and the agent view read it).
    let previous: Vec<_> = store::consents::in_force(
        &state.db,
        tenant,
        &customer,
        Purpose::Camera.as_str(),
        Some(session),
        now_ms(),
    )
    .await?
    .into_iter()
    .filter(|c| c.session_id.as_deref() == Some(session))
    .collect();
    let terms = serde_json::to_value(&choice).map_err(|_| LinkError::Random)?;
    let mut consent_id = None;
    if choice.mode != CameraMode::AudioOnly {
        let spec_notice = state
            .consents
            .catalogue
            .for_tenant(tenant.as_str())
            .get(Purpose::Camera)
            .and_then(|s| s.current_notice().map(|n| n.version.clone()))
            .ok_or_else(|| ServiceError::UnknownPurpose("camera".into()))?;
        // The customer's own device, signed in by redeeming the link: the credential is minted
        // here for this customer and session only (never reachable with an API key).
        let credential = consent_service::issue_customer_credential(
            &state.signer,
            tenant,
            &customer,
            Some(session),
            120,
        )?;
        let granted = consent_service::grant(
            state,
            tenant,
            GrantCommand {
                customer: customer.clone(),
                purpose: Purpose::Camera,
                notice_version: spec_notice,
                language: language.to_string(),
                capture: CaptureRequest::CustomerDevice {
                    customer_credential: credential,
                },
                scope: Some(ConsentScope::Session),
                session_id: Some(session.to_string()),
                valid_for_secs: None,
                terms: Some(terms.clone()),
            },
        )
        .await?;
        consent_id = Some(granted.consent.consent_id);
    }
    for old in &previous {
        consent_service::end_consent(state, tenant, old, "withdrawn", "customer_device", now_ms())
            .await?;
    }
    store::customer_links::set_last_choice(&state.db, tenant, &link.link_id, &terms.to_string())
        .await?;
    log(
        state,
        link,
        "camera_choice_decided",
        json!({"choice": terms, "consent_id": consent_id, "by": "customer_device"}),
    )
    .await?;
    let decision_id = consent_service::new_id()?;
    state.consents.hub.publish(SessionEvent {
        tenant: tenant.to_string(),
        session_id: session.to_string(),
        event: "camera_choice",
        consent_id: consent_id.unwrap_or(decision_id),
        purpose: Purpose::Camera.as_str().into(),
        at: now_ms(),
    });
    Ok(choice)
}

/// A link of a session as the agent sees it: status, and the code to read out while it can
/// still be redeemed. The first time an agent is shown a code is logged with their name.
#[derive(Debug, Clone, Serialize)]
pub struct AgentLinkView {
    pub link_id: String,
    pub purpose: String,
    /// pending | opened | redeemed | locked | expired
    pub status: &'static str,
    pub code: Option<String>,
    pub expires_at: i64,
}

pub async fn agent_links(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
    agent: &str,
) -> Result<Vec<AgentLinkView>, LinkError> {
    let now = now_ms();
    let mut out = Vec::new();
    for link in store::customer_links::for_session(&state.db, tenant, session_id).await? {
        log_delivery(state, &link).await?;
        let status = match links::check_open(&link_state(&link), now) {
            Err(LinkRefusal::Used) => "redeemed",
            Err(LinkRefusal::Locked) => "locked",
            Err(_) => "expired",
            Ok(()) if link.opened_at.is_some() => "opened",
            Ok(()) => "pending",
        };
        let by_code = LinkPurpose::parse(&link.purpose).is_some_and(LinkPurpose::redeemed_by_code);
        let code = if by_code && matches!(status, "pending" | "opened") {
            if store::customer_links::mark_code_shown(&state.db, tenant, &link.link_id, agent)
                .await?
            {
                log(
                    state,
                    &link,
                    "customer_link_code_shown",
                    json!({"agent": agent}),
                )
                .await?;
            }
            link.agent_code.clone()
        } else {
            None
        };
        out.push(AgentLinkView {
            link_id: link.link_id.clone(),
            purpose: link.purpose.clone(),
            status,
            code,
            expires_at: link.expires_at,
        });
    }
    Ok(out)
}
