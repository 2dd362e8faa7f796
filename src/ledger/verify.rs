//! `trustline audit verify`: recompute a tenant's whole log from the database and check it
//! against what lies outside the database. Reports the first fault it finds, naming the entry.
//!
//! * the hash chain and the tip; the customer commitment of every entry whose customer is
//!   still known (HMAC under the customer's salt), so an edited `customer_ref` shows;
//! * every signed tree head in the database (signature by an authenticated key, claims, root);
//! * every external checkpoint on file (log signature, origin, root reproduced by the
//!   database) and every witness cosignature on them;
//! * that no entry older than [`MAX_HEAD_DELAY`] lies beyond the latest checkpoint (the service
//!   signs one every minute while entries are added): a deleted or withheld head is a fault;
//! * that no signing-key row was refused (planted or swapped, see `crypto::signing`).

use std::collections::HashMap;

use serde::Serialize;

use super::{
    LedgerError, MAX_HEAD_DELAY,
    checkpoint::{self},
    entry::{self, EntryFields, GENESIS_PREV, StoredLeaf, TreeHeadClaims},
    merkle::MerkleTree,
    publish::CheckpointLog,
    to_hash,
};
use crate::{
    crypto::signing::{RefusedKey, Signer},
    store::{self, Db},
};

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub tenant: String,
    pub entries: u64,
    pub tree_heads: u64,
    /// External checkpoint records on file that verified.
    pub checkpoints: u64,
    /// Entries `0..proven_size` are proven by the latest external checkpoint.
    pub proven_size: u64,
    /// When the latest checkpoint was written, and the first one on file (ms since the epoch).
    pub proven_at: Option<i64>,
    pub first_checkpoint_at: Option<i64>,
    /// Entries `0..witnessed_size` are proven by a checkpoint a witness cosigned.
    pub witnessed_size: u64,
    /// The witness's own timestamp on that cosignature (ms since the epoch).
    pub witnessed_at: Option<i64>,
    /// Entries whose customer commitment was recomputed from the plain reference and salt.
    pub commitments_checked: u64,
    /// Consent rows compared with their log entries (filled in by `consent::audit`).
    pub consent_rows_checked: u64,
    pub refused_keys: Vec<RefusedKey>,
    /// The first fault found, naming the entry (None: the log verifies).
    pub fault: Option<String>,
    /// Index of the first bad entry, when one entry can be named.
    pub first_bad_entry: Option<u64>,
}

/// What verification trusts besides the database: the authenticated signing keys, the
/// checkpoint file and witness keys, and the clock (for missing heads).
pub struct Evidence<'a> {
    pub signer: &'a Signer,
    pub checkpoints: &'a CheckpointLog,
    pub now_ms: i64,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.fault.is_none()
    }
}

const PAGE: u32 = 5_000;

pub async fn verify_tenant(
    db: &Db,
    evidence: &Evidence<'_>,
    tenant: &str,
) -> Result<VerifyReport, LedgerError> {
    let signer = evidence.signer;
    let mut report = VerifyReport {
        tenant: tenant.to_string(),
        refused_keys: signer.refused_keys(),
        ..VerifyReport::default()
    };
    let salts: HashMap<String, Vec<u8>> = store::ledger::customer_salts(db, tenant)
        .await?
        .into_iter()
        .collect();
    // The newest entry logged before this moment must be covered by a checkpoint.
    let old_before = evidence.now_ms - MAX_HEAD_DELAY.as_millis() as i64;
    let mut last_old_entry: Option<u64> = None;
    let fail = |mut r: VerifyReport, fault: String, entry: Option<u64>| {
        r.fault = Some(fault);
        r.first_bad_entry = entry;
        Ok(r)
    };
    // The keys first: everything signed rests on them.
    if let Some(key) = report.refused_keys.first().cloned() {
        let fault = format!(
            "signing key {} is refused: {}; it is not trusted or published",
            key.kid, key.reason
        );
        return fail(report, fault, None);
    }
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
                    if row.created_at <= old_before {
                        last_old_entry = Some(row.index);
                    }
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
            // The plain reference is not hashed (erasure clears it), but while it is set it
            // must be the one the hashed commitment was made for.
            if let Some(customer) = &row.customer_ref {
                let matches = match (commitment, salts.get(customer)) {
                    (Some(c), Some(salt)) => entry::customer_commitment(salt, customer) == c,
                    _ => false,
                };
                if !matches {
                    report.entries = next;
                    return fail(
                        report,
                        format!(
                            "entry {}: its customer reference is not the customer its hashed commitment names (customer_ref edited)",
                            row.index
                        ),
                        Some(row.index),
                    );
                }
                report.commitments_checked += 1;
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

    if let Err((fault, entry)) =
        check_checkpoints(evidence, tenant, &tree, last_old_entry, &mut report).await?
    {
        return fail(report, fault, entry);
    }
    Ok(report)
}

type Fault = (String, Option<u64>);

/// Every external checkpoint and cosignature against the database's tree, then coverage.
async fn check_checkpoints(
    evidence: &Evidence<'_>,
    tenant: &str,
    tree: &MerkleTree,
    last_old_entry: Option<u64>,
    report: &mut VerifyReport,
) -> Result<Result<(), Fault>, LedgerError> {
    let log = evidence.checkpoints;
    let origin = log.origin(tenant);
    let log_key = log
        .log_key(tenant)
        .map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
    let records = log
        .history(tenant)
        .await
        .map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
    let entries = tree.len();
    for (line, record) in records.iter().enumerate() {
        let line = line + 1;
        let signed = match checkpoint::parse(record.note.as_bytes()) {
            Ok(s) => s,
            Err(e) => return Ok(Err((format!("checkpoint file line {line}: {e}"), None))),
        };
        let size = signed.checkpoint.size;
        if signed.checkpoint.origin != origin {
            return Ok(Err((
                format!(
                    "checkpoint file line {line}: origin `{}` is not this log's (`{origin}`)",
                    signed.checkpoint.origin
                ),
                None,
            )));
        }
        if let Err(e) = log_key.verify(&signed.note) {
            return Ok(Err((
                format!("external checkpoint at size {size}: {e}"),
                None,
            )));
        }
        if size > entries {
            return Ok(Err((
                format!(
                    "external checkpoint at size {size} covers entries missing from the database: entry {entries} onwards (truncated)"
                ),
                Some(entries),
            )));
        }
        if tree.root(size)? != signed.checkpoint.root {
            return Ok(Err((
                format!(
                    "external checkpoint at size {size}: the database does not reproduce its root (entries before {size} were rewritten)"
                ),
                None,
            )));
        }
        report.checkpoints += 1;
        report.first_checkpoint_at.get_or_insert(record.time_ms);
        if size >= report.proven_size {
            report.proven_size = size;
            report.proven_at = Some(record.time_ms);
        }
        for witness in log.witnesses() {
            let named = signed
                .note
                .signatures
                .iter()
                .any(|s| s.name == witness.key.name && s.key_hash == witness.key.key_hash);
            if !named {
                continue;
            }
            match witness.key.verify_cosignature(&signed.note) {
                Ok(timestamp) if size >= report.witnessed_size => {
                    report.witnessed_size = size;
                    report.witnessed_at = Some(timestamp as i64 * 1000);
                }
                Ok(_) => {}
                Err(e) => {
                    return Ok(Err((
                        format!("external checkpoint at size {size}: cosignature: {e}"),
                        None,
                    )));
                }
            }
        }
    }
    if let Some(old) = last_old_entry {
        let delay = MAX_HEAD_DELAY.as_secs();
        if old >= report.proven_size {
            return Ok(Err((
                format!(
                    "missing tree head: no external checkpoint covers entries {}..={old}, and entry {old} was logged more than {delay} s ago (one is signed every minute while entries are added)",
                    report.proven_size
                ),
                Some(report.proven_size),
            )));
        }
        if !log.witnesses().is_empty() && old >= report.witnessed_size {
            return Ok(Err((
                format!(
                    "no witness has cosigned a checkpoint covering entries {}..={old}, and entry {old} was logged more than {delay} s ago",
                    report.witnessed_size
                ),
                Some(report.witnessed_size),
            )));
        }
    }
    Ok(Ok(()))
}
