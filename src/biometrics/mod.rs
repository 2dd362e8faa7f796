//! Passive biometrics: models, audio front end, and (in their own modules) voice and keystroke
//! scoring.

pub mod audio;
pub mod keystroke;
pub mod models;
pub mod scorer;
pub mod templates;
pub mod voice;
