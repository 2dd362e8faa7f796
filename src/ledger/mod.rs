//! The per-tenant tamper-evident log: a hash chain plus signed RFC 9162 Merkle tree heads.
//!
//! * [`merkle`] and [`entry`] are the pure core (hashes, proofs, the bytes a leaf covers).
//! * [`Ledger`] is the service: one writer task receives every append of this process, batches
//!   whatever is waiting into one transaction (group commit) and acknowledges each append only
//!   after that transaction committed (SQLite WAL `synchronous=FULL`, PostgreSQL
//!   `synchronous_commit=on`). Speed comes from batching, never from weakening the sync.
//! * [`verify`] recomputes a whole log and names the first bad entry (`trustline audit verify`).
//! * [`checkpoint`] and [`publish`]: signed tree heads leave the database as C2SP checkpoints
//!   in a file outside it, cosigned by witnesses; `audit verify` checks the database against
//!   them.

pub mod bench;
pub mod checkpoint;
pub mod entry;
pub mod merkle;
pub mod publish;
pub mod verify;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};

use crate::{
    crypto::signing::Signer,
    store::{self, Db, StoreError, batch::BatchWrite, ledger::EntryRow, now_ms},
    tenants::{CustomerRef, TenantId},
};
use entry::{EntryFields, TREE_HEAD_TYP, TreeHeadClaims};
use merkle::{Hash, MerkleTree, ProofError};

/// Most appends one transaction carries; more wait for the next commit.
pub const MAX_BATCH: usize = 2048;
/// Appends waiting for the writer before callers are made to wait for space.
const QUEUE_DEPTH: usize = 16 * 1024;

/// One event to log. `body` holds ids, outcomes, scores, versions: never personal data.
#[derive(Debug, Clone)]
pub struct LedgerEvent {
    /// consent_granted, consent_withdrawn, consent_expired, decision, factor_attempt,
    /// staff_action, template_deleted, ...
    pub kind: String,
    /// Stored beside the entry, not hashed (only a salted commitment is).
    pub customer: Option<CustomerRef>,
    pub session_id: Option<String>,
    pub body: serde_json::Value,
}

impl LedgerEvent {
    /// A staff member's console action (kind `staff_action`), in the one shape every such
    /// entry has: the action, the identity provider's subject (an opaque id), the roles it
    /// acted with, and action-specific details. A customer it concerns goes beside the entry.
    pub fn staff_action(
        actor: &str,
        roles: &[&str],
        action: &str,
        customer: Option<CustomerRef>,
        details: serde_json::Value,
    ) -> Self {
        Self {
            kind: "staff_action".into(),
            customer,
            session_id: None,
            body: serde_json::json!({
                "action": action,
                "actor": actor,
                "roles": roles,
                "details": details,
            }),
        }
    }
}

/// Where an acknowledged append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerReceipt {
    pub index: u64,
    pub leaf_hash: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("the append was not committed: {0}")]
    Append(String),
    #[error("the ledger writer has stopped")]
    WriterGone,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing failed: {0}")]
    Signing(String),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("the stored log is inconsistent: {0}")]
    Corrupt(String),
    #[error("the log has no signed tree head yet")]
    NoTreeHead,
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

/// The service signs a tree head (and checkpoint) for every log that grew at least this often.
pub const TREE_HEAD_INTERVAL: Duration = Duration::from_secs(60);
/// `audit verify` fails when an entry older than this is covered by no external checkpoint:
/// the service should have signed one (twice the interval, for a slow tick).
pub const MAX_HEAD_DELAY: Duration = Duration::from_secs(120);

/// A signed tree head as published.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignedTreeHead {
    pub tree_size: u64,
    /// Hex SHA-256 Merkle root (RFC 9162).
    pub root_hash: String,
    pub timestamp: i64,
    /// Compact JWS (EdDSA, typ `trustline-sth+jwt`) over {tenant, tree_size, root_hash,
    /// timestamp}; verify with the service's JWKS.
    pub jws: String,
}

struct AppendRequest {
    tenant: TenantId,
    event: LedgerEvent,
    /// Rows that commit in the same transaction as the entry: both are durable, or neither.
    with: Vec<BatchWrite>,
    reply: oneshot::Sender<Result<LedgerReceipt, LedgerError>>,
}

pub struct Ledger {
    db: Db,
    signer: Arc<Signer>,
    sender: mpsc::Sender<AppendRequest>,
    /// Per-tenant Merkle trees, extended from the database on demand (proofs, heads).
    trees: Mutex<HashMap<String, Arc<tokio::sync::Mutex<MerkleTree>>>>,
    /// Where checkpoints go outside the database (None: a bare ledger, as in benchmarks).
    checkpoints: Option<Arc<publish::CheckpointLog>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ledger")
    }
}

impl Ledger {
    /// Start the writer task. Must be called inside a Tokio runtime.
    pub fn start(db: Db, signer: Arc<Signer>) -> Arc<Self> {
        Self::start_with_batch(db, signer, MAX_BATCH)
    }

    /// As [`Ledger::start`] with a batch limit; `1` disables group commit (one transaction per
    /// append), for the benchmark's comparison.
    pub fn start_with_batch(db: Db, signer: Arc<Signer>, max_batch: usize) -> Arc<Self> {
        Self::start_inner(db, signer, max_batch, None)
    }

    /// As [`Ledger::start`], publishing every signed head as a checkpoint outside the database
    /// and to the witnesses (the service's ledger).
    pub fn start_publishing(
        db: Db,
        signer: Arc<Signer>,
        checkpoints: Arc<publish::CheckpointLog>,
    ) -> Arc<Self> {
        Self::start_inner(db, signer, MAX_BATCH, Some(checkpoints))
    }

    fn start_inner(
        db: Db,
        signer: Arc<Signer>,
        max_batch: usize,
        checkpoints: Option<Arc<publish::CheckpointLog>>,
    ) -> Arc<Self> {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(writer(db.clone(), receiver, max_batch.clamp(1, MAX_BATCH)));
        Arc::new(Self {
            db,
            signer,
            sender,
            trees: Mutex::new(HashMap::new()),
            checkpoints,
        })
    }

    /// The checkpoint files and witnesses, when this ledger publishes.
    pub fn checkpoints(&self) -> Option<&Arc<publish::CheckpointLog>> {
        self.checkpoints.as_ref()
    }

    /// Append one event; returns only after the transaction holding it has committed.
    pub async fn append(
        &self,
        tenant: &TenantId,
        event: LedgerEvent,
    ) -> Result<LedgerReceipt, LedgerError> {
        self.append_with(tenant, event, Vec::new()).await
    }

    /// Append one event together with the rows it records (a new or re-decided session and
    /// its counters, a granted consent): they commit in the same batch transaction, so the
    /// outcome and its audit event cost one durable commit, shared with every other append
    /// waiting, and exist together or not at all. Returns only after that commit. If the rows
    /// are refused (a constraint, a stale session revision), this append fails alone with the
    /// store's error: the batch is retried without it.
    pub async fn append_with(
        &self,
        tenant: &TenantId,
        event: LedgerEvent,
        with: Vec<BatchWrite>,
    ) -> Result<LedgerReceipt, LedgerError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(AppendRequest {
                tenant: tenant.clone(),
                event,
                with,
                reply,
            })
            .await
            .map_err(|_| LedgerError::WriterGone)?;
        answer.await.map_err(|_| LedgerError::WriterGone)?
    }

    /// The tenant's tree, brought up to date with every committed entry.
    async fn synced_tree(&self, tenant: &str) -> Result<OwnedMutexGuard<MerkleTree>, LedgerError> {
        let tree = {
            let mut trees = self
                .trees
                .lock()
                .map_err(|_| LedgerError::Corrupt("tree cache poisoned".into()))?;
            trees.entry(tenant.to_string()).or_default().clone()
        };
        let mut guard = tree.lock_owned().await;
        const PAGE: u32 = 20_000;
        loop {
            let rows = store::ledger::leaf_hashes(&self.db, tenant, guard.len(), PAGE).await?;
            let n = rows.len();
            for (idx, hash) in rows {
                if idx != guard.len() {
                    return Err(LedgerError::Corrupt(format!(
                        "entry {} is missing",
                        guard.len()
                    )));
                }
                guard.push(to_hash(&hash)?);
            }
            if n < PAGE as usize {
                break;
            }
        }
        Ok(guard)
    }

    /// Sign a tree head over everything committed so far (reuses the latest if nothing new),
    /// and publish it as a checkpoint outside the database. Refuses (`Corrupt`) when the
    /// database no longer reproduces the latest checkpoint on file.
    pub async fn sign_tree_head(&self, tenant: &TenantId) -> Result<SignedTreeHead, LedgerError> {
        let tree = self.synced_tree(tenant.as_str()).await?;
        let size = tree.len();
        self.check_against_latest_checkpoint(tenant, &tree).await?;
        let root = tree.root(size)?;
        drop(tree);
        if let Some(latest) = store::ledger::latest_tree_head(&self.db, tenant.as_str()).await?
            && latest.tree_size == size
            && latest.root_hash == root
        {
            self.publish_checkpoint(tenant, size, root).await?;
            return Ok(head_from_row(latest));
        }
        let claims = TreeHeadClaims {
            tenant: tenant.to_string(),
            tree_size: size,
            root_hash: hex::encode(root),
            timestamp: now_ms(),
        };
        let value =
            serde_json::to_value(&claims).map_err(|e| LedgerError::Signing(e.to_string()))?;
        let jws = self
            .signer
            .sign_jws(&value, TREE_HEAD_TYP)
            .map_err(|e| LedgerError::Signing(e.to_string()))?;
        let row = store::ledger::TreeHeadRow {
            tree_size: size,
            root_hash: root.to_vec(),
            created_at: claims.timestamp,
            jws,
        };
        store::ledger::insert_tree_head(&self.db, tenant.as_str(), &row).await?;
        self.publish_checkpoint(tenant, size, root).await?;
        Ok(head_from_row(row))
    }

    /// Check that a stored entry is the ledger's own: its hashed fields reproduce its leaf
    /// hash, that hash is the one at its index in the ledger's tree, and the tree still
    /// reproduces the latest checkpoint on file. (The tree is kept in memory once read, so a
    /// row rewritten while the service runs no longer matches it; after a restart the
    /// checkpoint on file catches a rewrite.)
    pub async fn check_entry(
        &self,
        tenant: &TenantId,
        row: &store::ledger::EntryRow,
    ) -> Result<(), LedgerError> {
        let commitment = row
            .customer_commitment
            .as_deref()
            .map(to_hash)
            .transpose()?;
        let fields = EntryFields {
            tenant: tenant.as_str(),
            index: row.index,
            prev_hash: to_hash(&row.prev_hash)?,
            kind: &row.kind,
            time_ms: row.created_at,
            session_id: row.session_id.as_deref(),
            customer_commitment: commitment,
            body: &row.body,
        };
        let tree = self.synced_tree(tenant.as_str()).await?;
        if tree.leaf(row.index) != Some(fields.leaf_hash()) {
            return Err(LedgerError::Corrupt(format!(
                "entry {}: its content is not what the log holds at that index",
                row.index
            )));
        }
        self.check_against_latest_checkpoint(tenant, &tree).await
    }

    pub async fn latest_tree_head(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<SignedTreeHead>, LedgerError> {
        Ok(store::ledger::latest_tree_head(&self.db, tenant.as_str())
            .await?
            .map(head_from_row))
    }

    /// Inclusion proof of entry `index` in the tree of `tree_size` (default: the latest signed
    /// head that covers the entry, signing a new one when none does).
    pub async fn inclusion_proof(
        &self,
        tenant: &TenantId,
        index: u64,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof, LedgerError> {
        let head = match tree_size {
            Some(_) => None,
            None => {
                let latest = self.latest_tree_head(tenant).await?;
                match latest {
                    Some(h) if h.tree_size > index => Some(h),
                    _ => Some(self.sign_tree_head(tenant).await?),
                }
            }
        };
        let size = tree_size
            .or(head.as_ref().map(|h| h.tree_size))
            .unwrap_or(0);
        let tree = self.synced_tree(tenant.as_str()).await?;
        let proof = tree.inclusion_proof(index, size)?;
        Ok(InclusionProof {
            leaf_index: index,
            tree_size: size,
            leaf_hash: hex::encode(tree.leaf(index).unwrap_or_default()),
            root_hash: hex::encode(tree.root(size)?),
            audit_path: proof.iter().map(hex::encode).collect(),
            tree_head: head,
        })
    }

    pub async fn consistency_proof(
        &self,
        tenant: &TenantId,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProof, LedgerError> {
        let tree = self.synced_tree(tenant.as_str()).await?;
        let proof = tree.consistency_proof(first, second)?;
        Ok(ConsistencyProof {
            first,
            second,
            first_root: hex::encode(tree.root(first)?),
            second_root: hex::encode(tree.root(second)?),
            proof: proof.iter().map(hex::encode).collect(),
        })
    }

    /// Erasure: drop the customer's salt and plain reference; every hash still verifies.
    pub async fn forget_customer(
        &self,
        tenant: &TenantId,
        customer: &CustomerRef,
    ) -> Result<u64, LedgerError> {
        Ok(store::ledger::forget_customer(&self.db, tenant.as_str(), customer.as_str()).await?)
    }

    /// Sign (and publish) a head for every tenant whose log grew since its last head or its
    /// last checkpoint on file.
    pub async fn sign_grown_heads(&self) -> Result<u64, LedgerError> {
        let mut signed = 0;
        for tenant in store::ledger::tenants(&self.db).await? {
            let Ok(tenant_id) = tenant.parse::<TenantId>() else {
                continue;
            };
            let (size, _) = store::ledger::tip(&self.db, &tenant)
                .await?
                .unwrap_or_default();
            let head = store::ledger::latest_tree_head(&self.db, &tenant)
                .await?
                .map(|h| h.tree_size);
            let published = match &self.checkpoints {
                Some(log) => log
                    .latest_size(&tenant)
                    .await
                    .map_err(|e| LedgerError::Checkpoint(e.to_string()))?,
                None => head,
            };
            if size > 0 && (head != Some(size) || published != Some(size)) {
                match self.sign_tree_head(&tenant_id).await {
                    Ok(_) => signed += 1,
                    // One tenant's broken log must not stop the others' heads.
                    Err(e) => tracing::error!(tenant = %tenant, error = %e, "tree head not signed"),
                }
            }
        }
        Ok(signed)
    }
}

/// An inclusion proof as served (hex hashes), with the signed head it leads to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub root_hash: String,
    /// RFC 9162 §2.1.3 audit path, leaf to root.
    pub audit_path: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_head: Option<SignedTreeHead>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub first: u64,
    pub second: u64,
    pub first_root: String,
    pub second_root: String,
    pub proof: Vec<String>,
}

fn head_from_row(row: store::ledger::TreeHeadRow) -> SignedTreeHead {
    SignedTreeHead {
        tree_size: row.tree_size,
        root_hash: hex::encode(&row.root_hash),
        timestamp: row.created_at,
        jws: row.jws,
    }
}

pub(crate) fn to_hash(bytes: &[u8]) -> Result<Hash, LedgerError> {
    bytes
        .try_into()
        .map_err(|_| LedgerError::Corrupt("a stored hash is not 32 bytes".into()))
}

/// The single writer: take whatever is queued (up to [`MAX_BATCH`]), commit it in one
/// transaction, then answer every caller. Callers are answered only after the commit.
async fn writer(db: Db, mut receiver: mpsc::Receiver<AppendRequest>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    while receiver.recv_many(&mut batch, max_batch).await > 0 {
        let started = std::time::Instant::now();
        let result = commit_batch(&db, &batch).await;
        metrics::histogram!("trustline_ledger_batch_size").record(batch.len() as f64);
        metrics::histogram!("trustline_ledger_commit_seconds")
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(receipts) => {
                for (request, receipt) in batch.drain(..).zip(receipts) {
                    let _ = request.reply.send(Ok(receipt));
                }
            }
            // A statement was refused before COMMIT (nothing was written): most likely one
            // request's rows, so commit each request alone and let only the culprit fail, with
            // its own (typed) reason: a stale session revision is retried by its caller.
            Err(BatchError::Refused(e)) => {
                if batch.len() > 1 {
                    tracing::warn!(error = %e, appends = batch.len(), "ledger batch refused; retrying one by one");
                    for request in batch.drain(..) {
                        let result = commit_batch(&db, std::slice::from_ref(&request))
                            .await
                            .map(|mut receipts| receipts.remove(0))
                            .map_err(BatchError::into_ledger);
                        let _ = request.reply.send(result);
                    }
                } else if let Some(request) = batch.pop() {
                    let _ = request.reply.send(Err(e));
                }
            }
            // COMMIT itself failed (or a lone request was refused): its outcome may be unknown
            // on PostgreSQL, so nothing is retried; every caller gets the error.
            Err(e) => {
                tracing::error!(error = %e, appends = batch.len(), "ledger batch failed");
                let message = e.to_string();
                for request in batch.drain(..) {
                    let _ = request
                        .reply
                        .send(Err(LedgerError::Append(message.clone())));
                }
            }
        }
    }
}

/// Why a batch did not commit.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    /// A statement failed before COMMIT; the transaction was rolled back.
    #[error("{0}")]
    Refused(LedgerError),
    /// COMMIT failed.
    #[error("commit failed: {0}")]
    Commit(StoreError),
}

impl BatchError {
    /// What a lone request's caller is told: a refusal keeps its reason; a failed COMMIT's
    /// outcome may be unknown, so it is not passed off as a store refusal.
    fn into_ledger(self) -> LedgerError {
        match self {
            BatchError::Refused(e) => e,
            e @ BatchError::Commit(_) => LedgerError::Append(e.to_string()),
        }
    }
}

/// One transaction for the whole batch: per tenant, lock the tip, chain the entries, insert
/// them, move the tip; then the companion rows. Receipts come back in request order.
async fn commit_batch(db: &Db, batch: &[AppendRequest]) -> Result<Vec<LedgerReceipt>, BatchError> {
    let mut tx = db
        .pool
        .begin()
        .await
        .map_err(|e| BatchError::Refused(StoreError::from(e).into()))?;
    let receipts = stage_batch(&mut tx, batch)
        .await
        .map_err(BatchError::Refused)?;
    tx.commit()
        .await
        .map_err(|e| BatchError::Commit(e.into()))?;
    Ok(receipts)
}

/// The statements of [`commit_batch`], inside its transaction.
async fn stage_batch(
    tx: &mut sqlx::AnyConnection,
    batch: &[AppendRequest],
) -> Result<Vec<LedgerReceipt>, LedgerError> {
    let mut by_tenant: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, request) in batch.iter().enumerate() {
        match by_tenant
            .iter_mut()
            .find(|(t, _)| *t == request.tenant.as_str())
        {
            Some((_, positions)) => positions.push(i),
            None => by_tenant.push((request.tenant.as_str(), vec![i])),
        }
    }
    let time_ms = now_ms();
    let rng = SystemRandom::new();
    let mut receipts = vec![
        LedgerReceipt {
            index: 0,
            leaf_hash: [0; 32]
        };
        batch.len()
    ];
    for (tenant, positions) in by_tenant {
        let (size, last) = store::ledger::lock_tip(&mut *tx, tenant).await?;
        let mut prev = to_hash(&last)?;
        let mut salts: HashMap<&str, Vec<u8>> = HashMap::new();
        let mut rows = Vec::with_capacity(positions.len());
        for (offset, &i) in positions.iter().enumerate() {
            let event = &batch[i].event;
            let commitment = match &event.customer {
                Some(customer) => {
                    let salt = match salts.get(customer.as_str()) {
                        Some(s) => s.clone(),
                        None => {
                            let mut fresh = [0u8; 32];
                            rng.fill(&mut fresh)
                                .map_err(|_| LedgerError::Append("no randomness".into()))?;
                            let s = store::ledger::customer_salt(
                                &mut *tx,
                                tenant,
                                customer.as_str(),
                                &fresh,
                            )
                            .await?;
                            salts.insert(customer.as_str(), s.clone());
                            s
                        }
                    };
                    Some(entry::customer_commitment(&salt, customer.as_str()))
                }
                None => None,
            };
            let body = serde_json::to_string(&event.body)
                .map_err(|e| LedgerError::Append(e.to_string()))?;
            let index = size + offset as u64;
            let fields = EntryFields {
                tenant,
                index,
                prev_hash: prev,
                kind: &event.kind,
                time_ms,
                session_id: event.session_id.as_deref(),
                customer_commitment: commitment,
                body: &body,
            };
            let leaf = fields.leaf_hash();
            rows.push(EntryRow {
                index,
                prev_hash: prev.to_vec(),
                leaf_hash: leaf.to_vec(),
                kind: event.kind.clone(),
                created_at: time_ms,
                session_id: event.session_id.clone(),
                customer_commitment: commitment.map(|c| c.to_vec()),
                customer_ref: event.customer.as_ref().map(|c| c.to_string()),
                body,
            });
            receipts[i] = LedgerReceipt {
                index,
                leaf_hash: leaf,
            };
            prev = leaf;
        }
        store::ledger::insert_entries(&mut *tx, tenant, &rows).await?;
        store::ledger::set_tip(&mut *tx, tenant, size + rows.len() as u64, &prev).await?;
    }
    // The companion rows, after the entries: a consent row names its entry's index.
    let companions: Vec<(&BatchWrite, u64)> = batch
        .iter()
        .zip(&receipts)
        .flat_map(|(r, receipt)| r.with.iter().map(move |w| (w, receipt.index)))
        .collect();
    if !companions.is_empty() {
        store::batch::apply(&mut *tx, &companions).await?;
    }
    Ok(receipts)
}
