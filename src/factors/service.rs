//! Factor enrolment and verification: the I/O around the pure factor maths.

use base64::Engine as _;
use zeroize::Zeroizing;

use super::{
    FactorKind,
    codes::{self, CodeError},
    qr, totp,
};
use crate::{
    AppState,
    crypto::{
        customer_key::{self, CustomerKeyError},
        envelope::context,
    },
    store::{self, StoreError, now_ms},
    tenants::{CustomerRef, TenantId},
};

/// One-time codes live this long.
pub const ONE_TIME_CODE_TTL_MS: i64 = 5 * 60 * 1000;
/// TOTP steps accepted either side of now (RFC 6238 §5.2 recommends at most one).
pub const TOTP_SKEW: u64 = 1;
/// How far out a correct TOTP is recognised as "outside the window" rather than wrong.
const TOTP_RECOGNISE: u64 = 20;

#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error("the customer is not registered")]
    NotRegistered,
    #[error("the customer has not enrolled this factor")]
    NotEnrolled,
    #[error("{0}")]
    Invalid(String),
    #[error("this code was already used")]
    Replayed,
    #[error("this code is outside the accepted time window")]
    OutsideWindow,
    #[error("no webhook is configured for this tenant; one-time codes cannot be delivered")]
    NoWebhook,
    #[error(transparent)]
    WebhookRefused(#[from] super::webhook_guard::GuardError),
    #[error("sealed factor secret could not be opened")]
    Crypto,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CustomerKeyError> for FactorError {
    fn from(e: CustomerKeyError) -> Self {
        match e {
            CustomerKeyError::Store(e) => FactorError::Store(e),
            CustomerKeyError::Envelope(_) => FactorError::Crypto,
        }
    }
}

impl From<CodeError> for FactorError {
    fn from(e: CodeError) -> Self {
        match e {
            CodeError::PinFormat => FactorError::Invalid(e.to_string()),
            _ => FactorError::Crypto,
        }
    }
}

async fn require_registered(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<(), FactorError> {
    store::customers::get(&state.db, tenant, customer)
        .await?
        .map(|_| ())
        .ok_or(FactorError::NotRegistered)
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// Key Uri Format, for authenticator apps.
    pub otpauth_uri: String,
    /// The same as a QR code, PNG, base64.
    pub qr_png_base64: String,
    pub qr_svg: String,
    pub algorithm: String,
    pub digits: u32,
    pub period_secs: u64,
}

/// Start (or restart) TOTP enrolment: a fresh 160-bit secret, sealed under the customer's data
/// key. The factor counts once the first code is confirmed.
pub async fn enrol_totp(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<TotpEnrolment, FactorError> {
    require_registered(state, tenant, customer).await?;
    let secret = Zeroizing::new(codes::random_bytes::<20>()?);
    let params = totp::Params::default();
    let key = customer_key::get_or_create(&state.db, &state.master_key, tenant, customer).await?;
    let sealed = key
        .seal(
            &context(tenant.as_str(), customer.as_str(), "totp"),
            secret.as_ref(),
        )
        .map_err(|_| FactorError::Crypto)?;
    store::factors::put_totp(
        &state.db,
        tenant,
        customer,
        &sealed,
        params.algorithm.as_str(),
        i64::from(params.digits),
        params.period_secs as i64,
        now_ms(),
    )
    .await?;
    let uri = totp::otpauth_uri(tenant.as_str(), customer.as_str(), secret.as_ref(), params);
    let png = qr::png(&uri, 6).map_err(|_| FactorError::Crypto)?;
    let svg = qr::svg(&uri).map_err(|_| FactorError::Crypto)?;
    Ok(TotpEnrolment {
        otpauth_uri: uri,
        qr_png_base64: base64::engine::general_purpose::STANDARD.encode(png),
        qr_svg: svg,
        algorithm: params.algorithm.as_str().into(),
        digits: params.digits,
        period_secs: params.period_secs,
    })
}

pub async fn set_pin(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    pin: Zeroizing<String>,
) -> Result<(), FactorError> {
    require_registered(state, tenant, customer).await?;
    codes::check_pin_format(&pin)?;
    let phc = state
        .password_hashing
        .run(move || codes::hash_pin(&pin))
        .await
        .map_err(|_| FactorError::Crypto)??;
    store::factors::put_pin(&state.db, tenant, customer, &phc, now_ms()).await?;
    Ok(())
}

/// Replace the customer's recovery codes; the plain codes are returned once, never stored.
pub async fn new_recovery_codes(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Vec<Zeroizing<String>>, FactorError> {
    require_registered(state, tenant, customer).await?;
    let plain = codes::recovery_codes(10)?;
    let mut rows = Vec::new();
    for (i, code) in plain.iter().enumerate() {
        let salt = codes::random_bytes::<16>()?.to_vec();
        let hash = codes::code_hash(&salt, code);
        rows.push((format!("{i:02}"), salt, hash));
    }
    store::factors::put_recovery_codes(&state.db, tenant, customer, &rows, now_ms()).await?;
    Ok(plain)
}

/// Set the tenant's webhook; returns the new signing secret (hex), shown once.
pub async fn set_webhook(
    state: &AppState,
    tenant: &TenantId,
    url: &str,
) -> Result<Zeroizing<String>, FactorError> {
    let parsed = url
        .parse::<axum::http::Uri>()
        .map_err(|_| FactorError::Invalid("url must be an absolute http(s) URL".into()))?;
    let (Some(scheme @ ("http" | "https")), Some(host)) = (parsed.scheme_str(), parsed.host())
    else {
        return Err(FactorError::Invalid(
            "url must be an absolute http(s) URL".into(),
        ));
    };
    let port = parsed
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    // SSRF: every address the host resolves to must be public (or allowed by the operator);
    // the delivery checks the address it connects to again.
    super::webhook_guard::check_host(&state.settings.webhook_allow_private, host, port).await?;
    let secret = codes::random_bytes::<32>()?;
    store::factors::put_webhook(&state.db, tenant, url, &secret, now_ms()).await?;
    Ok(Zeroizing::new(hex::encode(secret)))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OneTimeCodeSent {
    pub challenge_id: String,
    pub expires_at: i64,
}

/// Create a one-time code for a session and queue it for delivery (one transaction).
pub async fn send_one_time_code(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    session_id: &str,
    channel: &str,
) -> Result<OneTimeCodeSent, FactorError> {
    if store::factors::webhook(&state.db, tenant.as_str())
        .await?
        .is_none()
    {
        return Err(FactorError::NoWebhook);
    }
    let code = codes::numeric_code(6)?;
    let salt = codes::random_bytes::<16>()?;
    let hash = codes::code_hash(&salt, &code);
    let challenge_id = hex::encode(codes::random_bytes::<12>()?);
    let outbox_id = hex::encode(codes::random_bytes::<12>()?);
    let now = now_ms();
    let expires_at = now + ONE_TIME_CODE_TTL_MS;
    let payload = Zeroizing::new(
        serde_json::json!({
            "event": "one_time_code",
            "challenge_id": challenge_id,
            "session_id": session_id,
            "customer_ref": customer.as_str(),
            "channel": channel,
            "code": code.as_str(),
            "expires_at": expires_at,
        })
        .to_string(),
    );
    store::factors::insert_one_time_code(
        &state.db,
        &store::factors::NewOneTimeCode {
            challenge_id: &challenge_id,
            tenant,
            customer,
            session_id,
            salt: &salt,
            code_hash: &hash,
            expires_at,
            now,
            outbox_id: &outbox_id,
            payload: &payload,
        },
    )
    .await?;
    Ok(OneTimeCodeSent {
        challenge_id,
        expires_at,
    })
}

/// Verify a submitted code. `Ok(true)`: accepted and consumed; `Ok(false)`: wrong (counts as a
/// failure); `Err(Replayed | OutsideWindow)`: refused without changing anything.
pub async fn verify(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    session_id: &str,
    kind: FactorKind,
    code: Zeroizing<String>,
) -> Result<bool, FactorError> {
    if code.is_empty() || code.len() > 64 {
        return Err(FactorError::Invalid("a code is 1 to 64 characters".into()));
    }
    let now = now_ms();
    match kind {
        // Not a code: approved on the customer's device (`passkeys::stepup`).
        FactorKind::Passkey => Err(FactorError::Invalid(
            "a passkey is not typed in: ask for it with POST /v1/sessions/{id}/passkey-requests"
                .into(),
        )),
        FactorKind::Totp => {
            let stored = store::factors::totp(&state.db, tenant, customer)
                .await?
                .ok_or(FactorError::NotEnrolled)?;
            let key =
                customer_key::get_or_create(&state.db, &state.master_key, tenant, customer).await?;
            let secret = key
                .open(
                    &context(tenant.as_str(), customer.as_str(), "totp"),
                    &stored.sealed_secret,
                )
                .map_err(|_| FactorError::Crypto)?;
            let params = totp::Params {
                algorithm: totp::Algorithm::parse(&stored.algorithm).ok_or(FactorError::Crypto)?,
                digits: u32::try_from(stored.digits).map_err(|_| FactorError::Crypto)?,
                period_secs: u64::try_from(stored.period_secs).map_err(|_| FactorError::Crypto)?,
            };
            let unix = (now / 1000) as u64;
            let Some(step) = totp::verify(&secret, code.trim(), unix, params, TOTP_SKEW) else {
                if totp::verify(&secret, code.trim(), unix, params, TOTP_RECOGNISE).is_some() {
                    return Err(FactorError::OutsideWindow);
                }
                return Ok(false);
            };
            if store::factors::consume_totp_step(&state.db, tenant, customer, step as i64, now)
                .await?
            {
                Ok(true)
            } else {
                Err(FactorError::Replayed)
            }
        }
        FactorKind::Pin => {
            let phc = store::factors::pin(&state.db, tenant, customer)
                .await?
                .ok_or(FactorError::NotEnrolled)?;
            let ok = state
                .password_hashing
                .run(move || codes::verify_pin(code.trim(), &phc))
                .await
                .map_err(|_| FactorError::Crypto)?;
            Ok(ok)
        }
        FactorKind::RecoveryCode | FactorKind::OneTimeCode => {
            let (candidates, typed) = if kind == FactorKind::RecoveryCode {
                let c = store::factors::recovery_codes(&state.db, tenant, customer).await?;
                if c.is_empty() {
                    return Err(FactorError::NotEnrolled);
                }
                (c, codes::normalise(&code))
            } else {
                let c =
                    store::factors::session_one_time_codes(&state.db, tenant, session_id).await?;
                (c, code.trim().to_string())
            };
            // Compare against every candidate, each in constant time.
            let mut matched = None;
            for (id, salt, hash, used, expires_at) in &candidates {
                if codes::hash_matches(salt, &typed, hash) && matched.is_none() {
                    matched = Some((id.clone(), *used, *expires_at));
                }
            }
            let Some((id, used, expires_at)) = matched else {
                return Ok(false);
            };
            if used {
                return Err(FactorError::Replayed);
            }
            if expires_at <= now {
                return Err(FactorError::OutsideWindow);
            }
            let won = if kind == FactorKind::RecoveryCode {
                store::factors::consume_recovery_code(&state.db, tenant, customer, &id, now).await?
            } else {
                store::factors::consume_one_time_code(&state.db, tenant, &id, now).await?
            };
            if won {
                Ok(true)
            } else {
                // Lost the race to a concurrent submission of the same code.
                Err(FactorError::Replayed)
            }
        }
    }
}
