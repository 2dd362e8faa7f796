//! Voice activity detection with Silero VAD 6.2.3 (ONNX): 512-sample chunks at 16 kHz, each
//! preceded by the previous chunk's last 64 samples, recurrent state `[2, 1, 128]` carried over
//! — the same streaming as the silero-vad Python wrapper.

use std::borrow::Cow;

use ndarray::{Array2, Array3};
use ort::session::Session;
use ort::value::TensorRef;

pub const CHUNK: usize = 512;
const CONTEXT: usize = 64;
/// Enter speech at p >= 0.5, leave below 0.35 (silero's default hysteresis).
pub const SPEECH_ENTER: f32 = 0.5;
pub const SPEECH_LEAVE: f32 = 0.35;

/// Per-chunk speech probabilities for 16 kHz audio (a trailing partial chunk is zero padded).
pub fn speech_probabilities(session: &mut Session, samples: &[f32]) -> ort::Result<Vec<f32>> {
    let n = samples.len().div_ceil(CHUNK);
    let mut state = Array3::<f32>::zeros((2, 1, 128));
    let mut input = Array2::<f32>::zeros((1, CONTEXT + CHUNK));
    let sr = ndarray::arr0(16_000i64);
    let mut probs = Vec::with_capacity(n);
    for c in 0..n {
        {
            let Some(row) = input.as_slice_mut() else {
                return Err(ort::Error::new("vad input is not contiguous"));
            };
            row.copy_within(CHUNK..CHUNK + CONTEXT, 0);
            if c == 0 {
                row[..CONTEXT].fill(0.0);
            }
            let chunk = &samples[c * CHUNK..((c + 1) * CHUNK).min(samples.len())];
            row[CONTEXT..CONTEXT + chunk.len()].copy_from_slice(chunk);
            row[CONTEXT + chunk.len()..].fill(0.0);
        }
        let out = session.run(ort::inputs![
            "input" => TensorRef::from_array_view(&input)?,
            "state" => TensorRef::from_array_view(&state)?,
            "sr" => TensorRef::from_array_view(&sr)?,
        ])?;
        let (_, p) = out["output"].try_extract_tensor::<f32>()?;
        probs.push(p.first().copied().unwrap_or(0.0));
        let (_, s) = out["stateN"].try_extract_tensor::<f32>()?;
        match state.as_slice_mut() {
            Some(dst) if dst.len() == s.len() => dst.copy_from_slice(s),
            _ => return Err(ort::Error::new("vad state: unexpected shape")),
        }
    }
    Ok(probs)
}

/// Silero VAD over a live stream: the recurrent state, the 64-sample context and the
/// hysteresis carry over between calls, so feeding a stream in pieces gives the same flags as
/// [`speech_probabilities`] + [`speech_flags`] over the whole of it (tested).
pub struct StreamingVad {
    state: Array3<f32>,
    input: Array2<f32>,
    speaking: bool,
    started: bool,
}

impl Default for StreamingVad {
    fn default() -> Self {
        Self {
            state: Array3::<f32>::zeros((2, 1, 128)),
            input: Array2::<f32>::zeros((1, CONTEXT + CHUNK)),
            speaking: false,
            started: false,
        }
    }
}

impl StreamingVad {
    /// Speech flag of one full 512-sample chunk of 16 kHz audio.
    pub fn chunk(&mut self, session: &mut Session, chunk: &[f32]) -> ort::Result<bool> {
        if chunk.len() != CHUNK {
            return Err(ort::Error::new("vad: a stream chunk must be 512 samples"));
        }
        {
            let Some(row) = self.input.as_slice_mut() else {
                return Err(ort::Error::new("vad input is not contiguous"));
            };
            row.copy_within(CHUNK..CHUNK + CONTEXT, 0);
            if !self.started {
                row[..CONTEXT].fill(0.0);
                self.started = true;
            }
            row[CONTEXT..].copy_from_slice(chunk);
        }
        let sr = ndarray::arr0(16_000i64);
        let out = session.run(ort::inputs![
            "input" => TensorRef::from_array_view(&self.input)?,
            "state" => TensorRef::from_array_view(&self.state)?,
            "sr" => TensorRef::from_array_view(&sr)?,
        ])?;
        let (_, p) = out["output"].try_extract_tensor::<f32>()?;
        let p = p.first().copied().unwrap_or(0.0);
        let (_, s) = out["stateN"].try_extract_tensor::<f32>()?;
        match self.state.as_slice_mut() {
            Some(dst) if dst.len() == s.len() => dst.copy_from_slice(s),
            _ => return Err(ort::Error::new("vad state: unexpected shape")),
        }
        self.speaking = if self.speaking {
            p >= SPEECH_LEAVE
        } else {
            p >= SPEECH_ENTER
        };
        Ok(self.speaking)
    }
}

/// Speech flags per chunk with hysteresis.
pub fn speech_flags(probs: &[f32]) -> Vec<bool> {
    let mut on = false;
    probs
        .iter()
        .map(|&p| {
            on = if on {
                p >= SPEECH_LEAVE
            } else {
                p >= SPEECH_ENTER
            };
            on
        })
        .collect()
}

/// Net speech in samples (speech chunks × 512).
pub fn net_speech_samples(flags: &[bool]) -> usize {
    flags.iter().filter(|&&f| f).count() * CHUNK
}

/// Keeps speech chunks plus `pad` chunks either side; drops the rest (long silences).
/// Borrows the input when nothing is dropped (the common case for short utterances).
pub fn trim<'a>(samples: &'a [f32], flags: &[bool], pad: usize) -> Cow<'a, [f32]> {
    let mut keep = vec![false; flags.len()];
    for (i, _) in flags.iter().enumerate().filter(|(_, f)| **f) {
        let lo = i.saturating_sub(pad);
        let hi = (i + pad + 1).min(flags.len());
        keep[lo..hi].iter_mut().for_each(|k| *k = true);
    }
    if keep.iter().all(|k| *k) {
        return Cow::Borrowed(samples);
    }
    let mut out = Vec::with_capacity(samples.len());
    for (i, k) in keep.iter().enumerate() {
        if *k {
            out.extend_from_slice(&samples[i * CHUNK..((i + 1) * CHUNK).min(samples.len())]);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn hysteresis() {
        let f = speech_flags(&[0.1, 0.6, 0.4, 0.3, 0.45, 0.55]);
        assert_eq!(f, vec![false, true, true, false, false, true]);
    }

    #[test]
    fn trim_keeps_padding() {
        let s: Vec<f32> = (0..CHUNK * 6).map(|i| i as f32).collect();
        let flags = [false, false, false, true, false, false];
        let t = trim(&s, &flags, 1);
        assert_eq!(t.len(), 3 * CHUNK);
        assert_eq!(t[0], (2 * CHUNK) as f32);
    }
}
