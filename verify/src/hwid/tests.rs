use super::*;
use crate::binding::{HardwareBinding, MAX_VALUES_PER_COMPONENT};
use alloc::format;
use alloc::vec;
use proptest::prelude::*;

type TestResult = Result<(), HardwareIdError>;

const SALT: [u8; SALT_LEN] = [7u8; SALT_LEN];

fn id(s: &str) -> Result<HardwareId, HardwareIdError> {
    HardwareId::parse(s)
}

#[test]
fn parses_four_fields() -> TestResult {
    let id = id("00:1A:2B:3C:4D:5E,F0-1F-AF-00-00-01|S3Z9NB0K123456|BSN12345|BFEBFBFF00050657")?;
    assert_eq!(id.values(Component::Mac), ["001A2B3C4D5E", "F01FAF000001"]);
    assert_eq!(id.values(Component::Disk), ["S3Z9NB0K123456"]);
    assert_eq!(id.values(Component::Board), ["BSN12345"]);
    assert_eq!(id.values(Component::Cpu), ["BFEBFBFF00050657"]);
    assert_eq!(id.present_components(), 4);
    Ok(())
}

#[test]
fn missing_trailing_fields_are_empty() -> TestResult {
    let one = id("001A2B3C4D5E")?;
    assert_eq!(one.present_components(), 1);
    assert!(one.values(Component::Disk).is_empty());
    assert_eq!(one.to_koomarket_string(), "001A2B3C4D5E|||");

    let two = id("  |disk-1 \n")?;
    assert_eq!(two.values(Component::Mac), [] as [&str; 0]);
    assert_eq!(two.values(Component::Disk), ["DISK-1"]);
    assert_eq!(two.to_koomarket_string(), "|DISK-1||");
    Ok(())
}

#[test]
fn rejects_malformed_input() {
    assert_eq!(
        id("a|b|c|d|e"),
        Err(HardwareIdError::TooManyFields { found: 5 })
    );
    let long = "A".repeat(HardwareId::MAX_LEN + 1);
    assert_eq!(
        id(&long),
        Err(HardwareIdError::TooLong {
            len: HardwareId::MAX_LEN + 1
        })
    );
    assert!(id(&"A".repeat(HardwareId::MAX_LEN)).is_ok());
    assert_eq!(
        id("AB\tCD|X"),
        Err(HardwareIdError::ControlCharacter { offset: 2 })
    );
    assert_eq!(
        id("AB|C\u{0}D"),
        Err(HardwareIdError::ControlCharacter { offset: 4 })
    );
    for empty in [
        "",
        "   ",
        "|||",
        ",,|,|",
        "000000000000|NONE|To be filled by O.E.M.|FFFFFFFF",
    ] {
        assert_eq!(id(empty), Err(HardwareIdError::Empty), "{empty:?}");
    }
}

#[test]
fn error_messages_are_readable() {
    let msg = format!("{}", HardwareIdError::TooManyFields { found: 6 });
    assert!(msg.contains("6"));
    let msg = format!("{}", HardwareIdError::TooLong { len: 9000 });
    assert!(msg.contains("9000") && msg.contains("5120"));
}

#[test]
fn mac_spellings_are_equal() -> TestResult {
    let canonical = id("001A2B3C4D5E")?;
    for spelling in [
        "00:1a:2b:3c:4d:5e",
        "00-1A-2B-3C-4D-5E",
        "001a.2b3c.4d5e",
        " 00 1a 2b 3c 4d 5e ",
        "001A2B3C4D5E,00:1A:2B:3C:4D:5E",
    ] {
        assert_eq!(id(spelling)?, canonical, "{spelling}");
    }
    Ok(())
}

#[test]
fn only_mac_loses_punctuation() -> TestResult {
    let id = id("|wd-wx12 34.5|a:b|")?;
    assert_eq!(id.values(Component::Disk), ["WD-WX1234.5"]);
    assert_eq!(id.values(Component::Board), ["A:B"]);
    Ok(())
}

#[test]
fn placeholders_are_dropped() -> TestResult {
    let junk = [
        "0",
        "00000000",
        "000000000000",
        "00:00:00:00:00:00",
        "FFFFFFFF",
        "ff:ff:ff:ff:ff:ff",
        "None",
        "NULL",
        "N/A",
        "NA",
        "unknown",
        "Default string",
        "To be filled by O.E.M.",
        "TO BE FILLED BY OEM",
        "System Serial Number",
        "Not Specified",
        "Not Applicable",
        "123456789",
        "03000200-0400-0500-0006-000700080009",
        "-",
    ];
    for component in Component::ALL {
        for value in junk {
            assert_eq!(
                normalise_value(component, value),
                None,
                "{component}: {value:?}"
            );
        }
    }
    let mixed = id("000000000000,001A2B3C4D5E|N/A,S123|Default string|")?;
    assert_eq!(mixed.to_koomarket_string(), "001A2B3C4D5E|S123||");
    // Values that merely contain zeros or F's are kept.
    assert_eq!(
        normalise_value(Component::Board, "F00F"),
        Some(String::from("F00F"))
    );
    assert_eq!(
        normalise_value(Component::Disk, "0000000A"),
        Some(String::from("0000000A"))
    );
    Ok(())
}

#[test]
fn canonical_string_round_trips() -> TestResult {
    let id1 = id(" b2,a1,B2 | z , y |board| cpu ")?;
    assert_eq!(id1.to_koomarket_string(), "A1,B2|Y,Z|BOARD|CPU");
    assert_eq!(format!("{id1}"), id1.to_koomarket_string());
    assert_eq!(id(&id1.to_koomarket_string())?, id1);
    Ok(())
}

#[test]
fn from_components_normalises_and_splits() -> TestResult {
    let built = HardwareId::from_components(
        ["00:1a:2b:3c:4d:5e", "", "0"],
        ["s1,s2"],
        ["x|y"],
        Vec::<&str>::new(),
    );
    assert_eq!(built.to_koomarket_string(), "001A2B3C4D5E|S1,S2|X,Y|");
    assert_eq!(built.present_components(), 3);
    assert_eq!(id(&built.to_koomarket_string())?, built);
    // Unicode whitespace is trimmed like `parse` trims the whole string, but kept inside.
    let spaced = HardwareId::from_components(["\u{2000}ab\u{3000}"], [":\u{a0}x y"], [""], [""]);
    assert_eq!(spaced.values(Component::Mac), ["AB"]);
    assert_eq!(spaced.values(Component::Disk), [":\u{a0}XY"]);
    assert_eq!(id(&spaced.to_koomarket_string())?, spaced);
    let empty = HardwareId::from_components([""], ["NONE"], ["0"], ["ffff"]);
    assert_eq!(empty.present_components(), 0);
    assert_eq!(empty.to_koomarket_string(), "|||");
    Ok(())
}

#[test]
fn component_metadata() {
    let names: Vec<&str> = Component::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["mac", "disk", "board", "cpu"]);
    for (i, c) in Component::ALL.into_iter().enumerate() {
        assert_eq!(c.index(), i);
        assert_eq!(c as u8 as usize, i);
    }
}

#[test]
fn component_hash_vector() {
    let salt: [u8; SALT_LEN] = core::array::from_fn(|i| i as u8);
    // Independently computed with Python's hashlib.
    assert_eq!(
        component_hash(&salt, Component::Mac, "001A2B3C4D5E"),
        [0xdc, 0x44, 0xc4, 0x9f, 0xcc, 0xc9, 0x4b, 0xf4]
    );
    assert_eq!(
        component_hash(&salt, Component::Board, "BSN12345"),
        [0x21, 0x46, 0x71, 0x04, 0x19, 0x62, 0x26, 0x3c]
    );
}

#[test]
fn salt_and_component_change_the_hash() -> TestResult {
    let a = component_hash(&[1; SALT_LEN], Component::Disk, "S1");
    assert_ne!(a, component_hash(&[2; SALT_LEN], Component::Disk, "S1"));
    assert_ne!(a, component_hash(&[1; SALT_LEN], Component::Board, "S1"));
    let machine = id("AA|BB|CC|DD")?;
    let b1 = HardwareBinding::bind(&machine, [1; SALT_LEN], 2)?;
    let b2 = HardwareBinding::bind(&machine, [2; SALT_LEN], 2)?;
    assert_ne!(b1.hashes, b2.hashes);
    assert!(b1.matches(&machine) && b2.matches(&machine));
    Ok(())
}

#[test]
fn three_of_four() -> TestResult {
    let original = id("001A2B3C4D5E|DISK1|BOARD1|CPU1")?;
    let binding = HardwareBinding::bind(&original, SALT, 3)?;
    assert_eq!(binding.min_match, 3);
    assert_eq!(binding.matching_components(&original), 4);
    assert!(binding.matches(&original));

    let new_disk = id("001A2B3C4D5E|DISK2|BOARD1|CPU1")?;
    assert_eq!(binding.matching_components(&new_disk), 3);
    assert!(binding.matches(&new_disk));

    let new_disk_and_nic = id("001A2B3C4D5F|DISK2|BOARD1|CPU1")?;
    assert_eq!(binding.matching_components(&new_disk_and_nic), 2);
    assert!(!binding.matches(&new_disk_and_nic));
    Ok(())
}

#[test]
fn default_two_of_four() -> TestResult {
    let original = id("M1|D1|B1|C1")?;
    let binding = HardwareBinding::bind(&original, SALT, HardwareBinding::DEFAULT_MIN_MATCH)?;
    assert_eq!(binding.min_match, 2);
    assert!(binding.matches(&id("M2|D2|B1|C1")?));
    assert!(!binding.matches(&id("M2|D2|B2|C1")?));
    assert!(!binding.matches(&id("M2|D2|B2|C2")?));
    // A machine that now exposes fewer components still matches if two of them agree.
    assert!(binding.matches(&id("|D1||C1")?));
    // A different component holding a matching value does not count.
    assert!(!binding.matches(&id("B1|C1|M1|D1")?));
    Ok(())
}

#[test]
fn min_match_is_clamped_at_bind_time() -> TestResult {
    let two_components = id("M1|||C1")?;
    let binding = HardwareBinding::bind(&two_components, SALT, 3)?;
    assert_eq!(binding.min_match, 2);
    assert!(binding.matches(&two_components));
    assert!(!binding.matches(&id("M1|||C2")?));

    assert_eq!(
        HardwareBinding::bind(&two_components, SALT, 0)?.min_match,
        1
    );
    assert_eq!(
        HardwareBinding::bind(&two_components, SALT, 255)?.min_match,
        2
    );
    assert_eq!(
        HardwareBinding::bind(&id("M1|D1|B1|C1")?, SALT, 9)?.min_match,
        4
    );

    let empty = HardwareId::from_components([""], [""], [""], [""]);
    assert_eq!(
        HardwareBinding::bind(&empty, SALT, 2),
        Err(HardwareIdError::Empty)
    );
    Ok(())
}

#[test]
fn corrupt_min_match_never_matches() -> TestResult {
    let machine = id("M1|D1|B1|C1")?;
    let mut binding = HardwareBinding::bind(&machine, SALT, 2)?;
    binding.min_match = 0;
    assert!(!binding.matches(&machine));
    binding.min_match = 5;
    assert!(!binding.matches(&machine));
    Ok(())
}

#[test]
fn any_value_of_a_component_matches() -> TestResult {
    // Bound as root on a machine with three NICs and DMI serials plus machine-id.
    let bound = id("AA0000000001,AA0000000002,AA0000000003||BOARDSN,MACHINEID|")?;
    let binding = HardwareBinding::bind(&bound, SALT, 2)?;
    // Read later without root: one NIC unplugged, DMI serials unreadable.
    let later = id("AA0000000002,BB0000000009||MACHINEID|")?;
    assert_eq!(binding.matching_components(&later), 2);
    assert!(binding.matches(&later));
    Ok(())
}

#[test]
fn keeps_at_most_max_values_per_component() -> TestResult {
    let many = id("M6,M5,M4,M3,M2,M1|D1||")?;
    let binding = HardwareBinding::bind(&many, SALT, 2)?;
    assert_eq!(binding.hashes[0].len(), MAX_VALUES_PER_COMPONENT);
    assert_eq!(binding.hashes[1].len(), 1);
    assert!(binding.hashes[2].is_empty() && binding.hashes[3].is_empty());
    let kept: Vec<[u8; HASH_LEN]> = ["M1", "M2", "M3", "M4"]
        .iter()
        .map(|v| component_hash(&SALT, Component::Mac, v))
        .collect();
    assert_eq!(binding.hashes[0], kept);
    assert!(!binding.matches(&id("M6|D1")?));
    assert!(binding.matches(&id("M4|D1")?));
    Ok(())
}

#[test]
fn components_without_hashes_never_match() -> TestResult {
    let binding = HardwareBinding {
        min_match: 1,
        salt: SALT,
        hashes: [vec![], vec![], vec![], vec![]],
        anchor: None,
    };
    assert_eq!(binding.matching_components(&id("M|D|B|C")?), 0);
    assert!(!binding.matches(&id("M|D|B|C")?));
    Ok(())
}

proptest! {
    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = HardwareId::parse(&s);
    }

    #[test]
    fn parse_structured_never_panics_and_round_trips(
        s in "[0-9a-fA-F:|, .\\-Nn/]{0,80}"
    ) {
        if let Ok(parsed) = HardwareId::parse(&s) {
            prop_assert!(parsed.present_components() >= 1);
            prop_assert_eq!(HardwareId::parse(&parsed.to_koomarket_string()), Ok(parsed));
        }
    }

    #[test]
    fn normalisation_is_idempotent(s in any::<String>(), c in 0usize..4) {
        let component = Component::ALL.get(c).copied().unwrap_or(Component::Mac);
        if let Some(once) = normalise_value(component, &s) {
            prop_assert_eq!(normalise_value(component, &once), Some(once.clone()));
        }
    }

    #[test]
    fn from_components_round_trips(
        mac in proptest::collection::vec(any::<String>(), 0..4),
        disk in proptest::collection::vec(any::<String>(), 0..4),
        board in proptest::collection::vec("[ -~]{0,20}", 0..4),
        cpu in proptest::collection::vec(any::<String>(), 0..2),
    ) {
        let built = HardwareId::from_components(mac, disk, board, cpu);
        let text = built.to_koomarket_string();
        if built.present_components() > 0 && text.len() <= HardwareId::MAX_LEN {
            prop_assert_eq!(HardwareId::parse(&text), Ok(built));
        }
    }

    #[test]
    fn bind_and_match_never_panic(
        bound in any::<String>(),
        other in any::<String>(),
        salt in any::<[u8; SALT_LEN]>(),
        k in any::<u8>(),
    ) {
        let bound = HardwareId::from_components([&bound], [&bound], [&other], [&other]);
        let other = HardwareId::from_components([&other], [&bound.to_string()], [""], [""]);
        if let Ok(binding) = HardwareBinding::bind(&bound, salt, k) {
            prop_assert!(binding.min_match >= 1);
            prop_assert!(usize::from(binding.min_match) <= bound.present_components());
            prop_assert!(binding.matches(&bound));
            let _ = binding.matches(&other);
        } else {
            prop_assert_eq!(bound.present_components(), 0);
        }
    }

    #[test]
    fn arbitrary_bindings_never_panic(
        min_match in any::<u8>(),
        salt in any::<[u8; SALT_LEN]>(),
        hashes in proptest::collection::vec(any::<[u8; HASH_LEN]>(), 0..12),
        s in any::<String>(),
    ) {
        let binding = HardwareBinding {
            min_match,
            salt,
            hashes: [hashes.clone(), hashes.clone(), vec![], hashes],
            anchor: None,
        };
        if let Ok(machine) = HardwareId::parse(&s) {
            prop_assert!(binding.matching_components(&machine) <= 4);
            let _ = binding.matches(&machine);
        }
    }
}
