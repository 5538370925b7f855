//! The clock's high-water mark raised by the issuer's signed times: a revocation list or status
//! answer signed at T makes a later verification at a clock set back before T (by more than the
//! leeway) fail with `ClockBehind`, even on a machine that never ran at T itself.

use ed25519_dalek::Signer as _;
use koolicense_verify::{
    ClockMark, EntryStatus, Error, Host, LicenseState, RevocationEntry, RevocationList,
    StatusAnswer, DEFAULT_LEEWAY_SECS,
};

use crate::support::*;

/// When the issuer signed the list or answer: 200 days after the typical license was issued.
const SIGNED_AT: u64 = T0 + 200 * DAY;
/// A clock set back to a day the license was comfortably valid, well behind `SIGNED_AT`.
const SET_BACK: u64 = T0 + 10 * DAY;

fn signed_list(entries: Vec<RevocationEntry>) -> String {
    let key = test_key();
    let unsigned = RevocationList::new(7, SIGNED_AT, entries).to_unsigned(&kid(&key));
    unsigned.finish(&key.sign(&unsigned.message()).to_bytes())
}

fn signed_answer(nonce: &str) -> String {
    let claims = claims();
    let answer = StatusAnswer {
        server_time: SIGNED_AT,
        license_id: claims.license_id,
        revision: claims.revision,
        state: LicenseState::Valid,
        current_revision: claims.revision,
        revoked_below: 0,
        expires_at: claims.expires_at,
        nonce: nonce.into(),
    };
    let key = test_key();
    let unsigned = answer.to_unsigned(&kid(&key)).unwrap();
    unsigned.finish(&key.sign(&unsigned.message()).to_bytes())
}

fn assert_clock_behind(mark: ClockMark, now: u64) {
    let result = verifier().verify_guarded(typical_token(), now, &Host::default(), &mut { mark });
    match result {
        Err(Error::ClockBehind {
            now: seen,
            mark: at,
        }) => {
            assert_eq!((seen, at), (now, mark.get()));
        }
        other => panic!("expected ClockBehind, got {other:?}"),
    }
}

#[test]
fn a_checked_revocation_list_raises_the_mark_to_its_signing_time() {
    let verifier = verifier();
    let mut mark = ClockMark::new(0);
    let stamp = verifier
        .check_revocation_guarded(
            &signed_list(Vec::new()),
            SIGNED_AT,
            None,
            &claims(),
            &mut mark,
        )
        .unwrap();
    assert_eq!(stamp.issued_at, SIGNED_AT);
    assert_eq!(mark.get(), SIGNED_AT);
    assert!(
        verifier.verify(typical_token(), SET_BACK).is_ok(),
        "valid then, unguarded"
    );
    assert_clock_behind(mark, SET_BACK);
    assert_clock_behind(mark, SIGNED_AT - DEFAULT_LEEWAY_SECS - 1);
}

#[test]
fn a_list_that_revokes_the_license_still_raises_the_mark() {
    let entry = RevocationEntry {
        license_id: claims().license_id,
        revoked_below: u32::MAX,
        status: EntryStatus::Revoked,
    };
    let mut mark = ClockMark::new(0);
    let verdict = verifier().check_revocation_guarded(
        &signed_list(vec![entry]),
        SIGNED_AT,
        None,
        &claims(),
        &mut mark,
    );
    assert!(matches!(verdict, Err(Error::Revoked)), "{verdict:?}");
    assert_eq!(mark.get(), SIGNED_AT);
}

#[test]
fn a_list_signed_ahead_of_a_clock_set_back_raises_the_mark_past_it() {
    // The list is young enough to be accepted at the set-back clock only with a long maximum
    // age; the mark still moves to the list's signing time, not merely to the clock.
    let verifier = verifier().with_max_list_age(365 * DAY);
    let mut mark = ClockMark::new(0);
    let now = SIGNED_AT - 10;
    let list = verifier
        .verify_revocation_list_guarded(&signed_list(Vec::new()), now, None, &mut mark)
        .unwrap();
    assert_eq!((list.issued_at, mark.get()), (SIGNED_AT, SIGNED_AT));
    assert_clock_behind(mark, SET_BACK);
}

#[test]
fn a_verified_status_answer_raises_the_mark_to_the_server_time() {
    let nonce = "3f9a1c0d5e7b2a4c";
    let mut mark = ClockMark::new(0);
    let answer = verifier()
        .verify_status_guarded(&signed_answer(nonce), nonce, &claims(), SET_BACK, &mut mark)
        .unwrap();
    assert_eq!(answer.state, LicenseState::Valid);
    assert_eq!(
        mark.get(),
        SIGNED_AT,
        "the server's time, not the local clock"
    );
    assert_clock_behind(mark, SET_BACK);
    let within_leeway = SIGNED_AT - DEFAULT_LEEWAY_SECS;
    assert!(verifier().check_clock(within_leeway, mark).is_ok());
}

#[test]
fn a_replayed_answer_does_not_raise_the_mark_but_the_local_clock_does() {
    let mut mark = ClockMark::new(0);
    let verdict = verifier().verify_status_guarded(
        &signed_answer("old-nonce"),
        "fresh-nonce",
        &claims(),
        SET_BACK,
        &mut mark,
    );
    assert!(matches!(verdict, Err(Error::NonceMismatch)), "{verdict:?}");
    assert_eq!(mark.get(), SET_BACK);
}

#[test]
fn the_guarded_list_and_status_checks_refuse_a_clock_behind_the_mark() {
    let mut mark = ClockMark::new(SIGNED_AT);
    let nonce = "3f9a1c0d5e7b2a4c";
    let list = verifier().check_revocation_guarded(
        &signed_list(Vec::new()),
        SET_BACK,
        None,
        &claims(),
        &mut mark,
    );
    assert!(matches!(list, Err(Error::ClockBehind { .. })), "{list:?}");
    let answer = verifier().verify_status_guarded(
        &signed_answer(nonce),
        nonce,
        &claims(),
        SET_BACK,
        &mut mark,
    );
    assert!(
        matches!(answer, Err(Error::ClockBehind { .. })),
        "{answer:?}"
    );
    assert_eq!(
        mark.get(),
        SIGNED_AT,
        "a refused clock never lowers the mark"
    );
}

#[test]
fn observing_a_list_only_ever_raises_the_mark() {
    let list = RevocationList::new(1, SIGNED_AT, Vec::new());
    let mut mark = ClockMark::new(SIGNED_AT + 1);
    assert!(!mark.observe_list(&list));
    assert_eq!(mark.get(), SIGNED_AT + 1);
    let mut fresh = ClockMark::new(0);
    assert!(fresh.observe_list(&list));
    assert_eq!(fresh.get(), SIGNED_AT);
}
