//! The bare baseline's one table (`trustline bench bare-http`): what a durable insert per
//! request costs with nothing of trustline around it. Created on demand, never migrated: it
//! exists only in benchmark databases.

use sqlx::AnyConnection;

use super::{Db, StoreError};

/// One row per request, as small as a session row's fixed part.
pub async fn create_table(db: &Db) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_bare (id BIGINT PRIMARY KEY, tenant_id TEXT NOT NULL, \
         body TEXT NOT NULL, created_at BIGINT NOT NULL)",
    )
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The largest id so far (the baseline numbers its rows itself).
pub async fn max_id(db: &Db) -> Result<i64, StoreError> {
    let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM bench_bare WHERE tenant_id = $1")
        .bind("bench")
        .fetch_one(&db.pool)
        .await?;
    Ok(id.unwrap_or(0))
}

/// Insert one row, inside the caller's (batch) transaction.
pub async fn insert(
    conn: &mut AnyConnection,
    id: i64,
    body: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO bench_bare (id, tenant_id, body, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind("bench")
        .bind(body)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
