//! KooMarket hardware identifiers: parsing, normalisation, salted hashing and K-of-N matching.
//!
//! # The format
//!
//! A KooMarket hardware identifier (硬件识别码 / device fingerprint, spec §6.8) is the string
//! `MAC|disk serial|board serial|CPU serial`: four fields separated by `|`, any of which may be
//! empty, several values inside one field separated by `,`, the whole string upper-cased and at
//! most 5 KB long. [`HardwareId`] is the parsed, normalised form; [`HardwareId::to_koomarket_string`]
//! writes the canonical form back.
//!
//! # Why several values per component, and why K-of-N
//!
//! A license bound to the exact identifier string would lock an honest customer out the day a
//! network card or a disk is replaced, a USB NIC is plugged in, or the software runs once as root
//! and once as an ordinary user. Two mechanisms make the binding tolerant without making it loose:
//!
//! * **Several values per component.** A machine usually has several MACs and disks, and the
//!   board component collects several identifiers (DMI serials, product UUID, `machine-id`). A
//!   component matches when *any* value read now equals *any* value recorded when the license was
//!   issued. This matters because different readers see different subsets: on Linux the DMI
//!   serials are readable by root only, while `/etc/machine-id` is world-readable, so an
//!   unprivileged process still matches the board component of a license bound as root (see
//!   `machine`).
//! * **K of N components.** The license records the components the machine exposed (N ≤ 4) and
//!   requires K of them to match ([`HardwareBinding::min_match`](crate::HardwareBinding::min_match)); with the default K = 2 one
//!   replaced part never invalidates a license, while copying the license to a different machine
//!   fails because that machine shares at most incidental values.
//!
//! Values are never stored in the clear: the license carries salted, truncated SHA-256 hashes
//! ([`component_hash`]) of at most [`MAX_VALUES_PER_COMPONENT`](crate::MAX_VALUES_PER_COMPONENT) values per component, so a
//! license file does not disclose the customer's serial numbers.
//!
//! # Normalisation
//!
//! Each value is trimmed, ASCII upper-cased and stripped of ASCII whitespace; MAC values also
//! lose `:`, `-` and `.` so that `00:1a:2b:3c:4d:5e`, `00-1A-2B-3C-4D-5E` and `001A2B3C4D5E`
//! are equal. Empty values and placeholder junk that would make different machines look
//! identical (all-zero or all-`F` strings, `NONE`, `N/A`, `To be filled by O.E.M.`, `Default
//! string`, `System Serial Number`, …) are dropped. Values are sorted and deduplicated per
//! component.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

use crate::binding::{HASH_LEN, SALT_LEN};

/// Domain-separation prefix of [`component_hash`].
const HASH_DOMAIN: &[u8] = b"koolicense/hwid/v1";

/// Placeholder values, compared after removing everything that is not alphanumeric and
/// upper-casing (so `N/A`, `n.a.` and `NA` are the same, as are the various spellings of
/// `To be filled by O.E.M.`). All-zero and all-`F` strings are handled separately.
const PLACEHOLDERS: &[&str] = &[
    "NONE",
    "NULL",
    "NA",
    "UNKNOWN",
    "DEFAULTSTRING",
    "TOBEFILLEDBYOEM",
    "SYSTEMSERIALNUMBER",
    "BASEBOARDSERIALNUMBER",
    "CHASSISSERIALNUMBER",
    "SERIALNUMBER",
    "NOTSPECIFIED",
    "NOTAPPLICABLE",
    "NOTAVAILABLE",
    "NOTPRESENT",
    "INVALID",
    "OEM",
    "123456789",
    "0123456789",
    // Product UUID that many boards ship with unprogrammed.
    "03000200040005000006000700080009",
];

/// One of the four components of a KooMarket hardware identifier, in field order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Component {
    /// MAC addresses of physical network interfaces (field 1).
    Mac = 0,
    /// Disk serial numbers (field 2).
    Disk = 1,
    /// Mainboard / system identifiers (field 3).
    Board = 2,
    /// CPU serial or processor identifier (field 4).
    Cpu = 3,
}

impl Component {
    /// All components in field order.
    pub const ALL: [Component; 4] = [
        Component::Mac,
        Component::Disk,
        Component::Board,
        Component::Cpu,
    ];

    /// Lower-case name: `"mac"`, `"disk"`, `"board"` or `"cpu"`.
    pub const fn name(self) -> &'static str {
        match self {
            Component::Mac => "mac",
            Component::Disk => "disk",
            Component::Board => "board",
            Component::Cpu => "cpu",
        }
    }

    /// Position of the component's field in the identifier (0..=3), also its index in
    /// [`HardwareBinding::hashes`](crate::HardwareBinding::hashes).
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a hardware identifier string was rejected or could not be bound.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HardwareIdError {
    /// The input is longer than [`HardwareId::MAX_LEN`] bytes.
    TooLong {
        /// Length of the input in bytes.
        len: usize,
    },
    /// The input has more than four `|`-separated fields.
    TooManyFields {
        /// Number of fields found.
        found: usize,
    },
    /// The input contains a control character (after trimming surrounding whitespace).
    ControlCharacter {
        /// Byte offset of the character in the trimmed input.
        offset: usize,
    },
    /// No usable value remains after normalisation (empty input, or only placeholders).
    Empty,
    /// Fewer components carry a usable (non-generic) value than the binding requires to match.
    TooFewComponents {
        /// Components with a usable value.
        usable: usize,
        /// K, the number that must match.
        required: u8,
    },
    /// Neither the board nor the disk component holds exactly one usable value, so no component
    /// can anchor the binding to one machine.
    NoAnchor,
}

impl fmt::Display for HardwareIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HardwareIdError::TooLong { len } => write!(
                f,
                "hardware identifier is {len} bytes long, at most {} are allowed",
                HardwareId::MAX_LEN
            ),
            HardwareIdError::TooManyFields { found } => write!(
                f,
                "hardware identifier has {found} '|'-separated fields, at most 4 are allowed"
            ),
            HardwareIdError::ControlCharacter { offset } => write!(
                f,
                "hardware identifier contains a control character at byte {offset}"
            ),
            HardwareIdError::Empty => f.write_str("hardware identifier contains no usable value"),
            HardwareIdError::TooFewComponents { usable, required } => write!(
                f,
                "hardware identifier has {usable} usable component(s), the binding needs {required} \
                 (MAC, disk and board count; CPU ids, multicast MACs and placeholders do not)"
            ),
            HardwareIdError::NoAnchor => f.write_str(
                "hardware identifier needs exactly one board serial or exactly one disk serial \
                 to anchor the binding to one machine",
            ),
        }
    }
}

impl core::error::Error for HardwareIdError {}

/// A parsed and normalised KooMarket hardware identifier.
///
/// Every component holds its normalised values, sorted and deduplicated. Two identifiers that
/// differ only in case, separators inside MACs, whitespace, value order or placeholder values
/// compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HardwareId {
    /// Values per component, in [`Component::ALL`] order.
    values: [Vec<String>; 4],
}

impl HardwareId {
    /// Maximum accepted length of an identifier string in bytes (the client limit, 5 KB).
    pub const MAX_LEN: usize = 5120;

    /// Parses a KooMarket identifier string such as `00:1A:2B:3C:4D:5E|S3Z9NB0K|BSN123|BFEBFBFF00050657`.
    ///
    /// Surrounding whitespace is trimmed; 1 to 4 fields are accepted (missing trailing fields
    /// are empty). Fails on input longer than [`HardwareId::MAX_LEN`] bytes, more than four fields,
    /// control characters, and identifiers in which no usable value remains.
    ///
    /// ```
    /// use koolicense_verify::{Component, HardwareId};
    ///
    /// let id = HardwareId::parse("00:1a:2b:3c:4d:5e, 00-1A-2B-3C-4D-5F | s3z9nb0k").unwrap();
    /// assert_eq!(id.values(Component::Mac), ["001A2B3C4D5E", "001A2B3C4D5F"]);
    /// assert_eq!(id.to_koomarket_string(), "001A2B3C4D5E,001A2B3C4D5F|S3Z9NB0K||");
    /// ```
    pub fn parse(input: &str) -> Result<HardwareId, HardwareIdError> {
        if input.len() > Self::MAX_LEN {
            return Err(HardwareIdError::TooLong { len: input.len() });
        }
        let trimmed = input.trim();
        if let Some((offset, _)) = trimmed.char_indices().find(|(_, c)| c.is_control()) {
            return Err(HardwareIdError::ControlCharacter { offset });
        }
        let found = trimmed.split('|').count();
        if found > Component::ALL.len() {
            return Err(HardwareIdError::TooManyFields { found });
        }
        let mut id = HardwareId::default();
        for (component, field) in Component::ALL.into_iter().zip(trimmed.split('|')) {
            let slot = id.slot_mut(component);
            slot.extend(
                field
                    .split(',')
                    .filter_map(|raw| normalise_value(component, raw)),
            );
        }
        id.sort_and_dedup();
        if id.present_components() == 0 {
            return Err(HardwareIdError::Empty);
        }
        Ok(id)
    }

    /// Builds an identifier from raw values per component, normalising them as [`HardwareId::parse`]
    /// does.
    ///
    /// A value containing `,` or `|` is split there into several values, and control characters
    /// are removed, so that [`HardwareId::to_koomarket_string`] always parses back to an equal
    /// identifier (provided it stays within [`HardwareId::MAX_LEN`]). The result may be empty;
    /// check [`HardwareId::present_components`].
    pub fn from_components<M, D, B, C>(mac: M, disk: D, board: B, cpu: C) -> HardwareId
    where
        M: IntoIterator,
        M::Item: AsRef<str>,
        D: IntoIterator,
        D::Item: AsRef<str>,
        B: IntoIterator,
        B::Item: AsRef<str>,
        C: IntoIterator,
        C::Item: AsRef<str>,
    {
        fn fill<S: AsRef<str>>(
            id: &mut HardwareId,
            component: Component,
            raw: impl IntoIterator<Item = S>,
        ) {
            let slot = id.slot_mut(component);
            for value in raw {
                slot.extend(
                    value
                        .as_ref()
                        .split([',', '|'])
                        .filter_map(|part| normalise_value(component, part)),
                );
            }
        }
        let mut id = HardwareId::default();
        fill(&mut id, Component::Mac, mac);
        fill(&mut id, Component::Disk, disk);
        fill(&mut id, Component::Board, board);
        fill(&mut id, Component::Cpu, cpu);
        id.sort_and_dedup();
        id
    }

    /// The normalised, sorted, deduplicated values of one component.
    pub fn values(&self, component: Component) -> &[String] {
        self.slot(component)
    }

    /// How many components have at least one value (0..=4).
    pub fn present_components(&self) -> usize {
        self.values.iter().filter(|v| !v.is_empty()).count()
    }

    /// The canonical KooMarket string `A,B|C|D|E`: values sorted and deduplicated, empty
    /// components as empty fields. Same as the [`Display`](fmt::Display) output.
    pub fn to_koomarket_string(&self) -> String {
        self.to_string()
    }

    fn slot(&self, component: Component) -> &Vec<String> {
        match component {
            Component::Mac => &self.values[0],
            Component::Disk => &self.values[1],
            Component::Board => &self.values[2],
            Component::Cpu => &self.values[3],
        }
    }

    fn slot_mut(&mut self, component: Component) -> &mut Vec<String> {
        match component {
            Component::Mac => &mut self.values[0],
            Component::Disk => &mut self.values[1],
            Component::Board => &mut self.values[2],
            Component::Cpu => &mut self.values[3],
        }
    }

    fn sort_and_dedup(&mut self) {
        for values in &mut self.values {
            values.sort_unstable();
            values.dedup();
        }
    }
}

impl fmt::Display for HardwareId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, values) in self.values.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            for (j, value) in values.iter().enumerate() {
                if j > 0 {
                    f.write_str(",")?;
                }
                f.write_str(value)?;
            }
        }
        Ok(())
    }
}

/// Normalises one raw value of `component`; `None` when nothing usable remains.
///
/// Idempotent: normalising a normalised value returns it unchanged.
pub(crate) fn normalise_value(component: Component, raw: &str) -> Option<String> {
    let strip_mac_separators = component == Component::Mac;
    let filtered: String = raw
        .chars()
        .filter(|&c| {
            let mac_separator = strip_mac_separators && matches!(c, ':' | '-' | '.');
            !(c.is_ascii_whitespace() || c.is_control() || mac_separator)
        })
        .map(|c| c.to_ascii_uppercase())
        .collect();
    // Non-ASCII whitespace is trimmed (as `parse` trims the whole string) but kept inside.
    let value = filtered.trim();
    if value.is_empty() || is_placeholder(value) {
        None
    } else {
        Some(value.to_string())
    }
}

/// True for values that carry no identifying information (see [`PLACEHOLDERS`]).
fn is_placeholder(value: &str) -> bool {
    let squashed: String = value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    squashed.is_empty()
        || squashed.bytes().all(|b| b == b'0')
        || squashed.bytes().all(|b| b == b'F')
        || PLACEHOLDERS.contains(&squashed.as_str())
}

/// Salted hash of one normalised component value, as stored in a [`HardwareBinding`](crate::HardwareBinding).
///
/// The first [`HASH_LEN`] bytes of
/// `SHA-256("koolicense/hwid/v1" || 0x00 || salt || component as u8 || value)`. `value` must
/// already be normalised (as returned by [`HardwareId::values`]).
pub fn component_hash(salt: &[u8; SALT_LEN], component: Component, value: &str) -> [u8; HASH_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(HASH_DOMAIN);
    hasher.update([0u8]);
    hasher.update(salt);
    hasher.update([component as u8]);
    hasher.update(value.as_bytes());
    let digest = hasher.finalize();
    let mut out = [0u8; HASH_LEN];
    for (o, d) in out.iter_mut().zip(digest.iter()) {
        *o = *d;
    }
    out
}

#[cfg(test)]
mod tests;
