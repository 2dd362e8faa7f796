//! Sample-rate conversion to the models' 16 kHz with rubato's synchronous FFT resampler
//! (band-limited; anti-aliasing for down-sampling 44.1/48 kHz, images removed when up-sampling
//! 8 kHz telephony audio).

use rubato::{FftFixedInOut, Resampler};

use super::AudioError;

/// Resamples mono `input` from `from` Hz to `to` Hz. The resampler's delay is removed, so the
/// output is time-aligned with the input and has `ceil(len * to / from)` samples.
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    if from == to || input.is_empty() {
        return Ok(input.to_vec());
    }
    let mut rs = FftFixedInOut::<f32>::new(from as usize, to as usize, 1024, 1).map_err(|e| {
        AudioError::UnsupportedFormat(format!("cannot resample {from} Hz to {to} Hz: {e}"))
    })?;
    let expected = (input.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
    let delay = rs.output_delay();
    let mut out: Vec<f32> = Vec::with_capacity(expected + delay + rs.output_frames_max());
    let mut pos = 0;
    let mut buf = vec![vec![0f32; rs.output_frames_max()]; 1];
    let mut chunk = vec![0f32; rs.input_frames_next()];
    while out.len() < expected + delay {
        let need = rs.input_frames_next();
        chunk.resize(need, 0.0);
        // the tail is zero padded, then pure zeros flush the delay line
        let avail = input.len().saturating_sub(pos).min(need);
        if avail > 0 {
            chunk[..avail].copy_from_slice(&input[pos..pos + avail]);
        }
        chunk[avail..].fill(0.0);
        let (_, n_out) = rs
            .process_into_buffer(&[&chunk[..]], &mut buf, None)
            .map_err(|e| AudioError::UnsupportedFormat(format!("resampling failed: {e}")))?;
        out.extend_from_slice(&buf[0][..n_out]);
        pos += need;
    }
    Ok(out[delay..delay + expected].to_vec())
}

/// Resampling of a live stream in pieces: rubato's state carries over between calls, so the
/// concatenated output equals [`resample`] of the concatenated input, apart from the tail that
/// is still in the filter (flushed by [`StreamResampler::finish`]).
pub struct StreamResampler {
    rs: FftFixedInOut<f32>,
    pending: Vec<f32>,
    /// Output samples still to drop (the resampler's delay).
    skip: usize,
    out: Vec<Vec<f32>>,
}

impl StreamResampler {
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        let rs = FftFixedInOut::<f32>::new(from as usize, to as usize, 1024, 1).map_err(|e| {
            AudioError::UnsupportedFormat(format!("cannot resample {from} Hz to {to} Hz: {e}"))
        })?;
        let skip = rs.output_delay();
        let out = vec![vec![0f32; rs.output_frames_max()]; 1];
        Ok(Self {
            rs,
            pending: Vec::new(),
            skip,
            out,
        })
    }

    /// Resample what can be resampled of `pending + input`; keeps the rest for the next call.
    pub fn push(&mut self, input: &[f32]) -> Result<Vec<f32>, AudioError> {
        self.pending.extend_from_slice(input);
        let mut result = Vec::new();
        while self.pending.len() >= self.rs.input_frames_next() {
            let need = self.rs.input_frames_next();
            let (_, n_out) = self
                .rs
                .process_into_buffer(&[&self.pending[..need]], &mut self.out, None)
                .map_err(|e| AudioError::UnsupportedFormat(format!("resampling failed: {e}")))?;
            self.pending.drain(..need);
            let produced = &self.out[0][..n_out];
            let drop = self.skip.min(produced.len());
            self.skip -= drop;
            result.extend_from_slice(&produced[drop..]);
        }
        Ok(result)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    #[test]
    fn upsample_8k_keeps_a_tone_in_place() {
        let x = sine(440.0, 8000, 8000);
        let y = resample(&x, 8000, 16000).unwrap();
        assert_eq!(y.len(), 16000);
        let want = sine(440.0, 16000, 16000);
        let err = y[200..15800]
            .iter()
            .zip(&want[200..15800])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err < 0.01, "max error {err}");
    }

    #[test]
    fn streaming_in_pieces_matches_the_whole() {
        let x = sine(300.0, 8000, 8000 * 3);
        let whole = resample(&x, 8000, 16000).unwrap();
        let mut rs = StreamResampler::new(8000, 16000).unwrap();
        let mut parts = Vec::new();
        for piece in x.chunks(160) {
            parts.extend(rs.push(piece).unwrap());
        }
        assert!(parts.len() > 40_000, "{}", parts.len());
        let err = parts
            .iter()
            .zip(&whole)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err < 1e-5, "max difference {err}");
    }

    #[test]
    fn downsample_48k_and_44k1() {
        for rate in [48000u32, 44100] {
            let x = sine(1000.0, rate, rate as usize);
            let y = resample(&x, rate, 16000).unwrap();
            assert_eq!(y.len(), 16000);
            let want = sine(1000.0, 16000, 16000);
            let err = y[200..15800]
                .iter()
                .zip(&want[200..15800])
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 0.05, "{rate}: max error {err}"); // sub-sample delay of the 441:160 ratio
        }
    }

    #[test]
    fn downsampling_removes_content_above_nyquist() {
        let x = sine(10_000.0, 48000, 48000);
        let y = resample(&x, 48000, 16000).unwrap();
        let rms = (y[500..15500].iter().map(|v| v * v).sum::<f32>() / 15000.0).sqrt();
        assert!(rms < 0.01, "aliased rms {rms}");
    }
}
