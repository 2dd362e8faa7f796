//! Rate limits on the platform API's verification, factor, enrolment and link endpoints
//! (issue 15): per API key and per customer reference, fixed windows counted in the database
//! so every instance shares them (`store::rate_limits`). Over a limit: `429` problem+json
//! `rate_limited` with `Retry-After` (seconds to the next window) and nothing done.
//!
//! Applied by the `PlatformCaller` extractor right after the key is authenticated, so an
//! unauthenticated request cannot spend a key's budget. Reads (GET) are not limited here.

use axum::http::{Method, request::Parts};

use super::problem::Problem;
use crate::{AppState, config::RateLimits, store, tenants::TenantId};

/// Is this request (method, route template) one the limits apply to? (pure)
pub fn is_limited(method: &Method, route: &str) -> bool {
    method != Method::GET
        && method != Method::HEAD
        && (route.starts_with("/v1/sessions") || route.starts_with("/v1/customers/"))
}

/// The window containing `now` (ms): its start and the seconds until the next one. (pure)
pub fn window(limits: &RateLimits, now: i64) -> (i64, u64) {
    let len = i64::try_from(limits.window.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let start = now - now.rem_euclid(len);
    let retry_secs = ((start + len - now) + 999) / 1000;
    (start, u64::try_from(retry_secs.max(1)).unwrap_or(1))
}

/// Count this request against the key's and the customer's buckets; `Err` is the 429.
pub async fn check(
    state: &AppState,
    parts: &mut Parts,
    tenant: &TenantId,
    key_id: &str,
) -> Result<(), Problem> {
    let route = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    if !is_limited(&parts.method, &route) {
        return Ok(());
    }
    let limits = state.settings.rate_limits;
    let now = store::now_ms();
    let (start, retry_secs) = window(&limits, now);
    let customer = <axum::extract::RawPathParams as axum::extract::FromRequestParts<AppState>>::from_request_parts(parts, state)
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(name, _)| *name == "customer_ref")
                .map(|(_, value)| value.to_string())
        });
    let mut buckets = vec![(format!("key:{key_id}"), limits.per_key, "api_key")];
    if let Some(customer) = customer.filter(|c| c.len() <= 128) {
        buckets.push((
            format!("customer:{customer}"),
            limits.per_customer,
            "customer_ref",
        ));
    }
    for (bucket, limit, scope) in buckets {
        let hits = store::rate_limits::hit(&state.db, tenant, &bucket, start)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "rate limit counter failed");
                Problem::unavailable("the rate limiter is not reachable")
            })?;
        if hits == 1 && scope == "api_key" {
            // Once per window per key: drop the tenant's counters of finished windows.
            if let Err(e) = store::rate_limits::forget_before(&state.db, tenant, start).await {
                tracing::warn!(error = %e, "old rate-limit counters not deleted");
            }
        }
        if hits > i64::from(limit) {
            metrics::counter!("trustline_rate_limited_total", "scope" => scope).increment(1);
            return Err(Problem::rate_limited(scope, retry_secs));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn windows_are_aligned_and_retry_after_counts_to_the_next() {
        let limits = RateLimits {
            per_key: 1,
            per_customer: 1,
            window: Duration::from_secs(60),
        };
        assert_eq!(window(&limits, 120_000), (120_000, 60));
        assert_eq!(window(&limits, 179_001), (120_000, 1));
        assert_eq!(window(&limits, 150_500), (120_000, 30));
    }

    #[test]
    fn only_writes_to_verification_factor_and_link_routes_are_limited() {
        assert!(is_limited(&Method::POST, "/v1/sessions"));
        assert!(is_limited(
            &Method::POST,
            "/v1/sessions/{session_id}/factors/{kind}"
        ));
        assert!(is_limited(
            &Method::POST,
            "/v1/customers/{customer_ref}/privacy-link"
        ));
        assert!(is_limited(
            &Method::PUT,
            "/v1/customers/{customer_ref}/factors/pin"
        ));
        assert!(!is_limited(&Method::GET, "/v1/sessions/{session_id}"));
        assert!(!is_limited(&Method::POST, "/v1/consents"));
        assert!(!is_limited(&Method::GET, "/healthz"));
    }
}
