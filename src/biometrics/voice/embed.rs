//! Speaker embeddings: CAM++ (default) and GE2E (second opinion for fusion), from 16 kHz audio.

use ndarray::ArrayView3;
use ort::session::Session;
use ort::value::TensorRef;

use super::{VoiceError, antispoof, replay};
use crate::biometrics::audio::fbank::KaldiFbank;
use crate::biometrics::audio::mel::{self, MelSpectrogram, N_MELS};
use crate::biometrics::audio::{self, Utterance, vad};
use crate::biometrics::models::ModelRegistry;

pub const CAMPPLUS_DIM: usize = 192;
pub const GE2E_DIM: usize = 256;
/// GE2E partial utterance length (1.6 s) and step, as resemblyzer (rate 1.3 partials/s).
const PARTIAL_FRAMES: usize = 160;
const PARTIAL_STEP: usize = 77;
const HOP: usize = 160;

/// Feature extractors (no model state): build once, share.
pub struct FrontEnd {
    pub fbank: KaldiFbank,
    pub mel: MelSpectrogram,
}

impl Default for FrontEnd {
    fn default() -> Self {
        Self {
            fbank: KaldiFbank::new(80),
            mel: MelSpectrogram::new(),
        }
    }
}

pub fn l2_normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// CAM++ input features `[T, 80]` (row-major) for 16 kHz samples.
pub fn campplus_features(front: &FrontEnd, samples: &[f32]) -> Vec<f32> {
    front.fbank.compute_mean_normalised(samples)
}

/// CAM++ input for an utterance: narrow-band sources get the telephone log floor.
pub fn campplus_features_for(front: &FrontEnd, samples: &[f32], telephone: bool) -> Vec<f32> {
    let floor = telephone.then_some(crate::biometrics::audio::fbank::TELEPHONE_LOG_FLOOR);
    front.fbank.compute_mean_normalised_floored(samples, floor)
}

/// Runs CAM++ on prepared features; returns the raw (un-normalised) 192-d x-vector.
pub fn campplus_run(session: &mut Session, features: &[f32]) -> ort::Result<Vec<f32>> {
    let t = features.len() / 80;
    let view = ArrayView3::from_shape((1, t, 80), features)
        .map_err(|e| ort::Error::new(format!("features: {e}")))?;
    let out = session.run(ort::inputs!["fbank" => TensorRef::from_array_view(view)?])?;
    let e = out["embedding"].try_extract_array::<f32>()?;
    Ok(e.iter().copied().collect())
}

/// GE2E: mel `[T, 40]` partials as resemblyzer slices them. Utterances shorter than one
/// partial (1.6 s) are embedded whole, unpadded (measured better than zero padding on 1 s clips).
pub fn ge2e_partials(front: &FrontEnd, samples: &[f32]) -> (usize, usize, Vec<f32>) {
    let mut wav = samples.to_vec();
    mel::normalize_volume(&mut wav);
    let n = wav.len();
    let n_frames = (n + 1).div_ceil(HOP);
    let steps = (n_frames + PARTIAL_STEP + 1)
        .saturating_sub(PARTIAL_FRAMES)
        .max(1);
    let mut starts: Vec<usize> = (0..steps).step_by(PARTIAL_STEP).collect();
    if starts.len() <= 1 {
        let m = front.mel.compute(&wav);
        let t = m.len() / N_MELS;
        return (1, t, m);
    }
    let last = starts[starts.len() - 1];
    let coverage = (n as f64 - (last * HOP) as f64) / (PARTIAL_FRAMES * HOP) as f64;
    if coverage < 0.75 {
        starts.pop();
    }
    let padded = (starts[starts.len() - 1] + PARTIAL_FRAMES) * HOP;
    if padded > wav.len() {
        wav.resize(padded, 0.0);
    }
    let m = front.mel.compute(&wav);
    let mut batch = Vec::with_capacity(starts.len() * PARTIAL_FRAMES * N_MELS);
    for s in &starts {
        batch.extend_from_slice(&m[s * N_MELS..(s + PARTIAL_FRAMES) * N_MELS]);
    }
    (starts.len(), PARTIAL_FRAMES, batch)
}

/// Runs GE2E on `[B, T, 40]`; returns the L2-normalised mean of the partial embeddings.
pub fn ge2e_run(session: &mut Session, b: usize, t: usize, mel: &[f32]) -> ort::Result<Vec<f32>> {
    let view = ArrayView3::from_shape((b, t, N_MELS), mel)
        .map_err(|e| ort::Error::new(format!("mel: {e}")))?;
    let out = session.run(ort::inputs!["mel" => TensorRef::from_array_view(view)?])?;
    let (_, e) = out["embedding"].try_extract_tensor::<f32>()?;
    let mut mean = vec![0f32; GE2E_DIM];
    for row in e.chunks(GE2E_DIM) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    l2_normalise(&mut mean);
    Ok(mean)
}

/// VAD recipe (models/voice/ref_eval.py): keep speech chunks +- 16 chunks (512 ms), so only
/// silences longer than ~1 s are shortened. Tighter trimming cost accuracy on short utterances.
pub const VAD_PAD_CHUNKS: usize = 16;

/// What one utterance yields. Audio itself is dropped once this is computed.
#[derive(Debug, Clone)]
pub struct UtteranceAnalysis {
    /// L2-normalised CAM++ x-vector.
    pub campplus: Vec<f32>,
    /// L2-normalised GE2E embedding.
    pub ge2e: Vec<f32>,
    pub net_speech_ms: u32,
    pub telephone: bool,
    /// AASIST bona fide score (logit[1] - logit[0]); `None` when no AASIST model is loaded.
    pub spoof_score: Option<f32>,
    pub fingerprint: replay::Fingerprint,
}

/// Options for [`analyse`]: the service enforces the minimum net speech; the evaluation
/// embeds every clip of the protocol and counts the ones the service would refuse.
#[derive(Debug, Clone, Copy)]
pub struct AnalyseOptions {
    pub enforce_min_speech: bool,
    pub antispoof: bool,
}

impl Default for AnalyseOptions {
    fn default() -> Self {
        Self {
            enforce_min_speech: true,
            antispoof: true,
        }
    }
}

/// CAM++ and GE2E embeddings (L2-normalised) of speech VAD has already trimmed: a live
/// stream's accumulated net speech (`voice::stream`).
pub fn embed_trimmed(
    models: &ModelRegistry,
    front: &FrontEnd,
    speech: &[f32],
    telephone: bool,
    net_speech_ms: u32,
) -> Result<(Vec<f32>, Vec<f32>), VoiceError> {
    let features = campplus_features_for(front, speech, telephone);
    embed_features(models, front, speech, &features, net_speech_ms)
}

fn embed_features(
    models: &ModelRegistry,
    front: &FrontEnd,
    speech: &[f32],
    features: &[f32],
    net_speech_ms: u32,
) -> Result<(Vec<f32>, Vec<f32>), VoiceError> {
    if features.is_empty() {
        return Err(audio::AudioError::TooShort {
            net_speech_ms,
            min_ms: audio::MIN_NET_SPEECH_MS,
        }
        .into());
    }
    let mut campplus = models
        .get(super::CAMPPLUS)?
        .run(|s| campplus_run(s, features))?;
    l2_normalise(&mut campplus);
    let (b, t, mel) = ge2e_partials(front, speech);
    let ge2e = models.get(super::GE2E)?.run(|s| ge2e_run(s, b, t, &mel))?;
    Ok((campplus, ge2e))
}

/// VAD -> net speech check -> trim long silences -> CAM++ and GE2E embeddings (+ AASIST,
/// fingerprint). Blocking CPU work: call from `spawn_blocking`.
pub fn analyse(
    models: &ModelRegistry,
    front: &FrontEnd,
    utterance: &Utterance,
    options: AnalyseOptions,
) -> Result<UtteranceAnalysis, VoiceError> {
    let samples = &utterance.samples;
    let probs = models
        .get(super::VAD)?
        .run(|s| vad::speech_probabilities(s, samples))?;
    let flags = vad::speech_flags(&probs);
    let net = vad::net_speech_samples(&flags);
    let net_speech_ms = (net as u64 * 1000 / u64::from(audio::MODEL_RATE)) as u32;
    if options.enforce_min_speech {
        audio::check_net_speech(net)?;
    }
    let trimmed = if net == 0 {
        std::borrow::Cow::Borrowed(samples.as_slice())
    } else {
        vad::trim(samples, &flags, VAD_PAD_CHUNKS)
    };
    let floor = utterance
        .is_telephone()
        .then_some(crate::biometrics::audio::fbank::TELEPHONE_LOG_FLOOR);
    // When VAD dropped nothing, the CAM++ features and the replay fingerprint start from the
    // same fbank of the same samples: compute it once.
    let (features, shared_fbank) = match &trimmed {
        std::borrow::Cow::Borrowed(_) => {
            let raw = front.fbank.compute(samples);
            (
                front.fbank.mean_normalise_floored(raw.clone(), floor),
                Some(raw),
            )
        }
        std::borrow::Cow::Owned(t) => (
            campplus_features_for(front, t, utterance.is_telephone()),
            None,
        ),
    };
    let (campplus, ge2e) = embed_features(models, front, &trimmed, &features, net_speech_ms)?;
    let spoof_score = match (options.antispoof, models.get(super::AASIST)) {
        (true, Ok(model)) => Some(model.run(|s| antispoof::bona_fide_score(s, samples))?),
        _ => None,
    };
    let fingerprint = match &shared_fbank {
        Some(raw) => replay::Fingerprint::of_with_fbank(&front.fbank, samples, raw),
        None => replay::Fingerprint::of(&front.fbank, samples),
    };
    Ok(UtteranceAnalysis {
        campplus,
        ge2e,
        net_speech_ms,
        telephone: utterance.is_telephone(),
        spoof_score,
        fingerprint,
    })
}
