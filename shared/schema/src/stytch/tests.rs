use super::*;

fn create_body() -> serde_json::Value {
    serde_json::json!({
        "action": "CREATE",
        "event_id": "event-1",
        "id": "member-1",
        "object_type": "member",
        "project_id": "project-1",
        "source": "SCIM",
        "timestamp": "2025-01-01T00:00:00.123456Z",
        "vertical": "B2B",
        "future_field": {"kept": true},
        "member": {
            "organization_id": "org-1",
            "member_id": "member-1",
            "email_address": "ada@example.com",
            "name": "",
            "brand_new_field": 7,
            "scim_registration": {
                "scim_attributes": {
                    "active": "True",
                    "groups": null,
                    "phone_numbers": [{"value": "+1 555", "type": "work"}, {"value": "+1 556", "type": "mobile"}],
                    "enterprise_extension": {"manager": {"value": "member-0"}, "department": ""}
                }
            }
        }
    })
}

#[test]
fn parses_a_member_create_and_keeps_unknown_fields() {
    let env = Envelope::from_value(create_body()).expect("valid");
    assert_eq!(env.event_type(), "scim.member.create");
    assert_eq!(env.action(), Action::Create);
    assert!(env.rest.contains_key("future_field"));
    let member = env.member().expect("typed").expect("present");
    assert_eq!(member.name, None, "empty string is unset");
    assert!(member.extra.contains_key("brand_new_field"));
    let scim = member.scim().expect("scim attributes");
    assert_eq!(scim.active, Some(true));
    assert!(scim.groups.is_none(), "null means not sent");
    assert_eq!(scim.phone("WORK"), Some("+1 555"));
    assert_eq!(scim.phone("fax"), None);
    assert_eq!(scim.manager_value(), Some("member-0"));
    let dept = scim
        .enterprise_extension
        .as_ref()
        .and_then(|e| e.department.clone());
    assert_eq!(dept, None);
    // Round trip keeps unknown fields.
    let back = serde_json::to_value(&member).expect("serialize");
    assert_eq!(back["brand_new_field"], 7);
}

#[test]
fn schema_violations_name_the_field() {
    let mut body = create_body();
    body["member"]["scim_registration"]["scim_attributes"]["active"] = serde_json::json!("perhaps");
    // The member body is validated with the envelope, so a bad member refuses the event.
    let err = Envelope::from_value(body).expect_err("bad boolean");
    assert_eq!(
        err.path(),
        Some("member.scim_registration.scim_attributes.active")
    );

    let mut body = create_body();
    body["timestamp"] = serde_json::json!("yesterday");
    let err = Envelope::from_value(body).expect_err("bad timestamp");
    assert_eq!(err.path(), Some("timestamp"));
}

#[test]
fn create_without_member_body_is_rejected() {
    let mut body = create_body();
    body.as_object_mut().expect("object").remove("member");
    let err = Envelope::from_value(body).expect_err("missing member");
    assert_eq!(err.path(), Some("member"));
}

#[test]
fn delete_needs_no_body_but_needs_an_id() {
    let body = serde_json::json!({
        "action": "DELETE", "event_id": "e", "id": "member-9", "object_type": "member",
        "source": "SCIM", "timestamp": "2025-01-01T00:00:00.000000Z"
    });
    let env = Envelope::from_value(body.clone()).expect("valid delete");
    assert_eq!(env.member_id().as_deref(), Some("member-9"));
    let mut no_id = body;
    no_id.as_object_mut().expect("object").remove("id");
    assert!(Envelope::from_value(no_id).is_err());
}

#[test]
fn non_objects_are_refused() {
    assert!(matches!(
        Envelope::parse(b"[1,2]"),
        Err(SchemaError::NotAnObject)
    ));
    assert!(matches!(Envelope::parse(b"{"), Err(SchemaError::Json(_))));
}

/// Ingest and the workers decode from bytes; the answer must be what decoding the tree gives,
/// word for word (the 400 body names the field and the problem).
#[test]
fn decoding_from_bytes_agrees_with_decoding_a_tree() {
    let mut bodies = vec![create_body()];
    let mut bad_bool = create_body();
    bad_bool["member"]["scim_registration"]["scim_attributes"]["active"] =
        serde_json::json!("perhaps");
    let mut bad_time = create_body();
    bad_time["timestamp"] = serde_json::json!("yesterday");
    let mut number_id = create_body();
    number_id["event_id"] = serde_json::json!(5);
    let mut no_member = create_body();
    no_member.as_object_mut().expect("object").remove("member");
    let mut empty_source = create_body();
    empty_source["source"] = serde_json::json!(" ");
    bodies.extend([bad_bool, bad_time, number_id, no_member, empty_source]);
    for body in bodies {
        let bytes = serde_json::to_vec_pretty(&body).expect("bytes");
        let from_bytes = Envelope::parse(&bytes).map_err(|e| e.to_string());
        let from_tree = Envelope::from_value(body).map_err(|e| e.to_string());
        assert_eq!(from_bytes, from_tree);
    }
    assert!(matches!(
        Envelope::parse(b"{\"event_id\": \"e\"} trailing"),
        Err(SchemaError::Json(_))
    ));
    assert!(matches!(
        Envelope::parse(b"  \"text\""),
        Err(SchemaError::NotAnObject)
    ));
}
