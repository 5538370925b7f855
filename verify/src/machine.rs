//! Reading this machine's identifiers (std only).
//!
//! [`read_report`] collects the values of the four KooMarket components (MAC, disk, board, CPU;
//! see the `hwid` format) on the running machine and returns both the resulting [`HardwareId`]
//! and one [`SourceReading`] per place it looked, so a CLI can show where every value came from
//! and why a source contributed nothing. [`read_hardware_id`] returns just the identifier; its
//! [`HardwareId::to_koomarket_string`] is what the customer pastes into the marketplace.
//!
//! # Sources
//!
//! **Linux** ([`read_report_from_root`] with `/`):
//!
//! * MAC: `/sys/class/net/*/address` of interfaces that have a `device` entry (physical or
//!   paravirtual NICs; `lo`, bridges, veth, docker and tun interfaces have none). All-zero
//!   addresses are dropped. The current address is read, so a MAC changed by software changes
//!   the value.
//! * Disk: for every `/sys/block/*` with a `device` entry that is not a loop, RAM, zram,
//!   device-mapper, MD RAID, optical, NBD or floppy device: `device/serial` (NVMe), else the
//!   block-level `serial` (virtio-blk, e.g. cloud volumes), else the SCSI unit serial number VPD
//!   page `device/vpd_pg80` (SATA/SAS; readable by root only).
//! * Board: every readable value among `/sys/class/dmi/id/board_serial`, `product_serial`,
//!   `product_uuid` and `/etc/machine-id` (falling back to `/var/lib/dbus/machine-id`).
//! * CPU: the `Serial` line of `/proc/cpuinfo` (ARM boards that have one), otherwise the
//!   Windows-compatible processor identifier computed by [`processor_id_from_cpuinfo`].
//!
//! The DMI files and `vpd_pg80` are readable by root only on most distributions, so a root
//! process and an unprivileged process see different subsets of values. That is why the board
//! component collects several values: a component matches when *any* of its values matches, so
//! the world-readable machine-id keeps the board component stable for non-root readers while
//! root readers also contribute the DMI serials. (The machine-id is generated at installation;
//! cloned VM images that do not reset it share it, which is one reason it is only one value of
//! one component among four.)
//!
//! **Windows**: one `powershell` call querying CIM: `Win32_NetworkAdapter` (physical adapters)
//! `MACAddress`, `Win32_DiskDrive.SerialNumber`, `Win32_BaseBoard.SerialNumber` and
//! `Win32_ComputerSystemProduct.UUID` (board), `Win32_Processor.ProcessorId`.
//!
//! **macOS**: `ioreg -rd1 -c IOPlatformExpertDevice` (`IOPlatformSerialNumber` and
//! `IOPlatformUUID` → board) and the `ether` lines of the `en*` interfaces in `ifconfig` → MAC.
//! Disk and CPU stay empty. Wi-Fi interfaces may use a per-network private address, which is
//! one more reason bindings are K-of-N.
//!
//! Other operating systems get [`MachineError::Unsupported`].

use std::fmt;
use std::io;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::hwid::normalise_value;
use crate::{Component, HardwareId};

mod cpuinfo;
#[cfg(target_os = "linux")]
mod linux;
mod macos;
mod windows;

pub use cpuinfo::processor_id_from_cpuinfo;
#[cfg(target_os = "linux")]
pub use linux::read_report_from_root;

/// The identifier read on this machine and where each value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineReport {
    /// The normalised hardware identifier built from all [`SourceOutcome::Value`] readings.
    pub id: HardwareId,
    /// Every source consulted, in the order it was read.
    pub sources: Vec<SourceReading>,
}

/// What one source (a file, a CIM property, a command-output line) yielded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceReading {
    /// The component the source feeds.
    pub component: Component,
    /// Where the value came from, e.g. `/sys/class/dmi/id/board_serial`.
    pub source: String,
    /// What was found there.
    pub outcome: SourceOutcome,
}

/// The result of reading one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceOutcome {
    /// A usable value, already normalised.
    Value(String),
    /// The source exists but could not be read (the reason, e.g. permission denied).
    Unreadable(String),
    /// The source does not exist or is empty.
    Absent,
    /// The source holds a placeholder that identifies nothing (e.g. `To be filled by O.E.M.`).
    Placeholder,
}

/// Why no hardware identifier could be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MachineError {
    /// Reading hardware identifiers is not implemented for this operating system.
    Unsupported {
        /// The operating system (`std::env::consts::OS`).
        os: &'static str,
    },
    /// No source yielded a usable value.
    NothingReadable,
}

impl fmt::Display for MachineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MachineError::Unsupported { os } => {
                write!(f, "reading hardware identifiers is not supported on {os}")
            }
            MachineError::NothingReadable => {
                f.write_str("no hardware identifier could be read on this machine")
            }
        }
    }
}

impl std::error::Error for MachineError {}

/// Reads this machine's identifiers and reports every source consulted.
///
/// Fails with [`MachineError::NothingReadable`] when no source yields a usable value and with
/// [`MachineError::Unsupported`] on operating systems other than Linux, Windows and macOS.
pub fn read_report() -> Result<MachineReport, MachineError> {
    #[cfg(target_os = "linux")]
    {
        read_report_from_root(std::path::Path::new("/"))
    }
    #[cfg(target_os = "windows")]
    {
        windows::read_report()
    }
    #[cfg(target_os = "macos")]
    {
        macos::read_report()
    }
    #[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
    {
        Err(MachineError::Unsupported {
            os: std::env::consts::OS,
        })
    }
}

/// Reads this machine's hardware identifier; see [`read_report`].
pub fn read_hardware_id() -> Result<HardwareId, MachineError> {
    read_report().map(|report| report.id)
}

#[cfg_attr(
    not(any(target_os = "linux", target_os = "windows", target_os = "macos")),
    allow(dead_code)
)]
impl MachineReport {
    /// Builds the identifier from the readings; fails when no reading holds a value.
    fn from_sources(sources: Vec<SourceReading>) -> Result<MachineReport, MachineError> {
        let values = |component: Component| {
            sources
                .iter()
                .filter(move |r| r.component == component)
                .filter_map(|r| match &r.outcome {
                    SourceOutcome::Value(v) => Some(v.as_str()),
                    _ => None,
                })
        };
        let id = HardwareId::from_components(
            values(Component::Mac),
            values(Component::Disk),
            values(Component::Board),
            values(Component::Cpu),
        );
        if id.present_components() == 0 {
            return Err(MachineError::NothingReadable);
        }
        Ok(MachineReport { id, sources })
    }
}

#[cfg_attr(
    not(any(target_os = "linux", target_os = "windows", target_os = "macos")),
    allow(dead_code)
)]
impl SourceReading {
    fn new(component: Component, source: impl Into<String>, outcome: SourceOutcome) -> Self {
        SourceReading {
            component,
            source: source.into(),
            outcome,
        }
    }

    /// A reading of raw text: `Absent` when blank, `Placeholder` when normalisation drops it.
    fn from_raw(component: Component, source: impl Into<String>, raw: &str) -> Self {
        let outcome = if raw.trim().is_empty() {
            SourceOutcome::Absent
        } else {
            match normalise_value(component, raw) {
                Some(value) => SourceOutcome::Value(value),
                None => SourceOutcome::Placeholder,
            }
        };
        Self::new(component, source, outcome)
    }

    /// A failed read: `Absent` when the source does not exist, `Unreadable` otherwise.
    #[cfg_attr(not(any(target_os = "linux", test)), allow(dead_code))]
    fn from_error(component: Component, source: impl Into<String>, error: &io::Error) -> Self {
        let outcome = match error.kind() {
            io::ErrorKind::NotFound => SourceOutcome::Absent,
            _ => SourceOutcome::Unreadable(error.to_string()),
        };
        Self::new(component, source, outcome)
    }

    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn is_value(&self) -> bool {
        matches!(self.outcome, SourceOutcome::Value(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn real_machine_does_not_panic() {
        match read_report() {
            Ok(report) => {
                assert!(report.id.present_components() >= 1);
                assert!(!report.sources.is_empty());
                assert_eq!(read_hardware_id(), Ok(report.id));
            }
            Err(e) => assert_eq!(e, MachineError::NothingReadable),
        }
    }

    #[test]
    fn readings_classify_raw_text() {
        let r = SourceReading::from_raw(Component::Mac, "x", " 00:1a:2b:3c:4d:5e\n");
        assert_eq!(r.outcome, SourceOutcome::Value("001A2B3C4D5E".into()));
        let r = SourceReading::from_raw(Component::Board, "x", "Default string");
        assert_eq!(r.outcome, SourceOutcome::Placeholder);
        let r = SourceReading::from_raw(Component::Board, "x", " \n");
        assert_eq!(r.outcome, SourceOutcome::Absent);
        let missing = io::Error::from(io::ErrorKind::NotFound);
        let r = SourceReading::from_error(Component::Disk, "x", &missing);
        assert_eq!(r.outcome, SourceOutcome::Absent);
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let r = SourceReading::from_error(Component::Disk, "x", &denied);
        assert!(matches!(r.outcome, SourceOutcome::Unreadable(_)));
    }

    #[test]
    fn report_requires_a_value() {
        let nothing = std::vec![SourceReading::new(
            Component::Mac,
            "x",
            SourceOutcome::Placeholder
        )];
        assert_eq!(
            MachineReport::from_sources(nothing),
            Err(MachineError::NothingReadable)
        );
        assert!(format!("{}", MachineError::Unsupported { os: "plan9" }).contains("plan9"));
    }
}
