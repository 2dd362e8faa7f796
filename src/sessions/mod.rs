//! Sessions: the pure decision engine (`engine`) and the service that does the I/O around it.

pub mod engine;

pub use engine::{
    BiometricScore, CustomerState, Decision, DecisionInput, Evidence, FactorAttempt, LockoutState,
    Outcome, PolicyRef, StepUp, decide,
};
