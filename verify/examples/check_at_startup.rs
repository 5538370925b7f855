//! How a delivered application checks its license when it starts.
//!
//! ```sh
//! cargo run -p koolicense-verify --example check_at_startup -- path/to/license.txt
//! APP_LICENSE_FILE=path/to/license.txt cargo run -p koolicense-verify --example check_at_startup
//! ```
//!
//! The license file may hold either the one-line form (`kl1.…`) or the armoured form. For
//! licenses bound to a KooMarket system identifier, set `APP_SYSTEM_IDENTIFIER` (a real
//! application would take it from its configuration or ask the customer once).
//!
//! Exit status: 0 licensed, 1 not licensed, 2 no license file could be read.

use std::path::PathBuf;
use std::process::ExitCode;

use koolicense_verify::{machine, unix_now, Claims, Error, Host, PublicKey, Verifier};

/// The issuer's public key, compiled into the program so that nobody can swap it.
///
/// THIS IS THE TEST KEY from `keys/test/`, whose private half is public. Replace it with your
/// production public key (the `.pub.pem` written by `koolicense keygen`); during a key rotation,
/// pin both the old and the new key.
const LICENSE_PUBLIC_KEY: &str = include_str!("../../keys/test/test-signing.pub.pem");

/// The KooMarket product id or sku code this program is sold as (`None` accepts any product
/// signed with the key above).
const PRODUCT: Option<&str> = None;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os("APP_LICENSE_FILE"))
        .map(PathBuf::from)
    else {
        eprintln!("usage: check_at_startup <license file>   (or set APP_LICENSE_FILE)");
        return ExitCode::from(2);
    };
    let license = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("Cannot read the license file {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };

    let key = match PublicKey::parse(LICENSE_PUBLIC_KEY) {
        Ok(key) => key,
        Err(e) => {
            eprintln!("The embedded license public key is unusable ({e}); this is a build error.");
            return ExitCode::from(2);
        }
    };
    let mut verifier = Verifier::new([key]);
    if let Some(product) = PRODUCT {
        verifier = verifier.expect_product(product);
    }

    // What this machine is. Reading it can fail (unsupported OS, a container without sysfs);
    // then only licenses that are not hardware-bound can be accepted, and a hardware-bound one
    // reports MissingHardwareIdentifier below.
    let hardware = match machine::read_hardware_id() {
        Ok(id) => Some(id),
        Err(e) => {
            eprintln!("Note: {e}; a hardware-bound license cannot be checked here.");
            None
        }
    };
    let system_identifier = std::env::var("APP_SYSTEM_IDENTIFIER").ok();
    let host = Host {
        hardware: hardware.as_ref(),
        system_identifier: system_identifier.as_deref(),
    };

    match verifier.verify_on_now(&license, &host) {
        Ok(claims) if claims.test && std::env::var_os("APP_ALLOW_TEST_LICENSE").is_none() => {
            eprintln!(
                "This license was issued for KooMarket test traffic and is not valid for real \
                 use (set APP_ALLOW_TEST_LICENSE=1 while testing)."
            );
            ExitCode::from(1)
        }
        Ok(claims) => {
            print_licensed(&claims);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Not licensed: {}", explain(&e, hardware.as_ref()));
            ExitCode::from(1)
        }
    }
}

fn print_licensed(claims: &Claims) {
    println!(
        "Licensed: {} (license {}, revision {})",
        claims.sku_code.as_deref().unwrap_or(&claims.product_id),
        claims.license_id,
        claims.revision
    );
    match claims.expires_at {
        None => println!("Perpetual license."),
        Some(expires_at) => {
            let days = expires_at.saturating_sub(unix_now()).div_ceil(86_400);
            println!("Valid for another {days} day(s) (until Unix time {expires_at}).");
        }
    }
    if claims.trial {
        println!("This is a trial license.");
    }
    if let Some(quantity) = claims.quantity {
        println!("Quantity: {quantity}");
    }
    if !claims.features.is_empty() {
        println!("Features: {}", claims.features.join(", "));
    }
}

/// A message the customer can act on, per failure.
fn explain(error: &Error, hardware: Option<&koolicense_verify::HardwareId>) -> String {
    match error {
        Error::Encoding(_) | Error::TooLarge => {
            "the file does not contain a license. Copy the whole license text you received, \
             including the BEGIN and END lines if there are any."
                .into()
        }
        Error::WrongObjectKind => {
            "the file holds another koolicense document, not a license.".into()
        }
        Error::UnsupportedVersion(_) | Error::UnsupportedCriticalField(_) => {
            "the license needs a newer version of this program. Please update.".into()
        }
        Error::UnknownKey(_) => {
            "the license was not issued for this program (or needs a newer version of it).".into()
        }
        Error::BadSignature | Error::Malformed(_) => {
            "the license has been altered or damaged. Copy it again from the original.".into()
        }
        Error::NotYetValid { not_before, .. } => format!(
            "the license only becomes valid at Unix time {not_before}. Check this computer's clock."
        ),
        Error::Expired { expires_at, .. } => format!(
            "the license expired at Unix time {expires_at}. Renew it in KooMarket and install \
             the new license."
        ),
        Error::WrongProduct => "the license is for a different product.".into(),
        Error::MissingSystemIdentifier => {
            "the license is bound to a system identifier; set APP_SYSTEM_IDENTIFIER to the one \
             you entered when buying."
                .into()
        }
        Error::SystemIdentifierMismatch => {
            "the license is bound to a different system identifier.".into()
        }
        Error::MissingHardwareIdentifier => {
            "the license is bound to a machine, but this machine's hardware identifier could \
             not be read."
                .into()
        }
        Error::HardwareMismatch { matched, required } => format!(
            "the license is bound to another machine ({matched} of the {required} required \
             hardware components match). This machine's identifier is {}; ask the vendor to \
             reissue the license for it.",
            hardware.map_or_else(|| "unknown".into(), |id| id.to_koomarket_string())
        ),
        Error::Revoked => "the license has been revoked.".into(),
        other => format!("{other}."),
    }
}
