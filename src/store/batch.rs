//! The rows that commit inside the ledger's batch transaction, beside the entries that record
//! them (a session and its decision, a consent and its grant). The ledger only chains, hashes
//! and orders entries; which tables a companion write touches is the store's business, so
//! `ledger/` names no caller's row type.

use sqlx::AnyConnection;

use super::{StoreError, consents::ConsentRow, sessions::SessionWrite};
use crate::tenants::{CustomerRef, TenantId};

/// One row write that commits with one log entry, or not at all.
#[derive(Debug, Clone)]
pub enum BatchWrite {
    Session(SessionWrite),
    /// A granted consent. Its `ledger_index` becomes its entry's index, known only once the
    /// entry is chained: a grant is in force exactly when it is logged.
    ConsentGrant {
        tenant: TenantId,
        row: Box<ConsentRow>,
    },
    /// A template destroyed with its `template_deleted` entry; refused with
    /// [`StoreError::Stale`] when it is already gone (its destroyer logged that).
    TemplateDelete {
        tenant: TenantId,
        customer: CustomerRef,
        modality: String,
    },
}

impl From<SessionWrite> for BatchWrite {
    fn from(w: SessionWrite) -> Self {
        Self::Session(w)
    }
}

/// Apply a batch's companion writes inside the ledger's transaction, after its entries were
/// staged; `entry_index` is the index of the entry each write rides with. A refused write
/// (a constraint, a session row that changed since it was read) fails the transaction.
pub async fn apply(
    conn: &mut AnyConnection,
    writes: &[(&BatchWrite, u64)],
) -> Result<(), StoreError> {
    let sessions: Vec<&SessionWrite> = writes
        .iter()
        .filter_map(|(w, _)| match w {
            BatchWrite::Session(s) => Some(s),
            BatchWrite::ConsentGrant { .. } | BatchWrite::TemplateDelete { .. } => None,
        })
        .collect();
    if !sessions.is_empty() {
        super::sessions::apply_writes(&mut *conn, &sessions).await?;
    }
    for (write, entry_index) in writes {
        match write {
            BatchWrite::Session(_) => {}
            BatchWrite::ConsentGrant { tenant, row } => {
                let mut row = row.as_ref().clone();
                row.ledger_index = *entry_index as i64;
                super::consents::insert(&mut *conn, tenant, &row).await?;
            }
            BatchWrite::TemplateDelete {
                tenant,
                customer,
                modality,
            } => {
                if !super::templates::delete_template_in(&mut *conn, tenant, customer, modality)
                    .await?
                {
                    return Err(StoreError::Stale);
                }
            }
        }
    }
    Ok(())
}
