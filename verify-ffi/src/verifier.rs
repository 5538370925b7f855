//! The verifier handle: pinned keys and leeway; verify a license with or without a host.

use std::borrow::Cow;

use koolicense_verify::{
    Claims, ClockMark, Error, PublicKey, Verifier, DEFAULT_LEEWAY_SECS, DEFAULT_MAX_LIST_AGE_SECS,
};

use crate::call::{borrow, free, guard, hand_over, Failure, KoolicenseError, KoolicenseStatus};
use crate::claims::KoolicenseClaims;
use crate::host::KoolicenseHost;
use crate::text::{optional, required};

/// Pass as `now` to use the system clock.
pub const KOOLICENSE_NOW: u64 = u64::MAX;

/// The leeway a verifier applies unless told otherwise, in seconds.
pub const KOOLICENSE_DEFAULT_LEEWAY_SECS: u64 = 300;

/// The maximum age of an accepted revocation list unless told otherwise (7 days), in seconds.
pub const KOOLICENSE_DEFAULT_MAX_LIST_AGE_SECS: u64 = 604_800;

/// Verifier flag: also accept licenses issued for marketplace test traffic (`testFlag=1`, the
/// KooMarket debugger), refused with `KOOLICENSE_STATUS_TEST_LICENSE` otherwise. Test builds only.
pub const KOOLICENSE_ALLOW_TEST_LICENSES: u32 = 1;

// The header spells the values out; they must stay the verifier's defaults.
const _: () = assert!(KOOLICENSE_DEFAULT_LEEWAY_SECS == DEFAULT_LEEWAY_SECS);
const _: () = assert!(KOOLICENSE_DEFAULT_MAX_LIST_AGE_SECS == DEFAULT_MAX_LIST_AGE_SECS);

/// A verifier: the issuer's pinned public keys and the clock leeway. Immutable.
#[derive(Debug)]
pub struct KoolicenseVerifier {
    verifier: Verifier,
}

impl KoolicenseVerifier {
    pub(crate) fn inner(&self) -> &Verifier {
        &self.verifier
    }

    /// The verifier, restricted to one product when one is given.
    pub(crate) fn for_product(&self, product: Option<&str>) -> Cow<'_, Verifier> {
        match product {
            Some(product) => Cow::Owned(self.verifier.clone().expect_product(product)),
            None => Cow::Borrowed(&self.verifier),
        }
    }
}

/// The keys in a text holding one or more PEM `PUBLIC KEY` blocks (or one key in another form
/// `PublicKey::parse` reads).
pub(crate) fn parse_keys(text: &str) -> Result<Vec<PublicKey>, Error> {
    const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
    const END: &str = "-----END PUBLIC KEY-----";
    if !text.contains(BEGIN) {
        return Ok(vec![PublicKey::parse(text)?]);
    }
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let end = block.find(END).ok_or(Error::InvalidPublicKey)? + END.len();
        keys.push(PublicKey::parse(&block[..end])?);
        rest = &block[end..];
    }
    Ok(keys)
}

pub(crate) fn resolve_now(now: u64) -> u64 {
    if now == KOOLICENSE_NOW {
        koolicense_verify::unix_now()
    } else {
        now
    }
}

/// Creates a verifier that trusts exactly the public keys in `public_keys_pem` (one or more PEM
/// `PUBLIC KEY` blocks: every key the issuer has signed with) and tolerates `leeway_secs` of
/// clock difference (`KOOLICENSE_DEFAULT_LEEWAY_SECS` is the usual choice). Test licenses are
/// refused and revocation lists may be `KOOLICENSE_DEFAULT_MAX_LIST_AGE_SECS` old; see
/// `koolicense_verifier_new_with` to change that.
///
/// Thread-safe. Fails with `KOOLICENSE_STATUS_INVALID_PUBLIC_KEY`.
///
/// # Safety
/// `public_keys_pem` is valid for `public_keys_pem_len` bytes (or NULL with length 0);
/// `verifier_out` is valid for writing a pointer; `error_out` is NULL or valid for writing one.
#[no_mangle]
pub unsafe extern "C" fn koolicense_verifier_new(
    public_keys_pem: *const u8,
    public_keys_pem_len: usize,
    leeway_secs: u64,
    verifier_out: *mut *mut KoolicenseVerifier,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        koolicense_verifier_new_with(
            public_keys_pem,
            public_keys_pem_len,
            leeway_secs,
            KOOLICENSE_DEFAULT_MAX_LIST_AGE_SECS,
            0,
            verifier_out,
            error_out,
        )
    }
}

/// Creates a verifier as `koolicense_verifier_new` does, with the maximum age of an accepted
/// revocation list (`max_list_age_secs`; the leeway is added on top) and `flags`: 0 or
/// `KOOLICENSE_ALLOW_TEST_LICENSES`. Unknown flags are `KOOLICENSE_STATUS_INVALID_ARGUMENT`.
///
/// Thread-safe. Fails with `KOOLICENSE_STATUS_INVALID_PUBLIC_KEY`.
///
/// # Safety
/// As for `koolicense_verifier_new`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_verifier_new_with(
    public_keys_pem: *const u8,
    public_keys_pem_len: usize,
    leeway_secs: u64,
    max_list_age_secs: u64,
    flags: u32,
    verifier_out: *mut *mut KoolicenseVerifier,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            crate::text::require_out(verifier_out, "verifier_out")?;
            if flags & !KOOLICENSE_ALLOW_TEST_LICENSES != 0 {
                return Err(Failure::invalid_argument(format!(
                    "unknown flags {flags:#x}"
                )));
            }
            let pem = required(public_keys_pem, public_keys_pem_len, "public_keys_pem")?;
            let mut verifier = Verifier::new(parse_keys(pem)?)
                .with_leeway(leeway_secs)
                .with_max_list_age(max_list_age_secs);
            if flags & KOOLICENSE_ALLOW_TEST_LICENSES != 0 {
                verifier = verifier.allow_test_licenses();
            }
            hand_over(verifier_out, KoolicenseVerifier { verifier });
            Ok(())
        })
    }
}

/// Frees a verifier. NULL is ignored.
///
/// Must not race with other uses of the same verifier.
///
/// # Safety
/// `verifier` is NULL or a verifier handle that is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn koolicense_verifier_free(verifier: *mut KoolicenseVerifier) {
    // SAFETY: forwarded from the caller.
    unsafe { free(verifier) }
}

/// Verifies a license (one-line or armoured) at `now` (Unix seconds, or `KOOLICENSE_NOW` for the
/// system clock): signature, format, validity window, and, when `product` is not NULL, that the
/// license's product id or sku code equals it. The machine binding is **not** checked: use
/// `koolicense_verify_on` for that.
///
/// On success stores the claims in `*claims_out` when `claims_out` is not NULL (free them with
/// `koolicense_claims_free`).
///
/// Thread-safe: any number of threads may verify with the same verifier at once.
///
/// # Safety
/// `verifier` is a live verifier; `token`/`product` are valid for their lengths (`product` may be
/// NULL); `claims_out` and `error_out` are NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn koolicense_verify(
    verifier: *const KoolicenseVerifier,
    token: *const u8,
    token_len: usize,
    now: u64,
    product: *const u8,
    product_len: usize,
    claims_out: *mut *mut KoolicenseClaims,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        verify_with(
            verifier,
            token,
            token_len,
            product,
            product_len,
            claims_out,
            error_out,
            |v, token| Ok(v.verify(token, resolve_now(now))?),
        )
    }
}

/// Verifies a license as `koolicense_verify` does, then checks its machine binding against
/// `host` (see `koolicense_host_new` and `koolicense_host_this_machine`).
///
/// Thread-safe: any number of threads may verify with the same verifier and host at once.
///
/// # Safety
/// As for `koolicense_verify`; `host` is a live host handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_verify_on(
    verifier: *const KoolicenseVerifier,
    token: *const u8,
    token_len: usize,
    now: u64,
    product: *const u8,
    product_len: usize,
    host: *const KoolicenseHost,
    claims_out: *mut *mut KoolicenseClaims,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        let host = borrow(host, "host");
        verify_with(
            verifier,
            token,
            token_len,
            product,
            product_len,
            claims_out,
            error_out,
            |v, token| {
                let host = host?;
                Ok(v.verify_on(token, resolve_now(now), &host.as_host())?)
            },
        )
    }
}

/// Verifies a license as `koolicense_verify_on` does, guarded against a clock set back:
/// `*mark` is the clock's high-water mark (the latest time this program has seen; keep it, e.g.
/// with `koolicense_mark_store`). Fails with `KOOLICENSE_STATUS_CLOCK_BEHIND` when `now` plus the
/// leeway is before it; otherwise raises `*mark` to `now` (whatever the license's verdict) and
/// verifies. Persist `*mark` when it moved.
///
/// Thread-safe for distinct `mark` cells.
///
/// # Safety
/// As for `koolicense_verify_on`; `mark` is valid for reading and writing a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_verify_guarded(
    verifier: *const KoolicenseVerifier,
    token: *const u8,
    token_len: usize,
    now: u64,
    product: *const u8,
    product_len: usize,
    host: *const KoolicenseHost,
    mark: *mut u64,
    claims_out: *mut *mut KoolicenseClaims,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above; `mark` is read
    // and written only inside this call.
    unsafe {
        let host = borrow(host, "host");
        let mark = mark.as_mut();
        verify_with(
            verifier,
            token,
            token_len,
            product,
            product_len,
            claims_out,
            error_out,
            |v, token| {
                let (host, mark) = (
                    host?,
                    mark.ok_or_else(|| Failure::invalid_argument("mark is NULL"))?,
                );
                let mut guarded = ClockMark::new(*mark);
                let verdict =
                    v.verify_guarded(token, resolve_now(now), &host.as_host(), &mut guarded);
                *mark = guarded.get();
                Ok(verdict?)
            },
        )
    }
}

/// The shared body of the verify functions: arguments, the product restriction, the claims.
///
/// # Safety
/// As for `koolicense_verify`.
#[allow(clippy::too_many_arguments)]
unsafe fn verify_with(
    verifier: *const KoolicenseVerifier,
    token: *const u8,
    token_len: usize,
    product: *const u8,
    product_len: usize,
    claims_out: *mut *mut KoolicenseClaims,
    error_out: *mut *mut KoolicenseError,
    check: impl FnOnce(&Verifier, &str) -> Result<Claims, Failure>,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts of `koolicense_verify`.
    unsafe {
        guard(error_out, || {
            clear(claims_out);
            let verifier = borrow(verifier, "verifier")?;
            let token = required(token, token_len, "token")?;
            let product = optional(product, product_len, "product")?;
            let claims = check(&verifier.for_product(product), token)?;
            hand_over(claims_out, KoolicenseClaims::new(claims));
            Ok(())
        })
    }
}

/// Sets an optional output handle to NULL so that it never holds garbage after a failure.
///
/// # Safety
/// `out` is NULL or valid for writing a pointer.
pub(crate) unsafe fn clear<T>(out: *mut *mut T) {
    if !out.is_null() {
        // SAFETY: the caller guarantees that a non-NULL `out` is valid for writes.
        unsafe { out.write(std::ptr::null_mut()) };
    }
}

impl From<koolicense_verify::HardwareIdError> for Failure {
    fn from(error: koolicense_verify::HardwareIdError) -> Failure {
        Failure::new(
            KoolicenseStatus::InvalidHardwareIdentifier,
            "InvalidHardwareIdentifier",
            error.to_string(),
        )
    }
}
