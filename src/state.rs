//! Shared application state handed to every handler (cheap to clone).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::access::client_addr::TrustedProxies;
use crate::access::ratelimit::{Limit, RateLimiter};
use crate::access::session::SessionStore;
use crate::access::{Gate, TokenRegistry};
use crate::clock::Clock;
use crate::licensing::revocations::ListCache;
use crate::licensing::{Licensing, LookupResult};
use crate::marketplace::pool::CallPool;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::signing::Signer;
use crate::store::Store;

/// What handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    /// Storage.
    pub(crate) store: Store,
    /// The active signing key.
    pub(crate) signer: Arc<Signer>,
    /// The loaded configuration.
    pub(crate) settings: Arc<Settings>,
    /// The licensing core: every rule.
    pub(crate) licensing: Licensing,
    /// Tokens, console sessions and rate limits (also app data of its own: `access::Gate`).
    pub(crate) gate: Gate,
    /// The last signed revocation list.
    pub(crate) revocations: Arc<ListCache>,
    /// Prometheus metrics.
    pub(crate) metrics: Arc<Metrics>,
    /// Marketplace calls made for inbound requests (activation).
    pub(crate) outbound: Arc<CallPool<LookupResult>>,
    /// The clock of leases, deactivations and offline activation.
    pub(crate) clock: Clock,
    ready: Arc<AtomicBool>,
}

impl AppState {
    /// Assembles the state.
    pub(crate) fn new(
        store: Store,
        signer: Arc<Signer>,
        settings: Settings,
        licensing: Licensing,
        tokens: TokenRegistry,
    ) -> AppState {
        let api = &settings.api;
        let limit = |rate: u32, burst: u32| Limit {
            per_second: f64::from(rate),
            burst: f64::from(burst),
        };
        let limiter = RateLimiter::new(
            limit(api.token_rate_per_second, api.token_burst),
            limit(api.address_rate_per_second, api.address_burst),
            TrustedProxies::new(api.effective_trusted_proxies()),
        );
        AppState {
            metrics: Arc::new(Metrics::new(store.metrics())),
            outbound: Arc::new(CallPool::idle()),
            gate: Gate {
                store: store.clone(),
                tokens: Arc::new(tokens),
                sessions: Arc::new(SessionStore::default()),
                limiter: Arc::new(limiter),
            },
            revocations: Arc::new(ListCache::default()),
            clock: Clock::default(),
            store,
            signer,
            settings: Arc::new(settings),
            licensing,
            ready: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Uses `pool` for the marketplace calls of inbound requests.
    pub(crate) fn with_outbound(mut self, pool: CallPool<LookupResult>) -> AppState {
        self.outbound = Arc::new(pool);
        self
    }

    /// Whether the service accepts traffic.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the service as shutting down (readiness fails from now on).
    pub(crate) fn set_not_ready(&self) {
        self.ready.store(false, Ordering::Release);
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("signer", &self.signer)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
