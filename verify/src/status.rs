//! Signed online status answers: the issuer's word on one token of one license right now, bound
//! to the nonce the program sent, so a recorded "valid" answer cannot be replayed, and to the
//! token's revision, so an answer about the license (or about its current token) cannot pass
//! for one about a superseded token.
//!
//! Envelope kind `kls1.`, signature domain `koolicense/status/v1\0`, envelope version
//! [`STATUS_FORMAT_VERSION`] (2). Payload layout:
//!
//! ```text
//! server_time (u64) | license id (16) | revision (u32) | status (u8) | current_revision (u32)
//! | revoked_below (u32) | expires_at (u64, 0 = perpetual) | nonce length (u8) | nonce (1..=64)
//! ```
//!
//! Version 1 answers (no revision, no revocation floor) are still written for verifiers already
//! delivered ([`StatusAnswer::to_unsigned_v1`]) but this library refuses them
//! ([`Error::UnsupportedVersion`]), so a proxy cannot downgrade an answer.

use alloc::string::String;

use crate::claims::{Claims, LicenseId};
use crate::envelope::{self, STATUS, STATUS_FORMAT_VERSION};
use crate::error::Error;
use crate::keys::hex_digits;
use crate::keys::Kid;
use crate::verifier::Verifier;

/// Longest nonce a status request may carry.
pub const MAX_NONCE_LEN: usize = 64;
const FIXED_LEN: usize = 8 + 16 + 4 + 1 + 4 + 4 + 8 + 1;
/// The state of a license according to the issuer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LicenseState {
    /// In force.
    Valid,
    /// Suspended by the merchant.
    Suspended,
    /// Revoked by the merchant (or this token was superseded by a reissue).
    Revoked,
    /// Past its expiry.
    Expired,
    /// Frozen at the marketplace (expired order; renewal restores it).
    Frozen,
    /// Released at the marketplace.
    Released,
    /// The issuer does not know the license.
    Unknown,
}

impl LicenseState {
    fn to_byte(self) -> u8 {
        match self {
            LicenseState::Valid => 0,
            LicenseState::Suspended => 1,
            LicenseState::Revoked => 2,
            LicenseState::Expired => 3,
            LicenseState::Frozen => 4,
            LicenseState::Released => 5,
            LicenseState::Unknown => 6,
        }
    }

    fn from_byte(b: u8) -> Option<LicenseState> {
        Some(match b {
            0 => LicenseState::Valid,
            1 => LicenseState::Suspended,
            2 => LicenseState::Revoked,
            3 => LicenseState::Expired,
            4 => LicenseState::Frozen,
            5 => LicenseState::Released,
            6 => LicenseState::Unknown,
            _ => return None,
        })
    }

    /// The lower-case name (`valid`, `suspended`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseState::Valid => "valid",
            LicenseState::Suspended => "suspended",
            LicenseState::Revoked => "revoked",
            LicenseState::Expired => "expired",
            LicenseState::Frozen => "frozen",
            LicenseState::Released => "released",
            LicenseState::Unknown => "unknown",
        }
    }
}

/// A status answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusAnswer {
    /// The issuer's clock when it answered (Unix seconds); feed it to the program's
    /// [`crate::ClockMark`].
    pub server_time: u64,
    /// The license.
    pub license_id: LicenseId,
    /// The token revision the answer is about: the one the program sent, or the current one
    /// when the request named only the license id.
    pub revision: u32,
    /// The state of that token.
    pub state: LicenseState,
    /// The revision of the license's current token.
    pub current_revision: u32,
    /// The revocation floor: tokens of the license with a lower revision are revoked.
    pub revoked_below: u32,
    /// Its current expiry (`None` = perpetual).
    pub expires_at: Option<u64>,
    /// The nonce the program sent.
    pub nonce: String,
}

impl StatusAnswer {
    fn nonce_len(&self) -> Result<u8, Error> {
        u8::try_from(self.nonce.len())
            .ok()
            .filter(|n| (1..=MAX_NONCE_LEN as u8).contains(n))
            .ok_or(Error::Malformed("nonce must be 1 to 64 bytes"))
    }

    /// Issuer side: the bytes to sign and the way to finish the text form. Fails for a nonce
    /// that is empty or longer than [`MAX_NONCE_LEN`].
    pub fn to_unsigned(&self, kid: &Kid) -> Result<envelope::Unsigned, Error> {
        let nonce_len = self.nonce_len()?;
        let mut body = envelope::body_header(kid, STATUS_FORMAT_VERSION);
        body.extend_from_slice(&self.server_time.to_be_bytes());
        body.extend_from_slice(&self.license_id.0);
        body.extend_from_slice(&self.revision.to_be_bytes());
        body.push(self.state.to_byte());
        body.extend_from_slice(&self.current_revision.to_be_bytes());
        body.extend_from_slice(&self.revoked_below.to_be_bytes());
        body.extend_from_slice(&self.expires_at.unwrap_or(0).to_be_bytes());
        body.push(nonce_len);
        body.extend_from_slice(self.nonce.as_bytes());
        Ok(envelope::Unsigned::new(STATUS, body))
    }

    /// Issuer side, for verifiers already delivered: the version 1 answer
    /// (`server_time | license id | status | current_revision | expires_at | nonce length |
    /// nonce`, envelope version 1), which names neither the token's revision nor the
    /// revocation floor.
    pub fn to_unsigned_v1(&self, kid: &Kid) -> Result<envelope::Unsigned, Error> {
        let nonce_len = self.nonce_len()?;
        let mut body = envelope::body_header(kid, 1);
        body.extend_from_slice(&self.server_time.to_be_bytes());
        body.extend_from_slice(&self.license_id.0);
        body.push(self.state.to_byte());
        body.extend_from_slice(&self.current_revision.to_be_bytes());
        body.extend_from_slice(&self.expires_at.unwrap_or(0).to_be_bytes());
        body.push(nonce_len);
        body.extend_from_slice(self.nonce.as_bytes());
        Ok(envelope::Unsigned::new(STATUS, body))
    }

    fn decode(payload: &[u8]) -> Result<StatusAnswer, Error> {
        let bad = || Error::Malformed("status answer");
        let fixed = payload.get(..FIXED_LEN).ok_or_else(bad)?;
        let bytes = |from: usize, to: usize| fixed.get(from..to).ok_or_else(bad);
        let u64_at = |at: usize| -> Result<u64, Error> {
            Ok(u64::from_be_bytes(
                bytes(at, at + 8)?.try_into().map_err(|_| bad())?,
            ))
        };
        let u32_at = |at: usize| -> Result<u32, Error> {
            Ok(u32::from_be_bytes(
                bytes(at, at + 4)?.try_into().map_err(|_| bad())?,
            ))
        };
        let license_id: [u8; 16] = bytes(8, 24)?.try_into().map_err(|_| bad())?;
        let state = fixed
            .get(28)
            .copied()
            .and_then(LicenseState::from_byte)
            .ok_or_else(bad)?;
        let expires_at = u64_at(37)?;
        let nonce_len = usize::from(*fixed.get(45).ok_or_else(bad)?);
        let nonce = payload.get(FIXED_LEN..).ok_or_else(bad)?;
        if nonce.len() != nonce_len || nonce_len == 0 {
            return Err(bad());
        }
        let nonce = core::str::from_utf8(nonce).map_err(|_| bad())?;
        Ok(StatusAnswer {
            server_time: u64_at(0)?,
            license_id: LicenseId(license_id),
            revision: u32_at(24)?,
            state,
            current_revision: u32_at(29)?,
            revoked_below: u32_at(33)?,
            expires_at: (expires_at != 0).then_some(expires_at),
            nonce: String::from(nonce),
        })
    }
}

impl Verifier {
    /// Verifies a signed status answer about the token whose `claims` the program holds:
    /// signature, then that it echoes `nonce` (the fresh random value this program sent;
    /// [`Error::NonceMismatch`] otherwise, e.g. a replayed old answer) and that it is about this
    /// license and this token revision ([`Error::StatusMismatch`] otherwise, e.g. an answer about
    /// the license's current token passed off for a superseded one). A token below the answer's
    /// revocation floor is [`Error::Revoked`] whatever the state says.
    ///
    /// On success act on [`StatusAnswer::state`], and feed [`StatusAnswer::server_time`] to the
    /// program's [`crate::ClockMark`], or call [`Verifier::verify_status_guarded`].
    pub fn verify_status(
        &self,
        text: &str,
        nonce: &str,
        claims: &Claims,
    ) -> Result<StatusAnswer, Error> {
        let envelope = self.open(&STATUS, text)?;
        let answer = StatusAnswer::decode(envelope.payload())?;
        if answer.nonce != nonce {
            return Err(Error::NonceMismatch);
        }
        if answer.license_id != claims.license_id || answer.revision != claims.revision {
            return Err(Error::StatusMismatch);
        }
        if claims.revision < answer.revoked_below {
            return Err(Error::Revoked);
        }
        Ok(answer)
    }
}

/// Builds the text of a status request body nonce: callers should use at least 16 random bytes;
/// this helper hex-encodes them.
pub fn nonce_from_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes.iter().take(MAX_NONCE_LEN / 2) {
        s.extend(hex_digits(*b).map(char::from));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use alloc::vec::Vec;

    use ed25519_dalek::{Signer as _, SigningKey};

    use super::*;
    use crate::keys::PublicKey;

    fn answer(nonce: &str) -> StatusAnswer {
        StatusAnswer {
            server_time: 1_700_000_000,
            license_id: LicenseId([9; 16]),
            revision: 2,
            state: LicenseState::Valid,
            current_revision: 2,
            revoked_below: 2,
            expires_at: Some(1_800_000_000),
            nonce: nonce.into(),
        }
    }

    fn claims(id: u8, revision: u32) -> Claims {
        Claims::minimal(id, revision)
    }

    fn signed_answer(answer: &StatusAnswer) -> (String, Verifier) {
        let key = SigningKey::from_bytes(&[5u8; 32]);
        let public = PublicKey::from_bytes(&key.verifying_key().to_bytes()).unwrap();
        let unsigned = answer.to_unsigned(&public.kid()).unwrap();
        let text = unsigned.finish(&key.sign(&unsigned.message()).to_bytes());
        (text, Verifier::new([public]))
    }

    fn signed(nonce: &str) -> (String, Verifier) {
        signed_answer(&answer(nonce))
    }

    #[test]
    fn a_status_answer_with_our_nonce_verifies() {
        let (text, verifier) = signed("n-123");
        let got = verifier
            .verify_status(&text, "n-123", &claims(9, 2))
            .unwrap();
        assert_eq!(got, answer("n-123"));
    }

    #[test]
    fn a_replayed_answer_with_another_nonce_is_rejected() {
        let (text, verifier) = signed("old-nonce");
        assert_eq!(
            verifier.verify_status(&text, "new-nonce", &claims(9, 2)),
            Err(Error::NonceMismatch)
        );
    }

    #[test]
    fn an_answer_about_another_license_or_revision_is_refused() {
        let (text, verifier) = signed("n");
        assert_eq!(
            verifier.verify_status(&text, "n", &claims(8, 2)),
            Err(Error::StatusMismatch)
        );
        assert_eq!(
            verifier.verify_status(&text, "n", &claims(9, 1)),
            Err(Error::StatusMismatch),
            "an answer about the current token does not vouch for a superseded one"
        );
        let mut chars: Vec<char> = text.chars().collect();
        let last = chars.len() - 10;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert!(verifier
            .verify_status(&tampered, "n", &claims(9, 2))
            .is_err());
    }

    #[test]
    fn a_token_below_the_revocation_floor_is_revoked_whatever_the_state() {
        let stale = StatusAnswer {
            revision: 1,
            revoked_below: 2,
            ..answer("n")
        };
        let (text, verifier) = signed_answer(&stale);
        assert_eq!(
            verifier.verify_status(&text, "n", &claims(9, 1)),
            Err(Error::Revoked)
        );
    }

    #[test]
    fn a_version_1_answer_is_refused_so_it_cannot_be_downgraded() {
        let key = SigningKey::from_bytes(&[5u8; 32]);
        let public = PublicKey::from_bytes(&key.verifying_key().to_bytes()).unwrap();
        let unsigned = answer("n").to_unsigned_v1(&public.kid()).unwrap();
        let text = unsigned.finish(&key.sign(&unsigned.message()).to_bytes());
        assert_eq!(
            Verifier::new([public]).verify_status(&text, "n", &claims(9, 2)),
            Err(Error::UnsupportedVersion(1))
        );
    }

    #[test]
    fn nonces_must_be_1_to_64_bytes() {
        let key = SigningKey::from_bytes(&[5u8; 32]);
        let kid = PublicKey::from_bytes(&key.verifying_key().to_bytes())
            .unwrap()
            .kid();
        assert!(answer("").to_unsigned(&kid).is_err());
        assert!(answer(&"x".repeat(65)).to_unsigned(&kid).is_err());
        assert!(answer(&"x".repeat(65)).to_unsigned_v1(&kid).is_err());
        assert_eq!(nonce_from_bytes(&[0xab, 0x01]), "ab01");
    }
}
