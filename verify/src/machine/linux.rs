//! Linux: sysfs, `/etc/machine-id` and `/proc/cpuinfo`.

use std::borrow::ToOwned;
use std::format;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::string::String;
use std::vec::Vec;

use super::cpuinfo::{cpu_serial_from_cpuinfo, processor_id_from_cpuinfo};
use super::{MachineError, MachineReport, SourceOutcome, SourceReading};
use crate::Component;

/// Read at most this much of a sysfs attribute or id file.
const ATTRIBUTE_LIMIT: u64 = 64 * 1024;
/// Read at most this much of `/proc/cpuinfo` (large machines produce a few hundred KB).
const CPUINFO_LIMIT: u64 = 16 * 1024 * 1024;

const NET_DIR: &str = "/sys/class/net";
const BLOCK_DIR: &str = "/sys/block";
const DMI_FILES: [&str; 3] = [
    "/sys/class/dmi/id/board_serial",
    "/sys/class/dmi/id/product_serial",
    "/sys/class/dmi/id/product_uuid",
];
const MACHINE_ID_FILES: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];
const CPUINFO: &str = "/proc/cpuinfo";
/// Block devices that are not disks with a serial number of their own.
const VIRTUAL_BLOCK_PREFIXES: [&str; 8] = ["loop", "ram", "zram", "dm-", "md", "sr", "nbd", "fd"];

/// How a candidate file is interpreted.
#[derive(Clone, Copy)]
enum Format {
    /// Text holding the value.
    Text,
    /// A SCSI "Unit Serial Number" VPD page (0x80).
    VpdPg80,
}

/// Reads the identifiers of the Linux system whose filesystem is mounted at `root`.
///
/// `read_report()` calls this with `/`; other roots serve tests and offline inspection of a
/// mounted system image. [`SourceReading::source`] names the path as seen from inside that
/// system (e.g. `/sys/class/dmi/id/board_serial`), not the path under `root`.
///
/// Fails with [`MachineError::NothingReadable`] when no source yields a usable value.
pub fn read_report_from_root(root: &Path) -> Result<MachineReport, MachineError> {
    let mut sources = Vec::new();
    read_macs(root, &mut sources);
    read_disks(root, &mut sources);
    read_board(root, &mut sources);
    read_cpu(root, &mut sources);
    MachineReport::from_sources(sources)
}

/// `logical` (an absolute path inside the system) below `root`.
fn under(root: &Path, logical: &str) -> PathBuf {
    root.join(logical.trim_start_matches('/'))
}

fn exists(root: &Path, logical: &str) -> bool {
    fs::symlink_metadata(under(root, logical)).is_ok()
}

fn read_limited(root: &Path, logical: &str, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(under(root, logical))?
        .take(limit)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Names of the entries of a directory, sorted; names that are not UTF-8 are skipped.
fn sorted_entries(root: &Path, logical: &str) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(under(root, logical))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    names.sort_unstable();
    Ok(names)
}

fn read_source(root: &Path, component: Component, logical: &str, format: Format) -> SourceReading {
    match read_limited(root, logical, ATTRIBUTE_LIMIT) {
        Ok(bytes) => {
            let text = match format {
                Format::Text => String::from_utf8_lossy(&bytes).into_owned(),
                Format::VpdPg80 => serial_from_vpd_pg80(&bytes).unwrap_or_default(),
            };
            SourceReading::from_raw(component, logical, &text)
        }
        Err(error) => SourceReading::from_error(component, logical, &error),
    }
}

/// Tries `candidates` in order and stops at the first value. Every existing candidate that was
/// tried is reported; if none exists, one `Absent` reading names the first.
fn first_value(
    root: &Path,
    component: Component,
    candidates: &[(String, Format)],
    out: &mut Vec<SourceReading>,
) {
    let before = out.len();
    for (logical, format) in candidates {
        if !exists(root, logical) {
            continue;
        }
        let reading = read_source(root, component, logical, *format);
        let done = reading.is_value();
        out.push(reading);
        if done {
            return;
        }
    }
    if out.len() == before {
        if let Some((logical, _)) = candidates.first() {
            out.push(SourceReading::new(
                component,
                logical.as_str(),
                SourceOutcome::Absent,
            ));
        }
    }
}

/// Lists the entries of `dir`; on failure records the error and returns nothing.
fn entries_or_record(
    root: &Path,
    component: Component,
    dir: &str,
    out: &mut Vec<SourceReading>,
) -> Vec<String> {
    match sorted_entries(root, dir) {
        Ok(names) => names,
        Err(error) => {
            out.push(SourceReading::from_error(component, dir, &error));
            Vec::new()
        }
    }
}

fn read_macs(root: &Path, out: &mut Vec<SourceReading>) {
    let before = out.len();
    for name in entries_or_record(root, Component::Mac, NET_DIR, out) {
        let dir = format!("{NET_DIR}/{name}");
        // Only interfaces backed by a device; lo, bridges, veth, docker and tun have none.
        if name == "lo" || !exists(root, &format!("{dir}/device")) {
            continue;
        }
        let address = format!("{dir}/address");
        out.push(read_source(root, Component::Mac, &address, Format::Text));
    }
    if out.len() == before {
        out.push(SourceReading::new(
            Component::Mac,
            NET_DIR,
            SourceOutcome::Absent,
        ));
    }
}

fn read_disks(root: &Path, out: &mut Vec<SourceReading>) {
    let before = out.len();
    for name in entries_or_record(root, Component::Disk, BLOCK_DIR, out) {
        let dir = format!("{BLOCK_DIR}/{name}");
        if VIRTUAL_BLOCK_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
            || !exists(root, &format!("{dir}/device"))
        {
            continue;
        }
        let candidates = [
            (format!("{dir}/device/serial"), Format::Text),
            (format!("{dir}/serial"), Format::Text),
            (format!("{dir}/device/vpd_pg80"), Format::VpdPg80),
        ];
        first_value(root, Component::Disk, &candidates, out);
    }
    if out.len() == before {
        out.push(SourceReading::new(
            Component::Disk,
            BLOCK_DIR,
            SourceOutcome::Absent,
        ));
    }
}

fn read_board(root: &Path, out: &mut Vec<SourceReading>) {
    for file in DMI_FILES {
        out.push(read_source(root, Component::Board, file, Format::Text));
    }
    let machine_ids = MACHINE_ID_FILES.map(|f| (f.to_owned(), Format::Text));
    first_value(root, Component::Board, &machine_ids, out);
}

fn read_cpu(root: &Path, out: &mut Vec<SourceReading>) {
    let text = match read_limited(root, CPUINFO, CPUINFO_LIMIT) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(error) => {
            out.push(SourceReading::from_error(Component::Cpu, CPUINFO, &error));
            return;
        }
    };
    if let Some(serial) = cpu_serial_from_cpuinfo(&text) {
        let reading =
            SourceReading::from_raw(Component::Cpu, format!("{CPUINFO} (Serial)"), &serial);
        let done = reading.is_value();
        out.push(reading);
        if done {
            return;
        }
    }
    let reading = match processor_id_from_cpuinfo(&text) {
        Some(id) => {
            SourceReading::from_raw(Component::Cpu, format!("{CPUINFO} (ProcessorId)"), &id)
        }
        None => SourceReading::new(Component::Cpu, CPUINFO, SourceOutcome::Absent),
    };
    out.push(reading);
}

/// The serial number in a SCSI Unit Serial Number VPD page (`vpd_pg80`): a 4-byte header
/// (peripheral byte, page code 0x80, big-endian page length) followed by ASCII, space padded.
fn serial_from_vpd_pg80(page: &[u8]) -> Option<String> {
    let [_, 0x80, len_hi, len_lo, body @ ..] = page else {
        return None;
    };
    let len = usize::from(*len_hi) << 8 | usize::from(*len_lo);
    let body = body.get(..len).unwrap_or(body);
    let text: String = body
        .iter()
        .map(|&b| char::from(b))
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .collect();
    let serial = text.trim();
    (!serial.is_empty()).then(|| serial.to_owned())
}

#[cfg(test)]
mod tests;
