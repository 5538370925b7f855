//! Product policies: per KooMarket `productId` / `skuCode`, how a license is bound, which
//! features it grants, how `amount` becomes a quantity, and how trials are handled.

use koolicense_verify::{HardwareBinding, HardwareId, HardwareIdError, SALT_LEN};
use serde::{Deserialize, Serialize};

/// What a product's licenses are bound to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BindingKind {
    /// Decide from the identifier: one that parses as a KooMarket hardware identifier
    /// (`MAC|disk|board|CPU`, containing `|`) binds to hardware, anything else to the system
    /// identifier.
    #[default]
    Auto,
    /// Bind to the hardware identifier (硬件识别码) with the K-of-N rule.
    Hardware,
    /// Bind to the system identifier (系统识别码).
    System,
    /// Floating license, not bound to a machine.
    None,
}

/// How a product's seats are used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LicenseModel {
    /// Each license is used where it is installed (bound or not).
    #[default]
    NodeLocked,
    /// Concurrent use: the license's quantity is the number of machines that may hold a lease
    /// (`POST /v1/leases`) at once.
    Floating,
}

/// How the marketplace's `amount` linear attribute becomes the license quantity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", tag = "from", deny_unknown_fields)]
pub(crate) enum QuantityRule {
    /// `amount` when the order carries one, otherwise no quantity.
    #[default]
    Amount,
    /// `amount` multiplied by `per_unit` (e.g. packs of 5 seats).
    Scaled {
        /// Seats per purchased unit.
        per_unit: u32,
    },
    /// Always this quantity, whatever was ordered.
    Fixed {
        /// The quantity.
        value: u32,
    },
    /// No quantity claim.
    None,
}

/// One product policy as written in the configuration file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Policy {
    /// Applies to this `productId` (optional when `sku_code` is given).
    #[serde(default)]
    pub(crate) product_id: Option<String>,
    /// Applies to this `skuCode` (stable across period-type changes).
    #[serde(default)]
    pub(crate) sku_code: Option<String>,
    /// What licenses are bound to.
    #[serde(default)]
    pub(crate) binding: BindingKind,
    /// K of the K-of-N hardware rule.
    #[serde(default = "default_min_match")]
    pub(crate) min_matching_components: u8,
    /// Accept hardware identifiers that cannot be bound under the anchored rule (fewer than K
    /// usable components, or no single board or disk serial): K is lowered to what the
    /// identifier offers and nothing anchors the binding. Off by default.
    #[serde(default)]
    pub(crate) allow_weak_binding: bool,
    /// Feature entitlements written into every license.
    #[serde(default)]
    pub(crate) features: Vec<String>,
    /// Extra features for trial licenses replace `features` when non-empty.
    #[serde(default)]
    pub(crate) trial_features: Vec<String>,
    /// Quantity rule.
    #[serde(default)]
    pub(crate) quantity: QuantityRule,
    /// Cap a trial license at this many days from issuance, even if the marketplace sends a later
    /// `expireTime` (0 = no cap).
    #[serde(default)]
    pub(crate) trial_max_days: u32,
    /// Node-locked (default) or floating (leases of the quantity's seats).
    #[serde(default)]
    pub(crate) model: LicenseModel,
    /// Floating: a lease lapses this long after its checkout or last heartbeat (seconds).
    #[serde(default = "default_lease_ttl")]
    pub(crate) lease_ttl_secs: u64,
    /// Floating: longest a lease may be borrowed for offline use (seconds; 0 = no borrowing).
    #[serde(default)]
    pub(crate) max_borrow_secs: u64,
}

/// Default lease time: 15 minutes.
pub(crate) const DEFAULT_LEASE_TTL_SECS: u64 = 900;

fn default_lease_ttl() -> u64 {
    DEFAULT_LEASE_TTL_SECS
}

fn default_min_match() -> u8 {
    2
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            product_id: None,
            sku_code: None,
            binding: BindingKind::Auto,
            min_matching_components: default_min_match(),
            allow_weak_binding: false,
            features: Vec::new(),
            trial_features: Vec::new(),
            quantity: QuantityRule::Amount,
            trial_max_days: 0,
            model: LicenseModel::NodeLocked,
            lease_ttl_secs: DEFAULT_LEASE_TTL_SECS,
            max_borrow_secs: 0,
        }
    }
}

impl Policy {
    /// Checks ranges that serde cannot express.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(1..=4).contains(&self.min_matching_components) {
            return Err(format!(
                "min_matching_components must be 1 to 4, not {}",
                self.min_matching_components
            ));
        }
        for f in self.features.iter().chain(&self.trial_features) {
            if f.is_empty() || f.len() > 32 || !f.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "feature {f:?} must be 1 to 32 printable ASCII characters"
                ));
            }
        }
        let total: usize = self.features.iter().map(|f| f.len() + 1).sum();
        let trial_total: usize = self.trial_features.iter().map(|f| f.len() + 1).sum();
        if total.max(trial_total) > MAX_FEATURE_BYTES {
            return Err(format!(
                "features take {} bytes; at most {MAX_FEATURE_BYTES} fit in a 1024-character license",
                total.max(trial_total)
            ));
        }
        if let QuantityRule::Scaled { per_unit: 0 } = self.quantity {
            return Err("quantity per_unit must be at least 1".into());
        }
        if !(10..=86_400).contains(&self.lease_ttl_secs) {
            return Err("lease_ttl_secs must be 10 to 86400".into());
        }
        if self.max_borrow_secs > 366 * 86_400 {
            return Err("max_borrow_secs must be at most 366 days".into());
        }
        Ok(())
    }

    /// Binds a hardware identifier under this policy: the anchored rule, or the weak one when
    /// the policy explicitly allows it (see `verify/FORMAT.md`, threat model).
    pub(crate) fn bind_hardware(
        &self,
        id: &HardwareId,
        salt: [u8; SALT_LEN],
    ) -> Result<HardwareBinding, HardwareIdError> {
        if self.allow_weak_binding {
            HardwareBinding::bind_weak(id, salt, self.min_matching_components)
        } else {
            HardwareBinding::bind_strict(id, salt, self.min_matching_components)
        }
    }

    /// The quantity for an order with this `amount`.
    pub(crate) fn quantity(&self, amount: Option<u32>) -> Option<u32> {
        match self.quantity {
            QuantityRule::Amount => amount,
            QuantityRule::Scaled { per_unit } => amount.map(|a| a.saturating_mul(per_unit)),
            QuantityRule::Fixed { value } => Some(value),
            QuantityRule::None => None,
        }
    }

    /// The features of a (trial or formal) license.
    pub(crate) fn features_for(&self, trial: bool) -> Vec<String> {
        if trial && !self.trial_features.is_empty() {
            self.trial_features.clone()
        } else {
            self.features.clone()
        }
    }
}

/// Feature bytes (each feature plus its length byte) that still fit in a 1024-character license
/// when every KooMarket field is at its documented maximum and the binding is a full hardware
/// binding; the worst-case test in `licensing` proves the number.
pub(crate) const MAX_FEATURE_BYTES: usize = 96;

/// The policies of all products plus the default for products not listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Policies {
    /// The default policy.
    pub(crate) default: Policy,
    /// Product-specific policies.
    pub(crate) products: Vec<Policy>,
}

impl Policies {
    /// The policy for an order: an entry naming both the product and the sku wins, then one
    /// naming the sku, then one naming the product, then the default.
    pub(crate) fn for_product(&self, product_id: &str, sku_code: Option<&str>) -> &Policy {
        let sku_matches = |p: &Policy| p.sku_code.is_some() && p.sku_code.as_deref() == sku_code;
        let product_matches = |p: &Policy| p.product_id.as_deref() == Some(product_id);
        self.products
            .iter()
            .find(|p| sku_matches(p) && product_matches(p))
            .or_else(|| {
                self.products
                    .iter()
                    .find(|p| sku_matches(p) && p.product_id.is_none())
            })
            .or_else(|| {
                self.products
                    .iter()
                    .find(|p| product_matches(p) && p.sku_code.is_none())
            })
            .unwrap_or(&self.default)
    }

    /// Validates every policy.
    pub(crate) fn validate(&self) -> Result<(), String> {
        self.default
            .validate()
            .map_err(|e| format!("default policy: {e}"))?;
        for p in &self.products {
            if p.product_id.is_none() && p.sku_code.is_none() {
                return Err("a [[product]] policy needs product_id or sku_code".into());
            }
            p.validate().map_err(|e| {
                format!(
                    "policy for product {:?} sku {:?}: {e}",
                    p.product_id, p.sku_code
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(product: Option<&str>, sku: Option<&str>, k: u8) -> Policy {
        Policy {
            product_id: product.map(Into::into),
            sku_code: sku.map(Into::into),
            min_matching_components: k,
            ..Policy::default()
        }
    }

    #[test]
    fn the_most_specific_policy_wins() {
        let policies = Policies {
            default: policy(None, None, 1),
            products: vec![
                policy(Some("P"), None, 2),
                policy(None, Some("S"), 3),
                policy(Some("P"), Some("S"), 4),
            ],
        };
        assert_eq!(
            policies.for_product("P", Some("S")).min_matching_components,
            4
        );
        assert_eq!(
            policies.for_product("Q", Some("S")).min_matching_components,
            3
        );
        assert_eq!(
            policies.for_product("P", Some("T")).min_matching_components,
            2
        );
        assert_eq!(policies.for_product("P", None).min_matching_components, 2);
        assert_eq!(policies.for_product("Z", None).min_matching_components, 1);
    }

    #[test]
    fn quantity_rules_map_amount() {
        let mut p = Policy::default();
        assert_eq!(p.quantity(Some(30)), Some(30));
        assert_eq!(p.quantity(None), None);
        p.quantity = QuantityRule::Scaled { per_unit: 5 };
        assert_eq!(p.quantity(Some(3)), Some(15));
        p.quantity = QuantityRule::Fixed { value: 7 };
        assert_eq!(p.quantity(Some(3)), Some(7));
        p.quantity = QuantityRule::None;
        assert_eq!(p.quantity(Some(3)), None);
    }

    #[test]
    fn oversized_feature_lists_are_rejected() {
        let p = Policy {
            features: (0..10).map(|i| format!("feature-number-{i:02}")).collect(),
            ..Policy::default()
        };
        assert!(p.validate().is_err());
        assert!(Policy::default().validate().is_ok());
    }
}
