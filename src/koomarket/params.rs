//! Validated request fields of the GET production interface: each activity's mandatory and
//! optional parameters with the spec's maximum lengths (§3, §4), parsed once at the boundary so
//! the lifecycle code never sees raw strings.

use chrono::{DateTime, Months, NaiveDateTime, TimeZone, Utc};

use super::auth::QueryParams;

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

/// How the purchase is charged (`chargingMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Charging {
    /// 1: periodic (包周期).
    Periodic,
    /// 3: one-time (按次): perpetual license.
    OneTime,
    /// 5 or anything else sent: kept as given.
    Other,
}

/// getLicense / newInstance.
#[derive(Clone, Debug)]
pub(crate) struct ProvisionRequest {
    /// customerId (100).
    pub(crate) customer_id: String,
    /// customerName (64).
    pub(crate) customer_name: Option<String>,
    /// businessId (64): differs on every call; logged, never a dedup key.
    pub(crate) business_id: String,
    /// orderId (64): the idempotency key.
    pub(crate) order_id: String,
    /// productId (64).
    pub(crate) product_id: String,
    /// skuCode (64).
    pub(crate) sku_code: Option<String>,
    /// expireTime, parsed.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// chargingMode as sent.
    pub(crate) charging_mode: Option<String>,
    /// periodType as sent.
    pub(crate) period_type: Option<String>,
    /// periodNumber as sent.
    pub(crate) period_number: Option<String>,
    /// amount.
    pub(crate) amount: Option<u32>,
    /// trialFlag.
    pub(crate) trial: bool,
    /// testFlag.
    pub(crate) test: bool,
    /// saasExtendParams, raw (decoded later).
    pub(crate) extend_params: Option<String>,
}

impl ProvisionRequest {
    /// Validates the parameters. `now` fills in an expiry for a periodic order that carries only
    /// its period.
    pub(crate) fn parse(
        p: &QueryParams,
        now: DateTime<Utc>,
    ) -> Result<ProvisionRequest, FieldError> {
        let charging_mode = optional(p, "chargingMode", 2)?;
        let period_type = optional(p, "periodType", 10)?;
        let period_number = optional(p, "periodNumber", 4)?;
        let expire_text = optional(p, "expireTime", 20)?;
        let mut expires_at = expire_text
            .as_deref()
            .map(|v| parse_time("expireTime", v))
            .transpose()?;
        let charging = match charging_mode.as_deref() {
            Some("1") => Some(Charging::Periodic),
            Some("3") => Some(Charging::OneTime),
            Some(_) => Some(Charging::Other),
            None => None,
        };
        // chargingMode is optional, but periodType is only sent for periodic orders (§4.1,
        // §8.4): an order that names a period without a charging mode is periodic too, and must
        // not fall through to a perpetual license.
        let periodic = match charging {
            Some(Charging::Periodic) => true,
            None => period_type.is_some(),
            Some(Charging::OneTime | Charging::Other) => false,
        };
        if periodic && expires_at.is_none() {
            expires_at = Some(period_end(
                now,
                period_type.as_deref(),
                period_number.as_deref(),
            )?);
        }
        Ok(ProvisionRequest {
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
            test: flag(p, "testFlag")?,
            extend_params: optional(p, "saasExtendParams", 2048)?,
        })
    }
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
#[derive(Clone, Debug)]
pub(crate) struct RenewRequest {
    /// The renewal order id (idempotency key with the instance).
    pub(crate) order_id: String,
    /// instanceId.
    pub(crate) instance_id: String,
    /// New productId, if the period type changed.
    pub(crate) product_id: Option<String>,
    /// New expiry.
    pub(crate) expires_at: DateTime<Utc>,
    /// trialToFormal=1.
    pub(crate) trial_to_formal: bool,
    /// periodType as sent.
    pub(crate) period_type: Option<String>,
    /// periodNumber as sent.
    pub(crate) period_number: Option<String>,
    /// testFlag.
    pub(crate) test: bool,
}

impl RenewRequest {
    /// Validates the parameters.
    pub(crate) fn parse(p: &QueryParams) -> Result<RenewRequest, FieldError> {
        Ok(RenewRequest {
            order_id: required(p, "orderId", 64)?,
            instance_id: required(p, "instanceId", 64)?,
            product_id: optional(p, "productId", 64)?,
            expires_at: parse_time("expireTime", &required(p, "expireTime", 20)?)?,
            trial_to_formal: flag(p, "trialToFormal")?,
            period_type: optional(p, "periodType", 10)?,
            period_number: optional(p, "periodNumber", 4)?,
            test: flag(p, "testFlag")?,
        })
    }
}

/// expire*, release*, instanceStatus: an instance and, where sent, the order.
#[derive(Clone, Debug)]
pub(crate) struct InstanceRequest {
    /// instanceId.
    pub(crate) instance_id: String,
    /// orderId, when sent (the new-purchase order).
    pub(crate) order_id: Option<String>,
    /// testFlag.
    pub(crate) test: bool,
}

impl InstanceRequest {
    /// Validates the parameters.
    pub(crate) fn parse(p: &QueryParams) -> Result<InstanceRequest, FieldError> {
        Ok(InstanceRequest {
            instance_id: required(p, "instanceId", 64)?,
            order_id: optional(p, "orderId", 64)?,
            test: flag(p, "testFlag")?,
        })
    }
}

/// upgrade.
#[derive(Clone, Debug)]
pub(crate) struct UpgradeRequest {
    /// instanceId (unchanged).
    pub(crate) instance_id: String,
    /// The upgrade order (idempotency key).
    pub(crate) order_id: String,
    /// New skuCode.
    pub(crate) sku_code: String,
    /// New productId.
    pub(crate) product_id: String,
    /// New amount.
    pub(crate) amount: Option<u32>,
    /// testFlag.
    pub(crate) test: bool,
}

impl UpgradeRequest {
    /// Validates the parameters.
    pub(crate) fn parse(p: &QueryParams) -> Result<UpgradeRequest, FieldError> {
        Ok(UpgradeRequest {
            instance_id: required(p, "instanceId", 64)?,
            order_id: required(p, "orderId", 64)?,
            sku_code: required(p, "skuCode", 64)?,
            product_id: required(p, "productId", 64)?,
            amount: optional_number(p, "amount", 7)?,
            test: flag(p, "testFlag")?,
        })
    }
}
