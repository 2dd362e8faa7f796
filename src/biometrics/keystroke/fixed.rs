//! Fixed text: a per-customer detector over the enrolled repetitions of one phrase.
//!
//! The template keeps the enrolled timing vectors and the phrase's key classes (never its
//! characters). Scoring runs the `keystroke_fixed` model, a text-independent scorer trained on
//! CMU subjects that were never evaluated (see `models/keystroke/README.md`): it compares the
//! sample with the enrolled repetitions feature by feature and with a clipped k-NN distance.

use serde::{Deserialize, Serialize};

use super::{
    KeyClass, KeyEvent, KeystrokeError, KeystrokeSegment, MAX_FIXED_KEYS, MAX_FIXED_REPETITIONS,
    MIN_FIXED_KEYS, MIN_FIXED_REPETITIONS,
    features::{FIXED_KINDS, fixed_text_kinds, fixed_text_vector},
    parse_events,
};

/// Enrolled repetitions of one phrase. Serialised as JSON and sealed with the customer's data
/// key before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedTextTemplate {
    pub classes: Vec<KeyClass>,
    /// One timing vector per repetition, `3K-2` values each.
    pub repetitions: Vec<Vec<f32>>,
}

impl FixedTextTemplate {
    pub fn keys(&self) -> usize {
        self.classes.len()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain vectors of floats and enums cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeystrokeError> {
        let t: Self = serde_json::from_slice(bytes).map_err(|_| KeystrokeError::Template)?;
        let f = 3 * t.keys() - 2;
        if t.keys() < MIN_FIXED_KEYS
            || t.repetitions.len() < MIN_FIXED_REPETITIONS
            || t.repetitions.iter().any(|r| r.len() != f)
        {
            return Err(KeystrokeError::Template);
        }
        Ok(t)
    }

    /// Flattened `[N, F]` enrolment matrix.
    pub fn matrix(&self) -> Vec<f32> {
        self.repetitions.iter().flatten().copied().collect()
    }
}

fn check_keys(segment: &KeystrokeSegment) -> Result<(), KeystrokeError> {
    if segment.len() < MIN_FIXED_KEYS {
        return Err(KeystrokeError::Insufficient {
            what: "keys",
            got: segment.len(),
            needed: MIN_FIXED_KEYS,
        });
    }
    if segment.len() > MAX_FIXED_KEYS {
        return Err(KeystrokeError::TooMuch {
            what: "keys",
            got: segment.len(),
            max: MAX_FIXED_KEYS,
        });
    }
    Ok(())
}

/// Validate the repetitions of an enrolment and build the template.
pub fn enrol(repetitions: &[Vec<KeyEvent>]) -> Result<FixedTextTemplate, KeystrokeError> {
    if repetitions.len() < MIN_FIXED_REPETITIONS {
        return Err(KeystrokeError::Insufficient {
            what: "repetitions",
            got: repetitions.len(),
            needed: MIN_FIXED_REPETITIONS,
        });
    }
    if repetitions.len() > MAX_FIXED_REPETITIONS {
        return Err(KeystrokeError::TooMuch {
            what: "repetitions",
            got: repetitions.len(),
            max: MAX_FIXED_REPETITIONS,
        });
    }
    let mut classes: Option<Vec<KeyClass>> = None;
    let mut vectors = Vec::with_capacity(repetitions.len());
    for (index, events) in repetitions.iter().enumerate() {
        let segment = parse_events(events)?;
        check_keys(&segment)?;
        let c = segment.classes();
        match &classes {
            None => classes = Some(c),
            Some(first) if *first != c => {
                return Err(KeystrokeError::InconsistentRepetitions { index });
            }
            Some(_) => {}
        }
        vectors.push(fixed_text_vector(&segment));
    }
    Ok(FixedTextTemplate {
        classes: classes.unwrap_or_default(),
        repetitions: vectors,
    })
}

/// A parsed sample, checked against the template's phrase: ready for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedTextSample {
    pub vector: Vec<f32>,
}

pub fn parse_sample(
    events: &[KeyEvent],
    template: &FixedTextTemplate,
) -> Result<FixedTextSample, KeystrokeError> {
    sample_for(&parse_events(events)?, template)
}

/// A parsed repetition checked against the template's phrase (key count and classes).
pub fn sample_for(
    segment: &KeystrokeSegment,
    template: &FixedTextTemplate,
) -> Result<FixedTextSample, KeystrokeError> {
    if segment.len() != template.keys() {
        return Err(KeystrokeError::WrongKeyCount {
            expected: template.keys(),
            got: segment.len(),
        });
    }
    if segment.classes() != template.classes {
        return Err(KeystrokeError::KeySequenceMismatch);
    }
    Ok(FixedTextSample {
        vector: fixed_text_vector(segment),
    })
}

/// Score samples `[B, F]` (flattened) against a template with the `keystroke_fixed` model.
pub fn score_batch(
    session: &mut ort::session::Session,
    samples: &[f32],
    template: &FixedTextTemplate,
) -> Result<Vec<f32>, KeystrokeError> {
    let f = 3 * template.keys() - 2;
    if f == 0 || !samples.len().is_multiple_of(f) {
        return Err(KeystrokeError::Model(
            "sample length does not match the template".into(),
        ));
    }
    let enrolment = template.matrix();
    let kinds = fixed_text_kinds(template.keys());
    run(session, samples, f, &enrolment, &kinds).map_err(|e| KeystrokeError::Model(e.to_string()))
}

fn run(
    session: &mut ort::session::Session,
    samples: &[f32],
    f: usize,
    enrolment: &[f32],
    kinds: &[f32],
) -> ort::Result<Vec<f32>> {
    use ort::value::TensorRef;
    let b = samples.len() / f;
    let n = enrolment.len() / f;
    let outputs = session.run(ort::inputs![
        "sample" => TensorRef::from_array_view(([b, f], samples))?,
        "enrolment" => TensorRef::from_array_view(([n, f], enrolment))?,
        "kinds" => TensorRef::from_array_view(([f, FIXED_KINDS], kinds))?,
    ])?;
    let (_, scores) = outputs["score"].try_extract_tensor::<f32>()?;
    Ok(scores.to_vec())
}
