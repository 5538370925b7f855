//! The verifier: pinned public keys, the validity window, the expected product, the test flag
//! and the machine binding, checked in that order after the signature; and the guard against a
//! clock set back.

use alloc::string::String;
use alloc::vec::Vec;

use crate::binding::Binding;
use crate::claims::Claims;
use crate::clock::ClockMark;
use crate::envelope::{self, Envelope, Kind};
use crate::error::Error;
use crate::hwid::HardwareId;
use crate::keys::{Kid, PublicKey};
use crate::revocation::DEFAULT_MAX_LIST_AGE_SECS;
use crate::token::{self, system_identifier_digest};

/// Default tolerance for clock differences between the issuer and this machine, in seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 300;

/// What the running program knows about the machine it runs on, for binding checks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Host<'a> {
    /// This machine's hardware identifier (see `machine::read_hardware_id` with the `std` feature).
    pub hardware: Option<&'a HardwareId>,
    /// The system identifier (系统识别码) the customer entered.
    pub system_identifier: Option<&'a str>,
}

/// Verifies licenses offline against a set of pinned public keys.
///
/// ```
/// use koolicense_verify::{PublicKey, Verifier};
/// # let pem = include_str!("../../keys/test/test-signing.pub.pem");
/// let verifier = Verifier::new([PublicKey::parse(pem)?]).expect_product("00301-666666-0--0");
/// # let _ = verifier;
/// # Ok::<(), koolicense_verify::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: Vec<PublicKey>,
    products: Vec<String>,
    leeway: u64,
    allow_test: bool,
    max_list_age: u64,
}

impl Verifier {
    /// A verifier that trusts exactly these keys (all keys the issuer has used: rotation adds one).
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Verifier {
        Verifier {
            keys: keys.into_iter().collect(),
            products: Vec::new(),
            leeway: DEFAULT_LEEWAY_SECS,
            allow_test: false,
            max_list_age: DEFAULT_MAX_LIST_AGE_SECS,
        }
    }

    /// Accept only licenses whose product id or sku code is one of the expected ones. May be
    /// called several times; without any call every product is accepted.
    pub fn expect_product(mut self, product_or_sku: &str) -> Verifier {
        self.products.push(String::from(product_or_sku));
        self
    }

    /// Clock tolerance in seconds, applied to both ends of the validity window
    /// (default [`DEFAULT_LEEWAY_SECS`]).
    pub fn with_leeway(mut self, seconds: u64) -> Verifier {
        self.leeway = seconds;
        self
    }

    /// Also accept licenses issued for marketplace test traffic (`testFlag=1`, the KooMarket
    /// debugger), which are refused with [`Error::TestLicense`] otherwise. For test builds only.
    pub fn allow_test_licenses(mut self) -> Verifier {
        self.allow_test = true;
        self
    }

    /// Maximum age of an accepted revocation list in seconds (default
    /// [`DEFAULT_MAX_LIST_AGE_SECS`]); the leeway is added on top. The issuer re-signs its list
    /// at least hourly, so a program that refreshes often can ask for a few hours.
    pub fn with_max_list_age(mut self, seconds: u64) -> Verifier {
        self.max_list_age = seconds;
        self
    }

    /// The clock leeway in seconds.
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// The maximum age of a revocation list in seconds.
    pub fn max_list_age(&self) -> u64 {
        self.max_list_age
    }

    /// The pinned key with this key id.
    pub fn key(&self, kid: &Kid) -> Option<&PublicKey> {
        self.keys.iter().find(|k| &k.kid() == kid)
    }

    /// Checks the signature of a signed object of `kind` and returns its envelope.
    pub(crate) fn open(&self, kind: &Kind, text: &str) -> Result<Envelope, Error> {
        let envelope = envelope::decode(kind, text)?;
        let key = self
            .key(&envelope.kid)
            .ok_or(Error::UnknownKey(envelope.kid))?;
        key.verify_strict(&envelope.message, &envelope.signature)?;
        Ok(envelope)
    }

    /// Checks only that a license is authentic and well formed (signature by a pinned key, known
    /// format), not its validity window, product or binding. For issuers answering status
    /// queries; a program deciding whether to run uses [`Verifier::verify`].
    pub fn authenticate(&self, token: &str) -> Result<Claims, Error> {
        let envelope = self.open(token::license_kind(), token)?;
        token::decode_payload(envelope.payload())
    }

    /// Verifies a license (one-line or armoured) at time `now` (Unix seconds): signature, format,
    /// validity window, expected product and, unless [`Verifier::allow_test_licenses`], that it
    /// is not a test license. The machine binding is not checked: use [`Verifier::verify_on`]
    /// for that, and [`Verifier::verify_guarded`] to also detect a clock set back.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, Error> {
        let claims = self.authenticate(token)?;
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    /// The checks after the signature, shared by licenses and leases: validity window,
    /// expected product, test flag.
    pub(crate) fn check_claims(&self, claims: &Claims, now: u64) -> Result<(), Error> {
        if now.saturating_add(self.leeway) < claims.not_before {
            return Err(Error::NotYetValid {
                not_before: claims.not_before,
                now,
            });
        }
        if let Some(expires_at) = claims.expires_at {
            if now >= expires_at.saturating_add(self.leeway) {
                return Err(Error::Expired { expires_at, now });
            }
        }
        if !self.products.is_empty() {
            let wanted = |id: &str| self.products.iter().any(|p| p == id);
            let sku_ok = claims.sku_code.as_deref().is_some_and(wanted);
            if !wanted(&claims.product_id) && !sku_ok {
                return Err(Error::WrongProduct);
            }
        }
        if claims.test && !self.allow_test {
            return Err(Error::TestLicense);
        }
        Ok(())
    }

    /// Verifies a license as [`Verifier::verify`] does, then checks its binding against `host`.
    pub fn verify_on(&self, token: &str, now: u64, host: &Host<'_>) -> Result<Claims, Error> {
        let claims = self.verify(token, now)?;
        check_binding(&claims.binding, host)?;
        Ok(claims)
    }

    /// Refuses a clock set back: [`Error::ClockBehind`] when `now` plus the leeway is before
    /// the high-water `mark`.
    pub fn check_clock(&self, now: u64, mark: ClockMark) -> Result<(), Error> {
        if now.saturating_add(self.leeway) < mark.get() {
            return Err(Error::ClockBehind {
                now,
                mark: mark.get(),
            });
        }
        Ok(())
    }

    /// [`Verifier::verify_on`] guarded against a clock set back: first
    /// [`Verifier::check_clock`], then the mark is raised to `now` (whatever the license's
    /// verdict), then the license is verified. Persist the mark when it moved (with `std`:
    /// [`crate::MarkFile`]).
    pub fn verify_guarded(
        &self,
        token: &str,
        now: u64,
        host: &Host<'_>,
        mark: &mut ClockMark,
    ) -> Result<Claims, Error> {
        self.check_clock(now, *mark)?;
        mark.observe(now);
        self.verify_on(token, now, host)
    }

    /// [`Verifier::verify`] with the system clock.
    #[cfg(feature = "std")]
    pub fn verify_now(&self, token: &str) -> Result<Claims, Error> {
        self.verify(token, crate::unix_now())
    }

    /// [`Verifier::verify_on`] with the system clock.
    #[cfg(feature = "std")]
    pub fn verify_on_now(&self, token: &str, host: &Host<'_>) -> Result<Claims, Error> {
        self.verify_on(token, crate::unix_now(), host)
    }
}

/// Checks a binding against what the program knows about its machine.
pub fn check_binding(binding: &Binding, host: &Host<'_>) -> Result<(), Error> {
    match binding {
        Binding::None => Ok(()),
        Binding::System(expected) => {
            let given = host
                .system_identifier
                .ok_or(Error::MissingSystemIdentifier)?;
            if given.trim() == expected.trim() {
                Ok(())
            } else {
                Err(Error::SystemIdentifierMismatch)
            }
        }
        Binding::SystemDigest(expected) => {
            let given = host
                .system_identifier
                .ok_or(Error::MissingSystemIdentifier)?;
            if &system_identifier_digest(given) == expected {
                Ok(())
            } else {
                Err(Error::SystemIdentifierMismatch)
            }
        }
        Binding::Hardware(hw) => {
            let id = host.hardware.ok_or(Error::MissingHardwareIdentifier)?;
            hw.check(id)
        }
    }
}
