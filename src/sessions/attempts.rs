//! Attempts are reserved before they are evaluated (issue 15: "lockout can be raced"): a code
//! before the secret is compared, a biometric sample before it is scored. Concurrent attempts,
//! on one instance or several, each claim one step of the customer's counter in the database
//! (`store::lockout`); an attempt the policy's gate refuses never reaches Argon2, the code
//! tables or a scorer. The pure gates are `engine::factor_gate` and
//! `engine::biometrics_disabled`.

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

/// Which of the customer's counters an attempt claims a step of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counted {
    /// One code factor: free attempts, growing delays, then locked.
    Code(FactorKind),
    /// Every biometric comparison, of any modality: NIST SP 800-63B-4 §3.2.3 counts
    /// consecutive failed biometric attempts per customer, then disables biometrics.
    Biometric,
}

impl Counted {
    fn name(self) -> &'static str {
        match self {
            Counted::Code(kind) => kind.as_str(),
            Counted::Biometric => store::lockout::BIOMETRIC,
        }
    }
}

/// A claimed attempt: counted as a failure until [`Reservation::succeeded`] clears it or
/// [`Reservation::release`] gives it back; [`Reservation::failed`] keeps it counted.
#[derive(Debug)]
#[must_use = "a reservation is counted as a failure unless it is cleared or released"]
pub struct Reservation {
    counted: Counted,
    previous: Option<Counter>,
    reserved: Counter,
}

/// Ask a code factor's gate about one counter value (pure).
fn code_gate(
    lockout: &Lockout,
    kind: FactorKind,
    seen: Option<Counter>,
    now: i64,
) -> Result<(), SessionError> {
    let mut state = LockoutState::default();
    if let Some(c) = seen {
        state
            .code_failures
            .insert(kind, (failures(c), c.last_failure_at));
    }
    match engine::factor_gate(lockout, &state, kind, now) {
        Ok(()) => Ok(()),
        Err(Some(at)) => Err(SessionError::Delayed(kind, at)),
        Err(None) => Err(SessionError::FactorLocked(kind)),
    }
}

fn failures(c: Counter) -> u32 {
    u32::try_from(c.failures).unwrap_or(u32::MAX)
}

/// Claim one step of a counter, re-reading and re-asking `gate` whenever another attempt moved
/// it first. `Ok(Err(refusal))`: the gate refused the counter as it now is.
async fn claim<R>(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    counted: Counted,
    max_failures: u32,
    mut seen: Option<Counter>,
    gate: impl Fn(Option<Counter>, i64) -> Result<(), R>,
) -> Result<Result<Reservation, R>, SessionError> {
    let name = counted.name();
    // Each lost claim means another attempt moved the counter one step; without a success in
    // between, at most `max_failures` steps exist before the gate refuses.
    for _ in 0..max_failures as usize + 8 {
        let now = now_ms();
        if let Err(refusal) = gate(seen, now) {
            return Ok(Err(refusal));
        }
        match store::lockout::reserve(&state.db, tenant, customer, name, seen, now).await? {
            Some(reserved) => {
                return Ok(Ok(Reservation {
                    counted,
                    previous: seen,
                    reserved,
                }));
            }
            None => seen = store::lockout::counter(&state.db, tenant, customer, name).await?,
        }
    }
    Err(SessionError::Conflict)
}

/// Claim one attempt of code factor `kind` for the customer, or refuse it (`Delayed`,
/// `FactorLocked`). `seen` is the counter the caller already read (the decision context), to
/// save a read.
pub async fn reserve(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    lockout: &Lockout,
    kind: FactorKind,
    seen: Option<(u32, i64)>,
) -> Result<Reservation, SessionError> {
    let seen = seen.map(|(failures, last_failure_at)| Counter {
        failures: i64::from(failures),
        last_failure_at,
    });
    let max = lockout.code_max_consecutive_failures;
    claim(
        state,
        tenant,
        customer,
        Counted::Code(kind),
        max,
        seen,
        |c, now| code_gate(lockout, kind, c, now),
    )
    .await?
}

/// A claimed biometric attempt, with the consecutive failures counted before it.
#[derive(Debug)]
pub struct BiometricClaim {
    pub reservation: Reservation,
    pub failures_before: u32,
}

/// Claim one biometric comparison for the customer before a sample is scored. `Ok(Err(n))`
/// when biometrics are disabled: `n` consecutive failures are counted (the policy's maximum or
/// more), and the sample must not be scored.
pub async fn reserve_biometric(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    lockout: &Lockout,
) -> Result<Result<BiometricClaim, u32>, SessionError> {
    let name = store::lockout::BIOMETRIC;
    let seen = store::lockout::counter(&state.db, tenant, customer, name).await?;
    let max = lockout.biometric_max_consecutive_failures;
    let gate = |c: Option<Counter>, _now| {
        let before = c.map_or(0, failures);
        let counted = LockoutState {
            biometric_failures: before,
            ..LockoutState::default()
        };
        if engine::biometrics_disabled(lockout, &counted) {
            Err(before)
        } else {
            Ok(())
        }
    };
    let claimed = claim(state, tenant, customer, Counted::Biometric, max, seen, gate).await?;
    Ok(claimed.map(|reservation| BiometricClaim {
        failures_before: reservation.previous.map_or(0, failures),
        reservation,
    }))
}

impl Reservation {
    /// The attempt was refused without counting (replayed, outside the window, not enrolled,
    /// a sample that could not be scored): restore the counter unless another attempt has
    /// moved it since (then it stays counted).
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
            self.counted.name(),
            self.reserved,
            self.previous,
        )
        .await?;
        Ok(())
    }

    /// The attempt was evaluated and failed: the reservation was the increment.
    pub fn failed(self) {}

    /// The attempt succeeded. A code clears its factor's counter and re-enables biometrics
    /// (§3.2.3: disabled "until another authenticator succeeds"); a biometric match resets
    /// the consecutive biometric failures.
    pub async fn succeeded(
        self,
        state: &AppState,
        tenant: &TenantId,
        customer: &CustomerRef,
    ) -> Result<(), SessionError> {
        let cleared: &[&str] = match self.counted {
            Counted::Code(kind) => &[kind.as_str(), store::lockout::BIOMETRIC],
            Counted::Biometric => &[store::lockout::BIOMETRIC],
        };
        store::lockout::clear(&state.db, tenant, customer, cleared).await?;
        Ok(())
    }
}
