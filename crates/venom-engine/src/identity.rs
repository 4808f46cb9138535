//! Hints about what identifies a state: a context key that takes a new value in almost every
//! state (a token, a timestamp, a request id) makes nearly every step a new state, and the
//! exploration never ends where it should.

use crate::context::Context;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// Fewer states than this say too little to warn about.
const MIN_STATES: usize = 10;
/// A key with distinct values in at least this share of the states is named.
const SHARE: f64 = 0.9;

/// The warning for each identifying key (`keys`, or every key when `None`) that takes a
/// distinct value in at least 90% of the `contexts` of the states (of at least
/// [`MIN_STATES`]), in key order.
pub(crate) fn churning_keys<'c>(
    contexts: impl Iterator<Item = &'c Context>,
    keys: Option<&[String]>,
) -> Vec<String> {
    let mut states = 0usize;
    let mut seen: BTreeMap<&'c str, HashSet<String>> = BTreeMap::new();
    for ctx in contexts {
        states += 1;
        for (key, value) in ctx.as_map() {
            if keys.is_none_or(|keys| keys.iter().any(|k| k == key)) {
                seen.entry(key).or_default().insert(canonical(value));
            }
        }
    }
    if states < MIN_STATES {
        return Vec::new();
    }
    let how = match keys {
        Some(_) => "leave it out of `state_from_context`",
        None => "list the keys that do identify a state in `state_from_context`, without it",
    };
    seen.into_iter()
        .filter(|(_, values)| values.len() as f64 >= SHARE * states as f64)
        .map(|(key, values)| {
            format!(
                "context key `{key}` has a different value in {} of the {states} states, so \
                 almost every step makes a new state (a token, a timestamp, an id?): {how}",
                values.len()
            )
        })
        .collect()
}

/// A value as text that is equal for equal values.
fn canonical(value: &Value) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contexts(n: usize) -> Vec<Context> {
        (0..n)
            .map(|i| {
                let mut ctx = Context::new();
                ctx.set("stamp", i);
                ctx.set("order", i % 3);
                ctx
            })
            .collect()
    }

    #[test]
    fn a_key_new_in_almost_every_state_is_named_and_a_steady_one_is_not() {
        let all = contexts(20);
        let warnings = churning_keys(all.iter(), None);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0]
            .starts_with("context key `stamp` has a different value in 20 of the 20 states"));
        assert!(warnings[0].contains("without it"));
        let chosen = ["stamp".to_string()];
        let warnings = churning_keys(all.iter(), Some(&chosen));
        assert!(warnings[0].ends_with("leave it out of `state_from_context`"));
        let steady = ["order".to_string()];
        assert!(churning_keys(all.iter(), Some(&steady)).is_empty());
        assert!(
            churning_keys(contexts(9).iter(), None).is_empty(),
            "too few states to tell"
        );
    }
}
