//! What the license layer costs on top of bare Ed25519.
//!
//! Measures, in one process: (a) `VerifyingKey::verify_strict` over a message as long as a
//! typical license message, (b) `Verifier::verify` of a typical hardware-bound license (text
//! decoding, signature, claims) and `inspect` (the decoding alone), (c) `SigningKey::sign` of
//! that message, (d) encoding claims with `UnsignedLicense::new`, signing and `finish`.
//! Criterion reports each; afterwards an interleaved timing loop prints the ratios
//! verify / raw verify and encode+sign / raw sign from the same run (target: verification
//! within 1.2× of raw verify). Last, a signed revocation list of 100,000 entries: its size,
//! the time to verify it (against a raw `verify_strict` over a message of the same size) and
//! the time of one check of a license against it.
//!
//! Run with `cargo bench -p koolicense-verify`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use koolicense_verify::{
    Binding, Claims, EntryStatus, HardwareBinding, HardwareId, Kid, LicenseId, PublicKey,
    RevocationEntry, RevocationList, UnsignedLicense, Verifier,
};

#[path = "support/test_key.rs"]
mod test_key;
use test_key::test_key;

const T0: u64 = 1_767_225_600;

/// A typical marketplace license: all KooMarket ids, a one-year term, two features, bound to a
/// four-component hardware identifier with two MACs.
fn typical_claims() -> Claims {
    let id = HardwareId::parse(
        "00:1A:2B:3C:4D:5E,00:1A:2B:3C:4D:5F|S3Z9NB0K123456|BSN-ABC-123|BFEBFBFF000906EA",
    )
    .unwrap();
    Claims {
        license_id: LicenseId(*b"\x6f\x1c\x2a\x90\x44\x5b\x4e\x1d\x9c\x3e\x7a\x10\x00\xab\xcd\xef"),
        revision: 1,
        instance_id: Some("9a7c1e2b-5f04-4d3b-8e6a-1c2d3e4f5a6b".into()),
        order_id: Some("CS2601011200ABCDE".into()),
        product_id: "00301-666666-0--0".into(),
        sku_code: Some("d9e7c4b2a1f04e3c8b6a5d4c3b2a1f0e".into()),
        customer_id: Some("0a1b2c3d4e5f60718293a4b5c6d7e8f9".into()),
        trial: false,
        test: false,
        issued_at: T0,
        not_before: T0,
        expires_at: Some(T0 + 365 * 86_400),
        quantity: Some(10),
        features: vec!["api".into(), "export".into()],
        binding: Binding::Hardware(
            HardwareBinding::bind_strict(&id, *b"0123456789abcdef", 2).unwrap(),
        ),
    }
}

struct Fixture {
    key: SigningKey,
    verifying: VerifyingKey,
    kid: Kid,
    claims: Claims,
    message: Vec<u8>,
    signature: Signature,
    token: String,
    verifier: Verifier,
}

impl Fixture {
    fn new() -> Fixture {
        let key = test_key();
        let verifying = key.verifying_key();
        let kid = Kid::of(&verifying.to_bytes());
        let claims = typical_claims();
        let unsigned = UnsignedLicense::new(&kid, &claims).unwrap();
        let message = unsigned.message();
        let signature = key.sign(&message);
        let token = unsigned.finish(&signature.to_bytes());
        let verifier = Verifier::new([PublicKey::from_bytes(&verifying.to_bytes()).unwrap()]);
        assert_eq!(verifier.verify(&token, T0).unwrap(), claims);
        Fixture {
            key,
            verifying,
            kid,
            claims,
            message,
            signature,
            token,
            verifier,
        }
    }

    fn raw_verify(&self) {
        black_box(&self.verifying)
            .verify_strict(black_box(&self.message), black_box(&self.signature))
            .unwrap();
    }

    fn verify(&self) {
        black_box(self.verifier.verify(black_box(&self.token), T0)).unwrap();
    }

    fn decode_only(&self) {
        black_box(koolicense_verify::inspect(black_box(&self.token))).unwrap();
    }

    fn raw_sign(&self) {
        black_box(self.key.sign(black_box(&self.message)));
    }

    fn encode_sign(&self) {
        let unsigned = UnsignedLicense::new(&self.kid, black_box(&self.claims)).unwrap();
        let signature = self.key.sign(&unsigned.message());
        black_box(unsigned.finish(&signature.to_bytes()));
    }
}

type Op = fn(&Fixture);

const OPS: [(&str, Op); 5] = [
    ("raw verify_strict", Fixture::raw_verify),
    ("Verifier::verify", Fixture::verify),
    ("inspect (decode only)", Fixture::decode_only),
    ("raw sign", Fixture::raw_sign),
    ("encode + sign + finish", Fixture::encode_sign),
];

/// Per-operation µs/op and the paired ratios verify / raw verify and encode+sign / raw sign.
///
/// Each round times a short batch of every operation back to back, and the ratio is taken
/// within the round before the median over rounds, so that load from other processes and
/// frequency changes (which come and go on a scale of milliseconds) hit both sides of a ratio
/// alike.
struct Timings {
    /// Median µs/op.
    per_op: [f64; 5],
    /// Fastest round's µs/op: the least disturbed by other processes.
    fastest: [f64; 5],
    verify_ratio: f64,
    sign_ratio: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn timing_loop(f: &Fixture) -> Timings {
    const ROUNDS: usize = 301;
    const ITERS: u32 = 20;
    let mut samples: [Vec<f64>; 5] = Default::default();
    let mut verify_ratios = Vec::with_capacity(ROUNDS);
    let mut sign_ratios = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let mut round = [0f64; 5];
        for (i, (_, op)) in OPS.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..ITERS {
                op(f);
            }
            round[i] = start.elapsed().as_secs_f64() * 1e6 / f64::from(ITERS);
            samples[i].push(round[i]);
        }
        verify_ratios.push(round[1] / round[0]);
        sign_ratios.push(round[4] / round[3]);
    }
    Timings {
        fastest: samples
            .clone()
            .map(|s| s.into_iter().fold(f64::INFINITY, f64::min)),
        per_op: samples.map(median),
        verify_ratio: median(verify_ratios),
        sign_ratio: median(sign_ratios),
    }
}

fn main() {
    let f = Fixture::new();
    println!(
        "typical hardware-bound license: {} characters, signed message {} bytes",
        f.token.len(),
        f.message.len()
    );

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args();
    for (name, op) in OPS {
        c.bench_function(name, |b| b.iter(|| op(&f)));
    }
    c.final_summary();

    let t = timing_loop(&f);
    let [raw_verify, verify, decode, raw_sign, encode_sign] = t.per_op;
    println!("\nsame-process timing loop, 301 interleaved rounds of 20 per operation");
    println!("medians (ratios paired within each round):");
    println!(
        "verify: {verify:.2} µs/op, raw verify: {raw_verify:.2} µs/op, ratio {:.3}",
        t.verify_ratio
    );
    println!("decode only (inspect): {decode:.2} µs/op");
    println!(
        "encode+sign: {encode_sign:.2} µs/op, raw sign: {raw_sign:.2} µs/op, ratio {:.3}",
        t.sign_ratio
    );
    let [raw_verify, verify, decode, raw_sign, encode_sign] = t.fastest;
    println!("fastest rounds (least disturbed by other load):");
    println!(
        "verify: {verify:.2} µs/op, raw verify: {raw_verify:.2} µs/op, ratio {:.3}; decode only: {decode:.2} µs/op",
        verify / raw_verify
    );
    println!(
        "encode+sign: {encode_sign:.2} µs/op, raw sign: {raw_sign:.2} µs/op, ratio {:.3}",
        encode_sign / raw_sign
    );
    revocation_list(&f);
}

/// The revocation list of `n` entries every `step`-th id, as the service signs it.
fn signed_list(f: &Fixture, n: u32) -> (String, Vec<u8>, ed25519_dalek::Signature) {
    let entries = (0..n)
        .map(|i| RevocationEntry {
            license_id: list_id(i * 2),
            revoked_below: u32::MAX,
            status: EntryStatus::Revoked,
        })
        .collect();
    let list = RevocationList::new(1, T0, entries);
    let unsigned = list.to_unsigned(&f.kid);
    let message = unsigned.message();
    let signature = f.key.sign(&message);
    (unsigned.finish(&signature.to_bytes()), message, signature)
}

fn list_id(i: u32) -> LicenseId {
    let mut id = [0x5au8; 16];
    id[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
    id[4..8].copy_from_slice(&i.to_be_bytes());
    LicenseId(id)
}

fn revocation_list(f: &Fixture) {
    const ENTRIES: u32 = 100_000;
    let (text, message, signature) = signed_list(f, ENTRIES);
    let mut verify_ratios = Vec::new();
    let mut verify_times = Vec::new();
    let mut raw_times = Vec::new();
    let mut list = None;
    for _ in 0..15 {
        let start = Instant::now();
        f.verifying.verify_strict(&message, &signature).unwrap();
        let raw = start.elapsed().as_secs_f64() * 1e3;
        let start = Instant::now();
        list = Some(f.verifier.verify_revocation_list(&text, T0, None).unwrap());
        let verified = start.elapsed().as_secs_f64() * 1e3;
        verify_ratios.push(verified / raw);
        verify_times.push(verified);
        raw_times.push(raw);
    }
    let list = list.unwrap();
    assert_eq!(list.len(), ENTRIES as usize);
    let mut claims = f.claims.clone();
    const CHECKS: u32 = 1_000_000;
    let start = Instant::now();
    let mut revoked = 0u32;
    for i in 0..CHECKS {
        // Half the ids are listed (even), half fall between entries (odd).
        claims.license_id = list_id(i % (2 * ENTRIES));
        if black_box(&list).check(black_box(&claims)).is_err() {
            revoked += 1;
        }
    }
    let check_ns = start.elapsed().as_secs_f64() * 1e9 / f64::from(CHECKS);
    assert_eq!(revoked, CHECKS / 2);
    println!(
        "\nrevocation list of {ENTRIES} entries: {} characters one-line ({} bytes signed)",
        text.len(),
        message.len()
    );
    println!(
        "verify_revocation_list: {:.1} ms, raw verify_strict over the same message: {:.1} ms, ratio {:.2} (medians of 15)",
        median(verify_times),
        median(raw_times),
        median(verify_ratios)
    );
    println!("check of one license against it: {check_ns:.0} ns (binary search, {CHECKS} checks, no allocation)");
}
