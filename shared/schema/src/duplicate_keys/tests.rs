use proptest::prelude::*;

use super::check_unique_keys;
use crate::stytch::SchemaError;

/// The path and key of the duplicate found, `Ok(None)` for none, `Err` for invalid JSON.
fn found(json: &str) -> Result<Option<(String, String)>, String> {
    match check_unique_keys(json.as_bytes()) {
        Ok(()) => Ok(None),
        Err(SchemaError::DuplicateKey { path, key }) => Ok(Some((path, key))),
        Err(other) => Err(other.to_string()),
    }
}

fn dup(path: &str, key: &str) -> Result<Option<(String, String)>, String> {
    Ok(Some((path.to_owned(), key.to_owned())))
}

#[test]
fn a_key_twice_in_one_object_is_found_with_its_path() {
    assert_eq!(found(r#"{"a":1,"b":2}"#), Ok(None));
    assert_eq!(found(r#"{"a":1,"a":2}"#), dup("a", "a"));
    assert_eq!(found(r#"{"a":{"b":1,"b":1}}"#), dup("a.b", "b"));
    assert_eq!(
        found(r#"{"l":[0,{"x":1},{"x":1,"x":2}]}"#),
        dup("l[2].x", "x")
    );
    assert_eq!(found(r#"[[{"k":1,"k":1}]]"#), dup("[0][0].k", "k"));
    // Escapes are compared unescaped.
    assert_eq!(found(r#"{"a":1,"\u0061":2}"#), dup("a", "a"));
    assert_eq!(found(r#"{"é":1,"\u00e9":2}"#), dup("é", "é"));
    // The same key in sibling or nested objects is no duplicate.
    assert_eq!(
        found(r#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}"#),
        Ok(None)
    );
    assert_eq!(found(r#"{"a":1,"A":2,"a ":3}"#), Ok(None));
    // Keys of a closed object do not leak into the next one.
    assert_eq!(found(r#"{"o":{"x":1},"x":2}"#), Ok(None));
    assert_eq!(found("1"), Ok(None));
    assert_eq!(found(r#""a""#), Ok(None));
}

#[test]
fn many_keys_in_one_object_are_checked_too() {
    let keys: Vec<String> = (0..1000).map(|i| format!("\"k{i}\":{i}")).collect();
    let unique = format!("{{{}}}", keys.join(","));
    assert_eq!(found(&unique), Ok(None));
    let late = format!("{{{},\"k7\":0}}", keys.join(","));
    assert_eq!(found(&late), dup("k7", "k7"));
    let around_the_switch = format!("{{{},\"k15\":0}}", keys[..17].join(","));
    assert_eq!(found(&around_the_switch), dup("k15", "k15"));
}

#[test]
fn invalid_json_is_reported_as_such() {
    for json in ["{", r#"{"a":1} x"#, "[1,]", &"[".repeat(200)] {
        assert!(found(json).is_err(), "{json}");
    }
}

/// serde_json's depth limit holds, so a hostile body cannot overflow the stack; a raw value
/// (ingest's first pass) has no such limit.
#[test]
fn nesting_deeper_than_the_parser_allows_is_refused() {
    let deep = |n: usize| format!("{{\"a\":{}{}}}", "[".repeat(n), "]".repeat(n));
    assert_eq!(found(&deep(100)), Ok(None));
    let error = found(&deep(100_000)).expect_err("too deep");
    assert!(error.contains("recursion limit"), "{error}");
    serde_json::from_str::<Box<serde_json::value::RawValue>>(&deep(100_000)).expect("raw");
}

// ---- Against a reference ----------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Tree {
    Leaf(serde_json::Value),
    Array(Vec<Tree>),
    /// Keys may repeat; `bool`: write the key with every character escaped.
    Object(Vec<(String, bool, Tree)>),
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        Just(Tree::Leaf(serde_json::Value::Null)),
        any::<i32>().prop_map(|n| Tree::Leaf(n.into())),
        "[a-c]{0,2}".prop_map(|s| Tree::Leaf(s.into())),
    ];
    // Few distinct keys, so duplicates are common.
    let key =
        prop::sample::select(vec!["a", "b", "c", "é", "😀", "", "a.b"]).prop_map(str::to_owned);
    leaf.prop_recursive(4, 32, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Tree::Array),
            prop::collection::vec((key.clone(), any::<bool>(), inner), 0..5).prop_map(Tree::Object),
        ]
    })
}

fn write(tree: &Tree, out: &mut String) {
    match tree {
        Tree::Leaf(value) => out.push_str(&value.to_string()),
        Tree::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Tree::Object(entries) => {
            out.push('{');
            for (i, (key, escaped, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if *escaped {
                    out.push('"');
                    for unit in key.encode_utf16() {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                    out.push('"');
                } else {
                    out.push_str(&serde_json::Value::from(key.as_str()).to_string());
                }
                out.push(':');
                write(value, out);
            }
            out.push('}');
        }
    }
}

/// The first duplicate in reading order, with its path: what the parser meets first.
fn first_duplicate(tree: &Tree, path: &str) -> Option<(String, String)> {
    match tree {
        Tree::Leaf(_) => None,
        Tree::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| first_duplicate(item, &format!("{path}[{i}]"))),
        Tree::Object(entries) => {
            let mut seen = Vec::new();
            for (key, _, value) in entries {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if seen.contains(&key) {
                    return Some((here, key.clone()));
                }
                seen.push(key);
                if let Some(found) = first_duplicate(value, &here) {
                    return Some(found);
                }
            }
            None
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn finds_exactly_the_first_duplicate_a_reader_meets(tree in tree()) {
        let mut json = String::new();
        write(&tree, &mut json);
        prop_assert_eq!(found(&json), Ok(first_duplicate(&tree, "")), "{}", json);
    }
}

/// What the check costs on a typical member create (about 1 KiB), beside the parses ingest
/// already does on it. Timing, not a test: `cargo test --release -p scimsync-schema --
/// --ignored --nocapture duplicate_key_check_cost`.
#[test]
#[ignore = "a timing loop; run it in release"]
fn duplicate_key_check_cost() {
    use std::hint::black_box;
    use std::time::Instant;

    let body = serde_json::json!({
        "project_id": "project-live-7d2c1a40-5a7e-4d54-9f2b-0c1f0c6f5e11",
        "event_id": "event-live-0b8e3c55-7f3a-4a8e-9c61-3e1d2f4a5b6c",
        "action": "UPDATE", "object_type": "member", "source": "SCIM",
        "id": "member-live-2f6d9c1e-8a4b-4c3d-b5e7-1a2b3c4d5e6f",
        "timestamp": "2026-01-01T00:00:00.123456Z", "vertical": "B2B",
        "member": {
            "organization_id": "organization-live-5c4b3a29-1d0e-4f8a-b7c6-d5e4f3a2b1c0",
            "member_id": "member-live-2f6d9c1e-8a4b-4c3d-b5e7-1a2b3c4d5e6f",
            "email_address": "ada.lovelace@example.com", "status": "active",
            "name": "Ada Lovelace",
            "scim_registration": {
                "connection_id": "scim-connection-live-9a8b7c6d",
                "registration_id": "scim-registration-live-1f2e3d4c",
                "external_id": "00u1a2b3c4d5e6f7g8h9",
                "scim_attributes": {
                    "user_name": "ada.lovelace@example.com", "active": true,
                    "external_id": "00u1a2b3c4d5e6f7g8h9", "title": "Principal Engineer",
                    "name": {"given_name": "Ada", "family_name": "Lovelace"},
                    "emails": [{"value": "ada.lovelace@example.com", "type": "work", "primary": true}],
                    "phone_numbers": [{"value": "+44 20 7946 0000", "type": "work", "primary": true}],
                    "addresses": [{"street_address": "1 Analytical Row", "locality": "London",
                                   "postal_code": "N1 9GU", "country": "GB", "type": "work"}],
                    "groups": [{"value": "group-eng-0001", "display": "Engineering"}],
                    "enterprise_extension": {"employee_number": "E-1815", "department": "R&D",
                                             "division": "Computing",
                                             "manager": {"value": "member-live-manager-0001"}}
                }
            }
        }
    });
    let bytes = serde_json::to_vec(&body).expect("json");
    let rounds = 200_000;
    let time = |what: &str, f: &dyn Fn()| {
        for _ in 0..rounds / 10 {
            f();
        }
        let started = Instant::now();
        for _ in 0..rounds {
            f();
        }
        let nanos = started.elapsed().as_nanos() / rounds;
        println!("{what:<32} {nanos:>6} ns per {} B body", bytes.len());
    };
    time("duplicate keys", &|| {
        black_box(check_unique_keys(black_box(&bytes))).expect("unique");
    });
    time("RawValue (ingest's syntax pass)", &|| {
        black_box(serde_json::from_slice::<Box<serde_json::value::RawValue>>(
            black_box(&bytes),
        ))
        .expect("json");
    });
    time("Envelope::parse + member()", &|| {
        let envelope = crate::Envelope::parse(black_box(&bytes)).expect("envelope");
        black_box(envelope.member()).expect("member");
    });
}
