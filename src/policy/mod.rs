//! Sector policies: loading, validation, tenant tightening, hashes (pure apart from `load_dir`).
//!
//! `policies/sectors/<sector>.toml` holds one policy per sector (finance, health, retail,
//! default); `policies/tenants/<tenant>.toml` may tighten a tenant's sector policy, never loosen
//! it. Everything is validated once at start-up, with errors that name the file and the key; a
//! decision then records the policy's id, version and SHA-256 hash so it can be explained later.
//!
//! The rule this module exists to enforce, NIST SP 800-63B-4 §3.2.3: "biometrics SHALL be used
//! only as part of multi-factor authentication with a physical authenticator (something you
//! have)". Finance and health policies that let a passive biometric verify alone are refused.

pub mod types;

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::Arc,
};

use ring::digest;
use serde::Deserialize;

use crate::tenants::{Sector, TenantId};
pub use types::{
    Assurance, Channel, FactorCategory, FactorKind, Fusion, KeystrokeStanding, Modality,
    VoiceStanding,
};

/// NIST SP 800-63B-4 §3.2.3: "The biometric system SHALL operate with a false-match rate (FMR)
/// [...] of 1 in 10 000 or better." A biometric counts as an authentication factor only at this
/// FMR; above it, it is at most a risk signal.
pub const NIST_MAX_FMR: f64 = 1e-4;

/// NIST SP 800-63B-4 §3.2.3: at most 5 consecutive failed biometric attempts (10 with
/// presentation-attack detection) before biometrics are disabled until another factor succeeds.
pub const NIST_MAX_BIOMETRIC_FAILURES: u32 = 5;

/// NIST SP 800-63B-4 §3.2.2 (rate limiting): no more than 100 consecutive failed attempts.
pub const NIST_MAX_CODE_FAILURES: u32 = 100;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PolicyError {
    #[error("policy directory {0} cannot be read: {1}")]
    Directory(PathBuf, String),
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },
    #[error("no policy for sector `{0}` (expected policies/sectors/{0}.toml)")]
    MissingSector(&'static str),
    #[error("tenant `{tenant}` is in sector `{actual}` but its policy file tightens `{declared}`")]
    SectorMismatch {
        tenant: String,
        declared: String,
        actual: String,
    },
}

fn invalid(file: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        file: file.to_string(),
        reason: reason.into(),
    }
}

/// The calibrated false-match rate each modality must reach to count as a match.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MaxFmr {
    pub voice: f64,
    pub keystroke_fixed: f64,
    pub keystroke_free: f64,
}

impl MaxFmr {
    pub fn get(&self, modality: Modality) -> f64 {
        match modality {
            Modality::Voice => self.voice,
            Modality::KeystrokeFixed => self.keystroke_fixed,
            Modality::KeystrokeFree => self.keystroke_free,
        }
    }
}

/// The rules in force for one channel of one policy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChannelRules {
    /// Passive biometrics alone may verify (at assurance `passive`).
    pub passive_alone: bool,
    /// What a step-up must reach when passive biometrics do not suffice.
    pub required_assurance: Assurance,
    /// The factors a step-up may ask for, in the order offered.
    pub step_up_factors: Vec<FactorKind>,
    pub fusion: Fusion,
    pub max_fmr: MaxFmr,
    pub session_lifetime_secs: u64,
    pub assertion_lifetime_secs: u64,
    pub max_session_failures: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockout {
    pub biometric_max_consecutive_failures: u32,
    pub code_free_attempts: u32,
    pub code_base_delay_secs: u64,
    pub code_max_delay_secs: u64,
    pub code_max_consecutive_failures: u32,
}

impl Lockout {
    /// Delay before the next attempt of a code factor after `failures` consecutive failures:
    /// none for the first `code_free_attempts`, then doubling from the base, capped.
    pub fn code_delay_secs(&self, failures: u32) -> u64 {
        if failures < self.code_free_attempts {
            return 0;
        }
        let doublings = (failures - self.code_free_attempts).min(32);
        self.code_base_delay_secs
            .saturating_mul(1u64 << doublings)
            .min(self.code_max_delay_secs)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub decisions_days: u32,
    pub templates_days_after_last_use: u32,
}

/// What a presentation-attack alert on a biometric sample does (issue: "policy decides whether
/// it blocks or only flags"). `flag`: the sample is still judged and the decision names the
/// alert; `block`: the sample does not count as a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertAction {
    Flag,
    Block,
}

/// `[presentation_attack]` of a sector policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresentationAttack {
    /// The anti-spoofing model (voice: AASIST) flags the sample as synthetic or converted.
    pub spoof: AlertAction,
}

/// `[nist_800_63b]` of a sector policy: the standing of each passive modality under NIST
/// SP 800-63B-4 (final) §3.2.3, stated in the file so a reader of the policy sees it, and
/// checked by the loader (only the conformant values load; tenants cannot change it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NistStanding {
    pub voice: VoiceStanding,
    pub keystroke: KeystrokeStanding,
}

/// A validated, effective policy (a sector's, or a sector's tightened for one tenant).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Policy {
    pub id: String,
    pub version: String,
    /// Lower-case hex SHA-256 of the file bytes (sector file, then tenant file if any).
    pub hash: String,
    pub sector: Sector,
    pub description: String,
    pub channels: BTreeMap<Channel, ChannelRules>,
    pub lockout: Lockout,
    pub retention: Retention,
    pub presentation_attack: PresentationAttack,
    pub nist_800_63b: NistStanding,
    /// The exact bytes `hash` is taken over (as text), kept so the history of policies in
    /// force can be read back by hash (`store::policies`).
    #[serde(skip)]
    pub source: String,
}

impl Policy {
    pub fn channel(&self, channel: Channel) -> &ChannelRules {
        // Validation guarantees every channel is present.
        &self.channels[&channel]
    }

    /// The longest assertion lifetime of any channel: keys must stay published at least this long.
    pub fn max_assertion_lifetime_secs(&self) -> u64 {
        self.channels
            .values()
            .map(|c| c.assertion_lifetime_secs)
            .max()
            .unwrap_or(0)
    }
}

// ---- raw file shapes (unknown keys are refused by serde) ----

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialMaxFmr {
    voice: Option<f64>,
    keystroke_fixed: Option<f64>,
    keystroke_free: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialRules {
    passive_alone: Option<bool>,
    required_assurance: Option<Assurance>,
    step_up_factors: Option<Vec<FactorKind>>,
    fusion: Option<Fusion>,
    max_fmr: Option<PartialMaxFmr>,
    session_lifetime_secs: Option<u64>,
    assertion_lifetime_secs: Option<u64>,
    max_session_failures: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectorFile {
    id: String,
    version: String,
    sector: String,
    description: String,
    defaults: PartialRules,
    lockout: Lockout,
    retention: Retention,
    presentation_attack: PresentationAttack,
    nist_800_63b: NistStanding,
    #[serde(default)]
    channels: BTreeMap<String, PartialRules>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialLockout {
    biometric_max_consecutive_failures: Option<u32>,
    code_free_attempts: Option<u32>,
    code_base_delay_secs: Option<u64>,
    code_max_delay_secs: Option<u64>,
    code_max_consecutive_failures: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    tenant: String,
    sector: String,
    version: String,
    #[serde(default)]
    defaults: PartialRules,
    #[serde(default)]
    lockout: PartialLockout,
    #[serde(default)]
    channels: BTreeMap<String, PartialRules>,
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    hex::encode(ctx.finish().as_ref())
}

fn complete_rules(file: &str, raw: &PartialRules) -> Result<ChannelRules, PolicyError> {
    let missing = |key: &str| invalid(file, format!("[defaults] is missing `{key}`"));
    let fmr = raw.max_fmr.clone().ok_or_else(|| missing("max_fmr"))?;
    Ok(ChannelRules {
        passive_alone: raw.passive_alone.ok_or_else(|| missing("passive_alone"))?,
        required_assurance: raw
            .required_assurance
            .ok_or_else(|| missing("required_assurance"))?,
        step_up_factors: raw
            .step_up_factors
            .clone()
            .ok_or_else(|| missing("step_up_factors"))?,
        fusion: raw.fusion.ok_or_else(|| missing("fusion"))?,
        max_fmr: MaxFmr {
            voice: fmr.voice.ok_or_else(|| missing("max_fmr.voice"))?,
            keystroke_fixed: fmr
                .keystroke_fixed
                .ok_or_else(|| missing("max_fmr.keystroke_fixed"))?,
            keystroke_free: fmr
                .keystroke_free
                .ok_or_else(|| missing("max_fmr.keystroke_free"))?,
        },
        session_lifetime_secs: raw
            .session_lifetime_secs
            .ok_or_else(|| missing("session_lifetime_secs"))?,
        assertion_lifetime_secs: raw
            .assertion_lifetime_secs
            .ok_or_else(|| missing("assertion_lifetime_secs"))?,
        max_session_failures: raw
            .max_session_failures
            .ok_or_else(|| missing("max_session_failures"))?,
    })
}

/// Apply `over` on top of `base`, refusing anything that loosens it. `at` names the section.
fn tighten(
    file: &str,
    at: &str,
    base: &ChannelRules,
    over: &PartialRules,
) -> Result<ChannelRules, PolicyError> {
    let loosen = |key: &str, why: &str| {
        invalid(
            file,
            format!(
                "{at}.{key} loosens the policy it tightens ({why}); only tightening is allowed"
            ),
        )
    };
    let mut out = base.clone();
    if let Some(v) = over.passive_alone {
        if v && !base.passive_alone {
            return Err(loosen("passive_alone", "false -> true"));
        }
        out.passive_alone = v;
    }
    if let Some(v) = over.required_assurance {
        if v < base.required_assurance {
            return Err(loosen("required_assurance", "lower assurance"));
        }
        out.required_assurance = v;
    }
    if let Some(v) = &over.step_up_factors {
        if let Some(extra) = v.iter().find(|f| !base.step_up_factors.contains(f)) {
            return Err(loosen(
                "step_up_factors",
                &format!("adds `{}`", extra.as_str()),
            ));
        }
        out.step_up_factors = v.clone();
    }
    if let Some(v) = over.fusion {
        // best_modality accepts any single passing modality; product_of_fmr is stricter only
        // when every modality also has to pass. Treat a change either way as loosening-prone.
        if v != base.fusion {
            return Err(loosen("fusion", "fusion cannot be changed by a tightening"));
        }
    }
    if let Some(fmr) = &over.max_fmr {
        for (key, value, slot) in [
            ("voice", fmr.voice, &mut out.max_fmr.voice),
            (
                "keystroke_fixed",
                fmr.keystroke_fixed,
                &mut out.max_fmr.keystroke_fixed,
            ),
            (
                "keystroke_free",
                fmr.keystroke_free,
                &mut out.max_fmr.keystroke_free,
            ),
        ] {
            if let Some(value) = value {
                if value > *slot {
                    return Err(loosen(&format!("max_fmr.{key}"), "higher false-match rate"));
                }
                *slot = value;
            }
        }
    }
    for (key, value, slot) in [
        (
            "session_lifetime_secs",
            over.session_lifetime_secs,
            &mut out.session_lifetime_secs,
        ),
        (
            "assertion_lifetime_secs",
            over.assertion_lifetime_secs,
            &mut out.assertion_lifetime_secs,
        ),
    ] {
        if let Some(value) = value {
            if value > *slot {
                return Err(loosen(key, "longer lifetime"));
            }
            *slot = value;
        }
    }
    if let Some(v) = over.max_session_failures {
        if v > base.max_session_failures {
            return Err(loosen("max_session_failures", "more failures allowed"));
        }
        out.max_session_failures = v;
    }
    Ok(out)
}

fn check_rules(
    file: &str,
    at: &str,
    sector: Sector,
    rules: &ChannelRules,
) -> Result<(), PolicyError> {
    let bad = |reason: String| invalid(file, format!("{at}: {reason}"));
    if matches!(sector, Sector::Finance | Sector::Health) && rules.passive_alone {
        // NIST SP 800-63B-4 §3.2.3: a biometric only together with a physical authenticator.
        return Err(bad(format!(
            "passive_alone = true is not allowed in sector `{sector}`: NIST SP 800-63B-4 §3.2.3 \
             lets a biometric count only together with a physical authenticator"
        )));
    }
    if matches!(sector, Sector::Finance | Sector::Health)
        && rules.required_assurance != Assurance::MultiFactor
    {
        return Err(bad(format!(
            "sector `{sector}` requires required_assurance = \"multi_factor\""
        )));
    }
    if rules.required_assurance < Assurance::SingleFactor {
        return Err(bad(
            "required_assurance must be single_factor or multi_factor (passive is set with \
             passive_alone)"
                .into(),
        ));
    }
    if rules.step_up_factors.is_empty() {
        return Err(bad(
            "step_up_factors is empty: a non-biometric alternative must always be offered \
             (NIST SP 800-63B-4 §3.2.3)"
                .into(),
        ));
    }
    let mut seen = rules.step_up_factors.clone();
    seen.sort();
    seen.dedup();
    if seen.len() != rules.step_up_factors.len() {
        return Err(bad("step_up_factors lists a factor twice".into()));
    }
    if rules.required_assurance == Assurance::MultiFactor {
        let possession = rules
            .step_up_factors
            .iter()
            .any(|f| f.category() == FactorCategory::Possession);
        let other = rules
            .step_up_factors
            .iter()
            .any(|f| f.category() != FactorCategory::Possession);
        // A multi-factor authenticator (a passkey) reaches it alone (NIST SP 800-63B-4).
        let alone = rules.step_up_factors.iter().any(|f| f.is_multi_factor());
        if !alone && (!possession || !other) {
            return Err(bad(
                "multi_factor cannot be reached with these step_up_factors: it needs a \
                 possession factor (totp, one_time_code, recovery_code) and a second category \
                 (pin), or a passkey"
                    .into(),
            ));
        }
    }
    for modality in Modality::ALL {
        let fmr = rules.max_fmr.get(modality);
        if !(fmr > 0.0 && fmr <= 0.5) {
            return Err(bad(format!(
                "max_fmr.{} = {fmr} is impossible: a false-match rate must be in (0, 0.5]",
                modality.as_str()
            )));
        }
        if matches!(sector, Sector::Finance | Sector::Health) && fmr > NIST_MAX_FMR {
            return Err(bad(format!(
                "max_fmr.{} = {fmr} is above NIST SP 800-63B-4's 1e-4 for sector `{sector}`",
                modality.as_str()
            )));
        }
    }
    if !(60..=86_400).contains(&rules.session_lifetime_secs) {
        return Err(bad("session_lifetime_secs must be 60..=86400".into()));
    }
    if !(30..=86_400).contains(&rules.assertion_lifetime_secs) {
        return Err(bad("assertion_lifetime_secs must be 30..=86400".into()));
    }
    if !(1..=100).contains(&rules.max_session_failures) {
        return Err(bad("max_session_failures must be 1..=100".into()));
    }
    Ok(())
}

fn check_lockout(file: &str, l: &Lockout) -> Result<(), PolicyError> {
    let bad = |reason: &str| invalid(file, format!("[lockout]: {reason}"));
    if !(1..=NIST_MAX_BIOMETRIC_FAILURES).contains(&l.biometric_max_consecutive_failures) {
        return Err(bad(
            "biometric_max_consecutive_failures must be 1..=5 (NIST SP 800-63B-4 §3.2.3)",
        ));
    }
    if !(1..=NIST_MAX_CODE_FAILURES).contains(&l.code_max_consecutive_failures) {
        return Err(bad(
            "code_max_consecutive_failures must be 1..=100 (NIST SP 800-63B-4 rate limiting)",
        ));
    }
    if l.code_free_attempts >= l.code_max_consecutive_failures {
        return Err(bad(
            "code_free_attempts must be below code_max_consecutive_failures",
        ));
    }
    if l.code_base_delay_secs == 0 || l.code_base_delay_secs > l.code_max_delay_secs {
        return Err(bad(
            "code_base_delay_secs must be at least 1 and at most code_max_delay_secs",
        ));
    }
    if l.code_max_delay_secs > 86_400 {
        return Err(bad("code_max_delay_secs must be at most 86400"));
    }
    Ok(())
}

fn check_standing(file: &str, s: &NistStanding) -> Result<(), PolicyError> {
    if s.voice != VoiceStanding::RiskSignal {
        return Err(invalid(
            file,
            "[nist_800_63b].voice must be \"risk_signal\": NIST SP 800-63B-4 §3.2.3 says \
             voice-based biometric comparison SHALL NOT be used as an authenticator",
        ));
    }
    if s.keystroke != KeystrokeStanding::BesidePhysicalAuthenticator {
        return Err(invalid(
            file,
            "[nist_800_63b].keystroke must be \"beside_physical_authenticator\": NIST SP \
             800-63B-4 §3.2.3 lets a biometric count only as part of multi-factor \
             authentication with a physical authenticator",
        ));
    }
    Ok(())
}

fn parse_channel(file: &str, name: &str) -> Result<Channel, PolicyError> {
    name.parse::<Channel>().map_err(|_| {
        invalid(
            file,
            format!("unknown channel `{name}` (expected voice, chat, web or video)"),
        )
    })
}

/// Parse and validate one sector file.
pub fn parse_sector(file: &str, bytes: &[u8]) -> Result<Policy, PolicyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| invalid(file, "not UTF-8"))?;
    let raw: SectorFile = toml::from_str(text).map_err(|e| invalid(file, e.to_string()))?;
    let sector: Sector = raw
        .sector
        .parse()
        .map_err(|e: crate::tenants::TenantError| invalid(file, e.to_string()))?;
    if raw.id.is_empty() || raw.version.is_empty() {
        return Err(invalid(file, "id and version must not be empty"));
    }
    let defaults = complete_rules(file, &raw.defaults)?;
    check_rules(file, "[defaults]", sector, &defaults)?;
    check_lockout(file, &raw.lockout)?;
    check_standing(file, &raw.nist_800_63b)?;
    let mut channels = BTreeMap::new();
    for (name, over) in &raw.channels {
        let channel = parse_channel(file, name)?;
        let at = format!("[channels.{name}]");
        let rules = tighten(file, &at, &defaults, over)?;
        check_rules(file, &at, sector, &rules)?;
        channels.insert(channel, rules);
    }
    if let Some(missing) = Channel::ALL.iter().find(|c| !channels.contains_key(c)) {
        return Err(invalid(
            file,
            format!(
                "no [channels.{}] section: every channel must be listed",
                missing.as_str()
            ),
        ));
    }
    Ok(Policy {
        id: raw.id,
        version: raw.version,
        hash: sha256_hex(&[bytes]),
        sector,
        description: raw.description,
        channels,
        lockout: raw.lockout,
        retention: raw.retention,
        presentation_attack: raw.presentation_attack,
        nist_800_63b: raw.nist_800_63b,
        source: text.to_string(),
    })
}

/// Parse a tenant tightening and apply it to its sector's policy.
pub fn parse_tenant(
    file: &str,
    bytes: &[u8],
    sectors: &HashMap<Sector, (Arc<Policy>, Vec<u8>)>,
) -> Result<(TenantId, Policy), PolicyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| invalid(file, "not UTF-8"))?;
    let raw: TenantFile = toml::from_str(text).map_err(|e| invalid(file, e.to_string()))?;
    let tenant: TenantId = raw
        .tenant
        .parse()
        .map_err(|e: crate::tenants::TenantError| invalid(file, e.to_string()))?;
    let sector: Sector = raw
        .sector
        .parse()
        .map_err(|e: crate::tenants::TenantError| invalid(file, e.to_string()))?;
    let (base, base_bytes) = sectors
        .get(&sector)
        .ok_or(PolicyError::MissingSector(sector.as_str()))?;
    let mut channels = BTreeMap::new();
    for channel in Channel::ALL {
        let at = format!("[defaults] for {}", channel.as_str());
        let rules = tighten(file, &at, base.channel(channel), &raw.defaults)?;
        channels.insert(channel, rules);
    }
    for (name, over) in &raw.channels {
        let channel = parse_channel(file, name)?;
        let at = format!("[channels.{name}]");
        let rules = tighten(file, &at, &channels[&channel], over)?;
        channels.insert(channel, rules);
    }
    for (channel, rules) in &channels {
        check_rules(
            file,
            &format!("[channels.{}]", channel.as_str()),
            sector,
            rules,
        )?;
    }
    let mut lockout = base.lockout;
    let l = &raw.lockout;
    for (key, value, slot) in [
        (
            "biometric_max_consecutive_failures",
            l.biometric_max_consecutive_failures,
            &mut lockout.biometric_max_consecutive_failures,
        ),
        (
            "code_free_attempts",
            l.code_free_attempts,
            &mut lockout.code_free_attempts,
        ),
        (
            "code_max_consecutive_failures",
            l.code_max_consecutive_failures,
            &mut lockout.code_max_consecutive_failures,
        ),
    ] {
        if let Some(v) = value {
            if v > *slot {
                return Err(invalid(
                    file,
                    format!("[lockout].{key} loosens the sector policy (allows more failures)"),
                ));
            }
            *slot = v;
        }
    }
    for (key, value, slot) in [
        (
            "code_base_delay_secs",
            l.code_base_delay_secs,
            &mut lockout.code_base_delay_secs,
        ),
        (
            "code_max_delay_secs",
            l.code_max_delay_secs,
            &mut lockout.code_max_delay_secs,
        ),
    ] {
        if let Some(v) = value {
            if v < *slot {
                return Err(invalid(
                    file,
                    format!("[lockout].{key} loosens the sector policy (shorter delays)"),
                ));
            }
            *slot = v;
        }
    }
    check_lockout(file, &lockout)?;
    Ok((
        tenant.clone(),
        Policy {
            id: format!("{}+{}", base.id, tenant),
            version: format!("{}+{}", base.version, raw.version),
            hash: sha256_hex(&[base_bytes, b"\n--tenant--\n", bytes]),
            sector,
            description: format!("{} (tightened for tenant {tenant})", base.description),
            channels,
            lockout,
            retention: base.retention,
            presentation_attack: base.presentation_attack,
            nist_800_63b: base.nist_800_63b,
            source: format!(
                "{}\n--tenant--\n{}",
                base.source,
                String::from_utf8_lossy(bytes)
            ),
        },
    ))
}

/// Every policy in force, loaded once at start-up.
#[derive(Debug, Clone)]
pub struct PolicySet {
    sectors: HashMap<Sector, Arc<Policy>>,
    tenants: HashMap<TenantId, Arc<Policy>>,
}

impl PolicySet {
    /// Build from in-memory files (`(name, bytes)`); names are only for messages.
    pub fn from_files(
        sector_files: &[(String, Vec<u8>)],
        tenant_files: &[(String, Vec<u8>)],
    ) -> Result<Self, PolicyError> {
        let mut sectors: HashMap<Sector, (Arc<Policy>, Vec<u8>)> = HashMap::new();
        for (name, bytes) in sector_files {
            let policy = parse_sector(name, bytes)?;
            let expected = format!("{}.toml", policy.sector.as_str());
            if !name.ends_with(&expected) {
                return Err(invalid(
                    name,
                    format!("declares sector `{}`; name it {expected}", policy.sector),
                ));
            }
            if sectors.contains_key(&policy.sector) {
                return Err(invalid(name, "a second policy for the same sector"));
            }
            sectors.insert(policy.sector, (Arc::new(policy), bytes.clone()));
        }
        if let Some(missing) = Sector::ALL.iter().find(|s| !sectors.contains_key(s)) {
            return Err(PolicyError::MissingSector(missing.as_str()));
        }
        let mut tenants = HashMap::new();
        for (name, bytes) in tenant_files {
            let (tenant, policy) = parse_tenant(name, bytes, &sectors)?;
            if tenants.insert(tenant.clone(), Arc::new(policy)).is_some() {
                return Err(invalid(
                    name,
                    format!("a second file for tenant `{tenant}`"),
                ));
            }
        }
        Ok(Self {
            sectors: sectors.into_iter().map(|(k, (p, _))| (k, p)).collect(),
            tenants,
        })
    }

    /// Read `dir/sectors/*.toml` and `dir/tenants/*.toml`.
    pub fn load_dir(dir: &Path) -> Result<Self, PolicyError> {
        let read = |sub: &str, required: bool| -> Result<Vec<(String, Vec<u8>)>, PolicyError> {
            let path = dir.join(sub);
            let entries = match std::fs::read_dir(&path) {
                Ok(entries) => entries,
                Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(Vec::new());
                }
                Err(e) => return Err(PolicyError::Directory(path, e.to_string())),
            };
            let mut files = Vec::new();
            for entry in entries {
                let entry =
                    entry.map_err(|e| PolicyError::Directory(path.clone(), e.to_string()))?;
                let p = entry.path();
                if p.extension().and_then(|e| e.to_str()) != Some("toml") {
                    continue;
                }
                let bytes = std::fs::read(&p)
                    .map_err(|e| PolicyError::Directory(p.clone(), e.to_string()))?;
                files.push((
                    format!("{sub}/{}", entry.file_name().to_string_lossy()),
                    bytes,
                ));
            }
            files.sort();
            Ok(files)
        };
        Self::from_files(&read("sectors", true)?, &read("tenants", false)?)
    }

    /// The policy in force for a tenant: its tightening if it has one, else its sector's.
    pub fn for_tenant(
        &self,
        tenant: &TenantId,
        sector: Sector,
    ) -> Result<Arc<Policy>, PolicyError> {
        if let Some(policy) = self.tenants.get(tenant) {
            if policy.sector != sector {
                return Err(PolicyError::SectorMismatch {
                    tenant: tenant.to_string(),
                    declared: policy.sector.to_string(),
                    actual: sector.to_string(),
                });
            }
            return Ok(policy.clone());
        }
        Ok(self.sector(sector))
    }

    pub fn sector(&self, sector: Sector) -> Arc<Policy> {
        // Construction guarantees every sector is present.
        self.sectors[&sector].clone()
    }

    /// Every policy loaded: the sectors' and the tenants' tightenings.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Policy>> {
        self.sectors.values().chain(self.tenants.values())
    }

    /// The longest assertion lifetime across all policies (key retention after rotation).
    pub fn max_assertion_lifetime_secs(&self) -> u64 {
        self.sectors
            .values()
            .chain(self.tenants.values())
            .map(|p| p.max_assertion_lifetime_secs())
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
pub(crate) mod tests;
