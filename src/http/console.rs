//! The compliance console: audit search and export, log verification, policies, models.
//!
//! Every page is scoped to the signed-in staff member's tenant, taken from the session.

use axum::{Router, extract::State, routing::get};
use maud::{Markup, html};

use super::{
    i18n::Lang,
    web::{self, PageError, StaffUser},
};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/models", get(models))
}

pub(crate) fn nav(lang: Lang) -> Markup {
    html! {
        nav {
            a href="/console" { (lang.t("events")) }
            a href="/console/log" { (lang.t("log")) }
            a href="/console/policies" { (lang.t("policies")) }
            a href="/console/models" { (lang.t("models")) }
        }
    }
}

async fn home(lang: Lang, me: StaffUser) -> Result<Markup, PageError> {
    let body = html! {
        (nav(lang))
        p {
            (lang.t("roles")) ": "
            span data-testid="roles" {
                @for (i, r) in me.roles.iter().enumerate() {
                    @if i > 0 { ", " }
                    (r.as_str())
                }
            }
        }
        section #events {
            h2 { (lang.t("events")) }
            p.muted { (lang.t("not_available")) }
        }
    };
    Ok(web::page(lang, lang.t("console"), Some(&me.user), body))
}

/// Every model the service loaded, with its provenance and the thresholds in use.
async fn models(State(state): State<AppState>, lang: Lang, me: StaffUser) -> Markup {
    let body = html! {
        (nav(lang))
        table data-testid="models" {
            tr {
                th { (lang.t("model")) } th { (lang.t("version")) } th { (lang.t("task")) }
                th { (lang.t("thresholds")) } th { (lang.t("reference")) } th { (lang.t("source")) }
            }
            @for m in &state.models.manifest.models {
                tr {
                    td.mono { (m.id) }
                    td { (m.version) }
                    td { (format!("{:?}", m.task)) }
                    td.mono {
                        @for (name, value) in &m.thresholds { (name) " = " (value) br; }
                    }
                    td { (m.reference) }
                    td.muted { (m.source) " · " (m.licence) }
                }
            }
        }
    };
    web::page(lang, lang.t("models"), Some(&me.user), body)
}
