//! What a world observes of its state: a few named values, built at every step.
//!
//! An observation is made after every action and usually holds a handful of entries, so it is
//! a vector kept sorted by name (one allocation, dropped at once) rather than a tree with a node
//! and an owned string per entry; a name known at compile time is borrowed, never copied.

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The name of an observed value: borrowed when it is a literal, owned when it is built.
pub type ObservationName = Cow<'static, str>;

/// Named observations of the system (row counts, table hashes, query results) that, together
/// with the selected context keys, identify a state. Names are unique and iterate in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// Sorted by name, no name twice.
    entries: Vec<(ObservationName, Value)>,
}

impl Observation {
    /// An empty observation.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty observation with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Sets `name` to `value`; returns the value it replaced, if any.
    pub fn insert(&mut self, name: impl Into<ObservationName>, value: Value) -> Option<Value> {
        let name = name.into();
        // Worlds mostly insert in name order: appending needs no search.
        if self.entries.last().is_none_or(|(last, _)| *last < name) {
            self.entries.push((name, value));
            return None;
        }
        match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (name, value));
                None
            }
        }
    }

    /// The value observed under `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.position(name).ok().map(|i| &self.entries[i].1)
    }

    /// Whether something is observed under `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// The entries, in name order.
    pub fn iter(&self) -> Entries<'_> {
        self.into_iter()
    }

    /// The names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(name, _)| name)
    }

    /// How many values are observed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is observed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(entry, _)| (**entry).cmp(name))
    }
}

impl std::ops::Index<&str> for Observation {
    type Output = Value;

    /// The value observed under `name`; panics when there is none, as a map does.
    fn index(&self, name: &str) -> &Value {
        match self.get(name) {
            Some(value) => value,
            None => panic!("nothing observed under {name:?}"),
        }
    }
}

impl<N: Into<ObservationName>> FromIterator<(N, Value)> for Observation {
    fn from_iter<I: IntoIterator<Item = (N, Value)>>(iter: I) -> Self {
        let mut observation = Observation::new();
        observation.extend(iter);
        observation
    }
}

impl<N: Into<ObservationName>, const K: usize> From<[(N, Value); K]> for Observation {
    fn from(entries: [(N, Value); K]) -> Self {
        entries.into_iter().collect()
    }
}

impl<N: Into<ObservationName>> Extend<(N, Value)> for Observation {
    fn extend<I: IntoIterator<Item = (N, Value)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.insert(name, value);
        }
    }
}

impl IntoIterator for Observation {
    type Item = (ObservationName, Value);
    type IntoIter = std::vec::IntoIter<(ObservationName, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Observation {
    type Item = (&'a str, &'a Value);
    type IntoIter = Entries<'a>;

    fn into_iter(self) -> Self::IntoIter {
        Entries(self.entries.iter())
    }
}

/// The entries of an [`Observation`], borrowed, in name order.
pub struct Entries<'a>(std::slice::Iter<'a, (ObservationName, Value)>);

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a str, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(name, value)| (&**name, value))
    }
}

impl Serialize for Observation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Observation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A JSON object may repeat a name; the map keeps the last, as `insert` would.
        let map = BTreeMap::<String, Value>::deserialize(d)?;
        Ok(Observation {
            entries: map
                .into_iter()
                .map(|(name, value)| (Cow::Owned(name), value))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_stay_sorted_and_unique_whatever_the_insertion_order() {
        let mut observation = Observation::new();
        assert_eq!(observation.insert("c", json!(3)), None);
        assert_eq!(observation.insert(format!("a{}", 1), json!(1)), None);
        assert_eq!(observation.insert("b", json!(2)), None);
        assert_eq!(observation.insert("a1", json!(10)), Some(json!(1)));
        let names: Vec<&str> = observation.keys().collect();
        assert_eq!(names, ["a1", "b", "c"]);
        assert_eq!(observation.get("a1"), Some(&json!(10)));
        assert_eq!(observation.get("d"), None);
        assert!(observation.contains_key("b"));
        assert_eq!(observation.len(), 3);
    }

    #[test]
    fn serializes_as_a_json_object_and_reads_back_equal() {
        let observation: Observation = [("rows", json!(2)), ("hash", json!("ab"))]
            .into_iter()
            .collect();
        let text = serde_json::to_string(&observation).unwrap();
        assert_eq!(text, r#"{"hash":"ab","rows":2}"#);
        let back: Observation = serde_json::from_str(&text).unwrap();
        assert_eq!(back, observation);
    }
}
