//! Queries and records for the merchant API: license listing with filters and cursors, the audit
//! log by license, actor and time, API tokens, and the revocation sequence.

use chrono::{DateTime, Utc};

use super::records::{AuditEvent, LicenseRecord, LicenseStatus, TokenRecord};
use super::{decode, json, tree, Result, Store, WriteBatch, REVOCATION_SEQUENCE};

/// Which licenses a listing returns. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub(crate) struct LicenseFilter {
    pub(crate) status: Option<LicenseStatus>,
    pub(crate) product_id: Option<String>,
    pub(crate) sku_code: Option<String>,
    pub(crate) customer_id: Option<String>,
    pub(crate) order_id: Option<String>,
    pub(crate) instance_id: Option<String>,
    /// Include marketplace test traffic (off by default).
    pub(crate) include_test: bool,
    pub(crate) created_after: Option<DateTime<Utc>>,
    pub(crate) created_before: Option<DateTime<Utc>>,
    pub(crate) expires_after: Option<DateTime<Utc>>,
    pub(crate) expires_before: Option<DateTime<Utc>>,
}

impl LicenseFilter {
    pub(crate) fn matches(&self, r: &LicenseRecord) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        (self.include_test || !r.test)
            && self.status.is_none_or(|s| s == r.status)
            && eq(&self.product_id, Some(&r.product_id))
            && eq(&self.sku_code, r.sku_code.as_deref())
            && eq(&self.customer_id, r.customer_id.as_deref())
            && eq(&self.order_id, r.order_id.as_deref())
            && eq(&self.instance_id, r.instance_id.as_deref())
            && self.created_after.is_none_or(|t| r.created_at >= t)
            && self.created_before.is_none_or(|t| r.created_at < t)
            && self
                .expires_after
                .is_none_or(|t| r.expires_at.is_some_and(|e| e >= t))
            && self
                .expires_before
                .is_none_or(|t| r.expires_at.is_some_and(|e| e < t))
    }
}

/// One page of a listing.
#[derive(Debug)]
pub(crate) struct LicensePage {
    pub(crate) items: Vec<LicenseRecord>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub(crate) next_cursor: Option<String>,
}

/// Which audit events a query returns.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuditFilter {
    pub(crate) license_id: Option<String>,
    pub(crate) actor: Option<String>,
    pub(crate) after: Option<DateTime<Utc>>,
    pub(crate) before: Option<DateTime<Utc>>,
}

impl Store {
    /// Licenses in creation order (ids are time-ordered) after `cursor`, filtered.
    pub(crate) fn list_licenses(
        &self,
        filter: &LicenseFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<LicensePage> {
        // Exact lookups first: an instance or order names at most one license.
        if let Some(instance) = &filter.instance_id {
            let items: Vec<_> = self
                .license_by_instance(instance)?
                .filter(|r| filter.matches(r) && cursor.is_none_or(|c| r.license_id.as_str() > c))
                .into_iter()
                .collect();
            return Ok(LicensePage {
                items,
                next_cursor: None,
            });
        }
        let start = match cursor {
            Some(c) => std::ops::Bound::Excluded(c.as_bytes().to_vec()),
            None => std::ops::Bound::Unbounded,
        };
        let mut items = Vec::new();
        let mut next_cursor = None;
        for entry in self
            .licenses
            .range::<Vec<u8>, _>((start, std::ops::Bound::Unbounded))
        {
            let (_, value) = entry?;
            let record: LicenseRecord = decode(tree::LICENSES, &value)?;
            if !filter.matches(&record) {
                continue;
            }
            if items.len() == limit {
                next_cursor = items.last().map(|r: &LicenseRecord| r.license_id.clone());
                break;
            }
            items.push(record);
        }
        Ok(LicensePage { items, next_cursor })
    }

    /// Calls `f` for every license in creation order until it returns `false`.
    pub(crate) fn for_each_license(&self, mut f: impl FnMut(LicenseRecord) -> bool) -> Result<()> {
        for value in self.licenses.iter().values() {
            if !f(decode(tree::LICENSES, &value?)?) {
                break;
            }
        }
        Ok(())
    }

    /// Calls `f` for every audit event in order until it returns `false`.
    pub(crate) fn for_each_audit_event(&self, mut f: impl FnMut(AuditEvent) -> bool) -> Result<()> {
        for value in self.audit.iter().values() {
            if !f(decode(tree::AUDIT, &value?)?) {
                break;
            }
        }
        Ok(())
    }

    /// Audit events matching `filter` with id above `after_id`, oldest first, at most `limit`.
    pub(crate) fn query_audit(
        &self,
        filter: &AuditFilter,
        after_id: u64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>> {
        let matches = |e: &AuditEvent| {
            e.id > after_id
                && filter.actor.as_deref().is_none_or(|a| e.actor == a)
                && filter.after.is_none_or(|t| e.at >= t)
                && filter.before.is_none_or(|t| e.at < t)
        };
        if let Some(license) = &filter.license_id {
            let mut events = self.audit_for_license(license)?;
            events.retain(matches);
            events.truncate(limit);
            return Ok(events);
        }
        let mut events = Vec::new();
        let start = after_id.saturating_add(1).to_be_bytes();
        for value in self.audit.range(start..).values() {
            let event: AuditEvent = decode(tree::AUDIT, &value?)?;
            if matches(&event) {
                events.push(event);
                if events.len() == limit {
                    break;
                }
            }
        }
        Ok(events)
    }

    /// How many times the revocation list has changed.
    pub(crate) fn revocation_sequence(&self) -> Result<u64> {
        Ok(self
            .meta
            .get(REVOCATION_SEQUENCE)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// Stores an API token record durably.
    pub(crate) fn put_api_token(&self, token: &TokenRecord) -> Result<()> {
        self.write(WriteBatch {
            api_tokens: vec![token.clone()],
            ..WriteBatch::default()
        })?;
        Ok(())
    }

    /// Records a token's last-used time without waiting for disk: the one write outside
    /// [`Store::write`], because it is advisory (never acknowledged to anyone) and happens on
    /// the request path of authentication, which must not wait for a group commit. The next
    /// durable write or the periodic flush persists it.
    pub(crate) fn touch_api_token(&self, token: &TokenRecord) -> Result<()> {
        self.api_tokens.insert(token.id.as_bytes(), json(token))?;
        Ok(())
    }

    /// Every API token, revoked ones included.
    pub(crate) fn api_tokens(&self) -> Result<Vec<TokenRecord>> {
        self.api_tokens
            .iter()
            .values()
            .map(|v| decode(tree::API_TOKENS, &v?))
            .collect()
    }
}
