//! Known-answer vectors for revocation lists (`tests/vectors/revocations.json`) and status
//! answers (`tests/vectors/status.json`): their generator, the check that the verifier gives
//! the recorded answer for each, and that regenerating changes nothing.
//!
//! Regenerate with
//! `KOOLICENSE_REGENERATE_VECTORS=1 cargo test -p koolicense-verify --test verify -- --ignored regenerate_list_and_status_vectors`.

use ed25519_dalek::{Signer as _, SigningKey};
use koolicense_verify::{
    armor_revocation_list, Claims, EntryStatus, LicenseId, LicenseState, ListStamp, PublicKey,
    RevocationEntry, RevocationList, StatusAnswer, Verifier, DEFAULT_LEEWAY_SECS,
    DEFAULT_MAX_LIST_AGE_SECS,
};
use serde_json::{json, Value};

use crate::support::*;

const LISTS: &str = include_str!("../vectors/revocations.json");
const STATUS: &str = include_str!("../vectors/status.json");
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/");
const NOW: u64 = T0 + 100 * DAY;

fn id(n: u8) -> LicenseId {
    let mut id = *b"\x5a\x11\x0c\x3e\x9b\x27\x4f\x61\x80\x42\x13\x77\x2d\xc4\x00\x00";
    id[15] = n;
    LicenseId(id)
}

fn signed_list(key: &SigningKey, sequence: u64, issued_at: u64) -> String {
    let entry = |n, revoked_below, status| RevocationEntry {
        license_id: id(n),
        revoked_below,
        status,
    };
    let list = RevocationList::new(
        sequence,
        issued_at,
        vec![
            entry(0x21, u32::MAX, EntryStatus::Revoked),
            entry(0x22, u32::MAX, EntryStatus::Suspended),
            entry(0x23, 3, EntryStatus::Superseded),
            entry(0x24, u32::MAX, EntryStatus::Released),
        ],
    );
    let unsigned = list.to_unsigned(&kid(key));
    unsigned.finish(&key.sign(&unsigned.message()).to_bytes())
}

/// A list case; `outcome` is `ok` or the error the verifier must give (checked when the file is
/// generated).
fn list_case(name: &str, outcome: &str, list: &str, now: u64, last: Option<(u64, u64)>) -> Value {
    let mut case = json!({
        "name": name,
        "outcome": outcome,
        "list": list,
        "public_key_pem": TEST_PUBLIC_PEM,
        "now": now,
    });
    if let Some((sequence, issued_at)) = last {
        case["last"] = json!({"sequence": sequence, "issued_at": issued_at});
    }
    case
}

fn with_license(mut case: Value, n: u8, revision: u32) -> Value {
    case["license"] = json!({"license_id": id(n).to_string(), "revision": revision});
    case
}

fn list_cases() -> Vec<Value> {
    let key = test_key();
    let fresh = signed_list(&key, 7, NOW - 600);
    let mut cases = vec![
        list_case("a fresh list", "ok", &fresh, NOW, None),
        list_case(
            "the armoured form",
            "ok",
            &armor_revocation_list(&fresh),
            NOW,
            None,
        ),
        list_case("a newer sequence", "ok", &fresh, NOW, Some((6, NOW - 4000))),
        list_case(
            "a newer sequence signed in the same second",
            "ok",
            &fresh,
            NOW,
            Some((6, NOW - 600)),
        ),
        list_case(
            "the same content re-signed later",
            "ok",
            &fresh,
            NOW,
            Some((7, NOW - 4200)),
        ),
        list_case(
            "the list accepted last, replayed",
            "Stale",
            &fresh,
            NOW,
            Some((7, NOW - 600)),
        ),
        list_case(
            "an older sequence signed later",
            "Stale",
            &fresh,
            NOW,
            Some((8, NOW - 4200)),
        ),
        list_case(
            "a newer sequence signed earlier",
            "Stale",
            &fresh,
            NOW,
            Some((6, NOW)),
        ),
        list_case(
            "one second before the maximum age plus leeway",
            "ok",
            &fresh,
            NOW - 600 + DEFAULT_MAX_LIST_AGE_SECS + DEFAULT_LEEWAY_SECS - 1,
            None,
        ),
        list_case(
            "at the maximum age plus leeway",
            "ListTooOld",
            &fresh,
            NOW - 600 + DEFAULT_MAX_LIST_AGE_SECS + DEFAULT_LEEWAY_SECS,
            None,
        ),
        list_case(
            "a license list given as a revocation list",
            "WrongObjectKind",
            typical_token(),
            NOW,
            None,
        ),
    ];
    for (n, revision, what, outcome) in [
        (0x21, 1, "a revoked license", "Revoked"),
        (0x22, 5, "a suspended license", "Revoked"),
        (0x23, 2, "a superseded token", "Revoked"),
        (0x23, 3, "the reissued token", "ok"),
        (0x24, 1, "a released license", "Revoked"),
        (0x25, 1, "a license not listed", "ok"),
    ] {
        cases.push(with_license(
            list_case(&format!("checking {what}"), outcome, &fresh, NOW, None),
            n,
            revision,
        ));
    }
    for case in &mut cases {
        let outcome = case.as_object_mut().unwrap().remove("outcome").unwrap();
        let name = case["name"].as_str().unwrap().to_owned();
        case["expect"] = recorded(check_list(case), outcome.as_str().unwrap(), &name);
    }
    cases
}

fn answer(revision: u32, revoked_below: u32, state: LicenseState) -> StatusAnswer {
    StatusAnswer {
        server_time: NOW,
        license_id: id(0x31),
        revision,
        state,
        current_revision: 2,
        revoked_below,
        expires_at: Some(NOW + 200 * DAY),
        nonce: "3f9a1c0d5e7b2a4c".into(),
    }
}

fn signed_answer(key: &SigningKey, answer: &StatusAnswer, v1: bool) -> String {
    let unsigned = if v1 {
        answer.to_unsigned_v1(&kid(key))
    } else {
        answer.to_unsigned(&kid(key))
    }
    .unwrap();
    unsigned.finish(&key.sign(&unsigned.message()).to_bytes())
}

/// A status case; `outcome` is `ok` or the error the verifier must give.
fn status_case(name: &str, outcome: &str, text: &str, nonce: &str, n: u8, revision: u32) -> Value {
    let mut case = json!({
        "name": name,
        "answer": text,
        "public_key_pem": TEST_PUBLIC_PEM,
        "nonce": nonce,
        "license": {"license_id": id(n).to_string(), "revision": revision},
    });
    case["expect"] = recorded(check_status(&case), outcome, name);
    case
}

/// The verifier's answer, after checking that it is the intended one.
fn recorded(answer: Value, outcome: &str, name: &str) -> Value {
    let got = answer["error"].as_str().unwrap_or("ok");
    assert_eq!(got, outcome, "{name}");
    answer
}

fn status_cases() -> Vec<Value> {
    let key = test_key();
    let current = signed_answer(&key, &answer(2, 2, LicenseState::Valid), false);
    let nonce = "3f9a1c0d5e7b2a4c";
    vec![
        status_case(
            "a valid answer about our token",
            "ok",
            &current,
            nonce,
            0x31,
            2,
        ),
        status_case(
            "a revoked answer about our token",
            "ok",
            &signed_answer(&key, &answer(2, 2, LicenseState::Revoked), false),
            nonce,
            0x31,
            2,
        ),
        status_case(
            "another nonce (a replay)",
            "NonceMismatch",
            &current,
            "0000000000000000",
            0x31,
            2,
        ),
        status_case(
            "an answer about the current token for a superseded one",
            "StatusMismatch",
            &current,
            nonce,
            0x31,
            1,
        ),
        status_case(
            "an answer about another license",
            "StatusMismatch",
            &current,
            nonce,
            0x32,
            2,
        ),
        status_case(
            "our token below the revocation floor",
            "Revoked",
            &signed_answer(&key, &answer(1, 2, LicenseState::Valid), false),
            nonce,
            0x31,
            1,
        ),
        status_case(
            "a format 1 answer",
            "UnsupportedVersion",
            &signed_answer(&key, &answer(2, 2, LicenseState::Valid), true),
            nonce,
            0x31,
            2,
        ),
        status_case(
            "a status answer signed by an unknown key",
            "UnknownKey",
            &signed_answer(&other_key(), &answer(2, 2, LicenseState::Valid), false),
            nonce,
            0x31,
            2,
        ),
    ]
}

fn verifier_of(case: &Value) -> Verifier {
    Verifier::new([PublicKey::parse(case["public_key_pem"].as_str().unwrap()).unwrap()])
}

fn error_name(error: &koolicense_verify::Error) -> String {
    format!("{error:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

fn claims_of(case: &Value) -> Option<Claims> {
    let license = case.get("license")?;
    let mut claims = claims();
    claims.license_id = LicenseId::parse(license["license_id"].as_str().unwrap()).unwrap();
    claims.revision = u32::try_from(license["revision"].as_u64().unwrap()).unwrap();
    Some(claims)
}

/// The verifier's answer to a list case.
fn check_list(case: &Value) -> Value {
    let verifier = verifier_of(case);
    let text = case["list"].as_str().unwrap();
    let now = case["now"].as_u64().unwrap();
    let last = case.get("last").map(|l| ListStamp {
        sequence: l["sequence"].as_u64().unwrap(),
        issued_at: l["issued_at"].as_u64().unwrap(),
    });
    let result = verifier
        .verify_revocation_list(text, now, last)
        .and_then(|list| match claims_of(case) {
            Some(claims) => list.check(&claims).map(|()| list),
            None => Ok(list),
        });
    match result {
        Ok(list) => json!({"ok": {
            "sequence": list.sequence,
            "issued_at": list.issued_at,
            "entries": list.entries().map(|e| json!({
                "license_id": e.license_id.to_string(),
                "revoked_below": e.revoked_below,
                "status": format!("{:?}", e.status).to_lowercase(),
            })).collect::<Vec<_>>(),
        }}),
        Err(e) => json!({"error": error_name(&e)}),
    }
}

/// The verifier's answer to a status case.
fn check_status(case: &Value) -> Value {
    let verifier = verifier_of(case);
    let claims = claims_of(case).unwrap();
    match verifier.verify_status(
        case["answer"].as_str().unwrap(),
        case["nonce"].as_str().unwrap(),
        &claims,
    ) {
        Ok(a) => json!({"ok": {
            "server_time": a.server_time,
            "license_id": a.license_id.to_string(),
            "revision": a.revision,
            "state": a.state.as_str(),
            "current_revision": a.current_revision,
            "revoked_below": a.revoked_below,
            "expires_at": a.expires_at,
            "nonce": a.nonce,
        }}),
        Err(e) => json!({"error": error_name(&e)}),
    }
}

fn render(cases: Vec<Value>) -> String {
    serde_json::to_string_pretty(&Value::Array(cases)).unwrap() + "\n"
}

#[test]
fn list_and_status_vectors_verify_as_recorded() {
    for (file, check) in [
        (LISTS, check_list as fn(&Value) -> Value),
        (STATUS, check_status),
    ] {
        let cases: Value = serde_json::from_str(file).unwrap();
        for case in cases.as_array().unwrap() {
            assert_eq!(check(case), case["expect"], "{}", case["name"]);
        }
    }
}

#[test]
fn list_and_status_vectors_name_every_new_error_kind() {
    let names = |file: &str| {
        let cases: Value = serde_json::from_str(file).unwrap();
        cases
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["expect"]["error"].as_str().map(String::from))
            .collect::<Vec<_>>()
    };
    let lists = names(LISTS);
    for kind in ["Stale", "ListTooOld", "Revoked", "WrongObjectKind"] {
        assert!(lists.iter().any(|n| n == kind), "{kind}");
    }
    let status = names(STATUS);
    for kind in [
        "NonceMismatch",
        "StatusMismatch",
        "Revoked",
        "UnsupportedVersion",
        "UnknownKey",
    ] {
        assert!(status.iter().any(|n| n == kind), "{kind}");
    }
}

#[test]
fn regenerating_the_list_and_status_vectors_reproduces_the_files() {
    assert!(
        render(list_cases()) == LISTS && render(status_cases()) == STATUS,
        "tests/vectors/revocations.json or status.json differs from the generator; if intended, \
         run KOOLICENSE_REGENERATE_VECTORS=1 cargo test -p koolicense-verify --test verify -- \
         --ignored regenerate_list_and_status_vectors"
    );
}

#[test]
#[ignore = "rewrites tests/vectors/revocations.json and status.json"]
fn regenerate_list_and_status_vectors() {
    if std::env::var_os("KOOLICENSE_REGENERATE_VECTORS").is_none() {
        eprintln!("set KOOLICENSE_REGENERATE_VECTORS=1 to rewrite the files in {DIR}");
        return;
    }
    std::fs::write(format!("{DIR}revocations.json"), render(list_cases())).unwrap();
    std::fs::write(format!("{DIR}status.json"), render(status_cases())).unwrap();
}
