//! The vocabulary policies and decisions share: channels, modalities, factors, assurance.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Where the customer is talking to the tenant.
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
pub enum Channel {
    Voice,
    Chat,
    Web,
    Video,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Voice, Channel::Chat, Channel::Web, Channel::Video];
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Chat => "chat",
            Channel::Web => "web",
            Channel::Video => "video",
        }
    }
}

impl FromStr for Channel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s).ok_or(())
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A passive biometric modality (names match `biometric_templates.modality`).
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
pub enum Modality {
    Voice,
    KeystrokeFixed,
    KeystrokeFree,
}

impl Modality {
    pub const ALL: [Modality; 3] = [
        Modality::Voice,
        Modality::KeystrokeFixed,
        Modality::KeystrokeFree,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Voice => "voice",
            Modality::KeystrokeFixed => "keystroke_fixed",
            Modality::KeystrokeFree => "keystroke_free",
        }
    }

    /// RFC 8176 `amr` value. `vbm` is registered ("voice biometric"); RFC 8176 has no value for
    /// typing rhythm, so trustline uses the custom value `kbd` ("keystroke biometric"),
    /// documented in the discovery document's `amr_values_supported`.
    pub fn amr(self) -> &'static str {
        match self {
            Modality::Voice => "vbm",
            Modality::KeystrokeFixed | Modality::KeystrokeFree => "kbd",
        }
    }

    /// May a match of this modality count as an authentication factor at all? NIST SP 800-63B-4
    /// (final) §3.2.3: voice-based biometric comparison SHALL NOT be used as an authenticator,
    /// so voice is only ever a risk signal; keystroke rhythm may count, and then only beside a
    /// physical authenticator (the engine checks that part).
    pub fn may_be_authentication_factor(self) -> bool {
        match self {
            Modality::Voice => false,
            Modality::KeystrokeFixed | Modality::KeystrokeFree => true,
        }
    }

    /// The customer registration method (`PUT /v1/customers/{ref}`) that allows this modality.
    pub fn method(self) -> &'static str {
        match self {
            Modality::Voice => "voiceprint",
            Modality::KeystrokeFixed | Modality::KeystrokeFree => "typing",
        }
    }
}

/// NIST SP 800-63B authenticator categories, as used to count factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorCategory {
    /// Something you have: a TOTP app, a phone receiving a code, a printed recovery sheet.
    Possession,
    /// Something you know.
    Knowledge,
    /// Something you are (counts only beside a possession factor).
    Inherence,
}

/// An active factor.
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
pub enum FactorKind {
    Totp,
    OneTimeCode,
    Pin,
    RecoveryCode,
    /// A passkey (WebAuthn) assertion with user verification, approved on the customer's own
    /// device through a step-up request (`POST /v1/sessions/{id}/passkey-requests`).
    Passkey,
}

impl FactorKind {
    pub const ALL: [FactorKind; 5] = [
        FactorKind::Totp,
        FactorKind::OneTimeCode,
        FactorKind::Pin,
        FactorKind::RecoveryCode,
        FactorKind::Passkey,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Totp => "totp",
            FactorKind::OneTimeCode => "one_time_code",
            FactorKind::Pin => "pin",
            FactorKind::RecoveryCode => "recovery_code",
            FactorKind::Passkey => "passkey",
        }
    }
    pub fn category(self) -> FactorCategory {
        match self {
            // A recovery code is a NIST "look-up secret": something you have.
            // A passkey is the device holding the private key (unlocked on the device itself).
            FactorKind::Totp
            | FactorKind::OneTimeCode
            | FactorKind::RecoveryCode
            | FactorKind::Passkey => FactorCategory::Possession,
            FactorKind::Pin => FactorCategory::Knowledge,
        }
    }
    /// A multi-factor authenticator on its own? NIST SP 800-63B-4: a multi-factor
    /// cryptographic authenticator (a private key activated by something you know or are, on
    /// the device) is multi-factor by itself. A passkey ceremony always requires user
    /// verification (webauthn-rs refuses an assertion without the UV flag), so it is one.
    pub fn is_multi_factor(self) -> bool {
        self == FactorKind::Passkey
    }
    /// Is the factor a code typed into `POST /v1/sessions/{id}/factors/{kind}`? A passkey is
    /// approved on the customer's device instead.
    pub fn is_code(self) -> bool {
        self != FactorKind::Passkey
    }
    /// RFC 8176 `amr`: `otp` for one-time passwords (TOTP, delivered codes, recovery codes —
    /// each usable once), `pin` for the PIN, `hwk` ("proof-of-possession of a hardware-secured
    /// key") for a passkey (the authenticator's key; RFC 8176 has no value for a synced one).
    pub fn amr(self) -> &'static str {
        match self {
            FactorKind::Pin => "pin",
            FactorKind::Passkey => "hwk",
            _ => "otp",
        }
    }
}

impl FromStr for FactorKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        FactorKind::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(())
    }
}

/// How sure a decision is. Ordered: a higher level satisfies a lower requirement.
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
pub enum Assurance {
    None,
    /// Passive biometrics only: a risk signal (NIST SP 800-63B-4 §5.3), the lowest level.
    Passive,
    /// One authentication factor (NIST AAL1).
    SingleFactor,
    /// Two categories, a biometric counting only beside a possession factor (NIST AAL2).
    MultiFactor,
}

impl Assurance {
    pub fn as_str(self) -> &'static str {
        match self {
            Assurance::None => "none",
            Assurance::Passive => "passive",
            Assurance::SingleFactor => "single_factor",
            Assurance::MultiFactor => "multi_factor",
        }
    }
    /// The `acr` claim of an assertion at this level.
    pub fn acr(self) -> &'static str {
        match self {
            Assurance::None => "urn:trustline:acr:none",
            Assurance::Passive => "urn:trustline:acr:passive",
            Assurance::SingleFactor => "urn:trustline:acr:1fa",
            Assurance::MultiFactor => "urn:trustline:acr:mfa",
        }
    }
    pub const ACR_VALUES: [&'static str; 3] = [
        "urn:trustline:acr:passive",
        "urn:trustline:acr:1fa",
        "urn:trustline:acr:mfa",
    ];
}

/// `[nist_800_63b] voice = …` of a sector policy: what a voice match is worth. Only
/// `risk_signal` loads (NIST SP 800-63B-4 §3.2.3: voice-based biometric comparison SHALL NOT be
/// used as an authenticator); `authenticator` exists so the loader can refuse it by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoiceStanding {
    /// A risk signal: it may lower friction where the policy lets passive evidence verify
    /// alone (retail, at assurance `passive`), never satisfies a factor.
    RiskSignal,
    Authenticator,
}

/// `[nist_800_63b] keystroke = …`: only `beside_physical_authenticator` loads (§3.2.3:
/// biometrics SHALL be used only as part of multi-factor authentication with a physical
/// authenticator); `authenticator` (alone) exists so the loader can refuse it by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeystrokeStanding {
    BesidePhysicalAuthenticator,
    Authenticator,
}

/// How scores of several modalities combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fusion {
    /// The best (lowest-FMR) modality decides; each must meet its own max_fmr.
    BestModality,
    /// FMRs of different modalities multiply (assumes independent modalities); the product
    /// must meet the strictest max_fmr of the modalities presented. Samples of one modality
    /// (two utterances of one call) are not independent: within a modality only its best
    /// sample counts, never a product.
    ProductOfFmr,
}

impl fmt::Display for FactorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
