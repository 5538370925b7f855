//! The record of rejected marketplace calls: every call answered 000001, 000002, 000003 or
//! 000005 is kept durably (activity, code, reason, ids, time), so a merchant can reconcile with
//! the seller console's 生产接口消息 before KooMarket's count of failed orders bites. Calls
//! older than the retention (`Rules::rejected_call_retention`) are removed, at most once an
//! hour and [`PRUNE_BATCH`] at a time, by the write that records a new one: the record grows
//! only while calls are rejected, so that is where it is kept bounded.

use super::{Licensing, LicensingError};
use crate::store::market_records::RejectedCall;
use crate::store::WriteBatch;

/// Longest reason kept (the answers' `resultMsg` is at most 255 characters anyway).
const MAX_REASON: usize = 255;
/// Longest id kept of each kind (the marketplace's ids are at most 64).
const MAX_ID: usize = 64;
/// Rejected calls removed per prune at most (the rest go at the next).
pub(crate) const PRUNE_BATCH: usize = 10_000;
/// Least time between two prunes.
const PRUNE_EVERY: chrono::Duration = chrono::Duration::hours(1);

fn clip(value: Option<String>, max: usize) -> Option<String> {
    value.map(|v| v.chars().take(max).collect())
}

impl Licensing {
    /// Records a rejected call durably (its `id` is assigned here).
    pub(crate) fn record_rejected_call(
        &self,
        mut call: RejectedCall,
    ) -> Result<(), LicensingError> {
        call.reason = call.reason.chars().take(MAX_REASON).collect();
        call.activity = clip(call.activity, MAX_ID);
        call.order_id = clip(call.order_id, MAX_ID);
        call.instance_id = clip(call.instance_id, MAX_ID);
        call.business_id = clip(call.business_id, MAX_ID);
        call.event_id = clip(call.event_id, MAX_ID);
        let now = call.at;
        self.store.write(WriteBatch {
            rejected_calls: vec![call],
            ..WriteBatch::default()
        })?;
        let due = {
            let mut last = self.calls_pruned_at.lock();
            let due = last.is_none_or(|at| now - at >= PRUNE_EVERY || now < at);
            if due {
                *last = Some(now);
            }
            due
        };
        if due {
            let removed = self.prune_rejected_calls(now)?;
            if removed > 0 {
                tracing::info!(removed, "removed rejected calls past their retention");
            }
        }
        Ok(())
    }

    /// Removes up to [`PRUNE_BATCH`] rejected calls answered before `now` minus the retention,
    /// oldest first, in one durable write; returns how many.
    pub(crate) fn prune_rejected_calls(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, LicensingError> {
        let before = now - self.rules.rejected_call_retention;
        let ids = self.store.rejected_calls_before(before, PRUNE_BATCH)?;
        let removed = ids.len();
        if removed > 0 {
            self.store.write(WriteBatch {
                rejected_calls_removed: ids,
                ..WriteBatch::default()
            })?;
        }
        Ok(removed)
    }

    /// Rejected calls after `cursor` (an id), oldest first, at most `limit`.
    pub(crate) fn rejected_calls(
        &self,
        cursor: u64,
        limit: usize,
    ) -> Result<Vec<RejectedCall>, LicensingError> {
        Ok(self.store.rejected_calls(cursor, limit)?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};

    use super::*;
    use crate::signing::Signer;
    use crate::store::Store;

    fn call(at: DateTime<Utc>, order: &str) -> RejectedCall {
        RejectedCall {
            id: 0,
            at,
            interface: "get".into(),
            activity: Some("newInstance".into()),
            result_code: "000001".into(),
            reason: "bad signature".into(),
            order_id: Some(order.into()),
            instance_id: None,
            business_id: None,
            event_id: None,
            test: false,
        }
    }

    fn orders(licensing: &Licensing) -> Vec<String> {
        licensing
            .rejected_calls(0, 100)
            .expect("list")
            .into_iter()
            .filter_map(|c| c.order_id)
            .collect()
    }

    #[test]
    fn calls_past_their_retention_are_removed_by_a_later_call_and_recent_ones_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8).expect("store");
        let licensing = Licensing::for_tests(store, Signer::generate().expect("keygen"));
        let now = Utc
            .with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
            .single()
            .expect("time");
        for (days, order) in [
            (120, "old-1"),
            (91, "old-2"),
            (89, "kept-1"),
            (10, "kept-2"),
        ] {
            licensing
                .record_rejected_call(call(now - Duration::days(days), order))
                .expect("record");
        }
        // Each of those was more than an hour after the previous, so each pruned what was past
        // 90 days at its own time: the last one (10 days ago) removed the call of 120 days ago.
        assert_eq!(orders(&licensing), ["old-2", "kept-1", "kept-2"]);

        licensing
            .record_rejected_call(call(now, "now"))
            .expect("record");
        assert_eq!(orders(&licensing), ["kept-1", "kept-2", "now"]);

        // Within the hour no prune runs, even when one would remove something.
        let later = now + Duration::days(1) + Duration::minutes(30);
        licensing
            .record_rejected_call(call(now + Duration::minutes(30), "soon"))
            .expect("record");
        assert_eq!(orders(&licensing).len(), 4);
        assert_eq!(licensing.prune_rejected_calls(later).expect("prune"), 1);
        assert_eq!(orders(&licensing), ["kept-2", "now", "soon"]);
    }

    #[test]
    fn a_prune_takes_the_oldest_calls_first_and_at_most_its_batch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8).expect("store");
        let licensing = Licensing::for_tests(store.clone(), Signer::generate().expect("keygen"));
        let start = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("time");
        for i in 0..5 {
            licensing
                .record_rejected_call(call(start + Duration::hours(2 * i), &format!("o{i}")))
                .expect("record");
        }
        let ids = store
            .rejected_calls_before(start + Duration::hours(5), 2)
            .expect("scan");
        let all = licensing.rejected_calls(0, 10).expect("list");
        assert_eq!(
            ids,
            [all[0].id, all[1].id],
            "the two oldest, cut at the batch"
        );
        let ids = store
            .rejected_calls_before(start + Duration::hours(5), 10)
            .expect("scan");
        assert_eq!(ids.len(), 3, "stops at the first call inside the retention");
    }
}
