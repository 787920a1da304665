use serde_json::json;

use super::*;
use crate::schema::{GROUP_RESOURCE, USER_RESOURCE};
use crate::ScimType;

fn parse(text: &str) -> Filter {
    Filter::parse(text, &FilterLimits::default()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn user(text: &str) -> Result<ResolvedFilter, crate::ScimError> {
    parse_filter(text, &USER_RESOURCE, &FilterLimits::default())
}

fn cmp(name: &str, op: CompareOp, v: CompValue) -> Filter {
    Filter::Compare(AttrPath::simple(name), op, v)
}

fn s(v: &str) -> CompValue {
    CompValue::String(v.into())
}

/// Every example filter of RFC 7644 §3.4.2.2 parses and resolves against the User schema.
#[test]
fn every_rfc_7644_example_filter_parses_and_resolves() {
    let examples = [
        r#"userName Eq "john""#,
        r#"Username eq "john""#,
        r#"userName eq "bjensen""#,
        r#"name.familyName co "O'Malley""#,
        r#"userName sw "J""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        r#"title pr"#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        r#"title pr and userType eq "Employee""#,
        r#"title pr or userType eq "Intern""#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType eq "Employee" and (emails.type eq "work")"#,
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    ];
    for text in examples {
        user(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

#[test]
fn and_binds_tighter_than_or() {
    let f = parse(r#"a eq 1 or b eq 2 and c eq 3"#);
    let n = |x: i64| CompValue::Number(x.into());
    assert_eq!(
        f,
        Filter::Or(vec![
            cmp("a", CompareOp::Eq, n(1)),
            Filter::And(vec![
                cmp("b", CompareOp::Eq, n(2)),
                cmp("c", CompareOp::Eq, n(3))
            ]),
        ])
    );
    let g = parse(r#"(a eq 1 or b eq 2) and c eq 3"#);
    assert!(matches!(g, Filter::And(ref parts) if matches!(parts[0], Filter::Or(_))));
}

#[test]
fn keywords_and_operators_are_case_insensitive() {
    assert_eq!(
        parse(r#"NOT (userName EQ "x") AND title PR OR active Eq TRUE"#).to_string(),
        r#"(not (userName eq "x") and title pr) or active eq true"#
    );
}

#[test]
fn string_escapes_numbers_and_literals_are_json() {
    assert_eq!(
        parse(r#"title eq "a \"q\" \\ \u00e9\n""#),
        cmp("title", CompareOp::Eq, s("a \"q\" \\ é\n"))
    );
    assert_eq!(
        parse("x gt -1.5e3"),
        cmp(
            "x",
            CompareOp::Gt,
            CompValue::Number(serde_json::Number::from_f64(-1500.0).unwrap())
        )
    );
    assert_eq!(parse("x eq null"), cmp("x", CompareOp::Eq, CompValue::Null));
    assert_eq!(
        parse("x eq False"),
        cmp("x", CompareOp::Eq, CompValue::Bool(false))
    );
}

#[test]
fn a_urn_prefix_and_sub_attribute_are_kept_apart() {
    let f = parse(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "42""#,
    );
    let Filter::Compare(path, _, _) = f else {
        panic!("{f:?}")
    };
    assert_eq!(
        path.urn.as_deref(),
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    );
    assert_eq!(path.name, "manager");
    assert_eq!(path.sub.as_deref(), Some("value"));
}

#[test]
fn entra_value_path_with_sub_attribute_means_a_matching_element() {
    let r = user(r#"emails[type eq "work"].value eq "a@x.com""#).unwrap();
    let yes = json!({"emails": [{"type": "home", "value": "a@x.com"}, {"type": "work", "value": "A@X.com"}]});
    let no = json!({"emails": [{"type": "home", "value": "a@x.com"}, {"type": "work", "value": "b@x.com"}]});
    assert!(r.matches(&yes));
    assert!(!r.matches(&no));
}

#[test]
fn entra_test_connection_filter_is_a_plain_eq_on_a_random_guid() {
    let r = user(r#"userName eq "8f1b8d0e-6a0b-4b8c-9b4f-0b1c2d3e4f50""#).unwrap();
    assert!(!r.matches(&json!({"userName": "ada@example.com"})));
}

#[test]
fn unknown_attributes_are_invalid_filter_naming_the_attribute() {
    let e = user(r#"nope eq "x""#).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    assert!(e.detail.contains("nope"), "{}", e.detail);
    let e = user(r#"emails[kind eq "work"]"#).unwrap_err();
    assert!(e.detail.contains("kind"), "{}", e.detail);
    assert!(parse_filter(
        r#"userName eq "x""#,
        &GROUP_RESOURCE,
        &FilterLimits::default()
    )
    .is_err());
}

#[test]
fn operands_of_the_wrong_type_are_invalid_filter() {
    for text in [
        r#"active eq "yes""#,
        r#"active gt true"#,
        r#"userName eq 12"#,
        r#"userName gt null"#,
        r#"meta.lastModified gt "yesterday""#,
        r#"active co "t""#,
        r#"name eq "x""#,
        r#"userName[value eq "x"]"#,
    ] {
        let e = user(text).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{text}");
    }
}

#[test]
fn syntax_errors_say_where() {
    for (text, fragment) in [
        (r#"userName eq"#, "space"),
        (r#"userName xx "a""#, "operator"),
        (r#"userName eq "a"#, "closing quote"),
        (r#"(userName eq "a""#, "`)`"),
        (r#"userName eq "a" and"#, "character"),
        (r#"emails[type eq "work""#, "`]`"),
        (r#"userName eq 'a'"#, "value"),
        ("", "end"),
    ] {
        let e = Filter::parse(text, &FilterLimits::default()).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
        assert!(e.detail.contains(fragment), "{text}: {}", e.detail);
    }
}

#[test]
fn too_long_or_too_deep_filters_are_refused_without_recursing() {
    let limits = FilterLimits {
        max_len: 4096,
        max_depth: 32,
    };
    let deep = format!("{}a pr{}", "(".repeat(33), ")".repeat(33));
    let e = Filter::parse(&deep, &limits).unwrap_err();
    assert!(e.detail.contains("deeper than 32"), "{}", e.detail);
    let ok = format!("{}a pr{}", "(".repeat(32), ")".repeat(32));
    assert!(Filter::parse(&ok, &limits).is_ok());
    let nots = "not (".repeat(100_000);
    assert!(Filter::parse(
        &nots,
        &FilterLimits {
            max_len: 1 << 20,
            max_depth: 32
        }
    )
    .is_err());
    let long = format!("title eq \"{}\"", "x".repeat(5000));
    assert!(Filter::parse(&long, &limits)
        .unwrap_err()
        .detail
        .contains("4096"));
}

#[test]
fn printing_parses_back_to_the_same_tree() {
    for text in [
        r#"a eq "x" and (b pr or c lt 3) and not (d sw "y")"#,
        r#"emails[type eq "work" and (value co "@x" or primary eq true)] or title pr"#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName ne "q\"uote""#,
    ] {
        let f = parse(text);
        assert_eq!(parse(&f.to_string()), f, "{text}");
    }
}

#[test]
fn evaluation_honours_case_exactness_and_multi_values() {
    let u = json!({
        "userName": "Bjensen", "externalId": "AbC", "active": true,
        "emails": [{"value": "b@Example.com", "type": "work"}],
        "meta": {"lastModified": "2011-05-13T04:42:34Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m1"}}
    });
    let yes = [
        r#"userName eq "bjensen""#,
        r#"externalId eq "AbC""#,
        r#"emails co "example.com""#,
        r#"emails.type eq "work""#,
        r#"active eq true"#,
        r#"meta.lastModified gt "2011-05-13T04:42:33+00:00""#,
        r#"manager.value eq "m1""#,
        r#"title ne "x""#,
        r#"not (title eq "x")"#,
        r#"title eq null"#,
        r#"emails pr"#,
    ];
    let no = [
        r#"externalId eq "abc""#,
        r#"title pr"#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"emails[type eq "home"]"#,
        r#"active ne true"#,
    ];
    for text in yes {
        assert!(user(text).unwrap().matches(&u), "{text}");
    }
    for text in no {
        assert!(!user(text).unwrap().matches(&u), "{text}");
    }
}

#[test]
fn whitespace_around_the_whole_filter_is_ignored() {
    assert_eq!(
        parse("  title pr \n"),
        Filter::Present(AttrPath::simple("title"))
    );
}
