//! `trustline eval …`: corpora, protocols, EER/DET, plots.

pub mod keystroke;
pub mod metrics;
