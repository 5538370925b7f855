//! Fail-stop storage on a real full disk: the data directory on a tiny tmpfs (mounting needs
//! root; elsewhere the test says loudly that it is skipped). The store-level tests inject the
//! fault instead (`src/store/tests.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use koolicense::settings::StorageBackend;

use crate::binary::Server;
use crate::durability::{client, get_license};
use crate::helpers::{new_dir, Order};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: PathBuf, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(&path).ok()?;
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Tmpfs(path))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Resident memory of a process in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_full_disk_stops_the_service_with_the_reason_and_loses_nothing_it_acknowledged() {
    let dir = new_dir();
    let Some(disk) = Tmpfs::mount(dir.path().join("disk"), "4m") else {
        let message = "SKIPPED the full-disk test: mounting a tmpfs needs root";
        eprintln!("{message}");
        assert!(
            std::env::var_os("KOOLICENSE_REQUIRE_ALL").is_none(),
            "{message}"
        );
        return;
    };
    let data_dir = disk.0.join("data");
    // About the database's files on a full disk: an embedded backend (fjall when the suite
    // runs on it, else sled) whatever backend the suite runs on.
    crate::support::pin_embedded(&data_dir);
    let log = dir.path().join("server.log");
    let mut server = Server::start(&data_dir, log.clone(), &[("KOOLICENSE_LOG", "info")]);
    let agent = client();
    let mut acknowledged = Vec::new();
    let mut failure = None;
    for _ in 0..50_000 {
        let order = Order::new().with("expireTime", "20300101000000");
        match get_license(&agent, &server.market_url(), &order) {
            Ok((instance, license)) => acknowledged.push((order, instance, license)),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let failed_at = Instant::now();
    let failure = failure.expect("the 4 MiB disk fills up");
    eprintln!(
        "full disk: {} licenses acknowledged, then: {failure}",
        acknowledged.len()
    );

    // Until the process is gone, readiness names the failure; it exits non-zero by itself.
    let pid = server.child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut reported, mut peak_rss) = (false, 0);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        peak_rss = peak_rss.max(rss_kib(pid).unwrap_or(0));
        match agent.get(&format!("{}/readyz", server.url)).call() {
            Err(ureq::Error::Status(503, r)) => {
                let body = r.into_string().unwrap_or_default();
                reported |= body.contains("storage_failed") && body.contains("space");
            }
            Ok(r) => panic!("ready after a storage failure: {}", r.status()),
            Err(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "the service did not exit after the storage failure; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!(
        "full disk: exited {status} {:?} after the first failed answer, peak RSS {peak_rss} KiB",
        failed_at.elapsed()
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(2),
        "stops by itself and exits non-zero (70 would be the watchdog: the stop hung)"
    );
    assert!(reported, "/readyz gave the reason; log:\n{text}");
    assert!(text.contains("STORAGE FAILED"), "{text}");
    assert!(
        peak_rss < 1024 * 1024,
        "memory stays bounded while failing: {peak_rss} KiB"
    );

    let database = match crate::support::backend_of(&data_dir) {
        StorageBackend::Fjall => "fjall",
        _ => "db",
    };
    assert!(
        data_dir.join(database).is_dir(),
        "the {database} database was on the full disk"
    );

    // On a healthy disk every acknowledged license is there, byte-identical.
    let healthy = dir.path().join("healthy");
    copy_tree(&data_dir, &healthy);
    crate::support::pin_embedded(&healthy);
    drop(disk);
    let server = Server::start(&healthy, dir.path().join("restarted.log"), &[]);
    for (order, instance, license) in &acknowledged {
        let again = get_license(&agent, &server.market_url(), order)
            .unwrap_or_else(|e| panic!("{} after the restart: {e}", order.order_id));
        assert_eq!(&again, &(instance.clone(), license.clone()));
    }
}
