//! RFC 9162 Merkle trees: hashes, inclusion and consistency proofs (pure, no I/O).
//!
//! RFC 9162 §2.1.1: `MTH({}) = SHA-256()`, `MTH({d}) = SHA-256(0x00 || d)` and
//! `MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))` with `k` the largest power of two
//! smaller than `n`. The 0x00 / 0x01 prefixes separate leaves from nodes, so no leaf can be
//! passed off as an inner node (second-preimage attack).
//!
//! [`MerkleTree`] keeps every complete, aligned subtree hash (2n hashes for n leaves), so the
//! hash of any subtree the RFC recursion visits costs O(log n) lookups and a proof at 1 M
//! leaves is built without touching the leaves themselves.

use ring::digest::{Context, SHA256};

pub type Hash = [u8; 32];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree sizes are not ordered: {first} > {second}")]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error("proof has the wrong length")]
    WrongLength,
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

/// SHA-256 of the empty string: the root of the empty tree.
pub fn empty_root() -> Hash {
    sha256(&[&[]])
}

/// Leaf hash: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    sha256(&[&[0x00], data])
}

/// Inner node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut ctx = Context::new(&SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Largest power of two strictly smaller than `n` (n >= 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// An append-only Merkle tree over leaf hashes.
#[derive(Debug, Clone, Default)]
pub struct MerkleTree {
    /// `levels[h][i]` is the hash of the complete subtree of 2^h leaves starting at i * 2^h.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_leaf_hashes(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push(leaf);
        }
        tree
    }

    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels.first()?.get(index as usize).copied()
    }

    /// Append one leaf hash, completing every subtree it closes.
    pub fn push(&mut self, leaf: Hash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
            let len = self.levels[level].len();
            if len % 2 == 1 {
                break;
            }
            hash = node_hash(&self.levels[level][len - 2], &self.levels[level][len - 1]);
            level += 1;
        }
    }

    /// MTH of the first `size` leaves (`size <= len`).
    pub fn root(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.len() {
            return Err(ProofError::IndexOutOfRange {
                index: size,
                size: self.len(),
            });
        }
        Ok(if size == 0 {
            empty_root()
        } else {
            self.subtree(0, size)
        })
    }

    /// MTH(D[start:start+n]) for a range the RFC recursion visits (n >= 1).
    fn subtree(&self, start: u64, n: u64) -> Hash {
        if n.is_power_of_two() && start.is_multiple_of(n) {
            let h = n.trailing_zeros() as usize;
            return self.levels[h][(start / n) as usize];
        }
        let k = split_point(n);
        node_hash(&self.subtree(start, k), &self.subtree(start + k, n - k))
    }

    /// RFC 9162 §2.1.3.1 PATH(m, D[n]): the audit path of leaf `index` in the tree of `size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        if size > self.len() || index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    fn path(&self, m: u64, start: u64, n: u64, out: &mut Vec<Hash>) {
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            self.path(m, start, k, out);
            out.push(self.subtree(start + k, n - k));
        } else {
            self.path(m - k, start + k, n - k, out);
            out.push(self.subtree(start, k));
        }
    }

    /// RFC 9162 §2.1.4.1 PROOF(m, D[n]): consistency of the first `first` leaves with the
    /// first `second`. Empty when `first` is 0 or equal to `second`.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, ProofError> {
        if second > self.len() {
            return Err(ProofError::IndexOutOfRange {
                index: second,
                size: self.len(),
            });
        }
        if first > second {
            return Err(ProofError::SizesOutOfOrder { first, second });
        }
        let mut proof = Vec::new();
        if first > 0 && first < second {
            self.subproof(first, 0, second, true, &mut proof);
        }
        Ok(proof)
    }

    fn subproof(&self, m: u64, start: u64, n: u64, whole: bool, out: &mut Vec<Hash>) {
        if m == n {
            if !whole {
                out.push(self.subtree(start, n));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, start, k, whole, out);
            out.push(self.subtree(start + k, n - k));
        } else {
            self.subproof(m - k, start + k, n - k, false, out);
            out.push(self.subtree(start, k));
        }
    }
}

/// RFC 9162 §2.1.3.2: verify that `leaf` is at `index` in the tree of `size` with `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: verify that the tree of `first` leaves with `first_root` is a prefix of
/// the tree of `second` leaves with `second_root`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    if first == 0 {
        // A consistency check against the empty tree proves nothing (transparency-dev rejects
        // it); every tree trivially extends the empty one.
        return Err(ProofError::WrongLength);
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != first_root || &sr != second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use base64::{Engine as _, engine::general_purpose::STANDARD};
    use proptest::prelude::*;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/test-vectors");

    fn vectors(name: &str) -> serde_json::Value {
        let dir = std::env::var("TRUSTLINE_TEST_VECTORS").unwrap_or_else(|_| VECTORS.into());
        let text = std::fs::read_to_string(format!("{dir}/{name}"))
            .unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    /// A hash from the vectors; `None` when it is not 32 bytes (cases that must fail).
    fn b64(v: &serde_json::Value) -> Option<Hash> {
        let bytes = STANDARD.decode(v.as_str().unwrap_or_default()).unwrap();
        bytes.try_into().ok()
    }

    fn b64_list(v: &serde_json::Value) -> Option<Vec<Hash>> {
        v.as_array()
            .map(|a| a.iter().map(b64).collect())
            .unwrap_or(Some(Vec::new()))
    }

    fn hx(v: &serde_json::Value) -> Hash {
        hex::decode(v.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    }

    /// The CT reference inputs as a tree.
    fn ct_tree() -> (serde_json::Value, MerkleTree) {
        let v = vectors("ct-cpp-reference-merkle.json");
        let tree = MerkleTree::from_leaf_hashes(
            v["inputs_hex"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| leaf_hash(&hex::decode(i.as_str().unwrap()).unwrap())),
        );
        (v, tree)
    }

    #[test]
    fn ct_reference_roots_paths_and_proofs() {
        let (v, tree) = ct_tree();
        assert_eq!(empty_root(), hx(&v["empty_tree_hash"]));
        assert_eq!(tree.root(0).unwrap(), hx(&v["empty_tree_hash"]));
        for (i, root) in v["roots"].as_array().unwrap().iter().enumerate() {
            assert_eq!(tree.root(i as u64 + 1).unwrap(), hx(root), "root {}", i + 1);
        }
        let mut checked = 0;
        for p in v["paths"].as_array().unwrap() {
            let size = p["snapshot"].as_u64().unwrap();
            let index = p["leaf_index"].as_i64().unwrap();
            if index < 0 || size == 0 {
                continue;
            }
            let want: Vec<Hash> = p["path"].as_array().unwrap().iter().map(hx).collect();
            let got = tree.inclusion_proof(index as u64, size).unwrap();
            assert_eq!(got, want, "path {index}@{size}");
            let root = tree.root(size).unwrap();
            verify_inclusion(
                index as u64,
                size,
                &tree.leaf(index as u64).unwrap(),
                &got,
                &root,
            )
            .unwrap();
            checked += 1;
        }
        assert!(checked >= 5);
        for p in v["proofs"].as_array().unwrap() {
            let (m, n) = (
                p["snapshot1"].as_u64().unwrap(),
                p["snapshot2"].as_u64().unwrap(),
            );
            let want: Vec<Hash> = p["proof"].as_array().unwrap().iter().map(hx).collect();
            let got = tree.consistency_proof(m, n).unwrap();
            assert_eq!(got, want, "proof {m}->{n}");
            verify_consistency(m, n, &tree.root(m).unwrap(), &tree.root(n).unwrap(), &got).unwrap();
        }
    }

    #[test]
    fn transparency_dev_inclusion_vectors() {
        let v = vectors("transparency-dev-merkle-proofs.json");
        let cases = v["inclusion"].as_array().unwrap();
        assert!(cases.len() >= 90);
        for c in cases {
            let want_err = c["wantErr"].as_bool().unwrap();
            let (Some(leaf), Some(proof), Some(root)) =
                (b64(&c["leafHash"]), b64_list(&c["proof"]), b64(&c["root"]))
            else {
                assert!(want_err, "{}: malformed hashes must fail", c["file"]);
                continue;
            };
            let result = verify_inclusion(
                c["leafIdx"].as_u64().unwrap(),
                c["treeSize"].as_u64().unwrap(),
                &leaf,
                &proof,
                &root,
            );
            assert_eq!(result.is_err(), want_err, "{}: {result:?}", c["file"]);
        }
    }

    #[test]
    fn transparency_dev_consistency_vectors() {
        let v = vectors("transparency-dev-merkle-proofs.json");
        let cases = v["consistency"].as_array().unwrap();
        assert!(cases.len() >= 90);
        for c in cases {
            let want_err = c["wantErr"].as_bool().unwrap();
            let (size1, size2) = (c["size1"].as_u64().unwrap(), c["size2"].as_u64().unwrap());
            let (Some(root1), Some(root2), Some(proof)) =
                (b64(&c["root1"]), b64(&c["root2"]), b64_list(&c["proof"]))
            else {
                // Our API takes typed 32-byte hashes; the vectors' "don't care" roots of other
                // lengths only pass when sizes are equal, the proof is empty and the roots are
                // byte-equal, which is exactly the equal-size rule.
                let raw = |k: &str| STANDARD.decode(c[k].as_str().unwrap()).unwrap();
                let equal_rule = size1 == size2
                    && size1 > 0
                    && c["proof"].as_array().is_none_or(|p| p.is_empty())
                    && raw("root1") == raw("root2");
                assert_eq!(!equal_rule, want_err, "{}", c["file"]);
                continue;
            };
            let result = verify_consistency(size1, size2, &root1, &root2, &proof);
            assert_eq!(result.is_err(), want_err, "{}: {result:?}", c["file"]);
        }
    }

    /// The naive RFC definition, as an oracle.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u32).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    proptest! {
        #[test]
        fn roots_match_the_rfc_definition(n in 0usize..200) {
            let l = leaves(n);
            let tree = MerkleTree::from_leaf_hashes(l.clone());
            for size in 0..=n {
                prop_assert_eq!(tree.root(size as u64).unwrap(), mth(&l[..size]));
            }
        }

        #[test]
        fn inclusion_proofs_verify_and_reject_tampering(
            size in 1u64..300, seed in any::<u64>(), flip in any::<usize>()
        ) {
            let tree = MerkleTree::from_leaf_hashes(leaves(size as usize));
            let index = seed % size;
            let root = tree.root(size).unwrap();
            let proof = tree.inclusion_proof(index, size).unwrap();
            prop_assert!(proof.len() <= 64 - (size.leading_zeros() as usize) + 1);
            let leaf = tree.leaf(index).unwrap();
            prop_assert!(verify_inclusion(index, size, &leaf, &proof, &root).is_ok());
            // A different leaf, index or a flipped proof byte fails.
            let other = leaf_hash(b"not in the tree");
            prop_assert!(verify_inclusion(index, size, &other, &proof, &root).is_err());
            if size > 1 {
                let wrong = (index + 1 + seed % (size - 1)) % size;
                prop_assert!(verify_inclusion(wrong, size, &leaf, &proof, &root).is_err());
            }
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = flip % bad.len();
                bad[i][flip % 32] ^= 1;
                prop_assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
                prop_assert!(verify_inclusion(index, size, &leaf, &proof[1..], &root).is_err());
            }
        }

        #[test]
        fn consistency_proofs_verify_and_reject_tampering(
            second in 1u64..300, seed in any::<u64>(), flip in any::<usize>()
        ) {
            let tree = MerkleTree::from_leaf_hashes(leaves(second as usize));
            let first = seed % (second + 1);
            let (r1, r2) = (tree.root(first).unwrap(), tree.root(second).unwrap());
            let proof = tree.consistency_proof(first, second).unwrap();
            prop_assert_eq!(verify_consistency(first, second, &r1, &r2, &proof).is_ok(), first > 0);
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = flip % bad.len();
                bad[i][flip % 32] ^= 1;
                prop_assert!(verify_consistency(first, second, &r1, &r2, &bad).is_err());
            }
            if first > 0 && first < second {
                let forged = leaf_hash(b"forged");
                prop_assert!(verify_consistency(first, second, &forged, &r2, &proof).is_err());
                prop_assert!(verify_consistency(first, second, &r1, &forged, &proof).is_err());
            }
        }
    }
}
