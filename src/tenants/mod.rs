//! Tenants, their sectors, and platform API keys (pure: parsing, generation, verification).

pub mod api_key;
pub mod brand;
pub mod branding;
pub mod service;

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TenantError {
    #[error("unknown sector `{0}` (expected finance, health, retail or default)")]
    UnknownSector(String),
    #[error("unknown scope `{0}` (expected sessions, consent, enrol or audit)")]
    UnknownScope(String),
    #[error("invalid tenant id `{0}`: 1-64 characters of a-z, 0-9, '-' or '_'")]
    InvalidTenantId(String),
    #[error("invalid customer reference: 1-128 printable ASCII characters without spaces")]
    InvalidCustomerRef,
    #[error("a tenant needs a name of 1-200 characters")]
    InvalidName,
}

/// A tenant's id: short, URL-safe, chosen by the operator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = TenantError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let ok = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(value))
        } else {
            Err(TenantError::InvalidTenantId(value))
        }
    }
}

impl FromStr for TenantId {
    type Err = TenantError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_string())
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tenant's own opaque reference for a customer (an account number hash, a CRM id).
/// trustline never needs a name, so it never accepts one here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomerRef(String);

impl CustomerRef {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CustomerRef {
    type Error = TenantError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let ok = (1..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(value))
        } else {
            Err(TenantError::InvalidCustomerRef)
        }
    }
}

impl FromStr for CustomerRef {
    type Err = TenantError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_string())
    }
}

impl From<CustomerRef> for String {
    fn from(value: CustomerRef) -> Self {
        value.0
    }
}

impl fmt::Display for CustomerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tenant's sector selects its policy (see `policies/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sector {
    Finance,
    Health,
    Retail,
    Default,
}

impl Sector {
    pub const ALL: [Sector; 4] = [
        Sector::Finance,
        Sector::Health,
        Sector::Retail,
        Sector::Default,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Sector::Finance => "finance",
            Sector::Health => "health",
            Sector::Retail => "retail",
            Sector::Default => "default",
        }
    }
}

impl FromStr for Sector {
    type Err = TenantError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sector::ALL
            .into_iter()
            .find(|sector| sector.as_str() == s)
            .ok_or_else(|| TenantError::UnknownSector(s.to_string()))
    }
}

impl fmt::Display for Sector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an API key may do. Each platform endpoint requires exactly one scope.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Start sessions, add evidence, hand off.
    Sessions,
    /// Record and withdraw consent, request camera grants.
    Consent,
    /// Register customers and enrol biometrics.
    Enrol,
    /// Read the consent and decision log.
    Audit,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Sessions, Scope::Consent, Scope::Enrol, Scope::Audit];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Sessions => "sessions",
            Scope::Consent => "consent",
            Scope::Enrol => "enrol",
            Scope::Audit => "audit",
        }
    }

    /// Parse a space- or comma-separated list, rejecting unknown scopes and empty lists.
    pub fn parse_list(s: &str) -> Result<Vec<Scope>, TenantError> {
        let mut scopes: Vec<Scope> = s
            .split([' ', ','])
            .filter(|w| !w.is_empty())
            .map(Scope::from_str)
            .collect::<Result<_, _>>()?;
        if scopes.is_empty() {
            return Err(TenantError::UnknownScope(String::new()));
        }
        scopes.sort();
        scopes.dedup();
        Ok(scopes)
    }

    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl FromStr for Scope {
    type Err = TenantError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| TenantError::UnknownScope(s.to_string()))
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tenant {
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    pub name: String,
    pub sector: Sector,
    pub created_at: i64,
}

pub fn validate_name(name: &str) -> Result<(), TenantError> {
    if (1..=200).contains(&name.chars().count()) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(TenantError::InvalidName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_refs_are_parsed_not_trusted() {
        assert!(TenantId::from_str("acme-bank").is_ok());
        assert!(TenantId::from_str("Acme Bank").is_err());
        assert!(TenantId::from_str("").is_err());
        assert!(CustomerRef::from_str("cust-0001").is_ok());
        assert!(CustomerRef::from_str("has space").is_err());
        assert!(CustomerRef::from_str(&"x".repeat(129)).is_err());
    }

    #[test]
    fn scopes_parse_as_a_sorted_set() {
        let scopes = Scope::parse_list("sessions,enrol sessions").expect("valid");
        assert_eq!(scopes, vec![Scope::Sessions, Scope::Enrol]);
        assert_eq!(
            Scope::parse_list("sessions admin"),
            Err(TenantError::UnknownScope("admin".into()))
        );
        assert!(Scope::parse_list(" ").is_err());
    }

    #[test]
    fn sectors_round_trip() {
        for sector in Sector::ALL {
            assert_eq!(sector.as_str().parse::<Sector>(), Ok(sector));
        }
        assert!("bank".parse::<Sector>().is_err());
    }
}
