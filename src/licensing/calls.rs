//! The record of rejected marketplace calls: every call answered 000001, 000002, 000003 or
//! 000005 is kept durably (activity, code, reason, ids, time), so a merchant can reconcile with
//! the seller console's 生产接口消息 before KooMarket's count of failed orders bites.

use super::{Licensing, LicensingError};
use crate::store::market_records::RejectedCall;
use crate::store::WriteBatch;

/// Longest reason kept (the answers' `resultMsg` is at most 255 characters anyway).
const MAX_REASON: usize = 255;
/// Longest id kept of each kind (the marketplace's ids are at most 64).
const MAX_ID: usize = 64;

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
        self.store.write(WriteBatch {
            rejected_calls: vec![call],
            ..WriteBatch::default()
        })?;
        Ok(())
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
