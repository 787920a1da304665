use super::*;
use chrono::TimeZone;
use serde_json::json;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_735_689_600 + secs, 0)
        .single()
        .expect("valid time")
}

fn member(value: serde_json::Value) -> Member {
    serde_json::from_value(value).expect("member")
}

fn event(id: &str, secs: i64, action: Action, body: Option<serde_json::Value>) -> MemberEvent {
    MemberEvent {
        event_id: id.into(),
        timestamp: at(secs),
        action,
        member: body.map(member),
    }
}

fn full(email: &str, title: &str, active: bool) -> serde_json::Value {
    json!({
        "organization_id": "org-1", "member_id": "m-1", "email_address": email,
        "scim_registration": {"scim_attributes": {
            "active": active, "title": title,
            "name": {"given_name": "Ada", "family_name": "Lovelace"},
            "addresses": [{"street_address": "1 Main St", "locality": "London", "country": "UK", "region": "LDN", "postal_code": "N1"},
                          {"street_address": "ignored", "locality": "Paris"}],
            "phone_numbers": [{"value": "111", "type": "work"}, {"value": "222", "type": "mobile"}, {"value": "333", "type": "fax"}],
            "enterprise_extension": {"employee_number": "E1", "department": "R&D", "division": "Eng", "manager": {"value": "m-0"}}
        }}
    })
}

#[test]
fn maps_every_direct_field_from_the_first_address_and_typed_phones() {
    let s = fold(vec![event(
        "e1",
        0,
        Action::Create,
        Some(full("ada@x.io", "Engineer", true)),
    )]);
    assert!(s.has_body && s.active);
    assert_eq!(s.email.as_deref(), Some("ada@x.io"));
    assert_eq!(
        (s.first_name().as_str(), s.last_name().as_str()),
        ("Ada", "Lovelace")
    );
    assert_eq!(s.street_address.as_deref(), Some("1 Main St"));
    assert_eq!(s.city.as_deref(), Some("London"));
    assert_eq!(s.country.as_deref(), Some("UK"));
    assert_eq!(s.region.as_deref(), Some("LDN"));
    assert_eq!(s.postal_code.as_deref(), Some("N1"));
    assert_eq!(
        (
            s.business_phone.as_deref(),
            s.mobile_phone.as_deref(),
            s.fax_phone.as_deref()
        ),
        (Some("111"), Some("222"), Some("333"))
    );
    assert_eq!(s.employee_number.as_deref(), Some("E1"));
    assert_eq!(s.department.as_deref(), Some("R&D"));
    assert_eq!(s.division.as_deref(), Some("Eng"));
    assert_eq!(s.job_title.as_deref(), Some("Engineer"));
    assert_eq!(s.manager_value.as_deref(), Some("m-0"));
    assert_eq!(s.first_seen, Some(at(0)));
}

#[test]
fn name_fallbacks_follow_r5() {
    let with = |v: serde_json::Value| fold(vec![event("e", 0, Action::Create, Some(v))]);
    let s = with(
        json!({"email_address": "a@x.io", "scim_registration": {"scim_attributes": {"display_name": "Grace Brewster Hopper"}}}),
    );
    assert_eq!(
        (s.first_name().as_str(), s.last_name().as_str()),
        ("Grace", "Brewster Hopper")
    );
    let s = with(json!({"email_address": "grace.b_hopper@x.io"}));
    assert_eq!(s.last_name(), "Hopper");
    assert_eq!(s.first_name(), "Grace");
    let s = with(json!({"email_address": "JOHN-SMITH@x.io"}));
    assert_eq!(s.last_name(), "Smith");
    let s = with(json!({"email_address": "ghopper@x.io"}));
    assert_eq!(s.last_name(), "Missing");
    let s = with(json!({"email_address": "ghopper@x.io", "name": "Prince"}));
    assert_eq!(
        (s.first_name().as_str(), s.last_name().as_str()),
        ("Prince", "Missing")
    );
}

#[test]
fn absent_and_empty_fields_never_clear_values() {
    let s = fold(vec![
        event(
            "e1",
            0,
            Action::Create,
            Some(full("ada@x.io", "Engineer", true)),
        ),
        event(
            "e2",
            1,
            Action::Update,
            Some(
                json!({"email_address": "", "scim_registration": {"scim_attributes": {"title": ""}}}),
            ),
        ),
    ]);
    assert_eq!(s.email.as_deref(), Some("ada@x.io"));
    assert_eq!(s.job_title.as_deref(), Some("Engineer"));
    assert!(s.active, "an update without `active` leaves activity alone");
}

#[test]
fn any_arrival_order_gives_the_in_order_state() {
    let events = vec![
        event(
            "e1",
            0,
            Action::Create,
            Some(full("ada@x.io", "Engineer", true)),
        ),
        event(
            "e2",
            1,
            Action::Update,
            Some(full("ada@y.io", "Lead", true)),
        ),
        event("e3", 2, Action::Delete, None),
        event(
            "e4",
            3,
            Action::Update,
            Some(json!({"scim_registration": {"scim_attributes": {"title": "Principal"}}})),
        ),
    ];
    let in_order = fold(events.clone());
    assert!(!in_order.active);
    assert_eq!(in_order.deactivated_at, Some(at(2)));
    assert_eq!(in_order.job_title.as_deref(), Some("Principal"));
    assert_eq!(in_order.email.as_deref(), Some("ada@y.io"));
    let mut reversed = events.clone();
    reversed.reverse();
    assert_eq!(fold(reversed), in_order);
    let mut duplicated = events.clone();
    duplicated.extend(events);
    assert_eq!(fold(duplicated), in_order);
}

#[test]
fn stale_create_never_resurrects_a_later_delete_but_reprovisioning_does() {
    let deleted = fold(vec![
        event("d", 5, Action::Delete, None),
        event(
            "c",
            1,
            Action::Create,
            Some(full("ada@x.io", "Engineer", true)),
        ),
    ]);
    assert!(!deleted.active);
    assert_eq!(deleted.deactivated_at, Some(at(5)));
    let back = fold(vec![
        event("d", 5, Action::Delete, None),
        event(
            "c",
            1,
            Action::Create,
            Some(full("ada@x.io", "Engineer", true)),
        ),
        event(
            "u",
            9,
            Action::Update,
            Some(full("ada@x.io", "Engineer", true)),
        ),
    ]);
    assert!(back.active);
    assert_eq!(back.deactivated_at, None);
}

#[test]
fn active_false_deactivates_and_keeps_the_first_deactivation_time() {
    let s = fold(vec![
        event("a", 0, Action::Create, Some(full("ada@x.io", "E", true))),
        event("b", 3, Action::Update, Some(full("ada@x.io", "E", false))),
        event("c", 4, Action::Delete, None),
    ]);
    assert!(!s.active);
    assert_eq!(s.deactivated_at, Some(at(3)));
}
