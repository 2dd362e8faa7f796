//! The enrolled voiceprint: averaged, L2-normalised CAM++ and GE2E embeddings (never audio),
//! sealed with the customer's data key (AES-256-GCM) before it reaches the store.

use serde::{Deserialize, Serialize};

use super::{
    VoiceError,
    embed::{UtteranceAnalysis, l2_normalise},
    replay::Fingerprint,
};
use crate::crypto::envelope::{DataKey, context};

pub const TEMPLATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VoiceTemplate {
    pub version: u32,
    pub campplus: Vec<f32>,
    pub ge2e: Vec<f32>,
    pub utterances: u32,
    pub net_speech_ms: u32,
    /// Enrolled from narrow-band (8 kHz) audio.
    pub telephone: bool,
    pub models: Vec<(String, String)>,
}

/// Fingerprints of audio already seen for the customer (enrolment and verification), kept
/// sealed like the template; the newest [`super::replay::KEEP`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SeenAudio {
    pub fingerprints: Vec<Fingerprint>,
}

impl SeenAudio {
    pub fn push(&mut self, f: Fingerprint) {
        self.fingerprints.push(f);
        let n = self.fingerprints.len();
        if n > super::replay::KEEP {
            self.fingerprints.drain(..n - super::replay::KEEP);
        }
    }
}

impl VoiceTemplate {
    /// Embedding averaging: mean of the utterances' normalised embeddings, renormalised.
    pub fn from_analyses(
        analyses: &[UtteranceAnalysis],
        models: Vec<(String, String)>,
    ) -> Option<Self> {
        let first = analyses.first()?;
        let mut campplus = vec![0f32; first.campplus.len()];
        let mut ge2e = vec![0f32; first.ge2e.len()];
        for a in analyses {
            campplus
                .iter_mut()
                .zip(&a.campplus)
                .for_each(|(m, v)| *m += v);
            ge2e.iter_mut().zip(&a.ge2e).for_each(|(m, v)| *m += v);
        }
        l2_normalise(&mut campplus);
        l2_normalise(&mut ge2e);
        Some(Self {
            version: TEMPLATE_VERSION,
            campplus,
            ge2e,
            utterances: analyses.len() as u32,
            net_speech_ms: analyses.iter().map(|a| a.net_speech_ms).sum(),
            telephone: analyses.iter().all(|a| a.telephone),
            models,
        })
    }
}

impl VoiceTemplate {
    /// Parse an opened (decrypted) template, as the sessions service hands it to the scorer.
    pub fn from_bytes(plain: &[u8]) -> Result<Self, VoiceError> {
        serde_json::from_slice(plain).map_err(|_| VoiceError::Template)
    }
}

fn seal_json<T: Serialize>(
    key: &DataKey,
    tenant: &str,
    customer: &str,
    purpose: &str,
    value: &T,
) -> Result<Vec<u8>, VoiceError> {
    let plain =
        zeroize::Zeroizing::new(serde_json::to_vec(value).map_err(|_| VoiceError::Template)?);
    key.seal(&context(tenant, customer, purpose), &plain)
        .map_err(|_| VoiceError::Template)
}

fn open_json<T: for<'de> Deserialize<'de>>(
    key: &DataKey,
    tenant: &str,
    customer: &str,
    purpose: &str,
    sealed: &[u8],
) -> Result<T, VoiceError> {
    let plain = key
        .open(&context(tenant, customer, purpose), sealed)
        .map_err(|_| VoiceError::Template)?;
    serde_json::from_slice(&plain).map_err(|_| VoiceError::Template)
}

pub fn seal_template(
    key: &DataKey,
    tenant: &str,
    customer: &str,
    t: &VoiceTemplate,
) -> Result<Vec<u8>, VoiceError> {
    seal_json(key, tenant, customer, super::MODALITY, t)
}

pub fn open_template(
    key: &DataKey,
    tenant: &str,
    customer: &str,
    sealed: &[u8],
) -> Result<VoiceTemplate, VoiceError> {
    open_json(key, tenant, customer, super::MODALITY, sealed)
}

pub fn seal_seen(
    key: &DataKey,
    tenant: &str,
    customer: &str,
    s: &SeenAudio,
) -> Result<Vec<u8>, VoiceError> {
    seal_json(key, tenant, customer, super::FINGERPRINT_MODALITY, s)
}

pub fn open_seen(
    key: &DataKey,
    tenant: &str,
    customer: &str,
    sealed: &[u8],
) -> Result<SeenAudio, VoiceError> {
    open_json(key, tenant, customer, super::FINGERPRINT_MODALITY, sealed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::crypto::envelope::MasterKey;

    #[test]
    fn template_seals_for_its_owner_only() {
        let master = MasterKey::from_bytes(&[3u8; 32]).expect("key");
        let (key, _) = master
            .new_data_key(&context("t", "c", "data-key"))
            .expect("data key");
        let t = VoiceTemplate {
            version: 1,
            campplus: vec![0.6, 0.8],
            ge2e: vec![1.0],
            utterances: 3,
            net_speech_ms: 1500,
            telephone: false,
            models: vec![("campplus".into(), "1.0.0".into())],
        };
        let sealed = seal_template(&key, "t", "c", &t).expect("seal");
        assert!(
            !sealed.windows(4).any(|w| w == b"0.6,"),
            "plaintext must not leak"
        );
        assert_eq!(open_template(&key, "t", "c", &sealed).expect("open"), t);
        assert!(open_template(&key, "t", "other", &sealed).is_err());
        assert!(
            open_seen(&key, "t", "c", &sealed).is_err(),
            "purpose is bound"
        );
    }
}
