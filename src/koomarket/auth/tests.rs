//! Tests for secrets, query parsing, scheme A `authToken` and `Body-Sign` (scheme B's tests
//! live next to it).

use super::*;

use chrono::TimeZone;

const KEY: &str = "test-access-key-0001";
/// §2.2 spec vector.
const SPEC_QUERY: &str = "p1=1&p2=2&p3=3&timeStamp=201706211855321";
const SPEC_TOKEN: &str = "Ie36oyVe7z0D2/2Q8vIaIr81Uei3/AaomNhMaISDGS0=";
/// Local vector (Python `hmac`) whose token contains `+`, `/` and `=`.
const PLUS_QUERY: &str = "p1=1&timeStamp=201706211855001";
const PLUS_TOKEN: &str = "yiWxD9WMKvR+/OY4rb3RLAhkhVYOPp1BOkbtMeGjXMA=";

fn key(k: &str) -> SecretKey {
    SecretKey::new(k.to_owned()).expect("valid key")
}

fn ring() -> KeyRing {
    KeyRing::single(key(KEY))
}

fn pct(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---- secrets -------------------------------------------------------------------------------

#[test]
fn secret_key_rejects_empty_and_whitespace() {
    assert_eq!(SecretKey::new(String::new()).err(), Some(KeyError::Empty));
    assert_eq!(
        SecretKey::new(format!("{KEY}\n")).err(),
        Some(KeyError::SurroundingWhitespace)
    );
    assert_eq!(
        SecretKey::new(format!(" {KEY}")).err(),
        Some(KeyError::SurroundingWhitespace)
    );
    assert!(SecretKey::new("a b".to_owned()).is_ok());
    assert_eq!(KeyRing::new(Vec::new()).err(), Some(KeyError::EmptyRing));
}

#[test]
fn debug_output_is_redacted() {
    let k = key(KEY);
    assert_eq!(format!("{k:?}"), "SecretKey(<redacted>)");
    let r = KeyRing::new(vec![key(KEY), key("old-key-value")]).expect("ring");
    let dbg = format!("{r:?} {r:#?}");
    assert!(
        !dbg.contains(KEY) && !dbg.contains("old-key-value"),
        "{dbg}"
    );
    assert_eq!(format!("{r:?}"), "KeyRing { keys: <2 redacted> }");
}

// ---- query parsing -------------------------------------------------------------------------

#[test]
fn parse_query_uses_servlet_semantics() {
    let q = parse_query("?a=1&b=x+y%20z&a=2&c&=orphan&&d=%E4%BD%A0&authToken=t1&authToken=t2");
    assert_eq!(q.get("a"), Some("1"), "first value wins");
    assert_eq!(q.get("b"), Some("x y z"), "+ and %20 decode to space");
    assert_eq!(q.get("c"), Some(""), "name without = has empty value");
    assert_eq!(q.get("d"), Some("你"));
    assert_eq!(q.get(""), None, "empty names are dropped");
    assert_eq!(q.auth_token(), Some("t1"));
    assert_eq!(q.get("authToken"), None);
    let names: Vec<_> = q.iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
}

#[test]
fn parse_query_keeps_the_first_of_many_repeats_in_any_order() {
    let q = parse_query("z=1&a=first&m=x&a=second&z=2&a=third&b=&m=y");
    assert_eq!(q.get("a"), Some("first"));
    assert_eq!(q.get("z"), Some("1"));
    assert_eq!(q.get("m"), Some("x"));
    assert_eq!(q.get("b"), Some(""));
    assert_eq!(q.get("c"), None);
    let pairs: Vec<_> = q.iter().collect();
    assert_eq!(pairs, [("a", "first"), ("b", ""), ("m", "x"), ("z", "1")]);
    assert_eq!(parse_query("").iter().count(), 0);
}

#[test]
fn query_params_debug_leaves_out_the_auth_token() {
    let q = parse_query("orderId=CS1&authToken=secret-mac-value");
    let shown = format!("{q:?}");
    assert!(shown.contains("CS1"), "{shown}");
    assert!(!shown.contains("secret-mac-value"), "{shown}");
}

#[test]
fn parse_query_replaces_invalid_utf8_lossily() {
    let q = parse_query("v=%FF%41");
    assert_eq!(q.get("v"), Some("\u{FFFD}A"));
}

// ---- scheme A ------------------------------------------------------------------------------

#[test]
fn spec_vector_auth_token() {
    let q = parse_query(SPEC_QUERY);
    assert_eq!(scheme_a_message(&q), SPEC_QUERY);
    assert_eq!(auth_token(&key(KEY), &q), SPEC_TOKEN);
    assert_eq!(auth_token(&key(KEY), &parse_query(PLUS_QUERY)), PLUS_TOKEN);
}

#[test]
fn percent_encoded_token_verifies() {
    let encoded = pct(SPEC_TOKEN);
    assert!(encoded.contains("%2F") && encoded.contains("%3D"));
    let q = parse_query(&format!("{SPEC_QUERY}&authToken={encoded}"));
    assert_eq!(verify_auth_token(&ring(), &q), Ok(0));

    let encoded = pct(PLUS_TOKEN);
    assert!(encoded.contains("%2B"));
    let q = parse_query(&format!("authToken={encoded}&{PLUS_QUERY}"));
    assert_eq!(verify_auth_token(&ring(), &q), Ok(0));
}

#[test]
fn raw_token_with_plus_turned_into_space_verifies() {
    let q = parse_query(&format!("{PLUS_QUERY}&authToken={PLUS_TOKEN}"));
    assert!(q.auth_token().is_some_and(|t| t.contains(' ')));
    assert_eq!(verify_auth_token(&ring(), &q), Ok(0));
    // Unpadded is tolerated too.
    let unpadded = PLUS_TOKEN.trim_end_matches('=');
    let q = parse_query(&format!("{PLUS_QUERY}&authToken={}", pct(unpadded)));
    assert_eq!(verify_auth_token(&ring(), &q), Ok(0));
}

#[test]
fn arrival_order_does_not_matter() {
    let q = parse_query(&format!(
        "timeStamp=201706211855321&authToken={}&p3=3&p1=1&p2=2",
        pct(SPEC_TOKEN)
    ));
    assert_eq!(verify_auth_token(&ring(), &q), Ok(0));
}

#[test]
fn unknown_extra_params_are_signed() {
    let with_extra = format!("{SPEC_QUERY}&zz=9");
    // The spec token does not cover the extra parameter …
    let q = parse_query(&format!("{with_extra}&authToken={}", pct(SPEC_TOKEN)));
    assert_eq!(verify_auth_token(&ring(), &q), Err(AuthError::Mismatch));
    // … but a token computed over everything that arrived does.
    let token = auth_token(&key(KEY), &parse_query(&with_extra));
    assert_ne!(token, SPEC_TOKEN);
    let q = parse_query(&format!("{with_extra}&authToken={}", pct(&token)));
    assert_eq!(verify_auth_token(&ring(), &q), Ok(0));
}

#[test]
fn empty_values_are_signed_as_name_equals() {
    // Local vector (Python `hmac`): msg `k=&p1=1&timeStamp=20240101000000000`.
    let expected = "KW/WseI/VuQYn8IxezA8hIBYMH03tAd4KcAHKTnMWr0=";
    for raw in [
        "k=&p1=1&timeStamp=20240101000000000",
        "p1=1&k&timeStamp=20240101000000000",
    ] {
        let q = parse_query(raw);
        assert_eq!(scheme_a_message(&q), "k=&p1=1&timeStamp=20240101000000000");
        assert_eq!(auth_token(&key(KEY), &q), expected);
    }
}

#[test]
fn values_are_signed_decoded() {
    // Local vector (Python `hmac`): msg `activity=getLicense&timeStamp=…&userName=a b+c/é`.
    let raw = "activity=getLicense&userName=a+b%2Bc%2F%C3%A9&timeStamp=20240101000000000";
    let q = parse_query(raw);
    assert_eq!(
        auth_token(&key(KEY), &q),
        "Yx8gVgDSxquqS+pXNoUXRqYmnjzLutRozVDQKmZ/fds="
    );
}

#[test]
fn wrong_key_fails_and_previous_key_reports_index() {
    let q = parse_query(&format!("{SPEC_QUERY}&authToken={}", pct(SPEC_TOKEN)));
    let wrong = KeyRing::single(key("test-access-key-0002"));
    assert_eq!(verify_auth_token(&wrong, &q), Err(AuthError::Mismatch));
    let rotated = KeyRing::new(vec![key("test-access-key-0002"), key(KEY)]).expect("ring");
    assert_eq!(verify_auth_token(&rotated, &q), Ok(1));
    let both = KeyRing::new(vec![key(KEY), key(KEY)]).expect("ring");
    assert_eq!(
        verify_auth_token(&both, &q),
        Ok(0),
        "first matching key wins"
    );
}

#[test]
fn missing_or_malformed_token_and_timestamp() {
    let r = ring();
    assert_eq!(
        verify_auth_token(&r, &parse_query(SPEC_QUERY)),
        Err(AuthError::MissingToken)
    );
    assert_eq!(
        verify_auth_token(&r, &parse_query(&format!("{SPEC_QUERY}&authToken="))),
        Err(AuthError::MissingToken)
    );
    let no_ts = format!("p1=1&authToken={}", pct(SPEC_TOKEN));
    assert_eq!(
        verify_auth_token(&r, &parse_query(&no_ts)),
        Err(AuthError::MissingTimestamp)
    );
    for bad in ["not*base64", "AAAA", &SPEC_TOKEN[..40]] {
        let q = parse_query(&format!("{SPEC_QUERY}&authToken={}", pct(bad)));
        assert_eq!(
            verify_auth_token(&r, &q),
            Err(AuthError::MalformedToken),
            "{bad}"
        );
    }
}

#[test]
fn error_messages_do_not_leak_secrets() {
    let q = parse_query(&format!("{SPEC_QUERY}&authToken={}", pct(PLUS_TOKEN)));
    let err = verify_auth_token(&ring(), &q).expect_err("mismatch");
    let msg = format!("{err} {err:?}");
    assert!(!msg.contains(KEY) && !msg.contains(SPEC_TOKEN) && !msg.contains(PLUS_TOKEN));
}

// ---- timestamp freshness -------------------------------------------------------------------

#[test]
fn time_stamp_formats() {
    let at = Utc
        .with_ymd_and_hms(2017, 6, 21, 18, 55, 32)
        .single()
        .expect("valid date");
    assert_eq!(
        parse_time_stamp("20170621185532123"),
        Some(at + TimeDelta::milliseconds(123))
    );
    assert_eq!(parse_time_stamp("20170621185532"), Some(at));
    // The §2.2 doc example is 15 digits — not a valid timeStamp.
    for bad in [
        "201706211855321",
        "",
        "2017062118553212a",
        "20171321185532123",
        "20170621245532123",
        "-0170621185532123",
    ] {
        assert_eq!(parse_time_stamp(bad), None, "{bad:?}");
    }
}

#[test]
fn freshness_window_both_directions() {
    let now = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 5, 0)
        .single()
        .expect("valid date");
    let five_min = std::time::Duration::from_secs(300);
    let check = |ts: &str| check_timestamp_freshness(ts, now, five_min);
    assert_eq!(check("20240101000500000"), Ok(()));
    assert_eq!(check("20240101000000000"), Ok(()));
    assert_eq!(check("20240101001000000"), Ok(()));
    assert_eq!(check("20231231235959999"), Err(AuthError::Stale));
    assert_eq!(check("20240101001000001"), Err(AuthError::Stale));
    assert_eq!(check("20240101000500"), Ok(()));
    assert_eq!(check("201706211855321"), Err(AuthError::BadTimestamp));
    assert_eq!(
        check_timestamp_freshness("20000101000000000", now, std::time::Duration::MAX),
        Ok(())
    );
}

// ---- Body-Sign -----------------------------------------------------------------------------

const BODY: &[u8] =
    br#"{"resultCode":"000000","resultMsg":"success.","instanceId":"huaweitest123456"}"#;
const BODY_SIG: &str = "e5CD71wrvq3Us8505hMALAxI+J93lCGg0g+Tl+2C9Gw=";

#[test]
fn spec_vector_body_sign() {
    assert_eq!(body_signature(&key(KEY), BODY), BODY_SIG);
    assert_eq!(
        body_sign_header_value(&key(KEY), BODY),
        format!("sign_type=\"HMAC-SHA256\", signature=\"{BODY_SIG}\"")
    );
}

#[test]
fn body_sign_header_variants_parse() {
    let expected = Some(("HMAC-SHA256".to_owned(), BODY_SIG.to_owned()));
    for v in [
        format!("sign_type=\"HMAC-SHA256\", signature=\"{BODY_SIG}\""),
        format!("sign_type=\"HMAC-SHA256\", signature= \"{BODY_SIG}\""),
        format!("sign_type=\"HMAC-SHA256\",signature=\"{BODY_SIG}\""),
        format!("  sign_type = \"HMAC-SHA256\" ,\tSignature=\"{BODY_SIG}\"  "),
        format!("signature=\"{BODY_SIG}\", sign_type=\"HMAC-SHA256\", extra=\"x\""),
    ] {
        assert_eq!(parse_body_sign_header(&v), expected, "{v}");
        assert!(verify_body_signature(&key(KEY), BODY, &v), "{v}");
    }
}

#[test]
fn body_sign_header_rejects_malformed() {
    for v in [
        String::new(),
        format!("sign_type=HMAC-SHA256, signature=\"{BODY_SIG}\""),
        format!("sign_type=\"HMAC-SHA256\", signature={BODY_SIG}"),
        format!("sign_type=\"HMAC-SHA256\" signature=\"{BODY_SIG}\""),
        format!("sign_type=\"HMAC-SHA256\", signature=\"{BODY_SIG}"),
        "sign_type=\"HMAC-SHA256\"".to_owned(),
        format!("signature=\"{BODY_SIG}\""),
    ] {
        assert_eq!(parse_body_sign_header(&v), None, "{v}");
        assert!(!verify_body_signature(&key(KEY), BODY, &v), "{v}");
    }
}

#[test]
fn body_sign_verification_fails_on_any_change() {
    let header = body_sign_header_value(&key(KEY), BODY);
    assert!(verify_body_signature(&key(KEY), BODY, &header));
    assert!(!verify_body_signature(&key("other-key"), BODY, &header));
    assert!(!verify_body_signature(&key(KEY), b"{}", &header));
    let md5 = header.replace("HMAC-SHA256", "HMAC-MD5");
    assert!(!verify_body_signature(&key(KEY), BODY, &md5));
    let short = format!(
        "sign_type=\"HMAC-SHA256\", signature=\"{}\"",
        &BODY_SIG[..40]
    );
    assert!(!verify_body_signature(&key(KEY), BODY, &short));
}
