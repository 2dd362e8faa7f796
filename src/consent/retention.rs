//! Retention (Illinois BIPA §15(a)): "a private entity in possession of biometric identifiers
//! ... must ... permanently destroy[] [them] when the initial purpose for collecting or
//! obtaining such identifiers ... has been satisfied or within 3 years of the individual's
//! last interaction with the private entity, whichever occurs first."
//!
//! The job (every hour in `trustline serve`, or `trustline retention run`):
//! 1. ends consents whose validity passed (`consent_expired` in the log);
//! 2. destroys every template whose enrolment consent is no longer in force (purpose ended);
//! 3. destroys every template whose last interaction is older than the purpose's
//!    `template_retention_days` (at most 1,095 days);
//!
//! and logs each destruction (`template_deleted`, with modality, model and reason).

use serde::Serialize;
use serde_json::json;

use super::{Purpose, service::ServiceError};
use crate::{
    AppState,
    biometrics::templates,
    ledger::LedgerEvent,
    store::{self, now_ms},
    tenants::{CustomerRef, TenantId},
};

/// Why a template is destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DestroyReason {
    /// The enrolment consent was withdrawn or expired.
    PurposeEnded,
    /// No interaction within the retention limit.
    RetentionLimit,
}

impl DestroyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DestroyReason::PurposeEnded => "purpose_ended",
            DestroyReason::RetentionLimit => "retention_limit",
        }
    }
}

/// The enrolment purpose that covers a template modality.
pub fn purpose_of(modality: &str) -> Option<Purpose> {
    match modality {
        "voice" => Some(Purpose::VoiceprintEnrolment),
        "keystroke_fixed" | "keystroke_free" => Some(Purpose::KeystrokeEnrolment),
        _ => None,
    }
}

/// The rule (pure): destroy when the purpose ended, or when the last interaction is older than
/// the limit, whichever comes first.
pub fn verdict(
    consent_in_force: bool,
    last_interaction_ms: i64,
    retention_days: u32,
    now_ms: i64,
) -> Option<DestroyReason> {
    if !consent_in_force {
        return Some(DestroyReason::PurposeEnded);
    }
    let limit_ms = i64::from(retention_days) * 86_400_000;
    if now_ms.saturating_sub(last_interaction_ms) >= limit_ms {
        return Some(DestroyReason::RetentionLimit);
    }
    None
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionReport {
    /// Ends (withdrawal, expiry) whose log entry a crash prevented, appended now.
    pub ends_relogged: u64,
    pub consents_expired: u64,
    pub templates_destroyed: u64,
    pub purpose_ended: u64,
    pub retention_limit: u64,
}

async fn destroy(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    modality: &str,
    reason: DestroyReason,
) -> Result<bool, ServiceError> {
    let why = templates::Destruction {
        by: "retention",
        reason: reason.as_str(),
    };
    Ok(templates::destroy(state, tenant, customer, modality, why).await?)
}

/// After a withdrawal: destroy at once the templates the purpose covered, unless another
/// consent for the same purpose is still in force.
pub async fn destroy_if_purpose_ended(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    purpose: Purpose,
) -> Result<u64, ServiceError> {
    let spec = state
        .consents
        .catalogue
        .for_tenant(tenant.as_str())
        .get(purpose);
    let Some(spec) = spec else { return Ok(0) };
    if spec.template_modalities.is_empty() {
        return Ok(0);
    }
    let open = store::consents::in_force(
        &state.db,
        tenant,
        customer,
        purpose.as_str(),
        None,
        now_ms(),
    )
    .await?;
    if !open.is_empty() {
        return Ok(0);
    }
    let mut destroyed = 0;
    for t in store::templates::list_templates(&state.db, tenant, customer).await? {
        if spec.template_modalities.contains(&t.modality)
            && destroy(
                state,
                tenant,
                customer,
                &t.modality,
                DestroyReason::PurposeEnded,
            )
            .await?
        {
            destroyed += 1;
        }
    }
    Ok(destroyed)
}

/// A withdrawal ends the row first (it takes effect at once) and then appends its entry; a
/// crash in between leaves an ended consent the log does not show. Append those entries now
/// (marked `recovered`), for ends older than a minute so in-flight ones are left alone.
async fn relog_unlogged_ends(state: &AppState, now: i64) -> Result<u64, ServiceError> {
    const SETTLE_MS: i64 = 60_000;
    let mut relogged = 0;
    loop {
        let page = store::consents::ended_unlogged(&state.db, now - SETTLE_MS, 500).await?;
        if page.is_empty() {
            return Ok(relogged);
        }
        for (tenant, consent) in &page {
            let reason = consent.end_reason.as_deref().unwrap_or("withdrawn");
            let kind = if reason == "expired" {
                "consent_expired"
            } else {
                "consent_withdrawn"
            };
            let logged = state
                .ledger
                .append(
                    tenant,
                    LedgerEvent {
                        kind: kind.into(),
                        customer: consent.customer_ref.parse().ok(),
                        session_id: consent.session_id.clone(),
                        body: json!({
                            "consent_id": consent.consent_id,
                            "purpose": consent.purpose,
                            "reason": reason,
                            "ended_at": consent.ended_at,
                            "recovered": true,
                        }),
                    },
                )
                .await?;
            store::consents::set_end_ledger_index(
                &state.db,
                tenant,
                &consent.consent_id,
                logged.index,
            )
            .await?;
            tracing::warn!(tenant = %tenant, index = logged.index, "consent end was not logged; appended now");
            relogged += 1;
        }
    }
}

/// One pass of the retention job.
pub async fn run(state: &AppState) -> Result<RetentionReport, ServiceError> {
    let mut report = RetentionReport::default();
    let now = now_ms();
    report.ends_relogged = relog_unlogged_ends(state, now).await?;
    loop {
        let expired = store::consents::expired_open(&state.db, now, 500).await?;
        if expired.is_empty() {
            break;
        }
        for (tenant, consent) in &expired {
            if super::service::end_consent(state, tenant, consent, "expired", "retention", now)
                .await?
                .is_some()
            {
                report.consents_expired += 1;
            }
        }
    }
    let mut after: Option<(String, String, String)> = None;
    loop {
        let page = store::templates::retention_page(
            &state.db,
            after
                .as_ref()
                .map(|(t, c, m)| (t.as_str(), c.as_str(), m.as_str())),
            500,
        )
        .await?;
        let Some(last) = page.last() else { break };
        after = Some((
            last.tenant_id.clone(),
            last.customer_ref.clone(),
            last.modality.clone(),
        ));
        for t in &page {
            let (Ok(tenant), Ok(customer)) = (
                t.tenant_id.parse::<TenantId>(),
                t.customer_ref.parse::<CustomerRef>(),
            ) else {
                continue;
            };
            let Some(purpose) = purpose_of(&t.modality) else {
                continue;
            };
            let days = state
                .consents
                .catalogue
                .for_tenant(tenant.as_str())
                .get(purpose)
                .map_or(1095, |s| s.template_retention_days);
            // By the log, not the row: a row un-withdrawn in the database keeps nothing alive.
            let in_force = super::in_force_logged(state, &tenant, &customer, purpose)
                .await
                .map_err(|e| match e {
                    super::ConsentError::Store(e) => ServiceError::Store(e),
                    other => ServiceError::LogMismatch(other.to_string()),
                })?;
            if let Some(reason) = verdict(in_force, t.last_interaction, days, now)
                && destroy(state, &tenant, &customer, &t.modality, reason).await?
            {
                report.templates_destroyed += 1;
                match reason {
                    DestroyReason::PurposeEnded => report.purpose_ended += 1,
                    DestroyReason::RetentionLimit => report.retention_limit += 1,
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destroy_when_purpose_ends_or_three_years_pass_whichever_first() {
        let day = 86_400_000i64;
        let now = 5_000 * day;
        assert_eq!(
            verdict(false, now, 1095, now),
            Some(DestroyReason::PurposeEnded)
        );
        assert_eq!(verdict(true, now - 1094 * day, 1095, now), None);
        assert_eq!(
            verdict(true, now - 1095 * day, 1095, now),
            Some(DestroyReason::RetentionLimit)
        );
        assert_eq!(purpose_of("voice"), Some(Purpose::VoiceprintEnrolment));
        assert_eq!(
            purpose_of("keystroke_free"),
            Some(Purpose::KeystrokeEnrolment)
        );
        assert_eq!(purpose_of("face"), None);
    }
}
