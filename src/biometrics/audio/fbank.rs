//! Kaldi log-mel filterbank, the CAM++ front end (same options as PyPI kaldi-native-fbank
//! 1.23.0 with: 16 kHz, 25 ms / 10 ms frames, snip_edges, DC removal, pre-emphasis 0.97,
//! povey window, no dither, 512-point FFT, power spectrum, 80 triangular mel bins on the Kaldi
//! mel scale `1127 ln(1 + f/700)` from 20 Hz to 8 kHz, natural log floored at f32 epsilon).
//! Input is audio scaled to [-1, 1]. Tested against kaldi-native-fbank in tests/.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

pub const SAMPLE_RATE: usize = 16_000;
const FRAME_LEN: usize = 400;
const FRAME_SHIFT: usize = 160;
const FFT_LEN: usize = 512;
const PREEMPH: f32 = 0.97;

/// Log-fbank floor (nats) for narrow-band (8 kHz source) audio. Above 3.4 kHz such audio holds
/// only the resampler's stop-band residue, near the f32-epsilon floor (-15.9); that residue
/// differs between resamplers and moved CAM++ embeddings. Flooring makes those bands constant,
/// so the mean normalisation removes them (models/voice/common.py uses the same value).
pub const TELEPHONE_LOG_FLOOR: f32 = -13.0;

/// Computes `[frames][num_bins]` Kaldi log-fbank features.
pub struct KaldiFbank {
    num_bins: usize,
    window: Vec<f32>,
    /// per mel bin: first FFT bin and its weights
    banks: Vec<(usize, Vec<f32>)>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl KaldiFbank {
    pub fn new(num_bins: usize) -> Self {
        let window = (0..FRAME_LEN)
            .map(|i| {
                let a = 2.0 * std::f64::consts::PI / (FRAME_LEN - 1) as f64;
                (0.5 - 0.5 * (a * i as f64).cos()).powf(0.85) as f32
            })
            .collect();
        let mel = |f: f64| 1127.0 * (1.0 + f / 700.0).ln();
        let (low, high) = (20.0f64, SAMPLE_RATE as f64 / 2.0);
        let (mel_low, mel_high) = (mel(low), mel(high));
        let delta = (mel_high - mel_low) / (num_bins + 1) as f64;
        let bin_width = SAMPLE_RATE as f64 / FFT_LEN as f64;
        let banks = (0..num_bins)
            .map(|b| {
                let left = mel_low + b as f64 * delta;
                let center = left + delta;
                let right = center + delta;
                let mut first = None;
                let mut w = Vec::new();
                for i in 0..FFT_LEN / 2 {
                    let m = mel(bin_width * i as f64);
                    if m > left && m < right {
                        let weight = if m <= center {
                            (m - left) / (center - left)
                        } else {
                            (right - m) / (right - center)
                        };
                        first.get_or_insert(i);
                        w.push(weight as f32);
                    }
                }
                (first.unwrap_or(0), w)
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT_LEN);
        Self {
            num_bins,
            window,
            banks,
            fft,
        }
    }

    pub fn num_bins(&self) -> usize {
        self.num_bins
    }

    /// Number of frames for `n` samples (snip_edges: only whole frames).
    pub fn num_frames(n: usize) -> usize {
        if n < FRAME_LEN {
            0
        } else {
            1 + (n - FRAME_LEN) / FRAME_SHIFT
        }
    }

    /// Row-major `[frames * num_bins]`.
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let frames = Self::num_frames(samples.len());
        let mut out = Vec::with_capacity(frames * self.num_bins);
        let mut buf = self.fft.make_input_vec();
        let mut spec = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; FFT_LEN / 2 + 1];
        for f in 0..frames {
            let frame = &samples[f * FRAME_SHIFT..f * FRAME_SHIFT + FRAME_LEN];
            let mean = frame.iter().map(|&v| v as f64).sum::<f64>() / FRAME_LEN as f64;
            for (d, &s) in buf.iter_mut().zip(frame) {
                *d = s - mean as f32;
            }
            for i in (1..FRAME_LEN).rev() {
                buf[i] -= PREEMPH * buf[i - 1];
            }
            buf[0] -= PREEMPH * buf[0];
            for (d, w) in buf.iter_mut().zip(&self.window) {
                *d *= w;
            }
            buf[FRAME_LEN..].iter_mut().for_each(|v| *v = 0.0);
            if self
                .fft
                .process_with_scratch(&mut buf, &mut spec, &mut scratch)
                .is_err()
            {
                // cannot happen: buffers come from the plan itself
                spec.iter_mut().for_each(|c| *c = Default::default());
            }
            for (p, c) in power.iter_mut().zip(&spec) {
                *p = c.re * c.re + c.im * c.im;
            }
            for (first, w) in &self.banks {
                let e: f32 = w.iter().zip(&power[*first..]).map(|(a, b)| a * b).sum();
                out.push(e.max(f32::EPSILON).ln());
            }
        }
        out
    }

    /// CAM++ input: fbank with the per-utterance mean over time subtracted.
    pub fn compute_mean_normalised(&self, samples: &[f32]) -> Vec<f32> {
        self.compute_mean_normalised_floored(samples, None)
    }

    /// As [`Self::compute_mean_normalised`], with log energies floored at `log_floor` first
    /// (narrow-band sources: see [`TELEPHONE_LOG_FLOOR`]).
    pub fn compute_mean_normalised_floored(
        &self,
        samples: &[f32],
        log_floor: Option<f32>,
    ) -> Vec<f32> {
        self.mean_normalise_floored(self.compute(samples), log_floor)
    }

    /// The CAM++ normalisation of an already computed fbank (`[frames * num_bins]`).
    pub fn mean_normalise_floored(&self, mut f: Vec<f32>, log_floor: Option<f32>) -> Vec<f32> {
        if let Some(floor) = log_floor {
            f.iter_mut().for_each(|v| *v = v.max(floor));
        }
        let frames = f.len() / self.num_bins;
        if frames == 0 {
            return f;
        }
        let mut mean = vec![0f64; self.num_bins];
        for row in f.chunks(self.num_bins) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += *v as f64;
            }
        }
        for row in f.chunks_mut(self.num_bins) {
            for (v, m) in row.iter_mut().zip(&mean) {
                *v -= (*m / frames as f64) as f32;
            }
        }
        f
    }
}
