//! One transaction over several trees, on either backend: the write path's `apply` runs the
//! same code on both through [`Txn`].

use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::{IVec, Transactional};

use super::{Error, Inner, Tree};

/// The trees of a transaction, by their index in the slice it was started with.
pub(crate) trait Txn {
    /// The value of `key`, as this transaction left it. On PostgreSQL the row stays locked
    /// until the transaction ends.
    fn get(&mut self, tree: usize, key: &[u8]) -> Result<Option<IVec>, TxError>;
    /// Puts `value` and returns the value it replaced (locked as by `get`).
    fn replace(&mut self, tree: usize, key: &[u8], value: &[u8]) -> Result<Option<IVec>, TxError>;
    /// Puts `value`.
    fn put(&mut self, tree: usize, key: &[u8], value: &[u8]) -> Result<(), TxError>;
    /// Removes `key`.
    fn remove(&mut self, tree: usize, key: &[u8]) -> Result<(), TxError>;
    /// Reads ahead the rows `get` and `replace` will ask for (one query on PostgreSQL instead
    /// of one per key).
    fn prefetch(&mut self, _tree: usize, _keys: &[&[u8]]) -> Result<(), TxError> {
        Ok(())
    }
}

/// Why a transaction did not commit.
#[derive(Debug)]
pub(crate) enum TxError {
    /// The transaction's own code gave up (a record it read is unreadable): nothing written.
    Abort(String),
    /// The backend failed: the store is failed.
    Backend(Error),
    /// Inside a sled transaction: a conflict (sled runs it again) or a storage error.
    Sled(UnabortableTransactionError),
}

impl From<UnabortableTransactionError> for TxError {
    fn from(e: UnabortableTransactionError) -> Self {
        TxError::Sled(e)
    }
}

/// The handles of `trees` on one backend (`pick` finds them), or an abort naming the backend
/// when a tree of another is among them.
pub(super) fn on_backend<'a, T>(
    trees: &[&'a Tree],
    backend: &str,
    pick: impl Fn(&'a Inner) -> Option<&'a T>,
) -> Result<Vec<&'a T>, TxError> {
    trees
        .iter()
        .map(|t| {
            pick(t.inner()).ok_or_else(|| {
                TxError::Abort(format!("another backend's tree in a {backend} transaction"))
            })
        })
        .collect()
}

/// The trees of a sled transaction.
struct SledTxn<'a>(&'a [TransactionalTree]);

impl Txn for SledTxn<'_> {
    fn get(&mut self, tree: usize, key: &[u8]) -> Result<Option<IVec>, TxError> {
        Ok(self.0[tree].get(key)?)
    }

    fn replace(&mut self, tree: usize, key: &[u8], value: &[u8]) -> Result<Option<IVec>, TxError> {
        Ok(self.0[tree].insert(key, value)?)
    }

    fn put(&mut self, tree: usize, key: &[u8], value: &[u8]) -> Result<(), TxError> {
        self.0[tree].insert(key, value)?;
        Ok(())
    }

    fn remove(&mut self, tree: usize, key: &[u8]) -> Result<(), TxError> {
        self.0[tree].remove(key)?;
        Ok(())
    }
}

/// Runs `f` in one sled transaction over `trees`.
pub(super) fn sled(
    trees: &[&Tree],
    f: &dyn Fn(&mut dyn Txn) -> Result<(), TxError>,
) -> Result<(), TxError> {
    let trees = on_backend(trees, "sled", |t| match t {
        Inner::Sled(t) => Some(t),
        _ => None,
    })?;
    trees
        .as_slice()
        .transaction(|view: &Vec<TransactionalTree>| {
            f(&mut SledTxn(view)).map_err(|e| match e {
                TxError::Sled(e) => e.into(),
                other => ConflictableTransactionError::Abort(other),
            })
        })
        .map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => TxError::Backend(Error::Sled(e)),
        })
}
