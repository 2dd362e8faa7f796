//! Keystroke timing input: what the widget sends, and the parsing that turns it into a sample
//! the rest of the service can trust.
//!
//! The widget never sends characters. For every key it sends the press and release times
//! (milliseconds on a monotonic clock, fractions allowed) and a coarse [`KeyClass`] that it
//! derives from the key code. After [`parse_events`] the event list is known to be ordered,
//! finite, free of duplicates and of implausible pauses, so feature extraction cannot fail.

use serde::{Deserialize, Serialize};

use super::KeystrokeError;

/// Coarse key position class: hand x row of the main block, then space, modifiers,
/// editing/navigation keys and everything else. This is the finest key identity any model,
/// template or log in trustline sees. The widget maps a JavaScript `keyCode` with
/// [`KeyClass::from_js_keycode`] (the same table as `models/keystroke/common.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyClass {
    /// `` ` `` and 1-5
    LeftNumber,
    /// 6-0, `-`, `=`
    RightNumber,
    /// Q W E R T
    LeftTop,
    /// Y U I O P [ ] \
    RightTop,
    /// A S D F G
    LeftHome,
    /// H J K L ; '
    RightHome,
    /// Z X C V B
    LeftBottom,
    /// N M , . /
    RightBottom,
    Space,
    /// Shift, Ctrl, Alt, Caps Lock, Meta, AltGr
    Modifier,
    /// Backspace, Delete, Enter, Tab, arrows, Home/End/PageUp/PageDown/Insert
    Edit,
    Other,
}

impl KeyClass {
    pub const COUNT: usize = 12;
    pub const ALL: [KeyClass; KeyClass::COUNT] = [
        KeyClass::LeftNumber,
        KeyClass::RightNumber,
        KeyClass::LeftTop,
        KeyClass::RightTop,
        KeyClass::LeftHome,
        KeyClass::RightHome,
        KeyClass::LeftBottom,
        KeyClass::RightBottom,
        KeyClass::Space,
        KeyClass::Modifier,
        KeyClass::Edit,
        KeyClass::Other,
    ];

    /// Position in [`KeyClass::ALL`] (the one-hot column the models use).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The widget's mapping from a JavaScript `keyCode` (reference for widget authors and the
    /// evaluation of the Aalto corpus, which records key codes).
    pub fn from_js_keycode(code: u32) -> Self {
        match code {
            192 | 49..=53 => KeyClass::LeftNumber,
            54..=57 | 48 | 189 | 173 | 187 | 61 => KeyClass::RightNumber,
            81 | 87 | 69 | 82 | 84 => KeyClass::LeftTop,
            89 | 85 | 73 | 79 | 80 | 219 | 221 | 220 => KeyClass::RightTop,
            65 | 83 | 68 | 70 | 71 => KeyClass::LeftHome,
            72 | 74 | 75 | 76 | 186 | 59 | 222 => KeyClass::RightHome,
            90 | 88 | 67 | 86 | 66 | 226 => KeyClass::LeftBottom,
            78 | 77 | 188 | 190 | 191 => KeyClass::RightBottom,
            32 => KeyClass::Space,
            16 | 17 | 18 | 20 | 91 | 92 | 93 | 224 | 225 => KeyClass::Modifier,
            8 | 46 | 13 | 9 | 37..=40 | 33..=36 | 45 => KeyClass::Edit,
            _ => KeyClass::Other,
        }
    }
}

/// One key as the widget reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyEvent {
    /// Key-down time, ms on the widget's monotonic clock.
    pub press_ms: f64,
    /// Key-up time, ms on the same clock.
    pub release_ms: f64,
    pub class: KeyClass,
}

/// The longest hold or pause between two presses that is still typing (ms). Longer means the
/// customer stopped typing (or a key stuck): the widget should start a new segment.
pub const MAX_LATENCY_MS: f64 = 5_000.0;
/// Timestamps above this (about 31 years in ms) are not a monotonic clock reading.
pub const MAX_TIMESTAMP_MS: f64 = 1.0e12;
/// Most events accepted in one segment / one request.
pub const MAX_EVENTS: usize = 10_000;

/// A validated run of keystrokes typed without a break (one login field, one chat message).
#[derive(Debug, Clone, PartialEq)]
pub struct KeystrokeSegment {
    events: Vec<KeyEvent>,
}

impl KeystrokeSegment {
    pub fn events(&self) -> &[KeyEvent] {
        &self.events
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn classes(&self) -> Vec<KeyClass> {
        self.events.iter().map(|e| e.class).collect()
    }
}

/// Check one segment: finite, non-negative, within range, presses in order, releases after
/// presses, no duplicate event, no hold or press-to-press gap over [`MAX_LATENCY_MS`].
pub fn parse_events(events: &[KeyEvent]) -> Result<KeystrokeSegment, KeystrokeError> {
    if events.len() > MAX_EVENTS {
        return Err(KeystrokeError::TooManyEvents {
            got: events.len(),
            max: MAX_EVENTS,
        });
    }
    for (index, e) in events.iter().enumerate() {
        for value in [e.press_ms, e.release_ms] {
            if !value.is_finite() {
                return Err(KeystrokeError::NotFinite { index });
            }
            if !(0.0..=MAX_TIMESTAMP_MS).contains(&value) {
                return Err(KeystrokeError::OutOfRange { index });
            }
        }
        let hold = e.release_ms - e.press_ms;
        if hold < 0.0 {
            return Err(KeystrokeError::ReleaseBeforePress { index });
        }
        if hold > MAX_LATENCY_MS {
            return Err(KeystrokeError::ImplausibleLatency {
                index,
                latency_ms: hold,
            });
        }
        if index > 0 {
            let prev = events[index - 1];
            let gap = e.press_ms - prev.press_ms;
            if gap < 0.0 {
                return Err(KeystrokeError::OutOfOrder { index });
            }
            if gap == 0.0 && e.class == prev.class {
                return Err(KeystrokeError::DuplicateEvent { index });
            }
            if gap > MAX_LATENCY_MS {
                return Err(KeystrokeError::ImplausibleLatency {
                    index,
                    latency_ms: gap,
                });
            }
        }
    }
    Ok(KeystrokeSegment {
        events: events.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(p: f64, r: f64) -> KeyEvent {
        KeyEvent {
            press_ms: p,
            release_ms: r,
            class: KeyClass::LeftHome,
        }
    }

    #[test]
    fn accepts_overlapping_keys() {
        // the second key goes down before the first comes up: normal rollover
        let seg = parse_events(&[ev(0.0, 120.0), ev(80.0, 150.0)]);
        assert!(seg.is_ok());
    }

    #[test]
    fn rejects_each_kind_of_bad_input() {
        let cases: Vec<(Vec<KeyEvent>, &str)> = vec![
            (vec![ev(0.0, 100.0), ev(-5.0, 10.0)], "out_of_range"),
            (vec![ev(100.0, 200.0), ev(50.0, 90.0)], "out_of_order"),
            (vec![ev(100.0, 90.0)], "release_before_press"),
            (vec![ev(0.0, f64::NAN)], "not_finite"),
            (vec![ev(0.0, f64::INFINITY)], "not_finite"),
            (vec![ev(0.0, 2e12)], "out_of_range"),
            (
                vec![ev(0.0, 100.0), ev(6000.0, 6100.0)],
                "implausible_latency",
            ),
            (vec![ev(0.0, 6000.0)], "implausible_latency"),
            (vec![ev(0.0, 100.0), ev(0.0, 100.0)], "duplicate_event"),
        ];
        for (events, code) in cases {
            let err = parse_events(&events).err();
            assert_eq!(err.map(|e| e.code()), Some(code), "{events:?}");
        }
    }

    #[test]
    fn keycode_table_matches_python() {
        // spot checks against models/keystroke/common.py::key_class
        assert_eq!(KeyClass::from_js_keycode(190), KeyClass::RightBottom);
        assert_eq!(KeyClass::from_js_keycode(84), KeyClass::LeftTop);
        assert_eq!(KeyClass::from_js_keycode(53), KeyClass::LeftNumber);
        assert_eq!(KeyClass::from_js_keycode(16), KeyClass::Modifier);
        assert_eq!(KeyClass::from_js_keycode(13), KeyClass::Edit);
        assert_eq!(KeyClass::from_js_keycode(32), KeyClass::Space);
        assert_eq!(KeyClass::from_js_keycode(0), KeyClass::Other);
        for (i, c) in KeyClass::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }
}
