//! Passive biometrics: models, and (in their own modules) voice and keystroke scoring.

pub mod keystroke;
pub mod models;
