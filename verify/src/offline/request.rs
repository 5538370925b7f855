//! The activation request: what a machine that never reaches the service asks for (its
//! [`ActivationSubject`]: an authorization code, or a license of the purchase it wants a seat
//! of), its machine identifier and a nonce, as a small armoured, checksummed text block.
//!
//! ```text
//! version 1 (an authorization code; the form every earlier library writes and reads):
//!   VERSION (1) SUBJECT_KIND (1: 1 code) SUBJECT_LEN (1) SUBJECT
//!   MACHINE_LEN (u16) MACHINE NONCE (16) CHECKSUM (4)
//! version 2 (a license of the purchase; also reads a code):
//!   VERSION (2) SUBJECT_KIND (1: 1 code | 2 license) SUBJECT_LEN (u16) SUBJECT
//!   MACHINE_LEN (u16) MACHINE NONCE (16) CHECKSUM (4)
//! ```
//!
//! A request is written in the lowest version that can carry it, so code requests stay byte for
//! byte what they were; a library that knows only version 1 refuses a version 2 request with
//! `UnsupportedVersion(2)` rather than misreading it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{armour_bytes, machine_digest, unarmour_bytes, utf8, REQUEST_NONCE_LEN};
use crate::envelope::{self, Kind, MAX_INPUT_LEN};
use crate::error::Error;
use crate::token::{inspect, license_kind, MAX_TOKEN_LEN};

/// Longest machine identifier an activation request carries.
pub const MAX_REQUEST_MACHINE_LEN: usize = 5 * 1024;
/// Version of requests that name an authorization code.
const VERSION_CODE: u8 = 1;
/// Version of requests that name a license.
const VERSION_LICENSE: u8 = 2;
const SUBJECT_CODE: u8 = 1;
const SUBJECT_LICENSE: u8 = 2;
const MAX_CODE_LEN: usize = 64;
const CHECKSUM_LEN: usize = 4;
const REQUEST_DOMAIN: &[u8] = b"koolicense/activation-request/v1\0";

/// The unsigned text block: only its prefix and label are used.
const REQUEST: Kind = Kind {
    prefix: "klq1.",
    label: "KOOLICENSE ACTIVATION REQUEST",
    domain: b"",
    version: VERSION_CODE,
    max_len: MAX_INPUT_LEN,
};

/// What a request activates.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActivationSubject {
    /// A License 2.0 authorization code (授权码): a seat of the code's purchase.
    AuthorizationCode(String),
    /// A license of the purchase (one-line `kl1.` form), for example one the marketplace
    /// delivered for an online-license order: a seat of the same purchase for this machine.
    /// Any revision the issuer signed will do; the issuer checks the signature.
    License(String),
}

impl fmt::Debug for ActivationSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Both are credentials: never in logs.
        match self {
            ActivationSubject::AuthorizationCode(_) => f.write_str("AuthorizationCode(..)"),
            ActivationSubject::License(_) => f.write_str("License(..)"),
        }
    }
}

/// A request for a license for one machine, written by the software on that machine.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationRequest {
    /// What to activate.
    pub subject: ActivationSubject,
    /// This machine's identifier: the hardware identifier (`MAC|disk|board|CPU`) or the system
    /// identifier, as the product binds.
    pub machine: String,
    /// A fresh random value: the response must echo it.
    pub nonce: [u8; REQUEST_NONCE_LEN],
}

impl fmt::Debug for ActivationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivationRequest")
            .field("subject", &self.subject)
            .field("machine", &self.machine)
            .finish_non_exhaustive()
    }
}

fn checked_machine(machine: &str) -> Result<String, Error> {
    let machine = machine.trim();
    if machine.is_empty() || machine.len() > MAX_REQUEST_MACHINE_LEN {
        return Err(Error::Malformed("machine identifier"));
    }
    Ok(String::from(machine))
}

fn checked_code(code: &str) -> Result<String, Error> {
    let code = code.trim();
    if code.is_empty() || code.len() > MAX_CODE_LEN || code.chars().any(char::is_whitespace) {
        return Err(Error::Malformed("authorization code"));
    }
    Ok(String::from(code))
}

/// The license's signed bytes (either text form in, checked to decode as a license).
fn license_bytes(license: &str) -> Result<Vec<u8>, Error> {
    inspect(license).map_err(|_| Error::Malformed("license"))?;
    let encoded = envelope::extract_base64(license_kind(), license)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(&encoded)
        .map_err(|_| Error::Encoding("invalid base64"))?;
    if bytes.len() > MAX_TOKEN_LEN {
        return Err(Error::Malformed("license"));
    }
    Ok(bytes)
}

/// The one-line form of a license's signed bytes.
fn license_text(bytes: &[u8]) -> Result<String, Error> {
    let mut text = String::from(license_kind().prefix);
    text.push_str(&URL_SAFE_NO_PAD.encode(bytes));
    inspect(&text).map_err(|_| Error::Malformed("license"))?;
    Ok(text)
}

impl ActivationRequest {
    /// A request for an authorization code; fails with [`Error::Malformed`] when the code is
    /// empty, longer than 64 bytes or contains whitespace, or the machine identifier is empty
    /// or over 5 KiB.
    pub fn new(
        authorization_code: &str,
        machine: &str,
        nonce: [u8; REQUEST_NONCE_LEN],
    ) -> Result<ActivationRequest, Error> {
        Ok(ActivationRequest {
            subject: ActivationSubject::AuthorizationCode(checked_code(authorization_code)?),
            machine: checked_machine(machine)?,
            nonce,
        })
    }

    /// A request for a seat of the purchase `license` belongs to (either text form; what the
    /// customer holds for an online-license order). Fails with [`Error::Malformed`] when
    /// `license` is not a license or the machine identifier is empty or over 5 KiB.
    pub fn for_license(
        license: &str,
        machine: &str,
        nonce: [u8; REQUEST_NONCE_LEN],
    ) -> Result<ActivationRequest, Error> {
        let license = license_text(&license_bytes(license)?)?;
        Ok(ActivationRequest {
            subject: ActivationSubject::License(license),
            machine: checked_machine(machine)?,
            nonce,
        })
    }

    /// [`ActivationRequest::new`] with a fresh nonce from the system clock, the process id and
    /// the standard library's per-process random hash keys (unique, not secret: the nonce only
    /// ties the response to this request).
    #[cfg(feature = "std")]
    pub fn with_fresh_nonce(
        authorization_code: &str,
        machine: &str,
    ) -> Result<ActivationRequest, Error> {
        ActivationRequest::new(authorization_code, machine, fresh_nonce(machine))
    }

    /// [`ActivationRequest::for_license`] with a fresh nonce, as
    /// [`ActivationRequest::with_fresh_nonce`] makes it.
    #[cfg(feature = "std")]
    pub fn for_license_with_fresh_nonce(
        license: &str,
        machine: &str,
    ) -> Result<ActivationRequest, Error> {
        ActivationRequest::for_license(license, machine, fresh_nonce(machine))
    }

    /// The authorization code, for a request that names one.
    pub fn authorization_code(&self) -> Option<&str> {
        match &self.subject {
            ActivationSubject::AuthorizationCode(code) => Some(code),
            ActivationSubject::License(_) => None,
        }
    }

    /// The license (one-line form), for a request that names one.
    pub fn license(&self) -> Option<&str> {
        match &self.subject {
            ActivationSubject::License(license) => Some(license),
            ActivationSubject::AuthorizationCode(_) => None,
        }
    }

    /// The armoured text block to carry to the merchant.
    pub fn to_text(&self) -> String {
        let mut bytes = Vec::with_capacity(64 + self.machine.len());
        match &self.subject {
            ActivationSubject::AuthorizationCode(code) => {
                bytes.push(VERSION_CODE);
                bytes.push(SUBJECT_CODE);
                // The constructors and `parse` bound both lengths.
                bytes.push(code.len() as u8);
                bytes.extend_from_slice(code.as_bytes());
            }
            ActivationSubject::License(license) => {
                // Checked when the request was made or read.
                let raw = license_bytes(license).unwrap_or_default();
                bytes.push(VERSION_LICENSE);
                bytes.push(SUBJECT_LICENSE);
                bytes.extend_from_slice(&(raw.len() as u16).to_be_bytes());
                bytes.extend_from_slice(&raw);
            }
        }
        bytes.extend_from_slice(&(self.machine.len() as u16).to_be_bytes());
        bytes.extend_from_slice(self.machine.as_bytes());
        bytes.extend_from_slice(&self.nonce);
        let checksum = request_checksum(&bytes);
        bytes.extend_from_slice(&checksum);
        armour_bytes(&REQUEST, &bytes)
    }

    /// Reads a request block (armoured, or the one-line `klq1.` form), of either version. A
    /// mistyped character is [`Error::Encoding`] (`checksum`).
    pub fn parse(text: &str) -> Result<ActivationRequest, Error> {
        let bytes = unarmour_bytes(&REQUEST, text)?;
        let split = bytes
            .len()
            .checked_sub(CHECKSUM_LEN)
            .ok_or(Error::Encoding("too short"))?;
        let (body, checksum) = bytes.split_at(split);
        if request_checksum(body) != checksum {
            return Err(Error::Encoding("checksum"));
        }
        let mut reader = Reader(body);
        let version = reader.byte()?;
        if !matches!(version, VERSION_CODE | VERSION_LICENSE) {
            return Err(Error::UnsupportedVersion(version));
        }
        let kind = reader.byte()?;
        if kind != SUBJECT_CODE && (version, kind) != (VERSION_LICENSE, SUBJECT_LICENSE) {
            return Err(Error::Malformed("unknown activation subject"));
        }
        let subject_len = if version == VERSION_CODE {
            usize::from(reader.byte()?)
        } else {
            reader.u16()?
        };
        let subject = reader.take(subject_len)?;
        let subject = match kind {
            SUBJECT_CODE => {
                let code = utf8(subject)?;
                if checked_code(code)? != code {
                    return Err(Error::Malformed("untrimmed field"));
                }
                ActivationSubject::AuthorizationCode(String::from(code))
            }
            _ => {
                if subject.len() > MAX_TOKEN_LEN {
                    return Err(Error::Malformed("license"));
                }
                ActivationSubject::License(license_text(subject)?)
            }
        };
        let machine_len = reader.u16()?;
        let machine = utf8(reader.take(machine_len)?)?;
        let nonce: [u8; REQUEST_NONCE_LEN] = reader
            .take(REQUEST_NONCE_LEN)?
            .try_into()
            .map_err(|_| Error::Malformed("nonce"))?;
        if !reader.0.is_empty() {
            return Err(Error::Malformed("trailing bytes in activation request"));
        }
        if checked_machine(machine)? != machine {
            return Err(Error::Malformed("untrimmed field"));
        }
        Ok(ActivationRequest {
            subject,
            machine: String::from(machine),
            nonce,
        })
    }

    /// The digest of the machine identifier the response names.
    pub fn machine_digest(&self) -> [u8; 32] {
        machine_digest(&self.machine)
    }
}

/// Reads the request's fields front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.0.len() {
            return Err(Error::Malformed("activation request runs past the end"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, Error> {
        Ok(*self.take(1)?.first().unwrap_or(&0))
    }

    fn u16(&mut self) -> Result<usize, Error> {
        let bytes = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([
            *bytes.first().unwrap_or(&0),
            *bytes.get(1).unwrap_or(&0),
        ])))
    }
}

/// A fresh nonce (see [`ActivationRequest::with_fresh_nonce`]).
#[cfg(feature = "std")]
fn fresh_nonce(machine: &str) -> [u8; REQUEST_NONCE_LEN] {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.write_u32(std::process::id());
    let mut digest = Sha256::new();
    digest.update(hasher.finish().to_be_bytes());
    digest.update(machine.as_bytes());
    let full: [u8; 32] = digest.finalize().into();
    let mut nonce = [0u8; REQUEST_NONCE_LEN];
    nonce.copy_from_slice(full.get(..REQUEST_NONCE_LEN).unwrap_or(&[0; 16]));
    nonce
}

fn request_checksum(body: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(REQUEST_DOMAIN);
    hasher.update(body);
    let full: [u8; 32] = hasher.finalize().into();
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(full.get(..CHECKSUM_LEN).unwrap_or(&[0; CHECKSUM_LEN]));
    out
}
