//! Marketplace secrets and the signatures on the marketplace → merchant production interface
//! (spec §2.1–§2.5): the merchant Key ([`SecretKey`], [`KeyRing`]), Java-servlet query parsing
//! ([`parse_query`]), scheme A `authToken` on GET requests (§2.2), the `Body-Sign` response
//! header (§2.4) and, in the `scheme_b` submodule, the `signature`/`timestamp`/`nonce` scheme of
//! the POST variants (§2.5).
//!
//! Every comparison against a received signature is done on fixed-size decoded MACs in
//! constant time, and every key of a [`KeyRing`] is always tried (no early exit that would
//! reveal which key matched). Error messages never contain keys or expected MACs.

mod scheme_b;
#[cfg(test)]
mod tests;

// Scheme B lives in its own file for size; its API is part of this module's.
pub(crate) use scheme_b::{
    check_scheme_b_window, parse_unix_timestamp, scheme_b_signature, verify_scheme_b,
    SchemeBReading,
};

use std::fmt;
use std::ops::Range;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Length in bytes of an HMAC-SHA256 tag.
const MAC_LEN: usize = 32;

/// Name of the scheme A token parameter; it is excluded from the signed string (§2.2 step 2).
const AUTH_TOKEN: &str = "authToken";
/// Name of the scheme A timestamp parameter; it is both signed and appended to the HMAC key.
const TIME_STAMP: &str = "timeStamp";

/// Standard-alphabet base64 that accepts the token with or without `=` padding.
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a [`SecretKey`] or [`KeyRing`] could not be built. Never contains key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("marketplace key is empty")]
    Empty,
    /// Almost always a configuration mistake (a trailing newline from a key file); the key is
    /// used byte-exact in every HMAC, so it would silently fail every signature.
    #[error("marketplace key has leading or trailing whitespace")]
    SurroundingWhitespace,
    #[error("key ring must contain at least one key")]
    EmptyRing,
}

/// Why a marketplace request failed authentication. Messages never contain keys, received
/// tokens or expected MACs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthError {
    #[error("request signature (authToken / signature) is missing")]
    MissingToken,
    #[error("request timestamp is missing")]
    MissingTimestamp,
    #[error("request nonce is missing")]
    MissingNonce,
    #[error("request signature is not a well-formed HMAC-SHA256 value")]
    MalformedToken,
    #[error("request signature does not match")]
    Mismatch,
    #[error("request timestamp is malformed")]
    BadTimestamp,
    #[error("request timestamp is outside the accepted window")]
    Stale,
}

/// The marketplace secret used as a UTF-8 string in every HMAC (spec §2.1): the "Key值" for
/// scheme A and `Body-Sign`, the "accessKey/访问密钥" for scheme B, or an APIG SK.
///
/// Zeroized on drop; `Debug` is redacted; deliberately no `Display`, `Serialize` or
/// `PartialEq`. The key bytes never leave this type: callers ask it for a MAC instead.
pub(crate) struct SecretKey(String);

impl SecretKey {
    /// Wraps a key, rejecting an empty one or one with surrounding whitespace.
    pub(crate) fn new(mut key: String) -> Result<Self, KeyError> {
        let err = if key.is_empty() {
            Some(KeyError::Empty)
        } else if key.trim() != key {
            Some(KeyError::SurroundingWhitespace)
        } else {
            None
        };
        match err {
            Some(e) => {
                key.zeroize();
                Err(e)
            }
            None => Ok(Self(key)),
        }
    }

    /// HMAC-SHA256 keyed with this secret over the concatenation of `parts`.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; MAC_LEN] {
        hmac_sha256(self.0.as_bytes(), parts)
    }
}

impl Clone for SecretKey {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// The accepted keys, current first, then previous ones, so the key can be rotated in the
/// seller console without rejecting requests signed with the old one in the meantime.
#[derive(Clone)]
pub(crate) struct KeyRing {
    keys: Vec<SecretKey>,
}

impl KeyRing {
    /// `keys[0]` is the current key (used for signing responses); the rest are still accepted
    /// for verification.
    pub(crate) fn new(keys: Vec<SecretKey>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::EmptyRing);
        }
        Ok(Self { keys })
    }

    pub(crate) fn single(key: SecretKey) -> Self {
        Self { keys: vec![key] }
    }

    /// The current key: the one to sign responses with.
    pub(crate) fn current(&self) -> &SecretKey {
        // `new`/`single` guarantee at least one key.
        &self.keys[0]
    }

    /// All keys, current first; the position is the index `verify_*` functions return.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &SecretKey> + '_ {
        self.keys.iter()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRing {{ keys: <{} redacted> }}", self.keys.len())
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC-SHA256 accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Checks `received` against the MAC every key (and every candidate computation) produces,
/// without stopping at the first match. `expected(key)` yields the candidate MACs of one key.
/// Returns the index of the first matching key.
fn select_matching_key<I>(
    keys: &KeyRing,
    received: &[u8; MAC_LEN],
    mut expected: impl FnMut(&SecretKey) -> I,
) -> Result<usize, AuthError>
where
    I: IntoIterator<Item = [u8; MAC_LEN]>,
{
    let mut found = Choice::from(0);
    let mut index = 0u64;
    for (i, key) in keys.iter().enumerate() {
        let mut matches = Choice::from(0);
        for candidate in expected(key) {
            matches |= candidate.ct_eq(received);
        }
        index.conditional_assign(&(i as u64), matches & !found);
        found |= matches;
    }
    if bool::from(found) {
        usize::try_from(index).map_err(|_| AuthError::Mismatch)
    } else {
        Err(AuthError::Mismatch)
    }
}

/// Query parameters decoded the way a Java servlet container (`request.getParameterMap()`)
/// decodes them, which is what Huawei's reference implementation signs (spec §2.2).
///
/// Every call is parsed once and read many times (signing, every field of the command), so the
/// decoded names and values share one buffer and a sorted table of spans into it: two
/// allocations per call instead of two per parameter. `Debug` leaves out the `authToken`.
#[derive(Clone, Default)]
pub(crate) struct QueryParams {
    /// Decoded names and values, back to back.
    text: String,
    /// Every parameter except `authToken`: spans of its name and value in `text`, sorted by
    /// name (`str` order is UTF-8 byte order, the signing order), first value per name.
    entries: Vec<(Range<usize>, Range<usize>)>,
    /// The first `authToken` value's span.
    auth_token: Option<Range<usize>>,
}

impl QueryParams {
    /// The first decoded value of `name`. `authToken` is not returned here; see
    /// [`QueryParams::auth_token`].
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let found = self
            .entries
            .binary_search_by(|(n, _)| self.text[n.clone()].cmp(name))
            .ok()?;
        Some(&self.text[self.entries[found].1.clone()])
    }

    /// The first decoded `authToken` value, if any.
    pub(crate) fn auth_token(&self) -> Option<&str> {
        self.auth_token.clone().map(|span| &self.text[span])
    }

    /// Every parameter except `authToken`, sorted by name (the scheme A signing order).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries
            .iter()
            .map(|(n, v)| (&self.text[n.clone()], &self.text[v.clone()]))
    }

    /// Appends `decoded` to the buffer; its span.
    fn push(&mut self, decoded: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(decoded);
        start..self.text.len()
    }
}

impl fmt::Debug for QueryParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryParams")
            .field("params", &self.iter().collect::<Vec<_>>())
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Parses a raw query string (without or with one leading `?`) with servlet semantics:
/// names and values are percent-decoded, `+` becomes a space, the FIRST value of a repeated
/// name wins, a name without `=` has the empty value, and parameters with an empty name are
/// dropped (as Tomcat does).
///
/// Differences from a servlet container, none of which a well-formed marketplace request
/// triggers: bytes that are not valid UTF-8 after percent-decoding are replaced lossily with
/// U+FFFD (`form_urlencoded` behaviour), and a malformed `%` escape is kept literally instead
/// of dropping the parameter.
pub(crate) fn parse_query(raw: &str) -> QueryParams {
    let raw = raw.strip_prefix('?').unwrap_or(raw);
    let pairs = raw.bytes().filter(|&b| b == b'&').count() + 1;
    let mut out = QueryParams {
        // Decoding never lengthens a parameter (an escaped invalid byte becomes U+FFFD: three
        // bytes for three characters).
        text: String::with_capacity(raw.len()),
        entries: Vec::with_capacity(pairs),
        auth_token: None,
    };
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        if name.is_empty() {
            continue;
        }
        if name == AUTH_TOKEN {
            if out.auth_token.is_none() {
                out.auth_token = Some(out.push(&value));
            }
            continue;
        }
        let name = out.push(&name);
        let value = out.push(&value);
        out.entries.push((name, value));
    }
    let QueryParams { text, entries, .. } = &mut out;
    // A stable sort keeps repeated names in arrival order, and `dedup_by` drops the later of two
    // equal neighbours: the first value wins.
    entries.sort_by(|(a, _), (b, _)| text[a.clone()].cmp(&text[b.clone()]));
    entries.dedup_by(|(later, _), (earlier, _)| text[later.clone()] == text[earlier.clone()]);
    out
}

/// `name1=value1&name2=value2&…` over every parameter except `authToken`, sorted by name,
/// decoded values, no re-encoding (§2.2 steps 1–5).
fn scheme_a_message(params: &QueryParams) -> String {
    let len = params.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
    let mut msg = String::with_capacity(len);
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            msg.push('&');
        }
        msg.push_str(name);
        msg.push('=');
        msg.push_str(value);
    }
    msg
}

fn scheme_a_mac(key: &SecretKey, params: &QueryParams) -> [u8; MAC_LEN] {
    let time_stamp = params.get(TIME_STAMP).unwrap_or_default();
    let hmac_key = Zeroizing::new([key.0.as_bytes(), time_stamp.as_bytes()].concat());
    hmac_sha256(&hmac_key, &[scheme_a_message(params).as_bytes()])
}

/// Scheme A token (§2.2): `Base64Std(HMAC-SHA256(key = Key + timeStamp, msg))` where `msg` is
/// every received parameter except `authToken`, sorted by name, as `name=value` joined by `&`.
/// A missing `timeStamp` is treated as empty (verification rejects such requests first).
pub(crate) fn auth_token(key: &SecretKey, params: &QueryParams) -> String {
    STANDARD.encode(scheme_a_mac(key, params))
}

/// Verifies the scheme A `authToken` against every key of the ring and returns the index of
/// the matching key (0 = current).
///
/// The received token is compared as a decoded 32-byte MAC in constant time. A space in the
/// token is read as `+`: the platform percent-encodes the token, but doc examples print it raw,
/// and a raw `+` becomes a space after form decoding (UNCONFIRMED whether the platform ever
/// sends it raw, so both forms are accepted).
pub(crate) fn verify_auth_token(keys: &KeyRing, params: &QueryParams) -> Result<usize, AuthError> {
    let token = params
        .auth_token()
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::MissingToken)?;
    if params.get(TIME_STAMP).unwrap_or_default().is_empty() {
        return Err(AuthError::MissingTimestamp);
    }
    let received = decode_b64_mac(&token.replace(' ', "+")).ok_or(AuthError::MalformedToken)?;
    select_matching_key(keys, &received, |key| [scheme_a_mac(key, params)])
}

fn decode_b64_mac(b64: &str) -> Option<[u8; MAC_LEN]> {
    B64_LENIENT.decode(b64.trim()).ok()?.try_into().ok()
}

/// Parses a scheme A `timeStamp`: `yyyyMMddHHmmssSSS` (17 digits, §8.5) or, leniently,
/// `yyyyMMddHHmmss` (14 digits), both UTC.
pub(crate) fn parse_time_stamp(time_stamp: &str) -> Option<DateTime<Utc>> {
    let b = time_stamp.as_bytes();
    if !(b.len() == 14 || b.len() == 17) || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> u32 {
        b[range]
            .iter()
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let year = i32::try_from(num(0..4)).ok()?;
    let millis = if b.len() == 17 { num(14..17) } else { 0 };
    NaiveDate::from_ymd_opt(year, num(4..6), num(6..8))?
        .and_hms_milli_opt(num(8..10), num(10..12), num(12..14), millis)
        .map(|naive| naive.and_utc())
}

/// Optional freshness check for scheme A (the spec documents no window — §2.2, §10 item 3).
/// Accepts `|now − timeStamp| ≤ window` in both directions. When used, the window must stay
/// wider than the marketplace's retry behaviour allows for (§8.2): each retry is re-signed
/// with a new timeStamp, so a few minutes of clock skew is the only concern.
pub(crate) fn check_timestamp_freshness(
    time_stamp: &str,
    now: DateTime<Utc>,
    window: std::time::Duration,
) -> Result<(), AuthError> {
    let at = parse_time_stamp(time_stamp).ok_or(AuthError::BadTimestamp)?;
    let Ok(window) = TimeDelta::from_std(window) else {
        // A window too large for chrono is effectively unlimited.
        return Ok(());
    };
    if (now - at).abs() <= window {
        Ok(())
    } else {
        Err(AuthError::Stale)
    }
}

/// `Body-Sign` signature (§2.4): `Base64Std(HMAC-SHA256(key = Key, body))` over the exact
/// response bytes. Keyed with the Key itself, NOT `Key + timeStamp`.
pub(crate) fn body_signature(key: &SecretKey, body: &[u8]) -> String {
    STANDARD.encode(key.mac(&[body]))
}

/// The complete `Body-Sign` header value, exactly `sign_type="HMAC-SHA256", signature="<b64>"`.
pub(crate) fn body_sign_header_value(key: &SecretKey, body: &[u8]) -> String {
    format!(
        "sign_type=\"HMAC-SHA256\", signature=\"{}\"",
        body_signature(key, body)
    )
}

/// Parses a `Body-Sign` value into `(sign_type, signature)`. Whitespace around `=` and `,` is
/// tolerated (Huawei's own sample writes `signature= "…"`, others omit the space after the
/// comma); double quotes around values are required. Names match case-insensitively, the first
/// occurrence wins, unknown attributes are ignored. `None` if malformed or either is missing.
pub(crate) fn parse_body_sign_header(value: &str) -> Option<(String, String)> {
    let mut sign_type = None;
    let mut signature = None;
    let mut rest = value.trim();
    while !rest.is_empty() {
        let (name, after_name) = rest.split_once('=')?;
        let name = name.trim();
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ',') {
            return None;
        }
        let quoted = after_name.trim_start().strip_prefix('"')?;
        let (val, after_val) = quoted.split_once('"')?;
        if name.eq_ignore_ascii_case("sign_type") {
            sign_type.get_or_insert_with(|| val.to_owned());
        } else if name.eq_ignore_ascii_case("signature") {
            signature.get_or_insert_with(|| val.to_owned());
        }
        let after_val = after_val.trim_start();
        rest = match after_val.strip_prefix(',') {
            Some(next) => next.trim_start(),
            None if after_val.is_empty() => after_val,
            None => return None,
        };
    }
    Some((sign_type?, signature?))
}

/// Verifies a `Body-Sign` header value against `body` in constant time. The sign type must be
/// `HMAC-SHA256` (case-insensitive).
pub(crate) fn verify_body_signature(key: &SecretKey, body: &[u8], header_value: &str) -> bool {
    let Some((sign_type, signature)) = parse_body_sign_header(header_value) else {
        return false;
    };
    if !sign_type.trim().eq_ignore_ascii_case("HMAC-SHA256") {
        return false;
    }
    let Some(received) = decode_b64_mac(&signature) else {
        return false;
    };
    key.mac(&[body]).ct_eq(&received).into()
}
