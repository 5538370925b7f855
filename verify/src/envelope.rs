//! The signed envelope shared by every object koolicense signs (licenses, revocation lists,
//! status answers): `version || kid || payload || signature`, its one-line and armoured text
//! forms, and the domain-separated message that the signature covers.

use alloc::string::String;
use alloc::vec::Vec;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::error::Error;
use crate::keys::{Kid, KID_LEN};

/// Format version of licenses and revocation lists (the envelope's first byte).
pub const FORMAT_VERSION: u8 = 1;
/// Format version of the status answers this library verifies (version 1 answers are not bound
/// to a token revision and are refused, see `FORMAT.md`).
pub const STATUS_FORMAT_VERSION: u8 = 2;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Largest license or status answer text accepted as input (any form), before any decoding.
pub const MAX_INPUT_LEN: usize = 16 * 1024;
/// Largest revocation list text accepted as input (any form): room for
/// [`crate::MAX_REVOCATION_ENTRIES`] entries in the armoured form.
pub const MAX_REVOCATION_LIST_LEN: usize = 64 * 1024 * 1024;
/// Column at which the armoured form wraps its base64 body.
pub(crate) const ARMOR_WIDTH: usize = 64;
const HEADER_LEN: usize = 1 + KID_LEN;

/// One kind of signed object: its text prefix, armour label and signature domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kind {
    /// One-line prefix, e.g. `kl1.`.
    pub(crate) prefix: &'static str,
    /// Armour label, e.g. `KOOLICENSE LICENSE`.
    pub(crate) label: &'static str,
    /// Domain-separation prefix of the signed message.
    pub(crate) domain: &'static [u8],
    /// The envelope version this library reads (and writes by default).
    pub(crate) version: u8,
    /// Largest accepted text.
    pub(crate) max_len: usize,
}

/// Licenses.
pub(crate) const LICENSE: Kind = Kind {
    prefix: "kl1.",
    label: "KOOLICENSE LICENSE",
    domain: b"koolicense/license/v1\0",
    version: FORMAT_VERSION,
    max_len: MAX_INPUT_LEN,
};
/// Signed revocation lists.
pub(crate) const REVOCATION_LIST: Kind = Kind {
    prefix: "klr1.",
    label: "KOOLICENSE REVOCATION LIST",
    domain: b"koolicense/revocations/v1\0",
    version: FORMAT_VERSION,
    max_len: MAX_REVOCATION_LIST_LEN,
};
/// Signed online status answers.
pub(crate) const STATUS: Kind = Kind {
    prefix: "kls1.",
    label: "KOOLICENSE STATUS",
    domain: b"koolicense/status/v1\0",
    version: STATUS_FORMAT_VERSION,
    max_len: MAX_INPUT_LEN,
};

/// Floating-license leases (`lease.rs`): a kind of its own, so that no verifier (of this or an
/// earlier version) takes a lease for a license or the other way round.
pub(crate) const LEASE: Kind = Kind {
    prefix: "kll1.",
    label: "KOOLICENSE LEASE",
    domain: b"koolicense/lease/v1\0",
    version: FORMAT_VERSION,
    max_len: MAX_INPUT_LEN,
};
/// Offline activation responses (`offline.rs`).
pub(crate) const ACTIVATION: Kind = Kind {
    prefix: "kla1.",
    label: "KOOLICENSE ACTIVATION",
    domain: b"koolicense/activation/v1\0",
    version: FORMAT_VERSION,
    max_len: MAX_INPUT_LEN,
};

/// A signed object's bytes before signing, on the issuer side: sign [`Unsigned::message`] with
/// the Ed25519 key whose kid the body names, then [`Unsigned::finish`] with the signature.
#[derive(Clone, Debug)]
pub struct Unsigned {
    kind: Kind,
    body: Vec<u8>,
}

impl Unsigned {
    pub(crate) fn new(kind: Kind, body: Vec<u8>) -> Unsigned {
        Unsigned { kind, body }
    }

    /// The exact bytes the signature must cover (domain prefix, version, kid, payload).
    pub fn message(&self) -> Vec<u8> {
        signing_message(&self.kind, &self.body)
    }

    /// The one-line text form carrying `signature`.
    pub fn finish(&self, signature: &[u8; SIGNATURE_LEN]) -> String {
        to_one_line(&self.kind, &self.body, signature)
    }
}

const ALL_KINDS: [Kind; 5] = [LICENSE, REVOCATION_LIST, STATUS, LEASE, ACTIVATION];

/// A decoded but not yet verified envelope.
#[derive(Clone, Debug)]
pub(crate) struct Envelope {
    pub(crate) version: u8,
    pub(crate) kid: Kid,
    /// `domain || version || kid || payload`: the signed message, decoded in place so that a
    /// large revocation list is not copied again.
    pub(crate) message: Vec<u8>,
    /// Where the payload starts in `message`.
    pub(crate) payload_at: usize,
    pub(crate) signature: [u8; SIGNATURE_LEN],
}

impl Envelope {
    pub(crate) fn payload(&self) -> &[u8] {
        self.message.get(self.payload_at..).unwrap_or(&[])
    }
}

/// `domain || version || kid || payload`.
pub(crate) fn signing_message(kind: &Kind, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(kind.domain.len() + body.len());
    message.extend_from_slice(kind.domain);
    message.extend_from_slice(body);
    message
}

/// `version || kid`, the start of every body.
pub(crate) fn body_header(kid: &Kid, version: u8) -> Vec<u8> {
    let mut body = Vec::with_capacity(HEADER_LEN + 512);
    body.push(version);
    body.extend_from_slice(&kid.0);
    body
}

/// Length of the one-line form of a body of `body_len` bytes once signed.
pub(crate) fn one_line_len(kind: &Kind, body_len: usize) -> usize {
    let raw = body_len + SIGNATURE_LEN;
    kind.prefix.len() + (raw * 4).div_ceil(3)
}

/// The one-line form: `prefix || base64url_nopad(body || signature)`.
pub(crate) fn to_one_line(kind: &Kind, body: &[u8], signature: &[u8; SIGNATURE_LEN]) -> String {
    let mut raw = Vec::with_capacity(body.len() + SIGNATURE_LEN);
    raw.extend_from_slice(body);
    raw.extend_from_slice(signature);
    let mut text = String::from(kind.prefix);
    text.push_str(&URL_SAFE_NO_PAD.encode(raw));
    text
}

/// The armoured form of a one-line text: BEGIN line, the base64url body wrapped at 64 columns,
/// END line, each line ending in `\n`.
pub(crate) fn armor(kind: &Kind, one_line: &str) -> String {
    // Tokens read back from a file usually end in a newline.
    let one_line = one_line.trim();
    let body = one_line.strip_prefix(kind.prefix).unwrap_or(one_line);
    let mut out = String::new();
    out.push_str("-----BEGIN ");
    out.push_str(kind.label);
    out.push_str("-----\n");
    let bytes = body.as_bytes();
    for chunk in bytes.chunks(ARMOR_WIDTH) {
        // The body is base64url, so every chunk is ASCII and valid UTF-8.
        out.push_str(core::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(kind.label);
    out.push_str("-----\n");
    out
}

/// Decodes either text form of `kind` into an envelope (no signature check).
pub(crate) fn decode(kind: &Kind, text: &str) -> Result<Envelope, Error> {
    if text.len() > kind.max_len {
        return Err(Error::TooLarge);
    }
    let encoded = extract_base64(kind, text)?;
    let domain = kind.domain.len();
    let mut message = Vec::with_capacity(domain + encoded.len() / 4 * 3 + 3);
    message.extend_from_slice(kind.domain);
    URL_SAFE_NO_PAD
        .decode_vec(&encoded, &mut message)
        .map_err(|_| Error::Encoding("invalid base64"))?;
    drop(encoded);
    if message.len() < domain + HEADER_LEN + SIGNATURE_LEN {
        return Err(Error::Encoding("too short"));
    }
    let split = message.len() - SIGNATURE_LEN;
    let signature: [u8; SIGNATURE_LEN] = message
        .get(split..)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::Encoding("too short"))?;
    message.truncate(split);
    let version = *message.get(domain).ok_or(Error::Encoding("too short"))?;
    if version != kind.version {
        return Err(Error::UnsupportedVersion(version));
    }
    let kid: [u8; KID_LEN] = message
        .get(domain + 1..domain + HEADER_LEN)
        .and_then(|k| k.try_into().ok())
        .ok_or(Error::Encoding("too short"))?;
    Ok(Envelope {
        version,
        kid: Kid(kid),
        message,
        payload_at: domain + HEADER_LEN,
        signature,
    })
}

fn begin_line(kind: &Kind) -> String {
    ["-----BEGIN ", kind.label, "-----"].concat()
}

/// Finds the base64 text (between the armour lines, or after the one-line prefix) and returns
/// it in the URL-safe alphabet without padding. Whitespace anywhere inside is ignored.
pub(crate) fn extract_base64(kind: &Kind, text: &str) -> Result<Vec<u8>, Error> {
    let (inner, armoured) = if text.contains("-----BEGIN ") {
        (armour_body(kind, text)?, true)
    } else {
        (text, false)
    };
    let mut compact = compact_base64(inner);
    let has_prefix = |prefix: &str| {
        compact
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
    };
    if has_prefix(kind.prefix) {
        compact.drain(..kind.prefix.len());
    } else if ALL_KINDS.iter().any(|k| k != kind && has_prefix(k.prefix)) {
        return Err(Error::WrongObjectKind);
    } else if !armoured {
        return Err(Error::Encoding("missing prefix or armour"));
    }
    while compact.last() == Some(&b'=') {
        compact.pop();
    }
    Ok(compact)
}

/// The text between the BEGIN and END lines of `kind`'s armour.
fn armour_body<'a>(kind: &Kind, text: &'a str) -> Result<&'a str, Error> {
    let begin = begin_line(kind);
    let Some(start) = text.find(&begin) else {
        if ALL_KINDS
            .iter()
            .any(|k| k != kind && text.contains(&begin_line(k)))
        {
            return Err(Error::WrongObjectKind);
        }
        // Some other PEM document (a public key, a certificate) given by mistake, or a damaged
        // BEGIN line.
        return Err(Error::Encoding("armour of an unknown kind"));
    };
    let after = text.get(start + begin.len()..).unwrap_or("");
    let end = ["-----END ", kind.label, "-----"].concat();
    let stop = after
        .find(&end)
        .ok_or(Error::Encoding("armour END line missing"))?;
    Ok(after.get(..stop).unwrap_or(""))
}

/// `text` without whitespace or byte-order marks (which some Windows editors write), with the
/// standard base64 alphabet's `+` and `/` mapped to the URL-safe `-` and `_`.
fn compact_base64(text: &str) -> Vec<u8> {
    let map = |b: u8| match b {
        b'+' => b'-',
        b'/' => b'_',
        other => other,
    };
    let mut out = Vec::with_capacity(text.len());
    if text.is_ascii() {
        // The ASCII characters for which `char::is_whitespace` holds.
        let whitespace = |b: &u8| matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ');
        out.extend(text.bytes().filter(|b| !whitespace(b)).map(map));
    } else {
        let mut utf8 = [0u8; 4];
        for c in text.chars() {
            if c.is_whitespace() || c == '\u{feff}' {
                continue;
            }
            let bytes = c.encode_utf8(&mut utf8).as_bytes();
            match bytes {
                [b] => out.push(map(*b)),
                _ => out.extend_from_slice(bytes),
            }
        }
    }
    out
}
