//! History of the policies the service has loaded (table `policy_versions`), by content hash.

use sqlx::Row;

use super::{Db, StoreError, now_ms};
use crate::policy::Policy;

/// One version of a policy as it was loaded.
#[derive(Debug, Clone)]
pub struct PolicyVersionRow {
    pub sha256: String,
    pub policy_id: String,
    pub version: String,
    pub content: String,
    pub first_loaded_at: i64,
    pub last_loaded_at: i64,
}

/// Record that these policies are in force now: a new hash gets a row with its text, a known
/// one only its `last_loaded_at` moved. Called at start-up, after migrations.
pub async fn record_loaded<'a>(
    db: &Db,
    policies: impl IntoIterator<Item = &'a Policy>,
) -> Result<(), StoreError> {
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    for p in policies {
        sqlx::query(
            "INSERT INTO policy_versions \
             (sha256, policy_id, version, content, first_loaded_at, last_loaded_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (sha256) DO UPDATE SET last_loaded_at = $5",
        )
        .bind(&p.hash)
        .bind(&p.id)
        .bind(&p.version)
        .bind(&p.source)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Every version of one policy id, newest first.
pub async fn history(db: &Db, policy_id: &str) -> Result<Vec<PolicyVersionRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT sha256, policy_id, version, content, first_loaded_at, last_loaded_at \
         FROM policy_versions WHERE policy_id = $1 ORDER BY first_loaded_at DESC, sha256",
    )
    .bind(policy_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PolicyVersionRow {
                sha256: r.try_get("sha256")?,
                policy_id: r.try_get("policy_id")?,
                version: r.try_get("version")?,
                content: r.try_get("content")?,
                first_loaded_at: r.try_get("first_loaded_at")?,
                last_loaded_at: r.try_get("last_loaded_at")?,
            })
        })
        .collect()
}
