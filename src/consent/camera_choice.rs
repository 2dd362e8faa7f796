//! The customer's camera choice (pure): not a yes/no but *how* video is used in this
//! conversation — camera off (audio only), one-way (the customer sees the agent), two-way — and
//! the options the tenant's policy offers (background blur, recording allowed or not, and for
//! how long). The policy lists what may be chosen in `policies/consent/camera.toml`
//! (`[camera_choices]`); a choice it does not offer is refused and nothing changes.
//!
//! The validated choice is stored with the camera consent (`consents.terms`) and carried in the
//! signed camera grant's `choice` claim, so the video platform enforces what was chosen.

use serde::{Deserialize, Serialize};

/// How video is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CameraMode {
    /// No camera at all: the conversation stays audio only. Always offered.
    AudioOnly,
    /// The customer sees the agent; the customer's camera stays off.
    OneWay,
    /// Both cameras on.
    TwoWay,
}

impl CameraMode {
    pub const ALL: [CameraMode; 3] = [
        CameraMode::AudioOnly,
        CameraMode::OneWay,
        CameraMode::TwoWay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CameraMode::AudioOnly => "audio_only",
            CameraMode::OneWay => "one_way",
            CameraMode::TwoWay => "two_way",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether the customer's own camera is switched on in this mode.
    pub fn customer_camera_on(self) -> bool {
        matches!(self, CameraMode::TwoWay)
    }
}

/// `[camera_choices.background_blur]`: offered, with the default the page shows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlurOption {
    pub default: bool,
}

/// `[camera_choices.recording]`: the customer may allow the video to be recorded, kept for one
/// of `retention_days` (days). Not offered: recording is never allowed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingOption {
    pub retention_days: Vec<u32>,
}

/// What the policy lets the customer choose.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraOptions {
    pub modes: Vec<CameraMode>,
    #[serde(default)]
    pub background_blur: Option<BlurOption>,
    #[serde(default)]
    pub recording: Option<RecordingOption>,
}

impl CameraOptions {
    /// The options when a policy defines none: every mode, no blur option, no recording.
    pub fn minimal() -> Self {
        Self {
            modes: CameraMode::ALL.to_vec(),
            background_blur: None,
            recording: None,
        }
    }

    /// Refuse a policy that cannot be honoured: the camera must always be refusable (a
    /// non-camera alternative is always offered), and retention is bounded.
    pub fn validate(&self) -> Result<(), String> {
        if !self.modes.contains(&CameraMode::AudioOnly) {
            return Err("camera_choices.modes must offer audio_only (camera off)".into());
        }
        if self.modes.len() < 2 {
            return Err("camera_choices.modes must offer at least one video mode".into());
        }
        let mut seen = self.modes.clone();
        seen.dedup();
        if seen.len() != self.modes.len() {
            return Err("camera_choices.modes lists a mode twice".into());
        }
        if let Some(r) = &self.recording
            && (r.retention_days.is_empty()
                || r.retention_days.iter().any(|d| !(1..=365).contains(d)))
        {
            return Err("camera_choices.recording.retention_days must list 1..=365 days".into());
        }
        Ok(())
    }

    /// The video modes offered (every mode but audio only), in policy order.
    pub fn video_modes(&self) -> impl Iterator<Item = CameraMode> + '_ {
        self.modes
            .iter()
            .copied()
            .filter(|m| *m != CameraMode::AudioOnly)
    }
}

/// The choice as submitted (form fields; absent checkbox = `None`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChoiceRequest {
    pub mode: String,
    #[serde(default)]
    pub background_blur: Option<String>,
    #[serde(default)]
    pub recording: Option<String>,
    #[serde(default)]
    pub retention_days: Option<String>,
}

/// A choice the policy offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CameraChoice {
    pub mode: CameraMode,
    pub background_blur: bool,
    pub recording_allowed: bool,
    /// Days the recording may be kept; only when recording is allowed.
    pub retention_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    #[error("the policy does not offer {0}")]
    NotOffered(&'static str),
    #[error("a retention period needs recording to be allowed")]
    RetentionWithoutRecording,
}

impl ChoiceError {
    pub fn code(&self) -> &'static str {
        match self {
            ChoiceError::NotOffered(_) => "choice_not_offered",
            ChoiceError::RetentionWithoutRecording => "choice_invalid",
        }
    }
}

fn checked(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("on" | "true" | "1"))
}

/// Check a submitted choice against what the policy offers.
pub fn validate(options: &CameraOptions, req: &ChoiceRequest) -> Result<CameraChoice, ChoiceError> {
    let mode = CameraMode::parse(&req.mode)
        .filter(|m| options.modes.contains(m))
        .ok_or(ChoiceError::NotOffered("this camera mode"))?;
    let blur = checked(&req.background_blur);
    let recording = checked(&req.recording);
    let retention = match req.retention_days.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(
            raw.parse::<u32>()
                .map_err(|_| ChoiceError::NotOffered("this retention period"))?,
        ),
    };
    if blur && options.background_blur.is_none() {
        return Err(ChoiceError::NotOffered("background blur"));
    }
    if recording && options.recording.is_none() {
        return Err(ChoiceError::NotOffered("recording"));
    }
    if mode == CameraMode::AudioOnly {
        // Camera off: nothing to blur or record.
        return Ok(CameraChoice {
            mode,
            background_blur: false,
            recording_allowed: false,
            retention_days: None,
        });
    }
    let retention_days = match (recording, retention, &options.recording) {
        (false, None, _) => None,
        (false, Some(_), _) => return Err(ChoiceError::RetentionWithoutRecording),
        (true, days, Some(offer)) => {
            // The shortest period offered unless the customer picked one.
            let days =
                days.unwrap_or_else(|| offer.retention_days.iter().copied().min().unwrap_or(1));
            if !offer.retention_days.contains(&days) {
                return Err(ChoiceError::NotOffered("this retention period"));
            }
            Some(days)
        }
        (true, _, None) => return Err(ChoiceError::NotOffered("recording")),
    };
    Ok(CameraChoice {
        mode,
        background_blur: blur,
        recording_allowed: recording,
        retention_days,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn options() -> CameraOptions {
        CameraOptions {
            modes: CameraMode::ALL.to_vec(),
            background_blur: Some(BlurOption { default: true }),
            recording: Some(RecordingOption {
                retention_days: vec![7, 30],
            }),
        }
    }

    fn req(mode: &str) -> ChoiceRequest {
        ChoiceRequest {
            mode: mode.into(),
            ..Default::default()
        }
    }

    #[test]
    fn offered_choices_pass_with_their_options() {
        let c = validate(
            &options(),
            &ChoiceRequest {
                mode: "two_way".into(),
                background_blur: Some("on".into()),
                recording: Some("on".into()),
                retention_days: Some("30".into()),
            },
        )
        .unwrap();
        assert_eq!(c.mode, CameraMode::TwoWay);
        assert!(c.background_blur && c.recording_allowed);
        assert_eq!(c.retention_days, Some(30));
        let c = validate(&options(), &req("one_way")).unwrap();
        assert!(!c.recording_allowed && c.retention_days.is_none());
    }

    #[test]
    fn recording_defaults_to_the_shortest_retention() {
        let mut r = req("two_way");
        r.recording = Some("on".into());
        assert_eq!(validate(&options(), &r).unwrap().retention_days, Some(7));
    }

    #[test]
    fn audio_only_clears_the_video_options() {
        let mut r = req("audio_only");
        r.background_blur = Some("on".into());
        r.recording = Some("on".into());
        let c = validate(&options(), &r).unwrap();
        assert_eq!(c.mode, CameraMode::AudioOnly);
        assert!(!c.background_blur && !c.recording_allowed);
    }

    #[test]
    fn choices_the_policy_does_not_offer_are_refused() {
        let mut only_two_way = CameraOptions::minimal();
        only_two_way.modes = vec![CameraMode::AudioOnly, CameraMode::TwoWay];
        assert_eq!(
            validate(&only_two_way, &req("one_way")),
            Err(ChoiceError::NotOffered("this camera mode"))
        );
        assert!(validate(&options(), &req("three_way")).is_err());
        let mut r = req("two_way");
        r.background_blur = Some("on".into());
        assert_eq!(
            validate(&only_two_way, &r),
            Err(ChoiceError::NotOffered("background blur"))
        );
        let mut r = req("two_way");
        r.recording = Some("on".into());
        assert_eq!(
            validate(&only_two_way, &r),
            Err(ChoiceError::NotOffered("recording"))
        );
        let mut r = req("two_way");
        r.recording = Some("on".into());
        r.retention_days = Some("365".into());
        assert_eq!(
            validate(&options(), &r),
            Err(ChoiceError::NotOffered("this retention period"))
        );
        let mut r = req("two_way");
        r.retention_days = Some("7".into());
        assert_eq!(
            validate(&options(), &r),
            Err(ChoiceError::RetentionWithoutRecording)
        );
    }

    #[test]
    fn a_policy_must_let_the_customer_refuse_the_camera() {
        let mut o = options();
        assert!(o.validate().is_ok());
        o.modes = vec![CameraMode::TwoWay];
        assert!(o.validate().is_err());
        let mut o = options();
        o.recording = Some(RecordingOption {
            retention_days: vec![0],
        });
        assert!(o.validate().is_err());
    }
}
