//! The exploration context: values that actions extract and later actions read.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Key → JSON value store carried along one exploration path.
///
/// It is cloned whenever the explorer branches, so every path sees only what its own
/// actions stored. Keys are kept sorted, which makes fingerprints and reports stable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Context {
    values: BTreeMap<String, Value>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value` under `key`, replacing any previous value.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.values.insert(key.into(), value.into());
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// The value under `key`, or `default` when absent.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a Value) -> &'a Value {
        self.values.get(key).unwrap_or(default)
    }

    /// Whether `key` is present.
    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// Removes `key`, returning its value.
    pub fn delete(&mut self, key: &str) -> Option<Value> {
        self.values.remove(key)
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.values.clear();
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Read access to the underlying map (sorted by key).
    pub fn as_map(&self) -> &BTreeMap<String, Value> {
        &self.values
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the context holds no key.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_get_has_delete_clear() {
        let mut ctx = Context::new();
        assert!(!ctx.has("a"));
        ctx.set("b", 2);
        ctx.set("a", json!({"x": 1}));
        assert_eq!(ctx.get("b"), Some(&json!(2)));
        assert_eq!(ctx.keys().collect::<Vec<_>>(), vec!["a", "b"]);
        let zero = json!(0);
        assert_eq!(ctx.get_or("missing", &zero), &json!(0));
        assert_eq!(ctx.delete("a"), Some(json!({"x": 1})));
        assert!(!ctx.has("a"));
        ctx.clear();
        assert!(ctx.is_empty());
    }

    #[test]
    fn clones_are_independent() {
        let mut parent = Context::new();
        parent.set("k", 1);
        let mut child = parent.clone();
        child.set("k", 2);
        assert_eq!(parent.get("k"), Some(&json!(1)));
        assert_eq!(child.get("k"), Some(&json!(2)));
    }
}
