//! `trustline eval spoof --bona-fide DIR --attacks DIR [--telephone]`: the presentation-attack
//! detector (AASIST) per attack species, in ISO/IEC 30107-3 terms.
//!
//! * BPCER: bona fide presentations (every clip of `--bona-fide`, `<speaker>/<clip>.wav`, less
//!   the dev speakers the shipped threshold was fitted on) wrongly flagged as attacks.
//! * APCER per species: attack presentations (`--attacks DIR/<species>/*.wav`, e.g. from
//!   `models/voice/make_attacks.sh`) not flagged. The worst species is the system's APCER.
//!
//! At the shipped threshold (the manifest's `flag_below_*`, fitted on dev bona fide speech only:
//! no species was seen in fitting, so every species here is held out), and at the threshold
//! where the bona fide scores of this run give BPCER 5 %. With `--telephone` every clip first
//! goes through the 8 kHz / 300-3400 Hz / µ-law channel and the telephone threshold applies.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::json;

use crate::{
    biometrics::{
        audio::{self, AudioEncoding, telephone::telephone_channel},
        models::sha256_hex,
        voice::{AASIST, antispoof, service::VoiceEngine},
    },
    config::Settings,
};

fn wavs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")))
        .collect();
    v.sort();
    Ok(v)
}

pub fn run(
    settings: &Settings,
    bona_fide: &Path,
    attacks: &Path,
    telephone: bool,
) -> anyhow::Result<serde_json::Value> {
    let models = super::single_threaded_models(settings)?;
    let engine = VoiceEngine::from_registry(&models)?;
    let thresholds = engine
        .spoof
        .context("the manifest has no AASIST thresholds")?;
    let shipped = if telephone {
        thresholds.telephone
    } else {
        thresholds.wideband
    };
    let aasist = models.get(AASIST)?;
    let score = |path: &Path| -> anyhow::Result<f32> {
        let bytes = std::fs::read(path)?;
        let mut u = audio::decode_with(&bytes, AudioEncoding::Wav, false)
            .with_context(|| format!("{}", path.display()))?;
        if telephone {
            u.samples = telephone_channel(&u.samples)?;
        }
        Ok(aasist.run(|s| antispoof::bona_fide_score(s, &u.samples))?)
    };

    // Bona fide: the corpus less the dev speakers (the cohort ids of the voice artifacts).
    let scorer = engine.scorer(if telephone {
        crate::biometrics::voice::scoring::Condition::Telephone
    } else {
        crate::biometrics::voice::scoring::Condition::Wideband
    });
    let dev: std::collections::HashSet<&str> = scorer
        .cohort_speaker_ids
        .iter()
        .map(String::as_str)
        .collect();
    let mut bona = Vec::new();
    for spk in super::voice::list_corpus(bona_fide)? {
        if dev.contains(&sha256_hex(spk.id.as_bytes())[..16]) {
            continue;
        }
        for clip in &spk.clips {
            bona.push(score(clip)?);
        }
    }
    anyhow::ensure!(!bona.is_empty(), "no bona fide clips");
    let mut species: Vec<(String, Vec<f32>)> = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(attacks)
        .with_context(|| format!("cannot read {}", attacks.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for d in dirs {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let scores = wavs(&d)?
            .iter()
            .map(|p| score(p))
            .collect::<anyhow::Result<Vec<f32>>>()?;
        if !scores.is_empty() {
            species.push((name, scores));
        }
    }
    anyhow::ensure!(
        !species.is_empty(),
        "no attack species under {}",
        attacks.display()
    );

    // Flagged = score below the threshold (lower is more spoof-like).
    let bpcer = |t: f32| bona.iter().filter(|s| **s < t).count() as f64 / bona.len() as f64;
    let apcer = |t: f32, v: &[f32]| v.iter().filter(|s| **s >= t).count() as f64 / v.len() as f64;
    let mut sorted = bona.clone();
    sorted.sort_by(f32::total_cmp);
    let at_bpcer_5 = sorted[(sorted.len() as f64 * 0.05).floor() as usize];

    let condition = if telephone { "telephone" } else { "wideband" };
    println!(
        "AASIST presentation-attack detection ({condition}): {} bona fide clips (dev speakers excluded)",
        bona.len()
    );
    println!(
        "{:<12} {:>6} {:>22} {:>22}",
        "species", "clips", "APCER @ shipped", "APCER @ BPCER 5 %"
    );
    let mut rows = Vec::new();
    for (name, v) in &species {
        println!(
            "{:<12} {:>6} {:>21.1}% {:>21.1}%",
            name,
            v.len(),
            100.0 * apcer(shipped, v),
            100.0 * apcer(at_bpcer_5, v)
        );
        rows.push(json!({"species": name, "clips": v.len(),
            "apcer_at_shipped": apcer(shipped, v), "apcer_at_bpcer_5": apcer(at_bpcer_5, v)}));
    }
    println!(
        "{:<12} {:>6} {:>21.1}% {:>21.1}%   (BPCER; thresholds {shipped:.2} shipped, {at_bpcer_5:.2})",
        "bona fide",
        bona.len(),
        100.0 * bpcer(shipped),
        100.0 * bpcer(at_bpcer_5)
    );
    let worst = |f: &dyn Fn(&[f32]) -> f64| species.iter().map(|(_, v)| f(v)).fold(0.0, f64::max);
    Ok(json!({
        "eval": "spoof",
        "condition": condition,
        "bona_fide_clips": bona.len(),
        "threshold_shipped": shipped,
        "threshold_bpcer_5": at_bpcer_5,
        "bpcer_at_shipped": bpcer(shipped),
        "bpcer_at_bpcer_5": bpcer(at_bpcer_5),
        "worst_apcer_at_shipped": worst(&|v| apcer(shipped, v)),
        "worst_apcer_at_bpcer_5": worst(&|v| apcer(at_bpcer_5, v)),
        "species": rows,
    }))
}
