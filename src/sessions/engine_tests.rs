#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use super::*;
use crate::{policy::PolicySet, tenants::Sector};

fn policies() -> PolicySet {
    PolicySet::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap()
}

fn customer(methods: &[&str], templates: &[Modality], factors: &[FactorKind]) -> CustomerState {
    CustomerState {
        registered: true,
        methods: methods.iter().map(|s| s.to_string()).collect(),
        templates: templates.to_vec(),
        factors: factors.to_vec(),
        lockout: LockoutState::default(),
    }
}

fn score(modality: Modality, fmr: f64) -> BiometricScore {
    BiometricScore {
        modality,
        model_id: "m".into(),
        model_version: "1".into(),
        score: 0.7,
        fmr,
        alerts: Vec::new(),
    }
}

fn ok(kind: FactorKind) -> FactorAttempt {
    FactorAttempt {
        kind,
        success: true,
        at_ms: 1,
    }
}

fn bad(kind: FactorKind) -> FactorAttempt {
    FactorAttempt {
        kind,
        success: false,
        at_ms: 1,
    }
}

/// Every code factor (a passkey is added where a test is about it).
const ALL_FACTORS: [FactorKind; 4] = [
    FactorKind::Totp,
    FactorKind::OneTimeCode,
    FactorKind::Pin,
    FactorKind::RecoveryCode,
];

fn run(sector: Sector, channel: Channel, c: &CustomerState, e: &Evidence) -> Decision {
    let set = policies();
    let p = set.sector(sector);
    decide(&DecisionInput {
        policy: &p,
        channel,
        customer: c,
        evidence: e,
        now_ms: 1_000,
        expires_ms: 10_000,
    })
}

fn keystroke_match() -> Evidence {
    Evidence {
        biometrics: vec![score(Modality::KeystrokeFree, 1e-5)],
        factors: vec![],
    }
}

#[test]
fn same_passive_evidence_verifies_in_retail_but_not_in_finance() {
    let c = customer(
        &["typing", "voiceprint"],
        &[Modality::KeystrokeFree, Modality::Voice],
        &ALL_FACTORS,
    );
    let e = keystroke_match();
    let retail = run(Sector::Retail, Channel::Chat, &c, &e);
    assert_eq!(retail.outcome, Outcome::Verified);
    assert_eq!(retail.assurance, Assurance::Passive);
    assert_eq!(retail.amr, vec!["kbd"]);
    assert!(
        retail
            .reasons
            .contains(&"passive_biometric_only".to_string())
    );
    assert_eq!(retail.policy.id, "retail");

    for sector in [Sector::Finance, Sector::Health] {
        let d = run(sector, Channel::Chat, &c, &e);
        assert_eq!(d.outcome, Outcome::StepUpRequired, "{sector}");
        let step = d.step_up.unwrap();
        // Only the possession factor is missing: the biometric (FMR 1e-5) supplies the other.
        assert_eq!(
            step.factors,
            vec![
                FactorKind::Totp,
                FactorKind::OneTimeCode,
                FactorKind::RecoveryCode
            ]
        );
        assert_eq!(step.remaining, 1);
        assert!(d.amr.is_empty());
        assert_eq!(d.assurance, Assurance::None);
    }
}

#[test]
fn finance_keystroke_plus_possession_is_multi_factor() {
    let c = customer(&["typing"], &[Modality::KeystrokeFree], &ALL_FACTORS);
    let e = Evidence {
        biometrics: vec![score(Modality::KeystrokeFree, 5e-5)],
        factors: vec![ok(FactorKind::Totp)],
    };
    let d = run(Sector::Finance, Channel::Chat, &c, &e);
    assert_eq!(d.outcome, Outcome::Verified);
    assert_eq!(d.assurance, Assurance::MultiFactor);
    assert_eq!(d.acr, "urn:trustline:acr:mfa");
    assert_eq!(d.amr, vec!["kbd", "otp", "mfa"]);
}

#[test]
fn biometric_beside_a_pin_is_not_multi_factor() {
    // §3.2.3: a biometric counts only with a physical authenticator.
    let c = customer(&["typing"], &[Modality::KeystrokeFree], &ALL_FACTORS);
    let e = Evidence {
        biometrics: vec![score(Modality::KeystrokeFree, 5e-5)],
        factors: vec![ok(FactorKind::Pin)],
    };
    let d = run(Sector::Finance, Channel::Chat, &c, &e);
    assert_eq!(d.outcome, Outcome::StepUpRequired);
    let step = d.step_up.unwrap();
    assert_eq!(
        step.factors,
        vec![
            FactorKind::Totp,
            FactorKind::OneTimeCode,
            FactorKind::RecoveryCode
        ]
    );
    assert_eq!(step.remaining, 1);
    assert!(
        d.reasons
            .contains(&"biometric_needs_possession_factor".to_string())
    );
}

#[test]
fn finance_with_no_evidence_asks_for_possession_then_one_more() {
    let c = customer(&["code_only"], &[], &ALL_FACTORS);
    let d = run(Sector::Finance, Channel::Web, &c, &Evidence::default());
    let step = d.step_up.unwrap();
    assert_eq!(step.remaining, 2);
    assert!(
        step.factors
            .iter()
            .all(|f| f.category() == FactorCategory::Possession)
    );
    // after a TOTP only the PIN is asked for
    let e = Evidence {
        biometrics: vec![],
        factors: vec![ok(FactorKind::Totp)],
    };
    let d = run(Sector::Finance, Channel::Web, &c, &e);
    let step = d.step_up.unwrap();
    assert_eq!(step.factors, vec![FactorKind::Pin]);
    assert!(
        step.biometrics.is_empty(),
        "code_only: no biometric offered"
    );
    let e = Evidence {
        biometrics: vec![],
        factors: vec![ok(FactorKind::Totp), ok(FactorKind::Pin)],
    };
    let d = run(Sector::Finance, Channel::Web, &c, &e);
    assert_eq!(d.outcome, Outcome::Verified);
    assert_eq!(d.amr, vec!["otp", "pin", "mfa"]);
}

#[test]
fn biometric_above_nist_fmr_is_only_a_risk_signal() {
    // retail accepts keystroke at 1e-2 alone, but it never counts as a factor for MFA
    let c = customer(&["typing"], &[Modality::KeystrokeFree], &ALL_FACTORS);
    let e = Evidence {
        biometrics: vec![score(Modality::KeystrokeFree, 5e-3)],
        factors: vec![],
    };
    assert_eq!(
        run(Sector::Retail, Channel::Chat, &c, &e).assurance,
        Assurance::Passive
    );
    // in finance 5e-3 is not a match at all
    let d = run(Sector::Finance, Channel::Chat, &c, &e);
    assert_eq!(d.biometrics[0].result, "no_match");
    assert_eq!(d.step_up.unwrap().remaining, 2);
}

#[test]
fn registration_choice_is_respected() {
    // a code_only customer's biometric evidence is never used
    let c = customer(&["code_only"], &[Modality::KeystrokeFree], &ALL_FACTORS);
    let d = run(Sector::Retail, Channel::Chat, &c, &keystroke_match());
    assert_eq!(d.outcome, Outcome::StepUpRequired);
    assert_eq!(d.biometrics[0].result, "not_chosen");
    assert!(
        d.reasons
            .contains(&"keystroke_free_not_chosen_by_customer".to_string())
    );
    // a voice-only customer's typing is not used either
    let c = customer(
        &["voiceprint"],
        &[Modality::Voice, Modality::KeystrokeFree],
        &ALL_FACTORS,
    );
    let d = run(Sector::Retail, Channel::Chat, &c, &keystroke_match());
    assert_eq!(d.outcome, Outcome::StepUpRequired);
    // no template: not a match
    let c = customer(&["typing"], &[], &ALL_FACTORS);
    let d = run(Sector::Retail, Channel::Chat, &c, &keystroke_match());
    assert_eq!(d.biometrics[0].result, "no_template");
}

#[test]
fn unregistered_and_unenrolled_customers() {
    let d = run(
        Sector::Retail,
        Channel::Chat,
        &CustomerState::default(),
        &keystroke_match(),
    );
    assert_eq!(d.outcome, Outcome::NotEnrolled);
    assert!(d.biometrics.is_empty() || d.amr.is_empty());
    let c = customer(&["code_only"], &[], &[]);
    let d = run(Sector::Retail, Channel::Chat, &c, &Evidence::default());
    assert_eq!(d.outcome, Outcome::NotEnrolled);
    assert!(d.reasons.contains(&"no_usable_factor_enrolled".to_string()));
    // finance with only a PIN: multi-factor can never be reached
    let c = customer(&["code_only"], &[], &[FactorKind::Pin]);
    assert_eq!(
        run(Sector::Finance, Channel::Chat, &c, &Evidence::default()).outcome,
        Outcome::NotEnrolled
    );
}

#[test]
fn five_biometric_failures_disable_biometrics_until_a_factor_succeeds() {
    let set = policies();
    let p = set.sector(Sector::Retail);
    let mut state = LockoutState::default();
    for _ in 0..5 {
        assert!(!biometrics_disabled(&p.lockout, &state));
        state = after_biometric(&state, false);
    }
    assert!(biometrics_disabled(&p.lockout, &state));
    let mut c = customer(&["typing"], &[Modality::KeystrokeFree], &ALL_FACTORS);
    c.lockout = state.clone();
    let d = run(Sector::Retail, Channel::Chat, &c, &keystroke_match());
    assert_eq!(
        d.outcome,
        Outcome::StepUpRequired,
        "a genuine match is not used while disabled"
    );
    assert_eq!(d.biometrics[0].result, "disabled");
    // no factor enrolled: locked
    let mut only_bio = customer(&["typing"], &[Modality::KeystrokeFree], &[]);
    only_bio.lockout = state.clone();
    assert_eq!(
        run(Sector::Retail, Channel::Chat, &only_bio, &keystroke_match()).outcome,
        Outcome::Locked
    );
    // a factor success re-enables
    let state = after_factor(&state, FactorKind::Totp, true, 5);
    assert!(!biometrics_disabled(&p.lockout, &state));
    // a biometric match resets the count
    let s = after_biometric(&after_biometric(&LockoutState::default(), false), true);
    assert_eq!(s.biometric_failures, 0);
}

#[test]
fn code_factors_back_off_then_lock() {
    let set = policies();
    let p = set.sector(Sector::Retail);
    let l = &p.lockout;
    let mut s = LockoutState::default();
    for i in 0..3 {
        s = after_factor(&s, FactorKind::Pin, false, 1_000 + i);
    }
    // third failure at t=1002: 30 s delay
    assert_eq!(
        factor_gate(l, &s, FactorKind::Pin, 1_003),
        Err(Some(31_002))
    );
    assert_eq!(factor_gate(l, &s, FactorKind::Pin, 31_002), Ok(()));
    assert_eq!(factor_gate(l, &s, FactorKind::Totp, 1_003), Ok(()));
    s = after_factor(&s, FactorKind::Pin, false, 40_000);
    assert_eq!(
        factor_gate(l, &s, FactorKind::Pin, 40_001),
        Err(Some(100_000))
    );
    let mut c = customer(&["code_only"], &[], &[FactorKind::Pin]);
    c.lockout = s.clone();
    let d = {
        let input = DecisionInput {
            policy: &p,
            channel: Channel::Chat,
            customer: &c,
            evidence: &Evidence::default(),
            now_ms: 40_001,
            expires_ms: 1_000_000,
        };
        decide(&input)
    };
    assert_eq!(d.step_up.unwrap().retry_after_ms, Some(100_000));
    for _ in 0..100 {
        s = after_factor(&s, FactorKind::Pin, false, 50_000);
    }
    assert_eq!(factor_gate(l, &s, FactorKind::Pin, i64::MAX), Err(None));
    c.lockout = s;
    assert_eq!(
        run(Sector::Retail, Channel::Chat, &c, &Evidence::default()).outcome,
        Outcome::Locked
    );
    // success resets
    let s = after_factor(&c.lockout, FactorKind::Pin, true, 60_000);
    assert_eq!(factor_gate(l, &s, FactorKind::Pin, 60_000), Ok(()));
}

#[test]
fn expired_and_failing_sessions_are_denied() {
    let set = policies();
    let p = set.sector(Sector::Retail);
    let c = customer(&["typing"], &[Modality::KeystrokeFree], &ALL_FACTORS);
    let d = decide(&DecisionInput {
        policy: &p,
        channel: Channel::Chat,
        customer: &c,
        evidence: &keystroke_match(),
        now_ms: 10_000,
        expires_ms: 10_000,
    });
    assert_eq!(d.outcome, Outcome::Denied);
    assert!(d.reasons.contains(&"session_expired".to_string()));
    let e = Evidence {
        biometrics: vec![],
        factors: (0..6).map(|_| bad(FactorKind::Totp)).collect(),
    };
    assert_eq!(
        run(Sector::Retail, Channel::Chat, &c, &e).outcome,
        Outcome::Denied
    );
}

#[test]
fn channel_rules_apply_retail_video_needs_a_factor() {
    let c = customer(&["typing"], &[Modality::KeystrokeFree], &ALL_FACTORS);
    let d = run(Sector::Retail, Channel::Video, &c, &keystroke_match());
    assert_eq!(d.outcome, Outcome::StepUpRequired);
    assert_eq!(d.step_up.unwrap().remaining, 1);
    assert!(
        d.reasons
            .contains(&"policy_requires_active_factor".to_string())
    );
}

#[test]
fn product_fusion_multiplies_fmrs() {
    let set = policies();
    let mut p = (*set.sector(Sector::Retail)).clone();
    for rules in p.channels.values_mut() {
        rules.fusion = Fusion::ProductOfFmr;
    }
    let c = customer(
        &["typing", "voiceprint"],
        &[Modality::KeystrokeFree, Modality::Voice],
        &ALL_FACTORS,
    );
    // each alone fails its limit (voice 1e-3) but together 0.05 * 0.01 = 5e-4 <= 1e-3
    let e = Evidence {
        biometrics: vec![
            score(Modality::Voice, 0.05),
            score(Modality::KeystrokeFree, 0.01),
        ],
        factors: vec![],
    };
    let d = decide(&DecisionInput {
        policy: &p,
        channel: Channel::Voice,
        customer: &c,
        evidence: &e,
        now_ms: 0,
        expires_ms: 10,
    });
    assert_eq!(d.outcome, Outcome::Verified);
    assert_eq!(d.assurance, Assurance::Passive);
}

#[test]
fn product_fusion_does_not_multiply_samples_of_one_modality() {
    // Two utterances of one call are one voice: 0.03 and 0.03 would multiply to 9e-4, under
    // retail's voice limit of 1e-3, but correlated samples are not independent evidence.
    let set = policies();
    let mut p = (*set.sector(Sector::Retail)).clone();
    for rules in p.channels.values_mut() {
        rules.fusion = Fusion::ProductOfFmr;
    }
    let c = customer(&["voiceprint"], &[Modality::Voice], &ALL_FACTORS);
    let two = Evidence {
        biometrics: vec![score(Modality::Voice, 0.03), score(Modality::Voice, 0.03)],
        factors: vec![],
    };
    let input = |e| DecisionInput {
        policy: &p,
        channel: Channel::Voice,
        customer: &c,
        evidence: e,
        now_ms: 0,
        expires_ms: 10,
    };
    let d = decide(&input(&two));
    assert_ne!(d.outcome, Outcome::Verified, "{d:?}");
    // The best sample of the modality speaks for it: one at 5e-4 verifies, the other adds
    // nothing and takes nothing away.
    let better = Evidence {
        biometrics: vec![score(Modality::Voice, 0.03), score(Modality::Voice, 5e-4)],
        factors: vec![],
    };
    assert_eq!(decide(&input(&better)).outcome, Outcome::Verified);
}

#[test]
fn handoff_is_reevaluation_under_the_target_channel() {
    // verified passively on retail chat; on video only the missing factor is asked for
    let c = customer(&["typing"], &[Modality::KeystrokeFree], &ALL_FACTORS);
    let chat = run(Sector::Retail, Channel::Chat, &c, &keystroke_match());
    assert_eq!(chat.outcome, Outcome::Verified);
    let video = run(Sector::Retail, Channel::Video, &c, &keystroke_match());
    assert_eq!(video.outcome, Outcome::StepUpRequired);
    assert_eq!(video.step_up.unwrap().remaining, 1);
}

#[test]
fn a_spoof_alert_flags_in_retail_and_blocks_in_finance() {
    let c = customer(&["voiceprint"], &[Modality::Voice], &ALL_FACTORS);
    let mut spoofed = score(Modality::Voice, 1e-5);
    spoofed.alerts = vec![SPOOF_SUSPECTED.to_string()];
    let e = Evidence {
        biometrics: vec![spoofed.clone()],
        factors: vec![ok(FactorKind::Totp)],
    };
    // Retail flags: the sample is still judged (a match), and the decision says so.
    let retail = run(Sector::Retail, Channel::Voice, &c, &e);
    assert_eq!(retail.outcome, Outcome::Verified);
    assert!(retail.amr.contains(&"vbm".to_string()));
    assert!(
        retail
            .reasons
            .contains(&"voice_presentation_attack_flagged".to_string())
    );
    // Finance blocks: the voice is not a match, so TOTP alone is one factor, not MFA.
    let finance = run(Sector::Finance, Channel::Voice, &c, &e);
    assert!(!finance.amr.contains(&"vbm".to_string()), "{finance:?}");
    assert_ne!(finance.assurance, Assurance::MultiFactor);
    assert!(
        finance
            .reasons
            .contains(&"voice_presentation_attack_blocked".to_string())
    );
    // The same sample without the alert is a match, but voice is never a factor (NIST SP
    // 800-63B-4 §3.2.3): beside TOTP it stays a risk signal, and finance asks for the PIN.
    let clean = Evidence {
        biometrics: vec![score(Modality::Voice, 1e-5)],
        factors: vec![ok(FactorKind::Totp)],
    };
    let finance = run(Sector::Finance, Channel::Voice, &c, &clean);
    assert_eq!(finance.biometrics[0].result, "match");
    assert_eq!(finance.outcome, Outcome::StepUpRequired);
    assert!(
        finance
            .reasons
            .contains(&"voice_is_risk_signal_only".to_string())
    );
    // The lockout counters see the same rule.
    let set = policies();
    assert!(sample_matches(
        &set.sector(Sector::Retail),
        Channel::Voice,
        &spoofed
    ));
    assert!(!sample_matches(
        &set.sector(Sector::Finance),
        Channel::Voice,
        &spoofed
    ));
}

#[test]
fn a_replay_alert_is_a_presentation_attack_under_the_same_policy() {
    let c = customer(&["voiceprint"], &[Modality::Voice], &ALL_FACTORS);
    let mut replayed = score(Modality::Voice, 1e-5);
    replayed.alerts = vec![REPLAY_SUSPECTED.to_string()];
    let e = Evidence {
        biometrics: vec![replayed.clone()],
        factors: vec![],
    };
    let retail = run(Sector::Retail, Channel::Voice, &c, &e);
    assert_eq!(retail.outcome, Outcome::Verified);
    for r in [
        "voice_replay_suspected",
        "voice_presentation_attack_flagged",
    ] {
        assert!(retail.reasons.contains(&r.to_string()), "{retail:?}");
    }
    let finance = run(Sector::Finance, Channel::Voice, &c, &e);
    assert_eq!(finance.biometrics[0].result, "blocked");
    assert!(
        finance
            .reasons
            .contains(&"voice_presentation_attack_blocked".to_string())
    );
    let set = policies();
    assert!(!sample_matches(
        &set.sector(Sector::Finance),
        Channel::Voice,
        &replayed
    ));
}

/// NIST SP 800-63B-4: a passkey (user verification required) is a multi-factor cryptographic
/// authenticator: alone it reaches multi-factor, in every sector, and is offered for a step-up
/// only to a customer who has one.
#[test]
fn a_passkey_alone_is_multi_factor_and_offered_only_when_registered() {
    let with_passkey = customer(&["code_only"], &[], &[FactorKind::Passkey, FactorKind::Pin]);
    let without = customer(&["code_only"], &[], &[FactorKind::Pin]);
    for sector in Sector::ALL {
        let asked = run(sector, Channel::Voice, &with_passkey, &Evidence::default());
        assert_eq!(asked.outcome, Outcome::StepUpRequired, "{sector}");
        assert!(
            asked
                .step_up
                .unwrap()
                .factors
                .contains(&FactorKind::Passkey),
            "{sector}"
        );
        let not_offered = run(sector, Channel::Voice, &without, &Evidence::default());
        assert!(
            not_offered
                .step_up
                .is_none_or(|s| !s.factors.contains(&FactorKind::Passkey)),
            "{sector}"
        );
        let e = Evidence {
            biometrics: vec![],
            factors: vec![ok(FactorKind::Passkey)],
        };
        let d = run(sector, Channel::Voice, &with_passkey, &e);
        assert_eq!(d.outcome, Outcome::Verified, "{sector}");
        assert_eq!(d.assurance, Assurance::MultiFactor, "{sector}");
        assert_eq!(d.amr, vec!["hwk", "mfa"], "{sector}");
        // A failed passkey attempt counts as nothing but a failure.
        let failed = Evidence {
            biometrics: vec![],
            factors: vec![bad(FactorKind::Passkey)],
        };
        assert_eq!(
            run(sector, Channel::Voice, &with_passkey, &failed).outcome,
            Outcome::StepUpRequired,
            "{sector}"
        );
    }
}
