//! Service signing keys (Ed25519 via ring): compact JWS, detached signatures, JWKS, rotation.
//!
//! One key signs at a time; retired keys stay published in the JWKS until everything they
//! signed has expired (`retain`), so a verifier holding an older token or receipt still finds
//! its key. Private keys exist in the database only sealed under the master key, and a key row
//! is trusted only when its sealed half opens to its public key (see [`authenticate`]): a row
//! planted or edited by someone who can write the database but lacks the master key is refused,
//! left out of the JWKS and named by `trustline audit verify`.

use std::{sync::RwLock, time::Duration};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ring::{
    rand::{SecureRandom, SystemRandom},
    signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey},
};
use serde::Serialize;
use serde_json::{Value, json};

use super::envelope::{self, MasterKey};
use crate::store::{self, Db, StoreError, now_ms, signing_keys::StoredSigningKey};

/// How long a retired key stays in the JWKS by default: longer than any token, grant or tree
/// head signature is valid for. Receipts are verified with the key id they name; operators who
/// keep receipts longer export the JWKS with them.
pub const DEFAULT_RETAIN: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("signing key material is unusable: {0}")]
    Key(String),
    #[error("token is malformed")]
    Malformed,
    #[error("token is signed by an unknown key")]
    UnknownKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct ActiveKey {
    kid: String,
    pair: Ed25519KeyPair,
}

struct PublishedKey {
    kid: String,
    public_key: Vec<u8>,
}

struct Keys {
    active: ActiveKey,
    /// In the JWKS: active and recently retired keys.
    published: Vec<PublishedKey>,
    /// Every key ever used, for verifying what this service signed long ago (tree heads,
    /// receipts); expiry of what was signed is the caller's check, not key age.
    all: Vec<PublishedKey>,
    /// Rows whose sealed private half does not open under the master key to their public key:
    /// planted or swapped by someone who can write the database. Never trusted, never published.
    refused: Vec<RefusedKey>,
}

/// A signing-key row that failed authentication, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedKey {
    pub kid: String,
    pub reason: String,
}

/// Split rows into those authenticated by the master key (with their opened key pair) and
/// refused ones. A row is authentic only when its sealed half opens under the master key *and*
/// the opened private key's public half is the row's public key: without the master key
/// nobody can seal a private half, so a planted row fails the first test and a row whose
/// public key was swapped for another fails the second.
fn authenticate(
    master: &MasterKey,
    rows: Vec<StoredSigningKey>,
) -> (Vec<(StoredSigningKey, Ed25519KeyPair)>, Vec<RefusedKey>) {
    let mut authentic = Vec::new();
    let mut refused = Vec::new();
    for row in rows {
        match open_key(master, &row) {
            Ok(pair) if pair.public_key().as_ref() == row.public_key.as_slice() => {
                authentic.push((row, pair));
            }
            Ok(_) => refused.push(RefusedKey {
                kid: row.kid,
                reason: "its public key is not the public half of its sealed private key (swapped)"
                    .into(),
            }),
            Err(_) => refused.push(RefusedKey {
                kid: row.kid,
                reason: "its sealed private half does not open under the master key (planted)"
                    .into(),
            }),
        }
    }
    (authentic, refused)
}

pub struct Signer {
    keys: RwLock<Keys>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<keys redacted>)")
    }
}

fn owner() -> Vec<u8> {
    envelope::context("*", "*", "signing-key")
}

fn new_key(master: &MasterKey) -> Result<StoredSigningKey, SigningError> {
    let rng = SystemRandom::new();
    let pkcs8 =
        Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| SigningError::Key("generate".into()))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| SigningError::Key("parse".into()))?;
    let mut id = [0u8; 8];
    rng.fill(&mut id)
        .map_err(|_| SigningError::Key("random".into()))?;
    let (data_key, wrapped) = master
        .new_data_key(&owner())
        .map_err(|e| SigningError::Key(e.to_string()))?;
    // The PKCS#8 document is sealed under a fresh data key, which is itself wrapped: the stored
    // blob is wrapped_len(u16) || wrapped || sealed.
    let sealed = data_key
        .seal(&owner(), pkcs8.as_ref())
        .map_err(|e| SigningError::Key(e.to_string()))?;
    let mut blob = (wrapped.len() as u16).to_be_bytes().to_vec();
    blob.extend_from_slice(&wrapped);
    blob.extend_from_slice(&sealed);
    Ok(StoredSigningKey {
        kid: format!("tl-{}", hex::encode(id)),
        public_key: pair.public_key().as_ref().to_vec(),
        sealed_private: blob,
        created_at: now_ms(),
        retired_at: None,
        unpublish_at: None,
    })
}

fn open_key(master: &MasterKey, stored: &StoredSigningKey) -> Result<Ed25519KeyPair, SigningError> {
    let blob = &stored.sealed_private;
    let bad = || {
        SigningError::Key(format!(
            "key {} does not open under this master key",
            stored.kid
        ))
    };
    if blob.len() < 2 {
        return Err(bad());
    }
    let wrapped_len = u16::from_be_bytes([blob[0], blob[1]]) as usize;
    let (wrapped, sealed) = blob[2..].split_at_checked(wrapped_len).ok_or_else(bad)?;
    let data_key = master
        .unwrap_data_key(&owner(), wrapped)
        .map_err(|_| bad())?;
    let pkcs8 = data_key.open(&owner(), sealed).map_err(|_| bad())?;
    Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| bad())
}

impl Signer {
    /// Load the published keys; create the first key on a fresh database.
    pub async fn load(db: &Db, master: &MasterKey) -> Result<Self, SigningError> {
        let keys = Self::read_keys(db, master).await?;
        Ok(Self {
            keys: RwLock::new(keys),
        })
    }

    async fn read_keys(db: &Db, master: &MasterKey) -> Result<Keys, SigningError> {
        let now = now_ms();
        let (mut authentic, mut refused) =
            authenticate(master, store::signing_keys::all(db).await?);
        if authentic.is_empty() && !refused.is_empty() {
            // Not one row opens: far more likely the wrong master key than a table of planted
            // rows. Making a key now would retire every genuine one, so refuse to start.
            let kids: Vec<&str> = refused.iter().map(|k| k.kid.as_str()).collect();
            return Err(SigningError::Key(format!(
                "no signing key row opens under this master key (wrong master key?); refused: {}",
                kids.join(", ")
            )));
        }
        if !authentic.iter().any(|(k, _)| k.retired_at.is_none()) {
            // No authentic active key (a fresh database, or only planted rows are active):
            // make one; rotating it in retires every other active row.
            let key = new_key(master)?;
            store::signing_keys::rotate_in(db, &key, now + DEFAULT_RETAIN.as_millis() as i64)
                .await?;
            (authentic, refused) = authenticate(master, store::signing_keys::all(db).await?);
        }
        for key in &refused {
            tracing::error!(kid = %key.kid, reason = %key.reason, "signing key row refused: not authenticated by the master key");
        }
        // Newest active key signs (two instances starting at once may each have made one).
        let (active, pair) = authentic
            .iter()
            .position(|(k, _)| k.retired_at.is_none())
            .map(|i| authentic.swap_remove(i))
            .ok_or_else(|| SigningError::Key("no active signing key".into()))?;
        let published_at_now =
            |k: &StoredSigningKey| k.unpublish_at.is_none_or(|until| until > now);
        let public = |k: &StoredSigningKey| PublishedKey {
            kid: k.kid.clone(),
            public_key: k.public_key.clone(),
        };
        let mut published = vec![public(&active)];
        published.extend(
            authentic
                .iter()
                .map(|(k, _)| k)
                .filter(|k| published_at_now(k))
                .map(public),
        );
        let mut all = vec![public(&active)];
        all.extend(authentic.iter().map(|(k, _)| public(k)));
        Ok(Keys {
            all,
            published,
            refused,
            active: ActiveKey {
                kid: active.kid.clone(),
                pair,
            },
        })
    }

    /// Re-read keys (after a rotation by another process).
    pub async fn reload(&self, db: &Db, master: &MasterKey) -> Result<(), SigningError> {
        let keys = Self::read_keys(db, master).await?;
        if let Ok(mut guard) = self.keys.write() {
            *guard = keys;
        }
        Ok(())
    }

    /// Make a new active key; the old one keeps verifying for `retain`.
    pub async fn rotate(
        db: &Db,
        master: &MasterKey,
        retain: Duration,
    ) -> Result<String, SigningError> {
        let key = new_key(master)?;
        store::signing_keys::rotate_in(db, &key, now_ms() + retain.as_millis() as i64).await?;
        Ok(key.kid)
    }

    fn with_keys<R>(&self, f: impl FnOnce(&Keys) -> R) -> R {
        match self.keys.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// Key rows refused at the last load (see [`authenticate`]); `audit verify` names them.
    pub fn refused_keys(&self) -> Vec<RefusedKey> {
        self.with_keys(|k| k.refused.clone())
    }

    pub fn active_kid(&self) -> String {
        self.with_keys(|k| k.active.kid.clone())
    }

    /// Compact JWS (RFC 7515) with alg EdDSA, the active kid and `typ`.
    pub fn sign_jws(&self, claims: &Value, typ: &str) -> Result<String, SigningError> {
        self.with_keys(|keys| {
            let header = json!({"alg": "EdDSA", "kid": keys.active.kid, "typ": typ});
            let signing_input = format!(
                "{}.{}",
                B64.encode(serde_json::to_vec(&header).map_err(|_| SigningError::Malformed)?),
                B64.encode(serde_json::to_vec(claims).map_err(|_| SigningError::Malformed)?)
            );
            let signature = keys.active.pair.sign(signing_input.as_bytes());
            Ok(format!(
                "{signing_input}.{}",
                B64.encode(signature.as_ref())
            ))
        })
    }

    /// Verify a compact JWS signed by any published key; returns its claims. Callers check
    /// expiry, audience and type: what is valid depends on what the token is for.
    pub fn verify_jws(&self, token: &str) -> Result<Value, SigningError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SigningError::Malformed);
        };
        let header: Value =
            serde_json::from_slice(&B64.decode(h).map_err(|_| SigningError::Malformed)?)
                .map_err(|_| SigningError::Malformed)?;
        if header["alg"] != "EdDSA" {
            return Err(SigningError::Malformed);
        }
        let kid = header["kid"].as_str().ok_or(SigningError::Malformed)?;
        let signature = B64.decode(s).map_err(|_| SigningError::Malformed)?;
        self.verify_detached(kid, format!("{h}.{p}").as_bytes(), &signature)?;
        serde_json::from_slice(&B64.decode(p).map_err(|_| SigningError::Malformed)?)
            .map_err(|_| SigningError::Malformed)
    }

    /// Sign arbitrary bytes (tree heads, receipts); returns the key id and signature.
    pub fn sign_detached(&self, message: &[u8]) -> (String, Vec<u8>) {
        self.with_keys(|keys| {
            (
                keys.active.kid.clone(),
                keys.active.pair.sign(message).as_ref().to_vec(),
            )
        })
    }

    pub fn verify_detached(
        &self,
        kid: &str,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SigningError> {
        let public = self
            .with_keys(|keys| {
                keys.all
                    .iter()
                    .find(|k| k.kid == kid)
                    .map(|k| k.public_key.clone())
            })
            .ok_or(SigningError::UnknownKey)?;
        UnparsedPublicKey::new(&ED25519, public)
            .verify(message, signature)
            .map_err(|_| SigningError::BadSignature)
    }

    /// RFC 7517 JWK Set of every published key (RFC 8037 OKP / Ed25519).
    pub fn jwks(&self) -> Value {
        self.with_keys(|keys| {
            let keys: Vec<Value> = keys
                .published
                .iter()
                .map(|k| json!({"kty": "OKP", "crv": "Ed25519", "x": B64.encode(&k.public_key), "kid": k.kid, "use": "sig", "alg": "EdDSA"}))
                .collect();
            json!({ "keys": keys })
        })
    }
}
