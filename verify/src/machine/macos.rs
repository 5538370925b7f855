//! macOS: `ioreg` for the platform serial number and UUID, `ifconfig` for MAC addresses.
//!
//! The parsing is pure and compiled (and tested) on every platform; only the process spawns
//! are macOS-specific.
#![cfg_attr(not(target_os = "macos"), allow(dead_code))]

use std::format;
use std::vec::Vec;

use super::{SourceOutcome, SourceReading};
use crate::Component;

/// Board properties read from `ioreg -rd1 -c IOPlatformExpertDevice`.
const IOREG_KEYS: [&str; 2] = ["IOPlatformSerialNumber", "IOPlatformUUID"];
const IOREG_SOURCE: &str = "ioreg IOPlatformExpertDevice";
const IFCONFIG_SOURCE: &str = "ifconfig";

/// Board readings from `ioreg` output lines such as `"IOPlatformUUID" = "8D1B…"`.
fn parse_ioreg(output: &str) -> Vec<SourceReading> {
    IOREG_KEYS
        .iter()
        .map(|key| {
            let source = format!("{IOREG_SOURCE}.{key}");
            let quoted = format!("\"{key}\"");
            let value = output.lines().find_map(|line| {
                let (lhs, rhs) = line.split_once('=')?;
                (lhs.trim() == quoted).then(|| rhs.trim().trim_matches('"'))
            });
            match value {
                Some(value) => SourceReading::from_raw(Component::Board, source, value),
                None => SourceReading::new(Component::Board, source, SourceOutcome::Absent),
            }
        })
        .collect()
}

/// MAC readings from the `ether` lines of `en*` interfaces in `ifconfig` output.
fn parse_ifconfig(output: &str) -> Vec<SourceReading> {
    let mut readings = Vec::new();
    let mut interface: Option<&str> = None;
    for line in output.lines() {
        if !line.starts_with(char::is_whitespace) {
            // Interface header: `en0: flags=8863<UP,…> mtu 1500`.
            interface = line.split_once(':').map(|(name, _)| name);
            continue;
        }
        let Some(name) = interface.filter(|name| name.starts_with("en")) else {
            continue;
        };
        if let Some(mac) = line.trim().strip_prefix("ether ") {
            let source = format!("{IFCONFIG_SOURCE} {name}");
            readings.push(SourceReading::from_raw(Component::Mac, source, mac));
        }
    }
    if readings.is_empty() {
        readings.push(SourceReading::new(
            Component::Mac,
            IFCONFIG_SOURCE,
            SourceOutcome::Absent,
        ));
    }
    readings
}

#[cfg(target_os = "macos")]
fn run(program: &str, args: &[&str]) -> Result<std::string::String, std::string::String> {
    let output = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {program}: {error}"))?;
    Ok(std::string::String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(target_os = "macos")]
pub(super) fn read_report() -> Result<super::MachineReport, super::MachineError> {
    let mut sources = match run("/sbin/ifconfig", &[]) {
        Ok(output) => parse_ifconfig(&output),
        Err(reason) => std::vec![SourceReading::new(
            Component::Mac,
            IFCONFIG_SOURCE,
            SourceOutcome::Unreadable(reason),
        )],
    };
    match run("/usr/sbin/ioreg", &["-rd1", "-c", "IOPlatformExpertDevice"]) {
        Ok(output) => sources.extend(parse_ioreg(&output)),
        Err(reason) => sources.extend(IOREG_KEYS.iter().map(|key| {
            SourceReading::new(
                Component::Board,
                format!("{IOREG_SOURCE}.{key}"),
                SourceOutcome::Unreadable(reason.clone()),
            )
        })),
    }
    super::MachineReport::from_sources(sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::ToOwned;

    const IOREG: &str = r#"+-o MacBookPro18,3  <class IOPlatformExpertDevice, id 0x100000243, registered, matched, active, busy 0 (39 ms), retain 36>
    {
      "IOPolledInterface" = "AppleARMWatchdogTimerHibernateHandler is not serializable"
      "IOPlatformSerialNumber" = "C02G1234ABCD"
      "IOPlatformUUID" = "8D1B2C3D-4E5F-5A6B-9C7D-0E1F2A3B4C5D"
      "model" = <"MacBookPro18,3">
    }
"#;

    const IFCONFIG: &str = "lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384
\toptions=1203<RXCSUM,TXCSUM,TXSTATUS,SW_TIMESTAMP>
\tinet 127.0.0.1 netmask 0xff000000
en0: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500
\toptions=6463<RXCSUM,TXCSUM,TSO4,TSO6,CHANNEL_IO,PARTIAL_CSUM,ZEROINVERT_CSUM>
\tether a4:83:e7:12:34:56
\tinet 192.168.1.23 netmask 0xffffff00 broadcast 192.168.1.255
bridge0: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500
\tether 36:12:34:56:78:00
en1: flags=8963<UP,BROADCAST,SMART,RUNNING,PROMISC,SIMPLEX,MULTICAST> mtu 1500
\tether 36:12:34:56:78:01
awdl0: flags=8943<UP,BROADCAST,RUNNING,PROMISC,SIMPLEX,MULTICAST> mtu 1500
\tether 6e:aa:bb:cc:dd:ee
";

    #[test]
    fn parses_ioreg() {
        let readings = parse_ioreg(IOREG);
        let outcomes: Vec<(&str, &SourceOutcome)> = readings
            .iter()
            .map(|r| (r.source.as_str(), &r.outcome))
            .collect();
        assert_eq!(
            outcomes,
            [
                (
                    "ioreg IOPlatformExpertDevice.IOPlatformSerialNumber",
                    &SourceOutcome::Value("C02G1234ABCD".to_owned())
                ),
                (
                    "ioreg IOPlatformExpertDevice.IOPlatformUUID",
                    &SourceOutcome::Value("8D1B2C3D-4E5F-5A6B-9C7D-0E1F2A3B4C5D".to_owned())
                ),
            ]
        );
        assert!(parse_ioreg("")
            .iter()
            .all(|r| r.outcome == SourceOutcome::Absent));
    }

    #[test]
    fn parses_ifconfig_en_interfaces_only() {
        let readings = parse_ifconfig(IFCONFIG);
        let outcomes: Vec<(&str, &SourceOutcome)> = readings
            .iter()
            .map(|r| (r.source.as_str(), &r.outcome))
            .collect();
        assert_eq!(
            outcomes,
            [
                (
                    "ifconfig en0",
                    &SourceOutcome::Value("A483E7123456".to_owned())
                ),
                (
                    "ifconfig en1",
                    &SourceOutcome::Value("361234567801".to_owned())
                ),
            ]
        );
        assert_eq!(
            parse_ifconfig("lo0: flags=8049<UP> mtu 16384\n")
                .first()
                .map(|r| &r.outcome),
            Some(&SourceOutcome::Absent)
        );
    }

    #[test]
    fn builds_report() {
        let mut sources = parse_ifconfig(IFCONFIG);
        sources.extend(parse_ioreg(IOREG));
        let report = super::super::MachineReport::from_sources(sources);
        assert_eq!(
            report.map(|r| r.id.to_koomarket_string()),
            Ok(
                "361234567801,A483E7123456||8D1B2C3D-4E5F-5A6B-9C7D-0E1F2A3B4C5D,C02G1234ABCD|"
                    .to_owned()
            )
        );
    }
}
