//! Protobuf enums as jsonpb reads them: by name (`ROUND_ROBIN`) or by number (`4`).

/// Declares a protobuf enum whose first variant (number 0) is the default. It deserializes
/// from the variant's name or its number and serializes to the name.
macro_rules! proto_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $num:literal => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            #[default]
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in protobuf number order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name of the variant as Istio's YAML spells it.
            pub const fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// The protobuf number of the variant.
            pub const fn number(&self) -> i32 {
                match self { $($name::$variant => $num,)+ }
            }

            /// The variant with this protobuf number.
            pub fn from_number(n: i64) -> Option<Self> {
                match n { $($num => Some($name::$variant),)+ _ => None }
            }

            /// The variant with this name (case-sensitive, as jsonpb).
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("one of ", $("`", $text, "` "),+))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_name(v).ok_or_else(|| {
                            E::custom(format_args!(
                                "unknown value {:?} for {}, expected one of {}",
                                v,
                                stringify!($name),
                                [$($text),+].join(", ")
                            ))
                        })
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$name, E> {
                        $name::from_number(v).ok_or_else(|| {
                            E::custom(format_args!("unknown number {} for {}", v, stringify!($name)))
                        })
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$name, E> {
                        self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

pub(crate) use proto_enum;

/// `skip_serializing_if` helper for proto3 scalars, which are absent when they hold their default.
pub(crate) fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}
