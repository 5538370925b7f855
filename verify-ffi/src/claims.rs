//! The claims handle: what a verified license says, through accessors (the JSON form is in
//! `json`).

use std::ffi::c_char;

use koolicense_verify::{Binding, Claims, LicenseId};

use crate::call::{free, Failure};
use crate::text::{lend, required, Text};

/// The claims of a verified license. Immutable.
#[derive(Debug)]
pub struct KoolicenseClaims {
    claims: Claims,
    license_id: Text,
    instance_id: Option<Text>,
    order_id: Option<Text>,
    product_id: Text,
    sku_code: Option<Text>,
    customer_id: Option<Text>,
    features: Vec<Text>,
    system_identifier: Option<Text>,
}

impl KoolicenseClaims {
    pub(crate) fn new(claims: Claims) -> KoolicenseClaims {
        let text = |value: &Option<String>| value.as_deref().map(Text::new);
        KoolicenseClaims {
            license_id: Text::new(&claims.license_id.to_string()),
            instance_id: text(&claims.instance_id),
            order_id: text(&claims.order_id),
            product_id: Text::new(&claims.product_id),
            sku_code: text(&claims.sku_code),
            customer_id: text(&claims.customer_id),
            features: claims.features.iter().map(|f| Text::new(f)).collect(),
            system_identifier: match &claims.binding {
                Binding::System(identifier) => Some(Text::new(identifier)),
                _ => None,
            },
            claims,
        }
    }

    pub(crate) fn claims(&self) -> &Claims {
        &self.claims
    }
}

/// Claims naming only a license id and revision: what revocation lists and status answers are
/// checked against when a program keeps those instead of verified claims.
pub(crate) fn claims_for(license_id: &str, revision: u32) -> Result<Claims, Failure> {
    let license_id = LicenseId::parse(license_id).ok_or_else(|| {
        Failure::invalid_argument("license_id is not a license id (a UUID or 32 hex digits)")
    })?;
    Ok(Claims {
        license_id,
        revision,
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
    })
}

/// What a license is bound to.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KoolicenseBindingKind {
    /// A floating license: any machine.
    None = 0,
    /// A system identifier carried in the license (`koolicense_claims_system_identifier`).
    System = 1,
    /// A system identifier too long to carry, as a SHA-256 digest.
    SystemDigest = 2,
    /// A hardware identifier (K of the MAC, disk, board and CPU components).
    Hardware = 3,
    /// A binding newer than this library's list; the claims JSON names it.
    Other = 99,
}

/// Frees claims. NULL is ignored.
///
/// Must not race with other uses of the same claims.
///
/// # Safety
/// `claims` is NULL or a claims handle that is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_free(claims: *mut KoolicenseClaims) {
    // SAFETY: forwarded from the caller.
    unsafe { free(claims) }
}

/// Lends a text field of the claims (NULL and length 0 when the handle is NULL or the value is
/// absent).
///
/// # Safety
/// `claims` is NULL or a live claims handle; `len_out` is NULL or valid for writing a `usize`.
unsafe fn lend_field(
    claims: *const KoolicenseClaims,
    len_out: *mut usize,
    field: impl FnOnce(&KoolicenseClaims) -> Option<&Text>,
) -> *const c_char {
    // SAFETY: the caller guarantees both pointers are NULL or valid.
    unsafe { lend(claims.as_ref().and_then(field), len_out) }
}

/// Reads a scalar field of the claims, or `default` when the handle is NULL.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
unsafe fn read_field<T>(
    claims: *const KoolicenseClaims,
    default: T,
    field: impl FnOnce(&KoolicenseClaims) -> T,
) -> T {
    // SAFETY: the caller guarantees `claims` is NULL or live.
    unsafe { claims.as_ref() }.map_or(default, field)
}

/// The license id, hyphenated (`5a110c3e-9b27-4f61-8042-13772dc40001`).
///
/// Thread-safe; cannot fail. The text lives as long as the claims handle.
///
/// # Safety
/// `claims` is NULL or a live claims handle; `len_out` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_license_id(
    claims: *const KoolicenseClaims,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { lend_field(claims, len_out, |c| Some(&c.license_id)) }
}

/// The KooMarket instance id, or NULL.
///
/// Thread-safe; cannot fail. The text lives as long as the claims handle.
///
/// # Safety
/// `claims` is NULL or a live claims handle; `len_out` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_instance_id(
    claims: *const KoolicenseClaims,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { lend_field(claims, len_out, |c| c.instance_id.as_ref()) }
}

/// The KooMarket order id, or NULL.
///
/// Thread-safe; cannot fail. The text lives as long as the claims handle.
///
/// # Safety
/// `claims` is NULL or a live claims handle; `len_out` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_order_id(
    claims: *const KoolicenseClaims,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { lend_field(claims, len_out, |c| c.order_id.as_ref()) }
}

/// The KooMarket product id.
///
/// Thread-safe; cannot fail. The text lives as long as the claims handle.
///
/// # Safety
/// `claims` is NULL or a live claims handle; `len_out` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_product_id(
    claims: *const KoolicenseClaims,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { lend_field(claims, len_out, |c| Some(&c.product_id)) }
}

/// The KooMarket specification (sku) code, or NULL.
///
/// Thread-safe; cannot fail. The text lives as long as the claims handle.
///
/// # Safety
/// `claims` is NULL or a live claims handle; `len_out` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_sku_code(
    claims: *const KoolicenseClaims,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { lend_field(claims, len_out, |c| c.sku_code.as_ref()) }
}

/// The buyer's KooMarket customer id, or NULL.
///
/// Thread-safe; cannot fail. The text lives as long as the claims handle.
///
/// # Safety
/// `claims` is NULL or a live claims handle; `len_out` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_customer_id(
    claims: *const KoolicenseClaims,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { lend_field(claims, len_out, |c| c.customer_id.as_ref()) }
}

/// The system identifier a `KOOLICENSE_BINDING_KIND_SYSTEM` license is bound to, or NULL.
///
/// Thread-safe; cannot fail. The text lives as long as the claims handle.
///
/// # Safety
/// `claims` is NULL or a live claims handle; `len_out` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_system_identifier(
    claims: *const KoolicenseClaims,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { lend_field(claims, len_out, |c| c.system_identifier.as_ref()) }
}

/// The revision of the license's token (1 for the first, one more per reissue); 0 for NULL.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_revision(claims: *const KoolicenseClaims) -> u32 {
    // SAFETY: forwarded from the caller.
    unsafe { read_field(claims, 0, |c| c.claims.revision) }
}

/// Whether it is a trial license.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_trial(claims: *const KoolicenseClaims) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { read_field(claims, false, |c| c.claims.trial) }
}

/// Whether it was issued for marketplace test traffic.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_test(claims: *const KoolicenseClaims) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { read_field(claims, false, |c| c.claims.test) }
}

/// When the token was signed (Unix seconds).
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_issued_at(claims: *const KoolicenseClaims) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { read_field(claims, 0, |c| c.claims.issued_at) }
}

/// The license is not valid before this time (Unix seconds).
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_not_before(claims: *const KoolicenseClaims) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { read_field(claims, 0, |c| c.claims.not_before) }
}

/// The expiry (Unix seconds), or 0 for a perpetual license.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_expires_at(claims: *const KoolicenseClaims) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { read_field(claims, 0, |c| c.claims.expires_at.unwrap_or(0)) }
}

/// Whether the license is perpetual (has no expiry).
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_is_perpetual(claims: *const KoolicenseClaims) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { read_field(claims, false, |c| c.claims.expires_at.is_none()) }
}

/// The purchased quantity, or -1 when the license names none.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_quantity(claims: *const KoolicenseClaims) -> i64 {
    // SAFETY: forwarded from the caller.
    unsafe { read_field(claims, -1, |c| c.claims.quantity.map_or(-1, i64::from)) }
}

/// The number of feature entitlements.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_feature_count(claims: *const KoolicenseClaims) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe { read_field(claims, 0, |c| c.features.len()) }
}

/// What the license is bound to.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_binding_kind(
    claims: *const KoolicenseClaims,
) -> KoolicenseBindingKind {
    // SAFETY: forwarded from the caller.
    unsafe {
        read_field(claims, KoolicenseBindingKind::Other, |c| {
            binding_kind(&c.claims.binding)
        })
    }
}

fn binding_kind(binding: &Binding) -> KoolicenseBindingKind {
    match binding {
        Binding::None => KoolicenseBindingKind::None,
        Binding::System(_) => KoolicenseBindingKind::System,
        Binding::SystemDigest(_) => KoolicenseBindingKind::SystemDigest,
        Binding::Hardware(_) => KoolicenseBindingKind::Hardware,
        _ => KoolicenseBindingKind::Other,
    }
}

/// Feature entitlement number `index` (sorted), or NULL when out of range.
///
/// Thread-safe; cannot fail. The text lives as long as the claims handle.
///
/// # Safety
/// `claims` is NULL or a live claims handle; `len_out` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_feature(
    claims: *const KoolicenseClaims,
    index: usize,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: the caller guarantees both pointers are NULL or valid.
    unsafe { lend(claims.as_ref().and_then(|c| c.features.get(index)), len_out) }
}

/// Whether the license grants the named feature (false for NULL arguments or non-UTF-8 names).
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `claims` is NULL or a live claims handle; `feature` is valid for `feature_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_has_feature(
    claims: *const KoolicenseClaims,
    feature: *const u8,
    feature_len: usize,
) -> bool {
    // SAFETY: the caller guarantees both pointers are NULL or valid.
    let (claims, feature) = unsafe { (claims.as_ref(), required(feature, feature_len, "feature")) };
    match (claims, feature) {
        (Some(claims), Ok(feature)) => claims.claims.has_feature(feature),
        _ => false,
    }
}
