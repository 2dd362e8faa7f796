//! Crash test: the real binary takes a burst of concurrent consent grants (each one a durable
//! log append), is killed with SIGKILL mid-burst, and restarts. Every grant it acknowledged
//! must be there (consent row, receipt, log entry at the acknowledged index) and the log must
//! verify (`trustline audit verify`). Runs on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

struct Server {
    child: Child,
    addr: String,
    key: Option<String>,
}

fn spawn(dir: &Path, database_url: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustline"))
        .arg("serve")
        .env("TRUSTLINE_LISTEN", "127.0.0.1:0")
        .env("TRUSTLINE_DATA_DIR", dir)
        .env("DATABASE_URL", database_url)
        .env("TRUSTLINE_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut key, mut addr) = (None, None);
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(k) = line.trim().strip_prefix("tlk_") {
            key = Some(format!("tlk_{k}"));
        }
        if let Some(a) = line.strip_prefix("listening on http://") {
            addr = Some(a.to_string());
            break;
        }
    }
    Server {
        child,
        addr: addr.expect("the server announced its address"),
        key,
    }
}

#[derive(Debug, Clone)]
struct Ack {
    consent_id: String,
    index: u64,
}

async fn crash_and_recover(label: &str, database_url: String) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn(dir.path(), &database_url);
    let key = server
        .key
        .clone()
        .expect("fresh database prints the demo key");
    let client = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let r = client
        .put(format!("{base}/v1/customers/crash-cust"))
        .bearer_auth(&key)
        .json(&json!({"methods": ["voiceprint"]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let acks = Arc::new(Mutex::new(Vec::<Ack>::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..32 {
        let (client, base, key) = (client.clone(), base.clone(), key.clone());
        let (acks, sent, stop) = (acks.clone(), sent.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                sent.fetch_add(1, Ordering::Relaxed);
                let resp = client
                    .post(format!("{base}/v1/consents"))
                    .bearer_auth(&key)
                    .json(&json!({
                        "customer_ref": "crash-cust", "purpose": "recording",
                        "notice_version": "1.0.0", "session_id": format!("s-{w}-{i}"),
                        "capture": {"method": "dtmf", "ivr_call_id": format!("c-{w}-{i}")}
                    }))
                    .send()
                    .await;
                i += 1;
                let Ok(resp) = resp else { break };
                if resp.status() != 201 {
                    break;
                }
                let Ok(body) = resp.json::<Value>().await else {
                    break;
                };
                acks.lock().unwrap().push(Ack {
                    consent_id: body["consent"]["consent_id"].as_str().unwrap().to_string(),
                    index: body["log"]["index"].as_u64().unwrap(),
                });
            }
        }));
    }
    // Let the burst run, then kill the server mid-flight.
    let started = Instant::now();
    while acks.lock().unwrap().len() < 400 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.child.kill().unwrap(); // SIGKILL
    let killed_at = started.elapsed();
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let acks = acks.lock().unwrap().clone();
    let sent = sent.load(Ordering::Relaxed);
    assert!(acks.len() >= 50, "the burst got going: {}", acks.len());

    // Restart on the same data and database.
    let mut server = spawn(dir.path(), &database_url);
    assert!(server.key.is_none());
    let base = format!("http://{}", server.addr);
    let mut found = 0;
    for ack in &acks {
        let r = client
            .get(format!("{base}/v1/consents/{}/receipt", ack.consent_id))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "acknowledged consent {} lost",
            ack.consent_id
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["receipt"]["trustline"]["log"]["index"], ack.index);
        found += 1;
    }
    let head: Value = client
        .post(format!("{base}/v1/ledger/tree-head"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = head["tree_size"].as_u64().unwrap();
    let max_ack = acks.iter().map(|a| a.index).max().unwrap();
    assert!(entries > max_ack);
    let listed: Value = client
        .get(format!("{base}/v1/customers/crash-cust/consents"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored = listed.as_array().unwrap().len();
    let pid = server.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    server.child.wait().unwrap();

    // What `trustline audit verify` runs, in-process with the same database and keys.
    let db = trustline::store::Db::connect(&database_url, Default::default())
        .await
        .unwrap();
    let settings = crate::common::settings_for(dir.path(), database_url.clone());
    let report = crate::common::audit_verify(&db, &settings, "demo").await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.entries, entries);
    let out = format!(
        "{} entries, {} signed tree heads verified",
        report.entries, report.tree_heads
    );
    eprintln!(
        "crash test ({label}): requests sent {sent}, acknowledged {}, found after restart {found}, \
         consent rows {stored}, log entries {entries} (logged but unacknowledged: {}), killed after {:.2} s; audit verify: {}",
        acks.len(),
        entries - acks.len() as u64,
        killed_at.as_secs_f64(),
        out
    );
    assert_eq!(found, acks.len());
    // Row and entry commit together: every logged grant is in force, every stored consent is
    // logged (the log holds only this burst's grants).
    assert_eq!(
        stored as u64, entries,
        "consent rows vs consent_granted entries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_acknowledged_append_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::common::sqlite_url(dir.path());
    crash_and_recover("sqlite", url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_acknowledged_append_postgres() {
    use sqlx::Connection as _;
    let server = crate::common::postgres_server_url();
    let name = format!("crash_{}", crate::common::hex_id());
    let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap();
    crash_and_recover("postgres", format!("{base}/{name}")).await;
}

/// The same burst for `POST /v1/sessions`: a new session's row and its decision entry commit
/// in one transaction (the ledger's group commit) before the answer. After SIGKILL and
/// restart every acknowledged session is there with its outcome, and no session row exists
/// without its decision entry or the other way round.
async fn sessions_crash_and_recover(label: &str, database_url: String) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn(dir.path(), &database_url);
    let key = server
        .key
        .clone()
        .expect("fresh database prints the demo key");
    let client = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let r = client
        .put(format!("{base}/v1/customers/crash-cust"))
        .bearer_auth(&key)
        .json(&json!({"methods": ["typing"]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let acks = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (client, base, key) = (client.clone(), base.clone(), key.clone());
        let (acks, stop) = (acks.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let resp = client
                    .post(format!("{base}/v1/sessions"))
                    .bearer_auth(&key)
                    .json(&json!({"customer_ref": "crash-cust", "channel": "chat"}))
                    .send()
                    .await;
                let Ok(resp) = resp else { break };
                if resp.status() != 201 {
                    break;
                }
                let Ok(body) = resp.json::<Value>().await else {
                    break;
                };
                acks.lock().unwrap().push((
                    body["session_id"].as_str().unwrap().to_string(),
                    body["decision"]["outcome"].as_str().unwrap().to_string(),
                ));
            }
        }));
    }
    let started = Instant::now();
    while acks.lock().unwrap().len() < 400 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let acks = acks.lock().unwrap().clone();
    assert!(acks.len() >= 50, "the burst got going: {}", acks.len());

    let mut server = spawn(dir.path(), &database_url);
    let base = format!("http://{}", server.addr);
    for (session_id, outcome) in &acks {
        let r = client
            .get(format!("{base}/v1/sessions/{session_id}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged session {session_id} lost");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["decision"]["outcome"].as_str(), Some(outcome.as_str()));
    }
    let pid = server.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    server.child.wait().unwrap();

    use sqlx::Row as _;
    let db = trustline::store::Db::connect(&database_url, Default::default())
        .await
        .unwrap();
    let rows: std::collections::BTreeSet<String> =
        sqlx::query("SELECT session_id FROM sessions WHERE tenant_id = $1")
            .bind("demo")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get("session_id").unwrap())
            .collect();
    let logged: std::collections::BTreeSet<String> =
        trustline::store::ledger::entries(&db, "demo", 0, 1_000_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "decision")
            .filter_map(|e| e.session_id)
            .collect();
    assert_eq!(
        rows, logged,
        "every session row has its decision entry and vice versa"
    );
    let settings = crate::common::settings_for(dir.path(), database_url.clone());
    let report = crate::common::audit_verify(&db, &settings, "demo").await;
    assert!(report.ok(), "{report:?}");
    eprintln!(
        "sessions crash test ({label}): acknowledged {}, session rows after restart {} (each with \
         its decision entry), log entries {}",
        acks.len(),
        rows.len(),
        report.entries
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_acknowledged_session_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::common::sqlite_url(dir.path());
    sessions_crash_and_recover("sqlite", url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_acknowledged_session_postgres() {
    use sqlx::Connection as _;
    let server = crate::common::postgres_server_url();
    let name = format!("crash_{}", crate::common::hex_id());
    let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap();
    sessions_crash_and_recover("postgres", format!("{base}/{name}")).await;
}
