//! Keystroke enrolment and evidence through the real router: the consent gate, typed errors for
//! bad input, encrypted templates, scores with calibrated FMRs. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{TestApp, expect_problem};
use serde_json::{Value, json};
use trustline::{
    biometrics::keystroke::{
        KeyClass, KeyEvent, fixed,
        free::{self, FreeTextTemplate},
        service::{self, MODALITY_FIXED, MODALITY_FREE},
    },
    biometrics::models::ModelTask,
    consent::service::issue_customer_credential,
    tenants::{CustomerRef, Scope, Sector, TenantId},
};

const CLASSES: [KeyClass; 8] = [
    KeyClass::LeftTop,
    KeyClass::RightHome,
    KeyClass::Space,
    KeyClass::LeftHome,
    KeyClass::RightTop,
    KeyClass::Modifier,
    KeyClass::LeftNumber,
    KeyClass::Edit,
];

/// A typist with a steady rhythm: deterministic jitter from `seed`.
pub(crate) fn phrase(seed: u64, tempo: f64) -> Vec<KeyEvent> {
    typist(seed, tempo, [120.0, 160.0, 200.0], 90.0)
}

/// Another typist: a different gap per key position and longer holds.
pub(crate) fn other_typist(seed: u64) -> Vec<KeyEvent> {
    typist(seed, 1.0, [230.0, 110.0, 150.0], 140.0)
}

/// `gaps[i % 3]` ms between presses, `hold` ms holds, both with 10 % jitter from `seed`.
fn typist(seed: u64, tempo: f64, gaps: [f64; 3], hold: f64) -> Vec<KeyEvent> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut jitter = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) % 1000) as f64 / 1000.0 - 0.5
    };
    let mut t = 0.0;
    CLASSES
        .iter()
        .enumerate()
        .map(|(i, &class)| {
            let press = t;
            t += tempo * gaps[i % 3] * (1.0 + 0.1 * jitter());
            KeyEvent {
                press_ms: press,
                release_ms: press + hold * (1.0 + 0.1 * jitter()),
                class,
            }
        })
        .collect()
}

fn free_segments(n: usize, tempo: f64) -> Vec<Vec<KeyEvent>> {
    let mut out = Vec::new();
    for s in 0..n.div_ceil(40) {
        let mut seg = Vec::new();
        let mut press = 0.0;
        for k in 0..40.min(n - s * 40) {
            press += tempo * (150.0 + 30.0 * ((k * 7 + s) % 5) as f64);
            seg.push(KeyEvent {
                press_ms: press,
                release_ms: press + 80.0 + ((k * 3) % 4) as f64 * 10.0,
                class: KeyClass::ALL[(k * 5 + s) % 9],
            });
        }
        out.push(seg);
    }
    out
}

async fn setup(app: &TestApp) -> (String, TenantId, CustomerRef) {
    let key = app
        .tenant_with_key("shop", Sector::Retail, &[Scope::Enrol, Scope::Sessions])
        .await;
    let resp = app
        .put_json("/v1/customers/c-1", &key, json!({"methods": ["typing"]}))
        .await;
    assert_eq!(resp.status(), 201);
    let tenant: TenantId = "shop".parse().unwrap();
    let customer: CustomerRef = "c-1".to_string().try_into().unwrap();
    (key, tenant, customer)
}

both_backends!(enrolment_requires_consent, |app: TestApp| async move {
    let (key, _, _) = setup(&app).await;
    let reps: Vec<Vec<KeyEvent>> = (0..6).map(|s| phrase(s, 1.0)).collect();
    let resp = app
        .put_json(
            "/v1/customers/c-1/keystroke/fixed",
            &key,
            json!({ "repetitions": reps }),
        )
        .await;
    let body = expect_problem(resp, 403, "consent_required").await;
    assert_eq!(body["purpose"], "keystroke_enrolment");
    let resp = app
        .put_json(
            "/v1/customers/c-1/keystroke/free",
            &key,
            json!({ "segments": free_segments(300, 1.0) }),
        )
        .await;
    expect_problem(resp, 403, "consent_required").await;
    // nothing was stored
    let resp = app
        .post_json(
            "/v1/customers/c-1/keystroke/evidence",
            &key,
            json!({ "fixed": phrase(9, 1.0) }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["outcome"], "not_enrolled");
});

both_backends!(
    bad_input_is_refused_with_a_code,
    |app: TestApp| async move {
        let (key, tenant, customer) = setup(&app).await;
        let reps: Vec<Vec<KeyEvent>> = (0..6).map(|s| phrase(s, 1.0)).collect();
        let template = fixed::enrol(&reps).unwrap();
        service::store_template(
            &app.state,
            &tenant,
            &customer,
            MODALITY_FIXED,
            ("keystroke-fixed", "1.0.0"),
            &template.to_bytes(),
        )
        .await
        .unwrap();
        let mut out_of_order = phrase(1, 1.0);
        out_of_order.swap(2, 3);
        let mut too_long = phrase(1, 1.0);
        too_long[4].press_ms += 9000.0;
        too_long[4].release_ms += 9000.0;
        let short = phrase(1, 1.0)[..7].to_vec();
        let mut other_text = phrase(1, 1.0);
        other_text[0].class = KeyClass::Space;
        let cases = [
            (json!({"fixed": out_of_order}), "out_of_order"),
            (json!({"fixed": too_long}), "implausible_latency"),
            (json!({"fixed": short}), "wrong_key_count"),
            (json!({"fixed": other_text}), "key_sequence_mismatch"),
            (
                json!({"free": free_segments(30, 1.0)}),
                "insufficient_evidence",
            ),
        ];
        for (body, code) in cases {
            let resp = app
                .post_json("/v1/customers/c-1/keystroke/evidence", &key, body)
                .await;
            expect_problem(resp, 422, code).await;
        }
        // NaN cannot be written in JSON; huge numbers and negative times can
        let resp = app
            .post_json(
                "/v1/customers/c-1/keystroke/evidence",
                &key,
                json!({"fixed": [{"press_ms": 1e300, "release_ms": 1e300, "class": "space"}]}),
            )
            .await;
        expect_problem(resp, 422, "out_of_range").await;
        let resp = app
            .post_json(
                "/v1/customers/c-1/keystroke/evidence",
                &key,
                json!({"fixed": [{"press_ms": 0, "release_ms": 10, "class": "keypad"}]}),
            )
            .await;
        // an unknown key class is a malformed body (the schema names the 12 classes)
        expect_problem(resp, 400, "malformed_json").await;
        let resp = app
            .post_json("/v1/customers/c-1/keystroke/evidence", &key, json!({}))
            .await;
        expect_problem(resp, 400, "invalid_request").await;
    }
);

both_backends!(scores_genuine_above_impostor, |app: TestApp| async move {
    let (key, tenant, customer) = setup(&app).await;
    let reps: Vec<Vec<KeyEvent>> = (0..10).map(|s| phrase(s, 1.0)).collect();
    let template = fixed::enrol(&reps).unwrap();
    service::store_template(
        &app.state,
        &tenant,
        &customer,
        MODALITY_FIXED,
        ("keystroke-fixed", "1.0.0"),
        &template.to_bytes(),
    )
    .await
    .unwrap();
    // the stored template is sealed: its plaintext is not in the row
    let stored =
        trustline::store::templates::template(&app.state.db, &tenant, &customer, MODALITY_FIXED)
            .await
            .unwrap()
            .unwrap();
    let plain = template.to_bytes();
    assert!(
        !stored
            .ciphertext
            .windows(16)
            .any(|w| plain.windows(16).any(|p| p == w))
    );

    let mut scores = Vec::new();
    for (seed, tempo) in [(50, 1.0), (51, 1.8)] {
        let resp = app
            .post_json(
                "/v1/customers/c-1/keystroke/evidence",
                &key,
                json!({ "fixed": phrase(seed, tempo) }),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["outcome"], "scored");
        assert_eq!(body["verdict"]["model_id"], "keystroke-fixed");
        let fmr = body["verdict"]["fmr"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&fmr));
        scores.push((body["verdict"]["score"].as_f64().unwrap(), fmr));
    }
    assert!(scores[0].0 > scores[1].0, "{scores:?}");
    assert!(scores[0].1 < scores[1].1, "{scores:?}");

    // free text: enrol through the model (consent is the HTTP layer's gate), then verify
    let models = app.state.models.clone();
    let t: FreeTextTemplate = tokio::task::spawn_blocking(move || {
        let w = free::parse_enrolment(&free_segments(300, 1.0)).unwrap();
        models
            .for_task(ModelTask::KeystrokeFree)
            .unwrap()
            .run(|s| free::enrol(s, &w))
            .unwrap()
    })
    .await
    .unwrap();
    service::store_template(
        &app.state,
        &tenant,
        &customer,
        MODALITY_FREE,
        ("keystroke-free", "1.0.0"),
        &t.to_bytes(),
    )
    .await
    .unwrap();
    let resp = app
        .post_json(
            "/v1/customers/c-1/keystroke/evidence",
            &key,
            json!({ "free": free_segments(100, 1.0) }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["verdict"]["modality"], "keystroke_free");
    assert!(body["verdict"]["score"].as_f64().unwrap().is_finite());
});

both_backends!(keystroke_scopes_and_tenants, |app: TestApp| async move {
    let (_, _, _) = setup(&app).await;
    let enrol_only = app
        .tenant_with_key("shop", Sector::Retail, &[Scope::Enrol])
        .await;
    let resp = app
        .post_json(
            "/v1/customers/c-1/keystroke/evidence",
            &enrol_only,
            json!({ "fixed": phrase(1, 1.0) }),
        )
        .await;
    expect_problem(resp, 403, "scope_denied").await;
    let other = app
        .tenant_with_key("other", Sector::Retail, &[Scope::Enrol, Scope::Sessions])
        .await;
    let reps: Vec<Vec<KeyEvent>> = (0..6).map(|s| phrase(s, 1.0)).collect();
    let resp = app
        .put_json(
            "/v1/customers/c-1/keystroke/fixed",
            &other,
            json!({ "repetitions": reps }),
        )
        .await;
    expect_problem(resp, 404, "not_found").await;
});

both_backends!(
    session_evidence_is_scored_by_the_keystroke_model,
    |app: TestApp| async move {
        let (key, tenant, customer) = setup(&app).await;
        let reps: Vec<Vec<KeyEvent>> = (0..10).map(|s| phrase(s, 1.0)).collect();
        let template = fixed::enrol(&reps).unwrap();
        service::store_template(
            &app.state,
            &tenant,
            &customer,
            MODALITY_FIXED,
            ("keystroke-fixed", "1.0.0"),
            &template.to_bytes(),
        )
        .await
        .unwrap();
        let start = |events: Vec<KeyEvent>| {
            json!({"customer_ref": "c-1", "channel": "chat",
               "evidence": {"keystroke_fixed": {"events": events}}})
        };
        let resp = app
            .post_json("/v1/sessions", &key, start(phrase(60, 1.0)))
            .await;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        let b = &body["decision"]["biometrics"][0];
        assert_eq!(b["modality"], "keystroke_fixed", "{body}");
        assert_eq!(b["model_id"], "keystroke-fixed");
        let genuine_fmr = b["fmr"].as_f64().unwrap();

        let resp = app
            .post_json("/v1/sessions", &key, start(phrase(61, 1.8)))
            .await;
        let body: Value = resp.json().await.unwrap();
        let impostor_fmr = body["decision"]["biometrics"][0]["fmr"].as_f64().unwrap();
        assert!(
            genuine_fmr < impostor_fmr,
            "{genuine_fmr} vs {impostor_fmr}"
        );

        // a sample the parser refuses is refused as the keystroke API refuses it (422 with the
        // parser's code, before anything is looked up), and no session is stored
        let mut bad = phrase(62, 1.0);
        bad.swap(1, 2);
        let resp = app
            .post_json("/v1/sessions", &key, start(bad.clone()))
            .await;
        expect_problem(resp, 422, "out_of_order").await;
        let resp = app
            .post_json(
                &format!("/v1/customers/{}/keystroke/evidence", customer.as_str()),
                &key,
                json!({ "fixed": bad }),
            )
            .await;
        expect_problem(resp, 422, "out_of_order").await;

        // a well-formed sample that does not fit the enrolled phrase is not scored, and the
        // decision says why
        let mut short = phrase(63, 1.0);
        short.pop();
        let resp = app.post_json("/v1/sessions", &key, start(short)).await;
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["decision"]["biometrics"], json!([]), "{body}");
        assert!(
            body["decision"]["reasons"]
                .as_array()
                .unwrap()
                .contains(&json!("keystroke_fixed_sample_unusable")),
            "{body}"
        );
    }
);

/// The customer grants `keystroke_enrolment` from their own device (the only capture method
/// the purpose accepts): a customer credential minted for them, posted to the consent API.
pub(crate) async fn grant_keystroke_consent(
    app: &TestApp,
    key: &str,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Value {
    let credential =
        issue_customer_credential(&app.state.signer, tenant, customer, None, 300).unwrap();
    let resp = app
        .post_json(
            "/v1/consents",
            key,
            json!({
                "customer_ref": customer.to_string(), "purpose": "keystroke_enrolment",
                "notice_version": "1.0.0", "language": "en",
                "capture": {"method": "customer_device", "customer_credential": credential}
            }),
        )
        .await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

async fn fixed_evidence(app: &TestApp, key: &str, events: Vec<KeyEvent>) -> Value {
    let resp = app
        .post_json(
            "/v1/customers/c-1/keystroke/evidence",
            key,
            json!({ "fixed": events }),
        )
        .await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

both_backends!(
    enrolment_through_a_consent_grant_then_verify,
    |app: TestApp| async move {
        let key = app
            .tenant_with_key(
                "shop",
                Sector::Retail,
                &[Scope::Consent, Scope::Enrol, Scope::Sessions],
            )
            .await;
        let resp = app
            .put_json("/v1/customers/c-1", &key, json!({"methods": ["typing"]}))
            .await;
        assert_eq!(resp.status(), 201);
        let tenant: TenantId = "shop".parse().unwrap();
        let customer: CustomerRef = "c-1".to_string().try_into().unwrap();
        let reps: Vec<Vec<KeyEvent>> = (0..10).map(|s| phrase(s, 1.0)).collect();
        let enrol_fixed = || {
            app.put_json(
                "/v1/customers/c-1/keystroke/fixed",
                &key,
                json!({ "repetitions": reps }),
            )
        };

        // Refused before the customer consents; nothing is stored.
        expect_problem(enrol_fixed().await, 403, "consent_required").await;
        let body = fixed_evidence(&app, &key, phrase(50, 1.0)).await;
        assert_eq!(body["outcome"], "not_enrolled");

        let grant = grant_keystroke_consent(&app, &key, &tenant, &customer).await;
        assert_eq!(grant["consent"]["purpose"], "keystroke_enrolment");
        assert_eq!(grant["consent"]["capture_method"], "customer_device");

        // Enrol over HTTP, then verify over HTTP.
        let resp = enrol_fixed().await;
        let status = resp.status().as_u16();
        let receipt: Value = resp.json().await.unwrap();
        assert_eq!(status, 201, "{receipt}");
        let fixed_model = app
            .state
            .models
            .for_task(ModelTask::KeystrokeFixed)
            .unwrap();
        assert_eq!(receipt["modality"], "keystroke_fixed");
        assert_eq!(receipt["model_id"], fixed_model.entry.id);
        assert_eq!(receipt["model_version"], fixed_model.entry.version);
        assert_eq!(receipt["samples"], 10);
        let stored = trustline::store::templates::template(
            &app.state.db,
            &tenant,
            &customer,
            MODALITY_FIXED,
        )
        .await
        .unwrap();
        assert!(stored.is_some(), "the HTTP enrolment stored a template");

        let genuine = fixed_evidence(&app, &key, phrase(50, 1.0)).await;
        let impostor = fixed_evidence(&app, &key, other_typist(51)).await;
        for body in [&genuine, &impostor] {
            assert_eq!(body["outcome"], "scored", "{body}");
            assert_eq!(body["verdict"]["modality"], "keystroke_fixed");
            assert_eq!(body["verdict"]["model_version"], fixed_model.entry.version);
        }
        let score = |b: &Value| b["verdict"]["score"].as_f64().unwrap();
        let fmr = |b: &Value| b["verdict"]["fmr"].as_f64().unwrap();
        assert!(
            score(&genuine) > score(&impostor),
            "{genuine} vs {impostor}"
        );
        assert!(fmr(&genuine) < fmr(&impostor), "{genuine} vs {impostor}");
        // the enrolled phrase's key sequence is enforced on the verified sample
        let resp = app
            .post_json(
                "/v1/customers/c-1/keystroke/evidence",
                &key,
                json!({ "fixed": phrase(52, 1.0)[..7].to_vec() }),
            )
            .await;
        expect_problem(resp, 422, "wrong_key_count").await;

        // Free text under the same consent.
        let resp = app
            .put_json(
                "/v1/customers/c-1/keystroke/free",
                &key,
                json!({ "segments": free_segments(300, 1.0) }),
            )
            .await;
        let status = resp.status().as_u16();
        let receipt: Value = resp.json().await.unwrap();
        assert_eq!(status, 201, "{receipt}");
        assert_eq!(receipt["modality"], "keystroke_free");
        assert_eq!(receipt["samples"], 6, "300 keystrokes = 6 windows of 50");
        let resp = app
            .post_json(
                "/v1/customers/c-1/keystroke/evidence",
                &key,
                json!({ "free": free_segments(100, 1.0) }),
            )
            .await;
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["outcome"], "scored", "{body}");
        assert_eq!(body["verdict"]["modality"], "keystroke_free");
        assert!(body["verdict"]["score"].as_f64().unwrap().is_finite());

        // Withdrawal: enrolment is refused again and the templates are destroyed.
        let resp = app
            .post_json(
                "/v1/consents/withdrawals",
                &key,
                json!({"customer_ref": "c-1", "purpose": "keystroke_enrolment", "method": "customer_device"}),
            )
            .await;
        let w: Value = resp.json().await.unwrap();
        assert_eq!(w["status"], "withdrawn", "{w}");
        expect_problem(enrol_fixed().await, 403, "consent_required").await;
        let body = fixed_evidence(&app, &key, phrase(53, 1.0)).await;
        assert_eq!(body["outcome"], "not_enrolled", "{body}");
        for modality in [MODALITY_FIXED, MODALITY_FREE] {
            let row =
                trustline::store::templates::template(&app.state.db, &tenant, &customer, modality)
                    .await
                    .unwrap();
            assert!(row.is_none(), "{modality} template destroyed on withdrawal");
        }
    }
);
