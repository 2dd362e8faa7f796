//! GE2E (resemblyzer) front end: the power mel spectrogram exactly as resemblyzer computes it
//! through librosa 0.11 `melspectrogram(sr=16000, n_fft=400, hop_length=160, n_mels=40)`:
//! frames centred (200 zero samples padded each side), periodic Hann window of 400, |X|^2,
//! Slaney mel filters (0 Hz – 8 kHz, Slaney area normalisation). Not log.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

const N_FFT: usize = 400;
const HOP: usize = 160;
pub const N_MELS: usize = 40;
const SR: f64 = 16_000.0;

/// resemblyzer's `normalize_volume(wav, -30, increase_only=True)`.
pub fn normalize_volume(samples: &mut [f32]) {
    if samples.is_empty() {
        return;
    }
    let ms = samples
        .iter()
        .map(|&v| (v as f64 * 32767.0).powi(2))
        .sum::<f64>()
        / samples.len() as f64;
    let rms = ms.sqrt();
    if rms <= 0.0 {
        return;
    }
    let change_db = -30.0 - 20.0 * (rms / 32767.0).log10();
    if change_db < 0.0 {
        return;
    }
    let gain = 10f64.powf(change_db / 20.0) as f32;
    samples.iter_mut().for_each(|v| *v *= gain);
}

fn hz_to_mel(f: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= min_log_hz {
        min_log_mel + (f / min_log_hz).ln() / logstep
    } else {
        f / f_sp
    }
}

fn mel_to_hz(m: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

/// librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): `[40][201]`.
pub fn mel_filters() -> Vec<Vec<f32>> {
    let n_bins = N_FFT / 2 + 1;
    let fft_freqs: Vec<f64> = (0..n_bins).map(|i| i as f64 * SR / N_FFT as f64).collect();
    let (mmin, mmax) = (hz_to_mel(0.0), hz_to_mel(SR / 2.0));
    let mel_f: Vec<f64> = (0..N_MELS + 2)
        .map(|i| mel_to_hz(mmin + (mmax - mmin) * i as f64 / (N_MELS + 1) as f64))
        .collect();
    (0..N_MELS)
        .map(|i| {
            let lower_d = mel_f[i + 1] - mel_f[i];
            let upper_d = mel_f[i + 2] - mel_f[i + 1];
            let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
            fft_freqs
                .iter()
                .map(|&f| {
                    let lower = (f - mel_f[i]) / lower_d;
                    let upper = (mel_f[i + 2] - f) / upper_d;
                    (lower.min(upper).max(0.0) * enorm) as f32
                })
                .collect()
        })
        .collect()
}

pub struct MelSpectrogram {
    window: Vec<f32>,
    filters: Vec<(usize, Vec<f32>)>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl Default for MelSpectrogram {
    fn default() -> Self {
        Self::new()
    }
}

impl MelSpectrogram {
    pub fn new() -> Self {
        let window = (0..N_FFT)
            .map(|i| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos()) as f32
            })
            .collect();
        let filters = mel_filters()
            .into_iter()
            .map(|row| {
                let first = row.iter().position(|&v| v > 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&v| v > 0.0).unwrap_or(0);
                (first, row[first..=last.max(first)].to_vec())
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        Self {
            window,
            filters,
            fft,
        }
    }

    pub fn num_frames(n: usize) -> usize {
        1 + n / HOP
    }

    /// Row-major `[frames * 40]`.
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let frames = Self::num_frames(samples.len());
        let pad = N_FFT / 2;
        let mut out = Vec::with_capacity(frames * N_MELS);
        let mut buf = self.fft.make_input_vec();
        let mut spec = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; N_FFT / 2 + 1];
        for f in 0..frames {
            let start = (f * HOP) as isize - pad as isize;
            for (i, d) in buf.iter_mut().enumerate() {
                let j = start + i as isize;
                let s = if j >= 0 && (j as usize) < samples.len() {
                    samples[j as usize]
                } else {
                    0.0
                };
                *d = s * self.window[i];
            }
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
            for (first, w) in &self.filters {
                out.push(w.iter().zip(&power[*first..]).map(|(a, b)| a * b).sum());
            }
        }
        out
    }
}
