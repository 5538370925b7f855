//! Support for the scale benchmark (`benches/scale.rs`) and the integration tests ONLY: not a
//! supported API, hidden from the docs, and free to change with them.
//!
//! * [`ScaleDb`]: a database on sled or fjall, filled directly through the store's write path
//!   with licenses as getLicense writes them (record, postings, audit event), and the
//!   queries the benchmark times: merchant lookups by customer and by order, the revocation list
//!   build and an export;
//! * [`stored_licenses`]: what the tests read besides the HTTP answers.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};

use crate::licensing::policy::{BindingKind, Policy};
use crate::licensing::revocations::{self, ListCache};
use crate::licensing::{create_as, NewLicense};
pub use crate::settings::StorageBackend;
use crate::settings::{RevocationSettings, Settings, StorageSettings};
use crate::signing::Signer;
use crate::store::records::{AuditEvent, KeyRecord, LicenseStatus, Origin};
use crate::store::{LicenseFilter, Store, WriteBatch};

/// Licenses per write (one transaction and one sync each).
const BATCH: usize = 1_000;
/// Page cache of the benchmark's database, as the service's default.
const CACHE_MB: u64 = 64;

/// The customer of license `i` of a database of `count`: ten licenses per customer.
pub fn customer_of(i: usize, count: usize) -> String {
    format!("{:032x}", i % (count / 10).max(1))
}

/// The order of license `i`.
pub fn order_of(i: usize) -> String {
    format!("CS{i:015}")
}

/// Every twentieth license is revoked, suspended or released (5 % of the database).
fn status_of(i: usize) -> LicenseStatus {
    match (i % 20, i % 60) {
        (0, 0) => LicenseStatus::Revoked,
        (0, 20) => LicenseStatus::Suspended,
        (0, _) => LicenseStatus::Released,
        _ => LicenseStatus::Active,
    }
}

/// How many licenses of `0..count` the revocation list carries.
pub fn listed_of(count: usize) -> usize {
    (0..count)
        .filter(|&i| status_of(i) != LicenseStatus::Active)
        .count()
}

/// A database for the scale benchmark.
pub struct ScaleDb {
    store: Store,
    signer: Signer,
}

impl ScaleDb {
    /// Opens (or creates) the database under `data_dir`, signing with the key in `key_dir`
    /// (created on first use).
    pub fn open(data_dir: &Path, key_dir: &Path) -> anyhow::Result<ScaleDb> {
        ScaleDb::open_on(StorageBackend::Sled, data_dir, key_dir, CACHE_MB)
    }

    /// As [`ScaleDb::open`], on `engine` (sled or fjall) with a page cache of `cache_mb` MiB.
    pub fn open_on(
        engine: StorageBackend,
        data_dir: &Path,
        key_dir: &Path,
        cache_mb: u64,
    ) -> anyhow::Result<ScaleDb> {
        let path = key_dir.join("scale.key.pem");
        let signer = if path.exists() {
            Signer::load(&path)?
        } else {
            let signer = Signer::generate()?;
            signer.write_pair(key_dir, Some("scale"))?;
            signer
        };
        std::fs::create_dir_all(data_dir)?;
        let store = match engine {
            StorageBackend::Sled => Store::open(data_dir, cache_mb),
            StorageBackend::Fjall => Store::open_fjall(data_dir, cache_mb, ReadFault::default()),
            StorageBackend::Postgres => {
                anyhow::bail!("the scale database is embedded: sled or fjall")
            }
        }
        .context("while opening the database")?;
        store.register_signing_key(
            KeyRecord {
                kid: signer.kid().to_string(),
                public_key_pem: signer.public_key().to_pem(),
                first_used: Utc::now(),
                retired_at: None,
            },
            false,
        )?;
        Ok(ScaleDb { store, signer })
    }

    /// Writes licenses `from..to` of a database of `count`, as getLicense does, [`BATCH`] per
    /// durable write.
    pub fn fill(&self, from: usize, to: usize, count: usize) -> anyhow::Result<()> {
        let policy = Policy {
            binding: BindingKind::System,
            ..Policy::default()
        };
        let now = Utc::now();
        let mut start = from;
        while start < to {
            let end = (start + BATCH).min(to);
            let mut batch = WriteBatch {
                revocation_changed: true,
                ..WriteBatch::default()
            };
            for i in start..end {
                let order = order_of(i);
                let id = crate::licensing::new_id();
                let mut record = create_as(
                    id,
                    NewLicense {
                        origin: Origin::KoomarketGet,
                        instance_id: Some(id.to_string()),
                        order_id: Some(order.clone()),
                        product_id: format!("00301-66666{}-0--0", i % 5),
                        sku_code: Some(format!("sku-{}", i % 3)),
                        customer_id: Some(customer_of(i, count)),
                        customer_name: None,
                        trial: false,
                        test: false,
                        charging_mode: Some("1".into()),
                        period_type: Some("year".into()),
                        period_number: Some("1".into()),
                        amount: Some(1),
                        expires_at: Some(now + Duration::days(365)),
                        identifier: Some(format!("SYSID-{i:032}")),
                    },
                    &policy,
                    &self.signer,
                    now,
                )?;
                record.status = status_of(i);
                batch
                    .audit
                    .push(issued_event(&record.license_id, &order, now));
                batch.licenses.push(record);
            }
            self.store.write(batch)?;
            start = end;
        }
        Ok(())
    }

    /// The license ids of a merchant lookup by customer.
    pub fn by_customer(&self, customer: &str) -> anyhow::Result<Vec<String>> {
        self.lookup(LicenseFilter {
            customer_id: Some(customer.to_owned()),
            ..LicenseFilter::default()
        })
    }

    /// The license ids of a merchant lookup by order.
    pub fn by_order(&self, order: &str) -> anyhow::Result<Vec<String>> {
        self.lookup(LicenseFilter {
            order_id: Some(order.to_owned()),
            ..LicenseFilter::default()
        })
    }

    fn lookup(&self, filter: LicenseFilter) -> anyhow::Result<Vec<String>> {
        let page = self.store.list_licenses(&filter, None, 100)?;
        Ok(page.items.into_iter().map(|r| r.license_id).collect())
    }

    /// Builds and signs the revocation list; returns its entry count and length.
    pub fn revocation_list(&self, now: DateTime<Utc>) -> anyhow::Result<(usize, usize)> {
        let cache = ListCache::default();
        let settings = RevocationSettings::default();
        let list = revocations::current(&self.store, &self.signer, &settings, &cache, now)?;
        Ok((list.entries, list.text.len()))
    }

    /// Exports every license as JSON Lines into `sink`, as `GET /v1/export/licenses` does;
    /// returns how many.
    pub fn export(&self, sink: &mut impl std::io::Write) -> anyhow::Result<usize> {
        let mut count = 0;
        let mut failure = None;
        self.store.for_each_license(|record| {
            let line = serde_json::to_writer(&mut *sink, &record)
                .map_err(anyhow::Error::from)
                .and_then(|()| sink.write_all(b"\n").map_err(anyhow::Error::from));
            count += 1;
            failure = line.err();
            failure.is_none()
        })?;
        failure.map_or(Ok(count), Err)
    }

    /// Recounts the counters from the records, as the migration to schema 3 does once.
    pub fn recount(&self) -> anyhow::Result<()> {
        Ok(self.store.recount()?)
    }

    /// Per tree: (name, entries, bytes of keys and values); walks every tree.
    pub fn tree_sizes(&self) -> anyhow::Result<Vec<(String, usize, u64)>> {
        Ok(self.store.tree_sizes()?)
    }

    /// Flushes and closes the database.
    pub fn close(self) -> anyhow::Result<()> {
        Ok(self.store.close()?)
    }
}

fn issued_event(license_id: &str, order: &str, now: DateTime<Utc>) -> AuditEvent {
    AuditEvent {
        id: 0,
        at: now,
        actor: "koomarket".into(),
        action: "getLicense".into(),
        outcome: "issued".into(),
        license_id: Some(license_id.to_owned()),
        instance_id: None,
        order_id: Some(order.to_owned()),
        business_id: Some(format!("B{order}")),
        test: false,
        detail: None,
    }
}

/// The license records of a stopped app's database, as the API shows them.
pub fn stored_licenses(storage: &StorageSettings) -> anyhow::Result<Vec<serde_json::Value>> {
    let store = open(storage)?;
    let mut records = Vec::new();
    store.for_each_license(|record| {
        records.push(serde_json::to_value(&record).unwrap_or_default());
        true
    })?;
    store.close()?;
    Ok(records)
}

/// Moves licenses' creation (and the marketplace's audit events about them) the given number of
/// days into the past, in a stopped app's database (the console's screenshots show a month).
pub fn backdate(
    storage: &StorageSettings,
    days_by_license: &std::collections::HashMap<String, i64>,
) -> anyhow::Result<()> {
    let store = open(storage)?;
    store.backdate(days_by_license)?;
    store.close()?;
    Ok(())
}

/// Opens the store `storage` describes (either backend).
fn open(storage: &StorageSettings) -> anyhow::Result<Store> {
    let settings = Settings {
        storage: storage.clone(),
        ..Settings::default()
    };
    crate::startup::open_store(&settings, ReadFault::default())
}

/// A switch that makes every storage read of an application fail (`StartOptions::read_fault`).
pub use crate::store::kv::ReadFault;
