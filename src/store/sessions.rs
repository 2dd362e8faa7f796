//! Sessions and lockout counters. Every query filters by tenant.

use sqlx::Row;

use super::{Db, StoreError};
use crate::tenants::{CustomerRef, TenantId};

#[derive(Debug, Clone)]
pub struct StoredSession {
    pub session_id: String,
    pub customer_ref: String,
    pub channel: String,
    pub outcome: String,
    pub evidence: String,
    pub decision: String,
    pub handoff_from: Option<String>,
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
    pub verified_at: Option<i64>,
}

pub struct NewSession<'a> {
    pub session_id: &'a str,
    pub tenant: &'a TenantId,
    pub customer: &'a CustomerRef,
    pub channel: &'a str,
    pub outcome: &'a str,
    pub assurance: &'a str,
    pub policy_id: &'a str,
    pub policy_version: &'a str,
    pub policy_hash: &'a str,
    pub evidence: &'a str,
    pub decision: &'a str,
    pub handoff_from: Option<&'a str>,
    pub now: i64,
    pub expires_at: i64,
    pub verified_at: Option<i64>,
}

pub async fn insert(db: &Db, s: &NewSession<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (session_id, tenant_id, customer_ref, channel, outcome, assurance, \
         policy_id, policy_version, policy_hash, evidence, decision, handoff_from, revision, \
         created_at, updated_at, expires_at, verified_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13, $14, $15)",
    )
    .bind(s.session_id)
    .bind(s.tenant.as_str())
    .bind(s.customer.as_str())
    .bind(s.channel)
    .bind(s.outcome)
    .bind(s.assurance)
    .bind(s.policy_id)
    .bind(s.policy_version)
    .bind(s.policy_hash)
    .bind(s.evidence)
    .bind(s.decision)
    .bind(s.handoff_from)
    .bind(s.now)
    .bind(s.expires_at)
    .bind(s.verified_at)
    .execute(&db.pool)
    .await
    .map_err(StoreError::from_insert)?;
    Ok(())
}

pub async fn get(
    db: &Db,
    tenant: &TenantId,
    session_id: &str,
) -> Result<Option<StoredSession>, StoreError> {
    let row = sqlx::query(
        "SELECT session_id, customer_ref, channel, outcome, evidence, decision, handoff_from, \
         revision, created_at, updated_at, expires_at, verified_at \
         FROM sessions WHERE tenant_id = $1 AND session_id = $2",
    )
    .bind(tenant.as_str())
    .bind(session_id)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(StoredSession {
            session_id: r.try_get("session_id")?,
            customer_ref: r.try_get("customer_ref")?,
            channel: r.try_get("channel")?,
            outcome: r.try_get("outcome")?,
            evidence: r.try_get("evidence")?,
            decision: r.try_get("decision")?,
            handoff_from: r.try_get("handoff_from")?,
            revision: r.try_get("revision")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            expires_at: r.try_get("expires_at")?,
            verified_at: r.try_get("verified_at")?,
        })
    })
    .transpose()
}

pub struct SessionUpdate<'a> {
    pub outcome: &'a str,
    pub assurance: &'a str,
    pub evidence: &'a str,
    pub decision: &'a str,
    pub now: i64,
    pub verified_at: Option<i64>,
}

/// Optimistic update: succeeds only if nobody changed the session since `revision` was read.
pub async fn update(
    db: &Db,
    tenant: &TenantId,
    session_id: &str,
    revision: i64,
    u: &SessionUpdate<'_>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET outcome = $1, assurance = $2, evidence = $3, decision = $4, \
         updated_at = $5, verified_at = COALESCE(verified_at, $6), revision = revision + 1 \
         WHERE tenant_id = $7 AND session_id = $8 AND revision = $9",
    )
    .bind(u.outcome)
    .bind(u.assurance)
    .bind(u.evidence)
    .bind(u.decision)
    .bind(u.now)
    .bind(u.verified_at)
    .bind(tenant.as_str())
    .bind(session_id)
    .bind(revision)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Lockout counters of one customer: consecutive biometric failures, per-factor failures.
pub async fn lockout(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<(i64, Vec<(String, i64, i64)>), StoreError> {
    let bio = sqlx::query(
        "SELECT failures FROM lockout_biometric WHERE tenant_id = $1 AND customer_ref = $2",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .fetch_optional(&db.pool)
    .await?
    .map(|r| r.try_get::<i64, _>("failures"))
    .transpose()?
    .unwrap_or(0);
    let rows = sqlx::query(
        "SELECT factor, failures, last_failure_at FROM lockout_factor \
         WHERE tenant_id = $1 AND customer_ref = $2",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .fetch_all(&db.pool)
    .await?;
    let factors = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get("factor")?,
                r.try_get("failures")?,
                r.try_get("last_failure_at")?,
            ))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((bio, factors))
}

/// Atomically count a biometric failure (or reset on a match). Instances agree because the
/// increment happens in the database.
pub async fn record_biometric(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    matched: bool,
    now: i64,
) -> Result<(), StoreError> {
    let sql = if matched {
        "INSERT INTO lockout_biometric (tenant_id, customer_ref, failures, updated_at) \
         VALUES ($1, $2, 0, $3) ON CONFLICT (tenant_id, customer_ref) \
         DO UPDATE SET failures = 0, updated_at = $3"
    } else {
        "INSERT INTO lockout_biometric (tenant_id, customer_ref, failures, updated_at) \
         VALUES ($1, $2, 1, $3) ON CONFLICT (tenant_id, customer_ref) \
         DO UPDATE SET failures = lockout_biometric.failures + 1, updated_at = $3"
    };
    sqlx::query(sql)
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Count a factor attempt: failure increments; success clears it and re-enables biometrics
/// (NIST SP 800-63B-4 §3.2.3: disabled "until another authenticator succeeds").
pub async fn record_factor(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    factor: &str,
    success: bool,
    now: i64,
) -> Result<(), StoreError> {
    if success {
        let mut tx = db.pool.begin().await?;
        sqlx::query(
            "DELETE FROM lockout_factor WHERE tenant_id = $1 AND customer_ref = $2 AND factor = $3",
        )
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .bind(factor)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM lockout_biometric WHERE tenant_id = $1 AND customer_ref = $2")
            .bind(tenant.as_str())
            .bind(customer.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    } else {
        sqlx::query(
            "INSERT INTO lockout_factor (tenant_id, customer_ref, factor, failures, last_failure_at) \
             VALUES ($1, $2, $3, 1, $4) ON CONFLICT (tenant_id, customer_ref, factor) \
             DO UPDATE SET failures = lockout_factor.failures + 1, last_failure_at = $4",
        )
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .bind(factor)
        .bind(now)
        .execute(&db.pool)
        .await?;
    }
    Ok(())
}

/// A write a new session needs: its row, and the biometric counter updates of its evidence.
#[derive(Debug, Clone)]
pub enum SessionWrite {
    Insert(Box<OwnedSession>),
    Biometric {
        tenant: TenantId,
        customer: CustomerRef,
        matched: bool,
        now: i64,
    },
}

/// `NewSession` with owned fields, to cross into the writer task.
#[derive(Debug, Clone)]
pub struct OwnedSession {
    pub session_id: String,
    pub tenant: TenantId,
    pub customer: CustomerRef,
    pub channel: String,
    pub outcome: String,
    pub assurance: String,
    pub policy_id: String,
    pub policy_version: String,
    pub policy_hash: String,
    pub evidence: String,
    pub decision: String,
    pub handoff_from: Option<String>,
    pub now: i64,
    pub expires_at: i64,
    pub verified_at: Option<i64>,
}

struct WriteRequest {
    writes: Vec<SessionWrite>,
    reply: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// Group commit for new sessions: one writer task takes every request waiting and commits them
/// in one transaction, answering each only after that commit. SQLite (synchronous=FULL) then
/// pays one sync per batch instead of one per session, and writers never wait on each other's
/// locks. A batch that fails is retried one request at a time, so one bad request fails alone.
#[derive(Debug, Clone)]
pub struct SessionWriter {
    sender: tokio::sync::mpsc::Sender<WriteRequest>,
}

impl std::fmt::Debug for WriteRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteRequest")
    }
}

const MAX_WRITE_BATCH: usize = 512;

impl SessionWriter {
    /// Start the writer task (inside a Tokio runtime).
    pub fn start(db: Db) -> Self {
        let (sender, receiver) = tokio::sync::mpsc::channel(8 * 1024);
        tokio::spawn(session_writer(db, receiver));
        Self { sender }
    }

    /// Commit `writes` atomically; returns after the commit.
    pub async fn write(&self, writes: Vec<SessionWrite>) -> Result<(), StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.sender
            .send(WriteRequest { writes, reply })
            .await
            .map_err(|_| StoreError::Migration("session writer stopped".into()))?;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Database(sqlx::Error::Protocol(e))),
            Err(_) => Err(StoreError::Migration("session writer stopped".into())),
        }
    }
}

async fn apply(conn: &mut sqlx::AnyConnection, write: &SessionWrite) -> Result<(), sqlx::Error> {
    match write {
        SessionWrite::Insert(s) => {
            sqlx::query(
                "INSERT INTO sessions (session_id, tenant_id, customer_ref, channel, outcome, assurance, \
                 policy_id, policy_version, policy_hash, evidence, decision, handoff_from, revision, \
                 created_at, updated_at, expires_at, verified_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13, $14, $15)",
            )
            .bind(&s.session_id)
            .bind(s.tenant.as_str())
            .bind(s.customer.as_str())
            .bind(&s.channel)
            .bind(&s.outcome)
            .bind(&s.assurance)
            .bind(&s.policy_id)
            .bind(&s.policy_version)
            .bind(&s.policy_hash)
            .bind(&s.evidence)
            .bind(&s.decision)
            .bind(s.handoff_from.as_deref())
            .bind(s.now)
            .bind(s.expires_at)
            .bind(s.verified_at)
            .execute(&mut *conn)
            .await?;
        }
        SessionWrite::Biometric {
            tenant,
            customer,
            matched,
            now,
        } => {
            let sql = if *matched {
                "INSERT INTO lockout_biometric (tenant_id, customer_ref, failures, updated_at) \
                 VALUES ($1, $2, 0, $3) ON CONFLICT (tenant_id, customer_ref) \
                 DO UPDATE SET failures = 0, updated_at = $3"
            } else {
                "INSERT INTO lockout_biometric (tenant_id, customer_ref, failures, updated_at) \
                 VALUES ($1, $2, 1, $3) ON CONFLICT (tenant_id, customer_ref) \
                 DO UPDATE SET failures = lockout_biometric.failures + 1, updated_at = $3"
            };
            sqlx::query(sql)
                .bind(tenant.as_str())
                .bind(customer.as_str())
                .bind(*now)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

async fn commit_batch(db: &Db, batch: &[WriteRequest]) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    for request in batch {
        for write in &request.writes {
            apply(&mut tx, write).await?;
        }
    }
    tx.commit().await
}

async fn session_writer(db: Db, mut receiver: tokio::sync::mpsc::Receiver<WriteRequest>) {
    let mut batch = Vec::with_capacity(MAX_WRITE_BATCH);
    while receiver.recv_many(&mut batch, MAX_WRITE_BATCH).await > 0 {
        let _gate = db.batch_write_guard().await;
        match commit_batch(&db, &batch).await {
            Ok(()) => {
                for request in batch.drain(..) {
                    let _ = request.reply.send(Ok(()));
                }
            }
            Err(_) if batch.len() > 1 => {
                // Isolate the failure: one transaction per request.
                for request in batch.drain(..) {
                    let one = std::slice::from_ref(&request);
                    let result = commit_batch(&db, one).await.map_err(|e| e.to_string());
                    let _ = request.reply.send(result);
                }
            }
            Err(e) => {
                for request in batch.drain(..) {
                    let _ = request.reply.send(Err(e.to_string()));
                }
            }
        }
    }
}
