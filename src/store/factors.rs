//! Active factors (TOTP, PIN, recovery codes, one-time codes), webhooks and the outbox.
//!
//! Single use is enforced here, in the database: every consumption is a conditional UPDATE,
//! and only the statement that changes the row wins, whichever instance ran it.

use sqlx::Row;

use super::{Db, StoreError};
use crate::tenants::{CustomerRef, TenantId};

#[derive(Debug, Clone)]
pub struct StoredTotp {
    pub sealed_secret: Vec<u8>,
    pub algorithm: String,
    pub digits: i64,
    pub period_secs: i64,
    pub last_step: i64,
    pub confirmed_at: Option<i64>,
}

#[allow(clippy::too_many_arguments)] // the row's columns
pub async fn put_totp(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    sealed: &[u8],
    algorithm: &str,
    digits: i64,
    period_secs: i64,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM factor_totp WHERE tenant_id = $1 AND customer_ref = $2")
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO factor_totp (tenant_id, customer_ref, sealed_secret, algorithm, digits, \
         period_secs, last_step, confirmed_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, -1, NULL, $7)",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(sealed.to_vec())
    .bind(algorithm)
    .bind(digits)
    .bind(period_secs)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn totp(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Option<StoredTotp>, StoreError> {
    let row = sqlx::query(
        "SELECT sealed_secret, algorithm, digits, period_secs, last_step, confirmed_at \
         FROM factor_totp WHERE tenant_id = $1 AND customer_ref = $2",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(StoredTotp {
            sealed_secret: r.try_get("sealed_secret")?,
            algorithm: r.try_get("algorithm")?,
            digits: r.try_get("digits")?,
            period_secs: r.try_get("period_secs")?,
            last_step: r.try_get("last_step")?,
            confirmed_at: r.try_get("confirmed_at")?,
        })
    })
    .transpose()
}

/// Consume TOTP step `step`: wins only if no code of this or a later step was accepted before
/// (RFC 6238 §5.2). Also marks the enrolment confirmed.
pub async fn consume_totp_step(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    step: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE factor_totp SET last_step = $1, confirmed_at = COALESCE(confirmed_at, $2) \
         WHERE tenant_id = $3 AND customer_ref = $4 AND last_step < $1",
    )
    .bind(step)
    .bind(now)
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn put_pin(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    phc: &str,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM factor_pins WHERE tenant_id = $1 AND customer_ref = $2")
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO factor_pins (tenant_id, customer_ref, phc, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(phc)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn pin(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT phc FROM factor_pins WHERE tenant_id = $1 AND customer_ref = $2")
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|r| r.try_get("phc")).transpose()?)
}

/// Replace a customer's recovery codes: `(code_id, salt, hash)` each.
pub async fn put_recovery_codes(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    codes: &[(String, Vec<u8>, Vec<u8>)],
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM recovery_codes WHERE tenant_id = $1 AND customer_ref = $2")
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .execute(&mut *tx)
        .await?;
    for (id, salt, hash) in codes {
        sqlx::query(
            "INSERT INTO recovery_codes (tenant_id, customer_ref, code_id, salt, code_hash, used_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6)",
        )
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .bind(id)
        .bind(salt.clone())
        .bind(hash.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A stored code: id, salt, hash, used?, expires (ms; `i64::MAX` for recovery codes).
pub type StoredCode = (String, Vec<u8>, Vec<u8>, bool, i64);

/// All recovery codes of a customer, used ones included (so a replay is recognised).
pub async fn recovery_codes(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Vec<StoredCode>, StoreError> {
    let rows = sqlx::query(
        "SELECT code_id, salt, code_hash, used_at FROM recovery_codes \
         WHERE tenant_id = $1 AND customer_ref = $2 ORDER BY code_id",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("code_id")?,
                r.try_get("salt")?,
                r.try_get("code_hash")?,
                r.try_get::<Option<i64>, _>("used_at")?.is_some(),
                i64::MAX,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

pub async fn consume_recovery_code(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    code_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE tenant_id = $2 AND customer_ref = $3 \
         AND code_id = $4 AND used_at IS NULL",
    )
    .bind(now)
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(code_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub struct NewOneTimeCode<'a> {
    pub challenge_id: &'a str,
    pub tenant: &'a TenantId,
    pub customer: &'a CustomerRef,
    pub session_id: &'a str,
    pub salt: &'a [u8],
    pub code_hash: &'a [u8],
    pub expires_at: i64,
    pub now: i64,
    pub outbox_id: &'a str,
    pub payload: &'a str,
}

/// Store a one-time code and its outbox message in one transaction (transactional outbox).
pub async fn insert_one_time_code(db: &Db, c: &NewOneTimeCode<'_>) -> Result<(), StoreError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO one_time_codes (challenge_id, tenant_id, customer_ref, session_id, salt, \
         code_hash, expires_at, used_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
    )
    .bind(c.challenge_id)
    .bind(c.tenant.as_str())
    .bind(c.customer.as_str())
    .bind(c.session_id)
    .bind(c.salt.to_vec())
    .bind(c.code_hash.to_vec())
    .bind(c.expires_at)
    .bind(c.now)
    .execute(&mut *tx)
    .await?;
    enqueue(
        &mut tx,
        c.outbox_id,
        c.tenant,
        "one_time_code",
        c.payload,
        c.now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Queue one webhook message inside the caller's transaction (transactional outbox: the
/// message exists exactly when what it announces does).
pub async fn enqueue(
    conn: &mut sqlx::AnyConnection,
    outbox_id: &str,
    tenant: &TenantId,
    kind: &str,
    payload: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (outbox_id, tenant_id, kind, payload, status, attempts, next_attempt_at, \
         last_error, created_at, delivered_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, NULL, $5, NULL)",
    )
    .bind(outbox_id)
    .bind(tenant.as_str())
    .bind(kind)
    .bind(payload)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every one-time code of a session, used and expired ones included.
pub async fn session_one_time_codes(
    db: &Db,
    tenant: &TenantId,
    session_id: &str,
) -> Result<Vec<StoredCode>, StoreError> {
    let rows = sqlx::query(
        "SELECT challenge_id, salt, code_hash, used_at, expires_at FROM one_time_codes \
         WHERE tenant_id = $1 AND session_id = $2",
    )
    .bind(tenant.as_str())
    .bind(session_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("challenge_id")?,
                r.try_get("salt")?,
                r.try_get("code_hash")?,
                r.try_get::<Option<i64>, _>("used_at")?.is_some(),
                r.try_get("expires_at")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

pub async fn consume_one_time_code(
    db: &Db,
    tenant: &TenantId,
    challenge_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE one_time_codes SET used_at = $1 WHERE tenant_id = $2 AND challenge_id = $3 \
         AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(tenant.as_str())
    .bind(challenge_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn put_webhook(
    db: &Db,
    tenant: &TenantId,
    url: &str,
    secret: &[u8],
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhooks (tenant_id, url, secret, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id) DO UPDATE SET url = $2, secret = $3, created_at = $4",
    )
    .bind(tenant.as_str())
    .bind(url)
    .bind(secret.to_vec())
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn webhook(db: &Db, tenant: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let row = sqlx::query("SELECT url, secret FROM webhooks WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| Ok((r.try_get("url")?, r.try_get("secret")?)))
        .transpose()
        .map_err(|e: sqlx::Error| e.into())
}

#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub outbox_id: String,
    pub tenant_id: String,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
}

/// Claim due messages: push their next attempt into the future first (a lease), so another
/// worker/instance does not send the same message concurrently.
pub async fn claim_due(
    db: &Db,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let rows = sqlx::query(
        "SELECT outbox_id, tenant_id, kind, payload, attempts FROM outbox \
         WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    let mut claimed = Vec::new();
    for r in rows {
        let id: String = r.try_get("outbox_id")?;
        let done = sqlx::query(
            "UPDATE outbox SET next_attempt_at = $1 WHERE outbox_id = $2 AND status = 'pending' \
             AND next_attempt_at <= $3",
        )
        .bind(now + lease_ms)
        .bind(&id)
        .bind(now)
        .execute(&db.pool)
        .await?;
        if done.rows_affected() == 1 {
            claimed.push(OutboxMessage {
                outbox_id: id,
                tenant_id: r.try_get("tenant_id")?,
                kind: r.try_get("kind")?,
                payload: r
                    .try_get::<Option<String>, _>("payload")?
                    .unwrap_or_default(),
                attempts: r.try_get("attempts")?,
            });
        }
    }
    Ok(claimed)
}

/// Delivered: erase the payload (it carries the code).
pub async fn mark_delivered(db: &Db, outbox_id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET status = 'delivered', payload = NULL, delivered_at = $1, \
         attempts = attempts + 1, last_error = NULL WHERE outbox_id = $2",
    )
    .bind(now)
    .bind(outbox_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A failed attempt: retry at `next_attempt_at`, or give up (`failed`, payload erased).
pub async fn mark_failed(
    db: &Db,
    outbox_id: &str,
    error: &str,
    next_attempt_at: Option<i64>,
) -> Result<(), StoreError> {
    match next_attempt_at {
        Some(at) => {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 \
                 WHERE outbox_id = $3",
            )
            .bind(error)
            .bind(at)
            .bind(outbox_id)
            .execute(&db.pool)
            .await?;
        }
        None => {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $1, status = 'failed', \
                 payload = NULL WHERE outbox_id = $2",
            )
            .bind(error)
            .bind(outbox_id)
            .execute(&db.pool)
            .await?;
        }
    }
    Ok(())
}

/// `(status, attempts)` of one message (tests and operators).
pub async fn outbox_status(db: &Db, outbox_id: &str) -> Result<Option<(String, i64)>, StoreError> {
    let row = sqlx::query("SELECT status, attempts FROM outbox WHERE outbox_id = $1")
        .bind(outbox_id)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| Ok((r.try_get("status")?, r.try_get("attempts")?)))
        .transpose()
        .map_err(|e: sqlx::Error| e.into())
}
