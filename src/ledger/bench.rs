//! `trustline bench ledger`: durable appends per second with concurrent writers, with and
//! without group commit, on the configured database; and proof construction at 1 M entries.
//!
//! Figures are printed, never asserted: run it on the machine you care about.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde::Serialize;
use serde_json::json;

use super::{
    Ledger, LedgerEvent,
    merkle::{MerkleTree, leaf_hash, verify_consistency, verify_inclusion},
};
use crate::{crypto::signing::Signer, store::Db, tenants::TenantId};

#[derive(Debug, Clone, Serialize)]
pub struct AppendFigures {
    pub backend: String,
    pub group_commit: bool,
    pub writers: usize,
    pub appends: usize,
    pub seconds: f64,
    pub appends_per_sec: f64,
    pub median_ms: f64,
    pub p99_ms: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// `writers` tasks each append `appends / writers` events one after another (each waits for
/// its acknowledgement, i.e. its commit), to a fresh tenant.
pub async fn appends(
    db: &Db,
    signer: Arc<Signer>,
    writers: usize,
    appends: usize,
    group_commit: bool,
) -> anyhow::Result<AppendFigures> {
    let ledger = Ledger::start_with_batch(
        db.clone(),
        signer,
        if group_commit { super::MAX_BATCH } else { 1 },
    );
    let mut id = [0u8; 6];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    let tenant: TenantId = format!("bench-{}", hex::encode(id)).parse()?;
    let per_writer = appends.div_ceil(writers.max(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers.max(1) {
        let ledger = ledger.clone();
        let tenant = tenant.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_writer);
            for i in 0..per_writer {
                let t = Instant::now();
                ledger
                    .append(
                        &tenant,
                        LedgerEvent {
                            kind: "decision".into(),
                            customer: None,
                            session_id: Some(format!("s-{w}-{i}")),
                            body: json!({"outcome": "verified", "policy": "retail@1.0.0", "writer": w, "n": i}),
                        },
                    )
                    .await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::with_capacity(appends);
    for t in tasks {
        all.extend(t.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort();
    Ok(AppendFigures {
        backend: format!("{:?}", db.backend),
        group_commit,
        writers,
        appends: all.len(),
        seconds,
        appends_per_sec: all.len() as f64 / seconds,
        median_ms: percentile(&all, 0.5),
        p99_ms: percentile(&all, 0.99),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct ProofFigures {
    pub entries: u64,
    pub build_tree_seconds: f64,
    pub inclusion_hashes: usize,
    pub inclusion_bytes: usize,
    pub inclusion_median_us: f64,
    pub inclusion_max_us: f64,
    pub consistency_hashes_max: usize,
    pub consistency_median_us: f64,
    pub consistency_max_us: f64,
}

/// Proof construction over an in-memory tree of `entries` leaves (the structure the ledger
/// keeps per tenant), for `samples` pseudo-random positions.
pub fn proofs(entries: u64, samples: usize) -> anyhow::Result<ProofFigures> {
    let started = Instant::now();
    let tree = MerkleTree::from_leaf_hashes((0..entries).map(|i| leaf_hash(&i.to_be_bytes())));
    let build_tree_seconds = started.elapsed().as_secs_f64();
    let root = tree.root(entries)?;
    let mut inclusion = Vec::with_capacity(samples);
    let mut consistency = Vec::with_capacity(samples);
    let (mut inclusion_hashes, mut consistency_hashes_max) = (0, 0);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..samples {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let index = x % entries;
        let t = Instant::now();
        let proof = tree.inclusion_proof(index, entries)?;
        inclusion.push(t.elapsed());
        inclusion_hashes = inclusion_hashes.max(proof.len());
        let leaf = tree.leaf(index).unwrap_or_default();
        verify_inclusion(index, entries, &leaf, &proof, &root)?;
        let first = index.max(1);
        let t = Instant::now();
        let proof = tree.consistency_proof(first, entries)?;
        let first_root = tree.root(first)?;
        consistency.push(t.elapsed());
        consistency_hashes_max = consistency_hashes_max.max(proof.len());
        verify_consistency(first, entries, &first_root, &root, &proof)?;
    }
    inclusion.sort();
    consistency.sort();
    let us = |d: &[Duration], p: f64| percentile(d, p) * 1000.0;
    Ok(ProofFigures {
        entries,
        build_tree_seconds,
        inclusion_hashes,
        inclusion_bytes: inclusion_hashes * 32,
        inclusion_median_us: us(&inclusion, 0.5),
        inclusion_max_us: us(&inclusion, 1.0),
        consistency_hashes_max,
        consistency_median_us: us(&consistency, 0.5),
        consistency_max_us: us(&consistency, 1.0),
    })
}
