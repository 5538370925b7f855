//! Recording a rejected call (000001/2/3/5) for the merchant: the activity, the code, the
//! reason and the ids the call carried, whichever interface it came through.

use chrono::Utc;

use super::answer::Answer;
use crate::licensing::Licensing;
use crate::store::market_records::RejectedCall;

/// Records `answer` if it is a rejection; `field` reads a parameter of the call. A failure to
/// record is logged: the answer stands.
pub(crate) fn record(
    licensing: &Licensing,
    interface: &str,
    answer: &Answer,
    field: impl Fn(&'static str) -> Option<String>,
) {
    if !answer.code().is_rejection() {
        return;
    }
    let call = RejectedCall {
        id: 0,
        at: Utc::now(),
        interface: interface.to_string(),
        activity: field("activity"),
        result_code: answer.result_code().to_string(),
        reason: answer.reason().to_string(),
        order_id: field("orderId"),
        instance_id: field("instanceId").or_else(|| field("license")),
        business_id: field("businessId"),
        event_id: field("eventId"),
        test: field("testFlag").as_deref() == Some("1"),
    };
    if let Err(e) = licensing.record_rejected_call(call) {
        tracing::error!(error = %e, "could not record a rejected marketplace call");
    }
}
