//! Rule 2 under the POST interfaces: `UNSUBSCRIBE_RENEWAL_PERIOD` (退续费) shortens an online
//! instance's or a code's validity, and the longer token it replaces fails the verifier's
//! revocation check against the next published list.

use koolicense_verify::{Claims, Error, PublicKey, Verifier};
use serde_json::{json, Value};

use super::codes::{activate, add_code, CODE_POLICY};
use super::fake_market::FakeCode;
use super::online::{license_of, licensed_instance, start, MACHINE_A};
use super::support::{api, code_of, get_text};

fn verifier(port: u16) -> Verifier {
    let (status, keys) = api(port, "GET", "/v1/keys", None, None);
    assert_eq!(status, 200, "{keys}");
    let keys =
        keys["keys"].as_array().expect("keys").iter().map(|k| {
            PublicKey::parse(k["public_key_pem"].as_str().expect("pem")).expect("public key")
        });
    // The instances of these tests are made by test calls (testFlag=1).
    Verifier::new(keys.collect::<Vec<_>>()).allow_test_licenses()
}

fn claims(verifier: &Verifier, token: &str) -> Claims {
    verifier
        .verify(token, koolicense_verify::unix_now())
        .expect("valid")
}

/// Renews `target` to 2040 with `renewal`, then shortens it to 2039 with `unsubscribe`: the
/// 2040 token is revoked by the next list, the 2039 one is not.
fn shortening_revokes_the_longer_token(
    port: u16,
    renewal: &Value,
    unsubscribe: &Value,
    token: impl Fn() -> String,
) {
    let verifier = verifier(port);
    assert_eq!(code_of(port, renewal), "000000", "{renewal}");
    let long = claims(&verifier, &token());
    let now = koolicense_verify::unix_now;
    let seq = verifier
        .check_revocation(&get_text(port, "/v1/revocations"), now(), None, &long)
        .expect("not listed");
    assert_eq!(code_of(port, unsubscribe), "000000", "{unsubscribe}");
    let after = get_text(port, "/v1/revocations");
    assert_eq!(
        verifier.check_revocation(&after, now(), Some(seq), &long),
        Err(Error::Revoked),
        "the longer token stops verifying offline: {unsubscribe}"
    );
    let short = claims(&verifier, &token());
    assert!(short.expires_at < long.expires_at);
    assert!(verifier
        .check_revocation(&after, now(), Some(seq), &short)
        .is_ok());
}

#[test]
fn unsubscribing_a_renewal_period_revokes_the_longer_token_in_the_next_list() {
    let env = start(CODE_POLICY);
    let port = env.app.port;
    let instance = licensed_instance(&env, "CS-UNSUB-1");
    let refresh = |scene: &str, expiry: &str| {
        json!({"activity": "refreshInstance", "scene": scene, "orderId": "CS-UNSUB-R",
               "orderLineId": "CS-UNSUB-R-1", "instanceId": instance, "expireTime": expiry})
    };
    shortening_revokes_the_longer_token(
        port,
        &refresh("RENEWAL", "20400101000000"),
        &refresh("UNSUBSCRIBE_RENEWAL_PERIOD", "20390101000000"),
        || {
            license_of(&env, &instance)["token"]
                .as_str()
                .expect("token")
                .to_owned()
        },
    );

    add_code(&env, "PL-UNSUB", FakeCode::alive("P-CODE", 1));
    assert_eq!(activate(&env, "PL-UNSUB", MACHINE_A).0, 200);
    let refresh_code = |scene: &str, expiry: &str| {
        json!({"activity": "refreshLicenseCode", "scene": scene, "orderId": "CS-UNSUB-C",
               "orderLineId": "CS-UNSUB-C-1", "license": "PL-UNSUB", "expireTime": expiry})
    };
    shortening_revokes_the_longer_token(
        port,
        &refresh_code("RENEWAL", "20400101000000"),
        &refresh_code("UNSUBSCRIBE_RENEWAL_PERIOD", "20390101000000"),
        || {
            let (status, body) = activate(&env, "PL-UNSUB", MACHINE_A);
            assert_eq!(status, 200, "{body}");
            body["license"].as_str().expect("license").to_owned()
        },
    );
}
