//! Deserializing typed values straight from parsed nodes, without an intermediate JSON
//! value, but as the JSON that Kubernetes makes of the YAML would deserialize:
//! `key: null` entries are skipped (the API server prunes them), non-finite numbers are
//! refused (they have no JSON form, so `kubectl` cannot send them), and a float with an
//! integral value fills an integer field (Go writes the float 1000 as the JSON number
//! `1000`, so `number: 1e3` or `weight: 50.0` reach Istio as integers).

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;

use super::{Entries, Items, NodeRef, NodeValue};

/// An error while deserializing from nodes.
#[derive(Debug)]
pub(crate) struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }

    /// serde's message, with `null` for the unit value, and a hint where YAML 1.1 made a
    /// boolean or a number of what was meant as a string.
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let expected = exp.to_string();
        let hint = if !expected.contains("string") {
            ""
        } else {
            match unexp {
                de::Unexpected::Bool(_) => {
                    " (Kubernetes reads an unquoted y, yes, on, n, no, off, true or false as a boolean: quote it)"
                }
                de::Unexpected::Signed(_)
                | de::Unexpected::Unsigned(_)
                | de::Unexpected::Float(_) => {
                    " (an unquoted number is a number, and 0777 is octal: quote it)"
                }
                _ => "",
            }
        };
        let unexp = match unexp {
            de::Unexpected::Unit => "null".to_owned(),
            other => other.to_string(),
        };
        DeError(format!("invalid type: {unexp}, expected {expected}{hint}"))
    }

    /// istioctl's wording (`unknown field "x"`), then the names the object has; of a field
    /// known by its proto name and its JSON name, the JSON name only.
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let camel = |snake: &str| {
            let mut out = String::new();
            let mut upper = false;
            for c in snake.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        };
        let known: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|n| !(n.contains('_') && expected.contains(&camel(n).as_str())))
            .collect();
        if known.is_empty() {
            DeError(format!(
                "unknown field {field:?} (the object has no fields)"
            ))
        } else {
            DeError(format!(
                "unknown field {field:?} (known fields: {})",
                known.join(", ")
            ))
        }
    }
}

/// Deserializes an integer field: integral floats count as integers.
macro_rules! integer {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.value() {
                NodeValue::Float(f) if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) => {
                    visitor.visit_u64(f as u64)
                }
                NodeValue::Float(f) if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..0.0).contains(&f) => {
                    visitor.visit_i64(f as i64)
                }
                _ => self.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeRef<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value() {
            NodeValue::Null => visitor.visit_unit(),
            NodeValue::Bool(b) => visitor.visit_bool(b),
            NodeValue::Int(i) => visitor.visit_i64(i),
            NodeValue::UInt(u) => visitor.visit_u64(u),
            NodeValue::Float(f) if f.is_finite() => visitor.visit_f64(f),
            NodeValue::Float(_) => Err(DeError(
                "numbers must be finite (.inf and .nan have no JSON form)".into(),
            )),
            NodeValue::Str(s) => visitor.visit_borrowed_str(s),
            NodeValue::Seq(items) => visitor.visit_seq(Seq { items, next: 0 }),
            NodeValue::Map(entries) => visitor.visit_map(Map {
                entries,
                next: 0,
                value: None,
                keep_nulls: false,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value() {
            NodeValue::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == KEEP_NULLS {
            visitor.visit_newtype_struct(KeepNulls(self))
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value() {
            NodeValue::Str(s) => visitor.visit_enum(s.into_deserializer()),
            _ => self.deserialize_any(visitor),
        }
    }

    integer! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
    }

    forward_to_deserialize_any! {
        bool f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct Seq<'de> {
    items: Items<'de>,
    next: usize,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.get(self.next) {
            Some(node) => {
                self.next += 1;
                seed.deserialize(node).map(Some)
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

struct Map<'de> {
    entries: Entries<'de>,
    /// The next entry to read.
    next: usize,
    value: Option<NodeRef<'de>>,
    /// Whether `key: null` entries are kept (see [`KEEP_NULLS`]).
    keep_nulls: bool,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        while let Some((key, value)) = self.entries.get(self.next) {
            self.next += 1;
            if value.is_null() && !self.keep_nulls {
                continue;
            }
            self.value = Some(value);
            return seed
                .deserialize(de::value::BorrowedStrDeserializer::new(key.name))
                .map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(v) => seed.deserialize(v),
            None => Err(DeError("a value was read before its key".into())),
        }
    }
}

/// The name of a newtype through which a field asks for its mapping with its `key: null`
/// entries, which are otherwise skipped (a field that must report them, as Istio reports a
/// null header match). Other deserializers see an ordinary newtype.
pub(crate) const KEEP_NULLS: &str = "$mesh_model::keep_nulls";

/// A mapping node whose `key: null` entries are kept; anything else as it is.
struct KeepNulls<'de>(NodeRef<'de>);

impl<'de> de::Deserializer<'de> for KeepNulls<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.value() {
            NodeValue::Map(entries) => visitor.visit_map(Map {
                entries,
                next: 0,
                value: None,
                keep_nulls: true,
            }),
            _ => self.0.deserialize_any(visitor),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
        struct enum identifier ignored_any
    }
}
