//! Replay detection without keeping audio: a binary spectral fingerprint per utterance
//! (one 32-bit word per 10 ms frame: signs of the time difference of adjacent-band log-energy
//! differences, after Haitsma & Kalker's audio fingerprint), plus a hash of the exact samples.
//!
//! An exact replay has the same sample hash. A near-exact one (the same recording re-encoded,
//! resampled, re-levelled, cropped or with light noise) keeps most fingerprint bits, so its bit
//! error rate against the stored fingerprint stays far below that of a fresh utterance (~0.5),
//! at some alignment offset.

use serde::{Deserialize, Serialize};

use crate::biometrics::audio::fbank::KaldiFbank;

/// At most this many frames (10 s) are kept per utterance.
const MAX_FRAMES: usize = 1000;
/// Alignment search: +- 2 s.
const MAX_OFFSET: isize = 200;
/// Minimum active overlap for a near-exact decision: 0.25 s (short utterances are common).
const MIN_OVERLAP: usize = 25;
/// Near-exact replay below this bit error rate (fresh speech: ~0.45-0.5).
pub const NEAR_REPLAY_BER: f32 = 0.38;
/// Frames this far (natural log, ~35 dB) below the loudest frame count as silence.
const SILENCE_NATS: f32 = 5.0;
/// How many fingerprints are kept per customer (the newest).
pub const KEEP: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// sha256 of the 16 kHz samples quantised to 16 bits.
    pub exact: String,
    pub bits: Vec<u32>,
    /// Query side only (never stored): the same audio framed 2.5, 5 and 7.5 ms later, so a
    /// recording cropped at a sub-frame offset still aligns with what was stored.
    #[serde(skip)]
    pub shifted: Vec<Vec<u32>>,
}

/// Sub-hop framing offsets (samples at 16 kHz) tried on the query side.
const PHASES: [usize; 3] = [40, 80, 120];

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ReplayMatch {
    None,
    Exact,
    NearExact { bit_error_rate: f32 },
}

impl Fingerprint {
    /// Fingerprint of 16 kHz samples (with the sub-frame shifted variants for matching).
    pub fn of(fbank: &KaldiFbank, samples: &[f32]) -> Self {
        Self::of_with_fbank(fbank, samples, &fbank.compute(samples))
    }

    /// As [`Self::of`], reusing `fbank.compute(samples)` computed by the caller.
    pub fn of_with_fbank(fbank: &KaldiFbank, samples: &[f32], computed: &[f32]) -> Self {
        let n = fbank.num_bins();
        let mut f = Self::from_fbank(computed, n, samples);
        f.shifted = PHASES
            .iter()
            .filter(|&&p| p < samples.len())
            .map(|&p| Self::from_fbank(&fbank.compute(&samples[p..]), n, &[]).bits)
            .collect();
        f
    }

    /// From log-fbank frames (`[frames * num_bins]`) and the samples they came from.
    fn from_fbank(fbank: &[f32], num_bins: usize, samples: &[f32]) -> Self {
        let bytes: Vec<u8> = samples
            .iter()
            .flat_map(|v| ((v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).to_le_bytes())
            .collect();
        let exact = crate::biometrics::models::sha256_hex(&bytes);
        // 33 band edges over the mel bins of the telephone band (~300-3400 Hz: bins 10..=54 of
        // the 80-bin 20 Hz-8 kHz Kaldi scale), so wideband and narrow-band copies compare and
        // the empty bands of telephone audio do not make every pair look alike.
        let (lo, hi) = if num_bins == 80 {
            (10, 54)
        } else {
            (0, num_bins - 1)
        };
        let bands: Vec<usize> = (0..33).map(|i| lo + i * (hi - lo) / 32).collect();
        let frames = (fbank.len() / num_bins.max(1)).min(MAX_FRAMES + 1);
        // Frames more than SILENCE_NATS below the loudest frame carry no bits (word 0): the
        // noise floor (or digital silence) differs between copies of the same recording.
        let level: Vec<f32> = (0..frames)
            .map(|t| fbank[t * num_bins..(t + 1) * num_bins].iter().sum::<f32>() / num_bins as f32)
            .collect();
        let loudest = level.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut bits = Vec::with_capacity(frames.saturating_sub(1));
        for t in 1..frames {
            if level[t] < loudest - SILENCE_NATS || level[t - 1] < loudest - SILENCE_NATS {
                bits.push(0);
                continue;
            }
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
        Self {
            exact,
            bits,
            shifted: Vec::new(),
        }
    }

    /// Lowest bit error rate over alignments (and the query's sub-frame phases).
    pub fn bit_error_rate(&self, other: &Fingerprint) -> Option<f32> {
        std::iter::once(&self.bits)
            .chain(&self.shifted)
            .filter_map(|bits| ber_aligned(bits, &other.bits))
            .fold(None, |m: Option<f32>, v| Some(m.map_or(v, |m| m.min(v))))
    }
}

fn ber_aligned(a: &[u32], b: &[u32]) -> Option<f32> {
    {
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
            // Frames silent in both copies say nothing: count only frames active in either.
            let (errors, active) = a[sa..sa + n]
                .iter()
                .zip(&b[sb..sb + n])
                .filter(|(x, y)| **x != 0 || **y != 0)
                .fold((0u32, 0usize), |(e, k), (x, y)| {
                    (e + (x ^ y).count_ones(), k + 1)
                });
            if active < MIN_OVERLAP {
                continue;
            }
            let ber = errors as f32 / (32 * active) as f32;
            best = Some(best.map_or(ber, |m: f32| m.min(ber)));
        }
        best
    }
}

impl Fingerprint {
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
    use crate::biometrics::audio::{self, AudioEncoding};

    fn fixture(name: &str) -> Vec<f32> {
        let path = format!(
            "{}/tests/fixtures/voice/{name}.wav",
            env!("CARGO_MANIFEST_DIR")
        );
        audio::decode(&std::fs::read(path).unwrap(), AudioEncoding::Wav)
            .unwrap()
            .samples
    }

    fn fp(x: &[f32]) -> Fingerprint {
        Fingerprint::of(&KaldiFbank::new(80), x)
    }

    #[test]
    fn exact_near_and_fresh() {
        let a = fixture("tts_account");
        let fa = fp(&a);
        assert_eq!(fa.matches(std::slice::from_ref(&fa)), ReplayMatch::Exact);
        // The same recording re-levelled, cropped by 35 ms, with noise at about -40 dB.
        let mut s = 1u64;
        let b: Vec<f32> = a[560..]
            .iter()
            .map(|x| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                0.7 * x + 0.003 * (((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5)
            })
            .collect();
        println!("near ber {:?}", fp(&b).bit_error_rate(&fa));
        let b0: Vec<f32> = a[560..].iter().map(|x| 0.7 * x).collect();
        println!("crop+gain ber {:?}", fp(&b0).bit_error_rate(&fa));
        let near = fp(&b).matches(std::slice::from_ref(&fa));
        assert!(matches!(near, ReplayMatch::NearExact { .. }), "{near:?}");
        // The same recording through the telephone channel (8 kHz, band-pass, mu-law).
        let t = audio::telephone::telephone_channel(&a).unwrap();
        let tel = fp(&t).matches(std::slice::from_ref(&fa));
        println!("telephone ber {:?}", fp(&t).bit_error_rate(&fa));
        // Different speech: no match.
        let c = fixture("tts_hello");
        let fresh = fp(&c).bit_error_rate(&fa).unwrap();
        println!("near {near:?} telephone {tel:?} fresh ber {fresh}");
        assert!(fresh > NEAR_REPLAY_BER);
        assert_eq!(fp(&c).matches(std::slice::from_ref(&fa)), ReplayMatch::None);
    }
}
