//! Every answer of either interface is counted (metrics: interface × activity × resultCode), and
//! every failed one is logged at WARN: the marketplace delists a product after more than five
//! failed orders in a month, so each deserves a look while there is still time.

use super::answer::{Answer, ResultCode};
use crate::metrics::Metrics;

/// Whether the marketplace counts the answer as a failed call: anything but success and
/// "in progress" (`000004`, asynchronous delivery).
pub(crate) fn is_failure(code: ResultCode) -> bool {
    !matches!(code, ResultCode::Success | ResultCode::InProgress)
}

/// Counts `answer` and logs it at WARN when it failed.
pub(crate) fn observe(metrics: &Metrics, interface: &'static str, activity: &str, answer: &Answer) {
    let result_code = answer.result_code();
    let activity = crate::metrics::activity_label(activity);
    metrics.koomarket_answer(interface, activity, result_code);
    if is_failure(answer.code()) {
        tracing::warn!(
            interface,
            activity,
            result_code,
            reason = %answer.reason(),
            "KooMarket call answered with a failure; the marketplace counts it toward delisting"
        );
    }
}
