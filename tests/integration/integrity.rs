//! Tamper evidence against whoever can write the database (issue 14), through the real
//! service on SQLite and PostgreSQL: signing-key rows authenticated by the master key,
//! checkpoints outside the database (verified by golang.org/x/mod/sumdb/note), a witness that
//! cosigns only consistent checkpoints, receipts built from the log, and the tamper matrix
//! (`audit verify` and the console's verify page).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
};

use crate::common::{TestApp, expect_problem};
use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};
use trustline::{
    config::{RawSettings, Secret, WitnessSetting},
    crypto::envelope::MasterKey,
    ledger::{
        LedgerEvent, checkpoint,
        entry::EntryFields,
        merkle::Hash,
        publish::{CheckpointLog, add_checkpoint_body},
        verify::{Evidence, VerifyReport},
    },
    store::now_ms,
    tenants::{Scope, Sector, TenantId},
};

pub(crate) async fn verify(app: &TestApp, tenant: &str) -> VerifyReport {
    trustline::audit::verify_in_service(&app.state, tenant)
        .await
        .unwrap()
}

pub(crate) async fn exec(app: &TestApp, sql: &str, tenant: &str) {
    sqlx::query(sql)
        .bind(tenant)
        .execute(&app.state.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A tenant's log with consents in it, all covered by an external checkpoint: two customers,
/// a dtmf grant each, one withdrawn, some decisions; a head (and checkpoint) at the end.
pub(crate) struct Victim {
    pub key: String,
    pub tenant: TenantId,
    /// cust-1's consent, in force.
    pub consent: String,
    /// cust-2's consent, withdrawn.
    pub withdrawn: String,
}

pub(crate) async fn victim(app: &TestApp, tenant: &str) -> Victim {
    let key = app
        .tenant_with_key(
            tenant,
            Sector::Retail,
            &[Scope::Consent, Scope::Enrol, Scope::Audit],
        )
        .await;
    let mut ids = Vec::new();
    for c in ["cust-1", "cust-2"] {
        let r = app
            .put_json(
                &format!("/v1/customers/{c}"),
                &key,
                json!({"methods": ["voiceprint"]}),
            )
            .await;
        assert!(r.status().is_success());
        let r = app
            .post_json("/v1/consents", &key, json!({
                "customer_ref": c, "purpose": "voiceprint_enrolment", "notice_version": "1.0.0",
                "language": "en", "capture": {"method": "dtmf", "ivr_call_id": format!("call-{c}")}
            }))
            .await;
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        ids.push(body["consent"]["consent_id"].as_str().unwrap().to_string());
    }
    let w = app
        .post_json(
            "/v1/consents/withdrawals",
            &key,
            json!({"customer_ref": "cust-2", "purpose": "voiceprint_enrolment", "method": "dtmf"}),
        )
        .await;
    assert_eq!(w.status(), 200);
    let t: TenantId = tenant.parse().unwrap();
    for i in 0..6 {
        app.state
            .ledger
            .append(
                &t,
                LedgerEvent {
                    kind: "decision".into(),
                    customer: Some("cust-1".parse().unwrap()),
                    session_id: Some(format!("s-{i}")),
                    body: json!({"outcome": "verified", "n": i}),
                },
            )
            .await
            .unwrap();
    }
    let head = app.post_json("/v1/ledger/tree-head", &key, json!({})).await;
    assert_eq!(head.status(), 201);
    let report = verify(app, tenant).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.proven_size, report.entries, "{report:?}");
    assert_eq!(report.consent_rows_checked, 2);
    Victim {
        key,
        tenant: t,
        consent: ids[0].clone(),
        withdrawn: ids[1].clone(),
    }
}

/// Recompute every hash from `from` on (and the tip), as an attacker who knows the format.
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
        let leaf = EntryFields {
            tenant,
            index: r.index,
            prev_hash: prev,
            kind: &r.kind,
            time_ms: r.created_at,
            session_id: r.session_id.as_deref(),
            customer_commitment: r.customer_commitment.clone().map(|c| c.try_into().unwrap()),
            body: &r.body,
        }
        .leaf_hash();
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
    set_tip(app, tenant, rows.len() as u64, prev).await;
}

async fn set_tip(app: &TestApp, tenant: &str, size: u64, last: Hash) {
    sqlx::query("UPDATE ledger_tips SET size = $1, last_hash = $2 WHERE tenant_id = $3")
        .bind(size as i64)
        .bind(last.to_vec())
        .bind(tenant)
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

/// An attacker's signing-key row: a fresh Ed25519 key, a sealed half that is not sealed
/// under the master key, newest and active. Returns its kid and the attacker's key pair.
async fn plant_key(app: &TestApp) -> (String, Ed25519KeyPair) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let kid = "tl-planted0000001".to_string();
    let mut blob = 12u16.to_be_bytes().to_vec();
    blob.extend_from_slice(&[7u8; 12]);
    blob.extend_from_slice(pkcs8.as_ref());
    sqlx::query(
        "INSERT INTO signing_keys (kid, public_key, sealed_private, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&kid)
    .bind(pair.public_key().as_ref().to_vec())
    .bind(blob)
    .bind(now_ms() + 60_000)
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    (kid, pair)
}

async fn rotate(app: &TestApp) {
    trustline::crypto::signing::Signer::rotate(
        &app.state.db,
        &app.state.master_key,
        std::time::Duration::from_secs(3600),
    )
    .await
    .unwrap();
    app.state
        .signer
        .reload(&app.state.db, &app.state.master_key)
        .await
        .unwrap();
}

/// A compact JWS signed with any Ed25519 key under a kid.
fn jws_with(pair: &Ed25519KeyPair, kid: &str, claims: &Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as U;
    let input = format!(
        "{}.{}",
        U.encode(json!({"alg": "EdDSA", "kid": kid, "typ": "JWT"}).to_string()),
        U.encode(claims.to_string())
    );
    let sig = pair.sign(input.as_bytes());
    format!("{input}.{}", U.encode(sig.as_ref()))
}

/// One class of attack by someone with write access to the database and no master key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tamper {
    PlantedKey,
    SwappedKey,
    RewriteAndDeleteHeads,
    TruncateAndDeleteHeads,
    BackdatedAppendNoHead,
    ConsentRowEdit,
    ConsentRowPlanted,
    ConsentRowUnwithdrawn,
    CustomerRefEdit,
}

impl Tamper {
    pub(crate) const ALL: [Tamper; 9] = [
        Tamper::PlantedKey,
        Tamper::SwappedKey,
        Tamper::RewriteAndDeleteHeads,
        Tamper::TruncateAndDeleteHeads,
        Tamper::BackdatedAppendNoHead,
        Tamper::ConsentRowEdit,
        Tamper::ConsentRowPlanted,
        Tamper::ConsentRowUnwithdrawn,
        Tamper::CustomerRefEdit,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Tamper::PlantedKey => "planted signing key (new active row)",
            Tamper::SwappedKey => "swapped public key of the active key",
            Tamper::RewriteAndDeleteHeads => "edit + recompute hashes + delete all heads",
            Tamper::TruncateAndDeleteHeads => "truncate + fix tip + delete all heads",
            Tamper::BackdatedAppendNoHead => "append backdated entry, no head",
            Tamper::ConsentRowEdit => "consent row edit (method, validity)",
            Tamper::ConsentRowPlanted => "consent row planted",
            Tamper::ConsentRowUnwithdrawn => "consent row un-withdrawn",
            Tamper::CustomerRefEdit => "entry customer_ref edit",
        }
    }

    /// What the fault must say.
    pub(crate) fn expected(self) -> &'static str {
        match self {
            Tamper::PlantedKey => "(planted)",
            Tamper::SwappedKey => "(swapped)",
            Tamper::RewriteAndDeleteHeads => "does not reproduce its root",
            Tamper::TruncateAndDeleteHeads => "covers entries missing from the database",
            Tamper::BackdatedAppendNoHead => "missing tree head",
            Tamper::ConsentRowEdit => "capture_method, valid_until (row edited)",
            Tamper::ConsentRowPlanted => "(row planted)",
            Tamper::ConsentRowUnwithdrawn => "still in force",
            Tamper::CustomerRefEdit => "(customer_ref edited)",
        }
    }

    /// Do it to the victim's tenant (and, for keys, to the service's key table), then let
    /// the running service pick up key rows as its periodic reload does.
    pub(crate) async fn apply(self, app: &TestApp, v: &Victim) {
        let t = v.tenant.as_str();
        match self {
            Tamper::PlantedKey => {
                plant_key(app).await;
            }
            Tamper::SwappedKey => {
                // A rotation first, so a genuine (retired) key remains beside the swapped one:
                // with no row that opens, the service refuses to start instead.
                rotate(app).await;
                let rng = ring::rand::SystemRandom::new();
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
                sqlx::query("UPDATE signing_keys SET public_key = $1 WHERE kid = $2")
                    .bind(pair.public_key().as_ref().to_vec())
                    .bind(app.state.signer.active_kid())
                    .execute(&app.state.db.pool)
                    .await
                    .unwrap();
            }
            Tamper::RewriteAndDeleteHeads => {
                exec(app, r#"UPDATE ledger_entries SET body = '{"outcome":"denied","n":2}' WHERE tenant_id = $1 AND idx = 5"#, t).await;
                rechain(app, t, 5).await;
                exec(app, "DELETE FROM ledger_tree_heads WHERE tenant_id = $1", t).await;
            }
            Tamper::TruncateAndDeleteHeads => {
                exec(
                    app,
                    "DELETE FROM ledger_entries WHERE tenant_id = $1 AND idx >= 6",
                    t,
                )
                .await;
                let last = leaf_at(app, t, 5).await;
                set_tip(app, t, 6, last).await;
                exec(app, "DELETE FROM ledger_tree_heads WHERE tenant_id = $1", t).await;
            }
            Tamper::BackdatedAppendNoHead => {
                let (size, last) = trustline::store::ledger::tip(&app.state.db, t)
                    .await
                    .unwrap()
                    .unwrap();
                let prev: Hash = last.try_into().unwrap();
                let body = r#"{"outcome":"verified","forged":true}"#;
                let leaf = EntryFields {
                    tenant: t,
                    index: size,
                    prev_hash: prev,
                    kind: "decision",
                    time_ms: 1_000,
                    session_id: None,
                    customer_commitment: None,
                    body,
                }
                .leaf_hash();
                sqlx::query(
                    "INSERT INTO ledger_entries (tenant_id, idx, prev_hash, leaf_hash, kind, created_at, body) \
                     VALUES ($1, $2, $3, $4, 'decision', 1000, $5)",
                )
                .bind(t)
                .bind(size as i64)
                .bind(prev.to_vec())
                .bind(leaf.to_vec())
                .bind(body)
                .execute(&app.state.db.pool)
                .await
                .unwrap();
                set_tip(app, t, size + 1, leaf).await;
            }
            Tamper::ConsentRowEdit => {
                sqlx::query(
                    "UPDATE consents SET capture_method = 'customer_device', valid_until = valid_until + 100000000000 \
                     WHERE tenant_id = $1 AND consent_id = $2",
                )
                .bind(t)
                .bind(&v.consent)
                .execute(&app.state.db.pool)
                .await
                .unwrap();
            }
            Tamper::ConsentRowPlanted => {
                let cols = "consent_id, customer_ref, purpose, notice_version, notice_hash, language, \
                    capture_method, witness, scope, session_id, granted_at, valid_until, ended_at, end_reason, \
                    ledger_index, end_ledger_index";
                sqlx::query(&format!(
                    "INSERT INTO consents (tenant_id, {cols}) SELECT tenant_id, 'planted-1', customer_ref, 'camera', \
                     notice_version, notice_hash, language, 'customer_device', witness, scope, session_id, granted_at, \
                     valid_until, NULL, NULL, ledger_index, NULL FROM consents WHERE tenant_id = $1 AND consent_id = $2"
                ))
                .bind(t)
                .bind(&v.consent)
                .execute(&app.state.db.pool)
                .await
                .unwrap();
            }
            Tamper::ConsentRowUnwithdrawn => {
                sqlx::query(
                    "UPDATE consents SET ended_at = NULL, end_reason = NULL, end_ledger_index = NULL \
                     WHERE tenant_id = $1 AND consent_id = $2",
                )
                .bind(t)
                .bind(&v.withdrawn)
                .execute(&app.state.db.pool)
                .await
                .unwrap();
            }
            Tamper::CustomerRefEdit => {
                exec(
                    app,
                    "UPDATE ledger_entries SET customer_ref = 'cust-2' WHERE tenant_id = $1 AND idx = 4",
                    t,
                )
                .await;
            }
        }
        app.state
            .signer
            .reload(&app.state.db, &app.state.master_key)
            .await
            .unwrap();
    }
}

both_backends!(
    tamper_matrix_by_database_writers_is_caught,
    |app: TestApp| async move {
        let mut matrix = Vec::new();
        for (i, case) in Tamper::ALL.into_iter().enumerate() {
            // Each case on its own tenant; key cases last touch the shared key table.
            let v = victim(&app, &format!("tm-{i}")).await;
            case.apply(&app, &v).await;
            let report = verify(&app, v.tenant.as_str()).await;
            let fault = report.fault.clone().unwrap_or_default();
            assert!(
                !report.ok() && fault.contains(case.expected()),
                "{}: {report:?}",
                case.name()
            );
            matrix.push(format!("| {} | caught | {fault} |", case.name()));
            // Key rows are service-wide: restore a clean table for the next case.
            if matches!(case, Tamper::PlantedKey | Tamper::SwappedKey) {
                sqlx::query("DELETE FROM signing_keys WHERE kid = 'tl-planted0000001'")
                    .execute(&app.state.db.pool)
                    .await
                    .unwrap();
                if matches!(case, Tamper::SwappedKey) {
                    // The swapped row stays refused for good; only the test forgets it.
                    let refused: Vec<String> = app
                        .state
                        .signer
                        .refused_keys()
                        .into_iter()
                        .map(|k| k.kid)
                        .collect();
                    for kid in refused {
                        sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
                            .bind(kid)
                            .execute(&app.state.db.pool)
                            .await
                            .unwrap();
                    }
                }
                app.state
                    .signer
                    .reload(&app.state.db, &app.state.master_key)
                    .await
                    .unwrap();
            }
        }
        let clean = victim(&app, "tm-clean").await;
        assert!(verify(&app, clean.tenant.as_str()).await.ok());
        eprintln!(
            "tamper matrix ({:?}):\n| case | result | message |\n|---|---|---|\n{}",
            app.state.db.backend,
            matrix.join("\n")
        );
    }
);

both_backends!(
    planted_and_swapped_keys_are_refused_at_start_up_and_left_out_of_the_jwks,
    |app: TestApp| async move {
        let genuine = app.state.signer.active_kid();
        let (kid, attacker) = plant_key(&app).await;
        // A new instance (start-up) refuses the row and keeps signing with the genuine key.
        let other = app.second_instance().await;
        assert_eq!(other.state.signer.active_kid(), genuine);
        let refused = other.state.signer.refused_keys();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].kid, kid);
        let jwks: Value = other
            .client
            .get(other.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, vec![genuine.as_str()], "{jwks}");
        // What the attacker signs with the planted key does not verify.
        let forged = jws_with(&attacker, &kid, &json!({"use": "customer_credential"}));
        assert!(matches!(
            other.state.signer.verify_jws(&forged),
            Err(trustline::crypto::signing::SigningError::UnknownKey)
        ));
        // A customer credential forged that way grants no consent through the API.
        let key = other
            .tenant_with_key("keys", Sector::Retail, &[Scope::Consent, Scope::Enrol])
            .await;
        other
            .put_json(
                "/v1/customers/c-1",
                &key,
                json!({"methods": ["voiceprint"]}),
            )
            .await;
        let claims = json!({"tenant": "keys", "sub": "c-1", "sid": null, "exp": now_ms() / 1000 + 60, "use": "customer_credential"});
        let r = other
            .post_json("/v1/consents", &key, json!({
                "customer_ref": "c-1", "purpose": "voiceprint_enrolment", "notice_version": "1.0.0",
                "language": "en", "capture": {"method": "customer_device", "customer_credential": jws_with(&attacker, &kid, &claims)}
            }))
            .await;
        expect_problem(r, 403, "invalid_customer_credential").await;

        // `trustline audit verify` names the row and fails.
        let out = Command::new(env!("CARGO_BIN_EXE_trustline"))
            .args(["audit", "verify"])
            .env("TRUSTLINE_DATA_DIR", app.data_dir())
            .env("DATABASE_URL", app.state.settings.database_url.expose())
            .env("TRUSTLINE_LOG_FORMAT", "json")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{stdout}");
        assert!(
            stdout.contains(&format!("FAIL signing key {kid}: its sealed private half does not open under the master key (planted)")),
            "{stdout}"
        );
        eprintln!("audit verify with a planted key:\n{stdout}");

        // Swapping the active row's public key: refused, and a genuine key takes over (after a
        // rotation, so a genuine retired key remains; with none, start-up fails).
        rotate(&app).await;
        let genuine = app.state.signer.active_kid();
        sqlx::query("UPDATE signing_keys SET public_key = $1 WHERE kid = $2")
            .bind(attacker.public_key().as_ref().to_vec())
            .bind(&genuine)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        let third = app.second_instance().await;
        let refused: Vec<String> = third
            .state
            .signer
            .refused_keys()
            .into_iter()
            .map(|k| format!("{} {}", k.kid, k.reason))
            .collect();
        assert!(
            refused
                .iter()
                .any(|r| r.starts_with(&genuine) && r.contains("swapped")),
            "{refused:?}"
        );
        assert_ne!(third.state.signer.active_kid(), genuine);
        let token = third
            .state
            .signer
            .sign_jws(&json!({"x": 1}), "JWT")
            .unwrap();
        assert!(third.state.signer.verify_jws(&token).is_ok());
    }
);

/// Build `tests/tools/note-verify` (golang.org/x/mod/sumdb/note from Debian's
/// golang-golang-x-mod-dev, GOPATH mode, offline); scripts/test.sh installs both packages.
fn go_note_verifier() -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_go_note_verifier).clone()
}

fn build_go_note_verifier() -> std::path::PathBuf {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("note-verify");
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg("./tests/tools/note-verify")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOFLAGS", "")
        .env(
            "GOCACHE",
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-cache"),
        )
        .status()
        .expect("`go` runs (scripts/test.sh installs golang-go and golang-golang-x-mod-dev)");
    assert!(status.success(), "go build of tests/tools/note-verify");
    out
}

both_backends!(
    checkpoints_leave_the_database_and_a_third_party_tool_verifies_them,
    |app: TestApp| async move {
        let v = victim(&app, "cp").await;
        let note = app.get("/v1/ledger/checkpoint", &v.key).await;
        assert_eq!(note.status(), 200);
        assert_eq!(note.headers()["content-type"], "text/plain; charset=utf-8");
        let note = note.text().await.unwrap();
        let vkey = app
            .get("/v1/ledger/checkpoint/key", &v.key)
            .await
            .text()
            .await
            .unwrap();
        let vkey = vkey.trim();
        assert!(vkey.starts_with("127.0.0.1:8080/log/cp+"), "{vkey}");
        let origin_line = note.lines().next().unwrap();
        assert_eq!(origin_line, "127.0.0.1:8080/log/cp");
        assert_eq!(note.lines().nth(1), Some("9"));

        // The file outside the database holds it, appended.
        let history =
            std::fs::read_to_string(app.data_dir().join("checkpoints/cp/checkpoints.jsonl"))
                .unwrap();
        assert_eq!(history.lines().count(), 1);
        assert!(history.contains("127.0.0.1:8080/log/cp\\n9\\n"));

        // An unmodified third-party verifier opens it.
        let tool = go_note_verifier();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("checkpoint");
        std::fs::write(&file, &note).unwrap();
        let out = Command::new(&tool).arg(vkey).arg(&file).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key_id = vkey.splitn(3, '+').take(2).collect::<Vec<_>>().join("+");
        assert!(
            stdout.contains(&format!("verified signature: {key_id}\n")),
            "{stdout}"
        );
        assert!(stdout.contains("127.0.0.1:8080/log/cp\n9\n"), "{stdout}");
        eprintln!("$ note-verify '{vkey}' checkpoint\n{stdout}");
        // ... and refuses an edited one.
        std::fs::write(&file, note.replacen("\n9\n", "\n8\n", 1)).unwrap();
        let out = Command::new(&tool).arg(vkey).arg(&file).output().unwrap();
        assert!(!out.status.success());
        eprintln!("edited size: {}", String::from_utf8_lossy(&out.stderr));

        // The CLI prints the same key.
        let out = Command::new(env!("CARGO_BIN_EXE_trustline"))
            .args(["audit", "checkpoint-key", "--tenant", "cp"])
            .env("TRUSTLINE_DATA_DIR", app.data_dir())
            .env("DATABASE_URL", app.state.settings.database_url.expose())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), vkey);

        // A log that grows gets a new checkpoint; no new entries, no new record.
        app.state
            .ledger
            .append(
                &v.tenant,
                LedgerEvent {
                    kind: "decision".into(),
                    customer: None,
                    session_id: None,
                    body: json!({}),
                },
            )
            .await
            .unwrap();
        assert_eq!(app.state.ledger.sign_grown_heads().await.unwrap(), 1);
        assert_eq!(app.state.ledger.sign_grown_heads().await.unwrap(), 0);
        let history =
            std::fs::read_to_string(app.data_dir().join("checkpoints/cp/checkpoints.jsonl"))
                .unwrap();
        assert_eq!(history.lines().count(), 2);

        // A tenant's checkpoint is its own: another key reads only its own.
        let other = app
            .tenant_with_key("cp-other", Sector::Retail, &[Scope::Audit])
            .await;
        expect_problem(
            app.get("/v1/ledger/checkpoint", &other).await,
            404,
            "no_checkpoint",
        )
        .await;
        let no_scope = app
            .tenant_with_key("cp-none", Sector::Retail, &[Scope::Sessions])
            .await;
        expect_problem(
            app.get("/v1/ledger/checkpoint", &no_scope).await,
            403,
            "scope_denied",
        )
        .await;
    }
);

both_backends!(
    missing_heads_are_a_failure_and_the_report_says_how_far_the_log_is_proven,
    |app: TestApp| async move {
        let v = victim(&app, "mh").await;
        let report = verify(&app, "mh").await;
        assert_eq!((report.proven_size, report.checkpoints), (9, 1));
        // Deleting every head in the database changes nothing: the checkpoint on file proves.
        exec(
            &app,
            "DELETE FROM ledger_tree_heads WHERE tenant_id = $1",
            "mh",
        )
        .await;
        let report = verify(&app, "mh").await;
        assert!(report.ok(), "{report:?}");
        assert_eq!((report.tree_heads, report.proven_size), (0, 9));
        // Entries past the last checkpoint are fine while young, a failure once the service
        // should have signed over them.
        for _ in 0..3 {
            app.state
                .ledger
                .append(
                    &v.tenant,
                    LedgerEvent {
                        kind: "decision".into(),
                        customer: None,
                        session_id: None,
                        body: json!({}),
                    },
                )
                .await
                .unwrap();
        }
        let log = app.state.ledger.checkpoints().unwrap();
        let db = &app.state.db;
        let signer: &trustline::crypto::signing::Signer = &app.state.signer;
        let at = |now_ms| async move {
            let evidence = Evidence {
                signer,
                checkpoints: log,
                now_ms,
            };
            trustline::audit::verify_tenant(db, &evidence, "mh")
                .await
                .unwrap()
        };
        let young = at(now_ms()).await;
        assert!(young.ok(), "{young:?}");
        assert_eq!((young.entries, young.proven_size), (12, 9));
        let later = at(now_ms() + 5 * 60_000).await;
        assert_eq!(
            later.fault.as_deref(),
            Some(
                "missing tree head: no external checkpoint covers entries 9..=11, and entry 11 was logged more than 120 s ago (one is signed every minute while entries are added)"
            )
        );
        assert_eq!(later.first_bad_entry, Some(9));
        // A log with entries and no checkpoint at all: the same failure.
        let t: TenantId = "mh-none".parse().unwrap();
        app.state
            .ledger
            .append(
                &t,
                LedgerEvent {
                    kind: "decision".into(),
                    customer: None,
                    session_id: None,
                    body: json!({}),
                },
            )
            .await
            .unwrap();
        let evidence = Evidence {
            signer: &app.state.signer,
            checkpoints: log,
            now_ms: now_ms() + 5 * 60_000,
        };
        let none = trustline::audit::verify_tenant(&app.state.db, &evidence, "mh-none")
            .await
            .unwrap();
        assert!(
            none.fault
                .unwrap()
                .starts_with("missing tree head: no external checkpoint covers entries 0..=0")
        );
        // Signing refuses to cover a database that no longer reproduces the checkpoint.
        exec(
            &app,
            r#"UPDATE ledger_entries SET body = '{}' WHERE tenant_id = $1 AND idx = 3"#,
            "mh",
        )
        .await;
        rechain(&app, "mh", 3).await;
        let restarted = app.second_instance().await;
        let err = restarted
            .state
            .ledger
            .sign_tree_head(&v.tenant)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("does not reproduce the external checkpoint at size 9"),
            "{err}"
        );
        let history =
            std::fs::read_to_string(app.data_dir().join("checkpoints/mh/checkpoints.jsonl"))
                .unwrap();
        assert_eq!(
            history.lines().count(),
            1,
            "nothing signed over the rewrite"
        );
    }
);

both_backends!(
    receipts_come_from_the_log_not_the_row,
    |app: TestApp| async move {
        let v = victim(&app, "rc").await;
        let path = format!("/v1/consents/{}/receipt", v.consent);
        let before: Value = app.get(&path, &v.key).await.json().await.unwrap();
        assert_eq!(before["receipt"]["collectionMethod"], "dtmf");
        // The withdrawn consent's receipt is built from its entries too.
        let wpath = format!("/v1/consents/{}/receipt", v.withdrawn);
        assert_eq!(app.get(&wpath, &v.key).await.status(), 200);
        let row = trustline::store::consents::get(&app.state.db, &v.tenant, &v.consent)
            .await
            .unwrap()
            .unwrap();
        // An edited row changes no receipt: every field comes from the logged entry.
        Tamper::ConsentRowEdit.apply(&app, &v).await;
        let edited: Value = app.get(&path, &v.key).await.json().await.unwrap();
        assert_eq!(edited["receipt"], before["receipt"]);
        assert_eq!(edited["receipt"]["collectionMethod"], "dtmf");
        // Pointing the row at another log entry: no receipt is signed for it.
        sqlx::query(
            "UPDATE consents SET ledger_index = $1 WHERE tenant_id = 'rc' AND consent_id = $2",
        )
        .bind(row.ledger_index + 1)
        .bind(&v.consent)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
        expect_problem(app.get(&path, &v.key).await, 500, "log_mismatch").await;
        // Naming another customer: refused too (the entry commits to cust-1).
        sqlx::query("UPDATE consents SET ledger_index = $1, customer_ref = 'cust-2' WHERE tenant_id = 'rc' AND consent_id = $2")
            .bind(row.ledger_index)
            .bind(&v.consent)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        expect_problem(app.get(&path, &v.key).await, 500, "log_mismatch").await;
        sqlx::query("UPDATE consents SET customer_ref = 'cust-1' WHERE tenant_id = 'rc' AND consent_id = $1")
            .bind(&v.consent)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        let after: Value = app.get(&path, &v.key).await.json().await.unwrap();
        assert_eq!(after["receipt"], before["receipt"]);
        // A log entry whose body was edited in place is not the ledger's: no receipt.
        sqlx::query(r#"UPDATE ledger_entries SET body = replace(body, '"dtmf"', '"customer_device"') WHERE tenant_id = 'rc' AND idx = $1"#)
            .bind(row.ledger_index)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        expect_problem(app.get(&path, &v.key).await, 500, "log_mismatch").await;
    }
);

// ---- the witness -----------------------------------------------------------------------

struct WitnessProcess {
    child: Child,
    url: String,
    key: String,
    state_dir: tempfile::TempDir,
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `trustline witness` for the given log keys; read its key and address from stdout.
fn start_witness(logs: &[String]) -> WitnessProcess {
    let state_dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustline"));
    cmd.args([
        "witness",
        "--listen",
        "127.0.0.1:0",
        "--name",
        "witness.test/w1",
        "--state-dir",
    ])
    .arg(state_dir.path())
    .env("TRUSTLINE_LOG_FORMAT", "json")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    for l in logs {
        cmd.args(["--log", l]);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let key = lines.next().unwrap().unwrap();
    let addr = lines.next().unwrap().unwrap();
    WitnessProcess {
        child,
        key: key.strip_prefix("witness key: ").unwrap().to_string(),
        url: format!(
            "{}/add-checkpoint",
            addr.strip_prefix("listening on ").unwrap()
        ),
        state_dir,
    }
}

/// A fresh master key (base64) and the checkpoint log it derives.
fn master_and_log() -> (String, CheckpointLog) {
    let raw: [u8; 32] = rand_bytes();
    let b64 = B64.encode(raw);
    let settings = RawSettings {
        master_key: Some(Secret::new(b64.clone())),
        ..RawSettings::default()
    }
    .validate()
    .unwrap();
    let log = CheckpointLog::new(&settings, &MasterKey::from_bytes(&raw).unwrap()).unwrap();
    (b64, log)
}

fn rand_bytes() -> [u8; 32] {
    use ring::rand::SecureRandom as _;
    let mut b = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut b).unwrap();
    b
}

async fn add(witness: &WitnessProcess, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .post(&witness.url)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn refused(witness: &WitnessProcess, body: String, status: u16, code: &str) -> String {
    let state = std::fs::read(witness.state_dir.path().join("state.json")).ok();
    let r = add(witness, body).await;
    let got = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    if !code.is_empty() {
        let problem: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(problem["code"], code, "{text}");
    }
    assert_eq!(
        std::fs::read(witness.state_dir.path().join("state.json")).ok(),
        state,
        "a refusal changes no witness state"
    );
    format!("{got} {}", text.trim())
}

both_backends!(
    a_witness_cosigns_consistent_checkpoints_and_refuses_the_rest,
    |_unused: TestApp| async move {
        let backend = _unused.state.db.backend;
        drop(_unused);
        let (master, log) = master_and_log();
        let log_key = log.log_key("wit").unwrap().encode();
        let witness = start_witness(std::slice::from_ref(&log_key));
        let wurl = witness.url.clone();
        let wkey = witness.key.clone();
        let backend = match backend {
            trustline::store::Backend::Sqlite => crate::common::Backend::Sqlite,
            _ => crate::common::Backend::Postgres,
        };
        let app = TestApp::start_with(backend, move |mut s| {
            s.master_key = Some(Secret::new(master));
            s.witnesses = vec![WitnessSetting {
                url: wurl,
                key: wkey,
            }];
            s
        })
        .await;
        let t: TenantId = "wit".parse().unwrap();
        let append = |n: usize| {
            let app = &app;
            let t = t.clone();
            async move {
                for i in 0..n {
                    app.state
                        .ledger
                        .append(
                            &t,
                            LedgerEvent {
                                kind: "decision".into(),
                                customer: None,
                                session_id: None,
                                body: json!({"i": i}),
                            },
                        )
                        .await
                        .unwrap();
                }
            }
        };
        // First checkpoint (trust on first use), then one extending it with a proof.
        append(5).await;
        app.state.ledger.sign_tree_head(&t).await.unwrap();
        append(7).await;
        app.state.ledger.sign_tree_head(&t).await.unwrap();
        let report = verify(&app, "wit").await;
        assert!(report.ok(), "{report:?}");
        assert_eq!(
            (report.proven_size, report.witnessed_size),
            (12, 12),
            "{report:?}"
        );
        // A restarted service does not know what the witness saw: 409 tells it, it retries.
        let again = app.second_instance().await;
        for i in 0..3 {
            again
                .state
                .ledger
                .append(
                    &t,
                    LedgerEvent {
                        kind: "decision".into(),
                        customer: None,
                        session_id: None,
                        body: json!({"j": i}),
                    },
                )
                .await
                .unwrap();
        }
        again.state.ledger.sign_tree_head(&t).await.unwrap();
        let report = verify(&again, "wit").await;
        assert_eq!(report.witnessed_size, 15, "{report:?}");
        let latest = app.get_text_checkpoint("wit").await;
        assert!(
            latest
                .lines()
                .any(|l| l.starts_with("\u{2014} witness.test/w1 ")),
            "{latest}"
        );
        let state: Value = serde_json::from_slice(
            &std::fs::read(witness.state_dir.path().join("state.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(state["127.0.0.1:8080/log/wit"]["size"], 15);

        // The exchange, by hand: a checkpoint at 17 with its consistency proof from 15.
        append(2).await;
        let proof = app
            .state
            .ledger
            .consistency_proof(&t, 15, 17)
            .await
            .unwrap();
        let hash = |h: &str| -> Hash { hex::decode(h).unwrap().try_into().unwrap() };
        let proof_hashes: Vec<Hash> = proof.proof.iter().map(|h| hash(h)).collect();
        let note17 = log
            .sign_checkpoint("wit", 17, hash(&proof.second_root))
            .unwrap()
            .encode();
        let mut exchange = Vec::new();
        // Refusals, each typed, each leaving the witness's state as it was.
        for (what, body, status, code) in [
            (
                "unparsable",
                "this is not a request".to_string(),
                400,
                "malformed_request",
            ),
            (
                "unparsable checkpoint",
                add_checkpoint_body(15, &proof_hashes, "garbage\n\n— x AAAAAAAA\n"),
                400,
                "malformed_request",
            ),
            (
                "another origin",
                add_checkpoint_body(
                    0,
                    &[],
                    &log.sign_checkpoint("wit-other", 3, [1; 32])
                        .unwrap()
                        .encode(),
                ),
                404,
                "unknown_origin",
            ),
            (
                "going backwards (stale old size)",
                add_checkpoint_body(12, &proof_hashes, &note17),
                409,
                "",
            ),
            (
                "old size after the checkpoint",
                add_checkpoint_body(18, &[], &note17),
                400,
                "old_after_new",
            ),
            (
                "missing consistency proof",
                add_checkpoint_body(15, &[], &note17),
                422,
                "bad_consistency_proof",
            ),
            (
                "invalid consistency proof",
                add_checkpoint_body(15, &[[9; 32]; 2], &note17),
                422,
                "bad_consistency_proof",
            ),
            (
                "smaller checkpoint",
                add_checkpoint_body(
                    15,
                    &[],
                    &log.sign_checkpoint("wit", 12, [0; 32]).unwrap().encode(),
                ),
                400,
                "old_after_new",
            ),
        ] {
            let answer = refused(&witness, body, status, code).await;
            exchange.push(format!("{what}: {answer}"));
        }
        let forged = {
            let (_, stranger) = master_and_log();
            stranger
                .sign_checkpoint("wit", 17, hash(&proof.second_root))
                .unwrap()
                .encode()
        };
        exchange.push(format!(
            "signed by another key: {}",
            refused(
                &witness,
                add_checkpoint_body(15, &proof_hashes, &forged),
                403,
                "bad_signature"
            )
            .await
        ));
        let body = add_checkpoint_body(15, &proof_hashes, &note17);
        let r = add(&witness, body.clone()).await;
        assert_eq!(r.status(), 200);
        let cosig = r.text().await.unwrap();
        let mut note = trustline::crypto::note::Note::parse(note17.as_bytes()).unwrap();
        note.add_signature(
            trustline::crypto::note::NoteSignature::parse_line(cosig.trim_end()).unwrap(),
        );
        let wkey = trustline::crypto::note::VerifierKey::parse(&witness.key).unwrap();
        let ts = wkey.verify_cosignature(&note).unwrap();
        assert!((ts as i64 - now_ms() / 1000).abs() < 60);
        eprintln!(
            "witness exchange ({backend:?}):\n$ curl -X POST {} --data-binary @-\n{body}\n--> 200\n{cosig}\nrefusals:\n{}",
            witness.url,
            exchange.join("\n")
        );
        // Replaying the accepted request: the witness has moved on.
        let replay = refused(&witness, body, 409, "").await;
        assert_eq!(replay, "409 17");
        let _ = checkpoint::parse(note.encode().as_bytes()).unwrap();
    }
);

impl TestApp {
    async fn get_text_checkpoint(&self, tenant: &str) -> String {
        self.state
            .ledger
            .checkpoints()
            .unwrap()
            .latest(tenant)
            .await
            .unwrap()
            .unwrap()
    }
}

// ---- the same matrix from the console's verify page ------------------------------------

/// Sign in as a compliance officer of `acme`, press "verify" on /console/log, read the result.
async fn console_verify(app: &TestApp, staff: &str) -> (bool, String) {
    use crate::web_login::{csrf_of, no_redirects, page};
    let (status, html) = page(app, "/console/log", staff).await;
    assert_eq!(status, 200);
    let resp = no_redirects()
        .post(app.url("/console/log/verify"))
        .header("cookie", staff)
        .header("accept-language", "en")
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    let result = html
        .split("data-testid=\"verify-result\"")
        .nth(1)
        .expect("a verify result");
    let ok = result.starts_with(" data-ok=\"true\"");
    let text = result
        .split_once('>')
        .map(|(_, r)| r.split("</p>").next().unwrap_or_default())
        .unwrap_or_default()
        .to_string();
    (ok, text)
}

async fn console_matrix(backend: crate::common::Backend) {
    let mut rows = Vec::new();
    for case in Tamper::ALL {
        let app = crate::web_login::start(backend).await;
        let (provider, _) = crate::web_login::setup(&app).await;
        let staff =
            crate::web_login::staff_session(&app, &provider, json!(["compliance_officer"])).await;
        let v = victim(&app, "acme").await;
        let (ok, before) = console_verify(&app, &staff).await;
        assert!(ok, "{before}");
        case.apply(&app, &v).await;
        let (ok, text) = console_verify(&app, &staff).await;
        assert!(
            !ok && text.contains(case.expected()),
            "{}: {text}",
            case.name()
        );
        rows.push(format!("| {} | caught | {} |", case.name(), text.trim()));
    }
    eprintln!(
        "console tamper matrix ({backend:?}):\n| case | result | page says |\n|---|---|---|\n{}",
        rows.join("\n")
    );
}

mod console_verify_page_catches_the_tamper_matrix {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::console_matrix(crate::common::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::console_matrix(crate::common::Backend::Postgres).await;
    }
}

both_backends!(
    consent_the_log_does_not_confirm_grants_nothing,
    |app: TestApp| async move {
        let v = victim(&app, "gate").await;
        let enrol = |customer: &'static str| {
            let app = &app;
            let key = v.key.clone();
            async move {
                // No utterances: the consent gate answers first, the count check after it.
                app.put_json(
                    &format!("/v1/customers/{customer}/voiceprint"),
                    &key,
                    json!({"utterances": []}),
                )
                .await
            }
        };
        // cust-1's consent is in force: the gate lets the request through to the count check.
        let r = enrol("cust-1").await;
        assert_ne!(r.status(), 403, "{}", r.text().await.unwrap());
        let r = enrol("cust-2").await;
        expect_problem(r, 403, "consent_required").await;
        // Un-withdraw cust-2's row: the row alone now says "in force" ...
        Tamper::ConsentRowUnwithdrawn.apply(&app, &v).await;
        let cust2 = "cust-2".parse().unwrap();
        let row_says = trustline::store::consents::in_force(
            &app.state.db,
            &v.tenant,
            &cust2,
            "voiceprint_enrolment",
            None,
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(row_says.len(), 1);
        // ... but the log records the withdrawal, so enrolment stays refused.
        expect_problem(enrol("cust-2").await, 403, "consent_required").await;
        // Extending cust-1's validity past its logged expiry changes nothing either; planting
        // a row for a customer with no logged grant grants nothing.
        sqlx::query("UPDATE consents SET ledger_index = ledger_index + 1 WHERE tenant_id = 'gate' AND consent_id = $1")
            .bind(&v.consent)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        expect_problem(enrol("cust-1").await, 403, "consent_required").await;
    }
);

both_backends!(
    a_camera_consent_the_log_ended_grants_no_camera,
    |app: TestApp| async move {
        let v = victim(&app, "cam").await;
        let credential = trustline::consent::service::issue_customer_credential(
            &app.state.signer,
            &v.tenant,
            &"cust-1".parse().unwrap(),
            Some("sess-1"),
            300,
        )
        .unwrap();
        let r = app
            .post_json(
                "/v1/consents",
                &v.key,
                json!({
                    "customer_ref": "cust-1", "purpose": "camera", "notice_version": "1.0.0",
                    "session_id": "sess-1",
                    "capture": {"method": "customer_device", "customer_credential": credential}
                }),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let body: Value = r.json().await.unwrap();
        let consent = body["consent"]["consent_id"].as_str().unwrap().to_string();
        let camera = || {
            app.post_json(
                "/v1/sessions/sess-1/camera-grants",
                &v.key,
                json!({"customer_ref": "cust-1"}),
            )
        };
        assert_eq!(camera().await.status(), 201);
        let r = app
            .post_json(
                "/v1/consents/withdrawals",
                &v.key,
                json!({"customer_ref": "cust-1", "purpose": "camera", "method": "customer_device", "session_id": "sess-1"}),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        expect_problem(camera().await, 403, "consent_required").await;
        // A database writer un-withdraws the row, pointer to the end entry included: the row
        // says "in force", the log still records the withdrawal, and no camera turns on.
        sqlx::query(
            "UPDATE consents SET ended_at = NULL, end_reason = NULL, end_ledger_index = NULL \
             WHERE tenant_id = 'cam' AND consent_id = $1",
        )
        .bind(&consent)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
        expect_problem(camera().await, 403, "consent_required").await;
        // Extending the row's validity does not help either; nor does a planted camera row.
        sqlx::query("UPDATE consents SET valid_until = valid_until + 86400000 WHERE tenant_id = 'cam' AND consent_id = $1")
            .bind(&consent)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        expect_problem(camera().await, 403, "consent_required").await;
    }
);

both_backends!(
    the_retention_sweep_keeps_no_template_for_an_unwithdrawn_row,
    |app: TestApp| async move {
        use trustline::store::templates;
        let v = victim(&app, "sweep").await;
        let (c1, c2) = ("cust-1".parse().unwrap(), "cust-2".parse().unwrap());
        // A voiceprint for each customer, as enrolment stores them (contents do not matter).
        for c in [&c1, &c2] {
            templates::upsert_template(
                &app.state.db,
                &v.tenant,
                c,
                "voice",
                "campplus",
                "1.0.0",
                b"sealed",
            )
            .await
            .unwrap();
        }
        // cust-2 withdrew; a database writer un-withdraws the row to keep the voiceprint.
        Tamper::ConsentRowUnwithdrawn.apply(&app, &v).await;
        let report = trustline::consent::retention::run(&app.state)
            .await
            .unwrap();
        assert_eq!((report.templates_destroyed, report.purpose_ended), (1, 1));
        let kept = |c| templates::template(&app.state.db, &v.tenant, c, "voice");
        assert!(kept(&c2).await.unwrap().is_none(), "the log says withdrawn");
        assert!(kept(&c1).await.unwrap().is_some(), "the log says in force");
    }
);
