//! The customer privacy centre: consents, biometric profiles (delete = destroy the data key),
//! preferred recognition methods, and a download of everything held about the customer.
//!
//! Every page and action is scoped to the signed-in customer's tenant and reference, taken
//! from the session; no request parameter can name another customer.

use axum::{
    Form, Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    customers::RecognitionMethod,
    i18n::Lang,
    web::{self, CustomerUser, PageError, display_time},
};
use crate::{AppState, store};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/privacy", get(home))
        .route("/privacy/methods", post(save_methods))
        .route("/privacy/templates/delete", post(delete_templates))
        .route("/privacy/export.json", get(export))
}

fn modality_label(lang: Lang, modality: &str) -> &'static str {
    match modality {
        "voice" => lang.t("voice"),
        "keystroke_fixed" => lang.t("keystroke_fixed"),
        "keystroke_free" => lang.t("keystroke_free"),
        _ => lang.t("modality"),
    }
}

async fn home(
    State(state): State<AppState>,
    lang: Lang,
    me: CustomerUser,
) -> Result<Markup, PageError> {
    let templates = store::templates::list_templates(&state.db, &me.tenant, &me.customer)
        .await
        .map_err(web::internal(lang))?;
    let customer = store::customers::get(&state.db, &me.tenant, &me.customer)
        .await
        .map_err(web::internal(lang))?;
    let methods = customer.map(|c| c.methods).unwrap_or_default();
    let csrf = me.user.csrf();
    let body = html! {
        section #consents {
            h2 { (lang.t("consents")) }
            p.muted { (lang.t("not_available")) }
        }
        section #templates {
            h2 { (lang.t("templates")) }
            @if templates.is_empty() {
                p data-testid="no-templates" { (lang.t("templates_none")) }
            } @else {
                table data-testid="templates" {
                    tr { th { (lang.t("modality")) } th { (lang.t("enrolled")) } th { (lang.t("last_used")) } th { (lang.t("model")) } }
                    @for t in &templates {
                        tr data-modality=(t.modality) {
                            td { (modality_label(lang, &t.modality)) }
                            td { (display_time(t.created_at)) }
                            td { @match t.last_used_at { Some(at) => (display_time(at)), None => (lang.t("never")) } }
                            td.mono { (t.model_id) " " (t.model_version) }
                        }
                    }
                }
                p.muted { (lang.t("delete_explain")) }
                form method="post" action="/privacy/templates/delete" {
                    input type="hidden" name="csrf" value=(csrf);
                    button.danger type="submit" data-testid="delete-templates" { (lang.t("delete_profiles")) }
                }
            }
        }
        section #methods {
            h2 { (lang.t("methods")) }
            p.muted { (lang.t("methods_explain")) }
            form method="post" action="/privacy/methods" {
                input type="hidden" name="csrf" value=(csrf);
                @for m in [RecognitionMethod::Voiceprint, RecognitionMethod::Typing, RecognitionMethod::CodeOnly] {
                    label {
                        input type="checkbox" name="method" value=(m.as_str())
                            checked[methods.iter().any(|x| x == m.as_str())];
                        " " (lang.t(m.as_str()))
                    }
                    br;
                }
                button type="submit" data-testid="save-methods" { (lang.t("save")) }
            }
        }
        section #download {
            a.button.secondary href="/privacy/export.json" data-testid="download" { (lang.t("download")) }
        }
    };
    Ok(web::page(lang, lang.t("privacy"), Some(&me.user), body))
}

/// Checkbox forms repeat `method`; parsed by hand since `Form` keeps only the last value.
#[derive(Debug, Default)]
struct MethodsForm {
    csrf: String,
    methods: Vec<String>,
}

fn parse_methods_form(body: &[u8]) -> MethodsForm {
    let mut form = MethodsForm::default();
    for (k, v) in form_urlencoded_pairs(body) {
        match k.as_str() {
            "csrf" => form.csrf = v,
            "method" => form.methods.push(v),
            _ => {}
        }
    }
    form
}

fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

async fn save_methods(
    State(state): State<AppState>,
    lang: Lang,
    me: CustomerUser,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let form = parse_methods_form(&body);
    me.user.check_csrf(&form.csrf, lang)?;
    let mut methods: Vec<String> = Vec::new();
    for m in &form.methods {
        let parsed: RecognitionMethod =
            serde_json::from_value(serde_json::Value::String(m.clone()))
                .map_err(|_| PageError::bad_request(lang))?;
        if !methods.iter().any(|x| x == parsed.as_str()) {
            methods.push(parsed.as_str().to_string());
        }
    }
    // "Only a code" excludes every biometric method.
    if methods.iter().any(|m| m == "code_only") {
        methods.retain(|m| m == "code_only");
    }
    store::customers::upsert(&state.db, &me.tenant, &me.customer, &methods)
        .await
        .map_err(web::internal(lang))?;
    Ok(axum::response::Redirect::to("/privacy").into_response())
}

#[derive(Debug, Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Crypto-shredding: drop the customer's data key and every template sealed under it.
async fn delete_templates(
    State(state): State<AppState>,
    lang: Lang,
    me: CustomerUser,
    Form(form): Form<CsrfOnly>,
) -> Result<Markup, PageError> {
    me.user.check_csrf(&form.csrf, lang)?;
    let destroyed = store::templates::destroy_customer_key(&state.db, &me.tenant, &me.customer)
        .await
        .map_err(web::internal(lang))?;
    tracing::info!(tenant = %me.tenant, destroyed, "customer deleted biometric profiles");
    let body = html! {
        p.ok role="status" data-testid="deleted" { (lang.t("deleted")) }
        p { (lang.t("deleted_count")) ": " strong data-testid="deleted-count" { (destroyed) } }
        p { a href="/privacy" { (lang.t("privacy")) } }
    };
    Ok(web::page(lang, lang.t("templates"), Some(&me.user), body))
}

/// Everything held about the customer, as one JSON document (templates as metadata only:
/// their ciphertext is useless without the key and says nothing readable).
async fn export(
    State(state): State<AppState>,
    lang: Lang,
    me: CustomerUser,
) -> Result<Response, PageError> {
    let customer = store::customers::get(&state.db, &me.tenant, &me.customer)
        .await
        .map_err(web::internal(lang))?;
    let templates = store::templates::list_templates(&state.db, &me.tenant, &me.customer)
        .await
        .map_err(web::internal(lang))?;
    let document = serde_json::json!({
        "tenant_id": me.tenant.as_str(),
        "customer_ref": me.customer.as_str(),
        "generated_at": store::now_ms(),
        "customer": customer,
        "biometric_templates": templates.iter().map(|t| serde_json::json!({
            "modality": t.modality,
            "model_id": t.model_id,
            "model_version": t.model_version,
            "created_at": t.created_at,
            "last_used_at": t.last_used_at,
        })).collect::<Vec<_>>(),
    });
    let mut response = axum::Json(document).into_response();
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"my-data.json\""),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_checkboxes_are_all_kept() {
        let f = parse_methods_form(b"csrf=abc&method=voiceprint&method=typing");
        assert_eq!(f.csrf, "abc");
        assert_eq!(f.methods, vec!["voiceprint", "typing"]);
    }
}
