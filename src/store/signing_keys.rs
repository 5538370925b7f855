//! The signing keys a database has used: the configured key checked against the recorded one at
//! start (rotation only when allowed), and every key kept with its first and last use, so
//! licenses signed by a retired key keep verifying.

use super::records::KeyRecord;
use super::{decode, tree, Result, Store, WriteBatch, ACTIVE_KID};

/// The outcome of registering the configured signing key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyRegistration {
    /// The key was already the active one.
    Unchanged,
    /// First key of this database.
    First,
    /// The key replaced the recorded one (rotation was allowed).
    Rotated {
        /// The previous key id.
        previous: String,
    },
    /// The key differs from the recorded one and rotation was not allowed.
    Refused {
        /// The recorded key id.
        recorded: String,
    },
}

impl Store {
    /// Checks the configured signing key against the database and records it.
    pub(crate) fn register_signing_key(
        &self,
        key: KeyRecord,
        allow_rotation: bool,
    ) -> Result<KeyRegistration> {
        let recorded = self
            .meta
            .get(ACTIVE_KID)?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        let outcome = match recorded {
            Some(kid) if kid == key.kid => return Ok(KeyRegistration::Unchanged),
            Some(kid) if !allow_rotation => return Ok(KeyRegistration::Refused { recorded: kid }),
            Some(kid) => KeyRegistration::Rotated { previous: kid },
            None => KeyRegistration::First,
        };
        let previous = match &outcome {
            KeyRegistration::Rotated { previous } => self
                .signing_keys
                .get(previous.as_bytes())?
                .map(|v| decode::<KeyRecord>(tree::SIGNING_KEYS, &v))
                .transpose()?,
            _ => None,
        };
        // `first_used` of the configured key is the time of this start.
        let now = key.first_used;
        // A key used before (rotating back to it) keeps its first use but is no longer retired.
        let active = match self.signing_keys.get(key.kid.as_bytes())? {
            Some(v) => KeyRecord {
                retired_at: None,
                ..decode::<KeyRecord>(tree::SIGNING_KEYS, &v)?
            },
            None => key,
        };
        let mut keys = Vec::new();
        if let Some(mut old) = previous {
            old.retired_at = Some(now);
            keys.push(old);
        }
        self.write(WriteBatch {
            active_kid: Some(active.kid.clone()),
            signing_keys: {
                keys.push(active);
                keys
            },
            ..WriteBatch::default()
        })?;
        Ok(outcome)
    }

    /// Every signing key the database has used, oldest first.
    pub(crate) fn signing_keys(&self) -> Result<Vec<KeyRecord>> {
        let mut keys = self
            .signing_keys
            .iter()
            .values()
            .map(|v| decode::<KeyRecord>(tree::SIGNING_KEYS, &v?))
            .collect::<Result<Vec<_>>>()?;
        keys.sort_by_key(|k| k.first_used);
        Ok(keys)
    }
}
