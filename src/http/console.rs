//! The compliance console: audit search and streamed export, log verification and signed tree
//! heads, entries with inclusion proofs and consent receipts, policies, models.
//!
//! Every page is scoped to the signed-in staff member's tenant, taken from the session, and
//! every staff action is itself appended to the tenant's log (kind `staff_action`) before it
//! is carried out: an action that cannot be audited is not performed.

use axum::{
    Form, Router,
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    auth::CsrfForm,
    i18n::Lang,
    web::{self, PageError, StaffUser, display_time},
};
use crate::{
    AppState,
    ledger::LedgerEvent,
    store::{
        self,
        audit::{AuditFilter, valid_filter_value},
        ledger::EntryRow,
    },
    tenants::CustomerRef,
};

/// Rows per console page.
pub const PAGE_SIZE: u32 = 50;
/// Rows per database round trip while streaming an export.
pub const EXPORT_BATCH: u32 = 2_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(search))
        .route("/console/export.csv", get(export_csv))
        .route("/console/export.jsonl", get(export_jsonl))
        .route("/console/entries/{index}", get(entry))
        .route("/console/receipts/{consent_id}", get(receipt))
        .route("/console/log", get(log))
        .route("/console/log/verify", post(verify))
        .route("/console/policies", get(policies))
        .route("/console/models", get(models))
        .route("/console/models/calibration/{id}", get(calibration_image))
}

/// Calibration artifacts (DET curve PNGs) are the manifest's artifacts whose id starts so.
const CALIBRATION_PREFIX: &str = "det-";

pub(crate) fn nav(lang: Lang) -> Markup {
    html! {
        nav {
            a href="/console" { (lang.t("events")) }
            a href="/console/log" { (lang.t("log")) }
            a href="/console/policies" { (lang.t("policies")) }
            a href="/console/models" { (lang.t("models")) }
            a href="/console/brand" { (lang.t("brand_nav")) }
        }
    }
}

/// Append a `staff_action` event. The actor is the identity provider's subject (an opaque
/// id); a customer the action concerns goes in the entry's customer field, outside the hashed
/// bytes, like every other event about a customer.
pub async fn audit_staff(
    state: &AppState,
    staff: &StaffUser,
    action: &str,
    customer: Option<CustomerRef>,
    details: Value,
    lang: Lang,
) -> Result<(), PageError> {
    let roles: Vec<&str> = staff.roles.iter().map(|r| r.as_str()).collect();
    state
        .ledger
        .append(
            &staff.tenant,
            LedgerEvent::staff_action(
                &staff.user.session.subject,
                &roles,
                action,
                customer,
                details,
            ),
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, action, "staff action could not be audited; refused");
            PageError::internal(lang)
        })?;
    Ok(())
}

/// The search form's fields, as typed (dates as `YYYY-MM-DD`, UTC).
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    customer: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    before: Option<u64>,
}

fn date_ms(s: &str) -> Option<Result<i64, ()>> {
    if s.is_empty() {
        return None;
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Some(
        time::Date::parse(s, &format)
            .map(|d| d.midnight().assume_utc().unix_timestamp() * 1000)
            .map_err(|_| ()),
    )
}

impl SearchQuery {
    fn filter(&self) -> Result<AuditFilter, ()> {
        let text = |v: &str| -> Result<Option<String>, ()> {
            let v = v.trim();
            if v.is_empty() {
                Ok(None)
            } else if valid_filter_value(v) {
                Ok(Some(v.to_string()))
            } else {
                Err(())
            }
        };
        Ok(AuditFilter {
            customer_ref: text(&self.customer)?,
            kind: text(&self.kind)?,
            purpose: text(&self.purpose)?,
            channel: text(&self.channel)?,
            outcome: text(&self.outcome)?,
            agent: text(&self.agent)?,
            session_id: text(&self.session)?,
            from_ms: date_ms(&self.from).transpose()?,
            // "To" is inclusive of the whole day.
            to_ms: date_ms(&self.to).transpose()?.map(|ms| ms + 86_400_000),
        })
    }

    /// The query string of these filters (no cursor), for export and next-page links.
    fn query_string(&self) -> String {
        let pairs = [
            ("customer", &self.customer),
            ("kind", &self.kind),
            ("purpose", &self.purpose),
            ("channel", &self.channel),
            ("outcome", &self.outcome),
            ("agent", &self.agent),
            ("session", &self.session),
            ("from", &self.from),
            ("to", &self.to),
        ];
        serde_urlencoded::to_string(
            pairs
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default()
    }
}

fn filter_details(f: &AuditFilter) -> Value {
    // The customer goes into the entry's customer field, not the hashed body.
    json!({
        "customer_filter": f.customer_ref.is_some(),
        "kind": f.kind, "purpose": f.purpose, "channel": f.channel, "outcome": f.outcome,
        "agent": f.agent, "session_id": f.session_id, "from_ms": f.from_ms, "to_ms": f.to_ms,
    })
}

fn filter_customer(f: &AuditFilter) -> Option<CustomerRef> {
    f.customer_ref.as_deref().and_then(|c| c.parse().ok())
}

const KINDS: [&str; 9] = [
    "consent_granted",
    "consent_withdrawn",
    "consent_expired",
    "camera_grant",
    "decision",
    "factor_attempt",
    "template_deleted",
    "staff_action",
    "customer_action",
];

async fn search(
    State(state): State<AppState>,
    lang: Lang,
    me: StaffUser,
    Query(q): Query<SearchQuery>,
) -> Result<Markup, PageError> {
    let filter = q.filter().map_err(|_| PageError::bad_request(lang))?;
    audit_staff(
        &state,
        &me,
        "search",
        filter_customer(&filter),
        filter_details(&filter),
        lang,
    )
    .await?;
    let rows = store::audit::search(
        &state.db,
        me.tenant.as_str(),
        &filter,
        q.before,
        PAGE_SIZE + 1,
    )
    .await
    .map_err(web::internal(lang))?;
    let more = rows.len() > PAGE_SIZE as usize;
    let rows = &rows[..rows.len().min(PAGE_SIZE as usize)];
    let qs = q.query_string();
    let body = html! {
        (nav(lang))
        p.muted {
            (lang.t("roles")) ": "
            span data-testid="roles" {
                @for (i, r) in me.roles.iter().enumerate() {
                    @if i > 0 { ", " }
                    (r.as_str())
                }
            }
        }
        section {
            form.filters method="get" action="/console" data-testid="search-form" {
                label { (lang.t("customer")) input name="customer" value=(q.customer) size="12"; }
                label { (lang.t("kind"))
                    select name="kind" {
                        option value="" { "—" }
                        @for k in KINDS { option value=(k) selected[q.kind == k] { (k) } }
                    }
                }
                label { (lang.t("purpose")) input name="purpose" value=(q.purpose) size="14"; }
                label { (lang.t("channel")) input name="channel" value=(q.channel) size="8"; }
                label { (lang.t("outcome")) input name="outcome" value=(q.outcome) size="10"; }
                label { (lang.t("agent")) input name="agent" value=(q.agent) size="10"; }
                label { "Session" input name="session" value=(q.session) size="10"; }
                label { (lang.t("from")) input type="date" name="from" value=(q.from); }
                label { (lang.t("to")) input type="date" name="to" value=(q.to); }
                button type="submit" data-testid="search" { (lang.t("search")) }
            }
            p {
                a.button.secondary href={ "/console/export.csv?" (qs) } data-testid="export-csv" download { (lang.t("export_csv")) }
                " "
                a.button.secondary href={ "/console/export.jsonl?" (qs) } data-testid="export-jsonl" download { (lang.t("export_jsonl")) }
            }
        }
        section {
            h2 { (lang.t("events")) }
            @if rows.is_empty() {
                p data-testid="no-results" { (lang.t("no_results")) }
            } @else {
                table data-testid="results" {
                    tr { th { (lang.t("index")) } th { (lang.t("time")) } th { (lang.t("kind")) } th { (lang.t("customer")) } th { "Session" } th { "Body" } }
                    @for r in rows {
                        tr data-kind=(r.kind) {
                            td { a href={ "/console/entries/" (r.index) } { (r.index) } }
                            td { (display_time(r.created_at)) }
                            td { (r.kind) }
                            td.mono { (r.customer_ref.as_deref().unwrap_or("—")) }
                            td.mono { (r.session_id.as_deref().unwrap_or("—")) }
                            td.mono { (r.body) }
                        }
                    }
                }
                @if more {
                    @if let Some(last) = rows.last() {
                        p { a href={ "/console?" (qs) "&before=" (last.index) } data-testid="next-page" { (lang.t("next_page")) " →" } }
                    }
                }
            }
        }
    };
    Ok(web::page(lang, lang.t("console"), Some(&me.user), body))
}

#[derive(Clone, Copy)]
enum ExportFormat {
    Csv,
    JsonLines,
}

fn csv_field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn write_row(out: &mut String, format: ExportFormat, r: &EntryRow) {
    use std::fmt::Write as _;
    match format {
        ExportFormat::Csv => {
            let _ = write!(out, "{},{},", r.index, r.created_at);
            csv_field(out, &r.kind);
            out.push(',');
            csv_field(out, r.customer_ref.as_deref().unwrap_or(""));
            out.push(',');
            csv_field(out, r.session_id.as_deref().unwrap_or(""));
            out.push(',');
            out.push_str(&hex::encode(&r.leaf_hash));
            out.push(',');
            csv_field(out, &r.body);
            out.push('\n');
        }
        ExportFormat::JsonLines => {
            // The body is stored as compact JSON exactly as hashed: embedded verbatim.
            let _ = writeln!(
                out,
                "{{\"index\":{},\"created_at\":{},\"kind\":{},\"customer_ref\":{},\"session_id\":{},\"leaf_hash\":\"{}\",\"body\":{}}}",
                r.index,
                r.created_at,
                Value::from(r.kind.as_str()),
                r.customer_ref.as_deref().map_or(Value::Null, Value::from),
                r.session_id.as_deref().map_or(Value::Null, Value::from),
                hex::encode(&r.leaf_hash),
                r.body,
            );
        }
    }
}

/// Stream every matching entry, oldest first, one bounded page at a time: memory stays flat
/// whatever the range (keyset pagination; no transaction held open between pages).
fn export_stream(
    state: AppState,
    tenant: String,
    filter: AuditFilter,
    format: ExportFormat,
) -> Body {
    let header = match format {
        ExportFormat::Csv => {
            Some("index,created_at_ms,kind,customer_ref,session_id,leaf_hash,body\n".to_string())
        }
        ExportFormat::JsonLines => None,
    };
    struct Cursor {
        state: AppState,
        tenant: String,
        filter: AuditFilter,
        after: Option<u64>,
        header: Option<String>,
        done: bool,
    }
    let cursor = Cursor {
        state,
        tenant,
        filter,
        after: None,
        header,
        done: false,
    };
    let stream = futures_util::stream::unfold(cursor, move |mut c| async move {
        if let Some(h) = c.header.take() {
            return Some((Ok::<Bytes, std::io::Error>(Bytes::from(h)), c));
        }
        if c.done {
            return None;
        }
        let page =
            store::audit::export_page(&c.state.db, &c.tenant, &c.filter, c.after, EXPORT_BATCH)
                .await;
        match page {
            Ok(rows) => {
                if rows.len() < EXPORT_BATCH as usize {
                    c.done = true;
                }
                let last = rows.last()?;
                c.after = Some(last.index);
                let mut out = String::with_capacity(rows.len() * 256);
                for r in &rows {
                    write_row(&mut out, format, r);
                }
                Some((Ok(Bytes::from(out)), c))
            }
            Err(e) => {
                // Headers are gone already: end the body with an error so the client sees a
                // truncated transfer rather than a silently short file.
                tracing::error!(error = %e, "export failed mid-stream");
                c.done = true;
                Some((Err(std::io::Error::other("export failed")), c))
            }
        }
    });
    Body::from_stream(stream)
}

async fn export(
    state: AppState,
    lang: Lang,
    me: StaffUser,
    q: SearchQuery,
    format: ExportFormat,
) -> Result<Response, PageError> {
    let filter = q.filter().map_err(|_| PageError::bad_request(lang))?;
    let (action, content_type, filename) = match format {
        ExportFormat::Csv => ("export_csv", "text/csv; charset=utf-8", "audit.csv"),
        ExportFormat::JsonLines => (
            "export_jsonl",
            "application/jsonl; charset=utf-8",
            "audit.jsonl",
        ),
    };
    audit_staff(
        &state,
        &me,
        action,
        filter_customer(&filter),
        filter_details(&filter),
        lang,
    )
    .await?;
    let body = export_stream(state, me.tenant.to_string(), filter, format);
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
            .unwrap_or(HeaderValue::from_static("attachment")),
    );
    Ok(response)
}

async fn export_csv(
    State(state): State<AppState>,
    lang: Lang,
    me: StaffUser,
    Query(q): Query<SearchQuery>,
) -> Result<Response, PageError> {
    export(state, lang, me, q, ExportFormat::Csv).await
}

async fn export_jsonl(
    State(state): State<AppState>,
    lang: Lang,
    me: StaffUser,
    Query(q): Query<SearchQuery>,
) -> Result<Response, PageError> {
    export(state, lang, me, q, ExportFormat::JsonLines).await
}

/// One entry with its inclusion proof against a signed tree head.
async fn entry(
    State(state): State<AppState>,
    lang: Lang,
    me: StaffUser,
    Path(index): Path<u64>,
) -> Result<Markup, PageError> {
    let row = store::ledger::entry(&state.db, me.tenant.as_str(), index)
        .await
        .map_err(web::internal(lang))?
        .ok_or_else(|| PageError::not_found(lang))?;
    let customer = row.customer_ref.as_deref().and_then(|c| c.parse().ok());
    audit_staff(
        &state,
        &me,
        "view_entry",
        customer,
        json!({ "index": index }),
        lang,
    )
    .await?;
    let proof = state
        .ledger
        .inclusion_proof(&me.tenant, index, None)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "inclusion proof failed");
            PageError::internal(lang)
        })?;
    let consent_id = serde_json::from_str::<Value>(&row.body).ok().and_then(|b| {
        b.get("consent_id")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let body = html! {
        (nav(lang))
        section {
            table data-testid="entry" {
                tr { th { (lang.t("index")) } td { (row.index) } }
                tr { th { (lang.t("time")) } td { (display_time(row.created_at)) } }
                tr { th { (lang.t("kind")) } td { (row.kind) } }
                tr { th { (lang.t("customer")) } td.mono { (row.customer_ref.as_deref().unwrap_or("—")) } }
                tr { th { "Body" } td.mono { (row.body) } }
                tr { th { "Leaf hash" } td.mono { (hex::encode(&row.leaf_hash)) } }
                tr { th { "Previous hash" } td.mono { (hex::encode(&row.prev_hash)) } }
            }
            @if let Some(id) = &consent_id {
                p { a href={ "/console/receipts/" (id) } data-testid="receipt-link" { (lang.t("receipt")) " " (id) } }
            }
        }
        section {
            h2 { "Inclusion proof (RFC 9162)" }
            table data-testid="inclusion-proof" {
                tr { th { "Tree size" } td { (proof.tree_size) } }
                tr { th { "Root hash" } td.mono data-testid="root-hash" { (proof.root_hash) } }
                tr { th { "Audit path" } td.mono {
                    @for h in &proof.audit_path { (h) br; }
                } }
                @if let Some(head) = &proof.tree_head {
                    tr { th { (lang.t("tree_heads")) } td.mono { (head.jws) } }
                }
            }
        }
    };
    Ok(web::page(lang, lang.t("receipt"), Some(&me.user), body))
}

/// A consent receipt (Kantara v1.1) with its signature, and a link to its log entry's proof.
async fn receipt(
    State(state): State<AppState>,
    lang: Lang,
    me: StaffUser,
    Path(consent_id): Path<String>,
) -> Result<Markup, PageError> {
    if !valid_filter_value(&consent_id) {
        return Err(PageError::not_found(lang));
    }
    let consent = store::consents::get(&state.db, &me.tenant, &consent_id)
        .await
        .map_err(web::internal(lang))?
        .ok_or_else(|| PageError::not_found(lang))?;
    audit_staff(
        &state,
        &me,
        "view_receipt",
        consent.customer_ref.parse().ok(),
        json!({ "consent_id": consent_id }),
        lang,
    )
    .await?;
    let signed = crate::consent::service::receipt(&state, &me.tenant, &consent_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "receipt failed");
            PageError::internal(lang)
        })?;
    let pretty = serde_json::to_string_pretty(&signed.receipt).unwrap_or_default();
    let body = html! {
        (nav(lang))
        section {
            p { a href={ "/console/entries/" (consent.ledger_index) } data-testid="proof-link" { "Inclusion proof of log entry " (consent.ledger_index) } }
            pre.mono data-testid="receipt" { (pretty) }
            h2 { "JWS" }
            p.mono { (signed.jws) }
        }
    };
    Ok(web::page(lang, lang.t("receipt"), Some(&me.user), body))
}

fn log_page(
    lang: Lang,
    me: &StaffUser,
    heads: &[store::ledger::TreeHeadRow],
    report: Option<&crate::ledger::verify::VerifyReport>,
) -> Markup {
    let body = html! {
        (nav(lang))
        section {
            form method="post" action="/console/log/verify" {
                input type="hidden" name="csrf" value=(me.user.csrf());
                button type="submit" data-testid="verify" { (lang.t("verify")) }
            }
            @if let Some(r) = report {
                @if r.ok() {
                    p.ok role="status" data-testid="verify-result" data-ok="true" {
                        "✔ " (r.entries) " entries, " (r.tree_heads) " signed tree heads, "
                        (r.checkpoints) " external checkpoints, " (r.consent_rows_checked)
                        " consent rows verified; entries 0–" (r.proven_size) " proven outside the database"
                        @if r.witnessed_size > 0 { ", " (r.witnessed_size) " witnessed" } "."
                    }
                } @else {
                    p.error role="alert" data-testid="verify-result" data-ok="false" {
                        "✘ " (r.fault.as_deref().unwrap_or(""))
                    }
                }
            }
        }
        section {
            h2 { (lang.t("tree_heads")) }
            table data-testid="tree-heads" {
                tr { th { "Tree size" } th { (lang.t("time")) } th { "Root hash" } th { "JWS" } }
                @for h in heads.iter().rev().take(50) {
                    tr {
                        td { (h.tree_size) }
                        td { (display_time(h.created_at)) }
                        td.mono { (hex::encode(&h.root_hash)) }
                        td.mono { (h.jws) }
                    }
                }
            }
        }
    };
    web::page(lang, lang.t("log"), Some(&me.user), body)
}

async fn log(
    State(state): State<AppState>,
    lang: Lang,
    me: StaffUser,
) -> Result<Markup, PageError> {
    audit_staff(&state, &me, "view_tree_heads", None, json!({}), lang).await?;
    let heads = store::ledger::tree_heads(&state.db, me.tenant.as_str())
        .await
        .map_err(web::internal(lang))?;
    Ok(log_page(lang, &me, &heads, None))
}

async fn verify(
    State(state): State<AppState>,
    lang: Lang,
    me: StaffUser,
    Form(form): Form<CsrfForm>,
) -> Result<Markup, PageError> {
    me.user.check_csrf(&form.csrf, lang)?;
    audit_staff(&state, &me, "verify_log", None, json!({}), lang).await?;
    let report = crate::audit::verify_in_service(&state, me.tenant.as_str())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "verification could not run");
            PageError::internal(lang)
        })?;
    let heads = store::ledger::tree_heads(&state.db, me.tenant.as_str())
        .await
        .map_err(web::internal(lang))?;
    Ok(log_page(lang, &me, &heads, Some(&report)))
}

/// The consent purposes and notices in force for this tenant, with their history.
async fn policies(
    State(state): State<AppState>,
    lang: Lang,
    me: StaffUser,
) -> Result<Markup, PageError> {
    audit_staff(&state, &me, "view_policies", None, json!({}), lang).await?;
    let set = state.consents.catalogue.for_tenant(me.tenant.as_str());
    let mut purposes: Vec<_> = set.purposes.values().collect();
    purposes.sort_by_key(|p| p.purpose.as_str());
    let tenant = store::tenants::get(&state.db, &me.tenant)
        .await
        .map_err(web::internal(lang))?;
    let policy = tenant.and_then(|t| state.policies.for_tenant(&me.tenant, t.sector).ok());
    let history = match &policy {
        Some(p) => store::policies::history(&state.db, &p.id)
            .await
            .map_err(web::internal(lang))?,
        None => Vec::new(),
    };
    let body = html! {
        (nav(lang))
        @if let Some(policy) = &policy {
            section data-testid="sector-policy" {
                h2 { "Authentication policy " span.mono { (policy.id) "@" (policy.version) } }
                p.muted { (policy.description) }
                p { "SHA-256 " span.mono { (policy.hash) } }
                details {
                    summary { "Rules" }
                    pre.mono { (serde_json::to_string_pretty(policy.as_ref()).unwrap_or_default()) }
                }
                h3 { (lang.t("policy_history")) }
                table data-testid="policy-history" {
                    tr { th { (lang.t("version")) } th { "SHA-256" } th { (lang.t("first_loaded")) } th { (lang.t("last_loaded")) } th { (lang.t("status")) } th { (lang.t("text")) } }
                    @for v in &history {
                        tr data-hash=(v.sha256) data-verified=(content_matches(&v.content, &v.sha256)) {
                            td { (v.version) }
                            td.mono { (v.sha256) }
                            td { (display_time(v.first_loaded_at)) }
                            td { (display_time(v.last_loaded_at)) }
                            td { @if v.sha256 == policy.hash { "in force" } @else { "superseded" } }
                            td { details { summary { (lang.t("show")) } pre.mono { (v.content) } } }
                        }
                    }
                }
            }
        }
        @for p in purposes {
            section data-purpose=(p.purpose.as_str()) {
                h2 { (p.title) " " span.muted.mono { (p.purpose.as_str()) } }
                p.muted {
                    "Capture: " (p.accepted_methods.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "))
                    " · scopes: " (p.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
                    " · valid " (p.validity_secs / 86_400) " days"
                    @if !p.template_modalities.is_empty() {
                        " · templates: " (p.template_modalities.join(", "))
                        " · retention " (p.template_retention_days) " days"
                    }
                }
                table {
                    tr { th { (lang.t("version")) } th { "SHA-256" } th { (lang.t("status")) } th { (lang.t("notice")) } }
                    @for n in &p.notices {
                        tr {
                            td { (n.version) }
                            td.mono { (n.hash) }
                            td { @if n.retired { "retired" } @else { "in force" } }
                            td.notice { (n.text.get(lang.code()).or_else(|| n.text.get("en")).map(String::as_str).unwrap_or("")) }
                        }
                    }
                }
            }
        }
    };
    Ok(web::page(lang, lang.t("policies"), Some(&me.user), body))
}

/// Whether stored policy text still hashes to the hash decisions recorded (shown, not trusted).
fn content_matches(content: &str, sha256: &str) -> bool {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        content.as_bytes(),
    )) == sha256
}

/// Every model the service loaded, with its provenance and the thresholds in use.
async fn models(
    State(state): State<AppState>,
    lang: Lang,
    me: StaffUser,
) -> Result<Markup, PageError> {
    audit_staff(&state, &me, "view_models", None, json!({}), lang).await?;
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
        h2 { (lang.t("calibration")) }
        @for a in state.models.manifest.artifacts.iter().filter(|a| a.id.starts_with(CALIBRATION_PREFIX)) {
            figure data-testid="calibration" {
                img src={ "/console/models/calibration/" (a.id) } alt={ (a.id) } width="640";
                figcaption { span.mono { (a.id) } " — " (a.description) " · sha256 " span.mono { (a.sha256) } }
            }
        }
    };
    Ok(web::page(lang, lang.t("models"), Some(&me.user), body))
}

/// One calibration image, from the verified artifact bytes loaded at start-up (never from a
/// path the request names).
async fn calibration_image(
    State(state): State<AppState>,
    lang: Lang,
    _me: StaffUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let not_found = || PageError::not_found(lang);
    if !id.starts_with(CALIBRATION_PREFIX) {
        return Err(not_found());
    }
    let bytes = state.models.artifact(&id).map_err(|_| not_found())?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            ),
        ],
        bytes.to_vec(),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let mut s = String::new();
        csv_field(&mut s, "plain");
        s.push('|');
        csv_field(&mut s, r#"{"a":"b,c"}"#);
        assert_eq!(s, r#"plain|"{""a"":""b,c""}""#);
    }

    #[test]
    fn search_filters_reject_unsafe_values_and_parse_dates() {
        let q = SearchQuery {
            purpose: "camera".into(),
            from: "2026-01-02".into(),
            to: "2026-01-02".into(),
            ..SearchQuery::default()
        };
        let f = q.filter().expect("valid");
        assert_eq!(f.to_ms.unwrap_or(0) - f.from_ms.unwrap_or(0), 86_400_000);
        let bad = SearchQuery {
            customer: "x\"%".into(),
            ..SearchQuery::default()
        };
        assert!(bad.filter().is_err());
        let bad = SearchQuery {
            from: "yesterday".into(),
            ..SearchQuery::default()
        };
        assert!(bad.filter().is_err());
    }
}
