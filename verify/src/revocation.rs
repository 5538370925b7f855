//! Signed revocation lists: how a revocation reaches software that checks licenses offline.
//!
//! The list is an envelope of its own kind (prefix `klr1.`, signature domain
//! `koolicense/revocations/v1\0`), so a license signature can never pass as a list or the other
//! way round. Its payload has a fixed layout:
//!
//! ```text
//! sequence (u64) | issued_at (u64) | count (u32) | count × entry
//! entry = license id (16 bytes) | revoked_below (u32) | status (u8)
//! ```
//!
//! Entries are fixed-width and sorted by license id, so a verified list is kept as the decoded
//! bytes and a license is looked up by binary search: O(log n), without a per-entry allocation.
//! A license's token is revoked when its id is listed with a status other than
//! [`EntryStatus::Superseded`], or when its revision is below `revoked_below` (a reissue revokes
//! the earlier tokens of a license, not the new one).
//!
//! Freshness: the issuer re-signs the list with the current `issued_at` at least every hour
//! even when nothing changed, and advances `sequence` with every change. A program keeps the
//! [`ListStamp`] of the last list it accepted and refuses a list that is not newer
//! ([`Error::Stale`]: an old list replayed to undo a revocation) or older than the verifier's
//! maximum age ([`Error::ListTooOld`]: news withheld). The layout is the one of version 1, so
//! verifiers already delivered keep reading lists that fit their 16 KiB input limit.

use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::claims::{Claims, LicenseId};
use crate::envelope::{self, REVOCATION_LIST};
use crate::error::Error;
use crate::keys::Kid;
use crate::verifier::Verifier;

/// Most entries a list may hold (about 56 MB of text in the one-line form).
pub const MAX_REVOCATION_ENTRIES: usize = 2_000_000;
/// Default maximum age of a revocation list: a week, for software that is offline for days.
pub const DEFAULT_MAX_LIST_AGE_SECS: u64 = 7 * 86_400;
/// Length of one encoded entry.
pub const REVOCATION_ENTRY_LEN: usize = 16 + 4 + 1;
const HEADER_LEN: usize = 8 + 8 + 4;

/// Why a license is listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryStatus {
    /// Only tokens below `revoked_below` are revoked (the license was reissued).
    Superseded,
    /// Suspended by the merchant (may be reinstated later).
    Suspended,
    /// Revoked by the merchant, permanently.
    Revoked,
    /// Released at the marketplace.
    Released,
}

impl EntryStatus {
    fn to_byte(self) -> u8 {
        match self {
            EntryStatus::Superseded => 0,
            EntryStatus::Suspended => 1,
            EntryStatus::Revoked => 2,
            EntryStatus::Released => 3,
        }
    }

    fn from_byte(b: u8) -> Option<EntryStatus> {
        Some(match b {
            0 => EntryStatus::Superseded,
            1 => EntryStatus::Suspended,
            2 => EntryStatus::Revoked,
            3 => EntryStatus::Released,
            _ => return None,
        })
    }
}

/// One listed license.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevocationEntry {
    /// The license.
    pub license_id: LicenseId,
    /// Tokens of this license with a lower revision are revoked.
    pub revoked_below: u32,
    /// Why it is listed.
    pub status: EntryStatus,
}

impl RevocationEntry {
    fn decode(chunk: &[u8]) -> Option<RevocationEntry> {
        Some(RevocationEntry {
            license_id: LicenseId(chunk.get(..16)?.try_into().ok()?),
            revoked_below: u32::from_be_bytes(chunk.get(16..20)?.try_into().ok()?),
            status: EntryStatus::from_byte(*chunk.get(20)?)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.license_id.0);
        out.extend_from_slice(&self.revoked_below.to_be_bytes());
        out.push(self.status.to_byte());
    }
}

/// Which list a program accepted last: persist it and pass it to
/// [`Verifier::verify_revocation_list`] next time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListStamp {
    /// The list's sequence (grows with every change).
    pub sequence: u64,
    /// When the list was signed (Unix seconds).
    pub issued_at: u64,
}

/// A verified (or, on the issuer side, to-be-signed) revocation list.
#[derive(Clone, Debug)]
pub struct RevocationList {
    /// Grows with every change; compare with the last accepted one.
    pub sequence: u64,
    /// When the list was signed (Unix seconds).
    pub issued_at: u64,
    /// Holds the encoded entries from `entries_at` on (a verified list keeps the whole decoded
    /// message instead of copying the entries out of it).
    bytes: Vec<u8>,
    entries_at: usize,
}

impl PartialEq for RevocationList {
    fn eq(&self, other: &RevocationList) -> bool {
        self.stamp() == other.stamp() && self.entry_bytes() == other.entry_bytes()
    }
}

impl Eq for RevocationList {}

impl RevocationList {
    /// A list; entries are sorted by license id (later duplicates are dropped).
    pub fn new(sequence: u64, issued_at: u64, mut entries: Vec<RevocationEntry>) -> RevocationList {
        entries.sort_by_key(|e| e.license_id);
        entries.dedup_by(|a, b| a.license_id == b.license_id);
        let mut bytes = Vec::with_capacity(entries.len() * REVOCATION_ENTRY_LEN);
        for entry in &entries {
            entry.encode(&mut bytes);
        }
        RevocationList {
            sequence,
            issued_at,
            bytes,
            entries_at: 0,
        }
    }

    /// The sequence and signing time, to be persisted once the list is accepted.
    pub fn stamp(&self) -> ListStamp {
        ListStamp {
            sequence: self.sequence,
            issued_at: self.issued_at,
        }
    }

    /// Whether this list may replace the one stamped `last`: signed no earlier, and either of a
    /// later sequence or, at the same sequence, signed later (a re-signed list).
    pub fn is_newer_than(&self, last: ListStamp) -> bool {
        self.issued_at >= last.issued_at
            && (self.sequence, self.issued_at) > (last.sequence, last.issued_at)
    }

    fn entry_bytes(&self) -> &[u8] {
        self.bytes.get(self.entries_at..).unwrap_or(&[])
    }

    /// How many licenses are listed.
    pub fn len(&self) -> usize {
        self.entry_bytes().len() / REVOCATION_ENTRY_LEN
    }

    /// Whether no license is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The listed licenses, sorted by id.
    pub fn entries(&self) -> impl Iterator<Item = RevocationEntry> + '_ {
        self.entry_bytes()
            .chunks_exact(REVOCATION_ENTRY_LEN)
            .filter_map(RevocationEntry::decode)
    }

    /// The entry of a license, if listed: a binary search over the fixed-width entries.
    pub fn entry(&self, license_id: &LicenseId) -> Option<RevocationEntry> {
        let bytes = self.entry_bytes();
        let (mut low, mut high) = (0, bytes.len() / REVOCATION_ENTRY_LEN);
        while low < high {
            let middle = low + (high - low) / 2;
            let at = middle * REVOCATION_ENTRY_LEN;
            let chunk = bytes.get(at..at + REVOCATION_ENTRY_LEN)?;
            match chunk.get(..16)?.cmp(&license_id.0[..]) {
                Ordering::Less => low = middle + 1,
                Ordering::Greater => high = middle,
                Ordering::Equal => return RevocationEntry::decode(chunk),
            }
        }
        None
    }

    /// `Err(Error::Revoked)` when the list revokes this token of a license.
    pub fn check(&self, claims: &Claims) -> Result<(), Error> {
        match self.entry(&claims.license_id) {
            Some(e) if e.status != EntryStatus::Superseded => Err(Error::Revoked),
            Some(e) if claims.revision < e.revoked_below => Err(Error::Revoked),
            _ => Ok(()),
        }
    }

    /// Issuer side: the bytes to sign and the way to finish the text form. A list of more than
    /// [`MAX_REVOCATION_ENTRIES`] entries is signed but no verifier accepts it.
    pub fn to_unsigned(&self, kid: &Kid) -> envelope::Unsigned {
        let entries = self.entry_bytes();
        let mut body = envelope::body_header(kid, envelope::FORMAT_VERSION);
        body.reserve(HEADER_LEN + entries.len());
        body.extend_from_slice(&self.sequence.to_be_bytes());
        body.extend_from_slice(&self.issued_at.to_be_bytes());
        let count = u32::try_from(self.len()).unwrap_or(u32::MAX);
        body.extend_from_slice(&count.to_be_bytes());
        body.extend_from_slice(entries);
        envelope::Unsigned::new(REVOCATION_LIST, body)
    }

    /// Reads the payload at `payload_at` of a verified message, checking every entry once
    /// (known status, ids strictly increasing) without copying them.
    fn decode(message: Vec<u8>, payload_at: usize) -> Result<RevocationList, Error> {
        let bad = || Error::Malformed("revocation list");
        let payload = message.get(payload_at..).ok_or_else(bad)?;
        let header = payload.get(..HEADER_LEN).ok_or_else(bad)?;
        let u64_at = |at: usize| -> Result<u64, Error> {
            header
                .get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(bad)
        };
        let sequence = u64_at(0)?;
        let issued_at = u64_at(8)?;
        let count = header
            .get(16..20)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
            .ok_or_else(bad)? as usize;
        if count > MAX_REVOCATION_ENTRIES {
            return Err(Error::TooLarge);
        }
        let entries = payload.get(HEADER_LEN..).ok_or_else(bad)?;
        if entries.len() != count.checked_mul(REVOCATION_ENTRY_LEN).ok_or_else(bad)? {
            return Err(bad());
        }
        let mut previous: Option<&[u8]> = None;
        for chunk in entries.chunks_exact(REVOCATION_ENTRY_LEN) {
            let id = chunk.get(..16).ok_or_else(bad)?;
            if previous.is_some_and(|p| p >= id) {
                return Err(bad());
            }
            if chunk
                .get(20)
                .copied()
                .and_then(EntryStatus::from_byte)
                .is_none()
            {
                return Err(bad());
            }
            previous = Some(id);
        }
        Ok(RevocationList {
            sequence,
            issued_at,
            entries_at: payload_at + HEADER_LEN,
            bytes: message,
        })
    }
}

impl Verifier {
    /// Verifies a signed revocation list (either text form) at time `now`.
    ///
    /// `last` is the [`ListStamp`] of the list this program accepted before (persist it). A list
    /// is refused with [`Error::Stale`] unless it is newer ([`RevocationList::is_newer_than`]),
    /// so an old list cannot undo a revocation. It is refused with
    /// [`Error::ListTooOld`] when signed at or before `now` minus the maximum age
    /// ([`Verifier::with_max_list_age`]) minus the leeway. Feed the list's `issued_at` to the
    /// program's [`crate::ClockMark`], or call [`Verifier::verify_revocation_list_guarded`].
    pub fn verify_revocation_list(
        &self,
        text: &str,
        now: u64,
        last: Option<ListStamp>,
    ) -> Result<RevocationList, Error> {
        let envelope = self.open(&REVOCATION_LIST, text)?;
        let payload_at = envelope.payload_at;
        let list = RevocationList::decode(envelope.message, payload_at)?;
        if last.is_some_and(|last| !list.is_newer_than(last)) {
            return Err(Error::Stale);
        }
        let deadline = list
            .issued_at
            .saturating_add(self.max_list_age())
            .saturating_add(self.leeway());
        if now >= deadline {
            return Err(Error::ListTooOld {
                issued_at: list.issued_at,
                now,
            });
        }
        Ok(list)
    }

    /// Verifies a revocation list newer than `last` as [`Verifier::verify_revocation_list`] does
    /// and checks a license's claims against it. Returns the list's stamp, to be persisted by
    /// the caller.
    pub fn check_revocation(
        &self,
        list_text: &str,
        now: u64,
        last: Option<ListStamp>,
        claims: &Claims,
    ) -> Result<ListStamp, Error> {
        let list = self.verify_revocation_list(list_text, now, last)?;
        list.check(claims)?;
        Ok(list.stamp())
    }
}

/// The armoured form of a one-line revocation list.
pub fn armor_revocation_list(one_line: &str) -> String {
    envelope::armor(&REVOCATION_LIST, one_line)
}

#[cfg(test)]
mod tests;
