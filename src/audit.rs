//! `trustline audit verify` and the console's verify page: the log checked against what lies
//! outside the database (authenticated keys, external checkpoints, witness cosignatures, the
//! clock), then every consent row checked against the log entries it names.

use crate::{
    AppState,
    ledger::{
        LedgerError,
        verify::{self, Evidence, VerifyReport},
    },
    store::{Db, now_ms},
};

pub async fn verify_tenant(
    db: &Db,
    evidence: &Evidence<'_>,
    tenant: &str,
) -> Result<VerifyReport, LedgerError> {
    let mut report = verify::verify_tenant(db, evidence, tenant).await?;
    if report.ok() {
        crate::consent::audit::check_consents(db, tenant, &mut report).await?;
    }
    Ok(report)
}

/// As [`verify_tenant`] with the running service's keys, checkpoint files and clock.
pub async fn verify_in_service(
    state: &AppState,
    tenant: &str,
) -> Result<VerifyReport, LedgerError> {
    let checkpoints = state
        .ledger
        .checkpoints()
        .ok_or_else(|| LedgerError::Checkpoint("this ledger publishes no checkpoints".into()))?;
    let evidence = Evidence {
        signer: &state.signer,
        checkpoints,
        now_ms: now_ms(),
    };
    verify_tenant(&state.db, &evidence, tenant).await
}
