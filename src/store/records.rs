//! The records kept in storage: licenses, their token history, audit events and published
//! signing keys. Stored as JSON so an operator can read an export without tools.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Lifecycle state of a license.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseStatus {
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
    pub fn as_str(self) -> &'static str {
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
pub enum Origin {
    /// The KooMarket GET production interface (getLicense).
    KoomarketGet,
    /// Offline issuance by `koolicense issue`.
    Offline,
}

/// The binding as stored: the system identifier in clear (the marketplace generated it), hardware
/// only as salted per-component hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoredBinding {
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
    },
}

/// One license.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseRecord {
    /// License id (UUID form).
    pub license_id: String,
    /// Revision of the current token.
    pub revision: u32,
    /// Lifecycle state.
    pub status: LicenseStatus,
    /// Why the status was last changed, if a reason was given.
    #[serde(default)]
    pub status_reason: Option<String>,
    /// Origin.
    pub origin: Origin,
    /// KooMarket instance id.
    pub instance_id: Option<String>,
    /// The new-purchase order id.
    pub order_id: Option<String>,
    /// Current product id (a renewal may change it).
    pub product_id: String,
    /// Product ids this license had before renewals changed it.
    #[serde(default)]
    pub previous_product_ids: Vec<String>,
    /// Sku code.
    pub sku_code: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Customer name.
    pub customer_name: Option<String>,
    /// Trial license.
    pub trial: bool,
    /// Marketplace test traffic (`testFlag=1`).
    pub test: bool,
    /// KooMarket chargingMode (1 periodic, 3 one-time, 5 package), as sent.
    pub charging_mode: Option<String>,
    /// periodType as sent.
    pub period_type: Option<String>,
    /// periodNumber as sent.
    pub period_number: Option<String>,
    /// `amount` as sent.
    pub amount: Option<u32>,
    /// Quantity in the license.
    pub quantity: Option<u32>,
    /// Features in the license.
    pub features: Vec<String>,
    /// Binding.
    pub binding: StoredBinding,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity; none = perpetual.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the license was created.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
    /// When the current token was signed.
    pub issued_at: DateTime<Utc>,
    /// Key id that signed the current token.
    pub kid: String,
    /// The current one-line token.
    pub token: String,
}

/// One appended audit event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Monotonic id.
    pub id: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: `koomarket`, `cli`, or `token:<id>`.
    pub actor: String,
    /// What was asked (e.g. the KooMarket activity).
    pub action: String,
    /// What happened (`issued`, `replayed`, `renewed`, `frozen`, ...).
    pub outcome: String,
    /// The license concerned.
    pub license_id: Option<String>,
    /// The instance concerned.
    pub instance_id: Option<String>,
    /// The request's orderId.
    pub order_id: Option<String>,
    /// The request's businessId.
    pub business_id: Option<String>,
    /// Marketplace test traffic.
    pub test: bool,
    /// Free-form detail.
    pub detail: Option<String>,
}

/// A signing key the service has used, published at `GET /v1/keys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Key id.
    pub kid: String,
    /// SPKI PEM public key.
    pub public_key_pem: String,
    /// When the service first signed with it.
    pub first_used: DateTime<Utc>,
    /// When another key replaced it.
    pub retired_at: Option<DateTime<Utc>>,
}
