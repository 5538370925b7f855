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
//! Entries are sorted by license id. A license's token is revoked when its id is listed with a
//! status other than [`EntryStatus::Superseded`], or when its revision is below `revoked_below`
//! (a reissue revokes the earlier tokens of a license, not the new one). The sequence grows with
//! every change on the issuer; a program keeps the highest sequence it accepted and refuses a list
//! that is not newer, so an old list cannot be replayed to undo a revocation.

use alloc::string::String;
use alloc::vec::Vec;

use crate::claims::{Claims, LicenseId};
use crate::envelope::{self, REVOCATION_LIST};
use crate::error::Error;
use crate::keys::Kid;
use crate::verifier::Verifier;

const ENTRY_LEN: usize = 16 + 4 + 1;
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

/// A verified (or, on the issuer side, to-be-signed) revocation list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationList {
    /// Grows with every change; compare with the last accepted one.
    pub sequence: u64,
    /// When the list was signed (Unix seconds).
    pub issued_at: u64,
    entries: Vec<RevocationEntry>,
}

impl RevocationList {
    /// A list; entries are sorted by license id (later duplicates are dropped).
    pub fn new(sequence: u64, issued_at: u64, mut entries: Vec<RevocationEntry>) -> RevocationList {
        entries.sort_by_key(|e| e.license_id);
        entries.dedup_by(|a, b| a.license_id == b.license_id);
        RevocationList {
            sequence,
            issued_at,
            entries,
        }
    }

    /// The listed licenses, sorted by id.
    pub fn entries(&self) -> &[RevocationEntry] {
        &self.entries
    }

    /// The entry of a license, if listed.
    pub fn entry(&self, license_id: &LicenseId) -> Option<&RevocationEntry> {
        self.entries
            .binary_search_by(|e| e.license_id.cmp(license_id))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// `Err(Error::Revoked)` when the list revokes this token of a license.
    pub fn check(&self, claims: &Claims) -> Result<(), Error> {
        match self.entry(&claims.license_id) {
            Some(e) if e.status != EntryStatus::Superseded => Err(Error::Revoked),
            Some(e) if claims.revision < e.revoked_below => Err(Error::Revoked),
            _ => Ok(()),
        }
    }

    /// Issuer side: the bytes to sign and the way to finish the text form.
    pub fn to_unsigned(&self, kid: &Kid) -> envelope::Unsigned {
        let mut body = envelope::body_header(kid);
        body.extend_from_slice(&self.sequence.to_be_bytes());
        body.extend_from_slice(&self.issued_at.to_be_bytes());
        let count = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        body.extend_from_slice(&count.to_be_bytes());
        for e in self.entries.iter().take(count as usize) {
            body.extend_from_slice(&e.license_id.0);
            body.extend_from_slice(&e.revoked_below.to_be_bytes());
            body.push(e.status.to_byte());
        }
        envelope::Unsigned::new(REVOCATION_LIST, body)
    }

    fn decode(payload: &[u8]) -> Result<RevocationList, Error> {
        let bad = Error::Malformed("revocation list");
        let header = payload.get(..HEADER_LEN).ok_or(bad.clone())?;
        let u64_at = |at: usize| -> Result<u64, Error> {
            header
                .get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or(Error::Malformed("revocation list"))
        };
        let sequence = u64_at(0)?;
        let issued_at = u64_at(8)?;
        let count = header
            .get(16..20)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
            .ok_or(bad.clone())? as usize;
        let rest = payload.get(HEADER_LEN..).ok_or(bad.clone())?;
        if rest.len() != count.checked_mul(ENTRY_LEN).ok_or(bad.clone())? {
            return Err(bad);
        }
        let mut entries = Vec::with_capacity(count);
        for chunk in rest.chunks_exact(ENTRY_LEN) {
            let id: [u8; 16] = chunk
                .get(..16)
                .and_then(|b| b.try_into().ok())
                .ok_or(bad.clone())?;
            let below = chunk
                .get(16..20)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or(bad.clone())?;
            let status = chunk
                .get(20)
                .copied()
                .and_then(EntryStatus::from_byte)
                .ok_or(bad.clone())?;
            entries.push(RevocationEntry {
                license_id: LicenseId(id),
                revoked_below: below,
                status,
            });
        }
        if entries
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.license_id >= b.license_id))
        {
            return Err(bad);
        }
        Ok(RevocationList {
            sequence,
            issued_at,
            entries,
        })
    }
}

impl Verifier {
    /// Verifies a signed revocation list (either text form). `last_accepted` is the highest
    /// sequence this program accepted before (persist it); a list that is not newer is refused
    /// with [`Error::Stale`] so an old list cannot undo a revocation.
    pub fn verify_revocation_list(
        &self,
        text: &str,
        last_accepted: Option<u64>,
    ) -> Result<RevocationList, Error> {
        let envelope = self.open(&REVOCATION_LIST, text)?;
        let list = RevocationList::decode(envelope.payload())?;
        if last_accepted.is_some_and(|last| list.sequence <= last) {
            return Err(Error::Stale);
        }
        Ok(list)
    }

    /// Verifies a revocation list newer than `last_accepted` and checks a license's claims
    /// against it. Returns the list's sequence, to be persisted by the caller.
    pub fn check_revocation(
        &self,
        list_text: &str,
        last_accepted: Option<u64>,
        claims: &Claims,
    ) -> Result<u64, Error> {
        let list = self.verify_revocation_list(list_text, last_accepted)?;
        list.check(claims)?;
        Ok(list.sequence)
    }
}

/// The armoured form of a one-line revocation list.
pub fn armor_revocation_list(one_line: &str) -> String {
    envelope::armor(&REVOCATION_LIST, one_line)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use alloc::vec;

    use ed25519_dalek::{Signer as _, SigningKey};

    use super::*;
    use crate::binding::Binding;
    use crate::keys::PublicKey;

    fn key() -> (SigningKey, Verifier, Kid) {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public = PublicKey::from_bytes(&key.verifying_key().to_bytes()).unwrap();
        let kid = public.kid();
        (key, Verifier::new([public]), kid)
    }

    fn sign(key: &SigningKey, kid: &Kid, list: &RevocationList) -> String {
        let unsigned = list.to_unsigned(kid);
        unsigned.finish(&key.sign(&unsigned.message()).to_bytes())
    }

    fn claims(id: u8, revision: u32) -> Claims {
        Claims {
            license_id: LicenseId([id; 16]),
            revision,
            instance_id: None,
            order_id: None,
            product_id: "P".into(),
            sku_code: None,
            customer_id: None,
            trial: false,
            test: false,
            issued_at: 0,
            not_before: 0,
            expires_at: None,
            quantity: None,
            features: vec![],
            binding: Binding::None,
        }
    }

    fn list(sequence: u64) -> RevocationList {
        let entry = |id: u8, revoked_below, status| RevocationEntry {
            license_id: LicenseId([id; 16]),
            revoked_below,
            status,
        };
        RevocationList::new(
            sequence,
            1_700_000_000,
            vec![
                entry(3, u32::MAX, EntryStatus::Revoked),
                entry(1, u32::MAX, EntryStatus::Suspended),
                entry(2, 3, EntryStatus::Superseded),
            ],
        )
    }

    #[test]
    fn a_signed_list_is_accepted_and_revokes_what_it_lists() {
        let (key, verifier, kid) = key();
        let text = sign(&key, &kid, &list(5));
        let accepted = verifier.verify_revocation_list(&text, Some(4)).unwrap();
        assert_eq!(accepted, list(5));
        assert_eq!(accepted.check(&claims(1, 1)), Err(Error::Revoked));
        assert_eq!(accepted.check(&claims(3, 9)), Err(Error::Revoked));
        assert_eq!(
            accepted.check(&claims(2, 2)),
            Err(Error::Revoked),
            "superseded token"
        );
        assert_eq!(accepted.check(&claims(2, 3)), Ok(()), "the reissued token");
        assert_eq!(accepted.check(&claims(4, 1)), Ok(()), "not listed");
        assert_eq!(verifier.check_revocation(&text, None, &claims(4, 1)), Ok(5));
        let armored = armor_revocation_list(&text);
        assert!(verifier.verify_revocation_list(&armored, None).is_ok());
    }

    #[test]
    fn a_list_not_newer_than_the_last_accepted_is_stale() {
        let (key, verifier, kid) = key();
        let text = sign(&key, &kid, &list(5));
        assert_eq!(
            verifier.verify_revocation_list(&text, Some(5)),
            Err(Error::Stale)
        );
        assert_eq!(
            verifier.verify_revocation_list(&text, Some(9)),
            Err(Error::Stale)
        );
        assert_eq!(
            verifier.check_revocation(&text, Some(5), &claims(4, 1)),
            Err(Error::Stale)
        );
    }

    #[test]
    fn a_tampered_list_is_rejected() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let (key, verifier, kid) = key();
        let text = sign(&key, &kid, &list(5));
        let raw = URL_SAFE_NO_PAD
            .decode(text.strip_prefix("klr1.").unwrap())
            .unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let bad = alloc::format!("klr1.{}", URL_SAFE_NO_PAD.encode(&bad));
            assert!(
                verifier.verify_revocation_list(&bad, None).is_err(),
                "byte {i}"
            );
        }
    }

    #[test]
    fn a_list_is_not_a_license_and_a_license_is_not_a_list() {
        let (key, verifier, kid) = key();
        let text = sign(&key, &kid, &list(5));
        assert_eq!(verifier.verify(&text, 0), Err(Error::WrongObjectKind));
        let unsigned = crate::UnsignedLicense::new(&kid, &claims(1, 1)).unwrap();
        let license = unsigned.finish(&key.sign(&unsigned.message()).to_bytes());
        assert_eq!(
            verifier.verify_revocation_list(&license, None),
            Err(Error::WrongObjectKind)
        );
    }
}
