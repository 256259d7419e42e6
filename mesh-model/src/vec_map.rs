//! [`VecMap`]: a map kept as one vector sorted by key, for the small maps of a match block
//! (`headers`, `withoutHeaders`, `queryParams`). It reads and iterates as the `BTreeMap` it
//! replaces (sorted, one value per key, the last insert wins), but holds only its entries:
//! a `BTreeMap` allocates a node with room for eleven entries for its first one (about
//! 1 KB for a header match), which made a large VirtualService's match blocks most of its
//! memory.

use std::borrow::Borrow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// A map as a vector of entries sorted by key (see the [module](self)). Lookups are binary
/// searches; an insert moves the entries after it, which is cheap for the few entries a
/// match block has. The entries are a boxed slice (16 bytes, no spare capacity): a match
/// block holds three of these maps, mostly empty, and a large VirtualService many blocks.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VecMap<K, V> {
    entries: Box<[(K, V)]>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap::new()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K, V> VecMap<K, V> {
    /// An empty map (allocates nothing).
    pub fn new() -> Self {
        VecMap {
            entries: Box::default(),
        }
    }

    /// Changes the entries as a vector, then boxes them again without spare capacity.
    fn edit<R>(&mut self, f: impl FnOnce(&mut Vec<(K, V)>) -> R) -> R {
        let mut entries = std::mem::take(&mut self.entries).into_vec();
        let out = f(&mut entries);
        self.entries = entries.into_boxed_slice();
        out
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            inner: self.entries.iter(),
        }
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries = Box::default();
    }
}

impl<K: Ord, V> VecMap<K, V> {
    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value of `key`, to change.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// Whether `key` has a value.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`, returning the value it replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.edit(|entries| entries.insert(i, (key, value)));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let i = self.find(key).ok()?;
        Some(self.edit(|entries| entries.remove(i).1))
    }
}

/// An iterator over a [`VecMap`]'s entries in key order.
#[derive(Clone, Debug)]
pub struct Iter<'a, K, V> {
    inner: std::slice::Iter<'a, (K, V)>,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, v)| (k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K, V> DoubleEndedIterator for Iter<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(k, v)| (k, v))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_vec().into_iter()
    }
}

impl<K: Ord, V> Extend<(K, V)> for VecMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.edit(|entries| {
            for (k, v) in iter {
                match entries.binary_search_by(|(e, _)| e.cmp(&k)) {
                    Ok(i) => entries[i].1 = v,
                    Err(i) => entries.insert(i, (k, v)),
                }
            }
        });
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    /// The entries sorted by key; of entries with one key, the last one stays (as a
    /// `BTreeMap` collects them).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut entries: Vec<(K, V)> = iter.into_iter().collect();
        // Stable: among equal keys the last one collected stays last, and is moved into
        // the place of the first (`dedup_by` removes the later of two, `later`).
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        VecMap {
            entries: entries.into_boxed_slice(),
        }
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for VecMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<K: Ord, V> From<std::collections::BTreeMap<K, V>> for VecMap<K, V> {
    fn from(map: std::collections::BTreeMap<K, V>) -> Self {
        VecMap {
            entries: map.into_iter().collect::<Vec<_>>().into_boxed_slice(),
        }
    }
}

impl<K: Serialize, V: Serialize> Serialize for VecMap<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Deserialize<'de> for VecMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries<K, V>(std::marker::PhantomData<(K, V)>);

        impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Visitor<'de> for Entries<K, V> {
            type Value = VecMap<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(entries.into_iter().collect())
            }
        }

        d.deserialize_map(Entries(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::VecMap;
    use std::collections::BTreeMap;

    /// A `VecMap` reads, iterates and serializes as the `BTreeMap` of the same inserts:
    /// sorted keys, the last value of a key.
    #[test]
    fn behaves_as_a_btree_map() {
        let inserts = [("b", 1), ("a", 2), ("c", 3), ("a", 4), ("b", 5)];
        let mut v = VecMap::new();
        let mut b = BTreeMap::new();
        for (k, x) in inserts {
            assert_eq!(v.insert(k, x), b.insert(k, x));
        }
        assert_eq!(v.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
        assert_eq!(v.get("a"), Some(&4));
        assert!(v.contains_key("c") && !v.contains_key("d"));
        assert_eq!(v.len(), 3);
        let collected: VecMap<_, _> = inserts.into_iter().collect();
        assert_eq!(collected, v);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        let back: VecMap<String, i32> =
            serde_json::from_str(r#"{"z": 1, "y": 2, "z": 3}"#).unwrap();
        let want: BTreeMap<String, i32> =
            serde_json::from_str(r#"{"z": 1, "y": 2, "z": 3}"#).unwrap();
        assert_eq!(
            back.into_iter().collect::<Vec<_>>(),
            want.into_iter().collect::<Vec<_>>()
        );
        assert_eq!(v.remove("a"), Some(4));
        assert_eq!(
            format!("{v:?}"),
            format!("{:?}", BTreeMap::from([("b", 5), ("c", 3)]))
        );
        assert_eq!(v.remove("a"), None);
        b.remove("a");
        let more = [("d", 6), ("b", 7), ("a", 8), ("d", 9)];
        v.extend(more);
        b.extend(more);
        assert_eq!(v.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
        v.clear();
        assert!(v.is_empty() && v.get("b").is_none());
    }

    /// A map is a boxed slice: 16 bytes, an empty one allocating nothing.
    #[test]
    fn a_map_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<VecMap<String, String>>(), 16);
    }
}
