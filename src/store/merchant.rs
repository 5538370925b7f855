//! Queries and records for the merchant API: license listing with filters and cursors, the audit
//! log by license, actor and time, API tokens, and the revocation sequence. Listings read the
//! secondary indexes (`index`) and look at a bounded number of entries per page: no request
//! walks the licenses or the audit log.

use std::ops::Bound;

use chrono::{DateTime, Utc};

use super::encoding::{decode_audit, decode_license};
use super::index::{self, status_byte, Kind, Revocable, UNINDEXED_ACTOR, UNINDEXED_STATUS};
use super::records::{AuditEvent, LicenseRecord, LicenseStatus, TokenRecord};
use super::{decode, json, tree, Result, Store, StoreError, WriteBatch, REVOCATION_SEQUENCE};

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

/// One page of the audit log.
#[derive(Debug)]
pub(crate) struct AuditPage {
    pub(crate) events: Vec<AuditEvent>,
    /// Pass as `cursor` to get the next page; `None` when the log was read to its end.
    pub(crate) next_cursor: Option<u64>,
}

/// Most entries (postings or records) one page looks at. A filter the indexes cannot answer
/// alone (a time range, a second equality, test traffic) is checked on each record; once this
/// many did not match, the page ends early with a cursor where it stopped, so no request reads
/// more than this however large the database is.
pub(crate) const EXAMINED_PER_PAGE: usize = 2_000;

/// Where a listing reads: posting lists (one, or two merged in id order), or every record.
enum Source {
    Postings(Vec<Vec<u8>>),
    Records,
}

impl LicenseFilter {
    /// The most selective posting list the filter names. Released licenses have no product
    /// and sku postings (`index::license_postings`), so a listing by product or sku that may
    /// include them also reads the released status postings.
    fn source(&self) -> Source {
        let status = |s: LicenseStatus| index::prefix(Kind::Status, &[status_byte(s)]);
        let value = |kind, v: &Option<String>| {
            v.as_ref()
                .map(|v| Source::Postings(vec![index::prefix(kind, v.as_bytes())]))
        };
        let pruned = |kind, v: &Option<String>| {
            v.as_ref().map(|v| match self.status {
                Some(LicenseStatus::Released) => {
                    Source::Postings(vec![status(LicenseStatus::Released)])
                }
                Some(_) => Source::Postings(vec![index::prefix(kind, v.as_bytes())]),
                None => Source::Postings(vec![
                    index::prefix(kind, v.as_bytes()),
                    status(LicenseStatus::Released),
                ]),
            })
        };
        value(Kind::Order, &self.order_id)
            .or_else(|| value(Kind::Customer, &self.customer_id))
            .or_else(|| pruned(Kind::Sku, &self.sku_code))
            .or_else(|| pruned(Kind::Product, &self.product_id))
            .or_else(|| {
                self.status
                    .filter(|&s| s != UNINDEXED_STATUS)
                    .map(|s| Source::Postings(vec![status(s)]))
            })
            .unwrap_or(Source::Records)
    }
}

impl Store {
    /// Licenses in creation order (ids are time-ordered) after `cursor`, filtered, read from
    /// the most selective index (see [`EXAMINED_PER_PAGE`]).
    pub(crate) fn list_licenses(
        &self,
        filter: &LicenseFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<LicensePage> {
        // Exact lookups first: an instance names at most one license.
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
        let mut items = Vec::new();
        let mut examined = 0;
        let mut last_seen = None;
        let mut consider = |id: String, record: LicenseRecord| -> Option<Option<String>> {
            if filter.matches(&record) {
                if items.len() == limit {
                    return Some(items.last().map(|r: &LicenseRecord| r.license_id.clone()));
                }
                items.push(record);
            }
            examined += 1;
            last_seen = Some(id);
            (examined >= EXAMINED_PER_PAGE).then(|| last_seen.clone())
        };
        let mut next_cursor = None;
        match filter.source() {
            Source::Postings(prefixes) => {
                let after = cursor.map(index::compact_id);
                let lists = prefixes
                    .iter()
                    .map(|p| self.posting_ids(p, after.as_deref()));
                for id in Merged::new(lists.collect()) {
                    let id = index::expand_id(&id?);
                    let Some(value) = self.licenses.get(id.as_bytes())? else {
                        continue;
                    };
                    if let Some(stop) = consider(id, decode_license(&value)?) {
                        next_cursor = stop;
                        break;
                    }
                }
            }
            Source::Records => {
                let start = match cursor {
                    Some(c) => Bound::Excluded(c.as_bytes().to_vec()),
                    None => Bound::Unbounded,
                };
                for entry in self.licenses.range::<Vec<u8>, _>((start, Bound::Unbounded)) {
                    let (id, value) = entry?;
                    let id = String::from_utf8_lossy(&id).into_owned();
                    if let Some(stop) = consider(id, decode_license(&value)?) {
                        next_cursor = stop;
                        break;
                    }
                }
            }
        }
        Ok(LicensePage { items, next_cursor })
    }

    /// The postings starting with `prefix` whose id part sorts after `after`, in order.
    fn postings_after(&self, prefix: &[u8], after: Option<&[u8]>) -> super::kv::Iter {
        let start = match after {
            Some(id) => Bound::Excluded([prefix, id].concat()),
            None => Bound::Included(prefix.to_vec()),
        };
        let end = match index::prefix_end(prefix) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        self.index.range::<Vec<u8>, _>((start, end))
    }

    /// The ids (as postings hold them) of the postings starting with `prefix` whose id sorts
    /// after `after`, in order.
    pub(super) fn posting_ids(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> impl Iterator<Item = Result<Vec<u8>>> {
        let len = prefix.len();
        self.postings_after(prefix, after).map(move |entry| {
            let (key, _) = entry?;
            Ok(key.get(len..).unwrap_or(&[]).to_vec())
        })
    }

    /// Calls `f` for every license the revocation list may carry (`index::may_be_listed`),
    /// from its posting alone, until it returns `false`.
    pub(crate) fn for_each_revocable(&self, mut f: impl FnMut(Revocable) -> bool) -> Result<()> {
        let prefix = index::prefix(Kind::Revocable, &[]);
        for entry in self.index.scan_prefix(&prefix) {
            let (key, value) = entry?;
            let id = key.get(prefix.len()..).unwrap_or(&[]);
            let entry = Revocable::read(id, &value).ok_or_else(|| StoreError::Corrupt {
                tree: tree::INDEX,
                message: "unreadable revocable posting".into(),
            })?;
            if !f(entry) {
                break;
            }
        }
        Ok(())
    }

    /// Calls `f` for every license in creation order until it returns `false` (exports).
    pub(crate) fn for_each_license(&self, mut f: impl FnMut(LicenseRecord) -> bool) -> Result<()> {
        for value in self.licenses.iter().values() {
            if !f(decode_license(&value?)?) {
                break;
            }
        }
        Ok(())
    }

    /// Calls `f` for every audit event in order until it returns `false` (exports).
    pub(crate) fn for_each_audit_event(&self, mut f: impl FnMut(AuditEvent) -> bool) -> Result<()> {
        for value in self.audit.iter().values() {
            if !f(decode_audit(&value?)?) {
                break;
            }
        }
        Ok(())
    }

    /// Audit events matching `filter` with id above `after_id`, oldest first, at most `limit`,
    /// read from the license's or the actor's postings when the filter names one (see
    /// [`EXAMINED_PER_PAGE`]).
    pub(crate) fn query_audit(
        &self,
        filter: &AuditFilter,
        after_id: u64,
        limit: usize,
    ) -> Result<AuditPage> {
        let matches = |e: &AuditEvent| {
            filter
                .license_id
                .as_deref()
                .is_none_or(|l| e.license_id.as_deref() == Some(l))
                && filter.actor.as_deref().is_none_or(|a| e.actor == a)
                && filter.after.is_none_or(|t| e.at >= t)
                && filter.before.is_none_or(|t| e.at < t)
        };
        let after = after_id.to_be_bytes();
        let postings = match (&filter.license_id, &filter.actor) {
            (Some(license), _) => Some(index::prefix(
                Kind::AuditByLicense,
                &index::compact_id(license),
            )),
            (None, Some(actor)) if actor != UNINDEXED_ACTOR => {
                Some(index::prefix(Kind::AuditByActor, actor.as_bytes()))
            }
            (None, _) => None,
        };
        let mut events = Vec::new();
        let mut examined = 0;
        let mut consider = |id: u64, event: AuditEvent| -> Option<Option<u64>> {
            if matches(&event) {
                events.push(event);
                if events.len() == limit {
                    return Some(Some(id));
                }
            }
            examined += 1;
            (examined >= EXAMINED_PER_PAGE).then_some(Some(id))
        };
        let mut next_cursor = None;
        match postings {
            Some(prefix) => {
                for entry in self.postings_after(&prefix, Some(&after)) {
                    let (key, _) = entry?;
                    let id = key.get(prefix.len()..).unwrap_or(&[]);
                    let Some(value) = self.audit.get(id)? else {
                        continue;
                    };
                    if let Some(stop) = consider(event_id(id), decode_audit(&value)?) {
                        next_cursor = stop;
                        break;
                    }
                }
            }
            None => {
                let start = after_id.saturating_add(1).to_be_bytes();
                for entry in self.audit.range(start..) {
                    let (id, value) = entry?;
                    if let Some(stop) = consider(event_id(&id), decode_audit(&value)?) {
                        next_cursor = stop;
                        break;
                    }
                }
            }
        }
        Ok(AuditPage {
            events,
            next_cursor,
        })
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

/// Sorted id lists merged into one sorted list, each id once.
struct Merged<I: Iterator<Item = Result<Vec<u8>>>> {
    lists: Vec<std::iter::Peekable<I>>,
}

impl<I: Iterator<Item = Result<Vec<u8>>>> Merged<I> {
    fn new(lists: Vec<I>) -> Self {
        Merged {
            lists: lists.into_iter().map(Iterator::peekable).collect(),
        }
    }
}

impl<I: Iterator<Item = Result<Vec<u8>>>> Iterator for Merged<I> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        // An error comes out first; otherwise the smallest id, taken from every list holding it.
        let mut smallest: Option<Vec<u8>> = None;
        for list in &mut self.lists {
            match list.peek() {
                Some(Err(_)) => return list.next(),
                Some(Ok(id)) if smallest.as_ref().is_none_or(|s| id < s) => {
                    smallest = Some(id.clone());
                }
                _ => {}
            }
        }
        let smallest = smallest?;
        for list in &mut self.lists {
            if matches!(list.peek(), Some(Ok(id)) if *id == smallest) {
                list.next();
            }
        }
        Some(Ok(smallest))
    }
}

fn event_id(key: &[u8]) -> u64 {
    <[u8; 8]>::try_from(key).map_or(0, u64::from_be_bytes)
}
