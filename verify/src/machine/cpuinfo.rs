//! Interpreting `/proc/cpuinfo`: the ARM `Serial` line and a Windows-compatible `ProcessorId`.

use std::borrow::ToOwned;
use std::format;
use std::string::String;

/// Linux `/proc/cpuinfo` flag names of the CPUID leaf 1 EDX feature bits.
const EDX_FLAGS: [(&str, u32); 30] = [
    ("fpu", 0),
    ("vme", 1),
    ("de", 2),
    ("pse", 3),
    ("tsc", 4),
    ("msr", 5),
    ("pae", 6),
    ("mce", 7),
    ("cx8", 8),
    ("apic", 9),
    ("sep", 11),
    ("mtrr", 12),
    ("pge", 13),
    ("mca", 14),
    ("cmov", 15),
    ("pat", 16),
    ("pse36", 17),
    ("pn", 18),
    ("clflush", 19),
    ("dts", 21),
    ("acpi", 22),
    ("mmx", 23),
    ("fxsr", 24),
    ("sse", 25),
    ("sse2", 26),
    ("ss", 27),
    ("ht", 28),
    ("tm", 29),
    ("ia64", 30),
    ("pbe", 31),
];

/// Splits a `key<TAB>: value` line into trimmed key and value.
fn key_value(line: &str) -> Option<(&str, &str)> {
    line.split_once(':').map(|(k, v)| (k.trim(), v.trim()))
}

/// Computes the x86 processor identifier that Windows reports as `Win32_Processor.ProcessorId`
/// (`wmic cpu get ProcessorId`) from the text of Linux `/proc/cpuinfo`.
///
/// The identifier is CPUID leaf 1 EDX followed by EAX as 16 upper-case hex digits, e.g.
/// `BFEBFBFF00050657`. EAX (the processor signature) is rebuilt from the first processor's
/// `cpu family`, `model` and `stepping` lines using the Intel/AMD encoding (base family capped
/// at `0xF` with the rest in the extended family, the model's high nibble in the extended
/// model); EDX is rebuilt from the feature names in its `flags` line. Returns `None` when any of
/// those lines is missing or out of range (e.g. on ARM).
///
/// This value is **not unique per chip**: every CPU of the same model and stepping reports the
/// same identifier, and a hypervisor may mask feature flags. It is what the Windows client
/// reports, so it is one weak component among four, useful mainly together with the others.
///
/// ```
/// use koolicense_verify::machine::processor_id_from_cpuinfo;
///
/// let cpuinfo = "processor\t: 0\ncpu family\t: 6\nmodel\t\t: 85\nstepping\t: 7\nflags\t\t: fpu sse2\n";
/// assert_eq!(processor_id_from_cpuinfo(cpuinfo).as_deref(), Some("0400000100050657"));
/// ```
pub fn processor_id_from_cpuinfo(cpuinfo: &str) -> Option<String> {
    let mut family = None;
    let mut model = None;
    let mut stepping = None;
    let mut flags = None;
    let mut in_block = false;
    for line in cpuinfo.lines() {
        if line.trim().is_empty() {
            if in_block {
                break; // end of the first processor's block
            }
            continue;
        }
        in_block = true;
        let Some((key, value)) = key_value(line) else {
            continue;
        };
        match key {
            "cpu family" => family = value.parse::<u32>().ok(),
            "model" => model = value.parse::<u32>().ok(),
            "stepping" => stepping = value.parse::<u32>().ok(),
            "flags" => flags = Some(value),
            _ => {}
        }
    }
    let (family, model, stepping, flags) = (family?, model?, stepping?, flags?);
    if stepping > 0xF || model > 0xFF || family > 0xF + 0xFF {
        return None;
    }
    let (base_family, ext_family) = if family >= 0xF {
        (0xF, family - 0xF)
    } else {
        (family, 0)
    };
    let eax = stepping
        | ((model & 0xF) << 4)
        | (base_family << 8)
        | ((model >> 4) << 16)
        | (ext_family << 20);
    let edx = flags
        .split_ascii_whitespace()
        .filter_map(|flag| EDX_FLAGS.iter().find(|(name, _)| *name == flag))
        .fold(0u32, |acc, (_, bit)| acc | (1u32 << bit));
    Some(format!("{edx:08X}{eax:08X}"))
}

/// The value of the `Serial` line (ARM boards such as the Raspberry Pi), if any.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(super) fn cpu_serial_from_cpuinfo(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .filter_map(key_value)
        .find(|(key, value)| *key == "Serial" && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// First processor of a bare-metal Xeon Gold 6248 (Cascade Lake), followed by the start
    /// of a second block with different (bogus) values that must be ignored.
    pub(in crate::machine) const CASCADE_LAKE: &str = "\
processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz
stepping\t: 7
microcode\t: 0x5003302
cpu MHz\t\t: 2500.000
cache size\t: 28160 KB
fpu\t\t: yes
fpu_exception\t: yes
cpuid level\t: 22
wp\t\t: yes
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l3 cdp_l3 invpcid_single intel_ppin ssbd mba ibrs ibpb stibp ibrs_enhanced tpr_shadow vnmi flexpriority ept vpid fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid cqm mpx rdt_a avx512f avx512dq rdseed adx smap clflushopt clwb intel_pt avx512cd avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local dtherm ida arat pln pts pku ospke avx512_vnni md_clear flush_l1d arch_capabilities
bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass swapgs taa itlb_multihit
bogomips\t: 5000.00
power management:

processor\t: 1
cpu family\t: 15
model\t\t: 1
stepping\t: 1
flags\t\t: fpu
";

    #[test]
    fn intel_cascade_lake_matches_windows() {
        let id = processor_id_from_cpuinfo(CASCADE_LAKE);
        // EDX: every bit except the reserved 10 and 20, pn (18) and ia64 (30).
        assert_eq!(id.as_deref(), Some("BFEBFBFF00050657"));
    }

    #[test]
    fn amd_zen2_uses_extended_family() {
        let cpuinfo =
            "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 23\nmodel\t\t: 49\n\
            model name\t: AMD EPYC 7502 32-Core Processor\nstepping\t: 0\n\
            flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 \
            clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm\n";
        assert_eq!(
            processor_id_from_cpuinfo(cpuinfo).as_deref(),
            Some("178BFBFF00830F10")
        );
    }

    #[test]
    fn edx_bits_follow_flags() {
        let base = "cpu family\t: 6\nmodel\t\t: 158\nstepping\t: 10\n";
        let id = |flags: &str| processor_id_from_cpuinfo(&format!("{base}flags\t\t: {flags}\n"));
        assert_eq!(id("").as_deref(), Some("00000000000906EA"));
        assert_eq!(id("fpu").as_deref(), Some("00000001000906EA"));
        assert_eq!(id("sep ht").as_deref(), Some("10000800000906EA"));
        assert_eq!(id("pbe unknown_flag").as_deref(), Some("80000000000906EA"));
        assert_eq!(id("fpu fpu").as_deref(), Some("00000001000906EA"));
    }

    #[test]
    fn missing_or_bogus_fields_give_none() {
        assert_eq!(processor_id_from_cpuinfo(""), None);
        assert_eq!(
            processor_id_from_cpuinfo("cpu family\t: 6\nmodel\t\t: 85\nflags\t: fpu\n"),
            None
        );
        assert_eq!(
            processor_id_from_cpuinfo("cpu family: 6\nmodel: 85\nstepping: unknown\nflags: fpu\n"),
            None
        );
        assert_eq!(
            processor_id_from_cpuinfo("cpu family: 6\nmodel: 300\nstepping: 1\nflags: fpu\n"),
            None
        );
        assert_eq!(
            processor_id_from_cpuinfo("cpu family: 99999\nmodel: 1\nstepping: 1\nflags: fpu\n"),
            None
        );
        // ARM cpuinfo has no family/model/stepping lines.
        assert_eq!(processor_id_from_cpuinfo(RASPBERRY_PI), None);
    }

    pub(in crate::machine) const RASPBERRY_PI: &str = "\
processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

Hardware\t: BCM2835
Revision\t: c03111
Serial\t\t: 10000000abcdef12
Model\t\t: Raspberry Pi 4 Model B Rev 1.1
";

    #[test]
    fn arm_serial() {
        assert_eq!(
            cpu_serial_from_cpuinfo(RASPBERRY_PI).as_deref(),
            Some("10000000abcdef12")
        );
        assert_eq!(cpu_serial_from_cpuinfo(CASCADE_LAKE), None);
        assert_eq!(cpu_serial_from_cpuinfo("Serial\t\t: \n"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in proptest::prelude::any::<String>()) {
            let _ = processor_id_from_cpuinfo(&s);
            let _ = cpu_serial_from_cpuinfo(&s);
        }
    }
}
