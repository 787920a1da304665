use super::*;
use crate::filter::{parse_filter, FilterLimits};
use crate::schema::{GROUP_RESOURCE, USER_RESOURCE};

const USER_COLUMNS: &[Column] = &[
    Column::new("id", "id", ColumnKind::Uuid),
    Column::new("userName", "user_name", ColumnKind::Text),
    Column::new("externalId", "external_id", ColumnKind::Text),
    Column::new(
        "meta.lastModified",
        "last_modified",
        ColumnKind::Timestamptz,
    ),
];

fn sql(filter: &str) -> SqlFragment {
    sql_from(filter, 1)
}

fn sql_from(filter: &str, first: usize) -> SqlFragment {
    let f = parse_filter(filter, &USER_RESOURCE, &FilterLimits::default()).unwrap();
    let table = SqlTable {
        resource_column: "resource",
        columns: USER_COLUMNS,
    };
    to_sql(&f, &table, first)
}

fn text(s: &str) -> SqlParam {
    SqlParam::Text(s.to_owned())
}

#[test]
fn user_name_eq_is_a_lower_probe_on_its_column() {
    let f = sql(r#"userName eq "Ada@Example.com""#);
    assert_eq!(f.sql, r#"lower("user_name") = lower($1)"#);
    assert_eq!(f.params, vec![text("Ada@Example.com")]);
}

#[test]
fn external_id_is_case_exact_on_its_column() {
    let f = sql_from(r#"externalId eq "AbC""#, 3);
    assert_eq!(f.sql, r#""external_id" = $3"#);
}

#[test]
fn id_eq_binds_a_uuid_and_a_non_uuid_matches_nothing() {
    let id = "2819c223-7f76-453a-919d-413861904646";
    let f = sql(&format!(r#"id eq "{id}""#));
    assert_eq!(f.sql, r#""id" = $1"#);
    assert_eq!(f.params, vec![SqlParam::Uuid(Uuid::parse_str(id).unwrap())]);
    let f = sql(r#"id eq "not-a-uuid""#);
    assert_eq!(f.sql, "FALSE");
    assert!(f.params.is_empty());
    assert_eq!(sql(r#"id ne "x""#).sql, "TRUE");
}

#[test]
fn last_modified_compares_its_timestamptz_column() {
    let f = sql(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#);
    assert_eq!(f.sql, r#""last_modified" > $1"#);
    assert!(matches!(f.params[0], SqlParam::Timestamp(_)));
}

#[test]
fn other_attributes_read_the_jsonb_column_with_case_exactness() {
    assert_eq!(
        sql(r#"name.familyName eq "O'Malley""#).sql,
        r#"lower(("resource"->'name'->'familyName' #>> '{}')) = lower($1)"#
    );
    assert_eq!(
        sql(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m""#)
            .sql,
        r#"lower(("resource"->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'->'manager'->'value' #>> '{}')) = lower($1)"#
    );
    assert_eq!(
        sql("active eq true").sql,
        r#""resource"->'active' = to_jsonb($1::boolean)"#
    );
}

#[test]
fn multi_valued_attributes_match_through_exists_over_their_elements() {
    let f = sql(r#"emails[type eq "work" and value co "@example.com"]"#);
    assert!(
        f.sql
            .starts_with("EXISTS (SELECT 1 FROM jsonb_array_elements("),
        "{}",
        f.sql
    );
    assert!(f.sql.contains(r#"WHERE (lower((e.v->'type' #>> '{}')) = lower($1) AND lower((e.v->'value' #>> '{}')) LIKE lower($2) ESCAPE '\')"#), "{}", f.sql);
    assert_eq!(f.params, vec![text("work"), text("%@example.com%")]);
    let f = sql(r#"emails.value ne "a@x""#);
    assert!(f.sql.starts_with("NOT EXISTS"), "{}", f.sql);
}

#[test]
fn like_patterns_escape_their_wildcards() {
    let f = sql(r#"title co "50%_off\\now""#);
    assert_eq!(f.params, vec![text(r"%50\%\_off\\now%")]);
    assert_eq!(sql(r#"title sw "a""#).params, vec![text("a%")]);
    assert_eq!(sql(r#"title ew "a""#).params, vec![text("%a")]);
}

#[test]
fn not_folds_a_missing_value_to_false_and_and_or_keep_precedence() {
    let f = sql(r#"title eq "x" or not (userName sw "a" and active eq false)"#);
    assert_eq!(
        f.sql,
        r#"(lower(("resource"->'title' #>> '{}')) = lower($1) OR NOT COALESCE(((lower("user_name") LIKE lower($2) ESCAPE '\' AND "resource"->'active' = to_jsonb($3::boolean))), false))"#
    );
}

#[test]
fn present_means_there_and_not_empty() {
    assert_eq!(
        sql("title pr").sql,
        r#"(COALESCE("resource"->'title' #>> '{}', '') <> '')"#
    );
    assert_eq!(
        sql("userName pr").sql,
        r#"("user_name" IS NOT NULL AND "user_name" <> '')"#
    );
    assert!(sql("emails pr").sql.contains("jsonb_array_length"));
    assert!(sql("name pr").sql.contains("'object'"));
    assert_eq!(
        sql("title eq null").sql,
        format!("NOT {}", sql("title pr").sql)
    );
}

#[test]
fn numbers_and_ordering_bind_values_with_casts() {
    let table = SqlTable {
        resource_column: "resource",
        columns: &[],
    };
    let f = parse_filter(
        r#"displayName gt "M""#,
        &GROUP_RESOURCE,
        &FilterLimits::default(),
    )
    .unwrap();
    assert_eq!(
        to_sql(&f, &table, 1).sql,
        r#"lower(("resource"->'displayName' #>> '{}')) COLLATE "C" > lower($1)"#
    );
}

#[test]
fn values_never_appear_in_the_sql_text() {
    let f = sql(r#"title eq "'; DROP TABLE users; --" or emails[value co "x' OR '1'='1"]"#);
    assert!(!f.sql.contains("DROP"), "{}", f.sql);
    assert!(!f.sql.contains("'1'"), "{}", f.sql);
    assert_eq!(f.params.len(), 2);
}

#[test]
fn sort_expressions_use_columns_or_jsonb_text() {
    let table = SqlTable {
        resource_column: "resource",
        columns: USER_COLUMNS,
    };
    let by = |name: &str| order_by(&USER_RESOURCE.attribute(name).unwrap(), &table);
    assert_eq!(by("userName"), r#"lower("user_name")"#);
    assert_eq!(by("meta.lastModified"), r#""last_modified""#);
    assert_eq!(
        by("name.familyName"),
        r#"lower(("resource"->'name'->'familyName' #>> '{}')) COLLATE "C""#
    );
    assert!(by("emails").contains("ORDER BY COALESCE(e.v->'primary' = 'true'::jsonb, false) DESC"));
}
