//! Conformance of the shipped sector policies and the decision engine with NIST SP 800-63B-4
//! (final) §3.2.3 "Use of biometrics", one test per rule. Each test loads the real files in
//! `policies/` and decides through the real engine, in every sector where the rule applies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use super::*;
use crate::{
    policy::{KeystrokeStanding, PolicySet, VoiceStanding},
    tenants::Sector,
};

fn policies() -> PolicySet {
    PolicySet::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap()
}

fn sector_files() -> Vec<(String, Vec<u8>)> {
    crate::policy::tests::shipped()
}

/// The shipped sector files with one file's text edited.
fn edited(sector: Sector, edit: impl Fn(&str) -> String) -> Vec<(String, Vec<u8>)> {
    let name = format!("{}.toml", sector.as_str());
    sector_files()
        .into_iter()
        .map(|(n, b)| {
            if n.ends_with(&name) {
                let text = String::from_utf8(b).unwrap();
                let changed = edit(&text);
                assert_ne!(changed, text, "the edit must change {name}");
                (n, changed.into_bytes())
            } else {
                (n, b)
            }
        })
        .collect()
}

fn refused(files: &[(String, Vec<u8>)], tenants: &[(String, Vec<u8>)]) -> String {
    PolicySet::from_files(files, tenants)
        .expect_err("a non-conformant policy must be refused")
        .to_string()
}

fn customer(methods: &[&str], templates: &[Modality]) -> CustomerState {
    CustomerState {
        registered: true,
        methods: methods.iter().map(|s| s.to_string()).collect(),
        templates: templates.to_vec(),
        factors: FactorKind::ALL.to_vec(),
        lockout: LockoutState::default(),
    }
}

fn sample(modality: Modality, fmr: f64) -> BiometricScore {
    BiometricScore {
        modality,
        model_id: "m".into(),
        model_version: "1".into(),
        score: 0.9,
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

fn run(
    set: &PolicySet,
    sector: Sector,
    channel: Channel,
    c: &CustomerState,
    e: &Evidence,
) -> Decision {
    decide(&DecisionInput {
        policy: &set.sector(sector),
        channel,
        customer: c,
        evidence: e,
        now_ms: 1_000,
        expires_ms: 10_000,
    })
}

const KEYSTROKE: [Modality; 2] = [Modality::KeystrokeFixed, Modality::KeystrokeFree];
const POSSESSION: [FactorKind; 3] = [
    FactorKind::Totp,
    FactorKind::OneTimeCode,
    FactorKind::RecoveryCode,
];

/// §3.2.3: "Biometrics SHALL be used only as part of multi-factor authentication with a
/// physical authenticator (something you have)." Keystroke rhythm at FMR 1:10,000 or better
/// completes multi-factor beside each possession factor, never beside a PIN, in every sector,
/// and every policy says so in `[nist_800_63b]`.
#[test]
fn rule_biometric_only_beside_a_physical_authenticator() {
    let set = policies();
    for sector in Sector::ALL {
        assert_eq!(
            set.sector(sector).nist_800_63b.keystroke,
            KeystrokeStanding::BesidePhysicalAuthenticator
        );
        for modality in KEYSTROKE {
            let c = customer(&["typing"], &[modality]);
            for factor in POSSESSION {
                let e = Evidence {
                    biometrics: vec![sample(modality, 5e-5)],
                    factors: vec![ok(factor)],
                };
                let d = run(&set, sector, Channel::Chat, &c, &e);
                assert_eq!(d.outcome, Outcome::Verified, "{sector} {factor}");
                assert_eq!(d.assurance, Assurance::MultiFactor, "{sector} {factor}");
                assert!(d.amr.contains(&"mfa".to_string()));
            }
            let beside_pin = Evidence {
                biometrics: vec![sample(modality, 5e-5)],
                factors: vec![ok(FactorKind::Pin)],
            };
            let d = run(&set, sector, Channel::Chat, &c, &beside_pin);
            assert_ne!(
                d.assurance,
                Assurance::MultiFactor,
                "{sector}: beside a PIN"
            );
            if matches!(sector, Sector::Finance | Sector::Health) {
                assert_eq!(d.outcome, Outcome::StepUpRequired, "{sector}");
                assert!(
                    d.reasons
                        .contains(&"biometric_needs_possession_factor".to_string())
                );
                // And alone it never verifies there.
                let alone = Evidence {
                    biometrics: vec![sample(modality, 1e-9)],
                    factors: vec![],
                };
                let d = run(&set, sector, Channel::Chat, &c, &alone);
                assert_eq!(d.outcome, Outcome::StepUpRequired, "{sector}");
            }
        }
    }
    // The loader refuses a policy that claims keystroke may authenticate on its own.
    for sector in Sector::ALL {
        let files = edited(sector, |t| {
            t.replace(
                "keystroke = \"beside_physical_authenticator\"",
                "keystroke = \"authenticator\"",
            )
        });
        assert!(refused(&files, &[]).contains("§3.2.3"));
    }
}

/// §3.2.3 (final): voice-based biometric comparison SHALL NOT be used as an authenticator.
/// Voice is a risk signal: in finance and health it never satisfies a factor, whatever its
/// FMR and whatever it is presented with; in retail it may lower friction (verify alone at the
/// lowest assurance, `passive`) because the policy chose so, and a step-up never offers it.
#[test]
fn rule_voice_is_never_an_authenticator() {
    let set = policies();
    let c = customer(&["voiceprint"], &[Modality::Voice]);
    let voice = || sample(Modality::Voice, 1e-9);
    for sector in Sector::ALL {
        assert_eq!(
            set.sector(sector).nist_800_63b.voice,
            VoiceStanding::RiskSignal
        );
        for channel in Channel::ALL {
            // Beside each possession factor the voice adds nothing: one factor, not two.
            for factor in POSSESSION {
                let e = Evidence {
                    biometrics: vec![voice()],
                    factors: vec![ok(factor)],
                };
                let d = run(&set, sector, channel, &c, &e);
                assert_eq!(d.biometrics[0].result, "match");
                assert_ne!(d.assurance, Assurance::MultiFactor, "{sector} {channel}");
                assert!(d.reasons.contains(&"voice_is_risk_signal_only".to_string()));
                if let Some(step) = &d.step_up {
                    assert!(!step.biometrics.contains(&Modality::Voice));
                }
            }
            // Alone: a risk signal, at most `passive`, and only where the policy allows it.
            let alone = Evidence {
                biometrics: vec![voice()],
                factors: vec![],
            };
            let d = run(&set, sector, channel, &c, &alone);
            let rules = set.sector(sector).channel(channel).clone();
            if rules.passive_alone {
                assert_eq!(d.outcome, Outcome::Verified);
                assert_eq!(d.assurance, Assurance::Passive);
                assert_eq!(d.acr, "urn:trustline:acr:passive");
                assert!(d.reasons.contains(&"passive_biometric_only".to_string()));
            } else {
                assert_ne!(d.outcome, Outcome::Verified, "{sector} {channel}");
            }
            if matches!(sector, Sector::Finance | Sector::Health) {
                assert!(!rules.passive_alone);
                assert_eq!(d.outcome, Outcome::StepUpRequired);
                assert_eq!(d.step_up.as_ref().unwrap().remaining, 2);
                // With possession and voice only, the PIN is still asked for.
                let e = Evidence {
                    biometrics: vec![voice()],
                    factors: vec![ok(FactorKind::Totp)],
                };
                let step = run(&set, sector, channel, &c, &e).step_up.unwrap();
                assert_eq!(step.factors, vec![FactorKind::Pin]);
                assert!(step.biometrics.is_empty());
            }
        }
    }
    // Retail lowers friction by the policy's choice; a tenant that does not want it turns it
    // off in its tightening, and then the voice alone does not verify.
    let retail = String::from_utf8(
        sector_files()
            .into_iter()
            .find(|(n, _)| n.ends_with("retail.toml"))
            .unwrap()
            .1,
    )
    .unwrap();
    assert!(retail.contains("passive_alone = true"));
    let tightening = b"tenant = \"quiet-shop\"\nsector = \"retail\"\nversion = \"1\"\n\
                       [defaults]\npassive_alone = false\n";
    let set2 = PolicySet::from_files(
        &sector_files(),
        &[("tenants/quiet-shop.toml".into(), tightening.to_vec())],
    )
    .unwrap();
    let p = set2
        .for_tenant(&"quiet-shop".parse().unwrap(), Sector::Retail)
        .unwrap();
    let d = decide(&DecisionInput {
        policy: &p,
        channel: Channel::Voice,
        customer: &c,
        evidence: &Evidence {
            biometrics: vec![voice()],
            factors: vec![],
        },
        now_ms: 1_000,
        expires_ms: 10_000,
    });
    assert_eq!(d.outcome, Outcome::StepUpRequired);
    // The loader refuses voice as an authenticator in every sector, and a tenant file cannot
    // restate the standing at all.
    for sector in Sector::ALL {
        let files = edited(sector, |t| {
            t.replace("voice = \"risk_signal\"", "voice = \"authenticator\"")
        });
        let e = refused(&files, &[]);
        assert!(e.contains("SHALL NOT"), "{e}");
    }
    let restate = b"tenant = \"loud-shop\"\nsector = \"retail\"\nversion = \"1\"\n\
                    [nist_800_63b]\nvoice = \"risk_signal\"\n";
    refused(
        &sector_files(),
        &[("tenants/loud-shop.toml".into(), restate.to_vec())],
    );
}

/// §3.2.3: "The biometric system SHALL operate with a false-match rate (FMR) of 1 in 10 000 or
/// better." A biometric above it is at most a risk signal beside a possession factor, and
/// finance and health policies cannot set a looser matcher limit.
#[test]
fn rule_fmr_one_in_ten_thousand() {
    let set = policies();
    for sector in Sector::ALL {
        let c = customer(&["typing"], &[Modality::KeystrokeFree]);
        let e = Evidence {
            biometrics: vec![sample(Modality::KeystrokeFree, 2e-4)],
            factors: vec![ok(FactorKind::Totp)],
        };
        let d = run(&set, sector, Channel::Chat, &c, &e);
        assert_ne!(d.assurance, Assurance::MultiFactor, "{sector}");
        let at_limit = Evidence {
            biometrics: vec![sample(Modality::KeystrokeFree, NIST_MAX_FMR)],
            factors: vec![ok(FactorKind::Totp)],
        };
        let d = run(&set, sector, Channel::Chat, &c, &at_limit);
        assert_eq!(d.assurance, Assurance::MultiFactor, "{sector}");
    }
    for sector in [Sector::Finance, Sector::Health] {
        for p in set.sector(sector).channels.values() {
            for m in Modality::ALL {
                assert!(p.max_fmr.get(m) <= NIST_MAX_FMR);
            }
        }
        let files = edited(sector, |t| {
            t.replacen("keystroke_free = 1e-4", "keystroke_free = 1e-3", 1)
        });
        assert!(refused(&files, &[]).contains("1e-4"));
    }
}

/// §3.2.3: a non-biometric alternative is always offered. Every shipped channel offers a code
/// factor; an empty `step_up_factors` is refused; a customer with only biometric evidence is
/// always offered a code factor when the policy asks for more.
#[test]
fn rule_non_biometric_alternative_always_offered() {
    let set = policies();
    let c = customer(
        &["voiceprint", "typing"],
        &[Modality::Voice, Modality::KeystrokeFree],
    );
    for sector in Sector::ALL {
        for channel in Channel::ALL {
            assert!(
                !set.sector(sector)
                    .channel(channel)
                    .step_up_factors
                    .is_empty()
            );
            let d = run(&set, sector, channel, &c, &Evidence::default());
            let step = d.step_up.expect("nothing presented: a step-up");
            assert!(!step.factors.is_empty(), "{sector} {channel}");
        }
        let files = edited(sector, |t| {
            t.replacen(
                "step_up_factors = [\"totp\", \"one_time_code\", \"pin\", \"recovery_code\", \"passkey\"]",
                "step_up_factors = []",
                1,
            )
        });
        assert!(refused(&files, &[]).contains("non-biometric alternative"));
    }
}

/// §3.2.3: "no more than five consecutive failed authentication attempts (or 10 with PAD)";
/// then biometrics are disabled until another authenticator succeeds. The shipped policies use
/// 5 (the limit without counting on PAD), a sixth is refused, and a successful code factor
/// re-enables biometrics.
#[test]
fn rule_five_consecutive_failures_then_another_factor() {
    let set = policies();
    let c0 = customer(&["typing"], &[Modality::KeystrokeFree]);
    for sector in Sector::ALL {
        let p = set.sector(sector);
        assert!(p.lockout.biometric_max_consecutive_failures <= 5);
        let mut lockout = LockoutState::default();
        for _ in 0..p.lockout.biometric_max_consecutive_failures {
            lockout = after_biometric(&lockout, false);
        }
        let c = CustomerState {
            lockout: lockout.clone(),
            ..c0.clone()
        };
        let e = Evidence {
            biometrics: vec![sample(Modality::KeystrokeFree, 1e-9)],
            factors: vec![],
        };
        let d = run(&set, sector, Channel::Chat, &c, &e);
        assert_eq!(d.biometrics[0].result, "disabled", "{sector}");
        assert!(d.step_up.as_ref().unwrap().biometrics.is_empty());
        let after = after_factor(&lockout, FactorKind::Totp, true, 2_000);
        assert!(!biometrics_disabled(&p.lockout, &after));
        let files = edited(sector, |t| {
            t.replacen(
                "biometric_max_consecutive_failures = 5",
                "biometric_max_consecutive_failures = 6",
                1,
            )
        });
        assert!(refused(&files, &[]).contains("§3.2.3"));
    }
}
