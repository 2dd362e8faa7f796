//! The I/O around OpenID Connect login: provider configuration (secret sealed by the master
//! key), discovery, the authorization code flow with PKCE, and ID token verification.
//!
//! Every check on the returned ID token (signature against the provider's JWKS, issuer,
//! audience, expiry, nonce) is done by the `openidconnect` crate's verifier; this module adds
//! the single-use flow record, the state comparison and the claim mapping.

use std::{sync::OnceLock, time::Duration};

use base64::Engine as _;
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _,
    core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata},
};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq as _;

use super::{OidcError, Realm, StaffRole};
use crate::{
    AppState,
    config::Secret,
    crypto::envelope::{self, MasterKey},
    store::{self, Db, now_ms, web::LoginFlow},
    tenants::{CustomerRef, TenantId},
};

/// How long a user may take at the identity provider before the flow is forgotten.
pub const FLOW_TTL_MS: i64 = 10 * 60 * 1000;

/// An identity provider as the operator configures it (secret in the clear, before sealing).
#[derive(Debug, Clone)]
pub struct IdentityProviderConfig {
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Scopes to request beyond `openid` (e.g. `profile`, `roles`).
    pub scopes: Vec<String>,
    /// Staff realm: the claim holding roles (array or space-separated string; dotted path ok).
    pub role_claim: String,
    /// Customer realm: the claim holding the customer reference.
    pub customer_claim: String,
}

/// Who a finished login proved to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Staff {
        tenant: TenantId,
        subject: String,
        roles: Vec<StaffRole>,
    },
    Customer {
        tenant: TenantId,
        customer: CustomerRef,
    },
}

/// The redirect the browser follows, and the flow secret to set as a cookie.
#[derive(Debug)]
pub struct LoginStart {
    pub authorize_url: String,
    pub flow_secret: String,
}

/// The one callback address registered at every provider.
pub fn redirect_url(public_url: &str) -> String {
    format!("{public_url}/auth/callback")
}

/// 256 random bits, base64url: session cookies, flow cookies, CSRF tokens, link tokens.
pub fn random_token() -> Result<String, OidcError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| OidcError::Config("no secure random numbers available".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of a browser-held secret.
pub fn token_hash(token: &str) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        token.as_bytes(),
    ))
}

fn secret_contexts(tenant: &TenantId, realm: Realm) -> (Vec<u8>, Vec<u8>) {
    (
        envelope::context(tenant.as_str(), realm.as_str(), "idp-data-key"),
        envelope::context(tenant.as_str(), realm.as_str(), "idp-client-secret"),
    )
}

/// Store (or replace) a tenant's identity provider for a realm, sealing the client secret.
pub async fn configure(
    db: &Db,
    master_key: &MasterKey,
    tenant: &TenantId,
    realm: Realm,
    config: &IdentityProviderConfig,
) -> Result<(), OidcError> {
    IssuerUrl::new(config.issuer_url.clone())
        .map_err(|e| OidcError::Config(format!("issuer URL: {e}")))?;
    if config.client_id.is_empty() {
        return Err(OidcError::Config("client id is empty".into()));
    }
    if store::tenants::get(db, tenant).await?.is_none() {
        return Err(OidcError::Config(format!("no tenant `{tenant}`")));
    }
    let (owner, context) = secret_contexts(tenant, realm);
    let (key, wrapped) = master_key
        .new_data_key(&owner)
        .map_err(|e| OidcError::Config(e.to_string()))?;
    let sealed = key
        .seal(&context, config.client_secret.expose().as_bytes())
        .map_err(|e| OidcError::Config(e.to_string()))?;
    store::web::upsert_identity_provider(
        db,
        &store::web::StoredIdentityProvider {
            tenant_id: tenant.clone(),
            realm: realm.as_str().to_string(),
            issuer_url: config.issuer_url.clone(),
            client_id: config.client_id.clone(),
            secret_key: wrapped,
            client_secret: sealed,
            scopes: config.scopes.clone(),
            role_claim: config.role_claim.clone(),
            customer_claim: config.customer_claim.clone(),
        },
    )
    .await?;
    Ok(())
}

async fn load(
    state: &AppState,
    tenant: &TenantId,
    realm: Realm,
) -> Result<IdentityProviderConfig, OidcError> {
    let stored = store::web::identity_provider(&state.db, tenant, realm.as_str())
        .await?
        .ok_or(OidcError::NotConfigured)?;
    let (owner, context) = secret_contexts(tenant, realm);
    let key = state
        .master_key
        .unwrap_data_key(&owner, &stored.secret_key)
        .map_err(|e| OidcError::Config(format!("client secret: {e}")))?;
    let secret = key
        .open(&context, &stored.client_secret)
        .map_err(|e| OidcError::Config(format!("client secret: {e}")))?;
    let secret = String::from_utf8(secret.to_vec())
        .map_err(|_| OidcError::Config("client secret is not UTF-8".into()))?;
    Ok(IdentityProviderConfig {
        issuer_url: stored.issuer_url,
        client_id: stored.client_id,
        client_secret: Secret::new(secret),
        scopes: stored.scopes,
        role_claim: stored.role_claim,
        customer_claim: stored.customer_claim,
    })
}

/// The client used to reach identity providers. Redirects are not followed (a provider that
/// redirects its discovery or token endpoint is misconfigured, and following redirects would
/// let one steer our requests elsewhere); every request has a deadline.
fn http_client() -> Result<reqwest::Client, OidcError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| OidcError::Provider(format!("HTTP client: {e}")))?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

type DiscoveredClient = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

async fn discover(
    config: &IdentityProviderConfig,
    public_url: &str,
) -> Result<DiscoveredClient, OidcError> {
    let issuer = IssuerUrl::new(config.issuer_url.clone())
        .map_err(|e| OidcError::Config(format!("issuer URL: {e}")))?;
    // Discovery also checks that the document's issuer equals the configured one.
    let metadata = CoreProviderMetadata::discover_async(issuer, &http_client()?)
        .await
        .map_err(|e| OidcError::Provider(format!("discovery: {e}")))?;
    let redirect = RedirectUrl::new(redirect_url(public_url))
        .map_err(|e| OidcError::Config(format!("public URL: {e}")))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.expose().to_string())),
    )
    .set_redirect_uri(redirect))
}

/// Start a login: discover the provider, remember state, nonce and PKCE verifier under a
/// fresh flow secret, and return the authorization URL.
pub async fn begin(
    state: &AppState,
    tenant: &TenantId,
    realm: Realm,
) -> Result<LoginStart, OidcError> {
    let config = load(state, tenant, realm).await?;
    let client = discover(&config, &state.settings.public_url).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in &config.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf_state, nonce) = request.url();
    let flow_secret = random_token()?;
    store::web::insert_login_flow(
        &state.db,
        &token_hash(&flow_secret),
        &LoginFlow {
            tenant_id: tenant.to_string(),
            realm: realm.as_str().to_string(),
            state: csrf_state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            expires_at: now_ms() + FLOW_TTL_MS,
        },
    )
    .await?;
    Ok(LoginStart {
        authorize_url: url.to_string(),
        flow_secret,
    })
}

/// ID tokens must be signed with a public-key algorithm: never `none`, never an HMAC keyed
/// with the client secret (anyone holding the secret could mint tokens).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Finish a login at the callback: take the flow (single use), compare state, exchange the
/// code with the PKCE verifier, verify the ID token, and map its claims to an identity.
pub async fn finish(
    state: &AppState,
    flow_secret: &str,
    code: &str,
    returned_state: &str,
) -> Result<Identity, OidcError> {
    let flow = store::web::take_login_flow(&state.db, &token_hash(flow_secret))
        .await?
        .ok_or(OidcError::UnknownFlow)?;
    if flow.expires_at < now_ms() {
        return Err(OidcError::UnknownFlow);
    }
    if !bool::from(flow.state.as_bytes().ct_eq(returned_state.as_bytes())) {
        return Err(OidcError::StateMismatch);
    }
    let tenant: TenantId = flow.tenant_id.parse().map_err(|_| OidcError::UnknownFlow)?;
    let realm: Realm = flow.realm.parse()?;
    let config = load(state, &tenant, realm).await?;
    let client = discover(&config, &state.settings.public_url).await?;
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|e| OidcError::Provider(format!("token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier))
        .request_async(&http_client()?)
        .await
        .map_err(|e| OidcError::Provider(format!("token exchange: {e}")))?;
    let id_token = response
        .id_token()
        .ok_or_else(|| OidcError::InvalidIdToken("the token response has no ID token".into()))?;
    let verifier = client.id_token_verifier().set_allowed_algs(ALLOWED_ALGS);
    let claims = id_token
        .claims(&verifier, &Nonce::new(flow.nonce))
        .map_err(|e| OidcError::InvalidIdToken(e.to_string()))?;
    let subject = claims.subject().as_str().to_string();
    let extra = super::verified_payload(&id_token.to_string())?;
    match realm {
        Realm::Staff => {
            let roles = super::staff_roles(&extra, &config.role_claim);
            if roles.is_empty() {
                return Err(OidcError::NoRole(config.role_claim));
            }
            Ok(Identity::Staff {
                tenant,
                subject,
                roles,
            })
        }
        Realm::Customer => {
            let customer = super::customer_ref(&extra, &config.customer_claim)
                .ok_or(OidcError::NoCustomer(config.customer_claim))?;
            Ok(Identity::Customer { tenant, customer })
        }
    }
}
