//! Passkeys of customers, WebAuthn ceremonies in flight and step-up requests (migration 0013).
//! Every query filters by tenant; a customer's rows are reached only with their reference.

use sqlx::Row;

use super::{Db, StoreError, now_ms};
use crate::tenants::{CustomerRef, TenantId};

/// A registered passkey. `credential` is webauthn-rs's serialised `Passkey` (public key and
/// signature counter; nothing secret).
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub passkey_id: String,
    pub customer_ref: String,
    pub credential_id: String,
    pub credential: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The customer's WebAuthn user handle, created on first use. Two concurrent first uses agree:
/// the insert is conditional and both read the row that won.
pub async fn user_handle(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    fresh: &str,
) -> Result<String, StoreError> {
    sqlx::query(
        "INSERT INTO passkey_users (tenant_id, customer_ref, user_handle, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, customer_ref) DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(fresh)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    let row = sqlx::query(
        "SELECT user_handle FROM passkey_users WHERE tenant_id = $1 AND customer_ref = $2",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .fetch_one(&db.pool)
    .await?;
    Ok(row.try_get("user_handle")?)
}

fn passkey_row(r: &sqlx::any::AnyRow) -> Result<StoredPasskey, StoreError> {
    Ok(StoredPasskey {
        passkey_id: r.try_get("passkey_id")?,
        customer_ref: r.try_get("customer_ref")?,
        credential_id: r.try_get("credential_id")?,
        credential: r.try_get("credential")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

const PASSKEY_COLUMNS: &str =
    "passkey_id, customer_ref, credential_id, credential, name, created_at, last_used_at";

pub async fn for_customer(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Vec<StoredPasskey>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE tenant_id = $1 AND customer_ref = $2 \
         ORDER BY created_at, passkey_id"
    ))
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(passkey_row).collect()
}

/// Does the customer have at least one passkey?
pub async fn has_any(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM passkeys WHERE tenant_id = $1 AND customer_ref = $2",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .fetch_one(&db.pool)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// Store a new passkey. `Duplicate` when the credential id is already registered in this
/// tenant (to this customer or another: WebAuthn §7.1 step 22, "verify that the credentialId
/// is not yet registered for any user").
pub async fn insert(db: &Db, tenant: &TenantId, passkey: &StoredPasskey) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO passkeys (tenant_id, passkey_id, customer_ref, credential_id, credential, \
         name, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
    )
    .bind(tenant.as_str())
    .bind(&passkey.passkey_id)
    .bind(&passkey.customer_ref)
    .bind(&passkey.credential_id)
    .bind(&passkey.credential)
    .bind(&passkey.name)
    .bind(passkey.created_at)
    .execute(&db.pool)
    .await
    .map_err(StoreError::from_insert)?;
    Ok(())
}

/// After a successful assertion: the new signature counter (in `credential`) and last use.
/// Conditional on the credential as read, so two concurrent uses cannot both move the counter
/// from the same value (the loser is refused like a replay).
pub async fn record_use(
    db: &Db,
    tenant: &TenantId,
    passkey_id: &str,
    previous: &str,
    credential: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE passkeys SET credential = $1, last_used_at = $2 \
         WHERE tenant_id = $3 AND passkey_id = $4 AND credential = $5",
    )
    .bind(credential)
    .bind(now_ms())
    .bind(tenant.as_str())
    .bind(passkey_id)
    .bind(previous)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Remove one of the customer's passkeys; false when there is no such passkey of theirs.
pub async fn delete(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    passkey_id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "DELETE FROM passkeys WHERE tenant_id = $1 AND customer_ref = $2 AND passkey_id = $3",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(passkey_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A ceremony's server-side state between its two halves.
#[derive(Debug, Clone)]
pub struct Ceremony {
    pub ceremony_id: String,
    pub customer_ref: String,
    pub kind: String,
    pub bound_to: String,
    pub state: String,
    pub expires_at: i64,
}

pub async fn insert_ceremony(db: &Db, tenant: &TenantId, c: &Ceremony) -> Result<(), StoreError> {
    // Ceremonies abandoned half way are swept on the way in.
    sqlx::query("DELETE FROM passkey_ceremonies WHERE tenant_id = $1 AND expires_at < $2")
        .bind(tenant.as_str())
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO passkey_ceremonies (tenant_id, ceremony_id, customer_ref, kind, bound_to, \
         state, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.as_str())
    .bind(&c.ceremony_id)
    .bind(&c.customer_ref)
    .bind(&c.kind)
    .bind(&c.bound_to)
    .bind(&c.state)
    .bind(c.expires_at)
    .execute(&db.pool)
    .await
    .map_err(StoreError::from_insert)?;
    Ok(())
}

/// Take a ceremony (single use): the row is deleted, and only the caller whose delete removed
/// it gets its state. A second finish with the same id, concurrent or later, gets `None`.
pub async fn take_ceremony(
    db: &Db,
    tenant: &TenantId,
    ceremony_id: &str,
    kind: &str,
    bound_to: &str,
) -> Result<Option<Ceremony>, StoreError> {
    let row = sqlx::query(
        "SELECT customer_ref, state, expires_at FROM passkey_ceremonies \
         WHERE tenant_id = $1 AND ceremony_id = $2 AND kind = $3 AND bound_to = $4",
    )
    .bind(tenant.as_str())
    .bind(ceremony_id)
    .bind(kind)
    .bind(bound_to)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let deleted = sqlx::query(
        "DELETE FROM passkey_ceremonies WHERE tenant_id = $1 AND ceremony_id = $2 \
         AND kind = $3 AND bound_to = $4",
    )
    .bind(tenant.as_str())
    .bind(ceremony_id)
    .bind(kind)
    .bind(bound_to)
    .execute(&db.pool)
    .await?;
    if deleted.rows_affected() != 1 {
        return Ok(None);
    }
    Ok(Some(Ceremony {
        ceremony_id: ceremony_id.to_string(),
        customer_ref: row.try_get("customer_ref")?,
        kind: kind.to_string(),
        bound_to: bound_to.to_string(),
        state: row.try_get("state")?,
        expires_at: row.try_get("expires_at")?,
    }))
}

/// A step-up request (CIBA): the platform asked, the customer approves with a passkey. The
/// request id is the id of the customer link that reaches the customer.
#[derive(Debug, Clone)]
pub struct PasskeyRequest {
    pub request_id: String,
    pub session_id: String,
    pub customer_ref: String,
    pub binding_code: String,
    /// pending | approved
    pub status: String,
    pub requested_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub decided_at: Option<i64>,
    pub passkey_id: Option<String>,
}

pub async fn insert_request(
    db: &Db,
    tenant: &TenantId,
    r: &PasskeyRequest,
    token_hash: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO passkey_requests (tenant_id, request_id, session_id, customer_ref, \
         token_hash, binding_code, status, requested_by, created_at, expires_at, decided_at, \
         passkey_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL)",
    )
    .bind(tenant.as_str())
    .bind(&r.request_id)
    .bind(&r.session_id)
    .bind(&r.customer_ref)
    .bind(token_hash)
    .bind(&r.binding_code)
    .bind(&r.status)
    .bind(&r.requested_by)
    .bind(r.created_at)
    .bind(r.expires_at)
    .execute(&db.pool)
    .await
    .map_err(StoreError::from_insert)?;
    Ok(())
}

pub async fn request(
    db: &Db,
    tenant: &TenantId,
    request_id: &str,
) -> Result<Option<PasskeyRequest>, StoreError> {
    let row = sqlx::query(
        "SELECT request_id, session_id, customer_ref, binding_code, status, requested_by, \
         created_at, expires_at, decided_at, passkey_id FROM passkey_requests \
         WHERE tenant_id = $1 AND request_id = $2",
    )
    .bind(tenant.as_str())
    .bind(request_id)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(PasskeyRequest {
            request_id: r.try_get("request_id")?,
            session_id: r.try_get("session_id")?,
            customer_ref: r.try_get("customer_ref")?,
            binding_code: r.try_get("binding_code")?,
            status: r.try_get("status")?,
            requested_by: r.try_get("requested_by")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            decided_at: r.try_get("decided_at")?,
            passkey_id: r.try_get("passkey_id")?,
        })
    })
    .transpose()
}

/// pending → approved, once (conditional on the status and the deadline).
pub async fn approve_request(
    db: &Db,
    tenant: &TenantId,
    request_id: &str,
    passkey_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE passkey_requests SET status = 'approved', decided_at = $1, passkey_id = $2 \
         WHERE tenant_id = $3 AND request_id = $4 AND status = 'pending' AND expires_at > $1",
    )
    .bind(now)
    .bind(passkey_id)
    .bind(tenant.as_str())
    .bind(request_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
