//! `trustline eval voice --corpus DIR --net-speech 1,2,3,5,8 [--telephone] [--enrol-clips N]`:
//! how accuracy grows with the net speech a live call accumulates.
//!
//! Per speaker, clips sorted by name: enrol on the first N clips (as the service enrols);
//! the test probe for D seconds is the speaker's *other* clips, VAD-trimmed exactly as a live
//! stream accumulates them (`voice::stream`), concatenated in order and cut when D seconds of
//! net speech are reached. A speaker whose other clips hold less than D seconds of net speech
//! has no probe at D (the count is printed: a duration the corpus cannot supply is reported as
//! unmeasured, never extrapolated). Impostor trials: every probe against every other scored
//! speaker's enrolment. Speakers of the shipped cohort (dev split) are not scored. Scores use
//! the shipped recipe (S-norm, fusion); the printed FMR column is the shipped calibration's
//! FMR at the measured EER threshold, to show how far a 1-s calibration is off for long probes.

use std::path::Path;

use anyhow::Context as _;
use serde_json::json;

use super::rates::summarise;
use crate::{
    biometrics::{
        audio::{self, AudioEncoding, telephone::telephone_channel, vad},
        models::{ModelRegistry, sha256_hex},
        voice::{
            VAD,
            embed::{AnalyseOptions, VAD_PAD_CHUNKS, analyse, embed_trimmed},
            scoring::{Condition, VoiceScorer, dot},
            service::VoiceEngine,
            template::VoiceTemplate,
        },
    },
    config::Settings,
};

/// One clip after VAD: the speech a stream would keep and how much of it is net speech.
struct Trimmed {
    /// 16 kHz samples in chunks of 512, with the flag of each chunk.
    chunks: Vec<(Vec<f32>, bool)>,
}

fn trim_clip(models: &ModelRegistry, samples: &[f32]) -> anyhow::Result<Trimmed> {
    let probs = models
        .get(VAD)?
        .run(|s| vad::speech_probabilities(s, samples))?;
    let flags = vad::speech_flags(&probs);
    // Keep speech chunks +- VAD_PAD_CHUNKS, as the stream's trimmer does.
    let mut keep = vec![false; flags.len()];
    for (i, _) in flags.iter().enumerate().filter(|(_, f)| **f) {
        let lo = i.saturating_sub(VAD_PAD_CHUNKS);
        let hi = (i + VAD_PAD_CHUNKS + 1).min(flags.len());
        keep[lo..hi].iter_mut().for_each(|k| *k = true);
    }
    let chunks = flags
        .iter()
        .enumerate()
        .filter(|(i, _)| keep[*i])
        .map(|(i, f)| {
            let end = ((i + 1) * vad::CHUNK).min(samples.len());
            let mut c = samples[i * vad::CHUNK..end].to_vec();
            c.resize(vad::CHUNK, 0.0);
            (c, *f)
        })
        .collect();
    Ok(Trimmed { chunks })
}

/// Concatenate trimmed clips until `ms` of net speech; None when they hold less.
fn probe(clips: &[&Trimmed], ms: u32) -> Option<Vec<f32>> {
    let need = (ms as usize * 16).div_ceil(vad::CHUNK);
    let mut out = Vec::new();
    let mut speech = 0usize;
    for clip in clips {
        for (chunk, is_speech) in &clip.chunks {
            if speech >= need {
                return Some(out);
            }
            out.extend_from_slice(chunk);
            speech += usize::from(*is_speech);
        }
    }
    (speech >= need).then_some(out)
}

pub fn run(
    settings: &Settings,
    corpus: &Path,
    telephone: bool,
    durations_s: &[f32],
    enrol_clips: usize,
) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(enrol_clips >= 1, "--enrol-clips must be at least 1");
    let condition = if telephone {
        Condition::Telephone
    } else {
        Condition::Wideband
    };
    let models = super::single_threaded_models(settings)?;
    let engine = VoiceEngine::from_registry(&models)?;
    let scorer = engine.scorer(condition);
    let cohort: std::collections::HashSet<&str> = scorer
        .cohort_speaker_ids
        .iter()
        .map(String::as_str)
        .collect();
    let speakers = super::voice::list_corpus(corpus)?;

    // Per scored speaker: the enrolment template and the trimmed other clips.
    let mut enrolled: Vec<(VoiceTemplate, Vec<Trimmed>)> = Vec::new();
    let mut excluded = 0usize;
    for spk in &speakers {
        let h = sha256_hex(spk.id.as_bytes());
        if cohort.contains(&h[..16]) {
            excluded += 1;
            continue;
        }
        if spk.clips.len() <= enrol_clips {
            continue;
        }
        let mut enrol = Vec::new();
        let mut others = Vec::new();
        for (i, clip) in spk.clips.iter().enumerate() {
            let bytes = std::fs::read(clip)?;
            let mut u = audio::decode_with(&bytes, AudioEncoding::Wav, false)
                .with_context(|| format!("{}", clip.display()))?;
            if telephone {
                u.samples = telephone_channel(&u.samples)?;
                u.source_rate = 8_000;
            }
            if i < enrol_clips {
                let options = AnalyseOptions {
                    enforce_min_speech: false,
                    antispoof: false,
                };
                enrol.push(analyse(&models, &engine.front, &u, options)?);
            } else {
                others.push(trim_clip(&models, &u.samples)?);
            }
        }
        let tpl = VoiceTemplate::from_analyses(&enrol, Vec::new()).context("enrolment")?;
        enrolled.push((tpl, others));
    }
    anyhow::ensure!(enrolled.len() >= 2, "need at least 2 scored speakers");
    let en_c: Vec<(f32, f32)> = enrolled
        .iter()
        .map(|(t, _)| scorer.campplus_stats(&t.campplus))
        .collect();
    let en_g: Vec<(f32, f32)> = enrolled
        .iter()
        .map(|(t, _)| scorer.ge2e_stats(&t.ge2e))
        .collect();

    println!(
        "voice net-speech curve, {} ({}), enrol on {} clip(s): {} speakers scored ({} excluded as dev/cohort)",
        corpus.display(),
        condition.as_str(),
        enrol_clips,
        enrolled.len(),
        excluded
    );
    println!(
        "{:>10} {:>9} {:>10} {:>8} {:>11} {:>12} {:>16}",
        "net speech", "speakers", "impostors", "EER", "FNMR@1e-2", "FNMR@1e-3", "cal. FMR @ EER"
    );
    let mut rows = Vec::new();
    for &d in durations_s {
        let ms = (d * 1000.0).round() as u32;
        let (mut tg, mut im) = (Vec::new(), Vec::new());
        let mut probed = 0usize;
        for (owner, (_, others)) in enrolled.iter().enumerate() {
            let refs: Vec<&Trimmed> = others.iter().collect();
            let Some(speech) = probe(&refs, ms) else {
                continue;
            };
            probed += 1;
            let (c, g) = embed_trimmed(&models, &engine.front, &speech, telephone, ms)?;
            let tc = scorer.campplus_stats(&c);
            let tgs = scorer.ge2e_stats(&g);
            for (j, (t, _)) in enrolled.iter().enumerate() {
                let cs = VoiceScorer::snorm(dot(&t.campplus, &c), en_c[j], tc);
                let gs = VoiceScorer::snorm(dot(&t.ge2e, &g), en_g[j], tgs);
                let fused = f64::from(scorer.fuse(cs, gs));
                if j == owner {
                    tg.push(fused);
                } else {
                    im.push(fused);
                }
            }
        }
        if probed < 2 {
            println!(
                "{:>9.0}s {:>9} {:>10} {:>8} {:>11} {:>12} {:>16}",
                d, probed, "-", "-", "-", "-", "not measurable"
            );
            rows.push(json!({"net_speech_s": d, "speakers": probed, "measured": false}));
            continue;
        }
        let r = summarise(&tg, &im);
        // Threshold at the EER point, and what the shipped (1-s) calibration calls it.
        let thr = super::rates::rates(&tg, &im)
            .into_iter()
            .min_by(|a, b| (a.1 - a.2).abs().total_cmp(&(b.1 - b.2).abs()))
            .map_or(f64::NAN, |(t, _, _)| t);
        let cal_fmr = scorer.fused_fmr(thr);
        println!(
            "{:>9.0}s {:>9} {:>10} {:>7.2}% {:>10.1}% {:>11.1}% {:>16.2e}",
            d,
            probed,
            im.len(),
            100.0 * r.eer,
            100.0 * r.fnmr_at_fmr_1e_2,
            100.0 * r.fnmr_at_fmr_1e_3,
            cal_fmr
        );
        rows.push(json!({
            "net_speech_s": d, "speakers": probed, "measured": true,
            "target_trials": tg.len(), "impostor_trials": im.len(),
            "eer": r.eer, "fnmr_at_fmr_1e-2": r.fnmr_at_fmr_1e_2,
            "fnmr_at_fmr_1e-3": r.fnmr_at_fmr_1e_3,
            "calibrated_fmr_at_eer_threshold": cal_fmr,
        }));
    }
    Ok(json!({
        "eval": "voice_net_speech",
        "condition": condition.as_str(),
        "corpus": corpus.display().to_string(),
        "enrol_clips": enrol_clips,
        "speakers_scored": enrolled.len(),
        "speakers_excluded_dev": excluded,
        "curve": rows,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn probes_stop_at_the_net_speech_asked_and_refuse_what_is_not_there() {
        let c = |flags: &[bool]| Trimmed {
            chunks: flags.iter().map(|f| (vec![0.1; vad::CHUNK], *f)).collect(),
        };
        let a = c(&[false, true, true, false]);
        let b = c(&[true, true, true]);
        // 64 ms = 2 speech chunks: a's padding, two speech chunks, stop.
        assert_eq!(probe(&[&a, &b], 64).unwrap().len(), 3 * vad::CHUNK);
        // 5 speech chunks exist in all: 6 are not there.
        assert!(probe(&[&a, &b], 6 * 32).is_none());
        assert_eq!(probe(&[&a, &b], 5 * 32).unwrap().len(), 7 * vad::CHUNK);
    }
}
