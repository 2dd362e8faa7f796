//! OpenID Connect login for people: staff (compliance console) and customers (privacy centre).
//!
//! This file is the pure part: realms, roles, and how a verified ID token's claims map onto a
//! staff member's roles or a customer's reference. The I/O (discovery, token exchange, ID token
//! verification through the `openidconnect` crate) is in [`service`].

pub mod service;

use std::{fmt, str::FromStr};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::tenants::CustomerRef;

/// Who logs in through an identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Realm {
    /// Tenant staff: the compliance console.
    Staff,
    /// The tenant's customers: the privacy centre.
    Customer,
}

impl Realm {
    pub fn as_str(self) -> &'static str {
        match self {
            Realm::Staff => "staff",
            Realm::Customer => "customer",
        }
    }
}

impl FromStr for Realm {
    type Err = OidcError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "staff" => Ok(Realm::Staff),
            "customer" => Ok(Realm::Customer),
            other => Err(OidcError::Config(format!(
                "unknown realm `{other}` (expected staff or customer)"
            ))),
        }
    }
}

impl fmt::Display for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Staff roles the console knows. Anything else in the role claim is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StaffRole {
    /// Reads and exports the audit trail, verifies the log.
    ComplianceOfficer,
    /// Everything a compliance officer can, plus tenant settings.
    TenantAdmin,
    /// A contact-centre agent: sees, live, what the customer allowed in their session and the
    /// code to read out for a customer link. No console access.
    Agent,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::ComplianceOfficer => "compliance_officer",
            StaffRole::TenantAdmin => "tenant_admin",
            StaffRole::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "compliance_officer" => Some(StaffRole::ComplianceOfficer),
            "tenant_admin" => Some(StaffRole::TenantAdmin),
            "agent" => Some(StaffRole::Agent),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("identity provider configuration: {0}")]
    Config(String),
    #[error("no identity provider is configured for this tenant and realm")]
    NotConfigured,
    #[error("the login attempt is unknown, expired or already used")]
    UnknownFlow,
    #[error("the state returned by the identity provider does not match")]
    StateMismatch,
    #[error("the identity provider returned an error: {0}")]
    ProviderError(String),
    #[error("the identity provider is unreachable or answered badly: {0}")]
    Provider(String),
    #[error("the ID token is not acceptable: {0}")]
    InvalidIdToken(String),
    #[error("the ID token carries no recognised role in claim `{0}`")]
    NoRole(String),
    #[error("the ID token carries no valid customer reference in claim `{0}`")]
    NoCustomer(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Find a claim by name, or by a dotted path into nested objects (`realm_access.roles`).
/// An exact top-level name wins, since claim names may themselves contain dots (URLs).
pub fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// The recognised staff roles in `claim_name`: a JSON array of strings or a space-separated
/// string. Sorted, without duplicates.
pub fn staff_roles(claims: &Map<String, Value>, claim_name: &str) -> Vec<StaffRole> {
    let mut roles: Vec<StaffRole> = match claim(claims, claim_name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter_map(StaffRole::parse)
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().filter_map(StaffRole::parse).collect(),
        _ => Vec::new(),
    };
    roles.sort();
    roles.dedup();
    roles
}

/// The customer reference in `claim_name`, if it is a valid reference.
pub fn customer_ref(claims: &Map<String, Value>, claim_name: &str) -> Option<CustomerRef> {
    claim(claims, claim_name)?.as_str()?.parse().ok()
}

/// The payload of a compact JWS as a JSON object. Only for tokens whose signature and
/// standard claims were already verified: this reads the extra claims the typed verifier
/// does not expose, from exactly the bytes it verified.
pub fn verified_payload(compact: &str) -> Result<Map<String, Value>, OidcError> {
    let mut parts = compact.split('.');
    let payload = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(payload), Some(_), None) => payload,
        _ => return Err(OidcError::InvalidIdToken("not a compact JWS".into())),
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| OidcError::InvalidIdToken("payload is not base64url".into()))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(OidcError::InvalidIdToken(
            "payload is not a JSON object".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn roles_from_arrays_strings_and_nested_claims() {
        let c = obj(json!({"roles": ["tenant_admin", "x", "compliance_officer", "tenant_admin"]}));
        assert_eq!(
            staff_roles(&c, "roles"),
            vec![StaffRole::ComplianceOfficer, StaffRole::TenantAdmin]
        );
        let c = obj(json!({"groups": "a compliance_officer"}));
        assert_eq!(
            staff_roles(&c, "groups"),
            vec![StaffRole::ComplianceOfficer]
        );
        let c = obj(json!({"realm_access": {"roles": ["tenant_admin"]}}));
        assert_eq!(
            staff_roles(&c, "realm_access.roles"),
            vec![StaffRole::TenantAdmin]
        );
        let c = obj(json!({"https://x.example/roles": ["tenant_admin"]}));
        assert_eq!(
            staff_roles(&c, "https://x.example/roles"),
            vec![StaffRole::TenantAdmin]
        );
    }

    #[test]
    fn missing_or_unknown_roles_give_none() {
        assert!(staff_roles(&obj(json!({})), "roles").is_empty());
        assert!(staff_roles(&obj(json!({"roles": ["admin"]})), "roles").is_empty());
        assert!(staff_roles(&obj(json!({"roles": 7})), "roles").is_empty());
    }

    #[test]
    fn customer_reference_must_be_valid() {
        let c = obj(json!({"customer_ref": "C-1001", "bad": "has space", "n": 3}));
        assert_eq!(
            customer_ref(&c, "customer_ref").map(|c| c.to_string()),
            Some("C-1001".into())
        );
        assert!(customer_ref(&c, "bad").is_none());
        assert!(customer_ref(&c, "n").is_none());
        assert!(customer_ref(&c, "absent").is_none());
    }

    #[test]
    fn payload_of_compact_jws() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"a"}"#);
        let token = format!("e30.{payload}.sig");
        assert_eq!(verified_payload(&token).expect("payload")["sub"], "a");
        assert!(verified_payload("a.b").is_err());
        assert!(verified_payload("a.!!.c").is_err());
    }
}
