//! Validated JSON bodies of the POST activities (spec §5.2, §6.1–§6.5), with the documented
//! maximum lengths, parsed once at the boundary. String fields may also arrive as JSON numbers
//! (`testFlag` is an Integer on some pages); empty strings count as absent.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::params::FieldError;
use crate::marketplace::parse_market_time;

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

/// `scene` of `refreshInstance` / `refreshLicenseCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scene {
    /// 试用转正.
    TrialToFormal,
    /// 续费.
    Renewal,
    /// 退续费: the expiry may move backwards.
    UnsubscribeRenewalPeriod,
}

impl Scene {
    fn parse(body: &Body, allow_trial: bool) -> Result<Scene, FieldError> {
        match body.required("scene", 64)?.as_str() {
            "TRIAL_TO_FORMAL" if allow_trial => Ok(Scene::TrialToFormal),
            "RENEWAL" => Ok(Scene::Renewal),
            "UNSUBSCRIBE_RENEWAL_PERIOD" => Ok(Scene::UnsubscribeRenewalPeriod),
            other => Err(error("scene", format!("unknown scene {other:?}"))),
        }
    }

    /// The name sent.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scene::TrialToFormal => "TRIAL_TO_FORMAL",
            Scene::Renewal => "RENEWAL",
            Scene::UnsubscribeRenewalPeriod => "UNSUBSCRIBE_RENEWAL_PERIOD",
        }
    }
}

fn status(body: &Body) -> Result<bool, FieldError> {
    match body.required("status", 32)?.as_str() {
        "FREEZE" => Ok(true),
        "UNFREEZE" => Ok(false),
        other => Err(error(
            "status",
            format!("{other:?} is not FREEZE or UNFREEZE"),
        )),
    }
}

/// `newInstance` (§6.1).
#[derive(Clone, Debug)]
pub(crate) struct NewInstance {
    pub(crate) order_id: String,
    pub(crate) order_line_id: String,
    pub(crate) business_id: String,
    pub(crate) test: bool,
}

impl NewInstance {
    pub(crate) fn parse(b: &Body) -> Result<NewInstance, FieldError> {
        Ok(NewInstance {
            order_id: b.required("orderId", 64)?,
            order_line_id: b.required("orderLineId", 64)?,
            business_id: b.required("businessId", 64)?,
            test: b.flag("testFlag")?,
        })
    }
}

/// `refreshInstance` (§6.2) and `refreshLicenseCode` (§5.2.1; `target` is the code).
#[derive(Clone, Debug)]
pub(crate) struct Refresh {
    pub(crate) scene: Scene,
    pub(crate) order_id: String,
    pub(crate) order_line_id: String,
    /// instanceId, or the authorization code (`license`).
    pub(crate) target: String,
    pub(crate) product_id: Option<String>,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) test: bool,
}

impl Refresh {
    pub(crate) fn parse_instance(b: &Body) -> Result<Refresh, FieldError> {
        Refresh::parse(b, "instanceId", true)
    }

    pub(crate) fn parse_code(b: &Body) -> Result<Refresh, FieldError> {
        Refresh::parse(b, "license", false)
    }

    fn parse(b: &Body, target: &'static str, allow_trial: bool) -> Result<Refresh, FieldError> {
        Ok(Refresh {
            scene: Scene::parse(b, allow_trial)?,
            order_id: b.required("orderId", 64)?,
            order_line_id: b.required("orderLineId", 64)?,
            target: b.required(target, 64)?,
            product_id: b.optional("productId", 64)?,
            expires_at: b
                .time("expireTime", 20)?
                .ok_or_else(|| error("expireTime", "is required"))?,
            test: b.flag("testFlag")?,
        })
    }
}

/// `updateInstanceStatus` (§6.3) and `updateLicenseCodeStatus` (§5.2.2).
#[derive(Clone, Debug)]
pub(crate) struct StatusChange {
    /// instanceId, or the code.
    pub(crate) target: String,
    /// FREEZE (true) or UNFREEZE.
    pub(crate) freeze: bool,
    pub(crate) test: bool,
}

impl StatusChange {
    pub(crate) fn parse(b: &Body, target: &'static str) -> Result<StatusChange, FieldError> {
        Ok(StatusChange {
            target: b.required(target, 64)?,
            freeze: status(b)?,
            test: b.flag("testFlag")?,
        })
    }
}

/// `releaseInstance` (§6.4) and `releaseLicenseCode` (§5.2.3).
#[derive(Clone, Debug)]
pub(crate) struct Release {
    /// instanceId, or the code.
    pub(crate) target: String,
    /// The unsubscription order, when the release comes from one.
    pub(crate) order_id: Option<String>,
    pub(crate) order_line_id: Option<String>,
    pub(crate) test: bool,
}

impl Release {
    pub(crate) fn parse(b: &Body, target: &'static str) -> Result<Release, FieldError> {
        Ok(Release {
            target: b.required(target, 64)?,
            order_id: b.optional("orderId", 64)?,
            order_line_id: b.optional("orderLineId", 64)?,
            test: b.flag("testFlag")?,
        })
    }
}

/// `getLicenseAsync` (§6.5).
#[derive(Clone, Debug)]
pub(crate) struct LicenseAsync {
    pub(crate) instance_id: String,
    pub(crate) effective_at: DateTime<Utc>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) event_id: String,
    pub(crate) fingerprint: Option<String>,
    pub(crate) test: bool,
}

impl LicenseAsync {
    pub(crate) fn parse(b: &Body) -> Result<LicenseAsync, FieldError> {
        let req = LicenseAsync {
            instance_id: b.required("instanceId", 64)?,
            effective_at: b
                .time("effectiveTime", 32)?
                .ok_or_else(|| error("effectiveTime", "is required"))?,
            expires_at: b.time("expireTime", 32)?,
            event_id: b.required("eventId", 64)?,
            fingerprint: b.optional("deviceFingerprint", 1024)?,
            test: b.flag("testFlag")?,
        };
        if req.expires_at.is_some_and(|e| e <= req.effective_at) {
            return Err(error("expireTime", "is not after effectiveTime"));
        }
        Ok(req)
    }
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
        let r = LicenseAsync::parse(&b).expect("valid");
        assert_eq!(r.event_id, "E1");
        assert!(r.expires_at.expect("expiry") > r.effective_at);
    }
}
