//! A witness (C2SP tlog-witness, <https://c2sp.org/tlog-witness>): it cosigns a log's
//! checkpoint only if the checkpoint verifies under a log key it was configured with, and a
//! consistency proof shows it extends the last checkpoint it cosigned for that origin. So a log
//! (or whoever writes its database) cannot show two different histories to parties who check
//! the witness's cosignature.
//!
//! This module is the pure core: the request format and the decision. [`server`] runs it.
//!
//! ```text
//! POST /add-checkpoint
//! old <size the client believes the witness last saw>
//! <consistency proof hash, base64>        (one line each)
//!
//! <checkpoint signed note>
//! ```
//! 200: cosignature line(s). 409 `text/x.tlog.size`: the witness's size for the origin.
//! Every other refusal is problem+json with a stable code, and changes no state.

pub mod server;

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};

use crate::{
    crypto::note::{NoteSignature, NoteSigner, VerifierKey},
    ledger::{
        checkpoint::{self, Checkpoint},
        merkle::{self, Hash},
    },
};

/// Most proof hashes a request may carry (a proof has at most 2·64).
const MAX_PROOF: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    #[error("the request is malformed: {0}")]
    Malformed(String),
    #[error("no log with origin `{0}` is known to this witness")]
    UnknownOrigin(String),
    #[error("the checkpoint is not signed by a key of its log")]
    BadSignature,
    #[error("the old size {old} is larger than the checkpoint's size {size}")]
    OldAfterNew { old: u64, size: u64 },
    /// The client's old size is not the witness's: it must retry from `size`.
    #[error("the witness's latest size for this log is {size}")]
    SizeMismatch { size: u64 },
    #[error("the checkpoint has the witness's size but another root: the log forked")]
    Fork,
    #[error("the consistency proof does not verify")]
    BadProof,
}

impl WitnessError {
    /// Stable code for problem+json.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_request",
            Self::UnknownOrigin(_) => "unknown_origin",
            Self::BadSignature => "bad_signature",
            Self::OldAfterNew { .. } => "old_after_new",
            Self::SizeMismatch { .. } => "size_mismatch",
            Self::Fork => "conflicting_root",
            Self::BadProof => "bad_consistency_proof",
        }
    }
}

/// A parsed `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    /// The signed note, verbatim.
    pub checkpoint: Vec<u8>,
}

/// Parse an `add-checkpoint` body (pure; fuzzable).
pub fn parse_request(body: &[u8]) -> Result<AddCheckpoint, WitnessError> {
    let bad = |why: &str| WitnessError::Malformed(why.to_string());
    let text = std::str::from_utf8(body).map_err(|_| bad("not UTF-8"))?;
    let (head, note) = text
        .split_once("\n\n")
        .ok_or_else(|| bad("no blank line before the checkpoint"))?;
    let mut lines = head.split('\n');
    let old = lines
        .next()
        .and_then(|l| l.strip_prefix("old "))
        .ok_or_else(|| bad("the first line is not `old <size>`"))?;
    if old.is_empty()
        || !old.bytes().all(|b| b.is_ascii_digit())
        || (old.len() > 1 && old.starts_with('0'))
    {
        return Err(bad("the old size is not a decimal number"));
    }
    let old_size = old.parse().map_err(|_| bad("the old size is too large"))?;
    let mut proof = Vec::new();
    for line in lines {
        if proof.len() == MAX_PROOF {
            return Err(bad("the consistency proof is too long"));
        }
        let hash = B64
            .decode(line)
            .ok()
            .and_then(|h| Hash::try_from(h.as_slice()).ok())
            .ok_or_else(|| bad("a proof line is not a base64 SHA-256 hash"))?;
        proof.push(hash);
    }
    Ok(AddCheckpoint {
        old_size,
        proof,
        checkpoint: note.as_bytes().to_vec(),
    })
}

/// What the witness last cosigned for one log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogState {
    pub size: u64,
    #[serde(with = "hex_hash")]
    pub root: Hash,
}

mod hex_hash {
    use serde::{Deserialize as _, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(&text)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| serde::de::Error::custom("not a hex SHA-256 hash"))
    }
}

/// The decision: which log, and the state to store before answering. Pure: `known` gives the
/// log keys by origin, `current` the state stored for an origin.
pub fn decide(
    request: &AddCheckpoint,
    known: impl Fn(&str) -> Option<VerifierKey>,
    current: impl Fn(&str) -> Option<LogState>,
) -> Result<(Checkpoint, String, LogState), WitnessError> {
    let signed = checkpoint::parse(&request.checkpoint)
        .map_err(|e| WitnessError::Malformed(e.to_string()))?;
    let cp = signed.checkpoint;
    let key = known(&cp.origin).ok_or_else(|| WitnessError::UnknownOrigin(cp.origin.clone()))?;
    key.verify(&signed.note)
        .map_err(|_| WitnessError::BadSignature)?;
    let old = request.old_size;
    if old > cp.size {
        return Err(WitnessError::OldAfterNew { old, size: cp.size });
    }
    let have = current(&cp.origin);
    let have_size = have.map_or(0, |s| s.size);
    if old != have_size {
        return Err(WitnessError::SizeMismatch { size: have_size });
    }
    match have {
        // The first checkpoint of a log is taken on trust (TOFU): nothing to be consistent with.
        None => {
            if !request.proof.is_empty() {
                return Err(WitnessError::BadProof);
            }
        }
        Some(state) if state.size == cp.size => {
            if state.root != cp.root {
                return Err(WitnessError::Fork);
            }
            if !request.proof.is_empty() {
                return Err(WitnessError::BadProof);
            }
        }
        Some(state) => {
            merkle::verify_consistency(state.size, cp.size, &state.root, &cp.root, &request.proof)
                .map_err(|_| WitnessError::BadProof)?;
        }
    }
    let next = LogState {
        size: cp.size,
        root: cp.root,
    };
    Ok((cp, signed.note.text, next))
}

/// The cosignature line(s) answering an accepted request.
pub fn cosign(signer: &NoteSigner, note_text: &str, timestamp: u64) -> NoteSignature {
    signer.cosign(note_text, timestamp)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{
        crypto::note::ALG_ED25519,
        ledger::{merkle::MerkleTree, publish::add_checkpoint_body},
    };

    fn log() -> (NoteSigner, MerkleTree) {
        let signer = NoteSigner::from_seed("example/log/t", ALG_ED25519, &[3; 32]).unwrap();
        let tree = MerkleTree::from_leaf_hashes((0..20u8).map(|i| [i; 32]));
        (signer, tree)
    }

    fn request(signer: &NoteSigner, tree: &MerkleTree, old: u64, size: u64) -> AddCheckpoint {
        let cp = Checkpoint {
            origin: "example/log/t".into(),
            size,
            root: tree.root(size).unwrap(),
            extensions: vec![],
        };
        let proof = if old == 0 || old == size {
            vec![]
        } else {
            tree.consistency_proof(old, size).unwrap()
        };
        let body = add_checkpoint_body(old, &proof, &checkpoint::sign(signer, &cp).encode());
        parse_request(body.as_bytes()).unwrap()
    }

    #[test]
    fn accepts_a_consistent_sequence_and_refuses_the_rest() {
        let (signer, tree) = log();
        let key = signer.verifier().clone();
        let known = |o: &str| (o == "example/log/t").then(|| key.clone());
        // First checkpoint: trust on first use.
        let (_, _, s5) = decide(&request(&signer, &tree, 0, 5), known, |_| None).unwrap();
        assert_eq!(s5.size, 5);
        // Extending with a valid proof.
        let (_, _, s12) = decide(&request(&signer, &tree, 5, 12), known, |_| Some(s5)).unwrap();
        assert_eq!(s12.size, 12);
        // Going backwards: the client's old size is not ours.
        assert_eq!(
            decide(&request(&signer, &tree, 5, 8), known, |_| Some(s12)),
            Err(WitnessError::SizeMismatch { size: 12 })
        );
        // Old larger than new.
        let mut r = request(&signer, &tree, 5, 12);
        r.old_size = 13;
        assert_eq!(
            decide(&r, known, |_| Some(s12)),
            Err(WitnessError::OldAfterNew { old: 13, size: 12 })
        );
        // Missing and invalid proofs.
        let mut r = request(&signer, &tree, 12, 20);
        r.proof.clear();
        assert_eq!(
            decide(&r, known, |_| Some(s12)),
            Err(WitnessError::BadProof)
        );
        let mut r = request(&signer, &tree, 12, 20);
        r.proof[0][0] ^= 1;
        assert_eq!(
            decide(&r, known, |_| Some(s12)),
            Err(WitnessError::BadProof)
        );
        // Same size, other root: a fork.
        let forked = MerkleTree::from_leaf_hashes((0..20u8).map(|i| [i + 1; 32]));
        assert_eq!(
            decide(&request(&signer, &forked, 12, 12), known, |_| Some(s12)),
            Err(WitnessError::Fork)
        );
        // Unknown origin, wrong key.
        assert!(matches!(
            decide(&request(&signer, &tree, 0, 5), |_| None, |_| None),
            Err(WitnessError::UnknownOrigin(_))
        ));
        let other = NoteSigner::from_seed("example/log/t", ALG_ED25519, &[4; 32]).unwrap();
        assert_eq!(
            decide(&request(&other, &tree, 0, 5), known, |_| None),
            Err(WitnessError::BadSignature)
        );
    }

    #[test]
    fn refuses_malformed_requests() {
        for body in [
            "",
            "old 1\n",
            "new 1\n\nx",
            "old 01\n\nx",
            "old -1\n\nx",
            "old 1\nnot-base64\n\nx",
            "old 1\nAAAA\n\nx",
        ] {
            assert!(
                matches!(
                    parse_request(body.as_bytes()),
                    Err(WitnessError::Malformed(_))
                ),
                "{body:?}"
            );
        }
        let r = parse_request(b"old 0\n\nnote").unwrap();
        assert_eq!((r.old_size, r.proof.len()), (0, 0));
        let garbage = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: b"not a note".to_vec(),
        };
        assert!(matches!(
            decide(&garbage, |_| None, |_| None),
            Err(WitnessError::Malformed(_))
        ));
    }
}
