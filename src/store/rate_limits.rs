//! Fixed-window counters for rate limits, one row per (tenant, bucket), shared by instances.

use sqlx::Row;

use super::{Db, StoreError};
use crate::tenants::TenantId;

/// Count one hit in `bucket` for the window starting at `window_start` (ms) and return the
/// window's hits so far, this one included. One atomic upsert: concurrent hits on any instance
/// each see a distinct count.
pub async fn hit(
    db: &Db,
    tenant: &TenantId,
    bucket: &str,
    window_start: i64,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO rate_limits (tenant_id, bucket, window_start, hits) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (tenant_id, bucket) DO UPDATE SET \
           hits = CASE WHEN rate_limits.window_start >= $3 THEN rate_limits.hits + 1 ELSE 1 END, \
           window_start = CASE WHEN rate_limits.window_start >= $3 \
             THEN rate_limits.window_start ELSE $3 END \
         RETURNING hits",
    )
    .bind(tenant.as_str())
    .bind(bucket)
    .bind(window_start)
    .fetch_one(&db.pool)
    .await?;
    Ok(row.try_get("hits")?)
}

/// Forget the tenant's counters of windows that ended before `before` (ms).
pub async fn forget_before(db: &Db, tenant: &TenantId, before: i64) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("DELETE FROM rate_limits WHERE tenant_id = $1 AND window_start < $2")
            .bind(tenant.as_str())
            .bind(before)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}
