//! Keystroke verification end to end (parse, features, ONNX, calibrated FMR) against the bare
//! ONNX Runtime call on the same prepared tensors. Plain `std::time::Instant` timing (no bench
//! framework), one thread, sessions with one intra-op thread as the service uses them.
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

fn measure(mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..WARMUP {
        f();
    }
    let mut times: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[ITERATIONS / 2], times[ITERATIONS * 9 / 10])
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

    // Fixed text: 11 keys, 200 enrolled repetitions (the CMU standard protocol's template).
    let reps: Vec<Vec<KeyEvent>> = (1..=200).map(phrase).collect();
    let template = fixed::enrol(&reps).unwrap();
    let attempt = phrase(1000);
    let model = registry.for_task(ModelTask::KeystrokeFixed).unwrap();
    let e2e_score = score_fixed(&registry, &template, &attempt).unwrap().score;
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
        "fixed text: one sample scored {e2e_score:.5} end to end and {bare_score:.5} by the bare call"
    );
    let e2e = measure(|| {
        std::hint::black_box(score_fixed(&registry, &template, &attempt).unwrap());
    });
    let b = measure(|| {
        std::hint::black_box(model.run(bare));
    });
    summary.push(report("fixed_text_11_keys_200_reps", e2e, b));

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
    let e2e_score = score_free(&registry, &template, &segments).unwrap().score;
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
    let e2e = measure(|| {
        std::hint::black_box(score_free(&registry, &template, &segments).unwrap());
    });
    let b = measure(|| {
        std::hint::black_box(model.run(bare));
    });
    summary.push(report("free_text_1_window_50_keys", e2e, b));
    println!("{}", serde_json::Value::Array(summary));
}
