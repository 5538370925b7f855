//! Token-bucket rate limits: one bucket per client address for every `/v1` request and one for
//! the probes (`/healthz`, `/readyz`, `/metrics`), charged by the middleware before anything
//! else runs; and one per API token, charged only once the token has authenticated (a forged
//! token naming a real token's id cannot drain that token's bucket). Over the limit the answer is
//! 429 with `Retry-After`. The client address comes from [`super::client_addr`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use parking_lot::Mutex;

use super::client_addr::TrustedProxies;
use crate::error::ApiError;

/// Rate and burst of one kind of bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Limit {
    /// Sustained requests per second.
    pub(crate) per_second: f64,
    /// Requests allowed at once.
    pub(crate) burst: f64,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Buckets are forgotten when this many exist and they are full again.
const PRUNE_ABOVE: usize = 10_000;

/// The limiter shared by all workers.
pub(crate) struct RateLimiter {
    per_token: Limit,
    per_address: Limit,
    proxies: TrustedProxies,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(per_token: Limit, per_address: Limit, proxies: TrustedProxies) -> Self {
        RateLimiter {
            per_token,
            per_address,
            proxies,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket, or says how long to wait.
    pub(crate) fn take(&self, key: &str, limit: Limit, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock();
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| {
                let refill = now.saturating_duration_since(b.last).as_secs_f64() * limit.per_second;
                b.tokens + refill < limit.burst
            });
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: limit.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(limit.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / limit.per_second.max(f64::MIN_POSITIVE);
            Err(Duration::from_secs_f64(wait.min(3600.0)))
        }
    }

    /// Charges an authenticated token's bucket.
    pub(crate) fn charge_token(&self, token_id: &str) -> Result<(), ApiError> {
        self.take(&format!("token:{token_id}"), self.per_token, Instant::now())
            .map_err(too_many)
    }

    /// The client address a request is attributed to.
    pub(crate) fn client_of(&self, req: &actix_web::HttpRequest) -> String {
        self.proxies
            .client_of(req)
            .map_or_else(|| "unknown".to_string(), |ip| ip.to_string())
    }
}

fn too_many(wait: Duration) -> ApiError {
    ApiError::RateLimited {
        retry_after_secs: wait.as_secs().max(1),
    }
}

/// Middleware for the `/v1` scope and the probes: the per-address bucket (probes have their
/// own, so a busy load balancer does not starve the API of the same address, nor the reverse).
pub(crate) async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(gate) = req.app_data::<web::Data<super::Gate>>() {
        let limiter = &gate.limiter;
        let address = limiter.client_of(req.request());
        let kind = if req.path().starts_with("/v1") {
            "addr"
        } else {
            "probe"
        };
        let key = format!("{kind}:{address}");
        if let Err(wait) = limiter.take(&key, limiter.per_address, Instant::now()) {
            // Answered here (not as an `Err`), so the outer layers see an ordinary response.
            return Ok(req.error_response(too_many(wait)));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit {
        per_second: 2.0,
        burst: 3.0,
    };

    #[test]
    fn a_burst_is_allowed_then_requests_wait_for_refill() {
        let limiter = RateLimiter::new(LIMIT, LIMIT, TrustedProxies::default());
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("k", LIMIT, start).is_ok());
        }
        let wait = limiter.take("k", LIMIT, start).expect_err("over the burst");
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500));
        assert!(limiter
            .take("k", LIMIT, start + Duration::from_millis(500))
            .is_ok());
        assert!(
            limiter.take("other", LIMIT, start).is_ok(),
            "buckets are per key"
        );
    }
}
