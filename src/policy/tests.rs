#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// The shipped sector files, as `(sectors/<name>, bytes)`.
pub(crate) fn shipped() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/sectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"))
        .map(|p| {
            (
                format!("sectors/{}", p.file_name().unwrap().to_string_lossy()),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn with_file(name: &str, edit: impl Fn(String) -> String) -> Vec<(String, Vec<u8>)> {
    shipped()
        .into_iter()
        .map(|(n, b)| {
            if n.ends_with(name) {
                (n, edit(String::from_utf8(b).unwrap()).into_bytes())
            } else {
                (n, b)
            }
        })
        .collect()
}

fn err_of(files: &[(String, Vec<u8>)], tenants: &[(String, Vec<u8>)]) -> String {
    PolicySet::from_files(files, tenants)
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn shipped_policies_load_with_ids_versions_and_hashes() {
    let set = PolicySet::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"))
        .expect("shipped policies are valid");
    for sector in Sector::ALL {
        let p = set.sector(sector);
        assert_eq!(p.id, sector.as_str());
        assert_eq!(p.version, "1.2.0");
        assert_eq!(p.hash.len(), 64);
        assert_eq!(p.channels.len(), Channel::ALL.len());
    }
    // Finance and health never let passive biometrics verify alone, on any channel.
    for sector in [Sector::Finance, Sector::Health] {
        for rules in set.sector(sector).channels.values() {
            assert!(!rules.passive_alone);
            assert_eq!(rules.required_assurance, Assurance::MultiFactor);
        }
    }
    let retail = set.sector(Sector::Retail);
    assert!(retail.channel(Channel::Voice).passive_alone);
    assert!(!retail.channel(Channel::Video).passive_alone);
}

#[test]
fn hash_is_sha256_of_the_file() {
    let files = shipped();
    let (_, bytes) = files
        .iter()
        .find(|(n, _)| n.ends_with("retail.toml"))
        .unwrap();
    let p = parse_sector("retail.toml", bytes).unwrap();
    let expected = hex::encode(digest::digest(&digest::SHA256, bytes).as_ref());
    assert_eq!(p.hash, expected);
}

#[test]
fn unknown_keys_are_refused_naming_the_key() {
    let files = with_file("retail.toml", |s| {
        s.replace(
            "fusion = \"best_modality\"",
            "fusion = \"best_modality\"\nfuzzy = 1",
        )
    });
    let err = err_of(&files, &[]);
    assert!(
        err.contains("retail.toml") && err.contains("fuzzy"),
        "{err}"
    );
}

#[test]
fn unknown_channel_and_missing_channel_are_refused() {
    let files = with_file("retail.toml", |s| {
        s.replace("[channels.web]", "[channels.fax]")
    });
    let err = err_of(&files, &[]);
    assert!(err.contains("unknown channel `fax`"), "{err}");
    let files = with_file("retail.toml", |s| s.replace("[channels.web]\n", ""));
    let err = err_of(&files, &[]);
    assert!(err.contains("[channels.web]"), "{err}");
}

#[test]
fn a_sector_without_a_policy_is_refused() {
    let files: Vec<_> = shipped()
        .into_iter()
        .filter(|(n, _)| !n.ends_with("health.toml"))
        .collect();
    assert_eq!(
        PolicySet::from_files(&files, &[]).unwrap_err(),
        PolicyError::MissingSector("health")
    );
}

#[test]
fn impossible_thresholds_are_refused() {
    let files = with_file("retail.toml", |s| s.replace("voice = 1e-3", "voice = 0.0"));
    assert!(err_of(&files, &[]).contains("max_fmr.voice"));
    let files = with_file("retail.toml", |s| s.replace("voice = 1e-3", "voice = 1.5"));
    assert!(err_of(&files, &[]).contains("impossible"));
    // finance above NIST's 1e-4
    let files = with_file("finance.toml", |s| {
        s.replace("voice = 1e-4", "voice = 1e-3")
    });
    assert!(err_of(&files, &[]).contains("NIST"));
    // multi-factor with only a PIN cannot be reached
    let files = with_file("finance.toml", |s| {
        s.replace(
            "step_up_factors = [\"totp\", \"one_time_code\", \"pin\", \"recovery_code\", \"passkey\"]",
            "step_up_factors = [\"pin\"]",
        )
    });
    assert!(err_of(&files, &[]).contains("cannot be reached"));
    // ...but a passkey alone reaches it (a multi-factor cryptographic authenticator).
    let files = with_file("finance.toml", |s| {
        s.replace(
            "step_up_factors = [\"totp\", \"one_time_code\", \"pin\", \"recovery_code\", \"passkey\"]",
            "step_up_factors = [\"passkey\"]",
        )
    });
    assert!(PolicySet::from_files(&files, &[]).is_ok());
    // more than 5 biometric failures
    let files = with_file("retail.toml", |s| {
        s.replace(
            "biometric_max_consecutive_failures = 5",
            "biometric_max_consecutive_failures = 11",
        )
    });
    assert!(err_of(&files, &[]).contains("biometric_max_consecutive_failures"));
    let files = with_file("retail.toml", |s| {
        s.replace(
            "step_up_factors = [\"totp\", \"one_time_code\", \"pin\", \"recovery_code\", \"passkey\"]",
            "step_up_factors = []",
        )
    });
    assert!(err_of(&files, &[]).contains("non-biometric alternative"));
}

#[test]
fn finance_and_health_refuse_passive_alone_anywhere() {
    for sector in ["finance", "health"] {
        let files = with_file(&format!("{sector}.toml"), |s| {
            s.replacen("passive_alone = false", "passive_alone = true", 1)
        });
        let err = err_of(&files, &[]);
        assert!(err.contains("§3.2.3"), "{err}");
        // and a channel cannot switch it on either
        let files = with_file(&format!("{sector}.toml"), |s| {
            s.replace("[channels.chat]", "[channels.chat]\npassive_alone = true")
        });
        let err = err_of(&files, &[]);
        assert!(err.contains("passive_alone"), "{err}");
    }
}

#[test]
fn tenants_may_tighten_but_not_loosen() {
    let ok = br#"
tenant = "acme-shop"
sector = "retail"
version = "2"
[defaults]
passive_alone = false
assertion_lifetime_secs = 120
step_up_factors = ["totp", "pin"]
[channels.chat.max_fmr]
voice = 1e-5
[lockout]
code_free_attempts = 2
"#;
    let set = PolicySet::from_files(
        &shipped(),
        &[("tenants/acme-shop.toml".into(), ok.to_vec())],
    )
    .expect("a tightening is accepted");
    let tenant: TenantId = "acme-shop".parse().unwrap();
    let p = set.for_tenant(&tenant, Sector::Retail).unwrap();
    assert_eq!(p.id, "retail+acme-shop");
    assert_eq!(p.version, "1.2.0+2");
    assert_ne!(p.hash, set.sector(Sector::Retail).hash);
    let chat = p.channel(Channel::Chat);
    assert!(!chat.passive_alone);
    assert_eq!(chat.max_fmr.voice, 1e-5);
    assert_eq!(chat.assertion_lifetime_secs, 120);
    assert_eq!(
        chat.step_up_factors,
        vec![FactorKind::Totp, FactorKind::Pin]
    );
    assert_eq!(p.lockout.code_free_attempts, 2);
    // a tenant in another sector does not get this file's policy silently
    assert!(matches!(
        set.for_tenant(&tenant, Sector::Finance),
        Err(PolicyError::SectorMismatch { .. })
    ));
    // other tenants get the sector's policy
    let other: TenantId = "other".parse().unwrap();
    assert_eq!(set.for_tenant(&other, Sector::Retail).unwrap().id, "retail");

    for (loosening, key) in [
        ("[defaults]\nmax_fmr = { voice = 1e-1 }", "max_fmr.voice"),
        (
            "[defaults]\nsession_lifetime_secs = 99999",
            "session_lifetime_secs",
        ),
        (
            "[defaults]\nrequired_assurance = \"single_factor\"",
            "required_assurance",
        ),
        ("[channels.voice]\npassive_alone = true", "passive_alone"),
        (
            "[lockout]\ncode_max_consecutive_failures = 90",
            "code_max_consecutive_failures",
        ),
        (
            "[lockout]\ncode_base_delay_secs = 1",
            "code_base_delay_secs",
        ),
    ] {
        let file =
            format!("tenant = \"acme-bank\"\nsector = \"finance\"\nversion = \"1\"\n{loosening}\n");
        let err = err_of(
            &shipped(),
            &[("tenants/acme-bank.toml".into(), file.into_bytes())],
        );
        assert!(err.contains(key), "{loosening}: {err}");
    }
    let unknown =
        b"tenant = \"x\"\nsector = \"retail\"\nversion = \"1\"\nloosen_everything = true\n";
    assert!(
        err_of(&shipped(), &[("tenants/x.toml".into(), unknown.to_vec())])
            .contains("loosen_everything")
    );
}

#[test]
fn code_delays_grow_and_cap() {
    let l = Lockout {
        biometric_max_consecutive_failures: 5,
        code_free_attempts: 3,
        code_base_delay_secs: 30,
        code_max_delay_secs: 3600,
        code_max_consecutive_failures: 50,
    };
    let delays: Vec<u64> = (0..10).map(|n| l.code_delay_secs(n)).collect();
    assert_eq!(delays, vec![0, 0, 0, 30, 60, 120, 240, 480, 960, 1920]);
    assert_eq!(l.code_delay_secs(40), 3600);
}
