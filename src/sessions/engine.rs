//! The decision engine: evidence + customer state + policy -> decision. Pure: no I/O, no clock.
//!
//! Rules, from NIST SP 800-63B-4:
//! * §3.2.3 "biometrics SHALL be used only as part of multi-factor authentication with a
//!   physical authenticator (something you have)": a biometric counts as a factor only beside a
//!   possession factor, and only when its calibrated FMR is 1:10,000 or better.
//! * §3.2.3: at most 5 consecutive failed biometric attempts, then biometrics are disabled until
//!   another factor succeeds (`LockoutState::biometric_failures`).
//! * §3.2.2 rate limiting for codes: growing delays, and no more than 100 consecutive failures.
//! * §5.3: passive signals from an unauthenticated sensor (a caller's phone) are risk signals;
//!   where a policy lets them verify alone (retail), the assurance is the lowest, `passive`, and
//!   the reasons say so.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::policy::{
    AlertAction, Assurance, Channel, FactorCategory, FactorKind, Fusion, Lockout, Modality,
    NIST_MAX_FMR, Policy,
};

/// One biometric comparison, as the voice and keystroke scorers produce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BiometricScore {
    pub modality: Modality,
    pub model_id: String,
    pub model_version: String,
    /// The model's raw similarity score (higher is more similar).
    pub score: f64,
    /// Calibrated false-match rate at this score (from the model's calibration table).
    pub fmr: f64,
    /// Presentation-attack alerts the scorer raised ([`SPOOF_SUSPECTED`]); the sector
    /// policy's `[presentation_attack]` decides whether they block or only flag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<String>,
}

/// Alert: the anti-spoofing model judged the sample synthetic or converted.
pub const SPOOF_SUSPECTED: &str = "spoof_suspected";
/// Alert: the audio is an exact or near-exact copy of audio already seen for the customer (a
/// recording played back). A presentation attack like a synthetic voice: the same policy
/// setting decides.
pub const REPLAY_SUSPECTED: &str = "replay_suspected";

/// Whether the policy lets this sample count as a match at all.
pub fn blocked_by_policy(policy: &Policy, s: &BiometricScore) -> bool {
    policy.presentation_attack.spoof == AlertAction::Block
        && s.alerts
            .iter()
            .any(|a| a == SPOOF_SUSPECTED || a == REPLAY_SUSPECTED)
}

/// A sample counts as a match: its calibrated FMR is within the channel's limit and no
/// presentation-attack alert blocks it. Used by the decision and by the lockout counters.
pub fn sample_matches(policy: &Policy, channel: Channel, s: &BiometricScore) -> bool {
    s.fmr.is_finite()
        && s.fmr <= policy.channel(channel).max_fmr.get(s.modality)
        && !blocked_by_policy(policy, s)
}

/// One attempt of an active factor within the session (verified by `factors/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorAttempt {
    pub kind: FactorKind,
    pub success: bool,
    pub at_ms: i64,
}

/// What the session has collected so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub biometrics: Vec<BiometricScore>,
    pub factors: Vec<FactorAttempt>,
}

/// Lockout counters for one customer (kept in the database so instances agree).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutState {
    /// Consecutive failed biometric comparisons since the last success of any kind.
    pub biometric_failures: u32,
    /// Per code factor: consecutive failures and the time of the last one.
    pub code_failures: BTreeMap<FactorKind, (u32, i64)>,
}

/// The customer as the tenant registered them. Nothing here is shown to the caller beyond the
/// outcome: the tenant registered the customer, so `not_enrolled` tells it nothing new.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerState {
    pub registered: bool,
    /// Registration choice: `voiceprint`, `typing`, `code_only`.
    pub methods: Vec<String>,
    /// Modalities with a stored template.
    pub templates: Vec<Modality>,
    /// Active factors the customer can use (enrolled TOTP/PIN/recovery codes; one-time codes
    /// when the platform can deliver them).
    pub factors: Vec<FactorKind>,
    pub lockout: LockoutState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Verified,
    StepUpRequired,
    NotEnrolled,
    Locked,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::StepUpRequired => "step_up_required",
            Outcome::NotEnrolled => "not_enrolled",
            Outcome::Locked => "locked",
            Outcome::Denied => "denied",
        }
    }
}

/// What would satisfy a step-up: any one of `factors` now, `remaining` factors in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepUp {
    pub factors: Vec<FactorKind>,
    /// Biometric modalities that could also supply the missing factor (multi-factor only, and
    /// only beside a possession factor).
    pub biometrics: Vec<Modality>,
    pub remaining: u32,
    /// When every offered factor is in its back-off delay: the earliest time to retry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<i64>,
}

/// One biometric score as the decision judged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BiometricJudgement {
    pub modality: Modality,
    pub model_id: String,
    pub model_version: String,
    pub score: f64,
    pub fmr: f64,
    pub max_fmr: f64,
    /// `match`, `no_match`, or why it was not used (`not_chosen`, `no_template`, `disabled`).
    pub result: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyRef {
    pub id: String,
    pub version: String,
    pub hash: String,
}

impl From<&Policy> for PolicyRef {
    fn from(p: &Policy) -> Self {
        Self {
            id: p.id.clone(),
            version: p.version.clone(),
            hash: p.hash.clone(),
        }
    }
}

/// Stored as the session's `decision` column and read back only for `GET /v1/sessions/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    pub outcome: Outcome,
    pub assurance: Assurance,
    pub acr: String,
    /// RFC 8176 authentication method references (`vbm`, `kbd` (custom), `otp`, `pin`, `mfa`).
    pub amr: Vec<String>,
    pub channel: Channel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_up: Option<StepUp>,
    pub biometrics: Vec<BiometricJudgement>,
    pub factors: Vec<FactorKind>,
    pub reasons: Vec<String>,
    pub policy: PolicyRef,
}

/// Everything a decision depends on.
pub struct DecisionInput<'a> {
    pub policy: &'a Policy,
    pub channel: Channel,
    pub customer: &'a CustomerState,
    pub evidence: &'a Evidence,
    pub now_ms: i64,
    pub expires_ms: i64,
}

/// Is the customer's biometric path disabled by consecutive failures?
pub fn biometrics_disabled(lockout: &Lockout, state: &LockoutState) -> bool {
    state.biometric_failures >= lockout.biometric_max_consecutive_failures
}

/// May this code factor be tried now? `Err(Some(t))`: wait until `t`; `Err(None)`: locked.
pub fn factor_gate(
    lockout: &Lockout,
    state: &LockoutState,
    kind: FactorKind,
    now_ms: i64,
) -> Result<(), Option<i64>> {
    let Some(&(failures, last_ms)) = state.code_failures.get(&kind) else {
        return Ok(());
    };
    if failures >= lockout.code_max_consecutive_failures {
        return Err(None);
    }
    let delay_ms = lockout.code_delay_secs(failures) as i64 * 1000;
    let allowed_at = last_ms.saturating_add(delay_ms);
    if now_ms < allowed_at {
        Err(Some(allowed_at))
    } else {
        Ok(())
    }
}

/// Does a registration choice allow this modality? `code_only` allows none.
fn method_allows(methods: &[String], modality: Modality) -> bool {
    methods.iter().any(|m| m == modality.method())
}

/// Which of the requested modalities can count for this customer at all, and the reasons the
/// decision gives for the others (the same rules [`decide`] applies to scores): the shell
/// scores only these, so it never opens a template the decision would ignore.
pub fn eligible_modalities(
    policy: &Policy,
    customer: &CustomerState,
    requested: &[Modality],
) -> (Vec<Modality>, Vec<String>) {
    let mut reasons = Vec::new();
    if requested.is_empty() || !customer.registered {
        // `decide` says `customer_not_registered`.
        return (Vec::new(), reasons);
    }
    if biometrics_disabled(&policy.lockout, &customer.lockout) {
        reasons.push("biometrics_disabled_after_failures".into());
        return (Vec::new(), reasons);
    }
    let mut eligible = Vec::new();
    for &m in requested {
        if !method_allows(&customer.methods, m) {
            // The customer chose not to be recognised this way: not even scored.
            reasons.push(format!("{}_not_chosen_by_customer", m.as_str()));
        } else if !customer.templates.contains(&m) {
            reasons.push(format!("{}_not_enrolled", m.as_str()));
        } else {
            eligible.push(m);
        }
    }
    (eligible, reasons)
}

/// One biometric sample as fusion sees it.
#[derive(Debug, Clone, Copy)]
struct Presented {
    modality: Modality,
    fmr: f64,
    max_fmr: f64,
    matched: bool,
}

/// Fused FMR of the presented samples (None when they do not add up to a match).
///
/// Samples of one modality are not independent evidence: two utterances of one call come from
/// the same voice, channel and impostor, so their false-match rates are correlated and their
/// product would claim a rarity no measurement shows. Within a modality only its best
/// (lowest-FMR) sample counts; `product_of_fmr` multiplies across modalities only. A streamed
/// call goes further upstream: it accumulates all net speech into one embedding and calibrates
/// that one score (`biometrics::voice::stream`).
fn fuse(fusion: Fusion, presented: &[Presented]) -> Option<f64> {
    match fusion {
        Fusion::BestModality => presented
            .iter()
            .filter(|p| p.matched)
            .map(|p| p.fmr)
            .fold(None, |acc: Option<f64>, f| {
                Some(acc.map_or(f, |a| a.min(f)))
            }),
        Fusion::ProductOfFmr => {
            let mut best: BTreeMap<Modality, (f64, f64)> = BTreeMap::new();
            for p in presented {
                let e = best.entry(p.modality).or_insert((1.0, p.max_fmr));
                e.0 = e.0.min(p.fmr.max(0.0));
                e.1 = e.1.min(p.max_fmr);
            }
            if best.is_empty() {
                return None;
            }
            let product: f64 = best.values().map(|(f, _)| *f).product();
            let strictest = best.values().map(|(_, m)| *m).fold(f64::INFINITY, f64::min);
            (product <= strictest).then_some(product)
        }
    }
}

/// What the biometric samples add up to.
struct Fused {
    /// Fused FMR of every usable sample (None: no biometric match).
    any: Option<f64>,
    /// Fused FMR of the samples that may count as an authentication factor (NIST SP 800-63B-4
    /// §3.2.3: never voice).
    factor: Option<f64>,
    /// A voice sample matched (a risk signal only).
    voice_matched: bool,
}

/// Judge each biometric score; returns the judgements and what the usable matches fuse to.
fn judge_biometrics(
    input: &DecisionInput<'_>,
    reasons: &mut BTreeSet<String>,
) -> (Vec<BiometricJudgement>, Fused) {
    let rules = input.policy.channel(input.channel);
    let disabled = biometrics_disabled(&input.policy.lockout, &input.customer.lockout);
    let mut judgements = Vec::new();
    let mut presented: Vec<Presented> = Vec::new();
    for s in &input.evidence.biometrics {
        let max_fmr = rules.max_fmr.get(s.modality);
        if s.alerts.iter().any(|a| a == REPLAY_SUSPECTED) {
            reasons.insert(format!("{}_replay_suspected", s.modality.as_str()));
        }
        if !s.alerts.is_empty() && !blocked_by_policy(input.policy, s) {
            reasons.insert(format!(
                "{}_presentation_attack_flagged",
                s.modality.as_str()
            ));
        }
        let judged = |matched| Presented {
            modality: s.modality,
            fmr: s.fmr,
            max_fmr,
            matched,
        };
        let result = if !method_allows(&input.customer.methods, s.modality) {
            reasons.insert(format!("{}_not_chosen_by_customer", s.modality.as_str()));
            "not_chosen"
        } else if !input.customer.templates.contains(&s.modality) {
            reasons.insert(format!("{}_not_enrolled", s.modality.as_str()));
            "no_template"
        } else if disabled {
            reasons.insert("biometrics_disabled_after_failures".into());
            "disabled"
        } else if blocked_by_policy(input.policy, s) {
            // A blocked sample is no evidence either way: it neither matches nor fuses.
            reasons.insert(format!(
                "{}_presentation_attack_blocked",
                s.modality.as_str()
            ));
            "blocked"
        } else if s.fmr.is_finite() && s.fmr <= max_fmr {
            presented.push(judged(true));
            "match"
        } else {
            presented.push(judged(false));
            reasons.insert(format!("{}_no_match", s.modality.as_str()));
            "no_match"
        };
        judgements.push(BiometricJudgement {
            modality: s.modality,
            model_id: s.model_id.clone(),
            model_version: s.model_version.clone(),
            score: s.score,
            fmr: s.fmr,
            max_fmr,
            result: result.into(),
        });
    }
    let factor_samples: Vec<Presented> = presented
        .iter()
        .copied()
        .filter(|p| p.modality.may_be_authentication_factor())
        .collect();
    let fused = Fused {
        any: fuse(rules.fusion, &presented),
        factor: fuse(rules.fusion, &factor_samples),
        voice_matched: presented
            .iter()
            .any(|p| p.matched && p.modality == Modality::Voice),
    };
    (judgements, fused)
}

/// Decide. The only function the service calls to turn evidence into an outcome.
pub fn decide(input: &DecisionInput<'_>) -> Decision {
    let rules = input.policy.channel(input.channel);
    let lockout = &input.policy.lockout;
    let customer = input.customer;
    let mut reasons = BTreeSet::new();

    let (judgements, fused) = judge_biometrics(input, &mut reasons);

    // Factors that succeeded in this session, in the order they did.
    let mut succeeded: Vec<FactorKind> = Vec::new();
    for a in input.evidence.factors.iter().filter(|a| a.success) {
        if !succeeded.contains(&a.kind) {
            succeeded.push(a.kind);
        }
    }
    let session_failures = input.evidence.factors.iter().filter(|a| !a.success).count()
        + judgements.iter().filter(|j| j.result == "no_match").count();

    let possession = succeeded
        .iter()
        .any(|f| f.category() == FactorCategory::Possession);
    let knowledge = succeeded
        .iter()
        .any(|f| f.category() == FactorCategory::Knowledge);
    let biometric_matched = fused.any.is_some();
    // §3.2.3: the matcher must operate at FMR 1:10,000 or better to count as a factor, and
    // voice-based comparison never counts (`Modality::may_be_authentication_factor`).
    let biometric_factor = fused.factor.is_some_and(|f| f <= NIST_MAX_FMR);

    // NIST SP 800-63B-4: a multi-factor cryptographic authenticator (a passkey with user
    // verification) is multi-factor on its own.
    let multi_factor_authenticator = succeeded.iter().any(|f| f.is_multi_factor());
    let level = if multi_factor_authenticator || (possession && (knowledge || biometric_factor)) {
        Assurance::MultiFactor
    } else if possession || knowledge {
        Assurance::SingleFactor
    } else if biometric_matched {
        Assurance::Passive
    } else {
        Assurance::None
    };
    if biometric_matched && !biometric_factor && level >= Assurance::SingleFactor {
        reasons.insert("biometric_counted_as_risk_signal_only".into());
    }
    if fused.voice_matched && level != Assurance::Passive {
        // NIST SP 800-63B-4 §3.2.3: voice-based biometric comparison SHALL NOT be used as an
        // authenticator. It was a risk signal; the factors decided.
        reasons.insert("voice_is_risk_signal_only".into());
    }
    if fused.factor.is_some() && knowledge && !possession {
        // §3.2.3: a biometric counts only beside a physical authenticator, not beside a PIN.
        reasons.insert("biometric_needs_possession_factor".into());
    }

    let mut amr: Vec<String> = Vec::new();
    for j in judgements.iter().filter(|j| j.result == "match") {
        let v = j.modality.amr().to_string();
        if !amr.contains(&v) {
            amr.push(v);
        }
    }
    for f in &succeeded {
        let v = f.amr().to_string();
        if !amr.contains(&v) {
            amr.push(v);
        }
    }
    if level == Assurance::MultiFactor {
        amr.push("mfa".into());
    }

    let make = |outcome: Outcome, step_up: Option<StepUp>, reasons: BTreeSet<String>| Decision {
        outcome,
        assurance: if outcome == Outcome::Verified {
            level
        } else {
            Assurance::None
        },
        acr: if outcome == Outcome::Verified {
            level.acr().to_string()
        } else {
            Assurance::None.acr().to_string()
        },
        amr: if outcome == Outcome::Verified {
            amr.clone()
        } else {
            Vec::new()
        },
        channel: input.channel,
        step_up,
        biometrics: judgements.clone(),
        factors: succeeded.clone(),
        reasons: reasons.into_iter().collect(),
        policy: PolicyRef::from(input.policy),
    };

    if input.now_ms >= input.expires_ms {
        reasons.insert("session_expired".into());
        return make(Outcome::Denied, None, reasons);
    }
    if !customer.registered {
        reasons.insert("customer_not_registered".into());
        return make(Outcome::NotEnrolled, None, reasons);
    }

    // Verified?
    if level >= rules.required_assurance {
        reasons.insert(format!("{}_reached", level.as_str()));
        return make(Outcome::Verified, None, reasons);
    }
    if rules.passive_alone && level == Assurance::Passive {
        // NIST SP 800-63B-4 §5.3: passive biometrics are a risk signal; lowest assurance.
        reasons.insert("passive_biometric_only".into());
        return make(Outcome::Verified, None, reasons);
    }
    if biometric_matched && !rules.passive_alone && level == Assurance::Passive {
        reasons.insert("policy_requires_active_factor".into());
    }

    if session_failures >= rules.max_session_failures as usize {
        reasons.insert("too_many_failures_in_session".into());
        return make(Outcome::Denied, None, reasons);
    }

    // What is still missing, and which enrolled, unlocked factors can supply it.
    let usable_biometrics: Vec<Modality> = if biometrics_disabled(lockout, &customer.lockout) {
        reasons.insert("biometrics_disabled_after_failures".into());
        Vec::new()
    } else {
        // Only modalities that may be a factor are offered to complete a step-up (never voice).
        Modality::ALL
            .into_iter()
            .filter(|m| m.may_be_authentication_factor())
            .filter(|m| method_allows(&customer.methods, *m) && customer.templates.contains(m))
            .collect()
    };
    let mut hard_locked = false;
    let mut earliest_retry: Option<i64> = None;
    let mut any_ready = false;
    let mut offer = |wanted: &dyn Fn(FactorKind) -> bool| -> Vec<FactorKind> {
        rules
            .step_up_factors
            .iter()
            .copied()
            .filter(|f| wanted(*f) && customer.factors.contains(f) && !succeeded.contains(f))
            .filter(
                |f| match factor_gate(lockout, &customer.lockout, *f, input.now_ms) {
                    Ok(()) => {
                        any_ready = true;
                        true
                    }
                    Err(Some(t)) => {
                        earliest_retry = Some(earliest_retry.map_or(t, |e: i64| e.min(t)));
                        true
                    }
                    Err(None) => {
                        hard_locked = true;
                        false
                    }
                },
            )
            .collect()
    };

    let (factors, biometrics, remaining) = match rules.required_assurance {
        Assurance::MultiFactor if possession => {
            // Missing: knowledge, or a biometric at NIST FMR beside the possession factor.
            let f = offer(&|f| f.category() == FactorCategory::Knowledge);
            (f, usable_biometrics.clone(), 1)
        }
        Assurance::MultiFactor => {
            // A possession factor is always needed: ask for it first.
            let f = offer(&|f| f.category() == FactorCategory::Possession);
            let second = if knowledge || biometric_factor { 1 } else { 2 };
            (f, Vec::new(), second)
        }
        _ => (offer(&|_| true), Vec::new(), 1),
    };

    // Can the remaining factors actually be supplied?
    let satisfiable = !factors.is_empty()
        || (!biometrics.is_empty() && rules.required_assurance == Assurance::MultiFactor);
    if !satisfiable {
        if hard_locked {
            reasons.insert("factors_locked".into());
            return make(Outcome::Locked, None, reasons);
        }
        if biometrics_disabled(lockout, &customer.lockout) {
            reasons.insert("biometrics_disabled_no_other_factor".into());
            return make(Outcome::Locked, None, reasons);
        }
        reasons.insert("no_usable_factor_enrolled".into());
        return make(Outcome::NotEnrolled, None, reasons);
    }
    let retry_after_ms = if any_ready { None } else { earliest_retry };
    if retry_after_ms.is_some() {
        reasons.insert("factors_delayed_after_failures".into());
    }
    reasons.insert(format!("{}_required", rules.required_assurance.as_str()));
    make(
        Outcome::StepUpRequired,
        Some(StepUp {
            factors,
            biometrics,
            remaining,
            retry_after_ms,
        }),
        reasons,
    )
}

/// New lockout counters after one biometric comparison of this session.
pub fn after_biometric(state: &LockoutState, matched: bool) -> LockoutState {
    let mut next = state.clone();
    if matched {
        next.biometric_failures = 0;
    } else {
        next.biometric_failures = next.biometric_failures.saturating_add(1);
    }
    next
}

/// New lockout counters after one factor attempt: a success resets that factor's failures and
/// re-enables biometrics (§3.2.3: "until another authenticator succeeds").
pub fn after_factor(
    state: &LockoutState,
    kind: FactorKind,
    success: bool,
    now_ms: i64,
) -> LockoutState {
    let mut next = state.clone();
    if success {
        next.code_failures.remove(&kind);
        next.biometric_failures = 0;
    } else {
        let entry = next.code_failures.entry(kind).or_insert((0, now_ms));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now_ms;
    }
    next
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "nist_conformance_tests.rs"]
mod nist_conformance_tests;
