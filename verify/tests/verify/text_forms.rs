//! The one-line and armoured text forms, and the ways people and mail clients mangle them.

use koolicense_verify::{armor_license, Error};

use crate::support::*;

const BEGIN: &str = "-----BEGIN KOOLICENSE LICENSE-----";
const END: &str = "-----END KOOLICENSE LICENSE-----";

fn typical() -> (koolicense_verify::Claims, String) {
    let claims = hardware_claims(2);
    let token = issue(&claims);
    (claims, token)
}

#[test]
fn armor_license_wraps_the_body_at_64_columns_between_begin_and_end_lines() {
    let (claims, token) = typical();
    let armoured = armor_license(&token);
    let lines: Vec<&str> = armoured.lines().collect();
    assert_eq!(lines.first(), Some(&BEGIN));
    assert_eq!(lines.last(), Some(&END));
    assert!(armoured.ends_with("-----\n"));
    let body = &lines[1..lines.len() - 1];
    assert!(body.iter().all(|l| !l.is_empty() && l.len() <= 64));
    assert!(body[..body.len() - 1].iter().all(|l| l.len() == 64));
    assert_eq!(format!("{PREFIX}{}", body.concat()), token);
    assert_eq!(armoured, armour_wrapped(&token, 64, "\n"));
    assert_eq!(verifier().verify(&armoured, T0), Ok(claims));
}

#[test]
fn armor_license_ignores_whitespace_around_the_token() {
    let (_, token) = typical();
    assert_eq!(
        armor_license(&format!("  {token}\r\n")),
        armor_license(&token)
    );
}

#[test]
fn armour_is_accepted_with_any_wrapping_width() {
    let (claims, token) = typical();
    for width in [1, 7, 63, 64, 65, 76, 1000] {
        let armoured = armour_wrapped(&token, width, "\n");
        assert_eq!(
            verifier().verify(&armoured, T0),
            Ok(claims.clone()),
            "{width}"
        );
    }
}

#[test]
fn armour_is_accepted_with_crlf_line_endings() {
    let (claims, token) = typical();
    for width in [7, 64, 76] {
        let armoured = armour_wrapped(&token, width, "\r\n");
        assert_eq!(verifier().verify(&armoured, T0), Ok(claims.clone()));
    }
    let converted = armor_license(&token).replace('\n', "\r\n");
    assert_eq!(verifier().verify(&converted, T0), Ok(claims));
}

#[test]
fn armour_is_accepted_with_blank_lines_indentation_and_trailing_spaces() {
    let (claims, token) = typical();
    let indented: String = armor_license(&token)
        .lines()
        .map(|l| format!("   {l} \t\n"))
        .collect();
    let padded = format!("\n\n  \r\n{indented}\n   \n\n");
    assert_eq!(verifier().verify(&padded, T0), Ok(claims.clone()));
    let blank_lines_inside = armor_license(&token).replace('\n', "\n\n");
    assert_eq!(verifier().verify(&blank_lines_inside, T0), Ok(claims));
}

#[test]
fn armour_is_found_inside_surrounding_text() {
    let (claims, token) = typical();
    let mail = format!(
        "Dear customer,\n\nthank you for your purchase. Your license:\n\n{}\n\
         Save it as license.txt next to the program.\n-- \nThe vendor\n",
        armor_license(&token)
    );
    assert_eq!(verifier().verify(&mail, T0), Ok(claims));
}

#[test]
fn armour_may_keep_the_one_line_prefix_and_base64_padding() {
    let (claims, token) = typical();
    let with_prefix = format!("{BEGIN}\n{token}\n{END}\n");
    assert_eq!(verifier().verify(&with_prefix, T0), Ok(claims.clone()));
    let body = token.strip_prefix(PREFIX).unwrap();
    let padding = "=".repeat((4 - body.len() % 4) % 4);
    let padded = format!("{BEGIN}\n{body}{padding}\n{END}\n");
    assert_eq!(verifier().verify(&padded, T0), Ok(claims.clone()));
    // Standard-alphabet base64 (as some tools re-encode it) is accepted too.
    let standard = body.replace('-', "+").replace('_', "/");
    let standard = format!("{BEGIN}\n{standard}\n{END}\n");
    assert_eq!(verifier().verify(&standard, T0), Ok(claims));
}

#[test]
fn a_file_saved_with_a_byte_order_mark_is_accepted() {
    let (claims, token) = typical();
    assert_eq!(
        verifier().verify(&format!("\u{feff}{token}\r\n"), T0),
        Ok(claims.clone())
    );
    let armoured = format!("\u{feff}{}", armor_license(&token));
    assert_eq!(verifier().verify(&armoured, T0), Ok(claims));
}

#[test]
fn incomplete_armour_is_an_encoding_error() {
    let (_, token) = typical();
    let armoured = armor_license(&token);
    let no_end = armoured.replace(END, "");
    assert_eq!(
        verifier().verify(&no_end, T0),
        Err(Error::Encoding("armour END line missing"))
    );
    let no_begin = armoured.replace(BEGIN, "");
    assert!(matches!(
        verifier().verify(&no_begin, T0),
        Err(Error::Encoding(_))
    ));
    let empty = format!("{BEGIN}\n{END}\n");
    assert!(matches!(
        verifier().verify(&empty, T0),
        Err(Error::Encoding(_))
    ));
}

#[test]
fn the_one_line_form_is_accepted_with_surrounding_whitespace() {
    let (claims, token) = typical();
    for text in [
        format!("{token}\n"),
        format!("{token}\r\n"),
        format!("  \t{token}  \n\n"),
        format!("\n\n{token}"),
    ] {
        assert_eq!(verifier().verify(&text, T0), Ok(claims.clone()), "{text:?}");
    }
}

#[test]
fn the_one_line_form_is_accepted_with_embedded_line_breaks() {
    let (claims, token) = typical();
    let (head, tail) = token.split_at(token.len() / 2);
    for joint in ["\n", "\r\n", " ", "\n  "] {
        let broken = format!("{head}{joint}{tail}");
        assert_eq!(
            verifier().verify(&broken, T0),
            Ok(claims.clone()),
            "{joint:?}"
        );
    }
    // A line break right after the prefix, as a narrow mail client might produce.
    let after_prefix = token.replacen('.', ".\n", 1);
    assert_eq!(verifier().verify(&after_prefix, T0), Ok(claims));
}

#[test]
fn unicode_whitespace_from_copy_and_paste_is_ignored() {
    let (claims, token) = typical();
    let (head, tail) = token.split_at(50);
    // No-break space, ideographic (full-width) space, line separator, next line.
    for joint in ["\u{a0}", "\u{3000}", "\u{2028}", "\u{85}"] {
        let pasted = format!("{joint}{head}{joint}{tail}{joint}");
        assert_eq!(
            verifier().verify(&pasted, T0),
            Ok(claims.clone()),
            "{joint:?}"
        );
        let armoured = armor_license(&token).replace('\n', &format!("{joint}\n"));
        assert_eq!(
            verifier().verify(&armoured, T0),
            Ok(claims.clone()),
            "{joint:?}"
        );
    }
    // Other non-ASCII characters are not whitespace and spoil the token.
    let spoiled = format!("{head}é{tail}");
    assert_eq!(
        verifier().verify(&spoiled, T0),
        Err(Error::Encoding("invalid base64"))
    );
}

#[test]
fn text_before_a_one_line_token_is_not_accepted() {
    let (_, token) = typical();
    assert_eq!(
        verifier().verify(&format!("license: {token}"), T0),
        Err(Error::Encoding("missing prefix or armour"))
    );
    assert_eq!(
        verifier().verify("", T0),
        Err(Error::Encoding("missing prefix or armour"))
    );
}

#[test]
fn invalid_base64_is_an_encoding_error() {
    let (_, token) = typical();
    let mut bad = token.clone();
    bad.insert(20, '!');
    assert_eq!(
        verifier().verify(&bad, T0),
        Err(Error::Encoding("invalid base64"))
    );
    // Non-canonical trailing bits: the last character of an unpadded group carries spare bits
    // that must be zero, so two different texts never decode to the same token.
    let body = token.strip_prefix(PREFIX).unwrap();
    assert_ne!(
        body.len() % 4,
        0,
        "the typical token ends in a partial base64 group"
    );
    let last = body.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let next = alphabet
        .chars()
        .cycle()
        .skip_while(|c| *c != last)
        .nth(1)
        .unwrap();
    let altered = format!("{}{next}", &token[..token.len() - 1]);
    assert_eq!(
        verifier().verify(&altered, T0),
        Err(Error::Encoding("invalid base64"))
    );
}
