//! The verifier's error type: every way a token, key or binding check can fail.

use core::fmt;

use crate::keys::Kid;

/// Why a license (or a key, or a binding) was not accepted.
///
/// The enum is `#[non_exhaustive]`: match the variants you act on and keep a fallback arm.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a license token in either the one-line or the armoured form.
    Encoding(&'static str),
    /// The input is larger than any valid token.
    TooLarge,
    /// The token's format version is not one this library understands.
    UnsupportedVersion(u8),
    /// No pinned public key has the token's key id.
    UnknownKey(Kid),
    /// The Ed25519 signature does not verify against the pinned key.
    BadSignature,
    /// The signature verified but the signed payload is not well formed.
    Malformed(&'static str),
    /// The payload carries a field marked critical that this library does not know.
    UnsupportedCriticalField(u8),
    /// The license is not valid yet (`now` is before `not_before` minus the leeway).
    NotYetValid {
        /// Unix seconds from which the license is valid.
        not_before: u64,
        /// The time that was checked.
        now: u64,
    },
    /// The license has expired (`now` is at or after `expires_at` plus the leeway).
    Expired {
        /// Unix seconds at which the license expired.
        expires_at: u64,
        /// The time that was checked.
        now: u64,
    },
    /// The license is for another product than the ones this program accepts.
    WrongProduct,
    /// The license is bound to a system identifier but none was supplied.
    MissingSystemIdentifier,
    /// The license is bound to hardware but no hardware identifier was supplied.
    MissingHardwareIdentifier,
    /// The supplied system identifier is not the one the license names.
    SystemIdentifierMismatch,
    /// Too few hardware components match the license's binding.
    HardwareMismatch {
        /// How many components matched.
        matched: u8,
        /// How many are required (K of the K-of-N rule).
        required: u8,
    },
    /// A public key could not be parsed.
    InvalidPublicKey,
    /// A signed object of another kind was given (e.g. a revocation list where a license was expected).
    WrongObjectKind,
    /// A revocation list or status answer is not newer than the one accepted before.
    Stale,
    /// A status answer does not echo the nonce the client sent.
    NonceMismatch,
    /// The license is listed as revoked or suspended.
    Revoked,
    /// The license was issued for marketplace test traffic (`testFlag=1`, the debugger) and this
    /// verifier does not accept test licenses (see [`crate::Verifier::allow_test_licenses`]).
    TestLicense,
    /// The machine's clock is behind the last time this program saw (its high-water mark) by
    /// more than the leeway: the clock was set back, e.g. to keep an expired license alive.
    ClockBehind {
        /// The time that was checked.
        now: u64,
        /// The high-water mark: the latest time seen before.
        mark: u64,
    },
    /// A revocation list was signed longer ago than the verifier's maximum age: the issuer's
    /// news is withheld or the program has been offline too long.
    ListTooOld {
        /// When the list was signed.
        issued_at: u64,
        /// The time that was checked.
        now: u64,
    },
    /// A status answer is about another license or another token (revision) of it.
    StatusMismatch,
    /// The hardware binding's anchor component (the one that must match) does not match, though
    /// enough components do: an identifier assembled from several machines' parts.
    AnchorMismatch,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Encoding(what) => write!(f, "not a koolicense token: {what}"),
            Error::TooLarge => f.write_str("input is larger than any valid token"),
            Error::UnsupportedVersion(v) => write!(f, "unsupported token format version {v}"),
            Error::UnknownKey(kid) => write!(f, "no pinned public key with key id {kid}"),
            Error::BadSignature => f.write_str("signature does not verify"),
            Error::Malformed(what) => write!(f, "malformed signed payload: {what}"),
            Error::UnsupportedCriticalField(tag) => {
                write!(f, "unsupported critical field 0x{tag:02x}")
            }
            Error::NotYetValid { not_before, now } => {
                write!(f, "license not valid before {not_before} (now {now})")
            }
            Error::Expired { expires_at, now } => {
                write!(f, "license expired at {expires_at} (now {now})")
            }
            Error::WrongProduct => f.write_str("license is for another product"),
            Error::MissingSystemIdentifier => {
                f.write_str("license is bound to a system identifier, but none was given")
            }
            Error::MissingHardwareIdentifier => {
                f.write_str("license is bound to hardware, but no hardware identifier was given")
            }
            Error::SystemIdentifierMismatch => {
                f.write_str("license is bound to a different system identifier")
            }
            Error::HardwareMismatch { matched, required } => write!(
                f,
                "license is bound to other hardware ({matched} of {required} required components match)"
            ),
            Error::InvalidPublicKey => f.write_str("invalid Ed25519 public key"),
            Error::WrongObjectKind => f.write_str("signed object is of another kind"),
            Error::Stale => f.write_str("signed answer is not newer than the last one accepted"),
            Error::NonceMismatch => f.write_str("signed answer does not echo our nonce"),
            Error::Revoked => f.write_str("license has been revoked or suspended"),
            Error::TestLicense => {
                f.write_str("license was issued for marketplace test traffic, not a purchase")
            }
            Error::ClockBehind { now, mark } => write!(
                f,
                "the clock ({now}) is behind the latest time already seen ({mark}): was it set back?"
            ),
            Error::ListTooOld { issued_at, now } => write!(
                f,
                "revocation list signed at {issued_at} is too old (now {now}); fetch a fresh one"
            ),
            Error::StatusMismatch => {
                f.write_str("signed status answer is about another license or token revision")
            }
            Error::AnchorMismatch => {
                f.write_str("license is bound to other hardware (its anchor component differs)")
            }
        }
    }
}

impl core::error::Error for Error {}
