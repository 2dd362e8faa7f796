//! TOTP, RFC 6238 (HOTP, RFC 4226, over time steps), on ring's HMAC. Pure.
//!
//! Verification accepts the current step and `skew` steps either side, compares in constant
//! time, and returns the matched step: the caller stores it and refuses any step at or below it
//! (RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the OTP after the
//! successful validation has been issued for the first OTP").

use ring::hmac;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Algorithm {
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
    #[serde(rename = "SHA512")]
    Sha512,
}

impl Algorithm {
    fn ring(self) -> hmac::Algorithm {
        match self {
            // RFC 6238's default; HMAC-SHA1 remains sound for HOTP (RFC 4226 appendix A).
            Algorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::Sha256 => hmac::HMAC_SHA256,
            Algorithm::Sha512 => hmac::HMAC_SHA512,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "SHA1" => Some(Algorithm::Sha1),
            "SHA256" => Some(Algorithm::Sha256),
            "SHA512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// TOTP parameters for one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub algorithm: Algorithm,
    pub digits: u32,
    pub period_secs: u64,
}

impl Default for Params {
    /// What authenticator apps support universally: SHA1, 6 digits, 30 s.
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Sha1,
            digits: 6,
            period_secs: 30,
        }
    }
}

/// RFC 4226 HOTP with dynamic truncation.
pub fn hotp(key: &[u8], counter: u64, digits: u32, algorithm: Algorithm) -> String {
    let key = hmac::Key::new(algorithm.ring(), key);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let binary = ((u32::from(mac[offset]) & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    let modulus = 10u64.pow(digits);
    format!(
        "{:0width$}",
        u64::from(binary) % modulus,
        width = digits as usize
    )
}

/// The time step of `unix_secs` (T0 = 0).
pub fn step(unix_secs: u64, period_secs: u64) -> u64 {
    unix_secs / period_secs.max(1)
}

pub fn totp_at(key: &[u8], unix_secs: u64, params: Params) -> String {
    hotp(
        key,
        step(unix_secs, params.period_secs),
        params.digits,
        params.algorithm,
    )
}

/// Find the step (within `skew` of now) whose code equals `code`, comparing every candidate in
/// constant time. Returns None for no match or a malformed code.
pub fn verify(key: &[u8], code: &str, unix_secs: u64, params: Params, skew: u64) -> Option<u64> {
    if code.len() != params.digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step(unix_secs, params.period_secs);
    let mut found = None;
    for candidate in now.saturating_sub(skew)..=now.saturating_add(skew) {
        let expected = hotp(key, candidate, params.digits, params.algorithm);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(candidate);
        }
    }
    found
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (the otpauth `secret` parameter).
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer = 0u32;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(BASE32[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn uri_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The Key Uri Format authenticator apps scan:
/// `otpauth://totp/<issuer>:<account>?secret=..&issuer=..&algorithm=..&digits=..&period=..`.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8], params: Params) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm={}&digits={}&period={}",
        uri_escape(issuer),
        uri_escape(account),
        base32(secret),
        uri_escape(issuer),
        params.algorithm.as_str(),
        params.digits,
        params.period_secs
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the seeds are the ASCII string "1234567890" repeated to the hash's
    /// block size (20, 32, 64 bytes), 8 digits, 30 s steps.
    pub(crate) fn rfc6238_vectors() -> Vec<(u64, Algorithm, &'static str)> {
        vec![
            (59, Algorithm::Sha1, "94287082"),
            (59, Algorithm::Sha256, "46119246"),
            (59, Algorithm::Sha512, "90693936"),
            (1111111109, Algorithm::Sha1, "07081804"),
            (1111111109, Algorithm::Sha256, "68084774"),
            (1111111109, Algorithm::Sha512, "25091201"),
            (1111111111, Algorithm::Sha1, "14050471"),
            (1111111111, Algorithm::Sha256, "67062674"),
            (1111111111, Algorithm::Sha512, "99943326"),
            (1234567890, Algorithm::Sha1, "89005924"),
            (1234567890, Algorithm::Sha256, "91819424"),
            (1234567890, Algorithm::Sha512, "93441116"),
            (2000000000, Algorithm::Sha1, "69279037"),
            (2000000000, Algorithm::Sha256, "90698825"),
            (2000000000, Algorithm::Sha512, "38618901"),
            (20000000000, Algorithm::Sha1, "65353130"),
            (20000000000, Algorithm::Sha256, "77737706"),
            (20000000000, Algorithm::Sha512, "47863826"),
        ]
    }

    fn seed(algorithm: Algorithm) -> Vec<u8> {
        let len = match algorithm {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        };
        b"1234567890".iter().copied().cycle().take(len).collect()
    }

    #[test]
    fn rfc6238_appendix_b_vectors() {
        for (time, algorithm, expected) in rfc6238_vectors() {
            let params = Params {
                algorithm,
                digits: 8,
                period_secs: 30,
            };
            let got = totp_at(&seed(algorithm), time, params);
            println!(
                "RFC 6238 T={time:<11} {:<6} expected {expected} got {got}",
                algorithm.as_str()
            );
            assert_eq!(got, expected, "T={time} {algorithm:?}");
        }
    }

    #[test]
    fn rfc4226_appendix_d_hotp() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(
                hotp(b"12345678901234567890", counter as u64, 6, Algorithm::Sha1),
                *want
            );
        }
    }

    #[test]
    fn verify_accepts_the_window_and_nothing_else() {
        let key = b"12345678901234567890";
        let p = Params::default();
        let now = 1_700_000_000;
        let code = totp_at(key, now, p);
        assert_eq!(verify(key, &code, now, p, 1), Some(step(now, 30)));
        // previous step still accepted with skew 1, two steps back refused
        assert_eq!(verify(key, &code, now + 30, p, 1), Some(step(now, 30)));
        assert_eq!(verify(key, &code, now + 90, p, 1), None);
        assert_eq!(verify(key, "12345", now, p, 1), None);
        assert_eq!(verify(key, "abcdef", now, p, 1), None);
    }

    #[test]
    fn base32_and_uri() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        let uri = otpauth_uri(
            "Acme Bank",
            "cust 1",
            b"12345678901234567890",
            Params::default(),
        );
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Bank:cust%201?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Bank&algorithm=SHA1&digits=6&period=30"
        );
    }
}
