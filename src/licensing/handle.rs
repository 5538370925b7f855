//! The handle every adapter holds: storage, the signing key, the product policies, the lock
//! table, the outbox queue and the port to the marketplace's code directory, plus the tunable
//! rules. Cheap to clone.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use koolicense_verify::{PublicKey, Verifier};
use parking_lot::MutexGuard;

use super::directory::CodeDirectory;
use super::jobs::Jobs;
use super::policy::{Policies, Policy};
use crate::signing::Signer;
use crate::store::keys::LockKey;
use crate::store::kv::pg::AdvisoryGuard;
use crate::store::locks::{KeyGuard, KeyLocks};
use crate::store::records::AuditEvent;
use crate::store::{Store, WriteBatch};

/// Actor name of marketplace callbacks in the audit log.
pub(crate) const MARKETPLACE: &str = "koomarket";

/// Tunable rules.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rules {
    /// An expire that arrives while the expiry is further than this in the future is stale.
    pub(crate) stale_expire_tolerance: chrono::Duration,
    /// Least time between two status queries of one authorization code.
    pub(crate) code_refresh_interval: chrono::Duration,
    /// Deactivations by the software allowed per seat pool within the window.
    pub(crate) deactivation_limit: u32,
    /// The window of the deactivation limit.
    pub(crate) deactivation_window: chrono::Duration,
    /// A lease's heartbeats are audited once per this period since checkout (zero: all).
    pub(crate) heartbeat_audit_interval: chrono::Duration,
    /// Rejected calls older than this are removed.
    pub(crate) rejected_call_retention: chrono::Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            stale_expire_tolerance: chrono::Duration::days(1),
            code_refresh_interval: chrono::Duration::days(1),
            deactivation_limit: 3,
            deactivation_window: chrono::Duration::days(30),
            heartbeat_audit_interval: chrono::Duration::hours(1),
            rejected_call_retention: chrono::Duration::days(90),
        }
    }
}

/// The licensing core.
#[derive(Clone)]
pub(crate) struct Licensing {
    pub(super) store: Store,
    pub(super) signer: Arc<Signer>,
    pub(super) policies: Arc<Policies>,
    pub(super) locks: Arc<KeyLocks>,
    pub(super) rules: Rules,
    pub(super) codes: Arc<dyn CodeDirectory>,
    pub(super) jobs: Jobs,
    /// When rejected calls were last pruned (`calls`).
    pub(super) calls_pruned_at: Arc<parking_lot::Mutex<Option<DateTime<Utc>>>>,
}

impl std::fmt::Debug for Licensing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Licensing")
            .field("signer", &self.signer)
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl Licensing {
    /// Assembles the core.
    pub(crate) fn new(
        store: Store,
        signer: Arc<Signer>,
        policies: Policies,
        rules: Rules,
        codes: Arc<dyn CodeDirectory>,
    ) -> Licensing {
        Licensing {
            locks: Arc::new(KeyLocks::default().across_instances_of(&store)),
            store,
            signer,
            policies: Arc::new(policies),
            rules,
            codes,
            jobs: Jobs::default(),
            calls_pruned_at: Arc::default(),
        }
    }

    /// A core over `store` with the default policy and rules and no marketplace, for tests.
    #[cfg(test)]
    pub(crate) fn for_tests(store: Store, signer: Signer) -> Licensing {
        struct NoMarketplace;
        impl CodeDirectory for NoMarketplace {
            fn activate(&self, _: &str) -> Result<Option<super::CodeInfo>, super::CodeLookupError> {
                Err(super::CodeLookupError::Unavailable("no marketplace".into()))
            }
            fn query(&self, _: &str) -> Result<super::CodeInfo, super::CodeLookupError> {
                Err(super::CodeLookupError::Unavailable("no marketplace".into()))
            }
        }
        Licensing::new(
            store,
            Arc::new(signer),
            Policies::default(),
            Rules::default(),
            Arc::new(NoMarketplace),
        )
    }

    /// The outbox queue (the worker waits on it).
    pub(crate) fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// The store (read access for adapters' listings).
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Locks `key` until the guard is dropped.
    pub(super) fn lock(&self, key: LockKey<'_>) -> KeyGuard<'_> {
        self.locks.lock(key)
    }

    /// The outbox queue's write lock: in this process, and across instances on PostgreSQL.
    pub(super) fn lock_jobs(&self) -> (MutexGuard<'_, ()>, Option<AdvisoryGuard<'_>>) {
        (
            self.jobs.write_lock(),
            self.locks.across_instances("outbox/jobs"),
        )
    }

    /// The policy of a product.
    pub(super) fn policy(&self, product_id: &str, sku_code: Option<&str>) -> &Policy {
        self.policies.for_product(product_id, sku_code)
    }

    /// A verifier that knows every key this service has signed with (current and retired).
    pub(crate) fn issuer_verifier(&self) -> Result<Verifier, super::LicensingError> {
        let keys = self
            .store
            .signing_keys()?
            .iter()
            .filter_map(|k| PublicKey::parse(&k.public_key_pem).ok())
            .collect::<Vec<_>>();
        Ok(Verifier::new(keys))
    }

    /// Writes one audit event (durably, like every acknowledged call).
    pub(super) fn audit_only(&self, event: AuditEvent) -> Result<(), super::LicensingError> {
        self.store.write(WriteBatch {
            audit: vec![event],
            ..WriteBatch::default()
        })?;
        Ok(())
    }
}

/// An audit event of `actor` about `action` with `outcome`, everything else empty.
pub(super) fn event(now: DateTime<Utc>, actor: &str, action: &str, outcome: &str) -> AuditEvent {
    AuditEvent {
        id: 0,
        at: now,
        actor: actor.into(),
        action: action.into(),
        outcome: outcome.into(),
        license_id: None,
        instance_id: None,
        order_id: None,
        business_id: None,
        test: false,
        detail: None,
    }
}
