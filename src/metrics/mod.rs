//! Prometheus metrics: what the service counts and times, and their text exposition
//! (OpenMetrics, which Prometheus reads) for `GET /metrics`.
//!
//! Counted as it happens: KooMarket answers per interface × activity × resultCode, HTTP latency
//! per route, group-commit sizes and flush latency ([`storage`]). Read at scrape time in constant
//! time ([`StoreGauges`]): the revocation sequence, and from the store's counters (kept in the
//! transaction of every write, so current) licenses by state, outbox jobs by state, the retrying
//! jobs and the age of the oldest pending job. Counted by the background [`census`] (never by a
//! scrape): the delisting guard's failed orders this month.

pub(crate) mod census;
pub(crate) mod storage;

use std::time::Duration;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use self::census::{Census, CensusReader};
use self::storage::StorageMetrics;
use crate::store::Store;

/// The content type of the exposition.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every activity the production interface knows; anything else is counted as `other`, so a
/// caller cannot grow the label set.
const ACTIVITIES: &[&str] = &[
    "getLicense",
    "refreshLicense",
    "expireLicense",
    "releaseLicense",
    "newInstance",
    "refreshInstance",
    "expireInstance",
    "releaseInstance",
    "instanceStatus",
    "upgrade",
    "queryInstance",
    "updateInstanceStatus",
    "getLicenseAsync",
    "refreshLicenseCode",
    "updateLicenseCodeStatus",
    "releaseLicenseCode",
];

/// The bounded label for a caller-supplied activity.
pub(crate) fn activity_label(activity: &str) -> &'static str {
    ACTIVITIES
        .iter()
        .find(|a| **a == activity)
        .copied()
        .unwrap_or("other")
}

/// The gauges read from the store at scrape time, each in constant time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StoreGauges {
    /// The revocation list's sequence number.
    pub(crate) revocation_sequence: u64,
    /// Licenses per status, test traffic included.
    pub(crate) licenses: BTreeMap<&'static str, u64>,
    /// Outbox jobs per state.
    pub(crate) jobs: BTreeMap<&'static str, u64>,
    /// Pending jobs whose last attempt failed.
    pub(crate) retrying: u64,
    /// When the oldest pending job was created.
    pub(crate) oldest_pending: Option<DateTime<Utc>>,
}

impl StoreGauges {
    /// Reads them (a few keys; no scan).
    pub(crate) fn read(store: &Store) -> crate::store::Result<StoreGauges> {
        let (jobs, retrying) = store.jobs_by_state()?;
        Ok(StoreGauges {
            revocation_sequence: store.revocation_sequence()?,
            licenses: store.licenses_by_status(true)?,
            jobs,
            retrying,
            oldest_pending: store.oldest_pending_job()?.map(|j| j.created_at),
        })
    }
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AnswerLabels {
    interface: &'static str,
    activity: &'static str,
    result_code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The registry and the metrics recorded as things happen.
pub(crate) struct Metrics {
    registry: Registry,
    answers: Family<AnswerLabels, Counter>,
    http: Histograms<RouteLabels>,
    revocation_sequence: Gauge,
    licenses: Family<StateLabels, Gauge>,
    jobs: Family<StateLabels, Gauge>,
    jobs_retrying: Gauge,
    oldest_pending_secs: Gauge,
    failed_orders_month: Gauge,
    census: CensusReader,
}

impl Metrics {
    /// Registers every metric; the storage ones are the store's own handles.
    pub(crate) fn new(storage: &StorageMetrics) -> Metrics {
        let mut registry = Registry::with_prefix("koolicense");
        let answers = Family::<AnswerLabels, Counter>::default();
        registry.register(
            "koomarket_answers",
            "KooMarket production-interface answers by interface (get, post), activity and resultCode",
            answers.clone(),
        );
        let http: Histograms<RouteLabels> = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route pattern and method",
            http.clone(),
        );
        registry.register(
            "storage_group_commit_batches",
            "Write batches applied by one group transaction and sync",
            storage.group_size.clone(),
        );
        registry.register(
            "storage_flush_duration_seconds",
            "Durable flushes by duration (sled: its flush and fsync; PostgreSQL: a group's transaction up to its commit)",
            storage.flush_seconds.clone(),
        );
        registry.register(
            "storage_flush_failures",
            "Durable flushes that failed",
            storage.flush_failures.clone(),
        );
        let revocation_sequence = Gauge::default();
        registry.register(
            "revocation_sequence",
            "Sequence number of the revocation list",
            revocation_sequence.clone(),
        );
        let licenses = Family::<StateLabels, Gauge>::default();
        registry.register(
            "licenses",
            "Licenses by state, marketplace test traffic included",
            licenses.clone(),
        );
        let jobs = Family::<StateLabels, Gauge>::default();
        registry.register(
            "outbox_jobs",
            "Marketplace outbox jobs by state; pending is the outbox depth",
            jobs.clone(),
        );
        let jobs_retrying = Gauge::default();
        registry.register(
            "outbox_jobs_retrying",
            "Pending outbox jobs whose last attempt failed",
            jobs_retrying.clone(),
        );
        let oldest_pending_secs = Gauge::default();
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox job, 0 when none",
            oldest_pending_secs.clone(),
        );
        let failed_orders_month = Gauge::default();
        registry.register(
            "marketplace_failed_orders_month",
            "Distinct production orders answered with a failure this month (China Standard Time); \
             KooMarket delists a product above 5: alert at 3 (from a census at most 30 s old)",
            failed_orders_month.clone(),
        );
        Metrics {
            registry,
            failed_orders_month,
            answers,
            http,
            revocation_sequence,
            licenses,
            jobs,
            jobs_retrying,
            oldest_pending_secs,
            census: CensusReader::default(),
        }
    }

    /// Where the census thread publishes.
    pub(crate) fn census(&self) -> &CensusReader {
        &self.census
    }

    /// Counts a KooMarket answer.
    pub(crate) fn koomarket_answer(
        &self,
        interface: &'static str,
        activity: &str,
        result_code: &'static str,
    ) {
        self.answers
            .get_or_create(&AnswerLabels {
                interface,
                activity: activity_label(activity),
                result_code,
            })
            .inc();
    }

    /// Times an HTTP request (`route` is the matched pattern, never the raw path; a method
    /// outside the standard ones is counted as `other`, so callers cannot grow the label set).
    pub(crate) fn http_request(&self, method: &str, route: &str, elapsed: Duration) {
        const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
        let method = METHODS
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("other");
        self.http
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition text, with the scrape-time values set first.
    pub(crate) fn render(&self, gauges: &StoreGauges) -> String {
        self.revocation_sequence
            .set(gauge(gauges.revocation_sequence));
        let states = |family: &Family<StateLabels, Gauge>, counts: &BTreeMap<&'static str, u64>| {
            for (state, value) in counts {
                family
                    .get_or_create(&StateLabels { state })
                    .set(gauge(*value));
            }
        };
        states(&self.licenses, &gauges.licenses);
        states(&self.jobs, &gauges.jobs);
        self.jobs_retrying.set(gauge(gauges.retrying));
        let age = gauges
            .oldest_pending
            .map_or(0, |t| (Utc::now() - t).num_seconds().max(0));
        self.oldest_pending_secs.set(age);
        if let Some(census) = self.census.latest() {
            self.apply(&census);
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    fn apply(&self, census: &Census) {
        self.failed_orders_month.set(census.failed_orders_month);
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_activities_and_methods_share_one_label() {
        assert_eq!(activity_label("getLicense"), "getLicense");
        assert_eq!(activity_label("x".repeat(100).as_str()), "other");
        let metrics = Metrics::new(&StorageMetrics::default());
        metrics.koomarket_answer("get", "made-up", "000002");
        metrics.koomarket_answer("get", "getLicense", "000000");
        metrics.http_request("BREW", "/healthz", Duration::from_millis(1));
        let text = metrics.render(&StoreGauges {
            revocation_sequence: 7,
            ..StoreGauges::default()
        });
        assert!(
            text.contains(r#"method="other",route="/healthz""#),
            "{text}"
        );
        assert!(text.contains(
            r#"koolicense_koomarket_answers_total{interface="get",activity="other",result_code="000002"} 1"#
        ), "{text}");
        assert!(text.contains("koolicense_revocation_sequence 7"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
