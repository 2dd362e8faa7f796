//! Consent rules (pure): what a grant must carry to count, and when a consent is in force.

use serde::{Deserialize, Serialize};

use super::{
    CaptureMethod, ConsentScope, Purpose,
    catalogue::{Notice, PurposeSpec},
};

/// The JWS `typ` of a customer session credential: proof that the customer themself, on their
/// own device, is acting. Issued by trustline (privacy centre / verified-session flows) and
/// presented by the customer's device; an agent desktop never holds one for the customer.
pub const CUSTOMER_CREDENTIAL_TYP: &str = "trustline-customer+jwt";
/// The JWS `typ` of a camera grant.
pub const CAMERA_GRANT_TYP: &str = "trustline-camera-grant+jwt";
/// Camera grants are short-lived: the video client must ask again (and consent must still
/// exist) every minute.
pub const CAMERA_GRANT_TTL_SECS: i64 = 60;

/// Claims of a customer session credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerCredentialClaims {
    pub tenant: String,
    /// The customer reference.
    pub sub: String,
    /// The session the credential was issued in, when it is bound to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Seconds since the epoch.
    pub exp: i64,
}

/// How the grant was captured, as the caller states it (the credential already verified).
#[derive(Debug, Clone)]
pub enum CaptureEvidence {
    CustomerDevice(CustomerCredentialClaims),
    Dtmf { ivr_call_id: String },
    VerbalWitnessed { witness: String },
}

impl CaptureEvidence {
    pub fn method(&self) -> CaptureMethod {
        match self {
            CaptureEvidence::CustomerDevice(_) => CaptureMethod::CustomerDevice,
            CaptureEvidence::Dtmf { .. } => CaptureMethod::Dtmf,
            CaptureEvidence::VerbalWitnessed { .. } => CaptureMethod::VerbalWitnessed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantRefusal {
    #[error("notice version `{0}` does not exist for this purpose")]
    UnknownNotice(String),
    #[error("notice version `{0}` is retired; show the current notice")]
    RetiredNotice(String),
    #[error("this purpose does not accept capture by {0}")]
    MethodNotAccepted(&'static str),
    #[error("this purpose does not accept {0} scope")]
    ScopeNotAccepted(&'static str),
    #[error("session scope needs a session id")]
    SessionRequired,
    #[error("the customer credential is not for this tenant, customer or session, or has expired")]
    CredentialMismatch,
    #[error("a witness (the agent's id) is required for verbal consent")]
    WitnessRequired,
}

/// A grant that passed every rule.
#[derive(Debug, Clone)]
pub struct ValidGrant<'a> {
    pub notice: &'a Notice,
    pub scope: ConsentScope,
    pub valid_until: i64,
}

pub struct GrantInput<'a> {
    pub tenant: &'a str,
    pub customer: &'a str,
    pub notice_version: &'a str,
    pub scope: Option<ConsentScope>,
    pub session_id: Option<&'a str>,
    pub evidence: &'a CaptureEvidence,
    pub valid_for_secs: Option<u64>,
    pub now_ms: i64,
}

/// Decide whether a grant counts. Camera consent is accepted only from the customer's own
/// device (the catalogue refuses anything else, and this checks again).
pub fn validate_grant<'a>(
    spec: &'a PurposeSpec,
    input: &GrantInput<'_>,
) -> Result<ValidGrant<'a>, GrantRefusal> {
    let notice = spec
        .notice(input.notice_version)
        .ok_or_else(|| GrantRefusal::UnknownNotice(input.notice_version.to_string()))?;
    if notice.retired {
        return Err(GrantRefusal::RetiredNotice(notice.version.clone()));
    }
    let method = input.evidence.method();
    if !spec.accepted_methods.contains(&method)
        || (spec.purpose == Purpose::Camera && method != CaptureMethod::CustomerDevice)
    {
        return Err(GrantRefusal::MethodNotAccepted(method.as_str()));
    }
    let scope = input.scope.unwrap_or(spec.scopes[0]);
    if !spec.scopes.contains(&scope) {
        return Err(GrantRefusal::ScopeNotAccepted(scope.as_str()));
    }
    if scope == ConsentScope::Session && input.session_id.is_none() {
        return Err(GrantRefusal::SessionRequired);
    }
    match input.evidence {
        CaptureEvidence::CustomerDevice(claims) => {
            let session_ok = match (&claims.sid, input.session_id) {
                (Some(bound), Some(session)) => bound == session,
                (Some(_), None) => true,
                (None, _) => scope == ConsentScope::Standing,
            };
            if claims.tenant != input.tenant
                || claims.sub != input.customer
                || claims.exp * 1000 <= input.now_ms
                || !session_ok
            {
                return Err(GrantRefusal::CredentialMismatch);
            }
        }
        CaptureEvidence::VerbalWitnessed { witness } if witness.trim().is_empty() => {
            return Err(GrantRefusal::WitnessRequired);
        }
        _ => {}
    }
    let max = spec.validity_secs;
    let secs = input.valid_for_secs.unwrap_or(max).clamp(1, max);
    Ok(ValidGrant {
        notice,
        scope,
        valid_until: input.now_ms + (secs as i64) * 1000,
    })
}

/// A consent is in force while it has not ended and its validity has not passed.
pub fn in_force(ended_at: Option<i64>, valid_until: i64, now_ms: i64) -> bool {
    ended_at.is_none() && valid_until > now_ms
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::consent::catalogue::parse_purpose;

    fn spec(purpose: &str, methods: &str, scopes: &str) -> PurposeSpec {
        parse_purpose(&format!(
            r#"purpose = "{purpose}"
title = "t"
accepted_methods = [{methods}]
scopes = [{scopes}]
validity_secs = 600
sensitive = true
spi_categories = []
pii_categories = []
policy_url = "x"
[[notices]]
version = "1"
retired = true
[notices.text]
en = "old"
[[notices]]
version = "2"
[notices.text]
en = "new"
"#
        ))
        .unwrap()
    }

    fn claims(sid: Option<&str>) -> CaptureEvidence {
        CaptureEvidence::CustomerDevice(CustomerCredentialClaims {
            tenant: "t1".into(),
            sub: "c1".into(),
            sid: sid.map(str::to_string),
            exp: 2_000,
        })
    }

    fn input<'a>(evidence: &'a CaptureEvidence, session: Option<&'a str>) -> GrantInput<'a> {
        GrantInput {
            tenant: "t1",
            customer: "c1",
            notice_version: "2",
            scope: None,
            session_id: session,
            evidence,
            valid_for_secs: None,
            now_ms: 1_000_000,
        }
    }

    #[test]
    fn camera_needs_the_customers_own_credential_for_this_session() {
        let camera = spec("camera", r#""customer_device""#, r#""session""#);
        let good = claims(Some("s1"));
        let g = validate_grant(&camera, &input(&good, Some("s1"))).unwrap();
        assert_eq!(g.valid_until, 1_000_000 + 600_000);
        assert_eq!(g.scope, ConsentScope::Session);
        // The agent cannot do it alone: verbal, witnessed by the agent, is not accepted.
        let agent = CaptureEvidence::VerbalWitnessed {
            witness: "agent-1".into(),
        };
        assert_eq!(
            validate_grant(&camera, &input(&agent, Some("s1"))).unwrap_err(),
            GrantRefusal::MethodNotAccepted("verbal_witnessed")
        );
        let dtmf = CaptureEvidence::Dtmf {
            ivr_call_id: "x".into(),
        };
        assert!(validate_grant(&camera, &input(&dtmf, Some("s1"))).is_err());
        // A credential for another session, customer or tenant, or expired, does not count.
        assert_eq!(
            validate_grant(&camera, &input(&good, Some("s2"))).unwrap_err(),
            GrantRefusal::CredentialMismatch
        );
        let unbound = claims(None);
        assert!(validate_grant(&camera, &input(&unbound, Some("s1"))).is_err());
        let mut other = input(&good, Some("s1"));
        other.customer = "c2";
        assert!(validate_grant(&camera, &other).is_err());
        let mut late = input(&good, Some("s1"));
        late.now_ms = 2_000_000;
        assert!(validate_grant(&camera, &late).is_err());
        assert_eq!(
            validate_grant(&camera, &input(&good, None)).unwrap_err(),
            GrantRefusal::SessionRequired
        );
    }

    #[test]
    fn notice_versions_scopes_and_witnesses_are_checked() {
        let rec = spec(
            "recording",
            r#""customer_device", "dtmf", "verbal_witnessed""#,
            r#""session""#,
        );
        let dtmf = CaptureEvidence::Dtmf {
            ivr_call_id: "call".into(),
        };
        let mut i = input(&dtmf, Some("s"));
        i.notice_version = "9";
        assert_eq!(
            validate_grant(&rec, &i).unwrap_err(),
            GrantRefusal::UnknownNotice("9".into())
        );
        i.notice_version = "1";
        assert_eq!(
            validate_grant(&rec, &i).unwrap_err(),
            GrantRefusal::RetiredNotice("1".into())
        );
        i.notice_version = "2";
        i.scope = Some(ConsentScope::Standing);
        assert!(matches!(
            validate_grant(&rec, &i),
            Err(GrantRefusal::ScopeNotAccepted(_))
        ));
        let nobody = CaptureEvidence::VerbalWitnessed {
            witness: " ".into(),
        };
        assert_eq!(
            validate_grant(&rec, &input(&nobody, Some("s"))).unwrap_err(),
            GrantRefusal::WitnessRequired
        );
        let mut short = input(&dtmf, Some("s"));
        short.valid_for_secs = Some(10_000_000);
        assert_eq!(
            validate_grant(&rec, &short).unwrap().valid_until,
            1_000_000 + 600_000,
            "never beyond the purpose's validity"
        );
    }

    #[test]
    fn in_force_until_ended_or_expired() {
        assert!(in_force(None, 10, 9));
        assert!(!in_force(None, 10, 10));
        assert!(!in_force(Some(5), 10, 9));
    }
}
