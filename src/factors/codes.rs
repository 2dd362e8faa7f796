//! Secrets for the code factors: generation, hashing, constant-time comparison. Pure.
//!
//! * One-time codes (6 digits) and recovery codes (10 base32 characters, ~50 bits) are stored
//!   as SHA-256 over a per-row salt and the code; comparison is constant-time.
//! * PINs are hashed with Argon2id at OWASP's minimum: m = 19 456 KiB (19 MiB), t = 2, p = 1
//!   (OWASP Password Storage Cheat Sheet). Hashing is slow on purpose: call it in
//!   `spawn_blocking`.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use ring::{
    digest,
    rand::{SecureRandom, SystemRandom},
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodeError {
    #[error("no secure random numbers available")]
    Random,
    #[error("a PIN is 6 to 12 digits")]
    PinFormat,
    #[error("password hashing failed")]
    Hash,
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], CodeError> {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| CodeError::Random)?;
    Ok(b)
}

/// A uniformly random numeric code of `digits` digits (rejection sampling, no modulo bias).
pub fn numeric_code(digits: u32) -> Result<Zeroizing<String>, CodeError> {
    let modulus = 10u32.pow(digits);
    let limit = u32::MAX - (u32::MAX % modulus);
    loop {
        let v = u32::from_be_bytes(random_bytes::<4>()?);
        if v < limit {
            return Ok(Zeroizing::new(format!(
                "{:0width$}",
                v % modulus,
                width = digits as usize
            )));
        }
    }
}

const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789-";

/// Ten recovery codes shaped `xxxxx-xxxxx` (lower-case base32 without confusable letters).
pub fn recovery_codes(count: usize) -> Result<Vec<Zeroizing<String>>, CodeError> {
    (0..count)
        .map(|_| {
            let bytes = random_bytes::<10>()?;
            let mut s = Zeroizing::new(String::with_capacity(11));
            for (i, b) in bytes.iter().enumerate() {
                if i == 5 {
                    s.push('-');
                }
                // 31 symbols excluding '-': index into the first 31.
                s.push(RECOVERY_ALPHABET[(*b as usize) % 31] as char);
            }
            Ok(s)
        })
        .collect()
}

/// Normalise what a customer typed: lower case, no spaces.
pub fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// SHA-256(salt || code): the stored form of a one-time or recovery code.
pub fn code_hash(salt: &[u8], code: &str) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(salt);
    ctx.update(code.as_bytes());
    ctx.finish().as_ref().to_vec()
}

pub fn hash_matches(salt: &[u8], code: &str, stored: &[u8]) -> bool {
    code_hash(salt, code).ct_eq(stored).into()
}

/// OWASP: Argon2id, m = 19 MiB, t = 2, p = 1.
fn argon2() -> Result<Argon2<'static>, CodeError> {
    let params = argon2::Params::new(19_456, 2, 1, None).map_err(|_| CodeError::Hash)?;
    Ok(Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params,
    ))
}

pub fn check_pin_format(pin: &str) -> Result<(), CodeError> {
    if (6..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(CodeError::PinFormat)
    }
}

/// PHC string of the PIN (blocking: ~20-50 ms).
pub fn hash_pin(pin: &str) -> Result<String, CodeError> {
    check_pin_format(pin)?;
    let salt_bytes = random_bytes::<16>()?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| CodeError::Hash)?;
    Ok(argon2()?
        .hash_password(pin.as_bytes(), &salt)
        .map_err(|_| CodeError::Hash)?
        .to_string())
}

/// Verify a PIN against its PHC string (blocking). The argon2 crate compares in constant time.
pub fn verify_pin(pin: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(a) = argon2() else { return false };
    a.verify_password(pin.as_bytes(), &parsed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_codes_have_the_right_shape() {
        for _ in 0..50 {
            let c = numeric_code(6).unwrap();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalise() {
        let codes = recovery_codes(10).unwrap();
        assert_eq!(codes.len(), 10);
        let mut set: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
        set.sort();
        set.dedup();
        assert_eq!(set.len(), 10);
        assert_eq!(codes[0].len(), 11);
        assert_eq!(normalise(" ABCde-FGhij "), "abcde-fghij");
        let h = code_hash(b"salt", &codes[0]);
        assert!(hash_matches(b"salt", &codes[0], &h));
        assert!(!hash_matches(b"salt", &codes[1], &h));
    }

    #[test]
    fn pins_hash_with_owasp_argon2id_and_verify() {
        let phc = hash_pin("493817").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_pin("493817", &phc));
        assert!(!verify_pin("493818", &phc));
        assert_eq!(hash_pin("12ab56"), Err(CodeError::PinFormat));
        assert_eq!(hash_pin("123"), Err(CodeError::PinFormat));
    }
}
