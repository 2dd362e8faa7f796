//! Active factors: TOTP (RFC 6238), one-time codes through the platform (outbox + webhook),
//! PINs (Argon2id, OWASP parameters) and recovery codes. The maths is pure (`totp`, `codes`,
//! `qr`); `service` does enrolment and verification against the database; `outbox` delivers.
//!
//! Codes are single-use (a conditional UPDATE decides; exactly one concurrent submission wins),
//! compared in constant time, and never logged.

pub mod codes;
pub mod hashing;
pub mod outbox;
pub mod qr;
pub mod service;
pub mod totp;
pub mod webhook_guard;

pub use crate::policy::FactorKind;
