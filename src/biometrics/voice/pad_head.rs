//! The presentation-attack head: a logistic regression over what the voice analysis already
//! computes for every utterance (the CAM++ and GE2E speaker embeddings; not AASIST, whose
//! ~0.5 s per utterance it does not need),
//! trained by models/voice/train_pad_head.py on some attack species and bona fide speech of
//! the dev speakers, exported to ONNX (skl2onnx). It adds one tiny inference (448 inputs, one
//! dot product) to an analysis that has run anyway.

use ndarray::Array2;
use ort::{session::Session, value::TensorRef};

use super::embed::UtteranceAnalysis;

/// The head's input: CAM++ (192) ++ GE2E (256), L2-normalised as the analysis returns them.
pub fn features(a: &UtteranceAnalysis) -> Vec<f32> {
    let mut v = Vec::with_capacity(a.campplus.len() + a.ge2e.len());
    v.extend_from_slice(&a.campplus);
    v.extend_from_slice(&a.ge2e);
    v
}

/// Probability that the utterance is bona fide (class 1 of the head's `probabilities`).
pub fn bona_fide_probability(session: &mut Session, features: &[f32]) -> ort::Result<f32> {
    let arr = Array2::from_shape_vec((1, features.len()), features.to_vec())
        .map_err(|e| ort::Error::new(format!("pad head input: {e}")))?;
    let out = session.run(ort::inputs!["features" => TensorRef::from_array_view(&arr)?])?;
    let p: Vec<f32> = out["probabilities"]
        .try_extract_array::<f32>()?
        .iter()
        .copied()
        .collect();
    match p.as_slice() {
        [_, bona_fide] => Ok(*bona_fide),
        _ => Err(ort::Error::new("pad head: expected 2 probabilities")),
    }
}
