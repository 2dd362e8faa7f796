//! C2SP signed notes (<https://c2sp.org/signed-note>): a UTF-8 text followed by a blank line
//! and signature lines `— <key name> <base64(4-byte key hash || signature)>`, with Ed25519 log
//! keys (algorithm 0x01) and `cosignature/v1` witness keys (algorithm 0x04,
//! <https://c2sp.org/tlog-cosignature>). Pure: parsing, encoding, signing and verifying.
//!
//! The format is the one `golang.org/x/mod/sumdb/note` reads; a note this module writes opens
//! with that library unchanged (tested with Debian's copy of it).

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

/// Ed25519 note signature (the log's own key).
pub const ALG_ED25519: u8 = 0x01;
/// Witness cosignature: the signature is `timestamp (u64 BE seconds) || Ed25519(message)`.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Upper bound on a note we read: far above any checkpoint, small enough to refuse floods.
pub const MAX_NOTE_BYTES: usize = 16 * 1024;
/// As golang.org/x/mod/sumdb/note.
const MAX_SIGNATURES: usize = 100;
const SIG_PREFIX: &str = "\u{2014} ";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("the note is malformed: {0}")]
    Malformed(&'static str),
    #[error("the note is larger than {MAX_NOTE_BYTES} bytes")]
    TooLarge,
    #[error("the key is malformed: {0}")]
    BadKey(&'static str),
    #[error("the note carries no signature by {0}")]
    NotSigned(String),
    #[error("the signature by {0} does not verify")]
    BadSignature(String),
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_hash: [u8; 4],
    /// The signature bytes after the key hash.
    pub bytes: Vec<u8>,
}

impl NoteSignature {
    /// One signature line without its newline: `— name base64(hash || sig)`.
    pub fn parse_line(line: &str) -> Result<Self, NoteError> {
        let line = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed(
            "a signature line does not start with `— `",
        ))?;
        let (name, b64) = line
            .split_once(' ')
            .ok_or(NoteError::Malformed("a signature line has no signature"))?;
        let raw = B64
            .decode(b64)
            .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
        if !valid_name(name) || raw.len() < 5 {
            return Err(NoteError::Malformed("a signature line is invalid"));
        }
        Ok(Self {
            name: name.to_string(),
            key_hash: [raw[0], raw[1], raw[2], raw[3]],
            bytes: raw[4..].to_vec(),
        })
    }

    /// `— name base64(hash || sig)\n`
    pub fn line(&self) -> String {
        let mut raw = self.key_hash.to_vec();
        raw.extend_from_slice(&self.bytes);
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(raw))
    }
}

/// A parsed note: its text (ending in a newline) and its signature lines, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

/// A key name: non-empty, no Unicode white space, no `+` (as the Go library).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

impl Note {
    /// Parse a signed note. Refuses control characters other than newline, a missing blank
    /// line, signature lines that are not `— name base64`, and more than 100 signatures.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge);
        }
        let msg = std::str::from_utf8(bytes).map_err(|_| NoteError::Malformed("not UTF-8"))?;
        if msg.chars().any(|c| c < '\u{20}' && c != '\n') {
            return Err(NoteError::Malformed("control character"));
        }
        let split = msg
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteError::Malformed("no signature lines"));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::Malformed("more than 100 signatures"));
            }
            signatures.push(NoteSignature::parse_line(line)?);
        }
        Ok(Self {
            text: text.to_string(),
            signatures,
        })
    }

    /// The note as sent: text, blank line, signature lines.
    pub fn encode(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.line());
        }
        out
    }

    /// Add a signature unless one with the same name and key hash is there already.
    pub fn add_signature(&mut self, signature: NoteSignature) {
        if !self
            .signatures
            .iter()
            .any(|s| s.name == signature.name && s.key_hash == signature.key_hash)
        {
            self.signatures.push(signature);
        }
    }
}

/// SHA-256(name || "\n" || alg || public key), first 4 bytes.
pub fn key_hash(name: &str, alg: u8, public: &[u8]) -> [u8; 4] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    ctx.update(&[alg]);
    ctx.update(public);
    let d = ctx.finish();
    [d.as_ref()[0], d.as_ref()[1], d.as_ref()[2], d.as_ref()[3]]
}

/// The message a `cosignature/v1` signature covers.
pub fn cosignature_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// A verifier key: `name+hash8hex+base64(alg || public key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    pub alg: u8,
    pub key_hash: [u8; 4],
    pub public: [u8; 32],
}

impl VerifierKey {
    pub fn new(name: &str, alg: u8, public: [u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadKey("invalid key name"));
        }
        Ok(Self {
            name: name.to_string(),
            alg,
            key_hash: key_hash(name, alg, &public),
            public,
        })
    }

    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadKey("not name+hash+key"));
        };
        let raw = B64
            .decode(key)
            .map_err(|_| NoteError::BadKey("key is not base64"))?;
        let (Some(&alg), Ok(public)) =
            (raw.first(), <[u8; 32]>::try_from(&raw[1.min(raw.len())..]))
        else {
            return Err(NoteError::BadKey(
                "key is not an algorithm byte and 32 bytes",
            ));
        };
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(NoteError::BadKey("unknown key algorithm"));
        }
        let key = Self::new(name, alg, public)?;
        if hex::encode(key.key_hash) != hash {
            return Err(NoteError::BadKey("key hash does not match"));
        }
        Ok(key)
    }

    pub fn encode(&self) -> String {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(&self.public);
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_hash),
            B64.encode(raw)
        )
    }

    fn signature<'n>(&self, note: &'n Note) -> Result<&'n NoteSignature, NoteError> {
        note.signatures
            .iter()
            .find(|s| s.name == self.name && s.key_hash == self.key_hash)
            .ok_or_else(|| NoteError::NotSigned(self.name.clone()))
    }

    /// Verify this (Ed25519, 0x01) key's signature on the note.
    pub fn verify(&self, note: &Note) -> Result<(), NoteError> {
        if self.alg != ALG_ED25519 {
            return Err(NoteError::BadKey("not an Ed25519 note key"));
        }
        let sig = self.signature(note)?;
        UnparsedPublicKey::new(&ED25519, &self.public)
            .verify(note.text.as_bytes(), &sig.bytes)
            .map_err(|_| NoteError::BadSignature(self.name.clone()))
    }

    /// Verify this witness (`cosignature/v1`, 0x04) key's cosignature; returns its timestamp.
    pub fn verify_cosignature(&self, note: &Note) -> Result<u64, NoteError> {
        if self.alg != ALG_COSIGNATURE_V1 {
            return Err(NoteError::BadKey("not a cosignature/v1 key"));
        }
        let sig = self.signature(note)?;
        let (ts, ed) = sig
            .bytes
            .split_at_checked(8)
            .ok_or(NoteError::BadSignature(self.name.clone()))?;
        let timestamp = u64::from_be_bytes(ts.try_into().unwrap_or_default());
        UnparsedPublicKey::new(&ED25519, &self.public)
            .verify(cosignature_message(&note.text, timestamp).as_bytes(), ed)
            .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
        Ok(timestamp)
    }
}

/// A note signer: an Ed25519 key under a name, as a log key (0x01) or a witness key (0x04).
pub struct NoteSigner {
    key: VerifierKey,
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteSigner({})", self.key.encode())
    }
}

impl NoteSigner {
    pub fn from_seed(name: &str, alg: u8, seed: &[u8; 32]) -> Result<Self, NoteError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| NoteError::BadKey("bad Ed25519 seed"))?;
        let public: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| NoteError::BadKey("bad Ed25519 public key"))?;
        Ok(Self {
            key: VerifierKey::new(name, alg, public)?,
            pair,
        })
    }

    pub fn verifier(&self) -> &VerifierKey {
        &self.key
    }

    /// An Ed25519 note signature over `text` (must end in a newline).
    pub fn sign(&self, text: &str) -> NoteSignature {
        NoteSignature {
            name: self.key.name.clone(),
            key_hash: self.key.key_hash,
            bytes: self.pair.sign(text.as_bytes()).as_ref().to_vec(),
        }
    }

    /// A `cosignature/v1` signature over `text` at `timestamp` (seconds).
    pub fn cosign(&self, text: &str, timestamp: u64) -> NoteSignature {
        let mut bytes = timestamp.to_be_bytes().to_vec();
        bytes.extend_from_slice(
            self.pair
                .sign(cosignature_message(text, timestamp).as_bytes())
                .as_ref(),
        );
        NoteSignature {
            name: self.key.name.clone(),
            key_hash: self.key.key_hash,
            bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The example key pair and signed note of golang.org/x/mod/sumdb/note's documentation.
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
        then you don't know what your problem is.\n\
        \n\
        \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn opens_the_go_librarys_example_note() {
        let key = VerifierKey::parse(GO_VKEY).unwrap();
        assert_eq!(key.encode(), GO_VKEY);
        let note = Note::parse(GO_NOTE.as_bytes()).unwrap();
        key.verify(&note).unwrap();
        assert_eq!(note.encode(), GO_NOTE);
        let mut edited = note.clone();
        edited.text = edited.text.replace("answer", "question");
        assert_eq!(
            key.verify(&edited),
            Err(NoteError::BadSignature("PeterNeumann".into()))
        );
    }

    #[test]
    fn signs_and_cosigns_round_trip() {
        let log = NoteSigner::from_seed("example.com/log", ALG_ED25519, &[1; 32]).unwrap();
        let witness = NoteSigner::from_seed("w.example", ALG_COSIGNATURE_V1, &[2; 32]).unwrap();
        let text = "example.com/log\n3\nAAAA\n";
        let mut note = Note {
            text: text.into(),
            signatures: vec![log.sign(text)],
        };
        note.add_signature(witness.cosign(text, 1_700_000_000));
        let reparsed = Note::parse(note.encode().as_bytes()).unwrap();
        let vkey = VerifierKey::parse(&log.verifier().encode()).unwrap();
        vkey.verify(&reparsed).unwrap();
        let wkey = VerifierKey::parse(&witness.verifier().encode()).unwrap();
        assert_eq!(wkey.verify_cosignature(&reparsed).unwrap(), 1_700_000_000);
        // A cosignature is not a note signature and the other way round.
        assert!(wkey.verify(&reparsed).is_err());
        assert!(vkey.verify_cosignature(&reparsed).is_err());
    }

    #[test]
    fn refuses_malformed_notes_and_keys() {
        for bad in [
            &b"no blank line\n\xe2\x80\x94 a AAAAAAAA\n"[..],
            b"text\n\n",
            b"text\n\nnot a signature\n",
            b"text\n\n\xe2\x80\x94 a !!!\n",
            b"text\n\n\xe2\x80\x94 a+b AAAAAAAA\n",
            b"text\x01\n\n\xe2\x80\x94 a AAAAAAAA\n",
            b"\xff\n\n\xe2\x80\x94 a AAAAAAAA\n",
        ] {
            assert!(Note::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Note::parse(&vec![b'a'; MAX_NOTE_BYTES + 1]),
            Err(NoteError::TooLarge)
        );
        for bad in [
            "",
            "name+00000000",
            "name+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+ARpc",
            "PeterNeumann+c74f20a3+Bxpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            assert!(VerifierKey::parse(bad).is_err(), "{bad}");
        }
    }
}
