//! Timing features, exactly as `models/keystroke/common.py` computes them for training
//! (checked by `tests/fixtures/keystroke_features.json`, written by
//! `models/keystroke/make_fixture.py`).

use super::input::{KeyClass, KeystrokeSegment, MAX_LATENCY_MS};

/// Holds and press-press latencies below 1 ms (ties at timer resolution) count as 1 ms, so
/// their logarithm is finite.
const MIN_MS: f64 = 1.0;

fn log_seconds(ms: f64) -> f32 {
    // Inputs are validated (finite, <= MAX_LATENCY_MS) and clamped to >= 1 ms: ln is finite.
    (ms.max(MIN_MS) / 1000.0).ln() as f32
}

/// Kind of each fixed-text feature: 0 hold, 1 press-press, 2 release-press.
pub const FIXED_KINDS: usize = 3;

/// Fixed-text vector for K keys: K log holds, K-1 log press-press latencies, K-1 release-press
/// latencies (seconds; negative when keys overlap). Length 3K-2.
pub fn fixed_text_vector(segment: &KeystrokeSegment) -> Vec<f32> {
    let ev = segment.events();
    let k = ev.len();
    let mut out = Vec::with_capacity(3 * k.saturating_sub(1) + 1);
    out.extend(ev.iter().map(|e| log_seconds(e.release_ms - e.press_ms)));
    out.extend(
        ev.windows(2)
            .map(|w| log_seconds(w[1].press_ms - w[0].press_ms)),
    );
    out.extend(
        ev.windows(2)
            .map(|w| ((w[1].press_ms - w[0].release_ms) / 1000.0) as f32),
    );
    out
}

/// One-hot kinds `[F, 3]` (row-major) matching [`fixed_text_vector`] for `keys` keys.
pub fn fixed_text_kinds(keys: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity((3 * keys).saturating_sub(2) * FIXED_KINDS);
    for (kind, count) in [
        (0, keys),
        (1, keys.saturating_sub(1)),
        (2, keys.saturating_sub(1)),
    ] {
        for _ in 0..count {
            let mut row = [0.0f32; FIXED_KINDS];
            row[kind] = 1.0;
            out.extend_from_slice(&row);
        }
    }
    out
}

/// Numeric columns per keystroke before the one-hot class.
pub const FREE_NUMERIC: usize = 5;
/// Columns per keystroke row of the free-text model.
pub const FREE_DIM: usize = FREE_NUMERIC + KeyClass::COUNT;
/// Keystrokes per free-text window (the model's fixed sequence length).
pub const FREE_WINDOW: usize = 50;

/// Free-text rows: `[log hold, log press-press, release-press, release-release, first]` and a
/// one-hot class, latencies to the previous keystroke of the same segment (seconds, clamped to
/// +-5 s); the first keystroke of a segment has zero latencies and `first = 1`.
pub fn free_text_rows(segments: &[KeystrokeSegment]) -> Vec<[f32; FREE_DIM]> {
    let mut rows = Vec::with_capacity(segments.iter().map(KeystrokeSegment::len).sum());
    for segment in segments {
        let ev = segment.events();
        for (i, e) in ev.iter().enumerate() {
            let mut row = [0.0f32; FREE_DIM];
            row[0] = log_seconds((e.release_ms - e.press_ms).min(MAX_LATENCY_MS));
            if i == 0 {
                row[4] = 1.0;
            } else {
                let p = ev[i - 1];
                let clamp = |v: f64| v.clamp(-MAX_LATENCY_MS, MAX_LATENCY_MS);
                row[1] = log_seconds((e.press_ms - p.press_ms).min(MAX_LATENCY_MS));
                row[2] = (clamp(e.press_ms - p.release_ms) / 1000.0) as f32;
                row[3] = (clamp(e.release_ms - p.release_ms) / 1000.0) as f32;
            }
            row[FREE_NUMERIC + e.class.index()] = 1.0;
            rows.push(row);
        }
    }
    rows
}

/// Consecutive, non-overlapping windows of [`FREE_WINDOW`] rows (a trailing partial window is
/// dropped), flattened `[n, 50, 17]`. Each window starts as a fresh segment, as in training.
pub fn free_text_windows(rows: &[[f32; FREE_DIM]]) -> (usize, Vec<f32>) {
    let n = rows.len() / FREE_WINDOW;
    let mut out = Vec::with_capacity(n * FREE_WINDOW * FREE_DIM);
    for w in 0..n {
        for (i, row) in rows[w * FREE_WINDOW..(w + 1) * FREE_WINDOW]
            .iter()
            .enumerate()
        {
            let mut r = *row;
            if i == 0 {
                r[1] = 0.0;
                r[2] = 0.0;
                r[3] = 0.0;
                r[4] = 1.0;
            }
            out.extend_from_slice(&r);
        }
    }
    (n, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biometrics::keystroke::{KeyEvent, parse_events};

    /// Written by `models/keystroke/make_fixture.py` with the Python training code.
    const FIXTURE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/keystroke_features.json"
    ));

    fn segment(rows: &serde_json::Value) -> KeystrokeSegment {
        let events: Vec<KeyEvent> = rows
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| KeyEvent {
                        press_ms: r[0].as_f64().unwrap_or(f64::NAN),
                        release_ms: r[1].as_f64().unwrap_or(f64::NAN),
                        class: KeyClass::ALL[r[2].as_f64().unwrap_or(0.0) as usize],
                    })
                    .collect()
            })
            .unwrap_or_default();
        parse_events(&events).unwrap_or_else(|e| panic!("fixture segment: {e}"))
    }

    fn floats(v: &serde_json::Value) -> Vec<f32> {
        fn walk(v: &serde_json::Value, out: &mut Vec<f32>) {
            match v {
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                x => out.push(x.as_f64().unwrap_or(f64::NAN) as f32),
            }
        }
        let mut out = Vec::new();
        walk(v, &mut out);
        out
    }

    fn assert_close(got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-6, "index {i}: rust {g} python {w}");
        }
    }

    #[test]
    fn features_match_python() {
        let doc: serde_json::Value =
            serde_json::from_str(FIXTURE).unwrap_or_else(|e| panic!("fixture: {e}"));
        for case in doc["fixed"].as_array().into_iter().flatten() {
            let seg = segment(&case["events"]);
            assert_close(&fixed_text_vector(&seg), &floats(&case["vector"]));
        }
        let segs: Vec<KeystrokeSegment> = doc["free"]["segments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(segment)
            .collect();
        let rows = free_text_rows(&segs);
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        assert_close(&flat, &floats(&doc["free"]["rows"]));
        let (n, windows) = free_text_windows(&rows);
        assert_eq!(n, 2);
        assert_close(&windows, &floats(&doc["free"]["windows"]));
    }

    #[test]
    fn kinds_match_layout() {
        let k = fixed_text_kinds(3);
        assert_eq!(k.len(), 7 * 3);
        assert_eq!(&k[..3], &[1.0, 0.0, 0.0]);
        assert_eq!(&k[9..12], &[0.0, 1.0, 0.0]);
        assert_eq!(&k[18..21], &[0.0, 0.0, 1.0]);
    }
}
