//! The order requests go in: a resource's changes one after the other, different resources
//! side by side, in waves.

use std::collections::HashMap;

use serde_json::Value;

fn resource_of(body: &Value) -> String {
    match body["object_type"].as_str() {
        Some("idp_group") => format!("g:{}", body["idp_group"]["group_id"].as_str().unwrap_or("")),
        _ => format!("m:{}", body["id"].as_str().unwrap_or("")),
    }
}

/// The events of one phase in waves: each wave holds at most one event per resource, a
/// resource's events in the order they happened, and waves run one after the other.
pub fn waves(bodies: Vec<&Value>) -> Vec<Vec<&Value>> {
    let mut last: HashMap<String, usize> = HashMap::new();
    let mut waves: Vec<Vec<&Value>> = Vec::new();
    for body in bodies {
        let key = resource_of(body);
        let wave = last.get(&key).map_or(0, |w| w + 1);
        // A membership change belongs to its member as much as to its group: it goes after the
        // member's latest change, and the member's next change goes after it. Both edit the
        // member's groups; run side by side, one's PATCH adding the member to a group and the
        // other's removing it could reach the service in either order.
        let member = body["idp_group"]["member_id"]
            .as_str()
            .map(|m| format!("m:{m}"));
        let wave = match &member {
            Some(m) => wave.max(last.get(m).map_or(0, |w| w + 1)),
            None => wave,
        };
        if let Some(m) = member {
            last.insert(m, wave);
        }
        last.insert(key, wave);
        if waves.len() <= wave {
            waves.resize_with(wave + 1, Vec::new);
        }
        waves[wave].push(body);
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::waves;
    use serde_json::{json, Value};

    fn member(id: &str) -> Value {
        json!({"object_type": "member", "action": "UPDATE", "id": id})
    }

    fn membership(group: &str, member: &str) -> Value {
        json!({"object_type": "idp_group", "action": "MEMBER_ADD",
               "idp_group": {"group_id": group, "member_id": member}})
    }

    fn wave_of(waves: &[Vec<&Value>], body: &Value) -> usize {
        waves
            .iter()
            .position(|w| w.iter().any(|b| std::ptr::eq(*b, body)))
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn a_member_change_and_a_membership_change_of_the_same_member_never_share_a_wave() {
        let (m1, add, m2, other) = (
            member("m-1"),
            membership("g-1", "m-1"),
            member("m-1"),
            member("m-2"),
        );
        let waves = waves(vec![&m1, &add, &m2, &other]);
        assert!(wave_of(&waves, &m1) < wave_of(&waves, &add));
        assert!(wave_of(&waves, &add) < wave_of(&waves, &m2));
        assert_eq!(
            wave_of(&waves, &other),
            0,
            "other members are not held back"
        );
    }
}
