//! Unit tests of activation: refresh timing, validation, and the marketplace call shared by
//! activations of one code.

use super::*;

#[test]
fn the_next_query_is_at_the_interval_or_the_known_expiry_whichever_comes_first() {
    let now = Utc::now();
    let day = chrono::Duration::days(1);
    let soon = now + chrono::Duration::hours(2);
    assert_eq!(next_refresh(now, day, None), now + day);
    assert_eq!(next_refresh(now, day, Some(soon)), soon);
    assert_eq!(next_refresh(now, day, Some(now + day * 30)), now + day);
    assert_eq!(
        next_refresh(now, day, Some(now - day)),
        now + day,
        "already expired"
    );
}

#[test]
fn codes_and_identifiers_are_validated() {
    assert!(validate("PL-1", "00:1A:2B:3C:4D:5E|S1|B1|C1").is_ok());
    for code in ["", "a b", "x/y", &"P".repeat(65)] {
        assert!(validate(code, "00:1A:2B:3C:4D:5E").is_err(), "{code:?}");
    }
    assert!(validate("PL-1", "a|b|c|d|e").is_err());
}

/// A marketplace that counts its calls and knows every code.
#[derive(Default)]
struct Counting(std::sync::atomic::AtomicUsize);

impl super::super::directory::CodeDirectory for Counting {
    fn activate(&self, code: &str) -> Result<Option<CodeInfo>, CodeLookupError> {
        self.query(code).map(Some)
    }
    fn query(&self, _: &str) -> Result<CodeInfo, CodeLookupError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(CodeInfo {
            status: Some(CodeStatus::Alive),
            expires_at: None,
            product_id: Some("P-CODE".into()),
            order_id: Some("O-1".into()),
            amount: Some(2),
        })
    }
}

#[test]
fn the_answer_is_recorded_by_the_call_so_an_activation_asking_after_it_makes_no_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = crate::store::Store::open(dir.path(), 8).expect("store");
    let market = std::sync::Arc::new(Counting::default());
    let licensing = Licensing::new(
        store.clone(),
        std::sync::Arc::new(crate::signing::Signer::generate().expect("keygen")),
        super::super::policy::Policies::default(),
        super::super::Rules::default(),
        market.clone(),
    );
    let calls = || market.0.load(std::sync::atomic::Ordering::SeqCst);
    let now = Utc::now();

    // Two activations looked before any answer was recorded: both need the first call.
    let first = licensing.lookup_code(Lookup::First, "PL-1", now);
    assert!(first.is_ok(), "{first:?}");
    assert_eq!(calls(), 1);
    let recorded = store.license_code("PL-1").expect("read");
    assert!(
        recorded.is_some_and(|r| r.product_id == "P-CODE"),
        "recorded before any activation applies it"
    );
    // The second asks after the first call ended: the recorded answer stands.
    let second = licensing.lookup_code(Lookup::First, "PL-1", now);
    assert_eq!(second.map(|i| i.product_id), Ok(Some("P-CODE".into())));
    assert_eq!(calls(), 1, "no second marketplace call");

    // A refresh that is due asks again, once.
    let later = now + chrono::Duration::days(2);
    assert!(licensing
        .lookup_code(Lookup::Refresh, "PL-1", later)
        .is_ok());
    assert!(licensing
        .lookup_code(Lookup::Refresh, "PL-1", later)
        .is_ok());
    assert_eq!(calls(), 2, "the refresh is recorded too");
}
