//! Every known-answer vector, through the exported functions.

use koolicense_verify_ffi::{KOOLICENSE_ALLOW_TEST_LICENSES, KOOLICENSE_DEFAULT_MAX_LIST_AGE_SECS};
use serde_json::Value;

use crate::support::{Host, Verifier};

pub(crate) const VECTORS: &str = include_str!("../../../verify/tests/vectors/licenses.json");
/// The version 1 vectors, as delivered verifiers recorded them (test licenses were accepted).
const VECTORS_V1: &str = include_str!("../../../verify/tests/vectors/v1/licenses.json");

fn run(case: &Value, allow_test: bool) {
    let name = case["name"].as_str().expect("name");
    let leeway = case
        .get("leeway")
        .map_or(300, |l| l.as_u64().expect("leeway"));
    let allow_test = allow_test || case.get("allow_test") == Some(&Value::Bool(true));
    let flags = if allow_test {
        KOOLICENSE_ALLOW_TEST_LICENSES
    } else {
        0
    };
    let pem = case["public_key_pem"].as_str().expect("key");
    let verifier = Verifier::with(pem, leeway, KOOLICENSE_DEFAULT_MAX_LIST_AGE_SECS, flags)
        .expect("the vector's key parses");
    let mark = case.get("mark").map_or(0, |m| m.as_u64().expect("mark"));
    let token = case
        .get("token")
        .or_else(|| case.get("armored"))
        .and_then(Value::as_str)
        .expect("token");
    let now = case["now"].as_u64().expect("now");
    let product = case.get("product").and_then(Value::as_str);
    let host = case.get("host").map(|host| {
        let field = |key: &str| host.get(key).and_then(Value::as_str);
        Host::new(field("hardware_identifier"), field("system_identifier")).expect("host")
    });
    let result = verifier
        .check_clock(now, mark)
        .and_then(|()| verifier.verify(token, now, product, host.as_ref()));
    let expect = &case["expect"];
    match (result, expect.get("ok"), expect.get("error")) {
        (Ok(claims), Some(recorded), None) => {
            assert_eq!(&claims.json(), recorded, "{name}");
            assert_eq!(
                claims.product_id().as_ref(),
                recorded["product_id"].as_str().map(String::from).as_ref()
            );
        }
        (Err(failed), None, Some(recorded)) => {
            assert_eq!(
                Some(failed.kind.as_str()),
                recorded.as_str(),
                "{name}: {failed:?}"
            );
            assert!(!failed.message.is_empty());
        }
        (outcome, _, _) => panic!("{name}: got {outcome:?}, recorded {expect}"),
    }
}

#[test]
fn every_known_answer_vector_verifies_as_recorded_through_the_c_abi() {
    let cases: Vec<Value> = serde_json::from_str(VECTORS).expect("vectors parse");
    assert!(cases.len() > 40);
    for case in &cases {
        run(case, false);
    }
}

#[test]
fn every_version_1_vector_still_verifies_as_recorded_through_the_c_abi() {
    let cases: Vec<Value> = serde_json::from_str(VECTORS_V1).expect("vectors parse");
    assert_eq!(cases.len(), 41);
    for case in &cases {
        run(case, true);
    }
}
