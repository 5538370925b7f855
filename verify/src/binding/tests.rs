//! The anchored binding rule against a customer who crafts his hardware identifier.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;

const SALT: [u8; SALT_LEN] = [3u8; SALT_LEN];

fn id(text: &str) -> HardwareId {
    HardwareId::parse(text).unwrap()
}

fn strict(text: &str) -> Result<HardwareBinding, HardwareIdError> {
    HardwareBinding::bind_strict(&id(text), SALT, 2)
}

const MACHINE_1: &str = "00:1A:2B:3C:4D:01|DISK-0001|BOARD-0001|BFEBFBFF000906EA";
const MACHINE_2: &str = "00:1A:2B:3C:4D:02|DISK-0002|BOARD-0002|BFEBFBFF000906EA";

#[test]
fn an_identifier_listing_two_machines_in_every_component_is_refused() {
    let crafted = "00:1A:2B:3C:4D:01,00:1A:2B:3C:4D:02|DISK-0001,DISK-0002|BOARD-0001,BOARD-0002|BFEBFBFF000906EA";
    assert_eq!(strict(crafted), Err(HardwareIdError::NoAnchor));
    // The version 1 rule gave one license for both machines.
    let legacy = HardwareBinding::bind(&id(crafted), SALT, 2).unwrap();
    assert!(legacy.matches(&id(MACHINE_1)) && legacy.matches(&id(MACHINE_2)));
}

#[test]
fn a_crafted_identifier_with_one_board_verifies_only_on_that_board() {
    let crafted =
        "00:1A:2B:3C:4D:01,00:1A:2B:3C:4D:02|DISK-0001,DISK-0002|BOARD-0001|BFEBFBFF000906EA";
    let binding = strict(crafted).unwrap();
    assert_eq!(binding.anchor, Some(Component::Board));
    assert_eq!(binding.check(&id(MACHINE_1)), Ok(()));
    assert_eq!(binding.check(&id(MACHINE_2)), Err(Error::AnchorMismatch));
}

#[test]
fn the_model_wide_cpu_id_and_a_copied_mac_do_not_make_another_machine_match() {
    let binding = strict(MACHINE_1).unwrap();
    assert!(
        binding.hashes[Component::Cpu.index()].is_empty(),
        "CPU id not recorded"
    );
    let same_cpu_and_mac = "00:1A:2B:3C:4D:01|DISK-0002|BOARD-0002|BFEBFBFF000906EA";
    assert_eq!(
        binding.check(&id(same_cpu_and_mac)),
        Err(Error::HardwareMismatch {
            matched: 1,
            required: 2
        })
    );
    let legacy = HardwareBinding::bind(&id(MACHINE_1), SALT, 2).unwrap();
    assert!(
        legacy.matches(&id(same_cpu_and_mac)),
        "the version 1 rule let it through"
    );
}

#[test]
fn identifiers_with_fewer_than_k_usable_components_are_refused() {
    let too_few = |usable| {
        Err(HardwareIdError::TooFewComponents {
            usable,
            required: 2,
        })
    };
    assert_eq!(strict("00:1A:2B:3C:4D:01|||"), too_few(1));
    assert_eq!(strict("00:1A:2B:3C:4D:01|||BFEBFBFF000906EA"), too_few(1));
    assert_eq!(
        strict("01:00:5E:00:00:FB|DISK-0001||"),
        too_few(1),
        "multicast MAC"
    );
    assert_eq!(
        strict("FF:FF:FF:FF:FF:FF|DISK-0001|To be filled by O.E.M.|"),
        too_few(1)
    );
    assert_eq!(
        HardwareBinding::bind_strict(&id(MACHINE_1), SALT, 4),
        Err(HardwareIdError::TooFewComponents {
            usable: 3,
            required: 4
        }),
        "K = 4 cannot be met once the CPU no longer counts"
    );
}

#[test]
fn the_disk_anchors_when_the_board_has_several_values() {
    let binding = strict("00:1A:2B:3C:4D:01|DISK-0001|BOARD-0001,MACHINE-ID-1|").unwrap();
    assert_eq!(binding.anchor, Some(Component::Disk));
    assert_eq!(
        strict("00:1A:2B:3C:4D:01|DISK-1,DISK-2|BOARD-1,BOARD-2|"),
        Err(HardwareIdError::NoAnchor)
    );
}

#[test]
fn an_honest_machine_keeps_its_license_when_a_disk_or_network_card_is_replaced() {
    let binding = strict(MACHINE_1).unwrap();
    assert!(binding.matches(&id("00:1A:2B:3C:4D:01|NEW-DISK|BOARD-0001|")));
    assert!(binding.matches(&id("AA:1A:2B:3C:4D:99|DISK-0001|BOARD-0001|")));
    assert_eq!(
        binding.check(&id("00:1A:2B:3C:4D:01|DISK-0001|NEW-BOARD|")),
        Err(Error::AnchorMismatch),
        "a new mainboard is a new machine"
    );
}

#[test]
fn a_weak_binding_is_an_explicit_choice_and_still_ignores_generic_values() {
    let weak =
        HardwareBinding::bind_weak(&id("00:1A:2B:3C:4D:01|||BFEBFBFF000906EA"), SALT, 2).unwrap();
    assert_eq!((weak.min_match, weak.anchor), (1, None));
    assert!(weak.hashes[Component::Cpu.index()].is_empty());
    assert_eq!(
        HardwareBinding::bind_weak(&id("|||BFEBFBFF000906EA"), SALT, 2),
        Err(HardwareIdError::Empty)
    );
}

/// Three machines with nothing in common but the CPU model.
fn machine_values(machine: usize) -> [Vec<String>; 3] {
    [
        (0..2)
            .map(|n| format!("00:1A:2B:3C:{machine:02X}:{n:02X}"))
            .collect(),
        (0..2).map(|n| format!("DISK-{machine}-{n}")).collect(),
        (0..2).map(|n| format!("BOARD-{machine}-{n}")).collect(),
    ]
}

fn machine(machine: usize) -> HardwareId {
    let [mac, disk, board] = machine_values(machine);
    HardwareId::from_components(mac, disk, board, ["BFEBFBFF000906EA"])
}

proptest! {
    /// Whatever parts of three machines a customer puts into one identifier, a license issued
    /// for it verifies on at most one of them.
    #[test]
    fn a_crafted_identifier_verifies_on_at_most_one_of_the_machines_it_was_built_from(
        picks in proptest::collection::vec(proptest::collection::vec(any::<bool>(), 6), 3),
        k in 1u8..=3,
    ) {
        let mut components: [Vec<String>; 3] = Default::default();
        for (m, pick) in picks.iter().enumerate() {
            let values = machine_values(m);
            for (c, component) in components.iter_mut().enumerate() {
                for (v, value) in values[c].iter().enumerate() {
                    if pick[c * 2 + v] {
                        component.push(value.clone());
                    }
                }
            }
        }
        let [mac, disk, board] = components;
        let crafted = HardwareId::from_components(mac, disk, board, ["BFEBFBFF000906EA"]);
        if let Ok(binding) = HardwareBinding::bind_strict(&crafted, SALT, k) {
            let verifying = (0..3).filter(|&m| binding.matches(&machine(m))).count();
            prop_assert!(verifying <= 1, "{crafted} verifies on {verifying} machines");
        }
    }
}
