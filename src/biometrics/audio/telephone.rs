//! Telephone channel simulation for `trustline eval voice --telephone`: 16 kHz -> 8 kHz, a
//! 300–3400 Hz band-pass (4th-order Butterworth band-pass, i.e. 8 poles, as
//! `scipy.signal.butter(4, [300, 3400], btype="bandpass", fs=8000, output="sos")`, applied
//! causally), G.711 µ-law encode + decode, back to 16 kHz.

use super::{AudioError, MODEL_RATE, g711, resample::resample};

/// Second-order sections `[b0, b1, b2, a0, a1, a2]` from scipy (see module docs).
const SOS: [[f64; 6]; 4] = [
    [
        0.38783095426643777,
        0.7756619085328755,
        0.38783095426643777,
        1.0,
        1.2274704860994592,
        0.39450250896553396,
    ],
    [1.0, -2.0, 1.0, 1.0, -1.583868533292729, 0.6336862439335336],
    [1.0, 2.0, 1.0, 1.0, 1.5250350254256015, 0.7146213626170144],
    [1.0, -2.0, 1.0, 1.0, -1.7905664366124538, 0.8422361647626042],
];

fn bandpass(x: &mut [f64]) {
    for s in SOS {
        let (mut z1, mut z2) = (0.0, 0.0);
        for v in x.iter_mut() {
            // transposed direct form II, as scipy.signal.sosfilt
            let y = s[0] * *v + z1;
            z1 = s[1] * *v - s[4] * y + z2;
            z2 = s[2] * *v - s[5] * y;
            *v = y;
        }
    }
}

/// Passes 16 kHz samples in [-1, 1] through the simulated telephone channel; returns 16 kHz.
pub fn telephone_channel(samples_16k: &[f32]) -> Result<Vec<f32>, AudioError> {
    let x8 = resample(samples_16k, MODEL_RATE, 8_000)?;
    let mut x: Vec<f64> = x8.iter().map(|&v| v as f64).collect();
    bandpass(&mut x);
    let mu: Vec<f32> = x
        .iter()
        .map(|&v| {
            let q = (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            g711::mulaw_to_linear(g711::linear_to_mulaw(q)) as f32 / 32768.0
        })
        .collect();
    resample(&mu, 8_000, MODEL_RATE)
}

/// The same channel, returning the 8 kHz µ-law bytes (what a telephony platform would send).
pub fn telephone_mulaw_bytes(samples_16k: &[f32]) -> Result<Vec<u8>, AudioError> {
    let x8 = resample(samples_16k, MODEL_RATE, 8_000)?;
    let mut x: Vec<f64> = x8.iter().map(|&v| v as f64).collect();
    bandpass(&mut x);
    Ok(x.iter()
        .map(|&v| g711::linear_to_mulaw((v * 32768.0).round().clamp(-32768.0, 32767.0) as i16))
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn tone(f: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / 16_000.0).sin() * 0.3)
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn passes_voice_band_and_stops_outside() {
        let pass = telephone_channel(&tone(1000.0, 16_000)).unwrap();
        let low = telephone_channel(&tone(80.0, 16_000)).unwrap();
        let high = telephone_channel(&tone(6000.0, 16_000)).unwrap();
        assert_eq!(pass.len(), 16_000);
        assert!(rms(&pass[4000..]) > 0.18, "{}", rms(&pass[4000..]));
        assert!(rms(&low[4000..]) < 0.03, "{}", rms(&low[4000..]));
        assert!(rms(&high[4000..]) < 0.01, "{}", rms(&high[4000..]));
    }
}
