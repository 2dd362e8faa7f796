//! Sessions: the pure decision engine (`engine`) and the service that does the I/O around it
//! (`service`: load through `store/`, score, call the engine, store, audit, sign).

pub mod attempts;
pub mod audit;
pub mod engine;
pub mod service;

pub use engine::{
    BiometricScore, CustomerState, Decision, DecisionInput, Evidence, FactorAttempt, LockoutState,
    Outcome, PolicyRef, StepUp, decide,
};
pub use service::{EvidenceInput, SessionError, SessionView};
