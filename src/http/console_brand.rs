//! Console: the tenant's brand on its customer pages. Every console member sees it (the page
//! itself is shown in the tenant's colours, with a preview of the header customers see); only
//! a tenant admin may change it. A change is checked first (name, WCAG contrast of the colour
//! pairs, logo type, size and content) and logged as a `staff_action` (`brand_changed`) before
//! it takes effect (`tenants::branding`). A refused change re-renders the form with the stable
//! code of the problem (the same codes as problem+json) and changes nothing.

use axum::{
    Router,
    extract::{DefaultBodyLimit, Multipart, Query, State, multipart::Field},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::{
    console::{audit_staff, nav},
    i18n::Lang,
    problem::Problem,
    web::{self, PageError, StaffUser, display_time},
};
use crate::{
    AppState,
    oidc::StaffRole,
    tenants::{
        brand::{BrandError, MAX_LOGO_BYTES},
        branding::{self, Admin, Brand, BrandUpdate, BrandingError},
    },
};

/// The form's body: the logo, the text fields and multipart framing.
const FORM_LIMIT: usize = MAX_LOGO_BYTES + 16 * 1024;
/// Any text field (name, colours, CSRF token) is far below this.
const TEXT_FIELD_LIMIT: usize = 1024;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/console/brand",
        get(show)
            .post(save)
            .layer(DefaultBodyLimit::max(FORM_LIMIT)),
    )
}

fn is_admin(staff: &StaffUser) -> bool {
    staff.roles.contains(&StaffRole::TenantAdmin)
}

/// What the form shows: the submitted values after a refusal, else the current brand.
struct Fields<'a> {
    display_name: &'a str,
    primary: String,
    accent: String,
}

fn preview(lang: Lang, brand: &Brand) -> Markup {
    html! {
        section aria-labelledby="brand-preview-h" {
            h2 #brand-preview-h { (lang.t("brand_preview")) }
            div.brand-preview data-testid="brand-preview" {
                @if let Some(url) = brand.logo_url() {
                    img.logo src=(url) alt="" data-testid="brand-logo";
                }
                span.brand data-testid="brand" { (brand.display_name) }
            }
            p { span.button aria-hidden="true" { (lang.t("brand_sample_button")) } }
            @if let Some(by) = &brand.updated_by {
                p.muted data-testid="brand-changed" {
                    (lang.t("brand_changed")) " " (display_time(brand.version)) " · " span.mono { (by) }
                }
            }
        }
    }
}

fn body(
    lang: Lang,
    staff: &StaffUser,
    brand: &Brand,
    fields: &Fields<'_>,
    refused: Option<&Problem>,
    saved: bool,
) -> Markup {
    html! {
        (nav(lang))
        p.muted { (lang.t("brand_explain")) }
        @if saved { p.ok role="status" data-testid="brand-saved" { (lang.t("brand_saved")) } }
        @if let Some(p) = refused {
            p.error role="alert" data-reason=(p.code) data-testid="brand-error" {
                (lang.t("brand_invalid")) ": " (p.detail.as_deref().unwrap_or(&p.title))
            }
        }
        (preview(lang, brand))
        @if is_admin(staff) {
            section aria-labelledby="brand-form-h" {
                h2 #brand-form-h { (lang.t("brand_change")) }
                form method="post" action="/console/brand" enctype="multipart/form-data" data-testid="brand-form" {
                    input type="hidden" name="csrf" value=(staff.user.csrf());
                    p { label for="b-name" { (lang.t("brand_name")) } br;
                        input #b-name type="text" name="display_name" value=(fields.display_name) maxlength="80" required; }
                    p { label for="b-primary" { (lang.t("brand_primary")) } br;
                        input #b-primary type="text" name="primary_color" value=(fields.primary) size="8" required; }
                    p { label for="b-accent" { (lang.t("brand_accent")) } br;
                        input #b-accent type="text" name="accent_color" value=(fields.accent) size="8" required; }
                    p { label for="b-logo" { (lang.t("brand_logo")) } br;
                        input #b-logo type="file" name="logo" accept="image/png,image/svg+xml"; }
                    @if brand.has_logo {
                        p { label { input type="checkbox" name="remove_logo" value="on"; " " (lang.t("brand_remove_logo")) } }
                    }
                    button type="submit" data-testid="brand-save" { (lang.t("save")) }
                }
            }
        } @else {
            p.muted data-testid="brand-read-only" { (lang.t("brand_admin_only")) }
        }
    }
}

/// The page, linked to the tenant's own brand stylesheet so the console shows its colours.
fn render(
    lang: Lang,
    staff: &StaffUser,
    brand: &Brand,
    fields: &Fields<'_>,
    refused: Option<&Problem>,
    saved: bool,
) -> Markup {
    web::page_with_brand(
        lang,
        lang.t("brand_title"),
        Some(&staff.user),
        Some(brand),
        body(lang, staff, brand, fields, refused, saved),
    )
}

async fn current(state: &AppState, staff: &StaffUser, lang: Lang) -> Result<Brand, PageError> {
    branding::current(state, &staff.tenant).await.map_err(|e| {
        tracing::error!(error = %e, "brand could not be read");
        PageError::internal(lang)
    })
}

#[derive(Debug, Deserialize)]
pub struct Saved {
    #[serde(default)]
    saved: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    lang: Lang,
    staff: StaffUser,
    Query(q): Query<Saved>,
) -> Result<Markup, PageError> {
    audit_staff(&state, &staff, "view_brand", None, json!({}), lang).await?;
    let brand = current(&state, &staff, lang).await?;
    let fields = Fields {
        display_name: &brand.display_name,
        primary: brand.primary.hex(),
        accent: brand.accent.hex(),
    };
    Ok(render(
        lang,
        &staff,
        &brand,
        &fields,
        None,
        q.saved.is_some(),
    ))
}

/// Why the form body could not be read.
enum Unreadable {
    /// The logo (or the whole body) is over its limit.
    TooLarge,
    Malformed,
}

/// One field's bytes, read chunk by chunk so nothing over `limit` is ever held whole.
async fn read_field(mut field: Field<'_>, limit: usize) -> Result<Vec<u8>, Unreadable> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Unreadable::TooLarge
        } else {
            Unreadable::Malformed
        }
    })? {
        if buf.len() + chunk.len() > limit {
            return Err(Unreadable::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

async fn read_form(mut multipart: Multipart) -> Result<(String, BrandUpdate), Unreadable> {
    let mut csrf = String::new();
    let mut update = BrandUpdate::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Unreadable::TooLarge
        } else {
            Unreadable::Malformed
        }
    })? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "logo" {
            // One byte over the limit is enough to refuse it with the logo's own error.
            let bytes = read_field(field, MAX_LOGO_BYTES + 1).await?;
            update.logo = (!bytes.is_empty()).then_some(bytes);
            continue;
        }
        let bytes = read_field(field, TEXT_FIELD_LIMIT)
            .await
            .map_err(|_| Unreadable::Malformed)?;
        let text = String::from_utf8(bytes).map_err(|_| Unreadable::Malformed)?;
        match name.as_str() {
            "csrf" => csrf = text,
            "display_name" => update.display_name = text,
            "primary_color" => update.primary_color = text,
            "accent_color" => update.accent_color = text,
            "remove_logo" => update.remove_logo = true,
            _ => {}
        }
    }
    Ok((csrf, update))
}

pub async fn save(
    State(state): State<AppState>,
    lang: Lang,
    staff: StaffUser,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let brand = current(&state, &staff, lang).await?;
    let refuse = |e: BrandingError, fields: &Fields<'_>| -> Result<Response, PageError> {
        let problem = Problem::from(e);
        if problem.status().is_server_error() {
            return Err(PageError::internal(lang));
        }
        let page = render(lang, &staff, &brand, fields, Some(&problem), false);
        Ok((problem.status(), page).into_response())
    };
    let (csrf, update) = match read_form(multipart).await {
        Ok(form) => form,
        Err(Unreadable::Malformed) => return Err(PageError::bad_request(lang)),
        Err(Unreadable::TooLarge) => {
            let fields = Fields {
                display_name: &brand.display_name,
                primary: brand.primary.hex(),
                accent: brand.accent.hex(),
            };
            return refuse(BrandError::LogoTooLarge.into(), &fields);
        }
    };
    staff.user.check_csrf(&csrf, lang)?;
    let admin = Admin {
        subject: &staff.user.session.subject,
        roles: &staff.roles,
    };
    match branding::set(&state, &staff.tenant, admin, &update).await {
        Ok(_) => Ok(Redirect::to("/console/brand?saved=1").into_response()),
        Err(e) => {
            let fields = Fields {
                display_name: &update.display_name,
                primary: update.primary_color.clone(),
                accent: update.accent_color.clone(),
            };
            refuse(e, &fields)
        }
    }
}
