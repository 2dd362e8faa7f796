//! Audio in: decoding (WAV, G.711 µ-law / A-law, raw s16le), resampling to 16 kHz, input
//! validation, the CAM++ Kaldi fbank, the GE2E mel front end and Silero VAD.
//!
//! Nothing here keeps audio: callers get samples back, compute features and drop them.

pub mod fbank;
pub mod framing;
pub mod g711;
pub mod mel;
pub mod resample;
pub mod telephone;
pub mod vad;

use std::io::Cursor;

/// Sample rate every model here runs at.
pub const MODEL_RATE: u32 = 16_000;
/// Largest accepted request body for one utterance (60 s of 48 kHz stereo PCM16 ≈ 11 MB).
pub const MAX_BYTES: usize = 12 * 1024 * 1024;
/// Longest accepted utterance.
pub const MAX_SECONDS: f32 = 60.0;
/// Minimum net speech (Silero VAD speech chunks of 32 ms) for an utterance to be used:
/// 0.25 s. Below this the embeddings are not reliable enough to enrol or verify.
pub const MIN_NET_SPEECH_MS: u32 = 256;
/// A sample counts as clipped at |x| >= 32000/32768; more than 1 % such samples is rejected.
pub const CLIP_LEVEL: f32 = 32000.0 / 32768.0;
pub const MAX_CLIPPED_FRACTION: f32 = 0.01;
/// Below -60 dBFS RMS the input is treated as silence.
pub const SILENCE_DBFS: f32 = -60.0;

/// Every way audio input can be refused. Maps to problem+json `invalid_audio` at the HTTP edge.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AudioError {
    #[error("audio is empty")]
    Empty,
    #[error("too little speech: {net_speech_ms} ms of net speech, at least {min_ms} ms needed")]
    TooShort { net_speech_ms: u32, min_ms: u32 },
    #[error(
        "audio is clipped: {percent:.1} % of samples at full scale (limit {limit_percent:.1} %)"
    )]
    Clipped { percent: f32, limit_percent: f32 },
    #[error("audio is silent ({dbfs:.1} dBFS RMS)")]
    Silent { dbfs: f32 },
    #[error("unsupported audio format: {0}")]
    UnsupportedFormat(String),
    #[error("audio is too long: {seconds:.1} s (limit {max_seconds} s)")]
    TooLong { seconds: f32, max_seconds: f32 },
    #[error("audio is too large: {bytes} bytes (limit {max_bytes} bytes)")]
    Oversized { bytes: usize, max_bytes: usize },
}

impl AudioError {
    /// Stable machine-readable reason for problem details.
    pub fn code(&self) -> &'static str {
        match self {
            AudioError::Empty => "audio_empty",
            AudioError::TooShort { .. } => "audio_too_short",
            AudioError::Clipped { .. } => "audio_clipped",
            AudioError::Silent { .. } => "audio_silent",
            AudioError::UnsupportedFormat(_) => "audio_format",
            AudioError::TooLong { .. } => "audio_too_long",
            AudioError::Oversized { .. } => "audio_oversized",
        }
    }
}

/// How the bytes of an utterance are encoded.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AudioEncoding {
    /// RIFF/WAVE, PCM 16-bit, 8 / 16 / 44.1 / 48 kHz, mono or stereo.
    Wav,
    /// Raw G.711 µ-law, 8 kHz mono.
    Mulaw,
    /// Raw G.711 A-law, 8 kHz mono.
    Alaw,
    /// Raw signed 16-bit little-endian mono at 8 kHz.
    S16le8k,
    /// Raw signed 16-bit little-endian mono at 16 kHz.
    S16le16k,
}

impl AudioEncoding {
    /// Parses a MIME-ish name (`audio/wav`, `audio/pcmu`, `audio/pcma`, `audio/l16;rate=8000`, ...).
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let ct = ct.to_ascii_lowercase().replace(' ', "");
        match ct.as_str() {
            "audio/wav" | "audio/wave" | "audio/x-wav" | "audio/vnd.wave" => Some(Self::Wav),
            "audio/pcmu" | "audio/basic" | "audio/mulaw" | "audio/x-mulaw" => Some(Self::Mulaw),
            "audio/pcma" | "audio/alaw" | "audio/x-alaw" => Some(Self::Alaw),
            "audio/l16;rate=8000" => Some(Self::S16le8k),
            "audio/l16;rate=16000" | "audio/l16" => Some(Self::S16le16k),
            _ => None,
        }
    }
}

/// Decoded, mono, 16 kHz audio in [-1, 1], plus what it came from.
#[derive(Debug, Clone)]
pub struct Utterance {
    pub samples: Vec<f32>,
    /// Sample rate of the input before resampling (8000 marks the telephone band).
    pub source_rate: u32,
}

impl Utterance {
    pub fn seconds(&self) -> f32 {
        self.samples.len() as f32 / MODEL_RATE as f32
    }

    /// Narrow-band input (8 kHz source): scored with the telephone calibration.
    pub fn is_telephone(&self) -> bool {
        self.source_rate <= 8_000
    }
}

/// Decodes and resamples to 16 kHz; checks size, length, clipping and silence. Net speech is
/// checked after VAD by [`check_net_speech`].
pub fn decode(bytes: &[u8], encoding: AudioEncoding) -> Result<Utterance, AudioError> {
    decode_with(bytes, encoding, true)
}

/// As [`decode`]; `check_level = false` skips the clipping and silence checks (the evaluation
/// embeds every clip of its protocol and counts the ones the service would refuse).
pub fn decode_with(
    bytes: &[u8],
    encoding: AudioEncoding,
    check_level: bool,
) -> Result<Utterance, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    if bytes.len() > MAX_BYTES {
        return Err(AudioError::Oversized {
            bytes: bytes.len(),
            max_bytes: MAX_BYTES,
        });
    }
    // Straight to f32 in [-1, 1): one pass, one allocation (16 kHz input is not copied again).
    let (samples, rate): (Vec<f32>, u32) = match encoding {
        AudioEncoding::Wav => decode_wav(bytes)?,
        AudioEncoding::Mulaw => (
            bytes
                .iter()
                .map(|&b| pcm_to_f32(g711::mulaw_to_linear(b)))
                .collect(),
            8_000,
        ),
        AudioEncoding::Alaw => (
            bytes
                .iter()
                .map(|&b| pcm_to_f32(g711::alaw_to_linear(b)))
                .collect(),
            8_000,
        ),
        AudioEncoding::S16le8k | AudioEncoding::S16le16k => {
            if !bytes.len().is_multiple_of(2) {
                return Err(AudioError::UnsupportedFormat(
                    "raw s16le input has an odd number of bytes".into(),
                ));
            }
            let rate = if encoding == AudioEncoding::S16le8k {
                8_000
            } else {
                16_000
            };
            (
                bytes
                    .chunks_exact(2)
                    .map(|c| pcm_to_f32(i16::from_le_bytes([c[0], c[1]])))
                    .collect(),
                rate,
            )
        }
    };
    if samples.is_empty() {
        return Err(AudioError::Empty);
    }
    let seconds = samples.len() as f32 / rate as f32;
    if seconds > MAX_SECONDS {
        return Err(AudioError::TooLong {
            seconds,
            max_seconds: MAX_SECONDS,
        });
    }
    if check_level {
        check_levels(&samples)?;
    }
    let samples = if rate == MODEL_RATE {
        samples
    } else {
        resample::resample(&samples, rate, MODEL_RATE)?
    };
    Ok(Utterance {
        samples,
        source_rate: rate,
    })
}

/// Clipping and silence checks on samples in [-1, 1].
pub fn check_levels(samples: &[f32]) -> Result<(), AudioError> {
    if samples.is_empty() {
        return Err(AudioError::Empty);
    }
    let clipped =
        samples.iter().filter(|v| v.abs() >= CLIP_LEVEL).count() as f32 / samples.len() as f32;
    if clipped > MAX_CLIPPED_FRACTION {
        return Err(AudioError::Clipped {
            percent: 100.0 * clipped,
            limit_percent: 100.0 * MAX_CLIPPED_FRACTION,
        });
    }
    let ms = samples.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / samples.len() as f64;
    let dbfs = if ms > 0.0 {
        10.0 * ms.log10() as f32
    } else {
        f32::NEG_INFINITY
    };
    if dbfs < SILENCE_DBFS {
        return Err(AudioError::Silent {
            dbfs: dbfs.max(-200.0),
        });
    }
    Ok(())
}

/// Refuses utterances whose net speech (VAD) is below [`MIN_NET_SPEECH_MS`].
pub fn check_net_speech(net_speech_samples: usize) -> Result<(), AudioError> {
    let ms = (net_speech_samples as u64 * 1000 / MODEL_RATE as u64) as u32;
    if ms < MIN_NET_SPEECH_MS {
        return Err(AudioError::TooShort {
            net_speech_ms: ms,
            min_ms: MIN_NET_SPEECH_MS,
        });
    }
    Ok(())
}

fn pcm_to_f32(s: i16) -> f32 {
    f32::from(s) / 32768.0
}

fn decode_wav(bytes: &[u8]) -> Result<(Vec<f32>, u32), AudioError> {
    let reader = hound::WavReader::new(Cursor::new(bytes))
        .map_err(|e| AudioError::UnsupportedFormat(format!("not a readable WAV file: {e}")))?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
        return Err(AudioError::UnsupportedFormat(format!(
            "WAV must be PCM 16-bit, got {:?} {}-bit",
            spec.sample_format, spec.bits_per_sample
        )));
    }
    if ![8_000, 16_000, 44_100, 48_000].contains(&spec.sample_rate) {
        return Err(AudioError::UnsupportedFormat(format!(
            "WAV sample rate {} Hz (accepted: 8000, 16000, 44100, 48000)",
            spec.sample_rate
        )));
    }
    let channels = spec.channels as usize;
    if !(1..=2).contains(&channels) {
        return Err(AudioError::UnsupportedFormat(format!(
            "WAV has {channels} channels (mono or stereo accepted)"
        )));
    }
    let frames = reader.duration() as f32 / spec.sample_rate as f32;
    if frames > MAX_SECONDS {
        return Err(AudioError::TooLong {
            seconds: frames,
            max_seconds: MAX_SECONDS,
        });
    }
    // hound has validated the header and stands at the start of the data chunk: convert the
    // PCM16 bytes directly (its per-sample reader was most of the decode time).
    let values = reader.len() as usize;
    let offset = usize::try_from(reader.into_inner().position()).unwrap_or(usize::MAX);
    let data = offset
        .checked_add(values * 2)
        .and_then(|end| bytes.get(offset..end))
        .ok_or_else(|| {
            AudioError::UnsupportedFormat(
                "truncated or corrupt WAV data: data chunk is shorter than its header says".into(),
            )
        })?;
    let value = |c: &[u8]| i32::from(i16::from_le_bytes([c[0], c[1]]));
    let mono = if channels == 2 {
        data.chunks_exact(4)
            .map(|c| pcm_to_f32(((value(&c[..2]) + value(&c[2..])) / 2) as i16))
            .collect()
    } else {
        data.chunks_exact(2)
            .map(|c| pcm_to_f32(value(c) as i16))
            .collect()
    };
    Ok((mono, spec.sample_rate))
}

/// Encodes mono PCM16 samples as a WAV file (tests, fixtures, the eval's channel simulation).
pub fn encode_wav(samples: &[i16], rate: u32, channels: u16) -> Result<Vec<u8>, hound::Error> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cur = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cur, spec)?;
        for &s in samples {
            w.write_sample(s)?;
        }
        w.finalize()?;
    }
    Ok(cur.into_inner())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn tone(rate: u32, secs: f32, amp: f32) -> Vec<i16> {
        (0..(rate as f32 * secs) as usize)
            .map(|i| {
                ((2.0 * std::f32::consts::PI * 300.0 * i as f32 / rate as f32).sin()
                    * amp
                    * 32767.0) as i16
            })
            .collect()
    }

    #[test]
    fn wav_rates_and_channels() {
        for rate in [8_000, 16_000, 44_100, 48_000] {
            let u = decode(
                &encode_wav(&tone(rate, 1.0, 0.3), rate, 1).unwrap(),
                AudioEncoding::Wav,
            )
            .unwrap();
            assert_eq!(u.samples.len(), 16_000, "{rate}");
            assert_eq!(u.source_rate, rate);
        }
        let mono = tone(16_000, 0.5, 0.3);
        let stereo: Vec<i16> = mono.iter().flat_map(|&s| [s, s]).collect();
        let u = decode(&encode_wav(&stereo, 16_000, 2).unwrap(), AudioEncoding::Wav).unwrap();
        assert_eq!(u.samples.len(), 8_000);
    }

    /// The direct PCM16 conversion gives exactly what hound's sample reader gives (mono, and the
    /// channel mean for stereo), and a data chunk shorter than its header says is refused.
    #[test]
    fn wav_samples_match_hound_and_truncation_is_refused() {
        let left = tone(16_000, 0.5, 0.3);
        let right: Vec<i16> = left.iter().map(|&s| s.wrapping_mul(3) / 5 - 77).collect();
        let stereo: Vec<i16> = left
            .iter()
            .zip(&right)
            .flat_map(|(&l, &r)| [l, r])
            .collect();
        for (pcm, channels) in [(left.clone(), 1u16), (stereo, 2)] {
            let bytes = encode_wav(&pcm, 16_000, channels).unwrap();
            let via_hound: Vec<i16> = hound::WavReader::new(Cursor::new(&bytes))
                .unwrap()
                .into_samples::<i16>()
                .collect::<Result<_, _>>()
                .unwrap();
            let want: Vec<f32> = via_hound
                .chunks_exact(channels as usize)
                .map(|c| {
                    let sum: i32 = c.iter().map(|&v| i32::from(v)).sum();
                    f32::from((sum / i32::from(channels)) as i16) / 32768.0
                })
                .collect();
            let got = decode(&bytes, AudioEncoding::Wav).unwrap().samples;
            assert_eq!(got, want, "{channels} channel(s)");
            let cut = &bytes[..bytes.len() - 3];
            assert!(matches!(
                decode(cut, AudioEncoding::Wav),
                Err(AudioError::UnsupportedFormat(_))
            ));
        }
    }

    #[test]
    fn rejections() {
        assert_eq!(
            decode(&[], AudioEncoding::Wav).unwrap_err(),
            AudioError::Empty
        );
        assert!(matches!(
            decode(b"RIFFnonsense", AudioEncoding::Wav),
            Err(AudioError::UnsupportedFormat(_))
        ));
        assert!(matches!(
            decode(&[0u8; 3], AudioEncoding::S16le16k),
            Err(AudioError::UnsupportedFormat(_))
        ));
        assert!(matches!(
            decode(
                &encode_wav(&tone(22_050, 0.5, 0.3), 22_050, 1).unwrap(),
                AudioEncoding::Wav
            ),
            Err(AudioError::UnsupportedFormat(_))
        ));
        assert!(matches!(
            decode(
                &encode_wav(&vec![0; 16_000], 16_000, 1).unwrap(),
                AudioEncoding::Wav
            ),
            Err(AudioError::Silent { .. })
        ));
        assert!(matches!(
            decode(
                &encode_wav(&tone(16_000, 1.0, 1.2), 16_000, 1).unwrap(),
                AudioEncoding::Wav
            ),
            Err(AudioError::Clipped { .. })
        ));
        let long = vec![0u8; 8_000 * 61];
        assert!(matches!(
            decode(&long, AudioEncoding::Mulaw),
            Err(AudioError::TooLong { .. })
        ));
        let big = vec![0u8; MAX_BYTES + 1];
        assert!(matches!(
            decode(&big, AudioEncoding::S16le16k),
            Err(AudioError::Oversized { .. })
        ));
        assert!(matches!(
            check_net_speech(2_000),
            Err(AudioError::TooShort {
                net_speech_ms: 125,
                min_ms: 256
            })
        ));
        assert!(check_net_speech(4_096).is_ok());
    }

    #[test]
    fn g711_streams_decode_at_8k() {
        let pcm = tone(8_000, 1.0, 0.3);
        let mu: Vec<u8> = pcm.iter().map(|&s| g711::linear_to_mulaw(s)).collect();
        let a: Vec<u8> = pcm.iter().map(|&s| g711::linear_to_alaw(s)).collect();
        for (bytes, enc) in [(mu, AudioEncoding::Mulaw), (a, AudioEncoding::Alaw)] {
            let u = decode(&bytes, enc).unwrap();
            assert_eq!(u.samples.len(), 16_000);
            assert!(u.is_telephone());
        }
    }
}
