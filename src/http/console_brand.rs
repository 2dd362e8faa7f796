//! Console: the tenant's brand on its customer pages (tenant admins only). Every change is
//! checked first (name, WCAG contrast of both colour pairs, logo type, size and content) and
//! logged as a `staff_action` (`brand_changed`) before it takes effect.

use axum::{
    Router,
    extract::{Multipart, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    console::nav,
    i18n::Lang,
    web::{self, PageError, StaffUser},
};
use crate::{
    AppState,
    oidc::StaffRole,
    tenants::{
        brand::MAX_LOGO_BYTES,
        branding::{self, Brand, BrandUpdate, BrandingError},
    },
};

pub fn router() -> Router<AppState> {
    Router::new().route("/console/brand", get(show).post(save))
}

fn require_admin(staff: &StaffUser, lang: Lang) -> Result<(), PageError> {
    if staff.roles.contains(&StaffRole::TenantAdmin) {
        Ok(())
    } else {
        Err(PageError::new(StatusCode::FORBIDDEN, "tenant_admin_only", lang))
    }
}

fn form(lang: Lang, staff: &StaffUser, brand: &Brand, error: Option<(&str, String)>, saved: bool) -> Markup {
    let tenant = staff.tenant.as_str();
    html! {
        (nav(lang))
        p.muted { (lang.t("brand_explain")) }
        @if saved { p.ok role="status" data-testid="brand-saved" { (lang.t("brand_saved")) } }
        @if let Some((code, detail)) = error {
            p.error role="alert" data-reason=(code) data-testid="brand-error" { (lang.t("brand_invalid")) ": " (detail) }
        }
        section {
            form method="post" action="/console/brand" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(staff.user.csrf());
                p { label for="b-name" { (lang.t("brand_name")) } br;
                    input #b-name type="text" name="display_name" value=(brand.display_name) maxlength="80" required; }
                p { label for="b-primary" { (lang.t("brand_primary")) } br;
                    input #b-primary type="text" name="primary_color" value=(brand.primary_color) pattern="#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?" required; }
                p { label for="b-accent" { (lang.t("brand_accent")) } br;
                    input #b-accent type="text" name="accent_color" value=(brand.accent_color) pattern="#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?" required; }
                p { label for="b-logo" { (lang.t("brand_logo")) } br;
                    input #b-logo type="file" name="logo" accept="image/png,image/svg+xml"; }
                @if brand.has_logo {
                    p { img src={ "/brand/" (tenant) "/logo?v=" (brand.version) } alt=(brand.display_name) height="48";
                        label { input type="checkbox" name="remove_logo" value="on"; " " (lang.t("brand_remove_logo")) } }
                }
                button type="submit" data-testid="brand-save" { (lang.t("save")) }
            }
        }
    }
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
    require_admin(&staff, lang)?;
    let brand = branding::current(&state, &staff.tenant)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "brand read failed");
            PageError::internal(lang)
        })?;
    Ok(web::page(
        lang,
        lang.t("brand_title"),
        Some(&staff.user),
        form(lang, &staff, &brand, None, q.saved.is_some()),
    ))
}

pub async fn save(
    State(state): State<AppState>,
    lang: Lang,
    staff: StaffUser,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    require_admin(&staff, lang)?;
    let mut csrf = String::new();
    let mut update = BrandUpdate::default();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| PageError::bad_request(lang))?
    {
        let name = field.name().unwrap_or_default().to_string();
        // A field larger than the logo limit is refused before it is kept in memory whole.
        let bytes = field.bytes().await.map_err(|_| PageError::bad_request(lang))?;
        if bytes.len() > MAX_LOGO_BYTES + 1 {
            update.logo = Some(bytes.to_vec());
            continue;
        }
        let text = || String::from_utf8_lossy(&bytes).to_string();
        match name.as_str() {
            "csrf" => csrf = text(),
            "display_name" => update.display_name = text(),
            "primary_color" => update.primary_color = text(),
            "accent_color" => update.accent_color = text(),
            "remove_logo" => update.remove_logo = true,
            "logo" => update.logo = (!bytes.is_empty()).then(|| bytes.to_vec()),
            _ => {}
        }
    }
    staff.user.check_csrf(&csrf, lang)?;
    let actor = staff.user.session.subject.clone();
    match branding::set(&state, &staff.tenant, &actor, update.clone()).await {
        Ok(_) => Ok(Redirect::to("/console/brand?saved=1").into_response()),
        Err(BrandingError::Invalid(e)) => {
            let brand = Brand {
                display_name: update.display_name,
                primary_color: update.primary_color,
                accent_color: update.accent_color,
                has_logo: false,
                version: 0,
            };
            let page = web::page(
                lang,
                lang.t("brand_title"),
                Some(&staff.user),
                form(lang, &staff, &brand, Some((e.code(), e.to_string())), false),
            );
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => {
            tracing::error!(error = %e, "brand change failed");
            Err(PageError::internal(lang))
        }
    }
}
