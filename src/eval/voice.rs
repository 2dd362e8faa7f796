//! `trustline eval voice --corpus DIR [--telephone]` (issue 9 protocol).
//!
//! Per speaker, clips sorted by name: enrol on the first 3 (embedding averaging), test on each
//! remaining clip; targets = test clip vs own enrolment, impostors = every test clip vs every
//! other scored speaker's enrolment. Speakers whose ids are in the shipped cohort (the dev split
//! the S-norm cohort, fusion weights and calibration were fitted on) are not scored; on other
//! corpora that excludes nobody. Prints EER and FNMR at FMR 1e-2/1e-3/1e-4 for each system,
//! writes a DET curve, and ends with one JSON line (key `eer` = the shipped fused recipe).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::rates::{DetCurve, SystemResult, plot_det, summarise};
use crate::{
    biometrics::{
        audio::{self, AudioEncoding, telephone::telephone_channel},
        models::sha256_hex,
        voice::{
            embed::{AnalyseOptions, UtteranceAnalysis, analyse},
            replay::Fingerprint,
            scoring::{Condition, VoiceScorer, dot},
            service::VoiceEngine,
            template::VoiceTemplate,
        },
    },
    config::Settings,
};

pub(crate) struct Speaker {
    pub(crate) id: String,
    pub(crate) clips: Vec<PathBuf>,
}

pub(crate) fn list_corpus(dir: &Path) -> anyhow::Result<Vec<Speaker>> {
    let mut speakers = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read corpus {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for d in dirs {
        let mut clips: Vec<PathBuf> = std::fs::read_dir(&d)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")))
            .collect();
        clips.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        if !clips.is_empty() {
            let id = d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            speakers.push(Speaker { id, clips });
        }
    }
    Ok(speakers)
}

pub fn run(
    settings: &Settings,
    corpus: &Path,
    telephone: bool,
    det: Option<PathBuf>,
) -> anyhow::Result<()> {
    let condition = if telephone {
        Condition::Telephone
    } else {
        Condition::Wideband
    };
    let models = super::single_threaded_models(settings)?;
    let engine = VoiceEngine::from_registry(&models)?;
    let scorer = engine.scorer(condition);
    let speakers = list_corpus(corpus)?;
    let total: usize = speakers.iter().map(|s| s.clips.len()).sum();
    anyhow::ensure!(
        total > 0,
        "no <speaker>/<clip>.wav files under {}",
        corpus.display()
    );

    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "embedding {bar:40} {pos}/{len} clips [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut refused = 0usize;
    // Replay check: a near-exact copy of every clip (level -6 dB, cropped by 35 ms, noise at
    // about -60 dBFS) must match the clip's own fingerprint.
    let (mut copies, mut copies_detected) = (0usize, 0usize);
    let mut lcg = 0x2545_f491_4f6c_dd1du64;
    let mut embedded: Vec<Vec<UtteranceAnalysis>> = Vec::with_capacity(speakers.len());
    for spk in &speakers {
        let mut v = Vec::with_capacity(spk.clips.len());
        for clip in &spk.clips {
            let bytes = std::fs::read(clip)?;
            let mut u = audio::decode_with(&bytes, AudioEncoding::Wav, false)
                .with_context(|| format!("{}", clip.display()))?;
            let mut would_refuse = audio::check_levels(&u.samples).is_err();
            if telephone {
                u.samples = telephone_channel(&u.samples)?;
                u.source_rate = 8_000;
            }
            let a = analyse(
                &models,
                &engine.front,
                &u,
                AnalyseOptions {
                    enforce_min_speech: false,
                    antispoof: false,
                },
            )
            .with_context(|| format!("{}", clip.display()))?;
            would_refuse |= audio::check_net_speech(a.net_speech_ms as usize * 16).is_err();
            refused += usize::from(would_refuse);
            if u.samples.len() > 560 + 1600 {
                let copy: Vec<f32> = u.samples[560..]
                    .iter()
                    .map(|x| {
                        lcg = lcg
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        0.5 * x + 0.002 * (((lcg >> 33) as f32 / (1u64 << 31) as f32) - 0.5)
                    })
                    .collect();
                let f = Fingerprint::of(&engine.front.fbank, &copy);
                copies += 1;
                copies_detected +=
                    usize::from(f.matches(std::slice::from_ref(&a.fingerprint)).is_replay());
            }
            v.push(a);
            bar.inc(1);
        }
        embedded.push(v);
    }
    bar.finish_and_clear();

    // Scored speakers: >= 4 clips, not in the shipped cohort (dev split).
    let cohort: std::collections::HashSet<&str> = scorer
        .cohort_speaker_ids
        .iter()
        .map(String::as_str)
        .collect();
    let mut excluded = 0usize;
    let mut enrol: Vec<VoiceTemplate> = Vec::new();
    let mut tests: Vec<(usize, &UtteranceAnalysis)> = Vec::new();
    // Fresh speech of the same speaker must not look like a replay of their enrolment audio.
    let (mut fresh, mut fresh_flagged) = (0usize, 0usize);
    for (spk, an) in speakers.iter().zip(&embedded) {
        let h = sha256_hex(spk.id.as_bytes());
        if cohort.contains(&h[..16]) {
            excluded += 1;
            continue;
        }
        if an.len() < 4 {
            continue;
        }
        let idx = enrol.len();
        enrol.push(VoiceTemplate::from_analyses(&an[..3], Vec::new()).context("enrolment")?);
        tests.extend(an[3..].iter().map(|a| (idx, a)));
        let seen: Vec<_> = an[..3].iter().map(|a| a.fingerprint.clone()).collect();
        for a in &an[3..] {
            fresh += 1;
            fresh_flagged += usize::from(a.fingerprint.matches(&seen).is_replay());
        }
    }
    anyhow::ensure!(
        enrol.len() >= 2,
        "need at least 2 scored speakers with >= 4 clips"
    );

    let en_c: Vec<(f32, f32)> = enrol
        .iter()
        .map(|t| scorer.campplus_stats(&t.campplus))
        .collect();
    let en_g: Vec<(f32, f32)> = enrol.iter().map(|t| scorer.ge2e_stats(&t.ge2e)).collect();
    let names = [
        "campplus_cosine",
        "ge2e_cosine",
        "campplus_snorm",
        "ge2e_snorm",
        "fused",
    ];
    let mut tg: Vec<Vec<f32>> = vec![Vec::new(); names.len()];
    let mut im: Vec<Vec<f32>> = vec![Vec::new(); names.len()];
    for (owner, a) in &tests {
        let tc = scorer.campplus_stats(&a.campplus);
        let tgs = scorer.ge2e_stats(&a.ge2e);
        for (j, t) in enrol.iter().enumerate() {
            let cc = dot(&t.campplus, &a.campplus);
            let gc = dot(&t.ge2e, &a.ge2e);
            let cs = VoiceScorer::snorm(cc, en_c[j], tc);
            let gs = VoiceScorer::snorm(gc, en_g[j], tgs);
            let row = [cc, gc, cs, gs, scorer.fuse(cs, gs)];
            let dst = if j == *owner { &mut tg } else { &mut im };
            for (k, v) in row.iter().enumerate() {
                dst[k].push(*v);
            }
        }
    }
    let results: Vec<SystemResult> = (0..names.len())
        .map(|k| summarise(&widen(&tg[k]), &widen(&im[k])))
        .collect();
    println!(
        "voice eval, {} ({}): {} speakers scored ({} excluded as dev/cohort), {} target / {} impostor trials, {} clips the service would refuse (level or < {} ms net speech)",
        corpus.display(),
        condition.as_str(),
        enrol.len(),
        excluded,
        tg[0].len(),
        im[0].len(),
        refused,
        audio::MIN_NET_SPEECH_MS
    );
    println!(
        "{:<18} {:>7} {:>12} {:>12} {:>12}",
        "system", "EER", "FNMR@1e-2", "FNMR@1e-3", "FNMR@1e-4"
    );
    for (n, r) in names.iter().zip(&results) {
        println!(
            "{:<18} {:>6.2}% {:>11.1}% {:>11.1}% {:>11.1}%",
            n,
            100.0 * r.eer,
            100.0 * r.fnmr_at_fmr_1e_2,
            100.0 * r.fnmr_at_fmr_1e_3,
            100.0 * r.fnmr_at_fmr_1e_4
        );
    }
    let det_path =
        det.unwrap_or_else(|| PathBuf::from(format!("docs/det-voice-{}.png", condition.as_str())));
    let curves: Vec<DetCurve> = names
        .iter()
        .enumerate()
        .map(|(k, n)| DetCurve::new(*n, &widen(&tg[k]), &widen(&im[k])))
        .collect();
    let title = format!("DET, voice ({})", condition.as_str());
    match plot_det(&det_path, &title, &curves) {
        Ok(()) => println!("DET curve: {}", det_path.display()),
        Err(e) => eprintln!("DET curve not written: {e}"),
    }
    println!(
        "replay: {copies_detected}/{copies} near-exact copies detected; {fresh_flagged}/{fresh} fresh same-speaker clips flagged"
    );
    let fused = &results[names.len() - 1];
    let per_system: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .zip(&results)
        .map(|(n, r)| (n.to_string(), json!(r)))
        .collect();
    let summary = json!({
        "eer": fused.eer,
        "fnmr_at_fmr_1e-2": fused.fnmr_at_fmr_1e_2,
        "fnmr_at_fmr_1e-3": fused.fnmr_at_fmr_1e_3,
        "fnmr_at_fmr_1e-4": fused.fnmr_at_fmr_1e_4,
        "system": "campplus+ge2e adaptive S-norm, dev-fitted fusion",
        "condition": condition.as_str(),
        "corpus": corpus.display().to_string(),
        "speakers_scored": enrol.len(),
        "speakers_excluded_dev": excluded,
        "target_trials": tg[0].len(),
        "impostor_trials": im[0].len(),
        "clips_service_would_refuse": refused,
        "snorm_top_k": scorer.top_k,
        "replay_copies_detected": copies_detected,
        "replay_copies": copies,
        "replay_fresh_flagged": fresh_flagged,
        "replay_fresh": fresh,
        "models": models.summary(),
        "per_system": per_system,
    });
    println!("{summary}");
    Ok(())
}

fn widen(scores: &[f32]) -> Vec<f64> {
    scores.iter().map(|&s| f64::from(s)).collect()
}
