//! Properties over generated input: the filter and path parsers never panic and refuse garbage
//! with `invalidFilter` / `invalidPath`; a printed filter parses back to the same tree; the
//! SQL of any filter binds one value per placeholder; PATCH application never panics, changes
//! nothing when it fails, and a member removal by value list removes exactly those members.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::{json, Value};

use scimsync_scim_proto::filter::{
    parse_filter, AttrPath, CompValue, CompareOp, Filter, FilterLimits,
};
use scimsync_scim_proto::patch::PatchRequest;
use scimsync_scim_proto::path::PatchPath;
use scimsync_scim_proto::sql::{to_sql, Column, ColumnKind, SqlTable};
use scimsync_scim_proto::{ScimType, GROUP_RESOURCE, USER_RESOURCE};

/// Fragments of the filter language, so generated text gets deep into the grammar.
const TOKENS: &[&str] = &[
    "userName",
    "emails",
    "name.givenName",
    "urn:ietf:params:scim:schemas:core:2.0:User:",
    "urn:",
    ".",
    ":",
    " ",
    "  ",
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "gt",
    "ge",
    "lt",
    "le",
    "pr",
    "and",
    "or",
    "not",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "\\",
    "\"x\"",
    "\"\\u00e9\"",
    "\"\\q\"",
    "1",
    "-2.5e3",
    "01",
    "true",
    "False",
    "null",
    "type",
    "value",
    "$ref",
    "é",
    "\t",
    "\n",
    "\u{0}",
];

fn tokens() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat())
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,8}"
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    (
        prop::option::of("urn:[a-z0-9]{1,5}(:[a-zA-Z0-9.]{1,5}){0,3}"),
        name(),
        prop::option::of(name()),
    )
        .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        any::<String>().prop_map(CompValue::String),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(CompValue::Number),
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
    ]
}

fn leaf(path: BoxedStrategy<AttrPath>) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (
            path.clone(),
            prop::sample::select(CompareOp::ALL.to_vec()),
            comp_value()
        )
            .prop_map(|(p, op, v)| Filter::Compare(p, op, v)),
        path.prop_map(Filter::Present),
    ]
}

fn logic(inner: impl Strategy<Value = Filter> + Clone) -> impl Strategy<Value = Filter> {
    prop_oneof![
        inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
        prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
        prop::collection::vec(inner, 2..4).prop_map(Filter::Or),
    ]
}

/// A valid filter tree: value filters hold no value filters, as the grammar says.
fn filter() -> impl Strategy<Value = Filter> {
    let element = leaf(name().prop_map(AttrPath::simple).boxed()).prop_recursive(3, 12, 3, logic);
    let value_path = (attr_path(), element).prop_map(|(p, f)| Filter::ValuePath(p, Box::new(f)));
    prop_oneof![3 => leaf(attr_path().boxed()), 1 => value_path].prop_recursive(4, 24, 3, logic)
}

const USER_PATHS: &[&str] = &[
    "userName",
    "title",
    "active",
    "name.givenName",
    "emails",
    "emails.value",
    "emails.type",
    "meta.lastModified",
    "id",
    "externalId",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
];

/// Filters whose names are real User attributes (so most of them resolve).
fn user_filter() -> impl Strategy<Value = Filter> {
    let path = prop::sample::select(USER_PATHS).prop_map(|p| {
        let (urn, rest) = match p.rsplit_once(':') {
            Some((u, r)) => (Some(u.to_owned()), r),
            None => (None, p),
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n.to_owned(), Some(s.to_owned())),
            None => (rest.to_owned(), None),
        };
        AttrPath { urn, name, sub }
    });
    leaf(path.boxed()).prop_recursive(4, 24, 3, logic)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_filter_parser_never_panics_and_refuses_with_invalid_filter(text in prop_oneof![any::<String>(), tokens()]) {
        match parse_filter(&text, &USER_RESOURCE, &FilterLimits::default()) {
            Ok(_) => {}
            Err(e) => {
                prop_assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
                prop_assert_eq!(e.status, 400);
            }
        }
    }

    #[test]
    fn the_path_parser_never_panics_and_refuses_with_invalid_path(text in prop_oneof![any::<String>(), tokens()]) {
        if let Err(e) = PatchPath::parse(&text, &FilterLimits::default()).and_then(|p| p.resolve(&USER_RESOURCE)) {
            prop_assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        }
    }

    #[test]
    fn a_printed_filter_parses_back_to_the_same_tree(f in filter()) {
        let text = f.to_string();
        let back = Filter::parse(&text, &FilterLimits { max_len: usize::MAX, max_depth: 32 });
        prop_assert_eq!(back.as_ref().ok(), Some(&f), "{}", text);
    }

    #[test]
    fn generated_sql_binds_one_value_per_placeholder(f in user_filter(), first in 1usize..5) {
        let Ok(resolved) = scimsync_scim_proto::filter::resolve(&f, &USER_RESOURCE) else {
            return Ok(());
        };
        let columns = [Column::new("userName", "user_name", ColumnKind::Text), Column::new("id", "id", ColumnKind::Uuid)];
        let fragment = to_sql(&resolved, &SqlTable { resource_column: "resource", columns: &columns }, first);
        let placeholders: Vec<usize> = fragment.sql.match_indices('$')
            .filter_map(|(i, _)| {
                let digits: String = fragment.sql[i + 1..].chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .collect();
        let expected: Vec<usize> = (first..first + fragment.params.len()).collect();
        prop_assert_eq!(placeholders, expected, "{}", fragment.sql);
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "True",
            "false",
            "x",
            "",
            "2024-01-01T00:00:00Z",
            "u1",
            "work"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "value",
                    "type",
                    "primary",
                    "givenName",
                    "display",
                    "nope",
                    "$ref",
                    "active",
                    "name.givenName",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                    "manager",
                    "members",
                    "id"
                ])
                .prop_map(str::to_owned),
                inner,
                0..4,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const PATCH_PATHS: &[&str] = &[
    "title",
    "active",
    "name",
    "name.givenName",
    "emails",
    "emails[type eq \"work\"].value",
    "emails[type eq \"work\"]",
    "addresses[type eq \"work\"].locality",
    "members",
    "members[value eq \"u1\"]",
    "displayName",
    "id",
    "meta.version",
    "groups",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "userName",
    "nope",
    "emails[",
];

fn operation() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["add", "Add", "REPLACE", "replace", "Remove", "remove"]),
        prop::option::of(prop::sample::select(PATCH_PATHS)),
        prop::option::of(json_value()),
    )
        .prop_map(|(op, path, value)| {
            let mut o = json!({"op": op});
            if let Some(p) = path {
                o["path"] = json!(p);
            }
            if let Some(v) = value {
                o["value"] = v;
            }
            o
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn patch_application_never_panics_and_fails_without_changes(ops in prop::collection::vec(operation(), 0..6)) {
        let stored = [
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u", "userName": "a",
                   "emails": [{"value": "a@x", "type": "work", "primary": true}], "name": {"givenName": "A"}}),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g", "displayName": "G",
                   "members": [{"value": "u1"}, {"value": "u2"}]}),
        ];
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        for (rt, resource) in [(&USER_RESOURCE, &stored[0]), (&GROUP_RESOURCE, &stored[1])] {
            let Ok(request) = PatchRequest::from_json(&body, &FilterLimits::default()) else { continue };
            match request.apply(rt, resource) {
                Ok(p) => prop_assert_eq!(p.changed, p.resource != *resource),
                Err(e) => prop_assert!(e.status == 400 || e.status == 409, "{}", e),
            }
        }
    }

    #[test]
    fn member_removal_by_value_list_removes_exactly_the_listed_members(
        members in prop::collection::btree_set("[a-f0-9]{1,3}", 0..8),
        listed in prop::collection::vec("[a-f0-9]{1,3}", 0..6),
    ) {
        let members: Vec<String> = members.into_iter().collect();
        let stored = json!({"displayName": "G", "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()});
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "Remove", "path": "members", "value": listed.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()}
        ]});
        let p = PatchRequest::from_json(&body, &FilterLimits::default()).unwrap().apply(&GROUP_RESOURCE, &stored).unwrap();
        let kept: Vec<String> = members.iter().filter(|m| !listed.contains(m)).cloned().collect();
        let removed: Vec<String> = members.iter().filter(|m| listed.contains(m)).cloned().collect();
        prop_assert_eq!(p.members.removed, removed);
        let after: Vec<String> = p.resource.get("members").and_then(Value::as_array).map(|a| {
            a.iter().filter_map(|m| m["value"].as_str().map(str::to_owned)).collect()
        }).unwrap_or_default();
        prop_assert_eq!(after, kept);
    }
}
