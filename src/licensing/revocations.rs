//! The signed revocation list served at `GET /v1/revocations`: which licenses it lists, when an
//! entry may be dropped, and when the list is re-signed.
//!
//! * Listed: suspended, revoked and released licenses (every token), and licenses with
//!   superseded tokens (the tokens below `revoked_below`).
//! * Dropped: an entry whose revoked tokens have all expired more than
//!   `revocation.expired_grace_secs` ago. A verifier refuses such a token by its validity window
//!   anyway, so the list stops growing with every license ever released.
//! * Re-signed: whenever the revocation sequence moved, and otherwise at least every
//!   `revocation.resign_interval_secs`, with the current time as `issued_at`, so a program can
//!   tell "no news" (a fresh list) from "news withheld" (no fresh list: `ListTooOld`).
//!   `issued_at` never goes backwards between two lists.
//!
//! A build reads only the revocable postings of the store's index (`store::index::Revocable`:
//! status, `revoked_below` and expiry of each license `may_be_listed` names), and the token
//! history of those whose current token has expired; never every license.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use koolicense_verify::{EntryStatus, LicenseId, RevocationEntry, RevocationList};
use parking_lot::Mutex;

use crate::settings::RevocationSettings;
use crate::signing::Signer;
use crate::store::index::Revocable;
use crate::store::records::LicenseStatus;
use crate::store::{Store, StoreError};

/// One signed list, as served.
#[derive(Debug)]
pub(crate) struct SignedList {
    /// The revocation sequence it reflects.
    pub(crate) sequence: u64,
    /// When it was signed (Unix seconds).
    pub(crate) issued_at: u64,
    /// How many licenses it lists.
    pub(crate) entries: usize,
    /// The one-line signed list.
    pub(crate) text: String,
}

/// The last signed list, shared by all requests.
pub(crate) type ListCache = Mutex<Option<Arc<SignedList>>>;

fn unix(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp()).unwrap_or(0)
}

/// Whether a cached list must be rebuilt: the sequence moved, or it is due for re-signing.
pub(crate) fn due(cached: Option<&SignedList>, sequence: u64, now: u64, interval: u64) -> bool {
    cached.is_none_or(|c| c.sequence != sequence || now >= c.issued_at.saturating_add(interval))
}

/// The current signed list: the cached one while it is current, otherwise a new one. The cache
/// stays locked while a new list is built, so concurrent requests wait for one build.
pub(crate) fn current(
    store: &Store,
    signer: &Signer,
    settings: &RevocationSettings,
    cache: &ListCache,
    now: DateTime<Utc>,
) -> Result<Arc<SignedList>, StoreError> {
    let sequence = store.revocation_sequence()?;
    let mut cached = cache.lock();
    let now = unix(now);
    if let Some(list) = cached.as_ref() {
        if !due(Some(list), sequence, now, settings.resign_interval_secs) {
            return Ok(list.clone());
        }
    }
    let issued_at = cached.as_ref().map_or(now, |c| now.max(c.issued_at));
    let mut entries = Vec::new();
    let mut failure = None;
    store.for_each_revocable(|record| {
        match listed(store, &record, now, settings.expired_grace_secs) {
            Ok(Some(entry)) => entries.push(entry),
            Ok(None) => {}
            Err(e) => failure = Some(e),
        }
        failure.is_none()
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let list = RevocationList::new(sequence, issued_at, entries);
    let unsigned = list.to_unsigned(&signer.kid());
    let signed = Arc::new(SignedList {
        sequence,
        issued_at,
        entries: list.len(),
        text: unsigned.finish(&signer.sign_raw(&unsigned.message())),
    });
    *cached = Some(signed.clone());
    Ok(signed)
}

/// The entry of a license, if the list must carry it at `now`.
fn listed(
    store: &Store,
    record: &Revocable,
    now: u64,
    grace: u64,
) -> Result<Option<RevocationEntry>, StoreError> {
    let Some(entry) = entry(record) else {
        return Ok(None);
    };
    let live = |expires_at: Option<u64>| expires_at.is_none_or(|e| e.saturating_add(grace) > now);
    // The current token is revoked too unless only earlier tokens are: if it is still live,
    // the entry is needed without looking at the history.
    let expires_at = record.expires_at.map(|t| u64::try_from(t).unwrap_or(0));
    if entry.status != EntryStatus::Superseded && live(expires_at) {
        return Ok(Some(entry));
    }
    let needed = store
        .token_history(&record.license_id)?
        .iter()
        .filter(|(revision, _)| {
            entry.status != EntryStatus::Superseded || *revision < entry.revoked_below
        })
        .any(|(_, token)| {
            // A token that cannot be read keeps the entry: never drop what is not understood.
            koolicense_verify::inspect(token).map_or(true, |t| live(t.claims.expires_at))
        });
    Ok(needed.then_some(entry))
}

/// What the list says about a license, before expiry is considered.
fn entry(record: &Revocable) -> Option<RevocationEntry> {
    let license_id = LicenseId::parse(&record.license_id)?;
    let status = match record.status {
        LicenseStatus::Suspended => EntryStatus::Suspended,
        LicenseStatus::Revoked => EntryStatus::Revoked,
        LicenseStatus::Released => EntryStatus::Released,
        LicenseStatus::Active | LicenseStatus::Frozen if record.revoked_below > 0 => {
            EntryStatus::Superseded
        }
        LicenseStatus::Active | LicenseStatus::Frozen => return None,
    };
    let revoked_below = if status == EntryStatus::Superseded {
        record.revoked_below
    } else {
        u32::MAX
    };
    Some(RevocationEntry {
        license_id,
        revoked_below,
        status,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::licensing::policy::Policy;
    use crate::licensing::tests::{new_license, verifier};
    use crate::licensing::{create, resign, NewLicense};
    use crate::store::records::LicenseRecord;
    use crate::store::WriteBatch;

    fn list(sequence: u64, issued_at: u64) -> SignedList {
        SignedList {
            sequence,
            issued_at,
            entries: 0,
            text: String::new(),
        }
    }

    #[test]
    fn a_list_is_rebuilt_when_the_sequence_moves_or_the_interval_has_passed() {
        assert!(due(None, 0, 100, 3600));
        let cached = list(7, 1000);
        assert!(!due(Some(&cached), 7, 1000, 3600));
        assert!(!due(Some(&cached), 7, 4599, 3600));
        assert!(
            due(Some(&cached), 7, 4600, 3600),
            "re-signed without changes"
        );
        assert!(
            due(Some(&cached), 8, 1001, 3600),
            "a change is served at once"
        );
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        signer: Signer,
        settings: RevocationSettings,
        cache: ListCache,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().expect("tempdir");
            Fixture {
                store: Store::open(dir.path(), 8).expect("store"),
                _dir: dir,
                signer: Signer::generate().expect("keygen"),
                settings: RevocationSettings::default(),
                cache: ListCache::default(),
            }
        }

        /// A license created at `created`, expiring `days` later (`None`: perpetual), with
        /// `status`, stored.
        fn license(
            &self,
            created: DateTime<Utc>,
            days: Option<i64>,
            status: LicenseStatus,
        ) -> LicenseRecord {
            let new = NewLicense {
                instance_id: None,
                expires_at: days.map(|d| created + Duration::days(d)),
                ..new_license(None)
            };
            let mut record =
                create(new, &Policy::default(), &self.signer, created).expect("create");
            record.status = status;
            self.put(&record);
            record
        }

        fn put(&self, record: &LicenseRecord) {
            self.store
                .write(WriteBatch {
                    licenses: vec![record.clone()],
                    revocation_changed: true,
                    ..WriteBatch::default()
                })
                .expect("write");
        }

        fn current(&self, now: DateTime<Utc>) -> Arc<SignedList> {
            current(&self.store, &self.signer, &self.settings, &self.cache, now).expect("list")
        }

        fn listed(&self, now: DateTime<Utc>) -> Vec<LicenseId> {
            verifier(&self.signer)
                .verify_revocation_list(&self.current(now).text, unix(now), None)
                .expect("verifies")
                .entries()
                .map(|e| e.license_id)
                .collect()
        }
    }

    fn id(record: &LicenseRecord) -> LicenseId {
        LicenseId::parse(&record.license_id).expect("id")
    }

    #[test]
    fn entries_are_dropped_once_every_revoked_token_expired_before_the_grace_period() {
        let f = Fixture::new();
        let now = Utc::now();
        let grace = Duration::seconds(i64::try_from(f.settings.expired_grace_secs).expect("grace"));
        let long_gone = f.license(now - Duration::days(400), Some(30), LicenseStatus::Released);
        let in_grace = f.license(now - Duration::days(31), Some(30), LicenseStatus::Revoked);
        let perpetual = f.license(now - Duration::days(400), None, LicenseStatus::Released);
        let current = f.license(now, Some(365), LicenseStatus::Suspended);
        // A license whose expiry was shortened: its first token still runs for a year.
        let mut shortened = f.license(now - Duration::days(400), Some(800), LicenseStatus::Active);
        shortened.expires_at = Some(now - Duration::days(300));
        resign(&mut shortened, &f.signer, now - Duration::days(399)).expect("resign");
        shortened.status = LicenseStatus::Revoked;
        f.put(&shortened);

        let listed = f.listed(now);
        assert!(!listed.contains(&id(&long_gone)), "expired long ago");
        for kept in [&in_grace, &perpetual, &current, &shortened] {
            assert!(listed.contains(&id(kept)), "{}", kept.license_id);
        }
        assert_eq!(listed.len(), 4);
        // Once the grace period of the second license has passed too, it goes.
        let later = now + grace;
        f.store
            .write(WriteBatch {
                revocation_changed: true,
                ..WriteBatch::default()
            })
            .expect("bump");
        assert!(!f.listed(later).contains(&id(&in_grace)));
    }

    #[test]
    fn superseded_tokens_stay_listed_until_they_expired() {
        let f = Fixture::new();
        let now = Utc::now();
        let mut reissued = f.license(now - Duration::days(10), Some(365), LicenseStatus::Active);
        resign(&mut reissued, &f.signer, now).expect("resign");
        reissued.revoked_below = reissued.revision;
        f.put(&reissued);
        assert_eq!(f.listed(now), [id(&reissued)]);
        f.store
            .write(WriteBatch {
                revocation_changed: true,
                ..WriteBatch::default()
            })
            .expect("bump");
        assert!(f.listed(now + Duration::days(400)).is_empty());
    }

    #[test]
    fn an_unchanged_list_is_re_signed_after_the_interval_and_never_signed_back_in_time() {
        let f = Fixture::new();
        let now = Utc::now();
        f.license(now, None, LicenseStatus::Revoked);
        let first = f.current(now);
        let interval = Duration::seconds(3600);
        let same = f.current(now + interval - Duration::seconds(1));
        assert_eq!(
            same.text, first.text,
            "served from the cache within the interval"
        );
        let resigned = f.current(now + interval);
        assert_eq!(resigned.sequence, first.sequence);
        assert_eq!(resigned.issued_at, first.issued_at + 3600);
        f.license(now, None, LicenseStatus::Revoked);
        let earlier_clock = f.current(now);
        assert_eq!(
            earlier_clock.issued_at, resigned.issued_at,
            "issued_at never goes back"
        );
        assert!(earlier_clock.sequence > resigned.sequence);
    }

    #[test]
    fn a_list_of_three_thousand_released_licenses_still_lets_a_good_license_pass_offline() {
        let f = Fixture::new();
        let now = Utc::now();
        let released: Vec<LicenseRecord> = (0..3000)
            .map(|_| {
                let mut r = f.license(now, Some(365), LicenseStatus::Active);
                r.status = LicenseStatus::Released;
                r
            })
            .collect();
        f.store
            .write(WriteBatch {
                licenses: released,
                revocation_changed: true,
                ..WriteBatch::default()
            })
            .expect("release");
        let good = f.license(now, Some(365), LicenseStatus::Active);
        let list = f.current(now);
        assert_eq!(list.entries, 3000);
        assert!(list.text.len() > koolicense_verify::MAX_INPUT_LEN);
        let verifier = verifier(&f.signer);
        let claims = verifier
            .verify(&good.token, unix(now))
            .expect("good license");
        assert!(verifier
            .check_revocation(&list.text, unix(now), None, &claims)
            .is_ok());
    }
}
