//! Free text: 50-keystroke windows embedded by the `keystroke_free` model (a GRU trained on
//! Aalto users that are never evaluated), compared with the customer's enrolled embedding and
//! normalised against a fixed cohort inside the model.

use serde::{Deserialize, Serialize};

use super::{
    KeyEvent, KeystrokeError, KeystrokeSegment, MIN_FREE_ENROL_KEYSTROKES, MIN_FREE_KEYSTROKES,
    features::{FREE_DIM, FREE_WINDOW, free_text_rows, free_text_windows},
    input::MAX_EVENTS,
    parse_events,
};

/// Embedding width of the free-text model.
pub const EMBEDDING_DIM: usize = 128;

/// The customer's typing embedding: the mean of the enrolment windows' embeddings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreeTextTemplate {
    pub embedding: Vec<f32>,
    pub windows: usize,
}

impl FreeTextTemplate {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeystrokeError> {
        let t: Self = serde_json::from_slice(bytes).map_err(|_| KeystrokeError::Template)?;
        if t.embedding.len() != EMBEDDING_DIM || t.embedding.iter().any(|v| !v.is_finite()) {
            return Err(KeystrokeError::Template);
        }
        Ok(t)
    }
}

/// Validated free-text evidence cut into model windows `[n, 50, 17]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FreeTextWindows {
    pub count: usize,
    pub data: Vec<f32>,
    pub keystrokes: usize,
}

/// Parse segments (chat messages) and cut them into windows; at least `needed` keystrokes.
pub fn parse_segments(
    segments: &[Vec<KeyEvent>],
    needed: usize,
) -> Result<FreeTextWindows, KeystrokeError> {
    let total: usize = segments.iter().map(Vec::len).sum();
    if total > MAX_EVENTS {
        return Err(KeystrokeError::TooManyEvents {
            got: total,
            max: MAX_EVENTS,
        });
    }
    let parsed = segments
        .iter()
        .map(|s| parse_events(s))
        .collect::<Result<Vec<KeystrokeSegment>, _>>()?;
    if total < needed {
        return Err(KeystrokeError::Insufficient {
            what: "keystrokes",
            got: total,
            needed,
        });
    }
    let rows = free_text_rows(&parsed);
    let (count, data) = free_text_windows(&rows);
    Ok(FreeTextWindows {
        count,
        data,
        keystrokes: total,
    })
}

pub fn parse_verification(segments: &[Vec<KeyEvent>]) -> Result<FreeTextWindows, KeystrokeError> {
    parse_segments(segments, MIN_FREE_KEYSTROKES)
}

pub fn parse_enrolment(segments: &[Vec<KeyEvent>]) -> Result<FreeTextWindows, KeystrokeError> {
    parse_segments(segments, MIN_FREE_ENROL_KEYSTROKES)
}

/// Run the model on windows with a template (zeros at enrolment): embeddings and scores.
pub fn run(
    session: &mut ort::session::Session,
    windows: &FreeTextWindows,
    template: &[f32],
) -> Result<(Vec<f32>, Vec<f32>), KeystrokeError> {
    fn inner(
        session: &mut ort::session::Session,
        windows: &FreeTextWindows,
        template: &[f32],
    ) -> ort::Result<(Vec<f32>, Vec<f32>)> {
        use ort::value::TensorRef;
        let outputs = session.run(ort::inputs![
            "windows" => TensorRef::from_array_view(([windows.count, FREE_WINDOW, FREE_DIM], windows.data.as_slice()))?,
            "template" => TensorRef::from_array_view(([1usize, EMBEDDING_DIM], template))?,
        ])?;
        let (_, e) = outputs["embedding"].try_extract_tensor::<f32>()?;
        let (_, s) = outputs["score"].try_extract_tensor::<f32>()?;
        Ok((e.to_vec(), s.to_vec()))
    }
    if windows.count == 0 || template.len() != EMBEDDING_DIM {
        return Err(KeystrokeError::Model(
            "no window or bad template width".into(),
        ));
    }
    inner(session, windows, template).map_err(|e| KeystrokeError::Model(e.to_string()))
}

/// Enrol: embed every window and average.
pub fn enrol(
    session: &mut ort::session::Session,
    windows: &FreeTextWindows,
) -> Result<FreeTextTemplate, KeystrokeError> {
    let (emb, _) = run(session, windows, &[0.0; EMBEDDING_DIM])?;
    Ok(template_from_embeddings(&emb, windows.count))
}

pub fn template_from_embeddings(emb: &[f32], count: usize) -> FreeTextTemplate {
    let mut mean = vec![0.0f32; EMBEDDING_DIM];
    for w in emb.chunks_exact(EMBEDDING_DIM) {
        for (m, v) in mean.iter_mut().zip(w) {
            *m += v / count as f32;
        }
    }
    FreeTextTemplate {
        embedding: mean,
        windows: count,
    }
}

/// Verify: mean of the windows' normalised scores. The calibration table is per window, so
/// the FMR it gives for a mean over several windows is conservative.
pub fn verify(
    session: &mut ort::session::Session,
    windows: &FreeTextWindows,
    template: &FreeTextTemplate,
) -> Result<f32, KeystrokeError> {
    let (_, scores) = run(session, windows, &template.embedding)?;
    Ok(scores.iter().sum::<f32>() / scores.len().max(1) as f32)
}
