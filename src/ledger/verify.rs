//! `trustline audit verify`: recompute a tenant's whole log from the database and check the
//! hash chain, the tip, and every signed tree head (signature, claims, root). Reports the first
//! bad entry it finds.

use serde::Serialize;

use super::{
    LedgerError,
    entry::{self, EntryFields, GENESIS_PREV, StoredLeaf, TreeHeadClaims},
    merkle::MerkleTree,
    to_hash,
};
use crate::{
    crypto::signing::Signer,
    store::{self, Db},
};

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub tenant: String,
    pub entries: u64,
    pub tree_heads: u64,
    /// The first fault found, naming the entry (None: the log verifies).
    pub fault: Option<String>,
    /// Index of the first bad entry, when one entry can be named.
    pub first_bad_entry: Option<u64>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.fault.is_none()
    }
}

const PAGE: u32 = 5_000;

pub async fn verify_tenant(
    db: &Db,
    signer: &Signer,
    tenant: &str,
) -> Result<VerifyReport, LedgerError> {
    let mut report = VerifyReport {
        tenant: tenant.to_string(),
        entries: 0,
        tree_heads: 0,
        fault: None,
        first_bad_entry: None,
    };
    let fail = |mut r: VerifyReport, fault: String, entry: Option<u64>| {
        r.fault = Some(fault);
        r.first_bad_entry = entry;
        Ok(r)
    };
    let mut tree = MerkleTree::new();
    let mut prev = GENESIS_PREV;
    let mut next = 0u64;
    let mut from = 0u64;
    loop {
        let rows = store::ledger::entries(db, tenant, from, PAGE).await?;
        let n = rows.len();
        for row in &rows {
            let (Ok(prev_hash), Ok(stored_leaf)) =
                (to_hash(&row.prev_hash), to_hash(&row.leaf_hash))
            else {
                return fail(
                    report,
                    format!("entry {}: a stored hash is not 32 bytes", row.index),
                    Some(row.index),
                );
            };
            let commitment = match row.customer_commitment.as_deref().map(to_hash).transpose() {
                Ok(c) => c,
                Err(_) => {
                    return fail(
                        report,
                        format!(
                            "entry {}: the customer commitment is not 32 bytes",
                            row.index
                        ),
                        Some(row.index),
                    );
                }
            };
            let leaf = StoredLeaf {
                fields: EntryFields {
                    tenant,
                    index: row.index,
                    prev_hash,
                    kind: &row.kind,
                    time_ms: row.created_at,
                    session_id: row.session_id.as_deref(),
                    customer_commitment: commitment,
                    body: &row.body,
                },
                stored_leaf_hash: stored_leaf,
            };
            match entry::check_entry(next, &prev, &leaf) {
                Ok(hash) => {
                    tree.push(hash);
                    prev = hash;
                    next += 1;
                }
                Err(fault) => {
                    let at = match fault {
                        entry::EntryFault::Gap { expected, .. } => expected,
                        entry::EntryFault::BrokenChain { index }
                        | entry::EntryFault::LeafMismatch { index } => index,
                    };
                    report.entries = next;
                    return fail(report, fault.to_string(), Some(at));
                }
            }
        }
        if n < PAGE as usize {
            break;
        }
        from = next;
    }
    report.entries = next;

    // The tip records how long the log is and how it ends: rows removed from (or added at) the
    // end show here even when the chain that remains is intact.
    let tip = store::ledger::tip(db, tenant).await?;
    let (tip_size, tip_hash) = tip.unwrap_or((0, GENESIS_PREV.to_vec()));
    if tip_size != next {
        let fault = if tip_size > next {
            format!(
                "the log ends after {next} entries but {tip_size} were committed: entry {next} onwards is missing (truncated)"
            )
        } else {
            format!(
                "the log has {next} entries but only {tip_size} were committed: entry {tip_size} was not appended by the ledger"
            )
        };
        return fail(report, fault, Some(next.min(tip_size)));
    }
    if tip_hash != prev {
        return fail(
            report,
            format!(
                "the last entry ({}) is not the one the ledger committed",
                next.saturating_sub(1)
            ),
            Some(next.saturating_sub(1)),
        );
    }

    // Every signed head: a valid signature, claims that match its row, and a root that the
    // entries reproduce.
    for head in store::ledger::tree_heads(db, tenant).await? {
        report.tree_heads += 1;
        let size = head.tree_size;
        let claims: TreeHeadClaims = match signer
            .verify_jws(&head.jws)
            .map_err(|e| e.to_string())
            .and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                return fail(
                    report,
                    format!("tree head at size {size}: signature or claims invalid ({e})"),
                    None,
                );
            }
        };
        if claims.tenant != tenant
            || claims.tree_size != size
            || claims.root_hash != hex::encode(&head.root_hash)
        {
            return fail(
                report,
                format!("tree head at size {size}: the stored row differs from what was signed"),
                None,
            );
        }
        if size > next {
            return fail(
                report,
                format!(
                    "tree head at size {size} was signed over entries that are missing: entry {next} onwards (truncated)"
                ),
                Some(next),
            );
        }
        if hex::encode(tree.root(size)?) != claims.root_hash {
            return fail(
                report,
                format!(
                    "tree head at size {size}: the entries do not reproduce its signed root (entries before {size} were rewritten)"
                ),
                None,
            );
        }
    }
    Ok(report)
}
