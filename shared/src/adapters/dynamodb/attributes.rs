//! Attribute values: building them, and reading them with a clear error
//! when an item is not shaped as expected.

use aws_sdk_dynamodb::types::AttributeValue;

use super::Item;
use crate::ports::StoreError;

pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn attribute<'a>(item: &'a Item, name: &str) -> Result<&'a AttributeValue, StoreError> {
    item.get(name)
        .ok_or_else(|| StoreError::Malformed(format!("attribute {name} is missing")))
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match attribute(item, name)? {
        AttributeValue::S(value) => Ok(value),
        _ => Err(StoreError::Malformed(format!(
            "attribute {name} is not a string"
        ))),
    }
}

pub(super) fn get_b<'a>(item: &'a Item, name: &str) -> Result<&'a [u8], StoreError> {
    match attribute(item, name)? {
        AttributeValue::B(value) => Ok(value.as_ref()),
        _ => Err(StoreError::Malformed(format!(
            "attribute {name} is not binary"
        ))),
    }
}

pub(super) fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    match attribute(item, name)? {
        AttributeValue::N(value) => value
            .parse()
            .map_err(|_| StoreError::Malformed(format!("attribute {name} is out of range"))),
        _ => Err(StoreError::Malformed(format!(
            "attribute {name} is not a number"
        ))),
    }
}

/// A counter that was never written counts as zero.
pub(super) fn get_n_or_zero<T: std::str::FromStr + Default>(
    item: &Item,
    name: &str,
) -> Result<T, StoreError> {
    if item.contains_key(name) {
        get_n(item, name)
    } else {
        Ok(T::default())
    }
}
