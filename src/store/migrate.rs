//! The schema version of the records (`schema-version` in `meta`) and the migration to it, run
//! once at open before anything is served.
//!
//! * Schema 1 (no version key): licenses and audit events as JSON, every token of a license
//!   (the current one too) in the token history, audit postings in `audit-by-license`.
//! * Schema 2: licenses and audit events in the binary form (`encoding`), the current token only
//!   in its record, every secondary index in `index`.
//! * Schema 3: the counters (`counters`) in `meta`, and released licenses without the postings
//!   they no longer keep (`index::pruned_postings`).
//!
//! The migration rewrites records in chunks, each one transaction through the write path's
//! `apply`, then drops the old tree, recounts, records the version, and syncs. It is
//! idempotent: a start interrupted half-way simply runs it again (records of both schemas read
//! the same, and the recount sets the counters rather than adding to them), and the version is
//! recorded only after everything else is durable.

use super::kv::{self, IVec};

use super::batch::{token_key, LicenseWrite, Prepared, Tree};
use super::encoding::{decode_audit, decode_license, encode_audit, is_json};
use super::index::audit_postings;
use super::{tree, Result, Store, StoreError};

/// The schema this code writes.
pub(crate) const SCHEMA_VERSION: u32 = 3;
const VERSION_KEY: &[u8] = b"schema-version";
/// Records per migration transaction.
const CHUNK: usize = 1_000;

impl Store {
    /// The schema version recorded in the database (1 when none is: the first schema kept none).
    pub(crate) fn schema_version(&self) -> Result<u32> {
        Ok(match self.meta.get(VERSION_KEY)? {
            Some(v) => <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    tree: tree::META,
                    message: "schema version is not 4 bytes".into(),
                })?,
            None => 1,
        })
    }

    /// Brings the database to [`SCHEMA_VERSION`]; a new database just records it.
    pub(super) fn migrate(&self) -> Result<()> {
        let version = self.schema_version()?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Corrupt {
                tree: tree::META,
                message: format!(
                    "the database has schema {version}, newer than this program's \
                     {SCHEMA_VERSION}: run a newer release"
                ),
            });
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        let fresh = self.meta.is_empty()? && self.licenses.is_empty()? && self.audit.is_empty()?;
        if !fresh {
            tracing::info!(
                from = version,
                to = SCHEMA_VERSION,
                "migrating the database"
            );
            if version < 2 {
                let licenses = self.migrate_licenses()?;
                let events = self.migrate_audit()?;
                self.db.drop_tree(tree::AUDIT_BY_LICENSE)?;
                tracing::info!(licenses, events, "records migrated");
            }
            self.recount()?;
            tracing::info!("counters built");
        }
        self.meta
            .insert(VERSION_KEY, SCHEMA_VERSION.to_be_bytes())?;
        Ok(self.durable()?)
    }

    /// Re-encodes every license, writes its postings, and removes its current token from the
    /// history (the record holds it). Returns how many licenses it rewrote.
    fn migrate_licenses(&self) -> Result<usize> {
        let mut migrated = 0;
        self.in_chunks(&self.licenses, |key, value, prepared| {
            if !is_json(value) {
                return Ok(());
            }
            let record = decode_license(value)?;
            let mut write = LicenseWrite::new(&record);
            write.fresh_index = true;
            prepared.licenses.push(write);
            let current = token_key(&record.license_id, record.revision);
            prepared.puts.push((Tree::Tokens, current, None));
            migrated += 1;
            debug_assert_eq!(key, record.license_id.as_bytes());
            Ok(())
        })?;
        Ok(migrated)
    }

    /// Re-encodes every audit event and writes its postings. Returns how many it rewrote.
    fn migrate_audit(&self) -> Result<usize> {
        let mut migrated = 0;
        self.in_chunks(&self.audit, |key, value, prepared| {
            if !is_json(value) {
                return Ok(());
            }
            let event = decode_audit(value)?;
            prepared
                .puts
                .push((Tree::Audit, key.to_vec(), Some(encode_audit(&event))));
            for posting in audit_postings(&event) {
                prepared.puts.push((Tree::Index, posting, Some(Vec::new())));
            }
            migrated += 1;
            Ok(())
        })?;
        Ok(migrated)
    }

    /// Calls `each` for every entry of `tree`, applying what it prepares every [`CHUNK`] entries
    /// in one transaction.
    pub(super) fn in_chunks(
        &self,
        tree: &kv::Tree,
        mut each: impl FnMut(&[u8], &[u8], &mut Prepared) -> Result<()>,
    ) -> Result<()> {
        let mut after: Option<IVec> = None;
        loop {
            let mut prepared = Prepared::default();
            let range = match &after {
                Some(k) => tree.range::<&[u8], _>((
                    std::ops::Bound::Excluded(k.as_ref()),
                    std::ops::Bound::Unbounded,
                )),
                None => tree.iter(),
            };
            let mut seen = 0;
            for entry in range.take(CHUNK) {
                let (key, value) = entry?;
                each(&key, &value, &mut prepared)?;
                after = Some(key);
                seen += 1;
            }
            self.apply(std::slice::from_ref(&prepared))
                .map_err(StoreError::from)?;
            if seen < CHUNK {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests;
