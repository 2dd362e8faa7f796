//! Delivers outbox messages (one-time codes) to the tenant's webhook.
//!
//! Each POST carries `Idempotency-Key: <outbox id>` (the platform drops repeats) and
//! `X-Trustline-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. A non-2xx answer or a
//! network error is retried with exponential backoff (1 s, 2 s, 4 s, ... capped at 5 min) up to
//! `MAX_ATTEMPTS`; then the message is marked failed. Payloads are erased once delivered or
//! abandoned, since they carry the code.

use std::time::Duration;

use ring::hmac;

use crate::store::{self, Db, StoreError, now_ms};

pub const MAX_ATTEMPTS: i64 = 8;

/// Backoff before attempt `attempts + 1`.
pub fn backoff_ms(attempts: i64, base_ms: i64) -> i64 {
    let doublings = attempts.clamp(0, 20) as u32;
    base_ms.saturating_mul(1 << doublings).min(300_000)
}

pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    format!("sha256={}", hex::encode(hmac::sign(&key, body).as_ref()))
}

#[derive(Debug, Clone)]
pub struct OutboxConfig {
    pub poll_interval: Duration,
    pub base_backoff_ms: i64,
    pub request_timeout: Duration,
    /// Non-public webhook hosts the operator allows (`webhook_allow_private`).
    pub allow_private: super::webhook_guard::AllowList,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(250),
            base_backoff_ms: 1_000,
            request_timeout: Duration::from_secs(5),
            allow_private: super::webhook_guard::AllowList::default(),
        }
    }
}

/// One pass: claim due messages and try each once. Returns how many were delivered.
/// `client` must be [`super::webhook_guard::client`] (the worker builds it so).
pub async fn deliver_due(
    db: &Db,
    client: &reqwest::Client,
    config: &OutboxConfig,
) -> Result<usize, StoreError> {
    let now = now_ms();
    let due = store::factors::claim_due(db, now, 60_000, 32).await?;
    let mut delivered = 0;
    for message in due {
        let outcome = match store::factors::webhook(db, &message.tenant_id).await? {
            None => Err("no webhook configured".to_string()),
            Some((url, secret)) => {
                let body = message.payload.clone().into_bytes();
                match reqwest::Url::parse(&url) {
                    Err(_) => Err("webhook url does not parse".to_string()),
                    Ok(url) => {
                        match super::webhook_guard::check_literal(&config.allow_private, &url) {
                            Err(e) => Err(e.to_string()),
                            Ok(()) => client
                                .post(url)
                                .timeout(config.request_timeout)
                                .header("content-type", "application/json")
                                .header("idempotency-key", &message.outbox_id)
                                .header("x-trustline-event", &message.kind)
                                .header("x-trustline-signature", signature(&secret, &body))
                                .body(body)
                                .send()
                                .await
                                .map_err(|e| format!("request failed: {}", e.without_url()))
                                .and_then(|r| {
                                    if r.status().is_success() {
                                        Ok(())
                                    } else {
                                        Err(format!("webhook answered {}", r.status().as_u16()))
                                    }
                                }),
                        }
                    }
                }
            }
        };
        match outcome {
            Ok(()) => {
                store::factors::mark_delivered(db, &message.outbox_id, now_ms()).await?;
                tracing::info!(outbox_id = %message.outbox_id, "outbox message delivered");
                delivered += 1;
            }
            Err(error) => {
                let attempts = message.attempts + 1;
                let next = (attempts < MAX_ATTEMPTS)
                    .then(|| now_ms() + backoff_ms(attempts - 1, config.base_backoff_ms));
                tracing::warn!(outbox_id = %message.outbox_id, attempts, %error, "outbox delivery failed");
                store::factors::mark_failed(db, &message.outbox_id, &error, next).await?;
            }
        }
    }
    Ok(delivered)
}

/// The background worker `serve` starts (and tests may start): polls until the process ends.
pub fn spawn_worker(db: Db, config: OutboxConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Guarded: only permitted addresses are connected to, redirects are not followed.
        let client = super::webhook_guard::client(config.allow_private.clone());
        loop {
            if let Err(e) = deliver_due(&db, &client, &config).await {
                tracing::error!(error = %e, "outbox pass failed");
            }
            tokio::time::sleep(config.poll_interval).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let v: Vec<i64> = (0..5).map(|a| backoff_ms(a, 1000)).collect();
        assert_eq!(v, vec![1000, 2000, 4000, 8000, 16000]);
        assert_eq!(backoff_ms(30, 1000), 300_000);
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2
        let sig = signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
