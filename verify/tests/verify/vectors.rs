//! Known-answer vectors (`tests/vectors/licenses.json`): their generator, and the check that
//! the verifier gives the recorded answer for each and that regenerating changes nothing.
//!
//! Regenerate with
//! `KOOLICENSE_REGENERATE_VECTORS=1 cargo test -p koolicense-verify --test verify -- --ignored regenerate_known_answer_vectors`.

use koolicense_verify::{
    Binding, Claims, ClockMark, Error, HardwareId, Host, PublicKey, Verifier, DEFAULT_LEEWAY_SECS,
};
use serde_json::{json, Value};

use crate::support::*;
use crate::vectors_cases::{cases, Case, Expect, Text};

const RECORDED: &str = include_str!("../vectors/licenses.json");
const RECORDED_V1: &str = include_str!("../vectors/v1/licenses.json");
const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/licenses.json");

/// Output order of object keys (serde_json's maps are sorted alphabetically otherwise).
const KEY_ORDER: &[&str] = &[
    "name",
    "token",
    "armored",
    "public_key_pem",
    "now",
    "leeway",
    "product",
    "allow_test",
    "mark",
    "host",
    "hardware_identifier",
    "system_identifier",
    "expect",
    "ok",
    "error",
    "license_id",
    "revision",
    "instance_id",
    "order_id",
    "product_id",
    "sku_code",
    "customer_id",
    "trial",
    "test",
    "issued_at",
    "not_before",
    "expires_at",
    "quantity",
    "features",
    "binding",
    "kind",
    "identifier",
    "sha256",
    "min_match",
    "salt",
    "hashes",
    "anchor",
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The claims as the vector file records them.
pub(crate) fn claims_json(c: &Claims) -> Value {
    let binding = match &c.binding {
        Binding::None => json!({"kind": "none"}),
        Binding::System(code) => json!({"kind": "system", "identifier": code}),
        Binding::SystemDigest(digest) => json!({"kind": "system_digest", "sha256": hex(digest)}),
        Binding::Hardware(hw) => {
            let mut binding = json!({
                "kind": "hardware",
                "min_match": hw.min_match,
                "salt": hex(&hw.salt),
                "hashes": hw.hashes.iter()
                    .map(|component| component.iter().map(|h| hex(h)).collect::<Vec<_>>())
                    .collect::<Vec<_>>(),
            });
            if let Some(anchor) = hw.anchor {
                binding["anchor"] = json!(anchor.name());
            }
            binding
        }
        other => panic!("no JSON form for {other:?}"),
    };
    json!({
        "license_id": c.license_id.to_string(),
        "revision": c.revision,
        "instance_id": c.instance_id,
        "order_id": c.order_id,
        "product_id": c.product_id,
        "sku_code": c.sku_code,
        "customer_id": c.customer_id,
        "trial": c.trial,
        "test": c.test,
        "issued_at": c.issued_at,
        "not_before": c.not_before,
        "expires_at": c.expires_at,
        "quantity": c.quantity,
        "features": c.features,
        "binding": binding,
    })
}

/// The name of an error variant, as recorded: `Expired { .. }` → `Expired`.
fn variant(error: &Error) -> String {
    format!("{error:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

fn case_json(case: &Case) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("name".into(), json!(case.name));
    match &case.text {
        Text::Token(token) => out.insert("token".into(), json!(token)),
        Text::Armored(text) => out.insert("armored".into(), json!(text)),
    };
    out.insert("public_key_pem".into(), json!(case.public_key_pem));
    out.insert("now".into(), json!(case.now));
    if let Some(leeway) = case.leeway {
        out.insert("leeway".into(), json!(leeway));
    }
    if let Some(product) = case.product {
        out.insert("product".into(), json!(product));
    }
    if case.allow_test {
        out.insert("allow_test".into(), json!(true));
    }
    if let Some(mark) = case.mark {
        out.insert("mark".into(), json!(mark));
    }
    if let Some(host) = &case.host {
        let mut h = serde_json::Map::new();
        if let Some(hw) = host.hardware {
            h.insert("hardware_identifier".into(), json!(hw));
        }
        if let Some(sys) = &host.system {
            h.insert("system_identifier".into(), json!(sys));
        }
        out.insert("host".into(), Value::Object(h));
    }
    let expect = match &case.expect {
        Expect::Ok(claims) => json!({"ok": claims_json(&as_verified(claims))}),
        Expect::Error(name) => json!({"error": name}),
    };
    out.insert("expect".into(), expect);
    Value::Object(out)
}

fn write_json(out: &mut String, value: &Value, depth: usize) {
    let pad = |out: &mut String, depth: usize| out.push_str(&"  ".repeat(depth));
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            for key in &keys {
                assert!(KEY_ORDER.contains(&key.as_str()), "key {key} has no place");
            }
            keys.sort_by_key(|k| KEY_ORDER.iter().position(|o| o == k));
            out.push_str("{\n");
            for (i, key) in keys.iter().enumerate() {
                pad(out, depth + 1);
                out.push_str(&serde_json::to_string(key).unwrap());
                out.push_str(": ");
                write_json(out, &map[key.as_str()], depth + 1);
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            pad(out, depth);
            out.push('}');
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                pad(out, depth + 1);
                write_json(out, item, depth + 1);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(out, depth);
            out.push(']');
        }
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|i| serde_json::to_string(i).unwrap())
                .collect();
            out.push_str(&format!("[{}]", items.join(", ")));
        }
        scalar => out.push_str(&serde_json::to_string(scalar).unwrap()),
    }
}

/// The vector file as the generator writes it.
fn render() -> String {
    let cases: Vec<Value> = cases().iter().map(case_json).collect();
    let mut out = String::new();
    write_json(&mut out, &Value::Array(cases), 0);
    out.push('\n');
    out
}

/// Runs one recorded case through the verifier and compares the outcome. `allow_test` accepts
/// test licenses whatever the case says (version 1 verifiers had no test-license policy).
fn check(case: &Value, allow_test: bool) {
    let name = case["name"].as_str().unwrap();
    let key = PublicKey::parse(case["public_key_pem"].as_str().unwrap()).unwrap();
    let leeway = case
        .get("leeway")
        .map_or(DEFAULT_LEEWAY_SECS, |l| l.as_u64().unwrap());
    let mut verifier = Verifier::new([key]).with_leeway(leeway);
    if let Some(product) = case.get("product") {
        verifier = verifier.expect_product(product.as_str().unwrap());
    }
    if allow_test || case.get("allow_test") == Some(&Value::Bool(true)) {
        verifier = verifier.allow_test_licenses();
    }
    let mark = ClockMark::new(case.get("mark").map_or(0, |m| m.as_u64().unwrap()));
    let text = case
        .get("token")
        .or_else(|| case.get("armored"))
        .and_then(Value::as_str)
        .unwrap();
    let now = case["now"].as_u64().unwrap();
    let result = verifier
        .check_clock(now, mark)
        .and_then(|()| match case.get("host") {
            None => verifier.verify(text, now),
            Some(host) => {
                let hardware = host
                    .get("hardware_identifier")
                    .map(|h| HardwareId::parse(h.as_str().unwrap()).unwrap());
                let host = Host {
                    hardware: hardware.as_ref(),
                    system_identifier: host.get("system_identifier").and_then(Value::as_str),
                };
                verifier.verify_on(text, now, &host)
            }
        });
    let expect = &case["expect"];
    match (result, expect.get("ok"), expect.get("error")) {
        (Ok(claims), Some(recorded), None) => {
            assert_eq!(&claims_json(&claims), recorded, "{name}");
        }
        (Err(e), None, Some(recorded)) => {
            assert_eq!(variant(&e), recorded.as_str().unwrap(), "{name}: {e}");
        }
        (outcome, _, _) => panic!("{name}: got {outcome:?}, recorded {expect}"),
    }
}

#[test]
fn known_answer_vectors_verify_as_recorded() {
    let recorded: Value = serde_json::from_str(RECORDED).unwrap();
    let cases = recorded.as_array().unwrap();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    for case in cases {
        check(case, false);
    }
    let both = |kind: &str| {
        cases
            .iter()
            .filter(|c| c["expect"].get(kind).is_some())
            .count()
    };
    assert!(both("ok") >= 10 && both("error") >= 10);
}

/// The version 1 vectors, frozen as the version 1 verifier recorded them: every license a
/// delivered program holds still gets the same answer (test licenses need
/// [`Verifier::allow_test_licenses`] now, which is how the check runs them).
#[test]
fn version_1_compatibility_vectors_still_verify_as_recorded() {
    let recorded: Value = serde_json::from_str(RECORDED_V1).unwrap();
    let cases = recorded.as_array().unwrap();
    assert_eq!(cases.len(), 41);
    for case in cases {
        check(case, true);
    }
}

#[test]
fn regenerating_the_vectors_reproduces_the_file_byte_for_byte() {
    let generated = render();
    assert!(
        generated == RECORDED,
        "tests/vectors/licenses.json differs from the generator; if the change is intended, run \
         KOOLICENSE_REGENERATE_VECTORS=1 cargo test -p koolicense-verify --test verify -- \
         --ignored regenerate_known_answer_vectors"
    );
}

#[test]
#[ignore = "rewrites tests/vectors/licenses.json; run with KOOLICENSE_REGENERATE_VECTORS=1"]
fn regenerate_known_answer_vectors() {
    if std::env::var_os("KOOLICENSE_REGENERATE_VECTORS").is_none() {
        eprintln!("set KOOLICENSE_REGENERATE_VECTORS=1 to rewrite {PATH}");
        return;
    }
    std::fs::write(PATH, render()).unwrap();
    eprintln!("wrote {PATH}");
}

#[test]
fn every_recorded_hardware_identifier_parses() {
    let recorded: Value = serde_json::from_str(RECORDED).unwrap();
    for case in recorded.as_array().unwrap() {
        if let Some(hw) = case.get("host").and_then(|h| h.get("hardware_identifier")) {
            assert!(
                HardwareId::parse(hw.as_str().unwrap()).is_ok(),
                "{}",
                case["name"]
            );
        }
    }
}
