//! The merchant's live view of a floating license's seats: the leases holding one now, with
//! when each was checked out, its last heartbeat and when it ends. The audit trail keeps their
//! history (checkout, an hourly heartbeat, return or lapse); this answers "who holds the seats
//! right now" without reading it. The sweep ([`Licensing::sweep_lapsed_leases`], run every
//! `seats.lapse_sweep_interval_secs`) audits a lapse soon after it happens, instead of when the
//! next checkout of the license finds it.

use chrono::{DateTime, Utc};

use super::leases::drop_lapsed;
use super::{Licensing, LicensingError};
use crate::store::keys::LockKey;
use crate::store::WriteBatch;

/// A lease holding a seat now.
#[derive(Debug, Clone)]
pub(crate) struct HeldLease {
    pub(crate) lease_id: String,
    /// SHA-256 of the machine identifier (the identifier itself is not stored).
    pub(crate) machine_sha256: String,
    pub(crate) checked_out_at: DateTime<Utc>,
    /// The latest signing: the checkout or the last heartbeat.
    pub(crate) renewed_at: DateTime<Utc>,
    pub(crate) heartbeats: u32,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) borrowed: bool,
}

impl Licensing {
    /// Audits every lease that lapsed by `now` and drops its index entry, one durable write per
    /// license (under its seats lock, as a checkout); returns how many leases lapsed.
    pub(crate) fn sweep_lapsed_leases(&self, now: DateTime<Utc>) -> Result<usize, LicensingError> {
        let mut lapsed = 0;
        for license_id in self.store.licenses_with_held_leases()? {
            let _guard = self.lock(LockKey::Seats(&license_id));
            let mut batch = WriteBatch::default();
            for lease in self.store.leases_held(&license_id)? {
                if !lease.holds_seat(now) {
                    drop_lapsed(&lease, now, &mut batch);
                }
            }
            if !batch.leases_lapsed.is_empty() {
                lapsed += batch.audit.len();
                self.store.write(batch)?;
            }
        }
        Ok(lapsed)
    }

    /// The license's seats (its quantity) and the leases holding one at `now`, oldest first.
    pub(crate) fn leases_of(
        &self,
        license_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(u32, Vec<HeldLease>), LicensingError> {
        let record = self
            .store
            .license(license_id)?
            .ok_or_else(|| LicensingError::NotFound(license_id.to_string()))?;
        let mut held: Vec<HeldLease> = self
            .store
            .leases_held(license_id)?
            .into_iter()
            .filter(|lease| lease.holds_seat(now))
            .map(|lease| HeldLease {
                heartbeats: lease.revision.saturating_sub(1),
                lease_id: lease.lease_id,
                machine_sha256: lease.machine_sha256,
                checked_out_at: lease.created_at,
                renewed_at: lease.issued_at,
                expires_at: lease.expires_at,
                borrowed: lease.borrowed,
            })
            .collect();
        held.sort_by_key(|l| l.checked_out_at);
        Ok((record.quantity.unwrap_or(1), held))
    }
}
