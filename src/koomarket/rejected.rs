//! Recording a rejected call (000001/2/3/5) for the merchant: the activity, the code, the
//! reason and the ids the call carried, whichever interface it came through.
//!
//! Anyone on the internet can send a call that fails authentication, so those (000001) are
//! recorded at most [`AUTH_FAILURES_PER_MINUTE`] a minute; the rest are counted in the log.
//! Authenticated calls come from the marketplace and are all recorded.

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use super::answer::{Answer, ResultCode};
use crate::licensing::Licensing;
use crate::store::market_records::RejectedCall;

/// Unauthenticated rejections recorded per minute, at most.
pub(crate) const AUTH_FAILURES_PER_MINUTE: u32 = 120;

/// The recorder (one per service).
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    /// (minute, recorded in it, not recorded in it)
    auth_failures: Mutex<(i64, u32, u64)>,
}

impl Recorder {
    /// Records `answer` if it is a rejection; `field` reads a parameter of the call. A failure
    /// to record is logged: the answer stands.
    pub(crate) fn record(
        &self,
        licensing: &Licensing,
        interface: &str,
        answer: &Answer,
        field: impl Fn(&'static str) -> Option<String>,
    ) {
        let now = Utc::now();
        if !answer.code().is_rejection() || !self.admit(answer.code(), now) {
            return;
        }
        let call = RejectedCall {
            id: 0,
            at: now,
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

    fn admit(&self, code: ResultCode, now: DateTime<Utc>) -> bool {
        if code != ResultCode::AuthFailed {
            return true;
        }
        let minute = now.timestamp().div_euclid(60);
        let mut window = self.auth_failures.lock();
        if window.0 != minute {
            if window.2 > 0 {
                tracing::warn!(
                    not_recorded = window.2,
                    "calls that failed authentication beyond {AUTH_FAILURES_PER_MINUTE} a minute were not recorded"
                );
            }
            *window = (minute, 0, 0);
        }
        if window.1 < AUTH_FAILURES_PER_MINUTE {
            window.1 += 1;
            true
        } else {
            window.2 += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthenticated_rejections_are_bounded_per_minute_and_others_are_not() {
        let recorder = Recorder::default();
        let now = Utc::now();
        let admitted = (0..AUTH_FAILURES_PER_MINUTE + 10)
            .filter(|_| recorder.admit(ResultCode::AuthFailed, now))
            .count();
        assert_eq!(admitted, AUTH_FAILURES_PER_MINUTE as usize);
        assert!(recorder.admit(ResultCode::UnknownInstance, now));
        assert!(recorder.admit(ResultCode::AuthFailed, now + chrono::Duration::minutes(1)));
    }
}
