//! Customer links and the camera choice, through the real router: the platform asks, the
//! webhook carries the link, the agent (signed in through the scripted OpenID provider) reads
//! out the code, the customer's browser redeems it and chooses; the camera grant carries the
//! choice; change and withdrawal are one POST each and reach the agent's live stream. Plus the
//! bad inputs: wrong, reused, locked, expired and forwarded links, choices the policy does not
//! offer, and the platform's key alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use trustline::{
    factors::outbox::{OutboxConfig, deliver_due, signature},
    store::{self, audit::AuditFilter},
    tenants::{Scope, Sector},
};

use crate::common::{Backend, TestApp, expect_problem};
use crate::web_login::{
    Provider, begin, callback, claims, cookie_pair, no_redirects, set_cookie, setup,
};

/// Plain-HTTP cookies on loopback, and the webhook receiver on loopback allowed through the
/// SSRF guard (the operator allow-list).
fn settings(s: trustline::config::Settings) -> trustline::config::Settings {
    let mut s = crate::common::allow_loopback_webhooks(s);
    s.cookie_secure = false;
    s
}

/// Both backends, with the pages' settings of the login tests (plain-HTTP cookies on loopback).
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)(TestApp::start_with(Backend::Sqlite, settings).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)(TestApp::start_with(Backend::Postgres, settings).await).await;
            }
        }
    };
}

/// A webhook receiver that accepts everything and keeps (signature, body).
#[derive(Clone, Default)]
struct Hook {
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

async fn start_hook() -> (String, Hook) {
    use axum::{Router, body::Bytes, http::HeaderMap, routing::post};
    let hook = Hook::default();
    let h = hook.clone();
    let router = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let h = h.clone();
            async move {
                let sig = headers
                    .get("x-trustline-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                h.seen
                    .lock()
                    .unwrap()
                    .push((sig, String::from_utf8_lossy(&body).to_string()));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}/hook"), hook)
}

pub(crate) struct Fixture {
    pub(crate) provider: Arc<Provider>,
    pub(crate) key: String,
    hook: Hook,
    webhook_secret: Vec<u8>,
}

pub(crate) async fn fixture(app: &TestApp) -> Fixture {
    let (provider, _) = setup(app).await;
    let key = app
        .tenant_with_key(
            "acme",
            Sector::Retail,
            &[Scope::Sessions, Scope::Consent, Scope::Enrol],
        )
        .await;
    let (url, hook) = start_hook().await;
    let resp = app
        .put_json("/v1/webhook", &key, json!({ "url": url }))
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let body: Value = resp.json().await.unwrap();
    let webhook_secret = hex::decode(body["secret"].as_str().unwrap()).unwrap();
    Fixture {
        provider,
        key,
        hook,
        webhook_secret,
    }
}

pub(crate) async fn json_of(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

/// A customer and a live session for them (no evidence yet: step-up required).
pub(crate) async fn session(app: &TestApp, key: &str, cref: &str) -> String {
    let resp = app
        .put_json(
            &format!("/v1/customers/{cref}"),
            key,
            json!({"methods": ["code_only"]}),
        )
        .await;
    assert!(resp.status().is_success());
    let s = json_of(
        app.post_json(
            "/v1/sessions",
            key,
            json!({"customer_ref": cref, "channel": "video"}),
        )
        .await,
        201,
    )
    .await;
    s["session_id"].as_str().unwrap().to_string()
}

/// Deliver queued webhook messages (what the outbox worker does) and return the links they
/// carried, newest last.
pub(crate) async fn delivered_links(app: &TestApp, f: &Fixture) -> Vec<Value> {
    // The worker's guarded client and the operator's allow-list (loopback here), as `serve`
    // configures them: the SSRF guard refuses the receiver's 127.0.0.1 URL otherwise.
    let config = OutboxConfig {
        allow_private: app.state.settings.webhook_allow_private.clone(),
        ..OutboxConfig::default()
    };
    let client = trustline::factors::webhook_guard::client(config.allow_private.clone());
    deliver_due(&app.state.db, &client, &config).await.unwrap();
    f.hook
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(sig, body)| {
            assert_eq!(sig, &signature(&f.webhook_secret, body.as_bytes()));
            serde_json::from_str::<Value>(body).unwrap()
        })
        .filter(|v| v["event"] == "customer_link")
        .collect()
}

pub(crate) fn token_of(url: &str) -> String {
    url.rsplit_once("/l/").unwrap().1.to_string()
}

async fn agent_cookie(app: &TestApp, p: &Provider) -> String {
    let started = begin(app, "/console/acme/login").await;
    *p.next_claims.lock().unwrap() = Some(claims(
        p,
        &started.nonce,
        json!({"roles": ["agent"], "sub": "agent-7"}),
    ));
    let resp = callback(app, &started, &started.state).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/agent");
    cookie_pair(set_cookie(&resp, "tl_session=").expect("session cookie"))
}

async fn get_page(app: &TestApp, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut req = no_redirects()
        .get(app.url(path))
        .header("accept-language", "en");
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = no_redirects()
        .post(app.url(path))
        .header("accept-language", "en")
        .form(form);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

/// The text of the element carrying `data-testid="{id}"`.
fn testid_text(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("data-testid=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')?;
    Some(rest[start..start + end].to_string())
}

fn attr_after(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let rest = &html[at..];
    let a = rest.find(&format!("{attr}=\""))? + attr.len() + 2;
    let end = rest[a..].find('"')?;
    Some(rest[a..a + end].to_string())
}

fn reason(html: &str) -> String {
    attr_after(html, "data-reason", "data-reason").unwrap_or_default()
}

fn csrf(html: &str) -> String {
    attr_after(html, "name=\"csrf\"", "value").expect("csrf field")
}

/// The agent's page: the code to read out for the link of `purpose`.
async fn agent_code(app: &TestApp, agent: &str, sid: &str, purpose: &str) -> String {
    let (status, html) = get_page(app, &format!("/agent/sessions/{sid}"), Some(agent)).await;
    assert_eq!(status, 200, "{html}");
    testid_text(&html, &format!("agent-code-{purpose}")).expect("code shown")
}

/// Redeem a link with the code: the customer's browser session cookie, and where it leads.
async fn redeem(app: &TestApp, token: &str, code: &str) -> (String, String) {
    let resp = post_form(app, &format!("/l/{token}"), None, &[("code", code)]).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let cookie = cookie_pair(set_cookie(&resp, "tl_session=").expect("session cookie"));
    (cookie, location)
}

async fn grant_claims(app: &TestApp, key: &str, sid: &str, cref: &str) -> Value {
    let g = json_of(
        app.post_json(
            &format!("/v1/sessions/{sid}/camera-grants"),
            key,
            json!({"customer_ref": cref}),
        )
        .await,
        201,
    )
    .await;
    app.state
        .signer
        .verify_jws(g["grant"].as_str().unwrap())
        .unwrap()
}

async fn choose(
    app: &TestApp,
    cookie: &str,
    page: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let (status, html) = get_page(app, page, Some(cookie)).await;
    assert_eq!(status, 200, "{html}");
    let token = csrf(&html);
    let mut fields = vec![("csrf", token.as_str())];
    fields.extend_from_slice(form);
    post_form(app, page, Some(cookie), &fields).await
}

pub(crate) async fn log_kinds(app: &TestApp, sid: &str) -> Vec<String> {
    let filter = AuditFilter {
        session_id: Some(sid.to_string()),
        ..Default::default()
    };
    store::audit::export_page(&app.state.db, "acme", &filter, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

both!(
    camera_consent_end_to_end_through_the_link,
    |app: TestApp| async move {
        let f = fixture(&app).await;
        let sid = session(&app, &f.key, "C-1").await;
        // Before: no way to a grant without the customer.
        expect_problem(
            app.post_json(
                &format!("/v1/sessions/{sid}/camera-grants"),
                &f.key,
                json!({"customer_ref": "C-1"}),
            )
            .await,
            403,
            "consent_required",
        )
        .await;

        let asked = json_of(
            app.post_json(
                &format!("/v1/sessions/{sid}/camera-consent-requests"),
                &f.key,
                json!({}),
            )
            .await,
            201,
        )
        .await;
        assert_eq!(asked["purpose"], "camera");
        assert_eq!(asked["delivery"], "webhook");
        let links = delivered_links(&app, &f).await;
        assert_eq!(links.len(), 1);
        let link = &links[0];
        assert_eq!(link["purpose"], "camera");
        assert_eq!(link["session_id"], sid.as_str());
        assert_eq!(link["customer_ref"], "C-1");
        let token = token_of(link["url"].as_str().unwrap());
        assert!(asked["embed_url"].as_str().unwrap().contains(&token));

        // The landing page asks for the code; the link alone signs no one in.
        let (status, html) = get_page(&app, &format!("/l/{token}"), None).await;
        assert_eq!(status, 200);
        assert!(html.contains("data-testid=\"code\""));
        let wrong = post_form(&app, &format!("/l/{token}"), None, &[("code", "000000")]).await;
        assert_eq!(wrong.status(), 400);
        assert!(set_cookie(&wrong, "tl_session=").is_none());
        assert_eq!(reason(&wrong.text().await.unwrap()), "wrong_code");

        // The agent signs in (agent role: no console) and reads the code out.
        let agent = agent_cookie(&app, &f.provider).await;
        let (status, _) = get_page(&app, "/console", Some(&agent)).await;
        assert_eq!(status, 403, "an agent has no console access");
        let code = agent_code(&app, &agent, &sid, "camera").await;
        assert_eq!(code.len(), 6);
        // Neither the platform's answer nor its webhook carried the code.
        assert!(!asked.to_string().contains(&code));
        assert!(!link.to_string().contains(&code));

        let (customer, location) = redeem(&app, &token, &code).await;
        assert_eq!(
            location,
            format!("/camera/{}", asked["link_id"].as_str().unwrap())
        );
        let (status, html) = get_page(&app, &location, Some(&customer)).await;
        assert_eq!(status, 200, "{html}");
        assert!(
            html.contains("data-version=\"1.1.0\""),
            "current notice shown"
        );
        assert_eq!(
            attr_after(&html, "data-testid=\"current-choice\"", "data-mode").unwrap(),
            "none"
        );

        // The agent's live stream starts with "not decided".
        let mut stream = no_redirects()
            .get(app.url(&format!("/agent/sessions/{sid}/events")))
            .header("cookie", &agent)
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        let first = next_event(&mut stream).await;
        assert_eq!(first["state"], "not_decided");

        // Grant: one tap (two-way, background blurred).
        let resp = choose(
            &app,
            &customer,
            &location,
            &[("mode", "two_way"), ("background_blur", "on")],
        )
        .await;
        assert_eq!(resp.status(), 303);
        let pushed = next_event(&mut stream).await;
        assert_eq!(pushed["choice"]["mode"], "two_way");
        let claims = grant_claims(&app, &f.key, &sid, "C-1").await;
        assert_eq!(claims["choice"]["mode"], "two_way");
        assert_eq!(claims["choice"]["background_blur"], true);
        assert_eq!(claims["choice"]["recording_allowed"], false);
        let first_consent = claims["consent_id"].clone();
        let seen = json_of(
            app.get(&format!("/v1/sessions/{sid}/camera-choice"), &f.key)
                .await,
            200,
        )
        .await;
        assert_eq!(seen["choice"]["mode"], "two_way");

        // Choices the policy does not offer: typed refusals, nothing changes.
        for bad in [
            vec![("mode", "three_way")],
            vec![("mode", "two_way"), ("recording", "365")],
            vec![("mode", "two_way"), ("recording", "forever")],
        ] {
            let resp = choose(&app, &customer, &location, &bad).await;
            assert_eq!(resp.status(), 400);
            let r = reason(&resp.text().await.unwrap());
            assert!(r == "choice_not_offered" || r == "choice_invalid", "{r}");
        }
        let again = grant_claims(&app, &f.key, &sid, "C-1").await;
        assert_eq!(again["consent_id"], first_consent);
        assert_eq!(again["choice"]["mode"], "two_way");

        // Change: one tap (one-way, recording allowed for 30 days).
        let resp = choose(
            &app,
            &customer,
            &location,
            &[("mode", "one_way"), ("recording", "30")],
        )
        .await;
        assert_eq!(resp.status(), 303);
        let pushed = next_event(&mut stream).await;
        assert_eq!(pushed["choice"]["mode"], "one_way");
        let claims = grant_claims(&app, &f.key, &sid, "C-1").await;
        assert_eq!(claims["choice"]["mode"], "one_way");
        assert_eq!(claims["choice"]["retention_days"], 30);
        assert_ne!(claims["consent_id"], first_consent);

        // Withdraw: one tap (camera off), pushed at once, and no grant any more.
        let resp = choose(&app, &customer, &location, &[("mode", "audio_only")]).await;
        assert_eq!(resp.status(), 303);
        let pushed = next_event(&mut stream).await;
        assert_eq!(pushed["choice"]["mode"], "audio_only");
        expect_problem(
            app.post_json(
                &format!("/v1/sessions/{sid}/camera-grants"),
                &f.key,
                json!({"customer_ref": "C-1"}),
            )
            .await,
            403,
            "consent_required",
        )
        .await;

        // The link is spent: reuse is refused, with the code or without.
        let reused = post_form(&app, &format!("/l/{token}"), None, &[("code", &code)]).await;
        assert_eq!(reused.status(), 410);
        assert_eq!(reason(&reused.text().await.unwrap()), "link_used");
        let (status, html) = get_page(&app, &format!("/l/{token}"), None).await;
        assert_eq!(status, 410);
        assert_eq!(reason(&html), "link_used");
        // Another browser cannot use the camera page.
        let (status, _) = get_page(&app, &location, None).await;
        assert_eq!(status, 401);

        // Every step is in the log.
        let kinds = log_kinds(&app, &sid).await;
        for k in [
            "customer_link_requested",
            "customer_link_delivered",
            "customer_link_opened",
            "customer_link_code_rejected",
            "customer_link_code_shown",
            "customer_link_redeemed",
            "camera_choice_decided",
            "consent_granted",
            "consent_withdrawn",
            "camera_grant_issued",
        ] {
            assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
        }
        let requested = store::audit::export_page(
            &app.state.db,
            "acme",
            &AuditFilter {
                kind: Some("customer_link_redeemed".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
        let body: Value = serde_json::from_str(&requested[0].body).unwrap();
        assert_eq!(body["redeemed_by"], "customer_device");
        assert_eq!(body["code_read_out_by"], "agent-7");
        assert!(!body["minted_by"].as_str().unwrap().is_empty());
        assert!(
            !requested[0].body.contains(&code),
            "the code never reaches the log"
        );
    }
);

/// The next server-sent event's JSON data.
async fn next_event(stream: &mut reqwest::Response) -> Value {
    let mut buf = String::new();
    loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("stream open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(data) = buf
            .split("\n\n")
            .filter(|block| block.contains("event: camera_choice"))
            .find_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
        {
            return serde_json::from_str(data).unwrap();
        }
    }
}

both!(
    forwarded_locked_and_expired_links_are_refused,
    |app: TestApp| async move {
        let f = fixture(&app).await;
        let sid = session(&app, &f.key, "C-2").await;
        let agent = agent_cookie(&app, &f.provider).await;

        // Wrong codes lock the link: after five, even the right code fails.
        json_of(
            app.post_json(
                &format!("/v1/sessions/{sid}/camera-consent-requests"),
                &f.key,
                json!({}),
            )
            .await,
            201,
        )
        .await;
        let token = token_of(delivered_links(&app, &f).await[0]["url"].as_str().unwrap());
        let code = agent_code(&app, &agent, &sid, "camera").await;
        for _ in 0..4 {
            let r = post_form(&app, &format!("/l/{token}"), None, &[("code", "999999")]).await;
            assert_eq!(r.status(), 400);
        }
        let r = post_form(&app, &format!("/l/{token}"), None, &[("code", "999999")]).await;
        assert_eq!(r.status(), 410);
        assert_eq!(reason(&r.text().await.unwrap()), "link_locked");
        let r = post_form(&app, &format!("/l/{token}"), None, &[("code", &code)]).await;
        assert_eq!(r.status(), 410);
        assert_eq!(reason(&r.text().await.unwrap()), "link_locked");
        assert!(
            log_kinds(&app, &sid)
                .await
                .iter()
                .any(|k| k == "customer_link_locked")
        );

        // An unknown or altered token.
        let (status, html) = get_page(&app, "/l/not-a-token", None).await;
        assert_eq!(status, 404);
        assert_eq!(reason(&html), "link_invalid");

        // Expiry: ten minutes pass (the stored expiry is moved into the past).
        let asked = json_of(
            app.post_json(
                &format!("/v1/sessions/{sid}/camera-consent-requests"),
                &f.key,
                json!({}),
            )
            .await,
            201,
        )
        .await;
        let token2 = token_of(delivered_links(&app, &f).await[1]["url"].as_str().unwrap());
        let code2 = agent_code(&app, &agent, &sid, "camera").await;
        sqlx::query(
            "UPDATE customer_links SET expires_at = $1 WHERE tenant_id = 'acme' AND link_id = $2",
        )
        .bind(store::now_ms() - 1)
        .bind(asked["link_id"].as_str().unwrap())
        .execute(&app.state.db.pool)
        .await
        .unwrap();
        let r = post_form(&app, &format!("/l/{token2}"), None, &[("code", &code2)]).await;
        assert_eq!(r.status(), 410);
        assert_eq!(reason(&r.text().await.unwrap()), "link_expired");

        // Forwarded after use: the camera page belongs to the device that redeemed the link.
        json_of(
            app.post_json(
                &format!("/v1/sessions/{sid}/camera-consent-requests"),
                &f.key,
                json!({}),
            )
            .await,
            201,
        )
        .await;
        let link3 = delivered_links(&app, &f).await[2].clone();
        let token3 = token_of(link3["url"].as_str().unwrap());
        let code3 = agent_code(&app, &agent, &sid, "camera").await;
        let (_, location) = redeem(&app, &token3, &code3).await;
        // Someone else signed in as a customer of the same tenant (another session's link).
        let sid_b = session(&app, &f.key, "C-3").await;
        json_of(
            app.post_json(
                &format!("/v1/sessions/{sid_b}/camera-consent-requests"),
                &f.key,
                json!({}),
            )
            .await,
            201,
        )
        .await;
        let token_b = token_of(delivered_links(&app, &f).await[3]["url"].as_str().unwrap());
        let code_b = agent_code(&app, &agent, &sid_b, "camera").await;
        let (other, _) = redeem(&app, &token_b, &code_b).await;
        let (status, html) = get_page(&app, &location, Some(&other)).await;
        assert_eq!(status, 403);
        assert_eq!(reason(&html), "link_other_device");
        let r = post_form(&app, &location, Some(&other), &[("mode", "two_way")]).await;
        assert_eq!(r.status(), 403);

        // Sessions the platform does not own, and the wrong scope.
        expect_problem(
            app.post_json(
                "/v1/sessions/nope/camera-consent-requests",
                &f.key,
                json!({}),
            )
            .await,
            404,
            "session_not_found",
        )
        .await;
        let narrow = app
            .tenant_with_key("acme", Sector::Retail, &[Scope::Sessions])
            .await;
        expect_problem(
            app.post_json(
                &format!("/v1/sessions/{sid}/camera-consent-requests"),
                &narrow,
                json!({}),
            )
            .await,
            403,
            "scope_denied",
        )
        .await;
        // Another tenant's key does not see this session.
        let other_tenant = app
            .tenant_with_key("globex", Sector::Retail, &[Scope::Consent])
            .await;
        expect_problem(
            app.post_json(
                &format!("/v1/sessions/{sid}/camera-consent-requests"),
                &other_tenant,
                json!({}),
            )
            .await,
            404,
            "session_not_found",
        )
        .await;
    }
);

/// A session verified now by a recovery code (the customer's own factor).
async fn verified_session(app: &TestApp, cref: &str) -> String {
    let key = app
        .tenant_with_key("acme", Sector::Retail, &[Scope::Sessions, Scope::Enrol])
        .await;
    if app
        .get(&format!("/v1/customers/{cref}"), &key)
        .await
        .status()
        == 404
    {
        let resp = app
            .put_json(
                &format!("/v1/customers/{cref}"),
                &key,
                json!({"methods": ["code_only"]}),
            )
            .await;
        assert!(resp.status().is_success());
    }
    let codes = json_of(
        app.post_json(
            &format!("/v1/customers/{cref}/factors/recovery_codes"),
            &key,
            json!({}),
        )
        .await,
        201,
    )
    .await;
    let s = json_of(
        app.post_json(
            "/v1/sessions",
            &key,
            json!({"customer_ref": cref, "channel": "voice"}),
        )
        .await,
        201,
    )
    .await;
    let sid = s["session_id"].as_str().unwrap().to_string();
    let v = json_of(
        app.post_json(
            &format!("/v1/sessions/{sid}/factors/recovery_code"),
            &key,
            json!({"code": codes["codes"][0]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(v["decision"]["outcome"], "verified", "{v}");
    sid
}

/// The privacy centre through a privacy link (verified session, agent's code): the customer's
/// browser session cookie.
pub(crate) async fn privacy_link_session(
    app: &TestApp,
    p: &Provider,
    key: &str,
    cref: &str,
) -> String {
    let sid = verified_session(app, cref).await;
    let asked = json_of(
        app.post_json(
            &format!("/v1/sessions/{sid}/privacy-link-requests"),
            key,
            json!({}),
        )
        .await,
        201,
    )
    .await;
    let token = token_of(
        asked["embed_url"]
            .as_str()
            .unwrap()
            .split('?')
            .next()
            .unwrap(),
    );
    let agent = agent_cookie(app, p).await;
    let code = agent_code(app, &agent, &sid, "privacy").await;
    let (cookie, location) = redeem(app, &token, &code).await;
    assert_eq!(location, "/privacy");
    // Single use.
    let again = post_form(app, &format!("/l/{token}"), None, &[("code", &code)]).await;
    assert_eq!(again.status(), 410);
    cookie
}

both!(
    privacy_links_need_a_fresh_verification_and_the_agents_code,
    |app: TestApp| async move {
        let f = fixture(&app).await;
        // Not verified: no link.
        let sid = session(&app, &f.key, "C-9").await;
        expect_problem(
            app.post_json(
                &format!("/v1/sessions/{sid}/privacy-link-requests"),
                &f.key,
                json!({}),
            )
            .await,
            403,
            "session_not_verified",
        )
        .await;
        // The old endpoint is gone; it minted a link from the key alone.
        expect_problem(
            app.post_json("/v1/customers/C-9/privacy-link", &f.key, json!({}))
                .await,
            410,
            "privacy_link_moved",
        )
        .await;

        // Verified: a link, but the platform holding it and its key cannot redeem it.
        let sid = verified_session(&app, "C-9").await;
        let asked = json_of(
            app.post_json(
                &format!("/v1/sessions/{sid}/privacy-link-requests"),
                &f.key,
                json!({}),
            )
            .await,
            201,
        )
        .await;
        let link = delivered_links(&app, &f).await.pop().unwrap();
        assert_eq!(link["purpose"], "privacy");
        let token = token_of(link["url"].as_str().unwrap());
        // The key opens no page that shows the code.
        let resp = no_redirects()
            .get(app.url(&format!("/agent/sessions/{sid}")))
            .bearer_auth(&f.key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let (status, _) = get_page(&app, "/privacy", None).await;
        assert_eq!(status, 401);
        // Guessing locks the link after five tries; no session was ever started.
        let mut last = 0;
        for _ in 0..5 {
            let r = post_form(&app, &format!("/l/{token}"), None, &[("code", "123123")]).await;
            assert!(set_cookie(&r, "tl_session=").is_none());
            last = r.status().as_u16();
        }
        assert_eq!(last, 410);
        let agent = agent_cookie(&app, &f.provider).await;
        let (_, html) = get_page(&app, &format!("/agent/sessions/{sid}"), Some(&agent)).await;
        assert!(
            html.contains(&format!(
                "data-link=\"{}\" data-status=\"locked\"",
                asked["link_id"].as_str().unwrap()
            )),
            "{html}"
        );

        // A verification older than ten minutes is not enough (time passes).
        sqlx::query(
            "UPDATE sessions SET verified_at = $1 WHERE tenant_id = 'acme' AND session_id = $2",
        )
        .bind(store::now_ms() - 11 * 60 * 1000)
        .bind(&sid)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
        expect_problem(
            app.post_json(
                &format!("/v1/sessions/{sid}/privacy-link-requests"),
                &f.key,
                json!({}),
            )
            .await,
            403,
            "verification_stale",
        )
        .await;

        // The customer, with the agent's code: the privacy centre, as themself only.
        let cookie = privacy_link_session(&app, &f.provider, &f.key, "C-9").await;
        let (status, html) = get_page(&app, "/privacy", Some(&cookie)).await;
        assert_eq!(status, 200);
        assert!(html.contains("C-9"));
        let kinds = log_kinds(&app, &sid).await;
        assert!(
            kinds.iter().any(|k| k == "customer_link_locked"),
            "{kinds:?}"
        );
    }
);
