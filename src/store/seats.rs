//! Records and reads of seats that come back: leases of floating licenses (by id, and the
//! leases still held per license) and the record of deactivations per seat pool (the rate
//! limit counts it). Every change goes through the one write path (`WriteBatch`).

use super::kv::{self, Tree};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::records::StoredBinding;
use super::{decode, Result, Store};

const LEASES: &str = "seat-leases";
const LEASES_HELD: &str = "seat-leases-held";
const DEACTIVATIONS: &str = "seat-deactivations";

/// One lease of a floating license.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LeaseRecord {
    /// Lease id (UUID v7).
    pub(crate) lease_id: String,
    /// The floating license it draws a seat from.
    pub(crate) license_id: String,
    /// Hex SHA-256 of the normalised machine identifier.
    pub(crate) machine_sha256: String,
    /// The machine binding written into the lease.
    pub(crate) binding: StoredBinding,
    /// One more per heartbeat.
    pub(crate) revision: u32,
    /// Borrowed for offline use.
    pub(crate) borrowed: bool,
    /// When the current token was signed.
    pub(crate) issued_at: DateTime<Utc>,
    /// When the lease lapses unless renewed.
    pub(crate) expires_at: DateTime<Utc>,
    /// Returned by the client or the merchant.
    pub(crate) returned_at: Option<DateTime<Utc>>,
    /// The current signed lease.
    pub(crate) token: String,
    /// Hex SHA-256 of the token before the last heartbeat: a retried heartbeat presents it and
    /// gets the current token again.
    pub(crate) previous_token_sha256: Option<String>,
    /// Checked out.
    pub(crate) created_at: DateTime<Utc>,
}

impl LeaseRecord {
    /// Whether the lease holds its seat at `now`.
    pub(crate) fn holds_seat(&self, now: DateTime<Utc>) -> bool {
        self.returned_at.is_none() && self.expires_at > now
    }
}

/// One freed seat, for the per-pool rate limit and the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeactivationRecord {
    /// The seat pool: the authorization code or instance id.
    pub(crate) pool: String,
    /// The license freed.
    pub(crate) license_id: String,
    /// Who freed it: `software`, `offline` or the merchant's actor name.
    pub(crate) by: String,
    /// When.
    pub(crate) at: DateTime<Utc>,
}

impl DeactivationRecord {
    /// `pool / 0x00 / at (ms, big-endian) / license id`: sorted by time within a pool.
    pub(super) fn key(&self) -> Vec<u8> {
        let mut key = pool_prefix(&self.pool);
        key.extend_from_slice(&self.at.timestamp_millis().to_be_bytes());
        key.extend_from_slice(self.license_id.as_bytes());
        key
    }
}

fn pool_prefix(pool: &str) -> Vec<u8> {
    let mut key = pool.as_bytes().to_vec();
    key.push(0);
    key
}

/// `license id / 0x00 / lease id`.
pub(super) fn held_key(license_id: &str, lease_id: &str) -> Vec<u8> {
    let mut key = pool_prefix(license_id);
    key.extend_from_slice(lease_id.as_bytes());
    key
}

/// The trees of this module (opened with the store).
#[derive(Clone)]
pub(crate) struct SeatTrees {
    pub(super) leases: Tree,
    pub(super) leases_held: Tree,
    pub(super) deactivations: Tree,
}

impl SeatTrees {
    /// Opens (or creates) the trees.
    pub(crate) fn open(db: &kv::Db) -> kv::Result<SeatTrees> {
        Ok(SeatTrees {
            leases: db.open_tree(LEASES)?,
            leases_held: db.open_tree(LEASES_HELD)?,
            deactivations: db.open_tree(DEACTIVATIONS)?,
        })
    }
}

impl Store {
    /// A lease by id.
    pub(crate) fn lease(&self, lease_id: &str) -> Result<Option<LeaseRecord>> {
        self.seats
            .leases
            .get(lease_id.as_bytes())?
            .map(|v| decode(LEASES, &v))
            .transpose()
    }

    /// The leases of a license not returned yet (lapsed ones included until a checkout
    /// removes them from the index).
    pub(crate) fn leases_held(&self, license_id: &str) -> Result<Vec<LeaseRecord>> {
        let prefix = pool_prefix(license_id);
        let mut out = Vec::new();
        for entry in self.seats.leases_held.scan_prefix(&prefix) {
            let (key, _) = entry?;
            let lease_id = String::from_utf8_lossy(key.get(prefix.len()..).unwrap_or(&[]));
            if let Some(lease) = self.lease(&lease_id)? {
                out.push(lease);
            }
        }
        Ok(out)
    }

    /// The licenses with entries in the index of held leases (lapsed ones included until they
    /// are dropped), each once, in key order: the floating licenses in use.
    pub(crate) fn licenses_with_held_leases(&self) -> Result<Vec<String>> {
        let mut licenses: Vec<String> = Vec::new();
        for key in self.seats.leases_held.iter().keys() {
            let key = key?;
            let end = key.iter().position(|b| *b == 0).unwrap_or(key.len());
            let license = String::from_utf8_lossy(&key[..end]);
            if licenses.last().is_none_or(|last| *last != license) {
                licenses.push(license.into_owned());
            }
        }
        Ok(licenses)
    }

    /// Deactivations in a seat pool at or after `since`.
    pub(crate) fn deactivations_since(
        &self,
        pool: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DeactivationRecord>> {
        let prefix = pool_prefix(pool);
        let mut start = prefix.clone();
        start.extend_from_slice(&since.timestamp_millis().to_be_bytes());
        let mut end = prefix;
        end.extend_from_slice(&i64::MAX.to_be_bytes());
        self.seats
            .deactivations
            .range(start..end)
            .values()
            .map(|v| decode(DEACTIVATIONS, &v?))
            .collect()
    }
}
