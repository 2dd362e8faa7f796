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
    web::{self, CustomerUser, PageError},
};
use crate::{
    AppState,
    consent::{
        CaptureMethod, ConsentScope, Purpose,
        service::{self as consent_service, ServiceError},
    },
    ledger::LedgerEvent,
    store,
    tenants::branding,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/privacy", get(home))
        .route("/privacy/methods", post(save_methods))
        .route("/privacy/templates/delete", post(delete_templates))
        .route("/privacy/export.json", get(export))
        .route("/privacy/consents", post(consent_action))
        .route(
            "/privacy/consents/{consent_id}/receipt",
            get(consent_receipt),
        )
}

/// Purposes a customer can grant here: captured on their own device, standing scope.
fn self_service(spec: &crate::consent::catalogue::PurposeSpec) -> bool {
    spec.accepted_methods
        .contains(&CaptureMethod::CustomerDevice)
        && spec.scopes.contains(&ConsentScope::Standing)
}

fn notice_text(notice: &crate::consent::catalogue::Notice, lang: Lang) -> (&'static str, &str) {
    match notice.text.get(lang.code()) {
        Some(t) => (lang.code(), t.as_str()),
        None => (
            "en",
            notice.text.get("en").map(String::as_str).unwrap_or(""),
        ),
    }
}

fn consents_section(
    state: &AppState,
    lang: Lang,
    me: &CustomerUser,
    consents: &[store::consents::ConsentRow],
) -> Markup {
    let now = store::now_ms();
    let set = state.consents.catalogue.for_tenant(me.tenant.as_str());
    let mut purposes: Vec<_> = set.purposes.values().collect();
    purposes.sort_by_key(|p| p.purpose.as_str());
    let csrf = me.user.csrf();
    html! {
        section #consents {
            h2 { (lang.t("consents")) }
            @for spec in purposes {
                @let in_force: Vec<_> = consents.iter().filter(|c| c.purpose == spec.purpose.as_str() && c.ended_at.is_none() && c.valid_until > now).collect();
                @let past: Vec<_> = consents.iter().filter(|c| c.purpose == spec.purpose.as_str() && (c.ended_at.is_some() || c.valid_until <= now)).collect();
                @if self_service(spec) || !in_force.is_empty() || !past.is_empty() {
                    div.consent data-purpose=(spec.purpose.as_str()) data-state=(if in_force.is_empty() { "none" } else { "granted" }) {
                        h3 { (purpose_title(lang, spec.purpose)) }
                        @if let Some(notice) = spec.current_notice() {
                            p.notice data-testid="notice" { (notice_text(notice, lang).1) }
                        }
                        @if in_force.is_empty() {
                            p { strong { (lang.t("status")) ": " } (lang.t("not_granted")) }
                            @if self_service(spec) {
                                form method="post" action="/privacy/consents" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="purpose" value=(spec.purpose.as_str());
                                    input type="hidden" name="action" value="grant";
                                    button type="submit" data-testid={ "grant-" (spec.purpose.as_str()) } { (lang.t("grant")) }
                                }
                            }
                        } @else {
                            @for c in &in_force {
                                p {
                                    strong { (lang.t("status")) ": " } span.ok { (lang.t("granted")) } " "
                                    (lang.date_time(c.granted_at)) " · " (lang.t("expires")) " " (lang.date_time(c.valid_until))
                                    " · " a href={ "/privacy/consents/" (c.consent_id) "/receipt" } { (lang.t("receipt")) }
                                }
                            }
                            form method="post" action="/privacy/consents" {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="purpose" value=(spec.purpose.as_str());
                                input type="hidden" name="action" value="withdraw";
                                button.danger type="submit" data-testid={ "withdraw-" (spec.purpose.as_str()) } { (lang.t("withdraw")) }
                            }
                        }
                        @if !past.is_empty() {
                            details {
                                summary { (lang.t_args("consents_past", &[("count", past.len().into())])) }
                                ul {
                                    @for c in &past {
                                        li data-end=(c.end_reason.as_deref().unwrap_or("expired")) {
                                            (lang.date_time(c.granted_at)) " → "
                                            (lang.date_time(c.ended_at.unwrap_or(c.valid_until)))
                                            " (" (end_label(lang, c.end_reason.as_deref())) ")"
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A purpose's name for the customer, in their language (the policy file's `title` is the
/// English name receipts and the console use).
pub(crate) fn purpose_title(lang: Lang, purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Camera => lang.t("purpose_camera"),
        Purpose::Recording => lang.t("purpose_recording"),
        Purpose::RecordingReuse => lang.t("purpose_recording_reuse"),
        Purpose::VoiceprintEnrolment => lang.t("purpose_voiceprint_enrolment"),
        Purpose::KeystrokeEnrolment => lang.t("purpose_keystroke_enrolment"),
    }
}

/// Why a consent ended (`withdrawn` by the customer, `expired` by time or retention).
fn end_label(lang: Lang, reason: Option<&str>) -> &'static str {
    match reason {
        Some("withdrawn") => lang.t("withdrawn"),
        None | Some("expired") => lang.t("consent_expired"),
        Some(_) => lang.t("consent_ended"),
    }
}

fn method_label(lang: Lang, method: RecognitionMethod) -> &'static str {
    match method {
        RecognitionMethod::Voiceprint => lang.t("voiceprint"),
        RecognitionMethod::Typing => lang.t("typing"),
        RecognitionMethod::CodeOnly => lang.t("code_only"),
    }
}

#[derive(Debug, Deserialize)]
struct ConsentForm {
    #[serde(default)]
    csrf: String,
    purpose: String,
    action: String,
}

/// Grant or withdraw one purpose: the customer's own device, so the grant carries a customer
/// credential minted for this signed-in customer (never reachable with an API key).
async fn consent_action(
    State(state): State<AppState>,
    lang: Lang,
    me: CustomerUser,
    Form(form): Form<ConsentForm>,
) -> Result<Response, PageError> {
    me.user.check_csrf(&form.csrf, lang)?;
    let purpose: Purpose = serde_json::from_value(serde_json::Value::String(form.purpose))
        .map_err(|_| PageError::bad_request(lang))?;
    let set = state.consents.catalogue.for_tenant(me.tenant.as_str());
    let spec = set
        .get(purpose)
        .ok_or_else(|| PageError::bad_request(lang))?;
    let fail = |e: ServiceError| {
        tracing::warn!(error = %e, purpose = purpose.as_str(), "privacy centre consent action failed");
        match e {
            ServiceError::CustomerNotFound
            | ServiceError::Refused(_)
            | ServiceError::UnknownPurpose(_) => PageError::bad_request(lang),
            _ => PageError::internal(lang),
        }
    };
    match form.action.as_str() {
        "grant" => {
            if !self_service(spec) {
                return Err(PageError::bad_request(lang));
            }
            let notice = spec
                .current_notice()
                .ok_or_else(|| PageError::bad_request(lang))?;
            let credential = consent_service::issue_customer_credential(
                &state.signer,
                &me.tenant,
                &me.customer,
                None,
                120,
            )
            .map_err(fail)?;
            consent_service::grant(
                &state,
                &me.tenant,
                consent_service::GrantCommand {
                    customer: me.customer.clone(),
                    purpose,
                    notice_version: notice.version.clone(),
                    language: notice_text(notice, lang).0.to_string(),
                    capture: consent_service::CaptureRequest::CustomerDevice {
                        customer_credential: credential,
                    },
                    scope: Some(ConsentScope::Standing),
                    session_id: None,
                    valid_for_secs: None,
                    terms: None,
                },
            )
            .await
            .map_err(fail)?;
        }
        "withdraw" => {
            consent_service::withdraw(
                &state,
                &me.tenant,
                &me.customer,
                purpose,
                None,
                "privacy_centre",
            )
            .await
            .map_err(fail)?;
        }
        _ => return Err(PageError::bad_request(lang)),
    }
    Ok(axum::response::Redirect::to("/privacy").into_response())
}

/// A consent receipt of this customer's (signed; verifiable offline with the JWKS).
async fn consent_receipt(
    State(state): State<AppState>,
    lang: Lang,
    me: CustomerUser,
    axum::extract::Path(consent_id): axum::extract::Path<String>,
) -> Result<Response, PageError> {
    let consent = store::consents::get(&state.db, &me.tenant, &consent_id)
        .await
        .map_err(web::internal(lang))?
        .filter(|c| c.customer_ref == me.customer.as_str())
        .ok_or_else(|| PageError::not_found(lang))?;
    let signed = consent_service::receipt(&state, &me.tenant, &consent.consent_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "receipt failed");
            PageError::internal(lang)
        })?;
    Ok(
        axum::Json(serde_json::json!({ "receipt": signed.receipt, "jws": signed.jws }))
            .into_response(),
    )
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
) -> Result<Response, PageError> {
    let templates = store::templates::list_templates(&state.db, &me.tenant, &me.customer)
        .await
        .map_err(web::internal(lang))?;
    let customer = store::customers::get(&state.db, &me.tenant, &me.customer)
        .await
        .map_err(web::internal(lang))?;
    let methods = customer.map(|c| c.methods).unwrap_or_default();
    let consents = store::consents::for_customer(&state.db, &me.tenant, &me.customer)
        .await
        .map_err(web::internal(lang))?;
    let passkeys = crate::passkeys::service::list(&state, &me.tenant, &me.customer)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "passkeys could not be listed");
            PageError::internal(lang)
        })?;
    let brand = branding::for_page(&state, &me.tenant).await;
    let csrf = me.user.csrf();
    let body = html! {
        (consents_section(&state, lang, &me, &consents))
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
                            td { (lang.date_time(t.created_at)) }
                            td { @match t.last_used_at { Some(at) => (lang.date_time(at)), None => (lang.t("never")) } }
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
                    label.check {
                        input type="checkbox" name="method" value=(m.as_str())
                            checked[methods.iter().any(|x| x == m.as_str())];
                        " " (method_label(lang, m))
                    }
                }
                button type="submit" data-testid="save-methods" { (lang.t("save")) }
            }
        }
        (super::passkeys::section(lang, csrf, &passkeys))
        section #download {
            a.button.secondary href="/privacy/export.json" data-testid="download" { (lang.t("download")) }
        }
    };
    Ok(super::passkeys::with_script_csp(
        web::page_with_brand(lang, lang.t("privacy"), Some(&me.user), Some(&brand), body)
            .into_response(),
    ))
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
    let templates = store::templates::list_templates(&state.db, &me.tenant, &me.customer)
        .await
        .map_err(web::internal(lang))?;
    let destroyed = store::templates::destroy_customer_key(&state.db, &me.tenant, &me.customer)
        .await
        .map_err(web::internal(lang))?;
    // The key is gone first (what the customer asked for); then the log says so, per profile.
    for t in &templates {
        state
            .ledger
            .append(
                &me.tenant,
                LedgerEvent {
                    kind: "template_deleted".into(),
                    customer: Some(me.customer.clone()),
                    session_id: None,
                    body: serde_json::json!({
                        "modality": t.modality,
                        "model_id": t.model_id,
                        "model_version": t.model_version,
                        "reason": "customer_request",
                        "by": "privacy_centre",
                        "data_key_destroyed": true,
                    }),
                },
            )
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "template deletion could not be logged");
                PageError::internal(lang)
            })?;
    }
    tracing::info!(tenant = %me.tenant, destroyed, "customer deleted biometric profiles");
    let body = html! {
        p.ok role="status" data-testid="deleted" { (lang.t("deleted")) }
        p { (lang.t("deleted_count")) ": " strong data-testid="deleted-count" { (destroyed) } }
        p { a href="/privacy" { (lang.t("privacy")) } }
    };
    let brand = branding::for_page(&state, &me.tenant).await;
    Ok(web::page_with_brand(
        lang,
        lang.t("templates"),
        Some(&me.user),
        Some(&brand),
        body,
    ))
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
    let consents = store::consents::for_customer(&state.db, &me.tenant, &me.customer)
        .await
        .map_err(web::internal(lang))?;
    let passkeys = crate::passkeys::service::list(&state, &me.tenant, &me.customer)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "passkeys could not be listed");
            PageError::internal(lang)
        })?;
    let mut receipts = Vec::with_capacity(consents.len());
    for c in &consents {
        let signed = consent_service::receipt(&state, &me.tenant, &c.consent_id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "receipt failed");
                PageError::internal(lang)
            })?;
        receipts.push(serde_json::json!({ "receipt": signed.receipt, "jws": signed.jws }));
    }
    // Every log entry about this customer (consents, decisions, deletions), page by page.
    let filter = store::audit::AuditFilter {
        customer_ref: Some(me.customer.to_string()),
        ..Default::default()
    };
    let mut entries = Vec::new();
    let mut after = None;
    loop {
        let page = store::audit::export_page(&state.db, me.tenant.as_str(), &filter, after, 1000)
            .await
            .map_err(web::internal(lang))?;
        for r in &page {
            entries.push(serde_json::json!({
                "index": r.index,
                "created_at": r.created_at,
                "kind": r.kind,
                "session_id": r.session_id,
                "leaf_hash": hex::encode(&r.leaf_hash),
                "body": serde_json::from_str::<serde_json::Value>(&r.body).unwrap_or(serde_json::Value::Null),
            }));
        }
        match page.last() {
            Some(last) if page.len() == 1000 => after = Some(last.index),
            _ => break,
        }
    }
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
        "consents": consents.iter().map(|c| serde_json::json!({
            "consent_id": c.consent_id,
            "purpose": c.purpose,
            "notice_version": c.notice_version,
            "notice_hash": c.notice_hash,
            "language": c.language,
            "capture_method": c.capture_method,
            "scope": c.scope,
            "granted_at": c.granted_at,
            "valid_until": c.valid_until,
            "ended_at": c.ended_at,
            "end_reason": c.end_reason,
            "ledger_index": c.ledger_index,
        })).collect::<Vec<_>>(),
        // Passkeys as metadata: the public key says nothing about the customer.
        "passkeys": passkeys,
        "receipts": receipts,
        "log_entries": entries,
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
