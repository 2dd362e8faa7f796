//! Atomic attempt reservations on the lockout counters (`lockout_factor`): one row per code
//! factor, and one ([`BIOMETRIC`]) for the consecutive failed biometric comparisons.
//!
//! An attempt is counted as a failure *before* it is evaluated (a code compared, a sample
//! scored): the service reads the counter, asks the pure gate (`sessions::engine`) whether
//! another attempt is allowed, and then claims it with a compare-and-set on exactly the
//! counter it read. Of any
//! number of concurrent attempts, on any number of instances sharing the database, only one can
//! move the counter from a given value, so the policy's free attempts, delays and maximum hold
//! exactly (a single-row conditional write is atomic on SQLite and PostgreSQL alike; under
//! PostgreSQL's read committed the `WHERE` is re-checked against the row it waited for).

use super::{Db, StoreError};
use crate::tenants::{CustomerRef, TenantId};
use sqlx::Row;

/// The counter of biometric comparisons (every modality), beside the code factors' counters.
/// `last_failure_at` plays no part in its gate (biometrics have no delays), only in the
/// compare-and-set.
pub const BIOMETRIC: &str = "biometric";

/// A counter as stored: consecutive failures and the time of the last one (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub failures: i64,
    pub last_failure_at: i64,
}

/// The factor's counter, `None` when no failure is counted.
pub async fn counter(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    factor: &str,
) -> Result<Option<Counter>, StoreError> {
    let row = sqlx::query(
        "SELECT failures, last_failure_at FROM lockout_factor \
         WHERE tenant_id = $1 AND customer_ref = $2 AND factor = $3",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(factor)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(Counter {
            failures: r.try_get("failures")?,
            last_failure_at: r.try_get("last_failure_at")?,
        })
    })
    .transpose()
}

/// Claim one attempt: move the counter from `seen` to `seen + 1` failures at `now`, only if it
/// still is `seen`. `Ok(Some(reserved))` when this caller won; `Ok(None)` when another attempt
/// moved the counter first (read it again and re-check the gate).
pub async fn reserve(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    factor: &str,
    seen: Option<Counter>,
    now: i64,
) -> Result<Option<Counter>, StoreError> {
    let result = match seen {
        None => {
            sqlx::query(
                "INSERT INTO lockout_factor \
                 (tenant_id, customer_ref, factor, failures, last_failure_at) \
                 VALUES ($1, $2, $3, 1, $4) \
                 ON CONFLICT (tenant_id, customer_ref, factor) DO NOTHING",
            )
            .bind(tenant.as_str())
            .bind(customer.as_str())
            .bind(factor)
            .bind(now)
            .execute(&db.pool)
            .await?
        }
        Some(c) => {
            sqlx::query(
                "UPDATE lockout_factor SET failures = failures + 1, last_failure_at = $4 \
                 WHERE tenant_id = $1 AND customer_ref = $2 AND factor = $3 \
                 AND failures = $5 AND last_failure_at = $6",
            )
            .bind(tenant.as_str())
            .bind(customer.as_str())
            .bind(factor)
            .bind(now)
            .bind(c.failures)
            .bind(c.last_failure_at)
            .execute(&db.pool)
            .await?
        }
    };
    Ok((result.rows_affected() == 1).then(|| Counter {
        failures: seen.map_or(0, |c| c.failures) + 1,
        last_failure_at: now,
    }))
}

/// Give back a reservation whose attempt was refused without a comparison (a replayed code, a
/// code outside the window, a factor not enrolled): restore `previous`, but only while the
/// counter is still exactly what this reservation made it. If another attempt has moved it
/// since, the reserved failure stays counted (fails closed). Returns whether it was released.
pub async fn release(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    factor: &str,
    reserved: Counter,
    previous: Option<Counter>,
) -> Result<bool, StoreError> {
    let result = match previous {
        None => {
            sqlx::query(
                "DELETE FROM lockout_factor \
                 WHERE tenant_id = $1 AND customer_ref = $2 AND factor = $3 \
                 AND failures = $4 AND last_failure_at = $5",
            )
            .bind(tenant.as_str())
            .bind(customer.as_str())
            .bind(factor)
            .bind(reserved.failures)
            .bind(reserved.last_failure_at)
            .execute(&db.pool)
            .await?
        }
        Some(p) => {
            sqlx::query(
                "UPDATE lockout_factor SET failures = $6, last_failure_at = $7 \
                 WHERE tenant_id = $1 AND customer_ref = $2 AND factor = $3 \
                 AND failures = $4 AND last_failure_at = $5",
            )
            .bind(tenant.as_str())
            .bind(customer.as_str())
            .bind(factor)
            .bind(reserved.failures)
            .bind(reserved.last_failure_at)
            .bind(p.failures)
            .bind(p.last_failure_at)
            .execute(&db.pool)
            .await?
        }
    };
    Ok(result.rows_affected() == 1)
}

/// Reset counters after a success: delete the rows of `factors` (a code's own counter and the
/// biometric one, or the biometric one alone), whatever attempts counted meanwhile.
pub async fn clear(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    factors: &[&str],
) -> Result<(), StoreError> {
    let mut tx = db.pool.begin().await?;
    for factor in factors {
        sqlx::query(
            "DELETE FROM lockout_factor \
             WHERE tenant_id = $1 AND customer_ref = $2 AND factor = $3",
        )
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .bind(*factor)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
