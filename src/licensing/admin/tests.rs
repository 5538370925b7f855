use std::sync::{Arc, Barrier};

use chrono::Utc;

use super::*;
use crate::licensing::policy::Policy;
use crate::licensing::{create, NewLicense};
use crate::store::records::Origin;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    signer: Signer,
    policies: Policies,
    locks: KeyLocks,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8).expect("store");
        Fixture {
            _dir: dir,
            store,
            signer: Signer::generate().expect("keygen"),
            policies: Policies::default(),
            locks: KeyLocks::default(),
        }
    }

    fn ctx(&self) -> AdminCtx<'_> {
        AdminCtx {
            store: &self.store,
            signer: &self.signer,
            policies: &self.policies,
            locks: &self.locks,
            now: Utc::now(),
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
            &self.signer,
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

    fn apply(&self, id: &str, action: Action) -> Result<LicenseRecord, AdminError> {
        apply(
            &self.ctx(),
            id,
            action,
            Some("because".into()),
            "token:test",
        )
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
                Err(AdminError::Conflict { .. })
            ),
            "{action:?}"
        );
    }
}

#[test]
fn changing_the_expiry_signs_a_new_revision() {
    let f = Fixture::new();
    let license = f.license();
    let later = Utc::now() + chrono::Duration::days(30);
    let changed = f
        .apply(&license.license_id, Action::SetExpiry(Some(later)))
        .expect("expiry");
    assert_eq!(changed.revision, license.revision + 1);
    assert_eq!(changed.expires_at, Some(later));
    assert_ne!(changed.token, license.token);
    assert_eq!(
        changed.revoked_below, 0,
        "an expiry change does not revoke the old token"
    );
    let history = f.store.token_history(&license.license_id).expect("history");
    assert_eq!(history.len(), 2);
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
    assert!(matches!(bad, Err(AdminError::Invalid(_))));
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
        Err(AdminError::NotFound(_))
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
