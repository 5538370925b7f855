//! Offline verification of koolicense license tokens.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod binding;
mod claims;
mod envelope;
mod error;
mod hwid;
mod keys;
#[cfg(feature = "std")]
pub mod machine;
mod revocation;
mod status;
mod token;
mod verifier;

pub use binding::{Binding, HardwareBinding, HASH_LEN, MAX_VALUES_PER_COMPONENT, SALT_LEN};
pub use claims::{Claims, LicenseId};
pub use envelope::{Unsigned, FORMAT_VERSION, MAX_INPUT_LEN, SIGNATURE_LEN};
pub use error::Error;
pub use hwid::{component_hash, Component, HardwareId, HardwareIdError};
pub use keys::{Kid, PublicKey, KID_LEN};
pub use revocation::{armor_revocation_list, EntryStatus, RevocationEntry, RevocationList};
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
