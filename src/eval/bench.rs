//! `trustline bench voice`: verify of N seconds of audio end to end against bare ONNX Runtime
//! calls of every model that verify runs, on exactly the inputs verify gives them, in the same
//! process, on the same sessions, with the same thread settings.
//!
//! * verify: WAV decode, Silero VAD (one call per 32 ms chunk), trim, Kaldi fbank, CAM++, GE2E
//!   mel + partials, GE2E, replay fingerprint, S-norm, fusion, score -> FMR.
//! * bare: the same Silero VAD calls (precomputed chunk windows, state fed back), CAM++ on the
//!   same fbank features, GE2E on the same mel partials; nothing else.
//!
//! So the ratio is the cost of everything the Rust path adds around inference. AASIST is not
//! part of verify as the issue defines it (fbank + VAD + embedding + scoring); it is timed
//! separately. Each iteration runs both, alternating which goes first; the report gives
//! medians, the ratio of the medians, and the median of the per-iteration ratios (each pair
//! measured back to back, so load from other processes cancels better).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use ndarray::{Array2, Array3, ArrayView3};
use ort::{session::Session, value::TensorRef};

use crate::{
    biometrics::{
        audio::{self, AudioEncoding, vad},
        voice::{
            AASIST, CAMPPLUS, GE2E, VAD,
            embed::{
                AnalyseOptions, VAD_PAD_CHUNKS, analyse, campplus_features_for, campplus_run,
                ge2e_partials,
            },
            replay::Fingerprint,
            service::{VoiceEngine, evidence},
            template::VoiceTemplate,
        },
    },
    config::Settings,
};

/// The bench audio: the repository's synthetic fixture utterance, tiled to the length asked.
fn bench_audio(seconds: f32) -> anyhow::Result<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/voice/tts_account.wav"
    );
    let bytes = std::fs::read(path).with_context(|| format!("bench audio {path}"))?;
    let u = audio::decode(&bytes, AudioEncoding::Wav)?;
    let n = (seconds * 16_000.0) as usize;
    let pcm: Vec<i16> = u
        .samples
        .iter()
        .cycle()
        .take(n)
        .map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect();
    Ok(audio::encode_wav(&pcm, 16_000, 1)?)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Exactly the model inputs one verify produces, precomputed.
struct BareInputs {
    /// Silero windows `[1, 64 + 512]`, one per chunk (context + chunk, as `vad` builds them).
    vad_windows: Vec<Array2<f32>>,
    campplus_features: Vec<f32>,
    ge2e: (usize, usize, Vec<f32>),
}

impl BareInputs {
    fn new(engine: &VoiceEngine, samples: &[f32], flags: &[bool], telephone: bool) -> Self {
        const CONTEXT: usize = 64;
        let chunk = vad::CHUNK;
        let n = samples.len().div_ceil(chunk);
        let mut vad_windows = Vec::with_capacity(n);
        let mut prev_tail = vec![0f32; CONTEXT];
        for c in 0..n {
            let mut w = vec![0f32; CONTEXT + chunk];
            w[..CONTEXT].copy_from_slice(&prev_tail);
            let part = &samples[c * chunk..((c + 1) * chunk).min(samples.len())];
            w[CONTEXT..CONTEXT + part.len()].copy_from_slice(part);
            prev_tail.copy_from_slice(&w[chunk..chunk + CONTEXT]);
            vad_windows.push(Array2::from_shape_vec((1, CONTEXT + chunk), w).unwrap_or_default());
        }
        let trimmed = vad::trim(samples, flags, VAD_PAD_CHUNKS);
        Self {
            vad_windows,
            campplus_features: campplus_features_for(&engine.front, &trimmed, telephone),
            ge2e: ge2e_partials(&engine.front, &trimmed),
        }
    }
}

/// The Silero calls of one verify, bare: precomputed windows, the state output fed back.
fn bare_vad(session: &mut Session, windows: &[Array2<f32>]) -> ort::Result<f32> {
    let mut state = Array3::<f32>::zeros((2, 1, 128));
    let sr = ndarray::arr0(16_000i64);
    let mut last = 0.0;
    for w in windows {
        let out = session.run(ort::inputs![
            "input" => TensorRef::from_array_view(w)?,
            "state" => TensorRef::from_array_view(&state)?,
            "sr" => TensorRef::from_array_view(&sr)?,
        ])?;
        let (_, p) = out["output"].try_extract_tensor::<f32>()?;
        last = p.first().copied().unwrap_or(0.0);
        let (_, s) = out["stateN"].try_extract_tensor::<f32>()?;
        if let Some(dst) = state.as_slice_mut() {
            dst.copy_from_slice(s);
        }
    }
    Ok(last)
}

/// GE2E on the precomputed partials, bare: raw output, no averaging.
fn bare_ge2e(session: &mut Session, b: usize, t: usize, mel: &[f32]) -> ort::Result<f32> {
    let view = ArrayView3::from_shape((b, t, crate::biometrics::audio::mel::N_MELS), mel)
        .map_err(|e| ort::Error::new(format!("mel: {e}")))?;
    let out = session.run(ort::inputs!["mel" => TensorRef::from_array_view(view)?])?;
    let (_, e) = out["embedding"].try_extract_tensor::<f32>()?;
    Ok(e.first().copied().unwrap_or(0.0))
}

/// Bare CAM++ on the precomputed features: raw output.
fn bare_campplus(session: &mut Session, features: &[f32]) -> ort::Result<f32> {
    let view = ArrayView3::from_shape((1, features.len() / 80, 80), features)
        .map_err(|e| ort::Error::new(format!("features: {e}")))?;
    let out = session.run(ort::inputs!["fbank" => TensorRef::from_array_view(view)?])?;
    let (_, e) = out["embedding"].try_extract_tensor::<f32>()?;
    Ok(e.first().copied().unwrap_or(0.0))
}

pub fn run(settings: &Settings, seconds: f32, iterations: usize) -> anyhow::Result<()> {
    let models = super::single_threaded_models(settings)?;
    let engine = VoiceEngine::from_registry(&models)?;
    let wav = bench_audio(seconds)?;
    let opts = AnalyseOptions {
        enforce_min_speech: true,
        antispoof: false,
    };
    let u0 = audio::decode(&wav, AudioEncoding::Wav)?;
    let a0 = analyse(&models, &engine.front, &u0, opts)?;
    let tpl =
        VoiceTemplate::from_analyses(std::slice::from_ref(&a0), Vec::new()).context("template")?;
    let (vad_model, cam, ge) = (models.get(VAD)?, models.get(CAMPPLUS)?, models.get(GE2E)?);
    // The VAD decisions verify takes, to trim exactly as it does.
    let probs = vad_model.run(|s| vad::speech_probabilities(s, &u0.samples))?;
    let flags = vad::speech_flags(&probs);
    let inputs = BareInputs::new(&engine, &u0.samples, &flags, u0.is_telephone());
    let (b, t, mel) = &inputs.ge2e;

    let verify = || -> anyhow::Result<f32> {
        let u = audio::decode(&wav, AudioEncoding::Wav)?;
        let a = analyse(&models, &engine.front, &u, opts)?;
        Ok(evidence(&models, &engine, &tpl, &a, None).score)
    };
    let bare = || -> anyhow::Result<f32> {
        let v = vad_model.run(|s| bare_vad(s, &inputs.vad_windows))?;
        let c = cam.run(|s| bare_campplus(s, &inputs.campplus_features))?;
        let g = ge.run(|s| bare_ge2e(s, *b, *t, mel))?;
        Ok(v + c + g)
    };
    // The bare calls must reproduce verify's inference: same CAM++ embedding.
    let check = cam.run(|s| campplus_run(s, &inputs.campplus_features))?;
    let mut check_n = check.clone();
    crate::biometrics::voice::embed::l2_normalise(&mut check_n);
    let diff = check_n
        .iter()
        .zip(&a0.campplus)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    anyhow::ensure!(
        diff < 1e-5,
        "bare CAM++ input differs from verify's ({diff})"
    );

    let iterations = iterations.max(5);
    for _ in 0..5 {
        std::hint::black_box(verify()?);
        std::hint::black_box(bare()?);
    }
    let (mut full, mut base, mut ratios) = (vec![], vec![], vec![]);
    for i in 0..iterations {
        let time = |f: &dyn Fn() -> anyhow::Result<f32>| -> anyhow::Result<f64> {
            let t0 = Instant::now();
            std::hint::black_box(f()?);
            Ok(ms(t0.elapsed()))
        };
        let (f, b) = if i % 2 == 0 {
            let f = time(&verify)?;
            (f, time(&bare)?)
        } else {
            let b = time(&bare)?;
            (time(&verify)?, b)
        };
        full.push(f);
        base.push(b);
        ratios.push(f / b);
    }

    // Where the time goes inside verify (medians of separate timings of each stage).
    let stage_iters = iterations.min(30);
    let stage = |f: &dyn Fn() -> anyhow::Result<()>| -> anyhow::Result<f64> {
        let mut v = Vec::with_capacity(stage_iters);
        for _ in 0..stage_iters {
            let t0 = Instant::now();
            f()?;
            v.push(ms(t0.elapsed()));
        }
        Ok(median(&v))
    };
    let trimmed = vad::trim(&u0.samples, &flags, VAD_PAD_CHUNKS);
    let s_decode = stage(&|| {
        std::hint::black_box(audio::decode(&wav, AudioEncoding::Wav)?);
        Ok(())
    })?;
    let s_vad = stage(&|| {
        std::hint::black_box(vad_model.run(|s| vad::speech_probabilities(s, &u0.samples))?);
        Ok(())
    })?;
    let s_vad_bare = stage(&|| {
        std::hint::black_box(vad_model.run(|s| bare_vad(s, &inputs.vad_windows))?);
        Ok(())
    })?;
    let s_fbank = stage(&|| {
        std::hint::black_box(campplus_features_for(&engine.front, &trimmed, false));
        Ok(())
    })?;
    let s_mel = stage(&|| {
        std::hint::black_box(ge2e_partials(&engine.front, &trimmed));
        Ok(())
    })?;
    let s_fp = stage(&|| {
        std::hint::black_box(Fingerprint::of(&engine.front.fbank, &u0.samples));
        Ok(())
    })?;
    let s_score = stage(&|| {
        std::hint::black_box(evidence(&models, &engine, &tpl, &a0, None));
        Ok(())
    })?;
    let s_cam = stage(&|| {
        std::hint::black_box(cam.run(|s| bare_campplus(s, &inputs.campplus_features))?);
        Ok(())
    })?;
    let s_ge = stage(&|| {
        std::hint::black_box(ge.run(|s| bare_ge2e(s, *b, *t, mel))?);
        Ok(())
    })?;
    let s_aasist = match models.get(AASIST) {
        Ok(m) => Some(stage(&|| {
            std::hint::black_box(
                m.run(|s| crate::biometrics::voice::antispoof::bona_fide_score(s, &u0.samples))?,
            );
            Ok(())
        })?),
        Err(_) => None,
    };

    let (mf, mb) = (median(&full), median(&base));
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "bench voice: {seconds} s of audio ({} VAD chunks, {} CAM++ frames, GE2E {b}x{t}), {iterations} iterations, ONNX Runtime intra-op threads 1",
        inputs.vad_windows.len(),
        inputs.campplus_features.len() / 80,
    );
    println!(
        "  verify end to end (decode+VAD+fbank+CAM++ +mel+GE2E+fingerprint+S-norm+fusion+FMR)"
    );
    println!(
        "                                              median {mf:8.2} ms  min {:8.2} ms",
        min(&full)
    );
    println!("  bare ort, same inputs (Silero VAD calls + CAM++ + GE2E)");
    println!(
        "                                              median {mb:8.2} ms  min {:8.2} ms",
        min(&base)
    );
    println!("  ratio of medians:                 {:.3}", mf / mb);
    println!("  median of per-iteration ratios:   {:.3}", median(&ratios));
    println!(
        "  ratio of minima:                  {:.3}",
        min(&full) / min(&base)
    );
    println!("  stages (medians of {stage_iters} separate timings):");
    println!("    decode WAV                          {s_decode:8.3} ms");
    println!(
        "    VAD as verify runs it               {s_vad:8.3} ms   (bare calls {s_vad_bare:8.3} ms)"
    );
    println!("    Kaldi fbank (CAM++ features)        {s_fbank:8.3} ms");
    println!("    GE2E mel + partials                 {s_mel:8.3} ms");
    println!("    replay fingerprint                  {s_fp:8.3} ms");
    println!("    S-norm + fusion + FMR               {s_score:8.3} ms");
    println!("    CAM++ inference                     {s_cam:8.3} ms");
    println!("    GE2E inference                      {s_ge:8.3} ms");
    if let Some(a) = s_aasist {
        println!("    AASIST (not in verify above; the voice API runs it when loaded) {a:8.3} ms");
    }
    println!(
        "{}",
        serde_json::json!({"seconds": seconds, "iterations": iterations,
            "verify_median_ms": mf, "bare_median_ms": mb, "ratio": mf / mb,
            "ratio_paired_median": median(&ratios), "ratio_min": min(&full) / min(&base),
            "stages_ms": {"decode": s_decode, "vad": s_vad, "vad_bare": s_vad_bare, "fbank": s_fbank,
                "mel": s_mel, "fingerprint": s_fp, "scoring": s_score, "campplus": s_cam,
                "ge2e": s_ge, "aasist": s_aasist}})
    );
    Ok(())
}
