//! The merchant's live view of a floating license's seats: the leases holding one now, with
//! when each was checked out, its last heartbeat and when it ends. The audit trail keeps their
//! history (checkout, an hourly heartbeat, return or lapse); this answers "who holds the seats
//! right now" without reading it.

use chrono::{DateTime, Utc};

use super::{Licensing, LicensingError};

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
