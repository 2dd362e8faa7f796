//! Attacks on the running service (issue 15), through the real listener and router on SQLite
//! and PostgreSQL: concurrent PIN guessing against the lockout, slow clients against the
//! connection limits, webhooks aimed at internal addresses, request floods against the rate
//! limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use trustline::{
    config::Settings,
    factors::{outbox, webhook_guard::AllowList},
    store,
    tenants::{CustomerRef, Scope, Sector, TenantId},
};

use crate::common::{TestApp, expect_problem};

const PIN: &str = "493817";

/// A retail tenant with a key for sessions and enrolment, and a `code_only` customer with a PIN.
async fn pin_customer(app: &TestApp, tenant: &str, cref: &str) -> String {
    let key = app
        .tenant_with_key(tenant, Sector::Retail, &[Scope::Sessions, Scope::Enrol])
        .await;
    let r = app
        .put_json(
            &format!("/v1/customers/{cref}"),
            &key,
            json!({"methods": ["code_only"]}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let r = app
        .put_json(
            &format!("/v1/customers/{cref}/factors/pin"),
            &key,
            json!({"pin": PIN}),
        )
        .await;
    assert_eq!(r.status(), 204);
    key
}

async fn new_sessions(app: &TestApp, key: &str, cref: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let r = app
            .post_json(
                "/v1/sessions",
                key,
                json!({"customer_ref": cref, "channel": "voice"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        ids.push(v["session_id"].as_str().unwrap().to_string());
    }
    ids
}

/// Submit one PIN per session, all at once; returns (status, problem code or outcome) each.
async fn pin_burst(
    app: &TestApp,
    key: &str,
    sessions: &[String],
    pins: &[&str],
) -> Vec<(u16, String)> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(sessions.len()));
    let tasks: Vec<_> = sessions
        .iter()
        .zip(pins.iter().cycle())
        .map(|(sid, pin)| {
            let (client, url, key, pin, barrier) = (
                app.client.clone(),
                app.url(&format!("/v1/sessions/{sid}/factors/pin")),
                key.to_string(),
                pin.to_string(),
                barrier.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                let r = client
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({"code": pin}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let v: Value = r.json().await.unwrap();
                let what = v["code"]
                    .as_str()
                    .or(v["decision"]["outcome"].as_str())
                    .unwrap_or_default()
                    .to_string();
                (status, what)
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn count(results: &[(u16, String)], status: u16, what: &str) -> usize {
    results
        .iter()
        .filter(|(s, w)| *s == status && w == what)
        .count()
}

async fn pin_failures(app: &TestApp, tenant: &str, cref: &str) -> i64 {
    let tenant: TenantId = tenant.parse().unwrap();
    let c: CustomerRef = cref.parse().unwrap();
    let (_, factors) = store::sessions::lockout(&app.state.db, &tenant, &c)
        .await
        .unwrap();
    factors
        .iter()
        .find(|(f, _, _)| f == "pin")
        .map_or(0, |(_, n, _)| *n)
}

both_backends!(
    concurrent_wrong_pins_are_held_to_the_policy_exactly,
    |app: TestApp| async move {
        // Shipped retail policy: 3 free attempts, then 30 s (doubling) delays, 50 at most.
        let key = pin_customer(&app, "shop", "victim").await;
        let sessions = new_sessions(&app, &key, "victim", 150).await;
        let results = pin_burst(&app, &key, &sessions, &["000000"]).await;
        assert_eq!(count(&results, 200, "step_up_required"), 3, "{results:?}");
        assert_eq!(count(&results, 429, "factor_delayed"), 147, "{results:?}");
        assert_eq!(pin_failures(&app, "shop", "victim").await, 3);

        // The right PIN inside a concurrent batch after the limit does not verify.
        let sessions = new_sessions(&app, &key, "victim", 40).await;
        let mut pins = vec!["111111"; 39];
        pins.push(PIN);
        let results = pin_burst(&app, &key, &sessions, &pins).await;
        assert_eq!(count(&results, 429, "factor_delayed"), 40, "{results:?}");
        let last = app
            .get(&format!("/v1/sessions/{}", sessions[39]), &key)
            .await
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(last["decision"]["outcome"], "step_up_required");
        assert_eq!(pin_failures(&app, "shop", "victim").await, 3);
    }
);

/// The shipped policies, with retail's code lockout shortened so a test can pass its delays:
/// 3 free attempts, then 3 s delays, locked at 5.
fn short_lockout(mut s: Settings) -> Settings {
    let dir = s.data_dir.join("policies");
    copy_dir(&s.policies_dir, &dir);
    let retail = dir.join("sectors/retail.toml");
    let text = std::fs::read_to_string(&retail)
        .unwrap()
        .replace("code_base_delay_secs = 30", "code_base_delay_secs = 3")
        .replace("code_max_delay_secs = 3600", "code_max_delay_secs = 3")
        .replace(
            "code_max_consecutive_failures = 50",
            "code_max_consecutive_failures = 5",
        );
    std::fs::write(&retail, text).unwrap();
    s.policies_dir = dir;
    s
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

both_backends!(
    concurrent_pins_meet_the_delay_and_the_maximum_exactly,
    settings = short_lockout,
    |app: TestApp| async move {
        let key = pin_customer(&app, "shop", "victim").await;
        let second = app.second_instance().await;
        let mut evaluated = Vec::new();
        let mut bursts = Vec::new();
        for _ in 0..3 {
            bursts.push(new_sessions(&app, &key, "victim", 40).await);
        }
        for sessions in bursts {
            // Half of each burst goes to a second instance on the same database.
            let (a, b) = sessions.split_at(20);
            let (ra, rb) = tokio::join!(
                pin_burst(&app, &key, a, &["000000"]),
                pin_burst(&second, &key, b, &["000000"])
            );
            let results: Vec<_> = ra.into_iter().chain(rb).collect();
            // Evaluated attempts answer 200 (the last one's decision may say `locked`).
            evaluated.push(results.iter().filter(|(s, _)| *s == 200).count());
            tokio::time::sleep(Duration::from_millis(3100)).await;
        }
        // 3 free, then one per delay, then locked at 5.
        assert_eq!(evaluated, vec![3, 1, 1]);
        assert_eq!(pin_failures(&app, "shop", "victim").await, 5);
        let sessions = new_sessions(&app, &key, "victim", 10).await;
        let results = pin_burst(&app, &key, &sessions, &[PIN]).await;
        assert_eq!(count(&results, 423, "factor_locked"), 10, "{results:?}");
    }
);

/// A retail tenant and a `typing` customer whose fixed-phrase keystroke template was enrolled
/// over HTTP after the customer's consent.
async fn typing_customer(app: &TestApp, cref: &str) -> String {
    use crate::keystroke::{grant_keystroke_consent, phrase};
    let key = app
        .tenant_with_key(
            "shop",
            Sector::Retail,
            &[Scope::Consent, Scope::Enrol, Scope::Sessions],
        )
        .await;
    let r = app
        .put_json(
            &format!("/v1/customers/{cref}"),
            &key,
            json!({"methods": ["typing"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let (tenant, customer) = ("shop".parse().unwrap(), cref.parse().unwrap());
    grant_keystroke_consent(app, &key, &tenant, &customer).await;
    let reps: Vec<_> = (0..10).map(|s| phrase(s, 1.0)).collect();
    let r = app
        .put_json(
            &format!("/v1/customers/{cref}/keystroke/fixed"),
            &key,
            json!({ "repetitions": reps }),
        )
        .await;
    assert_eq!(r.status(), 201);
    key
}

/// Send every request at once (after a barrier); returns (status, body) each.
async fn at_once(requests: Vec<reqwest::RequestBuilder>) -> Vec<(u16, Value)> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let r = request.send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// `n` typing samples at once, half on each instance: new sessions carrying a sample, and
/// samples posted to the running `sessions`. `sample(i)` is the i-th sample's key events.
fn biometric_burst(
    (a, b): (&TestApp, &TestApp),
    key: &str,
    cref: &str,
    sessions: &[String],
    sample: impl Fn(usize) -> Vec<trustline::biometrics::keystroke::KeyEvent>,
) -> Vec<reqwest::RequestBuilder> {
    let mut requests = Vec::new();
    for (i, sid) in sessions.iter().enumerate() {
        let app = if i % 2 == 0 { a } else { b };
        let evidence = json!({"keystroke_fixed": {"events": sample(2 * i)}});
        requests.push(
            app.client
                .post(app.url("/v1/sessions"))
                .bearer_auth(key)
                .json(&json!({"customer_ref": cref, "channel": "chat", "evidence": evidence})),
        );
        let evidence = json!({"keystroke_fixed": {"events": sample(2 * i + 1)}});
        requests.push(
            app.client
                .post(app.url(&format!("/v1/sessions/{sid}/evidence")))
                .bearer_auth(key)
                .json(&evidence),
        );
    }
    requests
}

fn scored(body: &Value) -> bool {
    !body["decision"]["biometrics"]
        .as_array()
        .unwrap()
        .is_empty()
}

fn disabled(body: &Value) -> bool {
    body["decision"]["reasons"]
        .as_array()
        .unwrap()
        .contains(&json!("biometrics_disabled_after_failures"))
}

async fn biometric_failures(app: &TestApp, tenant: &str, cref: &str) -> i64 {
    let (tenant, c): (TenantId, CustomerRef) = (tenant.parse().unwrap(), cref.parse().unwrap());
    store::sessions::lockout(&app.state.db, &tenant, &c)
        .await
        .unwrap()
        .0
}

both_backends!(
    concurrent_biometric_misses_are_held_to_the_policy_exactly,
    |app: TestApp| async move {
        use crate::keystroke::{other_typist, phrase};
        // Shipped retail policy: biometrics are disabled after 5 consecutive failed
        // comparisons (NIST SP 800-63B-4 §3.2.3).
        let key = typing_customer(&app, "typist").await;
        let second = app.second_instance().await;
        let sessions = new_sessions(&app, &key, "typist", 20).await;
        // 40 impostor samples at once on two instances sharing the database.
        let impostor = |i: usize| other_typist(100 + i as u64);
        let requests = biometric_burst((&app, &second), &key, "typist", &sessions, impostor);
        let results = at_once(requests).await;
        for (status, body) in &results {
            assert!(*status == 200 || *status == 201, "{status} {body}");
        }
        let evaluated = results.iter().filter(|(_, b)| scored(b)).count();
        let refused = results
            .iter()
            .filter(|(_, b)| !scored(b) && disabled(b))
            .count();
        assert_eq!((evaluated, refused), (5, 35), "{results:?}");
        assert_eq!(biometric_failures(&app, "shop", "typist").await, 5);

        // The customer's own typing inside a concurrent batch after the limit is not scored.
        let sessions = new_sessions(&app, &key, "typist", 10).await;
        let genuine = |i: usize| phrase(200 + i as u64, 1.0);
        let requests = biometric_burst((&app, &second), &key, "typist", &sessions, genuine);
        let results = at_once(requests).await;
        assert!(
            results.iter().all(|(_, b)| !scored(b) && disabled(b)),
            "{results:?}"
        );
        assert_eq!(biometric_failures(&app, "shop", "typist").await, 5);

        // A successful PIN re-enables biometrics; then the customer's typing is scored again.
        let r = app
            .put_json(
                "/v1/customers/typist/factors/pin",
                &key,
                json!({"pin": PIN}),
            )
            .await;
        assert_eq!(r.status(), 204);
        let sid = &new_sessions(&app, &key, "typist", 1).await[0];
        let r = app
            .post_json(
                &format!("/v1/sessions/{sid}/factors/pin"),
                &key,
                json!({"code": PIN}),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(biometric_failures(&app, "shop", "typist").await, 0);
        let r = app
            .post_json(
                &format!("/v1/sessions/{sid}/evidence"),
                &key,
                json!({"keystroke_fixed": {"events": phrase(300, 1.0)}}),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert!(scored(&r.json::<Value>().await.unwrap()));
    }
);

fn slow_client_limits(mut s: Settings) -> Settings {
    s.http_header_read_timeout = Duration::from_secs(1);
    s.http_max_connections = 32;
    s
}

both_backends!(
    half_sent_requests_are_shed_and_time_out,
    settings = slow_client_limits,
    |app: TestApp| async move {
        let started = Instant::now();
        // 200 connections, each sending half a request head and then nothing.
        let mut slow = Vec::new();
        for _ in 0..200 {
            let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .unwrap();
            slow.push(s);
        }
        // Beyond the cap, connections were answered 503 problem+json and closed.
        let mut shed = 0;
        for s in slow.iter_mut().skip(32) {
            let mut buf = vec![0u8; 1024];
            let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
                .await
                .expect("shed connection answers at once")
                .unwrap();
            let text = String::from_utf8_lossy(&buf[..n]);
            if text.starts_with("HTTP/1.1 503") {
                assert!(text.contains("application/problem+json"), "{text}");
                assert!(text.contains("\"code\":\"overloaded\""), "{text}");
                assert!(text.contains("retry-after: 1"), "{text}");
                shed += 1;
            }
        }
        assert!(
            shed >= 160,
            "{shed} of 168 connections over the cap were shed"
        );
        // The served ones are closed once the header-read timeout passes.
        for s in slow.iter_mut().take(32) {
            let mut buf = vec![0u8; 256];
            let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
                .await
                .expect("closed by the header-read timeout")
                .unwrap_or(0);
            assert!(
                n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
                "{}",
                String::from_utf8_lossy(&buf[..n])
            );
        }
        drop(slow);
        // ... and the service answers again.
        let r = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
);

/// A webhook receiver on loopback that counts deliveries.
async fn receiver() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = hits.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (addr, hits)
}

both_backends!(
    webhooks_to_internal_addresses_are_refused_by_default,
    |app: TestApp| async move {
        let key = app
            .tenant_with_key("shop", Sector::Retail, &[Scope::Sessions])
            .await;
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.7/hook",
            "http://192.168.1.1/hook",
            "http://172.16.0.1/hook",
            "http://0.0.0.0/hook",
            "http://[fd00::1]/hook",
            "http://[fe80::1]/hook",
            "http://224.0.0.1/hook",
            "http://2130706433/hook",
        ] {
            let r = app.put_json("/v1/webhook", &key, json!({"url": url})).await;
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            assert!(
                (status == 422 && body["code"] == "webhook_address_refused")
                    || (status == 400 && body["code"] == "invalid_request"),
                "{url}: {status} {body}"
            );
        }
        let tenant: TenantId = "shop".parse().unwrap();
        assert!(
            store::factors::webhook(&app.state.db, tenant.as_str())
                .await
                .unwrap()
                .is_none()
        );
    }
);

both_backends!(
    allowed_webhooks_are_checked_again_when_a_code_is_sent,
    settings = |mut s: Settings| {
        s.webhook_allow_private =
            AllowList::parse(&["127.0.0.0/8".into(), "localhost".into()]).unwrap();
        s
    },
    |app: TestApp| async move {
        let key = pin_customer(&app, "shop", "c1").await;
        let (addr, hits) = receiver().await;
        for url in [
            format!("http://{addr}/hook"),
            format!("http://localhost:{}/hook", addr.port()),
        ] {
            let r = app.put_json("/v1/webhook", &key, json!({"url": url})).await;
            assert_eq!(r.status(), 200, "the operator allowed {url}");
            let sid = new_sessions(&app, &key, "c1", 1).await.remove(0);
            let r = app
                .post_json(
                    &format!("/v1/sessions/{sid}/one_time_code"),
                    &key,
                    json!({}),
                )
                .await;
            assert_eq!(r.status(), 202);
        }
        // A worker without the allow-list (as after the operator removed it, or a host that
        // re-resolved) connects to neither: the IP literal is checked before the request, the
        // name by the resolver.
        let config = outbox::OutboxConfig {
            poll_interval: Duration::from_millis(20),
            base_backoff_ms: 1,
            request_timeout: Duration::from_secs(2),
            allow_private: AllowList::default(),
        };
        let client = trustline::factors::webhook_guard::client(AllowList::default());
        let delivered = outbox::deliver_due(&app.state.db, &client, &config)
            .await
            .unwrap();
        assert_eq!(delivered, 0);
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
        // With the allow-list the pending code is delivered.
        let config = outbox::OutboxConfig {
            allow_private: app.state.settings.webhook_allow_private.clone(),
            ..config
        };
        let client = trustline::factors::webhook_guard::client(config.allow_private.clone());
        tokio::time::sleep(Duration::from_millis(50)).await;
        let delivered = outbox::deliver_due(&app.state.db, &client, &config)
            .await
            .unwrap();
        assert_eq!(delivered, 2);
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
);

both_backends!(
    rate_limits_per_key_and_customer_are_shared_by_instances,
    settings = |mut s: Settings| {
        s.rate_limits.per_customer = 3;
        s.rate_limits.per_key = 5;
        s
    },
    |app: TestApp| async move {
        let key = app
            .tenant_with_key("shop", Sector::Retail, &[Scope::Sessions, Scope::Enrol])
            .await;
        let second = app.second_instance().await;
        for (i, cref) in ["a", "b"].iter().enumerate() {
            // registration counts too: it is a write under /v1/customers/
            let on = if i == 0 { &app } else { &second };
            let r = on
                .put_json(
                    &format!("/v1/customers/{cref}"),
                    &key,
                    json!({"methods": ["code_only"]}),
                )
                .await;
            assert!(r.status().is_success());
        }
        // customer a: 2 more writes, alternating instances, then the third is refused
        for on in [&second, &app] {
            let r = on
                .post_json("/v1/customers/a/factors/totp", &key, json!({}))
                .await;
            assert_eq!(r.status(), 201);
        }
        let r = second
            .post_json("/v1/customers/a/factors/totp", &key, json!({}))
            .await;
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry));
        let body = expect_problem(r, 429, "rate_limited").await;
        assert_eq!(body["limit"], "customer_ref");
        // the key: 5 counted so far (a x4 incl. the refused one, b x1): the next is refused
        let r = app
            .post_json("/v1/customers/b/factors/totp", &key, json!({}))
            .await;
        let body = expect_problem(r, 429, "rate_limited").await;
        assert_eq!(body["limit"], "api_key");
        // reads are not limited
        let r = app.get("/v1/tenant", &key).await;
        assert_eq!(r.status(), 200);
    }
);

both_backends!(
    bad_path_and_query_values_answer_problem_json,
    |app: TestApp| async move {
        let key = app
            .tenant_with_key("shop", Sector::Retail, &[Scope::Audit, Scope::Consent])
            .await;
        for path in [
            "/v1/ledger/entries/not-a-number/inclusion-proof?tree_size=1",
            "/v1/ledger/entries/0/inclusion-proof?tree_size=minus-one",
            "/v1/ledger/entries/0/inclusion-proof",
            "/v1/ledger/consistency-proof?first=x&second=2",
        ] {
            let r = app.get(path, &key).await;
            let status = r.status().as_u16();
            assert!((400..500).contains(&status), "{path}: {status}");
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            assert_eq!(ct, "application/problem+json", "{path}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["status"], status, "{path}: {body}");
            assert!(body["code"].is_string(), "{path}: {body}");
        }
    }
);

both_backends!(
    openapi_documents_errors_as_problem_json_with_constraints,
    |app: TestApp| async move {
        let doc: Value = app
            .client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let factor = &doc["paths"]["/v1/sessions/{session_id}/factors/{factor}"]["post"];
        for status in ["400", "401", "403", "404", "413", "429", "503"] {
            let r = &factor["responses"][status];
            assert!(
                r["content"]["application/problem+json"]["schema"]["$ref"]
                    .as_str()
                    .is_some_and(|s| s.ends_with("/Problem")),
                "{status}: {r}"
            );
        }
        assert!(factor["responses"]["429"]["headers"]["Retry-After"].is_object());
        // no error body is declared as plain JSON anywhere
        let text = doc.to_string();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, r) in op["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert!(
                            r["content"].get("application/json").is_none(),
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        let params = factor["parameters"].as_array().unwrap();
        let kind = params.iter().find(|p| p["name"] == "factor").unwrap();
        assert_eq!(
            kind["schema"]["enum"],
            json!(["totp", "one_time_code", "pin", "recovery_code"])
        );
        let customer = &doc["paths"]["/v1/customers/{customer_ref}"]["get"]["parameters"][0];
        assert_eq!(customer["schema"]["pattern"], "^[!-~]{1,128}$", "{text:.0}");
    }
);

// Schemathesis findings (ST201, schema-violating requests accepted), each as a regression.
both_backends!(
    bodies_must_be_json_objects_and_samples_are_checked_unscored,
    |app: TestApp| async move {
        let key = app
            .tenant_with_key("shop", Sector::Retail, &[Scope::Sessions, Scope::Enrol])
            .await;
        let r = app
            .put_json("/v1/customers/c1", &key, json!({"methods": ["code_only"]}))
            .await;
        assert!(r.status().is_success(), "{}", r.status());
        let id = new_sessions(&app, &key, "c1", 1).await.remove(0);
        // serde builds a struct from an array: `[null, null]` was accepted as evidence (200)
        for body in [json!([null, null]), json!([]), json!(null), json!("x")] {
            let r = app
                .post_json(&format!("/v1/sessions/{id}/evidence"), &key, body.clone())
                .await;
            expect_problem(r, 400, "malformed_json").await;
        }
        let r = app
            .post_json("/v1/sessions", &key, json!(["c1", "voice", null]))
            .await;
        expect_problem(r, 400, "malformed_json").await;
        // an unknown field in a voice sample is refused even when nothing would score it (the
        // customer has no voiceprint)
        let r = app
            .post_json(
                "/v1/sessions",
                &key,
                json!({"customer_ref": "c1", "channel": "voice",
                       "evidence": {"voice": {"audio": "", "encoding": "wav", "x": 1}}}),
            )
            .await;
        expect_problem(r, 400, "malformed_json").await;
        for evidence in [
            json!({"voice": {"audio": "AAAA", "encoding": "wav", "gain": 2}}),
            json!({"keystroke_fixed": {"events": [], "x": 1}}),
            json!({"keystroke_free": {"segments": [], "x": 1}}),
        ] {
            let r = app
                .post_json(&format!("/v1/sessions/{id}/evidence"), &key, evidence)
                .await;
            expect_problem(r, 400, "malformed_json").await;
        }
    }
);

// Schemathesis ST202 (schema-valid requests refused): the log's proofs answer what they cannot
// prove with 404/422, and the OpenAPI states the rules it checked only in code.
both_backends!(
    schema_valid_requests_get_documented_answers,
    |app: TestApp| async move {
        let key = app
            .tenant_with_key("shop", Sector::Retail, &[Scope::Audit, Scope::Consent])
            .await;
        let r = app
            .get("/v1/ledger/consistency-proof?first=29&second=120986", &key)
            .await;
        expect_problem(r, 404, "not_found").await;
        let r = app
            .get("/v1/ledger/entries/5/inclusion-proof?tree_size=3", &key)
            .await;
        expect_problem(r, 404, "not_found").await;
        let r = app
            .get("/v1/ledger/consistency-proof?first=2&second=0", &key)
            .await;
        expect_problem(r, 422, "sizes_out_of_order").await;
        let doc: Value = app
            .client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let schemas = &doc["components"]["schemas"];
        // every $ref resolves (the voice stream's `StreamFormat` did not)
        let text = doc.to_string();
        for r in text.split("\"#/components/schemas/").skip(1) {
            let name = &r[..r.find('"').unwrap()];
            assert!(schemas[name].is_object(), "unresolved $ref {name}");
        }
        assert_eq!(
            schemas["AudioEncoding"]["enum"],
            json!(["wav", "mulaw", "alaw", "s16le8k", "s16le16k"])
        );
        let methods = &schemas["CustomerRequest"]["properties"]["methods"]["oneOf"];
        assert_eq!(
            methods[0]["items"]["enum"],
            json!(["code_only"]),
            "{methods}"
        );
        assert_eq!(methods[1]["minItems"], 1, "{methods}");
        // the pattern the schema gives a webhook URL is one the service parses (a private
        // host, so refused with 422 only after parsing), and audio must be canonical base64
        let key = app
            .tenant_with_key("hooks", Sector::Retail, &[Scope::Enrol, Scope::Sessions])
            .await;
        let r = app
            .put_json(
                "/v1/webhook",
                &key,
                json!({"url": "https://127.0.0.1:65535/a/b?c=d"}),
            )
            .await;
        expect_problem(r, 422, "webhook_address_refused").await;
        assert_eq!(
            schemas["VoiceSample"]["properties"]["audio"]["pattern"],
            trustline::http::openapi_errors::BASE64_PATTERN
        );
        assert!(
            schemas["WebhookRequest"]["properties"]["url"]["pattern"]
                .as_str()
                .unwrap()
                .starts_with("^https?://")
        );
        for v in schemas["CaptureRequest"]["oneOf"].as_array().unwrap() {
            assert_eq!(v["additionalProperties"], false, "{v}");
        }
        assert_eq!(
            schemas["EvidenceRequest"]["oneOf"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let withdraw = &schemas["WithdrawRequest"]["properties"]["session_id"];
        assert_eq!(withdraw["pattern"], "^[!-~]{1,128}$", "{withdraw}");
    }
);

both_backends!(
    session_ids_outside_the_documented_form_are_refused,
    |app: TestApp| async move {
        let key = app
            .tenant_with_key("shop", Sector::Retail, &[Scope::Consent, Scope::Sessions])
            .await;
        // The events stream answered 200 for an id longer than the OpenAPI allowed (ST201): the
        // document now states what consent routes accept (the platform's opaque ids, 1-128
        // printable ASCII), and the route refuses anything else.
        let long = "s".repeat(129);
        let r = app.get(&format!("/v1/sessions/{long}/events"), &key).await;
        expect_problem(r, 400, "invalid_request").await;
        let r = app.get("/v1/sessions/a%20b/events", &key).await;
        expect_problem(r, 400, "invalid_request").await;
        let opaque = "c".repeat(128);
        let r = app
            .get(&format!("/v1/sessions/{opaque}/events"), &key)
            .await;
        assert_eq!(r.status(), 200);
        drop(r);
        let doc: Value = app
            .client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for path in [
            "/v1/sessions/{session_id}/events",
            "/v1/sessions/{session_id}",
        ] {
            let op = doc["paths"][path]["get"].clone();
            let p = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "session_id")
                .unwrap()
                .clone();
            assert_eq!(p["schema"]["pattern"], "^[!-~]{1,128}$", "{path}");
            assert_eq!(p["schema"]["maxLength"], 128, "{path}");
        }
    }
);
