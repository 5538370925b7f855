//! Signed online status answers: the issuer's word on one license right now, bound to the nonce
//! the program sent, so a recorded "valid" answer cannot be replayed later.
//!
//! Envelope kind `kls1.`, signature domain `koolicense/status/v1\0`. Payload layout:
//!
//! ```text
//! server_time (u64) | license id (16) | status (u8) | current_revision (u32)
//! | expires_at (u64, 0 = perpetual) | nonce length (u8) | nonce (1..=64 bytes)
//! ```

use alloc::string::String;

use crate::claims::LicenseId;
use crate::envelope::{self, STATUS};
use crate::error::Error;
use crate::keys::Kid;
use crate::verifier::Verifier;

/// Longest nonce a status request may carry.
pub const MAX_NONCE_LEN: usize = 64;
const FIXED_LEN: usize = 8 + 16 + 1 + 4 + 8 + 1;

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
    /// The issuer's clock when it answered (Unix seconds).
    pub server_time: u64,
    /// The license.
    pub license_id: LicenseId,
    /// Its state.
    pub state: LicenseState,
    /// The revision of its current token.
    pub current_revision: u32,
    /// Its current expiry (`None` = perpetual).
    pub expires_at: Option<u64>,
    /// The nonce the program sent.
    pub nonce: String,
}

impl StatusAnswer {
    /// Issuer side: the bytes to sign and the way to finish the text form. Fails for a nonce
    /// that is empty or longer than [`MAX_NONCE_LEN`].
    pub fn to_unsigned(&self, kid: &Kid) -> Result<envelope::Unsigned, Error> {
        let nonce_len = u8::try_from(self.nonce.len())
            .ok()
            .filter(|n| (1..=MAX_NONCE_LEN as u8).contains(n))
            .ok_or(Error::Malformed("nonce must be 1 to 64 bytes"))?;
        let mut body = envelope::body_header(kid);
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
        let take = |from: usize, to: usize| fixed.get(from..to).ok_or_else(bad);
        let u64_at = |at: usize| -> Result<u64, Error> {
            take(at, at + 8)?
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| bad())
        };
        let server_time = u64_at(0)?;
        let license_id: [u8; 16] = take(8, 24)?.try_into().map_err(|_| bad())?;
        let state = fixed
            .get(24)
            .copied()
            .and_then(LicenseState::from_byte)
            .ok_or_else(bad)?;
        let current_revision = take(25, 29)?
            .try_into()
            .map(u32::from_be_bytes)
            .map_err(|_| bad())?;
        let expires_at = u64_at(29)?;
        let nonce_len = usize::from(*fixed.get(37).ok_or_else(bad)?);
        let nonce = payload.get(FIXED_LEN..).ok_or_else(bad)?;
        if nonce.len() != nonce_len || nonce_len == 0 {
            return Err(bad());
        }
        let nonce = core::str::from_utf8(nonce).map_err(|_| bad())?;
        Ok(StatusAnswer {
            server_time,
            license_id: LicenseId(license_id),
            state,
            current_revision,
            expires_at: (expires_at != 0).then_some(expires_at),
            nonce: String::from(nonce),
        })
    }
}

impl Verifier {
    /// Verifies a signed status answer: signature, then that it echoes `nonce` (the fresh random
    /// value this program sent) and concerns `license_id`. A replayed old answer carries another
    /// nonce and fails with [`Error::NonceMismatch`].
    pub fn verify_status(
        &self,
        text: &str,
        nonce: &str,
        license_id: &LicenseId,
    ) -> Result<StatusAnswer, Error> {
        let envelope = self.open(&STATUS, text)?;
        let answer = StatusAnswer::decode(envelope.payload())?;
        if answer.nonce != nonce {
            return Err(Error::NonceMismatch);
        }
        if &answer.license_id != license_id {
            return Err(Error::Malformed("status answer is for another license"));
        }
        Ok(answer)
    }
}

/// Builds the text of a status request body nonce: callers should use at least 16 random bytes;
/// this helper hex-encodes them.
pub fn nonce_from_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes.iter().take(MAX_NONCE_LEN / 2) {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use ed25519_dalek::{Signer as _, SigningKey};

    use super::*;
    use crate::keys::PublicKey;

    fn answer(nonce: &str) -> StatusAnswer {
        StatusAnswer {
            server_time: 1_700_000_000,
            license_id: LicenseId([9; 16]),
            state: LicenseState::Valid,
            current_revision: 2,
            expires_at: Some(1_800_000_000),
            nonce: nonce.into(),
        }
    }

    fn signed(nonce: &str) -> (String, Verifier) {
        let key = SigningKey::from_bytes(&[5u8; 32]);
        let public = PublicKey::from_bytes(&key.verifying_key().to_bytes()).unwrap();
        let unsigned = answer(nonce).to_unsigned(&public.kid()).unwrap();
        let text = unsigned.finish(&key.sign(&unsigned.message()).to_bytes());
        (text, Verifier::new([public]))
    }

    #[test]
    fn a_status_answer_with_our_nonce_verifies() {
        let (text, verifier) = signed("n-123");
        let got = verifier
            .verify_status(&text, "n-123", &LicenseId([9; 16]))
            .unwrap();
        assert_eq!(got, answer("n-123"));
    }

    #[test]
    fn a_replayed_answer_with_another_nonce_is_rejected() {
        let (text, verifier) = signed("old-nonce");
        assert_eq!(
            verifier.verify_status(&text, "new-nonce", &LicenseId([9; 16])),
            Err(Error::NonceMismatch)
        );
    }

    #[test]
    fn an_answer_about_another_license_or_tampered_is_rejected() {
        let (text, verifier) = signed("n");
        assert!(verifier
            .verify_status(&text, "n", &LicenseId([8; 16]))
            .is_err());
        let mut chars: alloc::vec::Vec<char> = text.chars().collect();
        let last = chars.len() - 10;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert!(verifier
            .verify_status(&tampered, "n", &LicenseId([9; 16]))
            .is_err());
    }

    #[test]
    fn nonces_must_be_1_to_64_bytes() {
        let key = SigningKey::from_bytes(&[5u8; 32]);
        let kid = PublicKey::from_bytes(&key.verifying_key().to_bytes())
            .unwrap()
            .kid();
        assert!(answer("").to_unsigned(&kid).is_err());
        assert!(answer(&"x".repeat(65)).to_unsigned(&kid).is_err());
        assert_eq!(nonce_from_bytes(&[0xab, 0x01]), "ab01");
    }
}
