//! Token-bucket rate limits on every `/v1` request: one bucket per API token (when the request
//! names one) and one per client address. Over the limit the answer is 429 with `Retry-After`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use parking_lot::Mutex;

use crate::error::ApiError;
use crate::state::AppState;

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
    trust_forwarded_for: bool,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(per_token: Limit, per_address: Limit, trust_forwarded_for: bool) -> Self {
        RateLimiter {
            per_token,
            per_address,
            trust_forwarded_for,
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

    fn check(&self, address: &str, token_id: Option<&str>) -> Result<(), Duration> {
        let now = Instant::now();
        self.take(&format!("addr:{address}"), self.per_address, now)?;
        if let Some(id) = token_id {
            self.take(&format!("token:{id}"), self.per_token, now)?;
        }
        Ok(())
    }
}

/// Middleware for the `/v1` scope.
pub(crate) async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let limiter = &state.limiter;
        let address = if limiter.trust_forwarded_for {
            req.connection_info()
                .realip_remote_addr()
                .unwrap_or("unknown")
                .to_string()
        } else {
            req.peer_addr()
                .map_or_else(|| "unknown".to_string(), |a| a.ip().to_string())
        };
        let token_id = super::extract::bearer(req.request())
            .and_then(super::token_id_hint)
            .map(str::to_string);
        if let Err(wait) = limiter.check(&address, token_id.as_deref()) {
            return Err(ApiError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            }
            .into());
        }
    }
    next.call(req).await
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
        let limiter = RateLimiter::new(LIMIT, LIMIT, false);
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
