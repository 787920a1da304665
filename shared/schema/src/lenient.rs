//! Lenient field decoders: identity providers send `""` for "unset", `null` for empty lists,
//! and (Entra's default dialect) booleans as strings. These helpers normalise all of that at
//! the edge so the domain code only ever sees `Option` and `Vec`.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `""`, whitespace-only and `null` become `None`; any other string is kept as sent.
pub fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    Ok(value.filter(|s| !s.trim().is_empty()))
}

/// `null` becomes the type's default (an empty list, for instance).
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A boolean that may arrive as `true`, `"True"`, `"false"`, `""` or `null`.
pub fn flexible_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            other => Err(serde::de::Error::custom(format!(
                "expected a boolean, got the string {other:?}"
            ))),
        },
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a boolean, got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "non_empty")]
        s: Option<String>,
        #[serde(default, deserialize_with = "flexible_bool")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "null_as_default")]
        v: Vec<u8>,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn empty_strings_mean_unset() {
        assert_eq!(probe(r#"{"s":""}"#).s, None);
        assert_eq!(probe(r#"{"s":"  "}"#).s, None);
        assert_eq!(probe(r#"{"s":null}"#).s, None);
        assert_eq!(probe(r#"{"s":"x"}"#).s.as_deref(), Some("x"));
    }

    #[test]
    fn booleans_may_be_strings() {
        assert_eq!(probe(r#"{"b":"False"}"#).b, Some(false));
        assert_eq!(probe(r#"{"b":"True"}"#).b, Some(true));
        assert_eq!(probe(r#"{"b":true}"#).b, Some(true));
        assert_eq!(probe(r#"{"b":""}"#).b, None);
        assert!(serde_json::from_str::<Probe>(r#"{"b":"maybe"}"#).is_err());
    }

    #[test]
    fn null_lists_are_empty() {
        assert!(probe(r#"{"v":null}"#).v.is_empty());
        assert_eq!(probe(r#"{"v":[1]}"#).v, vec![1]);
    }
}
