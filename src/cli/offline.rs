//! Offline commands: keygen, issue, verify, inspect, fingerprint. None of them touch the
//! service database, so they work while the service runs.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use koolicense_verify::{machine, Binding, Claims, HardwareId, Host, PublicKey, Verifier};
use serde_json::json;

use crate::licensing::policy::{BindingKind, Policy, QuantityRule};
use crate::licensing::{self, NewLicense};
use crate::signing::Signer;
use crate::store::records::Origin;

/// `koolicense keygen`
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Directory for the key files (created if missing).
    #[arg(long, default_value = "keys")]
    out_dir: PathBuf,
    /// File stem instead of the kid (e.g. `signing` → signing.key.pem, signing.pub.pem).
    #[arg(long)]
    name: Option<String>,
}

pub(crate) fn keygen(args: &KeygenArgs) -> anyhow::Result<ExitCode> {
    let signer = Signer::generate()?;
    let (private, public) = signer.write_pair(&args.out_dir, args.name.as_deref())?;
    outln!("kid:         {}", signer.kid());
    outln!(
        "private key: {} (mode 0600; never commit it)",
        private.display()
    );
    outln!(
        "public key:  {} (pin it in the delivered software)",
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `koolicense issue`
#[derive(Debug, Args)]
pub(crate) struct IssueArgs {
    /// Signing key (PKCS#8 PEM, mode 0600).
    #[arg(long)]
    key: PathBuf,
    /// KooMarket productId.
    #[arg(long)]
    product: String,
    /// KooMarket skuCode.
    #[arg(long)]
    sku: Option<String>,
    /// KooMarket customerId.
    #[arg(long)]
    customer: Option<String>,
    /// KooMarket orderId.
    #[arg(long)]
    order: Option<String>,
    /// KooMarket instanceId.
    #[arg(long)]
    instance: Option<String>,
    /// Expiry: RFC 3339 (2027-01-31T00:00:00Z) or a date (2027-01-31, midnight UTC).
    #[arg(long, conflicts_with = "days")]
    expires: Option<String>,
    /// Expiry in days from now. Without --expires or --days the license is perpetual.
    #[arg(long)]
    days: Option<u32>,
    /// A trial license.
    #[arg(long)]
    trial: bool,
    /// Quantity (seats, the KooMarket `amount`).
    #[arg(long)]
    quantity: Option<u32>,
    /// A feature entitlement (repeat for several).
    #[arg(long = "feature")]
    features: Vec<String>,
    /// Bind to this hardware identifier (`MAC|disk|board|CPU`, as `koolicense fingerprint` prints).
    #[arg(long, conflicts_with = "system_id")]
    hardware_id: Option<String>,
    /// How many hardware components must match (K of the K-of-N rule).
    #[arg(long, default_value_t = 2)]
    min_match: u8,
    /// Accept a hardware identifier too weak for the anchored rule (fewer than K usable
    /// components, or no single board or disk serial): K is lowered and nothing anchors it.
    #[arg(long, requires = "hardware_id")]
    allow_weak_binding: bool,
    /// Bind to this KooMarket system identifier (系统识别码).
    #[arg(long)]
    system_id: Option<String>,
    /// Print the armoured (file) form instead of the one-line form.
    #[arg(long)]
    armor: bool,
    /// Write to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_when(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(secs) = text.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0).context("timestamp out of range");
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("{text:?} is not RFC 3339, a date or Unix seconds"))?;
    Ok(date.and_hms_opt(0, 0, 0).context("midnight")?.and_utc())
}

pub(crate) fn issue(args: &IssueArgs) -> anyhow::Result<ExitCode> {
    let signer = Signer::load(&args.key)?;
    let now = Utc::now();
    let expires_at = match (&args.expires, args.days) {
        (Some(text), _) => Some(parse_when(text)?),
        (None, Some(days)) => Some(now + chrono::Duration::days(i64::from(days))),
        (None, None) => None,
    };
    let (binding, identifier) = match (&args.hardware_id, &args.system_id) {
        (Some(hw), _) => (BindingKind::Hardware, Some(hw.clone())),
        (None, Some(sys)) => (BindingKind::System, Some(sys.clone())),
        (None, None) => (BindingKind::None, None),
    };
    let policy = Policy {
        binding,
        min_matching_components: args.min_match,
        allow_weak_binding: args.allow_weak_binding,
        features: args.features.clone(),
        quantity: match args.quantity {
            Some(value) => QuantityRule::Fixed { value },
            None => QuantityRule::None,
        },
        ..Policy::default()
    };
    policy.validate().map_err(anyhow::Error::msg)?;
    let record = licensing::create(
        NewLicense {
            origin: Origin::Offline,
            instance_id: args.instance.clone(),
            order_id: args.order.clone(),
            product_id: args.product.clone(),
            sku_code: args.sku.clone(),
            customer_id: args.customer.clone(),
            customer_name: None,
            trial: args.trial,
            test: false,
            charging_mode: None,
            period_type: None,
            period_number: None,
            amount: None,
            expires_at,
            identifier,
        },
        &policy,
        &signer,
        now,
    )?;
    let text = if args.armor {
        koolicense_verify::armor_license(&record.token)
    } else {
        format!("{}\n", record.token)
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("while writing {}", path.display()))?;
            eprintln!(
                "license {} written to {}",
                record.license_id,
                path.display()
            );
        }
        None => out!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Where a token comes from: the argument, a file, or standard input (`-`).
#[derive(Debug, Args)]
pub(crate) struct TokenSource {
    /// The license (one-line form), or `-` to read standard input.
    token: Option<String>,
    /// Read the license (either form) from this file.
    #[arg(long, conflicts_with = "token")]
    file: Option<PathBuf>,
}

impl TokenSource {
    fn read(&self) -> anyhow::Result<String> {
        match (&self.token, &self.file) {
            (_, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("while reading {}", path.display())),
            (Some(t), None) if t == "-" => {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                Ok(text)
            }
            (Some(t), None) => Ok(t.clone()),
            (None, None) => bail!("give a license token, `-` for standard input, or --file"),
        }
    }
}

/// `koolicense verify`
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    source: TokenSource,
    /// A pinned public key file (PEM); repeat for every key the issuer has used.
    #[arg(long = "public-key", required = true)]
    public_keys: Vec<PathBuf>,
    /// Accept only this productId or skuCode (repeatable).
    #[arg(long = "product")]
    products: Vec<String>,
    /// Check the binding against this hardware identifier.
    #[arg(long, conflicts_with = "this_machine")]
    hardware_id: Option<String>,
    /// Check the binding against this machine's hardware identifier.
    #[arg(long)]
    this_machine: bool,
    /// Check the binding against this system identifier.
    #[arg(long)]
    system_id: Option<String>,
    /// Verify as of this time (RFC 3339, date, or Unix seconds) instead of now.
    #[arg(long)]
    at: Option<String>,
    /// Clock tolerance in seconds.
    #[arg(long, default_value_t = koolicense_verify::DEFAULT_LEEWAY_SECS)]
    leeway: u64,
    /// Also check a signed revocation list (as served at /v1/revocations), from this file.
    #[arg(long)]
    revocation_list: Option<PathBuf>,
    /// Maximum age of the revocation list in seconds.
    #[arg(long, default_value_t = koolicense_verify::DEFAULT_MAX_LIST_AGE_SECS)]
    max_list_age: u64,
    /// Accept a license issued for marketplace test traffic (testFlag=1).
    #[arg(long)]
    allow_test: bool,
    /// Also ask a running service for the license's status (POST <URL>/v1/status with a fresh
    /// nonce) and verify the signed answer.
    #[arg(long, value_name = "URL")]
    online: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let token = args.source.read()?;
    let mut keys = Vec::new();
    for path in &args.public_keys {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("while reading {}", path.display()))?;
        keys.push(PublicKey::parse(&pem).with_context(|| format!("in {}", path.display()))?);
    }
    let mut verifier = Verifier::new(keys)
        .with_leeway(args.leeway)
        .with_max_list_age(args.max_list_age);
    if args.allow_test {
        verifier = verifier.allow_test_licenses();
    }
    for product in &args.products {
        verifier = verifier.expect_product(product);
    }
    let now = match &args.at {
        Some(text) => u64::try_from(parse_when(text)?.timestamp()).unwrap_or(0),
        None => koolicense_verify::unix_now(),
    };
    let hardware = match (&args.hardware_id, args.this_machine) {
        (Some(text), _) => Some(HardwareId::parse(text).context("in --hardware-id")?),
        (None, true) => Some(machine::read_hardware_id().context("while reading this machine")?),
        (None, false) => None,
    };
    let check_binding = hardware.is_some() || args.system_id.is_some();
    let host = Host {
        hardware: hardware.as_ref(),
        system_identifier: args.system_id.as_deref(),
    };
    let result = if check_binding {
        verifier.verify_on(&token, now, &host)
    } else {
        verifier.verify(&token, now)
    };
    let result = result.and_then(|claims| {
        if let Some(path) = &args.revocation_list {
            let list = std::fs::read_to_string(path).map_err(|_| {
                koolicense_verify::Error::Encoding("unreadable revocation list file")
            })?;
            verifier.check_revocation(&list, now, None, &claims)?;
        }
        Ok(claims)
    });
    let result = match (result, &args.online) {
        (Ok(claims), Some(url)) => online_status(&verifier, url, &token, &claims).map(|()| claims),
        (other, _) => other,
    };
    match result {
        Ok(claims) => {
            if args.json {
                outln!("{}", json!({"valid": true, "claims": claims_json(&claims)}));
            } else {
                outln!("VALID license");
                print_claims(&claims);
                if !check_binding && claims.binding != Binding::None {
                    outln!("note: binding not checked (give --this-machine, --hardware-id or --system-id)");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if args.json {
                outln!("{}", json!({"valid": false, "reason": e.to_string()}));
            } else {
                outln!("INVALID license: {e}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// Asks the service for the license's state and checks the signed, nonce-bound answer.
fn online_status(
    verifier: &Verifier,
    url: &str,
    token: &str,
    claims: &Claims,
) -> Result<(), koolicense_verify::Error> {
    use koolicense_verify::{Error, LicenseState};
    let mut random = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
    let nonce = koolicense_verify::nonce_from_bytes(&random);
    let answer: serde_json::Value = ureq::post(&format!("{}/v1/status", url.trim_end_matches('/')))
        .send_json(json!({"license": token.trim(), "nonce": nonce, "version": 2}))
        .ok()
        .and_then(|r| r.into_json().ok())
        .ok_or(Error::Encoding("no status answer from the service"))?;
    let text = answer["answer"]
        .as_str()
        .ok_or(Error::Encoding("no signed status answer"))?;
    let status = verifier.verify_status(text, &nonce, claims)?;
    eprintln!(
        "online status (signed, nonce checked): {}",
        status.state.as_str()
    );
    match status.state {
        LicenseState::Valid => Ok(()),
        LicenseState::Expired => Err(Error::Expired {
            expires_at: status.expires_at.unwrap_or(0),
            now: status.server_time,
        }),
        _ => Err(Error::Revoked),
    }
}

/// `koolicense inspect`
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    #[command(flatten)]
    source: TokenSource,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn inspect(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let token = args.source.read()?;
    match koolicense_verify::inspect(&token) {
        Ok(decoded) => {
            if args.json {
                outln!(
                    "{}",
                    json!({"verified": false, "kid": decoded.kid.to_string(), "version": decoded.version, "claims": claims_json(&decoded.claims)})
                );
            } else {
                outln!("UNVERIFIED: decoded without checking the signature; do not trust these claims.");
                outln!("format version: {}", decoded.version);
                outln!("key id:         {}", decoded.kid);
                print_claims(&decoded.claims);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            outln!("not a license: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `koolicense fingerprint`
#[derive(Debug, Args)]
pub(crate) struct FingerprintArgs {
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn fingerprint(args: &FingerprintArgs) -> anyhow::Result<ExitCode> {
    let report = machine::read_report().context("while reading this machine's identifiers")?;
    if args.json {
        let sources: Vec<_> = report
            .sources
            .iter()
            .map(|s| json!({"component": s.component.name(), "source": s.source, "outcome": format!("{:?}", s.outcome)}))
            .collect();
        outln!(
            "{}",
            json!({"hardware_identifier": report.id.to_koomarket_string(), "sources": sources})
        );
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{}", report.id.to_koomarket_string());
    eprintln!();
    eprintln!("Paste the line above into KooMarket as the hardware identifier (硬件识别码).");
    eprintln!("Components (MAC|disk|board|CPU) and where they were read:");
    for s in &report.sources {
        eprintln!(
            "  {:<6} {:<45} {:?}",
            s.component.name(),
            s.source,
            s.outcome
        );
    }
    eprintln!(
        "Some sources (DMI serials) need root; the license matches on any value of a component."
    );
    Ok(ExitCode::SUCCESS)
}

fn time(t: u64) -> String {
    i64::try_from(t)
        .ok()
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .map_or_else(|| t.to_string(), |d| d.to_rfc3339())
}

fn binding_json(binding: &Binding) -> serde_json::Value {
    match binding {
        Binding::None => json!({"kind": "none"}),
        Binding::System(code) => json!({"kind": "system", "identifier": code}),
        Binding::SystemDigest(d) => json!({"kind": "system_digest", "sha256": hex::encode(d)}),
        Binding::Hardware(hw) => json!({
            "kind": "hardware",
            "min_match": hw.min_match,
            "values_per_component": hw.hashes.iter().map(Vec::len).collect::<Vec<_>>(),
        }),
        _ => json!({"kind": "unknown"}),
    }
}

pub(crate) fn claims_json(c: &Claims) -> serde_json::Value {
    json!({
        "license_id": c.license_id.to_string(),
        "revision": c.revision,
        "instance_id": c.instance_id,
        "order_id": c.order_id,
        "product_id": c.product_id,
        "sku_code": c.sku_code,
        "customer_id": c.customer_id,
        "trial": c.trial,
        "test": c.test,
        "issued_at": time(c.issued_at),
        "not_before": time(c.not_before),
        "expires_at": c.expires_at.map(time),
        "quantity": c.quantity,
        "features": c.features,
        "binding": binding_json(&c.binding),
    })
}

fn print_claims(c: &Claims) {
    let v = claims_json(c);
    if let Some(map) = v.as_object() {
        for (k, v) in map {
            outln!("  {k:<12} {v}");
        }
    }
}
