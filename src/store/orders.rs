//! The license of a getLicense order: named by the order's idempotency entry in databases
//! written before schema 3, else found among the order's postings, which getLicense writes in
//! the license's transaction and which therefore serve as that entry.

use super::index::{self, Kind};
use super::keys::IdemKey;
use super::records::{LicenseRecord, Origin};
use super::{tree, Result, Store, StoreError};

impl Store {
    /// The license getLicense issued for `order`, if any: named by the order's idempotency
    /// entry (written until schema 3), else the getLicense license among the order's postings
    /// (a posting is written in the license's transaction, so it serves as the entry).
    ///
    /// A license found is answered as a success, so it must be on disk first (as with
    /// [`Store::idempotency`]).
    pub(crate) fn order_license(&self, order: &str) -> Result<Option<LicenseRecord>> {
        if let Some(id) = self.idempotency(&IdemKey::Order(order).to_string())? {
            let id = String::from_utf8_lossy(&id).into_owned();
            let record = self.license(&id)?.ok_or_else(|| StoreError::Corrupt {
                tree: tree::IDEMPOTENCY,
                message: format!("order entry names missing license {id}"),
            })?;
            return Ok(Some(record));
        }
        let prefix = index::prefix(Kind::Order, order.as_bytes());
        for id in self.posting_ids(&prefix, None) {
            let id = index::expand_id(&id?);
            let found = self.license(&id)?;
            if let Some(record) = found.filter(|r| r.origin == Origin::KoomarketGet) {
                self.ensure_durable()?;
                return Ok(Some(record));
            }
        }
        Ok(None)
    }
}
