//! The generated SQL run by the real PostgreSQL (`SCIMSYNC_TEST_DATABASE_URL`), on a temporary
//! table in a transaction that is rolled back: each filter selects exactly the rows expected,
//! and the same rows the in-memory evaluator picks.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sea_orm::{
    ConnectionTrait, Database, DbBackend, Statement, TransactionTrait, Value as DbValue,
};
use serde_json::{json, Value};

use scimsync_scim_proto::filter::{parse_filter, FilterLimits};
use scimsync_scim_proto::sql::{order_by, to_sql, Column, ColumnKind, SqlParam, SqlTable};
use scimsync_scim_proto::USER_RESOURCE;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const COLUMNS: &[Column] = &[
    Column::new("id", "id", ColumnKind::Uuid),
    Column::new("userName", "user_name", ColumnKind::Text),
    Column::new("externalId", "external_id", ColumnKind::Text),
    Column::new(
        "meta.lastModified",
        "last_modified",
        ColumnKind::Timestamptz,
    ),
];

fn users() -> Vec<(&'static str, Value)> {
    vec![
        (
            "ada",
            json!({
                "id": "00000000-0000-0000-0000-00000000000a", "userName": "Ada@Example.com", "externalId": "EXT-1",
                "active": true, "title": "50% off_sale",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"value": "ada@example.com", "type": "work", "primary": true}, {"value": "ada@home.org", "type": "home"}],
                ENT: {"department": "R&D", "manager": {"value": "00000000-0000-0000-0000-00000000000b"}},
                "meta": {"lastModified": "2024-01-02T00:00:00Z"}
            }),
        ),
        (
            "bob",
            json!({
                "id": "00000000-0000-0000-0000-00000000000b", "userName": "bob@example.com", "externalId": "ext-1",
                "active": false, "title": "500 sales",
                "emails": [{"value": "bob@other.net", "type": "work"}],
                "meta": {"lastModified": "2024-03-01T12:00:00+02:00"}
            }),
        ),
        (
            "cyd",
            json!({
                "id": "00000000-0000-0000-0000-00000000000c", "userName": "cyd@example.com",
                "title": "", "emails": [],
                "meta": {"lastModified": "2023-12-31T23:59:59Z"}
            }),
        ),
    ]
}

#[tokio::test]
async fn generated_sql_selects_the_same_rows_as_the_evaluator_and_sorts() {
    let url = std::env::var("SCIMSYNC_TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "postgres://scimsync@127.0.0.1:55432/postgres".to_owned());
    let db = Database::connect(&url)
        .await
        .expect("connect to the test PostgreSQL");
    let tx = db.begin().await.unwrap();
    tx.execute(Statement::from_string(
        DbBackend::Postgres,
        "CREATE TEMP TABLE scim_users (name text, id uuid PRIMARY KEY, user_name text NOT NULL,
         external_id text, last_modified timestamptz, resource jsonb NOT NULL) ON COMMIT DROP",
    ))
    .await
    .unwrap();
    for (name, u) in users() {
        tx.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO scim_users VALUES ($1, $2::uuid, $3, $4, $5::timestamptz, $6)",
            [
                name.into(),
                u["id"].as_str().unwrap().into(),
                u["userName"].as_str().unwrap().into(),
                u["externalId"].as_str().map(str::to_owned).into(),
                u["meta"]["lastModified"].as_str().unwrap().into(),
                u.clone().into(),
            ],
        ))
        .await
        .unwrap();
    }

    let cases: &[(&str, &[&str])] = &[
        (r#"userName eq "ADA@example.COM""#, &["ada"]),
        (r#"externalId eq "ext-1""#, &["bob"]),
        (r#"id eq "00000000-0000-0000-0000-00000000000c""#, &["cyd"]),
        (r#"id eq "8f1b8d0e-not-a-uuid""#, &[]),
        (r#"title co "50%""#, &["ada"]),
        (r#"title co "_""#, &["ada"]),
        (r#"title sw "50""#, &["ada", "bob"]),
        (
            r#"emails[type eq "work" and value co "@EXAMPLE.com"]"#,
            &["ada"],
        ),
        (
            r#"emails[type eq "work"].value eq "bob@other.net""#,
            &["bob"],
        ),
        (
            r#"emails.value ew ".org" or active eq false"#,
            &["ada", "bob"],
        ),
        (r#"not (active eq true)"#, &["bob", "cyd"]),
        (r#"not (emails pr)"#, &["cyd"]),
        (r#"title pr"#, &["ada", "bob"]),
        (r#"meta.lastModified ge "2024-03-01T10:00:00Z""#, &["bob"]),
        (
            r#"manager.value eq "00000000-0000-0000-0000-00000000000b""#,
            &["ada"],
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department ne "r&d""#,
            &["bob", "cyd"],
        ),
        (
            r#"name.familyName pr and (userName sw "a" or userName sw "b")"#,
            &["ada"],
        ),
    ];
    let table = SqlTable {
        resource_column: "resource",
        columns: COLUMNS,
    };
    for (filter, expected) in cases {
        let f = parse_filter(filter, &USER_RESOURCE, &FilterLimits::default()).unwrap();
        let fragment = to_sql(&f, &table, 1);
        let values: Vec<DbValue> = fragment
            .params
            .iter()
            .map(|p| match p {
                SqlParam::Text(s) => s.clone().into(),
                SqlParam::Bool(b) => (*b).into(),
                SqlParam::Uuid(u) => (*u).into(),
                SqlParam::Timestamp(t) => (*t).into(),
            })
            .collect();
        let sql = format!(
            "SELECT name FROM scim_users WHERE {} ORDER BY name",
            fragment.sql
        );
        let rows = tx
            .query_all(Statement::from_sql_and_values(
                DbBackend::Postgres,
                &sql,
                values,
            ))
            .await
            .unwrap_or_else(|e| panic!("{filter}: {sql}: {e}"));
        let got: Vec<String> = rows
            .iter()
            .map(|r| r.try_get("", "name").unwrap())
            .collect();
        assert_eq!(got, *expected, "{filter}\n{sql}");
        let evaluated: Vec<&str> = users()
            .into_iter()
            .filter(|(_, u)| f.matches(u))
            .map(|(n, _)| n)
            .collect();
        assert_eq!(evaluated, *expected, "evaluator disagrees on {filter}");
    }
    for (sort_by, expected) in [
        ("title", ["cyd", "ada", "bob"]),
        ("emails", ["ada", "bob", "cyd"]),
        ("userName", ["ada", "bob", "cyd"]),
    ] {
        let attr = USER_RESOURCE.attribute(sort_by).unwrap();
        let sql = format!(
            "SELECT name FROM scim_users ORDER BY {} ASC NULLS LAST, id",
            order_by(&attr, &table)
        );
        let rows = tx
            .query_all(Statement::from_string(DbBackend::Postgres, sql.clone()))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let got: Vec<String> = rows
            .iter()
            .map(|r| r.try_get("", "name").unwrap())
            .collect();
        assert_eq!(got, expected, "{sql}");
    }
    tx.rollback().await.unwrap();
}
