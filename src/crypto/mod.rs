//! Cryptography the service owns: envelope encryption of biometric templates and the master key.

pub mod customer_key;
pub mod envelope;
pub mod master;
pub mod note;
pub mod signing;
