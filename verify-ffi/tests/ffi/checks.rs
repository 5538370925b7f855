//! Revocation lists, status answers, test licenses and the clock mark through the C ABI, tried
//! the way a customer who wants more than he paid for would.

use std::ptr;

use koolicense_verify::{EntryStatus, LicenseState};
use koolicense_verify_ffi::clock::{
    koolicense_check_clock, koolicense_check_revocation_guarded, koolicense_mark_load,
    koolicense_mark_store, koolicense_verify_status_guarded,
};
use koolicense_verify_ffi::revocation::koolicense_check_revocation;
use koolicense_verify_ffi::status::koolicense_verify_status;
use koolicense_verify_ffi::verifier::koolicense_verify_guarded;
use koolicense_verify_ffi::{
    KoolicenseLicenseState, KoolicenseListStamp, KoolicenseStatus, KoolicenseStatusAnswer,
    KOOLICENSE_ALLOW_TEST_LICENSES, KOOLICENSE_DEFAULT_MAX_LIST_AGE_SECS,
};

use crate::issuer::{self, DAY, T0};
use crate::support::{outcome, Claims, Failed, Host, Verifier};

fn verifier() -> Verifier {
    Verifier::new(&issuer::public_pem(), 300).expect("issuer key")
}

fn verified(verifier: &Verifier, id: u8, revision: u32) -> Claims {
    let token = issuer::license(&issuer::claims(id, revision, false));
    verifier
        .verify(token, T0 + DAY, None, None)
        .expect("a good license")
}

fn check_revocation(
    verifier: &Verifier,
    list: &str,
    now: u64,
    last: Option<KoolicenseListStamp>,
    claims: &Claims,
) -> Result<KoolicenseListStamp, Failed> {
    let mut stamp = KoolicenseListStamp::default();
    let mut error = ptr::null_mut();
    let last_ptr = last.as_ref().map_or(ptr::null(), |l| l as *const _);
    // SAFETY: live handles, valid text and outputs.
    let status = unsafe {
        koolicense_check_revocation(
            verifier.0,
            list.as_ptr(),
            list.len(),
            now,
            last_ptr,
            claims.0,
            &mut stamp,
            &mut error,
        )
    };
    outcome(status, error).map(|()| stamp)
}

fn verify_status(
    verifier: &Verifier,
    answer: &str,
    nonce: &str,
    claims: &Claims,
) -> Result<KoolicenseStatusAnswer, Failed> {
    let mut out = KoolicenseStatusAnswer {
        state: KoolicenseLicenseState::Other,
        revision: 0,
        current_revision: 0,
        revoked_below: 0,
        server_time: 0,
        expires_at: 0,
    };
    let mut error = ptr::null_mut();
    // SAFETY: live handles, valid text and outputs.
    let status = unsafe {
        koolicense_verify_status(
            verifier.0,
            answer.as_ptr(),
            answer.len(),
            nonce.as_ptr(),
            nonce.len(),
            claims.0,
            &mut out,
            &mut error,
        )
    };
    outcome(status, error).map(|()| out)
}

#[test]
fn a_revocation_list_revokes_the_listed_license_and_returns_its_stamp_for_others() {
    let verifier = verifier();
    let list = issuer::revocation_list(5, T0 + DAY, &[(0x22, EntryStatus::Revoked)]);
    let mine = verified(&verifier, 0x11, 1);
    let stamp = check_revocation(&verifier, &list, T0 + DAY, None, &mine).expect("not listed");
    assert_eq!(
        stamp,
        KoolicenseListStamp {
            sequence: 5,
            issued_at: T0 + DAY
        }
    );
    let revoked = verified(&verifier, 0x22, 1);
    let failed = check_revocation(&verifier, &list, T0 + DAY, None, &revoked).expect_err("listed");
    assert_eq!(
        (failed.status, failed.kind.as_str()),
        (KoolicenseStatus::Revoked, "Revoked")
    );
}

#[test]
fn an_old_revocation_list_cannot_be_replayed_to_undo_a_revocation() {
    let verifier = verifier();
    let claims = verified(&verifier, 0x22, 1);
    let newer = issuer::revocation_list(6, T0 + 2 * DAY, &[(0x22, EntryStatus::Revoked)]);
    let older = issuer::revocation_list(5, T0 + DAY, &[]);
    let failed =
        check_revocation(&verifier, &newer, T0 + 2 * DAY, None, &claims).expect_err("revoked");
    assert_eq!(failed.kind, "Revoked");
    let last = KoolicenseListStamp {
        sequence: 6,
        issued_at: T0 + 2 * DAY,
    };
    let failed =
        check_revocation(&verifier, &older, T0 + 2 * DAY, Some(last), &claims).expect_err("stale");
    assert_eq!(
        (failed.status, failed.kind.as_str()),
        (KoolicenseStatus::Stale, "Stale")
    );
}

#[test]
fn a_withheld_revocation_list_is_refused_once_it_is_too_old() {
    let verifier = verifier();
    let claims = verified(&verifier, 0x11, 1);
    let list = issuer::revocation_list(5, T0, &[]);
    let late = T0 + KOOLICENSE_DEFAULT_MAX_LIST_AGE_SECS + 300;
    let failed = check_revocation(&verifier, &list, late, None, &claims).expect_err("too old");
    assert_eq!(
        (failed.status, failed.kind.as_str()),
        (KoolicenseStatus::ListTooOld, "ListTooOld")
    );
    let strict = Verifier::with(&issuer::public_pem(), 300, DAY, 0).expect("issuer key");
    let claims = verified(&strict, 0x11, 1);
    let failed =
        check_revocation(&strict, &list, T0 + DAY + 300, None, &claims).expect_err("too old");
    assert_eq!(failed.kind, "ListTooOld");
}

#[test]
fn a_status_answer_is_bound_to_the_nonce_and_to_the_token_it_is_about() {
    let verifier = verifier();
    let current = verified(&verifier, 0x11, 2);
    let answer = issuer::status_answer(
        &issuer::claims(0x11, 2, false),
        2,
        LicenseState::Valid,
        "n-1",
    );
    let verified_answer = verify_status(&verifier, &answer, "n-1", &current).expect("valid");
    assert_eq!(verified_answer.state, KoolicenseLicenseState::Valid);
    assert_eq!(
        (verified_answer.revision, verified_answer.server_time),
        (2, T0 + DAY)
    );
    let failed = verify_status(&verifier, &answer, "n-2", &current).expect_err("replayed");
    assert_eq!(failed.kind, "NonceMismatch");
    let superseded = verified(&verifier, 0x11, 1);
    let failed = verify_status(&verifier, &answer, "n-1", &superseded).expect_err("other token");
    assert_eq!(
        (failed.status, failed.kind.as_str()),
        (KoolicenseStatus::StatusMismatch, "StatusMismatch")
    );
}

#[test]
fn test_licenses_are_refused_unless_the_verifier_allows_them() {
    let token = issuer::license(&issuer::claims(0x33, 1, true));
    let failed = verifier()
        .verify(&token, T0 + DAY, None, None)
        .expect_err("test license");
    assert_eq!(
        (failed.status, failed.kind.as_str()),
        (KoolicenseStatus::TestLicense, "TestLicense")
    );
    let allowing = Verifier::with(
        &issuer::public_pem(),
        300,
        KOOLICENSE_DEFAULT_MAX_LIST_AGE_SECS,
        KOOLICENSE_ALLOW_TEST_LICENSES,
    )
    .expect("issuer key");
    allowing
        .verify(&token, T0 + DAY, None, None)
        .expect("allowed");
    let failed = Verifier::with(&issuer::public_pem(), 300, 0, 0x80).expect_err("unknown flag");
    assert_eq!(failed.status, KoolicenseStatus::InvalidArgument);
}

#[test]
fn a_clock_set_back_behind_the_mark_is_refused_and_the_mark_only_rises() {
    let verifier = verifier();
    let token = issuer::license(&issuer::claims(0x11, 1, false));
    let host = Host::new(None, None).expect("empty host");
    let guarded = |now: u64, mark: &mut u64| {
        let mut error = ptr::null_mut();
        // SAFETY: live handles, valid text and outputs; `mark` is a valid cell.
        let status = unsafe {
            koolicense_verify_guarded(
                verifier.0,
                token.as_ptr(),
                token.len(),
                now,
                ptr::null(),
                0,
                host.0,
                mark,
                ptr::null_mut(),
                &mut error,
            )
        };
        outcome(status, error)
    };
    let mut mark = 0;
    guarded(T0 + 10 * DAY, &mut mark).expect("first run");
    assert_eq!(mark, T0 + 10 * DAY);
    let failed = guarded(T0 + 2 * DAY, &mut mark).expect_err("clock set back");
    assert_eq!(
        (failed.status, failed.kind.as_str()),
        (KoolicenseStatus::ClockBehind, "ClockBehind")
    );
    assert_eq!(mark, T0 + 10 * DAY, "a refused run does not lower the mark");
    guarded(T0 + 10 * DAY - 300, &mut mark).expect("within the leeway");
    assert_eq!(mark, T0 + 10 * DAY);
    // A failing verdict still raises the mark: an expired license keeps time moving.
    let expired = T0 + 400 * DAY;
    assert_eq!(
        guarded(expired, &mut mark).expect_err("expired").kind,
        "Expired"
    );
    assert_eq!(mark, expired);
}

#[test]
fn the_mark_file_round_trips_and_a_corrupt_one_is_an_error_not_a_reset() {
    let dir = std::env::temp_dir().join(format!("koolicense-ffi-mark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("mark");
    let path = path.to_str().expect("UTF-8 path");
    let load = || {
        let mut mark = 7;
        let mut error = ptr::null_mut();
        // SAFETY: valid text and outputs.
        let status =
            unsafe { koolicense_mark_load(path.as_ptr(), path.len(), &mut mark, &mut error) };
        outcome(status, error).map(|()| mark)
    };
    let _ = std::fs::remove_file(path);
    assert_eq!(load().expect("missing file"), 0);
    let mut error = ptr::null_mut();
    // SAFETY: valid text and outputs.
    let status = unsafe { koolicense_mark_store(path.as_ptr(), path.len(), T0, &mut error) };
    outcome(status, error).expect("stored");
    assert_eq!(load().expect("stored mark"), T0);
    std::fs::write(path, "yesterday").expect("corrupt");
    let failed = load().expect_err("corrupt file");
    assert_eq!(
        (failed.status, failed.kind.as_str()),
        (KoolicenseStatus::Io, "Io")
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn signed_times_of_lists_and_answers_raise_the_mark_so_a_clock_set_back_is_refused() {
    let verifier = verifier();
    let claims = verified(&verifier, 0x11, 1);
    let signed_at = T0 + 20 * DAY;
    let list = issuer::revocation_list(5, signed_at, &[]);
    let mut mark = 0;
    let mut stamp = KoolicenseListStamp::default();
    let mut error = ptr::null_mut();
    // SAFETY: live handles, valid text and outputs; `mark` is a valid cell.
    let status = unsafe {
        koolicense_check_revocation_guarded(
            verifier.0,
            list.as_ptr(),
            list.len(),
            signed_at,
            ptr::null(),
            claims.0,
            &mut mark,
            &mut stamp,
            &mut error,
        )
    };
    outcome(status, error).expect("not listed");
    assert_eq!((mark, stamp.issued_at), (signed_at, signed_at));
    let failed = check_clock(&verifier, T0 + 2 * DAY, mark).expect_err("clock set back");
    assert_eq!(
        (failed.status, failed.kind.as_str()),
        (KoolicenseStatus::ClockBehind, "ClockBehind")
    );

    // An answer signed at T0 + DAY, checked on a clock still at T0: the server's time wins.
    let answer = issuer::status_answer(
        &issuer::claims(0x11, 1, false),
        1,
        LicenseState::Valid,
        "n-1",
    );
    let mut mark = 0;
    let mut out = KoolicenseStatusAnswer {
        state: KoolicenseLicenseState::Other,
        revision: 0,
        current_revision: 0,
        revoked_below: 0,
        server_time: 0,
        expires_at: 0,
    };
    let mut error = ptr::null_mut();
    // SAFETY: live handles, valid text and outputs; `mark` is a valid cell.
    let status = unsafe {
        koolicense_verify_status_guarded(
            verifier.0,
            answer.as_ptr(),
            answer.len(),
            "n-1".as_ptr(),
            3,
            claims.0,
            T0,
            &mut mark,
            &mut out,
            &mut error,
        )
    };
    outcome(status, error).expect("valid answer");
    assert_eq!((mark, out.server_time), (T0 + DAY, T0 + DAY));
    assert_eq!(
        check_clock(&verifier, T0, mark).expect_err("behind").kind,
        "ClockBehind"
    );
}

fn check_clock(verifier: &Verifier, now: u64, mark: u64) -> Result<(), Failed> {
    let mut error = ptr::null_mut();
    // SAFETY: a live verifier and a valid error cell.
    let status = unsafe { koolicense_check_clock(verifier.0, now, mark, &mut error) };
    outcome(status, error)
}
