//! What the people-facing pages share: cookies, server-side sessions, CSRF, security headers,
//! the page layout and HTML error pages.

use axum::{
    extract::{FromRequestParts, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use maud::{DOCTYPE, Markup, html};
use subtle::ConstantTimeEq as _;

use super::i18n::Lang;
use crate::{
    AppState,
    oidc::{Realm, StaffRole, service::token_hash},
    store::{self, web::WebSession},
    tenants::{CustomerRef, TenantId, branding::Brand},
};

/// Staff sessions last a working day; customers' an hour.
pub const STAFF_SESSION_TTL_MS: i64 = 8 * 60 * 60 * 1000;
pub const CUSTOMER_SESSION_TTL_MS: i64 = 60 * 60 * 1000;

pub const STYLESHEET: &str = include_str!("../../static/app.css");

/// Cookie names. With `Secure` the `__Host-` prefix also pins them to this host and path `/`.
pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-tl_session"
    } else {
        "tl_session"
    }
}
pub fn flow_cookie(secure: bool) -> &'static str {
    if secure { "__Host-tl_flow" } else { "tl_flow" }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax (the login callback is a cross-site top-level
/// navigation from the identity provider; Lax still withholds the cookie from cross-site
/// POSTs, and every form also carries a CSRF token), Secure unless configured off.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// An HTML error page. Carries no internals: causes are logged where it is built.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: &'static str,
    /// A stable reason code for programs and tests (`state_mismatch`, `no_role`, ...).
    pub reason: Option<&'static str>,
    pub lang: Lang,
}

impl PageError {
    pub fn new(status: StatusCode, message: &'static str, lang: Lang) -> Self {
        Self {
            status,
            message,
            reason: None,
            lang,
        }
    }
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }
    pub fn internal(lang: Lang) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "error", lang)
    }
    pub fn csrf(lang: Lang) -> Self {
        Self::new(StatusCode::FORBIDDEN, "csrf", lang)
    }
    pub fn forbidden(lang: Lang) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", lang)
    }
    pub fn not_found(lang: Lang) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", lang)
    }
    pub fn bad_request(lang: Lang) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", lang)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let lang = self.lang;
        let body = page(
            lang,
            lang.t("app"),
            None,
            html! {
                p.error role="alert" data-code=(self.message) data-reason=[self.reason] {
                    (lang.t(self.message))
                }
            },
        );
        (self.status, body).into_response()
    }
}

/// Log a storage failure and turn it into a generic error page.
pub fn internal(lang: Lang) -> impl FnOnce(store::StoreError) -> PageError {
    move |e| {
        tracing::error!(error = %e, "storage error on a page");
        PageError::internal(lang)
    }
}

/// The signed-in person, from the session cookie.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub session_hash: String,
    pub session: WebSession,
}

impl WebUser {
    /// Reject a form whose CSRF token is not this session's (synchronizer token pattern).
    pub fn check_csrf(&self, presented: &str, lang: Lang) -> Result<(), PageError> {
        let expected = self.session.csrf_token.as_bytes();
        if presented.is_empty() || !bool::from(expected.ct_eq(presented.as_bytes())) {
            tracing::warn!(realm = %self.session.realm, "CSRF token rejected");
            return Err(PageError::csrf(lang));
        }
        Ok(())
    }

    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }
}

fn lang_of(parts: &Parts) -> Lang {
    Lang::of_request(&parts.uri, &parts.headers)
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let lang = lang_of(parts);
        let unauthenticated = || PageError::new(StatusCode::UNAUTHORIZED, "not_signed_in", lang);
        let secret = cookie(&parts.headers, session_cookie(state.settings.cookie_secure))
            .ok_or_else(unauthenticated)?;
        let hash = token_hash(secret);
        let session = store::web::session(&state.db, &hash)
            .await
            .map_err(internal(lang))?
            .ok_or_else(unauthenticated)?;
        Ok(Self {
            session_hash: hash,
            session,
        })
    }
}

/// A staff member with at least one console role.
#[derive(Debug, Clone)]
pub struct StaffUser {
    pub user: WebUser,
    pub tenant: TenantId,
    pub roles: Vec<StaffRole>,
}

impl FromRequestParts<AppState> for StaffUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let lang = lang_of(parts);
        let user = WebUser::from_request_parts(parts, state).await?;
        let roles: Vec<StaffRole> = user
            .session
            .roles
            .iter()
            .filter_map(|r| StaffRole::parse(r))
            .collect();
        // The console is for compliance officers and tenant admins; an agent alone has none.
        if user.session.realm != Realm::Staff.as_str()
            || roles.iter().all(|r| *r == StaffRole::Agent)
        {
            return Err(PageError::forbidden(lang));
        }
        Ok(Self {
            tenant: user.session.tenant_id.clone(),
            user,
            roles,
        })
    }
}

/// A customer signed in to the privacy centre (by OIDC or by a platform link).
#[derive(Debug, Clone)]
pub struct CustomerUser {
    pub user: WebUser,
    pub tenant: TenantId,
    pub customer: CustomerRef,
}

impl FromRequestParts<AppState> for CustomerUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let lang = lang_of(parts);
        let user = WebUser::from_request_parts(parts, state).await?;
        if user.session.realm != Realm::Customer.as_str() {
            return Err(PageError::forbidden(lang));
        }
        let customer: CustomerRef = user.session.subject.parse().map_err(|_| {
            tracing::error!("customer session with an invalid reference");
            PageError::internal(lang)
        })?;
        Ok(Self {
            tenant: user.session.tenant_id.clone(),
            user,
            customer,
        })
    }
}

/// Security headers for every HTML page: a CSP that allows no script (unless the page set its
/// own same-origin-script policy) and no framing,
/// no referrer (links carry tokens), and no caching of personal pages.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    // A page that needs its own script (the agent's live view, passkeys) sets its own, still
    // strict, policy; every other page gets no script at all.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A redirect that also sets cookies.
pub fn redirect_with_cookies(to: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut response = Redirect::to(to).into_response();
    for c in cookies {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// The page frame: language, title, stylesheet, a header with the language switch and, when
/// signed in, the sign-out form.
pub fn page(lang: Lang, title: &str, user: Option<&WebUser>, body: Markup) -> Markup {
    page_with_brand(lang, title, user, None, body)
}

/// The page frame under a tenant's brand (privacy centre): its name and logo in the header,
/// its colours from its own same-origin stylesheet (validated values only; the CSP stays
/// `style-src 'self'; img-src 'self'`).
pub fn page_with_brand(
    lang: Lang,
    title: &str,
    user: Option<&WebUser>,
    brand: Option<&Brand>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (brand.map_or("trustline", |b| b.display_name.as_str())) }
                link rel="stylesheet" href="/static/app.css";
                @if let Some(b) = brand { link rel="stylesheet" href=(b.stylesheet_url()); }
            }
            // A signed-in customer's pages (the privacy centre) are phone pages like the other
            // customer pages: the same 44 px touch targets (app.css `body.customer`).
            body class=[user.filter(|u| u.session.realm == Realm::Customer.as_str()).map(|_| "customer")] {
                header {
                    @if let Some(b) = brand {
                        (brand_mark(b))
                    } @else {
                        span.brand { "trustline" }
                    }
                    (super::i18n::switch(lang))
                    @if let Some(user) = user {
                        span.who {
                            (lang.t("signed_in_as")) " "
                            strong data-testid="subject" { (user.session.subject) }
                            " (" (user.session.tenant_id) ")"
                        }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(user.csrf());
                            button type="submit" data-testid="logout" { (lang.t("logout")) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A tenant's logo (when it has one; decorative, since the name follows) and display name.
pub fn brand_mark(brand: &Brand) -> Markup {
    html! {
        @if let Some(url) = brand.logo_url() {
            img.logo src=(url) alt="" data-testid="brand-logo";
        }
        span.brand data-testid="brand" { (brand.display_name) }
    }
}

/// Milliseconds since the epoch as an ISO 8601 UTC timestamp for display.
pub fn display_time(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_parsed_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; tl_session=abc; tl_session_x=no"),
        );
        assert_eq!(cookie(&h, "tl_session"), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn cookie_attributes() {
        let c = set_cookie("__Host-tl_session", "v", 60, true);
        let s = c.to_str().expect("ascii");
        assert!(s.contains("HttpOnly") && s.contains("Secure") && s.contains("SameSite=Lax"));
        assert!(s.contains("Path=/"));
        let c = set_cookie("tl_session", "v", 60, false);
        assert!(!c.to_str().expect("ascii").contains("Secure"));
    }

    #[test]
    fn times_display_in_utc() {
        assert_eq!(display_time(0), "1970-01-01 00:00:00 UTC");
    }
}
