//! The I/O around passkey ceremonies: ceremony state in the database between the two halves
//! (any instance can finish what another began), passkeys stored per customer, every
//! registration, removal and use in the tenant's log.

use base64::Engine as _;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
    Webauthn, WebauthnBuilder,
};

use super::{
    Binding, CEREMONY_TTL_MS, CeremonyKind, MAX_PASSKEYS_PER_CUSTOMER, PasskeyError, Refusal,
};
use crate::{
    AppState,
    ledger::LedgerEvent,
    store::{self, now_ms, passkeys::StoredPasskey},
    tenants::{CustomerRef, TenantId},
};

/// The relying party: this service's public origin, its host as the RP id. Built per use (it
/// only parses the URL); refused when the host is not a domain name.
pub fn relying_party(public_url: &str, rp_name: &str) -> Result<Webauthn, PasskeyError> {
    let origin = Url::parse(public_url)
        .map_err(|e| PasskeyError::Unavailable(format!("public_url is not a URL: {e}")))?;
    let rp_id = origin.domain().ok_or_else(|| {
        PasskeyError::Unavailable(
            "public_url's host must be a domain name (WebAuthn RP ids cannot be IP addresses)"
                .into(),
        )
    })?;
    WebauthnBuilder::new(rp_id, &origin)
        .and_then(|b| b.rp_name(rp_name).build())
        .map_err(|e| PasskeyError::Unavailable(e.to_string()))
}

async fn tenant_relying_party(
    state: &AppState,
    tenant: &TenantId,
) -> Result<Webauthn, PasskeyError> {
    let name = store::tenants::get(&state.db, tenant)
        .await?
        .map(|t| t.name)
        .unwrap_or_else(|| tenant.to_string());
    relying_party(&state.settings.public_url, &name)
}

fn random_id(prefix: &str) -> Result<String, PasskeyError> {
    let bytes = crate::factors::codes::random_bytes::<16>()
        .map_err(|e| PasskeyError::Internal(e.to_string()))?;
    Ok(format!("{prefix}_{}", hex::encode(bytes)))
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn internal(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Internal(e.to_string())
}

/// What the privacy centre shows of a passkey.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PasskeySummary {
    pub passkey_id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<&StoredPasskey> for PasskeySummary {
    fn from(p: &StoredPasskey) -> Self {
        Self {
            passkey_id: p.passkey_id.clone(),
            name: p.name.clone(),
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

pub async fn list(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Vec<PasskeySummary>, PasskeyError> {
    Ok(store::passkeys::for_customer(&state.db, tenant, customer)
        .await?
        .iter()
        .map(PasskeySummary::from)
        .collect())
}

fn decode_passkeys(rows: &[StoredPasskey]) -> Result<Vec<Passkey>, PasskeyError> {
    rows.iter()
        .map(|r| serde_json::from_str::<Passkey>(&r.credential).map_err(internal))
        .collect()
}

async fn log(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    session_id: Option<String>,
    kind: &str,
    body: serde_json::Value,
) -> Result<(), PasskeyError> {
    state
        .ledger
        .append(
            tenant,
            LedgerEvent {
                kind: kind.into(),
                customer: Some(customer.clone()),
                session_id,
                body,
            },
        )
        .await
        .map(|_| ())
        .map_err(internal)
}

/// Begin registering a passkey: the browser's `navigator.credentials.create()` options, and
/// the ceremony id to finish with. The customer's existing passkeys are excluded (an
/// authenticator that holds one already says so instead of making a second).
pub async fn start_registration(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    binding: &Binding,
) -> Result<(String, CreationChallengeResponse), PasskeyError> {
    let webauthn = tenant_relying_party(state, tenant).await?;
    let existing = store::passkeys::for_customer(&state.db, tenant, customer).await?;
    if existing.len() >= MAX_PASSKEYS_PER_CUSTOMER {
        return Err(PasskeyError::TooMany);
    }
    let handle =
        store::passkeys::user_handle(&state.db, tenant, customer, &Uuid::new_v4().to_string())
            .await?;
    let handle = Uuid::parse_str(&handle).map_err(internal)?;
    let exclude = decode_passkeys(&existing)?
        .iter()
        .map(|p| p.cred_id().clone())
        .collect::<Vec<_>>();
    // The name the authenticator shows in its account picker: the tenant's name, never the
    // customer reference (authenticators may sync it to other devices and cloud accounts).
    let label = store::tenants::get(&state.db, tenant)
        .await?
        .map(|t| t.name)
        .unwrap_or_else(|| tenant.to_string());
    let (options, registration) = webauthn
        .start_passkey_registration(handle, &label, &label, Some(exclude))
        .map_err(internal)?;
    let ceremony_id = begin_ceremony(
        state,
        tenant,
        customer,
        binding,
        CeremonyKind::Registration,
        &registration,
    )
    .await?;
    Ok((ceremony_id, options))
}

/// Store a ceremony's state (webauthn-rs's, serialised) under a new id, bound to the browser
/// session or request that started it; [`take`] is its single-use counterpart.
async fn begin_ceremony(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    binding: &Binding,
    kind: CeremonyKind,
    ceremony: &impl serde::Serialize,
) -> Result<String, PasskeyError> {
    let ceremony_id = random_id("pkc")?;
    store::passkeys::insert_ceremony(
        &state.db,
        tenant,
        &store::passkeys::Ceremony {
            ceremony_id: ceremony_id.clone(),
            customer_ref: customer.to_string(),
            kind: kind.as_str().into(),
            bound_to: binding.to_string(),
            state: serde_json::to_string(ceremony).map_err(internal)?,
            expires_at: now_ms() + CEREMONY_TTL_MS,
        },
    )
    .await?;
    Ok(ceremony_id)
}

/// The ceremony's state, taken (single use) and checked to be this customer's and unexpired.
async fn take<T: serde::de::DeserializeOwned>(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    binding: &Binding,
    kind: CeremonyKind,
    ceremony_id: &str,
) -> Result<T, PasskeyError> {
    if ceremony_id.len() > 64 {
        return Err(PasskeyError::CeremonyInvalid);
    }
    let ceremony = store::passkeys::take_ceremony(
        &state.db,
        tenant,
        ceremony_id,
        kind.as_str(),
        &binding.to_string(),
    )
    .await?
    .ok_or(PasskeyError::CeremonyInvalid)?;
    if ceremony.customer_ref != customer.as_str() || ceremony.expires_at <= now_ms() {
        return Err(PasskeyError::CeremonyInvalid);
    }
    serde_json::from_str(&ceremony.state).map_err(internal)
}

/// Finish registering: webauthn-rs verifies the attestation response against the ceremony
/// (challenge, origin, RP id hash, user verification); the passkey is stored and logged.
pub async fn finish_registration(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    binding: &Binding,
    ceremony_id: &str,
    name: &str,
    response: &RegisterPublicKeyCredential,
) -> Result<PasskeySummary, PasskeyError> {
    let name = super::passkey_name(name)?;
    let registration: PasskeyRegistration = take(
        state,
        tenant,
        customer,
        binding,
        CeremonyKind::Registration,
        ceremony_id,
    )
    .await?;
    let webauthn = tenant_relying_party(state, tenant).await?;
    let passkey = webauthn
        .finish_passkey_registration(response, &registration)
        .map_err(|e| {
            tracing::warn!(error = %e, "passkey registration refused");
            match e {
                webauthn_rs::prelude::WebauthnError::CredentialExcludedFromRequest => {
                    PasskeyError::AlreadyRegistered
                }
                e => PasskeyError::Refused(Refusal::from_webauthn(&e)),
            }
        })?;
    let stored = StoredPasskey {
        passkey_id: random_id("pk")?,
        customer_ref: customer.to_string(),
        credential_id: b64url(passkey.cred_id()),
        credential: serde_json::to_string(&passkey).map_err(internal)?,
        name,
        created_at: now_ms(),
        last_used_at: None,
    };
    match store::passkeys::insert(&state.db, tenant, &stored).await {
        Ok(()) => {}
        Err(store::StoreError::Duplicate) => return Err(PasskeyError::AlreadyRegistered),
        Err(e) => return Err(e.into()),
    }
    log(
        state,
        tenant,
        customer,
        None,
        "passkey_registered",
        serde_json::json!({ "passkey_id": stored.passkey_id, "by": "privacy_centre" }),
    )
    .await?;
    tracing::info!(tenant = %tenant, passkey_id = %stored.passkey_id, "passkey registered");
    Ok(PasskeySummary::from(&stored))
}

/// Begin an assertion with the customer's own passkeys as the allow list.
pub async fn start_authentication(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    binding: &Binding,
) -> Result<(String, RequestChallengeResponse), PasskeyError> {
    let webauthn = tenant_relying_party(state, tenant).await?;
    let rows = store::passkeys::for_customer(&state.db, tenant, customer).await?;
    if rows.is_empty() {
        return Err(PasskeyError::NoPasskey);
    }
    let passkeys = decode_passkeys(&rows)?;
    let (options, authentication) = webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(internal)?;
    let ceremony_id = begin_ceremony(
        state,
        tenant,
        customer,
        binding,
        CeremonyKind::Authentication,
        &authentication,
    )
    .await?;
    Ok((ceremony_id, options))
}

/// Finish an assertion: webauthn-rs checks it against the ceremony and this customer's
/// passkeys (a credential of anyone else is not in the allow list); the signature counter is
/// moved forward conditionally, so a concurrent second use of one response loses. Returns the
/// passkey used. Nothing is written when the assertion is refused.
pub async fn finish_authentication(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    binding: &Binding,
    ceremony_id: &str,
    response: &PublicKeyCredential,
) -> Result<PasskeySummary, PasskeyError> {
    let authentication: PasskeyAuthentication = take(
        state,
        tenant,
        customer,
        binding,
        CeremonyKind::Authentication,
        ceremony_id,
    )
    .await?;
    let webauthn = tenant_relying_party(state, tenant).await?;
    let result = webauthn
        .finish_passkey_authentication(response, &authentication)
        .map_err(|e| {
            tracing::warn!(error = %e, "passkey assertion refused");
            PasskeyError::Refused(Refusal::from_webauthn(&e))
        })?;
    let rows = store::passkeys::for_customer(&state.db, tenant, customer).await?;
    let used = b64url(result.cred_id());
    let row = rows
        .iter()
        .find(|r| r.credential_id == used)
        // Removed between the two halves of the ceremony.
        .ok_or(PasskeyError::Refused(Refusal::CredentialNotAllowed))?;
    let mut passkey: Passkey = serde_json::from_str(&row.credential).map_err(internal)?;
    passkey.update_credential(&result);
    let updated = serde_json::to_string(&passkey).map_err(internal)?;
    if !store::passkeys::record_use(
        &state.db,
        tenant,
        &row.passkey_id,
        &row.credential,
        &updated,
    )
    .await?
    {
        return Err(PasskeyError::Refused(Refusal::CounterRegressed));
    }
    let mut summary = PasskeySummary::from(row);
    summary.last_used_at = Some(now_ms());
    Ok(summary)
}

/// Remove one of the customer's passkeys (from the privacy centre) and log it.
pub async fn remove(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    passkey_id: &str,
) -> Result<(), PasskeyError> {
    if passkey_id.len() > 64
        || !store::passkeys::delete(&state.db, tenant, customer, passkey_id).await?
    {
        return Err(PasskeyError::NotFound);
    }
    log(
        state,
        tenant,
        customer,
        None,
        "passkey_removed",
        serde_json::json!({ "passkey_id": passkey_id, "by": "privacy_centre" }),
    )
    .await
}
