//! The landing page of a customer link: who is asking, and the code the agent reads out. Only
//! after the code does the link sign the customer in (camera page or privacy centre), on this
//! device only.

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{customer_frame, link_page_error};
use crate::tenants::branding;
use crate::{
    AppState,
    consent::{
        link_service::{self, LinkError},
        links::{CODE_DIGITS, LinkPurpose, LinkRefusal},
    },
    http::{auth, i18n::Lang, web::PageError},
    store::customer_links::StoredLink,
    tenants::CustomerRef,
};

fn page(
    lang: Lang,
    brand: &branding::Brand,
    link: &StoredLink,
    token: &str,
    error: Option<i64>,
) -> Markup {
    let purpose = LinkPurpose::parse(&link.purpose).unwrap_or(LinkPurpose::Privacy);
    let (title, explain) = match purpose {
        LinkPurpose::Camera => (lang.t("link_camera_title"), lang.t("link_camera_explain")),
        LinkPurpose::Privacy => (lang.t("link_privacy_title"), lang.t("link_privacy_explain")),
        // Shown by `passkey::page` instead; never redeemed with a code.
        LinkPurpose::Passkey => (
            lang.t("passkey_approve_title"),
            lang.t("passkey_approve_explain"),
        ),
    };
    let body = html! {
        section.landing data-testid="landing" data-purpose=(purpose.as_str()) {
            p { (explain) }
            p { (lang.t("link_code_explain")) }
            @if let Some(left) = error {
                p.error role="alert" data-reason="wrong_code" data-testid="wrong-code" {
                    (lang.t("wrong_code")) " " (lang.t_args("attempts_left", &[("count", left.into())]))
                }
            }
            form method="post" action={ "/l/" (token) } {
                label for="code" { (lang.t("code_label")) }
                input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code"
                    pattern="[0-9 ]*" maxlength=(CODE_DIGITS + 4) required
                    aria-invalid=[error.map(|_| "true")] data-testid="code";
                button type="submit" data-testid="confirm" { (lang.t("continue")) }
            }
        }
    };
    customer_frame(lang, brand, title, body)
}

pub async fn show(
    State(state): State<AppState>,
    lang: Lang,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let link = link_service::open(&state, &token)
        .await
        .map_err(|e| link_page_error(e, lang))?;
    if link.purpose == LinkPurpose::Passkey.as_str() {
        // A passkey link: the passkey confirms it, not the agent's code.
        return super::passkey::page(&state, lang, &token, link).await;
    }
    let brand = branding::for_page(&state, &link.tenant_id).await;
    Ok(page(lang, &brand, &link, &token, None).into_response())
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn redeem(
    State(state): State<AppState>,
    lang: Lang,
    Path(token): Path<String>,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let link = match link_service::redeem(&state, &token, &form.code).await {
        Ok(link) => link,
        Err(LinkError::Refused(LinkRefusal::WrongCode { attempts_left })) => {
            let link = link_service::open(&state, &token)
                .await
                .map_err(|e| link_page_error(e, lang))?;
            let brand = branding::for_page(&state, &link.tenant_id).await;
            return Ok((
                StatusCode::BAD_REQUEST,
                page(lang, &brand, &link, &token, Some(attempts_left)),
            )
                .into_response());
        }
        Err(e) => return Err(link_page_error(e, lang)),
    };
    let customer: CustomerRef = link
        .customer_ref
        .parse()
        .map_err(|_| PageError::internal(lang))?;
    let destination = match LinkPurpose::parse(&link.purpose) {
        Some(LinkPurpose::Camera) => format!("/camera/{}", link.link_id),
        _ => "/privacy".to_string(),
    };
    let (response, device) =
        auth::start_customer_session(&state, lang, link.tenant_id.clone(), customer, &destination)
            .await?;
    link_service::bind_device(&state, &link, &device)
        .await
        .map_err(|e| link_page_error(e, lang))?;
    Ok(response)
}
