//! The claims a license carries: who bought what, for how long, with which entitlements, bound to
//! which machine.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::binding::Binding;
use crate::keys::{decode_hex, hex_digits};

/// A license id: 16 random bytes, shown in the hyphenated UUID form.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LicenseId(pub [u8; 16]);

impl LicenseId {
    /// Parses the hyphenated (or plain 32-hex-digit) form.
    pub fn parse(text: &str) -> Option<LicenseId> {
        let hex: String = text.trim().chars().filter(|c| *c != '-').collect();
        let bytes: [u8; 16] = decode_hex(&hex)?.try_into().ok()?;
        Some(LicenseId(bytes))
    }
}

impl fmt::Display for LicenseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hyphenated UUID form, built in place and written once.
        let mut text = [b'-'; 36];
        let mut at = 0;
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                at += 1;
            }
            text[at..at + 2].copy_from_slice(&hex_digits(*b));
            at += 2;
        }
        f.write_str(core::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for LicenseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LicenseId({self})")
    }
}

/// Everything a license says. Times are Unix seconds (UTC).
///
/// The issuer fills this in and signs it; the verifier returns it only after the signature and
/// the validity window have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// Unique id of the license (stable across renewals and reissues).
    pub license_id: LicenseId,
    /// Revision of the license: 1 for the first token, incremented each time a new token is
    /// signed for the same license (renewal, reissue, change of entitlements).
    pub revision: u32,
    /// The KooMarket instance id (`instanceId`), when issued through the marketplace.
    pub instance_id: Option<String>,
    /// The KooMarket order id (`orderId`) of the purchase.
    pub order_id: Option<String>,
    /// The KooMarket product id (`productId`).
    pub product_id: String,
    /// The KooMarket specification code (`skuCode`).
    pub sku_code: Option<String>,
    /// The buyer's KooMarket customer id (`customerId`).
    pub customer_id: Option<String>,
    /// A trial license.
    pub trial: bool,
    /// Issued for marketplace test traffic (`testFlag=1`); real software should refuse it.
    pub test: bool,
    /// When this token was signed.
    pub issued_at: u64,
    /// The license is not valid before this time.
    pub not_before: u64,
    /// The license is not valid from this time on; `None` for a perpetual license (one-time
    /// purchase, 按次).
    pub expires_at: Option<u64>,
    /// Purchased quantity (KooMarket's `amount` linear attribute), if any.
    pub quantity: Option<u32>,
    /// Feature entitlements, sorted.
    pub features: Vec<String>,
    /// The machine binding.
    pub binding: Binding,
}

impl Claims {
    /// Whether the license grants the named feature.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// Whether the license is perpetual.
    pub fn is_perpetual(&self) -> bool {
        self.expires_at.is_none()
    }

    /// Claims with every field empty or zero: the decoder's starting point.
    pub(crate) fn blank() -> Claims {
        Claims {
            license_id: LicenseId([0; 16]),
            revision: 0,
            instance_id: None,
            order_id: None,
            product_id: String::new(),
            sku_code: None,
            customer_id: None,
            trial: false,
            test: false,
            issued_at: 0,
            not_before: 0,
            expires_at: None,
            quantity: None,
            features: Vec::new(),
            binding: Binding::None,
        }
    }

    /// A floating, perpetual license of product `P` with id `[id; 16]`, for unit tests.
    #[cfg(test)]
    pub(crate) fn minimal(id: u8, revision: u32) -> Claims {
        Claims {
            license_id: LicenseId([id; 16]),
            revision,
            product_id: String::from("P"),
            ..Claims::blank()
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::LicenseId;

    #[test]
    fn a_license_id_displays_as_a_hyphenated_lowercase_uuid_and_parses_back() {
        let id = LicenseId([
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xf0, 0x0f, 0x10, 0x2a, 0xff, 0x00,
            0x7e, 0x80,
        ]);
        assert_eq!(id.to_string(), "01234567-89ab-cdef-f00f-102aff007e80");
        for fill in [0x00, 0x5a, 0xa5, 0xff] {
            let id = LicenseId([fill; 16]);
            assert_eq!(LicenseId::parse(&id.to_string()), Some(id));
        }
    }
}
