//! Offline verification of koolicense license tokens.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod binding;
mod hwid;
#[cfg(feature = "std")]
pub mod machine;

pub use binding::{Binding, HardwareBinding, HASH_LEN, MAX_VALUES_PER_COMPONENT, SALT_LEN};
pub use hwid::{component_hash, Component, HardwareId, HardwareIdError};
