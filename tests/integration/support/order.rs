//! The purchases tests send: a getLicense order with unique ids, built up field by field.

use crate::helpers::SYS_PRODUCT;
use crate::market;

/// A purchase as getLicense describes it; defaults to the system-bound product.
#[derive(Clone, Debug)]
pub(crate) struct Order {
    /// orderId.
    pub(crate) order_id: String,
    /// productId.
    pub(crate) product_id: String,
    /// customerId.
    pub(crate) customer_id: String,
    /// The buyer's identifier, sent as saasExtendParams; `None` sends no saasExtendParams.
    pub(crate) identifier: Option<String>,
    /// Further fields (skuCode, amount, expireTime, chargingMode, ...).
    pub(crate) extra: Vec<(String, String)>,
}

impl Order {
    /// A new order with a unique orderId.
    pub(crate) fn new() -> Order {
        Order {
            order_id: unique("CS"),
            product_id: SYS_PRODUCT.to_owned(),
            customer_id: "68cbc86abc2018ab880d92f36422fa0e".to_owned(),
            identifier: Some("SYSCODE-0001".to_owned()),
            extra: Vec::new(),
        }
    }

    /// Sets the product.
    pub(crate) fn product(mut self, product_id: &str) -> Order {
        self.product_id = product_id.to_owned();
        self
    }

    /// Sets the identifier (`None`: no saasExtendParams).
    pub(crate) fn identifier(mut self, identifier: Option<&str>) -> Order {
        self.identifier = identifier.map(str::to_owned);
        self
    }

    /// Adds a field.
    pub(crate) fn with(mut self, name: &str, value: &str) -> Order {
        self.extra.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Every parameter of a getLicense call for this order, with a fresh businessId and
    /// timeStamp, unsigned.
    pub(crate) fn params(&self) -> Vec<(String, String)> {
        let mut params = market::pairs(&[
            ("activity", "getLicense"),
            ("timeStamp", &market::time_stamp_now()),
            ("businessId", &uuid::Uuid::new_v4().to_string()),
            ("customerId", &self.customer_id),
            ("orderId", &self.order_id),
            ("productId", &self.product_id),
        ]);
        if let Some(identifier) = &self.identifier {
            params.push((
                "saasExtendParams".into(),
                market::identifier_param(identifier),
            ));
        }
        params.extend(self.extra.iter().cloned());
        params
    }
}

/// A unique id with a prefix.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}
