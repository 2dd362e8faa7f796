//! `trustline bench voice`: verify of N seconds of audio end to end (decode, VAD, fbank, mel,
//! CAM++ + GE2E, S-norm, fusion, calibration) against bare ONNX Runtime sessions running the
//! same two models on the same, precomputed features — same process, same thread settings.

use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::{
    biometrics::{
        audio::{self, AudioEncoding},
        models::{LoadOptions, ModelRegistry},
        voice::{
            CAMPPLUS, GE2E,
            embed::{
                AnalyseOptions, analyse, campplus_features, campplus_run, ge2e_partials, ge2e_run,
            },
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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn run(settings: &Settings, seconds: f32, iterations: usize) -> anyhow::Result<()> {
    let models = ModelRegistry::load(
        &settings.onnxruntime_library,
        &settings.models_dir,
        LoadOptions {
            sessions_per_model: 1,
            intra_threads: 1,
        },
    )?;
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
    // Bare-session inputs: the same features the pipeline computes.
    let feats = campplus_features(&engine.front, &u0.samples);
    let (b, t, mel) = ge2e_partials(&engine.front, &u0.samples);
    let (cam, ge) = (models.get(CAMPPLUS)?, models.get(GE2E)?);
    let iterations = iterations.max(3);
    // warm-up
    for _ in 0..3 {
        let u = audio::decode(&wav, AudioEncoding::Wav)?;
        let a = analyse(&models, &engine.front, &u, opts)?;
        let _ = evidence(&models, &engine, &tpl, &a, None);
        cam.run(|s| campplus_run(s, &feats))?;
        ge.run(|s| ge2e_run(s, b, t, &mel))?;
    }
    let (mut full, mut bare, mut bare_cam, mut fbank_only, mut aasist) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..iterations {
        let t0 = Instant::now();
        let u = audio::decode(&wav, AudioEncoding::Wav)?;
        let a = analyse(&models, &engine.front, &u, opts)?;
        let ev = evidence(&models, &engine, &tpl, &a, None);
        std::hint::black_box(ev);
        full.push(t0.elapsed());

        let t1 = Instant::now();
        std::hint::black_box(cam.run(|s| campplus_run(s, &feats))?);
        let t1b = t1.elapsed();
        std::hint::black_box(ge.run(|s| ge2e_run(s, b, t, &mel))?);
        bare.push(t1.elapsed());
        bare_cam.push(t1b);

        let t2 = Instant::now();
        std::hint::black_box(engine.front.fbank.compute_mean_normalised(&u.samples));
        fbank_only.push(t2.elapsed());

        if let Ok(m) = models.get(crate::biometrics::voice::AASIST) {
            let t3 = Instant::now();
            std::hint::black_box(
                m.run(|s| crate::biometrics::voice::antispoof::bona_fide_score(s, &u.samples))?,
            );
            aasist.push(t3.elapsed());
        }
    }
    let (f, b_, c, fb) = (
        median(full),
        median(bare),
        median(bare_cam),
        median(fbank_only),
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "bench voice: {seconds} s of audio, {iterations} iterations, ONNX Runtime intra-op threads 1 (medians)"
    );
    println!(
        "  verify end to end (decode+VAD+fbank+mel+CAM++ +GE2E+S-norm+fusion+FMR): {:8.2} ms",
        ms(f)
    );
    println!(
        "  bare ort sessions, same features (CAM++ + GE2E):                       {:8.2} ms",
        ms(b_)
    );
    println!(
        "  bare ort CAM++ only ({} frames):                                        {:8.2} ms",
        feats.len() / 80,
        ms(c)
    );
    println!(
        "  Rust Kaldi fbank alone:                                                 {:8.2} ms",
        ms(fb)
    );
    if !aasist.is_empty() {
        println!(
            "  AASIST (not in verify above; runs when the anti-spoof check is on):      {:8.2} ms",
            ms(median(aasist))
        );
    }
    println!("  ratio end-to-end / bare: {:.3}", ms(f) / ms(b_));
    println!(
        "{}",
        serde_json::json!({"seconds": seconds, "iterations": iterations, "verify_ms": ms(f), "bare_ms": ms(b_),
            "bare_campplus_ms": ms(c), "fbank_ms": ms(fb), "ratio": ms(f) / ms(b_)})
    );
    Ok(())
}
