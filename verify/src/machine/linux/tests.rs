use super::*;
use crate::machine::cpuinfo::tests::{CASCADE_LAKE, RASPBERRY_PI};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use std::vec;

type TestResult = Result<(), std::boxed::Box<dyn std::error::Error>>;

/// A directory tree under the system temp dir, removed on drop.
struct FakeRoot(PathBuf);

impl FakeRoot {
    fn new() -> io::Result<FakeRoot> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!(
            "koolicense-verify-machine-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(name);
        fs::create_dir_all(&dir)?;
        Ok(FakeRoot(dir))
    }

    fn file(&self, logical: &str, contents: impl AsRef<[u8]>) -> io::Result<()> {
        let path = under(&self.0, logical);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(path, contents)
    }

    fn dir(&self, logical: &str) -> io::Result<()> {
        fs::create_dir_all(under(&self.0, logical))
    }
}

impl Drop for FakeRoot {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn reading(component: Component, source: &str, outcome: SourceOutcome) -> SourceReading {
    SourceReading::new(component, source, outcome)
}

fn value(v: &str) -> SourceOutcome {
    SourceOutcome::Value(v.to_owned())
}

#[test]
fn reads_fake_tree() -> TestResult {
    let root = FakeRoot::new()?;
    root.file("/sys/class/net/eth0/address", "00:1a:2b:3c:4d:5e\n")?;
    root.dir("/sys/class/net/eth0/device")?;
    root.file("/sys/class/net/eth1/address", "00:00:00:00:00:00\n")?;
    root.dir("/sys/class/net/eth1/device")?;
    root.file("/sys/class/net/lo/address", "00:00:00:00:00:00\n")?;
    root.file("/sys/class/net/docker0/address", "02:42:ac:11:00:02\n")?;

    root.file("/sys/block/nvme0n1/device/serial", "  S4EWNX0R123456  \n")?;
    root.dir("/sys/block/loop0/device")?;
    root.file("/sys/block/loop0/device/serial", "LOOPSERIAL")?;
    let mut vpd = vec![0x00, 0x80, 0x00, 0x0e];
    vpd.extend_from_slice(b"  WD-WX12345\0\0");
    root.file("/sys/block/sda/device/vpd_pg80", vpd)?;
    root.file("/sys/block/vda/serial", "vol-1234\n")?;
    root.dir("/sys/block/vda/device")?;
    root.dir("/sys/block/sdb/device")?;
    root.file("/sys/block/zram0/serial", "ZRAM")?;

    root.file("/sys/class/dmi/id/board_serial", "To be filled by O.E.M.\n")?;
    root.file(
        "/sys/class/dmi/id/product_uuid",
        "4c4c4544-0042-3510-8052-b4c04f564e32\n",
    )?;
    root.file("/etc/machine-id", "3d1219c7c4c5404aaa1f6d2a48adfda4\n")?;
    root.file(
        "/var/lib/dbus/machine-id",
        "ffffffffffffffffffffffffffffffff\n",
    )?;
    root.file("/proc/cpuinfo", CASCADE_LAKE)?;

    let report = read_report_from_root(&root.0)?;
    assert_eq!(
        report.id.to_koomarket_string(),
        "001A2B3C4D5E|S4EWNX0R123456,VOL-1234,WD-WX12345|\
         3D1219C7C4C5404AAA1F6D2A48ADFDA4,4C4C4544-0042-3510-8052-B4C04F564E32|BFEBFBFF00050657"
    );
    let expected = vec![
        reading(
            Component::Mac,
            "/sys/class/net/eth0/address",
            value("001A2B3C4D5E"),
        ),
        reading(
            Component::Mac,
            "/sys/class/net/eth1/address",
            SourceOutcome::Placeholder,
        ),
        reading(
            Component::Disk,
            "/sys/block/nvme0n1/device/serial",
            value("S4EWNX0R123456"),
        ),
        reading(
            Component::Disk,
            "/sys/block/sda/device/vpd_pg80",
            value("WD-WX12345"),
        ),
        reading(
            Component::Disk,
            "/sys/block/sdb/device/serial",
            SourceOutcome::Absent,
        ),
        reading(Component::Disk, "/sys/block/vda/serial", value("VOL-1234")),
        reading(
            Component::Board,
            "/sys/class/dmi/id/board_serial",
            SourceOutcome::Placeholder,
        ),
        reading(
            Component::Board,
            "/sys/class/dmi/id/product_serial",
            SourceOutcome::Absent,
        ),
        reading(
            Component::Board,
            "/sys/class/dmi/id/product_uuid",
            value("4C4C4544-0042-3510-8052-B4C04F564E32"),
        ),
        reading(
            Component::Board,
            "/etc/machine-id",
            value("3D1219C7C4C5404AAA1F6D2A48ADFDA4"),
        ),
        reading(
            Component::Cpu,
            "/proc/cpuinfo (ProcessorId)",
            value("BFEBFBFF00050657"),
        ),
    ];
    assert_eq!(report.sources, expected);
    Ok(())
}

#[test]
fn fallbacks_and_unreadable_sources() -> TestResult {
    let root = FakeRoot::new()?;
    // A directory where a file is expected cannot be read (works even when running as root).
    root.dir("/sys/class/dmi/id/product_serial")?;
    root.file("/etc/machine-id", "\n")?;
    root.file(
        "/var/lib/dbus/machine-id",
        "0123abcd0123abcd0123abcd0123abcd",
    )?;
    root.dir("/sys/block/sda/device/serial")?;
    root.file(
        "/sys/block/sda/device/vpd_pg80",
        [0u8, 0x80, 0, 4, b' ', b' ', 0, 0],
    )?;
    root.file("/proc/cpuinfo", RASPBERRY_PI)?;

    let report = read_report_from_root(&root.0)?;
    assert_eq!(
        report.id.to_koomarket_string(),
        "||0123ABCD0123ABCD0123ABCD0123ABCD|10000000ABCDEF12"
    );
    let find = |source: &str| {
        report
            .sources
            .iter()
            .find(|r| r.source == source)
            .map(|r| r.outcome.clone())
    };
    assert!(matches!(
        find("/sys/class/dmi/id/product_serial"),
        Some(SourceOutcome::Unreadable(_))
    ));
    assert!(matches!(
        find("/sys/block/sda/device/serial"),
        Some(SourceOutcome::Unreadable(_))
    ));
    assert_eq!(
        find("/sys/block/sda/device/vpd_pg80"),
        Some(SourceOutcome::Absent)
    );
    assert_eq!(find("/etc/machine-id"), Some(SourceOutcome::Absent));
    assert_eq!(
        find("/var/lib/dbus/machine-id"),
        Some(value("0123ABCD0123ABCD0123ABCD0123ABCD"))
    );
    assert_eq!(find("/sys/class/net"), Some(SourceOutcome::Absent));
    assert_eq!(
        find("/proc/cpuinfo (Serial)"),
        Some(value("10000000ABCDEF12"))
    );
    Ok(())
}

#[test]
fn zero_arm_serial_falls_back_to_absent() -> TestResult {
    let root = FakeRoot::new()?;
    root.file("/etc/machine-id", "3d1219c7c4c5404aaa1f6d2a48adfda4")?;
    root.file(
        "/proc/cpuinfo",
        "processor\t: 0\nHardware\t: BCM2835\nSerial\t\t: 0000000000000000\n",
    )?;
    let report = read_report_from_root(&root.0)?;
    let cpu: Vec<&SourceReading> = report
        .sources
        .iter()
        .filter(|r| r.component == Component::Cpu)
        .collect();
    assert_eq!(
        cpu,
        [
            &reading(
                Component::Cpu,
                "/proc/cpuinfo (Serial)",
                SourceOutcome::Placeholder
            ),
            &reading(Component::Cpu, "/proc/cpuinfo", SourceOutcome::Absent),
        ]
    );
    assert!(report.id.values(Component::Cpu).is_empty());
    Ok(())
}

#[test]
fn empty_root_reads_nothing() -> TestResult {
    let root = FakeRoot::new()?;
    assert_eq!(
        read_report_from_root(&root.0),
        Err(MachineError::NothingReadable)
    );
    let missing = root.0.join("does-not-exist");
    assert_eq!(
        read_report_from_root(&missing),
        Err(MachineError::NothingReadable)
    );
    Ok(())
}

#[test]
fn vpd_pg80_parsing() {
    assert_eq!(
        serial_from_vpd_pg80(b"\x00\x80\x00\x0a  ABC123  ").as_deref(),
        Some("ABC123")
    );
    // Length beyond the data: use what is there.
    assert_eq!(
        serial_from_vpd_pg80(b"\x00\x80\x00\xffXYZ").as_deref(),
        Some("XYZ")
    );
    // Length shorter than the data: ignore the rest.
    assert_eq!(
        serial_from_vpd_pg80(b"\x00\x80\x00\x02ABCD").as_deref(),
        Some("AB")
    );
    assert_eq!(serial_from_vpd_pg80(b"\x00\x83\x00\x02AB"), None);
    assert_eq!(serial_from_vpd_pg80(b"\x00\x80\x00"), None);
    assert_eq!(serial_from_vpd_pg80(b""), None);
    assert_eq!(serial_from_vpd_pg80(b"\x00\x80\x00\x04\0\0\0\0"), None);
}

proptest::proptest! {
    #[test]
    fn vpd_pg80_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
        let _ = serial_from_vpd_pg80(&bytes);
    }
}
