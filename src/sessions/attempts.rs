//! Code-factor attempts are reserved before the secret is compared (issue 15: "lockout can be
//! raced"). Concurrent attempts, on one instance or several, each claim one step of the
//! customer's counter in the database (`store::lockout`); an attempt the policy's gate refuses
//! never reaches Argon2 or the code tables. The pure gate is `engine::factor_gate`.

use super::{
    SessionError,
    engine::{self, LockoutState},
};
use crate::{
    AppState,
    policy::{FactorKind, Lockout},
    store::{self, lockout::Counter, now_ms},
    tenants::{CustomerRef, TenantId},
};

/// A claimed attempt: counted as a failure until [`Reservation::succeeded`] clears it or
/// [`Reservation::release`] gives it back.
#[derive(Debug)]
#[must_use = "a reservation is counted as a failure unless it is cleared or released"]
pub struct Reservation {
    kind: FactorKind,
    previous: Option<Counter>,
    reserved: Counter,
}

/// Ask the gate about one counter value (pure).
fn gate(
    lockout: &Lockout,
    kind: FactorKind,
    seen: Option<Counter>,
    now: i64,
) -> Result<(), SessionError> {
    let mut state = LockoutState::default();
    if let Some(c) = seen {
        let failures = u32::try_from(c.failures).unwrap_or(u32::MAX);
        state
            .code_failures
            .insert(kind, (failures, c.last_failure_at));
    }
    match engine::factor_gate(lockout, &state, kind, now) {
        Ok(()) => Ok(()),
        Err(Some(at)) => Err(SessionError::Delayed(kind, at)),
        Err(None) => Err(SessionError::FactorLocked(kind)),
    }
}

/// Claim one attempt of `kind` for the customer, or refuse it (`Delayed`, `FactorLocked`).
/// `seen` is the counter the caller already read (the decision context), to save a read.
pub async fn reserve(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    lockout: &Lockout,
    kind: FactorKind,
    seen: Option<(u32, i64)>,
) -> Result<Reservation, SessionError> {
    let mut seen = seen.map(|(failures, last_failure_at)| Counter {
        failures: i64::from(failures),
        last_failure_at,
    });
    // Each lost claim means another attempt moved the counter one step; without a success in
    // between, at most `code_max_consecutive_failures` steps exist before the gate locks.
    let tries = lockout.code_max_consecutive_failures as usize + 8;
    for _ in 0..tries {
        let now = now_ms();
        gate(lockout, kind, seen, now)?;
        let factor = kind.as_str();
        match store::lockout::reserve(&state.db, tenant, customer, factor, seen, now).await? {
            Some(reserved) => {
                return Ok(Reservation {
                    kind,
                    previous: seen,
                    reserved,
                });
            }
            None => seen = store::lockout::counter(&state.db, tenant, customer, factor).await?,
        }
    }
    Err(SessionError::Conflict)
}

impl Reservation {
    /// The attempt was refused without counting (replayed, outside the window, not enrolled):
    /// restore the counter unless another attempt has moved it since (then it stays counted).
    pub async fn release(
        self,
        state: &AppState,
        tenant: &TenantId,
        customer: &CustomerRef,
    ) -> Result<(), SessionError> {
        store::lockout::release(
            &state.db,
            tenant,
            customer,
            self.kind.as_str(),
            self.reserved,
            self.previous,
        )
        .await?;
        Ok(())
    }

    /// The code was right: clear this factor's counter and re-enable biometrics.
    pub async fn succeeded(
        self,
        state: &AppState,
        tenant: &TenantId,
        customer: &CustomerRef,
        now: i64,
    ) -> Result<(), SessionError> {
        store::sessions::record_factor(&state.db, tenant, customer, self.kind.as_str(), true, now)
            .await?;
        Ok(())
    }
}
