//! Consent through the real router on SQLite and PostgreSQL: grants with receipts that verify
//! offline (signature, Kantara v1.1 schema, inclusion proof), camera grants only with the
//! customer's own consent, withdrawal pushed at once, bad input, retention.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::{TestApp, expect_problem};
use serde_json::{Value, json};
use trustline::{
    consent::{self, Purpose, service::issue_customer_credential},
    ledger::merkle::{self, Hash},
    tenants::{Scope, Sector, TenantId},
};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/test-vectors");

/// A minimal JSON Schema (draft-04) check covering what the Kantara v1.1 schema uses: type,
/// properties, required, items, enum, minimum, oneOf.
fn schema_errors(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !ok {
            out.push(format!("{path}: expected {t}, got {value}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        out.push(format!("{path}: {value} not in {e:?}"));
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && value.as_f64().is_some_and(|v| v < min)
    {
        out.push(format!("{path}: below {min}"));
    }
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for r in req {
            let r = r.as_str().unwrap();
            if value.get(r).is_none() {
                out.push(format!("{path}: missing required `{r}`"));
            }
        }
    }
    if let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for (k, s) in props {
            if let Some(v) = obj.get(k) {
                schema_errors(s, v, &format!("{path}.{k}"), out);
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            schema_errors(items, v, &format!("{path}[{i}]"), out);
        }
    }
    if let Some(one_of) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = one_of
            .iter()
            .filter(|s| {
                let mut e = Vec::new();
                schema_errors(s, value, path, &mut e);
                e.is_empty()
            })
            .count();
        if passing != 1 {
            out.push(format!(
                "{path}: {passing} oneOf branches match (need exactly 1)"
            ));
        }
    }
}

fn kantara_errors(receipt: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{VECTORS}/kantara-cr-v1_1/schema.json")).unwrap(),
    )
    .unwrap();
    let mut errors = Vec::new();
    schema_errors(&schema, receipt, "$", &mut errors);
    errors
}

#[test]
fn the_schema_check_accepts_the_published_example_and_rejects_a_broken_one() {
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{VECTORS}/kantara-cr-v1_1/example.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(kantara_errors(&example), Vec::<String>::new());
    let mut broken = example.clone();
    broken.as_object_mut().unwrap().remove("piiPrincipalId");
    broken["consentTimestamp"] = json!("yesterday");
    assert_eq!(kantara_errors(&broken).len(), 2);
}

struct Fixture {
    key: String,
    tenant: TenantId,
}

async fn fixture(app: &TestApp, tenant: &str) -> Fixture {
    let key = app
        .tenant_with_key(
            tenant,
            Sector::Retail,
            &[Scope::Consent, Scope::Enrol, Scope::Audit],
        )
        .await;
    for c in ["cust-1", "cust-2"] {
        let r = app
            .put_json(
                &format!("/v1/customers/{c}"),
                &key,
                json!({"methods": ["voiceprint", "typing"]}),
            )
            .await;
        assert!(r.status().is_success());
    }
    Fixture {
        key,
        tenant: tenant.parse().unwrap(),
    }
}

fn credential(app: &TestApp, tenant: &TenantId, customer: &str, session: Option<&str>) -> String {
    issue_customer_credential(
        &app.state.signer,
        tenant,
        &customer.parse().unwrap(),
        session,
        300,
    )
    .unwrap()
}

fn hash(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

both_backends!(
    grant_receipt_proof_require_and_withdraw,
    |app: TestApp| async move {
        let f = fixture(&app, "acme").await;
        let customer = "cust-1".parse().unwrap();
        // No consent yet: the enrolment gate refuses.
        assert!(
            consent::require(
                &app.state,
                &f.tenant,
                &customer,
                Purpose::VoiceprintEnrolment
            )
            .await
            .is_err()
        );

        let notice: Value = app
            .get("/v1/notices/voiceprint_enrolment", &f.key)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(notice["version"], "1.1.0");
        assert!(notice["text"]["nl"].is_string() && notice["text"]["sv"].is_string());
        let resp = app
        .post_json("/v1/consents", &f.key, json!({
            "customer_ref": "cust-1", "purpose": "voiceprint_enrolment", "notice_version": "1.1.0",
            "language": "nl", "capture": {"method": "dtmf", "ivr_call_id": "call-77"}
        }))
        .await;
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["consent"]["notice_hash"], notice["hash"]);
        assert_eq!(body["consent"]["scope"], "standing");
        assert_eq!(body["consent"]["capture_method"], "dtmf");

        // The receipt: signed, Kantara v1.1 fields, and the log position it names.
        let receipt = &body["receipt"]["receipt"];
        assert_eq!(kantara_errors(receipt), Vec::<String>::new(), "{receipt:#}");
        assert_eq!(receipt["version"], "KI-CR-v1.1.0");
        assert_eq!(receipt["language"], "nl");
        assert_eq!(receipt["collectionMethod"], "dtmf");
        assert_eq!(receipt["sensitive"], true);
        let signed = app
            .state
            .signer
            .verify_jws(body["receipt"]["jws"].as_str().unwrap())
            .unwrap();
        assert_eq!(&signed, receipt);
        let index = body["log"]["index"].as_u64().unwrap();
        assert_eq!(receipt["trustline"]["log"]["index"], index);
        assert_eq!(
            receipt["trustline"]["log"]["leafHash"],
            body["log"]["leaf_hash"]
        );

        // The inclusion proof leads to a signed head; an auditor checks both offline.
        let proof: Value = app
            .get(body["log"]["inclusion_proof"].as_str().unwrap(), &f.key)
            .await
            .json()
            .await
            .unwrap();
        let head = &proof["tree_head"];
        let claims = app
            .state
            .signer
            .verify_jws(head["jws"].as_str().unwrap())
            .unwrap();
        assert_eq!(claims["root_hash"], head["root_hash"]);
        let path: Vec<Hash> = proof["audit_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hash(h.as_str().unwrap()))
            .collect();
        assert_eq!(proof["leaf_hash"], body["log"]["leaf_hash"]);
        merkle::verify_inclusion(
            index,
            proof["tree_size"].as_u64().unwrap(),
            &hash(proof["leaf_hash"].as_str().unwrap()),
            &path,
            &hash(head["root_hash"].as_str().unwrap()),
        )
        .unwrap();
        // The receipt can be fetched again.
        let again: Value = app
            .get(
                &format!(
                    "/v1/consents/{}/receipt",
                    body["consent"]["consent_id"].as_str().unwrap()
                ),
                &f.key,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(again["receipt"], *receipt, "the same receipt, signed again");

        consent::require(
            &app.state,
            &f.tenant,
            &customer,
            Purpose::VoiceprintEnrolment,
        )
        .await
        .unwrap();
        assert!(
            consent::require(
                &app.state,
                &f.tenant,
                &customer,
                Purpose::KeystrokeEnrolment
            )
            .await
            .is_err()
        );

        // Withdrawal is one call, takes effect at once, and is idempotent.
        let w: Value = app.post_json("/v1/consents/withdrawals", &f.key, json!({"customer_ref": "cust-1", "purpose": "voiceprint_enrolment", "method": "dtmf"})).await.json().await.unwrap();
        assert_eq!(w["status"], "withdrawn");
        assert_eq!(w["withdrawn"].as_array().unwrap().len(), 1);
        // The withdrawal has its own signed receipt: the grant's Kantara fields, the
        // withdrawal's time, method and log position, and the grant's position.
        let wd = &w["withdrawn"][0];
        let wr = &wd["receipt"]["receipt"];
        assert_eq!(kantara_errors(wr), Vec::<String>::new(), "{wr:#}");
        assert_eq!(
            &app.state
                .signer
                .verify_jws(wd["receipt"]["jws"].as_str().unwrap())
                .unwrap(),
            wr
        );
        assert_eq!(wr["trustline"]["event"], "withdrawal");
        assert_eq!(wr["trustline"]["consentId"], body["consent"]["consent_id"]);
        assert_eq!(wr["trustline"]["withdrawalMethod"], "dtmf");
        assert!(
            wr["trustline"]["withdrawnAt"].as_i64().unwrap()
                >= receipt["consentTimestamp"].as_i64().unwrap() * 1000
        );
        assert_eq!(wr["trustline"]["log"]["index"], wd["log_index"]);
        assert_eq!(wr["trustline"]["grantLog"], receipt["trustline"]["log"]);
        assert_ne!(wr["consentReceiptID"], receipt["consentReceiptID"]);
        let wproof: Value = app
            .get(
                wr["trustline"]["log"]["inclusionProof"].as_str().unwrap(),
                &f.key,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(wproof["leaf_hash"], wr["trustline"]["log"]["leafHash"]);
        assert!(
            consent::require(
                &app.state,
                &f.tenant,
                &customer,
                Purpose::VoiceprintEnrolment
            )
            .await
            .is_err()
        );
        let again = app
            .post_json(
                "/v1/consents/withdrawals",
                &f.key,
                json!({"customer_ref": "cust-1", "purpose": "voiceprint_enrolment"}),
            )
            .await;
        assert_eq!(again.status(), 200);
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["status"], "not_in_force");
        assert_eq!(again["withdrawn"], json!([]));

        let list: Value = app
            .get("/v1/customers/cust-1/consents", &f.key)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["status"], "withdrawn");
        assert!(list[0]["end_ledger_index"].as_u64().unwrap() > index);

        let report = trustline::audit::verify_in_service(&app.state, "acme")
            .await
            .unwrap();
        assert!(report.ok(), "{report:?}");
    }
);

both_backends!(
    camera_needs_the_customers_own_consent_and_withdrawal_is_pushed,
    |app: TestApp| async move {
        let f = fixture(&app, "video").await;
        // No consent: consent_required, with the notice to show.
        let resp = app
            .post_json(
                "/v1/sessions/sess-1/camera-grants",
                &f.key,
                json!({"customer_ref": "cust-1"}),
            )
            .await;
        let problem = expect_problem(resp, 403, "consent_required").await;
        assert_eq!(problem["purpose"], "camera");
        assert_eq!(problem["notice"]["version"], "1.1.0");
        assert!(
            problem["notice"]["text"]["en"]
                .as_str()
                .unwrap()
                .contains("camera")
        );
        assert_eq!(problem["accepted_methods"], json!(["customer_device"]));

        // The agent alone cannot grant it: verbal (witnessed by the agent) and DTMF are refused.
        for capture in [
            json!({"method": "verbal_witnessed", "witness": "agent-9"}),
            json!({"method": "dtmf", "ivr_call_id": "c"}),
        ] {
            let r = app.post_json("/v1/consents", &f.key, json!({"customer_ref": "cust-1", "purpose": "camera", "notice_version": "1.0.0", "session_id": "sess-1", "capture": capture})).await;
            expect_problem(r, 403, "capture_method_not_accepted").await;
        }
        // A forged credential, or the credential of another customer or session, is refused.
        let grant = |cred: String, session: &str| json!({"customer_ref": "cust-1", "purpose": "camera", "notice_version": "1.0.0", "session_id": session, "capture": {"method": "customer_device", "customer_credential": cred}});
        expect_problem(
            app.post_json(
                "/v1/consents",
                &f.key,
                grant("eyJhbGciOiJFZERTQSJ9.e30.AAAA".into(), "sess-1"),
            )
            .await,
            403,
            "invalid_customer_credential",
        )
        .await;
        expect_problem(
            app.post_json(
                "/v1/consents",
                &f.key,
                grant(
                    credential(&app, &f.tenant, "cust-2", Some("sess-1")),
                    "sess-1",
                ),
            )
            .await,
            403,
            "invalid_customer_credential",
        )
        .await;
        expect_problem(
            app.post_json(
                "/v1/consents",
                &f.key,
                grant(
                    credential(&app, &f.tenant, "cust-1", Some("sess-other")),
                    "sess-1",
                ),
            )
            .await,
            403,
            "invalid_customer_credential",
        )
        .await;
        let resp = app
            .post_json(
                "/v1/sessions/sess-1/camera-grants",
                &f.key,
                json!({"customer_ref": "cust-1"}),
            )
            .await;
        expect_problem(resp, 403, "consent_required").await;

        // Listen to the session's events before the customer consents.
        let mut events = app
            .client
            .get(app.url("/v1/sessions/sess-1/events"))
            .bearer_auth(&f.key)
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), 200);
        assert!(
            events.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );

        // The customer's own device, with their credential for this session.
        let resp = app
            .post_json(
                "/v1/consents",
                &f.key,
                grant(
                    credential(&app, &f.tenant, "cust-1", Some("sess-1")),
                    "sess-1",
                ),
            )
            .await;
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["consent"]["scope"], "session");
        assert_eq!(
            kantara_errors(&body["receipt"]["receipt"]),
            Vec::<String>::new()
        );

        let resp = app
            .post_json(
                "/v1/sessions/sess-1/camera-grants",
                &f.key,
                json!({"customer_ref": "cust-1"}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        let g: Value = resp.json().await.unwrap();
        let claims = app
            .state
            .signer
            .verify_jws(g["grant"].as_str().unwrap())
            .unwrap();
        assert_eq!(claims["sid"], "sess-1");
        assert_eq!(claims["use"], "camera_grant");
        let now = trustline::store::now_ms() / 1000;
        assert!(claims["exp"].as_i64().unwrap() <= now + 60, "short-lived");
        // Only for this session.
        let other = app
            .post_json(
                "/v1/sessions/sess-2/camera-grants",
                &f.key,
                json!({"customer_ref": "cust-1"}),
            )
            .await;
        expect_problem(other, 403, "consent_required").await;

        // Withdrawal ends it at once and is pushed to the listener.
        let started = std::time::Instant::now();
        let w = app.post_json("/v1/consents/withdrawals", &f.key, json!({"customer_ref": "cust-1", "purpose": "camera", "session_id": "sess-1", "method": "customer_device"})).await;
        assert_eq!(w.status(), 200);
        let mut seen = String::new();
        while !seen.contains("consent_withdrawn") {
            let chunk = tokio::time::timeout(Duration::from_secs(5), events.chunk())
                .await
                .expect("pushed within 5 s")
                .unwrap()
                .unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "pushed at once: {:?}",
            started.elapsed()
        );
        assert!(seen.contains("event: consent_granted"), "{seen}");
        assert!(seen.contains(body["consent"]["consent_id"].as_str().unwrap()));
        let resp = app
            .post_json(
                "/v1/sessions/sess-1/camera-grants",
                &f.key,
                json!({"customer_ref": "cust-1"}),
            )
            .await;
        expect_problem(resp, 403, "consent_required").await;
    }
);

both_backends!(
    bad_input_is_refused_clearly_and_changes_nothing,
    |app: TestApp| async move {
        let f = fixture(&app, "strict").await;
        let other = fixture(&app, "other-tenant").await;
        let base = json!({"customer_ref": "cust-1", "purpose": "recording", "notice_version": "1.0.0", "session_id": "s", "capture": {"method": "verbal_witnessed", "witness": "agent-1"}});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };

        let p = expect_problem(
            app.post_json("/v1/consents", &f.key, with("purpose", json!("marketing")))
                .await,
            400,
            "unknown_purpose",
        )
        .await;
        assert!(p["purposes"].as_array().unwrap().contains(&json!("camera")));
        expect_problem(
            app.post_json(
                "/v1/consents",
                &f.key,
                with("notice_version", json!("9.9.9")),
            )
            .await,
            400,
            "unknown_notice_version",
        )
        .await;
        // Another tenant's customer: the key decides the tenant, so it is simply not found.
        expect_problem(
            app.post_json(
                "/v1/consents",
                &f.key,
                with("customer_ref", json!("someone-else")),
            )
            .await,
            404,
            "customer_not_found",
        )
        .await;
        app.put_json(
            "/v1/customers/only-other",
            &other.key,
            json!({"methods": ["typing"]}),
        )
        .await;
        expect_problem(
            app.post_json(
                "/v1/consents",
                &f.key,
                with("customer_ref", json!("only-other")),
            )
            .await,
            404,
            "customer_not_found",
        )
        .await;
        expect_problem(
            app.get("/v1/customers/only-other/consents", &f.key).await,
            404,
            "customer_not_found",
        )
        .await;
        // A credential minted for the other tenant's customer does not count here.
        let cred = credential(&app, &other.tenant, "cust-1", Some("s"));
        let camera = json!({"customer_ref": "cust-1", "purpose": "camera", "notice_version": "1.0.0", "session_id": "s", "capture": {"method": "customer_device", "customer_credential": cred}});
        expect_problem(
            app.post_json("/v1/consents", &f.key, camera).await,
            403,
            "invalid_customer_credential",
        )
        .await;
        expect_problem(
            app.post_json("/v1/consents", &f.key, with("session_id", Value::Null))
                .await,
            400,
            "invalid_request",
        )
        .await;
        expect_problem(
            app.post_json(
                "/v1/consents",
                &f.key,
                with(
                    "capture",
                    json!({"method": "verbal_witnessed", "witness": ""}),
                ),
            )
            .await,
            400,
            "invalid_request",
        )
        .await;
        expect_problem(
            app.post_json(
                "/v1/consents",
                &f.key,
                with("capture", json!({"method": "telepathy"})),
            )
            .await,
            400,
            "malformed_json",
        )
        .await;
        // Withdrawing a consent never given: idempotent, clear answer.
        let w: Value = app
            .post_json(
                "/v1/consents/withdrawals",
                &f.key,
                json!({"customer_ref": "cust-2", "purpose": "camera"}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(w["status"], "not_in_force");
        expect_problem(
            app.post_json(
                "/v1/consents/withdrawals",
                &f.key,
                json!({"customer_ref": "cust-2", "purpose": "nope"}),
            )
            .await,
            400,
            "unknown_purpose",
        )
        .await;
        // Scope: a key without `consent` cannot record consent.
        let enrol_only = app
            .tenant_with_key("strict", Sector::Retail, &[Scope::Enrol])
            .await;
        expect_problem(
            app.post_json("/v1/consents", &enrol_only, base.clone())
                .await,
            403,
            "scope_denied",
        )
        .await;
        // None of that wrote anything.
        assert!(
            trustline::store::ledger::tip(&app.state.db, "strict")
                .await
                .unwrap()
                .is_none()
        );
        let list: Value = app
            .get("/v1/customers/cust-1/consents", &f.key)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list, json!([]));

        // A session the sessions service created and that has ended (or is another customer's)
        // takes no consent and no camera grant.
        let now = trustline::store::now_ms();
        for (id, customer, expires_at) in [
            ("s-ended", "cust-1", now - 1),
            ("s-theirs", "cust-2", now + 600_000),
        ] {
            trustline::store::sessions::insert(
                &app.state.db,
                &trustline::store::sessions::NewSession {
                    session_id: id,
                    tenant: &f.tenant,
                    customer: &customer.parse().unwrap(),
                    channel: "video",
                    outcome: "verified",
                    assurance: "aal1",
                    policy_id: "retail",
                    policy_version: "1.0.0",
                    policy_hash: "x",
                    evidence: "[]",
                    decision: "{}",
                    handoff_from: None,
                    now: now - 1_000,
                    expires_at,
                    verified_at: None,
                },
            )
            .await
            .unwrap();
        }
        let cred = credential(&app, &f.tenant, "cust-1", Some("s-ended"));
        let r = app.post_json("/v1/consents", &f.key, json!({"customer_ref": "cust-1", "purpose": "camera", "notice_version": "1.0.0", "session_id": "s-ended", "capture": {"method": "customer_device", "customer_credential": cred}})).await;
        expect_problem(r, 409, "session_ended").await;
        let r = app
            .post_json(
                "/v1/sessions/s-ended/camera-grants",
                &f.key,
                json!({"customer_ref": "cust-1"}),
            )
            .await;
        expect_problem(r, 409, "session_ended").await;
        let r = app
            .post_json(
                "/v1/sessions/s-theirs/camera-grants",
                &f.key,
                json!({"customer_ref": "cust-1"}),
            )
            .await;
        expect_problem(r, 409, "session_mismatch").await;
        assert!(
            trustline::store::ledger::tip(&app.state.db, "strict")
                .await
                .unwrap()
                .is_none()
        );

        // A session consent that has ended (expired) no longer grants the camera.
        let cred = credential(&app, &f.tenant, "cust-1", Some("ended"));
        let r = app.post_json("/v1/consents", &f.key, json!({"customer_ref": "cust-1", "purpose": "camera", "notice_version": "1.0.0", "session_id": "ended", "valid_for_secs": 1, "capture": {"method": "customer_device", "customer_credential": cred}})).await;
        assert_eq!(r.status(), 201);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let resp = app
            .post_json(
                "/v1/sessions/ended/camera-grants",
                &f.key,
                json!({"customer_ref": "cust-1"}),
            )
            .await;
        expect_problem(resp, 403, "consent_required").await;
    }
);

both_backends!(
    retention_destroys_templates_and_logs_it,
    |app: TestApp| async move {
        let f = fixture(&app, "keep").await;
        let state = &app.state;
        let c1 = "cust-1".parse().unwrap();
        let c2 = "cust-2".parse().unwrap();
        for (customer, purpose, capture) in [
            (
                "cust-1",
                "voiceprint_enrolment",
                json!({"method": "dtmf", "ivr_call_id": "x"}),
            ),
            (
                "cust-2",
                "keystroke_enrolment",
                json!({"method": "customer_device", "customer_credential": credential(&app, &f.tenant, "cust-2", None)}),
            ),
        ] {
            let r = app.post_json("/v1/consents", &f.key, json!({"customer_ref": customer, "purpose": purpose, "notice_version": "1.0.0", "capture": capture})).await;
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        }
        // Templates as enrolment would store them (ciphertext contents do not matter here).
        use trustline::store::templates;
        templates::upsert_template(
            &state.db, &f.tenant, &c1, "voice", "campplus", "1.0.0", b"sealed",
        )
        .await
        .unwrap();
        templates::upsert_template(
            &state.db,
            &f.tenant,
            &c2,
            "keystroke_free",
            "ks",
            "1.0.0",
            b"sealed",
        )
        .await
        .unwrap();
        templates::upsert_template(
            &state.db, &f.tenant, &c2, "voice", "campplus", "1.0.0", b"sealed",
        )
        .await
        .unwrap();

        // cust-2 never consented to a voiceprint: the job destroys that one (purpose not in force).
        let report = consent::retention::run(state).await.unwrap();
        assert_eq!((report.templates_destroyed, report.purpose_ended), (1, 1));
        assert!(
            templates::template(&state.db, &f.tenant, &c2, "voice")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            templates::template(&state.db, &f.tenant, &c1, "voice")
                .await
                .unwrap()
                .is_some()
        );

        // Withdrawing the voiceprint consent destroys the voiceprint at once.
        app.post_json(
            "/v1/consents/withdrawals",
            &f.key,
            json!({"customer_ref": "cust-1", "purpose": "voiceprint_enrolment"}),
        )
        .await;
        assert!(
            templates::template(&state.db, &f.tenant, &c1, "voice")
                .await
                .unwrap()
                .is_none()
        );

        // Three years without interaction (BIPA §15(a)): destroyed even with consent in force.
        let four_years_ago = trustline::store::now_ms() - 4 * 365 * 86_400_000;
        sqlx::query("UPDATE biometric_templates SET created_at = $1, last_used_at = $1 WHERE tenant_id = $2")
        .bind(four_years_ago).bind("keep").execute(&state.db.pool).await.unwrap();
        let report = consent::retention::run(state).await.unwrap();
        assert_eq!((report.templates_destroyed, report.retention_limit), (1, 1));

        // Each destruction is in the log, with its reason; the log verifies.
        let rows = trustline::store::ledger::entries(&state.db, "keep", 0, 100)
            .await
            .unwrap();
        let reasons: Vec<String> = rows
            .iter()
            .filter(|r| r.kind == "template_deleted")
            .map(|r| {
                serde_json::from_str::<Value>(&r.body).unwrap()["reason"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            reasons,
            ["purpose_ended", "purpose_ended", "retention_limit"]
        );
        assert!(
            trustline::audit::verify_in_service(state, "keep")
                .await
                .unwrap()
                .ok()
        );

        // Expiry is an event too.
        let r = app.post_json("/v1/consents", &f.key, json!({"customer_ref": "cust-1", "purpose": "recording", "notice_version": "1.0.0", "session_id": "s9", "valid_for_secs": 1, "capture": {"method": "dtmf", "ivr_call_id": "y"}})).await;
        assert_eq!(r.status(), 201);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let report = consent::retention::run(state).await.unwrap();
        assert_eq!(report.consents_expired, 1);
        let list: Value = app
            .get("/v1/customers/cust-1/consents", &f.key)
            .await
            .json()
            .await
            .unwrap();
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|c| c["purpose"] == "recording" && c["end_reason"] == "expired")
        );
    }
);

both_backends!(
    a_withdrawal_on_another_instance_reaches_this_instances_listeners,
    |app: TestApp| async move {
        let f = fixture(&app, "video").await;
        let other = app.second_instance().await;
        let grant = json!({"customer_ref": "cust-1", "purpose": "camera", "notice_version": "1.0.0", "session_id": "sess-1", "capture": {"method": "customer_device", "customer_credential": credential(&app, &f.tenant, "cust-1", Some("sess-1"))}});
        let resp = app.post_json("/v1/consents", &f.key, grant).await;
        assert_eq!(resp.status(), 201);
        let mut events = app
            .client
            .get(app.url("/v1/sessions/sess-1/events"))
            .bearer_auth(&f.key)
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), 200);

        // The withdrawal lands on the other instance; this one learns of it from the database.
        let w = other.post_json("/v1/consents/withdrawals", &f.key, json!({"customer_ref": "cust-1", "purpose": "camera", "session_id": "sess-1", "method": "customer_device"})).await;
        assert_eq!(w.status(), 200);
        let mut seen = String::new();
        while !seen.contains("consent_withdrawn") {
            let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
                .await
                .expect("withdrawal made elsewhere pushed within 10 s")
                .unwrap()
                .unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        // And the camera is refused on both instances at once.
        for instance in [&app, &other] {
            let resp = instance
                .post_json(
                    "/v1/sessions/sess-1/camera-grants",
                    &f.key,
                    json!({"customer_ref": "cust-1"}),
                )
                .await;
            expect_problem(resp, 403, "consent_required").await;
        }
    }
);

both_backends!(
    an_end_the_log_missed_is_appended_by_the_next_retention_pass,
    |app: TestApp| async move {
        let f = fixture(&app, "relog").await;
        let r = app.post_json("/v1/consents", &f.key, json!({"customer_ref": "cust-1", "purpose": "recording", "notice_version": "1.0.0", "session_id": "s1", "capture": {"method": "dtmf", "ivr_call_id": "x"}})).await;
        assert_eq!(r.status(), 201);
        let granted: Value = r.json().await.unwrap();
        let consent_id = granted["consent"]["consent_id"]
            .as_str()
            .unwrap()
            .to_string();
        // What a crash between "end the row" and "append the entry" leaves: an ended consent
        // without its end entry (ended two minutes ago, past the in-flight guard).
        let ended_at = trustline::store::now_ms() - 120_000;
        trustline::store::consents::end(
            &app.state.db,
            &f.tenant,
            &consent_id,
            ended_at,
            "withdrawn",
        )
        .await
        .unwrap();
        let before = trustline::store::ledger::entries(&app.state.db, "relog", 0, 100)
            .await
            .unwrap()
            .len();

        let report = consent::retention::run(&app.state).await.unwrap();
        assert_eq!(report.ends_relogged, 1);
        let rows = trustline::store::ledger::entries(&app.state.db, "relog", 0, 100)
            .await
            .unwrap();
        assert_eq!(rows.len(), before + 1);
        let last = rows.last().unwrap();
        assert_eq!(last.kind, "consent_withdrawn");
        let body: Value = serde_json::from_str(&last.body).unwrap();
        assert_eq!(body["consent_id"], consent_id.as_str());
        assert_eq!(body["recovered"], true);
        assert_eq!(body["ended_at"], ended_at);
        let stored = trustline::store::consents::get(&app.state.db, &f.tenant, &consent_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.end_ledger_index, Some(last.index as i64));
        // Once only.
        let again = consent::retention::run(&app.state).await.unwrap();
        assert_eq!(again.ends_relogged, 0);
        let report = trustline::audit::verify_in_service(&app.state, "relog")
            .await
            .unwrap();
        assert!(report.ok(), "{report:?}");
    }
);
