//! Log entries: the exact bytes each leaf hashes, the hash chain, and tree-head claims (pure).
//!
//! A leaf commits to its tenant, index, the previous entry's leaf hash (the hash chain), kind,
//! time, session id, a *customer commitment* and the body text. The customer reference itself
//! is never hashed: the commitment is HMAC-SHA256(salt, customer_ref) with a random per-customer
//! salt kept outside the log. Erasing a customer deletes the salt and the plain reference
//! column; the commitment stays, so every hash still verifies, but it no longer links to anyone.

use ring::hmac;

use super::merkle::{Hash, leaf_hash};

/// Domain tag at the start of every leaf: a leaf of another log or version never collides.
const LEAF_TAG: &[u8] = b"trustline/ledger/leaf/v1";

/// The fields of one stored entry that its leaf hash covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFields<'a> {
    pub tenant: &'a str,
    pub index: u64,
    pub prev_hash: Hash,
    pub kind: &'a str,
    pub time_ms: i64,
    pub session_id: Option<&'a str>,
    pub customer_commitment: Option<Hash>,
    /// The body JSON text exactly as stored.
    pub body: &'a str,
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_be_bytes());
    out.extend_from_slice(s);
}

impl EntryFields<'_> {
    /// Unambiguous encoding: fixed-width integers and length-prefixed strings.
    pub fn leaf_data(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.body.len());
        put_str(&mut out, LEAF_TAG);
        put_str(&mut out, self.tenant.as_bytes());
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.prev_hash);
        put_str(&mut out, self.kind.as_bytes());
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        match self.session_id {
            Some(s) => {
                out.push(1);
                put_str(&mut out, s.as_bytes());
            }
            None => out.push(0),
        }
        match &self.customer_commitment {
            Some(c) => {
                out.push(1);
                out.extend_from_slice(c);
            }
            None => out.push(0),
        }
        put_str(&mut out, self.body.as_bytes());
        out
    }

    /// RFC 9162 leaf hash of [`Self::leaf_data`].
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.leaf_data())
    }
}

/// The previous hash of entry 0.
pub const GENESIS_PREV: Hash = [0u8; 32];

/// HMAC-SHA256(salt, customer_ref): links entries of one customer while the salt exists.
pub fn customer_commitment(salt: &[u8], customer_ref: &str) -> Hash {
    let key = hmac::Key::new(hmac::HMAC_SHA256, salt);
    let tag = hmac::sign(&key, customer_ref.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// What a signed tree head asserts (JWS claims, typ `trustline-sth+jwt`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TreeHeadClaims {
    pub tenant: String,
    pub tree_size: u64,
    /// Hex SHA-256 root.
    pub root_hash: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
}

pub const TREE_HEAD_TYP: &str = "trustline-sth+jwt";

/// Why one stored entry fails verification (the first one found is reported).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryFault {
    #[error("entry {expected} is missing (found index {found} in its place)")]
    Gap { expected: u64, found: u64 },
    #[error("entry {index}: its previous hash does not match entry {}'s leaf hash", .index.saturating_sub(1))]
    BrokenChain { index: u64 },
    #[error("entry {index}: its content does not match its leaf hash (edited)")]
    LeafMismatch { index: u64 },
}

/// One stored entry's hashed fields plus the leaf hash stored beside them.
pub struct StoredLeaf<'a> {
    pub fields: EntryFields<'a>,
    pub stored_leaf_hash: Hash,
}

/// Check one entry against the running chain state. `expected_index` / `prev` are the
/// position and leaf hash of the entry before it.
pub fn check_entry(
    expected_index: u64,
    prev: &Hash,
    entry: &StoredLeaf<'_>,
) -> Result<Hash, EntryFault> {
    if entry.fields.index != expected_index {
        return Err(EntryFault::Gap {
            expected: expected_index,
            found: entry.fields.index,
        });
    }
    if &entry.fields.prev_hash != prev {
        return Err(EntryFault::BrokenChain {
            index: expected_index,
        });
    }
    let computed = entry.fields.leaf_hash();
    if computed != entry.stored_leaf_hash {
        return Err(EntryFault::LeafMismatch {
            index: expected_index,
        });
    }
    Ok(computed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fields(body: &str) -> EntryFields<'_> {
        EntryFields {
            tenant: "t1",
            index: 0,
            prev_hash: GENESIS_PREV,
            kind: "consent_granted",
            time_ms: 1,
            session_id: None,
            customer_commitment: None,
            body,
        }
    }

    #[test]
    fn every_field_changes_the_leaf() {
        let base = fields("{}");
        let h = base.leaf_hash();
        let variants = [
            EntryFields {
                tenant: "t2",
                ..base.clone()
            },
            EntryFields {
                index: 1,
                ..base.clone()
            },
            EntryFields {
                prev_hash: [1; 32],
                ..base.clone()
            },
            EntryFields {
                kind: "decision",
                ..base.clone()
            },
            EntryFields {
                time_ms: 2,
                ..base.clone()
            },
            EntryFields {
                session_id: Some(""),
                ..base.clone()
            },
            EntryFields {
                customer_commitment: Some([0; 32]),
                ..base.clone()
            },
            EntryFields {
                body: "{} ",
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(v.leaf_hash(), h, "{v:?}");
        }
    }

    #[test]
    fn length_prefixes_keep_fields_apart() {
        let a = EntryFields {
            tenant: "ab",
            kind: "c",
            ..fields("{}")
        };
        let b = EntryFields {
            tenant: "a",
            kind: "bc",
            ..fields("{}")
        };
        assert_ne!(a.leaf_hash(), b.leaf_hash());
    }

    #[test]
    fn check_entry_names_the_fault() {
        let e = fields("{}");
        let leaf = StoredLeaf {
            stored_leaf_hash: e.leaf_hash(),
            fields: e.clone(),
        };
        assert_eq!(check_entry(0, &GENESIS_PREV, &leaf).unwrap(), e.leaf_hash());
        assert_eq!(
            check_entry(1, &GENESIS_PREV, &leaf).unwrap_err(),
            EntryFault::Gap {
                expected: 1,
                found: 0
            }
        );
        assert_eq!(
            check_entry(0, &[9; 32], &leaf).unwrap_err(),
            EntryFault::BrokenChain { index: 0 }
        );
        let edited = StoredLeaf {
            stored_leaf_hash: e.leaf_hash(),
            fields: fields("{\"x\":1}"),
        };
        assert_eq!(
            check_entry(0, &GENESIS_PREV, &edited).unwrap_err(),
            EntryFault::LeafMismatch { index: 0 }
        );
    }

    #[test]
    fn commitments_depend_on_salt_and_reference() {
        let c = customer_commitment(b"salt-1", "cust-1");
        assert_ne!(c, customer_commitment(b"salt-2", "cust-1"));
        assert_ne!(c, customer_commitment(b"salt-1", "cust-2"));
    }
}
