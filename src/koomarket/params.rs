//! The GET production interface's parameters → the core's commands: each activity's mandatory
//! and optional parameters with the spec's maximum lengths (§3, §4), parsed once at the boundary
//! so the core never sees raw strings.

use chrono::{DateTime, Months, NaiveDateTime, TimeZone, Utc};

use super::auth::{parse_time_stamp, QueryParams};
use super::extend;
use crate::licensing::commands::{
    Call, Expire, Provision, Release, Renew, Scene, SetStatus, Upgrade,
};

/// A rejected request: which field and why (answered as `000002`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub(crate) struct FieldError {
    /// The parameter name.
    pub(crate) field: &'static str,
    /// What is wrong.
    pub(crate) problem: String,
}

fn field_error(field: &'static str, problem: impl Into<String>) -> FieldError {
    FieldError {
        field,
        problem: problem.into(),
    }
}

/// Reads a mandatory parameter of at most `max` characters.
pub(crate) fn required(
    p: &QueryParams,
    field: &'static str,
    max: usize,
) -> Result<String, FieldError> {
    optional(p, field, max)?.ok_or_else(|| field_error(field, "is required"))
}

/// Reads an optional parameter of at most `max` characters; empty counts as absent.
pub(crate) fn optional(
    p: &QueryParams,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match p.get(field).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => Err(field_error(
            field,
            format!("is longer than {max} characters"),
        )),
        Some(v) if v.chars().any(char::is_control) => {
            Err(field_error(field, "contains control characters"))
        }
        Some(v) => Ok(Some(v.to_string())),
    }
}

/// Reads an optional non-negative integer of at most `digits` digits.
pub(crate) fn optional_number(
    p: &QueryParams,
    field: &'static str,
    digits: usize,
) -> Result<Option<u32>, FieldError> {
    match optional(p, field, digits)? {
        None => Ok(None),
        Some(v) => v
            .parse::<u32>()
            .map(Some)
            .map_err(|_| field_error(field, "is not a non-negative integer")),
    }
}

/// A `"1"`/`"0"` flag (testFlag, trialFlag, trialToFormal); absent = false.
pub(crate) fn flag(p: &QueryParams, field: &'static str) -> Result<bool, FieldError> {
    match optional(p, field, 2)?.as_deref() {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(field_error(field, format!("{other:?} is not 0 or 1"))),
    }
}

/// Parses a marketplace time `yyyyMMddHHmmss` (UTC); 17 digits with milliseconds are also
/// accepted because some examples carry them.
pub(crate) fn parse_time(field: &'static str, value: &str) -> Result<DateTime<Utc>, FieldError> {
    let digits = match value.len() {
        14 => value,
        17 => value.get(..14).unwrap_or(value),
        _ => return Err(field_error(field, "is not yyyyMMddHHmmss")),
    };
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field_error(field, "is not yyyyMMddHHmmss"));
    }
    NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S")
        .map(|t| Utc.from_utc_datetime(&t))
        .map_err(|_| field_error(field, "is not a valid date and time"))
}

/// The call's activity, signing time (`timeStamp`) and `testFlag`.
pub(crate) fn call(p: &QueryParams) -> Result<Call, FieldError> {
    Ok(Call {
        activity: p.get("activity").unwrap_or("").to_string(),
        signed_at: p.get("timeStamp").and_then(parse_time_stamp),
        test: flag(p, "testFlag")?,
    })
}

/// getLicense / newInstance. `now` fills in an expiry for a periodic order that carries only
/// its period.
pub(crate) fn provision(p: &QueryParams, now: DateTime<Utc>) -> Result<Provision, FieldError> {
    let charging_mode = optional(p, "chargingMode", 2)?;
    let period_type = optional(p, "periodType", 10)?;
    let period_number = optional(p, "periodNumber", 4)?;
    let expire_text = optional(p, "expireTime", 20)?;
    let mut expires_at = expire_text
        .as_deref()
        .map(|v| parse_time("expireTime", v))
        .transpose()?;
    // chargingMode is optional, but periodType is only sent for periodic orders (§4.1, §8.4):
    // an order that names a period without a charging mode is periodic too, and must not fall
    // through to a perpetual license. A one-time purchase (3) is perpetual.
    let periodic = match charging_mode.as_deref() {
        Some("1") => true,
        None => period_type.is_some(),
        Some(_) => false,
    };
    if periodic && expires_at.is_none() {
        expires_at = Some(period_end(
            now,
            period_type.as_deref(),
            period_number.as_deref(),
        )?);
    }
    if charging_mode.as_deref() == Some("3") {
        expires_at = None;
    }
    let identifier = match optional(p, "saasExtendParams", 2048)? {
        Some(raw) => {
            let params = extend::decode_extend_params(&raw)
                .map_err(|e| field_error("saasExtendParams", e.to_string()))?;
            extend::identification_code(&params).map(str::to_string)
        }
        None => None,
    };
    Ok(Provision {
        customer_id: required(p, "customerId", 100)?,
        customer_name: optional(p, "customerName", 64)?,
        business_id: required(p, "businessId", 64)?,
        order_id: required(p, "orderId", 64)?,
        product_id: required(p, "productId", 64)?,
        sku_code: optional(p, "skuCode", 64)?,
        expires_at,
        charging_mode,
        period_type,
        period_number,
        amount: optional_number(p, "amount", 7)?,
        trial: flag(p, "trialFlag")?,
        identifier,
    })
}

/// The end of a period that starts now, for a periodic order sent without `expireTime`.
fn period_end(
    now: DateTime<Utc>,
    period_type: Option<&str>,
    period_number: Option<&str>,
) -> Result<DateTime<Utc>, FieldError> {
    let missing = || {
        field_error(
            "expireTime",
            "is required for a periodic purchase (chargingMode 1)",
        )
    };
    let number: u32 = period_number
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .ok_or_else(missing)?;
    let months = match period_type {
        Some("year") => number.saturating_mul(12),
        Some("month") => number,
        _ => return Err(missing()),
    };
    now.checked_add_months(Months::new(months))
        .ok_or_else(missing)
}

/// refreshLicense / refreshInstance.
pub(crate) fn renew(p: &QueryParams) -> Result<Renew, FieldError> {
    Ok(Renew {
        order_id: required(p, "orderId", 64)?,
        order_line_id: None,
        target: required(p, "instanceId", 64)?,
        product_id: optional(p, "productId", 64)?,
        expires_at: parse_time("expireTime", &required(p, "expireTime", 20)?)?,
        scene: if flag(p, "trialToFormal")? {
            Scene::TrialToFormal
        } else {
            Scene::Renewal
        },
        period_type: optional(p, "periodType", 10)?,
        period_number: optional(p, "periodNumber", 4)?,
    })
}

/// expireLicense / expireInstance.
pub(crate) fn expire(p: &QueryParams) -> Result<Expire, FieldError> {
    Ok(Expire {
        instance_id: required(p, "instanceId", 64)?,
        order_id: optional(p, "orderId", 64)?,
    })
}

/// instanceStatus: FREEZE or NORMAL.
pub(crate) fn instance_status(p: &QueryParams) -> Result<SetStatus, FieldError> {
    let freeze = match p.get("instanceStatus") {
        Some("FREEZE") => true,
        Some("NORMAL") => false,
        other => {
            return Err(field_error(
                "instanceStatus",
                format!("{other:?} is not FREEZE or NORMAL"),
            ))
        }
    };
    Ok(SetStatus {
        target: required(p, "instanceId", 64)?,
        freeze,
    })
}

/// releaseLicense / releaseInstance.
pub(crate) fn release(p: &QueryParams) -> Result<Release, FieldError> {
    Ok(Release {
        target: required(p, "instanceId", 64)?,
        order_id: optional(p, "orderId", 64)?,
        order_line_id: None,
    })
}

/// upgrade.
pub(crate) fn upgrade(p: &QueryParams) -> Result<Upgrade, FieldError> {
    Ok(Upgrade {
        instance_id: required(p, "instanceId", 64)?,
        order_id: required(p, "orderId", 64)?,
        sku_code: required(p, "skuCode", 64)?,
        product_id: required(p, "productId", 64)?,
        amount: optional_number(p, "amount", 7)?,
    })
}
