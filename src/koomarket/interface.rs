//! What the production interface's handlers share: the core, the marketplace keys of both
//! schemes, and the record of rejected calls. Registered as its own application data, so this
//! module depends on the core and not on the application state.

use std::sync::Arc;

use super::auth::KeyRing;
use super::post::PostAuth;
use super::rejected::Recorder;
use crate::licensing::Licensing;
use crate::metrics::Metrics;
use crate::settings::Settings;

/// The production interface's state (one per service).
#[derive(Debug)]
pub(crate) struct Interface {
    /// The licensing core.
    pub(crate) licensing: Licensing,
    /// KooMarket keys (Key值) of the GET interface, current first.
    pub(crate) keys: KeyRing,
    /// Reject GET calls whose `timeStamp` is further than this from now (0 = off).
    pub(crate) timestamp_window_secs: u64,
    /// The POST interface's access keys, readings and replay cache.
    pub(crate) post: PostAuth,
    /// The record of rejected calls.
    pub(crate) rejected: Recorder,
    /// Where every answer is counted.
    pub(crate) metrics: Arc<Metrics>,
}

impl Interface {
    /// From the configuration and the loaded keys.
    pub(crate) fn new(
        settings: &Settings,
        licensing: Licensing,
        keys: KeyRing,
        access_keys: KeyRing,
        metrics: Arc<Metrics>,
    ) -> Interface {
        Interface {
            licensing,
            keys,
            timestamp_window_secs: settings.koomarket.timestamp_window_secs,
            post: PostAuth::new(settings, access_keys),
            rejected: Recorder::default(),
            metrics,
        }
    }
}
