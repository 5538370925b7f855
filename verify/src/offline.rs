//! Offline activation for machines that never reach the service: the delivered software writes
//! an [`ActivationRequest`] (a small armoured, checksummed text block a person can carry), the
//! merchant turns it into a signed activation response, and the software reads the response
//! back with [`Verifier::read_activation_response`]; it only verifies on the machine named in
//! the request. To give the seat back, the software deletes its license and writes a
//! [`OfflineActivation::deactivation_proof`] for the person to carry back.
//!
//! Formats (details in `FORMAT.md`):
//!
//! ```text
//! REQUEST  = VERSION (1) SUBJECT_KIND (1: 1 authorization code) SUBJECT_LEN (1) SUBJECT
//!            MACHINE_LEN (u16) MACHINE NONCE (16) CHECKSUM (4)     armour "KOOLICENSE ACTIVATION REQUEST"
//! RESPONSE = signed envelope kla1. over NONCE (16) MACHINE_DIGEST (32) DEACTIVATION_KEY (32) LICENSE
//! PROOF    = VERSION (1) LICENSE_ID (16) REVISION (u32) TAG (32)  armour "KOOLICENSE DEACTIVATION PROOF"
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::claims::{Claims, LicenseId};
use crate::envelope::{self, Kind, ACTIVATION, MAX_INPUT_LEN};
use crate::error::Error;
use crate::keys::Kid;
use crate::verifier::{Host, Verifier};

/// Length of the nonce of an activation request.
pub const REQUEST_NONCE_LEN: usize = 16;
/// Length of the key that authenticates a deactivation proof.
pub const DEACTIVATION_KEY_LEN: usize = 32;
/// Longest machine identifier an activation request carries.
pub const MAX_REQUEST_MACHINE_LEN: usize = 5 * 1024;
const REQUEST_VERSION: u8 = 1;
const SUBJECT_CODE: u8 = 1;
const CHECKSUM_LEN: usize = 4;
const PROOF_VERSION: u8 = 1;
const PROOF_LEN: usize = 1 + 16 + 4 + 32;
const REQUEST_DOMAIN: &[u8] = b"koolicense/activation-request/v1\0";
const MACHINE_DOMAIN: &[u8] = b"koolicense/machine/v1\0";
const PROOF_DOMAIN: &[u8] = b"koolicense/deactivation/v1\0";

/// The unsigned text blocks: only their prefix and label are used.
const REQUEST: Kind = Kind {
    prefix: "klq1.",
    label: "KOOLICENSE ACTIVATION REQUEST",
    domain: b"",
    version: REQUEST_VERSION,
    max_len: MAX_INPUT_LEN,
};
const PROOF: Kind = Kind {
    prefix: "kld1.",
    label: "KOOLICENSE DEACTIVATION PROOF",
    domain: b"",
    version: PROOF_VERSION,
    max_len: MAX_INPUT_LEN,
};

/// A request for a license for one machine, written by the software on that machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationRequest {
    /// The License 2.0 authorization code (授权码) to activate.
    pub authorization_code: String,
    /// This machine's identifier: the hardware identifier (`MAC|disk|board|CPU`) or the system
    /// identifier, as the product binds.
    pub machine: String,
    /// A fresh random value: the response must echo it.
    pub nonce: [u8; REQUEST_NONCE_LEN],
}

impl ActivationRequest {
    /// A request; fails with [`Error::Malformed`] when the code is empty, longer than 64 bytes
    /// or contains whitespace, or the machine identifier is empty or over 5 KiB.
    pub fn new(
        authorization_code: &str,
        machine: &str,
        nonce: [u8; REQUEST_NONCE_LEN],
    ) -> Result<ActivationRequest, Error> {
        let code = authorization_code.trim();
        if code.is_empty() || code.len() > 64 || code.chars().any(char::is_whitespace) {
            return Err(Error::Malformed("authorization code"));
        }
        let machine = machine.trim();
        if machine.is_empty() || machine.len() > MAX_REQUEST_MACHINE_LEN {
            return Err(Error::Malformed("machine identifier"));
        }
        Ok(ActivationRequest {
            authorization_code: String::from(code),
            machine: String::from(machine),
            nonce,
        })
    }

    /// A request with a fresh nonce from the system clock, the process id and the standard
    /// library's per-process random hash keys (unique, not secret: the nonce only ties the
    /// response to this request).
    #[cfg(feature = "std")]
    pub fn with_fresh_nonce(
        authorization_code: &str,
        machine: &str,
    ) -> Result<ActivationRequest, Error> {
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
        ActivationRequest::new(authorization_code, machine, nonce)
    }

    /// The armoured text block to carry to the merchant.
    pub fn to_text(&self) -> String {
        let mut bytes = Vec::with_capacity(32 + self.machine.len());
        bytes.push(REQUEST_VERSION);
        bytes.push(SUBJECT_CODE);
        // `new` and `parse` bound both lengths.
        bytes.push(self.authorization_code.len() as u8);
        bytes.extend_from_slice(self.authorization_code.as_bytes());
        bytes.extend_from_slice(&(self.machine.len() as u16).to_be_bytes());
        bytes.extend_from_slice(self.machine.as_bytes());
        bytes.extend_from_slice(&self.nonce);
        let checksum = request_checksum(&bytes);
        bytes.extend_from_slice(&checksum);
        armour_bytes(&REQUEST, &bytes)
    }

    /// Reads a request block (armoured, or the one-line `klq1.` form). A mistyped character is
    /// [`Error::Encoding`] (`checksum`).
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
        let mut r = body;
        let mut take = |n: usize| -> Result<&[u8], Error> {
            if n > r.len() {
                return Err(Error::Malformed("activation request runs past the end"));
            }
            let (head, rest) = r.split_at(n);
            r = rest;
            Ok(head)
        };
        match take(1)? {
            [REQUEST_VERSION] => {}
            [v] => return Err(Error::UnsupportedVersion(*v)),
            _ => return Err(Error::Malformed("activation request")),
        }
        if take(1)? != [SUBJECT_CODE] {
            return Err(Error::Malformed("unknown activation subject"));
        }
        let code_len = usize::from(*take(1)?.first().unwrap_or(&0));
        let code = utf8(take(code_len)?)?;
        let machine_len = take(2)?;
        let machine_len = usize::from(u16::from_be_bytes([
            *machine_len.first().unwrap_or(&0),
            *machine_len.get(1).unwrap_or(&0),
        ]));
        let machine = utf8(take(machine_len)?)?;
        let nonce: [u8; REQUEST_NONCE_LEN] = take(REQUEST_NONCE_LEN)?
            .try_into()
            .map_err(|_| Error::Malformed("nonce"))?;
        if !r.is_empty() {
            return Err(Error::Malformed("trailing bytes in activation request"));
        }
        let request = ActivationRequest::new(code, machine, nonce)?;
        if request.authorization_code != code || request.machine != machine {
            return Err(Error::Malformed("untrimmed field"));
        }
        Ok(request)
    }

    /// The digest of the machine identifier the response names.
    pub fn machine_digest(&self) -> [u8; 32] {
        machine_digest(&self.machine)
    }
}

/// `SHA-256("koolicense/machine/v1\0" || trimmed identifier)`.
pub fn machine_digest(machine: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(MACHINE_DOMAIN);
    hasher.update(machine.trim().as_bytes());
    hasher.finalize().into()
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

fn utf8(bytes: &[u8]) -> Result<&str, Error> {
    core::str::from_utf8(bytes).map_err(|_| Error::Malformed("not UTF-8"))
}

fn armour_bytes(kind: &Kind, bytes: &[u8]) -> String {
    let mut one_line = String::from(kind.prefix);
    one_line.push_str(&URL_SAFE_NO_PAD.encode(bytes));
    envelope::armor(kind, &one_line)
}

fn unarmour_bytes(kind: &Kind, text: &str) -> Result<Vec<u8>, Error> {
    if text.len() > kind.max_len {
        return Err(Error::TooLarge);
    }
    let encoded = envelope::extract_base64(kind, text)?;
    URL_SAFE_NO_PAD
        .decode(&encoded)
        .map_err(|_| Error::Encoding("invalid base64"))
}

/// What the issuer signs in answer to a request.
#[derive(Clone)]
pub struct ActivationResponse {
    /// The request's nonce.
    pub nonce: [u8; REQUEST_NONCE_LEN],
    /// [`machine_digest`] of the request's machine identifier.
    pub machine_digest: [u8; 32],
    /// The key that authenticates this installation's deactivation proof.
    pub deactivation_key: [u8; DEACTIVATION_KEY_LEN],
    /// The license (one-line form), bound to the machine.
    pub license: String,
}

impl fmt::Debug for ActivationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivationResponse")
            .field("license", &self.license)
            .finish_non_exhaustive()
    }
}

impl ActivationResponse {
    /// The bytes to sign for the key `kid` (issuer side).
    pub fn to_unsigned(&self, kid: &Kid) -> envelope::Unsigned {
        let mut body = envelope::body_header(kid, envelope::FORMAT_VERSION);
        body.extend_from_slice(&self.nonce);
        body.extend_from_slice(&self.machine_digest);
        body.extend_from_slice(&self.deactivation_key);
        body.extend_from_slice(self.license.trim().as_bytes());
        envelope::Unsigned::new(ACTIVATION, body)
    }

    fn decode(payload: &[u8]) -> Result<ActivationResponse, Error> {
        const FIXED: usize = REQUEST_NONCE_LEN + 32 + DEACTIVATION_KEY_LEN;
        if payload.len() <= FIXED {
            return Err(Error::Malformed("activation response"));
        }
        let (fixed, license) = payload.split_at(FIXED);
        let (nonce, rest) = fixed.split_at(REQUEST_NONCE_LEN);
        let (digest, key) = rest.split_at(32);
        let bad = |_| Error::Malformed("activation response");
        Ok(ActivationResponse {
            nonce: nonce.try_into().map_err(bad)?,
            machine_digest: digest.try_into().map_err(bad)?,
            deactivation_key: key.try_into().map_err(bad)?,
            license: String::from(utf8(license)?),
        })
    }
}

/// The armoured (file) form of a one-line activation response.
pub fn armor_activation_response(one_line: &str) -> String {
    envelope::armor(&ACTIVATION, one_line)
}

/// A verified offline activation: the license to keep and the key for giving it back.
#[derive(Clone)]
pub struct OfflineActivation {
    /// The license (one-line form); from now on verify it like any license.
    pub license: String,
    /// Its verified claims.
    pub claims: Claims,
    deactivation_key: [u8; DEACTIVATION_KEY_LEN],
}

impl fmt::Debug for OfflineActivation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfflineActivation")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl OfflineActivation {
    /// The deactivation proof to carry back once the software has deleted its license (and
    /// the response): the armoured block the merchant turns into a freed seat.
    pub fn deactivation_proof(&self) -> String {
        let mut bytes = Vec::with_capacity(PROOF_LEN);
        bytes.push(PROOF_VERSION);
        bytes.extend_from_slice(&self.claims.license_id.0);
        bytes.extend_from_slice(&self.claims.revision.to_be_bytes());
        bytes.extend_from_slice(&deactivation_tag(
            &self.deactivation_key,
            &self.claims.license_id,
            self.claims.revision,
        ));
        armour_bytes(&PROOF, &bytes)
    }
}

/// The tag of a deactivation proof: `SHA-256("koolicense/deactivation/v1\0" || key ||
/// license id || revision)` over fixed-length input.
pub fn deactivation_tag(
    key: &[u8; DEACTIVATION_KEY_LEN],
    license_id: &LicenseId,
    revision: u32,
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(PROOF_DOMAIN);
    hasher.update(key);
    hasher.update(license_id.0);
    hasher.update(revision.to_be_bytes());
    hasher.finalize().into()
}

/// A deactivation proof as read by the issuer; its tag is checked against the key only the
/// issuer can derive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeactivationProof {
    /// The license given back.
    pub license_id: LicenseId,
    /// The revision of the license the software held.
    pub revision: u32,
    /// The tag ([`deactivation_tag`]).
    pub tag: [u8; 32],
}

impl DeactivationProof {
    /// Reads a proof block (armoured or one-line `kld1.`).
    pub fn parse(text: &str) -> Result<DeactivationProof, Error> {
        let bytes = unarmour_bytes(&PROOF, text)?;
        if bytes.len() != PROOF_LEN {
            return Err(Error::Malformed("deactivation proof length"));
        }
        let (version, rest) = bytes.split_at(1);
        if version != [PROOF_VERSION] {
            return Err(Error::UnsupportedVersion(*version.first().unwrap_or(&0)));
        }
        let (id, rest) = rest.split_at(16);
        let (revision, tag) = rest.split_at(4);
        let bad = |_| Error::Malformed("deactivation proof");
        Ok(DeactivationProof {
            license_id: LicenseId(id.try_into().map_err(bad)?),
            revision: u32::from_be_bytes(revision.try_into().map_err(bad)?),
            tag: tag.try_into().map_err(bad)?,
        })
    }
}

impl Verifier {
    /// Reads the response to `request`: signature, then that it answers this request (its
    /// nonce and machine; [`Error::NonceMismatch`] otherwise), then the enclosed license as
    /// [`Verifier::verify_on`] does on `host`. Keep the response text: reading it again gives
    /// the license and the deactivation proof.
    pub fn read_activation_response(
        &self,
        text: &str,
        request: &ActivationRequest,
        now: u64,
        host: &Host<'_>,
    ) -> Result<OfflineActivation, Error> {
        let envelope = self.open(&ACTIVATION, text)?;
        let response = ActivationResponse::decode(envelope.payload())?;
        if response.nonce != request.nonce || response.machine_digest != request.machine_digest() {
            return Err(Error::NonceMismatch);
        }
        let claims = self.verify_on(&response.license, now, host)?;
        Ok(OfflineActivation {
            license: response.license,
            claims,
            deactivation_key: response.deactivation_key,
        })
    }
}
