//! Browser sessions of the merchant console: an API token exchanged for a random session id kept
//! in an HttpOnly cookie. Only SHA-256 hashes of session ids are kept, in memory (a restart signs
//! every browser out; nothing about a session is ever written to disk). Each session carries its
//! token's id and scopes and a CSRF token that every unsafe request must echo in a header.

use std::collections::HashMap;
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use parking_lot::Mutex;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Caller;

/// Name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "koolicense_session";
/// Header that must carry the session's CSRF token on every unsafe request.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends this long after sign-in, however busy.
const LIFETIME_HOURS: i64 = 12;
/// A session ends after this long without a request.
const IDLE_MINUTES: i64 = 60;
/// Most sessions kept at once; beyond it the oldest is dropped.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone)]
pub(crate) struct Session {
    /// The token signed in with (its id and scopes).
    pub(crate) caller: Caller,
    /// The token's name, for the console's header.
    pub(crate) token_name: String,
    /// Echoed by the browser in [`CSRF_HEADER`] on every change.
    pub(crate) csrf_token: String,
    /// When it was created.
    pub(crate) created_at: DateTime<Utc>,
    /// When it ends unless used before (idle timeout), capped by the lifetime.
    pub(crate) expires_at: DateTime<Utc>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("caller", &self.caller)
            .field("csrf_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Whether `presented` is this session's CSRF token (constant time).
    pub(crate) fn csrf_matches(&self, presented: &str) -> bool {
        let equal: bool = presented
            .as_bytes()
            .ct_eq(self.csrf_token.as_bytes())
            .into();
        equal && !presented.is_empty()
    }

    fn deadline(&self) -> DateTime<Utc> {
        self.created_at + Duration::hours(LIFETIME_HOURS)
    }
}

/// A new session's secret id (the cookie's value) and its record.
pub(crate) struct NewSession {
    /// The cookie value; exists only in the answer that sets the cookie.
    pub(crate) id: String,
    /// The session.
    pub(crate) session: Session,
}

/// Every live session, keyed by the SHA-256 of its id.
#[derive(Default)]
pub(crate) struct SessionStore {
    sessions: Mutex<HashMap<[u8; 32], Session>>,
}

fn random_text() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl SessionStore {
    /// Starts a session for an authenticated token.
    pub(crate) fn start(
        &self,
        caller: Caller,
        token_name: String,
        now: DateTime<Utc>,
    ) -> NewSession {
        let id = random_text();
        let session = Session {
            caller,
            token_name,
            csrf_token: random_text(),
            created_at: now,
            expires_at: now + Duration::minutes(IDLE_MINUTES),
        };
        let mut sessions = self.sessions.lock();
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.expires_at > now);
        }
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.created_at)
                .map(|(k, _)| *k)
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(key(&id), session.clone());
        NewSession { id, session }
    }

    /// The live session with cookie value `id`, its idle timeout renewed; `None` when unknown or
    /// expired (an expired one is forgotten).
    pub(crate) fn find(&self, id: &str, now: DateTime<Utc>) -> Option<Session> {
        let key = key(id);
        let mut sessions = self.sessions.lock();
        let session = sessions.get_mut(&key)?;
        if session.expires_at <= now {
            sessions.remove(&key);
            return None;
        }
        session.expires_at = (now + Duration::minutes(IDLE_MINUTES)).min(session.deadline());
        Some(session.clone())
    }

    /// Ends the session with cookie value `id` (sign-out).
    pub(crate) fn end(&self, id: &str) -> bool {
        self.sessions.lock().remove(&key(id)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::Scope;

    fn caller() -> Caller {
        Caller {
            token_id: "0123456789abcdef".into(),
            scopes: vec![Scope::Read],
        }
    }

    #[test]
    fn a_session_is_found_by_its_id_and_only_a_hash_of_the_id_is_kept() {
        let store = SessionStore::default();
        let now = Utc::now();
        let new = store.start(caller(), "reports".into(), now);
        let found = store.find(&new.id, now).expect("found");
        assert_eq!(found.caller, caller());
        assert!(store.find("not-the-id", now).is_none());
        let held = store.sessions.lock();
        assert!(held.keys().all(|k| k != new.id.as_bytes()));
    }

    #[test]
    fn sessions_end_when_idle_at_their_lifetime_and_at_sign_out() {
        let store = SessionStore::default();
        let now = Utc::now();
        let new = store.start(caller(), "r".into(), now);
        assert!(store
            .find(&new.id, now + Duration::minutes(IDLE_MINUTES + 1))
            .is_none());
        let busy = store.start(caller(), "r".into(), now);
        let mut t = now;
        while t < now + Duration::hours(LIFETIME_HOURS) - Duration::minutes(30) {
            t += Duration::minutes(30);
            assert!(store.find(&busy.id, t).is_some(), "used every 30 minutes");
        }
        assert!(store
            .find(&busy.id, now + Duration::hours(LIFETIME_HOURS))
            .is_none());
        let signed_out = store.start(caller(), "r".into(), now);
        assert!(store.end(&signed_out.id));
        assert!(store.find(&signed_out.id, now).is_none());
    }

    #[test]
    fn the_csrf_token_must_match_exactly() {
        let store = SessionStore::default();
        let new = store.start(caller(), "r".into(), Utc::now());
        let session = new.session;
        assert!(session.csrf_matches(&session.csrf_token.clone()));
        assert!(!session.csrf_matches(""));
        assert!(!session.csrf_matches(&session.csrf_token[1..]));
        assert!(!format!("{session:?}").contains(&session.csrf_token));
    }
}
