//! What a license is bound to: nothing, a marketplace system identifier, or a hardware identifier.

use alloc::string::String;
use alloc::vec::Vec;

/// Length of the per-license random salt used for hardware component hashes.
pub const SALT_LEN: usize = 16;
/// Length of one truncated component-value hash.
pub const HASH_LEN: usize = 8;
/// At most this many values are kept per hardware component (e.g. four MAC addresses).
pub const MAX_VALUES_PER_COMPONENT: usize = 4;

/// The machine binding carried inside a license.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Binding {
    /// A floating license: any machine may use it.
    None,
    /// Bound to a KooMarket system identifier (系统识别码) that the customer gives the software.
    System(String),
    /// Bound to a system identifier too long to carry inline: SHA-256 over
    /// `"koolicense/sysid/v1\0" || identifier` (see [`crate::system_identifier_digest`]).
    SystemDigest([u8; 32]),
    /// Bound to a hardware identifier (硬件识别码) by salted per-component hashes.
    Hardware(HardwareBinding),
}

/// Salted hashes of a hardware identifier's components and the K-of-N matching rule.
///
/// `hashes[i]` holds the hashes of the values of component `i` (MAC, disk, board, CPU in that
/// order); a component matches when any value read on the machine hashes to one of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HardwareBinding {
    /// K: how many components must match.
    pub min_match: u8,
    /// Random per-license salt.
    pub salt: [u8; SALT_LEN],
    /// Per-component value hashes, in component order.
    pub hashes: [Vec<[u8; HASH_LEN]>; 4],
}
