//! Console and privacy-centre sign-in against a scripted OpenID provider on loopback, and the
//! bad inputs a real provider will not produce on demand: tampered state or nonce, expired ID
//! token, wrong audience, foreign signature, missing role claim; plus CSRF, session scoping and
//! privacy links. (The happy paths also run in real Chromium against `oidc-provider`: tests/e2e.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use crate::common::{Backend, TestApp};
use axum::{Json, Router, extract::State, routing::get, routing::post};
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};
use trustline::{
    config::Secret,
    oidc::{
        Realm,
        service::{IdentityProviderConfig, configure},
    },
    store,
    tenants::{CustomerRef, Scope, Sector, TenantId},
};

const CLIENT_ID: &str = "trustline-console";

/// A minimal OpenID provider: discovery, JWKS, and a token endpoint that returns whatever ID
/// token claims the test scripted.
pub(crate) struct Provider {
    pub(crate) issuer: String,
    key: Ed25519KeyPair,
    pub(crate) next_claims: Mutex<Option<Value>>,
    /// Sign with this key instead (a forger's key).
    forge_with: Mutex<Option<Ed25519KeyPair>>,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn new_key() -> Ed25519KeyPair {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

impl Provider {
    fn sign(&self, claims: &Value) -> String {
        let header = b64(br#"{"alg":"EdDSA","kid":"k1","typ":"JWT"}"#);
        let payload = b64(claims.to_string().as_bytes());
        let input = format!("{header}.{payload}");
        let forged = self.forge_with.lock().unwrap();
        let key = forged.as_ref().unwrap_or(&self.key);
        let sig = key.sign(input.as_bytes());
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

pub(crate) async fn start_provider() -> Arc<Provider> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let provider = Arc::new(Provider {
        issuer: issuer.clone(),
        key: new_key(),
        next_claims: Mutex::new(None),
        forge_with: Mutex::new(None),
    });
    let router = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|State(p): State<Arc<Provider>>| async move {
                Json(json!({
                    "issuer": p.issuer,
                    "authorization_endpoint": format!("{}/authorize", p.issuer),
                    "token_endpoint": format!("{}/token", p.issuer),
                    "jwks_uri": format!("{}/jwks", p.issuer),
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["EdDSA"],
                    "code_challenge_methods_supported": ["S256"],
                }))
            }),
        )
        .route(
            "/jwks",
            get(|State(p): State<Arc<Provider>>| async move {
                Json(json!({"keys": [{
                    "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": "k1",
                    "x": b64(p.key.public_key().as_ref()),
                }]}))
            }),
        )
        .route(
            "/token",
            post(|State(p): State<Arc<Provider>>| async move {
                let claims = p
                    .next_claims
                    .lock()
                    .unwrap()
                    .take()
                    .expect("claims scripted");
                Json(json!({
                    "access_token": "at", "token_type": "Bearer", "expires_in": 60,
                    "id_token": p.sign(&claims),
                }))
            }),
        )
        .with_state(provider.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    provider
}

pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) async fn setup(app: &TestApp) -> (Arc<Provider>, TenantId) {
    let provider = start_provider().await;
    app.tenant_with_key("acme", Sector::Retail, &[Scope::Sessions])
        .await;
    let tenant: TenantId = "acme".parse().unwrap();
    for realm in [Realm::Staff, Realm::Customer] {
        configure(
            &app.state.db,
            &app.state.master_key,
            &tenant,
            realm,
            &IdentityProviderConfig {
                issuer_url: provider.issuer.clone(),
                client_id: CLIENT_ID.into(),
                client_secret: Secret::new("s3cret"),
                scopes: vec!["profile".into()],
                role_claim: "roles".into(),
                customer_claim: "customer_ref".into(),
            },
        )
        .await
        .unwrap();
    }
    (provider, tenant)
}

pub(crate) fn set_cookie<'a>(resp: &'a reqwest::Response, prefix: &str) -> Option<&'a str> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(prefix))
}

pub(crate) fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

pub(crate) struct Started {
    pub(crate) flow_cookie: String,
    pub(crate) state: String,
    pub(crate) nonce: String,
}

pub(crate) async fn begin(app: &TestApp, path: &str) -> Started {
    let resp = no_redirects().get(app.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), 303, "login redirects to the provider");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let url = reqwest::Url::parse(&location).unwrap();
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let flow = set_cookie(&resp, "tl_flow=").expect("flow cookie");
    assert!(flow.contains("HttpOnly") && flow.contains("SameSite=Lax"));
    Started {
        flow_cookie: cookie_pair(flow),
        state: q["state"].clone(),
        nonce: q["nonce"].clone(),
    }
}

pub(crate) fn claims(p: &Provider, nonce: &str, extra: Value) -> Value {
    let now = store::now_ms() / 1000;
    let mut c = json!({
        "iss": p.issuer, "aud": CLIENT_ID, "sub": "staff-1", "iat": now, "exp": now + 300,
        "nonce": nonce,
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

pub(crate) async fn callback(app: &TestApp, started: &Started, state: &str) -> reqwest::Response {
    no_redirects()
        .get(app.url("/auth/callback"))
        .query(&[("code", "c0de"), ("state", state)])
        .header("cookie", &started.flow_cookie)
        .send()
        .await
        .unwrap()
}

async fn reason(resp: reqwest::Response) -> String {
    let body = resp.text().await.unwrap();
    body.split("data-reason=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
        .to_string()
}

pub(crate) async fn staff_session(app: &TestApp, p: &Provider, roles: Value) -> String {
    let started = begin(app, "/console/acme/login").await;
    *p.next_claims.lock().unwrap() = Some(claims(p, &started.nonce, json!({"roles": roles})));
    let resp = callback(app, &started, &started.state).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/console");
    cookie_pair(set_cookie(&resp, "tl_session=").expect("session cookie"))
}

/// A customer signed in to the privacy centre through the provider (the OIDC login), for
/// other areas' tests (passkeys); returns the session cookie.
pub(crate) async fn customer_session(app: &TestApp, p: &Provider, customer: &str) -> String {
    let started = begin(app, "/privacy/acme/login").await;
    *p.next_claims.lock().unwrap() = Some(claims(
        p,
        &started.nonce,
        json!({"sub": format!("u-{customer}"), "customer_ref": customer}),
    ));
    let resp = callback(app, &started, &started.state).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/privacy");
    cookie_pair(set_cookie(&resp, "tl_session=").expect("session cookie"))
}

async fn customer_link_session(app: &TestApp, p: &Provider, key: &str, customer: &str) -> String {
    crate::customer_links::privacy_link_session(app, p, key, customer).await
}

pub(crate) async fn page(app: &TestApp, path: &str, cookie: &str) -> (u16, String) {
    let resp = no_redirects()
        .get(app.url(path))
        .header("cookie", cookie)
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

pub(crate) fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

fn loopback(settings: trustline::config::Settings) -> trustline::config::Settings {
    let mut s = settings;
    s.cookie_secure = false;
    s
}

pub(crate) async fn start(backend: Backend) -> TestApp {
    TestApp::start_with(backend, loopback).await
}

macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)(start(Backend::Sqlite).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)(start(Backend::Postgres).await).await;
            }
        }
    };
}

both!(
    staff_login_pkce_state_nonce_and_headers,
    |app: TestApp| async move {
        let (p, _) = setup(&app).await;
        let session = staff_session(&app, &p, json!(["compliance_officer"])).await;
        let resp = no_redirects()
            .get(app.url("/console"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let csp = resp.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("script-src"));
        assert!(csp.contains("default-src 'none'"));
        assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
        assert_eq!(resp.headers()["x-frame-options"], "DENY");
        let html = resp.text().await.unwrap();
        assert!(html.contains("compliance_officer"));
        assert!(!html.contains("<script"), "no scripts on pages");

        // Logout needs the CSRF token; afterwards the cookie is worthless.
        let forged = no_redirects()
            .post(app.url("/logout"))
            .header("cookie", &session)
            .form(&[("csrf", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        let resp = no_redirects()
            .post(app.url("/logout"))
            .header("cookie", &session)
            .form(&[("csrf", csrf_of(&html))])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        assert_eq!(page(&app, "/console", &session).await.0, 401);
    }
);

both!(
    tampered_state_is_refused_and_burns_the_flow,
    |app: TestApp| async move {
        let (p, _) = setup(&app).await;
        let started = begin(&app, "/console/acme/login").await;
        *p.next_claims.lock().unwrap() = Some(claims(
            &p,
            &started.nonce,
            json!({"roles": ["tenant_admin"]}),
        ));
        let resp = callback(&app, &started, "tampered").await;
        assert_eq!(resp.status(), 400);
        assert!(set_cookie(&resp, "tl_session=").is_none());
        assert_eq!(reason(resp).await, "state_mismatch");
        // The flow is single use: the right state no longer works either.
        let resp = callback(&app, &started, &started.state).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(reason(resp).await, "unknown_flow");
    }
);

both!(bad_id_tokens_are_refused, |app: TestApp| async move {
    let (p, _) = setup(&app).await;
    let now = store::now_ms() / 1000;
    type ClaimsFor = Box<dyn Fn(&str) -> Value + Send>;
    let cases: Vec<(&str, ClaimsFor)> = vec![
        (
            "nonce",
            Box::new(|_n: &str| json!({"nonce": "tampered", "roles": ["tenant_admin"]})),
        ),
        (
            "expired",
            Box::new(
                move |n: &str| json!({"nonce": n, "iat": now - 7200, "exp": now - 3600, "roles": ["tenant_admin"]}),
            ),
        ),
        (
            "audience",
            Box::new(
                |n: &str| json!({"nonce": n, "aud": "someone-else", "roles": ["tenant_admin"]}),
            ),
        ),
        (
            "issuer",
            Box::new(
                |n: &str| json!({"nonce": n, "iss": "http://evil.example", "roles": ["tenant_admin"]}),
            ),
        ),
    ];
    for (what, extra) in cases {
        let started = begin(&app, "/console/acme/login").await;
        *p.next_claims.lock().unwrap() = Some(claims(&p, &started.nonce, extra(&started.nonce)));
        let resp = callback(&app, &started, &started.state).await;
        assert_eq!(resp.status(), 401, "{what}");
        assert!(set_cookie(&resp, "tl_session=").is_none(), "{what}");
        assert_eq!(reason(resp).await, "invalid_id_token", "{what}");
    }
    // A token signed by another key, though every claim is right.
    let started = begin(&app, "/console/acme/login").await;
    *p.next_claims.lock().unwrap() = Some(claims(
        &p,
        &started.nonce,
        json!({"roles": ["tenant_admin"]}),
    ));
    *p.forge_with.lock().unwrap() = Some(new_key());
    let resp = callback(&app, &started, &started.state).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(reason(resp).await, "invalid_id_token");
    *p.forge_with.lock().unwrap() = None;

    // Missing and unknown role claims.
    for extra in [json!({}), json!({"roles": ["admin"]})] {
        let started = begin(&app, "/console/acme/login").await;
        *p.next_claims.lock().unwrap() = Some(claims(&p, &started.nonce, extra));
        let resp = callback(&app, &started, &started.state).await;
        assert_eq!(resp.status(), 403);
        assert_eq!(reason(resp).await, "no_role");
    }
});

both!(
    customers_login_by_claim_and_stay_in_their_lane,
    |app: TestApp| async move {
        let (p, tenant) = setup(&app).await;
        // Customer login through the provider: the reference comes from the configured claim.
        let started = begin(&app, "/privacy/acme/login").await;
        *p.next_claims.lock().unwrap() = Some(claims(
            &p,
            &started.nonce,
            json!({"sub": "u-77", "customer_ref": "C-1001"}),
        ));
        let resp = callback(&app, &started, &started.state).await;
        assert_eq!(resp.status(), 303);
        assert_eq!(resp.headers()["location"], "/privacy");
        let session = cookie_pair(set_cookie(&resp, "tl_session=").unwrap());

        // Another customer's data exists...
        let other: CustomerRef = "C-2002".parse().unwrap();
        store::customers::upsert(&app.state.db, &tenant, &other, &["voiceprint".into()])
            .await
            .unwrap();
        // ...and is nowhere in this customer's pages or download.
        let (status, html) = page(&app, "/privacy", &session).await;
        assert_eq!(status, 200);
        assert!(html.contains("C-1001") && !html.contains("C-2002"));
        let (status, json_text) =
            page(&app, "/privacy/export.json?customer=C-2002", &session).await;
        assert_eq!(status, 200);
        let doc: Value = serde_json::from_str(&json_text).unwrap();
        assert_eq!(doc["customer_ref"], "C-1001");
        assert!(!json_text.contains("C-2002"));

        // Staff pages are closed to customers.
        assert_eq!(page(&app, "/console", &session).await.0, 403);
        assert_eq!(page(&app, "/console/models", &session).await.0, 403);

        // A customer token without the claim is refused.
        let started = begin(&app, "/privacy/acme/login").await;
        *p.next_claims.lock().unwrap() = Some(claims(&p, &started.nonce, json!({})));
        let resp = callback(&app, &started, &started.state).await;
        assert_eq!(resp.status(), 403);
        assert_eq!(reason(resp).await, "no_customer");
    }
);

both!(
    deletion_needs_csrf_and_destroys_the_key,
    |app: TestApp| async move {
        let (p, tenant) = setup(&app).await;
        let key = app
            .tenant_with_key("acme", Sector::Retail, &[Scope::Sessions])
            .await;
        let customer: CustomerRef = "C-1001".parse().unwrap();
        let (_, wrapped) = app.state.master_key.new_data_key(b"owner").unwrap();
        store::templates::insert_wrapped_key(&app.state.db, &tenant, &customer, &wrapped)
            .await
            .unwrap();
        store::templates::upsert_template(
            &app.state.db,
            &tenant,
            &customer,
            "voice",
            "campplus",
            "1.0.0",
            &[1, 2, 3],
        )
        .await
        .unwrap();

        let session = customer_link_session(&app, &p, &key, "C-1001").await;
        let (_, html) = page(&app, "/privacy", &session).await;
        assert!(html.contains("data-modality=\"voice\""));

        // Staff sessions cannot reach the privacy centre either.
        let staff = staff_session(&app, &p, json!(["tenant_admin"])).await;
        assert_eq!(page(&app, "/privacy", &staff).await.0, 403);

        // Forged or missing CSRF token: refused, nothing deleted.
        for token in ["forged", ""] {
            let resp = no_redirects()
                .post(app.url("/privacy/templates/delete"))
                .header("cookie", &session)
                .form(&[("csrf", token)])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 403);
        }
        // Another session's valid token does not work here either.
        let (_, staff_html) = page(&app, "/console", &staff).await;
        let resp = no_redirects()
            .post(app.url("/privacy/templates/delete"))
            .header("cookie", &session)
            .form(&[("csrf", csrf_of(&staff_html))])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert!(
            store::templates::wrapped_key(&app.state.db, &tenant, &customer)
                .await
                .unwrap()
                .is_some()
        );

        let resp = no_redirects()
            .post(app.url("/privacy/templates/delete"))
            .header("cookie", &session)
            .form(&[("csrf", csrf_of(&html))])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.unwrap();
        assert!(body.contains("data-testid=\"deleted-count\">1<"));
        assert!(
            store::templates::wrapped_key(&app.state.db, &tenant, &customer)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store::templates::list_templates(&app.state.db, &tenant, &customer)
                .await
                .unwrap()
                .is_empty()
        );

        // Preferred methods: saved for this customer only; code_only excludes biometrics.
        let resp = no_redirects()
            .post(app.url("/privacy/methods"))
            .header("cookie", &session)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf={}&method=voiceprint&method=code_only",
                csrf_of(&html)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        let saved = store::customers::get(&app.state.db, &tenant, &customer)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(saved.methods, vec!["code_only"]);
    }
);

both!(
    privacy_links_need_the_sessions_scope,
    |app: TestApp| async move {
        let _ = setup(&app).await;
        let key = app
            .tenant_with_key("acme", Sector::Retail, &[Scope::Audit])
            .await;
        let resp = app
            .post_json("/v1/sessions/s-1/privacy-link-requests", &key, json!({}))
            .await;
        crate::common::expect_problem(resp, 403, "scope_denied").await;
        let resp = no_redirects()
            .get(app.url("/l/not-a-token"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
    }
);

#[tokio::test]
async fn pages_follow_accept_language() {
    let app = start(Backend::Sqlite).await;
    let resp = app
        .client
        .get(app.url("/console"))
        .header("accept-language", "nl-NL,nl;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let html = resp.text().await.unwrap();
    assert!(html.contains("lang=\"nl\"") && html.contains("U bent niet aangemeld"));
}

/// Every language: a page (here the sign-in error page) is in the language the browser asks
/// for, in its own words (five different texts, from the catalogues), with the switch; the
/// switch's `?lang=` wins over the browser's header and is remembered in a cookie.
#[tokio::test]
async fn pages_speak_every_language_and_the_switch_is_remembered() {
    use trustline::http::i18n::Lang;
    let app = start(Backend::Sqlite).await;
    let get = |path: &'static str, accept: &'static str, cookie: Option<String>| {
        let mut req = app
            .client
            .get(app.url(path))
            .header("accept-language", accept);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    let mut texts = Vec::new();
    for (accept, lang) in [
        ("en-GB,en;q=0.9", Lang::En),
        ("nl-BE", Lang::Nl),
        ("sv-SE,sv;q=0.9,en;q=0.5", Lang::Sv),
        ("pl-PL,pl;q=0.9", Lang::Pl),
        ("nb-NO,no;q=0.9,en;q=0.5", Lang::No),
    ] {
        let resp = get("/console", accept, None).await.unwrap();
        assert_eq!(resp.status(), 401);
        let html = resp.text().await.unwrap();
        assert!(
            html.contains(&format!("<html lang=\"{}\"", lang.code())),
            "{html}"
        );
        assert!(html.contains(lang.t("not_signed_in")), "{accept}: {html}");
        assert!(html.contains("data-testid=\"lang-switch\""), "{html}");
        for other in Lang::ALL {
            assert!(
                html.contains(&format!("href=\"?lang={}\"", other.code())),
                "{html}"
            );
        }
        texts.push(lang.t("not_signed_in"));
    }
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 5, "every language says it in its own words");

    // The switch: `?lang=sv` beats Accept-Language: nl, and sets the cookie the next page reads.
    let resp = get("/console?lang=sv", "nl", None).await.unwrap();
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tl_lang=sv"))
        .expect("the choice is remembered")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(resp.text().await.unwrap().contains("<html lang=\"sv\""));
    let html = get("/console", "nl", Some(cookie))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"sv\"") && html.contains(Lang::Sv.t("not_signed_in")));
    // A language not offered changes nothing and sets no cookie.
    let resp = get("/console?lang=de", "nl", None).await.unwrap();
    assert!(resp.headers().get("set-cookie").is_none());
    assert!(resp.text().await.unwrap().contains("<html lang=\"nl\""));
}

both!(
    privacy_centre_grant_withdraw_and_console_search_export,
    |app: TestApp| async move {
        let (p, tenant) = setup(&app).await;
        let key = app
            .tenant_with_key("acme", Sector::Retail, &[Scope::Sessions])
            .await;
        let customer: CustomerRef = "C-1001".parse().unwrap();
        store::customers::upsert(&app.state.db, &tenant, &customer, &["voiceprint".into()])
            .await
            .unwrap();
        let session = customer_link_session(&app, &p, &key, "C-1001").await;
        let (_, html) = page(&app, "/privacy", &session).await;
        assert!(html.contains("data-purpose=\"voiceprint_enrolment\" data-state=\"none\""));
        let csrf = csrf_of(&html);

        // Grant with a forged token: refused, nothing recorded.
        let post = |form: Vec<(&'static str, String)>| {
            let session = session.clone();
            let url = app.url("/privacy/consents");
            async move {
                no_redirects()
                    .post(url)
                    .header("cookie", session)
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let resp = post(vec![
            ("csrf", "forged".into()),
            ("purpose", "voiceprint_enrolment".into()),
            ("action", "grant".into()),
        ])
        .await;
        assert_eq!(resp.status(), 403);
        assert!(
            store::consents::for_customer(&app.state.db, &tenant, &customer)
                .await
                .unwrap()
                .is_empty()
        );

        let resp = post(vec![
            ("csrf", csrf.clone()),
            ("purpose", "voiceprint_enrolment".into()),
            ("action", "grant".into()),
        ])
        .await;
        assert_eq!(resp.status(), 303);
        let (_, html) = page(&app, "/privacy", &session).await;
        assert!(html.contains("data-purpose=\"voiceprint_enrolment\" data-state=\"granted\""));
        let consents = store::consents::for_customer(&app.state.db, &tenant, &customer)
            .await
            .unwrap();
        assert_eq!(consents.len(), 1);
        assert_eq!(consents[0].capture_method, "customer_device");
        let (status, receipt) = page(
            &app,
            &format!("/privacy/consents/{}/receipt", consents[0].consent_id),
            &session,
        )
        .await;
        assert_eq!(status, 200);
        assert!(receipt.contains("\"jws\""));

        let resp = post(vec![
            ("csrf", csrf.clone()),
            ("purpose", "voiceprint_enrolment".into()),
            ("action", "withdraw".into()),
        ])
        .await;
        assert_eq!(resp.status(), 303);
        let consents = store::consents::for_customer(&app.state.db, &tenant, &customer)
            .await
            .unwrap();
        assert_eq!(consents[0].end_reason.as_deref(), Some("withdrawn"));

        // The download has the consent, its receipt and the log entries about the customer.
        let (_, doc) = page(&app, "/privacy/export.json", &session).await;
        let doc: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(doc["consents"].as_array().unwrap().len(), 1);
        assert_eq!(doc["receipts"].as_array().unwrap().len(), 1);
        let kinds: Vec<&str> = doc["log_entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        let consent_kinds: Vec<&str> = kinds
            .iter()
            .copied()
            .filter(|k| k.starts_with("consent_"))
            .collect();
        assert_eq!(consent_kinds, vec!["consent_granted", "consent_withdrawn"]);
        // The privacy link that opened the centre is in the customer's log too.
        assert!(
            kinds.contains(&"customer_link_requested") && kinds.contains(&"customer_link_redeemed")
        );

        // Enough other entries for two pages.
        for i in 0..60 {
            app.state
            .ledger
            .append(
                &tenant,
                trustline::ledger::LedgerEvent {
                    kind: "decision".into(),
                    customer: Some("C-2002".parse().unwrap()),
                    session_id: Some(format!("s-{i}")),
                    body: json!({"outcome": if i % 2 == 0 { "verified" } else { "denied" }, "channel": "voice"}),
                },
            )
            .await
            .unwrap();
        }

        let staff = staff_session(&app, &p, json!(["compliance_officer"])).await;
        let (status, html) = page(
            &app,
            "/console?customer=C-1001&purpose=voiceprint_enrolment",
            &staff,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(html.matches("<tr data-kind=").count(), 2, "{html}");
        let (_, html) = page(&app, "/console?kind=decision&outcome=denied", &staff).await;
        assert_eq!(html.matches("<tr data-kind=\"decision\"").count(), 30);
        let (_, html) = page(&app, "/console?kind=decision", &staff).await;
        assert_eq!(html.matches("<tr data-kind=\"decision\"").count(), 50);
        let next = html
            .split("data-testid=\"next-page\"")
            .next()
            .unwrap()
            .rsplit("href=\"")
            .next()
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&");
        // 60 appended + the 2 decisions of the verified session that opened the privacy link.
        let (_, html) = page(&app, &next, &staff).await;
        assert_eq!(html.matches("<tr data-kind=\"decision\"").count(), 12);
        assert_eq!(page(&app, "/console?customer=%22%25", &staff).await.0, 400);
        assert_eq!(page(&app, "/console?from=yesterday", &staff).await.0, 400);

        // Exports: every matching row, header + rows (CSV) or one object per line (JSONL).
        let (status, csv) = page(&app, "/console/export.csv?kind=decision", &staff).await;
        assert_eq!(status, 200);
        assert_eq!(csv.lines().count(), 63);
        assert!(csv.starts_with("index,created_at_ms,kind,"));
        let (_, jsonl) = page(
            &app,
            "/console/export.jsonl?customer=C-2002&channel=voice",
            &staff,
        )
        .await;
        let lines: Vec<Value> = jsonl
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 60);
        assert_eq!(lines[0]["body"]["channel"], "voice");

        // Entry page with an inclusion proof; receipt page; log verification.
        let index = consents[0].ledger_index;
        let (status, html) = page(&app, &format!("/console/entries/{index}"), &staff).await;
        assert_eq!(status, 200);
        assert!(
            html.contains("data-testid=\"inclusion-proof\"")
                && html.contains("data-testid=\"receipt-link\"")
        );
        let (status, html) = page(
            &app,
            &format!("/console/receipts/{}", consents[0].consent_id),
            &staff,
        )
        .await;
        assert_eq!(status, 200);
        assert!(html.contains("voiceprint_enrolment"));
        let (_, html) = page(&app, "/console/log", &staff).await;
        let resp = no_redirects()
            .post(app.url("/console/log/verify"))
            .header("cookie", &staff)
            .form(&[("csrf", csrf_of(&html))])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.text().await.unwrap().contains("data-ok=\"true\""));
        let (status, html) = page(&app, "/console/policies", &staff).await;
        assert_eq!(status, 200);
        assert!(html.contains("data-purpose=\"voiceprint_enrolment\""));
        // The policy's history: the version in force, its text verified against its hash.
        assert!(html.contains("data-testid=\"policy-history\""));
        assert!(
            html.contains("data-verified=\"true\""),
            "history row verified"
        );
        assert!(!html.contains("data-verified=\"false\""));

        // The models page shows each shipped DET curve; the image is the verified artifact.
        let (status, html) = page(&app, "/console/models", &staff).await;
        assert_eq!(status, 200);
        let calibration: Vec<&str> = app
            .state
            .models
            .manifest
            .artifacts
            .iter()
            .filter(|a| a.id.starts_with("det-"))
            .map(|a| a.id.as_str())
            .collect();
        assert!(!calibration.is_empty(), "the manifest ships DET curves");
        for id in &calibration {
            let src = format!("src=\"/console/models/calibration/{id}\"");
            assert!(html.contains(&src), "{src} missing");
            let resp = no_redirects()
                .get(app.url(&format!("/console/models/calibration/{id}")))
                .header("cookie", &staff)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["content-type"], "image/png");
            let bytes = resp.bytes().await.unwrap();
            assert_eq!(&bytes[..], app.state.models.artifact(id).unwrap());
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        }
        // Only calibration artifacts are served, and only to staff.
        for (path, cookie, status) in [
            (
                "/console/models/calibration/keystroke-fixed-calibration",
                staff.as_str(),
                404,
            ),
            ("/console/models/calibration/det-nope", staff.as_str(), 404),
            (
                &*format!("/console/models/calibration/{}", calibration[0]),
                "",
                401,
            ),
        ] {
            let resp = no_redirects()
                .get(app.url(path))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), status, "{path}");
        }

        // Every staff action above is in the log.
        let staff_actions = store::audit::search(
            &app.state.db,
            "acme",
            &store::audit::AuditFilter {
                kind: Some("staff_action".into()),
                ..Default::default()
            },
            None,
            1000,
        )
        .await
        .unwrap();
        let actions: Vec<String> = staff_actions
            .iter()
            .map(|r| {
                serde_json::from_str::<Value>(&r.body).unwrap()["action"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        for a in [
            "login",
            "search",
            "export_csv",
            "export_jsonl",
            "view_entry",
            "view_receipt",
            "verify_log",
            "view_policies",
            "view_models",
        ] {
            assert!(
                actions.iter().any(|x| x == a),
                "{a} missing from {actions:?}"
            );
        }
    }
);
