//! `[revocation]`: how often the signed revocation list is re-signed and how long an entry
//! outlives the expiry of the tokens it revokes.

use serde::Deserialize;

/// `[revocation]`
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RevocationSettings {
    /// Re-sign the list with the current time at least this often (seconds), even when
    /// nothing changed, so that delivered software can tell a fresh list from one withheld.
    pub resign_interval_secs: u64,
    /// Keep an entry this long (seconds) after every token it revokes has expired; then drop
    /// it. Must exceed the clock leeway of the verifiers in the field.
    pub expired_grace_secs: u64,
}

impl Default for RevocationSettings {
    fn default() -> Self {
        RevocationSettings {
            resign_interval_secs: 3600,
            expired_grace_secs: 7 * 86_400,
        }
    }
}

impl RevocationSettings {
    /// Checks the ranges.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.resign_interval_secs == 0 {
            return Err("revocation.resign_interval_secs must be at least 1".into());
        }
        if self.expired_grace_secs < koolicense_verify::DEFAULT_LEEWAY_SECS {
            return Err(format!(
                "revocation.expired_grace_secs must be at least the verifier's leeway ({} s)",
                koolicense_verify::DEFAULT_LEEWAY_SECS
            ));
        }
        Ok(())
    }
}
