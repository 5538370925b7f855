//! `GET /v1/stats`: the figures of the console's overview in one read-scoped call — licenses
//! issued per UTC day, licenses by state, recorded marketplace callbacks per day, and the outbox
//! backlog. It reads every license and every audit event once, in constant memory
//! (O(licenses + events) time); the `/v1` rate limits bound how often.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::access::extract::Read;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::market_records::JobState;
use crate::store::records::{AuditEvent, LicenseRecord, LicenseStatus};
use crate::store::{Store, StoreError};

/// Longest window, in days.
const MAX_DAYS: u32 = 366;
/// Audit actor of KooMarket callbacks.
const MARKETPLACE_ACTOR: &str = "koomarket";

/// Query of `GET /v1/stats`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsQuery {
    /// Days ending today (UTC), 1 to 366; 30 by default.
    days: Option<u32>,
    /// Count marketplace test traffic too (off by default, as in `/v1/licenses`).
    #[serde(default)]
    include_test: bool,
}

/// One UTC day.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
struct Day {
    date: NaiveDate,
    licenses_issued: u64,
    /// KooMarket callbacks recorded in the audit log (answered and stored).
    marketplace_events: u64,
}

/// The outbox backlog.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
struct Backlog {
    pending: u64,
    failed: u64,
    oldest_pending_at: Option<DateTime<Utc>>,
}

/// The answer.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct Stats {
    generated_at: DateTime<Utc>,
    days: Vec<Day>,
    licenses_by_status: BTreeMap<&'static str, u64>,
    outbox: Backlog,
}

const STATUSES: [LicenseStatus; 5] = [
    LicenseStatus::Active,
    LicenseStatus::Frozen,
    LicenseStatus::Suspended,
    LicenseStatus::Revoked,
    LicenseStatus::Released,
];

/// Counts per day and state; pure, for testing.
struct Tally {
    first: NaiveDate,
    include_test: bool,
    days: Vec<Day>,
    by_status: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn new(now: DateTime<Utc>, days: u32, include_test: bool) -> Tally {
        let today = now.date_naive();
        let first = today - Duration::days(i64::from(days) - 1);
        Tally {
            first,
            include_test,
            days: first
                .iter_days()
                .take(days as usize)
                .map(|date| Day {
                    date,
                    ..Day::default()
                })
                .collect(),
            by_status: STATUSES.iter().map(|s| (s.as_str(), 0)).collect(),
        }
    }

    fn day(&mut self, at: DateTime<Utc>) -> Option<&mut Day> {
        let index = (at.date_naive() - self.first).num_days();
        usize::try_from(index)
            .ok()
            .and_then(|i| self.days.get_mut(i))
    }

    fn license(&mut self, license: &LicenseRecord) {
        if license.test && !self.include_test {
            return;
        }
        *self.by_status.entry(license.status.as_str()).or_default() += 1;
        if let Some(day) = self.day(license.created_at) {
            day.licenses_issued += 1;
        }
    }

    fn event(&mut self, event: &AuditEvent) {
        if event.actor != MARKETPLACE_ACTOR || (event.test && !self.include_test) {
            return;
        }
        if let Some(day) = self.day(event.at) {
            day.marketplace_events += 1;
        }
    }
}

fn backlog(store: &Store) -> Result<Backlog, StoreError> {
    let pending = store.pending_jobs()?;
    let failed = store.list_jobs(Some(JobState::Failed), None, usize::MAX)?;
    Ok(Backlog {
        pending: pending.len() as u64,
        failed: failed.len() as u64,
        oldest_pending_at: pending.iter().map(|j| j.created_at).min(),
    })
}

fn collect(store: &Store, now: DateTime<Utc>, query: &StatsQuery) -> Result<Stats, StoreError> {
    let days = query.days.unwrap_or(30);
    let mut tally = Tally::new(now, days, query.include_test);
    store.for_each_license(|license| {
        tally.license(&license);
        true
    })?;
    store.for_each_audit_event(|event| {
        tally.event(&event);
        true
    })?;
    Ok(Stats {
        generated_at: now,
        days: tally.days,
        licenses_by_status: tally.by_status,
        outbox: backlog(store)?,
    })
}

/// `GET /v1/stats`
pub(crate) async fn get_stats(
    _caller: Read,
    state: web::Data<AppState>,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    if query.days.is_some_and(|d| !(1..=MAX_DAYS).contains(&d)) {
        return Err(ApiError::InvalidRequest(format!(
            "days must be 1 to {MAX_DAYS}"
        )));
    }
    let store = state.store.clone();
    let stats = crate::telemetry::blocking(move || collect(&store, Utc::now(), &query)).await??;
    Ok(HttpResponse::Ok().json(stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn event(at_text: &str, actor: &str, test: bool) -> AuditEvent {
        AuditEvent {
            id: 1,
            at: at(at_text),
            actor: actor.into(),
            action: "getLicense".into(),
            outcome: "issued".into(),
            license_id: None,
            instance_id: None,
            order_id: None,
            business_id: None,
            test,
            detail: None,
        }
    }

    #[test]
    fn marketplace_events_are_counted_on_their_utc_day_inside_the_window_only() {
        let mut tally = Tally::new(at("2026-03-10T08:00:00Z"), 3, false);
        assert_eq!(tally.days.len(), 3);
        assert_eq!(tally.days[0].date.to_string(), "2026-03-08");
        for e in [
            event("2026-03-07T23:59:59Z", "koomarket", false),
            event("2026-03-08T00:00:00Z", "koomarket", false),
            event("2026-03-10T07:00:00Z", "koomarket", false),
            event("2026-03-10T07:00:00Z", "koomarket", true),
            event("2026-03-10T07:00:00Z", "token:abc", false),
            event("2026-03-11T00:00:00Z", "koomarket", false),
        ] {
            tally.event(&e);
        }
        let counts: Vec<u64> = tally.days.iter().map(|d| d.marketplace_events).collect();
        assert_eq!(counts, [1, 0, 1]);
    }

    #[test]
    fn every_state_is_reported_even_when_no_license_has_it() {
        let tally = Tally::new(Utc::now(), 1, false);
        let names: Vec<&str> = tally.by_status.keys().copied().collect();
        assert_eq!(
            names,
            ["active", "frozen", "released", "revoked", "suspended"]
        );
    }
}
