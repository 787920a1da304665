use super::*;

#[test]
fn lookup_is_case_insensitive_and_returns_canonical_names() {
    let a = USER_RESOURCE.attribute("USERNAME").unwrap();
    assert_eq!(a.path(), "userName");
    let a = USER_RESOURCE.attribute("name.GIVENname").unwrap();
    assert_eq!(a.path(), "name.givenName");
    assert!(!a.attr.multi_valued);
    assert_eq!(a.leaf().kind, AttrType::String);
}

#[test]
fn lookup_accepts_urn_qualified_core_and_extension_names() {
    let a = USER_RESOURCE
        .attribute("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName")
        .unwrap();
    assert_eq!(a.path(), "name.givenName");
    let m = USER_RESOURCE
        .attribute("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
        .unwrap();
    assert_eq!(m.container(), Some(ENTERPRISE_USER_SCHEMA));
    assert_eq!(
        m.path(),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
    );
    let v = USER_RESOURCE
        .attribute("URN:IETF:params:scim:schemas:extension:enterprise:2.0:User:Manager.Value")
        .unwrap();
    assert_eq!(v.leaf().name, "value");
}

#[test]
fn an_extension_attribute_is_found_without_its_urn() {
    let d = USER_RESOURCE.attribute("department").unwrap();
    assert!(d.extension);
}

#[test]
fn a_urn_restricts_the_lookup_to_its_schema() {
    assert_eq!(
        USER_RESOURCE.attribute("urn:ietf:params:scim:schemas:core:2.0:User:department"),
        Err(LookupError::UnknownAttribute(
            "urn:ietf:params:scim:schemas:core:2.0:User:department".into()
        ))
    );
    assert!(matches!(
        USER_RESOURCE.attribute("urn:example:Other:department"),
        Err(LookupError::UnknownSchema(_))
    ));
}

#[test]
fn common_attributes_resolve_on_every_resource_type() {
    for rt in [&USER_RESOURCE, &GROUP_RESOURCE] {
        assert_eq!(rt.attribute("ID").unwrap().path(), "id");
        assert_eq!(rt.attribute("externalid").unwrap().path(), "externalId");
        let lm = rt.attribute("meta.lastmodified").unwrap();
        assert_eq!(lm.path(), "meta.lastModified");
        assert_eq!(lm.leaf().kind, AttrType::DateTime);
    }
}

#[test]
fn unknown_names_and_sub_attributes_are_refused() {
    assert!(matches!(
        USER_RESOURCE.attribute("nope"),
        Err(LookupError::UnknownAttribute(_))
    ));
    assert!(matches!(
        USER_RESOURCE.attribute("name.nope"),
        Err(LookupError::UnknownSubAttribute { .. })
    ));
    assert!(USER_RESOURCE.attribute("name.givenName.x").is_err());
    assert!(GROUP_RESOURCE.attribute("userName").is_err());
}

#[test]
fn group_members_are_multi_valued_complex() {
    let m = GROUP_RESOURCE.attribute("members.value").unwrap();
    assert!(m.attr.multi_valued);
    assert!(m.leaf().case_exact);
}
