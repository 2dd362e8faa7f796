//! Consent events as the log records them (pure). The `consents` table is a mutable index of
//! the log, not evidence: receipts are built from the logged `consent_granted` entry, and
//! `audit verify` flags any row that disagrees with its entries.

use serde_json::Value;

use crate::store::{consents::ConsentRow, ledger::EntryRow};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoggedError {
    #[error("log entry {index} is a `{kind}` entry, not `{expected}`")]
    WrongKind {
        index: u64,
        kind: String,
        expected: &'static str,
    },
    #[error("log entry {index} records consent {found}, not {expected}")]
    OtherConsent {
        index: u64,
        found: String,
        expected: String,
    },
    #[error("log entry {index} lacks field `{field}`")]
    Missing { index: u64, field: &'static str },
}

/// A grant as its `consent_granted` entry records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedGrant {
    pub index: u64,
    pub consent_id: String,
    pub purpose: String,
    pub notice_version: String,
    pub notice_hash: String,
    pub language: String,
    pub capture_method: String,
    pub witness: Option<String>,
    pub scope: String,
    pub session_id: Option<String>,
    pub valid_until: i64,
    /// The grant's own time when the entry records it (entries since issue 14); else the
    /// entry's time, a few milliseconds after the grant's.
    pub granted_at: i64,
    granted_at_logged: bool,
    /// What exactly the customer allowed (the camera choice), when the grant has terms.
    pub terms: Option<Value>,
}

/// The end of a consent (`consent_withdrawn` / `consent_expired`) as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEnd {
    pub index: u64,
    pub consent_id: String,
    pub reason: String,
    /// Absent on ends the retention pass appended after a crash (`recovered`).
    pub method: Option<String>,
    pub ended_at: i64,
}

fn text(body: &Value, index: u64, field: &'static str) -> Result<String, LoggedError> {
    body.get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or(LoggedError::Missing { index, field })
}

fn body_of(entry: &EntryRow) -> Value {
    serde_json::from_str(&entry.body).unwrap_or(Value::Null)
}

/// Read a `consent_granted` entry; `consent_id` is the consent the caller expects there.
pub fn grant_from_entry(entry: &EntryRow, consent_id: &str) -> Result<LoggedGrant, LoggedError> {
    let index = entry.index;
    if entry.kind != "consent_granted" {
        return Err(LoggedError::WrongKind {
            index,
            kind: entry.kind.clone(),
            expected: "consent_granted",
        });
    }
    let body = body_of(entry);
    let found = text(&body, index, "consent_id")?;
    if found != consent_id {
        return Err(LoggedError::OtherConsent {
            index,
            found,
            expected: consent_id.into(),
        });
    }
    let logged_at = body.get("granted_at").and_then(Value::as_i64);
    Ok(LoggedGrant {
        index,
        consent_id: found,
        purpose: text(&body, index, "purpose")?,
        notice_version: text(&body, index, "notice_version")?,
        notice_hash: text(&body, index, "notice_hash")?,
        language: text(&body, index, "language")?,
        capture_method: text(&body, index, "capture_method")?,
        witness: body
            .get("witness")
            .and_then(Value::as_str)
            .map(str::to_string),
        scope: text(&body, index, "scope")?,
        session_id: entry.session_id.clone(),
        valid_until: body.get("valid_until").and_then(Value::as_i64).ok_or(
            LoggedError::Missing {
                index,
                field: "valid_until",
            },
        )?,
        granted_at: logged_at.unwrap_or(entry.created_at),
        granted_at_logged: logged_at.is_some(),
        terms: body.get("terms").filter(|t| !t.is_null()).cloned(),
    })
}

/// Read a consent end entry (any consent).
pub fn end_from_entry(entry: &EntryRow) -> Result<LoggedEnd, LoggedError> {
    let index = entry.index;
    if entry.kind != "consent_withdrawn" && entry.kind != "consent_expired" {
        return Err(LoggedError::WrongKind {
            index,
            kind: entry.kind.clone(),
            expected: "consent_withdrawn",
        });
    }
    let body = body_of(entry);
    Ok(LoggedEnd {
        index,
        consent_id: text(&body, index, "consent_id")?,
        reason: text(&body, index, "reason")?,
        method: body
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string),
        ended_at: body
            .get("ended_at")
            .and_then(Value::as_i64)
            .unwrap_or(entry.created_at),
    })
}

impl LoggedGrant {
    /// The consent as logged, for a receipt: every field from the entry; the customer is the
    /// caller's (checked against the entry's commitment before this is called); the end, if
    /// any, from its logged entry.
    pub fn to_row(&self, customer_ref: &str, end: Option<&LoggedEnd>) -> ConsentRow {
        ConsentRow {
            consent_id: self.consent_id.clone(),
            customer_ref: customer_ref.to_string(),
            purpose: self.purpose.clone(),
            notice_version: self.notice_version.clone(),
            notice_hash: self.notice_hash.clone(),
            language: self.language.clone(),
            capture_method: self.capture_method.clone(),
            witness: self.witness.clone(),
            scope: self.scope.clone(),
            session_id: self.session_id.clone(),
            granted_at: self.granted_at,
            valid_until: self.valid_until,
            ended_at: end.map(|e| e.ended_at),
            end_reason: end.map(|e| e.reason.clone()),
            ledger_index: self.index as i64,
            end_ledger_index: end.map(|e| e.index as i64),
            // The camera choice as logged: the grant carries what the log says was chosen.
            terms: self.terms.as_ref().map(Value::to_string),
        }
    }

    /// The row's fields that disagree with this entry (empty: they agree).
    pub fn differences(&self, row: &ConsentRow) -> Vec<&'static str> {
        let mut out = Vec::new();
        let row_terms: Option<Value> = row
            .terms
            .as_deref()
            .map(|t| serde_json::from_str(t).unwrap_or(Value::Null));
        let checks: [(&'static str, bool); 12] = [
            ("terms", row_terms == self.terms),
            ("ledger_index", row.ledger_index == self.index as i64),
            ("purpose", row.purpose == self.purpose),
            ("notice_version", row.notice_version == self.notice_version),
            ("notice_hash", row.notice_hash == self.notice_hash),
            ("language", row.language == self.language),
            ("capture_method", row.capture_method == self.capture_method),
            ("witness", row.witness == self.witness),
            ("scope", row.scope == self.scope),
            ("session_id", row.session_id == self.session_id),
            ("valid_until", row.valid_until == self.valid_until),
            (
                "granted_at",
                !self.granted_at_logged || row.granted_at == self.granted_at,
            ),
        ];
        for (field, same) in checks {
            if !same {
                out.push(field);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(kind: &str, body: &str) -> EntryRow {
        EntryRow {
            index: 7,
            prev_hash: vec![0; 32],
            leaf_hash: vec![0; 32],
            kind: kind.into(),
            created_at: 1_000,
            session_id: Some("s-1".into()),
            customer_commitment: None,
            customer_ref: Some("c-1".into()),
            body: body.into(),
        }
    }

    const GRANT: &str = r#"{"consent_id":"k-1","purpose":"camera","notice_version":"1","notice_hash":"ab","language":"en","capture_method":"customer_device","witness":null,"scope":"session","valid_until":5000,"granted_at":990}"#;

    #[test]
    fn a_row_that_matches_its_entry_has_no_differences() {
        let grant = grant_from_entry(&entry("consent_granted", GRANT), "k-1").unwrap();
        let row = grant.to_row("c-1", None);
        assert!(grant.differences(&row).is_empty());
        assert_eq!(row.granted_at, 990);
        let mut edited = row.clone();
        edited.capture_method = "verbal_witnessed".into();
        edited.valid_until = 9_999_999;
        assert_eq!(
            grant.differences(&edited),
            vec!["capture_method", "valid_until"]
        );
    }

    #[test]
    fn the_camera_choice_comes_from_the_log_and_an_edited_one_differs() {
        let logged = GRANT.replace(
            r#""granted_at":990"#,
            r#""granted_at":990,"terms":{"mode":"one_way","background_blur":true}"#,
        );
        let grant = grant_from_entry(&entry("consent_granted", &logged), "k-1").unwrap();
        let row = grant.to_row("c-1", None);
        let terms: Value = serde_json::from_str(row.terms.as_deref().unwrap()).unwrap();
        assert_eq!(terms["mode"], "one_way");
        assert!(grant.differences(&row).is_empty());
        let mut edited = row.clone();
        edited.terms = Some(r#"{"mode":"two_way","background_blur":false}"#.into());
        assert_eq!(grant.differences(&edited), vec!["terms"]);
        // A grant without terms stays without (every consent but the camera's).
        let plain = grant_from_entry(&entry("consent_granted", GRANT), "k-1").unwrap();
        assert_eq!(plain.to_row("c-1", None).terms, None);
    }

    #[test]
    fn entries_for_another_consent_or_kind_are_refused() {
        assert!(matches!(
            grant_from_entry(&entry("consent_granted", GRANT), "k-2"),
            Err(LoggedError::OtherConsent { .. })
        ));
        assert!(matches!(
            grant_from_entry(&entry("decision", GRANT), "k-1"),
            Err(LoggedError::WrongKind { .. })
        ));
        let end = end_from_entry(&entry(
            "consent_withdrawn",
            r#"{"consent_id":"k-1","purpose":"camera","reason":"withdrawn","method":"api"}"#,
        ))
        .unwrap();
        assert_eq!((end.ended_at, end.index), (1_000, 7));
    }
}
