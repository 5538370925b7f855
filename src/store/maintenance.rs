//! Whole-database work for tools, tests and benchmarks, never a request path: moving records
//! into the past for screenshots, counting and measuring trees.

use std::collections::HashMap;

use super::encoding::{self, decode_audit};
use super::{Result, Store};

impl Store {
    /// Moves licenses' creation, and the marketplace's audit events about them, `days` into the
    /// past (the console's screenshots show a month). Rewrites records in place: for a stopped
    /// service's database in tests and screenshots only, never a request path; the per-day
    /// counters are recounted afterwards.
    pub(crate) fn backdate(&self, days_by_license: &HashMap<String, i64>) -> Result<()> {
        for (id, days) in days_by_license {
            if let Some(mut record) = self.license(id)? {
                record.created_at -= chrono::Duration::days(*days);
                self.licenses
                    .insert(id.as_bytes(), encoding::encode_license(&record))?;
            }
        }
        for entry in self.audit.iter() {
            let (key, value) = entry?;
            let mut event = decode_audit(&value)?;
            let days = event
                .license_id
                .as_ref()
                .and_then(|id| days_by_license.get(id));
            if let (Some(days), "koomarket") = (days, event.actor.as_str()) {
                event.at -= chrono::Duration::days(*days);
                self.audit.insert(key, encoding::encode_audit(&event))?;
            }
        }
        self.recount()?;
        self.db.flush()?;
        Ok(())
    }

    /// Number of licenses. Walks the whole tree: for tests, never a request path.
    #[cfg(test)]
    pub(crate) fn license_count(&self) -> usize {
        self.licenses.len().unwrap_or_default()
    }

    /// Per tree: (name, entries, bytes of keys and values). Walks every tree: for tools and
    /// benchmarks, never a request path.
    pub(crate) fn tree_sizes(&self) -> Result<Vec<(String, usize, u64)>> {
        let mut sizes = Vec::new();
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name)?;
            let (mut entries, mut bytes) = (0, 0u64);
            for entry in tree.iter() {
                let (k, v) = entry?;
                entries += 1;
                bytes += (k.len() + v.len()) as u64;
            }
            sizes.push((name, entries, bytes));
        }
        Ok(sizes)
    }
}
