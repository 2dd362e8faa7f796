//! Replay detection without keeping audio: a binary spectral fingerprint per utterance
//! (one 32-bit word per 10 ms frame: signs of the time difference of adjacent-band log-energy
//! differences, after Haitsma & Kalker's audio fingerprint), plus a hash of the exact samples.
//!
//! An exact replay has the same sample hash. A near-exact one (the same recording re-encoded,
//! resampled, re-levelled, cropped or with light noise) keeps most fingerprint bits, so its bit
//! error rate against the stored fingerprint stays far below that of a fresh utterance (~0.5),
//! at some alignment offset.

use serde::{Deserialize, Serialize};

/// At most this many frames (10 s) are kept per utterance.
const MAX_FRAMES: usize = 1000;
/// Alignment search: +- 2 s.
const MAX_OFFSET: isize = 200;
/// Minimum overlap for a near-exact decision: 0.5 s.
const MIN_OVERLAP: usize = 50;
/// Near-exact replay below this bit error rate (fresh speech of the same speaker: ~0.4-0.5).
pub const NEAR_REPLAY_BER: f32 = 0.25;
/// How many fingerprints are kept per customer (the newest).
pub const KEEP: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// sha256 of the 16 kHz samples quantised to 16 bits.
    pub exact: String,
    pub bits: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ReplayMatch {
    None,
    Exact,
    NearExact { bit_error_rate: f32 },
}

impl Fingerprint {
    /// From log-fbank frames (`[frames * num_bins]`) and the samples they came from.
    pub fn of(fbank: &[f32], num_bins: usize, samples: &[f32]) -> Self {
        let bytes: Vec<u8> = samples
            .iter()
            .flat_map(|v| ((v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).to_le_bytes())
            .collect();
        let exact = crate::biometrics::models::sha256_hex(&bytes);
        let bands: Vec<usize> = (0..33).map(|i| i * (num_bins - 1) / 32).collect();
        let frames = (fbank.len() / num_bins.max(1)).min(MAX_FRAMES + 1);
        let mut bits = Vec::with_capacity(frames.saturating_sub(1));
        for t in 1..frames {
            let cur = &fbank[t * num_bins..(t + 1) * num_bins];
            let prev = &fbank[(t - 1) * num_bins..t * num_bins];
            let mut word = 0u32;
            for b in 0..32 {
                let d = (cur[bands[b]] - cur[bands[b + 1]]) - (prev[bands[b]] - prev[bands[b + 1]]);
                if d > 0.0 {
                    word |= 1 << b;
                }
            }
            bits.push(word);
        }
        Self { exact, bits }
    }

    /// Lowest bit error rate over alignments with enough overlap.
    pub fn bit_error_rate(&self, other: &Fingerprint) -> Option<f32> {
        let (a, b) = (&self.bits, &other.bits);
        let mut best: Option<f32> = None;
        for off in -MAX_OFFSET..=MAX_OFFSET {
            let (sa, sb) = if off >= 0 {
                (off as usize, 0)
            } else {
                (0, (-off) as usize)
            };
            if sa >= a.len() || sb >= b.len() {
                continue;
            }
            let n = (a.len() - sa).min(b.len() - sb);
            if n < MIN_OVERLAP {
                continue;
            }
            let errors: u32 = a[sa..sa + n]
                .iter()
                .zip(&b[sb..sb + n])
                .map(|(x, y)| (x ^ y).count_ones())
                .sum();
            let ber = errors as f32 / (32 * n) as f32;
            best = Some(best.map_or(ber, |m: f32| m.min(ber)));
        }
        best
    }

    pub fn matches(&self, seen: &[Fingerprint]) -> ReplayMatch {
        if seen.iter().any(|f| f.exact == self.exact) {
            return ReplayMatch::Exact;
        }
        let best = seen
            .iter()
            .filter_map(|f| self.bit_error_rate(f))
            .fold(None, |m: Option<f32>, v| Some(m.map_or(v, |m| m.min(v))));
        match best {
            Some(ber) if ber < NEAR_REPLAY_BER => ReplayMatch::NearExact {
                bit_error_rate: ber,
            },
            _ => ReplayMatch::None,
        }
    }
}

impl ReplayMatch {
    pub fn is_replay(&self) -> bool {
        !matches!(self, ReplayMatch::None)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::biometrics::audio::fbank::KaldiFbank;

    fn noise(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5;
                r * 0.2 * (1.0 + (i as f32 / 800.0).sin())
            })
            .collect()
    }

    #[test]
    fn exact_near_and_fresh() {
        let fb = KaldiFbank::new(80);
        let a = noise(1, 32_000);
        let fa = Fingerprint::of(&fb.compute(&a), 80, &a);
        assert_eq!(fa.matches(std::slice::from_ref(&fa)), ReplayMatch::Exact);
        // re-levelled, cropped by 35 ms, with a little added noise: near-exact
        let n = noise(7, 32_000);
        let b: Vec<f32> = a[560..]
            .iter()
            .zip(&n)
            .map(|(x, e)| 0.7 * x + 0.01 * e)
            .collect();
        let fbp = Fingerprint::of(&fb.compute(&b), 80, &b);
        assert!(matches!(
            fbp.matches(std::slice::from_ref(&fa)),
            ReplayMatch::NearExact { .. }
        ));
        // different audio: no match
        let c = noise(99, 32_000);
        let fc = Fingerprint::of(&fb.compute(&c), 80, &c);
        assert_eq!(fc.matches(std::slice::from_ref(&fa)), ReplayMatch::None);
    }
}
