//! Leases of floating licenses: a short-lived signed permission for one machine to use one of
//! a license's concurrent seats, renewed by heartbeats, or borrowed for offline use.
//!
//! Envelope kind `kll1.`, armour label `KOOLICENSE LEASE`, signature domain
//! `koolicense/lease/v1\0`, envelope version 1. The payload is
//!
//! ```text
//! LEASE_ID (16) | LEASE_FLAGS (1: bit 0 borrowed, other bits 0) | CLAIMS
//! ```
//!
//! where `CLAIMS` is the license payload (the same tag-length-value fields) of the floating
//! license the lease draws from: its license id, the lease's revision (one more per heartbeat),
//! product, features and quantity, `EXPIRES_AT` the end of the lease (required) and `BINDING`
//! the machine that holds it. A lease is never accepted as a license nor a license as a lease:
//! another prefix, label and signature domain.

use alloc::string::String;
use alloc::vec::Vec;

use crate::claims::{Claims, LicenseId};
use crate::envelope::{self, LEASE, SIGNATURE_LEN};
use crate::error::Error;
use crate::keys::Kid;
use crate::token::{self, EncodeError};
use crate::verifier::{check_binding, Host, Verifier};

/// Longest one-line lease the issuer produces.
pub const MAX_LEASE_LEN: usize = 2048;
const FLAG_BORROWED: u8 = 0x01;
const HEADER_LEN: usize = 16 + 1;

/// A lease: which seat of which license, for which machine, until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Unique id of the lease (stable across heartbeats).
    pub lease_id: LicenseId,
    /// Borrowed for offline use: no heartbeats until it ends.
    pub borrowed: bool,
    /// The floating license's claims as of this lease; `expires_at` is the end of the lease
    /// (always present) and `binding` the machine holding it.
    pub claims: Claims,
}

impl Lease {
    /// When the lease ends (Unix seconds).
    pub fn expires_at(&self) -> u64 {
        self.claims.expires_at.unwrap_or(0)
    }
}

/// A lease encoded and ready to be signed by the issuer (see [`crate::UnsignedLicense`]).
#[derive(Clone, Debug)]
pub struct UnsignedLease {
    body: Vec<u8>,
}

impl UnsignedLease {
    /// Encodes `lease` for the key `kid`. The claims need an expiry.
    pub fn new(kid: &Kid, lease: &Lease) -> Result<UnsignedLease, EncodeError> {
        if lease.claims.expires_at.is_none() {
            return Err(EncodeError::FieldLength("lease expiry"));
        }
        let mut body = envelope::body_header(kid, envelope::FORMAT_VERSION);
        body.extend_from_slice(&lease.lease_id.0);
        body.push(if lease.borrowed { FLAG_BORROWED } else { 0 });
        token::encode_payload(&lease.claims, &mut body)?;
        let len = envelope::one_line_len(&LEASE, body.len());
        if len > MAX_LEASE_LEN {
            return Err(EncodeError::TooLong(len));
        }
        Ok(UnsignedLease { body })
    }

    /// The exact bytes the Ed25519 signature must cover.
    pub fn message(&self) -> Vec<u8> {
        envelope::signing_message(&LEASE, &self.body)
    }

    /// The one-line lease carrying `signature`.
    pub fn finish(&self, signature: &[u8; SIGNATURE_LEN]) -> String {
        envelope::to_one_line(&LEASE, &self.body, signature)
    }
}

/// The armoured (file) form of a one-line lease.
pub fn armor_lease(one_line: &str) -> String {
    envelope::armor(&LEASE, one_line)
}

fn decode_lease(payload: &[u8]) -> Result<Lease, Error> {
    if payload.len() < HEADER_LEN {
        return Err(Error::Malformed("lease header"));
    }
    let (header, claims) = payload.split_at(HEADER_LEN);
    let (id, flags) = header.split_at(16);
    let lease_id = LicenseId(id.try_into().map_err(|_| Error::Malformed("lease id"))?);
    let borrowed = match flags {
        [0] => false,
        [FLAG_BORROWED] => true,
        _ => return Err(Error::Malformed("unknown lease flag bits")),
    };
    let claims = token::decode_payload(claims)?;
    if claims.expires_at.is_none() {
        return Err(Error::Malformed("lease without an expiry"));
    }
    Ok(Lease {
        lease_id,
        borrowed,
        claims,
    })
}

impl Verifier {
    /// Checks only that a lease is authentic and well formed (for issuers handling heartbeats
    /// and returns); a program deciding whether to run uses [`Verifier::verify_lease`].
    pub fn authenticate_lease(&self, text: &str) -> Result<Lease, Error> {
        let envelope = self.open(&LEASE, text)?;
        decode_lease(envelope.payload())
    }

    /// Verifies a lease (one-line or armoured) at `now` on the machine described by `host`:
    /// signature, format, the lease's time window with the clock leeway ([`Error::Expired`]
    /// once it lapsed: beat again or check out a new one), expected product, test flag and the
    /// machine binding, in the order [`Verifier::verify_on`] checks a license.
    pub fn verify_lease(&self, text: &str, now: u64, host: &Host<'_>) -> Result<Lease, Error> {
        let lease = self.authenticate_lease(text)?;
        self.check_claims(&lease.claims, now)?;
        check_binding(&lease.claims.binding, host)?;
        Ok(lease)
    }
}
