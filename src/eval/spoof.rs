//! `trustline eval spoof --bona-fide DIR --attacks DIR [--telephone] [--head] [--features FILE]`:
//! presentation-attack detection per attack species, in ISO/IEC 30107-3 terms.
//!
//! * BPCER: bona fide presentations (every clip of `--bona-fide`, `<speaker>/<clip>.wav`, less
//!   the dev speakers the shipped thresholds were fitted on) wrongly flagged as attacks.
//! * APCER per species: attack presentations (`--attacks DIR/<species>/*.wav`, e.g. from
//!   `models/voice/make_attacks.sh`) not flagged. The worst species is the system's APCER.
//!
//! AASIST at its shipped threshold (the manifest's `flag_below_*`, fitted on dev bona fide
//! speech only: every species is held out for it) and at the threshold where this run's bona
//! fide scores give BPCER 5 %. With `--telephone` every clip first goes through the 8 kHz /
//! 300-3400 Hz / µ-law channel and the telephone threshold applies.
//!
//! `--head` measures the trained head (`pad-head`, voice::pad_head) instead of AASIST (which
//! is then not run: the morning's AASIST figures are the comparison). Its training
//! split is fixed here and in models/voice/train_pad_head.py alike: bona fide speech of the dev
//! speakers, and the even-numbered clips (sorted order) of the species the manifest lists as
//! `trained_species`. Those clips are left out here; a trained species is reported on its
//! odd-numbered clips ("trained"), every other species on all its clips ("held out").
//!
//! `--features FILE`: the head's input for every clip (dev speakers included: the training
//! data of the head) is kept there as JSON lines, keyed by the clip's sha256 and the condition,
//! and reused by the next run instead of analysing the clip again. Without `--head` that file
//! is the only output.

use std::{
    collections::HashMap,
    io::{BufRead as _, Write as _},
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use serde_json::json;

use crate::{
    biometrics::{
        audio::{self, AudioEncoding, telephone::telephone_channel},
        models::sha256_hex,
        voice::{
            AASIST, PAD_HEAD, antispoof,
            embed::{AnalyseOptions, analyse},
            pad_head,
            scoring::Condition,
            service::VoiceEngine,
        },
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

/// One clip of the run: `group` is `bona_fide` or the species.
struct Clip {
    key: String,
    group: String,
    /// Bona fide clip of a dev speaker (training data, never measured).
    dev: bool,
    /// Position in the species' sorted clips (the head's training split).
    index: usize,
    aasist: f32,
    features: Option<Vec<f32>>,
}

/// The features kept by `--features`, by key.
fn read_cache(path: Option<&Path>) -> anyhow::Result<HashMap<String, Vec<f32>>> {
    let mut map = HashMap::new();
    let Some(path) = path.filter(|p| p.exists()) else {
        return Ok(map);
    };
    let file = std::fs::File::open(path)?;
    for line in std::io::BufReader::new(file).lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        let (Some(key), Some(f)) = (v["key"].as_str(), v["features"].as_array()) else {
            anyhow::bail!("{}: a line without key or features", path.display());
        };
        let f = f
            .iter()
            .filter_map(|x| x.as_f64().map(|x| x as f32))
            .collect();
        map.insert(key.to_string(), f);
    }
    Ok(map)
}

fn write_cache(path: &Path, clips: &[Clip]) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for c in clips {
        if let Some(f) = &c.features {
            let line = json!({"key": c.key, "group": c.group, "dev": c.dev, "index": c.index,
                              "features": f});
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(())
}

pub fn run(
    settings: &Settings,
    bona_fide: &Path,
    attacks: &Path,
    telephone: bool,
    use_head: bool,
    features_file: Option<&Path>,
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
    let condition = if telephone { "telephone" } else { "wideband" };
    let aasist = models.get(AASIST)?;
    let head = use_head.then(|| models.get(PAD_HEAD)).transpose()?;
    let head_threshold = match head {
        Some(h) => Some(
            *h.entry
                .thresholds
                .get(&format!("flag_below_{condition}"))
                .with_context(|| format!("pad-head has no flag_below_{condition}"))?
                as f32,
        ),
        None => None,
    };
    let trained: Vec<String> = head
        .and_then(|h| h.entry.features.get("trained_species"))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let need_features = head.is_some() || features_file.is_some();
    let cache = read_cache(features_file)?;

    let done = std::cell::Cell::new(0usize);
    let analyse_clip = |path: &Path, group: &str, dev: bool, index: usize| {
        let bytes = std::fs::read(path)?;
        let key = format!("{}:{condition}", sha256_hex(&bytes));
        let mut u = audio::decode_with(&bytes, AudioEncoding::Wav, false)
            .with_context(|| format!("{}", path.display()))?;
        if telephone {
            u.samples = telephone_channel(&u.samples)?;
            u.source_rate = 8_000;
        }
        // With the head, AASIST is not run (its columns are left out; the head does not use it).
        let (aasist, features) = if let Some(f) = cache.get(&key).filter(|_| need_features) {
            (f32::NAN, Some(f.clone()))
        } else if need_features {
            let options = AnalyseOptions {
                enforce_min_speech: false,
                antispoof: false,
            };
            let a = analyse(&models, &engine.front, &u, options)
                .with_context(|| format!("{}", path.display()))?;
            (f32::NAN, Some(pad_head::features(&a)))
        } else {
            let score = aasist.run(|s| antispoof::bona_fide_score(s, &u.samples))?;
            (score, None)
        };
        let n = done.get() + 1;
        done.set(n);
        if n.is_multiple_of(50) {
            eprintln!("{n} clips analysed");
        }
        anyhow::Ok(Clip {
            key,
            group: group.to_string(),
            dev,
            index,
            aasist,
            features,
        })
    };

    // Bona fide: the corpus; the dev speakers (the cohort ids of the voice artifacts) are
    // measured never, analysed only when features are kept (they train the head).
    let scorer = engine.scorer(if telephone {
        Condition::Telephone
    } else {
        Condition::Wideband
    });
    let dev: std::collections::HashSet<&str> = scorer
        .cohort_speaker_ids
        .iter()
        .map(String::as_str)
        .collect();
    let mut clips = Vec::new();
    for spk in super::voice::list_corpus(bona_fide)? {
        let is_dev = dev.contains(&sha256_hex(spk.id.as_bytes())[..16]);
        if is_dev && !need_features {
            continue;
        }
        for (i, clip) in spk.clips.iter().enumerate() {
            clips.push(analyse_clip(clip, "bona_fide", is_dev, i)?);
        }
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(attacks)
        .with_context(|| format!("cannot read {}", attacks.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut species = Vec::new();
    for d in dirs {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let files = wavs(&d)?;
        if files.is_empty() {
            continue;
        }
        for (i, p) in files.iter().enumerate() {
            clips.push(analyse_clip(p, &name, false, i)?);
        }
        species.push(name);
    }
    anyhow::ensure!(
        !species.is_empty(),
        "no attack species under {}",
        attacks.display()
    );
    if let Some(path) = features_file {
        write_cache(path, &clips)?;
        if head.is_none() {
            // AASIST did not run: nothing to measure, the features are the output.
            println!("features of {} clips in {}", clips.len(), path.display());
            return Ok(json!({"eval": "spoof", "features": path, "clips": clips.len()}));
        }
    }

    // What is measured: bona fide of non-dev speakers; attacks less the head's training clips.
    let is_trained = |c: &Clip| trained.contains(&c.group);
    let measured = |c: &&Clip| !(c.dev || is_trained(c) && c.index.is_multiple_of(2));
    let head_score = |c: &Clip| -> anyhow::Result<f32> {
        match (head, &c.features) {
            (Some(h), Some(f)) => Ok(h.run(|s| pad_head::bona_fide_probability(s, f))?),
            _ => Ok(f32::NAN),
        }
    };
    let mut bona: Vec<(f32, f32)> = Vec::new();
    let mut per_species: Vec<(String, Vec<(f32, f32)>)> =
        species.iter().map(|s| (s.clone(), Vec::new())).collect();
    for c in clips.iter().filter(measured) {
        let s = (c.aasist, head_score(c)?);
        if c.group == "bona_fide" {
            bona.push(s);
        } else if let Some((_, v)) = per_species.iter_mut().find(|(n, _)| *n == c.group) {
            v.push(s);
        }
    }
    anyhow::ensure!(!bona.is_empty(), "no bona fide clips");

    // Flagged = score below the threshold (lower is more attack-like, for both detectors).
    let bpcer = |t: f32, v: &[f32]| v.iter().filter(|s| **s < t).count() as f64 / v.len() as f64;
    let apcer = |t: f32, v: &[f32]| v.iter().filter(|s| **s >= t).count() as f64 / v.len() as f64;
    let at_bpcer_5 = |v: &[f32]| {
        let mut sorted = v.to_vec();
        sorted.sort_by(f32::total_cmp);
        sorted[(sorted.len() as f64 * 0.05).floor() as usize]
    };
    let col = |v: &[(f32, f32)], head: bool| -> Vec<f32> {
        v.iter().map(|s| if head { s.1 } else { s.0 }).collect()
    };
    let (bona_a, bona_h) = (col(&bona, false), col(&bona, true));
    let aasist_5 = at_bpcer_5(&bona_a);
    let head_5 = head.map(|_| at_bpcer_5(&bona_h));

    println!(
        "presentation-attack detection ({condition}): {} bona fide clips (dev speakers excluded)",
        bona.len()
    );
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    match (head_threshold, head_5) {
        (Some(_), Some(_)) => println!(
            "{:<11} {:<9} {:>5} {:>22} {:>22}",
            "species", "role", "clips", "APCER @ head shipped", "APCER @ BPCER 5 %"
        ),
        _ => println!(
            "{:<12} {:>6} {:>22} {:>22}",
            "species", "clips", "APCER @ shipped", "APCER @ BPCER 5 %"
        ),
    }
    let mut rows = Vec::new();
    let mut worst_held_out: Option<f64> = None;
    for (name, v) in &per_species {
        let a = col(v, false);
        let role = if trained.contains(name) {
            "trained"
        } else {
            "held out"
        };
        let mut row = json!({"species": name, "clips": v.len(),
            "apcer_at_shipped": apcer(shipped, &a), "apcer_at_bpcer_5": apcer(aasist_5, &a)});
        match (head_threshold, head_5) {
            (Some(t), Some(t5)) => {
                let h = col(v, true);
                println!(
                    "{:<11} {:<9} {:>5} {:>22} {:>22}",
                    name,
                    role,
                    v.len(),
                    pct(apcer(t, &h)),
                    pct(apcer(t5, &h))
                );
                row = json!({"species": name, "clips": v.len()});
                row["role"] = json!(role);
                row["head_apcer_at_shipped"] = json!(apcer(t, &h));
                row["head_apcer_at_bpcer_5"] = json!(apcer(t5, &h));
                if role == "held out" {
                    worst_held_out = Some(worst_held_out.unwrap_or(0.0).max(apcer(t, &h)));
                }
            }
            _ => println!(
                "{:<12} {:>6} {:>21.1}% {:>21.1}%",
                name,
                v.len(),
                100.0 * apcer(shipped, &a),
                100.0 * apcer(aasist_5, &a)
            ),
        }
        rows.push(row);
    }
    match (head_threshold, head_5) {
        (Some(t), Some(t5)) => println!(
            "{:<11} {:<9} {:>5} {:>22} {:>22}   (BPCER; head thresholds {t:.4} shipped, {t5:.4})",
            "bona fide",
            "",
            bona.len(),
            pct(bpcer(t, &bona_h)),
            pct(bpcer(t5, &bona_h))
        ),
        _ => println!(
            "{:<12} {:>6} {:>21.1}% {:>21.1}%   (BPCER; thresholds {shipped:.2} shipped, {aasist_5:.2})",
            "bona fide",
            bona.len(),
            100.0 * bpcer(shipped, &bona_a),
            100.0 * bpcer(aasist_5, &bona_a)
        ),
    }
    let worst = |f: &dyn Fn(&[f32]) -> f64| {
        per_species
            .iter()
            .map(|(_, v)| f(&col(v, false)))
            .fold(0.0, f64::max)
    };
    let mut summary = json!({
        "eval": "spoof",
        "condition": condition,
        "bona_fide_clips": bona.len(),
        "threshold_shipped": shipped,
        "threshold_bpcer_5": aasist_5,
        "bpcer_at_shipped": bpcer(shipped, &bona_a),
        "bpcer_at_bpcer_5": bpcer(aasist_5, &bona_a),
        "worst_apcer_at_shipped": worst(&|v| apcer(shipped, v)),
        "worst_apcer_at_bpcer_5": worst(&|v| apcer(aasist_5, v)),
        "species": rows,
    });
    if let (Some(t), Some(t5)) = (head_threshold, head_5) {
        // AASIST did not run: only the head's figures.
        summary = json!({"eval": "spoof", "condition": condition,
                         "bona_fide_clips": bona.len(), "species": summary["species"]});
        summary["head"] = json!({
            "trained_species": trained,
            "threshold_shipped": t,
            "threshold_bpcer_5": t5,
            "bpcer_at_shipped": bpcer(t, &bona_h),
            "bpcer_at_bpcer_5": bpcer(t5, &bona_h),
            "worst_held_out_apcer_at_shipped": worst_held_out,
        });
    }
    Ok(summary)
}
