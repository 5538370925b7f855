//! Typed keys: the locks every rule takes ([`LockKey`]), the idempotency entries that remember
//! an applied marketplace call ([`IdemKey`]) and the deduplication keys of outbox jobs
//! ([`JobKey`]). Their text forms are what is stored (and what the lock stripes hash), so they
//! must never change: databases written by earlier versions hold them.

use std::fmt;

/// What a lock excludes: every operation on one order, instance, authorization code or license
/// holds its key from the first read until its write is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockKey<'a> {
    /// A GET-interface purchase (getLicense / newInstance), by orderId.
    Order(&'a str),
    /// An online-license purchase line (newInstance of the POST interface).
    OrderLine {
        /// orderId.
        order: &'a str,
        /// orderLineId.
        line: &'a str,
    },
    /// An instance and its licenses: a GET instance, an online instance, or an authorization
    /// code (whose licenses carry the code as their instance id).
    Instance(&'a str),
    /// A license without an instance (offline issuance).
    License(&'a str),
    /// The concurrent seats of a floating license: its leases.
    Seats(&'a str),
}

impl fmt::Display for LockKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockKey::Order(order) => write!(f, "km/order/{order}"),
            LockKey::OrderLine { order, line } => write!(f, "km2/order/{order}/{line}"),
            LockKey::Instance(instance) => write!(f, "km/instance/{instance}"),
            LockKey::License(license) => write!(f, "license/{license}"),
            LockKey::Seats(license) => write!(f, "seats/{license}"),
        }
    }
}

/// A marketplace call already applied: its entry makes a retry or replay change nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum IdemKey<'a> {
    /// getLicense / newInstance (GET): the order's license id. Written until schema 3 and still
    /// read; the order's posting serves as the entry since (`Store::order_license`).
    Order(&'a str),
    /// A renewal order of a GET instance.
    Renewal {
        /// instanceId.
        instance: &'a str,
        /// The renewal order.
        order: &'a str,
    },
    /// An upgrade order of a GET instance.
    Upgrade {
        /// instanceId.
        instance: &'a str,
        /// The upgrade order.
        order: &'a str,
    },
    /// newInstance (POST): the instance id of the order line.
    OrderLine {
        /// orderId.
        order: &'a str,
        /// orderLineId.
        line: &'a str,
    },
    /// refreshInstance (POST), per scene and order line.
    InstanceRefresh {
        /// instanceId.
        instance: &'a str,
        /// The scene as sent.
        scene: &'a str,
        /// orderId.
        order: &'a str,
        /// orderLineId.
        line: &'a str,
    },
    /// refreshLicenseCode, per scene and order line.
    CodeRefresh {
        /// The authorization code.
        code: &'a str,
        /// The scene as sent.
        scene: &'a str,
        /// orderId.
        order: &'a str,
        /// orderLineId.
        line: &'a str,
    },
    /// getLicenseAsync: the license of an event and fingerprint.
    Delivery {
        /// eventId.
        event: &'a str,
        /// Hex SHA-256 of the normalised fingerprint.
        fingerprint: &'a str,
    },
}

impl fmt::Display for IdemKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdemKey::Order(order) => write!(f, "km/order/{order}"),
            IdemKey::Renewal { instance, order } => write!(f, "km/renew/{instance}/{order}"),
            IdemKey::Upgrade { instance, order } => write!(f, "km/upgrade/{instance}/{order}"),
            IdemKey::OrderLine { order, line } => write!(f, "km2/order/{order}/{line}"),
            IdemKey::InstanceRefresh {
                instance,
                scene,
                order,
                line,
            } => write!(f, "km2/refresh/{instance}/{scene}/{order}/{line}"),
            IdemKey::CodeRefresh {
                code,
                scene,
                order,
                line,
            } => write!(f, "km2/code-refresh/{code}/{scene}/{order}/{line}"),
            IdemKey::Delivery { event, fingerprint } => {
                write!(f, "km2/event/{event}/{fingerprint}")
            }
        }
    }
}

/// The deduplication key of an outbox job: one job per key, ever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JobKey<'a> {
    /// The upload of the license of a getLicenseAsync event.
    Upload(&'a str),
    /// The order query of an online instance.
    OrderQuery(&'a str),
}

impl fmt::Display for JobKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobKey::Upload(event) => write!(f, "upload/{event}"),
            JobKey::OrderQuery(instance) => write!(f, "order/{instance}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_key_texts_stay_what_earlier_versions_wrote() {
        assert_eq!(IdemKey::Order("O").to_string(), "km/order/O");
        let renewal = IdemKey::Renewal {
            instance: "I",
            order: "R",
        };
        assert_eq!(renewal.to_string(), "km/renew/I/R");
        let line = IdemKey::OrderLine {
            order: "O",
            line: "L",
        };
        assert_eq!(line.to_string(), "km2/order/O/L");
        let delivery = IdemKey::Delivery {
            event: "E",
            fingerprint: "F",
        };
        assert_eq!(delivery.to_string(), "km2/event/E/F");
        assert_eq!(JobKey::OrderQuery("I").to_string(), "order/I");
        assert_eq!(LockKey::Instance("I").to_string(), "km/instance/I");
    }
}
