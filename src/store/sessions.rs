//! Sessions and lockout counters. Every query filters by tenant.

use sqlx::{AnyConnection, Row};

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

/// A session's re-decision: written only if nobody changed the row since `revision` was read
/// (optimistic concurrency); otherwise the write, and the entry it rides with, are refused
/// with [`StoreError::Stale`] and the caller re-reads.
#[derive(Debug, Clone)]
pub struct SessionUpdate {
    pub tenant: TenantId,
    pub session_id: String,
    pub revision: i64,
    pub outcome: String,
    pub assurance: String,
    pub evidence: String,
    pub decision: String,
    pub now: i64,
    pub verified_at: Option<i64>,
}

async fn update(conn: &mut AnyConnection, u: &SessionUpdate) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET outcome = $1, assurance = $2, evidence = $3, decision = $4, \
         updated_at = $5, verified_at = COALESCE(verified_at, $6), revision = revision + 1 \
         WHERE tenant_id = $7 AND session_id = $8 AND revision = $9",
    )
    .bind(u.outcome.as_str())
    .bind(u.assurance.as_str())
    .bind(u.evidence.as_str())
    .bind(u.decision.as_str())
    .bind(u.now)
    .bind(u.verified_at)
    .bind(u.tenant.as_str())
    .bind(u.session_id.as_str())
    .bind(u.revision)
    .execute(conn)
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Stale)
    }
}

/// What a decision needs to know about a tenant and one of its customers, read in one round
/// trip: the tenant's sector, the customer's registration, which templates and factors exist,
/// and the lockout counters. (Nine separate reads per request were most of the read cost.)
#[derive(Debug, Clone, Default)]
pub struct DecisionContext {
    pub sector: String,
    /// The methods the customer chose; `None` when the customer is not registered.
    pub methods: Option<Vec<String>>,
    /// Those of the asked-for modalities that have a stored template.
    pub templates: Vec<String>,
    /// TOTP counts from enrolment (its first accepted code confirms it).
    pub totp: bool,
    pub pin: bool,
    /// At least one unused recovery code.
    pub recovery_codes: bool,
    /// The tenant has a webhook, so one-time codes can be delivered.
    pub webhook: bool,
    /// At least one registered passkey.
    pub passkey: bool,
    pub biometric_failures: i64,
    /// (factor, failures, last failure ms) per factor with a counter.
    pub factor_failures: Vec<(String, i64, i64)>,
}

/// Read the [`DecisionContext`]; `None` when the tenant does not exist. `modalities` are the
/// template modalities to look for (bound as parameters, one scalar subquery each).
///
/// One row per lockout_factor row of the customer (at most one per factor kind), or one row
/// with NULL factor columns when there is none; the other columns repeat.
pub async fn decision_context(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    modalities: &[&str],
) -> Result<Option<DecisionContext>, StoreError> {
    let mut sql = String::from(
        "SELECT t.sector, c.methods, \
         (SELECT COUNT(*) FROM factor_totp WHERE tenant_id = $1 AND customer_ref = $2) AS totp, \
         (SELECT COUNT(*) FROM factor_pins WHERE tenant_id = $1 AND customer_ref = $2) AS pin, \
         (SELECT COUNT(*) FROM recovery_codes WHERE tenant_id = $1 AND customer_ref = $2 \
            AND used_at IS NULL) AS recovery, \
         (SELECT COUNT(*) FROM webhooks WHERE tenant_id = $1) AS webhook, \
         (SELECT COUNT(*) FROM passkeys WHERE tenant_id = $1 AND customer_ref = $2) AS passkey, \
         (SELECT failures FROM lockout_factor WHERE tenant_id = $1 AND customer_ref = $2 \
            AND factor = 'biometric') AS biometric_failures, \
         lf.factor, lf.failures, lf.last_failure_at",
    );
    for i in 0..modalities.len() {
        sql.push_str(&format!(
            ", (SELECT COUNT(*) FROM biometric_templates WHERE tenant_id = $1 \
             AND customer_ref = $2 AND modality = ${}) AS template_{i}",
            i + 3
        ));
    }
    sql.push_str(
        " FROM tenants t \
         LEFT JOIN customers c ON c.tenant_id = t.tenant_id AND c.customer_ref = $2 \
         LEFT JOIN lockout_factor lf ON lf.tenant_id = t.tenant_id AND lf.customer_ref = $2 \
            AND lf.factor <> 'biometric' \
         WHERE t.tenant_id = $1",
    );
    let mut query = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(customer.as_str());
    for m in modalities {
        query = query.bind(*m);
    }
    let rows = query.fetch_all(&db.pool).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let count = |name: &str| -> Result<bool, StoreError> { Ok(first.try_get::<i64, _>(name)? > 0) };
    let mut templates = Vec::new();
    for (i, m) in modalities.iter().enumerate() {
        if count(&format!("template_{i}"))? {
            templates.push((*m).to_string());
        }
    }
    let methods: Option<String> = first.try_get("methods")?;
    let mut factor_failures = Vec::new();
    for r in &rows {
        let factor: Option<String> = r.try_get("factor")?;
        if let Some(factor) = factor {
            factor_failures.push((
                factor,
                r.try_get("failures")?,
                r.try_get("last_failure_at")?,
            ));
        }
    }
    Ok(Some(DecisionContext {
        sector: first.try_get("sector")?,
        methods: methods.map(|m| m.split_whitespace().map(str::to_string).collect()),
        templates,
        totp: count("totp")?,
        pin: count("pin")?,
        recovery_codes: count("recovery")?,
        webhook: count("webhook")?,
        passkey: count("passkey")?,
        biometric_failures: first
            .try_get::<Option<i64>, _>("biometric_failures")?
            .unwrap_or(0),
        factor_failures,
    }))
}

/// Lockout counters of one customer: consecutive biometric failures, per-factor failures.
pub async fn lockout(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<(i64, Vec<(String, i64, i64)>), StoreError> {
    let rows = sqlx::query(
        "SELECT factor, failures, last_failure_at FROM lockout_factor \
         WHERE tenant_id = $1 AND customer_ref = $2",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .fetch_all(&db.pool)
    .await?;
    let mut biometric = 0;
    let mut factors = Vec::new();
    for r in &rows {
        let factor: String = r.try_get("factor")?;
        let failures: i64 = r.try_get("failures")?;
        if factor == super::lockout::BIOMETRIC {
            biometric = failures;
        } else {
            factors.push((factor, failures, r.try_get("last_failure_at")?));
        }
    }
    Ok((biometric, factors))
}

/// A write a decision needs: a new session's row or a re-decided session's update. It commits
/// inside the ledger's batch transaction together with the decision's audit entry
/// (`store::batch`), so a decision is one durable commit and is acknowledged only after it.
/// (Lockout counters are not among them: an attempt is counted before its evidence is
/// evaluated, `store::lockout`.)
#[derive(Debug, Clone)]
pub enum SessionWrite {
    Insert(Box<OwnedSession>),
    Update(Box<SessionUpdate>),
}

/// `NewSession` with owned fields, to cross into the ledger's writer task.
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

const SESSION_COLUMNS: usize = 15;
/// Rows per multi-row INSERT: 60 x 15 = 900 parameters, under SQLite's default limit of 999
/// (PostgreSQL allows 65,535).
const SESSION_ROWS_PER_INSERT: usize = 60;

/// Apply a batch's session writes inside the caller's transaction: the new rows with
/// multi-row INSERTs (one statement per 60 rows instead of one each: on PostgreSQL every
/// statement is a round trip the single writer waits for), then the updates in order.
pub async fn apply_writes(
    conn: &mut AnyConnection,
    writes: &[&SessionWrite],
) -> Result<(), StoreError> {
    let inserts: Vec<&OwnedSession> = writes
        .iter()
        .filter_map(|w| match w {
            SessionWrite::Insert(s) => Some(s.as_ref()),
            SessionWrite::Update(_) => None,
        })
        .collect();
    for chunk in inserts.chunks(SESSION_ROWS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO sessions (session_id, tenant_id, customer_ref, channel, outcome, \
             assurance, policy_id, policy_version, policy_hash, evidence, decision, handoff_from, \
             created_at, updated_at, expires_at, verified_at, revision) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * SESSION_COLUMNS;
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 1..=SESSION_COLUMNS {
                sql.push_str(&format!("${},", b + c));
                if c == 13 {
                    // updated_at = created_at
                    sql.push_str(&format!("${},", b + c));
                }
            }
            sql.push_str("1)");
        }
        let mut q = sqlx::query(&sql);
        for s in chunk {
            q = q
                .bind(s.session_id.clone())
                .bind(s.tenant.to_string())
                .bind(s.customer.to_string())
                .bind(s.channel.clone())
                .bind(s.outcome.clone())
                .bind(s.assurance.clone())
                .bind(s.policy_id.clone())
                .bind(s.policy_version.clone())
                .bind(s.policy_hash.clone())
                .bind(s.evidence.clone())
                .bind(s.decision.clone())
                .bind(s.handoff_from.clone())
                .bind(s.now)
                .bind(s.expires_at)
                .bind(s.verified_at);
        }
        q.execute(&mut *conn)
            .await
            .map_err(StoreError::from_insert)?;
    }
    for w in writes {
        if let SessionWrite::Update(u) = w {
            update(&mut *conn, u).await?;
        }
    }
    Ok(())
}
