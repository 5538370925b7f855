//! Hand-built payloads: unknown optional and critical fields, and well-signed but malformed
//! payloads (the encoder never produces these, so they are assembled and signed here).

use koolicense_verify::{inspect, Error};

use crate::support::*;

/// One `tag || len || value` field.
fn field(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag, u8::try_from(value.len()).unwrap()];
    out.extend_from_slice(value);
    out
}

/// Splits a body into its 9-byte header and its fields.
fn fields(body: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (header, mut rest) = body.split_at(9);
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len = 2 + usize::from(rest[1]);
        out.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    (header.to_vec(), out)
}

/// The typical hardware-bound body with `extra` inserted so that tags stay in increasing order.
fn body_with(extra: Vec<u8>) -> Vec<u8> {
    let (header, mut fields) = fields(&body_of(&test_key(), &hardware_claims(2)));
    let at = fields
        .iter()
        .position(|f| f[0] > extra[0])
        .unwrap_or(fields.len());
    fields.insert(at, extra);
    let mut body = header;
    body.extend(fields.concat());
    body
}

#[test]
fn the_typical_body_splits_into_fields_in_increasing_tag_order() {
    let (header, fields) = fields(&body_of(&test_key(), &hardware_claims(2)));
    assert_eq!(header[0], 1);
    assert_eq!(header[1..], kid(&test_key()).0);
    let tags: Vec<u8> = fields.iter().map(|f| f[0]).collect();
    assert!(tags.windows(2).all(|w| w[0] < w[1]), "{tags:?}");
}

#[test]
fn unknown_optional_fields_are_ignored() {
    let claims = hardware_claims(2);
    for tag in [0x10, 0x11, 0x42, 0x7f] {
        for value in [&b""[..], b"x", &[0xff; 255]] {
            let token = sign_body(&test_key(), &body_with(field(tag, value)));
            assert_eq!(
                verifier().verify(&token, T0),
                Ok(claims.clone()),
                "tag {tag:#04x}"
            );
        }
    }
}

#[test]
fn several_unknown_optional_fields_are_ignored() {
    let mut body = body_of(&test_key(), &claims());
    for tag in 0x10..=0x7f {
        body.extend(field(tag, &[tag]));
    }
    assert!(body.len() > 400);
    let token = sign_body(&test_key(), &body);
    assert_eq!(verifier().verify(&token, T0), Ok(claims()));
}

#[test]
fn an_unknown_critical_field_makes_the_license_unacceptable() {
    for tag in [0x80, 0x81, 0xc0, 0xff] {
        let token = sign_body(&test_key(), &body_with(field(tag, b"must understand")));
        assert_eq!(
            verifier().verify(&token, T0),
            Err(Error::UnsupportedCriticalField(tag))
        );
        assert!(matches!(
            inspect(&token),
            Err(Error::UnsupportedCriticalField(t)) if t == tag
        ));
    }
}

#[test]
fn an_unknown_field_out_of_order_is_malformed() {
    let mut body = body_of(&test_key(), &claims());
    body.extend(field(0x20, b"a"));
    body.extend(field(0x10, b"b"));
    let token = sign_body(&test_key(), &body);
    assert!(matches!(
        verifier().verify(&token, T0),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn a_repeated_field_is_malformed() {
    let (header, fields) = fields(&body_of(&test_key(), &claims()));
    let mut body = header;
    body.extend(fields.concat());
    body.extend(fields.last().unwrap());
    let token = sign_body(&test_key(), &body);
    assert_eq!(
        verifier().verify(&token, T0),
        Err(Error::Malformed("fields out of order or repeated"))
    );
}

#[test]
fn well_signed_but_malformed_payloads_are_rejected() {
    let (header, fields) = fields(&body_of(&test_key(), &claims()));
    let signed = |fields: &[Vec<u8>]| {
        let mut body = header.clone();
        body.extend(fields.concat());
        verifier().verify(&sign_body(&test_key(), &body), T0)
    };
    // Each required field missing in turn: license id, revision, product id, issued at.
    for required in [0x01, 0x02, 0x05, 0x09] {
        let without: Vec<Vec<u8>> = fields
            .iter()
            .filter(|f| f[0] != required)
            .cloned()
            .collect();
        assert!(
            matches!(signed(&without), Err(Error::Malformed(_))),
            "tag {required:#04x}"
        );
    }
    // A field whose length runs past the end.
    let mut cut = fields.clone();
    let last = cut.last_mut().unwrap();
    last[1] += 1;
    assert_eq!(
        signed(&cut),
        Err(Error::Malformed("field runs past the end"))
    );
    // A text field that is not UTF-8, and a fixed-size field of the wrong size.
    let mut bad_text = fields.clone();
    bad_text[2] = field(0x03, &[0xc3, 0x28]);
    assert!(matches!(signed(&bad_text), Err(Error::Malformed(_))));
    let mut bad_size = fields.clone();
    bad_size[1] = field(0x02, &[0, 1]);
    assert_eq!(signed(&bad_size), Err(Error::Malformed("revision")));
    // Unknown flag bits.
    let mut flags = fields.clone();
    let at = flags.iter().position(|f| f[0] > 0x08).unwrap();
    flags.insert(at, field(0x08, &[0x04]));
    assert_eq!(signed(&flags), Err(Error::Malformed("unknown flag bits")));
    // An empty payload.
    assert!(matches!(signed(&[]), Err(Error::Malformed(_))));
}

#[test]
fn malformed_bindings_are_rejected() {
    let (header, fields) = fields(&body_of(&test_key(), &claims()));
    let with_binding = |value: &[u8]| {
        let mut body = header.clone();
        body.extend(fields.concat());
        body.extend(field(0x0e, value));
        verifier().verify(&sign_body(&test_key(), &body), T0)
    };
    let mut hardware = vec![2, 2];
    hardware.extend_from_slice(&SALT);
    hardware.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(with_binding(&hardware).is_ok());
    for bad in [
        vec![],                                  // no kind
        vec![9, 1, 2],                           // unknown kind
        vec![1],                                 // empty system identifier
        vec![3, 0, 1],                           // digest of the wrong size
        [&hardware[..], &[0]].concat(),          // trailing bytes
        [&[2, 0][..], &hardware[2..]].concat(),  // K = 0
        [&[2, 5][..], &hardware[2..]].concat(),  // K = 5
        [&[2, 2][..], &SALT[..], &[5]].concat(), // five values in one component
    ] {
        assert!(
            matches!(with_binding(&bad), Err(Error::Malformed(_))),
            "{bad:?}"
        );
    }
}
