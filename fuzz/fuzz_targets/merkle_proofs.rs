//! RFC 9162 proof verifiers on attacker-chosen indices, sizes and proof hashes, plus a
//! differential check: proofs the tree builds verify, and any flipped bit or wrong size fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustline::ledger::merkle::{MerkleTree, leaf_hash, verify_consistency, verify_inclusion};

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, v) in b.iter_mut().enumerate() {
        *v = data.get(at + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 24 {
        return;
    }
    // Arbitrary verifier input: never a panic, never an accepted forgery of a random root.
    let (a, b) = (u64_at(data, 0), u64_at(data, 8));
    let hashes: Vec<[u8; 32]> = data[16..]
        .chunks_exact(32)
        .map(|c| c.try_into().unwrap_or([0; 32]))
        .collect();
    if let Some((root, proof)) = hashes.split_first() {
        let leaf = leaf_hash(&data[..16]);
        let _ = verify_inclusion(a, b, &leaf, proof, root);
        let _ = verify_consistency(a, b, root, &leaf, proof);
    }
    // Differential: a real tree of up to 300 leaves.
    let n = (data[0] as u64 % 300) + 1;
    let tree = MerkleTree::from_leaf_hashes((0..n).map(|i| leaf_hash(&i.to_le_bytes())));
    let index = a % n;
    let size = index + 1 + (b % (n - index));
    let root = tree.root(size).expect("size within the tree");
    let proof = tree.inclusion_proof(index, size).expect("index within size");
    let leaf = tree.leaf(index).expect("leaf exists");
    assert!(verify_inclusion(index, size, &leaf, &proof, &root).is_ok());
    let flip = data[1] as usize;
    if !proof.is_empty() {
        let mut bad = proof.clone();
        let at = flip % bad.len();
        bad[at][flip % 32] ^= 1 << (data[2] % 8);
        assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
    }
    let first = 1 + (u64_at(data, 2) % size);
    let consistency = tree.consistency_proof(first, size).expect("first <= size");
    let first_root = tree.root(first).expect("first within the tree");
    assert!(verify_consistency(first, size, &first_root, &root, &consistency).is_ok());
    if first < size {
        assert!(verify_consistency(first + 1, size, &first_root, &root, &consistency).is_err());
    }
});
