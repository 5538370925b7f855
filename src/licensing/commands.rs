//! Validated commands: what an adapter hands the core after parsing and checking a request at
//! its boundary (field presence, lengths, formats, flags). The core never sees raw parameters.

use chrono::{DateTime, Utc};

/// Who called and how the call was signed: the audit action name, the marketplace's signing
/// time (GET `timeStamp`, POST `timestamp`) and the test flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Call {
    /// The activity as sent (the audit event's action).
    pub(crate) activity: String,
    /// When the marketplace signed the call; orders status changes (rule: an older one is
    /// stale). `None` when unknown.
    pub(crate) signed_at: Option<DateTime<Utc>>,
    /// testFlag=1: debugger or dial-test traffic.
    pub(crate) test: bool,
}

/// getLicense / newInstance of the GET interface: one license per orderId, forever.
#[derive(Clone, Debug)]
pub(crate) struct Provision {
    pub(crate) customer_id: String,
    pub(crate) customer_name: Option<String>,
    /// Differs on every call; logged, never a deduplication key.
    pub(crate) business_id: String,
    pub(crate) order_id: String,
    pub(crate) product_id: String,
    pub(crate) sku_code: Option<String>,
    /// Expiry; `None` = perpetual (a one-time purchase).
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) charging_mode: Option<String>,
    pub(crate) period_type: Option<String>,
    pub(crate) period_number: Option<String>,
    pub(crate) amount: Option<u32>,
    pub(crate) trial: bool,
    /// The buyer's system or hardware identifier (from `saasExtendParams`).
    pub(crate) identifier: Option<String>,
}

/// Why a renewal-like call arrives (`scene`; the GET interface's `trialToFormal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scene {
    /// 试用转正.
    TrialToFormal,
    /// 续费.
    Renewal,
    /// 续费变更 (SaaS V2): a renewal that also changes the product.
    RenewalChange,
    /// 退续费: the only scene that may shorten the expiry.
    UnsubscribeRenewalPeriod,
}

impl Scene {
    /// The name the marketplace sends (and the idempotency keys hold).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scene::TrialToFormal => "TRIAL_TO_FORMAL",
            Scene::Renewal => "RENEWAL",
            Scene::RenewalChange => "RENEWAL_CHANGE",
            Scene::UnsubscribeRenewalPeriod => "UNSUBSCRIBE_RENEWAL_PERIOD",
        }
    }

    /// Whether the scene renews (never moves the expiry back, restores a frozen license).
    pub(crate) fn extends(self) -> bool {
        self != Scene::UnsubscribeRenewalPeriod
    }
}

/// refreshLicense / refreshInstance (GET and POST) / refreshLicenseCode.
#[derive(Clone, Debug)]
pub(crate) struct Renew {
    /// instanceId, or the authorization code.
    pub(crate) target: String,
    pub(crate) scene: Scene,
    /// The renewal order: the idempotency key with the target (and scene and line).
    pub(crate) order_id: String,
    /// orderLineId (POST interfaces).
    pub(crate) order_line_id: Option<String>,
    /// New productId, if the period type changed.
    pub(crate) product_id: Option<String>,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) period_type: Option<String>,
    pub(crate) period_number: Option<String>,
}

/// expireLicense / expireInstance (GET).
#[derive(Clone, Debug)]
pub(crate) struct Expire {
    pub(crate) instance_id: String,
    pub(crate) order_id: Option<String>,
}

/// instanceStatus (GET), updateInstanceStatus, updateLicenseCodeStatus.
#[derive(Clone, Debug)]
pub(crate) struct SetStatus {
    /// instanceId, or the authorization code.
    pub(crate) target: String,
    /// FREEZE (true) or NORMAL/UNFREEZE (false).
    pub(crate) freeze: bool,
}

/// releaseLicense / releaseInstance (GET and POST) / releaseLicenseCode.
#[derive(Clone, Debug)]
pub(crate) struct Release {
    /// instanceId, or the authorization code.
    pub(crate) target: String,
    /// The unsubscription order, when the release comes from one.
    pub(crate) order_id: Option<String>,
    pub(crate) order_line_id: Option<String>,
}

/// upgrade (GET).
#[derive(Clone, Debug)]
pub(crate) struct Upgrade {
    pub(crate) instance_id: String,
    /// The upgrade order (idempotency key).
    pub(crate) order_id: String,
    pub(crate) sku_code: String,
    pub(crate) product_id: String,
    pub(crate) amount: Option<u32>,
}

/// newInstance of the online-license POST interface.
#[derive(Clone, Debug)]
pub(crate) struct NewInstance {
    pub(crate) order_id: String,
    pub(crate) order_line_id: String,
    pub(crate) business_id: String,
}

/// getLicenseAsync.
#[derive(Clone, Debug)]
pub(crate) struct Deliver {
    pub(crate) instance_id: String,
    pub(crate) effective_at: DateTime<Utc>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// The marketplace's request id: with the fingerprint, the idempotency key.
    pub(crate) event_id: String,
    pub(crate) fingerprint: Option<String>,
}
