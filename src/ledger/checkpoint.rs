//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the signed tree heads that leave
//! the database. Pure: the body format, parsing, and the per-tenant origin and log key.
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <root hash, base64>\n
//! \n
//! — <key name> <base64(key hash || Ed25519 signature)>\n
//! ```
//!
//! The log key is derived from the master key (not stored in the database), so someone who can
//! write the database cannot sign a checkpoint; the key name is the tenant's origin.

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};

use super::merkle::Hash;
use crate::crypto::note::{ALG_ED25519, Note, NoteError, NoteSigner, VerifierKey};

/// The checkpoint a signed note carries (extension lines are kept, never interpreted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("the checkpoint body is malformed: {0}")]
    Body(&'static str),
}

impl Checkpoint {
    /// The note text: origin, size, root, extension lines.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        out
    }

    /// Parse a note text as a checkpoint body.
    pub fn from_text(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Body("does not end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(CheckpointError::Body("no origin line"))?;
        let size = lines.next().ok_or(CheckpointError::Body("no size line"))?;
        // Decimal without sign or leading zeros, as the spec says.
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(CheckpointError::Body("the size is not a decimal number"));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| CheckpointError::Body("the size does not fit 64 bits"))?;
        let root = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| Hash::try_from(r.as_slice()).ok())
            .ok_or(CheckpointError::Body(
                "the root is not a base64 SHA-256 hash",
            ))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(CheckpointError::Body("an empty extension line"));
        }
        Ok(Self {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }
}

/// A checkpoint and the signed note it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: Note,
}

/// The parser the verifiers (and fuzzers) use: a signed note whose text is a checkpoint.
/// Checks form only; signatures are checked by [`verify`].
pub fn parse(bytes: &[u8]) -> Result<SignedCheckpoint, CheckpointError> {
    let note = Note::parse(bytes)?;
    let checkpoint = Checkpoint::from_text(&note.text)?;
    Ok(SignedCheckpoint { checkpoint, note })
}

/// Parse and check the log's signature.
pub fn verify(bytes: &[u8], log_key: &VerifierKey) -> Result<SignedCheckpoint, CheckpointError> {
    let signed = parse(bytes)?;
    log_key.verify(&signed.note)?;
    Ok(signed)
}

/// The tenant's log origin: `<prefix>/<tenant>` (a schema-less URL, usable as a key name).
pub fn origin(prefix: &str, tenant: &str) -> String {
    format!("{}/{tenant}", prefix.trim_end_matches('/'))
}

/// The checkpoint signer of one tenant's log: the service's checkpoint key under the origin.
pub fn log_signer(seed: &[u8; 32], origin: &str) -> Result<NoteSigner, NoteError> {
    NoteSigner::from_seed(origin, ALG_ED25519, seed)
}

/// Sign a checkpoint as a note with the log's signature only.
pub fn sign(signer: &NoteSigner, checkpoint: &Checkpoint) -> Note {
    let text = checkpoint.text();
    Note {
        signatures: vec![signer.sign(&text)],
        text,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signs_parses_and_verifies() {
        let origin = origin("trustline.example/log/", "acme");
        assert_eq!(origin, "trustline.example/log/acme");
        let signer = log_signer(&[7; 32], &origin).unwrap();
        let cp = Checkpoint {
            origin: origin.clone(),
            size: 12,
            root: [9; 32],
            extensions: vec![],
        };
        let bytes = sign(&signer, &cp).encode();
        assert!(bytes.starts_with("trustline.example/log/acme\n12\nCQkJ"));
        let parsed = verify(bytes.as_bytes(), signer.verifier()).unwrap();
        assert_eq!(parsed.checkpoint, cp);
        let other = log_signer(&[8; 32], &origin).unwrap();
        assert!(verify(bytes.as_bytes(), other.verifier()).is_err());
    }

    #[test]
    fn refuses_malformed_bodies() {
        for text in [
            "o\n12\n",
            "\n12\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n",
            "o\n012\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n",
            "o\n-1\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n",
            "o\n99999999999999999999\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n",
            "o\n1\nCQkJ\n",
            "o\n1\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=",
            "o\n1\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n\nx\n",
        ] {
            assert!(Checkpoint::from_text(text).is_err(), "{text:?}");
        }
        let ok = Checkpoint::from_text("o\n0\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\next\n")
            .unwrap();
        assert_eq!((ok.size, ok.extensions.len()), (0, 1));
    }
}
