//! Helpers for property tests of wire parsers (feature `test-util`).

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Any JSON value, nested a few levels, with keys drawn from `keys` half of the time so that
/// parsers meet the fields they look for with unexpected values.
pub fn arbitrary_json(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,24}".prop_map(Value::String),
        Just(Value::String("true".into())),
    ];
    let key = prop_oneof![proptest::sample::select(keys).prop_map(str::to_owned), "[A-Za-z$]{0,10}"];
    leaf.prop_recursive(3, 32, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Any bytes, mostly short.
pub fn arbitrary_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..512)
}
