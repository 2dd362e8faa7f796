//! The service's background loops, started by one function so that `serve` and the tests run
//! the same ones: signed tree heads (and checkpoints) for logs that grew, the retention sweep,
//! signing-key reloads (rotations made by the CLI or another instance), and webhook delivery
//! of one-time codes (the outbox).

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::{AppState, consent::retention, factors::outbox};

/// How often each loop runs. `serve` uses [`Intervals::default`]; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    pub tree_heads: Duration,
    pub retention: Duration,
    pub key_reload: Duration,
    pub outbox_poll: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Self {
            tree_heads: crate::ledger::TREE_HEAD_INTERVAL,
            retention: Duration::from_secs(3600),
            key_reload: Duration::from_secs(60),
            outbox_poll: outbox::OutboxConfig::default().poll_interval,
        }
    }
}

/// The running loops; dropping it stops them (a test's app does not outlive its loops).
#[must_use = "dropping the handle stops the background loops"]
pub struct Background {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Sign the heads a stopped instance left unsigned (once, now), then start every loop.
pub async fn start(state: &AppState, every: Intervals) -> Background {
    if let Err(e) = state.ledger.sign_grown_heads().await {
        tracing::warn!(error = %e, "tree heads at start-up not signed");
    }
    let tasks = vec![
        periodic(every.tree_heads, false, state.clone(), |state| async move {
            if let Err(e) = state.ledger.sign_grown_heads().await {
                tracing::warn!(error = %e, "periodic tree head signing failed");
            }
        }),
        // Retention also runs at once: a restarted instance does not wait an hour to destroy
        // what is due.
        periodic(every.retention, true, state.clone(), |state| async move {
            match retention::run(&state).await {
                Ok(report) => tracing::info!(
                    consents_expired = report.consents_expired,
                    templates_destroyed = report.templates_destroyed,
                    "retention pass"
                ),
                Err(e) => tracing::warn!(error = %e, "retention pass failed"),
            }
        }),
        periodic(every.key_reload, false, state.clone(), |state| async move {
            if let Err(e) = state.signer.reload(&state.db, &state.master_key).await {
                tracing::warn!(error = %e, "signing key reload failed");
            }
        }),
        outbox::spawn_worker(
            state.db.clone(),
            outbox::OutboxConfig {
                poll_interval: every.outbox_poll,
                allow_private: state.settings.webhook_allow_private.clone(),
                ..Default::default()
            },
        ),
    ];
    Background { tasks }
}

/// Run `pass` every `every`; the first time at once if `now`, else one interval from now.
fn periodic<F, Fut>(every: Duration, now: bool, state: AppState, pass: F) -> JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        if !now {
            tick.tick().await;
        }
        loop {
            tick.tick().await;
            pass(state.clone()).await;
        }
    })
}
