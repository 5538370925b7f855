//! `koolicense koomarket call`: a merchant's debugging aid like the seller console's debugger.
//! Builds a production-interface call signed exactly as the marketplace signs it (scheme A for
//! the GET interface; with `--post`, scheme B for the POST interfaces), sends it to a running
//! service (or prints it for curl), and checks the answer's `Body-Sign`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use base64::Engine as _;
use chrono::Utc;
use clap::Args;

use crate::koomarket::auth::{self, SecretKey};
use crate::startup::{dev_access_key_path, dev_market_key_path};

/// `koolicense koomarket call`
#[derive(Debug, Args)]
pub(crate) struct CallArgs {
    /// The activity: getLicense, refreshLicense, expireLicense, releaseLicense, newInstance,
    /// refreshInstance, expireInstance, releaseInstance, instanceStatus, upgrade.
    activity: String,
    /// Further fields as name=value, e.g. orderId=CS1906666666ABCDE productId=00301-666666-0--0.
    fields: Vec<String>,
    /// Production-interface URL of the service.
    #[arg(long, default_value = "http://127.0.0.1:8080/koomarket/license")]
    url: String,
    /// The marketplace key (Key值; with --post the access key 访问密钥). Default:
    /// KOOLICENSE_KOOMARKET_KEY (KOOLICENSE_KOOMARKET_ACCESS_KEY with --post), else the
    /// development key in the data directory.
    #[arg(long)]
    key: Option<String>,
    /// Data directory holding the development marketplace key.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// The buyer's identifier (系统识别码 or 硬件识别码); sent as saasExtendParams the way the
    /// marketplace encodes it.
    #[arg(long)]
    identifier: Option<String>,
    /// Mark the call as a test call (testFlag=1), as the seller console's debugger does.
    #[arg(long)]
    test: bool,
    /// Print the signed URL (for curl) instead of sending it.
    #[arg(long)]
    print_url: bool,
    /// Send a POST call (online license, License 2.0 codes): the fields become the JSON body,
    /// signed with the access key (访问密钥: --key, KOOLICENSE_KOOMARKET_ACCESS_KEY, or the
    /// development access key in the data directory).
    #[arg(long)]
    post: bool,
}

/// `saasExtendParams` as the marketplace sends it: base64 of a JSON array of name/value pairs.
pub(crate) fn extend_params(identifier: &str) -> String {
    let json = serde_json::json!([{"name": "identificationCode", "value": identifier}]);
    base64::engine::general_purpose::STANDARD.encode(json.to_string())
}

fn load_key(args: &CallArgs) -> anyhow::Result<SecretKey> {
    let (env, dev_path) = if args.post {
        (
            "KOOLICENSE_KOOMARKET_ACCESS_KEY",
            dev_access_key_path(&args.data_dir),
        )
    } else {
        (
            "KOOLICENSE_KOOMARKET_KEY",
            dev_market_key_path(&args.data_dir),
        )
    };
    let key = match args.key.clone().or_else(|| std::env::var(env).ok()) {
        Some(key) => key,
        None => std::fs::read_to_string(&dev_path).with_context(|| {
            format!(
                "no --key or {env}, and no development key at {}",
                dev_path.display()
            )
        })?,
    };
    SecretKey::new(key.trim().to_string()).map_err(|e| anyhow::anyhow!("invalid key: {e}"))
}

/// Builds the signed query string for `activity` with `fields`.
pub(crate) fn signed_query(key: &SecretKey, fields: &[(String, String)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        query.append_pair(name, value);
    }
    let unsigned = query.finish();
    let token = auth::auth_token(key, &auth::parse_query(&unsigned));
    let mut signed = form_urlencoded::Serializer::new(unsigned);
    signed.append_pair("authToken", &token);
    signed.finish()
}

pub(crate) fn call(args: &CallArgs) -> anyhow::Result<ExitCode> {
    let key = load_key(args)?;
    if args.post {
        return call_post(args, &key);
    }
    let mut fields: Vec<(String, String)> = vec![
        ("activity".into(), args.activity.clone()),
        (
            "timeStamp".into(),
            Utc::now().format("%Y%m%d%H%M%S%3f").to_string(),
        ),
    ];
    if matches!(args.activity.as_str(), "getLicense" | "newInstance") {
        fields.push(("businessId".into(), uuid::Uuid::new_v4().to_string()));
    }
    if args.test {
        fields.push(("testFlag".into(), "1".into()));
    }
    if let Some(identifier) = &args.identifier {
        fields.push(("saasExtendParams".into(), extend_params(identifier)));
    }
    for field in &args.fields {
        let Some((name, value)) = field.split_once('=') else {
            bail!("field {field:?} is not name=value");
        };
        fields.retain(|(n, _)| n != name);
        fields.push((name.to_string(), value.to_string()));
    }
    let url = format!("{}?{}", args.url, signed_query(&key, &fields));
    if args.print_url {
        outln!("{url}");
        return Ok(ExitCode::SUCCESS);
    }
    let response = match ureq::get(&url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e).with_context(|| format!("while calling {}", args.url)),
    };
    report(response, &key)
}

/// A POST call: the fields as a JSON object of strings, signed per §2.5.1 (B1).
fn call_post(args: &CallArgs, key: &SecretKey) -> anyhow::Result<ExitCode> {
    let mut body = serde_json::Map::new();
    body.insert("activity".into(), args.activity.clone().into());
    if args.test {
        body.insert("testFlag".into(), "1".into());
    }
    for field in &args.fields {
        let Some((name, value)) = field.split_once('=') else {
            bail!("field {field:?} is not name=value");
        };
        body.insert(name.to_string(), value.into());
    }
    let body = serde_json::Value::Object(body).to_string();
    let timestamp = Utc::now().timestamp_millis().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let signature = auth::scheme_b_signature(key, &nonce, &timestamp, body.as_bytes());
    let url = format!(
        "{}?signature={signature}&timestamp={timestamp}&nonce={nonce}",
        args.url
    );
    if args.print_url {
        outln!("curl -X POST '{url}' -H 'Content-Type: application/json;charset=utf8' -d '{body}'");
        return Ok(ExitCode::SUCCESS);
    }
    let response = match ureq::post(&url)
        .set("Content-Type", "application/json;charset=utf8")
        .send_bytes(body.as_bytes())
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e).with_context(|| format!("while calling {}", args.url)),
    };
    report(response, key)
}

/// Prints the answer, checks its Body-Sign, and turns `000000` + a valid signature into exit 0.
fn report(response: ureq::Response, key: &SecretKey) -> anyhow::Result<ExitCode> {
    let status = response.status();
    let body_sign = response.header("Body-Sign").map(str::to_string);
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body)?;
    outln!("HTTP {status}");
    outln!("{}", String::from_utf8_lossy(&body));
    let signature_ok = body_sign
        .as_deref()
        .is_some_and(|h| auth::verify_body_signature(key, &body, h));
    match &body_sign {
        None => outln!("Body-Sign: MISSING"),
        Some(h) if signature_ok => outln!("Body-Sign: valid ({h})"),
        Some(h) => outln!("Body-Sign: INVALID ({h})"),
    }
    let success = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("resultCode")
                .and_then(|c| c.as_str().map(str::to_string))
        })
        .is_some_and(|c| c == "000000");
    Ok(if success && signature_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
