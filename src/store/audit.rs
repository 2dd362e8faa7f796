//! Reading the tamper-evident log for people: filtered, keyset-paginated searches (console),
//! bounded pages for streamed exports, and one customer's entries (privacy download).
//!
//! Filters on body fields (purpose, channel, outcome, agent) match the exact `"key":"value"`
//! text of the stored body, which is compact JSON exactly as hashed; values are restricted to
//! a safe alphabet so the match is exact and the same SQL works on both backends.

use super::{Db, StoreError, ledger::EntryRow};

/// What a staff member may filter the log by. Absent fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub customer_ref: Option<String>,
    pub kind: Option<String>,
    pub purpose: Option<String>,
    pub channel: Option<String>,
    pub outcome: Option<String>,
    /// The agent involved: a consent's witness or a decision's agent.
    pub agent: Option<String>,
    pub session_id: Option<String>,
    /// Inclusive lower bound, ms since the epoch.
    pub from_ms: Option<i64>,
    /// Exclusive upper bound, ms since the epoch.
    pub to_ms: Option<i64>,
}

/// Values usable in a filter: ids, purposes, kinds, outcomes. Nothing that needs JSON escaping.
pub fn valid_filter_value(v: &str) -> bool {
    (1..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b))
}

fn like_body(key: &str, value: &str) -> String {
    let mut pattern = String::from("%\"");
    pattern.push_str(key);
    pattern.push_str("\":\"");
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str("\"%");
    pattern
}

enum Bind {
    Text(String),
    Int(i64),
}

/// `WHERE` clause and its bindings (from `$2` on; `$1` is the tenant).
fn where_clause(filter: &AuditFilter) -> (String, Vec<Bind>) {
    let mut sql = String::from("tenant_id = $1");
    let mut binds: Vec<Bind> = Vec::new();
    let push = |sql: &mut String, binds: &mut Vec<Bind>, clause: &str, b: Bind| {
        binds.push(b);
        let n = binds.len() + 1;
        sql.push_str(" AND ");
        sql.push_str(&clause.replace("{}", &format!("${n}")));
    };
    if let Some(c) = &filter.customer_ref {
        push(
            &mut sql,
            &mut binds,
            "customer_ref = {}",
            Bind::Text(c.clone()),
        );
    }
    if let Some(k) = &filter.kind {
        push(&mut sql, &mut binds, "kind = {}", Bind::Text(k.clone()));
    }
    if let Some(s) = &filter.session_id {
        push(
            &mut sql,
            &mut binds,
            "session_id = {}",
            Bind::Text(s.clone()),
        );
    }
    for (key, value) in [
        ("purpose", &filter.purpose),
        ("channel", &filter.channel),
        ("outcome", &filter.outcome),
    ] {
        if let Some(v) = value {
            push(
                &mut sql,
                &mut binds,
                "body LIKE {} ESCAPE '\\'",
                Bind::Text(like_body(key, v)),
            );
        }
    }
    // Body filters describe consents and decisions; a staff action that searched for the same
    // values (its details name them) is not itself a match unless staff actions are asked for.
    let body_filter = filter.purpose.is_some()
        || filter.channel.is_some()
        || filter.outcome.is_some()
        || filter.agent.is_some();
    if body_filter && filter.kind.as_deref() != Some("staff_action") {
        sql.push_str(" AND kind <> 'staff_action'");
    }
    if let Some(agent) = &filter.agent {
        binds.push(Bind::Text(like_body("witness", agent)));
        binds.push(Bind::Text(like_body("agent", agent)));
        let (a, b) = (binds.len(), binds.len() + 1);
        sql.push_str(&format!(
            " AND (body LIKE ${a} ESCAPE '\\' OR body LIKE ${b} ESCAPE '\\')"
        ));
    }
    if let Some(from) = filter.from_ms {
        push(&mut sql, &mut binds, "created_at >= {}", Bind::Int(from));
    }
    if let Some(to) = filter.to_ms {
        push(&mut sql, &mut binds, "created_at < {}", Bind::Int(to));
    }
    (sql, binds)
}

const COLUMNS: &str = "idx, prev_hash, leaf_hash, kind, created_at, session_id, \
                       customer_commitment, customer_ref, body";

async fn query(
    db: &Db,
    tenant: &str,
    filter: &AuditFilter,
    descending: bool,
    bound: Option<i64>,
    limit: u32,
) -> Result<Vec<EntryRow>, StoreError> {
    let (mut clause, mut binds) = where_clause(filter);
    if let Some(at) = bound {
        binds.push(Bind::Int(at));
        let n = binds.len() + 1;
        clause.push_str(&format!(
            " AND idx {} ${n}",
            if descending { "<" } else { ">" }
        ));
    }
    binds.push(Bind::Int(i64::from(limit)));
    let n = binds.len() + 1;
    let sql = format!(
        "SELECT {COLUMNS} FROM ledger_entries WHERE {clause} ORDER BY idx {} LIMIT ${n}",
        if descending { "DESC" } else { "ASC" }
    );
    let mut q = sqlx::query(&sql).bind(tenant);
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t),
            Bind::Int(i) => q.bind(i),
        };
    }
    let rows = q.fetch_all(&db.pool).await?;
    rows.iter().map(entry_from_row).collect()
}

fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<EntryRow, StoreError> {
    use sqlx::Row as _;
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

/// Newest first, strictly before `before` (the previous page's last index), at most `limit`.
pub async fn search(
    db: &Db,
    tenant: &str,
    filter: &AuditFilter,
    before: Option<u64>,
    limit: u32,
) -> Result<Vec<EntryRow>, StoreError> {
    query(db, tenant, filter, true, before.map(|b| b as i64), limit).await
}

/// Oldest first, strictly after `after`, at most `limit`: one page of a streamed export.
pub async fn export_page(
    db: &Db,
    tenant: &str,
    filter: &AuditFilter,
    after: Option<u64>,
    limit: u32,
) -> Result<Vec<EntryRow>, StoreError> {
    query(db, tenant, filter, false, after.map(|a| a as i64), limit).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_patterns_escape_like_wildcards() {
        assert_eq!(
            like_body("purpose", "voiceprint_enrolment"),
            "%\"purpose\":\"voiceprint\\_enrolment\"%"
        );
    }

    #[test]
    fn filter_values_are_a_safe_alphabet() {
        assert!(valid_filter_value("C-1001"));
        assert!(valid_filter_value("voiceprint_enrolment"));
        assert!(!valid_filter_value("a\"b"));
        assert!(!valid_filter_value("a%"));
        assert!(!valid_filter_value(""));
    }

    #[test]
    fn placeholders_are_numbered_in_order() {
        let f = AuditFilter {
            customer_ref: Some("C-1".into()),
            purpose: Some("camera".into()),
            agent: Some("ag-1".into()),
            from_ms: Some(5),
            ..AuditFilter::default()
        };
        let (sql, binds) = where_clause(&f);
        assert_eq!(binds.len(), 5);
        assert!(sql.contains("customer_ref = $2"), "{sql}");
        assert!(sql.contains("body LIKE $3"), "{sql}");
        assert!(
            sql.contains("$4 ESCAPE") && sql.contains("$5 ESCAPE"),
            "{sql}"
        );
        assert!(sql.contains("created_at >= $6"), "{sql}");
    }
}
