//! Offline verification of koolicense license tokens.
//!
//! A merchant selling software as a KooMarket *License* product embeds this crate in the
//! delivered program. At start-up the program hands the license text the customer installed to
//! a [`Verifier`] that pins the issuer's Ed25519 public key(s); the verifier checks, in this
//! order, the signature (before any claim is read), the payload, the validity window with a
//! clock leeway, the expected product and, with [`Verifier::verify_on`], the machine binding
//! (a KooMarket system identifier or a K-of-N hardware identifier, see [`Host`]). Success
//! returns the signed [`Claims`]; every failure is a typed [`Error`].
//!
//! The crate is `no_std` + `alloc`. The default `std` feature adds the system clock
//! ([`Verifier::verify_on_now`]) and the `machine` module that reads this machine's hardware
//! identifier. The issuer side ([`UnsignedLicense`]) lives here too so that both ends share one
//! encoder. Revocation lists ([`Verifier::verify_revocation_list`]), status answers
//! ([`Verifier::verify_status`]) and the clock's high-water mark ([`ClockMark`],
//! [`Verifier::verify_guarded`]) complete the offline and online checks. The formats, the
//! binding rules and the threat model are in the crate's `FORMAT.md`, the known-answer vectors
//! in `tests/vectors/`.
//!
//! Floating licenses hand out short-lived [`Lease`]s, checked with [`Verifier::verify_lease`];
//! machines that never reach the service activate offline with an [`ActivationRequest`] and
//! [`Verifier::read_activation_response`].
//!
//! ```
//! use koolicense_verify::{Error, HardwareId, Host, PublicKey, Verifier};
//!
//! // The issuer's public key, compiled in. This is the committed TEST key: embed your own.
//! let key = PublicKey::parse(include_str!("../../keys/test/test-signing.pub.pem"))?;
//! let verifier = Verifier::new([key]).expect_product("00301-666666-0--0");
//!
//! # let vectors: serde_json::Value =
//! #     serde_json::from_str(include_str!("../tests/vectors/licenses.json"))?;
//! # let license = vectors
//! #     .as_array()
//! #     .and_then(|cases| cases.iter().find(|c| c["name"] == "hardware-bound license on its machine"))
//! #     .and_then(|case| case["token"].as_str())
//! #     .ok_or("vector missing")?;
//! // `license` is the text of the customer's license file, bound to this machine:
//! let machine = HardwareId::parse(
//!     "00:1A:2B:3C:4D:5E,00:1A:2B:3C:4D:5F|S3Z9NB0K123456|BSN-ABC-123|BFEBFBFF000906EA",
//! )?;
//! let host = Host { hardware: Some(&machine), system_identifier: None };
//! let now = 1_775_865_600; // a real program calls `verify_on_now`
//! let claims = verifier.verify_on(license, now, &host)?;
//! assert_eq!(claims.product_id, "00301-666666-0--0");
//!
//! // The same license on another machine, and after it expired:
//! let other = HardwareId::parse("AA:BB:CC:DD:EE:01|WD-OTHER|BOARD-2|CPU-2")?;
//! let elsewhere = Host { hardware: Some(&other), system_identifier: None };
//! assert!(matches!(
//!     verifier.verify_on(license, now, &elsewhere),
//!     Err(Error::HardwareMismatch { matched: 0, required: 2 })
//! ));
//! let expired_at = claims.expires_at.ok_or("periodic license")? + 300;
//! assert!(matches!(verifier.verify(license, expired_at), Err(Error::Expired { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod binding;
mod claims;
mod clock;
mod envelope;
mod error;
mod hwid;
mod keys;
mod lease;
#[cfg(feature = "std")]
pub mod machine;
#[cfg(feature = "std")]
mod mark_file;
mod offline;
mod revocation;
mod status;
mod token;
mod verifier;

pub use binding::{
    is_generic, Binding, HardwareBinding, HASH_LEN, MAX_VALUES_PER_COMPONENT, SALT_LEN,
};
pub use claims::{Claims, LicenseId};
pub use clock::ClockMark;
pub use envelope::{
    Unsigned, FORMAT_VERSION, MAX_INPUT_LEN, MAX_REVOCATION_LIST_LEN, SIGNATURE_LEN,
    STATUS_FORMAT_VERSION,
};
pub use error::Error;
pub use hwid::{component_hash, Component, HardwareId, HardwareIdError};
pub use keys::{Kid, PublicKey, KID_LEN};
pub use lease::{armor_lease, Lease, UnsignedLease, MAX_LEASE_LEN};
#[cfg(feature = "std")]
pub use mark_file::MarkFile;
pub use offline::{
    armor_activation_response, deactivation_tag, machine_digest, ActivationRequest,
    ActivationResponse, ActivationSubject, DeactivationProof, OfflineActivation,
    DEACTIVATION_KEY_LEN, MAX_REQUEST_MACHINE_LEN, REQUEST_NONCE_LEN,
};
pub use revocation::{
    armor_revocation_list, EntryStatus, ListStamp, RevocationEntry, RevocationList,
    DEFAULT_MAX_LIST_AGE_SECS, MAX_REVOCATION_ENTRIES, REVOCATION_ENTRY_LEN,
};
pub use status::{nonce_from_bytes, LicenseState, StatusAnswer, MAX_NONCE_LEN};
pub use token::{
    armor_license, inspect, system_identifier_digest, EncodeError, UnsignedLicense, Unverified,
    MAX_INLINE_SYSTEM_ID, MAX_TOKEN_LEN,
};
pub use verifier::{check_binding, Host, Verifier, DEFAULT_LEEWAY_SECS};

/// The current time in Unix seconds from the system clock (0 if the clock is before 1970).
#[cfg(feature = "std")]
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
