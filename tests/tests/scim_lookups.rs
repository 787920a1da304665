//! A lookup by userName, externalId or id is an index probe in a 100,000-user company, never a
//! scan (SPEC §7): the statement a list request runs, EXPLAINed by PostgreSQL, reads the index.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_scim::params::ListParams;
use scimsync_scim::store::listing::USERS;
use scimsync_tests::scim::{start, tenant, ScimService, Tenant, USER_SCHEMA};
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::Value;
use uuid::Uuid;

/// Every (node type, index name) of a JSON plan.
fn nodes(plan: &Value, out: &mut Vec<(String, Option<String>)>) {
    if let Some(node) = plan.get("Node Type").and_then(Value::as_str) {
        out.push((
            node.to_owned(),
            plan.get("Index Name")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ));
    }
    for child in plan
        .get("Plans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        nodes(child, out);
    }
}

#[tokio::test]
async fn lookups_by_user_name_external_id_and_id_probe_an_index_in_a_large_company() {
    let (app, scim) = start().await;
    let big = tenant(&app, "Big", &[]).await;
    let small = tenant(&app, "Small", &[]).await;
    for (company, n) in [(big.company_id, 100_000), (small.company_id, 10)] {
        app.env
            .db
            .execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO directory_users (id, company_id, user_name, external_id, resource)
                 SELECT gen_random_uuid(), $1, 'user' || i || '@example.com', 'ext-' || i,
                        jsonb_build_object('schemas', jsonb_build_array($3::text),
                                           'userName', 'user' || i || '@example.com',
                                           'externalId', 'ext-' || i)
                 FROM generate_series(1, $2) AS i",
                [company.into(), n.into(), USER_SCHEMA.into()],
            ))
            .await
            .unwrap();
    }
    let c = scim.client(&app, &big);
    let target = c
        .find("/Users", "userName eq \"USER77777@example.com\"")
        .await;
    assert_eq!(target.len(), 1);
    let target: Uuid = target[0].parse().unwrap();
    // Right after a first sync the statistics may still say the table is empty; then analysed.
    for analysed in [false, true] {
        if analysed {
            app.env
                .db
                .execute_unprepared("ANALYZE directory_users")
                .await
                .unwrap();
        }
        probes(&app, &scim, &big, &small, target, analysed).await;
    }
    scim.stop().await;
    app.stop().await;
}

async fn probes(
    app: &TestApp,
    scim: &ScimService,
    big: &Tenant,
    small: &Tenant,
    target: Uuid,
    analysed: bool,
) {
    let c = scim.client(app, big);
    let by_id = format!("id eq \"{target}\"");
    for (filter, indexes) in [
        (
            "userName eq \"user77777@example.com\"",
            &["directory_users_user_name"][..],
        ),
        (
            "externalId eq \"ext-77777\"",
            &["directory_users_external_id"],
        ),
        (
            by_id.as_str(),
            &["directory_users_pkey", "directory_users_company"],
        ),
    ] {
        let params = ListParams {
            filter: Some(filter.to_owned()),
            ..ListParams::default()
        };
        let query = params.query(USERS.rt, 1000).unwrap();
        let statement = USERS.page_statement(big.company_id, &query);
        let explain = Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("EXPLAIN (FORMAT JSON) {}", statement.sql),
            statement.values.map(|v| v.0).unwrap_or_default(),
        );
        let row = app.env.db.query_one(explain).await.unwrap().unwrap();
        let plan: Value = row.try_get("", "QUERY PLAN").unwrap();
        let mut found = Vec::new();
        nodes(&plan[0]["Plan"], &mut found);
        assert!(
            found.iter().all(|(node, _)| !node.contains("Seq Scan")),
            "{filter} (analysed: {analysed}): {found:?}"
        );
        assert!(
            found.iter().any(|(node, name)| node.contains("Index")
                && name.as_deref().is_some_and(|n| indexes.contains(&n))),
            "{filter} should probe one of {indexes:?}: {found:?}"
        );
        // And the request finds it, in this company only.
        assert_eq!(c.find("/Users", filter).await, vec![target.to_string()]);
        let other = scim.client(app, small);
        assert!(other.find("/Users", filter).await.is_empty());
    }
}
