//! Passkeys (issue 13): registration and checking in the privacy centre, and the bad inputs a
//! browser will not produce on demand (replayed assertions, wrong origin or RP id, another
//! customer's credential, a ceremony finished elsewhere), each a typed problem that changes
//! nothing. The phone is a software authenticator on python-fido2 (PyPI):
//! tests/tools/soft-authenticator, installed by scripts/install-test-python.sh.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{io::Write as _, process::Stdio};

use serde_json::{Value, json};
use trustline::{
    store,
    tenants::{CustomerRef, TenantId},
};

use crate::common::{TestApp, expect_problem};
use crate::web_login::{Provider, customer_session, setup};

/// WebAuthn needs a domain: the service's public origin for these tests (the authenticator
/// claims it in its client data; the HTTP requests go to the test listener).
pub(crate) const ORIGIN: &str = "http://localhost:8080";

pub(crate) fn settings(mut s: trustline::config::Settings) -> trustline::config::Settings {
    s.cookie_secure = false;
    s.public_url = ORIGIN.into();
    crate::common::allow_loopback_webhooks(s)
}

// Not `TRUSTLINE_`-prefixed: the config loader refuses unknown TRUSTLINE_* settings, and the
// CLI tests start the binary with this environment.
fn python() -> String {
    std::env::var("PASSKEY_TEST_PYTHON").unwrap_or_else(|_| {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
        assert!(
            std::path::Path::new(venv).exists(),
            "run scripts/install-test-python.sh first (the passkey tests' authenticator)"
        );
        venv.to_string()
    })
}

/// One call of the software authenticator: `create` or `get` against the server's options.
pub(crate) fn authenticator(
    op: &str,
    options: &Value,
    device: Option<&Value>,
    knobs: Value,
) -> (Value, Value) {
    let mut request = json!({
        "op": op, "options": options, "origin": ORIGIN, "device": device,
    });
    for (k, v) in knobs.as_object().unwrap() {
        request[k] = v.clone();
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/tools/soft-authenticator/authenticator.py"
    );
    let mut child = std::process::Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "authenticator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    (answer["credential"].clone(), answer["device"].clone())
}

/// A signed-in customer's browser: its cookie and CSRF token.
pub(crate) struct Browser {
    cookie: String,
    csrf: String,
}

impl Browser {
    pub(crate) async fn sign_in(app: &TestApp, p: &Provider, customer: &str) -> Self {
        let cookie = customer_session(app, p, customer).await;
        let (status, html) = page(app, &cookie, "/privacy").await;
        assert_eq!(status, 200);
        let csrf = html
            .split("data-csrf=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("passkey section carries the CSRF token")
            .to_string();
        Self { cookie, csrf }
    }

    pub(crate) async fn post(&self, app: &TestApp, path: &str, body: Value) -> reqwest::Response {
        app.client
            .post(app.url(path))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Start a ceremony: (ceremony id, options for the authenticator).
    async fn start(&self, app: &TestApp, path: &str) -> (String, Value) {
        let resp = self.post(app, path, json!({})).await;
        assert_eq!(resp.status(), 200, "{path}");
        let body: Value = resp.json().await.unwrap();
        (
            body["ceremony_id"].as_str().unwrap().to_string(),
            body["options"].clone(),
        )
    }

    /// Register a passkey on a fresh software authenticator; returns its device state.
    pub(crate) async fn register(&self, app: &TestApp, name: &str) -> (Value, Value) {
        let (ceremony, options) = self.start(app, "/privacy/passkeys/registration").await;
        let (credential, device) = authenticator("create", &options, None, json!({}));
        let resp = self
            .post(
                app,
                "/privacy/passkeys",
                json!({"ceremony_id": ceremony, "name": name, "credential": credential}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        (resp.json().await.unwrap(), device)
    }
}

pub(crate) async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let resp = app
        .client
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

pub(crate) async fn passkeys_of(
    app: &TestApp,
    customer: &str,
) -> Vec<store::passkeys::StoredPasskey> {
    let tenant: TenantId = "acme".parse().unwrap();
    let customer: CustomerRef = customer.parse().unwrap();
    store::passkeys::for_customer(&app.state.db, &tenant, &customer)
        .await
        .unwrap()
}

both_backends!(
    passkeys_are_registered_and_checked_in_the_privacy_centre,
    settings = settings,
    |app: TestApp| async move {
        let (p, _) = setup(&app).await;
        let me = Browser::sign_in(&app, &p, "C-1001").await;

        // The page runs only its own same-origin script.
        let resp = app
            .client
            .get(app.url("/privacy"))
            .header("cookie", &me.cookie)
            .send()
            .await
            .unwrap();
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"));
        let html = resp.text().await.unwrap();
        assert!(html.contains("data-testid=\"no-passkeys\""));
        assert!(html.contains("/static/passkey.js"));
        let js = app
            .client
            .get(app.url("/static/passkey.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(js.status(), 200);
        assert!(
            js.text()
                .await
                .unwrap()
                .contains("navigator.credentials.create")
        );

        // CSRF: the token is required on every passkey endpoint.
        let resp = app
            .client
            .post(app.url("/privacy/passkeys/registration"))
            .header("cookie", &me.cookie)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        expect_problem(resp, 403, "csrf").await;
        // Not signed in: a problem, not a page.
        let resp = app
            .client
            .post(app.url("/privacy/passkeys/registration"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        expect_problem(resp, 401, "not_signed_in").await;

        // Registration options: this service's domain as RP id, the tenant's name, and no
        // customer reference for the authenticator to store.
        let (ceremony, options) = me.start(&app, "/privacy/passkeys/registration").await;
        assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
        assert_eq!(
            options["publicKey"]["authenticatorSelection"]["userVerification"],
            "required"
        );
        assert!(!options.to_string().contains("C-1001"));

        // Bad registrations change nothing: wrong origin, another RP id, no user verification.
        for (knobs, code) in [
            (
                json!({"origin": "http://localhost.evil.example:8080"}),
                "passkey_wrong_origin",
            ),
            (json!({"rp_id": "evil.example"}), "passkey_wrong_rp_id"),
            (json!({"uv": false}), "passkey_user_not_verified"),
        ] {
            let (ceremony, options) = me.start(&app, "/privacy/passkeys/registration").await;
            let (credential, _) = authenticator("create", &options, None, knobs);
            let resp = me
                .post(
                    &app,
                    "/privacy/passkeys",
                    json!({"ceremony_id": ceremony, "credential": credential}),
                )
                .await;
            expect_problem(resp, 400, code).await;
        }
        assert!(passkeys_of(&app, "C-1001").await.is_empty());

        // A good one.
        let (credential, device) = authenticator("create", &options, None, json!({}));
        let body = json!({"ceremony_id": ceremony, "name": "my phone", "credential": credential});
        let resp = me.post(&app, "/privacy/passkeys", body.clone()).await;
        assert_eq!(resp.status(), 201);
        let created: Value = resp.json().await.unwrap();
        assert_eq!(created["name"], "my phone");
        // The same response again: the ceremony is spent.
        let resp = me.post(&app, "/privacy/passkeys", body).await;
        expect_problem(resp, 409, "passkey_ceremony_invalid").await;
        assert_eq!(passkeys_of(&app, "C-1001").await.len(), 1);
        let (_, html) = page(&app, &me.cookie, "/privacy").await;
        assert!(html.contains("my phone") && html.contains("data-testid=\"check-passkey\""));

        // The same authenticator cannot register its credential twice (excluded).
        let (_, options) = me.start(&app, "/privacy/passkeys/registration").await;
        let excluded: Vec<&str> = options["publicKey"]["excludeCredentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(excluded, vec![device["credential_id"].as_str().unwrap()]);

        // Check the passkey: an assertion with the customer's own credential.
        let (ceremony, options) = me.start(&app, "/privacy/passkeys/authentication").await;
        let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
        assert_eq!(allowed.len(), 1);
        assert_eq!(options["publicKey"]["userVerification"], "required");
        let (assertion, device) = authenticator("get", &options, Some(&device), json!({}));
        let body = json!({"ceremony_id": ceremony, "credential": assertion});
        let resp = me
            .post(
                &app,
                "/privacy/passkeys/authentication/finish",
                body.clone(),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let checked: Value = resp.json().await.unwrap();
        assert_eq!(checked["verified"], true);
        assert_eq!(checked["passkey"]["passkey_id"], created["passkey_id"]);
        let after_use = passkeys_of(&app, "C-1001").await;
        assert!(after_use[0].last_used_at.is_some());

        // Replays: the same assertion on its spent ceremony, then on a fresh one.
        let resp = me
            .post(&app, "/privacy/passkeys/authentication/finish", body)
            .await;
        expect_problem(resp, 409, "passkey_ceremony_invalid").await;
        let (ceremony, _) = me.start(&app, "/privacy/passkeys/authentication").await;
        let resp = me
            .post(
                &app,
                "/privacy/passkeys/authentication/finish",
                json!({"ceremony_id": ceremony, "credential": assertion}),
            )
            .await;
        expect_problem(resp, 400, "passkey_challenge_mismatch").await;
        // A signature counter that does not move forward (a cloned authenticator).
        let (ceremony, options) = me.start(&app, "/privacy/passkeys/authentication").await;
        let (stale, _) = authenticator("get", &options, Some(&device), json!({"counter": 1}));
        let resp = me
            .post(
                &app,
                "/privacy/passkeys/authentication/finish",
                json!({"ceremony_id": ceremony, "credential": stale}),
            )
            .await;
        expect_problem(resp, 400, "passkey_counter_regressed").await;
        // Wrong origin and wrong RP id on an assertion.
        for (knobs, code) in [
            (
                json!({"origin": "https://phish.example"}),
                "passkey_wrong_origin",
            ),
            (json!({"rp_id": "phish.example"}), "passkey_wrong_rp_id"),
            (json!({"uv": false}), "passkey_user_not_verified"),
        ] {
            let (ceremony, options) = me.start(&app, "/privacy/passkeys/authentication").await;
            let (bad, _) = authenticator("get", &options, Some(&device), knobs);
            let resp = me
                .post(
                    &app,
                    "/privacy/passkeys/authentication/finish",
                    json!({"ceremony_id": ceremony, "credential": bad}),
                )
                .await;
            expect_problem(resp, 400, code).await;
        }
        // None of the refusals moved the stored counter or the last use.
        let unchanged = passkeys_of(&app, "C-1001").await;
        assert_eq!(unchanged[0].credential, after_use[0].credential);
        assert_eq!(unchanged[0].last_used_at, after_use[0].last_used_at);

        // Another customer, with a passkey of their own.
        let other = Browser::sign_in(&app, &p, "C-2002").await;
        let (theirs, _) = other.register(&app, "").await;
        assert_eq!(theirs["name"], "Passkey");
        // C-1001's credential presented in C-2002's ceremony: not in their allow list.
        let (ceremony, options) = other.start(&app, "/privacy/passkeys/authentication").await;
        let (foreign, device) = authenticator(
            "get",
            &options,
            Some(&device),
            json!({"ignore_allow_list": true}),
        );
        let resp = other
            .post(
                &app,
                "/privacy/passkeys/authentication/finish",
                json!({"ceremony_id": ceremony, "credential": foreign}),
            )
            .await;
        expect_problem(resp, 400, "passkey_not_allowed").await;
        // A ceremony is finished only by the browser session that started it.
        let (ceremony, options) = me.start(&app, "/privacy/passkeys/authentication").await;
        let (mine, device) = authenticator("get", &options, Some(&device), json!({}));
        let resp = other
            .post(
                &app,
                "/privacy/passkeys/authentication/finish",
                json!({"ceremony_id": ceremony, "credential": mine}),
            )
            .await;
        expect_problem(resp, 409, "passkey_ceremony_invalid").await;
        // C-2002 cannot remove C-1001's passkey.
        let id = created["passkey_id"].as_str().unwrap();
        let resp = app
            .client
            .post(app.url(&format!("/privacy/passkeys/{id}/delete")))
            .header("cookie", &other.cookie)
            .form(&[("csrf", other.csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(passkeys_of(&app, "C-1001").await.len(), 1);
        let _ = device;

        // The export lists the passkey (metadata only), and the log has its registration.
        let (_, export) = page(&app, &me.cookie, "/privacy/export.json").await;
        let export: Value = serde_json::from_str(&export).unwrap();
        assert_eq!(export["passkeys"][0]["name"], "my phone");
        assert!(!export["passkeys"].to_string().contains("credential"));
        assert!(
            export["log_entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "passkey_registered")
        );

        // Removing it, with the CSRF token, from the customer's own session.
        let resp = crate::web_login::no_redirects()
            .post(app.url(&format!("/privacy/passkeys/{id}/delete")))
            .header("cookie", &me.cookie)
            .form(&[("csrf", me.csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        assert!(passkeys_of(&app, "C-1001").await.is_empty());
        assert_eq!(passkeys_of(&app, "C-2002").await.len(), 1);
    }
);

/// The next server-sent event of this kind, as JSON.
async fn next_event(stream: &mut reqwest::Response, kind: &str) -> Value {
    let mut buf = String::new();
    let marker = format!("event: {kind}");
    loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("stream open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(data) = buf
            .split("\n\n")
            .filter(|block| block.contains(&marker))
            .find_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
        {
            return serde_json::from_str(data).unwrap();
        }
    }
}

async fn post_link(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

both_backends!(
    passkey_step_up_is_approved_on_the_customers_phone,
    settings = settings,
    |app: TestApp| async move {
        use crate::customer_links::{
            delivered_links, fixture, json_of, log_kinds, session, token_of,
        };
        let f = fixture(&app).await;

        // No passkey yet: none is offered, and none can be asked for.
        let sid = session(&app, &f.key, "C-1001").await;
        let s = json_of(app.get(&format!("/v1/sessions/{sid}"), &f.key).await, 200).await;
        assert_eq!(s["decision"]["outcome"], "step_up_required");
        assert!(
            !s["decision"]["step_up"]["factors"]
                .to_string()
                .contains("passkey")
        );
        let resp = app
            .post_json(
                &format!("/v1/sessions/{sid}/passkey-requests"),
                &f.key,
                json!({}),
            )
            .await;
        expect_problem(resp, 422, "passkey_not_registered").await;
        // A passkey is never typed in as a code.
        let resp = app
            .post_json(
                &format!("/v1/sessions/{sid}/factors/passkey"),
                &f.key,
                json!({"code": "1"}),
            )
            .await;
        expect_problem(resp, 400, "invalid_request").await;

        // The customer registers one in the privacy centre; the next session offers it.
        let me = Browser::sign_in(&app, &f.provider, "C-1001").await;
        let (_, device) = me.register(&app, "my phone").await;
        let sid = session(&app, &f.key, "C-1001").await;
        let s = json_of(app.get(&format!("/v1/sessions/{sid}"), &f.key).await, 200).await;
        assert!(
            s["decision"]["step_up"]["factors"]
                .to_string()
                .contains("passkey")
        );

        // The platform listens to the session and asks.
        let mut events = app
            .client
            .get(app.url(&format!("/v1/sessions/{sid}/events")))
            .bearer_auth(&f.key)
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), 200);
        let asked = json_of(
            app.post_json(
                &format!("/v1/sessions/{sid}/passkey-requests"),
                &f.key,
                json!({}),
            )
            .await,
            202,
        )
        .await;
        assert_eq!(asked["status"], "pending");
        assert_eq!(asked["delivery"], "webhook");
        let binding = asked["binding_code"].as_str().unwrap().to_string();
        assert_eq!(binding.len(), 4);
        let request_id = asked["request_id"].as_str().unwrap().to_string();
        // Another tenant's key finds no such session.
        let globex = app
            .tenant_with_key(
                "globex",
                trustline::tenants::Sector::Retail,
                &[trustline::tenants::Scope::Sessions],
            )
            .await;
        let resp = app
            .post_json(
                &format!("/v1/sessions/{sid}/passkey-requests"),
                &globex,
                json!({}),
            )
            .await;
        expect_problem(resp, 404, "session_not_found").await;
        let resp = app
            .get(
                &format!("/v1/sessions/{sid}/passkey-requests/{request_id}"),
                &globex,
            )
            .await;
        expect_problem(resp, 404, "passkey_request_not_found").await;

        // The link reaches the customer through the tenant's webhook.
        let links = delivered_links(&app, &f).await;
        let link = links
            .iter()
            .find(|l| l["purpose"] == "passkey")
            .expect("passkey link");
        assert_eq!(link["session_id"], sid.as_str());
        let token = token_of(link["url"].as_str().unwrap());

        // The phone opens it: who asks, the binding code, one button; only its own script.
        let resp = app
            .client
            .get(app.url(&format!("/l/{token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("script-src 'self'"));
        let html = resp.text().await.unwrap();
        assert!(html.contains("data-testid=\"passkey-approval\""));
        assert!(html.contains(&format!("data-testid=\"binding-code\">{binding}<")));
        // A passkey link is never redeemed with a code (it would sign the holder in).
        let resp = crate::web_login::no_redirects()
            .post(app.url(&format!("/l/{token}")))
            .form(&[("code", "000000")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        assert!(resp.headers().get("set-cookie").is_none());

        // Bad approvals change nothing: wrong origin, another customer's passkey.
        let other = Browser::sign_in(&app, &f.provider, "C-2002").await;
        let (_, other_device) = other.register(&app, "theirs").await;
        let base = format!("/l/{token}/passkey");
        for (dev, knobs, code) in [
            (
                &device,
                json!({"origin": "https://phish.example"}),
                "passkey_wrong_origin",
            ),
            (
                &device,
                json!({"rp_id": "phish.example"}),
                "passkey_wrong_rp_id",
            ),
            (
                &other_device,
                json!({"ignore_allow_list": true}),
                "passkey_not_allowed",
            ),
        ] {
            let begun = json_of(
                post_link(&app, &format!("{base}/options"), json!({})).await,
                200,
            )
            .await;
            let (assertion, _) = authenticator("get", &begun["options"], Some(dev), knobs);
            let resp = post_link(
                &app,
                &format!("{base}/approve"),
                json!({"ceremony_id": begun["ceremony_id"], "credential": assertion}),
            )
            .await;
            expect_problem(resp, 400, code).await;
        }
        let status = json_of(
            app.get(
                &format!("/v1/sessions/{sid}/passkey-requests/{request_id}"),
                &f.key,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(status["status"], "pending");
        let s = json_of(app.get(&format!("/v1/sessions/{sid}"), &f.key).await, 200).await;
        assert_eq!(s["decision"]["outcome"], "step_up_required");
        // A ceremony of the privacy centre cannot be answered here (bound to its session).
        let (ceremony, options) = me.start(&app, "/privacy/passkeys/authentication").await;
        let (assertion, device) = authenticator("get", &options, Some(&device), json!({}));
        let resp = post_link(
            &app,
            &format!("{base}/approve"),
            json!({"ceremony_id": ceremony, "credential": assertion}),
        )
        .await;
        expect_problem(resp, 409, "passkey_ceremony_invalid").await;

        // The customer approves with their passkey.
        let begun = json_of(
            post_link(&app, &format!("{base}/options"), json!({})).await,
            200,
        )
        .await;
        let (assertion, device) = authenticator("get", &begun["options"], Some(&device), json!({}));
        let approval = json!({"ceremony_id": begun["ceremony_id"], "credential": assertion});
        let done = json_of(
            post_link(&app, &format!("{base}/approve"), approval.clone()).await,
            200,
        )
        .await;
        assert_eq!(done["approved"], true);

        // The platform hears it, and the session has the factor.
        let event = next_event(&mut events, "passkey_approved").await;
        assert_eq!(event["request_id"], request_id.as_str());
        let s = json_of(app.get(&format!("/v1/sessions/{sid}"), &f.key).await, 200).await;
        assert_eq!(s["decision"]["outcome"], "verified");
        assert_eq!(s["decision"]["assurance"], "multi_factor");
        assert_eq!(s["decision"]["amr"], json!(["hwk", "mfa"]));
        assert!(s["decision"]["factors"].to_string().contains("passkey"));
        assert!(s["assertion"].is_string());
        let status = json_of(
            app.get(
                &format!("/v1/sessions/{sid}/passkey-requests/{request_id}"),
                &f.key,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(status["status"], "approved");

        // Replays: the same approval, and a new ceremony on the spent link.
        let resp = post_link(&app, &format!("{base}/approve"), approval).await;
        expect_problem(resp, 410, "link_used").await;
        let resp = post_link(&app, &format!("{base}/options"), json!({})).await;
        expect_problem(resp, 410, "link_used").await;
        let resp = app
            .client
            .get(app.url(&format!("/l/{token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 410);
        let kinds = log_kinds(&app, &sid).await;
        for k in [
            "customer_link_requested",
            "customer_link_opened",
            "customer_link_redeemed",
            "factor_attempt",
        ] {
            assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
        }

        // An expired request: the link and the request lapse (their deadline is moved into the
        // past here, standing in for five minutes passing).
        let sid = session(&app, &f.key, "C-1001").await;
        let asked = json_of(
            app.post_json(
                &format!("/v1/sessions/{sid}/passkey-requests"),
                &f.key,
                json!({}),
            )
            .await,
            202,
        )
        .await;
        let request_id = asked["request_id"].as_str().unwrap().to_string();
        let links = delivered_links(&app, &f).await;
        let link = links
            .iter()
            .rev()
            .find(|l| l["purpose"] == "passkey" && l["session_id"] == sid.as_str())
            .unwrap();
        let token = token_of(link["url"].as_str().unwrap());
        let begun = json_of(
            post_link(&app, &format!("/l/{token}/passkey/options"), json!({})).await,
            200,
        )
        .await;
        let past = store::now_ms() - 1;
        for table in ["customer_links", "passkey_requests"] {
            let column = if table == "customer_links" {
                "link_id"
            } else {
                "request_id"
            };
            sqlx::query(&format!(
                "UPDATE {table} SET expires_at = $1 WHERE tenant_id = 'acme' AND {column} = $2"
            ))
            .bind(past)
            .bind(&request_id)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        }
        let (assertion, _) = authenticator("get", &begun["options"], Some(&device), json!({}));
        let resp = post_link(
            &app,
            &format!("/l/{token}/passkey/approve"),
            json!({"ceremony_id": begun["ceremony_id"], "credential": assertion}),
        )
        .await;
        expect_problem(resp, 410, "link_expired").await;
        let resp = app
            .client
            .get(app.url(&format!("/l/{token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 410);
        let status = json_of(
            app.get(
                &format!("/v1/sessions/{sid}/passkey-requests/{request_id}"),
                &f.key,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(status["status"], "expired");
        let s = json_of(app.get(&format!("/v1/sessions/{sid}"), &f.key).await, 200).await;
        assert_eq!(s["decision"]["outcome"], "step_up_required");
    }
);
