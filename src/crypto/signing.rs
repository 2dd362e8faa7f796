//! TEMPORARY stand-in for the lead's signer (TEAM.md "Shared interfaces"), so the consent
//! branch compiles before `src/crypto/signing.rs` lands on main. Same method signatures; an
//! in-memory Ed25519 key per process. On merge, main's file replaces this one entirely.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ring::{
    rand::SystemRandom,
    signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey},
};
use serde_json::{Value, json};

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
}

pub struct Signer {
    kid: String,
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<keys redacted>)")
    }
}

impl Signer {
    pub fn ephemeral() -> Result<Self, SigningError> {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| SigningError::Key("generate".into()))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| SigningError::Key("parse".into()))?;
        Ok(Self {
            kid: format!("tl-{}", hex::encode(&pair.public_key().as_ref()[..8])),
            pair,
        })
    }

    pub fn sign_jws(&self, claims: &Value, typ: &str) -> Result<String, SigningError> {
        let header = json!({"alg": "EdDSA", "kid": self.kid, "typ": typ});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = self.pair.sign(input.as_bytes());
        Ok(format!("{input}.{}", B64.encode(sig.as_ref())))
    }

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
        if header["kid"] != self.kid.as_str() || header["alg"] != "EdDSA" {
            return Err(SigningError::UnknownKey);
        }
        let sig = B64.decode(s).map_err(|_| SigningError::Malformed)?;
        UnparsedPublicKey::new(&ED25519, self.pair.public_key().as_ref())
            .verify(format!("{h}.{p}").as_bytes(), &sig)
            .map_err(|_| SigningError::BadSignature)?;
        serde_json::from_slice(&B64.decode(p).map_err(|_| SigningError::Malformed)?)
            .map_err(|_| SigningError::Malformed)
    }

    pub fn sign_detached(&self, message: &[u8]) -> (String, Vec<u8>) {
        (self.kid.clone(), self.pair.sign(message).as_ref().to_vec())
    }

    pub fn jwks(&self) -> Value {
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
            "kid": self.kid, "x": B64.encode(self.pair.public_key().as_ref())}]})
    }
}
