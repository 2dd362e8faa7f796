//! `trustline eval keystroke --cmu FILE` and `--freetext DIR`.
//!
//! Both run the shipped models through the same parsing, features and ONNX sessions as the
//! service. Samples the service would refuse (a pause over 5 s) are counted: an enrolment
//! repetition is left out, a genuine attempt counts as a false non-match and an impostor
//! attempt as a correct rejection. Subjects used to train or calibrate a model are never
//! evaluated: for the CMU file the shipped model was trained on (recognised by its sha256), the
//! training subjects listed in the model's manifest entry are left out.

use std::{
    collections::BTreeMap,
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};

use crate::{
    biometrics::{
        keystroke::{
            KeyClass, KeyEvent,
            features::{FREE_DIM, FREE_WINDOW, free_text_rows, free_text_windows},
            fixed,
            free::{self, EMBEDDING_DIM, FreeTextWindows},
            input::MAX_LATENCY_MS,
            parse_events,
        },
        models::{LoadedModel, ModelRegistry, ModelTask, sha256_hex},
    },
    eval::rates::{DetCurve, eer, fnmr_at_fmr, mean_sd, plot_det},
};

/// Read a file, gunzipping it when it starts with the gzip magic bytes.
fn read_maybe_gz(path: &Path) -> anyhow::Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .with_context(|| format!("gunzipping {}", path.display()))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

// ------------------------------------------------------------------------------------------
// CMU fixed text

/// One repetition of the CMU file.
struct CmuRow {
    subject: String,
    events: Vec<KeyEvent>,
}

/// Key names of the CMU header (`H.<key>`) to key classes.
fn cmu_key_class(name: &str) -> KeyClass {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "period" => KeyClass::RightBottom,
        "comma" | "slash" => KeyClass::RightBottom,
        "return" | "enter" | "backspace" | "tab" => KeyClass::Edit,
        "space" => KeyClass::Space,
        "zero" | "six" | "seven" | "eight" | "nine" | "minus" | "equal" => KeyClass::RightNumber,
        "one" | "two" | "three" | "four" | "five" | "grave" => KeyClass::LeftNumber,
        _ if lower.starts_with("shift")
            || lower.starts_with("control")
            || lower.starts_with("alt") =>
        {
            KeyClass::Modifier
        }
        _ => {
            let mut chars = lower.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_alphanumeric() => {
                    KeyClass::from_js_keycode(u32::from(c.to_ascii_uppercase()))
                }
                _ => KeyClass::Other,
            }
        }
    }
}

fn parse_cmu(text: &str) -> anyhow::Result<Vec<CmuRow>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| anyhow!("empty CMU file"))?
        .trim_end_matches('\r')
        .split(',')
        .collect();
    if header.len() < 4 || header[0] != "subject" {
        bail!("not a CMU keystroke file: the header must start with `subject,sessionIndex,rep`");
    }
    let holds: Vec<(usize, KeyClass)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.strip_prefix("H.").map(|k| (i, cmu_key_class(k))))
        .collect();
    let dds: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with("DD."))
        .map(|(i, _)| i)
        .collect();
    if holds.len() < 2 || dds.len() + 1 != holds.len() {
        bail!("CMU header: need K `H.` columns and K-1 `DD.` columns");
    }
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != header.len() {
            bail!(
                "CMU line {}: {} cells, header has {}",
                n + 2,
                cells.len(),
                header.len()
            );
        }
        let num = |i: usize| -> anyhow::Result<f64> {
            cells[i]
                .parse::<f64>()
                .with_context(|| format!("CMU line {}: `{}` is not a number", n + 2, cells[i]))
        };
        let mut press = 0.0f64;
        let mut events = Vec::with_capacity(holds.len());
        for (k, &(hi, class)) in holds.iter().enumerate() {
            if k > 0 {
                press += num(dds[k - 1])? * 1000.0;
            }
            events.push(KeyEvent {
                press_ms: press,
                release_ms: press + num(hi)? * 1000.0,
                class,
            });
        }
        rows.push(CmuRow {
            subject: cells[0].to_string(),
            events,
        });
    }
    Ok(rows)
}

#[derive(Default)]
struct ProtocolResult {
    per_subject: Vec<f64>,
    genuine: Vec<f64>,
    impostor: Vec<f64>,
    rejected_genuine: usize,
    rejected_impostor: usize,
    skipped_enrolment: usize,
}

impl ProtocolResult {
    fn summary(&self) -> Value {
        let (mean, sd) = mean_sd(&self.per_subject);
        json!({
            "eer_mean": mean,
            "eer_sd": sd,
            "eer_global": eer(&self.genuine, &self.impostor),
            "fnmr_at_fmr_1pct_global": fnmr_at_fmr(&self.genuine, &self.impostor, 0.01),
            "subjects": self.per_subject.len(),
            "genuine": self.genuine.len(),
            "impostor": self.impostor.len(),
            "rejected_by_validation": {"genuine": self.rejected_genuine, "impostor": self.rejected_impostor,
                                        "enrolment_skipped": self.skipped_enrolment},
        })
    }
}

/// Enrol `enrol` (row indices within the subject) and score repetitions 201-400 (genuine) and
/// the first 5 repetitions of every other evaluated subject (impostors).
fn cmu_protocol(
    model: &LoadedModel,
    subjects: &BTreeMap<String, Vec<&CmuRow>>,
    enrol: std::ops::Range<usize>,
) -> anyhow::Result<ProtocolResult> {
    let mut out = ProtocolResult::default();
    for (name, rows) in subjects {
        if rows.len() < 400 || rows.len() < enrol.end {
            bail!(
                "subject {name}: {} repetitions, the protocol needs 400",
                rows.len()
            );
        }
        let reps: Vec<Vec<KeyEvent>> = rows[enrol.clone()]
            .iter()
            .map(|r| r.events.clone())
            .filter(|e| parse_events(e).is_ok())
            .collect();
        out.skipped_enrolment += enrol.len() - reps.len();
        let template =
            fixed::enrol(&reps).map_err(|e| anyhow!("subject {name}: enrolment: {e}"))?;
        let genuine: Vec<&CmuRow> = rows[200..400].to_vec();
        let impostor: Vec<&CmuRow> = subjects
            .iter()
            .filter(|(other, _)| *other != name)
            .flat_map(|(_, r)| r[..5].iter().copied())
            .collect();
        let (g, rg) = score_rows(model, &template, &genuine)?;
        let (i, ri) = score_rows(model, &template, &impostor)?;
        out.rejected_genuine += rg;
        out.rejected_impostor += ri;
        out.per_subject.push(eer(&g, &i));
        out.genuine.extend(g);
        out.impostor.extend(i);
    }
    Ok(out)
}

/// Scores of rows against a template; rows the service would refuse score -inf.
fn score_rows(
    model: &LoadedModel,
    template: &fixed::FixedTextTemplate,
    rows: &[&CmuRow],
) -> anyhow::Result<(Vec<f64>, usize)> {
    let mut ok = Vec::new();
    let mut flat = Vec::new();
    for (k, row) in rows.iter().enumerate() {
        if let Ok(sample) = fixed::parse_sample(&row.events, template) {
            ok.push(k);
            flat.extend(sample.vector);
        }
    }
    let scores = model.run(|s| fixed::score_batch(s, &flat, template))?;
    let mut out = vec![f64::NEG_INFINITY; rows.len()];
    for (k, s) in ok.iter().zip(scores) {
        out[*k] = f64::from(s);
    }
    Ok((out, rows.len() - ok.len()))
}

/// The CMU file the shipped fixed-text model was trained on (sha256 of the uncompressed CSV).
fn training_subjects(model: &LoadedModel, data: &[u8]) -> Vec<String> {
    let f = &model.entry.features;
    let same = f
        .get("training_data_sha256")
        .and_then(|v| v.as_str())
        .is_some_and(|h| h.eq_ignore_ascii_case(&sha256_hex(data)));
    if !same {
        return Vec::new();
    }
    f.get("training_subjects")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn eval_cmu(registry: &ModelRegistry, file: &Path, out_dir: &Path) -> anyhow::Result<Value> {
    let model = registry
        .for_task(ModelTask::KeystrokeFixed)
        .ok_or_else(|| anyhow!("no keystroke_fixed model in the manifest"))?;
    let data = read_maybe_gz(file)?;
    let text = std::str::from_utf8(&data).context("CMU file is not UTF-8")?;
    let rows = parse_cmu(text)?;
    let excluded = training_subjects(model, &data);
    let mut subjects: BTreeMap<String, Vec<&CmuRow>> = BTreeMap::new();
    for row in &rows {
        if !excluded.contains(&row.subject) {
            subjects.entry(row.subject.clone()).or_default().push(row);
        }
    }
    if subjects.len() < 2 {
        bail!(
            "need at least 2 evaluated subjects, found {}",
            subjects.len()
        );
    }
    println!(
        "CMU {}: {} repetitions, {} subjects evaluated, {} training subjects left out (model {} {})",
        file.display(),
        rows.len(),
        subjects.len(),
        excluded.len(),
        model.entry.id,
        model.entry.version
    );
    let mut results = serde_json::Map::new();
    let mut curves = Vec::new();
    for (name, range, label) in [
        ("standard_200", 0..200, "(a) standard: enrol reps 1-200"),
        (
            "enrol10_session1",
            0..10,
            "(b) enrol 10: reps 1-10 (session 1)",
        ),
        (
            "enrol10_session2",
            50..60,
            "(b') enrol 10: reps 51-60 (session 2)",
        ),
    ] {
        let r = cmu_protocol(model, &subjects, range)?;
        let s = r.summary();
        println!(
            "{label}: per-subject EER mean {:.4} sd {:.4}; global-threshold EER {:.4}; FNMR at FMR 1% {:.4}",
            s["eer_mean"].as_f64().unwrap_or(f64::NAN),
            s["eer_sd"].as_f64().unwrap_or(f64::NAN),
            s["eer_global"].as_f64().unwrap_or(f64::NAN),
            s["fnmr_at_fmr_1pct_global"].as_f64().unwrap_or(f64::NAN),
        );
        curves.push(DetCurve::new(label, &r.genuine, &r.impostor));
        results.insert(name.to_string(), s);
    }
    let png = out_dir.join("det-keystroke-cmu.png");
    plot_det(
        &png,
        "Keystroke fixed text (CMU), held-out subjects",
        &curves,
    )?;
    println!("DET curve: {}", png.display());
    let eer_a = results["standard_200"]["eer_mean"].clone();
    Ok(json!({
        "corpus": "cmu",
        "model": format!("{} {}", model.entry.id, model.entry.version),
        "eer": eer_a,
        "subjects": subjects.len(),
        "excluded_training_subjects": excluded.len(),
        "protocols": results,
        "det_png": png.display().to_string(),
    }))
}

// ------------------------------------------------------------------------------------------
// Free text

/// Cut one corpus sentence as the widget would send it (same rule as
/// `models/keystroke/common.py::widget_segments`).
pub fn widget_segments(events: &[(i64, i64, KeyClass)]) -> Vec<Vec<KeyEvent>> {
    let max = MAX_LATENCY_MS as i64;
    let mut out = Vec::new();
    let mut cur: Vec<KeyEvent> = Vec::new();
    let mut last: Option<(i64, KeyClass)> = None;
    for &(p, r, c) in events {
        let r = p + (r - p).clamp(0, max);
        if let Some((lp, lc)) = last {
            if p == lp && c == lc {
                continue;
            }
            if p - lp > max {
                out.push(std::mem::take(&mut cur));
            }
        }
        #[allow(
            clippy::cast_precision_loss,
            reason = "corpus times are far below 2^52 ms"
        )]
        cur.push(KeyEvent {
            press_ms: p as f64,
            release_ms: r as f64,
            class: c,
        });
        last = Some((p, c));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Users of a folder laid out like `aalto136m_subset`, each a list of widget segments.
/// Also returns the uncompressed keystrokes file (to recognise the training corpus).
#[allow(
    clippy::type_complexity,
    reason = "a private reader: users and the raw bytes"
)]
fn read_freetext(dir: &Path) -> anyhow::Result<(BTreeMap<i64, Vec<Vec<KeyEvent>>>, Vec<u8>)> {
    let gz = dir.join("keystrokes.csv.gz");
    let path: PathBuf = if gz.exists() {
        gz
    } else {
        dir.join("keystrokes.csv")
    };
    let data = read_maybe_gz(&path)?;
    let mut reader = csv::ReaderBuilder::new().from_reader(data.as_slice());
    let headers = reader.headers()?.clone();
    let col = |name: &str| -> anyhow::Result<usize> {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| anyhow!("{}: no `{name}` column", path.display()))
    };
    let (cp, cs, cpr, ch, ck) = (
        col("participant_id")?,
        col("test_section_id")?,
        col("press_ms")?,
        col("hold_ms")?,
        col("keycode")?,
    );
    let mut users: BTreeMap<i64, Vec<Vec<KeyEvent>>> = BTreeMap::new();
    let mut section: Vec<(i64, i64, KeyClass)> = Vec::new();
    let mut key: Option<(i64, i64)> = None;
    let flush = |users: &mut BTreeMap<i64, Vec<Vec<KeyEvent>>>,
                 key: Option<(i64, i64)>,
                 section: &mut Vec<(i64, i64, KeyClass)>| {
        if let Some((p, _)) = key {
            users.entry(p).or_default().extend(widget_segments(section));
        }
        section.clear();
    };
    for (n, rec) in reader.records().enumerate() {
        let rec = rec?;
        let int = |i: usize| -> anyhow::Result<i64> {
            rec.get(i).unwrap_or("").parse::<i64>().with_context(|| {
                format!(
                    "{} row {}: column {} is not an integer",
                    path.display(),
                    n + 2,
                    i + 1
                )
            })
        };
        let k = (int(cp)?, int(cs)?);
        if key != Some(k) {
            flush(&mut users, key, &mut section);
            key = Some(k);
        }
        let press = int(cpr)?;
        let code = u32::try_from(int(ck)?.clamp(0, i64::from(u32::MAX))).unwrap_or(0);
        section.push((press, press + int(ch)?, KeyClass::from_js_keycode(code)));
    }
    flush(&mut users, key, &mut section);
    drop(reader);
    Ok((users, data))
}

/// Users of the corpus the shipped free-text model was trained and calibrated on (recognised by
/// the sha256 of the uncompressed keystrokes file) are left out by the rule in its manifest entry.
fn not_evaluated(model: &LoadedModel, data: &[u8]) -> Option<(String, u8)> {
    let f = &model.entry.features;
    let same = f
        .get("training_data_sha256")
        .and_then(|v| v.as_str())
        .is_some_and(|h| h.eq_ignore_ascii_case(&sha256_hex(data)));
    let prefix = f.get("not_evaluated_hash_prefix")?.as_str()?.to_string();
    let below = u8::try_from(f.get("not_evaluated_first_byte_below")?.as_integer()?).ok()?;
    same.then_some((prefix, below))
}

pub fn eval_freetext(
    registry: &ModelRegistry,
    dir: &Path,
    out_dir: &Path,
) -> anyhow::Result<Value> {
    let model = registry
        .for_task(ModelTask::KeystrokeFree)
        .ok_or_else(|| anyhow!("no keystroke_free model in the manifest"))?;
    let (mut users, raw) = read_freetext(dir)?;
    let total_users = users.len();
    if let Some((prefix, below)) = not_evaluated(model, &raw) {
        users.retain(|id, _| {
            let digest =
                ring::digest::digest(&ring::digest::SHA256, format!("{prefix}{id}").as_bytes());
            digest.as_ref()[0] >= below
        });
    }
    drop(raw);
    let excluded = total_users - users.len();
    const ENROL: usize = 5;
    // Embed every window of every user (zero template: only the embeddings are used).
    let mut windows: Vec<(i64, FreeTextWindows)> = Vec::new();
    let mut embeddings: Vec<Vec<f32>> = Vec::new();
    let mut rejected = 0usize;
    for (&user, segments) in &users {
        let parsed: Vec<_> = segments
            .iter()
            .filter_map(|s| match parse_events(s) {
                Ok(seg) => Some(seg),
                Err(_) => {
                    rejected += 1;
                    None
                }
            })
            .collect();
        let rows = free_text_rows(&parsed);
        let (count, data) = free_text_windows(&rows);
        if count == 0 {
            continue;
        }
        let w = FreeTextWindows {
            count,
            data,
            keystrokes: rows.len(),
        };
        let (emb, _) = model.run(|s| free::run(s, &w, &[0.0; EMBEDDING_DIM]))?;
        embeddings.push(emb);
        windows.push((user, w));
    }
    // Templates: mean embedding of each user's first 5 windows.
    let templates: Vec<f32> = windows
        .iter()
        .zip(&embeddings)
        .flat_map(|((_, w), e)| {
            let n = w.count.min(ENROL);
            free::template_from_embeddings(&e[..n * EMBEDDING_DIM], n).embedding
        })
        .collect();
    let t = windows.len();
    let (mut genuine, mut impostor, mut per_user) = (Vec::new(), Vec::new(), Vec::new());
    let mut user_scores: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); t];
    for (owner, (_, w)) in windows.iter().enumerate() {
        // scores of this user's windows against every template: [count, t]
        let (_, scores) = model.run(|s| run_many(s, w, &templates))?;
        for k in 0..w.count {
            for (u, slot) in user_scores.iter_mut().enumerate() {
                let s = f64::from(scores[k * t + u]);
                if u == owner {
                    if k >= ENROL {
                        slot.0.push(s);
                    }
                } else {
                    slot.1.push(s);
                }
            }
        }
    }
    for (g, i) in &user_scores {
        if !g.is_empty() && !i.is_empty() {
            per_user.push(eer(g, i));
        }
        genuine.extend_from_slice(g);
        impostor.extend_from_slice(i);
    }
    let (mean, sd) = mean_sd(&per_user);
    let global = eer(&genuine, &impostor);
    let fnmr1 = fnmr_at_fmr(&genuine, &impostor, 0.01);
    println!(
        "free text {}: {} users evaluated ({} training/calibration users of the shipped model left out), {} windows of {FREE_WINDOW} keystrokes, {} segments refused by validation (model {} {})",
        dir.display(),
        windows.len(),
        excluded,
        windows.iter().map(|(_, w)| w.count).sum::<usize>(),
        rejected,
        model.entry.id,
        model.entry.version
    );
    println!(
        "enrol 5 x {FREE_WINDOW} keystrokes: global-threshold EER {global:.4}; per-user EER mean {mean:.4} sd {sd:.4}; FNMR at FMR 1% {fnmr1:.4} ({} genuine, {} impostor)",
        genuine.len(),
        impostor.len()
    );
    let png = out_dir.join("det-keystroke-freetext.png");
    plot_det(
        &png,
        "Keystroke free text, enrol 5 x 50 keystrokes",
        &[DetCurve::new("global threshold", &genuine, &impostor)],
    )?;
    println!("DET curve: {}", png.display());
    Ok(json!({
        "corpus": "freetext",
        "model": format!("{} {}", model.entry.id, model.entry.version),
        "eer": global,
        "eer_user_mean": mean,
        "eer_user_sd": sd,
        "fnmr_at_fmr_1pct": fnmr1,
        "users": windows.len(),
        "excluded_training_users": excluded,
        "genuine": genuine.len(),
        "impostor": impostor.len(),
        "segments_refused": rejected,
        "det_png": png.display().to_string(),
    }))
}

fn run_many(
    session: &mut ort::session::Session,
    windows: &FreeTextWindows,
    templates: &[f32],
) -> Result<(Vec<f32>, Vec<f32>), crate::biometrics::keystroke::KeystrokeError> {
    use ort::value::TensorRef;
    let t = templates.len() / EMBEDDING_DIM;
    let mut inner = || -> ort::Result<(Vec<f32>, Vec<f32>)> {
        let outputs = session.run(ort::inputs![
            "windows" => TensorRef::from_array_view(([windows.count, FREE_WINDOW, FREE_DIM], windows.data.as_slice()))?,
            "template" => TensorRef::from_array_view(([t, EMBEDDING_DIM], templates))?,
        ])?;
        let (_, e) = outputs["embedding"].try_extract_tensor::<f32>()?;
        let (_, s) = outputs["score"].try_extract_tensor::<f32>()?;
        Ok((e.to_vec(), s.to_vec()))
    };
    inner().map_err(|e| crate::biometrics::keystroke::KeystrokeError::Model(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmu_key_names_map_to_classes() {
        let names = [
            "period", "t", "i", "e", "five", "Shift.r", "o", "a", "n", "l", "Return",
        ];
        let classes: Vec<KeyClass> = names.iter().map(|n| cmu_key_class(n)).collect();
        assert_eq!(
            classes,
            vec![
                KeyClass::RightBottom,
                KeyClass::LeftTop,
                KeyClass::RightTop,
                KeyClass::LeftTop,
                KeyClass::LeftNumber,
                KeyClass::Modifier,
                KeyClass::RightTop,
                KeyClass::LeftHome,
                KeyClass::RightBottom,
                KeyClass::RightHome,
                KeyClass::Edit
            ]
        );
    }

    #[test]
    fn widget_segments_split_long_pauses_and_drop_duplicates() {
        let c = KeyClass::LeftHome;
        let segs = widget_segments(&[(0, 100, c), (0, 100, c), (200, 250, c), (6000, 16000, c)]);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].len(), 2);
        assert_eq!(segs[1][0].release_ms - segs[1][0].press_ms, 5000.0);
    }

    #[test]
    fn parses_a_tiny_cmu_file() {
        let text =
            "subject,sessionIndex,rep,H.a,DD.a.b,UD.a.b,H.b\r\ns002,1,1,0.1,0.2,0.1,0.05\r\n";
        let rows = parse_cmu(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].events[1].press_ms, 200.0);
        assert!((rows[0].events[1].release_ms - 250.0).abs() < 1e-9);
    }
}
