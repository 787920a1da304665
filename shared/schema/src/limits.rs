//! What an event may hold for the database to store it and the fold to stay sound.
//!
//! Strings PostgreSQL indexes: a B-tree entry holds at most about 2.7 kB, so an event carrying
//! a longer identifier, email, group id or catalogued org value (job title, department,
//! division, city, country) could never be stored. The bound leaves room for the two keys some
//! indexes hold together (a group id and a member id).
//!
//! Strings PostgreSQL stores nowhere: U+0000 and half of a surrogate pair.
//!
//! The event's timestamp: a member's state is the fold of its events in timestamp order, so
//! one event stamped years ahead would win over every real event until then, and PostgreSQL
//! stores no year 0. Ingest refuses either with the field's path.

use chrono::{DateTime, Duration, Utc};

use crate::stytch::{Envelope, Member, SchemaError};

/// The most bytes any of those strings may hold.
pub const MAX_KEY_BYTES: usize = 1024;

/// How far ahead of the receiver's clock an event's timestamp may be: clock skew, not more.
pub const MAX_AHEAD: Duration = Duration::hours(1);

impl Envelope {
    /// Refuses a timestamp before the Unix epoch or more than [`MAX_AHEAD`] after `now`.
    pub fn check_timestamp(&self, now: DateTime<Utc>) -> Result<(), SchemaError> {
        let problem = if self.timestamp < DateTime::UNIX_EPOCH {
            "is before 1970"
        } else if self.timestamp > now + MAX_AHEAD {
            "is more than an hour ahead of this server's clock"
        } else {
            return Ok(());
        };
        Err(SchemaError::Field {
            path: "timestamp".into(),
            message: format!("{} {problem}", self.timestamp.to_rfc3339()),
        })
    }

    /// Refuses the event if one of the strings the database indexes is longer than
    /// [`MAX_KEY_BYTES`]. `member` is this envelope's [`Envelope::member`]; a group event's
    /// ids are checked when the event can be understood (group-resolver reports it otherwise).
    pub fn check_lengths(&self, member: Option<&Member>) -> Result<(), SchemaError> {
        let mut keys = Keys(Vec::with_capacity(24));
        keys.push("event_id", None, Some(&self.event_id));
        keys.push("id", None, self.id.as_deref());
        if let Some(member) = member {
            keys.member(member);
        }
        let group = self
            .is_idp_group()
            .then(|| self.group_event().ok())
            .flatten();
        if let Some(group) = &group {
            keys.push("idp_group.group_id", None, Some(&group.group_id));
            keys.push(
                "idp_group.organization_id",
                None,
                Some(&group.organization_id),
            );
            keys.push("idp_group.member_id", None, group.member_id.as_deref());
        }
        match keys
            .0
            .into_iter()
            .find(|key| key.value.len() > MAX_KEY_BYTES)
        {
            Some(key) => Err(SchemaError::Field {
                path: key.path(),
                message: format!(
                    "is {} bytes long; at most {MAX_KEY_BYTES} are accepted",
                    key.value.len()
                ),
            }),
            None => Ok(()),
        }
    }
}

/// A string to check, and where it sits: `path` with `[]` standing for `[index]`, spelled out
/// only for the one refused (this runs on every webhook).
struct Key<'a> {
    path: &'static str,
    index: Option<usize>,
    value: &'a str,
}

impl Key<'_> {
    fn path(&self) -> String {
        match self.index {
            Some(i) => self.path.replacen("[]", &format!("[{i}]"), 1),
            None => self.path.to_owned(),
        }
    }
}

struct Keys<'a>(Vec<Key<'a>>);

impl<'a> Keys<'a> {
    fn push(&mut self, path: &'static str, index: Option<usize>, value: Option<&'a str>) {
        if let Some(value) = value {
            self.0.push(Key { path, index, value });
        }
    }

    fn member(&mut self, member: &'a Member) {
        self.push(
            "member.organization_id",
            None,
            member.organization_id.as_deref(),
        );
        self.push("member.member_id", None, member.member_id.as_deref());
        self.push(
            "member.email_address",
            None,
            member.email_address.as_deref(),
        );
        self.push("member.external_id", None, member.external_id.as_deref());
        let Some(registration) = &member.scim_registration else {
            return;
        };
        self.push(
            "member.scim_registration.external_id",
            None,
            registration.external_id.as_deref(),
        );
        let Some(scim) = &registration.scim_attributes else {
            return;
        };
        macro_rules! at {
            ($field:literal) => {
                concat!("member.scim_registration.scim_attributes.", $field)
            };
        }
        self.push(at!("user_name"), None, scim.user_name.as_deref());
        self.push(at!("id"), None, scim.id.as_deref());
        self.push(at!("external_id"), None, scim.external_id.as_deref());
        self.push(at!("title"), None, scim.title.as_deref());
        for (i, email) in scim.emails.iter().enumerate() {
            self.push(at!("emails[].value"), Some(i), email.value.as_deref());
        }
        for (i, group) in scim.groups.iter().flatten().enumerate() {
            self.push(at!("groups[].value"), Some(i), group.value.as_deref());
        }
        for (i, address) in scim.addresses.iter().enumerate() {
            self.push(
                at!("addresses[].locality"),
                Some(i),
                address.locality.as_deref(),
            );
            self.push(
                at!("addresses[].country"),
                Some(i),
                address.country.as_deref(),
            );
        }
        if let Some(extension) = &scim.enterprise_extension {
            self.push(
                at!("enterprise_extension.department"),
                None,
                extension.department.as_deref(),
            );
            self.push(
                at!("enterprise_extension.division"),
                None,
                extension.division.as_deref(),
            );
            self.push(
                at!("enterprise_extension.manager.value"),
                None,
                extension.manager.as_ref().and_then(|m| m.value.as_deref()),
            );
        }
    }
}

const NUL: &str = "the NUL character (\\u0000)";
const LONE_SURROGATE: &str = "an unpaired UTF-16 surrogate (\\uD800-\\uDFFF)";

/// What PostgreSQL cannot store in an already decoded string, if anything. A Rust string holds
/// no half of a surrogate pair, so the NUL character is all that is left to refuse.
pub fn unstorable_text(value: &str) -> Option<&'static str> {
    value.contains('\0').then_some(NUL)
}

/// How deep arrays and objects may nest in a JSON text: serde_json's parser reads no deeper, so
/// this is what ingest accepts of a webhook.
pub const MAX_JSON_DEPTH: usize = 127;

/// Whether `json` nests arrays and objects deeper than [`MAX_JSON_DEPTH`]. Counted over the
/// brackets outside strings, without parsing: a caller can refuse such a body plainly before a
/// parser reports its recursion limit (and for text that is not even JSON).
pub fn nests_too_deep(json: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Refuses a valid JSON text holding a string PostgreSQL cannot store: U+0000 (in neither text
/// nor jsonb) or half of a surrogate pair (jsonb refuses it; serde_json checks escapes' hex
/// digits only when it keeps a value raw).
pub fn check_storable(json: &[u8]) -> Result<(), SchemaError> {
    unstorable(json).map_or(Ok(()), |problem| Err(SchemaError::Unstorable(problem)))
}

/// What [`check_storable`] refuses. Both can only be written as `\u` escapes, and outside
/// strings there are no backslashes, so walking the escapes is enough: `\\u0000` is a backslash
/// and "u0000".
fn unstorable(json: &[u8]) -> Option<&'static str> {
    let mut rest = json;
    // The previous escape was a high surrogate: its low half must come right after it.
    let mut high = false;
    while let Some(at) = rest.iter().position(|&b| b == b'\\') {
        if high && at > 0 {
            return Some(LONE_SURROGATE);
        }
        let escape = &rest[at + 1..];
        let unit = match escape.split_first() {
            Some((b'u', tail)) => tail
                .get(..4)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u16::from_str_radix(hex, 16).ok()),
            _ => None,
        };
        match unit {
            Some(0) => return Some(NUL),
            Some(0xD800..=0xDBFF) if !high => high = true,
            Some(0xDC00..=0xDFFF) if high => high = false,
            Some(0xD800..=0xDFFF) => return Some(LONE_SURROGATE),
            _ if high => return Some(LONE_SURROGATE),
            _ => {}
        }
        // Past the escape, so an escaped backslash is not read as the start of another.
        let length = if unit.is_some() { 5 } else { 1 };
        rest = escape.get(length..).unwrap_or_default();
    }
    high.then_some(LONE_SURROGATE)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::MAX_KEY_BYTES;
    use crate::Envelope;

    fn member_event(member: Value) -> Envelope {
        Envelope::from_value(json!({
            "event_id": "e-1", "action": "CREATE", "object_type": "member", "source": "SCIM",
            "id": "member-1", "timestamp": "2026-01-01T00:00:00.000000Z", "member": member
        }))
        .expect("envelope")
    }

    fn refused_path(envelope: &Envelope) -> Option<String> {
        let member = envelope.member().expect("member");
        envelope
            .check_lengths(member.as_ref())
            .err()
            .and_then(|e| e.path().map(str::to_owned))
    }

    #[test]
    fn an_over_long_key_is_refused_with_its_path() {
        let long = "x".repeat(MAX_KEY_BYTES + 1);
        let just = "x".repeat(MAX_KEY_BYTES);
        let scim =
            |attributes: Value| json!({"scim_registration": {"scim_attributes": attributes}});
        let cases = [
            (json!({"email_address": just}), None),
            (json!({"email_address": long}), Some("member.email_address")),
            (json!({"name": long.repeat(8)}), None),
            (
                scim(json!({"groups": [{"value": "g"}, {"value": long}]})),
                Some("member.scim_registration.scim_attributes.groups[1].value"),
            ),
            (
                scim(json!({"enterprise_extension": {"manager": {"value": long}}})),
                Some("member.scim_registration.scim_attributes.enterprise_extension.manager.value"),
            ),
            (
                scim(json!({"addresses": [{"country": long}]})),
                Some("member.scim_registration.scim_attributes.addresses[0].country"),
            ),
            (scim(json!({"addresses": [{"street_address": long}]})), None),
        ];
        for (member, expected) in cases {
            let envelope = member_event(member.clone());
            assert_eq!(refused_path(&envelope).as_deref(), expected, "{member}");
        }
    }

    #[test]
    fn timestamps_must_lie_between_the_epoch_and_an_hour_ahead() {
        let mut envelope = member_event(json!({}));
        let now = envelope.timestamp + chrono::Duration::days(30);
        assert!(envelope.check_timestamp(now).is_ok());
        let refused = |envelope: &Envelope| {
            envelope
                .check_timestamp(now)
                .err()
                .and_then(|e| e.path().map(str::to_owned))
        };
        envelope.timestamp = now + super::MAX_AHEAD;
        assert_eq!(refused(&envelope), None);
        envelope.timestamp = now + super::MAX_AHEAD + chrono::Duration::seconds(1);
        assert_eq!(refused(&envelope).as_deref(), Some("timestamp"));
        envelope.timestamp = chrono::DateTime::UNIX_EPOCH - chrono::Duration::seconds(1);
        assert_eq!(refused(&envelope).as_deref(), Some("timestamp"));
    }

    #[test]
    fn envelope_and_group_ids_are_bounded_too() {
        let long = "x".repeat(MAX_KEY_BYTES + 1);
        let mut envelope = member_event(json!({}));
        envelope.event_id = long.clone();
        assert_eq!(refused_path(&envelope).as_deref(), Some("event_id"));
        let group = Envelope::from_value(json!({
            "event_id": "e-2", "action": "CREATE", "object_type": "idp_group", "source": "SCIM",
            "timestamp": "2026-01-01T00:00:00.000000Z",
            "idp_group": {"group_id": long, "organization_id": "org"}
        }))
        .expect("envelope");
        assert_eq!(refused_path(&group).as_deref(), Some("idp_group.group_id"));
    }

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let max = super::MAX_JSON_DEPTH;
        assert!(!super::nests_too_deep(nested(max).as_bytes()));
        assert!(super::nests_too_deep(nested(max + 1).as_bytes()));
        assert!(super::nests_too_deep("{\"a\":".repeat(max + 1).as_bytes()));
        let in_string = format!("{{\"a\": \"{}\\\"{}\"}}", "[".repeat(500), "{".repeat(500));
        assert!(!super::nests_too_deep(in_string.as_bytes()), "{in_string}");
        // serde_json reads exactly as deep.
        serde_json::from_str::<serde_json::Value>(&nested(max)).expect("deepest accepted");
        assert!(serde_json::from_str::<serde_json::Value>(&nested(max + 1)).is_err());
        assert_eq!(super::unstorable_text("a\u{0}b"), Some(super::NUL));
        assert_eq!(super::unstorable_text("é ok"), None);
    }

    #[test]
    fn only_escapes_postgresql_cannot_store_count() {
        let cases = [
            (r#"{"a":"x\u0000y"}"#, Some(super::NUL)),
            (r#"{"a":"\u0000"}"#, Some(super::NUL)),
            (r#"{"\u0000":1}"#, Some(super::NUL)),
            (r#"{"a":"\\\u0000"}"#, Some(super::NUL)),
            (r#"{"a":"\\u0000"}"#, None),
            (r#"{"a":"\u00001"}"#, Some(super::NUL)),
            (r#"{"a":"\u0001\u00e9\n"}"#, None),
            (r#"{"a":"\\"}"#, None),
            (r#"{"a":"plain"}"#, None),
            (r#"{"a":"\ud83d\ude00 \uD83D\uDE00"}"#, None),
            (r#"{"a":"\ud83d"}"#, Some(super::LONE_SURROGATE)),
            (r#"{"a":"\ud83dx\ude00"}"#, Some(super::LONE_SURROGATE)),
            (r#"{"a":"\ud83d\n"}"#, Some(super::LONE_SURROGATE)),
            (r#"{"a":"\ud83d\ud83d"}"#, Some(super::LONE_SURROGATE)),
            (r#"{"a":"\ude00"}"#, Some(super::LONE_SURROGATE)),
            (r#"{"a":"\\ud83d"}"#, None),
        ];
        for (json, expected) in cases {
            serde_json::from_str::<Box<serde_json::value::RawValue>>(json).expect(json);
            assert_eq!(super::unstorable(json.as_bytes()), expected, "{json}");
        }
    }
}
