//! Tests for APIG request signing: the §2.7 vectors and local vectors from an independent
//! Python re-implementation of the gateway signer.

use super::*;
use chrono::TimeZone;

const DATE: &str = "20240317T144237Z";
const ACTIVATE: &str =
    "https://mkt.myhuaweicloud.com/api/mkp-openapi-public/global/v1/license/activate";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn creds() -> ApigCredentials {
    let sk = SecretKey::new("123".to_owned()).expect("valid SK");
    ApigCredentials::new("test".to_owned(), sk).expect("valid AK")
}

fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// Checks canonical request, string to sign and the full header set.
fn check(
    (method, url, hdrs, body): (&str, &str, &[(&str, &str)], &[u8]),
    canonical: &str,
    sts: &str,
    signature: &str,
) {
    let hdrs = headers(hdrs);
    let cr = canonical_request(method, url, &hdrs, body, DATE).expect("canonical");
    assert_eq!(cr, canonical);
    assert_eq!(string_to_sign(DATE, &cr), sts);
    let signed = sign_request(&creds(), method, url, &hdrs, body, DATE).expect("signed");
    let signed_names = canonical.lines().nth_back(1).expect("signed headers line");
    assert_eq!(signed.x_sdk_date, DATE);
    assert_eq!(
        signed.authorization,
        format!("SDK-HMAC-SHA256 Access=test, SignedHeaders={signed_names}, Signature={signature}")
    );
}

#[test]
fn spec_vector_with_x_stage() {
    check(
        (
            "POST",
            ACTIVATE,
            &[("x-stage", "RELEASE"), ("Content-Type", "application/json")],
            b"",
        ),
        &format!(
            "POST\n/api/mkp-openapi-public/global/v1/license/activate/\n\n\
             content-type:application/json\nhost:mkt.myhuaweicloud.com\n\
             x-sdk-date:20240317T144237Z\nx-stage:RELEASE\n\n\
             content-type;host;x-sdk-date;x-stage\n{EMPTY_SHA256}"
        ),
        "SDK-HMAC-SHA256\n20240317T144237Z\n\
         9a33b07351104f6c775075faa7dc0db58ec18bc532feaa8fd0b8fcf7990b1a9e",
        "77595ad624b6e4e49990b8c4e84bf1c287457fca61069c4e60b9b6765b52053d",
    );
}

#[test]
fn spec_vector_without_x_stage() {
    check(
        (
            "POST",
            ACTIVATE,
            &[("Content-Type", "application/json")],
            b"",
        ),
        &format!(
            "POST\n/api/mkp-openapi-public/global/v1/license/activate/\n\n\
             content-type:application/json\nhost:mkt.myhuaweicloud.com\n\
             x-sdk-date:20240317T144237Z\n\n\
             content-type;host;x-sdk-date\n{EMPTY_SHA256}"
        ),
        "SDK-HMAC-SHA256\n20240317T144237Z\n\
         38becfc22c95bd7b2fc411905d62b4b34a6ec057eeffc107cdc10bcd4645089e",
        "6dbe528da4cb33aa976ce22d6262d5c23b46bf9ebba18720c2330b38ac1bd8c5",
    );
}

/// §6.7 order query; local vector (independent Python re-implementation).
#[test]
fn order_query_string_is_sorted() {
    check(
        (
            "GET",
            "https://mkt.myhuaweicloud.com/api/mkp-openapi-public/global/v1/order/query?orderLineId=CS1-000001&orderId=CS1",
            &[("Content-Type", "application/json;charset=UTF-8")],
            b"",
        ),
        &format!(
            "GET\n/api/mkp-openapi-public/global/v1/order/query/\n\
             orderId=CS1&orderLineId=CS1-000001\n\
             content-type:application/json;charset=UTF-8\nhost:mkt.myhuaweicloud.com\n\
             x-sdk-date:20240317T144237Z\n\n\
             content-type;host;x-sdk-date\n{EMPTY_SHA256}"
        ),
        "SDK-HMAC-SHA256\n20240317T144237Z\n\
         293ce9478bdb3bae0111325da0e80352722016efa51568194cc54fb66048167c",
        "2ff362fe721a4c2954f1478677be4d4bd12a3211a285a09932181df9468490fa",
    );
}

/// Encoding edge cases; local vector (independent Python re-implementation).
#[test]
fn encoding_edge_cases() {
    check(
        (
            "get",
            "https://mkt.myhuaweicloud.com:8443/api/a%20b/%E4%BD%A0?b=2&a=x%20y&a=1&c=&d&e=%7E~+&&=z#frag",
            &[("X-Custom", "  v  ")],
            br#"{"license":"PLXXXXXX"}"#,
        ),
        "GET\n/api/a%20b/%E4%BD%A0/\na=1&a=x%20y&b=2&c=&d=&e=~~%2B\n\
         host:mkt.myhuaweicloud.com:8443\nx-custom:v\nx-sdk-date:20240317T144237Z\n\n\
         host;x-custom;x-sdk-date\n\
         3e414c5e8434e4efeb16b0ab2d599390f9d7d358f943193cf068fe17b865ace3",
        "SDK-HMAC-SHA256\n20240317T144237Z\n\
         773f7c9c12a477f82e7b51afe0c9e69dfd726831fb71bfcab50237eaf9ffc5df",
        "082f785a9784ddb51b917ed1301bd31eec9c1b3b5de17a237f72923d2b468f83",
    );
}

#[test]
fn returned_headers_and_overrides() {
    let hdrs = headers(&[
        ("Host", "evil.example"),
        ("X-Sdk-Date", "19700101T000000Z"),
        ("Authorization", "x"),
        ("Content-Type", "application/json"),
        ("content-type", "text/plain"),
    ]);
    let signed = sign_request(&creds(), "POST", ACTIVATE, &hdrs, b"", DATE).expect("signed");
    assert_eq!(signed.host, "mkt.myhuaweicloud.com");
    // Same result as the spec vector: derived host/date win, first duplicate wins.
    assert!(signed
        .authorization
        .ends_with("Signature=6dbe528da4cb33aa976ce22d6262d5c23b46bf9ebba18720c2330b38ac1bd8c5"));
    let names: Vec<_> = signed.iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["X-Sdk-Date", "Host", "Authorization"]);
}

#[test]
fn path_forms() {
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(canonical_uri("/"), "/");
    assert_eq!(canonical_uri("/a/b/"), "/a/b/");
    assert_eq!(
        canonical_uri("/v1/market-event/e%2Fv/file"),
        "/v1/market-event/e/v/file/"
    );
    assert_eq!(canonical_query(""), "");
    assert_eq!(canonical_query("a=1=2&b=%2b+"), "a=1%3D2&b=%2B%2B");
    let cr = canonical_request("GET", "http://localhost?x=1", &[], b"", DATE).expect("cr");
    assert!(cr.starts_with("GET\n/\nx=1\nhost:localhost\n"), "{cr}");
}

#[test]
fn rejects_bad_input() {
    let sign = |method: &str, url: &str, hdrs: &[(&str, &str)], date: &str| {
        sign_request(&creds(), method, url, &headers(hdrs), b"", date).err()
    };
    for url in [
        "mkt.myhuaweicloud.com/x",
        "ftp://mkt.myhuaweicloud.com/x",
        "https:///x",
        "https://user@mkt.myhuaweicloud.com/x",
        "https://mkt.myhuaweicloud.com/a b",
        "https://:443/x",
    ] {
        assert_eq!(
            sign("GET", url, &[], DATE),
            Some(ApigError::InvalidUrl),
            "{url}"
        );
    }
    assert_eq!(
        sign("", ACTIVATE, &[], DATE),
        Some(ApigError::InvalidMethod)
    );
    assert_eq!(
        sign("PO ST", ACTIVATE, &[], DATE),
        Some(ApigError::InvalidMethod)
    );
    for hdr in [("", "v"), ("a b", "v"), ("x", "a\r\nInjected: 1")] {
        assert_eq!(
            sign("GET", ACTIVATE, &[hdr], DATE),
            Some(ApigError::InvalidHeader)
        );
    }
    for date in [
        "",
        "20240317144237Z",
        "20240317T144237",
        "20241317T144237Z",
        "2024031xT144237Z",
    ] {
        assert_eq!(
            sign("GET", ACTIVATE, &[], date),
            Some(ApigError::BadSdkDate),
            "{date}"
        );
    }
    let sk = || SecretKey::new("123".to_owned()).expect("valid SK");
    for ak in ["", "a b", "a,b", "a\n"] {
        assert_eq!(
            ApigCredentials::new(ak.to_owned(), sk()).err(),
            Some(ApigError::InvalidAccessKey)
        );
    }
}

#[test]
fn sdk_date_helpers() {
    let at = Utc
        .with_ymd_and_hms(2016, 6, 29, 10, 14, 59)
        .single()
        .expect("valid date");
    assert_eq!(format_sdk_date(at), "20160629T101459Z");
    let now = sdk_date_now();
    assert_eq!(check_sdk_date(&now), Ok(()), "{now}");
}

#[test]
fn debug_is_redacted() {
    let dbg = format!("{:?}", creds());
    assert_eq!(
        dbg,
        "ApigCredentials { access_key: <redacted>, secret_key: <redacted> }"
    );
    assert_eq!(creds().access_key(), "test");
}
