//! The known-answer vectors for revocation lists and status answers, through the C ABI.

use std::ptr;

use koolicense_verify::LicenseId;
use koolicense_verify_ffi::revocation::*;
use koolicense_verify_ffi::status::koolicense_verify_status_for_license;
use koolicense_verify_ffi::{KoolicenseLicenseState, KoolicenseListStamp, KoolicenseStatusAnswer};
use serde_json::{json, Value};

use crate::support::{outcome, Failed, Verifier};

const LISTS: &str = include_str!("../../../verify/tests/vectors/revocations.json");
const ANSWERS: &str = include_str!("../../../verify/tests/vectors/status.json");

fn verifier(case: &Value) -> Verifier {
    Verifier::new(case["public_key_pem"].as_str().expect("key"), 300).expect("key parses")
}

fn license(case: &Value) -> Option<(String, u32)> {
    let license = case.get("license")?;
    let id = license["license_id"].as_str().expect("id").to_string();
    let revision = u32::try_from(license["revision"].as_u64().expect("revision")).expect("u32");
    Some((id, revision))
}

fn error(failed: Failed) -> Value {
    json!({"error": failed.kind})
}

/// What the C ABI answers for a list case, in the vectors' form.
fn list_answer(case: &Value) -> Value {
    let verifier = verifier(case);
    let text = case["list"].as_str().expect("list");
    let last = case.get("last").map(|l| KoolicenseListStamp {
        sequence: l["sequence"].as_u64().expect("sequence"),
        issued_at: l["issued_at"].as_u64().expect("issued_at"),
    });
    let last_ptr = last.as_ref().map_or(ptr::null(), |l| l as *const _);
    let mut list = ptr::null_mut();
    let mut failure = ptr::null_mut();
    // SAFETY: a live verifier, valid text and outputs.
    let status = unsafe {
        koolicense_verify_revocation_list(
            verifier.0,
            text.as_ptr(),
            text.len(),
            case["now"].as_u64().expect("now"),
            last_ptr,
            &mut list,
            &mut failure,
        )
    };
    if let Err(failed) = outcome(status, failure) {
        return error(failed);
    }
    // SAFETY: `list` is the live handle just created, freed once at the end.
    unsafe {
        if let Some((id, revision)) = license(case) {
            let mut failure = ptr::null_mut();
            let status = koolicense_revocation_list_check_license(
                list,
                id.as_ptr(),
                id.len(),
                revision,
                &mut failure,
            );
            if let Err(failed) = outcome(status, failure) {
                koolicense_revocation_list_free(list);
                return error(failed);
            }
        }
        let stamp = koolicense_revocation_list_stamp(list);
        let mut entries = Vec::new();
        let mut entry = std::mem::MaybeUninit::<KoolicenseRevocationEntry>::uninit();
        while koolicense_revocation_list_entry(list, entries.len(), entry.as_mut_ptr()) {
            let e = entry.assume_init();
            let status = format!("{:?}", e.status).to_lowercase();
            entries.push(json!({
                "license_id": LicenseId(e.license_id).to_string(),
                "revoked_below": e.revoked_below,
                "status": status,
            }));
        }
        assert_eq!(entries.len(), koolicense_revocation_list_len(list));
        koolicense_revocation_list_free(list);
        json!({"ok": {"sequence": stamp.sequence, "issued_at": stamp.issued_at, "entries": entries}})
    }
}

/// What the C ABI answers for a status case, in the vectors' form.
fn status_answer(case: &Value) -> Value {
    let verifier = verifier(case);
    let (id, revision) = license(case).expect("a status case names its license");
    let (answer, nonce) = (
        case["answer"].as_str().expect("answer"),
        case["nonce"].as_str().expect("nonce"),
    );
    let mut out = KoolicenseStatusAnswer {
        state: KoolicenseLicenseState::Other,
        revision: 0,
        current_revision: 0,
        revoked_below: 0,
        server_time: 0,
        expires_at: 0,
    };
    let mut failure = ptr::null_mut();
    // SAFETY: a live verifier, valid text and outputs.
    let status = unsafe {
        koolicense_verify_status_for_license(
            verifier.0,
            answer.as_ptr(),
            answer.len(),
            nonce.as_ptr(),
            nonce.len(),
            id.as_ptr(),
            id.len(),
            revision,
            &mut out,
            &mut failure,
        )
    };
    match outcome(status, failure) {
        Err(failed) => error(failed),
        Ok(()) => json!({"ok": {
            "server_time": out.server_time,
            "license_id": id,
            "revision": out.revision,
            "state": format!("{:?}", out.state).to_lowercase(),
            "current_revision": out.current_revision,
            "revoked_below": out.revoked_below,
            "expires_at": if out.expires_at == 0 { Value::Null } else { json!(out.expires_at) },
            "nonce": nonce,
        }}),
    }
}

#[test]
fn every_revocation_list_vector_gets_its_recorded_answer_through_the_c_abi() {
    let cases: Vec<Value> = serde_json::from_str(LISTS).expect("vectors parse");
    assert!(cases.len() > 10);
    for case in &cases {
        assert_eq!(list_answer(case), case["expect"], "{}", case["name"]);
    }
}

#[test]
fn every_status_answer_vector_gets_its_recorded_answer_through_the_c_abi() {
    let cases: Vec<Value> = serde_json::from_str(ANSWERS).expect("vectors parse");
    assert!(cases.len() > 5);
    for case in &cases {
        assert_eq!(status_answer(case), case["expect"], "{}", case["name"]);
    }
}
