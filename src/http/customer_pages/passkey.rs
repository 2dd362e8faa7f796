//! The page a passkey link opens on the customer's phone: who is asking, the binding code the
//! agent reads out, and one button that runs the passkey (`static/passkey.js`). Its JSON calls
//! answer problem+json; a link that is expired, used or unknown is refused like every link.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::html;
use serde::Deserialize;
use webauthn_rs::prelude::PublicKeyCredential;

use super::{customer_frame, link_page_error};
use crate::tenants::branding;
use crate::{
    AppState,
    http::{
        extract::ApiJson,
        i18n::Lang,
        passkeys::{passkey_problem, with_script_csp},
        problem::Problem,
        web::PageError,
    },
    passkeys::stepup::{self, StepUpError},
    store::customer_links::StoredLink,
};

/// The approval page (from the landing route `/l/{token}` when the link is a passkey link).
pub async fn page(
    state: &AppState,
    lang: Lang,
    token: &str,
    link: StoredLink,
) -> Result<Response, PageError> {
    let request = stepup::request_of(state, &link)
        .await
        .map_err(|e| step_up_page_error(e, lang))?;
    let brand = branding::for_page(state, &link.tenant_id).await;
    let body = html! {
        section.landing #passkey-approval data-passkeys="approve" data-testid="passkey-approval"
            data-base={ "/l/" (token) "/passkey" }
            data-msg-approved=(lang.t("passkey_approved"))
            data-msg-failed=(lang.t("passkey_failed"))
            data-msg-unsupported=(lang.t("passkey_unsupported")) {
            p { (lang.t("passkey_approve_explain")) }
            p {
                (lang.t("passkey_binding_code")) ": "
                strong.mono data-testid="binding-code" { (request.binding_code) }
            }
            button #passkey-approve type="button" data-testid="approve" { (lang.t("passkey_approve")) }
            p #passkey-status role="status" aria-live="polite" data-testid="passkey-status" {}
            noscript { p { (lang.t("passkey_needs_script")) } }
        }
        script src="/static/passkey.js" defer {}
    };
    Ok(with_script_csp(
        customer_frame(lang, &brand, lang.t("passkey_approve_title"), body).into_response(),
    ))
}

fn step_up_page_error(e: StepUpError, lang: Lang) -> PageError {
    match e {
        StepUpError::Link(e) => link_page_error(e, lang),
        StepUpError::RequestNotFound => PageError::not_found(lang).with_reason("link_invalid"),
        e => {
            tracing::error!(error = %e, "passkey approval page failed");
            PageError::internal(lang)
        }
    }
}

/// `POST /l/{token}/passkey/options`: the assertion options for the customer's passkeys.
pub async fn options(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, Response> {
    let (ceremony_id, options) = stepup::options(&state, &token)
        .await
        .map_err(step_up_problem)?;
    Ok(Json(serde_json::json!({ "ceremony_id": ceremony_id, "options": options })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    ceremony_id: String,
    credential: PublicKeyCredential,
}

/// `POST /l/{token}/passkey/approve`: the customer's assertion. On success the session has the
/// factor; the answer says only that it was approved (the phone needs no session details).
pub async fn approve(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Result<ApiJson<Approval>, Problem>,
) -> Result<Response, Response> {
    let ApiJson(body) = body.map_err(IntoResponse::into_response)?;
    stepup::approve(&state, &token, &body.ceremony_id, &body.credential)
        .await
        .map_err(step_up_problem)?;
    Ok(Json(serde_json::json!({ "approved": true })).into_response())
}

pub(crate) fn step_up_problem(e: StepUpError) -> Response {
    use crate::consent::{link_service::LinkError, links::LinkRefusal};
    let problem = match e {
        StepUpError::Passkey(e) => passkey_problem(e),
        StepUpError::Link(LinkError::Refused(r)) => {
            let status = match r {
                LinkRefusal::Invalid => StatusCode::NOT_FOUND,
                LinkRefusal::OtherDevice => StatusCode::FORBIDDEN,
                LinkRefusal::WrongCode { .. } => StatusCode::BAD_REQUEST,
                LinkRefusal::Expired | LinkRefusal::Used | LinkRefusal::Locked => StatusCode::GONE,
            };
            Problem::new(status, r.code(), "The link cannot be used")
        }
        StepUpError::Link(LinkError::Mint(_)) | StepUpError::Link(LinkError::SessionNotFound) => {
            Problem::new(StatusCode::GONE, "session_ended", "The session has ended")
        }
        StepUpError::RequestNotFound => Problem::new(
            StatusCode::NOT_FOUND,
            "passkey_request_not_found",
            "No such passkey request for this session",
        ),
        StepUpError::Session(e) => e.into(),
        StepUpError::Link(e) => {
            tracing::error!(error = %e, "passkey link failed");
            Problem::internal()
        }
        StepUpError::Store(e) => e.into(),
    };
    problem.into_response()
}
