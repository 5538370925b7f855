//! `GET /v1/stats`: the figures of the console's overview in one read-scoped call — licenses
//! issued per UTC day, licenses by state, recorded marketplace callbacks per day, and the outbox
//! backlog. It reads the store's counters (`store::counters`, kept in the transaction of every
//! write): a few keys per day of the window, whatever the size of the database.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::access::extract::Read;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::market_records::JobState;
use crate::store::{Store, StoreError};

/// Longest window, in days.
const MAX_DAYS: u32 = 366;

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

fn backlog(store: &Store) -> Result<Backlog, StoreError> {
    let (jobs, _) = store.jobs_by_state()?;
    let count = |state: JobState| jobs.get(state.as_str()).copied().unwrap_or(0);
    Ok(Backlog {
        pending: count(JobState::Pending),
        failed: count(JobState::Failed),
        oldest_pending_at: store.oldest_pending_job()?.map(|j| j.created_at),
    })
}

/// The window of `days` days ending on the UTC day of `now`.
fn window(now: DateTime<Utc>, days: u32) -> (NaiveDate, NaiveDate) {
    let today = now.date_naive();
    (today - Duration::days(i64::from(days) - 1), today)
}

fn collect(store: &Store, now: DateTime<Utc>, query: &StatsQuery) -> Result<Stats, StoreError> {
    let (first, last) = window(now, query.days.unwrap_or(30));
    let days = store
        .daily_counts(first, last, query.include_test)?
        .into_iter()
        .map(|(date, counts)| Day {
            date,
            licenses_issued: counts.licenses_issued,
            marketplace_events: counts.marketplace_events,
        })
        .collect();
    Ok(Stats {
        generated_at: now,
        days,
        licenses_by_status: store.licenses_by_status(query.include_test)?,
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

    #[test]
    fn the_window_ends_on_the_utc_day_of_the_request() {
        let now = DateTime::parse_from_rfc3339("2026-03-10T23:30:00-02:00")
            .expect("time")
            .with_timezone(&Utc);
        let (first, last) = window(now, 3);
        assert_eq!(
            (first.to_string(), last.to_string()),
            ("2026-03-09".into(), "2026-03-11".into())
        );
        assert_eq!(window(now, 1), (last, last));
    }
}
