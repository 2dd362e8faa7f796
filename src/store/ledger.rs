//! Ledger tables: entries, per-tenant tips, signed tree heads, customer salts.
//!
//! Appends run inside one transaction opened by the ledger's writer task; the functions taking
//! `&mut AnyConnection` are its steps. The SQL is the same on both backends ([`lock_tip`] says
//! why its upsert locks on each).

use sqlx::{AnyConnection, Row};

use super::{Db, StoreError};

/// A row as stored (the hashed fields plus what sits beside them).
#[derive(Debug, Clone)]
pub struct EntryRow {
    pub index: u64,
    pub prev_hash: Vec<u8>,
    pub leaf_hash: Vec<u8>,
    pub kind: String,
    pub created_at: i64,
    pub session_id: Option<String>,
    pub customer_commitment: Option<Vec<u8>>,
    pub customer_ref: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct TreeHeadRow {
    pub tree_size: u64,
    pub root_hash: Vec<u8>,
    pub created_at: i64,
    pub jws: String,
}

/// Lock the tenant's tip for this transaction (creating it if absent) and read it, in one
/// statement: the upsert's no-op UPDATE takes PostgreSQL's row lock, so appends from several
/// instances serialise on the tip and the order stays gapless, and on SQLite it takes the
/// file's write lock before anything is read (a read first could not later upgrade to a write
/// if another connection committed in between). One round trip instead of two: the batch
/// writer is serial, so each statement's round trip is paid by every append waiting.
pub async fn lock_tip(
    conn: &mut AnyConnection,
    tenant: &str,
) -> Result<(u64, Vec<u8>), StoreError> {
    let row = sqlx::query(
        "INSERT INTO ledger_tips (tenant_id, size, last_hash) VALUES ($1, 0, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET size = ledger_tips.size \
         RETURNING size, last_hash",
    )
    .bind(tenant)
    .bind(vec![0u8; 32])
    .fetch_one(&mut *conn)
    .await?;
    let size: i64 = row.try_get("size")?;
    Ok((size as u64, row.try_get("last_hash")?))
}

pub async fn set_tip(
    conn: &mut AnyConnection,
    tenant: &str,
    size: u64,
    last_hash: &[u8],
) -> Result<(), StoreError> {
    sqlx::query("UPDATE ledger_tips SET size = $1, last_hash = $2 WHERE tenant_id = $3")
        .bind(size as i64)
        .bind(last_hash.to_vec())
        .bind(tenant)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The customer's salt, created (from `fresh`) on first use. Read first: a salt never changes
/// once written, so the usual case is one round trip. Called after [`lock_tip`], so on SQLite
/// the write lock is already held.
pub async fn customer_salt(
    conn: &mut AnyConnection,
    tenant: &str,
    customer: &str,
    fresh: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let select =
        "SELECT salt FROM ledger_customer_salts WHERE tenant_id = $1 AND customer_ref = $2";
    if let Some(row) = sqlx::query(select)
        .bind(tenant)
        .bind(customer)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok(row.try_get("salt")?);
    }
    sqlx::query(
        "INSERT INTO ledger_customer_salts (tenant_id, customer_ref, salt) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, customer_ref) DO NOTHING",
    )
    .bind(tenant)
    .bind(customer)
    .bind(fresh.to_vec())
    .execute(&mut *conn)
    .await?;
    // Another instance may have won the insert: theirs stands.
    let row = sqlx::query(select)
        .bind(tenant)
        .bind(customer)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get("salt")?)
}

const ENTRY_COLUMNS: &str = "tenant_id, idx, prev_hash, leaf_hash, kind, created_at, \
                             session_id, customer_commitment, customer_ref, body";

/// Insert entries with multi-row statements (at most 100 rows, 1,000 parameters, each).
pub async fn insert_entries(
    conn: &mut AnyConnection,
    tenant: &str,
    rows: &[EntryRow],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(100) {
        let mut sql = format!("INSERT INTO ledger_entries ({ENTRY_COLUMNS}) VALUES ");
        for i in 0..chunk.len() {
            let b = i * 10;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},${},${},${},${},${},${},${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10
            ));
        }
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(tenant)
                .bind(r.index as i64)
                .bind(r.prev_hash.clone())
                .bind(r.leaf_hash.clone())
                .bind(r.kind.clone())
                .bind(r.created_at)
                .bind(r.session_id.clone())
                .bind(r.customer_commitment.clone())
                .bind(r.customer_ref.clone())
                .bind(r.body.clone());
        }
        q.execute(&mut *conn)
            .await
            .map_err(StoreError::from_insert)?;
    }
    Ok(())
}

fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<EntryRow, StoreError> {
    let idx: i64 = r.try_get("idx")?;
    Ok(EntryRow {
        index: idx as u64,
        prev_hash: r.try_get("prev_hash")?,
        leaf_hash: r.try_get("leaf_hash")?,
        kind: r.try_get("kind")?,
        created_at: r.try_get("created_at")?,
        session_id: r.try_get("session_id")?,
        customer_commitment: r.try_get("customer_commitment")?,
        customer_ref: r.try_get("customer_ref")?,
        body: r.try_get("body")?,
    })
}

/// Entries from `from` on, in index order, at most `limit`.
pub async fn entries(
    db: &Db,
    tenant: &str,
    from: u64,
    limit: u32,
) -> Result<Vec<EntryRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE tenant_id = $1 AND idx >= $2 \
         ORDER BY idx LIMIT $3"
    ))
    .bind(tenant)
    .bind(from as i64)
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(entry_from_row).collect()
}

pub async fn entry(db: &Db, tenant: &str, index: u64) -> Result<Option<EntryRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE tenant_id = $1 AND idx = $2"
    ))
    .bind(tenant)
    .bind(index as i64)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(entry_from_row).transpose()
}

/// Leaf hashes from `from` on, with their indexes, in order, at most `limit`.
pub async fn leaf_hashes(
    db: &Db,
    tenant: &str,
    from: u64,
    limit: u32,
) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let rows = sqlx::query(
        "SELECT idx, leaf_hash FROM ledger_entries WHERE tenant_id = $1 AND idx >= $2 \
         ORDER BY idx LIMIT $3",
    )
    .bind(tenant)
    .bind(from as i64)
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let idx: i64 = r.try_get("idx")?;
            Ok((idx as u64, r.try_get("leaf_hash")?))
        })
        .collect()
}

pub async fn tip(db: &Db, tenant: &str) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    let row = sqlx::query("SELECT size, last_hash FROM ledger_tips WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| {
        let size: i64 = r.try_get("size")?;
        Ok((size as u64, r.try_get("last_hash")?))
    })
    .transpose()
}

/// Every tenant that has a log.
pub async fn tenants(db: &Db) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT tenant_id FROM ledger_tips ORDER BY tenant_id")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("tenant_id")?)).collect()
}

pub async fn insert_tree_head(db: &Db, tenant: &str, head: &TreeHeadRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ledger_tree_heads (tenant_id, tree_size, root_hash, created_at, jws) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, tree_size) DO NOTHING",
    )
    .bind(tenant)
    .bind(head.tree_size as i64)
    .bind(head.root_hash.clone())
    .bind(head.created_at)
    .bind(head.jws.clone())
    .execute(&db.pool)
    .await?;
    Ok(())
}

fn head_from_row(r: &sqlx::any::AnyRow) -> Result<TreeHeadRow, StoreError> {
    let size: i64 = r.try_get("tree_size")?;
    Ok(TreeHeadRow {
        tree_size: size as u64,
        root_hash: r.try_get("root_hash")?,
        created_at: r.try_get("created_at")?,
        jws: r.try_get("jws")?,
    })
}

pub async fn tree_heads(db: &Db, tenant: &str) -> Result<Vec<TreeHeadRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT tree_size, root_hash, created_at, jws FROM ledger_tree_heads \
         WHERE tenant_id = $1 ORDER BY tree_size",
    )
    .bind(tenant)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(head_from_row).collect()
}

pub async fn latest_tree_head(db: &Db, tenant: &str) -> Result<Option<TreeHeadRow>, StoreError> {
    let row = sqlx::query(
        "SELECT tree_size, root_hash, created_at, jws FROM ledger_tree_heads \
         WHERE tenant_id = $1 ORDER BY tree_size DESC LIMIT 1",
    )
    .bind(tenant)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(head_from_row).transpose()
}

/// Erasure: unlink a customer from the log without touching a hashed byte.
pub async fn forget_customer(db: &Db, tenant: &str, customer: &str) -> Result<u64, StoreError> {
    let mut tx = db.pool.begin().await?;
    let done = sqlx::query(
        "UPDATE ledger_entries SET customer_ref = NULL WHERE tenant_id = $1 AND customer_ref = $2",
    )
    .bind(tenant)
    .bind(customer)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM ledger_customer_salts WHERE tenant_id = $1 AND customer_ref = $2")
        .bind(tenant)
        .bind(customer)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// Every customer salt of the tenant (for `audit verify`'s commitment check).
pub async fn customer_salts(db: &Db, tenant: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let rows =
        sqlx::query("SELECT customer_ref, salt FROM ledger_customer_salts WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_all(&db.pool)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("customer_ref")?, r.try_get("salt")?)))
        .collect()
}

/// Entries of the given kinds from `from` on, in index order, at most `limit`.
pub async fn entries_of_kinds(
    db: &Db,
    tenant: &str,
    kinds: &[&str],
    from: u64,
    limit: u32,
) -> Result<Vec<EntryRow>, StoreError> {
    let placeholders: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE tenant_id = $1 AND idx >= $2 \
         AND kind IN ({}) ORDER BY idx LIMIT $3",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(tenant)
        .bind(from as i64)
        .bind(limit as i64);
    for k in kinds {
        q = q.bind(*k);
    }
    let rows = q.fetch_all(&db.pool).await?;
    rows.iter().map(entry_from_row).collect()
}

/// A consent's end entries (`consent_withdrawn` / `consent_expired`) after its grant at
/// `after`, found through the customer commitment the grant entry carries, never through the
/// consent row: the commitment is hashed into every leaf, so a writer who nulls the row's
/// `end_ledger_index` cannot hide the end from the gates. Few rows per customer (index 0011).
pub async fn consent_ends(
    db: &Db,
    tenant: &str,
    commitment: &[u8],
    after: u64,
    consent_id: &str,
) -> Result<Vec<EntryRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE tenant_id = $1 \
         AND customer_commitment = $2 AND idx > $3 \
         AND kind IN ('consent_withdrawn', 'consent_expired') ORDER BY idx"
    ))
    .bind(tenant)
    .bind(commitment)
    .bind(after as i64)
    .fetch_all(&db.pool)
    .await?;
    let entries: Vec<EntryRow> = rows.iter().map(entry_from_row).collect::<Result<_, _>>()?;
    // The body is JSON text; matching the consent id here keeps the SQL portable.
    Ok(entries
        .into_iter()
        .filter(|e| {
            serde_json::from_str::<serde_json::Value>(&e.body)
                .ok()
                .and_then(|b| {
                    b.get("consent_id")
                        .and_then(|v| v.as_str())
                        .map(|c| c == consent_id)
                })
                .unwrap_or(false)
        })
        .collect())
}

/// One customer's salt, if the customer is still known.
pub async fn salt(db: &Db, tenant: &str, customer: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let row = sqlx::query(
        "SELECT salt FROM ledger_customer_salts WHERE tenant_id = $1 AND customer_ref = $2",
    )
    .bind(tenant)
    .bind(customer)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| Ok(r.try_get("salt")?)).transpose()
}
