//! `audit verify`, consent part: every consent row against the log entries it names. Runs
//! after the log itself verified, so the entries are the evidence and the rows are checked.
//!
//! Flags a row with no `consent_granted` entry (planted), a row whose fields differ from its
//! entry (capture method, validity, ...), a row whose customer is not the one the entry's
//! hashed commitment names, and a row still in force although the log records its end.

use std::collections::HashMap;

use super::logged::{self, LoggedEnd, LoggedGrant};
use crate::{
    ledger::{LedgerError, entry, verify::VerifyReport},
    store::{self, Db},
};

const PAGE: u32 = 5_000;

struct Logged {
    grant: LoggedGrant,
    commitment: Option<Vec<u8>>,
    /// The entry's plain customer reference (checked against the commitment by the log pass).
    customer_ref: Option<String>,
}

pub async fn check_consents(
    db: &Db,
    tenant: &str,
    report: &mut VerifyReport,
) -> Result<(), LedgerError> {
    let mut grants: HashMap<String, Logged> = HashMap::new();
    let mut ends: HashMap<String, LoggedEnd> = HashMap::new();
    let kinds = ["consent_granted", "consent_withdrawn", "consent_expired"];
    let mut from = 0;
    loop {
        let rows = store::ledger::entries_of_kinds(db, tenant, &kinds, from, PAGE).await?;
        for e in &rows {
            if e.kind == "consent_granted" {
                let id = serde_json::from_str::<serde_json::Value>(&e.body)
                    .ok()
                    .and_then(|b| b["consent_id"].as_str().map(str::to_string))
                    .unwrap_or_default();
                if let Ok(grant) = logged::grant_from_entry(e, &id) {
                    grants.insert(
                        id,
                        Logged {
                            grant,
                            commitment: e.customer_commitment.clone(),
                            customer_ref: e.customer_ref.clone(),
                        },
                    );
                }
            } else if let Ok(end) = logged::end_from_entry(e) {
                ends.entry(end.consent_id.clone()).or_insert(end);
            }
        }
        match rows.last() {
            Some(last) if rows.len() == PAGE as usize => from = last.index + 1,
            _ => break,
        }
    }

    let mut after = String::new();
    loop {
        let rows = store::consents::page(db, tenant, &after, PAGE).await?;
        for row in &rows {
            let fault = |what: String| Some(format!("consent {}: {what}", row.consent_id));
            let found = match grants.get(&row.consent_id) {
                None => {
                    fault("no consent_granted entry in the log records it (row planted)".into())
                }
                Some(logged) => {
                    let diffs = logged.grant.differences(row);
                    if !diffs.is_empty() {
                        fault(format!(
                            "its row disagrees with its log entry {} in {} (row edited)",
                            logged.grant.index,
                            diffs.join(", ")
                        ))
                    } else if !customer_matches(db, tenant, &row.customer_ref, logged).await? {
                        fault(format!(
                            "its row names a customer other than the one log entry {} commits to (row edited)",
                            logged.grant.index
                        ))
                    } else {
                        match (ends.get(&row.consent_id), row.ended_at) {
                            (Some(end), None) => fault(format!(
                                "the log records its end (entry {}) but its row is still in force (row edited)",
                                end.index
                            )),
                            (Some(end), Some(_))
                                if row.end_ledger_index.is_some_and(|i| i != end.index as i64) =>
                            {
                                fault(format!(
                                    "its row names end entry {:?} but the log records its end at entry {}",
                                    row.end_ledger_index, end.index
                                ))
                            }
                            (None, _) if row.end_ledger_index.is_some() => {
                                fault("its row names an end entry the log does not have".into())
                            }
                            _ => None,
                        }
                    }
                }
            };
            if let Some(fault) = found {
                report.fault = Some(fault);
                report.first_bad_entry = None;
                return Ok(());
            }
            report.consent_rows_checked += 1;
        }
        match rows.last() {
            Some(last) if rows.len() == PAGE as usize => after = last.consent_id.clone(),
            _ => break,
        }
    }
    Ok(())
}

/// The row's customer is the one the grant entry's commitment was made for. Without the
/// row customer's salt, the entry's plain reference (itself checked against the commitment by
/// the log pass) must be the row's; when both are gone the customer was erased: nothing links.
async fn customer_matches(
    db: &Db,
    tenant: &str,
    customer: &str,
    logged: &Logged,
) -> Result<bool, LedgerError> {
    match store::ledger::salt(db, tenant, customer).await? {
        Some(salt) => {
            Ok(logged.commitment.as_deref()
                == Some(&entry::customer_commitment(&salt, customer)[..]))
        }
        None => Ok(logged
            .customer_ref
            .as_deref()
            .is_none_or(|logged| logged == customer)),
    }
}
