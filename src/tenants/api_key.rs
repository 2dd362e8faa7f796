//! Platform API keys: `tlk_<key id>_<secret>`.
//!
//! The key id is public and indexes the row; the 256-bit secret is shown once and only its
//! SHA-256 is stored. A slow password hash buys nothing for a uniformly random 256-bit secret,
//! and a fast one keeps authentication off the critical path. Comparison is constant-time.

use base64::Engine as _;
use ring::{digest, rand::SecureRandom};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

const PREFIX: &str = "tlk_";
const KEY_ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

/// A freshly minted key: the full text is shown to the operator once, then dropped.
pub struct NewApiKey {
    pub key_id: String,
    pub secret_hash: Vec<u8>,
    pub full_key: Zeroizing<String>,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiKeyError {
    #[error("the API key is not in the form tlk_<id>_<secret>")]
    Malformed,
    #[error("no secure random numbers available")]
    Random,
}

pub fn generate(rng: &dyn SecureRandom) -> Result<NewApiKey, ApiKeyError> {
    let mut id = [0u8; KEY_ID_BYTES];
    let mut secret = Zeroizing::new([0u8; SECRET_BYTES]);
    rng.fill(&mut id).map_err(|_| ApiKeyError::Random)?;
    rng.fill(secret.as_mut()).map_err(|_| ApiKeyError::Random)?;
    let key_id = hex::encode(id);
    let secret_text =
        Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret.as_ref()));
    Ok(NewApiKey {
        secret_hash: hash_secret(&secret_text),
        full_key: Zeroizing::new(format!("{PREFIX}{key_id}_{}", secret_text.as_str())),
        key_id,
    })
}

/// A presented key, split into its public id and its secret.
pub struct PresentedKey<'a> {
    pub key_id: &'a str,
    secret: &'a str,
}

pub fn parse(presented: &str) -> Result<PresentedKey<'_>, ApiKeyError> {
    let rest = presented
        .strip_prefix(PREFIX)
        .ok_or(ApiKeyError::Malformed)?;
    let (key_id, secret) = rest.split_once('_').ok_or(ApiKeyError::Malformed)?;
    let id_ok = key_id.len() == KEY_ID_BYTES * 2 && key_id.bytes().all(|b| b.is_ascii_hexdigit());
    // 32 bytes in unpadded base64url is 43 characters.
    let secret_ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok || !secret_ok {
        return Err(ApiKeyError::Malformed);
    }
    Ok(PresentedKey { key_id, secret })
}

impl PresentedKey<'_> {
    /// Constant-time comparison against the stored hash.
    pub fn matches(&self, stored_hash: &[u8]) -> bool {
        hash_secret(self.secret).ct_eq(stored_hash).into()
    }
}

fn hash_secret(secret: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn a_generated_key_parses_and_matches_only_its_hash() {
        let rng = SystemRandom::new();
        let key = generate(&rng).expect("random");
        let other = generate(&rng).expect("random");
        let presented = parse(&key.full_key).expect("well formed");
        assert_eq!(presented.key_id, key.key_id);
        assert!(presented.matches(&key.secret_hash));
        assert!(!presented.matches(&other.secret_hash));
        assert!(!format!("{key:?}").contains(key.full_key.as_str()));
    }

    #[test]
    fn malformed_keys_are_rejected() {
        for bad in [
            "",
            "tlk_",
            "tlk_abc_def",
            "sk_0011223344556677_x",
            "tlk_0011223344556677_short",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
