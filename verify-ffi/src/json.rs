//! The claims as one JSON object, shaped exactly like the known-answer vectors' `expect.ok`, for
//! bindings (Python, Java) and callers that want every field, including the binding's details.

use std::ffi::c_char;

use koolicense_verify::{Binding, Claims};
use serde::Serialize;

use crate::call::{borrow, Failure, KoolicenseError, KoolicenseStatus};
use crate::claims::KoolicenseClaims;
use crate::text::give_with;

/// The JSON form of the claims, field for field as the known-answer vectors record them.
#[derive(Serialize)]
pub(crate) struct ClaimsJson<'a> {
    license_id: String,
    revision: u32,
    instance_id: Option<&'a str>,
    order_id: Option<&'a str>,
    product_id: &'a str,
    sku_code: Option<&'a str>,
    customer_id: Option<&'a str>,
    trial: bool,
    test: bool,
    issued_at: u64,
    not_before: u64,
    expires_at: Option<u64>,
    quantity: Option<u32>,
    features: &'a [String],
    binding: BindingJson<'a>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum BindingJson<'a> {
    None,
    System {
        identifier: &'a str,
    },
    SystemDigest {
        sha256: String,
    },
    Hardware {
        min_match: u8,
        salt: String,
        hashes: Vec<Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        anchor: Option<&'static str>,
    },
    Other,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn claims_json(c: &Claims) -> Result<String, Failure> {
    serde_json::to_string(&claims_view(c)).map_err(|e| Failure::internal(e.to_string()))
}

/// The claims in their JSON shape (also embedded in a lease's JSON).
pub(crate) fn claims_view(c: &Claims) -> ClaimsJson<'_> {
    let binding = match &c.binding {
        Binding::None => BindingJson::None,
        Binding::System(identifier) => BindingJson::System { identifier },
        Binding::SystemDigest(digest) => BindingJson::SystemDigest {
            sha256: hex(digest),
        },
        Binding::Hardware(hw) => BindingJson::Hardware {
            min_match: hw.min_match,
            salt: hex(&hw.salt),
            hashes: hw
                .hashes
                .iter()
                .map(|component| component.iter().map(|h| hex(h)).collect())
                .collect(),
            anchor: hw.anchor.map(|component| component.name()),
        },
        _ => BindingJson::Other,
    };
    ClaimsJson {
        license_id: c.license_id.to_string(),
        revision: c.revision,
        instance_id: c.instance_id.as_deref(),
        order_id: c.order_id.as_deref(),
        product_id: &c.product_id,
        sku_code: c.sku_code.as_deref(),
        customer_id: c.customer_id.as_deref(),
        trial: c.trial,
        test: c.test,
        issued_at: c.issued_at,
        not_before: c.not_before,
        expires_at: c.expires_at,
        quantity: c.quantity,
        features: &c.features,
        binding,
    }
}

/// The claims as one JSON object (the vectors' `expect.ok` form: `license_id`, `revision`,
/// `instance_id`, `order_id`, `product_id`, `sku_code`, `customer_id`, `trial`, `test`,
/// `issued_at`, `not_before`, `expires_at`, `quantity`, `features`, `binding`; a hardware
/// binding names its `anchor` component when it has one). Stores an owned
/// string in `*json_out` (free it with `koolicense_string_free`).
///
/// Thread-safe.
///
/// # Safety
/// `claims` is a live claims handle; `json_out` is valid for writing a pointer; `len_out` and
/// `error_out` are NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn koolicense_claims_to_json(
    claims: *const KoolicenseClaims,
    json_out: *mut *mut c_char,
    len_out: *mut usize,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        give_with(json_out, len_out, error_out, || {
            claims_json(borrow(claims, "claims")?.claims())
        })
    }
}
