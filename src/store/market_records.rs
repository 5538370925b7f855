//! Records of the POST interfaces and the marketplace client: online-license instances
//! (在线开通License), License 2.0 authorization codes, and outbox jobs (calls to the marketplace
//! that must happen after an answer). Stored as JSON (they are few and written rarely).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Lifecycle of an online-license instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum InstanceStatus {
    /// In force.
    Active,
    /// `updateInstanceStatus` FREEZE: licenses frozen, data kept.
    Frozen,
    /// `releaseInstance`: kept as a tombstone.
    Released,
}

/// One machine holding a license of an instance or an authorization code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Device {
    /// The license issued to it.
    pub(crate) license_id: String,
    /// Hex SHA-256 of the trimmed, upper-cased fingerprint as sent (of "" when none was sent).
    pub(crate) fingerprint_sha256: String,
}

/// An instance created by the online-license `newInstance`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OnlineInstance {
    /// The merchant's instance id (a UUID), answered to `newInstance`.
    pub(crate) instance_id: String,
    /// orderId of the purchase.
    pub(crate) order_id: String,
    /// orderLineId of the purchase.
    pub(crate) order_line_id: String,
    /// businessId of the first `newInstance` call (logged, never a key).
    pub(crate) business_id: Option<String>,
    /// Lifecycle state.
    pub(crate) status: InstanceStatus,
    /// A trial instance (until `TRIAL_TO_FORMAL`); only known from the order query.
    pub(crate) trial: bool,
    /// Marketplace test traffic.
    pub(crate) test: bool,
    /// End of the order's validity, once known (order query or `refreshInstance`).
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// productId, once known.
    pub(crate) product_id: Option<String>,
    /// skuCode, once known.
    pub(crate) sku_code: Option<String>,
    /// productName from the order query.
    pub(crate) product_name: Option<String>,
    /// The purchased quantity (the order line's `linearValue`), once known.
    pub(crate) amount: Option<u32>,
    /// chargingMode from the order query, when it carries one.
    pub(crate) charging_mode: Option<String>,
    /// periodType from the order query, when it carries one.
    pub(crate) period_type: Option<String>,
    /// When the order was placed (order query `createTime`).
    pub(crate) order_created_at: Option<DateTime<Utc>>,
    /// When the order details were last fetched.
    pub(crate) order_fetched_at: Option<DateTime<Utc>>,
    /// Machines holding a license of this instance.
    pub(crate) devices: Vec<Device>,
    /// getLicenseAsync requests answered `000004` while the order's details were unknown; the
    /// order query's completion issues them.
    #[serde(default)]
    pub(crate) pending_deliveries: Vec<PendingDelivery>,
    /// When the marketplace signed the last status change applied (an older one is stale).
    #[serde(default)]
    pub(crate) status_signed_at: Option<DateTime<Utc>>,
    /// Created.
    pub(crate) created_at: DateTime<Utc>,
    /// Last changed.
    pub(crate) updated_at: DateTime<Utc>,
}

impl OnlineInstance {
    /// Whether the purchase is periodic (包周期) as far as is known: a periodic chargingMode or
    /// periodType, or a known end of validity.
    pub(crate) fn periodic(&self) -> bool {
        self.charging_mode.as_deref() == Some("1")
            || self.period_type.is_some()
            || self.expires_at.is_some()
    }
}

/// A getLicenseAsync request waiting for its order's details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingDelivery {
    /// eventId.
    pub(crate) event_id: String,
    /// deviceFingerprint as sent (needed to bind the license once it can be issued).
    pub(crate) fingerprint: Option<String>,
    /// effectiveTime.
    pub(crate) effective_at: DateTime<Utc>,
    /// expireTime.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// testFlag.
    pub(crate) test: bool,
}

/// Status of an authorization code (授权码), as the marketplace reports it (ALIVE, EXPIRED,
/// RELEASED) or as its callbacks set it (FREEZE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum CodeStatus {
    /// Usable.
    Alive,
    /// Frozen by `updateLicenseCodeStatus` FREEZE.
    Frozen,
    /// Expired at the marketplace.
    Expired,
    /// Released at the marketplace.
    Released,
}

impl CodeStatus {
    /// The marketplace's name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Alive => "ALIVE",
            CodeStatus::Frozen => "FROZEN",
            CodeStatus::Expired => "EXPIRED",
            CodeStatus::Released => "RELEASED",
        }
    }

    /// Parses the marketplace's `status`.
    pub(crate) fn parse(s: &str) -> Option<CodeStatus> {
        match s.trim().to_ascii_uppercase().as_str() {
            "ALIVE" | "NORMAL" | "ACTIVE" => Some(CodeStatus::Alive),
            "FROZEN" | "FREEZE" => Some(CodeStatus::Frozen),
            "EXPIRED" => Some(CodeStatus::Expired),
            "RELEASED" => Some(CodeStatus::Released),
            _ => None,
        }
    }
}

/// A License 2.0 authorization code the service has activated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CodeRecord {
    /// The code.
    pub(crate) code: String,
    /// Status.
    pub(crate) status: CodeStatus,
    /// End of validity, as last reported.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// productId.
    pub(crate) product_id: String,
    /// orderId.
    pub(crate) order_id: Option<String>,
    /// The purchased quantity (`amount`).
    pub(crate) amount: Option<u32>,
    /// Marketplace test traffic (a callback with `testFlag=1`).
    pub(crate) test: bool,
    /// When the service activated it at the marketplace.
    pub(crate) activated_at: DateTime<Utc>,
    /// When its status was last read from the marketplace.
    pub(crate) last_refreshed_at: Option<DateTime<Utc>>,
    /// Do not query the marketplace again before this.
    pub(crate) refresh_due_at: DateTime<Utc>,
    /// The last failed query, if the latest one failed.
    pub(crate) last_refresh_error: Option<String>,
    /// Machines holding a license of this code.
    pub(crate) machines: Vec<Device>,
    /// When the marketplace signed the last status change applied (an older one is stale).
    #[serde(default)]
    pub(crate) status_signed_at: Option<DateTime<Utc>>,
    /// Created.
    pub(crate) created_at: DateTime<Utc>,
    /// Last changed.
    pub(crate) updated_at: DateTime<Utc>,
}

/// State of an outbox job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum JobState {
    /// Waiting for its next attempt.
    Pending,
    /// Acknowledged by the marketplace; never sent again.
    Done,
    /// Gave up (attempts exhausted or a permanent error); can be retried by the merchant.
    Failed,
}

impl JobState {
    /// Parses the lower-case name.
    pub(crate) fn parse(s: &str) -> Option<JobState> {
        match s {
            "pending" => Some(JobState::Pending),
            "done" => Some(JobState::Done),
            "failed" => Some(JobState::Failed),
            _ => None,
        }
    }

    /// The lower-case name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
}

/// What an outbox job does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum JobKind {
    /// Deliver a license through the string/file upload open API (§6.6).
    UploadLicense {
        /// The getLicenseAsync `eventId` (the upload's `event_id`).
        event_id: String,
        /// The instance.
        instance_id: String,
        /// The license.
        license_id: String,
        /// The license text (`CHARACTERS`, at most 1024 characters).
        characters: String,
    },
    /// Fetch an order's details through the order-query open API (§6.7).
    QueryOrder {
        /// The instance to complete.
        instance_id: String,
        /// orderId.
        order_id: String,
        /// orderLineId.
        order_line_id: String,
    },
}

/// One call to the marketplace that must happen after an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OutboxJob {
    /// Id (increasing).
    pub(crate) id: u64,
    /// Deduplication key (`upload/<eventId>`, `order/<instanceId>`): one job per key, ever.
    pub(crate) key: String,
    /// What to do.
    pub(crate) kind: JobKind,
    /// State.
    pub(crate) state: JobState,
    /// Attempts made so far.
    pub(crate) attempts: u32,
    /// Not before this.
    pub(crate) next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub(crate) last_error: Option<String>,
    /// Created.
    pub(crate) created_at: DateTime<Utc>,
    /// Last changed.
    pub(crate) updated_at: DateTime<Utc>,
    /// When the marketplace acknowledged it.
    pub(crate) done_at: Option<DateTime<Utc>>,
}

impl OutboxJob {
    /// A new pending job, due at `now`.
    pub(crate) fn pending(id: u64, key: String, kind: JobKind, now: DateTime<Utc>) -> OutboxJob {
        OutboxJob {
            id,
            key,
            kind,
            state: JobState::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            updated_at: now,
            done_at: None,
        }
    }
}

/// What License 2.0 callbacks said about a code this service has not activated yet; the first
/// activation applies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingCode {
    /// The code.
    pub(crate) code: String,
    /// The expiry the callbacks set.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// The last expiry change shortened it (UNSUBSCRIBE_RENEWAL_PERIOD): it replaces the
    /// marketplace's expiry instead of extending it.
    pub(crate) shortened: bool,
    /// The status the callbacks set (FREEZE, UNFREEZE, release).
    pub(crate) status: Option<CodeStatus>,
    /// When the marketplace signed the last status change applied.
    pub(crate) status_signed_at: Option<DateTime<Utc>>,
    /// Marketplace test traffic.
    pub(crate) test: bool,
    /// Created.
    pub(crate) created_at: DateTime<Utc>,
    /// Last changed.
    pub(crate) updated_at: DateTime<Utc>,
}

/// A marketplace call answered with a failure (000001, 000002, 000003 or 000005): the list a
/// merchant reconciles with the seller console's 生产接口消息.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RejectedCall {
    /// Id (increasing; assigned when written).
    pub(crate) id: u64,
    /// When it was answered.
    pub(crate) at: DateTime<Utc>,
    /// `get` or `post`.
    pub(crate) interface: String,
    /// The activity, when it could be read.
    pub(crate) activity: Option<String>,
    /// The result code answered.
    pub(crate) result_code: String,
    /// Why.
    pub(crate) reason: String,
    /// orderId, when sent.
    pub(crate) order_id: Option<String>,
    /// instanceId (or the authorization code), when sent.
    pub(crate) instance_id: Option<String>,
    /// businessId, when sent.
    pub(crate) business_id: Option<String>,
    /// eventId, when sent.
    pub(crate) event_id: Option<String>,
    /// testFlag=1.
    pub(crate) test: bool,
}
