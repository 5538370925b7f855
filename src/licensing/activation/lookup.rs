//! The marketplace call of an activation: made on the outbound pool without any lock, shared by
//! the activations of one code while in flight, and its answer recorded before they go on.

use chrono::{DateTime, Utc};

use super::{refresh_due, Lookup, LookupResult};
use crate::licensing::directory::{CodeInfo, CodeLookupError};
use crate::licensing::{Licensing, LicensingError};
use crate::store::keys::LockKey;
use crate::store::WriteBatch;

impl Licensing {
    /// Asks the marketplace about `code`: activates it the first time (or, if it is already
    /// active, queries it); queries it for a refresh. This is the network call; it runs without
    /// any lock, on the outbound pool (see `marketplace::pool`).
    ///
    /// Concurrent activations of one code share one call while it is in flight; so that one
    /// which looked before the answer was recorded and asks after the call ended makes no call
    /// of its own, the stored record is read first (an answer recorded meanwhile stands) and the
    /// answer is recorded here, before the waiting activations go on (`activate_with` finds it).
    pub(crate) fn lookup_code(
        &self,
        lookup: Lookup,
        code: &str,
        now: DateTime<Utc>,
    ) -> LookupResult {
        // A failed read fails the store (fail-stop); the call then goes ahead and the
        // activation is refused when it writes.
        if let Ok(Some(record)) = self.store.license_code(code) {
            if !refresh_due(&record, now) {
                return Ok(CodeInfo {
                    status: Some(record.status),
                    expires_at: record.expires_at,
                    product_id: Some(record.product_id),
                    order_id: record.order_id,
                    amount: record.amount,
                });
            }
        }
        let found = match lookup {
            Lookup::First => match self.codes.activate(code) {
                Ok(Some(info)) if info.product_id.is_some() => Ok(info),
                Ok(_) | Err(CodeLookupError::AlreadyActive) => self.codes.query(code),
                Err(e) => Err(e),
            },
            Lookup::Refresh => self.codes.query(code),
        };
        if let Err(e) = self.record_lookup(code, lookup, &found, now) {
            // Each activation applies the answer again (and reports this) when it writes.
            tracing::debug!(error = %e, "the marketplace's answer about a code is not recorded yet");
        }
        found
    }

    /// Records the marketplace's answer about `code` (the first activation, or a due refresh)
    /// unless a record made meanwhile stands; holds the code's lock for the local write only.
    fn record_lookup(
        &self,
        code: &str,
        lookup: Lookup,
        found: &LookupResult,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let _guard = self.lock(LockKey::Instance(code));
        let mut batch = WriteBatch::default();
        let record = match self.store.license_code(code)? {
            None if lookup == Lookup::First => {
                self.first_activation(code, found.clone(), now, &mut batch)?
            }
            Some(mut record) if refresh_due(&record, now) => {
                self.refresh(&mut record, found.clone(), now, &mut batch)?;
                record
            }
            _ => return Ok(()),
        };
        batch.codes.push(record);
        self.store.write(batch)?;
        Ok(())
    }
}
