//! Keystroke verification end to end (JSON body, parse, features, ONNX, calibrated FMR)
//! against the bare ONNX Runtime call on the same prepared tensors. Plain `std::time::Instant`
//! timing (no bench framework), one thread, sessions with one intra-op thread as the service
//! uses them. The two are measured in the same run and interleaved call by call (alternating
//! which goes first), so load from other processes falls on both alike.
//!
//! `cargo bench --bench keystroke` prints median / p90 per case and the ratio of the medians.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use ort::value::TensorRef;
use trustline::{
    biometrics::keystroke::{
        KeyClass, KeyEvent,
        features::{FREE_DIM, FREE_WINDOW, fixed_text_kinds},
        fixed, free,
        service::{score_fixed, score_free},
    },
    biometrics::models::{LoadOptions, ModelRegistry, ModelTask},
    biometrics::scorer::{KeystrokeFixedSample, KeystrokeFreeSample},
    config::RawSettings,
};

const WARMUP: usize = 200;
const ITERATIONS: usize = 3000;

fn phrase(seed: u64) -> Vec<KeyEvent> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut jitter = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 1000) as f64 / 1000.0 - 0.5
    };
    let classes = [
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
        KeyClass::Edit,
    ];
    let mut t = 0.0;
    classes
        .iter()
        .map(|&class| {
            let press = t;
            t += 150.0 * (1.0 + 0.2 * jitter());
            KeyEvent {
                press_ms: press,
                release_ms: press + 90.0 * (1.0 + 0.2 * jitter()),
                class,
            }
        })
        .collect()
}

/// Median and p90 of `a` and of `b`, timed call by call in alternating order.
fn measure(
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) -> ((Duration, Duration), (Duration, Duration)) {
    for _ in 0..WARMUP {
        a();
        b();
    }
    let mut ta = Vec::with_capacity(ITERATIONS);
    let mut tb = Vec::with_capacity(ITERATIONS);
    for i in 0..ITERATIONS {
        let mut time_a = || {
            let t = Instant::now();
            a();
            ta.push(t.elapsed());
        };
        if i % 2 == 0 {
            time_a();
            let t = Instant::now();
            b();
            tb.push(t.elapsed());
        } else {
            let t = Instant::now();
            b();
            tb.push(t.elapsed());
            time_a();
        }
    }
    let stats = |mut v: Vec<Duration>| {
        v.sort();
        (v[v.len() / 2], v[v.len() * 9 / 10])
    };
    (stats(ta), stats(tb))
}

fn report(name: &str, e2e: (Duration, Duration), bare: (Duration, Duration)) -> serde_json::Value {
    let ratio = e2e.0.as_secs_f64() / bare.0.as_secs_f64();
    println!(
        "{name}: end to end median {:.1} us (p90 {:.1}); bare model call median {:.1} us (p90 {:.1}); ratio {ratio:.3}",
        e2e.0.as_secs_f64() * 1e6,
        e2e.1.as_secs_f64() * 1e6,
        bare.0.as_secs_f64() * 1e6,
        bare.1.as_secs_f64() * 1e6,
    );
    serde_json::json!({"case": name, "e2e_median_us": e2e.0.as_secs_f64() * 1e6,
        "bare_median_us": bare.0.as_secs_f64() * 1e6, "ratio": ratio})
}

/// One fixed-text case: `n` enrolled repetitions of an 11-key phrase (CMU's length).
fn fixed_case(registry: &ModelRegistry, n: u64) -> serde_json::Value {
    let reps: Vec<Vec<KeyEvent>> = (1..=n).map(phrase).collect();
    let template = fixed::enrol(&reps).unwrap();
    // The evidence as it arrives: a JSON array of key events.
    let body = serde_json::to_vec(&phrase(1000)).unwrap();
    let model = registry.for_task(ModelTask::KeystrokeFixed).unwrap();
    let end_to_end = || {
        let sample: KeystrokeFixedSample = serde_json::from_slice(&body).unwrap();
        score_fixed(registry, &template, &sample.parse().unwrap()).unwrap()
    };
    let e2e_score = end_to_end().score;
    let attempt: Vec<KeyEvent> = serde_json::from_slice(&body).unwrap();
    let sample = fixed::parse_sample(&attempt, &template).unwrap().vector;
    let f = sample.len();
    let enrolment = template.matrix();
    let kinds = fixed_text_kinds(template.keys());
    let bare = |session: &mut ort::session::Session| -> f32 {
        let out = session
            .run(ort::inputs![
                "sample" => TensorRef::from_array_view(([1usize, f], sample.as_slice())).unwrap(),
                "enrolment" => TensorRef::from_array_view(([enrolment.len() / f, f], enrolment.as_slice())).unwrap(),
                "kinds" => TensorRef::from_array_view(([f, 3usize], kinds.as_slice())).unwrap(),
            ])
            .unwrap();
        out["score"].try_extract_tensor::<f32>().unwrap().1[0]
    };
    let bare_score = model.run(bare);
    assert!(
        (e2e_score - bare_score).abs() < 1e-6,
        "{e2e_score} vs {bare_score}"
    );
    println!(
        "fixed text, {n} enrolled repetitions: one sample scored {e2e_score:.5} end to end and {bare_score:.5} by the bare call"
    );
    let (e2e, b) = measure(
        || {
            std::hint::black_box(end_to_end());
        },
        || {
            std::hint::black_box(model.run(bare));
        },
    );
    report(&format!("fixed_text_11_keys_{n}_reps"), e2e, b)
}

fn main() {
    let s = RawSettings::default().validate().expect("default settings");
    let registry = ModelRegistry::load(
        &s.onnxruntime_library,
        &s.models_dir,
        LoadOptions {
            sessions_per_model: 1,
            intra_threads: 1,
        },
    )
    .expect("models load (run scripts/install-onnxruntime.sh first)");
    let mut summary = Vec::new();

    // Fixed text: 11 keys; 10 enrolled repetitions (the realistic enrolment) and 200 (the CMU
    // standard protocol's template).
    for n in [10, 200] {
        summary.push(fixed_case(&registry, n));
    }

    // Free text: one window of 50 keystrokes against a template.
    let segments: Vec<Vec<KeyEvent>> = vec![
        (0..50)
            .map(|k| {
                let press = k as f64 * 170.0 + ((k * 37) % 11) as f64 * 9.0;
                KeyEvent {
                    press_ms: press,
                    release_ms: press + 85.0 + ((k * 13) % 7) as f64 * 6.0,
                    class: KeyClass::ALL[(k * 5) % 11],
                }
            })
            .collect(),
    ];
    let model = registry.for_task(ModelTask::KeystrokeFree).unwrap();
    let windows = free::parse_verification(&segments).unwrap();
    let template = model.run(|s| free::enrol(s, &windows)).unwrap();
    let body = serde_json::to_vec(&segments).unwrap();
    let end_to_end = || {
        let sample: KeystrokeFreeSample = serde_json::from_slice(&body).unwrap();
        score_free(&registry, &template, &sample.parse().unwrap()).unwrap()
    };
    let e2e_score = end_to_end().score;
    let data = windows.data.clone();
    let emb = template.embedding.clone();
    let bare = |session: &mut ort::session::Session| -> f32 {
        let out = session
            .run(ort::inputs![
                "windows" => TensorRef::from_array_view(([1usize, FREE_WINDOW, FREE_DIM], data.as_slice())).unwrap(),
                "template" => TensorRef::from_array_view(([1usize, free::EMBEDDING_DIM], emb.as_slice())).unwrap(),
            ])
            .unwrap();
        out["score"].try_extract_tensor::<f32>().unwrap().1[0]
    };
    let bare_score = model.run(bare);
    assert!(
        (e2e_score - bare_score).abs() < 1e-5,
        "{e2e_score} vs {bare_score}"
    );
    println!(
        "free text: one window scored {e2e_score:.5} end to end and {bare_score:.5} by the bare call"
    );
    let (e2e, b) = measure(
        || {
            std::hint::black_box(end_to_end());
        },
        || {
            std::hint::black_box(model.run(bare));
        },
    );
    summary.push(report("free_text_1_window_50_keys", e2e, b));
    println!("{}", serde_json::Value::Array(summary));
}
