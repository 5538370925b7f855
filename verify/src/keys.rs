//! Public keys and key ids: parsing the forms a merchant pins (PEM, base64, hex) and deriving the
//! 8-byte key id carried in every token.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Length of a key id in bytes.
pub const KID_LEN: usize = 8;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow it.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A key id: the first 8 bytes of SHA-256 over the 32-byte Ed25519 public key.
///
/// Shown as 16 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kid(pub [u8; KID_LEN]);

impl Kid {
    /// The key id of a 32-byte Ed25519 public key.
    pub fn of(public_key: &[u8; 32]) -> Kid {
        let digest = Sha256::digest(public_key);
        let mut kid = [0u8; KID_LEN];
        kid.copy_from_slice(digest.get(..KID_LEN).unwrap_or(&[0u8; KID_LEN]));
        Kid(kid)
    }

    /// Parses 16 hex digits.
    pub fn parse(text: &str) -> Option<Kid> {
        let bytes = decode_hex(text.trim())?;
        let kid: [u8; KID_LEN] = bytes.try_into().ok()?;
        Some(Kid(kid))
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({self})")
    }
}

/// A pinned Ed25519 public key with its key id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    kid: Kid,
    key: VerifyingKey,
}

impl PublicKey {
    /// From the raw 32 key bytes. Fails for bytes that are not a valid curve point or that are a
    /// weak (small-order) key.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, Error> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| Error::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(Error::InvalidPublicKey);
        }
        Ok(PublicKey {
            kid: Kid::of(bytes),
            key,
        })
    }

    /// Parses a public key in any of the forms koolicense prints: a PEM `PUBLIC KEY` block
    /// (SubjectPublicKeyInfo, as written by `koolicense keygen` and `openssl pkey -pubout`), the
    /// base64 of that DER, the base64 of the raw 32 bytes, or 64 hex digits.
    pub fn parse(text: &str) -> Result<PublicKey, Error> {
        let text = text.trim();
        if text.len() > 4096 {
            return Err(Error::InvalidPublicKey);
        }
        let body: String = if text.starts_with("-----BEGIN PUBLIC KEY-----") {
            let inner = text
                .strip_prefix("-----BEGIN PUBLIC KEY-----")
                .and_then(|rest| rest.split("-----END PUBLIC KEY-----").next())
                .ok_or(Error::InvalidPublicKey)?;
            inner.chars().filter(|c| !c.is_ascii_whitespace()).collect()
        } else {
            text.chars().filter(|c| !c.is_ascii_whitespace()).collect()
        };
        let bytes = if body.len() == 64 {
            decode_hex(&body).ok_or(Error::InvalidPublicKey)?
        } else {
            STANDARD
                .decode(body.as_bytes())
                .map_err(|_| Error::InvalidPublicKey)?
        };
        let raw: &[u8] = match bytes.len() {
            32 => &bytes,
            44 if bytes.starts_with(&SPKI_ED25519_PREFIX) => {
                bytes.get(SPKI_ED25519_PREFIX.len()..).unwrap_or(&[])
            }
            _ => return Err(Error::InvalidPublicKey),
        };
        let raw: [u8; 32] = raw.try_into().map_err(|_| Error::InvalidPublicKey)?;
        PublicKey::from_bytes(&raw)
    }

    /// The key id.
    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// The raw 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The key as a PEM `PUBLIC KEY` block (SubjectPublicKeyInfo).
    pub fn to_pem(&self) -> String {
        let mut der = Vec::with_capacity(44);
        der.extend_from_slice(&SPKI_ED25519_PREFIX);
        der.extend_from_slice(self.key.as_bytes());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        pem.push_str(&STANDARD.encode(der));
        pem.push_str("\n-----END PUBLIC KEY-----\n");
        pem
    }

    pub(crate) fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), Error> {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.key
            .verify_strict(message, &signature)
            .map_err(|_| Error::BadSignature)
    }
}

/// The two lowercase hex digits of `b`.
pub(crate) fn hex_digits(b: u8) -> [u8; 2] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]]
}

pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    let digits = text.as_bytes();
    let mut out = Vec::with_capacity(digits.len() / 2);
    for pair in digits.chunks(2) {
        let hi = hex_value(*pair.first()?)?;
        let lo = hex_value(*pair.get(1)?)?;
        out.push(hi << 4 | lo);
    }
    Some(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}
