//! The records kept in storage: licenses, their token history, audit events and published
//! signing keys. Their serde shapes are what the API answers and exports (JSON); licenses and
//! audit events are stored in a compact binary form (`encoding`), the rest as JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Lifecycle state of a license.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LicenseStatus {
    /// In force.
    Active,
    /// Expired at the marketplace (expireLicense / FREEZE): data kept, online checks fail, a
    /// renewal or NORMAL/UNFREEZE restores it.
    Frozen,
    /// Suspended by the merchant (reversible).
    Suspended,
    /// Revoked by the merchant (permanent).
    Revoked,
    /// Released at the marketplace (releaseLicense): kept as a tombstone for audit.
    Released,
}

impl LicenseStatus {
    /// The stable lower-case name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LicenseStatus::Active => "active",
            LicenseStatus::Frozen => "frozen",
            LicenseStatus::Suspended => "suspended",
            LicenseStatus::Revoked => "revoked",
            LicenseStatus::Released => "released",
        }
    }
}

/// Where a license came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Origin {
    /// The KooMarket GET production interface (getLicense).
    KoomarketGet,
    /// Offline issuance by `koolicense issue`.
    Offline,
    /// The online-license POST interface (getLicenseAsync), delivered by the upload open API.
    KoomarketOnline,
    /// Activation of a License 2.0 authorization code (`POST /v1/activate`).
    AuthorizationCode,
}

/// The binding as stored: the system identifier in clear (the marketplace generated it), hardware
/// only as salted per-component hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum StoredBinding {
    /// Floating.
    None,
    /// System identifier (系统识别码).
    System {
        /// The identifier.
        identifier: String,
    },
    /// Hardware identifier (硬件识别码), hashed.
    Hardware {
        /// K of the K-of-N rule (already clamped to the components present).
        min_match: u8,
        /// Hex salt.
        salt: String,
        /// Hex hashes per component (MAC, disk, board, CPU).
        hashes: [Vec<String>; 4],
        /// The anchor component's index (1 disk, 2 board) under the anchored rule; absent for
        /// bindings made before it or by a policy that allows a weak binding.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        anchor: Option<u8>,
    },
}

/// One license.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LicenseRecord {
    /// License id (UUID form).
    pub(crate) license_id: String,
    /// Revision of the current token.
    pub(crate) revision: u32,
    /// Lifecycle state.
    pub(crate) status: LicenseStatus,
    /// Why the status was last changed, if a reason was given.
    #[serde(default)]
    pub(crate) status_reason: Option<String>,
    /// Tokens of this license with a lower revision are revoked (set by a reissue or by any
    /// change that shortens the validity).
    #[serde(default)]
    pub(crate) revoked_below: u32,
    /// When the marketplace signed the last status change applied (an older one is stale).
    #[serde(default)]
    pub(crate) status_signed_at: Option<DateTime<Utc>>,
    /// Origin.
    pub(crate) origin: Origin,
    /// KooMarket instance id.
    pub(crate) instance_id: Option<String>,
    /// The new-purchase order id.
    pub(crate) order_id: Option<String>,
    /// Current product id (a renewal may change it).
    pub(crate) product_id: String,
    /// Product ids this license had before renewals changed it.
    #[serde(default)]
    pub(crate) previous_product_ids: Vec<String>,
    /// Sku code.
    pub(crate) sku_code: Option<String>,
    /// Customer id.
    pub(crate) customer_id: Option<String>,
    /// Customer name.
    pub(crate) customer_name: Option<String>,
    /// Trial license.
    pub(crate) trial: bool,
    /// Marketplace test traffic (`testFlag=1`).
    pub(crate) test: bool,
    /// KooMarket chargingMode (1 periodic, 3 one-time, 5 package), as sent.
    pub(crate) charging_mode: Option<String>,
    /// periodType as sent.
    pub(crate) period_type: Option<String>,
    /// periodNumber as sent.
    pub(crate) period_number: Option<String>,
    /// `amount` as sent.
    pub(crate) amount: Option<u32>,
    /// Quantity in the license.
    pub(crate) quantity: Option<u32>,
    /// Features in the license.
    pub(crate) features: Vec<String>,
    /// Binding.
    pub(crate) binding: StoredBinding,
    /// Start of validity.
    pub(crate) not_before: DateTime<Utc>,
    /// End of validity; none = perpetual.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// When the license was created.
    pub(crate) created_at: DateTime<Utc>,
    /// When the record last changed.
    pub(crate) updated_at: DateTime<Utc>,
    /// When the current token was signed.
    pub(crate) issued_at: DateTime<Utc>,
    /// Key id that signed the current token.
    pub(crate) kid: String,
    /// The current one-line token.
    pub(crate) token: String,
}

/// One appended audit event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuditEvent {
    /// Monotonic id.
    pub(crate) id: u64,
    /// When.
    pub(crate) at: DateTime<Utc>,
    /// Who: `koomarket`, `cli`, or `token:<id>`.
    pub(crate) actor: String,
    /// What was asked (e.g. the KooMarket activity).
    pub(crate) action: String,
    /// What happened (`issued`, `replayed`, `renewed`, `frozen`, ...).
    pub(crate) outcome: String,
    /// The license concerned.
    pub(crate) license_id: Option<String>,
    /// The instance concerned.
    pub(crate) instance_id: Option<String>,
    /// The request's orderId.
    pub(crate) order_id: Option<String>,
    /// The request's businessId.
    pub(crate) business_id: Option<String>,
    /// Marketplace test traffic.
    pub(crate) test: bool,
    /// Free-form detail.
    pub(crate) detail: Option<String>,
}

/// What an API token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Scope {
    /// Look up licenses, the audit log, exports.
    Read,
    /// Change licenses and manage API tokens.
    Write,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scope::Read => "read",
            Scope::Write => "write",
        })
    }
}

/// A merchant API token. Only a hash of its secret is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    /// Public id (the part of the token before its secret).
    pub(crate) id: String,
    /// A label for people.
    pub(crate) name: String,
    /// Granted scopes.
    pub(crate) scopes: Vec<Scope>,
    /// Hex SHA-256 of the secret.
    pub(crate) secret_sha256: String,
    /// When it was created.
    pub(crate) created_at: DateTime<Utc>,
    /// Who created it (`cli` or `token:<id>`).
    pub(crate) created_by: String,
    /// When it was last used (recorded at most once a minute).
    pub(crate) last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub(crate) revoked_at: Option<DateTime<Utc>>,
}

/// A signing key the service has used, published at `GET /v1/keys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    /// Key id.
    pub(crate) kid: String,
    /// SPKI PEM public key.
    pub(crate) public_key_pem: String,
    /// When the service first signed with it.
    pub(crate) first_used: DateTime<Utc>,
    /// When another key replaced it.
    pub(crate) retired_at: Option<DateTime<Utc>>,
}
