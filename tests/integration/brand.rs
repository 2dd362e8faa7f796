//! A tenant's brand, through the real router: a tenant admin sets it in the console (a
//! multipart form, as the browser sends it), the change is a `staff_action` entry, and the
//! customer pages (link landing page, camera page, privacy centre) show the name, the logo from
//! our own route and the colours from our own stylesheet, under the strict CSP. Bad input — an
//! oversized, malformed or mistyped logo, SVG with script or external references, colours that
//! are not colours, unreadable pairs, a staff member who is not a tenant admin, another
//! tenant's admin — is refused with a stable code and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use trustline::{
    config::Secret,
    oidc::{
        Realm,
        service::{IdentityProviderConfig, configure},
    },
    store::{self, audit::AuditFilter},
    tenants::{Sector, TenantId, brand::MAX_LOGO_BYTES},
};

use crate::common::{Backend, TestApp, expect_problem};
use crate::customer_links::{delivered_links, fixture, session, token_of};
use crate::web_login::{
    Provider, begin, callback, claims, cookie_pair, csrf_of, customer_session, no_redirects, page,
    set_cookie,
};

fn settings(s: trustline::config::Settings) -> trustline::config::Settings {
    let mut s = crate::common::allow_loopback_webhooks(s);
    s.cookie_secure = false;
    s
}

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

const LOGO_SVG: &str = r##"<?xml version="1.0"?><!-- exported --><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40" width="40" height="40"><title>Acme</title><circle cx="20" cy="20" r="18" fill="#0b5394"/></svg>"##;

/// A staff member of `tenant` signed in through the scripted provider with `roles`.
async fn staff(app: &TestApp, p: &Provider, tenant: &str, sub: &str, roles: Value) -> String {
    let started = begin(app, &format!("/console/{tenant}/login")).await;
    *p.next_claims.lock().unwrap() = Some(claims(
        p,
        &started.nonce,
        json!({"roles": roles, "sub": sub}),
    ));
    let resp = callback(app, &started, &started.state).await;
    assert_eq!(resp.status(), 303);
    cookie_pair(set_cookie(&resp, "tl_session=").expect("session cookie"))
}

/// One part of a multipart form: (name, optional (filename, content type), bytes).
type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, Vec<u8>);

/// A multipart/form-data body as a browser sends it.
fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "----trustline-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some((filename, ct)) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A logo file as the form uploads it: (filename, content type, bytes).
type Upload<'a> = Option<(&'a str, &'a str, Vec<u8>)>;

/// The brand form with these values (CSRF taken from the page unless `csrf` is given).
async fn submit(
    app: &TestApp,
    cookie: &str,
    name: &str,
    primary: &str,
    accent: &str,
    logo: Upload<'_>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let (status, html) = page(app, "/console/brand", cookie).await;
    assert_eq!(status, 200, "{html}");
    let csrf = csrf_of(&html);
    let mut parts: Vec<Part<'_>> = vec![
        ("csrf", None, csrf.into_bytes()),
        ("display_name", None, name.as_bytes().to_vec()),
        ("primary_color", None, primary.as_bytes().to_vec()),
        ("accent_color", None, accent.as_bytes().to_vec()),
    ];
    for (k, v) in extra {
        parts.push((k, None, v.as_bytes().to_vec()));
    }
    match logo {
        Some((filename, ct, bytes)) => parts.push(("logo", Some((filename, ct)), bytes)),
        // A file input with no file chosen.
        None => parts.push(("logo", Some(("", "application/octet-stream")), Vec::new())),
    }
    let (ct, body) = multipart(&parts);
    no_redirects()
        .post(app.url("/console/brand"))
        .header("cookie", cookie)
        .header("accept-language", "en")
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn attr(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let rest = &html[at..];
    let a = rest.find(&format!("{attr}=\""))? + attr.len() + 2;
    let end = rest[a..].find('"')?;
    Some(rest[a..a + end].to_string())
}

/// The first quoted attribute value starting with `prefix`.
fn url_starting(html: &str, prefix: &str) -> Option<String> {
    let at = html.find(&format!("\"{prefix}"))? + 1;
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_string())
}

fn reason(html: &str) -> String {
    attr(html, "data-reason", "data-reason").unwrap_or_default()
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    no_redirects().get(app.url(path)).send().await.unwrap()
}

/// What customers would see of `tenant`'s brand: the stylesheet text and the logo bytes.
async fn served(app: &TestApp, tenant: &str) -> (String, Option<Vec<u8>>) {
    let css = get(app, &format!("/brand/{tenant}/style.css")).await;
    assert_eq!(css.status(), 200);
    let css = css.text().await.unwrap();
    let logo = get(app, &format!("/brand/{tenant}/logo")).await;
    let logo = match logo.status().as_u16() {
        200 => Some(logo.bytes().await.unwrap().to_vec()),
        404 => None,
        s => panic!("logo status {s}"),
    };
    (css, logo)
}

async fn brand_changes(app: &TestApp, tenant: &str) -> Vec<Value> {
    let filter = AuditFilter {
        kind: Some("staff_action".into()),
        ..Default::default()
    };
    store::audit::export_page(&app.state.db, tenant, &filter, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_str::<Value>(&e.body).unwrap())
        .filter(|b| b["action"] == "brand_changed")
        .collect()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&vec![0x40u8; (width * height * 3) as usize])
            .unwrap();
    }
    out
}

fn strict_csp(resp: &reqwest::Response) {
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        csp.contains("style-src 'self'") && csp.contains("img-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}

both!(
    tenant_admin_sets_the_brand_and_customer_pages_show_it,
    |app: TestApp| async move {
        let f = fixture(&app).await;
        let admin = staff(
            &app,
            &f.provider,
            "acme",
            "admin-1",
            json!(["tenant_admin"]),
        )
        .await;

        // Before: the tenant's name in trustline's colours, no logo.
        let (css, logo) = served(&app, "acme").await;
        assert!(css.contains("--primary: #1f5fbf;"), "{css}");
        assert!(logo.is_none());
        let (status, html) = page(&app, "/console/brand", &admin).await;
        assert_eq!(status, 200);
        assert!(html.contains("data-testid=\"brand-form\""));

        let resp = submit(
            &app,
            &admin,
            "  Acme Bank ",
            "#0B5394",
            "#7a1f5c",
            Some(("logo.svg", "image/svg+xml", LOGO_SVG.as_bytes().to_vec())),
            &[],
        )
        .await;
        assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
        assert_eq!(resp.headers()["location"], "/console/brand?saved=1");

        // Served from our own routes with the right types; colours normalised.
        let css = get(&app, "/brand/acme/style.css").await;
        assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
        assert_eq!(
            css.text().await.unwrap(),
            ":root { --primary: #0b5394; --accent: #7a1f5c; }\n"
        );
        let logo = get(&app, "/brand/acme/logo").await;
        assert_eq!(logo.status(), 200);
        assert_eq!(logo.headers()["content-type"], "image/svg+xml");
        assert_eq!(logo.headers()["x-content-type-options"], "nosniff");
        let csp = logo.headers()["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("sandbox"),
            "{csp}"
        );
        let svg = logo.text().await.unwrap();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(
            !svg.contains("<!--") && !svg.contains("<?xml"),
            "rebuilt: {svg}"
        );

        // One audit entry, in the console's staff-action shape, naming the admin and the logo.
        let changes = brand_changes(&app, "acme").await;
        assert_eq!(changes.len(), 1);
        let c = &changes[0];
        assert_eq!(c["actor"], "admin-1");
        assert_eq!(c["roles"], json!(["tenant_admin"]));
        assert_eq!(c["details"]["display_name"], "Acme Bank");
        assert_eq!(c["details"]["primary_color"], "#0b5394");
        assert_eq!(c["details"]["logo"], "replaced");
        let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, svg.as_bytes()));
        assert_eq!(c["details"]["logo_sha256"], sha);
        let report = crate::common::audit_verify(&app.state.db, &app.state.settings, "acme").await;
        assert!(report.ok(), "{report:?}");

        // Visible in the console: the preview and who changed it.
        let (status, html) = page(&app, "/console/brand?saved=1", &admin).await;
        assert_eq!(status, 200);
        assert!(html.contains("data-testid=\"brand-saved\""));
        assert!(html.contains("data-testid=\"brand\">Acme Bank<"));
        assert!(html.contains("admin-1"));
        let version = url_starting(&html, "/brand/acme/style.css?v=").expect("brand stylesheet");
        assert!(version.len() > "/brand/acme/style.css?v=".len());

        // The link landing page (camera consent request) carries the brand.
        let sid = session(&app, &f.key, "C-1").await;
        let asked = app
            .post_json(
                &format!("/v1/sessions/{sid}/camera-consent-requests"),
                &f.key,
                json!({}),
            )
            .await;
        assert_eq!(asked.status(), 201);
        let links = delivered_links(&app, &f).await;
        let token = token_of(links[0]["url"].as_str().unwrap());
        let landing = no_redirects()
            .get(app.url(&format!("/l/{token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(landing.status(), 200);
        strict_csp(&landing);
        let html = landing.text().await.unwrap();
        assert!(html.contains("data-testid=\"brand\">Acme Bank<"), "{html}");
        assert!(
            html.contains(&format!("href=\"{version}\"")),
            "stylesheet linked"
        );
        assert!(
            url_starting(&html, "/brand/acme/logo?v=").is_some(),
            "logo shown"
        );
        assert!(!html.contains("style=\""), "no inline style");

        // The privacy centre too.
        let customer = customer_session(&app, &f.provider, "C-1").await;
        let resp = no_redirects()
            .get(app.url("/privacy"))
            .header("cookie", &customer)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("style-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        let html = resp.text().await.unwrap();
        assert!(html.contains("data-testid=\"brand\">Acme Bank<"));
        assert!(html.contains(&format!("href=\"{version}\"")));
        assert!(html.contains("src=\"/brand/acme/logo?v="));

        // A PNG replaces the SVG; removing the logo removes it; each change is logged.
        let logo_png = png(8, 4);
        let resp = submit(
            &app,
            &admin,
            "Acme Bank",
            "#0b5394",
            "#7a1f5c",
            Some(("logo.png", "image/png", logo_png.clone())),
            &[],
        )
        .await;
        assert_eq!(resp.status(), 303);
        let logo = get(&app, "/brand/acme/logo").await;
        assert_eq!(logo.headers()["content-type"], "image/png");
        assert_eq!(logo.bytes().await.unwrap().to_vec(), logo_png);
        let resp = submit(&app, &admin, "Acme Bank", "#0b5394", "#7a1f5c", None, &[]).await;
        assert_eq!(resp.status(), 303);
        assert!(
            served(&app, "acme").await.1.is_some(),
            "no file chosen keeps the logo"
        );
        let resp = submit(
            &app,
            &admin,
            "Acme Bank",
            "#0b5394",
            "#7a1f5c",
            None,
            &[("remove_logo", "on")],
        )
        .await;
        assert_eq!(resp.status(), 303);
        assert!(served(&app, "acme").await.1.is_none());
        let logs: Vec<String> = brand_changes(&app, "acme")
            .await
            .iter()
            .map(|c| c["details"]["logo"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(logs, ["replaced", "replaced", "kept", "removed"]);
    }
);

both!(
    bad_brands_are_refused_and_change_nothing,
    |app: TestApp| async move {
        let f = fixture(&app).await;
        let p = &f.provider;
        let admin = staff(&app, p, "acme", "admin-1", json!(["tenant_admin"])).await;
        let resp = submit(
            &app,
            &admin,
            "Acme Bank",
            "#0b5394",
            "#7a1f5c",
            Some(("logo.svg", "image/svg+xml", LOGO_SVG.as_bytes().to_vec())),
            &[],
        )
        .await;
        assert_eq!(resp.status(), 303);
        let before = served(&app, "acme").await;
        let changes = brand_changes(&app, "acme").await.len();

        let mut not_png = b"\x89PNG\r\n\x1a\n".to_vec();
        not_png.extend_from_slice(&[0x55; 200]);
        let mut oversized = png(4, 4);
        oversized.resize(MAX_LOGO_BYTES + 1, 0);
        let svg = |inner: &str| {
            format!(r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">{inner}</svg>"#)
                .into_bytes()
        };
        let cases: Vec<(&str, &str, &str, &str, Upload<'_>, u16)> = vec![
            ("logo_too_large", "Acme", "#0b5394", "#7a1f5c", Some(("a.png", "image/png", oversized)), 413),
            // Over the form's own body limit: refused while reading.
            ("logo_too_large", "Acme", "#0b5394", "#7a1f5c", Some(("b.png", "image/png", vec![0u8; 3 * MAX_LOGO_BYTES])), 413),
            ("logo_malformed", "Acme", "#0b5394", "#7a1f5c", Some(("c.png", "image/png", not_png)), 422),
            ("logo_type", "Acme", "#0b5394", "#7a1f5c", Some(("d.gif", "image/png", b"GIF89a\x01\x00\x01\x00".to_vec())), 422),
            ("svg_not_allowed", "Acme", "#0b5394", "#7a1f5c", Some(("e.svg", "image/svg+xml", svg("<script>alert(1)</script>"))), 422),
            ("svg_not_allowed", "Acme", "#0b5394", "#7a1f5c", Some(("f.svg", "image/svg+xml", svg(r#"<rect onclick="alert(1)"/>"#))), 422),
            ("svg_not_allowed", "Acme", "#0b5394", "#7a1f5c", Some(("g.svg", "image/svg+xml", svg(r#"<image href="https://evil.example/x.png"/>"#))), 422),
            ("svg_not_allowed", "Acme", "#0b5394", "#7a1f5c", Some(("h.svg", "image/svg+xml", svg("<foreignObject><p>x</p></foreignObject>"))), 422),
            ("svg_not_allowed", "Acme", "#0b5394", "#7a1f5c", Some(("i.svg", "image/svg+xml", svg(r#"<rect fill="url(https://evil.example/p#x)"/>"#))), 422),
            ("logo_malformed", "Acme", "#0b5394", "#7a1f5c", Some(("j.svg", "image/svg+xml", br#"<!DOCTYPE svg [<!ENTITY x "xx">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>"#.to_vec())), 422),
            ("colour_invalid", "Acme", "red", "#7a1f5c", None, 422),
            ("colour_invalid", "Acme", "#0b5394", "#7a1f5c; background:url(x)", None, 422),
            ("contrast_too_low", "Acme", "#ffe600", "#7a1f5c", None, 422),
            ("contrast_too_low", "Acme", "#0b5394", "#999999", None, 422),
            ("brand_name_invalid", "   ", "#0b5394", "#7a1f5c", None, 422),
        ];
        for (code, name, primary, accent, logo, status) in cases {
            let resp = submit(&app, &admin, name, primary, accent, logo, &[]).await;
            assert_eq!(resp.status().as_u16(), status, "{code}");
            let html = resp.text().await.unwrap();
            assert_eq!(reason(&html), code, "{html}");
            assert!(html.contains("data-testid=\"brand-error\""));
            assert_eq!(
                served(&app, "acme").await,
                before,
                "{code} changed the brand"
            );
        }
        assert_eq!(brand_changes(&app, "acme").await.len(), changes);

        // A form without this session's CSRF token.
        let (ct, body) = multipart(&[
            ("csrf", None, b"forged".to_vec()),
            ("display_name", None, b"Evil".to_vec()),
            ("primary_color", None, b"#000000".to_vec()),
            ("accent_color", None, b"#000000".to_vec()),
        ]);
        let resp = no_redirects()
            .post(app.url("/console/brand"))
            .header("cookie", &admin)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert!(resp.text().await.unwrap().contains("data-code=\"csrf\""));

        // A compliance officer sees the brand but cannot change it.
        let officer = staff(&app, p, "acme", "officer-1", json!(["compliance_officer"])).await;
        let (status, html) = page(&app, "/console/brand", &officer).await;
        assert_eq!(status, 200);
        assert!(html.contains("data-testid=\"brand-read-only\""));
        assert!(!html.contains("data-testid=\"brand-form\""));
        let resp = submit(&app, &officer, "Evil", "#000000", "#000000", None, &[]).await;
        assert_eq!(resp.status(), 403);
        assert_eq!(reason(&resp.text().await.unwrap()), "tenant_admin_only");
        // An agent has no console at all.
        let agent = staff(&app, p, "acme", "agent-1", json!(["agent"])).await;
        let (status, _) = page(&app, "/console/brand", &agent).await;
        assert_eq!(status, 403);
        // Signed out: no form at all.
        let resp = no_redirects()
            .post(app.url("/console/brand"))
            .header("content-type", "multipart/form-data; boundary=x")
            .body("--x--\r\n")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);

        // Another tenant's admin changes only their own tenant's brand, whatever the form says.
        app.tenant_with_key("other", Sector::Retail, &[]).await;
        let other: TenantId = "other".parse().unwrap();
        configure(
            &app.state.db,
            &app.state.master_key,
            &other,
            Realm::Staff,
            &IdentityProviderConfig {
                issuer_url: p.issuer.clone(),
                client_id: "trustline-console".into(),
                client_secret: Secret::new("s3cret"),
                scopes: vec!["profile".into()],
                role_claim: "roles".into(),
                customer_claim: "customer_ref".into(),
            },
        )
        .await
        .unwrap();
        let outsider = staff(&app, p, "other", "admin-9", json!(["tenant_admin"])).await;
        let resp = submit(
            &app,
            &outsider,
            "Other Ltd",
            "#000000",
            "#000000",
            None,
            &[("tenant", "acme"), ("tenant_id", "acme")],
        )
        .await;
        assert_eq!(resp.status(), 303);
        assert_eq!(served(&app, "acme").await, before);
        assert!(
            served(&app, "other")
                .await
                .0
                .contains("--primary: #000000;")
        );
        assert_eq!(brand_changes(&app, "acme").await.len(), changes);
        assert_eq!(brand_changes(&app, "other").await.len(), 1);

        // The brand routes answer problem+json: no logo, or not a tenant id at all.
        expect_problem(get(&app, "/brand/nobody/logo").await, 404, "not_found").await;
        expect_problem(
            get(&app, "/brand/Not%20A%20Tenant/style.css").await,
            400,
            "invalid_request",
        )
        .await;
    }
);
