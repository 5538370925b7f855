//! The marketplace side of the GET production interface, written from the spec (§2.2, §2.4)
//! with `hmac`, `sha2`, `base64` and `form_urlencoded` directly, independent of the service's
//! own `auth` module, so a shared misunderstanding cannot make both sides agree on a wrong
//! signature.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The marketplace key every test app is configured with unless a test says otherwise.
pub(crate) const KEY: &str = "test-access-key-0001";

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// §2.2: `base64(HMAC-SHA256(key = Key + timeStamp, msg))` where `msg` is every parameter but
/// `authToken`, sorted by name, as `name=value` over the decoded values, joined by `&`.
pub(crate) fn auth_token(key: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params
        .iter()
        .filter(|(name, _)| name != "authToken")
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let msg = sorted
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let time_stamp = params
        .iter()
        .find(|(name, _)| name == "timeStamp")
        .map_or("", |(_, value)| value.as_str());
    STANDARD.encode(hmac_sha256(
        format!("{key}{time_stamp}").as_bytes(),
        msg.as_bytes(),
    ))
}

/// The URL-encoded query string of `params` (in the given order), without `authToken`.
pub(crate) fn encode_query(params: &[(String, String)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        query.append_pair(name, value);
    }
    query.finish()
}

/// The query string the marketplace sends: every parameter URL-encoded, then `authToken`
/// (itself URL-encoded, as the platform does).
pub(crate) fn signed_query(key: &str, params: &[(String, String)]) -> String {
    let token: String =
        form_urlencoded::byte_serialize(auth_token(key, params).as_bytes()).collect();
    format!("{}&authToken={token}", encode_query(params))
}

/// `saasExtendParams` before URL encoding: `base64(json array of {name, value})`.
pub(crate) fn extend_params(pairs: &[(&str, &str)]) -> String {
    let entries: Vec<serde_json::Value> = pairs
        .iter()
        .map(|(name, value)| serde_json::json!({"name": name, "value": value}))
        .collect();
    STANDARD.encode(serde_json::Value::Array(entries).to_string())
}

/// `saasExtendParams` carrying the buyer's identifier as `identificationCode` (§4.1).
pub(crate) fn identifier_param(identifier: &str) -> String {
    extend_params(&[("identificationCode", identifier)])
}

/// A `timeStamp` for now: `yyyyMMddHHmmssSSS`, UTC.
pub(crate) fn time_stamp_now() -> String {
    chrono::Utc::now().format("%Y%m%d%H%M%S%3f").to_string()
}

/// §2.4: the `Body-Sign` value the merchant must send for `body`.
pub(crate) fn body_signature(key: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(key.as_bytes(), body))
}

/// Checks a `Body-Sign` header: `sign_type="HMAC-SHA256"` and `signature="<b64>"`, both quoted,
/// and the signature equal to `HMAC-SHA256(Key, body)`.
pub(crate) fn body_sign_is_valid(key: &str, body: &[u8], header: &str) -> bool {
    let quoted = |name: &str| -> Option<&str> {
        let start = header.find(&format!("{name}=\""))? + name.len() + 2;
        let len = header.get(start..)?.find('"')?;
        header.get(start..start + len)
    };
    quoted("sign_type") == Some("HMAC-SHA256")
        && quoted("signature") == Some(body_signature(key, body).as_str())
}

/// `(name, value)` pairs from string slices.
pub(crate) fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn the_signing_helper_reproduces_the_spec_auth_token_vector() {
    let params = pairs(&[
        ("p1", "1"),
        ("p2", "2"),
        ("p3", "3"),
        ("timeStamp", "201706211855321"),
    ]);
    assert_eq!(
        auth_token(KEY, &params),
        "Ie36oyVe7z0D2/2Q8vIaIr81Uei3/AaomNhMaISDGS0="
    );
    // Order of arrival does not matter, and the token itself is never signed.
    let mut shuffled = params.clone();
    shuffled.reverse();
    shuffled.push(("authToken".into(), "ignored".into()));
    assert_eq!(auth_token(KEY, &shuffled), auth_token(KEY, &params));
}

#[test]
fn the_signing_helper_reproduces_the_spec_body_sign_vector() {
    let body = br#"{"resultCode":"000000","resultMsg":"success.","instanceId":"huaweitest123456"}"#;
    assert_eq!(
        body_signature(KEY, body),
        "e5CD71wrvq3Us8505hMALAxI+J93lCGg0g+Tl+2C9Gw="
    );
    let header =
        r#"sign_type="HMAC-SHA256", signature="e5CD71wrvq3Us8505hMALAxI+J93lCGg0g+Tl+2C9Gw=""#;
    assert!(body_sign_is_valid(KEY, body, header));
    assert!(!body_sign_is_valid("another-key", body, header));
    assert!(!body_sign_is_valid(KEY, b"{}", header));
    assert!(!body_sign_is_valid(
        KEY,
        body,
        "sign_type=HMAC-SHA256, signature=e5CD71wrvq3Us8505hMALAxI+J93lCGg0g+Tl+2C9Gw="
    ));
}

#[test]
fn the_signed_query_decodes_back_to_the_signed_values() {
    let params = pairs(&[
        ("activity", "getLicense"),
        ("customerName", "a b+c&d=e/é"),
        ("timeStamp", "20240101000000000"),
    ]);
    let query = signed_query(KEY, &params);
    let decoded: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(decoded[..3], params[..]);
    assert_eq!(decoded[3], ("authToken".into(), auth_token(KEY, &params)));
}
