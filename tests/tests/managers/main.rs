//! Manager linking: SPEC R13, R14, R15 and the Manager level of R12. Links that wait for a
//! user (`pending`), the hierarchy they build (`hierarchy`), cycles met at once (`cycles`) and the
//! levels it gives (`levels`).

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cycles;
mod hierarchy;
mod levels;
mod pending;

use std::time::Duration;

use scimsync_schema::Concern;
use scimsync_tests::events::{create, event_id, t};
use scimsync_tests::{wait_until, TestApp};
use serde_json::Value;
use uuid::Uuid;

const LINKER: Concern = Concern::ManagerLinker;

async fn user(app: &TestApp, company: Uuid, email: &str) -> Value {
    app.user_by_email(company, email)
        .await
        .unwrap_or_else(|| panic!("{email} exists"))
}

async fn manager_of(app: &TestApp, company: Uuid, email: &str) -> Value {
    user(app, company, email).await["manager_id"].clone()
}

/// Creates these members (member id, email) at `t(0)` and waits until user-upsert has applied
/// each: their records exist.
async fn create_users(app: &TestApp, company: Uuid, org: &str, people: &[(&str, &str)]) {
    for (member, email) in people {
        let event = create(org, member, email, t(0));
        app.accept(&event).await;
        app.logged_by(company, &event_id(&event), Concern::UserUpsert)
            .await;
    }
}

/// Waits until the user with this email reports to `manager` (a user id).
async fn wait_linked(app: &TestApp, company: Uuid, email: &str, manager: &Value) {
    wait_until(
        &format!("{email} to be linked"),
        Duration::from_secs(30),
        || async {
            let user = app.user_by_email(company, email).await;
            user.is_some_and(|u| u["manager_id"] == *manager)
                .then_some(())
        },
    )
    .await;
}
