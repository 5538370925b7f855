//! The fjall backend through the store's own interface (`kv::Db`, `Tree`, `Txn`): what the
//! store above relies on of any backend, checked on this one.

use std::path::Path;
use std::sync::Arc;

use super::super::{Db, Tree, TxError, Txn};
use super::ID_BLOCK;
use crate::store::failure::Failure;

fn open(path: &Path) -> Db {
    Db::open_fjall(path, 8, Arc::new(Failure::default())).expect("open fjall")
}

fn put(db: &Db, tree: &Tree, key: &[u8], value: &[u8]) {
    db.transaction(&[tree], &|txn: &mut dyn Txn| txn.put(0, key, value))
        .expect("commit");
}

fn value(tree: &Tree, key: &[u8]) -> Option<Vec<u8>> {
    tree.get(key).expect("read").map(|v| v.to_vec())
}

/// A copy of a live database's directory: what a crash (kill -9) leaves on disk.
fn crash_image(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            crash_image(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn a_committed_and_synced_write_is_there_after_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = open(dir.path());
        let tree = db.open_tree("licenses").expect("tree");
        put(&db, &tree, b"a", b"1");
        tree.insert(b"b", b"2").expect("insert");
        db.flush().expect("sync");
    }
    let db = open(dir.path());
    let tree = db.open_tree("licenses").expect("tree");
    assert_eq!(value(&tree, b"a"), Some(b"1".to_vec()));
    assert_eq!(value(&tree, b"b"), Some(b"2".to_vec()));
    assert!(db.tree_names().contains(&"licenses".to_owned()));
    assert!(
        !db.tree_names().iter().any(|n| n == super::IDS),
        "the id block is no tree of the store"
    );
}

#[test]
fn a_synced_write_survives_a_crash_image_taken_right_after_the_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(&dir.path().join("live"));
    let tree = db.open_tree("idempotency").expect("tree");
    for i in 0..100u32 {
        put(&db, &tree, &i.to_be_bytes(), b"acknowledged");
    }
    db.flush().expect("sync");
    crash_image(&dir.path().join("live"), &dir.path().join("crashed"));
    let crashed = open(&dir.path().join("crashed"));
    let tree = crashed.open_tree("idempotency").expect("tree");
    assert_eq!(tree.len().expect("len"), 100);
    drop(db);
}

#[test]
fn ids_are_unique_and_increasing_across_a_reopen_and_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = dir.path().join("live");
    let mut handed_out = Vec::new();
    {
        let db = open(&live);
        // More than one reserved block.
        for _ in 0..ID_BLOCK + 10 {
            handed_out.push(db.generate_id().expect("id"));
        }
    }
    let db = open(&live);
    let after_reopen = db.generate_id().expect("id");
    handed_out.push(after_reopen);
    for _ in 0..5 {
        handed_out.push(db.generate_id().expect("id"));
    }
    // Never synced by anything but the reservation of the block.
    crash_image(&live, &dir.path().join("crashed"));
    let crashed = open(&dir.path().join("crashed"));
    handed_out.push(crashed.generate_id().expect("id"));
    assert!(
        handed_out.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing, hence unique"
    );
}

#[test]
fn ids_advanced_past_a_snapshots_generator_start_above_it_durably() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = open(dir.path());
        db.generate_id().expect("id");
        db.advance_ids_past(10 * ID_BLOCK).expect("advance");
        assert!(db.generate_id().expect("id") > 10 * ID_BLOCK);
        db.advance_ids_past(3).expect("never backwards");
        assert!(db.generate_id().expect("id") > 10 * ID_BLOCK);
    }
    assert!(open(dir.path()).generate_id().expect("id") > 10 * ID_BLOCK);
}

#[test]
fn an_aborted_transaction_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = open(dir.path());
        let (a, b) = (
            db.open_tree("a").expect("tree"),
            db.open_tree("b").expect("tree"),
        );
        put(&db, &a, b"kept", b"before");
        let outcome = db.transaction(&[&a, &b], &|txn: &mut dyn Txn| {
            txn.put(0, b"kept", b"changed")?;
            txn.put(1, b"new", b"value")?;
            txn.remove(0, b"kept")?;
            Err(TxError::Abort("a record is unreadable".into()))
        });
        assert!(matches!(outcome, Err(TxError::Abort(_))), "{outcome:?}");
        assert!(db.failure().reason().is_none(), "an abort fails nothing");
        assert_eq!(value(&a, b"kept"), Some(b"before".to_vec()));
        assert_eq!(value(&b, b"new"), None);
        db.flush().expect("sync");
    }
    let db = open(dir.path());
    assert_eq!(
        value(&db.open_tree("a").expect("tree"), b"kept"),
        Some(b"before".to_vec())
    );
    assert!(db.open_tree("b").expect("tree").is_empty().expect("read"));
}

#[test]
fn a_transaction_reads_its_own_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let tree = db.open_tree("t").expect("tree");
    put(&db, &tree, b"k", b"old");
    db.transaction(&[&tree], &|txn: &mut dyn Txn| {
        let replaced = txn.replace(0, b"k", b"new")?;
        assert_eq!(replaced.as_deref(), Some(b"old".as_slice()));
        assert_eq!(txn.get(0, b"k")?.as_deref(), Some(b"new".as_slice()));
        txn.put(0, b"added", b"1")?;
        assert_eq!(txn.get(0, b"added")?.as_deref(), Some(b"1".as_slice()));
        txn.remove(0, b"added")?;
        assert_eq!(txn.get(0, b"added")?, None);
        Ok(())
    })
    .expect("commit");
    assert_eq!(value(&tree, b"k"), Some(b"new".to_vec()));
    assert_eq!(value(&tree, b"added"), None);
}

#[test]
fn concurrent_read_modify_write_transactions_lose_no_update() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let (counts, gone) = (
        db.open_tree("counts").expect("tree"),
        db.open_tree("gone").expect("tree"),
    );
    for i in 0..8u8 {
        put(&db, &gone, &[i], b"x");
    }
    std::thread::scope(|s| {
        for i in 0..8u8 {
            let (db, counts, gone) = (&db, &counts, &gone);
            s.spawn(move || {
                for _ in 0..200 {
                    db.transaction(&[counts, gone], &|txn: &mut dyn Txn| {
                        let n = txn.get(0, b"n")?.map_or(0, |v| {
                            u64::from_be_bytes(v.as_ref().try_into().expect("8 bytes"))
                        });
                        txn.put(0, b"n", &(n + 1).to_be_bytes())?;
                        txn.remove(1, &[i])
                    })
                    .expect("commit");
                }
            });
        }
    });
    let n = value(&counts, b"n").expect("counted");
    assert_eq!(u64::from_be_bytes(n.try_into().expect("8 bytes")), 1_600);
    assert!(gone.is_empty().expect("read"), "every removal committed");
}

#[test]
fn a_transaction_naming_a_tree_it_was_not_given_aborts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let tree = db.open_tree("t").expect("tree");
    let outcome = db.transaction(&[&tree], &|txn: &mut dyn Txn| txn.put(1, b"k", b"v"));
    assert!(matches!(outcome, Err(TxError::Abort(_))), "{outcome:?}");
    assert!(tree.is_empty().expect("read"));
}

#[test]
fn compare_and_swap_replaces_only_the_expected_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let tree = db.open_tree("t").expect("tree");
    let none: Option<&[u8]> = None;
    let cas = |old: Option<&[u8]>, new: Option<&[u8]>| tree.compare_and_swap(b"k", old, new);
    assert!(cas(none, Some(b"1")).expect("cas").is_ok(), "absent -> 1");
    let refused = cas(none, Some(b"2")).expect("cas").expect_err("present");
    assert_eq!(refused.current.as_deref(), Some(b"1".as_slice()));
    assert_eq!(refused.proposed.as_deref(), Some(b"2".as_slice()));
    let refused = cas(Some(b"x"), Some(b"2"))
        .expect("cas")
        .expect_err("not x");
    assert_eq!(refused.current.as_deref(), Some(b"1".as_slice()));
    assert_eq!(
        value(&tree, b"k"),
        Some(b"1".to_vec()),
        "refusals change nothing"
    );
    assert!(cas(Some(b"1"), Some(b"2")).expect("cas").is_ok(), "1 -> 2");
    assert!(cas(Some(b"2"), none).expect("cas").is_ok(), "2 -> removed");
    assert_eq!(value(&tree, b"k"), None);
    let refused = cas(Some(b"2"), none).expect("cas").expect_err("absent");
    assert_eq!(refused.current, None);
}

#[test]
fn iteration_is_in_key_order_forward_reversed_by_prefix_and_by_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let tree = db.open_tree("t").expect("tree");
    for key in ["b/2", "a", "b/1", "b", "c", "b/10", "b\u{ff}"] {
        put(&db, &tree, key.as_bytes(), key.as_bytes());
    }
    let keys = |iter: super::super::Iter| -> Vec<String> {
        iter.keys()
            .map(|k| String::from_utf8_lossy(&k.expect("read")).into_owned())
            .collect()
    };
    let all = ["a", "b", "b/1", "b/10", "b/2", "b\u{ff}", "c"];
    assert_eq!(keys(tree.iter()), all);
    let mut reversed = all.to_vec();
    reversed.reverse();
    assert_eq!(keys(tree.iter().rev()), reversed);
    assert_eq!(keys(tree.scan_prefix(b"b/")), ["b/1", "b/10", "b/2"]);
    assert_eq!(keys(tree.scan_prefix(b"b/").rev()), ["b/2", "b/10", "b/1"]);
    assert_eq!(
        keys(tree.range(b"b/1".as_slice()..b"b/2".as_slice())),
        ["b/1", "b/10"]
    );
    assert_eq!(
        keys(tree.range(b"b/10".as_slice()..)),
        ["b/10", "b/2", "b\u{ff}", "c"]
    );
    assert_eq!(
        tree.first().expect("read").map(|(k, _)| k.to_vec()),
        Some(b"a".to_vec())
    );
    assert_eq!(tree.len().expect("len"), all.len());
}

#[test]
fn a_dropped_tree_is_gone_and_a_tree_name_fjall_cannot_hold_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let tree = db.open_tree("audit-by-license").expect("tree");
    put(&db, &tree, b"k", b"v");
    db.drop_tree("audit-by-license").expect("drop");
    db.drop_tree("never-there")
        .expect("dropping a missing tree is no error");
    assert!(!db.tree_names().iter().any(|n| n == "audit-by-license"));
    for name in [String::new(), "x".repeat(256)] {
        assert!(db.open_tree(&name).is_err(), "{} bytes", name.len());
    }
}

#[test]
fn a_second_handle_on_a_held_database_is_refused_as_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _held = open(dir.path());
    let error = match Db::open_fjall(dir.path(), 8, Arc::new(Failure::default())) {
        Ok(_) => panic!("two handles on one database"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("could not acquire lock"), "{error}");
}

#[test]
fn the_flusher_follows_the_journal_when_fjall_starts_a_new_one() {
    use crate::store::commit::{Flusher, LsmFlusher};
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let lsm = db.lsm().cloned().expect("fjall");
    let flusher = LsmFlusher::new(lsm.clone());
    let tree = db.open_tree("licenses").expect("tree");
    let (first, _) = lsm.active_journal().expect("a journal");
    // Incompressible values (the journal compresses large entries): past fjall's 64 MB
    // journal, a memtable written out makes it start the next journal.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut noise = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect()
    };
    let mut n = 0u32;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while lsm.active_journal().expect("a journal").0 == first {
        assert!(std::time::Instant::now() < deadline, "no new journal");
        for _ in 0..64 {
            put(&db, &tree, &n.to_be_bytes(), &noise(32 * 1024));
            n += 1;
        }
        flusher.flush().expect("sync");
    }
    put(&db, &tree, b"after", b"the rotation");
    flusher.flush().expect("sync after the rotation");
    drop((tree, db, flusher, lsm));
    let db = open(dir.path());
    let tree = db.open_tree("licenses").expect("tree");
    assert_eq!(value(&tree, b"after"), Some(b"the rotation".to_vec()));
    assert!(value(&tree, &(n - 1).to_be_bytes()).is_some());
}
