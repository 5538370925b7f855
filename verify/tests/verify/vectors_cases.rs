//! The known-answer cases: fixed claims, salts and times signed with the TEST key, so that
//! regeneration is byte-for-byte reproducible (Ed25519 signatures are deterministic).

use ed25519_dalek::Signer as _;
use koolicense_verify::{armor_license, Binding, Claims};

use crate::support::*;
use crate::vectors_build::*;
pub(crate) use crate::vectors_build::{Case, Expect, Text};

pub(crate) fn cases() -> Vec<Case> {
    let key = test_key();
    let now = T0 + 100 * DAY;
    let expiry = T0 + YEAR;
    let not_before = T0 + 30 * DAY;
    let long_system_id: String = (0..160)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect();

    let later = Claims {
        not_before,
        expires_at: Some(not_before + YEAR),
        ..base(4)
    };
    let system = Claims {
        binding: Binding::System(SYSTEM_ID.into()),
        ..periodic(5)
    };
    let long_system = Claims {
        binding: Binding::System(long_system_id.clone()),
        ..periodic(6)
    };
    let flags = Claims {
        trial: true,
        test: true,
        expires_at: Some(T0 + 14 * DAY),
        ..base(9)
    };
    let features = Claims {
        features: vec!["export".into(), "api".into(), "sso".into()],
        quantity: Some(50),
        revision: 3,
        ..periodic(10)
    };
    let periodic_body = body_of(&key, &periodic(2));

    // The periodic license with its expiry moved ten years on, keeping the original signature.
    let tampered = {
        let signature = key.sign(&[DOMAIN, &periodic_body].concat()).to_bytes();
        let old = [&[0x0b, 8][..], &expiry.to_be_bytes()].concat();
        let new = [&[0x0b, 8][..], &(expiry + 10 * YEAR).to_be_bytes()].concat();
        let at = periodic_body
            .windows(old.len())
            .position(|w| w == old)
            .unwrap();
        let mut blob = periodic_body.clone();
        blob[at..at + old.len()].copy_from_slice(&new);
        blob.extend_from_slice(&signature);
        encode_blob(&blob)
    };
    let other_pem = public(&other_key()).to_pem();
    let mut v2 = periodic_body.clone();
    v2[0] = 2;

    vec![
        ok("floating perpetual license", base(1), now),
        ok(
            "perpetual license far in the future",
            base(1),
            T0 + 50 * YEAR,
        ),
        ok(
            "periodic license within its validity window",
            periodic(2),
            now,
        ),
        ok(
            "periodic license one second before expiry plus leeway",
            periodic(2),
            expiry + 299,
        ),
        fails(
            "periodic license exactly at expiry plus leeway",
            &periodic(2),
            expiry + 300,
            "Expired",
        ),
        Case {
            leeway: Some(0),
            ..fails(
                "periodic license at expiry without leeway",
                &periodic(2),
                expiry,
                "Expired",
            )
        },
        Case {
            leeway: Some(0),
            ..ok(
                "periodic license one second before expiry without leeway",
                periodic(2),
                expiry - 1,
            )
        },
        fails(
            "license before its not-before time minus leeway",
            &later,
            not_before - 301,
            "NotYetValid",
        ),
        ok(
            "license valid from its not-before time minus leeway",
            later.clone(),
            not_before - 300,
        ),
        Case {
            leeway: Some(0),
            ..fails(
                "license one second before not-before without leeway",
                &later,
                not_before - 1,
                "NotYetValid",
            )
        },
        on(
            ok("system-bound license on its system", system.clone(), now),
            None,
            Some(SYSTEM_ID),
        ),
        on(
            fails(
                "system-bound license with another system identifier",
                &system,
                now,
                "SystemIdentifierMismatch",
            ),
            None,
            Some("KM-SYS-00000000"),
        ),
        on(
            fails(
                "system-bound license without a system identifier",
                &system,
                now,
                "MissingSystemIdentifier",
            ),
            Some(VECTOR_MACHINE),
            None,
        ),
        ok(
            "system-bound license verified without a host",
            system.clone(),
            now,
        ),
        on(
            ok(
                "long system identifier bound by digest",
                long_system.clone(),
                now,
            ),
            None,
            Some(&long_system_id),
        ),
        on(
            fails(
                "long system identifier with a different last character",
                &long_system,
                now,
                "SystemIdentifierMismatch",
            ),
            None,
            Some(&format!("{}Z", &long_system_id[..159])),
        ),
        on(
            ok("hardware-bound license on its machine", hardware(7, 2), now),
            Some(VECTOR_MACHINE),
            None,
        ),
        on(
            ok(
                "hardware-bound license on its machine spelled differently",
                hardware(7, 2),
                now,
            ),
            Some("001a2b3c4d5f | s3z9nb0k123456 | bsn-abc-123 | bfebfbff000906ea"),
            None,
        ),
        on(
            ok(
                "hardware-bound license (K=3) with a new disk",
                hardware(8, 3),
                now,
            ),
            Some("00:1A:2B:3C:4D:5E|NEWDISK0001|BSN-ABC-123|BFEBFBFF000906EA"),
            None,
        ),
        on(
            fails(
                "hardware-bound license (K=3) with a new disk and mainboard",
                &hardware(8, 3),
                now,
                "HardwareMismatch",
            ),
            Some("00:1A:2B:3C:4D:5E|NEWDISK0001|NEWBOARD01|BFEBFBFF000906EA"),
            None,
        ),
        on(
            fails(
                "hardware-bound license on another machine",
                &hardware(7, 2),
                now,
                "HardwareMismatch",
            ),
            Some("AA:BB:CC:DD:EE:01|WD-OTHER|BOARD-2|CPU-2"),
            None,
        ),
        on(
            fails(
                "hardware-bound license without a hardware identifier",
                &hardware(7, 2),
                now,
                "MissingHardwareIdentifier",
            ),
            None,
            Some(SYSTEM_ID),
        ),
        Case {
            allow_test: true,
            ..ok(
                "test license accepted when test licenses are allowed",
                flags.clone(),
                T0 + DAY,
            )
        },
        fails(
            "test license refused by default",
            &flags,
            T0 + DAY,
            "TestLicense",
        ),
        fails(
            "trial license after its two weeks",
            &flags,
            T0 + 14 * DAY + 300,
            "Expired",
        ),
        ok("features and quantity", features, now),
        Case {
            public_key_pem: other_pem.clone(),
            text: Text::Token(issue_with(&other_key(), &periodic(11))),
            ..ok("license signed by another pinned key", periodic(11), now)
        },
        with_text(
            fails(
                "license signed by an unknown key",
                &periodic(11),
                now,
                "UnknownKey",
            ),
            Text::Token(issue_with(&other_key(), &periodic(11))),
        ),
        with_text(
            fails(
                "tampered expiry keeps the old signature",
                &periodic(2),
                now,
                "BadSignature",
            ),
            Text::Token(tampered),
        ),
        with_text(
            fails(
                "signature by another key under the pinned key id",
                &periodic(2),
                now,
                "BadSignature",
            ),
            Text::Token(sign(&other_key(), &periodic_body)),
        ),
        Case {
            product: Some("00301-999999-0--0"),
            ..fails(
                "license for another product",
                &periodic(2),
                now,
                "WrongProduct",
            )
        },
        Case {
            product: Some(SKU),
            ..ok("expected product matched by sku code", periodic(2), now)
        },
        Case {
            product: Some(PRODUCT),
            ..ok("expected product matched by product id", periodic(2), now)
        },
        with_text(
            ok("armoured license", hardware(7, 2), now),
            Text::Armored(armor_license(&issue(&hardware(7, 2)))),
        ),
        with_text(
            ok(
                "armoured license with CRLF and 76-column lines",
                periodic(2),
                now,
            ),
            Text::Armored(armour_wrapped(&issue(&periodic(2)), 76, "\r\n")),
        ),
        with_text(
            ok(
                "one-line license with surrounding whitespace and a line break",
                periodic(2),
                now,
            ),
            Text::Token({
                let token = issue(&periodic(2));
                format!("  {}\n{}\r\n", &token[..100], &token[100..])
            }),
        ),
        with_text(
            ok("unknown optional field is ignored", periodic(2), now),
            Text::Token(sign(
                &key,
                &[&periodic_body[..], &field(0x20, b"optional")].concat(),
            )),
        ),
        with_text(
            fails(
                "unknown critical field",
                &periodic(2),
                now,
                "UnsupportedCriticalField",
            ),
            Text::Token(sign(
                &key,
                &[&periodic_body[..], &field(0x80, b"critical")].concat(),
            )),
        ),
        with_text(
            fails(
                "unsupported format version",
                &periodic(2),
                now,
                "UnsupportedVersion",
            ),
            Text::Token(sign(&key, &v2)),
        ),
        with_text(
            fails(
                "revocation list prefix given as a license",
                &periodic(2),
                now,
                "WrongObjectKind",
            ),
            Text::Token(issue(&periodic(2)).replacen("kl1.", "klr1.", 1)),
        ),
        with_text(
            fails(
                "status prefix given as a license",
                &periodic(2),
                now,
                "WrongObjectKind",
            ),
            Text::Token(issue(&periodic(2)).replacen("kl1.", "kls1.", 1)),
        ),
        with_text(
            fails("not a license at all", &periodic(2), now, "Encoding"),
            Text::Token("hello".into()),
        ),
        on(
            ok(
                "anchored hardware license on its machine",
                anchored(12),
                now,
            ),
            Some(VECTOR_MACHINE),
            None,
        ),
        on(
            ok(
                "anchored hardware license with a new disk and without the CPU",
                anchored(12),
                now,
            ),
            Some("00:1A:2B:3C:4D:5E|NEWDISK0001|BSN-ABC-123|"),
            None,
        ),
        on(
            fails(
                "anchored license on a machine with the same CPU model and a copied MAC",
                &anchored(12),
                now,
                "HardwareMismatch",
            ),
            Some("00:1A:2B:3C:4D:5E|WD-OTHER|BOARD-2|BFEBFBFF000906EA"),
            None,
        ),
        on(
            fails(
                "anchored license on a machine matching MAC and disk but not the board",
                &anchored(12),
                now,
                "AnchorMismatch",
            ),
            Some("00:1A:2B:3C:4D:5E|S3Z9NB0K123456|BOARD-2|BFEBFBFF000906EA"),
            None,
        ),
        Case {
            mark: Some(now + 301),
            ..fails(
                "clock set back behind the high-water mark by more than the leeway",
                &periodic(2),
                now,
                "ClockBehind",
            )
        },
        Case {
            mark: Some(now + 300),
            ..ok(
                "clock behind the high-water mark within the leeway",
                periodic(2),
                now,
            )
        },
    ]
}
