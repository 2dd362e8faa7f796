//! A live call's voice, accumulated: VAD on the stream, all net speech so far kept (in memory,
//! for the life of the stream only) and embedded as one utterance, re-scored every
//! [`RESCORE_EVERY_MS`] of new net speech.
//!
//! Why one accumulated score and not one score per piece: pieces of one call are one voice on
//! one channel; their false-match rates are correlated, so multiplying them (or counting each
//! as an attempt) would claim evidence that does not exist. The accumulated speech is scored
//! once, with the same S-norm + fusion + FMR calibration as a posted utterance, and the
//! session holds that one score, replaced as the call goes on (`sessions::service`).

use std::collections::VecDeque;

use super::{
    VAD, VoiceError,
    embed::{FrontEnd, VAD_PAD_CHUNKS, embed_trimmed},
    scoring::{Condition, Scores, decision_fmr},
    service::VoiceEngine,
    template::VoiceTemplate,
};
use crate::biometrics::{
    audio::{AudioError, MODEL_RATE, resample::StreamResampler, vad},
    models::ModelRegistry,
};

/// Re-score after this much new net speech.
pub const RESCORE_EVERY_MS: u32 = 1000;
/// First score after this much net speech.
pub const FIRST_SCORE_MS: u32 = 1000;
/// Without a match after this much net speech the stream reports `no_match` (the measured
/// curve flattens by then: docs/voice-net-speech.md).
pub const NO_MATCH_AFTER_MS: u32 = 8000;
/// Longest accepted stream (audio time, speech or not).
pub const MAX_STREAM_MS: u64 = 10 * 60 * 1000;
/// Net speech kept for the embedding (with VAD padding): beyond it the oldest is dropped.
pub const MAX_ACCUMULATED_MS: u32 = 60_000;

const CHUNK_MS: u32 = (vad::CHUNK as u32 * 1000) / MODEL_RATE;

/// VAD + accumulation of one stream's net speech.
pub struct SpeechAccumulator {
    source_rate: u32,
    resampler: Option<StreamResampler>,
    vad: vad::StreamingVad,
    /// 16 kHz samples not yet a full VAD chunk.
    pending: Vec<f32>,
    trim: Trimmer,
    audio_samples: u64,
    scored_chunks: usize,
}

impl SpeechAccumulator {
    pub fn new(source_rate: u32) -> Result<Self, AudioError> {
        let resampler = if source_rate == MODEL_RATE {
            None
        } else {
            Some(StreamResampler::new(source_rate, MODEL_RATE)?)
        };
        Ok(Self {
            source_rate,
            resampler,
            vad: vad::StreamingVad::default(),
            pending: Vec::new(),
            trim: Trimmer::default(),
            audio_samples: 0,
            scored_chunks: 0,
        })
    }

    /// Feed audio at the source rate; runs VAD on every complete chunk. Blocking (ONNX).
    pub fn push(&mut self, models: &ModelRegistry, audio: &[f32]) -> Result<(), VoiceError> {
        if audio.is_empty() {
            return Ok(());
        }
        self.audio_samples += audio.len() as u64;
        if self.audio_ms() > MAX_STREAM_MS {
            return Err(AudioError::TooLong {
                seconds: self.audio_ms() as f32 / 1000.0,
                max_seconds: (MAX_STREAM_MS / 1000) as f32,
            }
            .into());
        }
        match &mut self.resampler {
            Some(rs) => {
                let out = rs.push(audio)?;
                self.pending.extend_from_slice(&out);
            }
            None => self.pending.extend_from_slice(audio),
        }
        let full = self.pending.len() / vad::CHUNK * vad::CHUNK;
        if full == 0 {
            return Ok(());
        }
        let model = models.get(VAD)?;
        let chunks: Vec<f32> = self.pending.drain(..full).collect();
        model.run(|s| -> Result<(), VoiceError> {
            for chunk in chunks.chunks_exact(vad::CHUNK) {
                let speaking = self.vad.chunk(s, chunk)?;
                self.trim.push(chunk, speaking);
            }
            Ok(())
        })
    }

    /// Audio received so far (speech or not).
    pub fn audio_ms(&self) -> u64 {
        self.audio_samples * 1000 / u64::from(self.source_rate)
    }

    /// Net speech so far (VAD speech chunks, as a posted utterance counts it).
    pub fn net_speech_ms(&self) -> u32 {
        self.trim.speech_chunks as u32 * CHUNK_MS
    }

    /// Enough new speech for a (re-)score?
    pub fn due(&self) -> bool {
        let new = (self.trim.speech_chunks - self.scored_chunks) as u32 * CHUNK_MS;
        self.net_speech_ms() >= FIRST_SCORE_MS
            && (self.scored_chunks == 0 || new >= RESCORE_EVERY_MS)
    }

    pub fn mark_scored(&mut self) {
        self.scored_chunks = self.trim.speech_chunks;
    }

    /// Narrow-band source: scored with the telephone calibration.
    pub fn telephone(&self) -> bool {
        self.source_rate <= 8_000
    }

    /// The accumulated speech (16 kHz, long silences removed).
    pub fn speech(&self) -> &[f32] {
        &self.trim.kept
    }
}

/// The streaming form of `vad::trim`: speech chunks plus [`VAD_PAD_CHUNKS`] either side, so
/// the accumulated speech is what the posted path would embed for the same audio.
#[derive(Default)]
struct Trimmer {
    /// Recent non-speech chunks, kept as the padding before the next speech.
    before: VecDeque<Vec<f32>>,
    /// Chunks of padding still owed after the last speech chunk.
    after: usize,
    kept: Vec<f32>,
    speech_chunks: usize,
}

impl Trimmer {
    fn push(&mut self, chunk: &[f32], speaking: bool) {
        if speaking {
            for c in self.before.drain(..) {
                self.kept.extend_from_slice(&c);
            }
            self.kept.extend_from_slice(chunk);
            self.speech_chunks += 1;
            self.after = VAD_PAD_CHUNKS;
        } else if self.after > 0 {
            self.kept.extend_from_slice(chunk);
            self.after -= 1;
        } else {
            self.before.push_back(chunk.to_vec());
            if self.before.len() > VAD_PAD_CHUNKS {
                self.before.pop_front();
            }
        }
        let max = MAX_ACCUMULATED_MS as usize * MODEL_RATE as usize / 1000;
        if self.kept.len() > max {
            let over = self.kept.len() - max;
            self.kept.drain(..over);
        }
    }
}

/// One score of the accumulated speech.
#[derive(Debug, Clone)]
pub struct AccumulatedScore {
    pub condition: Condition,
    pub net_speech_ms: u32,
    pub scores: Scores,
    /// The FMR a decision may use (extrapolated rates raised to the measured floor).
    pub decision_fmr: f64,
}

/// Embed and score the accumulated speech against the template. Blocking (ONNX).
pub fn score(
    models: &ModelRegistry,
    engine: &VoiceEngine,
    front: &FrontEnd,
    tpl: &VoiceTemplate,
    acc: &SpeechAccumulator,
) -> Result<AccumulatedScore, VoiceError> {
    let net = acc.net_speech_ms();
    let (campplus, ge2e) = embed_trimmed(models, front, acc.speech(), acc.telephone(), net)?;
    let condition = if acc.telephone() || tpl.telephone {
        Condition::Telephone
    } else {
        Condition::Wideband
    };
    let scorer = engine.scorer(condition);
    let scores = scorer.score(&tpl.campplus, &tpl.ge2e, &campplus, &ge2e);
    let fmr = decision_fmr(scores.fmr, scores.fmr_source, scorer.measured_fmr_floor());
    Ok(AccumulatedScore {
        condition,
        net_speech_ms: net,
        scores,
        decision_fmr: fmr,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn trimmer_keeps_speech_with_padding_like_the_batch_trim() {
        let flags: Vec<bool> = (0..120)
            .map(|i| (30..40).contains(&i) || i == 100)
            .collect();
        let samples: Vec<f32> = (0..flags.len() * vad::CHUNK).map(|i| i as f32).collect();
        let batch = vad::trim(&samples, &flags, VAD_PAD_CHUNKS);
        let mut t = Trimmer::default();
        for (chunk, f) in samples.chunks(vad::CHUNK).zip(&flags) {
            t.push(chunk, *f);
        }
        assert_eq!(t.kept, batch.to_vec());
        assert_eq!(t.speech_chunks, 11);
    }
}
