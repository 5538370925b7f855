//! The command line, run as the real binary: the signed KooMarket test call against a running
//! app, and the offline key, issue, verify, inspect and fingerprint commands.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{check_contract, spawn_app, unique};
use crate::market::KEY;

/// What a finished command printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` (without any inherited `KOOLICENSE_*` variable), killed after
/// 30 s.
fn koolicense<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_koolicense"));
    for (name, _) in std::env::vars() {
        if name.starts_with("KOOLICENSE_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the binary");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout).expect("stdout");
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr).expect("stderr");
    }
    Run {
        code: status.code(),
        stdout,
        stderr,
    }
}

#[test]
fn koomarket_call_gets_a_license_and_checks_the_body_sign() {
    let app = spawn_app();
    let order_id = unique("CS");
    let url = app.market_url();
    let args = |extra: &[&str]| {
        let mut args: Vec<String> = [
            "koomarket",
            "call",
            "getLicense",
            "--url",
            &url,
            "--key",
            KEY,
            "customerId=68cbc86abc2018ab880d92f36422fa0e",
            &format!("orderId={order_id}"),
            "productId=P-SYS",
            "--identifier",
            "SYSCODE-CLI",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    let run = koolicense(args(&[]));
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("HTTP 200"), "{}", run.stdout);
    assert!(run.stdout.contains("\"000000\""), "{}", run.stdout);
    assert!(run.stdout.contains("Body-Sign: valid"), "{}", run.stdout);
    let body = run
        .stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("the body is printed");
    let first: serde_json::Value = serde_json::from_str(body).expect("JSON body");

    // --print-url: a URL that works as is, for the same order.
    let run = koolicense(args(&["--print-url"]));
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let printed = run.stdout.trim();
    assert!(printed.starts_with(&url), "{printed}");
    let response = app.agent().get(printed).call().expect("the URL works");
    let answer = check_contract(response, KEY);
    answer.expect("000000");
    assert_eq!(answer.json["license"], first["license"]);
    assert_eq!(answer.json["instanceId"], first["instanceId"]);
    app.verify(answer.license());

    // With a wrong key the call is refused and the CLI says the answer's signature is not
    // from that key.
    let mut wrong = args(&[]);
    let at = wrong.iter().position(|a| a == KEY).expect("key arg");
    wrong[at] = "some-other-key".into();
    let run = koolicense(wrong);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("\"000001\""), "{}", run.stdout);
    assert!(run.stdout.contains("Body-Sign: INVALID"), "{}", run.stdout);
}

fn only_file_ending_with(dir: &Path, suffix: &str) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn offline_keygen_issue_verify_and_inspect_work_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys");
    let run = koolicense([
        std::ffi::OsStr::new("keygen"),
        std::ffi::OsStr::new("--out-dir"),
        keys.as_os_str(),
    ]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let private = only_file_ending_with(&keys, ".key.pem");
    let public = only_file_ending_with(&keys, ".pub.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&private)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let kid = private
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".key.pem"))
        .expect("kid-named file")
        .to_owned();
    assert!(run.stdout.contains(&kid), "{}", run.stdout);

    let (private, public) = (
        private.to_string_lossy().into_owned(),
        public.to_string_lossy().into_owned(),
    );
    let run = koolicense([
        "issue",
        "--key",
        &private,
        "--product",
        "P",
        "--days",
        "30",
        "--hardware-id",
        "A|B|C|D",
    ]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let token = run.stdout.trim().to_owned();
    assert!(!token.is_empty() && !token.contains('\n'), "{token}");

    let verify = |hwid: &str| {
        koolicense([
            "verify",
            &token,
            "--public-key",
            &public,
            "--hardware-id",
            hwid,
        ])
    };
    let run = verify("A|B|C|D");
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("VALID"), "{}", run.stdout);
    let run = verify("W|X|Y|Z");
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("INVALID"), "{}", run.stdout);

    let run = koolicense(["inspect", &token]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("UNVERIFIED"), "{}", run.stdout);
    assert!(run.stdout.contains(&kid), "{}", run.stdout);
    assert!(run.stdout.contains("\"P\""), "{}", run.stdout);
}

#[test]
fn fingerprint_prints_an_identifier_or_fails_cleanly() {
    let run = koolicense(["fingerprint"]);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    if run.code == Some(0) {
        let line = run.stdout.lines().next().unwrap_or("");
        assert_eq!(line.matches('|').count(), 3, "{line}");
        koolicense_verify::HardwareId::parse(line).expect("a KooMarket identifier");
    } else {
        assert!(run.stderr.contains("error:"), "{}", run.stderr);
    }
}

#[test]
fn koomarket_call_post_signs_with_the_access_key_and_checks_the_answer() {
    let app = spawn_app();
    let url = app.market_url();
    let data_dir = app.data_dir.display().to_string();
    let order_id = unique("CS");
    let args = |extra: &[&str]| {
        let mut args: Vec<String> = ["koomarket", "call", "--post", "newInstance", "--url", &url]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(format!("orderId={order_id}"));
        args.push(format!("orderLineId={order_id}-000001"));
        args.push("businessId=87b94795-0603-4e24-8ae5-69420d60e3c8".into());
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    // No --key: the development access key the app generated in its data directory.
    let run = koolicense(args(&["--data-dir", &data_dir]));
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("\"000000\""), "{}", run.stdout);
    assert!(run.stdout.contains("instanceId"), "{}", run.stdout);
    assert!(run.stdout.contains("Body-Sign: valid"), "{}", run.stdout);

    let wrong = koolicense(args(&["--key", "not-the-access-key"]));
    assert_eq!(wrong.code, Some(1), "{}{}", wrong.stdout, wrong.stderr);
    assert!(wrong.stdout.contains("\"000001\""), "{}", wrong.stdout);
}

#[test]
fn verify_refuses_a_test_license_unless_allow_test_is_given() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../../verify/tests/vectors/licenses.json"))
            .expect("vectors");
    let case = vectors
        .as_array()
        .and_then(|cases| {
            cases
                .iter()
                .find(|c| c["name"] == "test license refused by default")
        })
        .expect("the test-license vector");
    let dir = tempfile::tempdir().expect("tempdir");
    let public = dir.path().join("issuer.pub.pem");
    std::fs::write(&public, case["public_key_pem"].as_str().expect("pem")).expect("write key");
    let public = public.to_string_lossy().into_owned();
    let token = case["token"].as_str().expect("token");
    let at = case["now"].as_u64().expect("now").to_string();
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", token, "--public-key", &public, "--at", &at];
        args.extend_from_slice(extra);
        koolicense(args)
    };

    let run = verify(&[]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("INVALID") && run.stdout.contains("test traffic"),
        "{}",
        run.stdout
    );
    let run = verify(&["--allow-test"]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("VALID license"), "{}", run.stdout);
}

#[test]
fn the_token_command_refuses_a_running_services_database_and_names_the_way_through_the_api() {
    // About the lock of an embedded database (PostgreSQL serves any number of processes): an
    // embedded backend (fjall when the suite runs on it, else sled) whatever the suite runs on.
    let app = crate::helpers::spawn_app_with(crate::helpers::Config {
        embedded_only: true,
        ..crate::helpers::Config::default()
    });
    let output = Command::new(env!("CARGO_BIN_EXE_koolicense"))
        .args(["token", "list", "--data-dir"])
        .arg(&app.data_dir)
        .envs(crate::support::storage_env(&app.data_dir))
        .env_remove("KOOLICENSE_API_TOKEN")
        .output()
        .expect("run koolicense token list");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("held by a running koolicense service") && stderr.contains("--url"),
        "{stderr}"
    );
}
