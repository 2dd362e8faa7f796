//! The tamper-evident log through the real service on SQLite and PostgreSQL: gapless order
//! under concurrency (one and two writers on one database), proofs that verify offline, and
//! the tamper matrix (edit, delete, insert, swap, truncate, rewrite) that `audit verify`
//! must catch, naming the first bad entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use crate::common::TestApp;
use serde_json::json;
use trustline::{
    ledger::{
        Ledger, LedgerError, LedgerEvent,
        entry::{EntryFields, TreeHeadClaims},
        merkle::{self, Hash},
        verify::VerifyReport,
    },
    store::{
        StoreError,
        batch::BatchWrite,
        sessions::{OwnedSession, SessionWrite},
    },
    tenants::{CustomerRef, TenantId},
};

fn event(n: usize, customer: Option<&str>) -> LedgerEvent {
    LedgerEvent {
        kind: "decision".into(),
        customer: customer.map(|c| c.parse::<CustomerRef>().unwrap()),
        session_id: Some(format!("s-{n}")),
        body: json!({"outcome": "verified", "n": n}),
    }
}

async fn append_many(ledger: &std::sync::Arc<Ledger>, tenant: &TenantId, n: usize) -> Vec<u64> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let ledger = ledger.clone();
        let tenant = tenant.clone();
        tasks.push(tokio::spawn(async move {
            let customer = format!("cust-{}", i % 7);
            ledger
                .append(&tenant, event(i, Some(&customer)))
                .await
                .unwrap()
                .index
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn verify(app: &TestApp, tenant: &str) -> VerifyReport {
    trustline::audit::verify_in_service(&app.state, tenant)
        .await
        .unwrap()
}

both_backends!(
    concurrent_appends_are_gapless_and_verify,
    |app: TestApp| async move {
        let a: TenantId = "tenant-a".parse().unwrap();
        let b: TenantId = "tenant-b".parse().unwrap();
        let (ia, ib) = tokio::join!(
            append_many(&app.state.ledger, &a, 300),
            append_many(&app.state.ledger, &b, 120)
        );
        for (indexes, n) in [(ia, 300u64), (ib, 120)] {
            let set: HashSet<u64> = indexes.into_iter().collect();
            assert_eq!(
                set,
                (0..n).collect::<HashSet<_>>(),
                "one gapless order per tenant"
            );
        }
        app.state.ledger.sign_tree_head(&a).await.unwrap();
        let report = verify(&app, "tenant-a").await;
        assert!(report.ok(), "{report:?}");
        assert_eq!((report.entries, report.tree_heads), (300, 1));
        assert!(verify(&app, "tenant-b").await.ok());
    }
);

both_backends!(
    two_writers_on_one_database_keep_one_order,
    |app: TestApp| async move {
        // A second Ledger on the same database stands for a second instance.
        let other = Ledger::start(app.state.db.clone(), app.state.signer.clone());
        let t: TenantId = "shared".parse().unwrap();
        let (x, y) = tokio::join!(
            append_many(&app.state.ledger, &t, 200),
            append_many(&other, &t, 200)
        );
        let all: HashSet<u64> = x.into_iter().chain(y).collect();
        assert_eq!(all, (0..400).collect::<HashSet<_>>());
        let report = verify(&app, "shared").await;
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.entries, 400);
    }
);

both_backends!(
    proofs_verify_offline_against_signed_heads,
    |app: TestApp| async move {
        let t: TenantId = "proofs".parse().unwrap();
        let ledger = &app.state.ledger;
        for i in 0..37 {
            ledger.append(&t, event(i, None)).await.unwrap();
        }
        let head1 = ledger.sign_tree_head(&t).await.unwrap();
        for i in 37..100 {
            ledger.append(&t, event(i, Some("c"))).await.unwrap();
        }
        let head2 = ledger.sign_tree_head(&t).await.unwrap();
        assert_eq!((head1.tree_size, head2.tree_size), (37, 100));
        // The heads' signatures verify with the service's keys and say what the rows say.
        for head in [&head1, &head2] {
            let claims: TreeHeadClaims =
                serde_json::from_value(app.state.signer.verify_jws(&head.jws).unwrap()).unwrap();
            assert_eq!(claims.tree_size, head.tree_size);
            assert_eq!(claims.root_hash, head.root_hash);
            assert_eq!(claims.tenant, "proofs");
        }
        let hash = |s: &str| -> Hash { hex::decode(s).unwrap().try_into().unwrap() };
        for index in [0u64, 1, 36, 50, 99] {
            let p = ledger.inclusion_proof(&t, index, None).await.unwrap();
            assert_eq!(p.tree_size, 100);
            let path: Vec<Hash> = p.audit_path.iter().map(|h| hash(h)).collect();
            merkle::verify_inclusion(
                index,
                100,
                &hash(&p.leaf_hash),
                &path,
                &hash(&head2.root_hash),
            )
            .unwrap();
        }
        let c = ledger.consistency_proof(&t, 37, 100).await.unwrap();
        let path: Vec<Hash> = c.proof.iter().map(|h| hash(h)).collect();
        merkle::verify_consistency(
            37,
            100,
            &hash(&head1.root_hash),
            &hash(&head2.root_hash),
            &path,
        )
        .unwrap();
        // Out of range is an error, not a panic.
        assert!(ledger.inclusion_proof(&t, 100, Some(100)).await.is_err());
    }
);

both_backends!(
    erasing_a_customer_keeps_the_log_verifiable,
    |app: TestApp| async move {
        let t: TenantId = "erase".parse().unwrap();
        for i in 0..10 {
            app.state
                .ledger
                .append(
                    &t,
                    event(i, Some(if i % 2 == 0 { "alice-ref" } else { "bob-ref" })),
                )
                .await
                .unwrap();
        }
        app.state.ledger.sign_tree_head(&t).await.unwrap();
        let unlinked = app
            .state
            .ledger
            .forget_customer(&t, &"alice-ref".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(unlinked, 5);
        let rows = trustline::store::ledger::entries(&app.state.db, "erase", 0, 100)
            .await
            .unwrap();
        assert!(
            rows.iter()
                .all(|r| r.customer_ref.as_deref() != Some("alice-ref"))
        );
        assert!(
            rows.iter().all(|r| !r.body.contains("alice")),
            "no personal data in bodies"
        );
        let report = verify(&app, "erase").await;
        assert!(report.ok(), "{report:?}");
    }
);

// ---- the tamper matrix -------------------------------------------------------------------

/// A log of 12 entries with a signed head at 10.
async fn victim(app: &TestApp, tenant: &str) -> TenantId {
    let t: TenantId = tenant.parse().unwrap();
    for i in 0..10 {
        app.state
            .ledger
            .append(&t, event(i, Some("c1")))
            .await
            .unwrap();
    }
    app.state.ledger.sign_tree_head(&t).await.unwrap();
    for i in 10..12 {
        app.state.ledger.append(&t, event(i, None)).await.unwrap();
    }
    let report = verify(app, tenant).await;
    assert!(report.ok(), "{report:?}");
    t
}

async fn exec(app: &TestApp, sql: &str, tenant: &str) {
    sqlx::query(sql)
        .bind(tenant)
        .execute(&app.state.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Rewrite entries from `from` on with correct hashes, as an attacker who knows the format.
async fn rechain(app: &TestApp, tenant: &str, from: u64) {
    let rows = trustline::store::ledger::entries(&app.state.db, tenant, 0, 1000)
        .await
        .unwrap();
    let mut prev: Hash = if from == 0 {
        [0; 32]
    } else {
        rows[from as usize - 1]
            .leaf_hash
            .clone()
            .try_into()
            .unwrap()
    };
    for r in rows.iter().filter(|r| r.index >= from) {
        let fields = EntryFields {
            tenant,
            index: r.index,
            prev_hash: prev,
            kind: &r.kind,
            time_ms: r.created_at,
            session_id: r.session_id.as_deref(),
            customer_commitment: r.customer_commitment.clone().map(|c| c.try_into().unwrap()),
            body: &r.body,
        };
        let leaf = fields.leaf_hash();
        sqlx::query(
            "UPDATE ledger_entries SET prev_hash = $1, leaf_hash = $2 WHERE tenant_id = $3 AND idx = $4",
        )
        .bind(prev.to_vec())
        .bind(leaf.to_vec())
        .bind(tenant)
        .bind(r.index as i64)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
        prev = leaf;
    }
    sqlx::query("UPDATE ledger_tips SET size = $1, last_hash = $2 WHERE tenant_id = $3")
        .bind(rows.len() as i64)
        .bind(prev.to_vec())
        .bind(tenant)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
}

/// Insert a well-formed entry (correct hashes for its place) at `index`.
async fn forge_row(app: &TestApp, tenant: &str, index: u64, prev: Hash) {
    let body = r#"{"forged":true}"#;
    let fields = EntryFields {
        tenant,
        index,
        prev_hash: prev,
        kind: "consent_granted",
        time_ms: 1,
        session_id: None,
        customer_commitment: None,
        body,
    };
    sqlx::query(
        "INSERT INTO ledger_entries (tenant_id, idx, prev_hash, leaf_hash, kind, created_at, body) \
         VALUES ($1, $2, $3, $4, 'consent_granted', 1, $5)",
    )
    .bind(tenant)
    .bind(index as i64)
    .bind(prev.to_vec())
    .bind(fields.leaf_hash().to_vec())
    .bind(body)
    .execute(&app.state.db.pool)
    .await
    .unwrap();
}

async fn leaf_at(app: &TestApp, tenant: &str, index: u64) -> Hash {
    trustline::store::ledger::entry(&app.state.db, tenant, index)
        .await
        .unwrap()
        .unwrap()
        .leaf_hash
        .try_into()
        .unwrap()
}

both_backends!(
    tamper_matrix_is_caught_naming_the_first_bad_entry,
    |app: TestApp| async move {
        let mut matrix = Vec::new();
        let mut check = |name: &str, report: VerifyReport, want: Option<u64>| {
            assert!(!report.ok(), "{name}: tampering went unnoticed");
            assert_eq!(report.first_bad_entry, want, "{name}: {report:?}");
            matrix.push(format!(
                "{name:<34} caught: {}",
                report.fault.clone().unwrap_or_default()
            ));
        };

        // Edit a field (the body of entry 4).
        victim(&app, "t-edit").await;
        exec(&app, r#"UPDATE ledger_entries SET body = '{"outcome":"denied","n":4}' WHERE tenant_id = $1 AND idx = 4"#, "t-edit").await;
        check("edit a field (body)", verify(&app, "t-edit").await, Some(4));

        // Edit another hashed field (time).
        victim(&app, "t-edit-time").await;
        exec(&app, "UPDATE ledger_entries SET created_at = created_at + 1 WHERE tenant_id = $1 AND idx = 2", "t-edit-time").await;
        check(
            "edit a field (time)",
            verify(&app, "t-edit-time").await,
            Some(2),
        );

        // Delete a row.
        victim(&app, "t-delete").await;
        exec(
            &app,
            "DELETE FROM ledger_entries WHERE tenant_id = $1 AND idx = 4",
            "t-delete",
        )
        .await;
        check("delete a row", verify(&app, "t-delete").await, Some(4));

        // Insert a row in the middle (later rows shifted up, the forged row hashed correctly).
        victim(&app, "t-insert").await;
        exec(
            &app,
            "UPDATE ledger_entries SET idx = idx + 1000 WHERE tenant_id = $1 AND idx >= 4",
            "t-insert",
        )
        .await;
        exec(
            &app,
            "UPDATE ledger_entries SET idx = idx - 999 WHERE tenant_id = $1 AND idx >= 1000",
            "t-insert",
        )
        .await;
        let prev = leaf_at(&app, "t-insert", 3).await;
        forge_row(&app, "t-insert", 4, prev).await;
        check(
            "insert a row (middle)",
            verify(&app, "t-insert").await,
            Some(5),
        );

        // Insert a row at the end, hashed correctly for its place.
        victim(&app, "t-append").await;
        let prev = leaf_at(&app, "t-append", 11).await;
        forge_row(&app, "t-append", 12, prev).await;
        check(
            "insert a row (end)",
            verify(&app, "t-append").await,
            Some(12),
        );

        // Swap two rows.
        victim(&app, "t-swap").await;
        exec(
            &app,
            "UPDATE ledger_entries SET idx = -1 WHERE tenant_id = $1 AND idx = 3",
            "t-swap",
        )
        .await;
        exec(
            &app,
            "UPDATE ledger_entries SET idx = 3 WHERE tenant_id = $1 AND idx = 6",
            "t-swap",
        )
        .await;
        exec(
            &app,
            "UPDATE ledger_entries SET idx = 6 WHERE tenant_id = $1 AND idx = -1",
            "t-swap",
        )
        .await;
        check("swap two rows", verify(&app, "t-swap").await, Some(3));

        // Truncate the end.
        victim(&app, "t-trunc").await;
        exec(
            &app,
            "DELETE FROM ledger_entries WHERE tenant_id = $1 AND idx >= 7",
            "t-trunc",
        )
        .await;
        check("truncate", verify(&app, "t-trunc").await, Some(7));

        // Truncate and also move the tip: the signed head at 10 still catches it.
        victim(&app, "t-trunc-tip").await;
        exec(
            &app,
            "DELETE FROM ledger_entries WHERE tenant_id = $1 AND idx >= 7",
            "t-trunc-tip",
        )
        .await;
        let last = leaf_at(&app, "t-trunc-tip", 6).await;
        sqlx::query("UPDATE ledger_tips SET size = 7, last_hash = $1 WHERE tenant_id = $2")
            .bind(last.to_vec())
            .bind("t-trunc-tip")
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        check(
            "truncate + fix the tip",
            verify(&app, "t-trunc-tip").await,
            Some(7),
        );

        // Edit and recompute every hash after it (and the tip): only the signed head knows.
        victim(&app, "t-rewrite").await;
        exec(&app, r#"UPDATE ledger_entries SET body = '{"outcome":"denied"}' WHERE tenant_id = $1 AND idx = 5"#, "t-rewrite").await;
        rechain(&app, "t-rewrite", 5).await;
        check(
            "edit + recompute all hashes",
            verify(&app, "t-rewrite").await,
            None,
        );

        // Forge the signed head's row.
        victim(&app, "t-head").await;
        sqlx::query("UPDATE ledger_tree_heads SET root_hash = $1 WHERE tenant_id = $2")
            .bind(vec![7u8; 32])
            .bind("t-head")
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        check(
            "edit a signed tree head",
            verify(&app, "t-head").await,
            None,
        );

        // Untouched neighbours still verify: tampering is per tenant.
        victim(&app, "t-clean").await;
        assert!(verify(&app, "t-clean").await.ok());
        eprintln!(
            "tamper matrix ({:?}):\n{}",
            app.state.db.backend,
            matrix.join("\n")
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_verify_command_names_the_first_bad_entry() {
    let app = TestApp::start(crate::common::Backend::Sqlite).await;
    victim(&app, "cli").await;
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_trustline"))
            .args(["audit", "verify", "--tenant", "cli"])
            .env("TRUSTLINE_DATA_DIR", app.data_dir())
            .env("DATABASE_URL", crate::common::sqlite_url(&app.data_dir()))
            .env("TRUSTLINE_LOG_FORMAT", "json")
            .output()
            .unwrap()
    };
    let ok = run();
    let out = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(
        ok.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        out.contains("ok   cli: 12 entries, 1 signed tree heads, 10 commitments"),
        "{out}"
    );
    exec(
        &app,
        "DELETE FROM ledger_entries WHERE tenant_id = $1 AND idx = 8",
        "cli",
    )
    .await;
    let bad = run();
    let out = String::from_utf8_lossy(&bad.stdout).to_string();
    assert!(!bad.status.success());
    assert!(out.contains("FAIL cli: entry 8 is missing"), "{out}");
}

fn session_row(tenant: &TenantId, id: &str) -> BatchWrite {
    BatchWrite::Session(SessionWrite::Insert(Box::new(OwnedSession {
        session_id: id.into(),
        tenant: tenant.clone(),
        customer: "cust-9".parse().unwrap(),
        channel: "chat".into(),
        outcome: "step_up_required".into(),
        assurance: "none".into(),
        policy_id: "retail".into(),
        policy_version: "1.0.0".into(),
        policy_hash: "00".into(),
        evidence: "{}".into(),
        decision: "{}".into(),
        handoff_from: None,
        now: 1,
        expires_at: i64::MAX,
        verified_at: None,
    })))
}

async fn count(app: &TestApp, sql: &str, tenant: &str) -> i64 {
    use sqlx::Row as _;
    sqlx::query(sql)
        .bind(tenant)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

// A session row rides in the ledger's batch with its decision entry: both commit or neither.
// A batch holding one refused row (a duplicate session id) is retried without it: only that
// append fails, and it leaves neither a row nor an entry behind.
both_backends!(
    rows_commit_with_their_entry_and_a_refused_row_fails_alone,
    |app: TestApp| async move {
        app.tenant_with_key("t-rows", trustline::tenants::Sector::Retail, &[])
            .await;
        let tenant: TenantId = "t-rows".parse().unwrap();
        let ledger = &app.state.ledger;
        ledger
            .append_with(
                &tenant,
                event(0, Some("cust-9")),
                vec![session_row(&tenant, "ses-dup")],
            )
            .await
            .unwrap();
        // 40 concurrent appends land in shared batches; number 7 repeats the first id.
        let mut tasks = Vec::new();
        for n in 1..=40 {
            let (ledger, tenant) = (ledger.clone(), tenant.clone());
            tasks.push(tokio::spawn(async move {
                let id = if n == 7 {
                    "ses-dup".to_string()
                } else {
                    format!("ses-{n}")
                };
                ledger
                    .append_with(
                        &tenant,
                        event(n, Some("cust-9")),
                        vec![session_row(&tenant, &id)],
                    )
                    .await
                    .map(|r| r.index)
            }));
        }
        let mut ok = 0;
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert_eq!(i + 1, 7, "only the duplicate fails: {e}");
                    // The caller learns why, typed (a stale session revision is retried on it).
                    assert!(
                        matches!(e, LedgerError::Store(StoreError::Duplicate)),
                        "refusal kept its reason: {e:?}"
                    );
                }
            }
        }
        assert_eq!(ok, 39);
        let sessions = count(
            &app,
            "SELECT COUNT(*) FROM sessions WHERE tenant_id = $1",
            "t-rows",
        )
        .await;
        let entries = count(
            &app,
            "SELECT COUNT(*) FROM ledger_entries WHERE tenant_id = $1",
            "t-rows",
        )
        .await;
        assert_eq!(
            (sessions, entries),
            (40, 40),
            "one row per entry, none for the refused one"
        );
        let report = verify(&app, "t-rows").await;
        assert!(report.ok(), "{report:?}");
    }
);

both_backends!(
    the_background_loops_serve_starts_sign_grown_logs_and_stop_when_dropped,
    |app: TestApp| async move {
        use std::time::Duration;
        use trustline::background::{self, Intervals};
        app.tenant_with_key("t-loops", trustline::tenants::Sector::Retail, &[])
            .await;
        let tenant: TenantId = "t-loops".parse().unwrap();
        let heads = || async {
            trustline::store::ledger::tree_heads(&app.state.db, "t-loops")
                .await
                .unwrap()
        };
        app.state
            .ledger
            .append(&tenant, event(0, Some("cust-1")))
            .await
            .unwrap();
        let every = Intervals {
            tree_heads: Duration::from_millis(100),
            retention: Duration::from_millis(100),
            key_reload: Duration::from_millis(100),
            outbox_poll: Duration::from_millis(50),
        };
        let loops = background::start(&app.state, every).await;
        // Start-up signs the head the log was left without.
        assert_eq!(heads().await.last().map(|h| h.tree_size), Some(1));
        // The periodic loop signs the log once it grew.
        app.state
            .ledger
            .append(&tenant, event(1, Some("cust-1")))
            .await
            .unwrap();
        let mut signed = false;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if heads().await.last().map(|h| h.tree_size) == Some(2) {
                signed = true;
                break;
            }
        }
        assert!(signed, "the periodic loop signed the grown log");
        // Dropped: the loops stop, a grown log stays unsigned.
        drop(loops);
        app.state
            .ledger
            .append(&tenant, event(2, Some("cust-1")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(heads().await.last().map(|h| h.tree_size), Some(2));
    }
);
