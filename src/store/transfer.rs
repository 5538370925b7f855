//! Moving a sled database into PostgreSQL or fjall (`koolicense migrate --from-sled`): every
//! tree is copied entry by entry into an empty database, in transactions of [`CHUNK`] entries,
//! the ids are moved past sled's, the copy is made durable, and then it is checked: the entry
//! count of every tree, and every license byte-identical.

use super::kv::{self, TxError, Txn};
use super::{tree, Result, Store, StoreError};

/// Entries per copy transaction.
const CHUNK: usize = 1_000;

/// What was copied: entries per tree, in the order copied.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Copied {
    pub(crate) trees: Vec<(String, usize)>,
    /// Licenses compared byte for byte after the copy.
    pub(crate) licenses_checked: usize,
}

fn refused(message: String) -> StoreError {
    StoreError::Backend(kv::Error::Refused(message))
}

impl Store {
    /// Copies this (sled) store into the empty PostgreSQL or fjall database `target` and checks
    /// it. Every tree the store opens is copied (`kv::TREES` lists them).
    pub(crate) fn copy_into(&self, target: &kv::Db) -> Result<Copied> {
        if target.sled().is_some() {
            return Err(refused(
                "the target of a copy must be PostgreSQL or fjall".into(),
            ));
        }
        let mut trees = kv::TREES.iter();
        if !trees.try_fold(true, |empty, name| {
            Ok::<_, StoreError>(empty && target.open_tree(name)?.is_empty()?)
        })? {
            return Err(refused(
                "the target database is not empty: copy only into a new database".into(),
            ));
        }
        for name in self.db.tree_names() {
            if !kv::TREES.contains(&name.as_str()) && !self.db.open_tree(&name)?.is_empty()? {
                return Err(refused(format!("tree {name:?} is not one the store opens")));
            }
        }
        let mut copied = Vec::new();
        for name in kv::TREES {
            let (from, to) = (self.db.open_tree(name)?, target.open_tree(name)?);
            let mut count = 0;
            let mut entries = from.iter().peekable();
            while entries.peek().is_some() {
                let chunk = entries
                    .by_ref()
                    .take(CHUNK)
                    .collect::<kv::Result<Vec<_>>>()?;
                count += chunk.len();
                let put = |txn: &mut dyn Txn| -> std::result::Result<(), TxError> {
                    chunk.iter().try_for_each(|(k, v)| txn.put(0, k, v))
                };
                target.transaction(&[&to], &put).map_err(|e| match e {
                    TxError::Backend(e) => StoreError::Backend(e),
                    other => refused(format!("copy of {name} aborted: {other:?}")),
                })?;
            }
            copied.push(((*name).to_owned(), count));
        }
        target.advance_ids_past(self.db.generate_id()?)?;
        target.flush()?;
        let licenses_checked = self.check_copy(target, &copied)?;
        Ok(Copied {
            trees: copied,
            licenses_checked,
        })
    }

    /// Counts every tree of `target` and compares every license with this store's.
    fn check_copy(&self, target: &kv::Db, copied: &[(String, usize)]) -> Result<usize> {
        for (name, count) in copied {
            let found = target.open_tree(name)?.len()?;
            if found != *count {
                return Err(refused(format!(
                    "tree {name}: {count} entries copied but {found} found"
                )));
            }
        }
        let theirs = target.open_tree(tree::LICENSES)?;
        let mut checked = 0;
        let mut copy = theirs.iter();
        for entry in self.licenses.iter() {
            let (key, value) = entry?;
            match copy.next().transpose()? {
                Some((k, v)) if k == key && v == value => checked += 1,
                _ => {
                    return Err(refused(format!(
                        "license {} differs in the copy",
                        String::from_utf8_lossy(&key)
                    )))
                }
            }
        }
        if copy.next().is_some() {
            return Err(refused(
                "the copy holds a license the source does not".into(),
            ));
        }
        Ok(checked)
    }
}
