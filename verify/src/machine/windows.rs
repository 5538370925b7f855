//! Windows: CIM classes queried through one `powershell` call.
//!
//! The parsing is pure and compiled (and tested) on every platform; only the process spawn is
//! Windows-specific.
#![cfg_attr(not(windows), allow(dead_code))]

use std::string::ToString;
use std::vec::Vec;

use super::{SourceOutcome, SourceReading};
use crate::Component;

/// Output line prefix, component and source label of every queried property.
const PROPERTIES: [(&str, Component, &str); 5] = [
    ("MAC", Component::Mac, "Win32_NetworkAdapter.MACAddress"),
    ("DISK", Component::Disk, "Win32_DiskDrive.SerialNumber"),
    ("BOARD", Component::Board, "Win32_BaseBoard.SerialNumber"),
    ("UUID", Component::Board, "Win32_ComputerSystemProduct.UUID"),
    ("CPU", Component::Cpu, "Win32_Processor.ProcessorId"),
];

/// PowerShell script printing one `KEY=value` line per instance. Uses `Get-CimInstance`
/// (PowerShell 3+) and falls back to `Get-WmiObject` on older systems.
const SCRIPT: &str = "$ErrorActionPreference = 'SilentlyContinue'; \
    function Q($c) { if (Get-Command Get-CimInstance) { Get-CimInstance -ClassName $c } else { Get-WmiObject -Class $c } }; \
    Q Win32_NetworkAdapter | Where-Object { $_.PhysicalAdapter } | ForEach-Object { 'MAC=' + $_.MACAddress }; \
    Q Win32_DiskDrive | ForEach-Object { 'DISK=' + $_.SerialNumber }; \
    Q Win32_BaseBoard | ForEach-Object { 'BOARD=' + $_.SerialNumber }; \
    Q Win32_ComputerSystemProduct | ForEach-Object { 'UUID=' + $_.UUID }; \
    Q Win32_Processor | ForEach-Object { 'CPU=' + $_.ProcessorId }";

/// Turns the script output into readings; properties that produced no line are `Absent`.
fn parse_cim_output(output: &str) -> Vec<SourceReading> {
    let mut readings = Vec::new();
    for line in output.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        if let Some((_, component, source)) = PROPERTIES.iter().find(|(k, _, _)| *k == key) {
            readings.push(SourceReading::from_raw(*component, *source, value));
        }
    }
    for (_, component, source) in PROPERTIES {
        if !readings.iter().any(|r| r.source == source) {
            readings.push(SourceReading::new(component, source, SourceOutcome::Absent));
        }
    }
    readings
}

/// Every property marked unreadable for `reason` (PowerShell could not be run).
fn all_unreadable(reason: &str) -> Vec<SourceReading> {
    PROPERTIES
        .iter()
        .map(|(_, component, source)| {
            SourceReading::new(
                *component,
                *source,
                SourceOutcome::Unreadable(reason.to_string()),
            )
        })
        .collect()
}

#[cfg(windows)]
pub(super) fn read_report() -> Result<super::MachineReport, super::MachineError> {
    use std::os::windows::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::string::String;

    /// Do not flash a console window when called from a GUI application.
    const CREATE_NO_WINDOW: u32 = 0x0800_0000;

    let output = Command::new("powershell")
        .args(["-NoProfile", "-NonInteractive", "-Command", SCRIPT])
        .stdin(Stdio::null())
        .creation_flags(CREATE_NO_WINDOW)
        .output();
    let sources = match output {
        Ok(output) => parse_cim_output(&String::from_utf8_lossy(&output.stdout)),
        Err(error) => all_unreadable(&std::format!("cannot run powershell: {error}")),
    };
    super::MachineReport::from_sources(sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::ToOwned;

    const SAMPLE: &str = "MAC=00:1A:2B:3C:4D:5E\r\n\
        MAC=\r\n\
        MAC=00:50:56:C0:00:08\r\n\
        DISK=S4EWNX0R123456    \r\n\
        DISK=\r\n\
        BOARD=Default string\r\n\
        UUID=4C4C4544-0042-3510-8052-B4C04F564E32\r\n\
        CPU=BFEBFBFF00050657\r\n\
        WARNING: something unrelated\r\n";

    #[test]
    fn parses_cim_output() {
        let readings = parse_cim_output(SAMPLE);
        let outcomes: Vec<(&str, SourceOutcome)> = readings
            .iter()
            .map(|r| (r.source.as_str(), r.outcome.clone()))
            .collect();
        let value = |v: &str| SourceOutcome::Value(v.to_owned());
        assert_eq!(
            outcomes,
            [
                ("Win32_NetworkAdapter.MACAddress", value("001A2B3C4D5E")),
                ("Win32_NetworkAdapter.MACAddress", SourceOutcome::Absent),
                ("Win32_NetworkAdapter.MACAddress", value("005056C00008")),
                ("Win32_DiskDrive.SerialNumber", value("S4EWNX0R123456")),
                ("Win32_DiskDrive.SerialNumber", SourceOutcome::Absent),
                ("Win32_BaseBoard.SerialNumber", SourceOutcome::Placeholder),
                (
                    "Win32_ComputerSystemProduct.UUID",
                    value("4C4C4544-0042-3510-8052-B4C04F564E32")
                ),
                ("Win32_Processor.ProcessorId", value("BFEBFBFF00050657")),
            ]
        );
        let report = super::super::MachineReport::from_sources(readings);
        assert_eq!(
            report.map(|r| r.id.to_koomarket_string()),
            Ok("001A2B3C4D5E,005056C00008|S4EWNX0R123456|4C4C4544-0042-3510-8052-B4C04F564E32|BFEBFBFF00050657".to_owned())
        );
    }

    #[test]
    fn missing_properties_are_absent() {
        let readings = parse_cim_output("CPU=BFEBFBFF000906EA\n");
        assert_eq!(readings.len(), 5);
        assert_eq!(
            readings
                .iter()
                .filter(|r| r.outcome == SourceOutcome::Absent)
                .count(),
            4
        );
        assert!(all_unreadable("no powershell")
            .iter()
            .all(|r| matches!(r.outcome, SourceOutcome::Unreadable(_))));
        assert!(SCRIPT.contains("PhysicalAdapter"));
    }
}
