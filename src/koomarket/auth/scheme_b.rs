//! Scheme B (spec §2.5): the `signature`/`timestamp`/`nonce` URL parameters on the POST JSON
//! variants (License 2.0 merchant interfaces, 在线开通License), keyed with the accessKey.
//!
//! Formula B1 (§2.5.1), the only self-consistent reading of the docs:
//! `signature = hex(HMAC(accessKey, accessKey + nonce + timestamp + hex(HMAC(accessKey, body))))`.
//! Formula B2 (§2.5.2) leaves the HMAC keys unstated; the spec's fallback reading replaces the
//! inner keyed HMAC by a plain SHA-256 of the body. Which one the platform uses is UNRESOLVED
//! (§10 item 1), so both are implemented and selected with [`SchemeBReading`].
//!
//! Not done here (the caller's job): the nonce replay cache (§2.5: cache for at least the
//! window), and the spec's optional retry over a key-sorted re-serialisation of the body
//! (§2.5.2, UNCONFIRMED) — call [`verify_scheme_b`] again with those bytes if wanted.

use sha2::{Digest, Sha256};

use super::{select_matching_key, AuthError, KeyRing, SecretKey, MAC_LEN};

/// The accepted clock difference for scheme B: "商家需要校验这个时间戳与当前时间相差不超过60s" (§2.5);
/// the default of `koomarket.scheme_b_window_secs`.
#[cfg(test)]
pub(crate) const SCHEME_B_WINDOW_MS: u64 = 60_000;

/// Which documented reading of the scheme B inner digest to accept (§2.5.3, §10 item 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum SchemeBReading {
    /// Formula B1: `inner = hex(HMAC-SHA256(accessKey, body))`. The default.
    #[default]
    KeyedInner,
    /// Fallback reading of formula B2: `inner = hex(SHA-256(body))` (UNCONFIRMED).
    PlainSha256Inner,
    /// Accept either reading, until the seller-console debugger settles it.
    Either,
}

#[derive(Clone, Copy)]
enum Inner {
    Keyed,
    PlainSha256,
}

fn scheme_b_mac(
    key: &SecretKey,
    nonce: &str,
    timestamp: &str,
    body: &[u8],
    inner: Inner,
) -> [u8; MAC_LEN] {
    let inner_hex = match inner {
        Inner::Keyed => hex::encode(key.mac(&[body])),
        Inner::PlainSha256 => hex::encode(Sha256::digest(body)),
    };
    key.mac(&[
        key.0.as_bytes(),
        nonce.as_bytes(),
        timestamp.as_bytes(),
        inner_hex.as_bytes(),
    ])
}

/// Formula B1 signature as lower-case hex. `nonce` and `timestamp` are the exact strings from
/// the URL, `body` the raw request body bytes.
pub(crate) fn scheme_b_signature(
    key: &SecretKey,
    nonce: &str,
    timestamp: &str,
    body: &[u8],
) -> String {
    hex::encode(scheme_b_mac(key, nonce, timestamp, body, Inner::Keyed))
}

/// Verifies a scheme B `signature` against every key of the ring (and, for
/// [`SchemeBReading::Either`], both readings) and returns the index of the matching key.
///
/// The hex signature is accepted in either case (doc examples are upper-case on some pages
/// and lower-case on others) and compared as a decoded 32-byte MAC in constant time. The
/// timestamp window and nonce replay are checked separately ([`check_scheme_b_window`]).
pub(crate) fn verify_scheme_b(
    keys: &KeyRing,
    nonce: &str,
    timestamp: &str,
    body: &[u8],
    received_sig: &str,
    reading: SchemeBReading,
) -> Result<usize, AuthError> {
    let received_sig = received_sig.trim();
    if received_sig.is_empty() {
        return Err(AuthError::MissingToken);
    }
    if timestamp.is_empty() {
        return Err(AuthError::MissingTimestamp);
    }
    if nonce.is_empty() {
        return Err(AuthError::MissingNonce);
    }
    let received: [u8; MAC_LEN] = hex::decode(received_sig)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(AuthError::MalformedToken)?;
    let inners: &[Inner] = match reading {
        SchemeBReading::KeyedInner => &[Inner::Keyed],
        SchemeBReading::PlainSha256Inner => &[Inner::PlainSha256],
        SchemeBReading::Either => &[Inner::Keyed, Inner::PlainSha256],
    };
    select_matching_key(keys, &received, |key| {
        inners
            .iter()
            .map(|&inner| scheme_b_mac(key, nonce, timestamp, body, inner))
            .collect::<Vec<_>>()
    })
}

/// Parses a scheme B `timestamp` into UNIX milliseconds.
///
/// CONFLICT in the spec (§2.5): some pages say milliseconds, others seconds, and every example
/// is 13-digit milliseconds. Both are accepted: exactly 13 digits are milliseconds, 1–10 digits
/// are seconds. 11–12 and 14+ digits, signs and non-digits are rejected.
pub(crate) fn parse_unix_timestamp(ts: &str) -> Option<i64> {
    if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = ts.parse().ok()?;
    match ts.len() {
        13 => Some(value),
        1..=10 => value.checked_mul(1000),
        _ => None,
    }
}

/// Checks `|now − timestamp| ≤ window` (both directions, overflow-safe); use
/// [`SCHEME_B_WINDOW_MS`] for the documented 60 s.
pub(crate) fn check_scheme_b_window(
    ts_millis: i64,
    now_millis: i64,
    window_ms: u64,
) -> Result<(), AuthError> {
    if ts_millis.abs_diff(now_millis) <= window_ms {
        Ok(())
    } else {
        Err(AuthError::Stale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "test-access-key-0001";
    const NONCE: &str = "RLLUammMSInlrNWb";
    const TS: &str = "1666677988730";
    const BODY: &[u8] = br#"{"activity":"newInstance","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}"#;
    /// §2.5.3 formula B1.
    const SIG_B1: &str = "42e5c39902051ad05a509d44429da9194ae06de372b6961830c929ded60a015c";
    /// §2.5.3 fallback reading (plain SHA-256 inner digest).
    const SIG_PLAIN: &str = "f5f6d938ddc2f88a614adb1db72314bb48cff5decdfeee20fab3059449b1f24a";

    fn key(k: &str) -> SecretKey {
        SecretKey::new(k.to_owned()).expect("valid key")
    }

    fn ring() -> KeyRing {
        KeyRing::single(key(KEY))
    }

    fn verify(sig: &str, reading: SchemeBReading) -> Result<usize, AuthError> {
        verify_scheme_b(&ring(), NONCE, TS, BODY, sig, reading)
    }

    #[test]
    fn spec_vector_b1() {
        assert_eq!(scheme_b_signature(&key(KEY), NONCE, TS, BODY), SIG_B1);
        let inner = hex::encode(key(KEY).mac(&[BODY]));
        assert_eq!(
            inner,
            "7c3423c08d12337dd359ce871f975ad942cfea7f9216e66e32389c76d6c0ebd3"
        );
    }

    #[test]
    fn spec_vector_plain_inner() {
        let mac = scheme_b_mac(&key(KEY), NONCE, TS, BODY, Inner::PlainSha256);
        assert_eq!(hex::encode(mac), SIG_PLAIN);
        assert_eq!(
            hex::encode(Sha256::digest(BODY)),
            "72364dfbd91de2f4cf0b442f76db680366f8e87f1da566fb9d18add316c07d3d"
        );
    }

    #[test]
    fn readings_accept_their_own_signature_in_both_cases() {
        use SchemeBReading::*;
        for sig in [SIG_B1.to_owned(), SIG_B1.to_uppercase()] {
            assert_eq!(verify(&sig, KeyedInner), Ok(0));
            assert_eq!(verify(&sig, Either), Ok(0));
            assert_eq!(verify(&sig, PlainSha256Inner), Err(AuthError::Mismatch));
        }
        for sig in [SIG_PLAIN.to_owned(), SIG_PLAIN.to_uppercase()] {
            assert_eq!(verify(&sig, PlainSha256Inner), Ok(0));
            assert_eq!(verify(&sig, Either), Ok(0));
            assert_eq!(verify(&sig, KeyedInner), Err(AuthError::Mismatch));
        }
        assert_eq!(SchemeBReading::default(), KeyedInner);
    }

    #[test]
    fn any_changed_input_fails() {
        let r = ring();
        let k = SchemeBReading::KeyedInner;
        assert_eq!(
            verify_scheme_b(&r, "other", TS, BODY, SIG_B1, k),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_scheme_b(&r, NONCE, "1666677988731", BODY, SIG_B1, k),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_scheme_b(&r, NONCE, TS, b"{}", SIG_B1, k),
            Err(AuthError::Mismatch)
        );
        let wrong = KeyRing::single(key("test-access-key-0002"));
        assert_eq!(
            verify_scheme_b(&wrong, NONCE, TS, BODY, SIG_B1, k),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn previous_key_in_ring_reports_its_index() {
        let r = KeyRing::new(vec![key("new-key"), key(KEY), key("older-key")]).expect("ring");
        assert_eq!(
            verify_scheme_b(&r, NONCE, TS, BODY, SIG_B1, SchemeBReading::Either),
            Ok(1)
        );
    }

    #[test]
    fn missing_and_malformed_inputs() {
        let r = ring();
        let k = SchemeBReading::KeyedInner;
        assert_eq!(
            verify_scheme_b(&r, NONCE, TS, BODY, "", k),
            Err(AuthError::MissingToken)
        );
        assert_eq!(
            verify_scheme_b(&r, NONCE, "", BODY, SIG_B1, k),
            Err(AuthError::MissingTimestamp)
        );
        assert_eq!(
            verify_scheme_b(&r, "", TS, BODY, SIG_B1, k),
            Err(AuthError::MissingNonce)
        );
        for bad in [&SIG_B1[..63], &SIG_B1[..62], "zz", &format!("{SIG_B1}00")] {
            assert_eq!(verify(bad, k), Err(AuthError::MalformedToken), "{bad}");
        }
    }

    #[test]
    fn unix_timestamp_units() {
        assert_eq!(
            parse_unix_timestamp("1666677988730"),
            Some(1_666_677_988_730)
        );
        assert_eq!(parse_unix_timestamp("1666677988"), Some(1_666_677_988_000));
        assert_eq!(parse_unix_timestamp("0"), Some(0));
        for bad in [
            "",
            "16666779887",
            "166667798873",
            "16666779887300",
            "-1666677988",
            "+1666677988",
            " 1666677988",
            "1666677988730.5",
            "１２３",
        ] {
            assert_eq!(parse_unix_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn window_is_symmetric_and_overflow_safe() {
        let now = 1_666_677_988_730;
        assert_eq!(check_scheme_b_window(now, now, SCHEME_B_WINDOW_MS), Ok(()));
        assert_eq!(
            check_scheme_b_window(now - 60_000, now, SCHEME_B_WINDOW_MS),
            Ok(())
        );
        assert_eq!(
            check_scheme_b_window(now + 60_000, now, SCHEME_B_WINDOW_MS),
            Ok(())
        );
        assert_eq!(
            check_scheme_b_window(now - 60_001, now, SCHEME_B_WINDOW_MS),
            Err(AuthError::Stale)
        );
        assert_eq!(
            check_scheme_b_window(now + 60_001, now, SCHEME_B_WINDOW_MS),
            Err(AuthError::Stale)
        );
        assert_eq!(
            check_scheme_b_window(i64::MIN, i64::MAX, SCHEME_B_WINDOW_MS),
            Err(AuthError::Stale)
        );
        assert_eq!(check_scheme_b_window(i64::MIN, i64::MAX, u64::MAX), Ok(()));
    }
}
