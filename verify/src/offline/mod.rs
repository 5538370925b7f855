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
//! REQUEST  = VERSION SUBJECT_KIND SUBJECT MACHINE NONCE (16) CHECKSUM (4)   see `request`
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

mod request;

pub use request::{ActivationRequest, ActivationSubject, MAX_REQUEST_MACHINE_LEN};

/// Length of the nonce of an activation request.
pub const REQUEST_NONCE_LEN: usize = 16;
/// Length of the key that authenticates a deactivation proof.
pub const DEACTIVATION_KEY_LEN: usize = 32;
const PROOF_VERSION: u8 = 1;
const PROOF_LEN: usize = 1 + 16 + 4 + 32;
const MACHINE_DOMAIN: &[u8] = b"koolicense/machine/v1\0";
const PROOF_DOMAIN: &[u8] = b"koolicense/deactivation/v1\0";

/// The unsigned proof block: only its prefix and label are used.
const PROOF: Kind = Kind {
    prefix: "kld1.",
    label: "KOOLICENSE DEACTIVATION PROOF",
    domain: b"",
    version: PROOF_VERSION,
    max_len: MAX_INPUT_LEN,
};

/// `SHA-256("koolicense/machine/v1\0" || trimmed identifier)`.
pub fn machine_digest(machine: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(MACHINE_DOMAIN);
    hasher.update(machine.trim().as_bytes());
    hasher.finalize().into()
}

pub(super) fn utf8(bytes: &[u8]) -> Result<&str, Error> {
    core::str::from_utf8(bytes).map_err(|_| Error::Malformed("not UTF-8"))
}

pub(super) fn armour_bytes(kind: &Kind, bytes: &[u8]) -> String {
    let mut one_line = String::from(kind.prefix);
    one_line.push_str(&URL_SAFE_NO_PAD.encode(bytes));
    envelope::armor(kind, &one_line)
}

pub(super) fn unarmour_bytes(kind: &Kind, text: &str) -> Result<Vec<u8>, Error> {
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
