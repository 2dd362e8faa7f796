//! Identity providers, login flows and browser sessions (customer links: `customer_links`).
//!
//! Every secret presented by a browser (session cookie, flow cookie, link token) is stored only
//! as its SHA-256, so a copy of the database does not let anyone log in.

use sqlx::Row;

use super::{Db, StoreError, now_ms};
use crate::tenants::TenantId;

/// An identity provider row, client secret still sealed.
#[derive(Debug, Clone)]
pub struct StoredIdentityProvider {
    pub tenant_id: TenantId,
    pub realm: String,
    pub issuer_url: String,
    pub client_id: String,
    pub secret_key: Vec<u8>,
    pub client_secret: Vec<u8>,
    pub scopes: Vec<String>,
    pub role_claim: String,
    pub customer_claim: String,
}

pub async fn upsert_identity_provider(
    db: &Db,
    idp: &StoredIdentityProvider,
) -> Result<(), StoreError> {
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM identity_providers WHERE tenant_id = $1 AND realm = $2")
        .bind(idp.tenant_id.as_str())
        .bind(&idp.realm)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO identity_providers (tenant_id, realm, issuer_url, client_id, secret_key, \
         client_secret, scopes, role_claim, customer_claim, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(idp.tenant_id.as_str())
    .bind(&idp.realm)
    .bind(&idp.issuer_url)
    .bind(&idp.client_id)
    .bind(idp.secret_key.clone())
    .bind(idp.client_secret.clone())
    .bind(idp.scopes.join(" "))
    .bind(&idp.role_claim)
    .bind(&idp.customer_claim)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from_insert)?;
    tx.commit().await?;
    Ok(())
}

pub async fn identity_provider(
    db: &Db,
    tenant: &TenantId,
    realm: &str,
) -> Result<Option<StoredIdentityProvider>, StoreError> {
    let row = sqlx::query(
        "SELECT issuer_url, client_id, secret_key, client_secret, scopes, role_claim, \
         customer_claim FROM identity_providers WHERE tenant_id = $1 AND realm = $2",
    )
    .bind(tenant.as_str())
    .bind(realm)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        let scopes: String = r.try_get("scopes")?;
        Ok(StoredIdentityProvider {
            tenant_id: tenant.clone(),
            realm: realm.to_string(),
            issuer_url: r.try_get("issuer_url")?,
            client_id: r.try_get("client_id")?,
            secret_key: r.try_get("secret_key")?,
            client_secret: r.try_get("client_secret")?,
            scopes: scopes.split_whitespace().map(str::to_string).collect(),
            role_claim: r.try_get("role_claim")?,
            customer_claim: r.try_get("customer_claim")?,
        })
    })
    .transpose()
}

#[derive(Debug, Clone)]
pub struct LoginFlow {
    pub tenant_id: String,
    pub realm: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub expires_at: i64,
}

pub async fn insert_login_flow(
    db: &Db,
    flow_hash: &str,
    flow: &LoginFlow,
) -> Result<(), StoreError> {
    // Expired flows are swept on the way in: the table stays as small as the logins in flight.
    sqlx::query("DELETE FROM login_flows WHERE expires_at < $1")
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO login_flows (flow_hash, tenant_id, realm, state, nonce, pkce_verifier, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(flow_hash)
    .bind(&flow.tenant_id)
    .bind(&flow.realm)
    .bind(&flow.state)
    .bind(&flow.nonce)
    .bind(&flow.pkce_verifier)
    .bind(now_ms())
    .bind(flow.expires_at)
    .execute(&db.pool)
    .await
    .map_err(StoreError::from_insert)?;
    Ok(())
}

/// Remove and return a flow: whatever the callback's outcome, a flow is used at most once.
pub async fn take_login_flow(db: &Db, flow_hash: &str) -> Result<Option<LoginFlow>, StoreError> {
    let row = sqlx::query(
        "SELECT tenant_id, realm, state, nonce, pkce_verifier, expires_at FROM login_flows \
         WHERE flow_hash = $1",
    )
    .bind(flow_hash)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let deleted = sqlx::query("DELETE FROM login_flows WHERE flow_hash = $1")
        .bind(flow_hash)
        .execute(&db.pool)
        .await?;
    if deleted.rows_affected() != 1 {
        // A concurrent callback took it first.
        return Ok(None);
    }
    Ok(Some(LoginFlow {
        tenant_id: row.try_get("tenant_id")?,
        realm: row.try_get("realm")?,
        state: row.try_get("state")?,
        nonce: row.try_get("nonce")?,
        pkce_verifier: row.try_get("pkce_verifier")?,
        expires_at: row.try_get("expires_at")?,
    }))
}

#[derive(Debug, Clone)]
pub struct WebSession {
    pub tenant_id: TenantId,
    pub realm: String,
    pub subject: String,
    pub roles: Vec<String>,
    pub csrf_token: String,
    pub expires_at: i64,
}

pub async fn insert_session(
    db: &Db,
    session_hash: &str,
    session: &WebSession,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO web_sessions (session_hash, tenant_id, realm, subject, roles, csrf_token, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(session_hash)
    .bind(session.tenant_id.as_str())
    .bind(&session.realm)
    .bind(&session.subject)
    .bind(session.roles.join(" "))
    .bind(&session.csrf_token)
    .bind(now_ms())
    .bind(session.expires_at)
    .execute(&db.pool)
    .await
    .map_err(StoreError::from_insert)?;
    Ok(())
}

/// The live (unexpired) session for a cookie hash.
pub async fn session(db: &Db, session_hash: &str) -> Result<Option<WebSession>, StoreError> {
    let row = sqlx::query(
        "SELECT tenant_id, realm, subject, roles, csrf_token, expires_at FROM web_sessions \
         WHERE session_hash = $1 AND expires_at > $2",
    )
    .bind(session_hash)
    .bind(now_ms())
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        let tenant: String = r.try_get("tenant_id")?;
        let roles: String = r.try_get("roles")?;
        Ok(WebSession {
            tenant_id: tenant.parse().map_err(|e: crate::tenants::TenantError| {
                StoreError::Database(sqlx::Error::Decode(e.into()))
            })?,
            realm: r.try_get("realm")?,
            subject: r.try_get("subject")?,
            roles: roles.split_whitespace().map(str::to_string).collect(),
            csrf_token: r.try_get("csrf_token")?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

pub async fn delete_session(db: &Db, session_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM web_sessions WHERE session_hash = $1")
        .bind(session_hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}
