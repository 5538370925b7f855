//! The POST activities' JSON bodies (spec §5.2, §6.1–§6.5) → the core's commands, with the
//! documented maximum lengths, parsed once at the boundary. String fields may also arrive as
//! JSON numbers (`testFlag` is an Integer on some pages); empty strings count as absent.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use super::params::FieldError;
use crate::licensing::commands::{Call, Deliver, NewInstance, Release, Renew, Scene, SetStatus};

/// Parses a marketplace time: `yyyyMMddHHmmss` (or 17 digits with milliseconds),
/// `yyyy-MM-dd HH:mm:ss` with an optional `z`/`Z`/`UTC` suffix (the getLicenseAsync example is
/// `2023-10-27 10:30:15 z`), RFC 3339, or 13-digit UNIX milliseconds. All UTC.
pub(crate) fn parse_market_time(value: &str) -> Option<DateTime<Utc>> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return match v.len() {
            14 | 17 => NaiveDateTime::parse_from_str(&v[..14], "%Y%m%d%H%M%S")
                .ok()
                .map(|t| Utc.from_utc_datetime(&t)),
            13 => v.parse().ok().and_then(DateTime::from_timestamp_millis),
            _ => None,
        };
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    let mut bare = v;
    for suffix in [" UTC", "UTC", " z", " Z", "z", "Z"] {
        if let Some(stripped) = bare.strip_suffix(suffix) {
            bare = stripped.trim_end();
            break;
        }
    }
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(bare, f).ok())
    .map(|t| Utc.from_utc_datetime(&t))
}

fn error(field: &'static str, problem: impl Into<String>) -> FieldError {
    FieldError {
        field,
        problem: problem.into(),
    }
}

/// A POST body: one JSON object.
#[derive(Debug, Clone)]
pub(crate) struct Body(Map<String, Value>);

impl Body {
    /// Parses the raw body.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Body, FieldError> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Body(map)),
            Ok(_) => Err(error("body", "is not a JSON object")),
            Err(e) => Err(error("body", format!("is not valid JSON: {e}"))),
        }
    }

    /// An optional string of at most `max` characters.
    pub(crate) fn optional(
        &self,
        field: &'static str,
        max: usize,
    ) -> Result<Option<String>, FieldError> {
        let value = match self.0.get(field) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(error(field, "is not a string")),
        };
        if value.is_empty() {
            Ok(None)
        } else if value.chars().count() > max {
            Err(error(field, format!("is longer than {max} characters")))
        } else if value.chars().any(char::is_control) {
            Err(error(field, "contains control characters"))
        } else {
            Ok(Some(value))
        }
    }

    /// A mandatory string of at most `max` characters.
    pub(crate) fn required(&self, field: &'static str, max: usize) -> Result<String, FieldError> {
        self.optional(field, max)?
            .ok_or_else(|| error(field, "is required"))
    }

    /// `"1"`/`"0"` (or 1/0); absent = false.
    pub(crate) fn flag(&self, field: &'static str) -> Result<bool, FieldError> {
        match self.optional(field, 2)?.as_deref() {
            None | Some("0") => Ok(false),
            Some("1") => Ok(true),
            Some(other) => Err(error(field, format!("{other:?} is not 0 or 1"))),
        }
    }

    /// An optional time (see [`parse_market_time`]).
    pub(crate) fn time(
        &self,
        field: &'static str,
        max: usize,
    ) -> Result<Option<DateTime<Utc>>, FieldError> {
        self.optional(field, max)?
            .map(|v| {
                parse_market_time(&v).ok_or_else(|| error(field, format!("{v:?} is not a time")))
            })
            .transpose()
    }

    /// The `activity`.
    pub(crate) fn activity(&self) -> Result<String, FieldError> {
        self.required("activity", 32)
    }
}

/// The call's activity, signing time (scheme B `timestamp`) and `testFlag`.
pub(crate) fn call(b: &Body, signed_at: DateTime<Utc>) -> Result<Call, FieldError> {
    Ok(Call {
        activity: b.activity()?,
        signed_at: Some(signed_at),
        test: b.flag("testFlag")?,
    })
}

/// `scene`: TRIAL_TO_FORMAL and RENEWAL_CHANGE only where `instance` (refreshInstance).
fn scene(b: &Body, instance: bool) -> Result<Scene, FieldError> {
    match b.required("scene", 64)?.as_str() {
        "TRIAL_TO_FORMAL" if instance => Ok(Scene::TrialToFormal),
        "RENEWAL_CHANGE" if instance => Ok(Scene::RenewalChange),
        "RENEWAL" => Ok(Scene::Renewal),
        "UNSUBSCRIBE_RENEWAL_PERIOD" => Ok(Scene::UnsubscribeRenewalPeriod),
        other => Err(error("scene", format!("unknown scene {other:?}"))),
    }
}

fn freeze(b: &Body) -> Result<bool, FieldError> {
    match b.required("status", 32)?.as_str() {
        "FREEZE" => Ok(true),
        "UNFREEZE" => Ok(false),
        other => Err(error(
            "status",
            format!("{other:?} is not FREEZE or UNFREEZE"),
        )),
    }
}

/// `newInstance` (§6.1).
pub(crate) fn new_instance(b: &Body) -> Result<NewInstance, FieldError> {
    Ok(NewInstance {
        order_id: b.required("orderId", 64)?,
        order_line_id: b.required("orderLineId", 64)?,
        business_id: b.required("businessId", 64)?,
    })
}

/// `refreshInstance` (§6.2; `target` "instanceId") and `refreshLicenseCode` (§5.2.1; "license").
pub(crate) fn renew(b: &Body, target: &'static str) -> Result<Renew, FieldError> {
    Ok(Renew {
        scene: scene(b, target == "instanceId")?,
        order_id: b.required("orderId", 64)?,
        order_line_id: Some(b.required("orderLineId", 64)?),
        target: b.required(target, 64)?,
        product_id: b.optional("productId", 64)?,
        expires_at: b
            .time("expireTime", 20)?
            .ok_or_else(|| error("expireTime", "is required"))?,
        period_type: None,
        period_number: None,
    })
}

/// `updateInstanceStatus` (§6.3) and `updateLicenseCodeStatus` (§5.2.2).
pub(crate) fn set_status(b: &Body, target: &'static str) -> Result<SetStatus, FieldError> {
    Ok(SetStatus {
        target: b.required(target, 64)?,
        freeze: freeze(b)?,
    })
}

/// `releaseInstance` (§6.4) and `releaseLicenseCode` (§5.2.3).
pub(crate) fn release(b: &Body, target: &'static str) -> Result<Release, FieldError> {
    Ok(Release {
        target: b.required(target, 64)?,
        order_id: b.optional("orderId", 64)?,
        order_line_id: b.optional("orderLineId", 64)?,
    })
}

/// `getLicenseAsync` (§6.5).
pub(crate) fn deliver(b: &Body) -> Result<Deliver, FieldError> {
    let req = Deliver {
        instance_id: b.required("instanceId", 64)?,
        effective_at: b
            .time("effectiveTime", 32)?
            .ok_or_else(|| error("effectiveTime", "is required"))?,
        expires_at: b.time("expireTime", 32)?,
        event_id: b.required("eventId", 64)?,
        fingerprint: b.optional("deviceFingerprint", 1024)?,
    };
    if req.expires_at.is_some_and(|e| e <= req.effective_at) {
        return Err(error("expireTime", "is not after effectiveTime"));
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked_for_presence_length_and_shape() {
        let b =
            Body::parse(br#"{"activity":"x","orderId":"O","testFlag":1,"n":{},"long":"aaaaa"}"#)
                .expect("body");
        assert_eq!(b.activity().expect("activity"), "x");
        assert!(b.flag("testFlag").expect("flag"));
        assert!(b.required("orderLineId", 64).is_err());
        assert!(b.optional("n", 64).is_err());
        assert!(b.optional("long", 4).is_err());
        assert!(Body::parse(b"[1]").is_err());
        assert!(Body::parse(b"{").is_err());
    }

    #[test]
    fn get_license_async_reads_the_documented_example() {
        let b = Body::parse(br#"{"activity":"getLicenseAsync","eventId":"E1","instanceId":"I","effectiveTime":"2023-10-27 10:30:15 z","expireTime":"2024-10-27 10:30:15 z","deviceFingerprint":"AA|BB|CC|DD"}"#)
            .expect("body");
        let r = deliver(&b).expect("valid");
        assert_eq!(r.event_id, "E1");
        assert!(r.expires_at.expect("expiry") > r.effective_at);
    }

    #[test]
    fn marketplace_times_in_every_documented_shape() {
        let t = Utc
            .with_ymd_and_hms(2023, 10, 27, 10, 30, 15)
            .single()
            .expect("time");
        for s in [
            "20231027103015",
            "20231027103015256",
            "2023-10-27 10:30:15 z",
            "2023-10-27 10:30:15Z",
            "2023-10-27 10:30:15",
            "2023-10-27T10:30:15Z",
            "2023-10-27 10:30:15 UTC",
        ] {
            assert_eq!(
                parse_market_time(s).map(|p| p.timestamp()),
                Some(t.timestamp()),
                "{s}"
            );
        }
        for bad in ["", "2023", "tomorrow", "2023-13-40 10:00:00"] {
            assert_eq!(parse_market_time(bad), None, "{bad}");
        }
    }
}
