//! The delisting guard: KooMarket delists a product after more than five failed orders in a
//! month, so the failed answers recorded by [`super::calls`] are summarised per day and activity
//! for the last 30 days, and the failed orders of the current month are counted (one order =
//! its orderId, else instanceId/code, else businessId; a call with none counts on its own).
//! Test calls (testFlag=1: the seller console's debugger and dial tests) are listed but not
//! counted as failed orders.
//!
//! Days and months are those of China Standard Time (UTC+8), where the marketplace runs; which
//! clock KooMarket's monthly count uses is not documented (UNCONFIRMED), so the month is read
//! the way its seller console shows dates.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::Serialize;

use super::{Licensing, LicensingError};
use crate::store::market_records::RejectedCall;

/// Days summarised.
pub(crate) const DAYS: i64 = 30;
/// More than this many failed orders in a month and KooMarket delists the product.
pub(crate) const DELISTING_LIMIT: usize = 5;
/// Longest list of calls read for one summary.
const MAX_CALLS: usize = 200_000;

fn cst() -> FixedOffset {
    // UTC+8 is a valid offset.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

/// Failed answers of one activity on one day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct DayActivity {
    /// The day (China Standard Time).
    pub(crate) day: NaiveDate,
    /// The activity (`unknown` when the call carried none that could be read).
    pub(crate) activity: String,
    /// Failed answers to production calls.
    pub(crate) failed: u64,
    /// Failed answers to test calls.
    pub(crate) failed_test: u64,
    /// Failed answers by result code.
    pub(crate) result_codes: BTreeMap<String, u64>,
}

/// This month's standing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Month {
    /// First instant of the month (China Standard Time).
    pub(crate) start: DateTime<FixedOffset>,
    /// Distinct production orders with a failed answer this month.
    pub(crate) failed_orders: usize,
    /// Failed answers to production calls this month.
    pub(crate) failed_answers: u64,
    /// KooMarket delists above this many failed orders.
    pub(crate) delisting_limit: usize,
}

/// The summary answered at `GET /v1/marketplace/health`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct MarketplaceHealth {
    /// First day summarised.
    pub(crate) since: NaiveDate,
    /// This month.
    pub(crate) month: Month,
    /// Per day and activity, newest day first.
    pub(crate) days: Vec<DayActivity>,
    /// More calls failed than one summary reads; the counts are lower bounds.
    pub(crate) truncated: bool,
}

fn order_key(call: &RejectedCall) -> String {
    call.order_id
        .as_ref()
        .or(call.instance_id.as_ref())
        .or(call.business_id.as_ref())
        .map_or_else(|| format!("call:{}", call.id), |id| format!("id:{id}"))
}

/// The first instant of `now`'s month, China Standard Time.
fn month_start(now: DateTime<Utc>) -> DateTime<FixedOffset> {
    let local = now.with_timezone(&cst());
    cst()
        .with_ymd_and_hms(local.year(), local.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(local)
}

/// The earliest instant a summary at `now` needs: 30 days back or the month's start.
pub(crate) fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let local_day = now.with_timezone(&cst()).date_naive() - Duration::days(DAYS - 1);
    let days = cst()
        .from_local_datetime(&local_day.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map_or(now - Duration::days(DAYS), |t| t.with_timezone(&Utc));
    days.min(month_start(now).with_timezone(&Utc))
}

/// Summarises `calls` (answered in the window of [`window_start`]) as seen at `now`.
pub(crate) fn summarize(
    calls: &[RejectedCall],
    now: DateTime<Utc>,
    truncated: bool,
) -> MarketplaceHealth {
    let since = now.with_timezone(&cst()).date_naive() - Duration::days(DAYS - 1);
    let month = month_start(now);
    let mut days: BTreeMap<(NaiveDate, String), DayActivity> = BTreeMap::new();
    let mut orders = BTreeSet::new();
    let mut month_answers = 0;
    for call in calls {
        let day = call.at.with_timezone(&cst()).date_naive();
        if call.at >= month && !call.test {
            orders.insert(order_key(call));
            month_answers += 1;
        }
        if day < since {
            continue;
        }
        let activity = call.activity.clone().unwrap_or_else(|| "unknown".into());
        let entry = days
            .entry((day, activity.clone()))
            .or_insert_with(|| DayActivity {
                day,
                activity,
                ..DayActivity::default()
            });
        if call.test {
            entry.failed_test += 1;
        } else {
            entry.failed += 1;
        }
        *entry
            .result_codes
            .entry(call.result_code.clone())
            .or_default() += 1;
    }
    MarketplaceHealth {
        since,
        month: Month {
            start: month,
            failed_orders: orders.len(),
            failed_answers: month_answers,
            delisting_limit: DELISTING_LIMIT,
        },
        days: days.into_values().rev().collect(),
        truncated,
    }
}

impl Licensing {
    /// The delisting guard's summary at `now`.
    pub(crate) fn marketplace_health(
        &self,
        now: DateTime<Utc>,
    ) -> Result<MarketplaceHealth, LicensingError> {
        let (calls, truncated) = self
            .store
            .rejected_calls_since(window_start(now), MAX_CALLS)?;
        Ok(summarize(&calls, now, truncated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: u64, at: DateTime<Utc>, order: Option<&str>, test: bool) -> RejectedCall {
        RejectedCall {
            id,
            at,
            interface: "get".into(),
            activity: Some("getLicense".into()),
            result_code: "000005".into(),
            reason: "storage".into(),
            order_id: order.map(str::to_string),
            instance_id: None,
            business_id: None,
            event_id: None,
            test,
        }
    }

    #[test]
    fn failed_orders_count_once_per_order_this_month_and_tests_do_not_count() {
        // 2026-12-10 12:00 CST.
        let now = Utc
            .with_ymd_and_hms(2026, 12, 10, 4, 0, 0)
            .single()
            .expect("time");
        let last_month = Utc
            .with_ymd_and_hms(2026, 11, 30, 15, 0, 0)
            .single()
            .expect("t");
        let calls = vec![
            call(1, now, Some("A"), false),
            call(2, now, Some("A"), false),
            call(3, now - Duration::days(1), Some("B"), false),
            call(4, now, None, false),
            call(5, now, Some("T"), true),
            // 2026-11-30 23:00 CST: last month.
            call(6, last_month, Some("C"), false),
        ];
        let health = summarize(&calls, now, false);
        assert_eq!(
            health.month.failed_orders, 3,
            "A, B and the call without ids"
        );
        assert_eq!(health.month.failed_answers, 4);
        let today = &health.days[0];
        assert_eq!(
            (today.day.to_string(), today.failed, today.failed_test),
            ("2026-12-10".to_string(), 3, 1)
        );
        assert_eq!(health.days.len(), 3, "three days with failures");
        assert_eq!(health.days[2].day.to_string(), "2026-11-30");
        assert!(window_start(now) <= last_month);
    }
}
