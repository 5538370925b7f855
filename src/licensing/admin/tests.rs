use std::sync::{Arc, Barrier};

use chrono::Utc;

use super::*;
use crate::licensing::policy::Policy;
use crate::licensing::{create, NewLicense};
use crate::signing::Signer;
use crate::store::records::Origin;
use crate::store::Store;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    licensing: Licensing,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8).expect("store");
        let signer = Signer::generate().expect("keygen");
        Fixture {
            _dir: dir,
            licensing: Licensing::for_tests(store.clone(), signer),
            store,
        }
    }

    fn license(&self) -> LicenseRecord {
        let record = create(
            NewLicense {
                origin: Origin::Offline,
                instance_id: Some(uuid::Uuid::new_v4().to_string()),
                order_id: Some("O-1".into()),
                product_id: "P".into(),
                sku_code: None,
                customer_id: Some("C".into()),
                customer_name: None,
                trial: false,
                test: false,
                charging_mode: None,
                period_type: None,
                period_number: None,
                amount: None,
                expires_at: None,
                identifier: Some("SYS-1".into()),
            },
            &Policy::default(),
            &self.licensing.signer,
            Utc::now(),
        )
        .expect("create");
        self.store
            .write(WriteBatch {
                licenses: vec![record.clone()],
                ..WriteBatch::default()
            })
            .expect("write");
        record
    }

    fn apply(&self, id: &str, action: Action) -> Result<LicenseRecord, LicensingError> {
        self.licensing
            .merchant_action(id, action, Some("because".into()), "token:test", Utc::now())
    }
}

#[test]
fn suspend_and_reinstate_are_reversible_and_advance_the_revocation_sequence() {
    let f = Fixture::new();
    let license = f.license();
    let seq0 = f.store.revocation_sequence().expect("seq");
    let suspended = f
        .apply(&license.license_id, Action::Suspend)
        .expect("suspend");
    assert_eq!(suspended.status, LicenseStatus::Suspended);
    assert_eq!(suspended.status_reason.as_deref(), Some("because"));
    assert_eq!(f.store.revocation_sequence().expect("seq"), seq0 + 1);
    let again = f
        .apply(&license.license_id, Action::Suspend)
        .expect("idempotent");
    assert_eq!(again.status, LicenseStatus::Suspended);
    assert_eq!(
        f.store.revocation_sequence().expect("seq"),
        seq0 + 1,
        "no change, no bump"
    );
    let back = f
        .apply(&license.license_id, Action::Reinstate)
        .expect("reinstate");
    assert_eq!(back.status, LicenseStatus::Active);
    assert_eq!(back.token, license.token, "status changes do not re-sign");
}

#[test]
fn revoked_is_permanent() {
    let f = Fixture::new();
    let license = f.license();
    f.apply(&license.license_id, Action::Revoke)
        .expect("revoke");
    for action in [
        Action::Reinstate,
        Action::Suspend,
        Action::SetExpiry(None),
        Action::Reissue(NewBinding::None),
    ] {
        assert!(
            matches!(
                f.apply(&license.license_id, action.clone()),
                Err(LicensingError::Conflict { .. })
            ),
            "{action:?}"
        );
    }
}

#[test]
fn changing_the_expiry_signs_a_new_revision_and_a_shorter_one_supersedes_the_longer_tokens() {
    let f = Fixture::new();
    let license = f.license();
    let day = chrono::Duration::days(1);
    let set = |days: i32| {
        let at = Utc::now() + day * days;
        let changed = f
            .apply(&license.license_id, Action::SetExpiry(Some(at)))
            .expect("expiry");
        assert_eq!(changed.expires_at, Some(at));
        changed
    };
    let seq = || f.store.revocation_sequence().expect("sequence");
    let seq0 = seq();
    // Perpetual → dated is a shortening: the perpetual token must stop verifying offline.
    let dated = set(60);
    assert_eq!(dated.revision, license.revision + 1);
    assert_ne!(dated.token, license.token);
    assert_eq!(dated.revoked_below, dated.revision);
    assert_eq!(seq(), seq0 + 1);
    let longer = set(90);
    assert_eq!(
        longer.revoked_below, dated.revoked_below,
        "an extension does not revoke the shorter token"
    );
    assert_eq!(seq(), seq0 + 1);
    let shorter = set(30);
    assert_eq!(shorter.revoked_below, shorter.revision);
    assert_eq!(seq(), seq0 + 2);
    let history = f.store.token_history(&license.license_id).expect("history");
    assert_eq!(history.len(), 4);
}

#[test]
fn reissue_rebinds_and_revokes_the_earlier_tokens() {
    let f = Fixture::new();
    let license = f.license();
    let hwid = "AABBCCDDEEFF|DISK-1|BOARD-1|CPU-1";
    let reissued = f
        .apply(
            &license.license_id,
            Action::Reissue(NewBinding::Hardware(hwid.into())),
        )
        .expect("reissue");
    assert!(matches!(reissued.binding, StoredBinding::Hardware { .. }));
    assert_eq!(reissued.revoked_below, reissued.revision);
    assert!(license.revision < reissued.revoked_below);
    let bad = f.apply(
        &license.license_id,
        Action::Reissue(NewBinding::Hardware("a|b|c|d|e".into())),
    );
    assert!(matches!(bad, Err(LicensingError::Invalid(_))));
}

#[test]
fn every_action_is_audited_with_its_actor() {
    let f = Fixture::new();
    let license = f.license();
    f.apply(&license.license_id, Action::Suspend)
        .expect("suspend");
    f.apply(&license.license_id, Action::Suspend)
        .expect("again");
    let events = f
        .store
        .audit_for_license(&license.license_id)
        .expect("audit");
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| e.actor == "token:test" && e.action == "suspend"));
    assert_eq!(events[0].outcome, "changed");
    assert_eq!(events[1].outcome, "unchanged");
}

#[test]
fn an_unknown_license_is_not_found() {
    let f = Fixture::new();
    assert!(matches!(
        f.apply("01890000-0000-7000-8000-000000000000", Action::Suspend),
        Err(LicensingError::NotFound(_))
    ));
}

#[test]
fn concurrent_actions_on_one_license_serialise() {
    let f = Arc::new(Fixture::new());
    let license = f.license();
    let barrier = Arc::new(Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (f, barrier, id) = (f.clone(), barrier.clone(), license.license_id.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let days = chrono::Duration::days(i + 1);
                f.apply(&id, Action::SetExpiry(Some(Utc::now() + days)))
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread").expect("action");
    }
    let last = f
        .store
        .license(&license.license_id)
        .expect("read")
        .expect("exists");
    assert_eq!(last.revision, license.revision + 16, "no lost update");
    let history = f.store.token_history(&license.license_id).expect("history");
    assert_eq!(history.len(), 17);
}
