//! Checkpoints leave the database. Every tree head the service signs is also a C2SP
//! checkpoint ([`super::checkpoint`]) signed with a key derived from the master key, appended to
//! a per-tenant file outside the database (`<checkpoint_dir>/<tenant>/checkpoints.jsonl`, one
//! JSON record per line, fsynced; `checkpoint` beside it holds the latest note) and submitted to
//! every configured witness (tlog-witness `add-checkpoint`, with a consistency proof from the
//! size the witness last saw). Cosigned notes are appended to the same file.
//!
//! Before signing, the service checks that the database still reproduces the latest checkpoint
//! on file: a log rewritten in the database is refused, not signed over.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;
use zeroize::Zeroizing;

use super::{
    Ledger, LedgerError,
    checkpoint::{self, Checkpoint},
    merkle::Hash,
};
use crate::{
    config::Settings,
    crypto::{
        envelope::MasterKey,
        note::{Note, NoteError, NoteSignature, NoteSigner, VerifierKey},
    },
    store::now_ms,
    tenants::TenantId,
};

/// HKDF purpose of the checkpoint key: one key for every tenant, named by each tenant's origin.
const CHECKPOINT_KEY_PURPOSE: &[u8] = b"trustline checkpoint signing key v1";
const HISTORY_FILE: &str = "checkpoints.jsonl";
const LATEST_FILE: &str = "checkpoint";
const WITNESS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("checkpoint file {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("checkpoint key: {0}")]
    Key(#[from] NoteError),
}

/// One line of the history file: a signed note (the log's signature, and the cosignatures
/// gathered so far) and when this instance wrote it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointRecord {
    pub time_ms: i64,
    pub note: String,
}

/// A configured witness.
#[derive(Debug, Clone)]
pub struct Witness {
    pub url: String,
    pub key: VerifierKey,
}

/// The checkpoint files, the checkpoint key and the witnesses.
pub struct CheckpointLog {
    dir: PathBuf,
    origin_prefix: String,
    seed: Zeroizing<[u8; 32]>,
    witnesses: Vec<Witness>,
    client: reqwest::Client,
    /// Per (tenant, witness) the size that witness last cosigned, as far as this process knows;
    /// a witness that knows better answers 409 with its size and is asked again.
    witness_sizes: Mutex<HashMap<(String, String), u64>>,
    /// One publication at a time in this process (appends from other processes are whole
    /// lines written with O_APPEND).
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for CheckpointLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointLog({})", self.dir.display())
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> PublishError + '_ {
    move |e| PublishError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

impl CheckpointLog {
    pub fn new(settings: &Settings, master: &MasterKey) -> Result<Self, PublishError> {
        let seed = master
            .derive(CHECKPOINT_KEY_PURPOSE)
            .map_err(|_| NoteError::BadKey("cannot derive the checkpoint key"))?;
        let witnesses = settings
            .witnesses
            .iter()
            .map(|w| {
                Ok(Witness {
                    url: w.url.clone(),
                    key: VerifierKey::parse(&w.key)?,
                })
            })
            .collect::<Result<_, NoteError>>()?;
        let client = reqwest::Client::builder()
            .timeout(WITNESS_TIMEOUT)
            .build()
            .map_err(|e| PublishError::Io {
                path: settings.checkpoint_dir.clone(),
                reason: format!("HTTP client: {e}"),
            })?;
        Ok(Self {
            dir: settings.checkpoint_dir.clone(),
            origin_prefix: settings.log_origin_prefix.clone(),
            seed,
            witnesses,
            client,
            witness_sizes: Mutex::new(HashMap::new()),
            lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn origin(&self, tenant: &str) -> String {
        checkpoint::origin(&self.origin_prefix, tenant)
    }

    fn signer(&self, tenant: &str) -> Result<NoteSigner, NoteError> {
        checkpoint::log_signer(&self.seed, &self.origin(tenant))
    }

    /// The tenant log's verifier key (`origin+hash+base64`), for third-party verifiers and
    /// witnesses.
    pub fn log_key(&self, tenant: &str) -> Result<VerifierKey, NoteError> {
        Ok(self.signer(tenant)?.verifier().clone())
    }

    /// The tenant log's signed checkpoint note for (`size`, `root`), log signature only.
    pub fn sign_checkpoint(&self, tenant: &str, size: u64, root: Hash) -> Result<Note, NoteError> {
        let signer = self.signer(tenant)?;
        Ok(checkpoint::sign(
            &signer,
            &Checkpoint {
                origin: self.origin(tenant),
                size,
                root,
                extensions: Vec::new(),
            },
        ))
    }

    pub fn witnesses(&self) -> &[Witness] {
        &self.witnesses
    }

    fn tenant_dir(&self, tenant: &str) -> PathBuf {
        // Tenant ids are [a-z0-9_-] (TenantId), safe as a directory name.
        self.dir.join(tenant)
    }

    /// Every record on file, in the order written. A last line cut short by a crash (no
    /// newline) is skipped; any other unreadable line is an error.
    pub async fn history(&self, tenant: &str) -> Result<Vec<CheckpointRecord>, PublishError> {
        let path = self.tenant_dir(tenant).join(HISTORY_FILE);
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&path)(e)),
        };
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => "",
        };
        complete
            .split('\n')
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| PublishError::Io {
                    path: path.clone(),
                    reason: format!("line {}: {e}", i + 1),
                })
            })
            .collect()
    }

    /// The latest note on file (what `GET /v1/ledger/checkpoint` serves), if any.
    pub async fn latest(&self, tenant: &str) -> Result<Option<String>, PublishError> {
        let path = self.tenant_dir(tenant).join(LATEST_FILE);
        match tokio::fs::read_to_string(&path).await {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// The latest checkpoint on file, parsed and checked against the log key.
    async fn latest_checkpoint(&self, tenant: &str) -> Result<Option<Checkpoint>, LedgerError> {
        let Some(text) = self.latest(tenant).await.map_err(publish_error)? else {
            return Ok(None);
        };
        let key = self.log_key(tenant).map_err(|e| publish_error(e.into()))?;
        checkpoint::verify(text.as_bytes(), &key)
            .map(|s| Some(s.checkpoint))
            .map_err(|e| LedgerError::Checkpoint(format!("the latest checkpoint on file: {e}")))
    }

    /// The size of the latest checkpoint on file (None: none yet, or unreadable).
    pub async fn latest_size(&self, tenant: &str) -> Result<Option<u64>, PublishError> {
        Ok(self
            .latest(tenant)
            .await?
            .and_then(|t| checkpoint::parse(t.as_bytes()).ok())
            .map(|c| c.checkpoint.size))
    }

    /// Append one record (one line, O_APPEND, fsynced) and replace the latest note.
    async fn record(&self, tenant: &str, note: &Note) -> Result<(), PublishError> {
        let dir = self.tenant_dir(tenant);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_error(&dir))?;
        let text = note.encode();
        let mut line = serde_json::to_string(&CheckpointRecord {
            time_ms: now_ms(),
            note: text.clone(),
        })
        .map_err(|e| PublishError::Io {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        line.push('\n');
        let history = dir.join(HISTORY_FILE);
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&history)
            .await
            .map_err(io_error(&history))?;
        file.write_all(line.as_bytes())
            .await
            .map_err(io_error(&history))?;
        file.sync_data().await.map_err(io_error(&history))?;
        // The latest note: written beside, then renamed over (readers never see half a note).
        let latest = dir.join(LATEST_FILE);
        let tmp = dir.join(format!(".{LATEST_FILE}.{}.tmp", std::process::id()));
        let mut f = tokio::fs::File::create(&tmp)
            .await
            .map_err(io_error(&tmp))?;
        f.write_all(text.as_bytes()).await.map_err(io_error(&tmp))?;
        f.sync_data().await.map_err(io_error(&tmp))?;
        tokio::fs::rename(&tmp, &latest)
            .await
            .map_err(io_error(&latest))?;
        Ok(())
    }
}

fn publish_error(e: PublishError) -> LedgerError {
    LedgerError::Checkpoint(e.to_string())
}

/// The body of a tlog-witness `add-checkpoint` request.
pub fn add_checkpoint_body(old_size: u64, proof: &[Hash], note: &str) -> String {
    let mut body = format!("old {old_size}\n");
    for h in proof {
        body.push_str(&B64.encode(h));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    body
}

impl Ledger {
    /// Refuse to sign over a database that no longer reproduces the latest checkpoint on file.
    pub(super) async fn check_against_latest_checkpoint(
        &self,
        tenant: &TenantId,
        tree: &super::merkle::MerkleTree,
    ) -> Result<(), LedgerError> {
        let Some(log) = &self.checkpoints else {
            return Ok(());
        };
        let Some(latest) = log.latest_checkpoint(tenant.as_str()).await? else {
            return Ok(());
        };
        if latest.size > tree.len() || tree.root(latest.size)? != latest.root {
            tracing::error!(tenant = %tenant, checkpoint_size = latest.size, "the database does not reproduce the latest external checkpoint; not signing");
            return Err(LedgerError::Corrupt(format!(
                "the database does not reproduce the external checkpoint at size {}: the log was rewritten or truncated",
                latest.size
            )));
        }
        Ok(())
    }

    /// Write the checkpoint for (`size`, `root`) to the file unless it is there already, then
    /// gather witness cosignatures. Witness failures are logged, not returned: the checkpoint
    /// on file stands, and the next one carries a proof from wherever the witness stopped.
    pub(super) async fn publish_checkpoint(
        &self,
        tenant: &TenantId,
        size: u64,
        root: Hash,
    ) -> Result<(), LedgerError> {
        let Some(log) = &self.checkpoints else {
            return Ok(());
        };
        let _guard = log.lock.lock().await;
        if let Some(latest) = log.latest_checkpoint(tenant.as_str()).await?
            && latest.size >= size
        {
            return Ok(()); // this one, or a later one, is on file already
        }
        let mut note = log
            .sign_checkpoint(tenant.as_str(), size, root)
            .map_err(|e| publish_error(e.into()))?;
        log.record(tenant.as_str(), &note)
            .await
            .map_err(publish_error)?;
        metrics::counter!("trustline_checkpoints_published_total").increment(1);
        let mut cosigned = false;
        for witness in &log.witnesses {
            match self.cosign(log, witness, tenant, size, &note).await {
                Ok(signature) => {
                    note.add_signature(signature);
                    cosigned = true;
                }
                Err(e) => {
                    metrics::counter!("trustline_witness_failures_total").increment(1);
                    tracing::warn!(witness = %witness.url, tenant = %tenant, size, error = %e, "witness did not cosign");
                }
            }
        }
        if cosigned {
            log.record(tenant.as_str(), &note)
                .await
                .map_err(publish_error)?;
        }
        Ok(())
    }

    /// One witness exchange: `add-checkpoint` with a proof from the size the witness last saw;
    /// on 409 (it saw another size) once more from the size it names.
    async fn cosign(
        &self,
        log: &CheckpointLog,
        witness: &Witness,
        tenant: &TenantId,
        size: u64,
        note: &Note,
    ) -> Result<NoteSignature, String> {
        let key = (tenant.to_string(), witness.key.encode());
        let mut old = log
            .witness_sizes
            .lock()
            .map(|m| m.get(&key).copied().unwrap_or(0))
            .unwrap_or(0);
        for _ in 0..2 {
            let proof = if old == 0 || old == size {
                Vec::new()
            } else {
                let tree = self
                    .synced_tree(tenant.as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                tree.consistency_proof(old, size)
                    .map_err(|e| e.to_string())?
            };
            let response = log
                .client
                .post(&witness.url)
                .body(add_checkpoint_body(old, &proof, &note.encode()))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let text = response.text().await.map_err(|e| e.to_string())?;
            if status == reqwest::StatusCode::CONFLICT {
                let theirs: u64 = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("409 without a size: {text}"))?;
                if theirs > size || theirs == old {
                    return Err(format!("the witness is at size {theirs}"));
                }
                old = theirs;
                continue;
            }
            if !status.is_success() {
                return Err(format!(
                    "{status}: {}",
                    text.chars().take(300).collect::<String>()
                ));
            }
            // The body is one or more cosignature lines; keep the one by this witness's key
            // and check it before storing it.
            for line in text.lines() {
                let Ok(signature) = NoteSignature::parse_line(line) else {
                    continue;
                };
                let mut check = note.clone();
                check.add_signature(signature.clone());
                if witness.key.verify_cosignature(&check).is_ok() {
                    if let Ok(mut m) = log.witness_sizes.lock() {
                        m.insert(key, size);
                    }
                    return Ok(signature);
                }
            }
            return Err("the response carries no valid cosignature by this witness".into());
        }
        Err("the witness kept answering 409".into())
    }
}
