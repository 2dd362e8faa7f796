//! Pages the customer reaches from a live session, on their own phone: the landing page of a
//! customer link (confirmation code), the camera choice, and — for the agent — the live view
//! of what the customer allowed. Built for 360 px screens, 44 px touch targets and keyboard use.

mod agent;
mod brand;
mod camera;
mod landing;
mod passkey;

pub(crate) use passkey::step_up_problem;

use axum::{
    Router,
    extract::FromRequestParts,
    http::{StatusCode, request::Parts},
    routing::{get, post},
};

use super::{
    i18n::Lang,
    web::{PageError, WebUser},
};
use crate::{
    AppState,
    consent::{link_service::LinkError, links::LinkRefusal, service::ServiceError},
    oidc::{Realm, StaffRole},
    tenants::{TenantId, branding::Brand},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/l/{token}", get(landing::show).post(landing::redeem))
        .route("/l/{token}/passkey/options", post(passkey::options))
        .route("/l/{token}/passkey/approve", post(passkey::approve))
        .route("/camera/{link_id}", get(camera::show).post(camera::decide))
        .route("/agent", get(agent::home))
        .route("/agent/session", get(agent::find))
        .route("/agent/sessions/{session_id}", get(agent::show))
        .route("/agent/sessions/{session_id}/events", get(agent::events))
        .route("/static/agent.js", get(agent::script))
        .route("/brand/{tenant}/style.css", get(brand::stylesheet))
        .route("/brand/{tenant}/logo", get(brand::logo))
}

/// A signed-in contact-centre agent (staff realm, `agent` role).
#[derive(Debug, Clone)]
pub struct AgentUser {
    pub user: WebUser,
    pub tenant: TenantId,
}

impl FromRequestParts<AppState> for AgentUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let lang = Lang::from_request_parts(parts, state)
            .await
            .unwrap_or(Lang::En);
        let user = WebUser::from_request_parts(parts, state).await?;
        let agent = user
            .session
            .roles
            .iter()
            .any(|r| StaffRole::parse(r) == Some(StaffRole::Agent));
        if user.session.realm != Realm::Staff.as_str() || !agent {
            return Err(PageError::forbidden(lang));
        }
        Ok(Self {
            tenant: user.session.tenant_id.clone(),
            user,
        })
    }
}

/// A link or choice failure as a page: a stable reason code, the message in the customer's
/// language, nothing internal.
fn link_page_error(e: LinkError, lang: Lang) -> PageError {
    let (status, message, reason) = match &e {
        LinkError::Refused(r) => {
            let status = match r {
                LinkRefusal::Invalid => StatusCode::NOT_FOUND,
                LinkRefusal::Expired | LinkRefusal::Used => StatusCode::GONE,
                LinkRefusal::Locked => StatusCode::GONE,
                LinkRefusal::WrongCode { .. } => StatusCode::BAD_REQUEST,
                LinkRefusal::OtherDevice => StatusCode::FORBIDDEN,
            };
            (status, r.code(), r.code())
        }
        LinkError::Mint(_)
        | LinkError::SessionNotFound
        | LinkError::Consent(ServiceError::SessionEnded) => {
            (StatusCode::GONE, "session_over", "session_ended")
        }
        LinkError::NotCamera => (StatusCode::NOT_FOUND, "not_found", "not_found"),
        LinkError::Choice(c) => (StatusCode::BAD_REQUEST, "choice_not_offered", c.code()),
        LinkError::Consent(_) | LinkError::Ledger(_) | LinkError::Store(_) | LinkError::Random => {
            tracing::error!(error = %e, "customer link failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "error", "internal")
        }
    };
    PageError::new(status, message, lang).with_reason(reason)
}

/// The frame of every customer page: the tenant's brand (name, logo, colours from its own
/// stylesheet), the page in the customer's language with the switch to the others, no script.
fn customer_frame(lang: Lang, brand: &Brand, title: &str, body: maud::Markup) -> maud::Markup {
    maud::html! {
        (maud::DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (brand.display_name) }
                link rel="stylesheet" href="/static/app.css";
                link rel="stylesheet" href=(brand.stylesheet_url());
            }
            body.customer {
                header {
                    (super::web::brand_mark(brand))
                    (super::i18n::switch(lang))
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}
