//! What a license is bound to: nothing, a marketplace system identifier, or a hardware
//! identifier; and the rules by which a hardware binding is made and matched.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::Error;
use crate::hwid::{component_hash, Component, HardwareId, HardwareIdError};

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
///
/// With an [`anchor`](HardwareBinding::anchor) (bindings made by
/// [`HardwareBinding::bind_strict`]) the anchored rule applies: the anchor component, which
/// holds exactly one value, must match, and the CPU component never counts toward K. Without
/// one, the version 1 rule applies (any K components, CPU included). See `FORMAT.md`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HardwareBinding {
    /// K: how many components must match.
    pub min_match: u8,
    /// Random per-license salt.
    pub salt: [u8; SALT_LEN],
    /// Per-component value hashes, in component order.
    pub hashes: [Vec<[u8; HASH_LEN]>; 4],
    /// The component that must match (disk or board, holding exactly one hash); `None` for a
    /// version 1 or weak binding.
    pub anchor: Option<Component>,
}

/// Whether a normalised value says nothing about one particular machine, so that it never counts
/// toward K in bindings made by [`HardwareBinding::bind_strict`] and [`HardwareBinding::bind_weak`]
/// (placeholders are already dropped by parsing):
///
/// * every CPU value: KooMarket's CPU field is the processor identifier (CPUID signature and
///   feature flags), the same on every CPU of a model;
/// * MAC addresses with the group bit set (multicast, broadcast), which no network card owns.
///
/// ```
/// use koolicense_verify::{is_generic, Component};
/// assert!(is_generic(Component::Cpu, "BFEBFBFF000906EA"));
/// assert!(is_generic(Component::Mac, "01005E0000FB"));
/// assert!(!is_generic(Component::Mac, "001A2B3C4D5E"));
/// ```
pub fn is_generic(component: Component, value: &str) -> bool {
    match component {
        Component::Cpu => true,
        Component::Mac => {
            let group_bit = value
                .get(..2)
                .and_then(|first| u8::from_str_radix(first, 16).ok())
                .is_some_and(|octet| octet & 1 == 1);
            value.len() == 12 && value.bytes().all(|b| b.is_ascii_hexdigit()) && group_bit
        }
        Component::Disk | Component::Board => false,
    }
}

impl HardwareBinding {
    /// The recommended K: two matching components.
    pub const DEFAULT_MIN_MATCH: u8 = 2;

    /// Binds a license to `id` under the version 1 rule: hashes its values with `salt` and
    /// records the K-of-N rule. Generic values count and nothing anchors the binding, so an
    /// identifier assembled from several machines matches all of them: new licenses use
    /// [`HardwareBinding::bind_strict`] (or [`HardwareBinding::bind_weak`] by explicit policy).
    ///
    /// At most [`MAX_VALUES_PER_COMPONENT`] values are kept per component (the first ones in
    /// sorted order). `min_match` (K) is clamped to `1..=N`, where N is the number of components
    /// `id` exposes: a machine that only exposes two components could never satisfy K = 3, so
    /// the effective K is fixed at bind time and stored in the binding. Use a fresh random
    /// salt per license.
    ///
    /// Fails with [`HardwareIdError::Empty`] if `id` has no value at all.
    pub fn bind(
        id: &HardwareId,
        salt: [u8; SALT_LEN],
        min_match: u8,
    ) -> Result<HardwareBinding, HardwareIdError> {
        let present = u8::try_from(id.present_components()).unwrap_or(u8::MAX);
        if present == 0 {
            return Err(HardwareIdError::Empty);
        }
        let hashes = Component::ALL.map(|component| {
            id.values(component)
                .iter()
                .take(MAX_VALUES_PER_COMPONENT)
                .map(|value| component_hash(&salt, component, value))
                .collect()
        });
        Ok(HardwareBinding {
            min_match: min_match.clamp(1, present),
            salt,
            hashes,
            anchor: None,
        })
    }

    /// Binds a license to `id` under the anchored rule (the default for new licenses):
    ///
    /// * generic values ([`is_generic`]: CPU ids, multicast MACs) are not recorded, so they can
    ///   never count toward K;
    /// * at least `min_match` (K) components must carry a usable value, otherwise
    ///   [`HardwareIdError::TooFewComponents`];
    /// * the board component, or failing that the disk component, must hold exactly one usable
    ///   value: it becomes the anchor, which must match for the license to verify
    ///   ([`HardwareIdError::NoAnchor`] otherwise). The MAC can never be the anchor, since
    ///   software can set it.
    ///
    /// An identifier assembled from the parts of several machines thus verifies on at most one
    /// of them: the one whose anchor value it carries. At most [`MAX_VALUES_PER_COMPONENT`]
    /// values are kept per component. Use a fresh random salt per license.
    pub fn bind_strict(
        id: &HardwareId,
        salt: [u8; SALT_LEN],
        min_match: u8,
    ) -> Result<HardwareBinding, HardwareIdError> {
        let required = min_match.max(1);
        let usable = usable_components(id);
        if usable < usize::from(required) {
            return Err(HardwareIdError::TooFewComponents { usable, required });
        }
        let anchor = [Component::Board, Component::Disk]
            .into_iter()
            .find(|&c| usable_values(id, c).count() == 1)
            .ok_or(HardwareIdError::NoAnchor)?;
        Ok(HardwareBinding {
            min_match: required,
            salt,
            hashes: usable_hashes(id, &salt),
            anchor: Some(anchor),
        })
    }

    /// Binds a license to `id` without an anchor, for products whose policy explicitly accepts
    /// a weaker binding: generic values are still not recorded, K is clamped to `1..=N` where N
    /// is the number of components with a usable value, and the version 1 rule applies.
    ///
    /// Fails with [`HardwareIdError::Empty`] if `id` has no usable value.
    pub fn bind_weak(
        id: &HardwareId,
        salt: [u8; SALT_LEN],
        min_match: u8,
    ) -> Result<HardwareBinding, HardwareIdError> {
        let usable = u8::try_from(usable_components(id)).unwrap_or(u8::MAX);
        if usable == 0 {
            return Err(HardwareIdError::Empty);
        }
        Ok(HardwareBinding {
            min_match: min_match.clamp(1, usable),
            salt,
            hashes: usable_hashes(id, &salt),
            anchor: None,
        })
    }

    /// Whether any of `id`'s values for `component` hashes to a stored hash of it.
    fn component_matches(&self, id: &HardwareId, component: Component) -> bool {
        let Some(stored) = self.hashes.get(component.index()) else {
            return false;
        };
        !stored.is_empty()
            && id
                .values(component)
                .iter()
                .any(|value| stored.contains(&component_hash(&self.salt, component, value)))
    }

    /// How many components of `id` match this binding (0..=4).
    ///
    /// A component matches when any of the machine's values for it hashes to any stored hash of
    /// that component. Components without stored hashes never match; under the anchored rule
    /// the CPU component never counts.
    pub fn matching_components(&self, id: &HardwareId) -> u8 {
        let mut matching = 0u8;
        for component in Component::ALL {
            if self.anchor.is_some() && component == Component::Cpu {
                continue;
            }
            if self.component_matches(id, component) {
                matching = matching.saturating_add(1);
            }
        }
        matching
    }

    /// Checks `id` against this binding: at least [`min_match`](HardwareBinding::min_match)
    /// components match ([`Error::HardwareMismatch`] otherwise) and, under the anchored rule,
    /// the anchor component is one of them ([`Error::AnchorMismatch`] otherwise).
    ///
    /// A binding with `min_match == 0` is corrupt (binding never produces it) and matches
    /// nothing; a `min_match` above the number of stored components can never be met either.
    pub fn check(&self, id: &HardwareId) -> Result<(), Error> {
        let matched = self.matching_components(id);
        if self.min_match == 0 || matched < self.min_match {
            return Err(Error::HardwareMismatch {
                matched,
                required: self.min_match,
            });
        }
        match self.anchor {
            Some(anchor) if !self.component_matches(id, anchor) => Err(Error::AnchorMismatch),
            _ => Ok(()),
        }
    }

    /// Whether `id` satisfies this binding (see [`HardwareBinding::check`]).
    pub fn matches(&self, id: &HardwareId) -> bool {
        self.check(id).is_ok()
    }
}

/// The usable (non-generic) values of one component.
fn usable_values(id: &HardwareId, component: Component) -> impl Iterator<Item = &String> {
    id.values(component)
        .iter()
        .filter(move |value| !is_generic(component, value))
}

/// How many components carry a usable value.
fn usable_components(id: &HardwareId) -> usize {
    Component::ALL
        .into_iter()
        .filter(|&c| usable_values(id, c).next().is_some())
        .count()
}

/// Hashes of at most [`MAX_VALUES_PER_COMPONENT`] usable values per component.
fn usable_hashes(id: &HardwareId, salt: &[u8; SALT_LEN]) -> [Vec<[u8; HASH_LEN]>; 4] {
    Component::ALL.map(|component| {
        usable_values(id, component)
            .take(MAX_VALUES_PER_COMPONENT)
            .map(|value| component_hash(salt, component, value))
            .collect()
    })
}

#[cfg(test)]
mod tests;
