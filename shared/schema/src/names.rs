//! Closed sets of names that cross a process boundary (a database column, an AMQP header, a
//! metric label) as stable strings. Each variant is written next to its string once; the string
//! is what serde, `Display` and [`FromStr`](std::str::FromStr) use, so a row written by one
//! crate reads back as the same variant in another.

/// Declares a fieldless enum whose variants each stand for one stable string: `ALL` (in
/// declaration order), `as_str`, `parse`, `Display`, `FromStr`, and serde as that string.
macro_rules! names {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every name, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stable string: what the database, headers and labels hold.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The variant this string stands for, if any.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::names::UnknownName;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text).ok_or_else(|| $crate::names::UnknownName {
                    kind: stringify!($name),
                    text: text.to_owned(),
                    known: Self::ALL.iter().map(|n| n.as_str()).collect(),
                })
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }

        impl PartialEq<$name> for ::serde_json::Value {
            /// A JSON string holding the name (an API answer's field compared with the variant).
            fn eq(&self, name: &$name) -> bool {
                self.as_str() == Some(name.as_str())
            }
        }
    };
}

pub(crate) use names;

/// A string that is none of a set's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {text:?} (known: {})", known.join(", "))]
pub struct UnknownName {
    pub kind: &'static str,
    pub text: String,
    pub known: Vec<&'static str>,
}

#[cfg(test)]
mod tests {
    names! {
        /// Two names, for the macro's own test.
        pub enum Pair {
            First = "first-one",
            Second = "second_one",
        }
    }

    #[test]
    fn a_name_round_trips_through_its_string_serde_and_json() {
        for pair in Pair::ALL {
            assert_eq!(Pair::parse(pair.as_str()), Some(*pair));
            assert_eq!(pair.to_string(), pair.as_str());
            let json = serde_json::to_value(pair).expect("serialise");
            assert_eq!(json, serde_json::json!(pair.as_str()));
            assert_eq!(json, *pair);
            let back: Pair = serde_json::from_value(json).expect("deserialise");
            assert_eq!(back, *pair);
        }
    }

    #[test]
    fn an_unknown_string_is_refused_naming_the_known_ones() {
        let error = "third".parse::<Pair>().expect_err("not a name");
        assert_eq!(
            error.to_string(),
            "unknown Pair \"third\" (known: first-one, second_one)"
        );
        assert!(serde_json::from_str::<Pair>("\"third\"").is_err());
        assert_ne!(serde_json::json!("first"), Pair::First);
    }
}
