//! Mutation fuzzing of every public decode and verify function, on stable Rust.
//!
//! A seeded, deterministic loop starts from the known-answer vectors (licenses in both text
//! forms), signed revocation lists and status answers, public keys and hardware identifiers,
//! mutates them (bit flips, inserted, deleted and repeated bytes, splices of two inputs, and
//! changes to the decoded bytes that are signed again with the test key, so that the payload
//! decoders behind the signature check see them too) and feeds each result to `inspect`,
//! `Verifier::verify_on`, `authenticate`, `verify_revocation_list`, `check_revocation`,
//! `verify_status`, `verify_lease`, `ActivationRequest::parse`, `DeactivationProof::parse`, `check_clock`, `PublicKey::parse`, `HardwareId::parse`, `LicenseId::parse`,
//! `Kid::parse` and the armour functions. A panic anywhere is caught, reported with its input,
//! and makes the run fail.
//!
//! ```sh
//! # one million inputs (about 45 s in release on two cores)
//! cargo run --release -p koolicense-verify --example fuzz -- --iterations 1000000
//! # the short run CI does
//! cargo run -p koolicense-verify --example fuzz -- --iterations 20000
//! ```
//!
//! `--seed N` picks another deterministic sequence; the same seed and count always produce the
//! same inputs and the same outcome digest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use koolicense_verify::{
    armor_lease, armor_license, armor_revocation_list, inspect, ActivationRequest, Claims,
    ClockMark, DeactivationProof, EntryStatus, HardwareId, Host, Kid, LicenseId, LicenseState,
    ListStamp, PublicKey, RevocationEntry, RevocationList, StatusAnswer, Verifier,
};

#[path = "../benches/support/test_key.rs"]
mod test_key;
use test_key::test_key;

const VECTORS: &str = include_str!("../tests/vectors/licenses.json");
const VECTORS_V1: &str = include_str!("../tests/vectors/v1/licenses.json");
const TEST_PUBLIC_PEM: &str = include_str!("../../keys/test/test-signing.pub.pem");
const NOW: u64 = 1_775_865_600;

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The starting inputs.
fn corpus(key: &SigningKey) -> Vec<String> {
    let mut inputs = Vec::new();
    for file in [VECTORS, VECTORS_V1] {
        let cases: serde_json::Value = serde_json::from_str(file).unwrap();
        for case in cases.as_array().unwrap() {
            for field in ["token", "armored"] {
                if let Some(text) = case.get(field).and_then(|t| t.as_str()) {
                    inputs.push(text.to_string());
                }
            }
            if let Some(hw) = case.pointer("/host/hardware_identifier") {
                inputs.push(hw.as_str().unwrap().to_string());
            }
        }
    }
    let kid = Kid::of(&key.verifying_key().to_bytes());
    let entries = (0..40u8)
        .map(|n| RevocationEntry {
            license_id: LicenseId([n; 16]),
            revoked_below: u32::from(n),
            status: if n % 2 == 0 {
                EntryStatus::Superseded
            } else {
                EntryStatus::Revoked
            },
        })
        .collect();
    let list = RevocationList::new(9, NOW - 60, entries).to_unsigned(&kid);
    let list = list.finish(&key.sign(&list.message()).to_bytes());
    inputs.push(armor_revocation_list(&list));
    inputs.push(list);
    let answer = StatusAnswer {
        server_time: NOW,
        license_id: LicenseId([1; 16]),
        revision: 1,
        state: LicenseState::Valid,
        current_revision: 1,
        revoked_below: 0,
        expires_at: Some(NOW + 86_400),
        nonce: "fuzz-nonce".into(),
    };
    for unsigned in [
        answer.to_unsigned(&kid).unwrap(),
        answer.to_unsigned_v1(&kid).unwrap(),
    ] {
        inputs.push(unsigned.finish(&key.sign(&unsigned.message()).to_bytes()));
    }
    inputs.push(TEST_PUBLIC_PEM.to_string());
    inputs.push("5a110c3e-9b27-4f61-8042-13772dc40001".into());
    inputs
}

/// The signature domain of a one-line text, by its prefix.
fn domain_of(prefix: &str) -> Option<&'static [u8]> {
    match prefix {
        "kl1." => Some(b"koolicense/license/v1\0"),
        "klr1." => Some(b"koolicense/revocations/v1\0"),
        "kls1." => Some(b"koolicense/status/v1\0"),
        _ => None,
    }
}

/// Changes the decoded body of a one-line object and signs it again, so the mutation reaches
/// the payload decoder.
fn resigned_mutation(rng: &mut Rng, key: &SigningKey, text: &str) -> Option<String> {
    let (prefix, body) = text.split_once('.')?;
    let prefix = format!("{prefix}.");
    let domain = domain_of(&prefix)?;
    let mut blob = URL_SAFE_NO_PAD.decode(body).ok()?;
    if blob.len() < 73 {
        return None;
    }
    blob.truncate(blob.len() - 64);
    for _ in 0..=rng.below(3) {
        let at = 9 + rng.below(blob.len().saturating_sub(9).max(1));
        match rng.below(4) {
            0 => {
                if let Some(b) = blob.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => blob.insert(at.min(blob.len()), rng.next() as u8),
            2 if at < blob.len() => {
                blob.remove(at);
            }
            _ => blob.truncate(at.min(blob.len())),
        }
    }
    let signature = key.sign(&[domain, &blob].concat());
    blob.extend_from_slice(&signature.to_bytes());
    Some(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(blob)))
}

/// A mutated copy of one corpus input.
fn mutate(rng: &mut Rng, key: &SigningKey, corpus: &[String]) -> String {
    let seed = &corpus[rng.below(corpus.len())];
    if rng.below(8) == 0 {
        if let Some(text) = resigned_mutation(rng, key, seed) {
            return text;
        }
    }
    let mut bytes = seed.clone().into_bytes();
    for _ in 0..=rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(6) {
            0 => {
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => bytes.insert(at, b" \n=-_+/|,.:\xef\xbb\xbfAz09"[rng.below(18)]),
            2 => {
                let end = (at + rng.below(16)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            3 => {
                let end = (at + rng.below(64)).min(bytes.len());
                let piece = bytes[at.min(end)..end].to_vec();
                bytes.splice(at.min(end)..at.min(end), piece);
            }
            4 => {
                let other = corpus[rng.below(corpus.len())].as_bytes();
                let from = rng.below(other.len());
                bytes.truncate(at);
                bytes.extend_from_slice(&other[from..]);
            }
            _ => bytes.insert(at, rng.next() as u8),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Every public decoder and verifier on one input; returns a short outcome for the digest.
/// `claims` are those of a genuine license, checked against inputs that may be lists or status
/// answers.
fn exercise(verifier: &Verifier, host: &Host<'_>, claims: &Claims, input: &str) -> String {
    let verified = verifier.verify_on(input, NOW, host);
    let _ = inspect(input);
    if let Ok(claims) = verifier.authenticate(input) {
        let _ = verifier.verify_status(input, "fuzz-nonce", &claims);
    }
    let last = Some(ListStamp {
        sequence: 1,
        issued_at: NOW - 86_400,
    });
    let list = verifier.verify_revocation_list(input, NOW, last);
    if let Ok(list) = &list {
        let _ = list.entries().count();
        let _ = list.entry(&LicenseId([3; 16]));
    }
    let _ = verifier.check_revocation(input, NOW, None, claims);
    let _ = verifier.verify_status(input, "fuzz-nonce", claims);
    let _ = verifier.check_clock(NOW, ClockMark::new(input.len() as u64 * 1_000_000));
    let _ = verifier.verify_lease(input, NOW, host);
    if let Ok(request) = ActivationRequest::parse(input) {
        let _ = request.to_text();
        let _ = verifier.read_activation_response(input, &request, NOW, host);
    }
    let _ = DeactivationProof::parse(input);
    let _ = armor_lease(input);
    let _ = PublicKey::parse(input);
    let _ = HardwareId::parse(input);
    let _ = LicenseId::parse(input);
    let _ = Kid::parse(input);
    let _ = armor_license(input);
    let _ = armor_revocation_list(input);
    match (verified, list) {
        (Ok(_), _) => "license".into(),
        (_, Ok(_)) => "list".into(),
        (Err(e), _) => format!("{e:?}")
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect(),
    }
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.replace('_', "").parse().expect("a number"))
        .unwrap_or(default)
}

fn main() -> ExitCode {
    let iterations = arg("--iterations", 1_000_000);
    let seed = arg("--seed", 1);
    let key = test_key();
    let corpus = corpus(&key);
    let verifier =
        Verifier::new([PublicKey::parse(TEST_PUBLIC_PEM).unwrap()]).allow_test_licenses();
    let machine = HardwareId::parse("00:1A:2B:3C:4D:5E|S3Z9NB0K123456|BSN-ABC-123|X").unwrap();
    let host = Host {
        hardware: Some(&machine),
        system_identifier: Some("KM-SYS-7F3A9C21"),
    };
    let genuine = inspect(&corpus[0]).unwrap().claims;
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut panics = 0u64;
    for i in 0..iterations {
        let input = mutate(&mut rng, &key, &corpus);
        match catch_unwind(AssertUnwindSafe(|| {
            exercise(&verifier, &host, &genuine, &input)
        })) {
            Ok(outcome) => *outcomes.entry(outcome).or_default() += 1,
            Err(_) => {
                panics += 1;
                if panics <= 5 {
                    eprintln!("PANIC at iteration {i} on input {input:?}");
                }
            }
        }
    }
    let _ = std::panic::take_hook();
    println!(
        "{iterations} mutated inputs (seed {seed}) in {:.1} s, {} corpus entries, {panics} panics",
        started.elapsed().as_secs_f64(),
        corpus.len()
    );
    println!("outcomes: {outcomes:?}");
    if panics == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
