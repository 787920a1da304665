//! A JSON object with the same key twice means whatever its reader picks: serde_json keeps the
//! last, other parsers the first, so one webhook could read as two different events. Such a
//! body is refused, whichever object the key is in.
//!
//! One pass over the bytes with serde_json's own parser (so its depth limit holds), building
//! nothing: keys without escapes are borrowed from the input, and one buffer holds the keys of
//! every object open at once. An object compares its keys by a linear scan while it has few
//! (cheaper than hashing for the dozen most objects hold) and moves them to a hash set once it
//! has many, so a megabyte of keys in one object stays linear.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::stytch::SchemaError;

/// Keys an object compares by scanning before it switches to a hash set.
const FEW_KEYS: usize = 16;

/// Refuses `json` if an object in it holds a key twice (keys compared after unescaping, so
/// `"a"` and `"\u0061"` are the same). Invalid JSON is reported as such.
pub fn check_unique_keys(json: &[u8]) -> Result<(), SchemaError> {
    let mut walk = Walk {
        keys: Vec::new(),
        found: None,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let walked = Node { walk: &mut walk }
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    match (walked, walk.found) {
        (_, Some(found)) => Err(found.into_error()),
        (Err(error), None) => Err(SchemaError::Json(error)),
        (Ok(()), None) => Ok(()),
    }
}

struct Walk<'de> {
    /// The keys of every object open, innermost last; each object owns the tail from where it
    /// started.
    keys: Vec<Cow<'de, str>>,
    /// The duplicate, once found; its path is filled in as the error unwinds.
    found: Option<Found>,
}

struct Found {
    key: String,
    /// Innermost first.
    path: Vec<Segment>,
}

enum Segment {
    Key(String),
    Index(usize),
}

impl Found {
    fn into_error(self) -> SchemaError {
        let mut path = String::new();
        for segment in self.path.iter().rev() {
            match segment {
                Segment::Key(key) if path.is_empty() => path.push_str(key),
                Segment::Key(key) => {
                    path.push('.');
                    path.push_str(key);
                }
                Segment::Index(index) => path.push_str(&format!("[{index}]")),
            }
        }
        SchemaError::DuplicateKey {
            path,
            key: self.key,
        }
    }
}

/// Any JSON value.
struct Node<'a, 'de> {
    walk: &'a mut Walk<'de>,
}

impl<'de> DeserializeSeed<'de> for Node<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, 'de> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let walk = self.walk;
        let mut index = 0;
        loop {
            match seq.next_element_seed(Node { walk: &mut *walk }) {
                Ok(Some(())) => index += 1,
                Ok(None) => return Ok(()),
                Err(error) => {
                    if let Some(found) = &mut walk.found {
                        found.path.push(Segment::Index(index));
                    }
                    return Err(error);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let walk = self.walk;
        let start = walk.keys.len();
        let mut many: Option<HashSet<Cow<'de, str>>> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let duplicate = match &mut many {
                Some(set) => !set.insert(key.clone()),
                None if walk.keys[start..].contains(&key) => true,
                None if walk.keys.len() - start < FEW_KEYS => {
                    walk.keys.push(key.clone());
                    false
                }
                None => {
                    let mut set: HashSet<_> = walk.keys.drain(start..).collect();
                    set.insert(key.clone());
                    many = Some(set);
                    false
                }
            };
            if duplicate {
                walk.found = Some(Found {
                    key: key.clone().into_owned(),
                    path: vec![Segment::Key(key.into_owned())],
                });
                return Err(de::Error::custom("duplicate key"));
            }
            if let Err(error) = map.next_value_seed(Node { walk: &mut *walk }) {
                if let Some(found) = &mut walk.found {
                    found.path.push(Segment::Key(key.into_owned()));
                }
                return Err(error);
            }
        }
        walk.keys.truncate(start);
        Ok(())
    }
}

/// An object key, borrowed from the input unless it had to be unescaped.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_owned()))
    }

    fn visit_string<E>(self, key: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key))
    }
}

#[cfg(test)]
mod tests;
