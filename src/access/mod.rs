//! Who may call the merchant API: bearer tokens with scopes (stored only as SHA-256 hashes,
//! compared in constant time), console sessions signed in with such a token, the request
//! extractors that enforce them, and per-token and per-address rate limits.

pub(crate) mod client_addr;
pub(crate) mod extract;
pub(crate) mod ratelimit;
pub(crate) mod session;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::records::{Scope, TokenRecord};
use crate::store::{Store, StoreError};

/// What deciding who a caller is needs: the tokens, the console sessions, the rate limits and
/// the store (a token's last use is written there). Registered as app data of its own, beside
/// the application state, so the extractors and the rate-limit middleware need nothing else.
#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) store: Store,
    /// Merchant API tokens.
    pub(crate) tokens: Arc<TokenRegistry>,
    /// Console sessions (in memory).
    pub(crate) sessions: Arc<session::SessionStore>,
    /// `/v1` rate limits.
    pub(crate) limiter: Arc<ratelimit::RateLimiter>,
}

/// Prefix of every API token: `klt_<id>_<secret>`.
const PREFIX: &str = "klt_";
/// Last-used times are written at most this often per token.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// A freshly created token: the only moment its secret exists outside the caller's hands.
pub(crate) struct NewToken {
    pub(crate) record: TokenRecord,
    /// The full bearer token, shown once.
    pub(crate) token: String,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.record.id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenRejection {
    // One variant on purpose: callers learn nothing about which check failed.
    /// Malformed, unknown, wrong secret or revoked (deliberately not told apart).
    Invalid,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The token's id.
    pub(crate) token_id: String,
    /// Its scopes.
    pub(crate) scopes: Vec<Scope>,
}

impl Caller {
    /// The audit actor name.
    pub(crate) fn actor(&self) -> String {
        format!("token:{}", self.token_id)
    }

    /// Whether the caller holds `scope` (write implies read).
    pub(crate) fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
            || (scope == Scope::Read && self.scopes.contains(&Scope::Write))
    }
}

fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates a token record and its bearer string.
pub(crate) fn new_token(
    name: &str,
    scopes: &[Scope],
    created_by: &str,
    now: DateTime<Utc>,
) -> NewToken {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    NewToken {
        token: format!("{PREFIX}{id}_{secret}"),
        record: TokenRecord {
            id,
            name: name.to_string(),
            scopes,
            secret_sha256: sha256_hex(&secret),
            created_at: now,
            created_by: created_by.to_string(),
            last_used_at: None,
            revoked_at: None,
        },
    }
}

/// Splits `klt_<id>_<secret>`.
fn parse(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 16 && !secret.is_empty() && secret.len() <= 64).then_some((id, secret))
}

/// All API tokens, cached in memory (this process is the only writer of the database).
pub(crate) struct TokenRegistry {
    tokens: RwLock<HashMap<String, TokenRecord>>,
}

impl TokenRegistry {
    /// Loads every token from storage.
    pub(crate) fn load(store: &Store) -> Result<TokenRegistry, StoreError> {
        let tokens = store
            .api_tokens()?
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
        Ok(TokenRegistry {
            tokens: RwLock::new(tokens),
        })
    }

    /// Checks a bearer token. The lookup is by id; the secret's hash is compared in constant
    /// time. Records the last-used time (at most once a minute).
    pub(crate) fn authenticate(
        &self,
        store: &Store,
        bearer: &str,
        now: DateTime<Utc>,
    ) -> Result<Caller, TokenRejection> {
        let (id, secret) = parse(bearer).ok_or(TokenRejection::Invalid)?;
        let presented = sha256_hex(secret);
        let touched = {
            let tokens = self.tokens.read();
            let record = tokens.get(id).ok_or(TokenRejection::Invalid)?;
            let equal: bool = presented
                .as_bytes()
                .ct_eq(record.secret_sha256.as_bytes())
                .into();
            if !equal || record.revoked_at.is_some() {
                return Err(TokenRejection::Invalid);
            }
            let stale = record
                .last_used_at
                .is_none_or(|t| (now - t).num_seconds() >= TOUCH_INTERVAL_SECS);
            let caller = Caller {
                token_id: record.id.clone(),
                scopes: record.scopes.clone(),
            };
            (caller, stale)
        };
        let (caller, stale) = touched;
        if stale {
            let mut tokens = self.tokens.write();
            if let Some(record) = tokens.get_mut(id) {
                record.last_used_at = Some(now);
                if let Err(e) = store.touch_api_token(record) {
                    tracing::warn!(error = %e, "could not record a token's last use");
                }
            }
        }
        Ok(caller)
    }

    /// The caller a console session signed in as, while its token is still valid (a revoked
    /// token ends its sessions at their next request).
    pub(crate) fn live(&self, id: &str) -> Option<Caller> {
        let tokens = self.tokens.read();
        let record = tokens.get(id).filter(|t| t.revoked_at.is_none())?;
        Some(Caller {
            token_id: record.id.clone(),
            scopes: record.scopes.clone(),
        })
    }

    /// The name of a token.
    pub(crate) fn name_of(&self, id: &str) -> Option<String> {
        self.tokens.read().get(id).map(|t| t.name.clone())
    }

    /// Stores a new token durably and makes it usable.
    pub(crate) fn insert(&self, store: &Store, record: TokenRecord) -> Result<(), StoreError> {
        store.put_api_token(&record)?;
        self.tokens.write().insert(record.id.clone(), record);
        Ok(())
    }

    /// Revokes a token durably; `None` when there is no such token.
    pub(crate) fn revoke(
        &self,
        store: &Store,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let mut tokens = self.tokens.write();
        let Some(record) = tokens.get_mut(id) else {
            return Ok(None);
        };
        if record.revoked_at.is_none() {
            record.revoked_at = Some(now);
            store.put_api_token(record)?;
        }
        Ok(Some(record.clone()))
    }

    /// Every token, oldest first.
    pub(crate) fn list(&self) -> Vec<TokenRecord> {
        let mut all: Vec<TokenRecord> = self.tokens.read().values().cloned().collect();
        all.sort_by_key(|t| t.created_at);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8).expect("store");
        (dir, store)
    }

    #[test]
    fn a_created_token_authenticates_and_only_its_hash_is_stored() {
        let (_dir, store) = store();
        let registry = TokenRegistry::load(&store).expect("load");
        let new = new_token("ci", &[Scope::Read], "cli", Utc::now());
        registry.insert(&store, new.record.clone()).expect("insert");
        let stored = format!("{:?}", store.api_tokens().expect("tokens"));
        let (_, secret) = parse(&new.token).expect("klt_<id>_<secret>");
        assert!(secret.len() >= 16 && !stored.contains(secret));
        let caller = registry
            .authenticate(&store, &new.token, Utc::now())
            .expect("authenticates");
        assert!(caller.has(Scope::Read) && !caller.has(Scope::Write));
        let reloaded = TokenRegistry::load(&store).expect("reload");
        assert!(reloaded
            .authenticate(&store, &new.token, Utc::now())
            .is_ok());
    }

    #[test]
    fn wrong_secrets_unknown_ids_and_revoked_tokens_are_refused() {
        let (_dir, store) = store();
        let registry = TokenRegistry::load(&store).expect("load");
        let new = new_token("ci", &[Scope::Write], "cli", Utc::now());
        registry.insert(&store, new.record.clone()).expect("insert");
        let mut wrong = new.token.clone();
        wrong.pop();
        wrong.push('x');
        for bad in [wrong.as_str(), "klt_0000000000000000_abc", "Bearer", ""] {
            assert_eq!(
                registry.authenticate(&store, bad, Utc::now()),
                Err(TokenRejection::Invalid),
                "{bad}"
            );
        }
        registry
            .revoke(&store, &new.record.id, Utc::now())
            .expect("revoke");
        assert_eq!(
            registry.authenticate(&store, &new.token, Utc::now()),
            Err(TokenRejection::Invalid)
        );
    }

    #[test]
    fn write_scope_implies_read() {
        let caller = Caller {
            token_id: "x".into(),
            scopes: vec![Scope::Write],
        };
        assert!(caller.has(Scope::Read));
    }
}
