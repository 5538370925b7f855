//! `saasExtendParams` (spec §3.1, §3.5, §4.1): the JSON array `[{"name":…,"value":…},…]` the
//! marketplace sends as `urlEncode(base64(json))`, and the buyer's `identificationCode`
//! (系统识别码/硬件识别码) that License 1.0 `getLicense` delivers inside it.
//!
//! The input is the value as returned by `auth::parse_query`, i.e. already form-decoded once.
//! Which encoding layers actually arrive is not pinned down by the docs (single vs. double
//! URL-encoding, raw `+` turned into a space, standard vs. URL-safe base64, padding, MIME line
//! breaks), so every such form is accepted; base64 text never contains `%` or spaces, which
//! makes undoing the extra layers unambiguous.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::percent;

/// Documented maximum length of `saasExtendParams` (String, len 2048).
pub(crate) const MAX_EXTEND_PARAMS_LEN: usize = 2048;

/// Documented name of the buyer's system/hardware identifier entry (§4.1).
const IDENTIFICATION_CODE: &str = "identificationCode";

/// Extra percent-decoding passes after the servlet decode (covers double and triple encoding).
const MAX_PERCENT_PASSES: usize = 3;

/// Decodes padded or unpadded base64, trailing bits allowed.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Why `saasExtendParams` could not be decoded. Never contains the value (it may carry
/// customer data such as e-mail addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ExtendError {
    #[error("saasExtendParams is empty")]
    Empty,
    #[error("saasExtendParams is longer than {MAX_EXTEND_PARAMS_LEN} characters")]
    TooLong,
    #[error("saasExtendParams is not base64")]
    NotBase64,
    #[error("saasExtendParams does not decode to JSON")]
    NotJson,
    #[error("saasExtendParams is not a JSON array")]
    NotArray,
    #[error("saasExtendParams entry {index} is not an object with a string \"name\"")]
    BadEntry { index: usize },
}

/// Decodes `saasExtendParams` into its `(name, value)` pairs, in order.
///
/// Steps: reject empty or over-long input; percent-decode again while `%XX` escapes remain
/// (without mapping `+` to space — a `+` here is base64); map spaces back to `+` (a raw `+`
/// that the servlet decode turned into a space) and drop CR/LF/TAB (MIME-wrapped base64);
/// base64-decode (standard or URL-safe alphabet, padded or not); parse a JSON array of
/// objects. A string `value` is returned as is, a missing or `null` value as `""`, any other
/// JSON value (number, bool, object, array) as its compact JSON text.
pub(crate) fn decode_extend_params(value: &str) -> Result<Vec<(String, String)>, ExtendError> {
    if value.trim().is_empty() {
        return Err(ExtendError::Empty);
    }
    if value.chars().count() > MAX_EXTEND_PARAMS_LEN {
        return Err(ExtendError::TooLong);
    }
    let mut text = value.to_owned();
    for _ in 0..MAX_PERCENT_PASSES {
        if !percent::has_escape(text.as_bytes()) {
            break;
        }
        text = String::from_utf8(percent::decode(text.as_bytes()))
            .map_err(|_| ExtendError::NotBase64)?;
    }
    let mut b64 = String::with_capacity(text.len());
    b64.extend(
        text.chars()
            .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
            .map(|c| if c == ' ' { '+' } else { c }),
    );
    let engine = if b64.contains(['-', '_']) {
        &LENIENT_URL_SAFE
    } else {
        &LENIENT_STANDARD
    };
    let json = engine.decode(&b64).map_err(|_| ExtendError::NotBase64)?;
    let json = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&json);
    // The common case without a `Value` tree; anything it refuses is parsed again below, so
    // the error says exactly what is wrong.
    if let Ok(entries) = serde_json::from_slice::<Vec<Entry>>(json) {
        return Ok(entries.into_iter().map(|e| (e.name, e.value)).collect());
    }
    let parsed: Value = serde_json::from_slice(json).map_err(|_| ExtendError::NotJson)?;
    let Value::Array(entries) = parsed else {
        return Err(ExtendError::NotArray);
    };
    entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| entry_pair(entry).ok_or(ExtendError::BadEntry { index }))
        .collect()
}

/// One well-formed entry, as `entry_pair` reads it: an object with a string `name` (the last
/// one if repeated, like a `Value` map) and a `value` turned into text the same way.
struct Entry {
    name: String,
    value: String,
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object with a string \"name\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let (mut name, mut value) = (None, None);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Name => name = Some(map.next_value::<Value>()?),
                Key::Value => value = Some(map.next_value::<Value>()?),
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let Some(Value::String(name)) = name else {
            return Err(A::Error::custom("no string \"name\""));
        };
        Ok(Entry {
            name,
            value: value_text(value),
        })
    }
}

/// An entry's key, read without allocating.
enum Key {
    Name,
    Value,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "name" => Key::Name,
                    "value" => Key::Value,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// A string `value` as is, a missing or `null` one as `""`, anything else as compact JSON.
fn value_text(value: Option<Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

fn entry_pair(entry: Value) -> Option<(String, String)> {
    let Value::Object(mut obj) = entry else {
        return None;
    };
    let Some(Value::String(name)) = obj.remove("name") else {
        return None;
    };
    Some((name, value_text(obj.remove("value"))))
}

/// The buyer's identifier from decoded `saasExtendParams`: the trimmed value of the
/// `identificationCode` entry (exact name, as documented in §4.1); if no entry has that exact
/// name, the first whose name matches case-insensitively (`identificationcode`,
/// `IdentificationCode`, …). `None` if absent or blank.
pub(crate) fn identification_code(params: &[(String, String)]) -> Option<&str> {
    params
        .iter()
        .find(|(name, _)| name.trim() == IDENTIFICATION_CODE)
        .or_else(|| {
            params
                .iter()
                .find(|(name, _)| name.trim().eq_ignore_ascii_case(IDENTIFICATION_CODE))
        })
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::koomarket::auth::parse_query;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use proptest::prelude::*;

    /// §3.5 upgrade example.
    const SPEC_EXAMPLE: &str = "W3sibmFtZSI6ImlkTnVtIiwidmFsdWUiOiIzNTIyNTU1NTU1NTU2NTYifSx7Im5hbWUiOiJ1c2VyTmFtZSIsInZhbHVlIjoiaHVhd2VpMTIzIn0seyJuYW1lIjoiY3VzdEVtYWlsIiwidmFsdWUiOiIxMjNAaHVhd2VpLmNvbSJ9XQ==";

    fn url_encode(s: &str) -> String {
        form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// What the handler sees for `saasExtendParams=<raw>` in the query string.
    fn via_query(raw: &str) -> String {
        parse_query(&format!("activity=getLicense&saasExtendParams={raw}"))
            .get("saasExtendParams")
            .expect("parameter present")
            .to_owned()
    }

    #[test]
    fn entries_read_without_a_value_tree_match_the_value_reading() {
        // Repeated keys (the last wins), extra keys, escaped key names, every JSON type as a
        // value, and documents only the slow path can explain.
        let documents = [
            r#"[{"name":"a","value":"1"},{"value":"2","name":"b","x":[1,{"y":null}]}]"#,
            r#"[{"name":"a","name":"b","value":"1","value":"2"}]"#,
            r#"[{"n\u0061me":"escaped","v\u0061lue":"too"}]"#,
            r#"[{"name":"n","value":1.5e3},{"name":"b","value":true},{"name":"o","value":{"k":[1,2]}}]"#,
            r#"[{"name":"null","value":null},{"name":"missing"}]"#,
            r#"[{"name":"a"},{"value":"no name"}]"#,
            r#"[{"name":"a","name":1}]"#,
            r#"[{"name":"a"}] trailing"#,
            r#"[]"#,
        ];
        for json in documents {
            let expected = match serde_json::from_str::<Value>(json) {
                Err(_) => Err(ExtendError::NotJson),
                Ok(Value::Array(entries)) => entries
                    .into_iter()
                    .enumerate()
                    .map(|(index, e)| entry_pair(e).ok_or(ExtendError::BadEntry { index }))
                    .collect(),
                Ok(_) => Err(ExtendError::NotArray),
            };
            assert_eq!(
                decode_extend_params(&STANDARD.encode(json)),
                expected,
                "{json}"
            );
        }
    }

    #[test]
    fn spec_upgrade_example() {
        let expected = pairs(&[
            ("idNum", "352255555555656"),
            ("userName", "huawei123"),
            ("custEmail", "123@huawei.com"),
        ]);
        assert_eq!(decode_extend_params(SPEC_EXAMPLE), Ok(expected.clone()));
        assert_eq!(
            decode_extend_params(&via_query(&url_encode(SPEC_EXAMPLE))),
            Ok(expected)
        );
    }

    #[test]
    fn identification_code_round_trips_through_every_encoding() {
        for code in ["ABCD-1234", "ABCD-1234>>?~", "HW-ID ~?> 0x3F?"] {
            let json = format!(r#"[{{"name":"identificationCode","value":"{code}"}}]"#);
            let b64 = STANDARD.encode(&json);
            let once = url_encode(&b64);
            let forms = [
                b64.clone(),                   // already decoded by the servlet
                via_query(&once),              // urlEncode(base64) — the documented form
                via_query(&url_encode(&once)), // double encoded
                via_query(&b64),               // sent raw: `+` arrives as a space
                once.clone(),                  // handed over without the servlet decode
                URL_SAFE_NO_PAD.encode(&json), // URL-safe, unpadded
                b64.trim_end_matches('=').to_owned(),
                b64.as_bytes()
                    .chunks(16)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join("\r\n"), // MIME line breaks
            ];
            for form in forms {
                let decoded = decode_extend_params(&form).expect(&form);
                assert_eq!(decoded, pairs(&[("identificationCode", code)]), "{form}");
                assert_eq!(identification_code(&decoded), Some(code));
            }
        }
        // The cases above are meaningful: the encodings exercise `+`, `/` and `=`.
        let b64 = STANDARD.encode(r#"[{"name":"identificationCode","value":"HW-ID ~?> 0x3F?"}]"#);
        assert!(b64.contains('+') && b64.contains('/'));
        assert!(via_query(&b64).contains(' '));
        assert!(STANDARD
            .encode(r#"[{"name":"identificationCode","value":"ABCD-1234>>?~"}]"#)
            .ends_with("=="));
    }

    #[test]
    fn non_string_values_become_compact_json() {
        let json = r#"[{"name":"amount","value":5},{"name":"flag","value":true},
            {"name":"obj","value":{"a": [1, 2.5]}},{"name":"nil","value":null},{"name":"none"}]"#;
        assert_eq!(
            decode_extend_params(&STANDARD.encode(json)),
            Ok(pairs(&[
                ("amount", "5"),
                ("flag", "true"),
                ("obj", r#"{"a":[1,2.5]}"#),
                ("nil", ""),
                ("none", ""),
            ]))
        );
    }

    #[test]
    fn bom_and_empty_array_are_accepted() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(br#"[{"name":"a","value":"b"}]"#);
        assert_eq!(
            decode_extend_params(&STANDARD.encode(bytes)),
            Ok(pairs(&[("a", "b")]))
        );
        assert_eq!(decode_extend_params(&STANDARD.encode("[]")), Ok(Vec::new()));
    }

    #[test]
    fn errors() {
        use ExtendError::*;
        let b64 = |s: &str| STANDARD.encode(s);
        assert_eq!(decode_extend_params(""), Err(Empty));
        assert_eq!(decode_extend_params(" \r\n"), Err(Empty));
        assert_eq!(decode_extend_params(&"A".repeat(2049)), Err(TooLong));
        assert_eq!(decode_extend_params("!!!!"), Err(NotBase64));
        assert_eq!(decode_extend_params("W3+-"), Err(NotBase64));
        assert_eq!(decode_extend_params("%FF%FE"), Err(NotBase64));
        assert_eq!(decode_extend_params(&b64("hello")), Err(NotJson));
        assert_eq!(
            decode_extend_params(&STANDARD.encode([0xFF, 0x5B])),
            Err(NotJson)
        );
        assert_eq!(decode_extend_params(&b64(r#"{"name":"a"}"#)), Err(NotArray));
        assert_eq!(decode_extend_params(&b64(r#""x""#)), Err(NotArray));
        assert_eq!(
            decode_extend_params(&b64(r#"[{"name":"a"},{"value":"b"}]"#)),
            Err(BadEntry { index: 1 })
        );
        assert_eq!(
            decode_extend_params(&b64(r#"[{"name":1,"value":"b"}]"#)),
            Err(BadEntry { index: 0 })
        );
        assert_eq!(
            decode_extend_params(&b64(r#"["x"]"#)),
            Err(BadEntry { index: 0 })
        );
        // 2048 characters is still allowed (and fails later, on content).
        assert_eq!(decode_extend_params(&"A".repeat(2048)), Err(NotJson));
    }

    #[test]
    fn identification_code_lookup() {
        let exact = pairs(&[
            ("identificationcode", "lower"),
            ("identificationCode", " X1 "),
        ]);
        assert_eq!(identification_code(&exact), Some("X1"));
        for name in [
            "identificationcode",
            "IdentificationCode",
            " IDENTIFICATIONCODE ",
        ] {
            assert_eq!(identification_code(&pairs(&[(name, "abc")])), Some("abc"));
        }
        assert_eq!(identification_code(&pairs(&[("idNum", "1")])), None);
        assert_eq!(
            identification_code(&pairs(&[("identificationCode", "  ")])),
            None
        );
        assert_eq!(identification_code(&[]), None);
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,300}|[A-Za-z0-9+/=% _-]{0,300}") {
            let _ = decode_extend_params(&s);
        }

        #[test]
        fn arbitrary_pairs_round_trip(list in proptest::collection::vec(("\\PC{0,12}", "\\PC{0,12}"), 0..6)) {
            let json = serde_json::to_string(
                &list
                    .iter()
                    .map(|(n, v)| serde_json::json!({"name": n, "value": v}))
                    .collect::<Vec<_>>(),
            )
            .expect("serialisable");
            let encoded = url_encode(&STANDARD.encode(json));
            prop_assume!(encoded.len() <= MAX_EXTEND_PARAMS_LEN);
            prop_assert_eq!(decode_extend_params(&via_query(&encoded)), Ok(list));
        }
    }
}
