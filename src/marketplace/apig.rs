//! APIG `SDK-HMAC-SHA256` request signing (spec §2.7) for the marketplace open APIs the
//! merchant calls (§5.3 activate/heartbeat, §6.6 license upload, §6.7 order query): AK/SK
//! credentials, the canonical request, the string to sign and the headers to send.
//!
//! Canonicalisation follows Huawei's API Gateway signer: the path is percent-decoded, split on
//! `/`, each segment RFC 3986-encoded and a trailing `/` forced; query names and values are
//! percent-decoded (a `+` stays a `+`), sorted by name then value and RFC 3986-encoded, an
//! empty value giving `k=`; signed headers are lower-cased, trimmed, sorted and always include
//! `host` and `x-sdk-date`. The URL is parsed minimally here (no URL crate in the dependency
//! set): `scheme://authority[/path][?query][#fragment]`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::koomarket::auth::{parse_time_stamp, SecretKey};
use crate::koomarket::percent;

#[cfg(test)]
mod tests;

const ALGORITHM: &str = "SDK-HMAC-SHA256";
const SDK_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Why a request could not be signed. Never contains the secret key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApigError {
    #[error("access key is empty or contains whitespace, ',' or control characters")]
    InvalidAccessKey,
    #[error("URL must be http(s)://host[:port][/path][?query] without whitespace or userinfo")]
    InvalidUrl,
    #[error("HTTP method must be a non-empty ASCII token")]
    InvalidMethod,
    #[error("header name is not an HTTP token or its value contains CR, LF or NUL")]
    InvalidHeader,
    #[error("X-Sdk-Date must be yyyyMMdd'T'HHmmss'Z' and a valid UTC time")]
    BadSdkDate,
}

/// Huawei Cloud AK/SK ("我的凭证 > 访问密钥", §2.1) for the open APIs. `Debug` is redacted.
#[derive(Clone)]
pub(crate) struct ApigCredentials {
    access_key: String,
    secret_key: SecretKey,
}

impl ApigCredentials {
    /// The AK goes verbatim into the `Authorization` header, so characters that would break
    /// that header (whitespace, `,`, controls) are rejected.
    pub(crate) fn new(access_key: String, secret_key: SecretKey) -> Result<Self, ApigError> {
        let bad = |c: char| c.is_whitespace() || c.is_control() || c == ',';
        if access_key.is_empty() || access_key.contains(bad) {
            return Err(ApigError::InvalidAccessKey);
        }
        Ok(Self {
            access_key,
            secret_key,
        })
    }

    #[cfg(test)]
    pub(crate) fn access_key(&self) -> &str {
        &self.access_key
    }
}

impl fmt::Debug for ApigCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApigCredentials { access_key: <redacted>, secret_key: <redacted> }")
    }
}

/// The headers to add to the request, all three verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedHeaders {
    /// `X-Sdk-Date` value (the `sdk_date` that was signed).
    pub(crate) x_sdk_date: String,
    /// `Host` value: the URL's authority exactly as written (`host[:port]`).
    pub(crate) host: String,
    /// `Authorization` value:
    /// `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b;…>, Signature=<hex>`.
    pub(crate) authorization: String,
}

impl SignedHeaders {
    /// `(header name, value)` pairs, ready to set on an HTTP request.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        [
            ("X-Sdk-Date", self.x_sdk_date.as_str()),
            ("Host", self.host.as_str()),
            ("Authorization", self.authorization.as_str()),
        ]
        .into_iter()
    }
}

/// `X-Sdk-Date` format: `yyyyMMdd'T'HHmmss'Z'` in UTC, e.g. `20240317T144237Z`.
pub(crate) fn format_sdk_date(at: DateTime<Utc>) -> String {
    at.format(SDK_DATE_FORMAT).to_string()
}

/// The current time as an `X-Sdk-Date` value.
pub(crate) fn sdk_date_now() -> String {
    format_sdk_date(Utc::now())
}

fn check_sdk_date(sdk_date: &str) -> Result<(), ApigError> {
    let b = sdk_date.as_bytes();
    let shape_ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    // Digits only, so the byte slices are on char boundaries.
    if shape_ok && parse_time_stamp(&[&sdk_date[..8], &sdk_date[9..15]].concat()).is_some() {
        Ok(())
    } else {
        Err(ApigError::BadSdkDate)
    }
}

struct ParsedUrl<'a> {
    authority: &'a str,
    path: &'a str,
    query: &'a str,
}

fn parse_url(url: &str) -> Result<ParsedUrl<'_>, ApigError> {
    if url.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(ApigError::InvalidUrl);
    }
    // A fragment is never sent to the server.
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    let (scheme, rest) = url.split_once("://").ok_or(ApigError::InvalidUrl)?;
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(ApigError::InvalidUrl);
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') || authority.starts_with(':') {
        return Err(ApigError::InvalidUrl);
    }
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    Ok(ParsedUrl {
        authority,
        path,
        query,
    })
}

fn canonical_uri(path: &str) -> String {
    let decoded = percent::decode(path.as_bytes());
    let mut uri = decoded
        .split(|&b| b == b'/')
        .map(percent::encode_rfc3986)
        .collect::<Vec<_>>()
        .join("/");
    if !uri.starts_with('/') {
        uri.insert(0, '/');
    }
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = query
        .split('&')
        .filter_map(|kv| {
            let (name, value) = kv.split_once('=').unwrap_or((kv, ""));
            (!name.is_empty()).then(|| {
                (
                    percent::decode(name.as_bytes()),
                    percent::decode(value.as_bytes()),
                )
            })
        })
        .collect();
    // Byte order of UTF-8 = code point order; repeated names are ordered by value.
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                percent::encode_rfc3986(name),
                percent::encode_rfc3986(value)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Lower-cased, trimmed, de-duplicated (first wins) signed headers including `host` and
/// `x-sdk-date`. Caller-supplied `host`, `x-sdk-date` and `authorization` are ignored: the
/// first two are derived from `url` and `sdk_date`, the last is the output.
fn signed_header_map(
    authority: &str,
    headers: &[(String, String)],
    sdk_date: &str,
) -> Result<BTreeMap<String, String>, ApigError> {
    let mut map = BTreeMap::new();
    for (name, value) in headers {
        let name = name.trim();
        if name.is_empty() || !name.chars().all(is_token_char) || value.contains(['\r', '\n', '\0'])
        {
            return Err(ApigError::InvalidHeader);
        }
        let name = name.to_ascii_lowercase();
        if matches!(name.as_str(), "host" | "x-sdk-date" | "authorization") {
            continue;
        }
        map.entry(name).or_insert_with(|| value.trim().to_owned());
    }
    map.insert("host".to_owned(), authority.to_owned());
    map.insert("x-sdk-date".to_owned(), sdk_date.to_owned());
    Ok(map)
}

struct Canonical {
    request: String,
    signed_headers: String,
    host: String,
}

fn build_canonical(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    sdk_date: &str,
) -> Result<Canonical, ApigError> {
    if method.is_empty() || !method.chars().all(is_token_char) {
        return Err(ApigError::InvalidMethod);
    }
    check_sdk_date(sdk_date)?;
    let parsed = parse_url(url)?;
    let header_map = signed_header_map(parsed.authority, headers, sdk_date)?;
    let canonical_headers: String = header_map
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = header_map
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(";");
    let request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        canonical_uri(parsed.path),
        canonical_query(parsed.query),
        canonical_headers,
        signed_headers,
        hex::encode(Sha256::digest(body)),
    );
    Ok(Canonical {
        request,
        signed_headers,
        host: parsed.authority.to_owned(),
    })
}

/// The canonical request `sign_request` signs (the tests check it against the gateway's
/// documented examples).
#[cfg(test)]
pub(crate) fn canonical_request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    sdk_date: &str,
) -> Result<String, ApigError> {
    build_canonical(method, url, headers, body, sdk_date).map(|c| c.request)
}

/// `SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex(SHA-256(canonical request))>`.
pub(crate) fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// Signs a request to a marketplace open API and returns the headers to add.
///
/// `url` is the full URL the request goes to (query included, already percent-encoded as it
/// will be sent), `headers` the other headers to sign (e.g. `Content-Type`, `x-stage`) — send
/// them with exactly these values — `body` the exact body bytes, and `sdk_date` the
/// `X-Sdk-Date` value ([`sdk_date_now`]); the gateway rejects dates too far from its clock
/// (limit UNCONFIRMED, usually 15 minutes).
pub(crate) fn sign_request(
    creds: &ApigCredentials,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    sdk_date: &str,
) -> Result<SignedHeaders, ApigError> {
    let canonical = build_canonical(method, url, headers, body, sdk_date)?;
    let to_sign = string_to_sign(sdk_date, &canonical.request);
    let signature = hex::encode(creds.secret_key.mac(&[to_sign.as_bytes()]));
    Ok(SignedHeaders {
        x_sdk_date: sdk_date.to_owned(),
        host: canonical.host,
        authorization: format!(
            "{ALGORITHM} Access={}, SignedHeaders={}, Signature={signature}",
            creds.access_key, canonical.signed_headers
        ),
    })
}
