//! `[seats]`: how often one purchase's seats may be given back by deactivation, and how often a
//! lease's heartbeats reach the audit trail, and how soon a lapse does.

use serde::Deserialize;

/// `[seats]`
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SeatSettings {
    /// At most this many deactivations per purchase (authorization code or instance) within
    /// the window, so that one seat cannot be rotated among many machines. Merchant
    /// deactivations do not count against it.
    pub deactivation_limit: u32,
    /// The window of the deactivation limit (seconds).
    pub deactivation_window_secs: u64,
    /// A lease's heartbeats are audited at most once per this many seconds since its checkout
    /// (the first heartbeat of each period); 0 audits every heartbeat.
    pub heartbeat_audit_interval_secs: u64,
    /// Every this many seconds the leases that lapsed are audited and their seats' index
    /// entries dropped (0: only when a checkout finds them).
    pub lapse_sweep_interval_secs: u64,
}

impl Default for SeatSettings {
    fn default() -> Self {
        SeatSettings {
            deactivation_limit: 3,
            deactivation_window_secs: 30 * 86_400,
            heartbeat_audit_interval_secs: 3600,
            lapse_sweep_interval_secs: 60,
        }
    }
}

impl SeatSettings {
    /// Checks the ranges.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.deactivation_window_secs == 0 || self.deactivation_window_secs > 3650 * 86_400 {
            return Err("seats.deactivation_window_secs must be 1 s to 10 years".into());
        }
        if self.heartbeat_audit_interval_secs > 366 * 86_400 {
            return Err("seats.heartbeat_audit_interval_secs must be 0 to 366 days".into());
        }
        if self.lapse_sweep_interval_secs > 86_400 {
            return Err("seats.lapse_sweep_interval_secs must be 0 to one day".into());
        }
        Ok(())
    }
}
