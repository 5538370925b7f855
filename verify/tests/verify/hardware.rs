//! K-of-N hardware binding as seen through the verifier: replaced parts, multi-valued
//! components and the default K.

use koolicense_verify::{Binding, Error, HardwareBinding, HardwareId, Host};

use crate::support::*;

const MAC: &str = "00:1A:2B:3C:4D:5E,00:1A:2B:3C:4D:5F";
const DISK: &str = "S3Z9NB0K123456";
const BOARD: &str = "BSN-ABC-123";
const CPU: &str = "BFEBFBFF000906EA";

fn machine(mac: &str, disk: &str, board: &str, cpu: &str) -> HardwareId {
    hwid(&format!("{mac}|{disk}|{board}|{cpu}"))
}

fn check(token: &str, id: &HardwareId) -> Result<(), Error> {
    let host = Host {
        hardware: Some(id),
        system_identifier: None,
    };
    verifier().verify_on(token, T0 + DAY, &host).map(|_| ())
}

#[test]
fn k_of_3_survives_one_replaced_component_but_not_two() {
    let claims = hardware_claims(3);
    let Binding::Hardware(hw) = &claims.binding else {
        panic!("hardware binding expected")
    };
    assert_eq!(hw.min_match, 3);
    let token = issue(&claims);
    assert_eq!(check(&token, &machine(MAC, DISK, BOARD, CPU)), Ok(()));
    // A new disk.
    assert_eq!(check(&token, &machine(MAC, "NEWDISK", BOARD, CPU)), Ok(()));
    // A new network card.
    assert_eq!(
        check(&token, &machine("AA-BB-CC-00-11-22", DISK, BOARD, CPU)),
        Ok(())
    );
    // A new disk and a new mainboard.
    assert_eq!(
        check(&token, &machine(MAC, "NEWDISK", "NEWBOARD", CPU)),
        Err(Error::HardwareMismatch {
            matched: 2,
            required: 3
        })
    );
    // A component the machine no longer reports counts as replaced.
    assert_eq!(
        check(&token, &machine(MAC, "", "", CPU)),
        Err(Error::HardwareMismatch {
            matched: 2,
            required: 3
        })
    );
}

#[test]
fn the_default_k_of_2_survives_two_replaced_components_but_not_three() {
    let claims = hardware_claims(HardwareBinding::DEFAULT_MIN_MATCH);
    let token = issue(&claims);
    assert_eq!(
        check(&token, &machine(MAC, "NEWDISK", "NEWBOARD", CPU)),
        Ok(())
    );
    assert_eq!(check(&token, &machine("", "", BOARD, CPU)), Ok(()));
    assert_eq!(
        check(
            &token,
            &machine("AA-BB-CC-00-11-22", "NEWDISK", "NEWBOARD", CPU)
        ),
        Err(Error::HardwareMismatch {
            matched: 1,
            required: 2
        })
    );
}

#[test]
fn a_machine_that_now_reports_only_one_of_its_macs_still_matches_the_mac_component() {
    let claims = hardware_claims(4);
    let token = issue(&claims);
    assert_eq!(
        check(&token, &machine("00:1A:2B:3C:4D:5F", DISK, BOARD, CPU)),
        Ok(())
    );
    assert_eq!(
        check(&token, &machine("00-1a-2b-3c-4d-5e", DISK, BOARD, CPU)),
        Ok(())
    );
    // An extra USB NIC next to one of the recorded ones changes nothing.
    assert_eq!(
        check(
            &token,
            &machine("00:1A:2B:3C:4D:5E,02:00:00:AA:BB:CC", DISK, BOARD, CPU)
        ),
        Ok(())
    );
    // Neither recorded MAC: the MAC component no longer matches, and K = 4 needs it.
    assert_eq!(
        check(&token, &machine("02:00:00:AA:BB:CC", DISK, BOARD, CPU)),
        Err(Error::HardwareMismatch {
            matched: 3,
            required: 4
        })
    );
}

#[test]
fn k_is_clamped_to_the_components_the_machine_exposed_at_bind_time() {
    let two = machine("", DISK, BOARD, "");
    let binding = HardwareBinding::bind(&two, SALT, 4).unwrap();
    assert_eq!(binding.min_match, 2);
    let claims = koolicense_verify::Claims {
        binding: Binding::Hardware(binding),
        ..claims()
    };
    let token = issue(&claims);
    assert_eq!(check(&token, &two), Ok(()));
    assert_eq!(
        check(&token, &machine(MAC, DISK, "NEWBOARD", CPU)),
        Err(Error::HardwareMismatch {
            matched: 1,
            required: 2
        })
    );
}

#[test]
fn values_in_the_wrong_component_do_not_match() {
    let token = issue(&hardware_claims(1));
    // The disk serial reported as a board serial and vice versa.
    assert_eq!(
        check(&token, &machine("", BOARD, DISK, "")),
        Err(Error::HardwareMismatch {
            matched: 0,
            required: 1
        })
    );
}

#[test]
fn hardware_hashes_depend_on_the_salt() {
    let id = machine(MAC, DISK, BOARD, CPU);
    let a = HardwareBinding::bind(&id, SALT, 2).unwrap();
    let b = HardwareBinding::bind(&id, *b"fedcba9876543210", 2).unwrap();
    assert_ne!(a.hashes, b.hashes);
    assert!(a.matches(&id) && b.matches(&id));
}
