//! Envelope encryption: a random AES-256-GCM data key per customer, wrapped by the master key.
//!
//! Templates are sealed under the customer's data key; the data key is stored only wrapped.
//! Destroying the wrapped key (a customer's erasure request, BIPA retention) makes every
//! template sealed under it unreadable, even in backups. Associated data binds each ciphertext
//! to its tenant, customer and use, so a row copied onto another customer fails to open.

use ring::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom, SystemRandom},
};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("no secure random numbers available")]
    Random,
    #[error("ciphertext does not open under this key (wrong key, wrong owner, or tampered)")]
    Open,
    #[error("key material has the wrong length")]
    KeyLength,
}

/// The master key (from configuration or the data directory). Wraps data keys, and derives
/// (HKDF-SHA256) the few keys that must not live in the database: the checkpoint signing key.
pub struct MasterKey(LessSafeKey, ring::hkdf::Prk);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, EnvelopeError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| EnvelopeError::KeyLength)?;
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"trustline master key v1")
            .extract(bytes);
        Ok(Self(LessSafeKey::new(key), prk))
    }

    /// 32 bytes derived for one named purpose (HKDF-SHA256 expand with `purpose` as info):
    /// stable for as long as the master key is, and independent of every other purpose.
    pub fn derive(&self, purpose: &[u8]) -> Result<Zeroizing<[u8; 32]>, EnvelopeError> {
        struct Len32;
        impl ring::hkdf::KeyType for Len32 {
            fn len(&self) -> usize {
                32
            }
        }
        let mut out = Zeroizing::new([0u8; 32]);
        self.1
            .expand(&[purpose], Len32)
            .and_then(|okm| okm.fill(out.as_mut()))
            .map_err(|_| EnvelopeError::KeyLength)?;
        Ok(out)
    }

    /// Make a fresh data key and return it together with its wrapped form for storage.
    pub fn new_data_key(&self, owner: &[u8]) -> Result<(DataKey, Vec<u8>), EnvelopeError> {
        let rng = SystemRandom::new();
        let mut raw = Zeroizing::new([0u8; 32]);
        rng.fill(raw.as_mut()).map_err(|_| EnvelopeError::Random)?;
        let wrapped = seal(&self.0, &rng, owner, raw.as_ref())?;
        Ok((DataKey::from_bytes(&raw)?, wrapped))
    }

    pub fn unwrap_data_key(&self, owner: &[u8], wrapped: &[u8]) -> Result<DataKey, EnvelopeError> {
        let raw = Zeroizing::new(open(&self.0, owner, wrapped)?);
        let array: &[u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| EnvelopeError::KeyLength)?;
        DataKey::from_bytes(array)
    }
}

/// A customer's data key, in memory only while it is used.
pub struct DataKey(LessSafeKey);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    fn from_bytes(bytes: &[u8; 32]) -> Result<Self, EnvelopeError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| EnvelopeError::KeyLength)?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// `nonce || ciphertext || tag`, bound to `context` (tenant, customer, use).
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        seal(&self.0, &SystemRandom::new(), context, plaintext)
    }

    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        open(&self.0, context, sealed).map(Zeroizing::new)
    }
}

fn seal(
    key: &LessSafeKey,
    rng: &dyn SecureRandom,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    // Random 96-bit nonces: safe for far more than the 2^32 seals one key will ever see here.
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce).map_err(|_| EnvelopeError::Random)?;
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
    out.extend_from_slice(&nonce);
    let mut body = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut body,
    )
    .map_err(|_| EnvelopeError::Open)?;
    out.extend_from_slice(&body);
    Ok(out)
}

fn open(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(EnvelopeError::Open);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| EnvelopeError::Open)?;
    let mut body = body.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad), &mut body)
        .map_err(|_| EnvelopeError::Open)?;
    Ok(plain.to_vec())
}

/// The associated data that binds a sealed value to its owner and use.
pub fn context(tenant: &str, customer: &str, purpose: &str) -> Vec<u8> {
    // Length-prefixed so ("ab","c") and ("a","bc") differ.
    let mut out = Vec::new();
    for part in [tenant, customer, purpose] {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterKey {
        MasterKey::from_bytes(&[7u8; 32]).expect("key")
    }

    #[test]
    fn sealed_templates_open_only_for_their_owner() {
        let owner = context("t1", "c1", "data-key");
        let (key, wrapped) = master().new_data_key(&owner).expect("key");
        let ctx = context("t1", "c1", "voice");
        let sealed = key.seal(&ctx, b"template bytes").expect("seal");
        assert_eq!(
            key.open(&ctx, &sealed).expect("open").as_slice(),
            b"template bytes"
        );

        // Another customer's context, or a flipped bit, does not open.
        assert_eq!(
            key.open(&context("t1", "c2", "voice"), &sealed),
            Err(EnvelopeError::Open)
        );
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert_eq!(key.open(&ctx, &tampered), Err(EnvelopeError::Open));

        // The wrapped key unwraps to the same key only for its owner and only with the master.
        let again = master().unwrap_data_key(&owner, &wrapped).expect("unwrap");
        assert_eq!(
            again.open(&ctx, &sealed).expect("open").as_slice(),
            b"template bytes"
        );
        assert!(
            master()
                .unwrap_data_key(&context("t2", "c1", "data-key"), &wrapped)
                .is_err()
        );
        let other_master = MasterKey::from_bytes(&[8u8; 32]).expect("key");
        assert!(other_master.unwrap_data_key(&owner, &wrapped).is_err());
    }

    #[test]
    fn context_is_unambiguous() {
        assert_ne!(context("ab", "c", "x"), context("a", "bc", "x"));
    }
}
